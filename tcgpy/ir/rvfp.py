"""The control word of the ``rvfp`` IR op (RISC-V F/D arithmetic), declared
once: the frontend builds it, softfloat.py (the op's meaning) and the LLVM
lowering read it.

Bits 3:0 the operation, bit 4 the format (0 single, 1 double), bits 10:8
the rounding mode as the instruction's rm field has it (DYN: fcsr's frm),
bits 13:12 the integer type of a conversion (w, wu, l, lu).  fcsr holds frm
in bits 7:5 and the accrued flags in bits 4:0.
"""
from __future__ import annotations

OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_MIN, OP_MAX, OP_FEQ, OP_FLT, OP_FLE, OP_CLASS, \
    OP_TO_INT, OP_FROM_INT, OP_CVT, OP_FMA = range(15)
OP_NAMES = ("add", "sub", "mul", "div", "sqrt", "min", "max", "feq", "flt", "fle", "class",
            "to_int", "from_int", "cvt", "fma")

# rounding modes (the rm field's values); 5 and 6 are reserved
RNE, RTZ, RDN, RUP, RMM = range(5)
DYN = 7
# fflags bits
NV, DZ, OF, UF, NX = 16, 8, 4, 2, 1

FMT_SHIFT, RM_SHIFT, KIND_SHIFT = 4, 8, 12
FRM_SHIFT = 5


def ctl(op: int, fmt: int, rm: int = 0, kind: int = 0) -> int:
    return op | fmt << FMT_SHIFT | rm << RM_SHIFT | kind << KIND_SHIFT


def fields(control: int) -> tuple[int, int, int, int]:
    """(op, fmt, rm, kind) of a control word."""
    return (control & 15, control >> FMT_SHIFT & 1, control >> RM_SHIFT & 7,
            control >> KIND_SHIFT & 3)


def resolve_rm(control: int, fcsr: int) -> int:
    """``control`` with a dynamic rounding mode replaced by frm's."""
    if control >> RM_SHIFT & 7 != DYN:
        return control
    return control & ~(7 << RM_SHIFT) | (fcsr >> FRM_SHIFT & 7) << RM_SHIFT
