"""Host code for the ``rvfp`` op (RISC-V F/D arithmetic) on its common path.

The op's meaning is softfloat.py's (``helpers.rvfp_semantics``).  As for
Arm's FP (lower_arm_fp.py, whose error-free transformations this reuses), the
host's IEEE operations in round-to-nearest-even give RISC-V's result and
flags except at the edges, so the code computes with them and keeps the
result only when it provably is softfloat's; otherwise it calls softfloat
through the ``rv_fp*`` helpers.  The edges that take that path:

* a NaN operand or result (RISC-V returns the canonical NaN, never the
  operand's payload, and raises NV for signalling ones), an infinite one,
  overflow, and results close enough to the subnormal range that underflow
  (tininess after rounding, and inexact) could be in question;
* a single operand that is not NaN-boxed (it reads as the canonical NaN);
* double fused multiply-add while fflags.NX is still clear (whether it is
  exact is not cheap to tell, and once NX is set -- it is sticky, and
  nearly every program sets it early -- it does not matter), and any fused
  multiply-add in a rounding mode other than round-to-nearest-even;
* inexact results in a dynamic rounding mode (frm) other than
  round-to-nearest-even, and inexact conversions from an integer in any
  mode but that one (a static mode is native elsewhere: see below, and
  conversions to an integer round with floor, ceil, trunc, round or
  roundeven).

A static directed mode comes from the round-to-nearest-even result and the
sign of its exact error (``_directed``): the directed result is that result
or its neighbour.  A dynamic one (frm, which compilers' instructions read)
is round-to-nearest-even nearly always: that is inline, frm's other modes
take softfloat -- the directed code for every dynamic instruction doubled
the compile time of FP-heavy blocks (bench_fp's 0.8 s to 1.7 s).

Flags on the fast path are NX alone (exactness from TwoSum or an FMA
residual, or a comparison with the operand), so fcsr's other bits never
change there.  fclass has no slow path: it is bit tests.
"""
from __future__ import annotations

from ...ir import rvfp
from ...ir.helpers import BY_NAME
from ...ir.ops import Op
from . import lower_arm_fp
from .lower import lowers
from .runtime import _c
from .lower_arm_fp import F

BOX = 0xFFFF_FFFF_0000_0000
CANONICAL_NAN_S = 0x7FC0_0000
_ESZ = (2, 3)                        # log2 bytes of a single, a double
# The result is valid in every rounding mode (or the code chose the mode).
ANY = "any"
# Valid in round-to-nearest-even only (when not exact).
RNE_ONLY = "rne"
_NEEDS_RNE = {rvfp.OP_FMA}
# llvm rounding intrinsic per rounding mode (conversions to an integer)
_ROUND = {rvfp.RNE: "roundeven", rvfp.RTZ: "trunc", rvfp.RDN: "floor", rvfp.RUP: "ceil",
          rvfp.RMM: "round"}
# integer kind of a conversion -> (bits, signed)
_KINDS = {0: (32, True), 1: (32, False), 2: (64, True), 3: (64, False)}


class _Emitter:
    """What lower_arm_fp.F needs of its operation: ``emit`` into a fresh value."""

    def __init__(self, fl):
        self.fl = fl

    def emit(self, text: str) -> str:
        t = self.fl.tmp()
        self.fl.emit(f"{t} = {text}")
        return t


def _all(e: _Emitter, *bits: str | None) -> str:
    out = "true"
    for b in bits:
        if b is not None:
            out = b if out == "true" else e.emit(f"and i1 {out}, {b}")
    return out


def _operand(e: _Emitter, fmt: int, x: str) -> tuple[str, str | None]:
    """Register value ``x`` as the host's float/double, and (singles) the
    i1 that it is NaN-boxed."""
    if fmt:
        return e.emit(f"bitcast i64 {x} to double"), None
    boxed = e.emit(f"icmp uge i64 {x}, {_c(BOX)}")
    lo = e.emit(f"trunc i64 {x} to i32")
    return e.emit(f"bitcast i32 {lo} to float"), boxed


def _register(e: _Emitter, fmt: int, v: str) -> str:
    """A host float/double as an f register's value (singles NaN-boxed)."""
    if fmt:
        return e.emit(f"bitcast double {v} to i64")
    i = e.emit(f"bitcast float {v} to i32")
    z = e.emit(f"zext i32 {i} to i64")
    return e.emit(f"or i64 {z}, {_c(BOX)}")


