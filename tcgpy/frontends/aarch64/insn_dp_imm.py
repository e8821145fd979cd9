"""A64 data processing (immediate): add/sub, logical, move wide, adr/adrp,
bitfield, extract.

Also home of the data-processing ``gen_*`` shapes that insn_dp_reg.py shares
(add/sub with optional flags, field extraction).  Each translator declines
(returns False) the unallocated encodings inside its pattern, so that they end
up as IllegalInstruction.
"""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.ops import MASK64
from .decode import A64

M32 = 0xFFFF_FFFF


def ones(n: int) -> int:
    return (1 << n) - 1


def size_mask(sf: int) -> int:
    return MASK64 if sf else M32


def trunc(ctx, v, sf: int):
    """The value at the operation size (Wn results zero-extended)."""
    return v if sf else ctx.b.ext32u(v)


def gen_addsub(ctx, sub: int, set_flags: int, sf: int, n, m):
    """n + m or n - m at size sf, setting NZCV when ``set_flags``."""
    if sub:
        return ctx.gen_sub(n, m, sf, bool(set_flags))
    return ctx.gen_add(n, m, sf, bool(set_flags))


# (unsigned, signed) extension of the low 8/16/32 bits: uxt*/sxt* and their ubfx/sbfx forms
EXTS = {8: (Builder.ext8u, Builder.ext8s), 16: (Builder.ext16u, Builder.ext16s),
        32: (Builder.ext32u, Builder.ext32s)}


def gen_extract(ctx, src, lsb: int, length: int, signed: bool):
    """Bits [lsb, lsb+length) of the 64-bit ``src``, zero- or sign-extended to 64 bits."""
    b = ctx.b
    if lsb == 0 and length in EXTS:
        return EXTS[length][signed](b, src)
    if lsb + length == 64:
        if lsb == 0:
            return src
        return b.sar(src, lsb) if signed else b.shr(src, lsb)
    if signed:
        return b.sar(b.shl(src, 64 - lsb - length), 64 - length)
    if lsb:
        src = b.shr(src, lsb)
    return b.and_(src, ones(length))


# -- PC-relative addressing ----------------------------------------------------

@A64.pattern("op:1 immlo:2 10000 immhi:s19 rd:5")
def trans_ADR(ctx, a):
    imm = (a.immhi << 2) | a.immlo
    if a.op:  # ADRP: the 4 KiB page of pc plus imm pages
        value = (ctx.pc & ~0xFFF) + (imm << 12)
    else:
        value = ctx.pc + imm
    ctx.write_reg(a.rd, ctx.b.const(value))


# -- add/sub (immediate) ---------------------------------------------------------

@A64.pattern("sf:1 op:1 S:1 100010 sh:1 imm:12 rn:5 rd:5")
def trans_ADDSUB_i(ctx, a):
    imm = a.imm << (12 if a.sh else 0)
    res = gen_addsub(ctx, a.op, a.S, a.sf, ctx.read_reg(a.rn, sp=True), imm)
    # The flag-setting forms write XZR for rd == 31 (cmp/cmn); the others SP.
    ctx.write_reg(a.rd, res, a.sf, sp=not a.S)


# -- logical (immediate) ---------------------------------------------------------

def decode_bit_masks(n: int, imms: int, immr: int, sf: int) -> int | None:
    """DecodeBitMasks(immediate=TRUE)'s wmask at the operation size, or None
    for the reserved (n, imms) combinations."""
    length = ((n << 6) | (~imms & 0x3F)).bit_length() - 1
    if length < 1:
        return None
    levels = ones(length)
    s = imms & levels
    if s == levels:            # an all-ones element is not encodable
        return None
    r = immr & levels
    esize = 1 << length
    welem = ones(s + 1)
    elem = ((welem >> r) | (welem << (esize - r))) & ones(esize)
    value = 0
    for pos in range(0, 64 if sf else 32, esize):
        value |= elem << pos
    return value


