"""F and D: loads and stores, the moves between register files
(fmv.x.w/.w.x/.x.d/.d.x) and the sign injections (fsgnj, fsgnjn, fsgnjx;
fmv.s/fneg/fabs are their aliases), which move bits in IR; and the
arithmetic, comparisons, conversions, min/max, fclass and the fused
multiply-adds, which are one ``rvfp`` IR op each: softfloat.py's operation
(exact results rounded once, in the instruction's static rounding mode or
frm's), with the flags it raises accrued into fflags.

A rounding-mode field of 5 or 6, or dynamic with frm holding 5..7, is an
illegal instruction (ISA manual, "Floating-Point Control and Status
Register").

NaN-boxing: a single-precision value is valid in an f register only when
bits 63:32 are all ones; flw and fmv.w.x box it, and the .s sign injections
read an improperly boxed operand as the canonical NaN 0x7fc00000 (ISA
manual, "NaN Boxing of Narrower Values").
"""
from __future__ import annotations

from ...ir import rvfp
from ...ir.ops import Cond, Exit
from .decode import RV32, imm_s

BOX = 0xFFFF_FFFF_0000_0000
CANONICAL_NAN_S = 0x7FC0_0000


@RV32.pattern("imm:s12 rs1:5 01 d:1 rd:5 0000111")
def trans_FLOAD(ctx, a):
    ctx.gen_fload(a.rd, a.rs1, a.imm, 2 + a.d)


@RV32.pattern("i11_5:7 rs2:5 rs1:5 01 d:1 i4_0:5 0100111")
def trans_FSTORE(ctx, a):
    ctx.gen_fstore(a.rs2, a.rs1, imm_s(a), 2 + a.d)


@RV32.pattern("1110000 00000 rs1:5 000 rd:5 1010011")
def trans_FMV_X_W(ctx, a):
    ctx.write_reg(a.rd, ctx.b.ext32s(ctx.fregs[a.rs1]))


@RV32.pattern("1110001 00000 rs1:5 000 rd:5 1010011")
def trans_FMV_X_D(ctx, a):
    ctx.write_reg(a.rd, ctx.fregs[a.rs1])


@RV32.pattern("1111000 00000 rs1:5 000 rd:5 1010011")
def trans_FMV_W_X(ctx, a):
    b = ctx.b
    b.mov(ctx.fregs[a.rd], b.or_(b.ext32u(ctx.read_reg(a.rs1)), BOX))


@RV32.pattern("1111001 00000 rs1:5 000 rd:5 1010011")
def trans_FMV_D_X(ctx, a):
    ctx.b.mov(ctx.fregs[a.rd], ctx.read_reg(a.rs1))


def _unbox(ctx, r: int):
    """The single in f``r``, or the canonical NaN when it is not NaN-boxed."""
    b = ctx.b
    v = ctx.fregs[r]
    return b.movcond(Cond.geu, v, BOX, b.ext32u(v), b.const(CANONICAL_NAN_S))


@RV32.pattern("0010000 rs2:5 rs1:5 0 op:2 rd:5 1010011", d=0)
@RV32.pattern("0010001 rs2:5 rs1:5 0 op:2 rd:5 1010011", d=1)
def trans_FSGNJ(ctx, a):
    if a.op == 3:
        return False
    b = ctx.b
    sign_bit = 63 if a.d else 31
    if a.d:
        x, y = ctx.fregs[a.rs1], ctx.fregs[a.rs2]
    else:
        x, y = _unbox(ctx, a.rs1), _unbox(ctx, a.rs2)
    mask = 1 << sign_bit
    if a.op == 0:
        sign = b.and_(y, mask)
    elif a.op == 1:
        sign = b.and_(b.not_(y), mask)
    else:
        sign = b.and_(b.xor(x, y), mask)
    res = b.or_(b.andc(x, mask), sign)
    if not a.d:
        res = b.or_(res, BOX)
    b.mov(ctx.fregs[a.rd], res)


# -- arithmetic: the rvfp op -----------------------------------------------------------------

def _legal_rm(ctx, rm: int) -> bool:
    """Is rounding-mode field ``rm`` usable?  Reserved (5, 6): no.  Dynamic
    (7): frm is checked at run time (frm >= 5 is illegal)."""
    if rm in (5, 6):
        return False
    if rm == rvfp.DYN:
        b = ctx.b
        frm = b.and_(b.shr(ctx.fcsr, rvfp.FRM_SHIFT), 7)
        ok = b.new_label()
        b.brcond(Cond.leu, frm, 4, ok)
        b.exit_tb(ctx.pc, Exit.ILLEGAL)
        b.set_label(ok)
    return True


