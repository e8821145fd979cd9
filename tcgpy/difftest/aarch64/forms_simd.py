"""Random A64 FP/Advanced SIMD encodings.

Every generator returns one random *allocated* encoding of a form tcgpy
claims, with random vector registers and fields.  General-register
destinations are never the pointer registers (PTR_REGS) memory forms use;
memory forms use PTR_REGS or SP as their base, with offsets that stay in
the data page.  Half precision (FEAT_FP16) is not generated here: its
classes are in forms_fp16, run on Unicorn's "max" CPU (the default
Cortex-A72 has no FEAT_FP16).
"""
from __future__ import annotations

import random

from .. import Pos, form_class
from .conventions import PTR_REGS, SMALL_REGS

ARCH = "aarch64"
GPR_DEST = tuple(r for r in range(32) if r not in PTR_REGS)


def _pack(*fields: tuple[int, int]) -> int:
    word = width = 0
    for value, w in fields:
        assert 0 <= value < (1 << w), (value, w)
        word = (word << w) | value
        width += w
    assert width == 32, width
    return word


def _v(rng: random.Random) -> int:
    """A vector register; low ones more often so that sequences reuse results."""
    return rng.randrange(8) if rng.random() < 0.6 else rng.randrange(32)


def _x(rng: random.Random) -> int:
    return 31 if rng.random() < 0.1 else rng.randrange(31)


def _base(rng: random.Random) -> int:
    return 31 if rng.random() < 0.15 else rng.choice(PTR_REGS)


def _b(rng: random.Random, n: int) -> int:
    return rng.getrandbits(n)


# -- loads and stores ---------------------------------------------------------------

def _vscale(rng: random.Random) -> tuple[int, int, int]:
    """(size, opc high bit, log2 bytes) of a b/h/s/d/q access."""
    scale = rng.randrange(5)
    return (0, 1, 4) if scale == 4 else (scale, 0, scale)


@form_class(ARCH, "simd_ldst")
def gen_simd_ldst(rng: random.Random, pos: Pos) -> int:
    """ldr/str/ldur/stur b/h/s/d/q: unsigned offset, unscaled, pre/post-index, register, literal"""
    size, hi, scale = _vscale(rng)
    opc = hi << 1 | _b(rng, 1)
    kind = rng.randrange(5)
    if kind == 0:
        return _pack((size, 2), (0b111101, 6), (opc, 2), (rng.randrange(64), 12), (_base(rng), 5), (_v(rng), 5))
    if kind == 1:
        idx = rng.choice((0, 1, 3))
        return _pack((size, 2), (0b111100, 6), (opc, 2), (0, 1), (rng.randrange(-256, 256) & 0x1FF, 9),
                     (idx, 2), (_base(rng), 5), (_v(rng), 5))
    if kind == 2:
        option = rng.choice((2, 3, 6, 7))
        return _pack((size, 2), (0b111100, 6), (opc, 2), (1, 1), (rng.choice(SMALL_REGS), 5), (option, 3),
                     (_b(rng, 1), 1), (0b10, 2), (_base(rng), 5), (_v(rng), 5))
    if kind == 3:                       # ldr (literal): s/d/q from the code page
        return _pack((rng.randrange(3), 2), (0b011100, 6), (rng.randrange(-pos.index - 4, 8) & 0x7FFFF, 19),
                     (_v(rng), 5))
    # ldp/stp/ldnp/stnp s/d/q
    opc = rng.randrange(3)
    rt = _v(rng)
    rt2 = (rt + 1 + rng.randrange(31)) % 32
    return _pack((opc, 2), (0b1011, 4), (0, 1), (rng.randrange(4), 2), (_b(rng, 1), 1),
                 (rng.randrange(-16, 16) & 0x7F, 7), (rt2, 5), (_base(rng), 5), (rt, 5))


