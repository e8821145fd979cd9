"""Native code for the rarer floating-point vec ops (issue 14): pairwise
arithmetic, conversions between precisions (half included), the reciprocal
and reciprocal square root estimates and their Newton steps.

They follow lower_arm_fp's model and are registered with it (``lowers_fp``):
the result is kept only when every lane is provably the one the Arm
pseudocode (tcgpy.frontends.aarch64.fpsem) gives, under FPCR round-to-nearest without
flush-to-zero; otherwise the whole operation runs its Python semantics.

* Conversions and estimates work on the lanes' bits as integers: exact by
  construction, and the only way to half precision on generic x86-64 (LLVM's
  ``half`` arithmetic would be library calls).  Their shortcut covers normal
  results; zeros, subnormals, infinities, NaNs and overflow take the Python
  path (frecpx only NaNs).
* The Newton steps (frecps 2 - a*b, frsqrts (3 - a*b)/2) are one fused
  multiply-add whose exactness an FMA residual decides.
* Half-precision arithmetic (faddp and the steps on .h lanes) has no
  shortcut: it still runs the Python semantics.
"""
from __future__ import annotations

from ...ir import semantics
from .lower_arm_fp import F, addsub, emit_store, lowers_fp, minmax, status_ixc

# Arm's FP pseudocode (FPCR, FPSR) and vec-op semantics: the AArch64
# target's definitions, found by name (tcgpy.ir.semantics).
arm_fp, arm_vec = semantics.lookup("arm_fp"), semantics.lookup("arm_vec")
VecOp = arm_vec.VecOp


class Ints:
    """Integer lane arithmetic on ``lanes`` lanes of ``bits`` for one vec op."""

    def __init__(self, v, lanes: int, bits: int):
        self.v, self.lanes, self.bits = v, lanes, bits
        self.t = f"<{lanes} x i{bits}>" if lanes > 1 else f"i{bits}"
        self.bt = f"<{lanes} x i1>" if lanes > 1 else "i1"

    def k(self, c: int) -> str:
        """Constant ``c`` (0 <= c < 2**bits) in every lane, as LLVM prints it: signed."""
        c -= (1 << self.bits) if c >> (self.bits - 1) else 0
        return str(c) if self.lanes == 1 else "<" + ", ".join([f"i{self.bits} {c}"] * self.lanes) + ">"

    def op(self, name: str, a: str, b: str | int) -> str:
        return self.v.emit(f"{name} {self.t} {a}, {self.k(b) if isinstance(b, int) else b}")

    def cmp(self, pred: str, a: str, b: str | int) -> str:
        return self.v.emit(f"icmp {pred} {self.t} {a}, {self.k(b) if isinstance(b, int) else b}")

    def select(self, c: str, a: str | int, b: str | int) -> str:
        a = self.k(a) if isinstance(a, int) else a
        b = self.k(b) if isinstance(b, int) else b
        return self.v.emit(f"select {self.bt} {c}, {self.t} {a}, {self.t} {b}")

    def cast(self, a: str, bits: int) -> "tuple[str, Ints]":
        """``a`` zero-extended or truncated to lanes of ``bits``."""
        to = Ints(self.v, self.lanes, bits)
        if bits == self.bits:
            return a, to
        return self.v.emit(f"{'zext' if bits > self.bits else 'trunc'} {self.t} {a} to {to.t}"), to

    def flag(self, bits_: str) -> str:
        """An i1 per lane as 0/1 lanes of this type."""
        return self.v.emit(f"zext {self.bt} {bits_} to {self.t}")

    def load(self, operand: str) -> str:
        return self.v.emit(f"load {self.t}, ptr {self.v.ptr(operand)}, align 1")


def _ints(f: F) -> Ints:
    return Ints(f.v, f.lanes, 8 << f.esz)


def _sign_bit(f: F) -> int:
    return 1 << ((8 << f.esz) - 1)


# -- pairwise ----------------------------------------------------------------------------

@lowers_fp(VecOp.faddp, VecOp.fmaxp, VecOp.fminp, VecOp.fmaxnmp, VecOp.fminnmp)
def gen_pairwise(v, f: F):
    """Adjacent lanes of the concatenation b:a combined (the scalar forms:
    lane a with lane b).  The max/min flavours agree without NaNs."""
    a, b = f.load("a"), f.load("b")
    if f.lanes > 1:
        n = f.lanes
        mask = lambda first: "<" + ", ".join(f"i32 {i}" for i in range(first, 2 * n, 2)) + ">"  # noqa: E731
        a, b = (v.emit(f"shufflevector {f.t} {a}, {f.t} {b}, <{n} x i32> {mask(first)}")
                for first in (0, 1))
    if v.kind is VecOp.faddp:
        r, ok, inexact = addsub(f, a, b, negate_b=False)
    else:
        r, ok, inexact = minmax(f, a, b, v.kind in (VecOp.fmaxp, VecOp.fmaxnmp))
    return emit_store(v, r, f.t, v.oprsz), ok, status_ixc(f, inexact)