def _nx(e: _Emitter, inexact: str | None) -> str:
    return "0" if inexact is None else e.emit(f"select i1 {inexact}, i64 {rvfp.NX}, i64 0")


# -- the operations ---------------------------------------------------------------
# Each returns (result, flags, ok, valid) or None when this shape always takes
# the slow path: ``ok`` the i1 that the fast result is softfloat's in
# round-to-nearest-even, ``valid`` ANY, RNE_ONLY or the i1 that it is exact
# (then it holds in every rounding mode).

def _arith(e, op, fmt, rm, kind, a, b, c, fcsr):
    f = F(e, _ESZ[fmt], 1)
    x, bx = _operand(e, fmt, a)
    y, by = _operand(e, fmt, b)
    if op in (rvfp.OP_ADD, rvfp.OP_SUB):
        r, ok, inexact = lower_arm_fp.addsub(f, x, y, negate_b=op == rvfp.OP_SUB)
    elif op == rvfp.OP_MUL:
        r, ok, inexact = lower_arm_fp.mul(f, x, y)
    else:
        r, ok, inexact = lower_arm_fp.div(f, x, y)
    ok = _all(e, ok, bx, by)
    if rm == rvfp.DYN:
        return _register(e, fmt, r), _nx(e, inexact), ok, RNE_ONLY
    r, ok = _directed(e, f, op, rm, r, ok, lambda: _error_sign(e, f, op, x, y, r))
    return _register(e, fmt, r), _nx(e, inexact), ok, ANY


def _sqrt(e, op, fmt, rm, kind, a, b, c, fcsr):
    f = F(e, _ESZ[fmt], 1)
    x, bx = _operand(e, fmt, a)
    r, ok, inexact = lower_arm_fp.sqrt(f, x)
    ok = _all(e, ok, bx)
    if rm == rvfp.DYN:
        return _register(e, fmt, r), _nx(e, inexact), ok, RNE_ONLY
    r, ok = _directed(e, f, op, rm, r, ok, lambda: _error_sign(e, f, op, x, x, r))
    return _register(e, fmt, r), _nx(e, inexact), ok, ANY


# -- directed rounding -------------------------------------------------------------
# Where the fast path holds, r = RNE(v) is finite, clear of the subnormal
# range, and the error v - r is exactly known (TwoSum, or the FMA residual
# of a product, quotient or root): when it is not zero, v lies strictly
# between r and a neighbour of r, so every other mode's result is r or that
# neighbour, one step of r's bits away from zero ("away") or toward it.
# RMM differs from RNE only at a tie, which a quotient or a root never is
# (its odd significand would need more than the format's bits).

def _error_sign(e, f: F, op: int, x: str, y: str, r: str) -> tuple[str, str, str]:
    """(v > r, v < r, |v - r| is half the gap to r's neighbour away from
    zero) as i1s, for the exact result v of ``op`` on x, y."""
    if op in (rvfp.OP_ADD, rvfp.OP_SUB):
        yy = f.neg(y) if op == rvfp.OP_SUB else y
        bv = e.emit(f"fsub {f.t} {r}, {x}")             # TwoSum, as lower_arm_fp.addsub
        av = e.emit(f"fsub {f.t} {r}, {bv}")
        db = e.emit(f"fsub {f.t} {yy}, {bv}")
        da = e.emit(f"fsub {f.t} {x}, {av}")
        err = e.emit(f"fadd {f.t} {da}, {db}")
    elif op == rvfp.OP_MUL:
        err = f.call("fma", x, y, f.neg(r))
    elif op == rvfp.OP_DIV:
        err = f.call("fma", f.neg(r), y, x)             # x - r*y: v - r times y
        err = e.emit(f"select i1 {f.fcmp('olt', y, f.const(0.0))}, {f.t} {f.neg(err)}, {f.t} {err}")
    else:
        err = f.call("fma", f.neg(r), r, x)             # x - r*r: the sign of v - r
    if op in (rvfp.OP_DIV, rvfp.OP_SQRT):
        return f.fcmp("ogt", err, f.const(0.0)), f.fcmp("olt", err, f.const(0.0)), "false"
    return _signs(e, f, f, err, r, r)


