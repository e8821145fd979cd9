"""Arm floating point, exactly as the Arm ARM pseudocode defines it.

The interpreter and the JIT (through a Python callback) both compute scalar
and per-lane floating point here, so they cannot disagree, and neither
depends on the host's x86 rules, which differ from Arm's in NaN propagation
(x86 returns the first operand's NaN, Arm prefers signalling NaNs and the
addend of a fused multiply-add), default NaN (x86's has the sign bit set),
flush-to-zero (Arm flushes inputs and outputs under one FPCR bit and flags
each) and rounding control.

Values are decoded to exact ``Fraction``s, combined exactly, and rounded once
by :func:`fp_round` (FPRound): correct by construction for every rounding
mode; speed is not the point.  Each function follows the pseudocode function
of the same name (FPAdd, FPMulAdd, FPToFixed, ...) and returns
``(result bits, FPSR cumulative exception bits)``.

Formats are identified by the log2 of their size in bytes (``esz``): 1 half,
2 single, 3 double, as the lane-size field of vector instructions is.
"""
from __future__ import annotations

import math
from ...record import record
from fractions import Fraction

# FPSR cumulative exception bits (FPProcessException).
IOC, DZC, OFC, UFC, IXC, IDC = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 7
FPSR_EXC_MASK = IOC | DZC | OFC | UFC | IXC | IDC

# FPCR fields.
FPCR_AHP, FPCR_DN, FPCR_FZ, FPCR_FZ16 = 1 << 26, 1 << 25, 1 << 24, 1 << 19
RMODE_SHIFT = 22

# Rounding modes: FPCR.RMode values, plus ties-away (FPRounding_TIEAWAY) and
# "round to odd" is not needed.
RN, RP, RM, RZ, RA = 0, 1, 2, 3, 4


@record(frozen=True)
class Fmt:
    ebits: int
    fbits: int

    @property
    def bits(self) -> int:
        return 1 + self.ebits + self.fbits

    @property
    def emax_field(self) -> int:
        return (1 << self.ebits) - 1

    @property
    def min_exp(self) -> int:
        return 2 - (1 << (self.ebits - 1))

    @property
    def bias(self) -> int:
        return (1 << (self.ebits - 1)) - 1

    @property
    def default_nan(self) -> int:
        return (self.emax_field << self.fbits) | (1 << (self.fbits - 1))

    @property
    def quiet_bit(self) -> int:
        return 1 << (self.fbits - 1)

    def inf(self, sign: int) -> int:
        return (sign << (self.bits - 1)) | (self.emax_field << self.fbits)

    def zero(self, sign: int) -> int:
        return sign << (self.bits - 1)

    def max_normal(self, sign: int) -> int:
        return (sign << (self.bits - 1)) | ((self.emax_field - 1) << self.fbits) | ((1 << self.fbits) - 1)


FMTS = {1: Fmt(5, 10), 2: Fmt(8, 23), 3: Fmt(11, 52)}

# FPType
ZERO, DENORM, NORMAL, INF, QNAN, SNAN = range(6)


def rmode(fpcr: int) -> int:
    return (fpcr >> RMODE_SHIFT) & 3


def _flush_to_zero(fmt: Fmt, fpcr: int) -> bool:
    return bool(fpcr & (FPCR_FZ16 if fmt.ebits == 5 else FPCR_FZ))


def unpack(bits: int, esz: int, fpcr: int, flags: list[int], ahp: bool = False) -> tuple[int, int, Fraction]:
    """FPUnpack: (FPType, sign, exact value).  A denormal input is flushed to
    zero under FPCR.FZ (FZ16 for half, which raises no IDC).  ``ahp``: a half
    in the alternative format, whose top exponent is an ordinary one."""
    fmt = FMTS[esz]
    sign = (bits >> (fmt.bits - 1)) & 1
    exp = (bits >> fmt.fbits) & fmt.emax_field
    frac = bits & ((1 << fmt.fbits) - 1)
    if exp == 0:
        if frac == 0:
            return ZERO, sign, Fraction(0)
        if _flush_to_zero(fmt, fpcr):
            if fmt.ebits != 5:
                flags[0] |= IDC
            return ZERO, sign, Fraction(0)
        v = Fraction(frac, 1 << fmt.fbits) * Fraction(2) ** fmt.min_exp
        return DENORM, sign, -v if sign else v
    if exp == fmt.emax_field and not ahp:
        if frac == 0:
            return INF, sign, Fraction(0)
        return (QNAN if frac & fmt.quiet_bit else SNAN), sign, Fraction(0)
    v = Fraction((1 << fmt.fbits) | frac, 1 << fmt.fbits) * Fraction(2) ** (exp - fmt.bias)
    return NORMAL, sign, -v if sign else v