# -- conversions between precisions ---------------------------------------------------------

def widen(v, f: F, to: int) -> tuple[str, str, str]:
    """The lanes of ``f`` (loaded from a) in the wider precision ``to``:
    (result bits as integer lanes, their type, ok).  Exact for every value
    but infinities and NaNs, the lanes ``ok`` clears: a magnitude's bits
    moved up to the wider fraction field and read as a number are its value
    times 2^(src bias - dst bias), subnormals included, and one exact
    multiplication by a power of two rebiases them."""
    src, dst = arm_fp.FMTS[f.esz], arm_fp.FMTS[to]
    narrow = _ints(f)
    x = narrow.load("a")
    wide_x, wide = narrow.cast(x, 8 << to)
    g = F(v, to, f.lanes)
    mag = wide.op("and", wide_x, _sign_bit(f) - 1)
    moved = v.emit(f"bitcast {g.it} {wide.op('shl', mag, dst.fbits - src.fbits)} to {g.t}")
    scaled = v.emit(f"fmul {g.t} {moved}, {g.const(2.0 ** (dst.bias - src.bias))}")
    bits = v.emit(f"bitcast {g.t} {scaled} to {g.it}")
    sign = wide.op("shl", wide.op("and", wide_x, _sign_bit(f)), (8 << to) - (8 << f.esz))
    ok = narrow.cmp("ult", narrow.op("and", x, _sign_bit(f) - 1), src.emax_field << src.fbits)
    return wide.op("or", bits, sign), wide.t, ok


def narrow(v, f: F, to: int, odd: bool) -> tuple[str, str, str, str]:
    """The lanes of ``f`` (loaded from a) rounded to the narrower precision
    ``to``, to nearest even or (``odd``) to odd: (result bits, their type,
    ok, inexact).  The shortcut covers zeros and results in the normal
    range, where Arm's rounding is the integer one on the magnitude's bits:
    no tininess (Arm's, before rounding, or any other), no overflow."""
    src, dst = arm_fp.FMTS[f.esz], arm_fp.FMTS[to]
    ints = _ints(f)
    x = ints.load("a")
    mag = ints.op("and", x, _sign_bit(f) - 1)
    shift = src.fbits - dst.fbits
    # the magnitude rebiased to the narrow exponent, with ``shift`` extra bits
    t = ints.op("sub", mag, (src.bias - dst.bias) << src.fbits)
    inexact = ints.cmp("ne", ints.op("and", t, (1 << shift) - 1), 0)
    if odd:
        r = ints.op("or", ints.op("lshr", t, shift), ints.flag(inexact))
    else:
        lsb = ints.op("and", ints.op("lshr", t, shift), 1)
        r = ints.op("lshr", ints.op("add", ints.op("add", t, (1 << (shift - 1)) - 1), lsb), shift)
    min_normal = (dst.min_exp + src.bias) << src.fbits         # 2^emin of ``to``, as source bits
    normal = v.emit(f"and {ints.bt} {ints.cmp('uge', mag, min_normal)}, "
                    f"{ints.cmp('ult', r, dst.emax_field << dst.fbits)}")
    zero = ints.cmp("eq", mag, 0)
    r = ints.select(zero, 0, r)
    r = ints.op("or", r, ints.op("lshr", ints.op("and", x, _sign_bit(f)), (8 << f.esz) - (8 << to)))
    out, out_ints = ints.cast(r, 8 << to)
    ok = v.emit(f"or {ints.bt} {normal}, {zero}")
    return out, out_ints.t, ok, inexact


def _wide_source(esz: int, oprsz: int) -> tuple[int, int]:
    return esz, 8 >> esz                        # fcvtl: 8 bytes of narrow lanes


def _narrow_source(esz: int, oprsz: int) -> tuple[int, int]:
    return esz + 1, (2 * oprsz) >> (esz + 1)    # twice the result's bytes of wide lanes


