"""RISC-V F and D arithmetic, by the ISA manual's rules, on bit patterns.

Every operation computes the exact result (integers and fractions.Fraction)
and rounds it once, so results are correctly rounded in all five modes (RNE,
RTZ, RDN, RUP, RMM) and the flags are exact: NV (invalid), DZ (divide by
zero), OF (overflow), UF (underflow: tiny *after* rounding and inexact, as
RISC-V detects tininess), NX (inexact).  NaN results are always the
canonical NaN; single-precision operands that are not NaN-boxed in their
64-bit register read as the canonical NaN (the caller unboxes: ``unbox``).

This is the meaning of the ``rvfp`` IR op (``evaluate``): the interpreters
run it, and the LLVM backend (tcgpy/backends/llvm/lower_rvfp.py) emits host
code for the common cases and calls it, through the ``rv_fp*`` helpers, for
the rest; tests hold the two to each other.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction

from ...ir.rvfp import (DZ, NV, NX, OF, OP_ADD, OP_CLASS, OP_DIV, OP_FEQ, OP_FLE, OP_FLT, OP_FMA,
                        OP_FROM_INT, OP_MAX, OP_MIN, OP_MUL, OP_SQRT, OP_SUB, OP_TO_INT, RDN, RMM,
                        RNE, RTZ, RUP, UF, resolve_rm)

BOX = 0xFFFF_FFFF_0000_0000
M64 = (1 << 64) - 1


@dataclass(frozen=True)
class Fmt:
    ebits: int
    mbits: int

    @property
    def bias(self) -> int:
        return (1 << (self.ebits - 1)) - 1

    @property
    def width(self) -> int:
        return 1 + self.ebits + self.mbits

    @property
    def emax_field(self) -> int:
        return (1 << self.ebits) - 1

    @property
    def qnan(self) -> int:
        """The canonical NaN."""
        return (self.emax_field << self.mbits) | (1 << (self.mbits - 1))

    @property
    def inf(self) -> int:
        return self.emax_field << self.mbits

    @property
    def sign_bit(self) -> int:
        return 1 << (self.width - 1)


S = Fmt(8, 23)
D = Fmt(11, 52)
FMTS = (S, D)


def unbox(v: int) -> int:
    """A single from a 64-bit f register: the canonical NaN unless NaN-boxed."""
    return v & 0xFFFF_FFFF if v >> 32 == 0xFFFF_FFFF else S.qnan


# -- classification ---------------------------------------------------------------------

def _fields(f: Fmt, x: int) -> tuple[int, int, int]:
    return x >> (f.width - 1) & 1, x >> f.mbits & f.emax_field, x & ((1 << f.mbits) - 1)


def is_nan(f: Fmt, x: int) -> bool:
    _, e, m = _fields(f, x)
    return e == f.emax_field and m != 0


def is_snan(f: Fmt, x: int) -> bool:
    return is_nan(f, x) and not x >> (f.mbits - 1) & 1


def is_inf(f: Fmt, x: int) -> bool:
    _, e, m = _fields(f, x)
    return e == f.emax_field and m == 0


def value(f: Fmt, x: int) -> Fraction:
    """The exact value of a finite x (zero included, sign lost for zeros)."""
    s, e, m = _fields(f, x)
    if e == 0:
        v = Fraction(m) * Fraction(2) ** (1 - f.bias - f.mbits)
    else:
        v = Fraction(m | 1 << f.mbits) * Fraction(2) ** (e - f.bias - f.mbits)
    return -v if s else v


def fclass(f: Fmt, x: int) -> int:
    s, e, m = _fields(f, x)
    if e == f.emax_field:
        if m == 0:
            return 1 << 0 if s else 1 << 7
        return 1 << 9 if x >> (f.mbits - 1) & 1 else 1 << 8
    if e == 0:
        if m == 0:
            return 1 << 3 if s else 1 << 4
        return 1 << 2 if s else 1 << 5
    return 1 << 1 if s else 1 << 6


# -- rounding -----------------------------------------------------------------------------

def _round_int(q: Fraction, neg: bool, rm: int) -> int:
    """|value| / quantum = q >= 0, rounded to an integer by ``rm`` for a value of sign ``neg``."""
    n, d = q.numerator, q.denominator
    lo, rem = divmod(n, d)
    if rem == 0:
        return lo
    if rm == RNE:
        twice = 2 * rem
        return lo + 1 if twice > d or (twice == d and lo & 1) else lo
    if rm == RMM:
        return lo + 1 if 2 * rem >= d else lo
    if rm == RTZ:
        return lo
    if rm == RDN:
        return lo + 1 if neg else lo
    return lo if neg else lo + 1            # RUP


def _log2_floor(v: Fraction) -> int:
    n, d = v.numerator, v.denominator
    e = n.bit_length() - d.bit_length()
    if (n << max(0, -e)) < (d << max(0, e)):
        e -= 1
    return e


def round_pack(f: Fmt, v: Fraction, rm: int, zero_sign: int = 0) -> tuple[int, int]:
    """``v`` rounded to format ``f``: (bits, flags).  An exact zero gets the
    sign ``zero_sign``."""
    if v == 0:
        return (f.sign_bit if zero_sign else 0), 0
    neg = v < 0
    a = -v if neg else v
    sign = f.sign_bit if neg else 0
    emin = 1 - f.bias
    emax = f.bias
    e = max(_log2_floor(a), emin)
    quantum = Fraction(2) ** (e - f.mbits)
    m = _round_int(a / quantum, neg, rm)
    flags = 0 if m * quantum == a else NX
    if m >> (f.mbits + 1):                  # rounded up to the next binade
        m >>= 1
        e += 1
    if flags:
        # tininess after rounding: the result rounded with an unbounded
        # exponent range is below the smallest normal
        eu = _log2_floor(a)
        qu = Fraction(2) ** (eu - f.mbits)
        mu = _round_int(a / qu, neg, rm)
        if mu * qu < Fraction(2) ** emin:
            flags |= UF
    if e > emax:
        flags |= OF | NX
        to_inf = rm in (RNE, RMM) or (rm == RUP and not neg) or (rm == RDN and neg)
        if to_inf:
            return sign | f.inf, flags
        return sign | ((f.emax_field - 1) << f.mbits) | ((1 << f.mbits) - 1), flags
    if m >> f.mbits:                        # normal
        return sign | ((e + f.bias) << f.mbits) | (m & ((1 << f.mbits) - 1)), flags
    return sign | m, flags                  # subnormal (e == emin)


# -- arithmetic ---------------------------------------------------------------------------

def _nan_result(f: Fmt, *xs: int) -> tuple[int, int]:
    return f.qnan, NV if any(is_snan(f, x) for x in xs) else 0


def add(f: Fmt, a: int, b: int, rm: int, sub: bool = False) -> tuple[int, int]:
    if sub:
        b ^= f.sign_bit
    if is_nan(f, a) or is_nan(f, b):
        return _nan_result(f, a, b)
    if is_inf(f, a) or is_inf(f, b):
        if is_inf(f, a) and is_inf(f, b) and (a ^ b) & f.sign_bit:
            return f.qnan, NV
        return (a if is_inf(f, a) else b), 0
    v = value(f, a) + value(f, b)
    if v == 0:
        # an exact zero sum (IEEE 754 6.3): x + x keeps x's sign (two zeros of
        # one sign); otherwise +0, or -0 when rounding toward negative
        if value_is_zero(f, a) and value_is_zero(f, b) and not (a ^ b) & f.sign_bit:
            return round_pack(f, v, rm, 1 if a & f.sign_bit else 0)
        return round_pack(f, v, rm, 1 if rm == RDN else 0)
    return round_pack(f, v, rm)


def mul(f: Fmt, a: int, b: int, rm: int) -> tuple[int, int]:
    if is_nan(f, a) or is_nan(f, b):
        return _nan_result(f, a, b)
    sign = (a ^ b) & f.sign_bit
    if is_inf(f, a) or is_inf(f, b):
        if value_is_zero(f, a) or value_is_zero(f, b):
            return f.qnan, NV
        return sign | f.inf, 0
    return round_pack(f, value(f, a) * value(f, b), rm, 1 if sign else 0)


def value_is_zero(f: Fmt, x: int) -> bool:
    return x & (f.sign_bit - 1) == 0


def div(f: Fmt, a: int, b: int, rm: int) -> tuple[int, int]:
    if is_nan(f, a) or is_nan(f, b):
        return _nan_result(f, a, b)
    sign = (a ^ b) & f.sign_bit
    if is_inf(f, a):
        return (f.qnan, NV) if is_inf(f, b) else (sign | f.inf, 0)
    if is_inf(f, b):
        return sign, 0
    if value_is_zero(f, b):
        return (f.qnan, NV) if value_is_zero(f, a) else (sign | f.inf, DZ)
    return round_pack(f, value(f, a) / value(f, b), rm, 1 if sign else 0)


def sqrt(f: Fmt, a: int, rm: int) -> tuple[int, int]:
    if is_nan(f, a):
        return _nan_result(f, a)
    if value_is_zero(f, a):
        return a, 0
    if a & f.sign_bit:
        return f.qnan, NV
    if is_inf(f, a):
        return a, 0
    v = value(f, a)
    # sqrt(v) to (mbits + 4) bits below its leading bit, and a sticky bit:
    # a non-exact root lies strictly between s and s + 1, where s + 1/2
    # stands in for it (it rounds the same way at the format's precision)
    p = f.mbits + 4 - _log2_floor(v) // 2
    x = v * Fraction(4) ** p
    s = math.isqrt(x.numerator // x.denominator)
    exact = x.denominator == 1 and s * s == x.numerator
    approx = Fraction(s) if exact else Fraction(2 * s + 1, 2)
    return round_pack(f, approx / Fraction(2) ** p, rm)


def fma(f: Fmt, a: int, b: int, c: int, rm: int) -> tuple[int, int]:
    """a * b + c, rounded once."""
    if (is_inf(f, a) and value_is_zero(f, b)) or (value_is_zero(f, a) and is_inf(f, b)):
        return f.qnan, NV               # even when c is a quiet NaN (ISA manual, F extension)
    if is_nan(f, a) or is_nan(f, b) or is_nan(f, c):
        return _nan_result(f, a, b, c)
    psign = (a ^ b) & f.sign_bit
    if is_inf(f, a) or is_inf(f, b):
        if is_inf(f, c) and (c & f.sign_bit) != psign:
            return f.qnan, NV
        return psign | f.inf, 0
    if is_inf(f, c):
        return c, 0
    v = value(f, a) * value(f, b) + value(f, c)
    if v == 0:
        pzero = value(f, a) * value(f, b) == 0
        if pzero and value_is_zero(f, c) and psign == (c & f.sign_bit):
            return round_pack(f, v, rm, 1 if psign else 0)
        return round_pack(f, v, rm, 1 if rm == RDN else 0)
    return round_pack(f, v, rm)


def minmax(f: Fmt, a: int, b: int, is_max: bool) -> tuple[int, int]:
    """fmin/fmax (ISA 2.2, IEEE 754-2019 minimumNumber/maximumNumber): a NaN
    operand yields the other; two NaNs the canonical NaN; -0 < +0."""
    flags = NV if is_snan(f, a) or is_snan(f, b) else 0
    if is_nan(f, a) and is_nan(f, b):
        return f.qnan, flags
    if is_nan(f, a):
        return b, flags
    if is_nan(f, b):
        return a, flags
    ka, kb = _order_key(f, a), _order_key(f, b)
    return (a if (ka > kb) == is_max or ka == kb else b), flags


def _order_key(f: Fmt, x: int) -> tuple:
    if is_inf(f, x):
        return (-1 if x & f.sign_bit else 1, 0, 0)
    v = value(f, x)
    return (0, v, -1 if x & f.sign_bit else 1)


def compare(f: Fmt, a: int, b: int, op: int) -> tuple[int, int]:
    """op 2: feq (quiet), 1: flt, 0: fle (signalling)."""
    if is_nan(f, a) or is_nan(f, b):
        if op == 2:
            return 0, NV if is_snan(f, a) or is_snan(f, b) else 0
        return 0, NV
    ka, kb = _order_key(f, a)[:2], _order_key(f, b)[:2]
    return int(ka == kb if op == 2 else ka < kb if op == 1 else ka <= kb), 0


# -- conversions ------------------------------------------------------------------------

INT_RANGES = {0: (-(1 << 31), (1 << 31) - 1, 32), 1: (0, (1 << 32) - 1, 32),
              2: (-(1 << 63), (1 << 63) - 1, 64), 3: (0, M64, 64)}


def to_int(f: Fmt, a: int, kind: int, rm: int) -> tuple[int, int]:
    """fcvt.{w,wu,l,lu}: kind 0..3; saturating, as a 64-bit register value
    (32-bit results sign-extended, fcvt.wu's too)."""
    lo, hi, bits = INT_RANGES[kind]
    if is_nan(f, a):
        r, flags = hi, NV
    elif is_inf(f, a):
        r, flags = (lo if a & f.sign_bit else hi), NV
    else:
        v = value(f, a)
        neg = v < 0
        q = _round_int(abs(v), neg, rm)
        r = -q if neg else q
        if r < lo or r > hi:
            r, flags = (lo if r < lo else hi), NV
        else:
            flags = 0 if r == v else NX
    r &= (1 << bits) - 1
    if bits == 32 and r >> 31:
        r |= 0xFFFF_FFFF_0000_0000
    return r & M64, flags


def from_int(f: Fmt, x: int, kind: int, rm: int) -> tuple[int, int]:
    """fcvt.{s,d}.{w,wu,l,lu}: ``x`` the 64-bit register."""
    lo, hi, bits = INT_RANGES[kind]
    x &= (1 << bits) - 1
    if lo < 0 and x >> (bits - 1):
        x -= 1 << bits
    return round_pack(f, Fraction(x), rm)


def convert(src: Fmt, dst: Fmt, a: int, rm: int) -> tuple[int, int]:
    """fcvt.s.d / fcvt.d.s."""
    if is_nan(src, a):
        return dst.qnan, NV if is_snan(src, a) else 0
    if is_inf(src, a):
        return (dst.sign_bit if a & src.sign_bit else 0) | dst.inf, 0
    return round_pack(dst, value(src, a), rm, 1 if a & src.sign_bit else 0)


# -- the rvfp op and the helper interface (tcgpy/ir/helpers.py rv_fp, rv_fma) ----------
# The control word is tcgpy/ir/rvfp.py's.

def evaluate(control: int, a: int, b: int, c: int, fcsr: int) -> tuple[int, int]:
    """The rvfp IR op: operation ``control`` on register values a, b (and c,
    the addend of OP_FMA) in the rounding mode it names or fcsr's frm;
    returns (the result, fcsr with the raised flags accrued).  A result
    bound for an x register (compare, class, fcvt to an integer) is that
    register's value; an S result is NaN-boxed."""
    control = resolve_rm(control, fcsr)
    if control & 15 == OP_FMA:
        r, flags = operate_fma(a, b, c, control)
    else:
        r, flags = operate(a, b, control)
    return r, fcsr | flags


def _in(f: Fmt, x: int) -> int:
    return unbox(x) if f is S else x & M64


def _out(f: Fmt, x: int) -> int:
    return x | BOX if f is S else x


_D = struct.Struct("<d")
_Q = struct.Struct("<Q")
_F = struct.Struct("<f")
_I = struct.Struct("<I")
_MIN_NORMAL = {0: 2.0 ** -126, 1: 2.0 ** -1022}


def _host(op: int, fmt: int, a: int, b: int) -> tuple[int, int] | None:
    """The common case on the host's doubles: round to nearest even, finite
    operands, a finite result above the smallest normal (so neither
    overflow, underflow nor a zero's sign is in question).  None: not that
    case, the exact path decides.  Doubles are the host's own rounding;
    singles are computed in double (exact for products, and one rounding
    of a correctly rounded double is correct for + - * / sqrt of singles:
    53 >= 2 * 24 + 2) and rounded to single once more by the conversion.
    NX is exactness, checked on the integer ratios."""
    if fmt:
        x = _D.unpack(_Q.pack(a))[0]
        y = _D.unpack(_Q.pack(b))[0]
    else:
        if a >> 32 != 0xFFFF_FFFF or b >> 32 != 0xFFFF_FFFF:
            return None
        x = _F.unpack(_I.pack(a & 0xFFFF_FFFF))[0]
        y = _F.unpack(_I.pack(b & 0xFFFF_FFFF))[0]
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    try:
        if op == OP_ADD:
            r = x + y
        elif op == OP_SUB:
            r = x - y
        elif op == OP_MUL:
            r = x * y
        elif op == OP_DIV:
            r = x / y
        else:
            if x < 0:
                return None
            r = math.sqrt(x)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    if not math.isfinite(r) or abs(r) <= _MIN_NORMAL[fmt]:
        return None
    if fmt == 0:
        try:
            bits = _I.unpack(_F.pack(r))[0]
        except OverflowError:
            return None
        rs = _F.unpack(_I.pack(bits))[0]
        if math.isinf(rs) or abs(rs) <= _MIN_NORMAL[0]:
            return None
        out = bits | BOX
    else:
        rs = r
        out = _Q.unpack(_D.pack(r))[0]
    # exact value == the result?  (on integer ratios: no rounding anywhere)
    rn, rd = rs.as_integer_ratio()
    xn, xd = x.as_integer_ratio()
    yn, yd = y.as_integer_ratio()
    if op == OP_ADD:
        exact = rn * xd * yd == rd * (xn * yd + yn * xd)
    elif op == OP_SUB:
        exact = rn * xd * yd == rd * (xn * yd - yn * xd)
    elif op == OP_MUL:
        exact = rn * xd * yd == rd * xn * yn
    elif op == OP_DIV:
        exact = rn * xd * yn == rd * xn * yd
    else:
        exact = rn * rn * xd == rd * rd * xn
    return out, 0 if exact else NX


def _host_fma_d(a: int, b: int, c: int) -> tuple[int, int] | None:
    """fmadd.d in RNE on finite operands, result a normal double: the exact
    a * b + c on integer ratios, rounded by one correctly rounded integer
    division (CPython's int / int).  None: the exact path decides."""
    x, y, z = (_D.unpack(_Q.pack(v))[0] for v in (a, b, c))
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return None
    (xn, xd), (yn, yd), (zn, zd) = x.as_integer_ratio(), y.as_integer_ratio(), z.as_integer_ratio()
    num, den = xn * yn * zd + zn * xd * yd, xd * yd * zd
    if num == 0:
        return None
    try:
        r = num / den
    except OverflowError:
        return None
    if not math.isfinite(r) or abs(r) <= _MIN_NORMAL[1]:
        return None
    rn, rd = r.as_integer_ratio()
    return _Q.unpack(_D.pack(r))[0], 0 if rn * den == rd * num else NX


def _host_compare(op: int, fmt: int, a: int, b: int) -> tuple[int, int] | None:
    """feq/flt/fle of two non-NaN operands (no flags): the host's compare."""
    f = FMTS[fmt]
    x, y = _in(f, a), _in(f, b)
    if is_nan(f, x) or is_nan(f, y):
        return None
    if fmt:
        u, v = _D.unpack(_Q.pack(x))[0], _D.unpack(_Q.pack(y))[0]
    else:
        u, v = _F.unpack(_I.pack(x))[0], _F.unpack(_I.pack(y))[0]
    return int(u == v if op == OP_FEQ else u < v if op == OP_FLT else u <= v), 0


def operate(a: int, b: int, c: int) -> tuple[int, int]:
    """The operation ``c`` (a ctl word) on register values a, b: (register value, flags)."""
    op, f, rm, kind = c & 15, FMTS[c >> 4 & 1], c >> 8 & 7, c >> 12 & 3
    if op <= OP_SQRT and rm == RNE:
        fast = _host(op, c >> 4 & 1, a, b)
        if fast is not None:
            return fast
    elif OP_FEQ <= op <= OP_FLE:
        fast = _host_compare(op, c >> 4 & 1, a, b)
        if fast is not None:
            return fast
    return exact_operate(op, f, rm, kind, a, b)


def exact_operate(op: int, f: Fmt, rm: int, kind: int, a: int, b: int) -> tuple[int, int]:
    """``operate`` without the host fast path: exact arithmetic, rounded once."""
    if op in (OP_ADD, OP_SUB):
        r, fl = add(f, _in(f, a), _in(f, b), rm, op == OP_SUB)
    elif op == OP_MUL:
        r, fl = mul(f, _in(f, a), _in(f, b), rm)
    elif op == OP_DIV:
        r, fl = div(f, _in(f, a), _in(f, b), rm)
    elif op == OP_SQRT:
        r, fl = sqrt(f, _in(f, a), rm)
    elif op in (OP_MIN, OP_MAX):
        r, fl = minmax(f, _in(f, a), _in(f, b), op == OP_MAX)
    elif op in (OP_FEQ, OP_FLT, OP_FLE):
        return compare(f, _in(f, a), _in(f, b), {OP_FEQ: 2, OP_FLT: 1, OP_FLE: 0}[op])
    elif op == OP_CLASS:
        return fclass(f, _in(f, a)), 0
    elif op == OP_TO_INT:
        return to_int(f, _in(f, a), kind, rm)
    elif op == OP_FROM_INT:
        r, fl = from_int(f, a, kind, rm)
    else:                                   # OP_CVT: to f from the other format
        src = D if f is S else S
        r, fl = convert(src, f, _in(src, a), rm)
    return _out(f, r), fl


def operate_fma(a: int, b: int, c: int, control: int) -> tuple[int, int]:
    f, rm = FMTS[control >> 4 & 1], control >> 8 & 7
    if f is D and rm == RNE:
        fast = _host_fma_d(a, b, c)
        if fast is not None:
            return fast
    r, fl = fma(f, _in(f, a), _in(f, b), _in(f, c), rm)
    return _out(f, r), fl