def _floor_log2(v: Fraction) -> int:
    """floor(log2(v)) for v > 0."""
    e = v.numerator.bit_length() - v.denominator.bit_length()
    if Fraction(2) ** e > v:
        e -= 1
    return e


def fp_round(value: Fraction, esz: int, fpcr: int, flags: list[int], mode: int | None = None,
             sticky: bool = False, ahp: bool = False) -> int:
    """FPRound of a nonzero exact value.  ``sticky``: the true value is a
    hair above |value| (used by sqrt, whose result is not rational)."""
    fmt = FMTS[esz]
    if mode is None:
        mode = rmode(fpcr)
    sign = 1 if value < 0 else 0
    mag = -value if sign else value
    exponent = _floor_log2(mag)
    # FZ (FZ16 for half) flushes a tiny result before rounding, raising UFC
    # (FPRoundBase); conversions clear FZ16 before they get here (FPRoundCV).
    if not ahp and _flush_to_zero(fmt, fpcr) and exponent < fmt.min_exp:
        flags[0] |= UFC
        return fmt.zero(sign)
    e = max(exponent, fmt.min_exp)
    biased = e - fmt.min_exp + 1 if exponent >= fmt.min_exp else 0
    scaled = mag * Fraction(2) ** (fmt.fbits - e)
    int_mant = scaled.numerator // scaled.denominator
    error = scaled - int_mant
    inexact = error != 0 or sticky
    if biased == 0 and inexact:
        flags[0] |= UFC
    half = Fraction(1, 2)
    if mode == RN:
        up = error > half or (error == half and (sticky or int_mant & 1))
    elif mode == RA:
        up = error >= half
    elif mode == RP:
        up = inexact and not sign
    elif mode == RM:
        up = inexact and bool(sign)
    else:
        up = False
    if up:
        int_mant += 1
        if int_mant == 1 << fmt.fbits and biased == 0:
            biased = 1
        if int_mant == 1 << (fmt.fbits + 1):
            biased += 1
            int_mant >>= 1
    if ahp:
        # Alternative half precision: no infinities; out of range is invalid.
        if biased > fmt.emax_field:
            flags[0] |= IOC
            return (sign << (fmt.bits - 1)) | ((1 << (fmt.bits - 1)) - 1)
    elif biased >= fmt.emax_field:
        flags[0] |= OFC | IXC
        if mode in (RN, RA) or (mode == RP and not sign) or (mode == RM and sign):
            return fmt.inf(sign)
        return fmt.max_normal(sign)
    if inexact:
        flags[0] |= IXC
    return (sign << (fmt.bits - 1)) | (biased << fmt.fbits) | (int_mant & ((1 << fmt.fbits) - 1))


def _quiet(bits: int, fmt: Fmt) -> int:
    return bits | fmt.quiet_bit


def process_nan(t: int, bits: int, esz: int, fpcr: int, flags: list[int]) -> int:
    fmt = FMTS[esz]
    if t == SNAN:
        flags[0] |= IOC
    if fpcr & FPCR_DN:
        return fmt.default_nan
    return _quiet(bits, fmt)


def process_nans(ops: list[tuple[int, int]], esz: int, fpcr: int, flags: list[int]) -> int | None:
    """FPProcessNaNs / FPProcessNaNs3: ``ops`` is [(type, bits)] in priority
    order; the first signalling NaN wins, then the first quiet one."""
    for want in (SNAN, QNAN):
        for t, bits in ops:
            if t == want:
                return process_nan(t, bits, esz, fpcr, flags)
    return None