@lowers_fp(VecOp.fcvtl, source=_wide_source, half=True)
def gen_fcvtl(v, f: F):
    """Half to single or single to double (16 bytes of results)."""
    if f.esz == 2:                                 # LLVM's own widening is exact
        a = f.load("a")
        g = F(v, 3, f.lanes)
        return emit_store(v, v.emit(f"fpext {f.t} {a} to {g.t}"), g.t, 16), f.fcmp("ord", a, a), "0"
    r, ty, ok = widen(v, f, f.esz + 1)
    return emit_store(v, r, ty, 16), ok, "0"


@lowers_fp(VecOp.fcvtn, VecOp.fcvtxn, source=_narrow_source, half=True)
def gen_fcvtn(v, f: F):
    """Double to single or single to half, rounding to nearest (fcvtxn:
    double to single, rounding to odd, whatever FPCR says)."""
    r, ty, ok, inexact = narrow(v, f, v.esz, odd=v.kind is VecOp.fcvtxn)
    return emit_store(v, r, ty, v.oprsz), ok, status_ixc(f, inexact)


# -- estimates ----------------------------------------------------------------------------------
# FPRecipEstimate and FPRSqrtEstimate of a normal operand: the exponent
# reflected, the fraction from RecipEstimate/RecipSqrtEstimate of its top
# bits (9-bit integer functions, computed per lane in 32 bits).

def _recip_estimate(e: Ints, top8: str) -> str:
    """RecipEstimate(256 + top8) & 0xff: ((2^19 // (2a + 1)) + 1) // 2."""
    a = e.op("or", e.op("shl", top8, 1), 513)
    return e.op("and", e.op("lshr", e.op("add", e.op("udiv", e.k(1 << 19), a), 1), 1), 0xFF)


def _rsqrt_estimate(e: Ints, scaled: str) -> str:
    """RecipSqrtEstimate(scaled) & 0xff for scaled in 128..511: with a the
    pseudocode's odd/even adjustment of it and k the least integer with
    a * k^2 >= 2^28 (k - 1 is its loop's b, never below 512 for these a),
    that is k // 2.  k is one more than the single-precision
    floor(sqrt(2^28 / a)), correctly rounded IEEE operations all: checked
    for each of the 384 values of a (tests/test_lower_fp.py, exhaustively)."""
    low = e.cmp("ult", scaled, 256)
    a = e.select(low, e.op("or", e.op("shl", scaled, 1), 1),
                 e.op("shl", e.op("or", e.op("and", scaled, 0x1FE), 1), 1))
    v, n = e.v, e.lanes
    ft = f"<{n} x float>" if n > 1 else "float"
    sfx = f"v{n}f32" if n > 1 else "f32"
    g = F(v, 2, n)
    q = v.emit(f"fdiv {ft} {g.const(2.0 ** 28)}, {v.emit(f'sitofp {e.t} {a} to {ft}')}")
    k0 = v.emit(f"fptosi {ft} {v.emit(f'call {ft} @llvm.sqrt.{sfx}({ft} {q})')} to {e.t}")
    return e.op("and", e.op("lshr", e.op("add", k0, 1), 1), 0xFF)


@lowers_fp(VecOp.frecpe, VecOp.frsqrte, half=True)
def gen_estimate(v, f: F):
    """Shortcut lanes: normal operands whose result is normal too (frecpe:
    exponent field below 2*bias - 1; frsqrte: positive); then neither the
    rounding mode nor FZ matters and no exception is raised."""
    fmt = arm_fp.FMTS[f.esz]
    x_ints = _ints(f)
    x = x_ints.load("a")
    exp_w = x_ints.op("and", x_ints.op("lshr", x, fmt.fbits), fmt.emax_field)
    frac_w = x_ints.op("and", x, (1 << fmt.fbits) - 1)
    exp, e = x_ints.cast(exp_w, 32)
    frac, _ = x_ints.cast(x_ints.op("lshr", frac_w, fmt.fbits - 8), 32)    # its top 8 bits
    in_range = lambda hi: e.cmp("ult", e.op("sub", exp, 1), hi)          # noqa: E731  1 <= exp <= hi
    if v.kind is VecOp.frecpe:
        ok = in_range(2 * fmt.bias - 2)
        est = _recip_estimate(e, frac)
        rexp = e.op("sub", e.k(2 * fmt.bias - 1), exp)
        sign = x_ints.op("and", x, _sign_bit(f))
    else:
        positive = x_ints.cmp("ult", x, _sign_bit(f))
        ok = v.emit(f"and {e.bt} {in_range(fmt.emax_field - 1)}, {positive}")
        # an odd exponent takes one fraction bit fewer (scaled 128..255)
        odd = e.cmp("ne", e.op("and", exp, 1), 0)
        scaled = e.select(odd, e.op("or", e.op("lshr", frac, 1), 128), e.op("or", frac, 256))
        est = _rsqrt_estimate(e, scaled)
        rexp = e.op("lshr", e.op("sub", e.k(3 * fmt.bias - 1), exp), 1)
        sign = None
    rexp_w, _ = e.cast(rexp, x_ints.bits)
    est_w, _ = e.cast(est, x_ints.bits)
    r = x_ints.op("or", x_ints.op("shl", rexp_w, fmt.fbits), x_ints.op("shl", est_w, fmt.fbits - 8))
    if sign is not None:
        r = x_ints.op("or", r, sign)
    return emit_store(v, r, x_ints.t, v.oprsz), ok, "0"


