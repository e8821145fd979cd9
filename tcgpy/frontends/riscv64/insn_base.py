"""RV64I (the base integer set) and M (multiply/divide).

Division follows RISC-V's rules (ISA manual, "Division Operations", table
"Semantics for division by zero and division overflow"): x / 0 is all ones
(-1 signed, 2**XLEN-1 unsigned), x % 0 is x, and the signed overflow
INT_MIN / -1 is INT_MIN with remainder 0 -- the IR's divu_rv, divs_rv,
remu_rv and rems_rv.
"""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.core import Temp
from ...ir.ops import Cond
from .decode import RV32, imm_b, imm_j, imm_s

M64 = (1 << 64) - 1

# -- upper immediates and jumps --------------------------------------------------------


@RV32.pattern("imm:20 rd:5 0110111")
def trans_LUI(ctx, a):
    ctx.write_reg(a.rd, (a.imm << 12) - ((a.imm >> 19) << 32))


@RV32.pattern("imm:20 rd:5 0010111")
def trans_AUIPC(ctx, a):
    off = (a.imm << 12) - ((a.imm >> 19) << 32)
    ctx.write_reg(a.rd, (ctx.pc + off) & M64)


@RV32.pattern("imm:20 rd:5 1101111")
def trans_JAL(ctx, a):
    ctx.gen_jal(a.rd, (ctx.pc + imm_j(a)) & M64)


@RV32.pattern("imm:s12 rs1:5 000 rd:5 1100111")
def trans_JALR(ctx, a):
    ctx.gen_jalr(a.rd, a.rs1, a.imm)


BRANCH_CONDS = {0b000: Cond.eq, 0b001: Cond.ne, 0b100: Cond.lt, 0b101: Cond.ge,
                0b110: Cond.ltu, 0b111: Cond.geu}


@RV32.pattern("i12:1 i10_5:6 rs2:5 rs1:5 f3:3 i4_1:4 i11:1 1100011")
def trans_BRANCH(ctx, a):
    cond = BRANCH_CONDS.get(a.f3)
    if cond is None:
        return False        # funct3 010, 011: reserved
    ctx.gen_branch(cond, a.rs1, a.rs2, (ctx.pc + imm_b(a)) & M64)


# -- loads and stores ------------------------------------------------------------------
# funct3 -> (log2 size, sign-extend); 111 is reserved (no ldu in RV64).
LOADS = {0b000: (0, True), 0b001: (1, True), 0b010: (2, True), 0b011: (3, True),
         0b100: (0, False), 0b101: (1, False), 0b110: (2, False)}


@RV32.pattern("imm:s12 rs1:5 f3:3 rd:5 0000011")
def trans_LOAD(ctx, a):
    op = LOADS.get(a.f3)
    if op is None:
        return False
    ctx.gen_load(a.rd, a.rs1, a.imm, *op)


@RV32.pattern("i11_5:7 rs2:5 rs1:5 0 f3:2 i4_0:5 0100011")
def trans_STORE(ctx, a):
    ctx.gen_store(a.rs2, a.rs1, imm_s(a), a.f3)


# -- register-immediate ------------------------------------------------------------------

def _slt(b: Builder, x: Temp, y: Temp) -> Temp:
    return b.setcond(Cond.lt, x, y)


def _sltu(b: Builder, x: Temp, y: Temp) -> Temp:
    return b.setcond(Cond.ltu, x, y)


IMM_OPS = {0b000: Builder.add, 0b010: _slt, 0b011: _sltu, 0b100: Builder.xor,
           0b110: Builder.or_, 0b111: Builder.and_}


@RV32.pattern("imm:s12 rs1:5 f3:3 rd:5 0010011")
def trans_OP_IMM(ctx, a):
    op = IMM_OPS.get(a.f3)
    if op is None:
        return False        # 001/101: the shifts below
    ctx.gen_arith(a.rd, ctx.read_reg(a.rs1), a.imm & M64, op)


@RV32.pattern("000000 sh:6 rs1:5 001 rd:5 0010011", op=0)
@RV32.pattern("000000 sh:6 rs1:5 101 rd:5 0010011", op=1)
@RV32.pattern("010000 sh:6 rs1:5 101 rd:5 0010011", op=2)
def trans_SHIFT_IMM(ctx, a):
    ctx.gen_arith(a.rd, ctx.read_reg(a.rs1), a.sh, (Builder.shl, Builder.shr, Builder.sar)[a.op])


@RV32.pattern("imm:s12 rs1:5 000 rd:5 0011011")
def trans_ADDIW(ctx, a):
    ctx.gen_arith(a.rd, ctx.read_reg(a.rs1), a.imm & M64, Builder.add, word=True)