def _signs(e, f: F, g: F, err: str, r: str, r_g: str) -> tuple[str, str, str]:
    """_error_sign's i1s from the exact error ``err`` (in format ``g``) of
    result r (format ``f``; r_g: r in format ``g``)."""
    above, below = g.fcmp("ogt", err, g.const(0.0)), g.fcmp("olt", err, g.const(0.0))
    bits = e.emit(f"bitcast {f.t} {r} to {f.it}")
    next_bits = e.emit(f"add {f.it} {bits}, 1")
    away = e.emit(f"bitcast {f.it} {next_bits} to {f.t}")
    if g is not f:
        away = e.emit(f"fpext {f.t} {away} to {g.t}")
    gap = e.emit(f"fsub {g.t} {g.abs(away)}, {g.abs(r_g)}")     # exact (Sterbenz)
    half = e.emit(f"fmul {g.t} {gap}, {g.const(0.5)}")
    return above, below, g.fcmp("oeq", g.abs(err), half)


def _directed(e, f: F, op: int, rm: int, r: str, ok: str, signs) -> tuple[str, str]:
    """The fast result r (round-to-nearest-even) and its ``ok`` in static
    rounding mode ``rm``; ``signs()`` emits _error_sign's i1s."""
    if rm == rvfp.RNE:
        return r, ok
    above, below, tie = signs()
    bits = e.emit(f"bitcast {f.t} {r} to {f.it}")
    neg = e.emit(f"icmp slt {f.it} {bits}, 0")
    pos = e.emit(f"xor i1 {neg}, true")
    # v farther from zero than r, or nearer
    outward = e.emit(f"or i1 {_all(e, above, pos)}, {_all(e, below, neg)}")
    inward = e.emit(f"or i1 {_all(e, above, neg)}, {_all(e, below, pos)}")
    rtz, rdn, rup, rmm = (("true" if rm == m else "false") for m in (rvfp.RTZ, rvfp.RDN, rvfp.RUP, rvfp.RMM))
    # away from zero: up from a positive r, down from a negative one, or RMM's tie
    away = e.emit(f"or i1 {_all(e, rup, above, pos)}, {_all(e, rdn, below, neg)}")
    away = e.emit(f"or i1 {away}, {_all(e, rmm, tie, outward)}")
    # toward zero: RTZ whenever v is nearer zero; RUP/RDN from the other side
    toward = e.emit(f"or i1 {_all(e, rtz, inward)}, {_all(e, rup, above, neg)}")
    toward = e.emit(f"or i1 {toward}, {_all(e, rdn, below, pos)}")
    step = e.emit(f"select i1 {away}, {f.it} 1, {f.it} 0")
    step = e.emit(f"select i1 {toward}, {f.it} -1, {f.it} {step}")
    moved = e.emit(f"add {f.it} {bits}, {step}")
    result = e.emit(f"bitcast {f.it} {moved} to {f.t}")
    ok = _all(e, ok, f.finite(result))                          # one step past the largest: overflow
    if op in (rvfp.OP_ADD, rvfp.OP_SUB):
        # an exact zero sum is -0 in RDN (IEEE 754 6.3), +0 from the host
        ok = _all(e, ok, e.emit(f"xor i1 {_all(e, rdn, f.is_zero(r))}, true"))
    return result, ok