@lowers_fp(VecOp.frecpx, half=True)
def gen_frecpx(v, f: F):
    """The exponent field inverted (zero's becomes the largest finite one),
    the fraction cleared; only NaNs take the Python path."""
    fmt = arm_fp.FMTS[f.esz]
    ints = _ints(f)
    x = ints.load("a")
    exp = ints.op("and", ints.op("lshr", x, fmt.fbits), fmt.emax_field)
    nan = v.emit(f"and {ints.bt} {ints.cmp('eq', exp, fmt.emax_field)}, "
                 f"{ints.cmp('ne', ints.op('and', x, (1 << fmt.fbits) - 1), 0)}")
    flipped = ints.select(ints.cmp("eq", exp, 0), fmt.emax_field - 1, ints.op("xor", exp, fmt.emax_field))
    r = ints.op("or", ints.op("and", x, _sign_bit(f)), ints.op("shl", flipped, fmt.fbits))
    return emit_store(v, r, ints.t, v.oprsz), _not(f, nan), "0"


def _not(f: F, bits: str) -> str:
    true = "true" if f.lanes == 1 else "<" + ", ".join(["i1 true"] * f.lanes) + ">"
    return f.emit(f"xor {f.bt} {bits}, {true}")


# -- Newton steps ----------------------------------------------------------------------------

@lowers_fp(VecOp.frecps, VecOp.frsqrts)
def gen_step(v, f: F):
    """frecps: 2 - a*b, frsqrts: (3 - a*b) / 2, rounded once.

    r = fma(-a, b, c) is Arm's result when a*b neither overflows nor sits
    near the subnormal range (|a*b| >= safe, or a zero product): r is then
    normal or an exact zero (c - a*b below 1 needs a*b near c, whose bits
    are no finer than 2^(2 - 2p)), so neither tininess nor halving it can go
    wrong.  Whether r is exact compares two error-free pairs: a*b = ph + pl
    (product and FMA residual) and c - r = q + eq (TwoSum).  Both highs are
    round-to-nearest of their sums, so a*b == c - r exactly when ph == q
    and pl == eq."""
    a, b = f.load("a"), f.load("b")
    c = f.const(3.0 if v.kind is VecOp.frsqrts else 2.0)
    r = f.call("fma", f.neg(a), b, c)
    q = f.emit(f"fsub {f.t} {c}, {r}")
    eq = _two_sum_err(f, c, f.neg(r), q)
    ph = f.emit(f"fmul {f.t} {a}, {b}")
    pl = f.call("fma", a, b, f.neg(ph))
    tame = f.or_(f.at_least(ph, f.safe), f.or_(f.is_zero(a), f.is_zero(b)))
    ok = f.and_(tame, f.finite(r))
    inexact = f.or_(f.fcmp("une", ph, q), f.fcmp("une", pl, eq))
    if v.kind is VecOp.frsqrts:
        r = f.emit(f"fmul {f.t} {r}, {f.const(0.5)}")
    return emit_store(v, r, f.t, v.oprsz), ok, status_ixc(f, inexact)


def _two_sum_err(f: F, a: str, b: str, s: str) -> str:
    """(a + b) - s exactly, for s = a + b rounded (TwoSum; no overflow)."""
    bv = f.emit(f"fsub {f.t} {s}, {a}")
    av = f.emit(f"fsub {f.t} {s}, {bv}")
    return f.emit(f"fadd {f.t} {f.emit(f'fsub {f.t} {a}, {av}')}, {f.emit(f'fsub {f.t} {b}, {bv}')}")
