"""Random A64 half-precision encodings (FEAT_FP16).

Unicorn's default Cortex-A72 has no FEAT_FP16: these classes run on its
"max" model.  Start vectors are doubles, singles, halves or bytes
(tcgpy.difftest.fpvalues), so half-precision infinities and signalling
NaNs are still rare, and FPCR starts with FZ16 clear.  So words of every
class are set-up words (the first two of a sequence more often than not,
later ones seldom): a movi/mvni of a half special value (signed zeros and
infinities, quiet and signalling NaNs, denormals, the normal extremes,
integer conversion edges) into v0 or v1, which the forms read most often;
a movz of random FPCR bits (FZ16 half of the time, AHP, DN, FZ, rounding
mode) into x17; or an msr fpcr from x17 or a random register.  The class
fp16_fz16 starts every sequence by setting FZ16.

In a campaign of all FP16 classes, 4 words a case, about 8% of cases meet
a half infinity, 9% a signalling NaN, 24% a quiet NaN, 31% a denormal and
12% run FP16 operations under FZ16 (measured by counting fp.unpack calls).
"""
from __future__ import annotations

import random

from .. import (CODE_BASE, DATA_BASE, DATA_SIZE, END, KnownDifference, Outcome, Pos, case_cpu,
                case_emulator, compare, diff_arch, form_class, tcgpy_event)
from .forms_simd import GPR_DEST, _b, _pack, _v, _x

ARCH = "aarch64"
CPU = "max"
H = 3                       # ftype of half precision

# (cmode, imm8) of 16-bit movi (lane = imm8 << 8 for cmode 1010, imm8 for
# 1000) and mvni (the complement): the half values named beside them.
HALF_EDGES = (
    (0b1010, 0x7C),     # movi: +inf          mvni: 0x83ff, -largest denormal
    (0b1010, 0xFC),     # -inf                      0x03ff, largest denormal
    (0b1010, 0x7E),     # default qNaN              0x81ff
    (0b1010, 0x7D),     # sNaN                      0x82ff
    (0b1010, 0xFD),     # -sNaN                     0x02ff
    (0b1010, 0x04),     # smallest normal           0xfbff, -largest normal
    (0b1010, 0x7B),     # 61440, near the top       0x84ff, -smallest normal (+-)
    (0b1010, 0x80),     # -0                        0x7fff, qNaN with payload
    (0b1010, 0x3C),     # 1.0                       0xc3ff
    (0b1010, 0x38),     # 0.5 (ties)                0xc7ff
    (0b1010, 0x78),     # 32768 (int16 edge)        0x87ff
    (0b1010, 0x00),     # +0                        0xffff, -qNaN
    (0b1000, 0x01),     # smallest denormal         0xfffe
    (0b1000, 0xFF),     # a denormal                0xff00, -qNaN
    (0b1000, 0x00),     # +0                        0xffff
    # infinities and signalling NaNs again: the start values seldom have them
    (0b1010, 0x7C), (0b1010, 0xFC), (0b1010, 0x7D), (0b1010, 0xFD),
    (0b1010, 0x7C), (0b1010, 0xFC), (0b1010, 0x7D), (0b1010, 0xFD),
)


FPCR_STAGE = 17             # the general register msr fpcr set-up words read half of the time


def _setup(rng: random.Random) -> int:
    """movi/mvni v0/v1 .4h/.8h of a half edge value, movz x17 of FPCR bits,
    or msr fpcr, x17 / xN."""
    k = rng.random()
    if k < 0.2:
        # FPCR[31:16]: AHP DN FZ RMode (26..22) and FZ16 (19)
        bits = rng.getrandbits(5) << 6 | (8 if rng.random() < 0.5 else 0)
        return _pack((0b110100101, 9), (1, 2), (bits, 16), (FPCR_STAGE, 5))
    if k < 0.45:
        return _pack((0xD51B4400 >> 5, 27), (FPCR_STAGE if rng.random() < 0.5 else _x(rng), 5))
    cmode, imm8 = rng.choice(HALF_EDGES)
    mvni = int(rng.random() < 0.3)
    return _pack((0, 1), (_b(rng, 1), 1), (mvni, 1), (0b0111100000, 10), (imm8 >> 5, 3),
                 (cmode, 4), (0, 1), (1, 1), (imm8 & 31, 5), (rng.randrange(2), 5))


def _vs(rng: random.Random) -> int:
    """A source register: the edge-holding v0/v1 most of the time."""
    return rng.randrange(2) if rng.random() < 0.65 else _v(rng)