def _fma(e, op, fmt, rm, kind, a, b, c, fcsr):
    """Singles: the exact a*b + c is a double-double (the product of two
    singles is exact in double, TwoSum adds c), so whether the host's
    result is exact is known.  Doubles: only with NX already set in fcsr,
    whose flags then are the operation's, or for a zero from cancellation,
    which is exact (below)."""
    f = F(e, _ESZ[fmt], 1)
    (x, bx), (y, by), (z, bz) = (_operand(e, fmt, v) for v in (a, b, c))
    r = f.call("fma", x, y, z)
    # An exact zero (zero product, zero addend: a sum starting from zero) is
    # no underflow, and the host gives its sign by the same IEEE rule.
    exact_zero = f.and_(f.is_zero(z), f.or_(f.is_zero(x), f.is_zero(y)))
    # So is a zero from cancellation, a*b == -c, where the product's last bit
    # is no finer than the smallest subnormal (|RN(a*b)| >= safe ensures it,
    # as for an FMA residual): a sum that is not zero is then a multiple of
    # the smallest subnormal and rounds to no zero.  Compilers make these
    # (x - x as fnmsub(1, x, x)), and with fflags.NX clear -- glibc's libm
    # clears it in its functions -- each took softfloat.
    cancelled = f.and_(f.is_zero(r), f.at_least(f.emit(f"fmul {f.t} {x}, {y}"), f.safe))
    operands = _all(e, f.finite(x), f.finite(y), bx, by, bz)
    ok = _all(e, f.and_(f.finite(r), f.or_(f.or_(f.at_least(r, f.safe), exact_zero), cancelled)), operands)
    if fmt:
        nx = e.emit(f"icmp ne i64 {e.emit(f'and i64 {fcsr}, {rvfp.NX}')}, 0")
        ok = e.emit(f"or i1 {_all(e, ok, nx)}, {_all(e, cancelled, operands)}")
        return _register(e, fmt, r), "0", ok, RNE_ONLY
    d = F(e, 3, 1)
    xd, yd, zd, rd = (e.emit(f"fpext float {v} to double") for v in (x, y, z, r))
    p = e.emit(f"fmul double {xd}, {yd}")                # exact: 24 + 24 bits
    s = e.emit(f"fadd double {p}, {zd}")
    bv = e.emit(f"fsub double {s}, {p}")                 # TwoSum: s + err == p + z
    av = e.emit(f"fsub double {s}, {bv}")
    err = e.emit(f"fadd double {e.emit(f'fsub double {p}, {av}')}, {e.emit(f'fsub double {zd}, {bv}')}")
    inexact = d.or_(d.nonzero(err), d.fcmp("une", rd, s))
    return _register(e, fmt, r), _nx(e, inexact), ok, RNE_ONLY


def _minmax(e, op, fmt, rm, kind, a, b, c, fcsr):
    """Neither operand a NaN: minimumNumber/maximumNumber are the host's
    ordered min/max with -0 < +0."""
    f = F(e, _ESZ[fmt], 1)
    x, bx = _operand(e, fmt, a)
    y, by = _operand(e, fmt, b)
    r, ordered, _ = lower_arm_fp.minmax(f, x, y, op == rvfp.OP_MAX)
    return _register(e, fmt, r), "0", _all(e, ordered, bx, by), ANY


_COMPARE = {rvfp.OP_FEQ: "oeq", rvfp.OP_FLT: "olt", rvfp.OP_FLE: "ole"}


def _compare(e, op, fmt, rm, kind, a, b, c, fcsr):
    f = F(e, _ESZ[fmt], 1)
    x, bx = _operand(e, fmt, a)
    y, by = _operand(e, fmt, b)
    r = e.emit(f"zext i1 {f.fcmp(_COMPARE[op], x, y)} to i64")
    return r, "0", _all(e, f.fcmp("ord", x, y), bx, by), ANY


def _fclass(e, op, fmt, rm, kind, a, b, c, fcsr):
    """The one-hot class (ISA manual, fclass) from the sign, exponent and
    fraction fields; an unboxed single is the canonical NaN."""
    width, mbits = (64, 52) if fmt else (32, 23)
    emax = (1 << (width - 1 - mbits)) - 1
    v = a
    if not fmt:
        boxed = e.emit(f"icmp uge i64 {a}, {_c(BOX)}")
        lo = e.emit(f"and i64 {a}, 4294967295")
        v = e.emit(f"select i1 {boxed}, i64 {lo}, i64 {CANONICAL_NAN_S}")
    sh = e.emit(f"lshr i64 {v}, {width - 1}")
    neg = e.emit(f"icmp ne i64 {sh}, 0")
    ex = e.emit(f"lshr i64 {v}, {mbits}")
    ex = e.emit(f"and i64 {ex}, {emax}")
    m = e.emit(f"and i64 {v}, {(1 << mbits) - 1}")
    q = e.emit(f"and i64 {v}, {1 << (mbits - 1)}")

    def pick(cond: str, t: int | str, f_: int | str) -> str:
        return e.emit(f"select i1 {cond}, i64 {t}, i64 {f_}")
    e_max, e_zero = e.emit(f"icmp eq i64 {ex}, {emax}"), e.emit(f"icmp eq i64 {ex}, 0")
    m_zero, quiet = e.emit(f"icmp eq i64 {m}, 0"), e.emit(f"icmp ne i64 {q}, 0")
    finite = pick(e_zero, pick(m_zero, pick(neg, 1 << 3, 1 << 4), pick(neg, 1 << 2, 1 << 5)),
                  pick(neg, 1 << 1, 1 << 6))
    special = pick(m_zero, pick(neg, 1 << 0, 1 << 7), pick(quiet, 1 << 9, 1 << 8))
    return pick(e_max, special, finite), "0", "true", ANY