def _srlw(b: Builder, x: Temp, s: Temp) -> Temp:
    return b.shr(b.ext32u(x), s)


def _sraw(b: Builder, x: Temp, s: Temp) -> Temp:
    return b.sar(b.ext32s(x), s)


@RV32.pattern("0000000 sh:5 rs1:5 001 rd:5 0011011", op=0)
@RV32.pattern("0000000 sh:5 rs1:5 101 rd:5 0011011", op=1)
@RV32.pattern("0100000 sh:5 rs1:5 101 rd:5 0011011", op=2)
def trans_SHIFT_IMM_W(ctx, a):
    ctx.gen_arith(a.rd, ctx.read_reg(a.rs1), a.sh, (Builder.shl, _srlw, _sraw)[a.op], word=True)


# -- register-register -------------------------------------------------------------------

def _shift(op, bits: int):
    """A shift by register: only the low log2(bits) bits of the amount count."""
    def gen(b: Builder, x: Temp, s: Temp) -> Temp:
        return op(b, x, b.and_(s, bits - 1))
    return gen


def _mulhsu(b: Builder, x: Temp, y: Temp) -> Temp:
    # signed x times unsigned y: the unsigned product's high half, less y
    # when x is negative (x = ux - 2**64 * sign)
    return b.sub(b.muluh(x, y), b.and_(b.sar(x, 63), y))


OPS = {
    (0b0000000, 0b000): Builder.add, (0b0100000, 0b000): Builder.sub,
    (0b0000000, 0b001): _shift(Builder.shl, 64), (0b0000000, 0b010): _slt,
    (0b0000000, 0b011): _sltu, (0b0000000, 0b100): Builder.xor,
    (0b0000000, 0b101): _shift(Builder.shr, 64), (0b0100000, 0b101): _shift(Builder.sar, 64),
    (0b0000000, 0b110): Builder.or_, (0b0000000, 0b111): Builder.and_,
    # M
    (0b0000001, 0b000): Builder.mul, (0b0000001, 0b001): Builder.mulsh,
    (0b0000001, 0b010): _mulhsu, (0b0000001, 0b011): Builder.muluh,
    (0b0000001, 0b100): Builder.divs_rv, (0b0000001, 0b101): Builder.divu_rv,
    (0b0000001, 0b110): Builder.rems_rv, (0b0000001, 0b111): Builder.remu_rv,
}


@RV32.pattern("f7:7 rs2:5 rs1:5 f3:3 rd:5 0110011")
def trans_OP(ctx, a):
    op = OPS.get((a.f7, a.f3))
    if op is None:
        return False
    ctx.gen_arith(a.rd, ctx.read_reg(a.rs1), ctx.read_reg(a.rs2), op)


def _word_div(div, signed: bool):
    """The *W divisions: 64-bit division of the sign- or zero-extended low
    words gives the 32-bit result in its low half (INT32_MIN / -1 becomes
    2**31, whose low word is INT32_MIN again; a zero divisor gives all ones
    or the extended dividend, whose low words are the 32-bit results); the
    caller sign-extends."""
    ext = Builder.ext32s if signed else Builder.ext32u
    return lambda b, x, y: div(b, ext(b, x), ext(b, y))


OPS_W = {
    (0b0000000, 0b000): Builder.add, (0b0100000, 0b000): Builder.sub,
    (0b0000000, 0b001): _shift(Builder.shl, 32), (0b0000000, 0b101): _shift(_srlw, 32),
    (0b0100000, 0b101): _shift(_sraw, 32),
    (0b0000001, 0b000): Builder.mul,
    (0b0000001, 0b100): _word_div(Builder.divs_rv, True),
    (0b0000001, 0b101): _word_div(Builder.divu_rv, False),
    (0b0000001, 0b110): _word_div(Builder.rems_rv, True),
    (0b0000001, 0b111): _word_div(Builder.remu_rv, False),
}


# OP-32 forms whose result is all 64 bits (Zba's add.uw, shNadd.uw), not a sign-extended word
OPS_W_64: set[tuple[int, int]] = set()


@RV32.pattern("f7:7 rs2:5 rs1:5 f3:3 rd:5 0111011")
def trans_OP_32(ctx, a):
    key = (a.f7, a.f3)
    op = OPS_W.get(key)
    if op is None:
        return False
    ctx.gen_arith(a.rd, ctx.read_reg(a.rs1), ctx.read_reg(a.rs2), op, word=key not in OPS_W_64)