# the generators of the FP16 classes, set-up words included (fp16_fz16 draws from them)
DRAWS: list = []


def fp16_class(name: str):
    """A form class on Unicorn's max model whose first two words are set-up
    words more often than not, later ones seldom."""
    def register(gen):
        def draw(rng: random.Random, pos: Pos) -> int:
            # early set-up words reach more of the sequence
            return _setup(rng) if rng.random() < (0.6 if pos.index < 2 else 0.15) else gen(rng, pos)
        draw.__doc__ = gen.__doc__
        form_class(ARCH, name, unicorn_cpu=CPU)(draw)
        DRAWS.append(draw)
        return gen
    return register


# -- scalar (FP data processing on h registers) ----------------------------------------------

@fp16_class("fp16_arith")
def gen_fp16_arith(rng: random.Random, pos: Pos) -> int:
    """fmul/fdiv/fadd/fsub/fmax/fmin/fmaxnm/fminnm/fnmul, fmadd/fmsub/fnmadd/fnmsub (h)"""
    if rng.random() < 0.6:
        return _pack((0b00011110, 8), (H, 2), (1, 1), (_vs(rng), 5), (rng.randrange(9), 4),
                     (0b10, 2), (_vs(rng), 5), (_v(rng), 5))
    return _pack((0b00011111, 8), (H, 2), (_b(rng, 1), 1), (_vs(rng), 5), (_b(rng, 1), 1),
                 (_vs(rng), 5), (_vs(rng), 5), (_v(rng), 5))


@fp16_class("fp16_1src")
def gen_fp16_1src(rng: random.Random, pos: Pos) -> int:
    """fmov/fabs/fneg/fsqrt, frintn/p/m/z/a/x/i, fcvt to s/d (h)"""
    opcode = rng.choice((0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 14, 15))
    return _pack((0b00011110, 8), (H, 2), (1, 1), (opcode, 6), (0b10000, 5), (_vs(rng), 5), (_v(rng), 5))


@fp16_class("fp16_cmp")
def gen_fp16_cmp(rng: random.Random, pos: Pos) -> int:
    """fcmp/fcmpe (register and #0), fccmp/fccmpe, fcsel (h)"""
    k = rng.randrange(3)
    if k == 0:
        opc = _b(rng, 2)
        rm = 0 if opc & 1 else _vs(rng)
        return _pack((0b00011110, 8), (H, 2), (1, 1), (rm, 5), (0b001000, 6), (_vs(rng), 5), (opc, 2), (0, 3))
    if k == 1:
        return _pack((0b00011110, 8), (H, 2), (1, 1), (_vs(rng), 5), (_b(rng, 4), 4), (0b01, 2),
                     (_vs(rng), 5), (_b(rng, 1), 1), (_b(rng, 4), 4))
    return _pack((0b00011110, 8), (H, 2), (1, 1), (_vs(rng), 5), (_b(rng, 4), 4), (0b11, 2),
                 (_vs(rng), 5), (_v(rng), 5))


@fp16_class("fp16_cvt")
def gen_fp16_cvt(rng: random.Random, pos: Pos) -> int:
    """scvtf/ucvtf and fcvt{n,p,m,z,a}{s,u} between h and w/x, incl. fixed point"""
    sf = _b(rng, 1)
    if rng.random() < 0.3:                                    # fixed point
        to_fp = _b(rng, 1)
        rmode, opcode = (0, 2 | _b(rng, 1)) if to_fp else (3, _b(rng, 1))
        scale = rng.randrange(0 if sf else 32, 64)
        rd, rn = (_v(rng), _x(rng)) if to_fp else (rng.choice(GPR_DEST), _vs(rng))
        return _pack((sf, 1), (0b0011110, 7), (H, 2), (0, 1), (rmode, 2), (opcode, 3), (scale, 6),
                     (rn, 5), (rd, 5))
    rmode, opcode = rng.choice([(0, 2), (0, 3)] + [(r, o) for r in range(4) for o in (0, 1)]
                               + [(0, 4), (0, 5)])
    to_fp = opcode in (2, 3)
    rd, rn = (_v(rng), _x(rng)) if to_fp else (rng.choice(GPR_DEST), _vs(rng))
    return _pack((sf, 1), (0b0011110, 7), (H, 2), (1, 1), (rmode, 2), (opcode, 3), (0, 6), (rn, 5), (rd, 5))


