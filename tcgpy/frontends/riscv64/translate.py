"""RISC-V translation context: register access and the shared ``gen_*``
shapes (register-immediate and register-register arithmetic, loads/stores,
branches) that the insn_* modules build on.  A compressed instruction's
translator calls the same ``gen_*`` helper as the 32-bit instruction it
expands to, with the expanded operands."""
from __future__ import annotations

from typing import Callable

from ...ir.builder import Builder
from ...ir.core import Block, Temp
from ...ir.ops import Cond, Exit, MemOp
from .cpu import FPR_NAMES

# A binary operation as the IR builds it: (builder, a, b) -> result.
BinOp = Callable[[Builder, Temp, Temp], Temp]


class DisasContext:
    def __init__(self, b: Builder, block: Block):
        self.b = b
        self.block = block
        g = block.globals
        self.g = g
        self.xregs: list[Temp | None] = [None] + [g[f"x{i}"] for i in range(1, 32)]
        self.fregs: list[Temp] = [g[n] for n in FPR_NAMES]
        self.fcsr = g["fcsr"]
        self.pc = block.pc          # pc of the instruction being translated
        self.next_pc = block.pc + 4  # set by the translator from the instruction's length
        self.ended = False

    # -- registers -------------------------------------------------------------------
    def read_reg(self, n: int) -> Temp:
        """x``n``; x0 reads as zero."""
        return self.b.const(0) if n == 0 else self.xregs[n]

    def write_reg(self, n: int, value) -> None:
        """x``n`` = value; writes to x0 are discarded."""
        if n:
            self.b.mov(self.xregs[n], value)

    # -- arithmetic ------------------------------------------------------------------
    def gen_arith(self, rd: int, a, b_, op: BinOp, word: bool = False) -> None:
        """rd = op(a, b_); ``word`` (the *W forms): the low 32 bits of the
        result, sign-extended."""
        b = self.b
        res = op(b, b.temp(a), b.temp(b_))
        if word:
            res = b.ext32s(res)
        self.write_reg(rd, res)

    # -- memory ----------------------------------------------------------------------
    def address(self, rs1: int, imm: int) -> Temp:
        base = self.read_reg(rs1)
        return base if imm == 0 else self.b.add(base, imm)

    def gen_load(self, rd: int, rs1: int, imm: int, size_log2: int, sign: bool) -> None:
        """rd = mem[rs1 + imm]; a load into x0 still accesses memory (and may fault)."""
        v = self.b.ld(self.address(rs1, imm), MemOp.make(size_log2, sign))
        self.write_reg(rd, v)

    def gen_store(self, rs2: int, rs1: int, imm: int, size_log2: int) -> None:
        self.b.st(self.read_reg(rs2), self.address(rs1, imm), MemOp.make(size_log2))

    def gen_fload(self, rd: int, rs1: int, imm: int, size_log2: int) -> None:
        """flw/fld: a single is NaN-boxed (upper 32 bits set) in the 64-bit register."""
        b = self.b
        v = b.ld(self.address(rs1, imm), MemOp.make(size_log2))
        if size_log2 == 2:
            v = b.or_(v, 0xFFFF_FFFF_0000_0000)
        b.mov(self.fregs[rd], v)

    def gen_fstore(self, rs2: int, rs1: int, imm: int, size_log2: int) -> None:
        self.b.st(self.fregs[rs2], self.address(rs1, imm), MemOp.make(size_log2))

    # -- control flow ----------------------------------------------------------------
    def gen_jal(self, rd: int, target: int) -> None:
        self.write_reg(rd, self.next_pc)
        self.gen_goto(target)

    def gen_jalr(self, rd: int, rs1: int, imm: int) -> None:
        """pc = (rs1 + imm) & ~1, rd = the return address (rd may be rs1)."""
        b = self.b
        target = b.andc(self.address(rs1, imm), 1)     # a new temp: rs1 may be rd
        self.write_reg(rd, self.next_pc)
        self.gen_goto_reg(target)

    def gen_branch(self, cond: Cond, rs1: int, rs2: int, target: int) -> None:
        b = self.b
        skip = b.new_label()
        b.brcond(_INVERT[cond], self.read_reg(rs1), self.read_reg(rs2), skip)
        b.goto_tb(target)
        b.set_label(skip)
        b.goto_tb(self.next_pc)
        self.ended = True

    def gen_goto(self, target: int) -> None:
        self.b.goto_tb(target)
        self.ended = True

    def gen_goto_reg(self, target: Temp) -> None:
        self.b.goto_ptr(target)
        self.ended = True

    def gen_exit(self, pc: int, code: Exit) -> None:
        self.b.exit_tb(pc, code)
        self.ended = True


_INVERT = {Cond.eq: Cond.ne, Cond.ne: Cond.eq, Cond.lt: Cond.ge, Cond.ge: Cond.lt,
           Cond.ltu: Cond.geu, Cond.geu: Cond.ltu}