def _zero_or_round(v: Fraction, esz: int, fpcr: int, flags: list[int]) -> int:
    if v == 0:
        # An exact zero sum of nonzero operands is +0, or -0 rounding down.
        return FMTS[esz].zero(1 if rmode(fpcr) == RM else 0)
    return fp_round(v, esz, fpcr, flags)


def fp_add(a: int, b: int, esz: int, fpcr: int, negate_b: bool = False) -> tuple[int, int]:
    fmt = FMTS[esz]
    if negate_b:
        b ^= 1 << (fmt.bits - 1)
    f = [0]
    t1, s1, v1 = unpack(a, esz, fpcr, f)
    t2, s2, v2 = unpack(b, esz, fpcr, f)
    r = process_nans([(t1, a), (t2, b)], esz, fpcr, f)
    if r is not None:
        return r, f[0]
    if t1 == INF and t2 == INF and s1 != s2:
        f[0] |= IOC
        return fmt.default_nan, f[0]
    if t1 == INF or t2 == INF:
        return fmt.inf(s1 if t1 == INF else s2), f[0]
    if t1 == ZERO and t2 == ZERO and s1 == s2:
        return fmt.zero(s1), f[0]
    return _zero_or_round(v1 + v2, esz, fpcr, f), f[0]


def fp_sub(a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    """FPSub: FPAdd with op2's sign flipped, except that a NaN op2 is
    propagated with its own sign."""
    f = [0]
    t1 = unpack(a, esz, fpcr, f)[0]
    t2 = unpack(b, esz, fpcr, f)[0]
    r = process_nans([(t1, a), (t2, b)], esz, fpcr, f)
    if r is not None:
        return r, f[0]
    return fp_add(a, b, esz, fpcr, negate_b=True)


def fp_mul(a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    fmt = FMTS[esz]
    f = [0]
    t1, s1, v1 = unpack(a, esz, fpcr, f)
    t2, s2, v2 = unpack(b, esz, fpcr, f)
    r = process_nans([(t1, a), (t2, b)], esz, fpcr, f)
    if r is not None:
        return r, f[0]
    if (t1 == INF and t2 == ZERO) or (t1 == ZERO and t2 == INF):
        f[0] |= IOC
        return fmt.default_nan, f[0]
    if t1 == INF or t2 == INF:
        return fmt.inf(s1 ^ s2), f[0]
    if t1 == ZERO or t2 == ZERO:
        return fmt.zero(s1 ^ s2), f[0]
    return fp_round(v1 * v2, esz, fpcr, f), f[0]


def fp_nmul(a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    r, f = fp_mul(a, b, esz, fpcr)
    return r ^ (1 << (FMTS[esz].bits - 1)), f


def fp_div(a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    fmt = FMTS[esz]
    f = [0]
    t1, s1, v1 = unpack(a, esz, fpcr, f)
    t2, s2, v2 = unpack(b, esz, fpcr, f)
    r = process_nans([(t1, a), (t2, b)], esz, fpcr, f)
    if r is not None:
        return r, f[0]
    if (t1 == INF and t2 == INF) or (t1 == ZERO and t2 == ZERO):
        f[0] |= IOC
        return fmt.default_nan, f[0]
    if t1 == INF or t2 == ZERO:
        if t1 != INF:
            f[0] |= DZC
        return fmt.inf(s1 ^ s2), f[0]
    if t1 == ZERO or t2 == INF:
        return fmt.zero(s1 ^ s2), f[0]
    return fp_round(v1 / v2, esz, fpcr, f), f[0]


def fp_sqrt(a: int, esz: int, fpcr: int) -> tuple[int, int]:
    fmt = FMTS[esz]
    f = [0]
    t, s, v = unpack(a, esz, fpcr, f)
    if t in (QNAN, SNAN):
        return process_nan(t, a, esz, fpcr, f), f[0]
    if t == ZERO:
        return fmt.zero(s), f[0]
    if t == INF and not s:
        return fmt.inf(0), f[0]
    if s:
        f[0] |= IOC
        return fmt.default_nan, f[0]
    # floor(sqrt(v) * 2^k) with k chosen so the root has fbits + 4 bits or
    # more; an inexact root is represented by r + 1/2 ulp-of-the-grid, which
    # rounds like the true value (the grid is far finer than half an ulp).
    k = fmt.fbits + 4 - _floor_log2(v) // 2 + 2
    scaled = v * Fraction(2) ** (2 * k)
    n = scaled.numerator // scaled.denominator
    r = math.isqrt(n)
    exact = r * r == scaled
    if exact:
        return fp_round(Fraction(r, 1 << k) if k >= 0 else Fraction(r * 2 ** -k), esz, fpcr, f), f[0]
    approx = Fraction(2 * r + 1, 2) * Fraction(2) ** -k
    return fp_round(approx, esz, fpcr, f), f[0]


def fp_muladd(addend: int, a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    """FPMulAdd: addend + a * b, rounded once."""
    fmt = FMTS[esz]
    f = [0]
    ta, sa, va = unpack(addend, esz, fpcr, f)
    t1, s1, v1 = unpack(a, esz, fpcr, f)
    t2, s2, v2 = unpack(b, esz, fpcr, f)
    inf1, inf2, zero1, zero2 = t1 == INF, t2 == INF, t1 == ZERO, t2 == ZERO
    r = process_nans([(ta, addend), (t1, a), (t2, b)], esz, fpcr, f)
    if ta == QNAN and ((inf1 and zero2) or (zero1 and inf2)):
        f[0] |= IOC
        return fmt.default_nan, f[0]
    if r is not None:
        return r, f[0]
    sp = s1 ^ s2
    infp = inf1 or inf2
    zerop = zero1 or zero2
    if (inf1 and zero2) or (zero1 and inf2) or (ta == INF and infp and sa != sp):
        f[0] |= IOC
        return fmt.default_nan, f[0]
    if (ta == INF and not sa) or (infp and not sp):
        return fmt.inf(0), f[0]
    if (ta == INF and sa) or (infp and sp):
        return fmt.inf(1), f[0]
    if ta == ZERO and zerop and sa == sp:
        return fmt.zero(sa), f[0]
    return _zero_or_round(va + v1 * v2, esz, fpcr, f), f[0]


def _minmax(a: int, b: int, esz: int, fpcr: int, is_max: bool, num: bool) -> tuple[int, int]:
    fmt = FMTS[esz]
    f = [0]
    t1, s1, v1 = unpack(a, esz, fpcr, f)
    t2, s2, v2 = unpack(b, esz, fpcr, f)
    if num:
        # FPMaxNum/FPMinNum: a quiet NaN against a number loses.
        if t1 == QNAN and t2 not in (QNAN, SNAN):
            a = fmt.inf(1 if is_max else 0)
            t1, s1, v1 = INF, 1 if is_max else 0, Fraction(0)
        elif t2 == QNAN and t1 not in (QNAN, SNAN):
            b = fmt.inf(1 if is_max else 0)
            t2, s2, v2 = INF, 1 if is_max else 0, Fraction(0)
    r = process_nans([(t1, a), (t2, b)], esz, fpcr, f)
    if r is not None:
        return r, f[0]
    big = 10 ** 400
    x1 = (-big if s1 else big) if t1 == INF else v1
    x2 = (-big if s2 else big) if t2 == INF else v2
    first = x1 > x2 if is_max else x1 < x2
    t, s, v = (t1, s1, v1) if first else (t2, s2, v2)
    if t == INF:
        return fmt.inf(s), f[0]
    if t == ZERO:
        s = (s1 & s2) if is_max else (s1 | s2)
        return fmt.zero(s), f[0]
    return fp_round(v, esz, fpcr, f), f[0]


def fp_max(a, b, esz, fpcr):
    return _minmax(a, b, esz, fpcr, True, False)


def fp_min(a, b, esz, fpcr):
    return _minmax(a, b, esz, fpcr, False, False)


def fp_maxnum(a, b, esz, fpcr):
    return _minmax(a, b, esz, fpcr, True, True)


def fp_minnum(a, b, esz, fpcr):
    return _minmax(a, b, esz, fpcr, False, True)


def fp_compare(a: int, b: int, esz: int, fpcr: int, signal_nans: bool) -> tuple[int, int]:
    """FPCompare: (NZCV in bits 3..0, flags)."""
    f = [0]
    t1, s1, v1 = unpack(a, esz, fpcr, f)
    t2, s2, v2 = unpack(b, esz, fpcr, f)
    if t1 in (QNAN, SNAN) or t2 in (QNAN, SNAN):
        if signal_nans or t1 == SNAN or t2 == SNAN:
            f[0] |= IOC
        return 0b0011, f[0]
    big = 10 ** 400
    x1 = (-big if s1 else big) if t1 == INF else v1
    x2 = (-big if s2 else big) if t2 == INF else v2
    if x1 == x2:
        return 0b0110, f[0]
    return (0b1000 if x1 < x2 else 0b0010), f[0]



def _round_integer(v: Fraction, mode: int) -> tuple[int, Fraction]:
    """The exact value ``v`` rounded to an integer in rounding ``mode`` (the
    shared step of FPToFixed and FPRoundInt); also returns what was dropped."""
    n = math.floor(v)
    error = v - n
    half = Fraction(1, 2)
    if mode == RN:
        up = error > half or (error == half and n & 1)
    elif mode == RA:
        up = error > half or (error == half and n >= 0)
    elif mode == RP:
        up = error != 0
    elif mode == RM:
        up = False
    else:
        up = error != 0 and n < 0
    return (n + 1 if up else n), error

def fp_to_fixed(a: int, esz: int, fpcr: int, fbits: int, unsigned: bool, out_bits: int,
                mode: int) -> tuple[int, int]:
    """FPToFixed: the integer (as an unsigned bit pattern of out_bits)."""
    f = [0]
    t, s, v = unpack(a, esz, fpcr, f)
    mask = (1 << out_bits) - 1
    if t in (QNAN, SNAN):
        f[0] |= IOC
        return 0, f[0]
    if unsigned:
        lo, hi = 0, mask
    else:
        lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    if t == INF:
        f[0] |= IOC
        return (lo if s else hi) & mask, f[0]
    v = v * (1 << fbits)
    n, error = _round_integer(v, mode)
    if n < lo or n > hi:
        f[0] |= IOC
        n = lo if n < lo else hi
    elif error != 0:
        f[0] |= IXC
    return n & mask, f[0]


def fixed_to_fp(x: int, in_bits: int, unsigned: bool, fbits: int, esz: int, fpcr: int,
                mode: int | None = None) -> tuple[int, int]:
    """FixedToFP: an in_bits-wide integer (bit pattern) scaled by 2^-fbits."""
    x &= (1 << in_bits) - 1
    if not unsigned and x >> (in_bits - 1):
        x -= 1 << in_bits
    if x == 0:
        return 0, 0
    f = [0]
    return fp_round(Fraction(x, 1 << fbits), esz, fpcr, f, mode), f[0]


def fp_convert(a: int, from_esz: int, to_esz: int, fpcr: int) -> tuple[int, int]:
    """FPConvert between precisions; a half-precision operand or result is in
    the alternative format when FPCR.AHP is set."""
    src, dst = FMTS[from_esz], FMTS[to_esz]
    f = [0]
    in_ahp = from_esz == 1 and bool(fpcr & FPCR_AHP)
    alt_hp = to_esz == 1 and bool(fpcr & FPCR_AHP)
    # FPUnpackCV: FZ16 does not apply to a half-precision input.
    t, s, v = unpack(a, from_esz, fpcr & ~FPCR_FZ16, f, ahp=in_ahp)
    if t in (QNAN, SNAN):
        if t == SNAN or alt_hp:
            f[0] |= IOC
        if alt_hp:
            return dst.zero(s), f[0]
        if fpcr & FPCR_DN:
            return dst.default_nan, f[0]
        payload = a & ((1 << (src.fbits - 1)) - 1)
        if dst.fbits >= src.fbits:
            payload <<= dst.fbits - src.fbits
        else:
            payload >>= src.fbits - dst.fbits
        return dst.inf(s) | dst.quiet_bit | payload, f[0]
    if t == INF:
        if alt_hp:
            f[0] |= IOC
            return (s << 15) | 0x7FFF, f[0]
        return dst.inf(s), f[0]
    if t == ZERO:
        return dst.zero(s), f[0]
    # FPRoundCV: FZ16 does not flush a half-precision result either.
    return fp_round(v, to_esz, fpcr & ~FPCR_FZ16, f, ahp=alt_hp), f[0]


def fp_round_int(a: int, esz: int, fpcr: int, mode: int, exact: bool) -> tuple[int, int]:
    """FPRoundInt (frintn/a/m/p/z/x/i): IXC only for frintx (``exact``)."""
    fmt = FMTS[esz]
    f = [0]
    t, s, v = unpack(a, esz, fpcr, f)
    if t in (QNAN, SNAN):
        return process_nan(t, a, esz, fpcr, f), f[0]
    if t in (INF, ZERO):
        return (fmt.inf(s) if t == INF else fmt.zero(s)), f[0]
    n, error = _round_integer(v, mode)
    if n == 0:
        r = fmt.zero(s)
    else:
        r = fp_round(Fraction(n), esz, fpcr, [0])
    if error != 0 and exact:
        f[0] |= IXC
    return r, f[0]


def fp_mulx(a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    """FPMulX: FPMul, except that infinity times zero is 2.0 (signed)."""
    fmt = FMTS[esz]
    f = [0]
    t1, s1, _ = unpack(a, esz, fpcr, f)
    t2, s2, _ = unpack(b, esz, fpcr, f)
    if process_nans([(t1, a), (t2, b)], esz, fpcr, [0]) is None and \
            ((t1 == INF and t2 == ZERO) or (t1 == ZERO and t2 == INF)):
        return (fmt.zero(s1 ^ s2) | (fmt.bias + 1) << fmt.fbits), f[0]
    return fp_mul(a, b, esz, fpcr)


def _step_fused(a: int, b: int, esz: int, fpcr: int, rsqrt: bool) -> tuple[int, int]:
    """FPRecipStepFused (2 - a*b) and FPRSqrtStepFused ((3 - a*b) / 2)."""
    fmt = FMTS[esz]
    a ^= 1 << (fmt.bits - 1)                 # op1 = FPNeg(op1), NaNs included
    f = [0]
    t1, s1, v1 = unpack(a, esz, fpcr, f)
    t2, s2, v2 = unpack(b, esz, fpcr, f)
    r = process_nans([(t1, a), (t2, b)], esz, fpcr, f)
    if r is not None:
        return r, f[0]
    if (t1 == INF and t2 == ZERO) or (t1 == ZERO and t2 == INF):
        # FPOnePointFive / FPTwo
        frac = (1 << (fmt.fbits - 1)) if rsqrt else 0
        exp = fmt.bias if rsqrt else fmt.bias + 1
        return (exp << fmt.fbits) | frac, f[0]
    if t1 == INF or t2 == INF:
        return fmt.inf(s1 ^ s2), f[0]
    v = (3 + v1 * v2) / 2 if rsqrt else 2 + v1 * v2
    return _zero_or_round(v, esz, fpcr, f), f[0]


def fp_recps(a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    return _step_fused(a, b, esz, fpcr, False)


def fp_rsqrts(a: int, b: int, esz: int, fpcr: int) -> tuple[int, int]:
    return _step_fused(a, b, esz, fpcr, True)


def _recip_estimate(a: int) -> int:
    a = a * 2 + 1
    b = (1 << 19) // a
    return (b + 1) // 2


def _rsqrt_estimate(a: int) -> int:
    if a < 256:
        a = a * 2 + 1
    else:
        a = (a >> 1) << 1
        a = (a + 1) * 2
    b = 512
    while a * (b + 1) * (b + 1) < 1 << 28:
        b += 1
    return (b + 1) // 2


def fp_recpe(a: int, esz: int, fpcr: int) -> tuple[int, int]:
    """FPRecipEstimate."""
    fmt = FMTS[esz]
    f = [0]
    t, s, v = unpack(a, esz, fpcr, f)
    if t in (QNAN, SNAN):
        return process_nan(t, a, esz, fpcr, f), f[0]
    if t == INF:
        return fmt.zero(s), f[0]
    if t == ZERO:
        f[0] |= DZC
        return fmt.inf(s), f[0]
    mag = abs(v)
    if mag < Fraction(2) ** -(fmt.bias + 1):
        mode = rmode(fpcr)
        to_inf = mode == RN or (mode == RP and not s) or (mode == RM and s)
        f[0] |= OFC | IXC
        return (fmt.inf(s) if to_inf else fmt.max_normal(s)), f[0]
    if _flush_to_zero(fmt, fpcr) and mag >= Fraction(2) ** (fmt.bias - 1):
        f[0] |= UFC
        return fmt.zero(s), f[0]
    fraction = (a & ((1 << fmt.fbits) - 1)) << (52 - fmt.fbits)
    exp = (a >> fmt.fbits) & fmt.emax_field
    if exp == 0:
        if not fraction >> 51 & 1:
            exp = -1
            fraction = (fraction << 2) & ((1 << 52) - 1)
        else:
            fraction = (fraction << 1) & ((1 << 52) - 1)
    scaled = 256 | (fraction >> 44)
    result_exp = 2 * fmt.bias - 1 - exp
    estimate = _recip_estimate(scaled)
    frac = (estimate & 0xFF) << (fmt.fbits - 8)
    if result_exp == 0:
        frac = (1 << (fmt.fbits - 1)) | frac >> 1
    elif result_exp == -1:
        frac = (1 << (fmt.fbits - 2)) | frac >> 2
        result_exp = 0
    return (s << (fmt.bits - 1)) | (result_exp << fmt.fbits) | frac, f[0]


def fp_rsqrte(a: int, esz: int, fpcr: int) -> tuple[int, int]:
    """FPRSqrtEstimate."""
    fmt = FMTS[esz]
    f = [0]
    t, s, v = unpack(a, esz, fpcr, f)
    if t in (QNAN, SNAN):
        return process_nan(t, a, esz, fpcr, f), f[0]
    if t == ZERO:
        f[0] |= DZC
        return fmt.inf(s), f[0]
    if s:
        f[0] |= IOC
        return fmt.default_nan, f[0]
    if t == INF:
        return fmt.zero(0), f[0]
    fraction = (a & ((1 << fmt.fbits) - 1)) << (52 - fmt.fbits)
    exp = (a >> fmt.fbits) & fmt.emax_field
    if exp == 0:
        while not fraction >> 51 & 1:
            fraction = (fraction << 1) & ((1 << 52) - 1)
            exp -= 1
        fraction = (fraction << 1) & ((1 << 52) - 1)
    if exp & 1 == 0:
        scaled = 256 | (fraction >> 44)
    else:
        scaled = 128 | (fraction >> 45)
    result_exp = (3 * fmt.bias - 1 - exp) // 2
    estimate = _rsqrt_estimate(scaled)
    return (result_exp << fmt.fbits) | ((estimate & 0xFF) << (fmt.fbits - 8)), f[0]


def fp_recpx(a: int, esz: int, fpcr: int) -> tuple[int, int]:
    """FPRecpX: the exponent field inverted, the fraction cleared (a zero or
    denormal exponent becomes the largest finite one)."""
    fmt = FMTS[esz]
    f = [0]
    t, s, _ = unpack(a, esz, fpcr, f)
    if t in (QNAN, SNAN):
        return process_nan(t, a, esz, fpcr, f), f[0]
    exp = (a >> fmt.fbits) & fmt.emax_field
    exp = fmt.emax_field - 1 if exp == 0 else exp ^ fmt.emax_field
    return (s << (fmt.bits - 1)) | (exp << fmt.fbits), f[0]
