"""RISC-V 64 form classes: random valid encodings of every instruction the
frontend claims (tcgpy.frontends.riscv64), encoded by ``encode`` (written
from the ISA manual independently of the decoder).

Conventions (tcgpy.difftest.forms, with this target's register choices):
x2 (sp), x8..x11 (compressed-reachable) and x20..x27 start as pointers into
the middle of the data page; x18, x19 start small.  Destinations avoid the
pointer registers most of the time so that memory forms keep finding the
data page.  Branch offsets are small and even: a target may fall inside a
4-byte instruction, which both engines then execute from there.

Not generated: ecall (Unicorn runs in machine mode: its environment call
is another exception, with pc at the ecall where Linux user mode has it
after); the cycle/instret/time CSRs (values differ between any two runs;
Linux user mode refuses cycle/instret); FP arithmetic (not implemented).
"""
from __future__ import annotations

import random

from .. import Pos, form_class
from . import encode as E

ARCH = "riscv64"
PTR_REGS = (2, 8, 9, 10, 11, *range(20, 28))
SMALL_REGS = (18, 19)
DEST_REGS = (1, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31)
C_DEST = (12, 13, 14, 15)           # x8..x15 less the pointers
C_PTR = (8, 9, 10, 11)


def _rd(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.05:
        return 0
    if r < 0.1:
        return rng.randrange(32)
    return rng.choice(DEST_REGS)


def _rs(rng: random.Random) -> int:
    return 0 if rng.random() < 0.08 else rng.randrange(32)


def _imm12(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.2:
        return rng.choice((0, 1, -1, 2047, -2048, 31, 32, 63))
    return rng.randrange(-2048, 2048)


# -- RV64I -----------------------------------------------------------------------------

@form_class(ARCH, "alu")
def gen_alu(rng: random.Random, pos: Pos) -> int:
    """RV64I register-register and register-immediate arithmetic, shifts, lui, auipc, the W forms"""
    k = rng.randrange(8)
    rd, rs1, rs2 = _rd(rng), _rs(rng), _rs(rng)
    if k == 0:
        f7, f3 = rng.choice(((0, 0), (32, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (32, 5), (0, 6), (0, 7)))
        return E.r_type(f7, rs2, rs1, f3, rd, 0b0110011)
    if k == 1:
        f3 = rng.choice((0, 2, 3, 4, 6, 7))
        return E.i_type(_imm12(rng), rs1, f3, rd, 0b0010011)
    if k == 2:
        f6, f3 = rng.choice(((0, 1), (0, 5), (16, 5)))
        return f6 << 26 | rng.randrange(64) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0b0010011
    if k == 3:
        f7, f3 = rng.choice(((0, 0), (32, 0), (0, 1), (0, 5), (32, 5)))
        return E.r_type(f7, rs2, rs1, f3, rd, 0b0111011)
    if k == 4:
        return E.i_type(_imm12(rng), rs1, 0, rd, 0b0011011)
    if k == 5:
        f7, f3 = rng.choice(((0, 1), (0, 5), (32, 5)))
        return E.r_type(f7, rng.randrange(32), rs1, f3, rd, 0b0011011)
    return E.u_type(rng.getrandbits(20), rd, rng.choice((0b0110111, 0b0010111)))


@form_class(ARCH, "muldiv")
def gen_muldiv(rng: random.Random, pos: Pos) -> int:
    """M: mul, mulh, mulhsu, mulhu, div, divu, rem, remu and the W forms"""
    rd, rs1, rs2 = _rd(rng), _rs(rng), _rs(rng)
    if rng.random() < 0.5:
        return E.r_type(1, rs2, rs1, rng.randrange(8), rd, 0b0110011)
    return E.r_type(1, rs2, rs1, rng.choice((0, 4, 5, 6, 7)), rd, 0b0111011)


def _ptr(rng: random.Random) -> int:
    return rng.choice(PTR_REGS)


def _mem_off(rng: random.Random) -> int:
    return rng.randrange(-256, 256)


@form_class(ARCH, "ldst")
def gen_ldst(rng: random.Random, pos: Pos) -> int:
    """Loads (lb lh lw ld lbu lhu lwu) and stores (sb sh sw sd), any alignment"""
    if rng.random() < 0.5:
        return E.i_type(_mem_off(rng), _ptr(rng), rng.choice((0, 1, 2, 3, 4, 5, 6)), _rd(rng), 0b0000011)
    return E.s_type(_mem_off(rng), _rs(rng), _ptr(rng), rng.randrange(4), 0b0100011)


def _branch_off(rng: random.Random, pos: Pos) -> int:
    return 2 * rng.randrange(-4, 2 * (pos.length - pos.index) + 2)


@form_class(ARCH, "branch")
def gen_branch(rng: random.Random, pos: Pos) -> int:
    """Conditional branches, jal, jalr"""
    r = rng.random()
    if r < 0.7:
        rs1, rs2 = _rs(rng), _rs(rng)
        if rng.random() < 0.3:
            rs2 = rs1
        return E.b_type(_branch_off(rng, pos), rs2, rs1, rng.choice((0, 1, 4, 5, 6, 7)))
    if r < 0.9:
        return E.j_type(_branch_off(rng, pos), _rd(rng))
    # jalr through a register: mostly leaves the mapped code (a fetch fault
    # whose address checks the target arithmetic, bit 0 cleared)
    return E.i_type(_imm12(rng), _rs(rng), 0, _rd(rng), 0b1100111)


@form_class(ARCH, "system")
def gen_system(rng: random.Random, pos: Pos) -> int:
    """fence (any fields), fence.i, ebreak, and the Zicsr forms on fflags/frm/fcsr"""
    r = rng.random()
    if r < 0.15:
        return rng.getrandbits(12) << 20 | _rs(rng) << 15 | _rd(rng) << 7 | 0b0001111
    if r < 0.25:
        return rng.getrandbits(12) << 20 | _rs(rng) << 15 | 1 << 12 | _rd(rng) << 7 | 0b0001111
    if r < 0.28:
        return 0x00100073
    csr = rng.choice((1, 2, 3))
    f3 = rng.choice((1, 2, 3, 5, 6, 7))
    src = rng.randrange(32) if rng.random() < 0.8 else 0
    return csr << 20 | src << 15 | f3 << 12 | _rd(rng) << 7 | 0b1110011


# -- A ---------------------------------------------------------------------------------

AMO_F5 = (0b00001, 0b00000, 0b00100, 0b01100, 0b01000, 0b10000, 0b10100, 0b11000, 0b11100)
LRSC_BASES = (20, 21)           # few bases, so that an sc often meets its lr's reservation


@form_class(ARCH, "atomic")
def gen_atomic(rng: random.Random, pos: Pos) -> int:
    """lr, sc and every AMO, .w and .d, every aq/rl"""
    d = rng.randrange(2)
    aqrl = rng.randrange(4)
    r = rng.random()
    if r < 0.25:
        return E.r_type(0b00010 << 2 | aqrl, 0, rng.choice(LRSC_BASES), 2 + d, _rd(rng), 0b0101111)
    if r < 0.5:
        return E.r_type(0b00011 << 2 | aqrl, _rs(rng), rng.choice(LRSC_BASES), 2 + d, _rd(rng), 0b0101111)
    return E.r_type(rng.choice(AMO_F5) << 2 | aqrl, _rs(rng), _ptr(rng), 2 + d, _rd(rng), 0b0101111)


# -- F/D moves -------------------------------------------------------------------------

@form_class(ARCH, "fpmove")
def gen_fpmove(rng: random.Random, pos: Pos) -> int:
    """flw fld fsw fsd, fmv.x.w/.w.x/.x.d/.d.x, fsgnj/fsgnjn/fsgnjx .s and .d"""
    fd, fs1, fs2 = rng.randrange(32), rng.randrange(32), rng.randrange(32)
    k = rng.randrange(4)
    if k == 0:
        return E.i_type(_mem_off(rng), _ptr(rng), rng.choice((2, 3)), fd, 0b0000111)
    if k == 1:
        return E.s_type(_mem_off(rng), fs2, _ptr(rng), rng.choice((2, 3)), 0b0100111)
    if k == 2:
        f7 = rng.choice((0b1110000, 0b1110001, 0b1111000, 0b1111001))
        rd = _rd(rng) if f7 & 0b0001000 == 0 else fd
        rs1 = fs1 if f7 & 0b0001000 == 0 else _rs(rng)
        return E.r_type(f7, 0, rs1, 0, rd, 0b1010011)
    return E.r_type(rng.choice((0b0010000, 0b0010001)), fs2, fs1, rng.randrange(3), fd, 0b1010011)


# -- C ---------------------------------------------------------------------------------

def _nz(rng: random.Random, lo: int, hi: int, step: int = 1) -> int:
    while True:
        v = rng.randrange(lo, hi, step)
        if v:
            return v


@form_class(ARCH, "rvc")
def gen_rvc(rng: random.Random, pos: Pos) -> int:
    """Every RV64C form (quadrants 0, 1, 2), with its own operands"""
    k = rng.randrange(25)
    cd, cp = rng.choice(C_DEST), rng.choice(C_PTR)
    rd = _rd(rng)
    if k == 0:
        return E.ciw(0b000, _nz(rng, 0, 1024, 4), cd, 0b00)                     # c.addi4spn
    if k == 1:
        return E.cl(0b001, rng.randrange(0, 256, 8), cp, rng.choice(C_PTR + C_DEST), 0b00,
                    (5, 4, 3), (7, 6))                                         # c.fld
    if k == 2:
        return E.cl(0b010, rng.randrange(0, 128, 4), cp, cd, 0b00, (5, 4, 3), (2, 6))      # c.lw
    if k == 3:
        return E.cl(0b011, rng.randrange(0, 256, 8), cp, cd, 0b00, (5, 4, 3), (7, 6))      # c.ld
    if k == 4:
        return E.cl(0b101, rng.randrange(0, 256, 8), cp, rng.choice(C_PTR + C_DEST), 0b00,
                    (5, 4, 3), (7, 6))                                         # c.fsd
    if k == 5:
        return E.cl(0b110, rng.randrange(0, 128, 4), cp, rng.choice(C_PTR + C_DEST), 0b00,
                    (5, 4, 3), (2, 6))                                         # c.sw
    if k == 6:
        return E.cl(0b111, rng.randrange(0, 256, 8), cp, rng.choice(C_PTR + C_DEST), 0b00,
                    (5, 4, 3), (7, 6))                                         # c.sd
    if k == 7:
        return E.ci(0b000, rng.randrange(64), rd, 0b01, 5, (4, 3, 2, 1, 0))   # c.addi / c.nop
    if k == 8:
        return E.ci(0b001, rng.randrange(64), rd or 1, 0b01, 5, (4, 3, 2, 1, 0))   # c.addiw
    if k == 9:
        return E.ci(0b010, rng.randrange(64), rd, 0b01, 5, (4, 3, 2, 1, 0))   # c.li
    if k == 10:
        return E.ci(0b011, _nz(rng, -512, 512, 16) & 0x3FF, 2, 0b01, 9, (4, 6, 8, 7, 5))  # c.addi16sp
    if k == 11:
        return E.ci(0b011, _nz(rng, 0, 64) << 12, rd if rd != 2 else 3, 0b01, 17,
                    (16, 15, 14, 13, 12))                                       # c.lui
    if k == 12:
        f2 = rng.randrange(3)                                                  # c.srli c.srai c.andi
        return 0b100 << 13 | 0 << 12 | f2 << 10 | (cd - 8) << 7 | rng.randrange(32) << 2 | 0b01 \
            | rng.randrange(2) << 12
    if k == 13:
        w, f2 = rng.choice(((0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)))
        return E.ca(0b100011 | w << 2, cd, f2, rng.randrange(8, 16), 0b01)     # c.sub .. c.addw
    if k == 14:
        return E.cj(0b101, _branch_off(rng, pos))                             # c.j
    if k == 15:
        return E.cb_branch(rng.choice((0b110, 0b111)), _branch_off(rng, pos), rng.randrange(8, 16))
    if k == 16:
        return E.ci(0b000, rng.randrange(64), rd, 0b10, 5, (4, 3, 2, 1, 0))   # c.slli
    if k == 17:
        return E.ci(0b001, rng.randrange(0, 512, 8), rng.randrange(32), 0b10, 5, (4, 3, 8, 7, 6))  # c.fldsp
    if k == 18:
        return E.ci(0b010, rng.randrange(0, 256, 4), rd or 1, 0b10, 5, (4, 3, 2, 7, 6))  # c.lwsp
    if k == 19:
        return E.ci(0b011, rng.randrange(0, 512, 8), rd or 1, 0b10, 5, (4, 3, 8, 7, 6))  # c.ldsp
    if k == 20:
        r = rng.random()
        if r < 0.3:
            return E.cr(0b1000, _nz(rng, 0, 32), 0)                            # c.jr
        if r < 0.5:
            return E.cr(0b1001, _nz(rng, 0, 32), 0)                            # c.jalr
        if r < 0.55:
            return E.cr(0b1001, 0, 0)                                         # c.ebreak
        return E.cr(0b1000 | rng.randrange(2), rd, _nz(rng, 0, 32))            # c.mv / c.add
    if k == 21:
        return E.css(0b101, rng.randrange(0, 512, 8), rng.randrange(32), 0b10, (5, 4, 3, 8, 7, 6))  # c.fsdsp
    if k == 22:
        return E.css(0b110, rng.randrange(0, 256, 4), _rs(rng), 0b10, (5, 4, 3, 2, 7, 6))  # c.swsp
    if k == 23:
        return E.css(0b111, rng.randrange(0, 512, 8), _rs(rng), 0b10, (5, 4, 3, 8, 7, 6))  # c.sdsp
    return E.cr(0b1001, rd, _nz(rng, 0, 32))                                   # c.add


@form_class(ARCH, "rvc_any")
def gen_rvc_any(rng: random.Random, pos: Pos) -> int:
    """Any 16-bit word: the reserved and HINT compressed encodings decode as Unicorn's"""
    while True:
        w = rng.getrandbits(16)
        if w & 3 != 3:
            return w


# -- branch targets on instruction boundaries ------------------------------------------
# A generator draws a branch offset knowing only the instruction's index; with
# 2- and 4-byte instructions mixed, the target may fall inside an instruction,
# whose second half then runs as an instruction nobody chose (often an FP
# operation, which tcgpy does not implement).  ``finish_code`` moves such
# targets to the instruction start below them.

def _offset(w: int) -> tuple[str, int] | None:
    """(kind, byte offset) of a pc-relative branch or jump, else None."""
    def sx(v: int, bits: int) -> int:
        return v - (1 << bits) if v >> (bits - 1) & 1 else v
    if w & 3 == 3:
        op = w & 0x7F
        if op == 0b1100011:
            return "b", sx((w >> 31 & 1) << 12 | (w >> 7 & 1) << 11 | (w >> 25 & 0x3F) << 5
                           | (w >> 8 & 0xF) << 1, 13)
        if op == 0b1101111:
            return "j", sx((w >> 31 & 1) << 20 | (w >> 12 & 0xFF) << 12 | (w >> 20 & 1) << 11
                           | (w >> 21 & 0x3FF) << 1, 21)
        return None
    if w & 3 == 1 and w >> 13 == 0b101:
        return "cj", sx(_gather(w, (12, 8, 10, 9, 6, 7, 2, 11, 5, 4, 3), (11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)), 12)
    if w & 3 == 1 and w >> 13 in (0b110, 0b111):
        return "cb", sx(_gather(w, (12, 6, 5, 2, 11, 10, 4, 3), (8, 7, 6, 5, 4, 3, 2, 1)), 9)
    return None


def _gather(w: int, src: tuple[int, ...], dst: tuple[int, ...]) -> int:
    """Bits of ``w`` at positions ``src`` placed at offset bits ``dst``."""
    return sum((w >> s & 1) << d for s, d in zip(src, dst))


def _with_offset(w: int, kind: str, off: int) -> int:
    if kind == "b":
        return E.b_type(off, w >> 20 & 31, w >> 15 & 31, w >> 12 & 7)
    if kind == "j":
        return E.j_type(off, w >> 7 & 31)
    if kind == "cj":
        return E.cj(0b101, off)
    return E.cb_branch(w >> 13, off, 8 + (w >> 7 & 7))


def finish_code(words: list[int]) -> list[int]:
    from ...targets import lookup
    encode = lookup(ARCH).encode
    addrs, a = [], 0
    for w in words:
        addrs.append(a)
        a += len(encode(w))
    starts = set(addrs)
    out = list(words)
    for i, w in enumerate(words):
        br = _offset(w)
        if br is None:
            continue
        kind, off = br
        target = addrs[i] + off
        if 0 <= target < a and target not in starts:
            out[i] = _with_offset(w, kind, off - 2)     # the instruction it fell into
    return out


# -- F/D arithmetic ------------------------------------------------------------------------

FP_RM = (0, 1, 2, 3, 4, 7, 7, 7)        # static modes and dynamic (frm) often


@form_class(ARCH, "fparith")
def gen_fparith(rng: random.Random, pos: Pos) -> int:
    """F/D arithmetic: add sub mul div sqrt min max, feq flt fle, fclass,
    conversions (int <-> float, s <-> d), fmadd fmsub fnmsub fnmadd, every
    rounding mode, static and dynamic"""
    fmt = rng.randrange(2)
    fd, fs1, fs2, fs3 = (rng.randrange(32) for _ in range(4))
    rm = rng.choice(FP_RM)
    k = rng.randrange(10)
    if k < 3:
        return E.r_type(rng.randrange(4) << 2 | fmt, fs2, fs1, rm, fd, 0b1010011)
    if k == 3:
        return E.r_type(0b01011 << 2 | fmt, 0, fs1, rm, fd, 0b1010011)
    if k == 4:
        return E.r_type(0b00101 << 2 | fmt, fs2, fs1, rng.randrange(2), fd, 0b1010011)
    if k == 5:
        return E.r_type(0b10100 << 2 | fmt, fs2, fs1, rng.randrange(3), _rd(rng), 0b1010011)
    if k == 6:
        if rng.random() < 0.3:
            return E.r_type(0b11100 << 2 | fmt, 0, fs1, 1, _rd(rng), 0b1010011)     # fclass
        return E.r_type(0b01000 << 2 | fmt, 1 - fmt, fs1, rm, fd, 0b1010011)         # fcvt.s.d/.d.s
    if k == 7:
        return E.r_type(0b11000 << 2 | fmt, rng.randrange(4), fs1, rm, _rd(rng), 0b1010011)
    if k == 8:
        return E.r_type(0b11010 << 2 | fmt, rng.randrange(4), _rs(rng), rm, fd, 0b1010011)
    return fs3 << 27 | fmt << 25 | fs2 << 20 | fs1 << 15 | rm << 12 | fd << 7 | 0b1000011 | rng.randrange(4) << 2