def _to_int(e, op, fmt, rm, kind, a, b, c, fcsr):
    """fcvt.{w,wu,l,lu}: a static rounding mode natively, frm's when it is
    round-to-nearest-even (or the operand is integral); out of range (the
    saturating cases, NV) and NaN take the slow path."""
    f = F(e, _ESZ[fmt], 1)
    bits, signed = _KINDS[kind]
    x, bx = _operand(e, fmt, a)
    r = f.call(_ROUND[rm if rm in _ROUND else rvfp.RNE], x)
    lo, hi = (-2.0 ** (bits - 1), 2.0 ** (bits - 1)) if signed else (0.0, 2.0 ** bits)
    ok = _all(e, f.fcmp("oge", r, f.const(lo)), f.fcmp("olt", r, f.const(hi)), bx)
    i = e.emit(f"{'fptosi' if signed else 'fptoui'} {f.t} {r} to i{bits}")
    if bits == 32:                  # sign-extended, fcvt.wu's too
        i = e.emit(f"sext i32 {i} to i64")
    inexact = f.fcmp("une", r, x)
    valid = ANY if rm in _ROUND else e.emit(f"xor i1 {inexact}, true")
    return i, _nx(e, inexact), ok, valid


def _from_int(e, op, fmt, rm, kind, a, b, c, fcsr):
    """fcvt.{s,d}.{w,wu,l,lu}: the host's conversion (round to nearest even);
    inexact when the magnitude has set bits below its top ``precision``."""
    f = F(e, _ESZ[fmt], 1)
    bits, signed = _KINDS[kind]
    i = a if bits == 64 else e.emit(f"trunc i64 {a} to i32")
    ity = f"i{bits}"
    r = e.emit(f"{'sitofp' if signed else 'uitofp'} {ity} {i} to {f.t}")
    if bits <= f.prec:
        return _register(e, fmt, r), "0", "true", ANY
    m = i
    if signed:
        neg = e.emit(f"sub {ity} 0, {i}")
        isneg = e.emit(f"icmp slt {ity} {i}, 0")
        m = e.emit(f"select i1 {isneg}, {ity} {neg}, {ity} {i}")
    lz = e.emit(f"call {ity} @llvm.ctlz.{ity}({ity} {m}, i1 false)")
    used = e.emit(f"sub {ity} {bits}, {lz}")
    over = e.emit(f"sub {ity} {used}, {f.prec}")
    pos = e.emit(f"icmp sgt {ity} {over}, 0")
    over = e.emit(f"select i1 {pos}, {ity} {over}, {ity} 0")
    low = e.emit(f"shl {ity} 1, {over}")
    low = e.emit(f"sub {ity} {low}, 1")
    lost = e.emit(f"and {ity} {m}, {low}")
    inexact = e.emit(f"icmp ne {ity} {lost}, 0")
    exact = e.emit(f"icmp eq {ity} {lost}, 0")
    return _register(e, fmt, r), _nx(e, inexact), "true", exact


def _convert(e, op, fmt, rm, kind, a, b, c, fcsr):
    """fcvt.d.s (exact but for NaNs) and fcvt.s.d (fmt: the destination)."""
    if fmt:
        x, bx = _operand(e, 0, a)
        s = F(e, 2, 1)
        r = e.emit(f"fpext float {x} to double")
        return _register(e, 1, r), "0", _all(e, s.fcmp("ord", x, x), bx), ANY
    d, s = F(e, 3, 1), F(e, 2, 1)
    x = e.emit(f"bitcast i64 {a} to double")
    r = e.emit(f"fptrunc double {x} to float")
    back = e.emit(f"fpext float {r} to double")
    # Narrowed results stay clear of the subnormal range (tininess), and
    # overflow (or a NaN) shows as a non-finite result.
    ok = d.and_(d.finite(back), d.or_(d.at_least(back, 2.0 ** (s.emin + 1)), d.is_zero(x)))
    inexact = d.fcmp("une", back, x)
    # the error x - r, exact in double (the two are within a factor of 2)
    err = e.emit(f"fsub double {x}, {back}")
    if rm == rvfp.DYN:
        return _register(e, 0, r), _nx(e, inexact), ok, d.fcmp("oeq", back, x)
    r, ok = _directed(e, s, op, rm, r, ok, lambda: _signs(e, s, d, err, r, back))
    return _register(e, 0, r), _nx(e, inexact), ok, ANY