# opc: and, orr, eor, ands
LOGIC_OPS = (Builder.and_, Builder.or_, Builder.xor, Builder.and_)


@A64.pattern("sf:1 opc:2 100100 n:1 immr:6 imms:6 rn:5 rd:5")
def trans_LOGIC_i(ctx, a):
    if not a.sf and a.n:
        return False
    imm = decode_bit_masks(a.n, a.imms, a.immr, a.sf)
    if imm is None:
        return False
    res = trunc(ctx, LOGIC_OPS[a.opc](ctx.b, ctx.read_reg(a.rn), imm), a.sf)
    if a.opc == 3:
        ctx.gen_logic_flags(res, a.sf)
    # and/orr/eor write SP for rd == 31 (mov sp, #imm is an orr); ands writes XZR (tst).
    ctx.write_reg(a.rd, res, sp=a.opc != 3)


# -- move wide -------------------------------------------------------------------

@A64.pattern("sf:1 opc:2 100101 hw:2 imm:16 rd:5")
def trans_MOVW(ctx, a):
    # opc: 0 movn, 2 movz, 3 movk
    if a.opc == 1 or (not a.sf and a.hw >= 2):
        return False
    pos = a.hw * 16
    if a.opc == 0:
        value = ~(a.imm << pos) & size_mask(a.sf)
    elif a.opc == 2:
        value = a.imm << pos
    else:
        b = ctx.b
        value = b.or_(b.and_(ctx.read_reg(a.rd), ~(0xFFFF << pos) & MASK64), a.imm << pos)
    ctx.write_reg(a.rd, value, a.sf)


# -- bitfield --------------------------------------------------------------------

@A64.pattern("sf:1 opc:2 100110 n:1 immr:6 imms:6 rn:5 rd:5")
def trans_BITFIELD(ctx, a):
    # opc: 0 sbfm, 1 bfm, 2 ubfm
    if a.opc == 3 or a.n != a.sf or (not a.sf and (a.immr | a.imms) >= 32):
        return False
    b = ctx.b
    r, s = a.immr, a.imms
    # DecodeBitMasks' wmask/tmask come down to two shapes: with s >= r, bits
    # [r, s] move to the bottom (ubfx/sbfx/bfxil, lsr/asr, sxt*/uxt*); with
    # s < r, bits [0, s] move up to datasize - r (ubfiz/sbfiz/bfi, lsl).
    size = 64 if a.sf else 32
    if s >= r:
        lsb, length, pos = r, s - r + 1, 0
    else:
        lsb, length, pos = 0, s + 1, size - r
    src = ctx.read_reg(a.rn)
    if pos and pos + length == size:
        # lsl (immediate) and the like: the shift itself drops the bits above
        # the field (a Wd result is truncated on write)
        field = b.shl(src, pos)
    else:
        field = gen_extract(ctx, src, lsb, length, signed=a.opc == 0)
        if pos:
            field = b.shl(field, pos)
    if a.opc == 1:
        keep = ~(ones(length) << pos) & MASK64
        field = b.or_(b.and_(ctx.read_reg(a.rd), keep), field)
    ctx.write_reg(a.rd, field, a.sf)


# -- extract -----------------------------------------------------------------------

@A64.pattern("sf:1 00 100111 n:1 0 rm:5 imms:6 rn:5 rd:5")
def trans_EXTR(ctx, a):
    if a.n != a.sf or (not a.sf and a.imms >= 32):
        return False
    b = ctx.b
    lsb = a.imms
    lo = ctx.read_reg(a.rm)
    if lsb == 0:
        res = lo
    elif a.sf and a.rn == a.rm:   # ror (immediate)
        res = b.rotr(lo, lsb)
    else:
        hi = ctx.read_reg(a.rn)
        res = b.or_(b.shr(trunc(ctx, lo, a.sf), lsb), b.shl(hi, (64 if a.sf else 32) - lsb))
    ctx.write_reg(a.rd, res, a.sf)
