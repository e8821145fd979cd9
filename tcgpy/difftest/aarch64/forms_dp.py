"""Random A64 data-processing encodings.

Every generator returns one random *allocated* encoding of its class, with
random registers (31 included where it means XZR or SP) and random fields.
Destinations are never the pointer registers (PTR_REGS) other classes use.
"""
from __future__ import annotations

import random

from .. import FORMS, Pos, form_class
from .conventions import PTR_REGS

ARCH = "aarch64"
DEST_REGS = tuple(r for r in range(32) if r not in PTR_REGS)


def _rd(rng: random.Random) -> int:
    return rng.choice(DEST_REGS)


def _rs(rng: random.Random) -> int:
    """A source register: any of x0..x30 or 31 (XZR/SP), biased toward 31."""
    return 31 if rng.random() < 0.1 else rng.randrange(31)


def _pack(*fields: tuple[int, int]) -> int:
    """Concatenate (value, width) fields, MSB first, into a 32-bit word."""
    word = width = 0
    for value, w in fields:
        assert 0 <= value < (1 << w), (value, w)
        word = (word << w) | value
        width += w
    assert width == 32, width
    return word


def _bits(rng: random.Random, n: int) -> int:
    return rng.getrandbits(n)


@form_class(ARCH, "addsub_imm")
def gen_addsub_imm(rng: random.Random, pos: Pos) -> int:
    """add/adds/sub/subs (immediate), incl. SP forms, cmp/cmn"""
    return _pack((_bits(rng, 1), 1), (_bits(rng, 1), 1), (_bits(rng, 1), 1), (0b100010, 6),
                 (_bits(rng, 1), 1), (_bits(rng, 12), 12), (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "addsub_shift")
def gen_addsub_shift(rng: random.Random, pos: Pos) -> int:
    """add/adds/sub/subs (shifted register) lsl/lsr/asr, neg/cmp aliases"""
    sf = _bits(rng, 1)
    return _pack((sf, 1), (_bits(rng, 2), 2), (0b01011, 5), (rng.randrange(3), 2), (0, 1),
                 (_rs(rng), 5), (rng.randrange(64 if sf else 32), 6), (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "addsub_ext")
def gen_addsub_ext(rng: random.Random, pos: Pos) -> int:
    """add/adds/sub/subs (extended register) uxtb..sxtx, shift 0-4, SP forms"""
    return _pack((_bits(rng, 3), 3), (0b01011001, 8), (_rs(rng), 5), (_bits(rng, 3), 3),
                 (rng.randrange(5), 3), (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "adc")
def gen_adc(rng: random.Random, pos: Pos) -> int:
    """adc/adcs/sbc/sbcs (ngc/ngcs aliases)"""
    return _pack((_bits(rng, 3), 3), (0b11010000, 8), (_rs(rng), 5), (0, 6),
                 (_rs(rng), 5), (_rd(rng), 5))


def _logic_imm_fields(rng: random.Random, sf: int) -> tuple[int, int, int]:
    """(n, immr, imms) of a valid bitmask immediate."""
    length = rng.randrange(1, 7 if sf else 6)        # element size 2**length
    esize = 1 << length
    s = rng.randrange(esize - 1)                       # s + 1 ones, never all ones
    r = rng.randrange(esize)
    n = 1 if length == 6 else 0
    # imms holds NOT(len) ones in its top bits, then s
    imms = ((~(esize * 2 - 1)) & 0x3F) | s if length < 6 else s
    immr = r | (_bits(rng, 6 - length) << length if rng.random() < 0.2 else 0)
    return n, immr, imms


@form_class(ARCH, "logic_imm")
def gen_logic_imm(rng: random.Random, pos: Pos) -> int:
    """and/orr/eor/ands (bitmask immediate), mov/tst aliases, SP destination"""
    sf = _bits(rng, 1)
    n, immr, imms = _logic_imm_fields(rng, sf)
    return _pack((sf, 1), (_bits(rng, 2), 2), (0b100100, 6), (n, 1), (immr, 6), (imms, 6),
                 (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "logic_shift")
def gen_logic_shift(rng: random.Random, pos: Pos) -> int:
    """and/bic/orr/orn/eor/eon/ands/bics (shifted register) lsl/lsr/asr/ror, mov/mvn/tst"""
    sf = _bits(rng, 1)
    return _pack((sf, 1), (_bits(rng, 2), 2), (0b01010, 5), (_bits(rng, 2), 2), (_bits(rng, 1), 1),
                 (_rs(rng), 5), (rng.randrange(64 if sf else 32), 6), (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "movw")
def gen_movw(rng: random.Random, pos: Pos) -> int:
    """movn/movz/movk, all hw positions"""
    sf = _bits(rng, 1)
    return _pack((sf, 1), (rng.choice((0, 2, 3)), 2), (0b100101, 6), (rng.randrange(4 if sf else 2), 2),
                 (_bits(rng, 16), 16), (_rd(rng), 5))


@form_class(ARCH, "adr")
def gen_adr(rng: random.Random, pos: Pos) -> int:
    """adr/adrp"""
    return _pack((_bits(rng, 1), 1), (_bits(rng, 2), 2), (0b10000, 5), (_bits(rng, 19), 19),
                 (_rd(rng), 5))


@form_class(ARCH, "bitfield")
def gen_bitfield(rng: random.Random, pos: Pos) -> int:
    """sbfm/bfm/ubfm: lsl/lsr/asr imm, sxt*/uxt*, sbfx/ubfx/sbfiz/ubfiz/bfi/bfxil"""
    sf = _bits(rng, 1)
    size = 64 if sf else 32
    return _pack((sf, 1), (rng.randrange(3), 2), (0b100110, 6), (sf, 1), (rng.randrange(size), 6),
                 (rng.randrange(size), 6), (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "extr")
def gen_extr(rng: random.Random, pos: Pos) -> int:
    """extr, ror (immediate) when rn == rm"""
    sf = _bits(rng, 1)
    rn = _rs(rng)
    rm = rn if rng.random() < 0.3 else _rs(rng)
    return _pack((sf, 1), (0b00100111, 8), (sf, 1), (0, 1), (rm, 5), (rng.randrange(64 if sf else 32), 6),
                 (rn, 5), (_rd(rng), 5))


@form_class(ARCH, "shift_reg")
def gen_shift_reg(rng: random.Random, pos: Pos) -> int:
    """lslv/lsrv/asrv/rorv"""
    return _pack((_bits(rng, 1), 1), (0b0011010110, 10), (_rs(rng), 5), (0b0010, 4), (_bits(rng, 2), 2),
                 (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "csel")
def gen_csel(rng: random.Random, pos: Pos) -> int:
    """csel/csinc/csinv/csneg (cset/csetm/cinc/cinv/cneg aliases)"""
    return _pack((_bits(rng, 1), 1), (_bits(rng, 1), 1), (0b011010100, 9), (_rs(rng), 5), (_bits(rng, 4), 4),
                 (0, 1), (_bits(rng, 1), 1), (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "ccmp")
def gen_ccmp(rng: random.Random, pos: Pos) -> int:
    """ccmn/ccmp, register and immediate"""
    return _pack((_bits(rng, 1), 1), (_bits(rng, 1), 1), (0b111010010, 9), (_bits(rng, 5), 5),
                 (_bits(rng, 4), 4), (_bits(rng, 1), 1), (0, 1), (_rs(rng), 5), (0, 1), (_bits(rng, 4), 4))


@form_class(ARCH, "mul")
def gen_mul(rng: random.Random, pos: Pos) -> int:
    """madd/msub, smaddl/smsubl/umaddl/umsubl, smulh/umulh"""
    kind = rng.randrange(3)
    if kind == 0:
        sf, u, op31 = _bits(rng, 1), 0, 0b00
    else:
        sf, u, op31 = 1, _bits(rng, 1), (0b01 if kind == 1 else 0b10)
    o0 = _bits(rng, 1) if kind != 2 else 0
    ra = _rs(rng) if kind != 2 else 31
    return _pack((sf, 1), (0b0011011, 7), (u, 1), (op31, 2), (_rs(rng), 5), (o0, 1), (ra, 5),
                 (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "div")
def gen_div(rng: random.Random, pos: Pos) -> int:
    """udiv/sdiv (operands often zero or -1: x31 is zero, small regs are small)"""
    return _pack((_bits(rng, 1), 1), (0b0011010110, 10), (_rs(rng), 5), (0b00001, 5), (_bits(rng, 1), 1),
                 (_rs(rng), 5), (_rd(rng), 5))


@form_class(ARCH, "bits1")
def gen_bits1(rng: random.Random, pos: Pos) -> int:
    """rbit/rev16/rev32/rev/clz/cls"""
    sf = _bits(rng, 1)
    opcode = rng.choice((0, 1, 2, 3, 4, 5) if sf else (0, 1, 2, 4, 5))
    return _pack((sf, 1), (0b1011010110, 10), (0, 5), (opcode, 6), (_rs(rng), 5), (_rd(rng), 5))


# The classes this module registers, in declaration order (tests iterate them).
DP_CLASSES: tuple[str, ...] = tuple(
    name for name, fc in FORMS[ARCH].items() if fc.gen.__module__ == __name__)
