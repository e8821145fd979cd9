"""Native lowering of the integer vec ops that saturate, halve, round,
widen, narrow or insert (issue 14: run through the Python semantics, a C
SHA-256 that gcc vectorised ran 30 times slower than under qemu-aarch64).

Each function computes exactly what its ``@semantics`` in tcgpy.frontends.aarch64.vecsem
computes, which stays the definition (the JIT-versus-interpreter tests
hold these to it); the status word is FPSR.QC (``arm_vec.QC``) when some
lane saturated.  The ways to stay exact without a wider type:

* saturation is detected by comparing LLVM's saturating result with the
  wrapping one (they differ exactly when the true result is out of range);
* a rounding shift right ``(p + (1 << (n-1))) >> n`` is ``(p >> n)`` plus
  bit n-1 of p, which cannot overflow the lane;
* a doubling multiply ``(2*p*q + r) >> bits`` is ``(p*q + r/2) >> (bits-1)``,
  whose product fits twice the lane.

A constant combination the A64 frontend never emits (say an unsigned
source saturated to a signed result by ``qshli``) calls the Python
semantics instead, so a lowering is never wrong, only slow, off that path.
"""
from __future__ import annotations

from ...ir import semantics
from .lower import on_demand
from .lower_arm_vec import V, lowers_vec

# Arm's vec-op semantics: the AArch64 target's definitions, found by name
# (tcgpy.ir.semantics).
arm_vec = semantics.lookup("arm_vec")
QC, VecOp = arm_vec.QC, arm_vec.VecOp

# Intrinsics on every vector type up to 256 bits the lowerings below use
# (a module declares only those its code calls: lower.on_demand).
_BINARY_INTRINSICS = ("sadd.sat", "uadd.sat", "ssub.sat", "usub.sat", "smin", "smax", "umin", "umax")
DECLS = "".join(
    f"declare <{n} x i{bits}> @llvm.{name}.v{n}i{bits}(<{n} x i{bits}>, <{n} x i{bits}>)\n"
    for n in (1, 2, 4, 8, 16) for bits in (8, 16, 32, 64) for name in _BINARY_INTRINSICS
) + "".join(f"declare <{n} x double> @llvm.sqrt.v{n}f64(<{n} x double>)\n" for n in (1, 2, 4))
on_demand(DECLS)