@fp16_class("fp16_mov")
def gen_fp16_mov(rng: random.Random, pos: Pos) -> int:
    """fmov h<->w, h<->x, fmov (immediate) h, fmov (vector, immediate) .4h/.8h"""
    k = rng.random()
    if k < 0.25:
        return _pack((0b00011110, 8), (H, 2), (1, 1), (_b(rng, 8), 8), (0b100, 3), (0, 5), (_v(rng), 5))
    if k < 0.4:
        return _pack((0, 1), (_b(rng, 1), 1), (0, 1), (0b0111100000, 10), (_b(rng, 3), 3), (0b1111, 4),
                     (1, 1), (1, 1), (_b(rng, 5), 5), (_v(rng), 5))
    to_fp = _b(rng, 1)
    rd, rn = (_v(rng), _x(rng)) if to_fp else (rng.choice(GPR_DEST), _vs(rng))
    return _pack((_b(rng, 1), 1), (0b0011110, 7), (H, 2), (1, 1), (0, 2), (0b110 | to_fp, 3), (0, 6),
                 (rn, 5), (rd, 5))


# -- Advanced SIMD ----------------------------------------------------------------------------

# (U, a, opcode) of the FP16 three-same forms
THREE_SAME = tuple((u, a, o) for u, a, ops in (
    (0, 0, (0, 1, 2, 3, 4, 6, 7)), (0, 1, (0, 1, 2, 6, 7)),
    (1, 0, (0, 2, 3, 4, 5, 6, 7)), (1, 1, (0, 2, 4, 5, 6))) for o in ops)
SCALAR_THREE_SAME = ((0, 0, 3), (0, 0, 4), (0, 0, 7), (0, 1, 7), (1, 0, 4), (1, 0, 5), (1, 1, 2),
                     (1, 1, 4), (1, 1, 5))
# (U, a, opcode) of the FP16 two-register misc forms (vector; scalar: the
# conversions, estimates, compares with zero and frecpx)
_CVT = tuple((u, a, o) for u in (0, 1) for a, o in ((0, 0b11010), (0, 0b11011), (0, 0b11100),
                                                    (1, 0b11010), (1, 0b11011), (0, 0b11101)))
_CMP0 = ((0, 1, 0b01100), (0, 1, 0b01101), (0, 1, 0b01110), (1, 1, 0b01100), (1, 1, 0b01101))
TWO_MISC = _CVT + _CMP0 + (
    (0, 1, 0b01111), (1, 1, 0b01111), (1, 1, 0b11111), (0, 1, 0b11101), (1, 1, 0b11101),
    (0, 0, 0b11000), (0, 0, 0b11001), (0, 1, 0b11000), (0, 1, 0b11001), (1, 0, 0b11000),
    (1, 0, 0b11001), (1, 1, 0b11001))
SCALAR_TWO_MISC = _CVT + _CMP0 + ((0, 1, 0b11101), (1, 1, 0b11101), (0, 1, 0b11111))
# (a, opcode) of the scalar pairwise forms; across lanes: opcodes 01100, 01111
PAIRWISE = ((0, 0b01100), (0, 0b01101), (0, 0b01111), (1, 0b01100), (1, 0b01111))


def _3same(rng, scalar: bool) -> int:
    u, a, o = rng.choice(SCALAR_THREE_SAME if scalar else THREE_SAME)
    return _pack((0, 1), (1 if scalar else _b(rng, 1), 1), (u, 1), (0b11110 if scalar else 0b01110, 5), (a, 1), (0b10, 2),
                 (_vs(rng), 5), (0, 2), (o, 3), (1, 1), (_vs(rng), 5), (_v(rng), 5))


def _2misc(rng, scalar: bool) -> int:
    u, a, o = rng.choice(SCALAR_TWO_MISC if scalar else TWO_MISC)
    return _pack((0, 1), (1 if scalar else _b(rng, 1), 1), (u, 1), (0b11110 if scalar else 0b01110, 5),
                 (a, 1), (0b111100, 6), (o, 5), (0b10, 2), (_vs(rng), 5), (_v(rng), 5))


def _by_elem(rng, scalar: bool) -> int:
    u, opcode = rng.choice(((0, 0b0001), (0, 0b0101), (0, 0b1001), (1, 0b1001)))
    index = _b(rng, 3)
    return _pack((0, 1), (1 if scalar else _b(rng, 1), 1), (u, 1), (0b11111 if scalar else 0b01111, 5),
                 (0, 2), (index >> 1 & 1, 1), (index & 1, 1), (rng.randrange(2) if rng.random() < 0.5
                                                               else rng.randrange(16), 4),
                 (opcode, 4), (index >> 2, 1), (0, 1), (_vs(rng), 5), (_v(rng), 5))


