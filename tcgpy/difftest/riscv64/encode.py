"""An encoder for the RISC-V formats, written from the ISA manual's format
tables (RV32/RV64 base formats; "Compressed Instruction Formats"),
independently of the frontend's decoder: the difftest's words come from
here, so a field the decoder reads from the wrong bits disagrees with
Unicorn instead of agreeing with itself.  tests/test_rv64_encode.py checks
these encodings against Capstone's disassembly."""
from __future__ import annotations


def _chk(v: int, bits: int, signed: bool = False) -> int:
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    if not lo <= v < hi:
        raise ValueError(f"{v} does not fit in {bits} {'signed' if signed else 'unsigned'} bits")
    return v & ((1 << bits) - 1)


def r_type(f7: int, rs2: int, rs1: int, f3: int, rd: int, opcode: int) -> int:
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opcode


def i_type(imm: int, rs1: int, f3: int, rd: int, opcode: int) -> int:
    return _chk(imm, 12, True) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opcode


def s_type(imm: int, rs2: int, rs1: int, f3: int, opcode: int) -> int:
    i = _chk(imm, 12, True)
    return (i >> 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (i & 31) << 7 | opcode


def b_type(off: int, rs2: int, rs1: int, f3: int, opcode: int = 0b1100011) -> int:
    assert off % 2 == 0
    i = _chk(off, 13, True)
    return ((i >> 12 & 1) << 31 | (i >> 5 & 0x3F) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12
            | (i >> 1 & 0xF) << 8 | (i >> 11 & 1) << 7 | opcode)


def u_type(imm20: int, rd: int, opcode: int) -> int:
    return _chk(imm20, 20) << 12 | rd << 7 | opcode


def j_type(off: int, rd: int, opcode: int = 0b1101111) -> int:
    assert off % 2 == 0
    i = _chk(off, 21, True)
    return ((i >> 20 & 1) << 31 | (i >> 1 & 0x3FF) << 21 | (i >> 11 & 1) << 20
            | (i >> 12 & 0xFF) << 12 | rd << 7 | opcode)


# -- compressed (16-bit) formats; r' registers are x8..x15 -----------------------------

def _rp(r: int) -> int:
    if not 8 <= r <= 15:
        raise ValueError(f"x{r} is not a compressed register")
    return r - 8


def _scatter(v: int, layout: tuple[int, ...]) -> int:
    """Bits of ``v`` in the order ``layout`` lists them, MSB first (the manual's
    immediate notation, e.g. imm[5:4|9:6|2|3] = (5, 4, 9, 8, 7, 6, 2, 3))."""
    out = 0
    for b in layout:
        out = out << 1 | (v >> b & 1)
    return out


def ci(f3: int, imm: int, rd: int, op: int, hi: int, lo: tuple[int, ...]) -> int:
    """CI: funct3 | imm[hi] | rd/rs1 | imm[lo...] | op."""
    return f3 << 13 | (imm >> hi & 1) << 12 | rd << 7 | _scatter(imm, lo) << 2 | op


def css(f3: int, imm: int, rs2: int, op: int, layout: tuple[int, ...]) -> int:
    return f3 << 13 | _scatter(imm, layout) << 7 | rs2 << 2 | op


def ciw(f3: int, imm: int, rd: int, op: int) -> int:
    return f3 << 13 | _scatter(imm, (5, 4, 9, 8, 7, 6, 2, 3)) << 5 | _rp(rd) << 2 | op


def cl(f3: int, imm: int, rs1: int, rd: int, op: int, hi: tuple[int, ...], lo: tuple[int, ...]) -> int:
    """CL/CS: funct3 | imm[hi] (12:10) | rs1' | imm[lo] (6:5) | rd'/rs2' | op."""
    return f3 << 13 | _scatter(imm, hi) << 10 | _rp(rs1) << 7 | _scatter(imm, lo) << 5 | _rp(rd) << 2 | op


def ca(f6: int, rd: int, f2: int, rs2: int, op: int) -> int:
    return f6 << 10 | _rp(rd) << 7 | f2 << 5 | _rp(rs2) << 2 | op


def cb_branch(f3: int, off: int, rs1: int, op: int = 0b01) -> int:
    i = _chk(off, 9, True)
    return (f3 << 13 | _scatter(i, (8, 4, 3)) << 10 | _rp(rs1) << 7
            | _scatter(i, (7, 6, 2, 1, 5)) << 2 | op)


def cj(f3: int, off: int, op: int = 0b01) -> int:
    i = _chk(off, 12, True)
    return f3 << 13 | _scatter(i, (11, 4, 9, 8, 10, 6, 7, 3, 2, 1, 5)) << 2 | op


def cr(f4: int, rd: int, rs2: int, op: int = 0b10) -> int:
    return f4 << 12 | rd << 7 | rs2 << 2 | op
