"""Zba, Zbb and Zbs (bit manipulation), RV64 forms.

Unicorn's RISC-V (QEMU 5.0) predates them, so they are checked against
qemu-riscv64 (tests/guest/riscv64/rv_bitmanip.c, recorded with
-cpu rv64,zba=true,zbb=true,zbs=true) and by tests/test_rv64_insn.py."""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.core import Temp
from ...ir.ops import Cond
from .decode import RV32
from .insn_base import OPS, OPS_W, OPS_W_64

M64 = (1 << 64) - 1
B = Builder


def _ctz(b: Builder, x: Temp) -> Temp:
    return b.clz(b.bitrev(x))               # clz(0) == 64, so ctz(0) == 64


def _cpop(b: Builder, x: Temp) -> Temp:
    """Population count, SWAR."""
    x = b.sub(x, b.and_(b.shr(x, 1), 0x5555_5555_5555_5555))
    x = b.add(b.and_(x, 0x3333_3333_3333_3333), b.and_(b.shr(x, 2), 0x3333_3333_3333_3333))
    x = b.and_(b.add(x, b.shr(x, 4)), 0x0F0F_0F0F_0F0F_0F0F)
    return b.shr(b.mul(x, 0x0101_0101_0101_0101), 56)


def _orc_b(b: Builder, x: Temp) -> Temp:
    """Each byte 0xff if it is non-zero, else 0x00."""
    low7 = 0x7F7F_7F7F_7F7F_7F7F
    top = b.andc(b.or_(b.or_(b.add(b.and_(x, low7), low7), x), low7), low7)   # bit 7 of each byte
    return b.mul(b.shr(top, 7), 0xFF)


def _rol(bits: int):
    def gen(b: Builder, x: Temp, s: Temp) -> Temp:
        if bits == 64:
            return b.rotr(x, b.and_(b.neg(s), 63))
        return _rorw(b, x, b.and_(b.neg(s), 31))
    return gen


def _ror(b: Builder, x: Temp, s: Temp) -> Temp:
    return b.rotr(x, b.and_(s, 63))


def _rorw(b: Builder, x: Temp, s: Temp) -> Temp:
    """32-bit rotate right of the low word (the caller sign-extends)."""
    s = b.and_(s, 31)
    lo = b.ext32u(x)
    return b.or_(b.shr(lo, s), b.shl(lo, b.and_(b.sub(32, s), 31)))


def _shadd(n: int, uw: bool = False):
    def gen(b: Builder, x: Temp, y: Temp) -> Temp:
        return b.add(b.shl(b.ext32u(x) if uw else x, n), y)
    return gen


def _bit(b: Builder, s: Temp) -> Temp:
    return b.shl(b.const(1), b.and_(s, 63))


OPS.update({
    # Zba
    (0b0010000, 0b010): _shadd(1), (0b0010000, 0b100): _shadd(2), (0b0010000, 0b110): _shadd(3),
    # Zbb
    (0b0100000, 0b111): lambda b, x, y: b.andc(x, y),
    (0b0100000, 0b110): lambda b, x, y: b.or_(x, b.not_(y)),
    (0b0100000, 0b100): lambda b, x, y: b.not_(b.xor(x, y)),
    (0b0000101, 0b110): lambda b, x, y: b.movcond(Cond.gt, x, y, x, y),
    (0b0000101, 0b111): lambda b, x, y: b.movcond(Cond.gtu, x, y, x, y),
    (0b0000101, 0b100): lambda b, x, y: b.movcond(Cond.lt, x, y, x, y),
    (0b0000101, 0b101): lambda b, x, y: b.movcond(Cond.ltu, x, y, x, y),
    (0b0110000, 0b001): _rol(64), (0b0110000, 0b101): _ror,
    # Zbs
    (0b0100100, 0b001): lambda b, x, s: b.andc(x, _bit(b, s)),
    (0b0100100, 0b101): lambda b, x, s: b.and_(b.shr(x, b.and_(s, 63)), 1),
    (0b0110100, 0b001): lambda b, x, s: b.xor(x, _bit(b, s)),
    (0b0010100, 0b001): lambda b, x, s: b.or_(x, _bit(b, s)),
})