@form_class(ARCH, "simd_ld1st1")
def gen_simd_ld1st1(rng: random.Random, pos: Pos) -> int:
    """ld1/st1 (multiple structures, 1-4 registers), offset and post-index (imm/register)"""
    opcode = rng.choice((0b0111, 0b1010, 0b0110, 0b0010))
    q, L, size = _b(rng, 1), _b(rng, 1), _b(rng, 2)
    if rng.random() < 0.5:
        return _pack((0, 1), (q, 1), (0b0011000, 7), (L, 1), (0, 6), (opcode, 4), (size, 2),
                     (_base(rng), 5), (_v(rng), 5))
    rm = 31 if rng.random() < 0.6 else rng.choice(SMALL_REGS)
    return _pack((0, 1), (q, 1), (0b0011001, 7), (L, 1), (0, 1), (rm, 5), (opcode, 4), (size, 2),
                 (_base(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_ldst_struct")
def gen_simd_ldst_struct(rng: random.Random, pos: Pos) -> int:
    """ld2-ld4/st2-st4 (multiple), ld1-ld4/st1-st4 (single lane), ld1r-ld4r; offset and post-index"""
    q, L = _b(rng, 1), _b(rng, 1)
    post = _b(rng, 1)
    rm = 31 if rng.random() < 0.6 else rng.choice(SMALL_REGS)
    if rng.random() < 0.4:
        opcode = rng.choice((0b1000, 0b0100, 0b0000))
        size = rng.randrange(4 if q else 3)
        mid = (0b0011001, 7), (L, 1), (0, 1), (rm, 5)
        if not post:
            mid = (0b0011000, 7), (L, 1), (0, 6)
        return _pack((0, 1), (q, 1), *mid, (opcode, 4), (size, 2), (_base(rng), 5), (_v(rng), 5))
    kind = rng.randrange(5)
    R = _b(rng, 1)
    if kind == 4:                                            # ldNr
        L, opc, S, size = 1, 0b110 | _b(rng, 1), 0, _b(rng, 2)
    else:
        opc = (kind if kind < 3 else 2) << 1 | _b(rng, 1)
        S = _b(rng, 1)
        size = {0: _b(rng, 2), 1: _b(rng, 1) << 1, 2: 0, 3: 1}[kind]
        if kind == 3:
            S = 0
    head = ((0, 1), (q, 1), (0b0011011 if post else 0b0011010, 7), (L, 1), (R, 1),
            (rm if post else 0, 5))
    return _pack(*head, (opc, 3), (S, 1), (size, 2), (_base(rng), 5), (_v(rng), 5))


# -- scalar floating point -------------------------------------------------------------

def _ftype(rng):
    return _b(rng, 1)


@form_class(ARCH, "fp_arith")
def gen_fp_arith(rng: random.Random, pos: Pos) -> int:
    """fmul/fdiv/fadd/fsub/fmax/fmin/fmaxnm/fminnm/fnmul (s, d)"""
    return _pack((0b00011110, 8), (_ftype(rng), 2), (1, 1), (_v(rng), 5), (rng.randrange(9), 4),
                 (0b10, 2), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "fp_fma")
def gen_fp_fma(rng: random.Random, pos: Pos) -> int:
    """fmadd/fmsub/fnmadd/fnmsub (s, d)"""
    return _pack((0b00011111, 8), (_ftype(rng), 2), (_b(rng, 1), 1), (_v(rng), 5), (_b(rng, 1), 1),
                 (_v(rng), 5), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "fp_1src")
def gen_fp_1src(rng: random.Random, pos: Pos) -> int:
    """fmov/fabs/fneg/fsqrt, fcvt between h/s/d, frintn/p/m/z/a/x/i (s, d)"""
    if rng.random() < 0.2:                                  # fcvt to/from half (AHP from FPCR)
        ftype, opcode = rng.choice(((3, 4), (3, 5), (0, 7), (1, 7)))
        return _pack((0b00011110, 8), (ftype, 2), (1, 1), (opcode, 6), (0b10000, 5), (_v(rng), 5), (_v(rng), 5))
    ftype = _ftype(rng)
    opcode = rng.choice((0, 1, 2, 3, 4 + (ftype ^ 1), 8, 9, 10, 11, 12, 14, 15))
    return _pack((0b00011110, 8), (ftype, 2), (1, 1), (opcode, 6), (0b10000, 5), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "fp_cmp")
def gen_fp_cmp(rng: random.Random, pos: Pos) -> int:
    """fcmp/fcmpe (register and #0), fccmp/fccmpe, fcsel (s, d)"""
    ftype = _ftype(rng)
    k = rng.randrange(3)
    if k == 0:
        opc = _b(rng, 2)
        rm = 0 if opc & 1 else _v(rng)
        return _pack((0b00011110, 8), (ftype, 2), (1, 1), (rm, 5), (0b001000, 6), (_v(rng), 5), (opc, 2), (0, 3))
    if k == 1:
        return _pack((0b00011110, 8), (ftype, 2), (1, 1), (_v(rng), 5), (_b(rng, 4), 4), (0b01, 2),
                     (_v(rng), 5), (_b(rng, 1), 1), (_b(rng, 4), 4))
    return _pack((0b00011110, 8), (ftype, 2), (1, 1), (_v(rng), 5), (_b(rng, 4), 4), (0b11, 2),
                 (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "fp_cvt")
def gen_fp_cvt(rng: random.Random, pos: Pos) -> int:
    """scvtf/ucvtf and fcvt{n,p,m,z,a}{s,u} between s/d and w/x, incl. fixed point"""
    sf, ftype = _b(rng, 1), _ftype(rng)
    if rng.random() < 0.3:                                    # fixed point
        to_fp = _b(rng, 1)
        rmode, opcode = (0, 2 | _b(rng, 1)) if to_fp else (3, _b(rng, 1))
        scale = rng.randrange(32 if not sf else 1, 64) if sf else rng.randrange(32, 64)
        rd, rn = (_v(rng), _x(rng)) if to_fp else (rng.choice(GPR_DEST), _v(rng))
        return _pack((sf, 1), (0b0011110, 7), (ftype, 2), (0, 1), (rmode, 2), (opcode, 3), (scale, 6),
                     (rn, 5), (rd, 5))
    rmode, opcode = rng.choice([(0, 2), (0, 3)] + [(r, o) for r in range(4) for o in (0, 1)]
                               + [(0, 4), (0, 5)])
    to_fp = opcode in (2, 3)
    rd, rn = (_v(rng), _x(rng)) if to_fp else (rng.choice(GPR_DEST), _v(rng))
    return _pack((sf, 1), (0b0011110, 7), (ftype, 2), (1, 1), (rmode, 2), (opcode, 3), (0, 6), (rn, 5), (rd, 5))


@form_class(ARCH, "fp_mov")
def gen_fp_mov(rng: random.Random, pos: Pos) -> int:
    """fmov w<->s, x<->d, x<->v.d[1], fmov (immediate)"""
    if rng.random() < 0.3:
        return _pack((0b00011110, 8), (_ftype(rng), 2), (1, 1), (_b(rng, 8), 8), (0b100, 3), (0, 5), (_v(rng), 5))
    sf, ftype, rmode = rng.choice(((0, 0, 0), (1, 1, 0), (1, 2, 1)))
    to_fp = _b(rng, 1)
    rd, rn = (_v(rng), _x(rng)) if to_fp else (rng.choice(GPR_DEST), _v(rng))
    return _pack((sf, 1), (0b0011110, 7), (ftype, 2), (1, 1), (rmode, 2), (0b110 | to_fp, 3), (0, 6),
                 (rn, 5), (rd, 5))


# -- Advanced SIMD ------------------------------------------------------------------------

_INT3 = [(0, 0b10000, 15), (1, 0b10000, 15), (0, 0b10011, 7), (0, 0b00110, 15), (1, 0b00110, 15),
         (0, 0b00111, 15), (1, 0b00111, 15), (0, 0b10001, 15), (1, 0b10001, 15), (0, 0b01100, 7),
         (1, 0b01100, 7), (0, 0b01101, 7), (1, 0b01101, 7), (0, 0b10111, 15), (0, 0b10100, 7),
         (1, 0b10100, 7), (0, 0b10101, 7), (1, 0b10101, 7)]


def _3same(q, u, size, opcode, rng) -> int:
    return _pack((0, 1), (q, 1), (u, 1), (0b01110, 5), (size, 2), (1, 1), (_v(rng), 5), (opcode, 5),
                 (1, 1), (_v(rng), 5), (_v(rng), 5))


_INT3_MORE = [(u, op, sizes) for u in (0, 1) for op, sizes in (
    (0b00000, 7), (0b00010, 7), (0b00100, 7), (0b00001, 15), (0b00101, 15), (0b01000, 15), (0b01001, 15),
    (0b01010, 15), (0b01011, 15), (0b01110, 7), (0b01111, 7), (0b10010, 7), (0b10110, 6))] + [(1, 0b10011, 1)]


@form_class(ARCH, "simd_3same")
def gen_simd_3same(rng: random.Random, pos: Pos) -> int:
    """add/sub/mul, cmeq/cmge/cmgt/cmhi/cmhs/cmtst, smax/umax/smin/umin, addp/maxp/minp, logic/bsl/bit/bif"""
    q = _b(rng, 1)
    if rng.random() < 0.3:
        return _3same(q, _b(rng, 1), _b(rng, 2), 0b00011, rng)
    u, opcode, sizes = rng.choice(_INT3)
    size = rng.choice([s for s in range(4) if sizes >> s & 1 and (s < 3 or q)])
    return _3same(q, u, size, opcode, rng)


@form_class(ARCH, "simd_3same_more")
def gen_simd_3same_more(rng: random.Random, pos: Pos) -> int:
    """[su]hadd/[su]rhadd/[su]hsub, [su]qadd/[su]qsub, [su][q][r]shl, [su]abd/[su]aba, mla/mls, pmul, sq[r]dmulh"""
    q = _b(rng, 1)
    u, opcode, sizes = rng.choice(_INT3_MORE)
    size = rng.choice([s for s in range(4) if sizes >> s & 1 and (s < 3 or q)])
    return _3same(q, u, size, opcode, rng)


@form_class(ARCH, "simd_3diff")
def gen_simd_3diff(rng: random.Random, pos: Pos) -> int:
    """[su]addl/w, [su]subl/w, [r]addhn/[r]subhn, [su]abal/abdl, [su]mlal/mlsl, [su]mull, pmull (incl. '2')"""
    opcode = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14))
    u = 0 if opcode == 14 else _b(rng, 1)
    size = rng.choice((0, 3)) if opcode == 14 else rng.randrange(3)
    return _pack((0, 1), (_b(rng, 1), 1), (u, 1), (0b01110, 5), (size, 2), (1, 1), (_v(rng), 5), (opcode, 4),
                 (0, 2), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_fp2misc")
def gen_simd_fp2misc(rng: random.Random, pos: Pos) -> int:
    """vector fabs/fneg/fsqrt, frint*, fcvt[nmpaz][su], [su]cvtf, fcm{eq,ge,gt,le,lt} #0, fcvtl/fcvtn(2)"""
    u, hi, opcode = rng.choice([
        (0, 1, 0b01111), (1, 1, 0b01111), (1, 1, 0b11111), (0, 0, 0b11000), (0, 1, 0b11000),
        (0, 0, 0b11001), (0, 1, 0b11001), (1, 0, 0b11000), (1, 0, 0b11001), (1, 1, 0b11001),
        (0, 0, 0b11101), (1, 0, 0b11101), (0, 0, 0b11010), (1, 0, 0b11010), (0, 1, 0b11010),
        (1, 1, 0b11010), (0, 0, 0b11011), (1, 0, 0b11011), (0, 1, 0b11011), (1, 1, 0b11011),
        (0, 1, 0b11101), (1, 1, 0b11101),
        (0, 0, 0b11100), (1, 0, 0b11100), (0, 1, 0b01100), (1, 1, 0b01100), (0, 1, 0b01101),
        (1, 1, 0b01101), (0, 1, 0b01110), (0, 0, 0b10110), (0, 0, 0b10111)])
    q = _b(rng, 1)
    sz = _b(rng, 1) if opcode in (0b10110, 0b10111) else (_b(rng, 1) if q else 0)
    return _pack((0, 1), (q, 1), (u, 1), (0b01110, 5), (hi << 1 | sz, 2), (0b10000, 5), (opcode, 5), (0b10, 2),
                 (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_by_elem")
def gen_simd_by_elem(rng: random.Random, pos: Pos) -> int:
    """mul/mla/mls, [su]mlal/[su]mlsl/[su]mull(2), sq[r]dmulh, fmla/fmls/fmul by element (vector and scalar FP)"""
    q = _b(rng, 1)
    k = rng.random()
    if k < 0.35:                                             # FP
        scalar = rng.random() < 0.3
        sz = _b(rng, 1) if q or scalar else 0
        L = 0 if sz else _b(rng, 1)
        opcode = rng.choice((0b0001, 0b0101, 0b1001, 0b11001))
        u, opcode = opcode >> 4, opcode & 15
        if scalar:
            return _pack((0b01, 2), (u, 1), (0b11111, 5), (1, 1), (sz, 1), (L, 1), (_b(rng, 1), 1), (_b(rng, 4), 4), (opcode, 4),
                         (_b(rng, 1), 1), (0, 1), (_v(rng), 5), (_v(rng), 5))
        return _pack((0, 1), (q, 1), (u, 1), (0b01111, 5), (2 | sz, 2), (L, 1), (_b(rng, 1), 1), (_b(rng, 4), 4),
                     (opcode, 4), (_b(rng, 1), 1), (0, 1), (_v(rng), 5), (_v(rng), 5))
    u, opcode = rng.choice([(0, 0b1000), (1, 0b0000), (1, 0b0100), (0, 0b0010), (1, 0b0010), (0, 0b0110),
                            (1, 0b0110), (0, 0b1010), (1, 0b1010), (0, 0b1100), (0, 0b1101)])
    size = rng.choice((1, 2))
    return _pack((0, 1), (q, 1), (u, 1), (0b01111, 5), (size, 2), (_b(rng, 1), 1), (_b(rng, 1), 1), (_b(rng, 4), 4),
                 (opcode, 4), (_b(rng, 1), 1), (0, 1), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "crypto_sha")
def gen_crypto_sha(rng: random.Random, pos: Pos) -> int:
    """sha1c/sha1p/sha1m/sha1su0/sha1h/sha1su1, sha256h/sha256h2/sha256su0/sha256su1"""
    if _b(rng, 1):
        return _pack((0b01011110, 8), (0, 3), (_v(rng), 5), (0, 1), (rng.randrange(7), 3), (0, 2),
                     (_v(rng), 5), (_v(rng), 5))
    return _pack((0b01011110, 8), (0, 2), (0b10100, 5), (rng.randrange(3), 5), (0b10, 2), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "crypto_aes")
def gen_crypto_aes(rng: random.Random, pos: Pos) -> int:
    """aese/aesd/aesmc/aesimc"""
    return _pack((0b01001110, 8), (0, 2), (0b10100, 5), (0b0010 | _b(rng, 1), 4), (_b(rng, 1), 1), (0b10, 2),
                 (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_fp3same")
def gen_simd_fp3same(rng: random.Random, pos: Pos) -> int:
    """fadd/fsub/fmul/fdiv/fmax/fmin/fmaxnm/fminnm/fmla/fmls/fabd, pairwise, fcm*/fac* (vector .2s/.4s/.2d)"""
    u, hi, opcode = rng.choice([(0, 0, 0b11010), (0, 1, 0b11010), (1, 0, 0b11011), (1, 0, 0b11111),
                                (0, 0, 0b11110), (0, 1, 0b11110), (0, 0, 0b11000), (0, 1, 0b11000),
                                (0, 0, 0b11001), (0, 1, 0b11001), (1, 1, 0b11010), (1, 0, 0b11010),
                                (1, 0, 0b11110), (1, 1, 0b11110), (1, 0, 0b11000), (1, 1, 0b11000),
                                (0, 0, 0b11100), (1, 0, 0b11100), (1, 1, 0b11100), (1, 0, 0b11101),
                                (1, 1, 0b11101), (0, 0, 0b11011), (0, 0, 0b11111), (0, 1, 0b11111)])
    q = _b(rng, 1)
    sz = _b(rng, 1) if q else 0
    return _3same(q, u, hi << 1 | sz, opcode, rng)


@form_class(ARCH, "simd_2misc")
def gen_simd_2misc(rng: random.Random, pos: Pos) -> int:
    """cmeq/cmge/cmgt/cmle/cmlt #0, neg/abs, clz/cls, cnt, not, rbit, rev16/32/64, xtn(2), sq/uqxtn(2), sqxtun(2), [su]addlp, [su]adalp, sqabs/sqneg"""
    q = _b(rng, 1)
    u, opcode, sizes = rng.choice([(0, 0b01001, 15), (1, 0b01001, 15), (0, 0b01000, 15), (1, 0b01000, 15),
                                   (0, 0b01010, 15), (1, 0b01011, 15), (0, 0b01011, 15), (1, 0b00100, 7),
                                   (0, 0b00101, 1), (1, 0b00101, 1), (0, 0b00000, 7), (1, 0b00000, 3),
                                   (0, 0b00001, 1), (0, 0b10010, 7), (0, 0b10100, 7), (1, 0b10100, 7),
                                   (1, 0b10010, 7), (1, 0b00101, 2), (0, 0b00100, 7), (0, 0b00010, 7),
                                   (1, 0b00010, 7), (0, 0b00110, 7), (1, 0b00110, 7), (0, 0b00111, 15),
                                   (1, 0b00111, 15)])
    narrow = opcode in (0b10010, 0b10100)
    allowed = [s for s in range(4) if sizes >> s & 1 and (s < 3 or q) and not (narrow and s == 3)]
    return _pack((0, 1), (q, 1), (u, 1), (0b01110, 5), (rng.choice(allowed), 2), (0b10000, 5), (opcode, 5),
                 (0b10, 2), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_across")
def gen_simd_across(rng: random.Random, pos: Pos) -> int:
    """addv, smaxv/umaxv/sminv/uminv, saddlv/uaddlv; addp d (scalar)"""
    if rng.random() < 0.15:
        return _pack((0b01011110, 8), (0b11, 2), (0b11000, 5), (0b11011, 5), (0b10, 2), (_v(rng), 5), (_v(rng), 5))
    q = _b(rng, 1)
    u, opcode = rng.choice([(0, 0b11011), (0, 0b01010), (1, 0b01010), (0, 0b11010), (1, 0b11010),
                            (0, 0b00011), (1, 0b00011)])
    size = rng.randrange(3 if q else 2)
    return _pack((0, 1), (q, 1), (u, 1), (0b01110, 5), (size, 2), (0b11000, 5), (opcode, 5), (0b10, 2),
                 (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_copy")
def gen_simd_copy(rng: random.Random, pos: Pos) -> int:
    """dup (element, general), ins (element, general), umov/smov (mov w/x, v.t[i])"""
    esz = rng.randrange(4)
    index = rng.randrange(16 >> esz)
    imm5 = (index << (esz + 1)) | (1 << esz)
    k = rng.randrange(5)
    if k == 0:                                               # dup element
        q = 1 if esz == 3 else _b(rng, 1)
        return _pack((0, 1), (q, 1), (0, 1), (0b01110000, 8), (imm5, 5), (0, 1), (0, 4), (1, 1), (_v(rng), 5), (_v(rng), 5))
    if k == 1:                                               # dup general
        q = 1 if esz == 3 else _b(rng, 1)
        return _pack((0, 1), (q, 1), (0, 1), (0b01110000, 8), (imm5, 5), (0, 1), (1, 4), (1, 1), (_x(rng), 5), (_v(rng), 5))
    if k == 2:                                               # ins general
        return _pack((0, 1), (1, 1), (0, 1), (0b01110000, 8), (imm5, 5), (0, 1), (3, 4), (1, 1), (_x(rng), 5), (_v(rng), 5))
    if k == 3:                                               # ins element
        imm4 = rng.randrange(16 >> esz) << esz
        return _pack((0, 1), (1, 1), (1, 1), (0b01110000, 8), (imm5, 5), (0, 1), (imm4, 4), (1, 1), (_v(rng), 5), (_v(rng), 5))
    if _b(rng, 1) and esz < 3:                               # smov
        q = 1 if esz == 2 else _b(rng, 1)
        return _pack((0, 1), (q, 1), (0, 1), (0b01110000, 8), (imm5, 5), (0, 1), (5, 4), (1, 1), (_v(rng), 5),
                     (rng.choice(GPR_DEST), 5))
    return _pack((0, 1), (int(esz == 3), 1), (0, 1), (0b01110000, 8), (imm5, 5), (0, 1), (7, 4), (1, 1),
                 (_v(rng), 5), (rng.choice(GPR_DEST), 5))


@form_class(ARCH, "simd_modimm")
def gen_simd_modimm(rng: random.Random, pos: Pos) -> int:
    """movi/mvni/orr/bic (vector, immediate, all cmodes), movi d, fmov (vector, immediate)"""
    q, op, cmode = _b(rng, 1), _b(rng, 1), _b(rng, 4)
    if cmode == 0b1111 and op:
        q = 1
    return _pack((0, 1), (q, 1), (op, 1), (0b0111100000, 10), (_b(rng, 3), 3), (cmode, 4), (0, 1), (1, 1),
                 (_b(rng, 5), 5), (_v(rng), 5))


@form_class(ARCH, "simd_shift")
def gen_simd_shift(rng: random.Random, pos: Pos) -> int:
    """shl, [su]shr, [su]sra, [su]rshr, [su]rsra, sri/sli, sq/uqshl(u), [r]shrn(2), sq[r]shr[u]n(2), uq[r]shrn(2), [su]shll(2), [su]cvtf/fcvtz[su] fixed"""
    q = _b(rng, 1)
    u, opcode, wide_ok = rng.choice([(0, 0, True), (1, 0, True), (0, 0b01010, True), (0, 0b10000, False),
                                     (0, 0b10001, False), (0, 0b10100, False), (1, 0b10100, False), (0, 2, True), (1, 2, True),
                                     (0, 4, True), (1, 4, True), (0, 6, True), (1, 6, True), (1, 8, True),
                                     (1, 10, True), (0, 14, True), (1, 14, True), (1, 12, True),
                                     (0, 18, False), (0, 19, False), (1, 18, False), (1, 19, False),
                                     (1, 16, False), (1, 17, False), (0, 28, None), (1, 28, None),
                                     (0, 31, None), (1, 31, None)])
    if wide_ok is None:                               # FP fixed-point conversions: .2s/.4s/.2d
        esz = 2 + (_b(rng, 1) if q else 0)
    else:
        esz = rng.randrange(4 if wide_ok and q else 3)
    immhb = (1 << (esz + 3)) | rng.randrange(1 << (esz + 3))
    return _pack((0, 1), (q, 1), (u, 1), (0b011110, 6), (immhb >> 3, 4), (immhb & 7, 3), (opcode, 5), (1, 1),
                 (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_perm")
def gen_simd_perm(rng: random.Random, pos: Pos) -> int:
    """ext, zip1/zip2/uzp1/uzp2/trn1/trn2, tbl/tbx (1-4 registers)"""
    q = _b(rng, 1)
    k = rng.randrange(3)
    if k == 0:
        return _pack((0, 1), (q, 1), (0b101110000, 9), (_v(rng), 5), (0, 1), (rng.randrange(16 if q else 8), 4),
                     (0, 1), (_v(rng), 5), (_v(rng), 5))
    if k == 1:
        size = rng.randrange(4 if q else 3)
        return _pack((0, 1), (q, 1), (0b001110, 6), (size, 2), (0, 1), (_v(rng), 5), (0, 1),
                     (rng.choice((1, 2, 3, 5, 6, 7)), 3), (0b10, 2), (_v(rng), 5), (_v(rng), 5))
    return _pack((0, 1), (q, 1), (0b001110000, 9), (_v(rng), 5), (0, 1), (_b(rng, 2), 2), (_b(rng, 1), 1),
                 (0, 2), (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_scalar")
def gen_simd_scalar(rng: random.Random, pos: Pos) -> int:
    """scalar add/sub/cmeq/cmge/cmgt/cmhi/cmhs/cmtst d, and the compare-with-zero/neg/abs d forms"""
    if _b(rng, 1):
        u, opcode = rng.choice([(0, 0b10000), (1, 0b10000), (0, 0b00110), (1, 0b00110), (0, 0b00111),
                                (1, 0b00111), (0, 0b10001), (1, 0b10001)])
        return _pack((0b01, 2), (u, 1), (0b11110, 5), (0b11, 2), (1, 1), (_v(rng), 5), (opcode, 5), (1, 1),
                     (_v(rng), 5), (_v(rng), 5))
    u, opcode = rng.choice([(0, 0b01001), (1, 0b01001), (0, 0b01000), (1, 0b01000), (0, 0b01010),
                            (0, 0b01011), (1, 0b01011)])
    return _pack((0b01, 2), (u, 1), (0b11110, 5), (0b11, 2), (0b10000, 5), (opcode, 5), (0b10, 2),
                 (_v(rng), 5), (_v(rng), 5))


@form_class(ARCH, "simd_scalar_more")
def gen_simd_scalar_more(rng: random.Random, pos: Pos) -> int:
    """scalar sq/uqadd/sub, [su][q][r]shl, sq[r]dmulh, sqabs/sqneg, sq/uqxtn, sqxtun, fabd, fcm*/fac*,
    fcm* #0, fcvt*/[su]cvtf, shifts by immediate (d), sq/uqshl(u) #imm, fixed-point cvt, faddp/fmaxp/...,
    mov b/h/s/d, v.t[i]; fmaxv/fminv/fmaxnmv/fminnmv"""
    k = rng.randrange(8)
    rd, rn = _v(rng), _v(rng)
    if k == 0:
        u, opcode, sizes = rng.choice([(u, op, sz) for u in (0, 1) for op, sz in
                                       ((0b00001, 15), (0b00101, 15), (0b01001, 15), (0b01011, 15),
                                        (0b01000, 8), (0b01010, 8))] + [(0, 0b10110, 6), (1, 0b10110, 6)])
        size = rng.choice([s_ for s_ in range(4) if sizes >> s_ & 1])
        return _pack((0b01, 2), (u, 1), (0b11110, 5), (size, 2), (1, 1), (_v(rng), 5), (opcode, 5), (1, 1), (rn, 5), (rd, 5))
    if k == 1:
        u, hi, opcode = rng.choice([(1, 1, 0b11010), (0, 0, 0b11100), (1, 0, 0b11100), (1, 1, 0b11100),
                                    (1, 0, 0b11101), (1, 1, 0b11101), (0, 0, 0b11011), (0, 0, 0b11111),
                                    (0, 1, 0b11111)])
        return _pack((0b01, 2), (u, 1), (0b11110, 5), (hi << 1 | _b(rng, 1), 2), (1, 1), (_v(rng), 5), (opcode, 5),
                     (1, 1), (rn, 5), (rd, 5))
    if k == 2:
        u, opcode, fpk = rng.choice([(0, 0b00111, 0), (1, 0b00111, 0), (0, 0b10100, 1), (1, 0b10100, 1),
                                     (1, 0b10010, 1), (0, 0b01100, 2), (1, 0b01100, 2), (0, 0b01101, 2),
                                     (1, 0b01101, 2), (0, 0b01110, 2), (0, 0b11101, 3), (1, 0b11101, 3),
                                     (0, 0b11010, 4), (1, 0b11011, 4), (0, 0b11100, 3), (0, 0b11101, 2),
                                     (1, 0b11101, 2), (0, 0b11011, 4), (1, 0b11010, 4), (1, 0b11100, 3)])
        size = (rng.randrange(4), rng.randrange(3), 2 | _b(rng, 1), _b(rng, 1), rng.randrange(4))[fpk]
        return _pack((0b01, 2), (u, 1), (0b11110, 5), (size, 2), (0b10000, 5), (opcode, 5), (0b10, 2), (rn, 5), (rd, 5))
    if k == 3:
        u, opcode = rng.choice([(0, 0), (1, 0), (0, 2), (1, 2), (0, 4), (1, 4), (0, 6), (1, 6), (0, 10),
                                (1, 8), (1, 10)])
        immhb = 64 | rng.randrange(64)
        return _pack((0b01, 2), (u, 1), (0b111110, 6), (immhb >> 3, 4), (immhb & 7, 3), (opcode, 5), (1, 1), (rn, 5), (rd, 5))
    if k == 4:
        u, opcode = rng.choice([(0, 0b01110), (1, 0b01110), (1, 0b01100), (0, 0b11100), (1, 0b11100),
                                (0, 0b11111), (1, 0b11111)])
        esz = rng.randrange(4) if opcode < 0b11100 else 2 + _b(rng, 1)
        immhb = (1 << (esz + 3)) | rng.randrange(1 << (esz + 3))
        return _pack((0b01, 2), (u, 1), (0b111110, 6), (immhb >> 3, 4), (immhb & 7, 3), (opcode, 5), (1, 1), (rn, 5), (rd, 5))
    if k == 5:
        opcode, hi = rng.choice([(0b01100, 0), (0b01100, 1), (0b01111, 0), (0b01111, 1), (0b01101, 0)])
        return _pack((0b01111110, 8), (hi << 1 | _b(rng, 1), 2), (0b11000, 5), (opcode, 5), (0b10, 2), (rn, 5), (rd, 5))
    if k == 6:
        esz = rng.randrange(4)
        imm5 = (rng.randrange(16 >> esz) << (esz + 1)) | (1 << esz)
        return _pack((0b01011110000, 11), (imm5, 5), (0, 1), (0, 4), (1, 1), (rn, 5), (rd, 5))
    opcode, hi = rng.choice([(0b01100, 0), (0b01100, 1), (0b01111, 0), (0b01111, 1)])
    return _pack((0b01101110, 8), (hi, 1), (0, 1), (0b11000, 5), (opcode, 5), (0b10, 2), (rn, 5), (rd, 5))


# -- saturating doubling multiplies, narrowing shifts and the other late forms -----------------
# Saturation happens only at the edges (0x8000 * 0x8000, an accumulator near
# INT_MAX, a lane just past the narrow range), which random bits rarely hit.
# So a fifth to a third of these classes' words are set-up instructions that put edge
# values into v0 (halfword lanes), v1 (word lanes) or v2 (bytes, doublewords),
# and their forms read the register of their lane size most of the time.

# lane size -> (op, cmode, imm8) of movi/mvni: 0x8000, 0x7fff, -1 in halfwords;
# 0x80000000, 0x7fffffff, -1, 1 in words; 0x80 in bytes, zero.  The minimum
# twice as often: only INT_MIN * INT_MIN saturates sqdmull/sqdmulh.
_EDGE_MODIMM = {
    1: ((0, 0b1010, 0x80), (0, 0b1010, 0x80), (1, 0b1010, 0x80), (1, 0b1000, 0)),
    2: ((0, 0b0110, 0x80), (0, 0b0110, 0x80), (1, 0b0110, 0x80), (1, 0b0000, 0), (0, 0b0000, 1)),
    0: ((0, 0b1110, 0x80), (0, 0b1110, 0)),
}
_EDGE_REG = (2, 0, 1, 2)          # by lane size


def _edge_setup(rng: random.Random) -> int:
    """movi/mvni of an edge pattern, or dup/ins of a general register (edge
    values often, tcgpy.difftest.EDGE_VALUES), into the register of
    its lane size."""
    esz = rng.choice((0, 1, 1, 2, 2, 3))
    rd = _EDGE_REG[esz]
    k = rng.random()
    if k < 0.6 and esz < 3:
        op, cmode, imm8 = rng.choice(_EDGE_MODIMM[esz])
        return _pack((0, 1), (1, 1), (op, 1), (0b0111100000, 10), (imm8 >> 5, 3), (cmode, 4), (0, 1), (1, 1),
                     (imm8 & 31, 5), (rd, 5))
    if k < 0.8:                                              # dup vd.t, rn
        return _pack((0, 1), (1, 1), (0, 1), (0b01110000, 8), (1 << esz, 5), (0, 1), (1, 4), (1, 1), (_x(rng), 5),
                     (rd, 5))
    imm5 = (rng.randrange(16 >> esz) << (esz + 1)) | (1 << esz)    # ins vd.t[i], rn
    return _pack((0, 1), (1, 1), (0, 1), (0b01110000, 8), (imm5, 5), (0, 1), (3, 4), (1, 1), (_x(rng), 5), (rd, 5))


def _vs(rng: random.Random, esz: int) -> int:
    """A source or accumulator register: the edge register of lane size esz
    most of the time."""
    return _EDGE_REG[esz] if rng.random() < 0.7 else _v(rng)


# (U, opcode) of the by-element sqdmlal, sqdmlsl, sqdmull, sqdmulh, sqrdmulh
_QDMUL_ELEM = ((0, 0b0011), (0, 0b0111), (0, 0b1011), (0, 0b1100), (0, 0b1101))


@form_class(ARCH, "simd_qdmull")
def gen_simd_qdmull(rng: random.Random, pos: Pos) -> int:
    """sqdmull/sqdmlal/sqdmlsl(2) and sqdmulh/sqrdmulh (vector, scalar, by element, scalar by
    element); with movi/dup/ins of saturation edges"""
    if rng.random() < 0.3:
        return _edge_setup(rng)
    size = rng.choice((1, 2))
    rn, rd = _vs(rng, size), _vs(rng, size + 1)
    rm = rn if rng.random() < 0.5 else _vs(rng, size)
    k = rng.randrange(5)
    if k == 4:                                               # sqdmulh, sqrdmulh: vector or scalar
        head = ((0, 1), (_b(rng, 1), 1)) if _b(rng, 1) else ((0b01, 2),)
        return _pack(*head, (_b(rng, 1), 1), (0b01110 if len(head) == 2 else 0b11110, 5), (size, 2), (1, 1), (rm, 5),
                     (0b10110, 5), (1, 1), (rn, 5), (rd, 5))
    if k < 2:                                                # three different: vector (k 0), scalar (k 1)
        opcode = rng.choice((0b1001, 0b1011, 0b1101))
        head = ((0, 1), (_b(rng, 1), 1), (0, 1), (0b01110, 5)) if k == 0 else ((0b01, 2), (0, 1), (0b11110, 5))
        return _pack(*head, (size, 2), (1, 1), (rm, 5), (opcode, 4), (0, 2), (rn, 5), (rd, 5))
    u, opcode = rng.choice(_QDMUL_ELEM)
    if size == 1:                                            # v0..v15, index H:L:M
        rm &= 15
        h, l, m = _b(rng, 1), _b(rng, 1), _b(rng, 1)
    else:                                                    # v0..v31, index H:L
        h, l, m = _b(rng, 1), _b(rng, 1), rm >> 4
    head = ((0, 1), (_b(rng, 1), 1), (u, 1), (0b01111, 5)) if k == 2 else ((0b01, 2), (u, 1), (0b11111, 5))
    return _pack(*head, (size, 2), (l, 1), (m, 1), (rm & 15, 4), (opcode, 4), (h, 1), (0, 1), (rn, 5), (rd, 5))


@form_class(ARCH, "simd_rdm", unicorn_cpu="max")
def gen_simd_rdm(rng: random.Random, pos: Pos) -> int:
    """FEAT_RDM sqrdmlah/sqrdmlsh (vector, scalar, by element, scalar by element; Unicorn's max
    model: its Cortex-A72 lacks them); with movi/dup/ins of saturation edges"""
    if rng.random() < 0.3:
        return _edge_setup(rng)
    size = rng.choice((1, 2))
    rn, rd = _vs(rng, size), _vs(rng, size)
    rm = rn if rng.random() < 0.5 else _vs(rng, size)
    k = rng.randrange(4)
    if k < 2:                                                # three same extra: vector (k 0), scalar (k 1)
        head = ((0, 1), (_b(rng, 1), 1), (1, 1), (0b01110, 5)) if k == 0 else ((0b01, 2), (1, 1), (0b11110, 5))
        return _pack(*head, (size, 2), (0, 1), (rm, 5), (0b10000 | _b(rng, 1), 5), (1, 1), (rn, 5), (rd, 5))
    if size == 1:                                            # v0..v15, index H:L:M
        rm &= 15
        h, l, m = _b(rng, 1), _b(rng, 1), _b(rng, 1)
    else:                                                    # v0..v31, index H:L
        h, l, m = _b(rng, 1), _b(rng, 1), rm >> 4
    head = ((0, 1), (_b(rng, 1), 1), (1, 1), (0b01111, 5)) if k == 2 else ((0b01, 2), (1, 1), (0b11111, 5))
    return _pack(*head, (size, 2), (l, 1), (m, 1), (rm & 15, 4), (0b1101 | _b(rng, 1) << 1, 4), (h, 1), (0, 1),
                 (rn, 5), (rd, 5))


# (U, opcode) of the saturating narrowing shifts: sqshrn, sqrshrn, uqshrn, uqrshrn, sqshrun, sqrshrun
_QSHRN = ((0, 0b10010), (0, 0b10011), (1, 0b10010), (1, 0b10011), (1, 0b10000), (1, 0b10001))


@form_class(ARCH, "simd_misc_more")
def gen_simd_misc_more(rng: random.Random, pos: Pos) -> int:
    """fcvtxn(2) (vector, scalar), frecpx, urecpe/ursqrte, suqadd/usqadd (vector, scalar), shll(2),
    sq[r]shr[u]n/uq[r]shrn and sqxtn/uqxtn/sqxtun (scalar); with movi/dup/ins of saturation edges"""
    if rng.random() < 0.2:
        return _edge_setup(rng)
    q = _b(rng, 1)
    k = rng.randrange(9)
    if k < 3:                                                # FP and estimates: no integer edges
        rd, rn = _v(rng), _v(rng)
        if k == 0:                                           # fcvtxn, fcvtxn2
            return _pack((0, 1), (q, 1), (1, 1), (0b01110, 5), (0b01, 2), (0b10000, 5), (0b10110, 5), (0b10, 2),
                         (rn, 5), (rd, 5))
        if k == 1 and _b(rng, 1):                            # fcvtxn (scalar)
            return _pack((0b01, 2), (1, 1), (0b11110, 5), (0b01, 2), (0b10000, 5), (0b10110, 5), (0b10, 2), (rn, 5),
                         (rd, 5))
        if k == 1:                                           # frecpx
            return _pack((0b01, 2), (0, 1), (0b11110, 5), (0b10 | _b(rng, 1), 2), (0b10000, 5), (0b11111, 5), (0b10, 2),
                         (rn, 5), (rd, 5))
        return _pack((0, 1), (q, 1), (_b(rng, 1), 1), (0b01110, 5), (0b10, 2), (0b10000, 5), (0b11100, 5), (0b10, 2),
                     (rn, 5), (rd, 5))                       # urecpe, ursqrte
    if k < 5:                                                # suqadd, usqadd: vector (k 3), scalar (k 4)
        size = rng.randrange(4 if q or k == 4 else 3)
        head = ((0, 1), (q, 1), (_b(rng, 1), 1), (0b01110, 5)) if k == 3 else ((0b01, 2), (_b(rng, 1), 1), (0b11110, 5))
        return _pack(*head, (size, 2), (0b10000, 5), (0b00011, 5), (0b10, 2), (_vs(rng, size), 5), (_vs(rng, size), 5))
    size = rng.randrange(3)
    rd, rn = _v(rng), _vs(rng, size + 1)
    if k == 5:                                               # shll, shll2
        return _pack((0, 1), (q, 1), (1, 1), (0b01110, 5), (size, 2), (0b10000, 5), (0b10011, 5), (0b10, 2),
                     (_vs(rng, size), 5), (rd, 5))
    if k == 6:                                               # sqxtn, uqxtn, sqxtun (scalar)
        u, opcode = rng.choice(((0, 0b10100), (1, 0b10100), (1, 0b10010)))
        return _pack((0b01, 2), (u, 1), (0b11110, 5), (size, 2), (0b10000, 5), (opcode, 5), (0b10, 2), (rn, 5), (rd, 5))
    # narrowing shifts by immediate (scalar), shifts by 1 and by the whole lane often
    u, opcode = rng.choice(_QSHRN)
    bits = 8 << size
    shift = rng.choice((1, bits, rng.randrange(1, bits + 1)))
    immhb = 2 * bits - shift
    return _pack((0b01, 2), (u, 1), (0b111110, 6), (immhb >> 3, 4), (immhb & 7, 3), (opcode, 5), (1, 1), (rn, 5),
                 (rd, 5))


@form_class(ARCH, "crc32")
def gen_crc32(rng: random.Random, pos: Pos) -> int:
    """crc32b/h/w/x, crc32cb/ch/cw/cx"""
    sz = rng.randrange(4)
    return _pack((int(sz == 3), 1), (0b0011010110, 10), (_x(rng), 5), (0b010, 3), (_b(rng, 1), 1), (sz, 2),
                 (_x(rng), 5), (rng.choice(GPR_DEST), 5))


SIMD_CLASSES = ("simd_ldst", "simd_ld1st1", "simd_ldst_struct", "fp_arith", "fp_fma", "fp_1src", "fp_cmp", "fp_cvt", "fp_mov",
                "simd_3same", "simd_3same_more", "simd_3diff", "simd_by_elem", "simd_fp3same", "simd_2misc", "simd_fp2misc",
                "simd_across", "simd_copy", "simd_modimm", "simd_shift", "simd_perm", "simd_scalar", "simd_scalar_more",
                "simd_qdmull", "simd_misc_more", "crc32", "crypto_aes", "crypto_sha")