def _fixed(rng, scalar: bool) -> int:
    return _pack((0, 1), (1 if scalar else _b(rng, 1), 1), (_b(rng, 1), 1),
                 (0b111110 if scalar else 0b011110, 6), (0b001, 3), (_b(rng, 4), 4),
                 (rng.choice((0b11100, 0b11111)), 5), (1, 1), (_vs(rng), 5), (_v(rng), 5))


@fp16_class("simd_fp16_3same")
def gen_simd_fp16_3same(rng: random.Random, pos: Pos) -> int:
    """FP16 three same .4h/.8h: arithmetic, fmla/fmls, min/max, pairwise, fabd, compares, fmulx, frecps/frsqrts"""
    return _3same(rng, False)


@fp16_class("simd_fp16_2misc")
def gen_simd_fp16_2misc(rng: random.Random, pos: Pos) -> int:
    """FP16 two-register misc .4h/.8h: frint*, fcvt*, [su]cvtf, compares with zero, fabs/fneg/fsqrt, frecpe/frsqrte"""
    return _2misc(rng, False)


@fp16_class("simd_fp16_elem")
def gen_simd_fp16_elem(rng: random.Random, pos: Pos) -> int:
    """FP16 by element (vector and scalar): fmla/fmls/fmul/fmulx"""
    return _by_elem(rng, rng.random() < 0.3)


@fp16_class("simd_fp16_scalar")
def gen_simd_fp16_scalar(rng: random.Random, pos: Pos) -> int:
    """FP16 scalar three same, two-register misc (incl. frecpx), pairwise, fixed-point conversions"""
    k = rng.randrange(4)
    if k == 0:
        return _3same(rng, True)
    if k == 1:
        return _2misc(rng, True)
    if k == 2:
        a, o = rng.choice(PAIRWISE)
        return _pack((0b01011110, 8), (a, 1), (0, 1), (0b11000, 5), (o, 5), (0b10, 2), (_vs(rng), 5),
                     (_v(rng), 5))
    return _fixed(rng, True)


@fp16_class("simd_fp16_across")
def gen_simd_fp16_across(rng: random.Random, pos: Pos) -> int:
    """FP16 across lanes fmaxnmv/fminnmv/fmaxv/fminv (.4h/.8h), fixed-point [su]cvtf/fcvtz[su] (vector)"""
    if rng.random() < 0.3:
        return _fixed(rng, False)
    return _pack((0, 1), (_b(rng, 1), 1), (0, 1), (0b01110, 5), (_b(rng, 1), 1), (0, 1), (0b11000, 5),
                 (rng.choice((0b01100, 0b01111)), 5), (0b10, 2), (_vs(rng), 5), (_v(rng), 5))


@form_class(ARCH, "fp16_fz16", unicorn_cpu=CPU)
def gen_fp16_fz16(rng: random.Random, pos: Pos) -> int:
    """any FP16 form after movz x17 / msr fpcr, x17 of FZ16 and random AHP/DN/FZ/RMode (words 0, 1)"""
    if pos.index == 0:
        return _pack((0b110100101, 9), (1, 2), (rng.getrandbits(5) << 6 | 8, 16), (FPCR_STAGE, 5))
    if pos.index == 1:
        return _pack((0xD51B4400 >> 5, 27), (FPCR_STAGE, 5))
    return rng.choice(DRAWS)(rng, pos)


# -- where Unicorn deviates --------------------------------------------------------------------

# fcvtzs h, h, #fbits: scalar FP16 to signed 16-bit fixed point
_FCVTZS_H_FIXED = (0xFFF0FC00, 0x5F10FC00)


def is_fcvtzs_h_fixed(word: int) -> bool:
    return word & _FCVTZS_H_FIXED[0] == _FCVTZS_H_FIXED[1]