OPS_W.update({
    (0b0000100, 0b000): lambda b, x, y: b.add(b.ext32u(x), y),          # add.uw
    (0b0010000, 0b010): _shadd(1, True), (0b0010000, 0b100): _shadd(2, True),
    (0b0010000, 0b110): _shadd(3, True),
    (0b0110000, 0b001): _rol(32), (0b0110000, 0b101): _rorw,
})
# add.uw and the shNadd.uw are 64-bit results: OP-32 sign-extends the others
OPS_W_64.update({(0b0000100, 0b000), (0b0010000, 0b010), (0b0010000, 0b100), (0b0010000, 0b110)})


UNARY = {0b00000: lambda b, x: b.clz(x), 0b00001: _ctz, 0b00010: _cpop,
         0b00100: lambda b, x: b.ext8s(x), 0b00101: lambda b, x: b.ext16s(x)}


@RV32.pattern("0110000 op:5 rs1:5 001 rd:5 0010011")
def trans_UNARY(ctx, a):
    fn = UNARY.get(a.op)
    if fn is None:
        return False
    ctx.write_reg(a.rd, fn(ctx.b, ctx.read_reg(a.rs1)))


UNARY_W = {0b00000: lambda b, x: b.sub(b.clz(b.ext32u(x)), 32),
           0b00001: lambda b, x: _ctz(b, b.or_(x, 1 << 32)),
           0b00010: lambda b, x: _cpop(b, b.ext32u(x))}


@RV32.pattern("0110000 op:5 rs1:5 001 rd:5 0011011")
def trans_UNARY_W(ctx, a):
    fn = UNARY_W.get(a.op)
    if fn is None:
        return False
    ctx.write_reg(a.rd, fn(ctx.b, ctx.read_reg(a.rs1)))


@RV32.pattern("0000100 00000 rs1:5 100 rd:5 0111011")
def trans_ZEXT_H(ctx, a):
    ctx.write_reg(a.rd, ctx.b.ext16u(ctx.read_reg(a.rs1)))


@RV32.pattern("001010000111 rs1:5 101 rd:5 0010011")
def trans_ORC_B(ctx, a):
    ctx.write_reg(a.rd, _orc_b(ctx.b, ctx.read_reg(a.rs1)))


@RV32.pattern("011010111000 rs1:5 101 rd:5 0010011")
def trans_REV8(ctx, a):
    ctx.write_reg(a.rd, ctx.b.bswap64(ctx.read_reg(a.rs1)))


@RV32.pattern("011000 sh:6 rs1:5 101 rd:5 0010011")
def trans_RORI(ctx, a):
    ctx.write_reg(a.rd, ctx.b.rotr(ctx.read_reg(a.rs1), a.sh))


@RV32.pattern("0110000 sh:5 rs1:5 101 rd:5 0011011")
def trans_RORIW(ctx, a):
    b = ctx.b
    ctx.write_reg(a.rd, b.ext32s(_rorw(b, ctx.read_reg(a.rs1), b.const(a.sh))))


@RV32.pattern("000010 sh:6 rs1:5 001 rd:5 0011011")
def trans_SLLI_UW(ctx, a):
    b = ctx.b
    ctx.write_reg(a.rd, b.shl(b.ext32u(ctx.read_reg(a.rs1)), a.sh))


@RV32.pattern("010010 sh:6 rs1:5 001 rd:5 0010011", op="bclr")
@RV32.pattern("010010 sh:6 rs1:5 101 rd:5 0010011", op="bext")
@RV32.pattern("011010 sh:6 rs1:5 001 rd:5 0010011", op="binv")
@RV32.pattern("001010 sh:6 rs1:5 001 rd:5 0010011", op="bset")
def trans_BIT_IMM(ctx, a):
    b = ctx.b
    x, m = ctx.read_reg(a.rs1), 1 << a.sh
    r = {"bclr": lambda: b.and_(x, ~m & M64), "bext": lambda: b.and_(b.shr(x, a.sh), 1),
         "binv": lambda: b.xor(x, m), "bset": lambda: b.or_(x, m)}[a.op]()
    ctx.write_reg(a.rd, r)