def gen_fp(ctx, op: int, fmt: int, rm: int, a, bv=0, c=0, kind: int = 0):
    """softfloat operation ``op`` on register values a, bv (c: the addend
    of an FMA), its flags accrued; returns the result temp (None: reserved
    rounding mode)."""
    if not _legal_rm(ctx, rm):
        return None
    r, fcsr = ctx.b.rvfp(rvfp.ctl(op, fmt, rm, kind), ctx.fcsr, a, bv, c)
    ctx.b.mov(ctx.fcsr, fcsr)
    return r


BINOPS = {0b00000: rvfp.OP_ADD, 0b00001: rvfp.OP_SUB, 0b00010: rvfp.OP_MUL, 0b00011: rvfp.OP_DIV}


@RV32.pattern("f5:5 fmt:2 rs2:5 rs1:5 rm:3 rd:5 1010011")
def trans_FP_OP(ctx, a):
    if a.fmt > 1:
        return False                 # H and Q are not implemented
    f = ctx.fregs
    x = ctx.read_reg
    if a.f5 in BINOPS:
        r = gen_fp(ctx, BINOPS[a.f5], a.fmt, a.rm, f[a.rs1], f[a.rs2])
    elif a.f5 == 0b01011 and a.rs2 == 0:
        r = gen_fp(ctx, rvfp.OP_SQRT, a.fmt, a.rm, f[a.rs1])
    elif a.f5 == 0b00101 and a.rm < 2:
        r = gen_fp(ctx, (rvfp.OP_MIN, rvfp.OP_MAX)[a.rm], a.fmt, 0, f[a.rs1], f[a.rs2])
    elif a.f5 == 0b01000 and a.rs2 == 1 - a.fmt:
        r = gen_fp(ctx, rvfp.OP_CVT, a.fmt, a.rm, f[a.rs1])        # fcvt.s.d / fcvt.d.s
    elif a.f5 == 0b10100 and a.rm < 3:
        r = gen_fp(ctx, (rvfp.OP_FLE, rvfp.OP_FLT, rvfp.OP_FEQ)[a.rm], a.fmt, 0, f[a.rs1], f[a.rs2])
        return _to_x(ctx, a.rd, r)
    elif a.f5 == 0b11100 and a.rs2 == 0 and a.rm == 1:
        return _to_x(ctx, a.rd, gen_fp(ctx, rvfp.OP_CLASS, a.fmt, 0, f[a.rs1]))
    elif a.f5 == 0b11000 and a.rs2 < 4:
        return _to_x(ctx, a.rd, gen_fp(ctx, rvfp.OP_TO_INT, a.fmt, a.rm, f[a.rs1], kind=a.rs2))
    elif a.f5 == 0b11010 and a.rs2 < 4:
        r = gen_fp(ctx, rvfp.OP_FROM_INT, a.fmt, a.rm, x(a.rs1), kind=a.rs2)
    else:
        return False
    if r is None:
        return False
    ctx.b.mov(f[a.rd], r)


def _to_x(ctx, rd: int, r):
    if r is None:
        return False
    ctx.write_reg(rd, r)
    return None


@RV32.pattern("rs3:5 fmt:2 rs2:5 rs1:5 rm:3 rd:5 100 op:2 11")
def trans_FMA(ctx, a):
    """fmadd (op 00), fmsub (01), fnmsub (10), fnmadd (11): the negations
    flip sign bits before the exact a * b + c (a NaN's sign does not matter:
    the result of any NaN is the canonical NaN)."""
    if a.fmt > 1:
        return False
    b = ctx.b
    sign = 1 << 31 if a.fmt == 0 else 1 << 63
    x, y, z = ctx.fregs[a.rs1], ctx.fregs[a.rs2], ctx.fregs[a.rs3]
    if a.op & 2:
        x = b.xor(x, sign)
    if a.op in (1, 3):
        z = b.xor(z, sign)
    r = gen_fp(ctx, rvfp.OP_FMA, a.fmt, a.rm, x, y, z)
    if r is None:
        return False
    b.mov(ctx.fregs[a.rd], r)
