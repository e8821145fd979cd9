"""The RISC-V decoders: RV32 for 32-bit instructions, RVC for the 16-bit
compressed ones, and the dispatch between them by the length rule.

Immediates that the ISA scatters over the word are declared here once, as
QEMU's insn32.decode/insn16.decode declare them with ``%field`` lines: a
pattern names the pieces (``i11_5:7``), and the functions below put them
together.  The insn_* modules register their patterns on RV32 and RVC.
"""
from __future__ import annotations

from ..decodetree import Decoder, Pattern

RV32 = Decoder("rv32", 32)
RVC = Decoder("rvc", 16, keep_word=True)


def sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def bits(v: int, hi: int, lo: int) -> int:
    return (v >> lo) & ((1 << (hi - lo + 1)) - 1)


# -- %field lines of the 32-bit formats -----------------------------------------------

def imm_s(a) -> int:
    """S-type: imm[11:5] | imm[4:0]."""
    return sext(a.i11_5 << 5 | a.i4_0, 12)


def imm_b(a) -> int:
    """B-type: the pieces are imm[12|10:5] and imm[4:1|11]."""
    return sext(a.i12 << 12 | a.i11 << 11 | a.i10_5 << 5 | a.i4_1 << 1, 13)


def imm_j(a) -> int:
    """J-type: imm[20|10:1|11|19:12] as one 20-bit field."""
    v = a.imm
    return sext(bits(v, 19, 19) << 20 | bits(v, 7, 0) << 12 | bits(v, 8, 8) << 11
                | bits(v, 18, 9) << 1, 21)


# -- %field lines of the compressed formats (on the raw 16-bit word, ``a.word``) ---------

def c_reg(v: int) -> int:
    """rd'/rs1'/rs2': x8..x15."""
    return 8 + v


def c_imm6(w: int) -> int:
    """imm[5] at bit 12, imm[4:0] at 6:2 (c.addi, c.li, c.andi, ...), signed."""
    return sext(bits(w, 12, 12) << 5 | bits(w, 6, 2), 6)


def c_uimm6(w: int) -> int:
    """shamt[5] at bit 12, shamt[4:0] at 6:2."""
    return bits(w, 12, 12) << 5 | bits(w, 6, 2)


def c_addi4spn(w: int) -> int:
    """nzuimm[5:4|9:6|2|3] at bits 12:5."""
    return (bits(w, 12, 11) << 4 | bits(w, 10, 7) << 6 | bits(w, 6, 6) << 2 | bits(w, 5, 5) << 3)


def c_addi16sp(w: int) -> int:
    """nzimm[9] at 12, nzimm[4|6|8:7|5] at 6:2."""
    return sext(bits(w, 12, 12) << 9 | bits(w, 6, 6) << 4 | bits(w, 5, 5) << 6
                | bits(w, 4, 3) << 7 | bits(w, 2, 2) << 5, 10)


def c_lui(w: int) -> int:
    """nzimm[17] at 12, nzimm[16:12] at 6:2: the value lui would load."""
    return sext(bits(w, 12, 12) << 17 | bits(w, 6, 2) << 12, 18)


def c_uimm_w(w: int) -> int:
    """c.lw/c.sw: uimm[5:3] at 12:10, uimm[2|6] at 6:5."""
    return bits(w, 12, 10) << 3 | bits(w, 6, 6) << 2 | bits(w, 5, 5) << 6


def c_uimm_d(w: int) -> int:
    """c.ld/c.sd/c.fld/c.fsd: uimm[5:3] at 12:10, uimm[7:6] at 6:5."""
    return bits(w, 12, 10) << 3 | bits(w, 6, 5) << 6


def c_lwsp(w: int) -> int:
    """uimm[5] at 12, uimm[4:2|7:6] at 6:2."""
    return bits(w, 12, 12) << 5 | bits(w, 6, 4) << 2 | bits(w, 3, 2) << 6


def c_ldsp(w: int) -> int:
    """uimm[5] at 12, uimm[4:3|8:6] at 6:2."""
    return bits(w, 12, 12) << 5 | bits(w, 6, 5) << 3 | bits(w, 4, 2) << 6


def c_swsp(w: int) -> int:
    """uimm[5:2|7:6] at 12:7."""
    return bits(w, 12, 9) << 2 | bits(w, 8, 7) << 6


def c_sdsp(w: int) -> int:
    """uimm[5:3|8:6] at 12:7."""
    return bits(w, 12, 10) << 3 | bits(w, 9, 7) << 6


def c_j(w: int) -> int:
    """imm[11|4|9:8|10|6|7|3:1|5] at 12:2, signed."""
    return sext(bits(w, 12, 12) << 11 | bits(w, 11, 11) << 4 | bits(w, 10, 9) << 8
                | bits(w, 8, 8) << 10 | bits(w, 7, 7) << 6 | bits(w, 6, 6) << 7
                | bits(w, 5, 3) << 1 | bits(w, 2, 2) << 5, 12)


def c_b(w: int) -> int:
    """imm[8|4:3] at 12:10, imm[7:6|2:1|5] at 6:2, signed."""
    return sext(bits(w, 12, 12) << 8 | bits(w, 11, 10) << 3 | bits(w, 6, 5) << 6
                | bits(w, 4, 3) << 1 | bits(w, 2, 2) << 5, 9)


class RVDecoder:
    """RV32 and RVC behind one ``lookup``: the length rule picks the table
    (a 16-bit word reaches here only when its low bits are not 11)."""

    def __init__(self, wide: Decoder, compressed: Decoder):
        self.wide = wide
        self.compressed = compressed

    @property
    def patterns(self) -> list[Pattern]:
        return self.wide.patterns + self.compressed.patterns

    def compile(self) -> None:
        self.wide.compile()
        self.compressed.compile()

    def lookup(self, word: int) -> tuple[Pattern, ...]:
        if word & 3 == 3:
            return self.wide.lookup(word)
        return self.compressed.lookup(word)

    def candidates(self, word: int) -> tuple:
        if word & 3 == 3:
            return self.wide.candidates(word)
        return self.compressed.candidates(word)

    def decoded_before(self, word: int) -> tuple | None:
        return (self.wide if word & 3 == 3 else self.compressed).decoded_before(word)


RV = RVDecoder(RV32, RVC)
