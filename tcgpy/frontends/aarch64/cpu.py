"""AArch64 CPU state: the single declaration of the user-mode registers."""
from __future__ import annotations

from ...cpustate import RegDef, make_layout

ROWS: tuple[RegDef, ...] = (
    *(RegDef(f"x{i}", aliases=(f"r{i}",)) for i in range(29)),
    RegDef("x29", aliases=("fp", "r29")),
    RegDef("x30", aliases=("lr", "r30")),
    RegDef("sp"),
    # NZCV flags are kept as four 0/1 globals so that the optimizer can drop
    # dead flag computations one flag at a time (most consumers read one or two).
    RegDef("nf", user=False, compare=False),
    RegDef("zf", user=False, compare=False),
    RegDef("cf", user=False, compare=False),
    RegDef("vf", user=False, compare=False),
    RegDef("tpidr_el0"),
    RegDef("fpcr"),
    RegDef("fpsr"),
    # Exclusive monitor, as QEMU keeps it: address (-1 when clear) and the
    # value(s) loaded; a store-exclusive succeeds if memory still holds them.
    RegDef("excl_addr", user=False, compare=False),
    RegDef("excl_val", user=False, compare=False),
    RegDef("excl_val2", user=False, compare=False),
    # Advanced SIMD / FP registers: 128 bits each, accessed by the IR through
    # ld_env/st_env and the vec op (tcgpy.frontends.aarch64.vecsem), not as IR globals.
    *(RegDef(f"q{i}", size=16, aliases=(f"v{i}",), ir=False) for i in range(32)),
    # Scratch for vector operands that are no register (zero vectors, tbl
    # tables, narrowing into the top half, FP <-> general conversions).
    RegDef("vtmp", size=128, ir=False, user=False, compare=False),
)

LAYOUT = make_layout("aarch64", ROWS)

GPR_NAMES = tuple(f"x{i}" for i in range(31))
FLAG_NAMES = ("nf", "zf", "cf", "vf")


def nzcv_pack(nf: int, zf: int, cf: int, vf: int) -> int:
    """NZCV as MRS NZCV returns it: bits 31..28."""
    return (nf << 31) | (zf << 30) | (cf << 29) | (vf << 28)


def nzcv_unpack(value: int) -> tuple[int, int, int, int]:
    return (value >> 31) & 1, (value >> 30) & 1, (value >> 29) & 1, (value >> 28) & 1


# FPCR: AHP DN FZ RMode Stride FZ16 Len (Len/Stride are kept for AArch32
# context switches, ignored in AArch64; FZ16 is FEAT_FP16's).  The trap
# enables IOE..IDE need trapped-exception support, not implemented: RAZ/WI.
FPCR_MASK = 0x07FF_0000
# FPSR: N Z C V (AArch32 state), QC, IDC, and the cumulative IXC UFC OFC DZC IOC.
FPSR_MASK = 0xF800_009F