def _replay_sign_extended(case):
    """tcgpy's outcome of ``case`` with Unicorn's fcvtzs h, h, #fbits applied
    (a negative result sign-extended to 32 bits); None if none was negative."""
    import tcgpy
    emu, da = case_emulator(case)
    # The FP16 classes have no branches: each word runs once, in order.
    stops = [CODE_BASE + 4 * i for i, w in enumerate(case.words) if is_fcvtzs_h_fixed(w)]
    applied = False
    begin = da.prologue_base
    event = END
    try:
        for stop in stops:
            emu.run(begin, until=stop + 4, count=case.bound + len(da.defs.prologue))
            if emu.reg_read("pc") != stop + 4:
                return None
            rd = f"q{case.words[(stop - CODE_BASE) // 4] & 31}"
            v = emu.reg_read(rd)
            if 0x8000 <= v < 0x10000:
                emu.reg_write(rd, v | 0xFFFF_0000)
                applied = True
            begin = stop + 4
        if begin != case.end:
            emu.run(begin, until=case.end, count=case.bound)
    except tcgpy.EmulationError as e:
        event = tcgpy_event(e, da)
    if not applied:
        return None
    regs = {n: emu.reg_read(n) for n in da.compare_regs}
    return Outcome(event, regs, bytes(emu.mem_read(DATA_BASE, DATA_SIZE)))


def _fcvtzs_h_sign_extended(case, mismatch, reference, subject) -> bool:
    """Unicorn's outcome is tcgpy's with every negative fcvtzs h, h, #fbits
    result sign-extended (later instructions may read the upper lanes)."""
    if not any(is_fcvtzs_h_fixed(w) for w in case.words):
        return False
    replay = _replay_sign_extended(case)
    return replay is not None and compare(diff_arch(case.arch), reference, replay) is None


FZ16 = 1 << 19             # FPCR.FZ16


def _fz16_on_default_cpu(case, mismatch, reference, subject) -> bool:
    """A case on Unicorn's default model wrote FPCR.FZ16: the only
    difference is that bit, in fpcr and in the 64-bit registers an mrs of
    fpcr can reach (general registers, and tpidr_el0 through msr)."""
    if case_cpu(case) is not None or not mismatch.fields:
        return False
    for f in mismatch.fields:
        if not (f.name in ("fpcr", "tpidr_el0") or f.name.startswith("x")) or "-" in (f.reference, f.subject):
            return False
        if int(f.reference, 16) ^ int(f.subject, 16) != FZ16:
            return False
    return True


KNOWN_ROWS: tuple[dict, ...] = (
    dict(
        name="a64-fpcr-fz16-default-cpu",
        arch=ARCH,
        matches=_fz16_on_default_cpu,
        unicorn="Unicorn's default CPU (Cortex-A72, no FEAT_FP16) keeps FPCR.FZ16 (bit 19) "
                "at 0: msr fpcr drops it (QEMU's vfp_set_fpscr masks FZ16 without FP16)",
        architecture="with FEAT_FP16, FPCR.FZ16 is a read/write control of half-precision "
                     "flush-to-zero (Arm ARM, FPCR); tcgpy implements FEAT_FP16 (AT_HWCAP "
                     "fphp/asimdhp)",
        proof="Arm ARM FPCR.FZ16; Unicorn's max model (FEAT_FP16) keeps the bit: "
              "tests/test_a64_fp16.py 'FPCR.FZ16 writable' hand case, checked on both engines",
        why="the FP16 classes run on Unicorn's max model; classes on the default model may "
            "still write FZ16 through msr fpcr, which must hold for FP16 code"),
    dict(
        name="a64-fcvtzs-h-fixed-sign-extended",
        arch=ARCH,
        matches=_fcvtzs_h_sign_extended,
        unicorn="fcvtzs h<d>, h<n>, #<fbits> with a negative result writes the int16 "
                "sign-extended to 32 bits (d<d> = 0xffff8000 for -32768): QEMU's "
                "handle_simd_shift_fpint_conv stores the scalar with write_fp_sreg",
        architecture="FCVTZS (vector, fixed-point), scalar: V[d, esize] = FPToFixed(...) with "
                     "esize 16; a write of fewer than 128 bits zeroes the rest of the register",
        proof="Arm ARM pseudocode of FCVTZS (vector, fixed-point) and V[]; qemu-aarch64 7.2 "
              "does the same as Unicorn, and upstream QEMU fixed it in May 2024 "
              "(translate-a64.c, handle_simd_shift_fpint_conv: 'tcg_gen_ext16u_i32' for a "
              "signed MO_16 scalar, Richard Henderson, reviewed by Peter Maydell: 'Fixes RISU "
              "mismatch for fcvtzs h31, h0, #14' -- RISU compares with hardware)",
        why="the architecture and hardware; the unsigned form and fcvtzs h, h (no fbits) "
            "already zero-extend in Unicorn"),
)


def known_differences():
    """KNOWN_ROWS as tcgpy.difftest.known_differences.KnownDifference rows."""
    return tuple(KnownDifference(**row) for row in KNOWN_ROWS)
