"""A64 data processing (register): add/sub shifted and extended, adc/sbc,
logical shifted, conditional compare and select, 1-, 2- and 3-source ops.

Each translator declines (returns False) the unallocated encodings inside its
pattern, so that they end up as IllegalInstruction.
"""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.ops import Cond
from .decode import A64
from .insn_dp_imm import LOGIC_OPS, gen_addsub, trunc

LSL, LSR, ASR, ROR = range(4)


def gen_shift(ctx, v, shift_type: int, amount, sf: int):
    """ShiftReg: ``v`` shifted at the operation size by ``amount`` (an int or a
    temp already reduced modulo the size).  For sf == 0 only the low 32 bits of
    the result are meaningful; callers truncate."""
    b = ctx.b
    if isinstance(amount, int) and amount == 0:
        return v
    if shift_type == LSL:
        return b.shl(v, amount)
    if sf:
        return (None, b.shr, b.sar, b.rotr)[shift_type](v, amount)
    if shift_type == LSR:
        return b.shr(b.ext32u(v), amount)
    if shift_type == ASR:
        return b.sar(b.ext32s(v), amount)
    # A 32-bit rotate is a 64-bit one of the word repeated in both halves.
    w = b.ext32u(v)
    return b.rotr(b.or_(w, b.shl(w, 32)), amount)


# option: uxtb uxth uxtw uxtx sxtb sxth sxtw sxtx
EXTEND_OPS = (Builder.ext8u, Builder.ext16u, Builder.ext32u, None,
              Builder.ext8s, Builder.ext16s, Builder.ext32s, None)


def gen_extend(ctx, v, option: int, shift: int):
    """ExtendReg: ``v`` extended per ``option`` then shifted left by 0..4."""
    ext = EXTEND_OPS[option]
    if ext is not None:
        v = ext(ctx.b, v)
    return ctx.b.shl(v, shift) if shift else v


# -- add/sub ------------------------------------------------------------------------

@A64.pattern("sf:1 op:1 S:1 01011 shift:2 0 rm:5 imm6:6 rn:5 rd:5")
def trans_ADDSUB_r(ctx, a):
    if a.shift == ROR or (not a.sf and a.imm6 >= 32):
        return False
    m = gen_shift(ctx, ctx.read_reg(a.rm), a.shift, a.imm6, a.sf)
    res = gen_addsub(ctx, a.op, a.S, a.sf, ctx.read_reg(a.rn), m)
    ctx.write_reg(a.rd, res, a.sf)


@A64.pattern("sf:1 op:1 S:1 01011 00 1 rm:5 option:3 imm3:3 rn:5 rd:5")
def trans_ADDSUB_x(ctx, a):
    if a.imm3 > 4:
        return False
    m = gen_extend(ctx, ctx.read_reg(a.rm), a.option, a.imm3)
    res = gen_addsub(ctx, a.op, a.S, a.sf, ctx.read_reg(a.rn, sp=True), m)
    ctx.write_reg(a.rd, res, a.sf, sp=not a.S)


@A64.pattern("sf:1 op:1 S:1 11010000 rm:5 000000 rn:5 rd:5")
def trans_ADC(ctx, a):
    # sbc is n + ~m + C, as the architecture defines it
    m = ctx.read_reg(a.rm)
    if a.op:
        m = ctx.b.not_(m)
    res = ctx.gen_add_carry(ctx.read_reg(a.rn), m, ctx.cf, a.sf, bool(a.S))
    ctx.write_reg(a.rd, res, a.sf)


# -- logical (shifted register) ---------------------------------------------------------

@A64.pattern("sf:1 opc:2 01010 shift:2 n:1 rm:5 imm6:6 rn:5 rd:5")
def trans_LOGIC_r(ctx, a):
    # opc: and, orr, eor, ands; n inverts the operand (bic, orn, eon, bics)
    if not a.sf and a.imm6 >= 32:
        return False
    b = ctx.b
    m = gen_shift(ctx, ctx.read_reg(a.rm), a.shift, a.imm6, a.sf)
    if a.n:
        m = b.not_(m)
    res = trunc(ctx, LOGIC_OPS[a.opc](b, ctx.read_reg(a.rn), m), a.sf)
    if a.opc == 3:
        ctx.gen_logic_flags(res, a.sf)
    ctx.write_reg(a.rd, res)


# -- conditional compare and select ---------------------------------------------------

@A64.pattern("sf:1 op:1 1 11010010 y:5 cond:4 imm:1 0 rn:5 0 nzcv:4")
def trans_CCMP(ctx, a):
    # op: 0 ccmn, 1 ccmp; y is rm, or a 5-bit immediate when imm
    b = ctx.b
    # Latch the condition before the comparison overwrites the flags it reads.
    holds = b.setcond(Cond.ne, ctx.cond_holds(a.cond), 0)
    y = a.y if a.imm else ctx.read_reg(a.y)
    gen_addsub(ctx, a.op, 1, a.sf, ctx.read_reg(a.rn), y)
    for flag, bit in ((ctx.nf, 3), (ctx.zf, 2), (ctx.cf, 1), (ctx.vf, 0)):
        b.mov(flag, b.movcond(Cond.ne, holds, 0, flag, (a.nzcv >> bit) & 1))