def _signed(value: int, bits: int) -> int:
    """``value`` as a signed ``bits``-bit number, the way LLVM prints constants."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class Lanes:
    """Arithmetic on ``n`` integer lanes of 8 << esz bits for one vec insn."""

    def __init__(self, v: V, esz: int, n: int):
        self.v = v
        self.esz = esz
        self.n = n
        self.bits = 8 << esz
        self.t = f"<{n} x i{self.bits}>"
        self.bt = f"<{n} x i1>"
        self.smin_value = -(1 << (self.bits - 1))
        self.smax_value = (1 << (self.bits - 1)) - 1

    def wide(self) -> Lanes:
        return Lanes(self.v, self.esz + 1, self.n)

    def emit(self, text: str) -> str:
        return self.v.emit(text)

    def const(self, value: int) -> str:
        c = _signed(value, self.bits)
        return "<" + ", ".join([f"i{self.bits} {c}"] * self.n) + ">"

    def load(self, off: int) -> str:
        return self.v.load(off, self.esz, self.n << self.esz)

    def store(self, value: str) -> None:
        self.v.store(value, self.esz, self.n << self.esz)

    def op(self, name: str, p: str, q: str) -> str:
        return self.emit(f"{name} {self.t} {p}, {q}")

    def cmp(self, pred: str, p: str, q: str) -> str:
        return self.emit(f"icmp {pred} {self.t} {p}, {q}")

    def sel(self, c: str, p: str, q: str) -> str:
        return self.emit(f"select {self.bt} {c}, {self.t} {p}, {self.t} {q}")

    def call(self, name: str, p: str, q: str) -> str:
        return self.emit(f"call {self.t} @llvm.{name}.v{self.n}i{self.bits}({self.t} {p}, {self.t} {q})")

    def bool_op(self, name: str, c: str, d: str) -> str:
        return self.emit(f"{name} {self.bt} {c}, {d}")

    def not_(self, c: str) -> str:
        return self.emit(f"xor {self.bt} {c}, <{', '.join(['i1 true'] * self.n)}>")

    def extend(self, p: str, to: Lanes, signed: bool) -> str:
        return self.emit(f"{'sext' if signed else 'zext'} {self.t} {p} to {to.t}")

    def trunc(self, p: str, to: Lanes) -> str:
        return self.emit(f"trunc {self.t} {p} to {to.t}")

    def shr(self, p: str, amount: int, signed: bool) -> str:
        """``p >> amount`` for a constant amount (which may reach the lane size)."""
        if amount == 0:
            return p
        if amount >= self.bits:
            return self.op("ashr", p, self.const(self.bits - 1)) if signed else self.const(0)
        return self.op("ashr" if signed else "lshr", p, self.const(amount))

    def round_shr(self, p: str, amount: int, signed: bool) -> str:
        """``(p + (1 << (amount-1))) >> amount``, as ``p >> amount`` plus the
        last bit shifted out (no overflow, even for amount == lane size)."""
        if amount == 0:
            return p
        carry = self.op("and", self.shr(p, amount - 1, signed), self.const(1))
        return self.op("add", self.shr(p, amount, signed), carry)

    def clamp(self, p: str, lo: int | None, hi: int, signed: bool) -> str:
        """p limited to [lo, hi] (lo None: p is never below it)."""
        p = self.call("smin" if signed else "umin", p, self.const(hi))
        return p if lo is None else self.call("smax" if signed else "umax", p, self.const(lo))

    def qc(self, saturated: str) -> str:
        """The status word: QC when any lane of the i1 vector is set."""
        bits = self.emit(f"bitcast {self.bt} {saturated} to i{self.n}")
        any_ = self.emit(f"icmp ne i{self.n} {bits}, 0")
        return self.emit(f"select i1 {any_}, i64 {QC}, i64 0")


def _same(v: V) -> Lanes:
    return Lanes(v, v.esz, v.lanes)


# -- halving, saturating add/sub, absolute difference ---------------------------------------

@lowers_vec(VecOp.hadd, VecOp.hsub)
def lower_halving(v: V) -> None:
    """(p + q [+ 1]) >> 1 and (p - q) >> 1, in lanes twice as wide."""
    signed = bool(v.imm & 1)
    n = _same(v)
    w = n.wide()
    p, q = (n.extend(n.load(off), w, signed) for off in (v.a, v.b))
    s = w.op("add" if v.kind is VecOp.hadd else "sub", p, q)
    if v.kind is VecOp.hadd and v.imm & 2:
        s = w.op("add", s, w.const(1))
    # the wide lanes hold the exact sum or difference (which may be negative
    # for unsigned lanes too): ashr is Python's floor
    s = w.op("ashr", s, w.const(1))
    n.store(w.trunc(s, n))


@lowers_vec(VecOp.qadd, VecOp.qsub)
def lower_qaddsub(v: V) -> str:
    ln = _same(v)
    p, q = ln.load(v.a), ln.load(v.b)
    add = v.kind is VecOp.qadd
    r = ln.call(("s" if v.imm & 1 else "u") + ("add" if add else "sub") + ".sat", p, q)
    ln.store(r)
    return ln.qc(ln.cmp("ne", r, ln.op("add" if add else "sub", p, q)))


def _absdiff(ln: Lanes, p: str, q: str, signed: bool) -> str:
    """|p - q|, which always fits the unsigned lane."""
    gt = ln.cmp("sgt" if signed else "ugt", p, q)
    return ln.sel(gt, ln.op("sub", p, q), ln.op("sub", q, p))


@lowers_vec(VecOp.abd)
def lower_abd(v: V) -> None:
    ln = _same(v)
    r = _absdiff(ln, ln.load(v.a), ln.load(v.b), bool(v.imm & 1))
    if v.imm & 2:
        r = ln.op("add", ln.load(v.d), r)
    ln.store(r)


@lowers_vec(VecOp.abdl)
def lower_abdl(v: V) -> None:
    n = Lanes(v, v.esz, 8 >> v.esz)
    w = n.wide()
    r = n.extend(_absdiff(n, n.load(v.a), n.load(v.b), bool(v.imm & 1)), w, False)
    if v.imm & 2:
        r = w.op("add", w.load(v.d), r)
    w.store(r)


@lowers_vec(VecOp.mlal)
def lower_mlal(v: V) -> None:
    n = Lanes(v, v.esz, 8 >> v.esz)
    w = n.wide()
    p, q = (n.extend(n.load(off), w, bool(v.imm & 1)) for off in (v.a, v.b))
    w.store(w.op("sub" if v.imm & 2 else "add", w.load(v.d), w.op("mul", p, q)))


@lowers_vec(VecOp.addhn, VecOp.subhn)
def lower_hn(v: V) -> None:
    """The high halves of wide sums: a wrapping sum has the same bits."""
    n = Lanes(v, v.esz, 8 >> v.esz)
    w = n.wide()
    s = w.op("add" if v.kind is VecOp.addhn else "sub", w.load(v.a), w.load(v.b))
    if v.imm & 2:
        s = w.op("add", s, w.const(1 << (n.bits - 1)))
    n.store(w.trunc(w.op("lshr", s, w.const(n.bits)), n))


# -- saturating unary and accumulate ------------------------------------------------------------

@lowers_vec(VecOp.qabs)
def lower_qabs(v: V) -> str:
    """sqabs/sqneg: only the most negative lane saturates (to the largest)."""
    ln = _same(v)
    p = ln.load(v.a)
    neg = ln.op("sub", ln.const(0), p)
    r = neg if v.imm & 2 else ln.sel(ln.cmp("slt", p, ln.const(0)), neg, p)
    is_min = ln.cmp("eq", p, ln.const(ln.smin_value))
    ln.store(ln.sel(is_min, ln.const(ln.smax_value), r))
    return ln.qc(is_min)


@lowers_vec(VecOp.uqacc)
def lower_uqacc(v: V) -> str:
    ln = _same(v)
    d, a = ln.load(v.d), ln.load(v.a)
    sign = ln.const(ln.smin_value)
    if v.imm & 1:
        # suqadd: signed d + unsigned a.  With d's sign bit flipped (d +
        # 2^(bits-1), unsigned) the signed overflow is an unsigned one.
        r = ln.op("xor", ln.call("uadd.sat", ln.op("xor", d, sign), a), sign)
    else:
        # usqadd: unsigned d + signed a, one saturation for each sign of a
        up = ln.call("uadd.sat", d, a)
        down = ln.call("usub.sat", d, ln.op("sub", ln.const(0), a))
        r = ln.sel(ln.cmp("slt", a, ln.const(0)), down, up)
    ln.store(r)
    return ln.qc(ln.cmp("ne", r, ln.op("add", d, a)))


# -- saturating doubling multiplies ------------------------------------------------------------

@lowers_vec(VecOp.qdmulh)
def lower_qdmulh(v: V) -> str:
    """sat((2*p*q + round) >> bits) = sat((p*q + round/2) >> (bits-1)):
    only p = q = MIN goes past the largest lane."""
    n = _same(v)
    w = n.wide()
    prod = w.op("mul", *(n.extend(n.load(off), w, True) for off in (v.a, v.b)))
    if v.imm & 2:
        prod = w.op("add", prod, w.const(1 << (n.bits - 2)))
    r = w.op("ashr", prod, w.const(n.bits - 1))
    c = w.clamp(r, None, n.smax_value, True)
    n.store(w.trunc(c, n))
    return w.qc(w.cmp("ne", c, r))


@lowers_vec(VecOp.qrdmlah)
def lower_qrdmlah(v: V) -> str:
    """sat(((d << bits) +- 2*p*q + (1 << (bits-1))) >> bits): d is a whole
    multiple of 2^bits there, so this is d + ((+-p*q + 2^(bits-2)) >> (bits-1))."""
    n = _same(v)
    w = n.wide()
    prod = w.op("mul", *(n.extend(n.load(off), w, True) for off in (v.a, v.b)))
    if v.imm & 2:
        prod = w.op("sub", w.const(0), prod)
    h = w.op("ashr", w.op("add", prod, w.const(1 << (n.bits - 2))), w.const(n.bits - 1))
    r = w.op("add", n.extend(n.load(v.d), w, True), h)
    c = w.clamp(r, n.smin_value, n.smax_value, True)
    n.store(w.trunc(c, n))
    return w.qc(w.cmp("ne", c, r))


@lowers_vec(VecOp.qdmlal)
def lower_qdmlal(v: V) -> str:
    """sat(2*p*q) into lanes twice as wide, then sat(d +- that)."""
    n = _same(v)
    w = n.wide()
    prod = w.op("mul", *(n.extend(n.load(off), w, True) for off in (v.a, v.b)))
    r = w.call("sadd.sat", prod, prod)
    sat = w.cmp("ne", r, w.op("add", prod, prod))
    if v.imm & 6:
        d = w.load(v.d)
        op = "sub" if v.imm & 4 else "add"
        acc = w.call(f"s{op}.sat", d, r)
        sat = w.bool_op("or", sat, w.cmp("ne", acc, w.op(op, d, r)))
        r = acc
    w.store(r)
    return w.qc(sat)


# -- shifts ---------------------------------------------------------------------------------------

def _sat_shl(ln: Lanes, p: str, amount: str, too_far: str | None, signed: bool) -> tuple[str, str]:
    """``p << amount`` saturated to the lane (same signedness as p), and the
    lanes that saturated.  ``amount`` is below the lane size; ``too_far``
    (or None) marks lanes whose real shift count is not (only 0 fits)."""
    shifted = ln.op("shl", p, amount)
    fits = ln.cmp("eq", ln.op("ashr" if signed else "lshr", shifted, amount), p)
    if too_far is not None:
        fits = ln.bool_op("and", fits, ln.bool_op("or", ln.not_(too_far), ln.cmp("eq", p, ln.const(0))))
    if signed:
        limit = ln.sel(ln.cmp("slt", p, ln.const(0)), ln.const(ln.smin_value), ln.const(ln.smax_value))
    else:
        limit = ln.const(-1)
    return ln.sel(fits, shifted, limit), ln.not_(fits)


@lowers_vec(VecOp.qshli)
def lower_qshli(v: V) -> str:
    sh = v.imm & 0x7F
    src_signed, dst_signed = bool(v.imm & 0x80), bool(v.imm & 0x100)
    ln = _same(v)
    if sh >= ln.bits or (dst_signed and not src_signed):
        return v.call_python()          # not an A64 form
    p = ln.load(v.a)
    if src_signed and not dst_signed:
        # sqshlu: a negative lane saturates to 0, the rest shift unsigned
        r, sat = _sat_shl(ln, p, ln.const(sh), None, False)
        negative = ln.cmp("slt", p, ln.const(0))
        r = ln.sel(negative, ln.const(0), r)
        sat = ln.bool_op("or", sat, negative)
    else:
        r, sat = _sat_shl(ln, p, ln.const(sh), None, src_signed)
    ln.store(r)
    return ln.qc(sat)


@lowers_vec(VecOp.shl)
def lower_shl(v: V) -> str | None:
    """[su][q][r]shl: shift by the signed low byte of b's lane, left when
    positive (saturating: imm bit 2), right when negative (rounding: bit 1);
    counts at or past the lane size shift everything out."""
    signed, rnd, sat = bool(v.imm & 1), bool(v.imm & 2), bool(v.imm & 4)
    ln = _same(v)
    top = ln.const(ln.bits - 1)
    p, b = ln.load(v.a), ln.load(v.b)
    if ln.esz:
        byte = Lanes(v, 0, ln.n)
        b = byte.extend(ln.trunc(b, byte), ln, True)
    right = ln.cmp("slt", b, ln.const(0))

    def limited(count: str) -> tuple[str, str]:
        """(min(count, bits-1), count >= bits), count unsigned."""
        too_far = ln.cmp("uge", count, ln.const(ln.bits))
        return ln.sel(too_far, top, count), too_far

    def shr(count: str) -> str:
        amount, too_far = limited(count)
        if signed:                      # past the lane: copies of the sign
            return ln.op("ashr", p, amount)
        return ln.sel(too_far, ln.const(0), ln.op("lshr", p, amount))

    # right by n = -b, 1..128 (as an unsigned count even for b = -128)
    n = ln.op("sub", ln.const(0), b)
    r_right = shr(n)
    if rnd:
        r_right = ln.op("add", r_right, ln.op("and", shr(ln.op("sub", n, ln.const(1))), ln.const(1)))
    # left by b, 0..127
    amount, too_far = limited(b)
    status = None
    if sat:
        r_left, saturated = _sat_shl(ln, p, amount, too_far, signed)
        status = ln.qc(ln.bool_op("and", saturated, ln.not_(right)))
    else:
        r_left = ln.sel(too_far, ln.const(0), ln.op("shl", p, amount))
    ln.store(ln.sel(right, r_right, r_left))
    return status


@lowers_vec(VecOp.rshri)
def lower_rshri(v: V) -> None:
    """[su]sra, [su]rshr, [su]rsra: the count may be the lane size."""
    sh, signed = v.imm & 0x7F, bool(v.imm & 0x80)
    ln = _same(v)
    p = ln.load(v.a)
    r = ln.round_shr(p, sh, signed) if v.imm & 0x200 else ln.shr(p, sh, signed)
    if v.imm & 0x100:
        r = ln.op("add", ln.load(v.d), r)
    ln.store(r)


@lowers_vec(VecOp.sri, VecOp.sli)
def lower_insert(v: V) -> None:
    """Shift and insert: d keeps the bits the shifted a does not reach."""
    ln = _same(v)
    ones = (1 << ln.bits) - 1
    sh = v.imm
    p, d = ln.load(v.a), ln.load(v.d)
    if v.kind is VecOp.sri:
        keep, moved = ones & ~(ones >> sh), ln.shr(p, sh, False)
    else:
        keep, moved = ones & ~(ones << sh), ln.op("shl", p, ln.const(sh))
    ln.store(ln.op("or", ln.op("and", d, ln.const(keep)), moved))


@lowers_vec(VecOp.qshrn)
def lower_qshrn(v: V) -> str:
    """sq[r]shr[u]n, uq[r]shrn, sq/uqxtn, sqxtun: the 2*esz lanes of a
    shifted right by 0..esz bits, then saturated to esz."""
    sh = v.imm & 0x7F
    src_signed, dst_signed = bool(v.imm & 0x80), bool(v.imm & 0x100)
    n = Lanes(v, v.esz, 8 >> v.esz)
    w = n.wide()
    p = w.load(v.a)
    r = w.round_shr(p, sh, src_signed) if v.imm & 0x200 else w.shr(p, sh, src_signed)
    hi = n.smax_value if dst_signed else (1 << n.bits) - 1
    if src_signed:
        c = w.clamp(r, n.smin_value if dst_signed else 0, hi, True)
    else:
        c = w.clamp(r, None, hi, False)
    n.store(w.trunc(c, n))
    return w.qc(w.cmp("ne", c, r))


# -- estimates --------------------------------------------------------------------------------------

@lowers_vec(VecOp.urecpe)
def lower_urecpe(v: V) -> None:
    """urecpe/ursqrte: Arm's RecipEstimate / RecipSqrtEstimate of the top
    nine bits (tcgpy.frontends.aarch64.fpsem), all-ones for lanes below the input range."""
    ln = Lanes(v, 2, v.oprsz >> 2)
    p = ln.load(v.a)
    a = ln.op("lshr", p, ln.const(23))
    if v.imm & 1:
        small = ln.cmp("ult", p, ln.const(1 << 30))
        # a < 256: 2a+1; else (a & ~1) * 2 + 2
        a = ln.sel(ln.cmp("ult", a, ln.const(256)), ln.op("or", ln.op("shl", a, ln.const(1)), ln.const(1)),
                  ln.op("add", ln.op("shl", ln.op("and", a, ln.const(~1)), ln.const(1)), ln.const(2)))
        c = _rsqrt_count(ln, a)
    else:
        small = ln.cmp("ult", p, ln.const(1 << 31))
        # ((2^19 // (2a+1)) + 1) // 2 = (2^19 // (2a+1) + 1) >> 1
        b = ln.op("udiv", ln.const(1 << 19), ln.op("or", ln.op("shl", a, ln.const(1)), ln.const(1)))
        c = ln.op("add", b, ln.const(1))
    est = ln.op("shl", ln.op("and", ln.op("lshr", c, ln.const(1)), ln.const(0x1FF)), ln.const(23))
    ln.store(ln.sel(small, ln.const(-1), est))


def _rsqrt_count(ln: Lanes, a: str) -> str:
    """The least c >= 513 with a*c*c >= 2^28 (RecipSqrtEstimate's b + 1):
    ceil(sqrt(2^28 / a)) from double precision, then made exact in
    integers (a <= 1022 and c <= 1023 keep a*c*c below 2^32)."""
    dt = f"<{ln.n} x double>"
    fa = ln.emit(f"uitofp {ln.t} {a} to {dt}")
    two28 = "<" + ", ".join(["double 0x41B0000000000000"] * ln.n) + ">"
    root = ln.emit(f"call {dt} @llvm.sqrt.v{ln.n}f64({dt} {ln.emit(f'fdiv {dt} {two28}, {fa}')})")
    c = ln.emit(f"fptoui {dt} {root} to {ln.t}")
    # floor(root) is c or c - 1: a whole number k other than sqrt(2^28/a)
    # is at least 1/(2*a*k) > 4e-7 away from it (a*k*k and 2^28 are whole
    # numbers), far more than the rounding error (the test runs all inputs)
    short = ln.cmp("ult", ln.op("mul", a, ln.op("mul", c, c)), ln.const(1 << 28))
    c = ln.op("add", c, ln.emit(f"zext {ln.bt} {short} to {ln.t}"))
    return ln.call("umax", c, ln.const(513))
