"""What of F and D is implemented: the loads and stores, the moves between
register files (fmv.x.w/.w.x/.x.d/.d.x) and the sign injections (fsgnj,
fsgnjn, fsgnjx; fmv.s/fneg/fabs are their aliases), plus fcsr through
Zicsr (insn_system).  These move bits and never round or raise flags.

FP arithmetic, comparisons, conversions and fclass are *not* implemented:
they are illegal instructions (SIGILL), and AT_HWCAP does not advertise F or
D.  A program built for rv64gc runs as long as it only saves, restores and
moves FP registers (glibc's setjmp, ucontext and startup do).

NaN-boxing: a single-precision value is valid in an f register only when
bits 63:32 are all ones; flw and fmv.w.x box it, and the .s sign injections
read an improperly boxed operand as the canonical NaN 0x7fc00000 (ISA
manual, "NaN Boxing of Narrower Values").
"""
from __future__ import annotations

from ...ir.ops import Cond
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