@A64.pattern("sf:1 op:1 0 11010100 rm:5 cond:4 0 o2:1 rn:5 rd:5")
def trans_CSEL(ctx, a):
    # (op, o2): csel, csinc, csinv, csneg; -m is ~m + 1
    b = ctx.b
    n = ctx.read_reg(a.rn)
    if a.cond >= 14:
        res = n
    else:
        m = ctx.read_reg(a.rm)
        if a.op:
            m = b.not_(m)
        if a.o2:
            m = b.add(m, 1)
        res = b.movcond(Cond.ne, ctx.cond_holds(a.cond), 0, n, m)
    ctx.write_reg(a.rd, res, a.sf)


# -- data processing (3 source) --------------------------------------------------------

@A64.pattern("sf:1 00 11011 000 rm:5 o0:1 ra:5 rn:5 rd:5")
def trans_MADD(ctx, a):
    # o0: 0 madd, 1 msub
    b = ctx.b
    prod = b.mul(ctx.read_reg(a.rn), ctx.read_reg(a.rm))
    acc = ctx.read_reg(a.ra)
    ctx.write_reg(a.rd, b.sub(acc, prod) if a.o0 else b.add(acc, prod), a.sf)


@A64.pattern("1 00 11011 u:1 01 rm:5 o0:1 ra:5 rn:5 rd:5")
def trans_MADDL(ctx, a):
    # smaddl, smsubl, umaddl, umsubl: the 32x32 product fits in 64 bits
    b = ctx.b
    ext = b.ext32u if a.u else b.ext32s
    prod = b.mul(ext(ctx.read_reg(a.rn)), ext(ctx.read_reg(a.rm)))
    acc = ctx.read_reg(a.ra)
    ctx.write_reg(a.rd, b.sub(acc, prod) if a.o0 else b.add(acc, prod))


@A64.pattern("1 00 11011 u:1 10 rm:5 0 ra:5 rn:5 rd:5")
def trans_MULH(ctx, a):
    # smulh, umulh; ra is should-be-one and ignored, as by hardware and QEMU
    b = ctx.b
    op = b.muluh if a.u else b.mulsh
    ctx.write_reg(a.rd, op(ctx.read_reg(a.rn), ctx.read_reg(a.rm)))


# -- data processing (2 source) ----------------------------------------------------------

@A64.pattern("sf:1 0 0 11010110 rm:5 00001 signed:1 rn:5 rd:5")
def trans_DIV(ctx, a):
    # The IR's divu_arm/divs_arm give x/0 == 0 and MIN/-1 == MIN at 64 bits;
    # at 32 bits the operands are extended and MIN32/-1 == 2**31 truncates to MIN32.
    b = ctx.b
    n, m = ctx.read_reg(a.rn), ctx.read_reg(a.rm)
    if a.signed:
        if not a.sf:
            n, m = b.ext32s(n), b.ext32s(m)
        res = b.divs_arm(n, m)
    else:
        if not a.sf:
            n, m = b.ext32u(n), b.ext32u(m)
        res = b.divu_arm(n, m)
    ctx.write_reg(a.rd, res, a.sf)


@A64.pattern("sf:1 0 0 11010110 rm:5 0010 shift:2 rn:5 rd:5")
def trans_SHIFT_r(ctx, a):
    # lslv, lsrv, asrv, rorv: the amount is Rm modulo the operation size
    amount = ctx.b.and_(ctx.read_reg(a.rm), 63 if a.sf else 31)
    res = gen_shift(ctx, ctx.read_reg(a.rn), a.shift, amount, a.sf)
    ctx.write_reg(a.rd, res, a.sf)


# -- data processing (1 source) ----------------------------------------------------------

REV16_MASK = 0x00FF_00FF_00FF_00FF


@A64.pattern("sf:1 1 0 11010110 00000 0000 opc:2 rn:5 rd:5")
def trans_REV(ctx, a):
    # opc: rbit, rev16, rev32 (sf) / rev (!sf), rev (sf)
    if not a.sf and a.opc == 3:
        return False
    b = ctx.b
    x = ctx.read_reg_sf(a.rn, a.sf)
    if a.opc == 0:
        res = b.bitrev(x)
        if not a.sf:
            res = b.shr(res, 32)
    elif a.opc == 1:
        res = b.or_(b.and_(b.shr(x, 8), REV16_MASK), b.shl(b.and_(x, REV16_MASK), 8))
    elif a.opc == 3 or not a.sf:
        res = b.bswap64(x)
        if not a.sf:
            res = b.shr(res, 32)
    else:  # rev32: swap bytes within each word
        res = b.rotr(b.bswap64(x), 32)
    ctx.write_reg(a.rd, res, a.sf)


@A64.pattern("sf:1 1 0 11010110 00000 00010 op:1 rn:5 rd:5")
def trans_CLZ(ctx, a):
    # op: 0 clz, 1 cls.  cls(x) is clz(x ^ (x asr 1)) - 1: the xor clears the
    # sign bit and marks the first bit that differs from it.
    b = ctx.b
    if a.op:
        x = ctx.read_reg(a.rn)
        if not a.sf:
            x = b.ext32s(x)
        res = b.sub(b.clz(b.xor(x, b.sar(x, 1))), 1 if a.sf else 33)
    else:
        res = b.clz(ctx.read_reg_sf(a.rn, a.sf))
        if not a.sf:
            res = b.sub(res, 32)
    ctx.write_reg(a.rd, res, a.sf)