_FAST = {
    rvfp.OP_ADD: _arith, rvfp.OP_SUB: _arith, rvfp.OP_MUL: _arith, rvfp.OP_DIV: _arith,
    rvfp.OP_SQRT: _sqrt, rvfp.OP_FMA: _fma, rvfp.OP_MIN: _minmax, rvfp.OP_MAX: _minmax,
    rvfp.OP_FEQ: _compare, rvfp.OP_FLT: _compare, rvfp.OP_FLE: _compare,
    rvfp.OP_CLASS: _fclass, rvfp.OP_TO_INT: _to_int, rvfp.OP_FROM_INT: _from_int,
    rvfp.OP_CVT: _convert,
}


# -- lowering ------------------------------------------------------------------------

def _slow(fl, e: _Emitter, op: int, control: str, a: str, b: str, c: str) -> tuple[str, str]:
    """softfloat through the helpers: (result, flags)."""
    def helper(name: str, *args: str) -> str:
        ref = fl.rt.helper_ref(BY_NAME[name].id)
        return e.emit(f"call i64 {ref}(" + ", ".join(f"i64 {x}" for x in args) + ")")
    if op == rvfp.OP_FMA:
        helper("rv_fp_ctl", control, "0", "0")
        value = helper("rv_fma", a, b, c)
    else:
        value = helper("rv_fp", a, b, control)
    return value, helper("rv_fp_flags", "0", "0", "0")


@lowers(Op.rvfp)
def lower_rvfp(fl, insn):
    control = insn.consts[0]
    op, fmt, rm, kind = rvfp.fields(control)
    a, b, c, fcsr = (fl.get(t) for t in insn.ins)
    e = _Emitter(fl)
    frm = None
    if rm == rvfp.DYN:
        frm = e.emit(f"lshr i64 {fcsr}, {rvfp.FRM_SHIFT}")
        frm = e.emit(f"and i64 {frm}, 7")
        shifted = e.emit(f"shl i64 {frm}, {rvfp.RM_SHIFT}")
        resolved = e.emit(f"or i64 {shifted}, {control & ~(7 << rvfp.RM_SHIFT)}")
    else:
        resolved = str(control)
    if frm is None and rm != rvfp.RNE and op in _NEEDS_RNE:
        value, flags = _slow(fl, e, op, resolved, a, b, c)       # a directed mode, statically
    else:
        value, flags = _fast_or_slow(fl, e, op, fmt, rm, kind, a, b, c, fcsr, resolved, frm)
    fl.set(insn.outs[0], value)
    fl.set(insn.outs[1], e.emit(f"or i64 {fcsr}, {flags}") if flags != "0" else fcsr)


def _fast_or_slow(fl, e, op, fmt, rm, kind, a, b, c, fcsr, resolved, frm) -> tuple[str, str]:
    """The fast path where ``ok`` (and the rounding mode allows), else the
    slow one; ``frm``: the dynamic rounding mode's value, None when static."""
    value_f, flags_f, ok, valid = _FAST[op](e, op, fmt, rm, kind, a, b, c, fcsr)
    if valid is not ANY:
        rne = "true"
        if frm is not None:
            rne = e.emit(f"icmp eq i64 {frm}, {rvfp.RNE}")
        elif rm != rvfp.RNE:
            rne = "false"
        if valid is not RNE_ONLY:
            rne = rne if rne == "true" else e.emit(f"or i1 {rne}, {valid}")
        ok = _all(e, ok, rne if rne != "true" else None)
    if ok == "true":
        return value_f, flags_f
    fast_bb, slow_bb, join_bb = fl.new_bb("rvfast"), fl.new_bb("rvslow"), fl.new_bb("rvjoin")
    fl.emit(f"br i1 {ok}, label %{fast_bb}, label %{slow_bb}, !prof !1")
    fl.start_bb(fast_bb)
    fl.emit(f"br label %{join_bb}")
    fl.start_bb(slow_bb)
    value_s, flags_s = _slow(fl, e, op, resolved, a, b, c)
    fl.emit(f"br label %{join_bb}")
    fl.start_bb(join_bb)
    value = e.emit(f"phi i64 [ {value_f}, %{fast_bb} ], [ {value_s}, %{slow_bb} ]")
    flags = e.emit(f"phi i64 [ {flags_f}, %{fast_bb} ], [ {flags_s}, %{slow_bb} ]")
    return value, flags

