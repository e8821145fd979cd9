"""Native code for floating-point vec ops, on the common path.

Arm's floating point differs from the host's only at the edges: NaN
propagation and the default NaN, flush-to-zero, directed rounding, and when
underflow is detected (Arm looks before rounding, x86 after).  So each
operation is computed with LLVM's IEEE instructions (the host rounds to
nearest even, as Python leaves MXCSR), and the result is kept only when every
lane is provably one the Arm pseudocode gives too:

* FPCR selects round-to-nearest and no flush-to-zero (default NaN then only
  matters for NaNs, which never take this path);
* no input or result is a NaN, no result overflowed, and results are far
  enough from the subnormal range that neither tininess nor the exactness
  test below can go wrong;
* the only exception such an operation can raise is Inexact, and it is
  computed exactly with error-free transformations (TwoSum for addition, an
  FMA residual for multiplication, division and square root), or the
  operation is skipped when FPSR.IXC is already set (fused multiply-add:
  ``gen_fp`` passes that bit in, see ``KNOWN_IXC``; the status word then
  reports Inexact whatever the operation, as the Python semantics do).

Otherwise the block calls the exact Python semantics (tcgpy.frontends.aarch64.vecsem,
tcgpy.frontends.aarch64.fpsem) for the whole operation, as it always did: they stay the
definition, this is a shortcut the JIT-versus-interpreter tests hold to them.
"""
from __future__ import annotations

import struct
import threading
from typing import Callable

from ...ir import semantics
from ...ir.helpers import BY_NAME
from .runtime import SYM_FPLIB

# Arm's FP pseudocode (FPCR, FPSR) and vec-op semantics: the AArch64
# target's definitions, found by name (tcgpy.ir.semantics).
arm_fp, arm_vec = semantics.lookup("arm_fp"), semantics.lookup("arm_vec")
VecOp = arm_vec.VecOp

# FPCR fields the shortcut needs at zero: RMode (round to nearest) and FZ.
FPCR_SLOW = (3 << arm_fp.RMODE_SHIFT) | arm_fp.FPCR_FZ
# Operations whose FPCR operand tells whether FPSR.IXC is already set.
KNOWN_IXC, KNOWN_IXC_BIT = arm_vec.KNOWN_IXC_OPS, arm_vec.KNOWN_IXC_BIT

# LLVM FP type per element size.  Half-precision arithmetic would be
# library calls on generic x86-64 (no F16C), so only operations that treat
# half lanes as integers (``lowers_fp(..., half=True)``) have a shortcut for them.
_FTY = {1: "half", 2: "float", 3: "double"}
_SUFFIX = {1: "f16", 2: "f32", 3: "f64"}

DECLS = "".join(
    f"declare {ty} @llvm.{name}.{sfx}({', '.join([ty] * n)})\n"
    for lanes in (1, 2, 4)
    for esz in (2, 3) if (lanes << esz) <= 16
    for ty, sfx in [(_FTY[esz] if lanes == 1 else f"<{lanes} x {_FTY[esz]}>",
                     _SUFFIX[esz] if lanes == 1 else f"v{lanes}{_SUFFIX[esz]}")]
    for name, n in (("fma", 3), ("fabs", 1), ("sqrt", 1), ("floor", 1), ("ceil", 1),
                    ("trunc", 1), ("round", 1), ("roundeven", 1))
) + "declare <8 x float> @llvm.sqrt.v8f32(<8 x float>)\n" + "".join(
    f"declare {ty} @llvm.ctlz.{sfx}({ty}, i1)\n"
    for ty, sfx in (("i32", "i32"), ("<2 x i32>", "v2i32"), ("<4 x i32>", "v4i32"),
                    ("<2 x i64>", "v2i64"))
)


def _hex(value: float) -> str:
    """An FP constant as LLVM text: the bits of the double holding it."""
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", value))[0]


class F:
    """Lane-wise FP helpers for one vec op of ``lanes`` elements of ``esz``."""

    def __init__(self, v, esz: int, lanes: int):
        self.v = v
        self.esz = esz
        self.lanes = lanes
        s = _FTY[esz]
        vec = lanes > 1
        self.t = f"<{lanes} x {s}>" if vec else s
        self.it = f"<{lanes} x i{8 << esz}>" if vec else f"i{8 << esz}"
        self.bt = f"<{lanes} x i1>" if vec else "i1"
        self.sfx = f"v{lanes}{_SUFFIX[esz]}" if vec else _SUFFIX[esz]
        fmt = arm_fp.FMTS[esz]
        self.prec = fmt.fbits + 1
        self.emin = fmt.min_exp              # exponent of the smallest normal

    def emit(self, text: str) -> str:
        return self.v.emit(text)

    def const(self, value: float) -> str:
        c = _hex(value)
        if self.lanes == 1:
            return c
        s = _FTY[self.esz]
        return "<" + ", ".join([f"{s} {c}"] * self.lanes) + ">"

    def load(self, operand: str) -> str:
        return self.emit(f"load {self.t}, ptr {self.v.ptr(operand)}, align 1")

    def call(self, name: str, *args: str) -> str:
        return self.emit(f"call {self.t} @llvm.{name}.{self.sfx}("
                         + ", ".join(f"{self.t} {a}" for a in args) + ")")

    def fcmp(self, pred: str, a: str, b: str) -> str:
        return self.emit(f"fcmp {pred} {self.t} {a}, {b}")

    def abs(self, a: str) -> str:
        return self.call("fabs", a)

    def neg(self, a: str) -> str:
        return self.emit(f"fneg {self.t} {a}")

    def finite(self, a: str) -> str:
        return self.fcmp("olt", self.abs(a), self.const(float("inf")))

    def at_least(self, a: str, magnitude: float) -> str:
        return self.fcmp("oge", self.abs(a), self.const(magnitude))

    def is_zero(self, a: str) -> str:
        return self.fcmp("oeq", a, self.const(0.0))

    def nonzero(self, a: str) -> str:
        return self.fcmp("une", a, self.const(0.0))

    def and_(self, p: str, q: str) -> str:
        return self.emit(f"and {self.bt} {p}, {q}")

    def or_(self, p: str, q: str) -> str:
        return self.emit(f"or {self.bt} {p}, {q}")

    def select(self, c: str, p: str, q: str, ty: str | None = None) -> str:
        ty = ty or self.t
        return self.emit(f"select {self.bt} {c}, {ty} {p}, {ty} {q}")

    def reduce(self, bits: str, all_: bool) -> str:
        """One i1: every lane (``all_``) or any lane of ``bits``."""
        if self.lanes == 1:
            return bits
        w = self.emit(f"bitcast {self.bt} {bits} to i{self.lanes}")
        return self.emit(f"icmp {'eq' if all_ else 'ne'} i{self.lanes} {w}, {-1 if all_ else 0}")

    # Thresholds below which the shortcut gives up.  An FMA residual
    # a*b - RN(a*b) is exactly representable when e(a) + e(b) >= emin + p - 1;
    # |result| >= 2^(emin + p + 1) guarantees that with a bit to spare, and
    # keeps every result normal (Arm's before-rounding tininess never fires).
    @property
    def safe(self) -> float:
        return 2.0 ** (self.emin + self.prec + 1)


def status_ixc(f: F, inexact_lanes: str | None) -> str:
    if inexact_lanes is None:
        return "0"
    any_ = f.reduce(inexact_lanes, all_=False)
    return f.emit(f"select i1 {any_}, i64 {arm_fp.IXC}, i64 0")


# -- the registry -----------------------------------------------------------------
# A generator ``gen(v, f) -> (store, ok, status[, exact]) | None`` emits an
# operation's native code: ``store()`` writes the result, ``ok`` has a bit per
# lane of ``f`` (the operation's source lanes) that is set where the shortcut
# holds, ``status`` is the status word, and ``exact`` (KNOWN_IXC operations)
# the lanes whose result is known exact; None: this shape always takes the
# Python path.

def _same_lanes(esz: int, oprsz: int) -> tuple[int, int]:
    return esz, oprsz >> esz


# kind -> (generator, (esz, oprsz) -> (element size, count) of its source lanes)
_GENERATORS: dict[VecOp, tuple[Callable, Callable]] = {}
_HALF: set[VecOp] = set()
# The natively lowered kinds (lower_arm_vec asks; modules registering later add to it).
NATIVE = _GENERATORS.keys()


def lowers_fp(*kinds: VecOp, source: Callable = _same_lanes, half: bool = False):
    """Register a generator for ``kinds``; ``half``: it also takes half
    precision, treating those lanes as integers only."""
    def register(gen):
        for kind in kinds:
            _GENERATORS[kind] = (gen, source)
            if half:
                _HALF.add(kind)
        return gen
    return register


def _has_shortcut(kind: VecOp, esz: int) -> bool:
    return kind in _GENERATORS and (esz in (2, 3) or (esz == 1 and kind in _HALF))


# -- the operations ---------------------------------------------------------------
# Each returns (result, lanes where the shortcut holds, status word) or None
# when this shape always takes the Python path.

def addsub(f: F, a: str, b: str, negate_b: bool):
    if negate_b:
        b = f.neg(b)
    s = f.emit(f"fadd {f.t} {a}, {b}")
    # TwoSum: s + err == a + b exactly (no overflow: s is finite).
    bv = f.emit(f"fsub {f.t} {s}, {a}")
    av = f.emit(f"fsub {f.t} {s}, {bv}")
    db = f.emit(f"fsub {f.t} {b}, {bv}")
    da = f.emit(f"fsub {f.t} {a}, {av}")
    err = f.emit(f"fadd {f.t} {da}, {db}")
    # A tiny sum is exact, so no underflow either.
    return s, f.finite(s), f.nonzero(err)


def mul(f: F, a: str, b: str):
    r = f.emit(f"fmul {f.t} {a}, {b}")
    e = f.call("fma", a, b, f.neg(r))
    exact_zero = f.or_(f.is_zero(a), f.is_zero(b))
    ok = f.and_(f.finite(r), f.or_(f.at_least(r, f.safe), exact_zero))
    return r, ok, f.nonzero(e)


def div(f: F, a: str, b: str):
    r = f.emit(f"fdiv {f.t} {a}, {b}")
    e = f.call("fma", f.neg(r), b, a)
    # The residual a - r*b is representable when e(r) + e(b) >= emin + p - 1,
    # which |a| >= safe ensures; |r| >= 2*min_normal keeps it clear of tininess.
    normal = f.and_(f.at_least(a, f.safe), f.at_least(r, 2.0 ** (f.emin + 1)))
    ok = f.and_(f.finite(r), f.or_(normal, f.and_(f.is_zero(a), f.nonzero(b))))
    # A zero dividend's quotient is exact; its residual is a NaN (0 * inf)
    # when the divisor is infinite.
    return r, ok, f.and_(f.nonzero(e), f.nonzero(a))


def sqrt(f: F, a: str):
    r = f.call("sqrt", a)
    e = f.call("fma", f.neg(r), r, a)
    ok = f.or_(f.fcmp("oge", a, f.const(f.safe)), f.is_zero(a))
    ok = f.and_(ok, f.finite(r))
    return r, ok, f.nonzero(e)


def minmax(f: F, a: str, b: str, is_max: bool):
    """No NaN: the larger (smaller) value; of +0 and -0, +0 (-0): the AND (OR) of their bits."""
    gt, lt = f.fcmp("ogt", a, b), f.fcmp("olt", a, b)
    ai, bi = f.emit(f"bitcast {f.t} {a} to {f.it}"), f.emit(f"bitcast {f.t} {b} to {f.it}")
    tie = f.emit(f"{'and' if is_max else 'or'} {f.it} {ai}, {bi}")
    tie = f.emit(f"bitcast {f.it} {tie} to {f.t}")
    first, second = (gt, lt) if is_max else (lt, gt)
    r = f.select(first, a, f.select(second, b, tie))
    return r, f.fcmp("ord", a, b), None


_ROUND = {arm_fp.RN: "roundeven", arm_fp.RP: "ceil", arm_fp.RM: "floor", arm_fp.RZ: "trunc", arm_fp.RA: "round"}


def _mode(imm_mode: int) -> int:
    return arm_fp.RN if imm_mode == 7 else imm_mode     # FPCR's, known to be RN here


# -- lowering ------------------------------------------------------------------------

def lower_arm_fp(v) -> str | None:
    """The status word of FP vec insn ``v``, or None to leave it to the
    Python path.  Hot-tier code gets the shortcut inline; first-tier code
    calls the same shortcut compiled once into the FP library, which keeps
    its blocks as small (and as cheap to compile) as a helper call would."""
    key = _library_key(v)
    if key is None:
        return None
    if v.fl.hot:
        return emit_shortcut(v)
    rt = v.fl.rt
    addr = _library_function(key, rt)
    if not addr:
        return None
    sym = SYM_FPLIB + "_".join([key[0].name] + [str(k) for k in key[1:]])
    fn = rt.ref(sym, addr)
    if rt.tag:
        rt.imports[sym] = [key[0].name, *key[1:]]     # the loader compiles it from the key
    return v.call_native(fn)


def emit_shortcut(v) -> str | None:
    """Emit the shortcut for ``v`` with the Python path as its fallback and
    return the status word, or None when this shape always takes the Python
    path."""
    kind = v.kind
    if not _has_shortcut(kind, v.esz):
        return None
    gen, source = _GENERATORS[kind]
    f = F(v, *source(v.esz, v.oprsz))
    produced = gen(v, f)
    if produced is None:
        return None
    store, ok, status, *exact = produced
    fl = v.fl
    x = v.x()
    want = 1 << KNOWN_IXC_BIT if kind in KNOWN_IXC else 0
    cr = v.emit(f"and i64 {x}, {FPCR_SLOW | want}")
    cr_ok = v.emit(f"icmp eq i64 {cr}, {want}")
    if want and exact:
        # A generator of a KNOWN_IXC operation may name the lanes whose
        # result it knows to be exact: with every lane exact the shortcut
        # holds whatever FPSR.IXC is, and raises nothing (the status word is
        # then the Python path's: IXC only if it was known set).
        all_exact = f.reduce(exact[0], all_=True)
        plain = v.emit(f"icmp eq i64 {v.emit(f'and i64 {x}, {FPCR_SLOW}')}, 0")
        cr_ok = v.emit(f"or i1 {cr_ok}, {v.emit(f'and i1 {plain}, {all_exact}')}")
        known = v.emit(f"icmp ne i64 {v.emit(f'and i64 {x}, {want}')}, 0")
        status = v.emit(f"select i1 {known}, i64 {status}, i64 0")
    go = v.emit(f"and i1 {cr_ok}, {f.reduce(ok, all_=True)}")
    fast_bb, slow_bb, join_bb = fl.new_bb("fpfast"), fl.new_bb("fpslow"), fl.new_bb("fpjoin")
    fl.emit(f"br i1 {go}, label %{fast_bb}, label %{slow_bb}, !prof !1")
    fl.start_bb(fast_bb)
    store()
    fl.emit(f"br label %{join_bb}")
    fl.start_bb(slow_bb)
    slow = v.call_python()
    fl.emit(f"br label %{join_bb}")
    fl.start_bb(join_bb)
    return v.emit(f"phi i64 [ {status}, %{fast_bb} ], [ {slow}, %{slow_bb} ]")


# -- the FP library ---------------------------------------------------------------------
# One native function per shape (kind, element size, vector size, the imm bits
# that select a variant), ``i64 fn(ptr env, i64 packed, i64 fpcr)`` like the
# Python path's helper, with the env offsets unpacked at run time.  Compiled
# on first use into an engine that lives as long as the process.

# imm bits that change the generated code (the rest are env offsets)
_VARIANT_IMM = {VecOp.fmla: 0x3000, VecOp.fcvt: 0x7FFF, VecOp.cvtf: 0x7FFF,
                VecOp.fcvti: 0x7FFF, VecOp.frint: 0x7FFF}

_library: dict[tuple, int] = {}
_library_lock = threading.Lock()
LIBRARY_CODEGEN_OPT = 1


def _library_key(v) -> tuple | None:
    if not _has_shortcut(v.kind, v.esz):
        return None
    return (v.kind, v.esz, v.oprsz, v.imm & _VARIANT_IMM.get(v.kind, 0))


class _LibFn:
    """Stands in for the block lowering while one library function is emitted."""

    def __init__(self, rt):
        self.rt = rt
        self.lines: list[str] = []
        self.n = 0
        self.hot = True

    def tmp(self) -> str:
        self.n += 1
        return f"%t{self.n}"

    def emit(self, line: str) -> None:
        self.lines.append("  " + line)

    def new_bb(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def start_bb(self, name: str) -> None:
        self.lines.append(f"{name}:")


class _LibOperands:
    """The vec-insn view (see lower_arm_vec.V) the generators use, with env
    offsets taken from the packed word at run time."""

    def __init__(self, key: tuple, fl: _LibFn):
        self.kind, self.esz, self.oprsz, self.imm = key
        self.fl = fl
        self.offs: dict[str, str] = {}

    def emit(self, text: str) -> str:
        t = self.fl.tmp()
        self.fl.emit(f"{t} = {text}")
        return t

    def ptr(self, operand: str, extra: int = 0) -> str:
        shift = {"d": arm_vec.PACK_D, "a": arm_vec.PACK_A, "b": arm_vec.PACK_B, "c": arm_vec.PACK_IMM}[operand]
        off = self.offs.get(operand)
        if off is None:
            sh = self.emit(f"lshr i64 %packed, {shift}")
            off = self.offs[operand] = self.emit(f"and i64 {sh}, {arm_vec.ENV_VIEW_SIZE - 1}")
        if extra:
            off = self.emit(f"add i64 {off}, {extra}")
        return self.emit(f"getelementptr i8, ptr %env, i64 {off}")

    def x(self) -> str:
        return "%x"

    def call_python(self) -> str:
        fn = self.fl.rt.helper_ref(BY_NAME["vec_env"].id)
        return self.emit(f"call i64 {fn}(ptr %env, i64 %packed, i64 %x)")


def library_text(key: tuple, rt, name: str) -> str | None:
    """The library function for ``key``, or None for a shape (such as a
    conversion with fraction bits) that always takes the Python path."""
    fl = _LibFn(rt)
    ops = _LibOperands(key, fl)
    status = emit_shortcut(ops)
    if status is None:
        return None
    return (f"define i64 @{name}(ptr %env, i64 %packed, i64 %x) {{\nentry:\n"
            + "\n".join(fl.lines) + f"\n  ret i64 {status}\n}}\n")


def library_function_for(key, rt) -> int:
    """The library function for a key read back from the persistent cache
    (a JSON list), or 0 when it names none."""
    if not isinstance(key, list) or len(key) != 4 or not all(type(k) is int for k in key[1:]):
        return 0
    kind = VecOp.__members__.get(key[0]) if isinstance(key[0], str) else None
    if not _has_shortcut(kind, key[1]):
        return 0
    return _library_function((kind, *key[1:]), rt)


def _library_function(key: tuple, rt) -> int:
    """Address of the library function for ``key`` (0: none), compiled on
    first use (or loaded from the persistent cache, ``rt.store``)."""
    addr = _library.get(key)
    if addr is not None:
        return addr
    from ...record import replace as replace_record
    from . import jit
    with _library_lock:
        if key not in _library:
            name = "tcgpy_fp_" + "_".join([key[0].name] + [str(k) for k in key[1:]])
            # helpers named by process symbols: the text (and so the cached
            # object code) is the same in every process
            sym_rt = replace_record(rt, tag="runtime", imports={})
            text = library_text(key, sym_rt, name)
            if text is None:
                _library[key] = 0
                return 0
            _library[key] = jit.runtime_functions(DECLS + sym_rt.import_decls() + text + MODULE_TAIL,
                                                  [name], rt.store,
                                                  opt=LIBRARY_CODEGEN_OPT)[name]
    return _library[key]


def emit_store(v, value: str, ty: str, nbytes: int):
    """Store ``nbytes`` of ``value`` (LLVM type ``ty``) at d and zero the
    rest of the 16-byte register, as the Python semantics do."""
    def store():
        fl = v.fl
        fl.emit(f"store {ty} {value}, ptr {v.ptr('d')}, align 1")
        if nbytes < 16:
            fl.emit(f"store <{16 - nbytes} x i8> zeroinitializer, ptr {v.ptr('d', nbytes)}, align 1")
    return store


def _gen_arith(v, f: F):
    a, b = f.load("a"), f.load("b")
    kind = v.kind
    if kind in (VecOp.fadd, VecOp.fsub, VecOp.fabd):
        r, ok, inexact = addsub(f, a, b, negate_b=kind is not VecOp.fadd)
        if kind is VecOp.fabd:
            r = f.abs(r)
    elif kind in (VecOp.fmul, VecOp.fnmul, VecOp.fmulx):
        # fmulx differs from fmul only for infinity times zero: never here
        r, ok, inexact = mul(f, a, b)
        if kind is VecOp.fnmul:
            r = f.neg(r)
    elif kind is VecOp.fdiv:
        r, ok, inexact = div(f, a, b)
    else:
        r, ok, inexact = minmax(f, a, b, kind in (VecOp.fmax, VecOp.fmaxnm))
    return emit_store(v, r, f.t, v.oprsz), ok, status_ixc(f, inexact)


def _gen_fmla(v, f: F):
    """c + a*b fused (imm bit 12 negates a, bit 13 negates c); with FPSR.IXC
    already set, so its exactness need not be known, or where every lane's
    zero is exact (below)."""
    a, b, c = f.load("a"), f.load("b"), f.load("c")
    if v.imm & 0x1000:
        a = f.neg(a)
    if v.imm & 0x2000:
        c = f.neg(c)
    r = f.call("fma", a, b, c)
    # An exact zero (a zero product plus a zero addend, frequent when a sum
    # starts from zero) is no underflow; its sign follows the same IEEE rule
    # (FPMulAdd's) on both sides.
    exact_zero = f.and_(f.is_zero(c), f.or_(f.is_zero(a), f.is_zero(b)))
    # So is a zero from cancellation, a*b == -c, where the product's last
    # bit is no finer than the smallest subnormal (|RN(a*b)| >= safe ensures
    # it, as for an FMA residual): a sum that is not zero is then a multiple
    # of the smallest subnormal and rounds to no zero.  Compilers make these
    # (x - x as fmsub), and glibc's libm runs with FPSR.IXC clear.
    cancelled = f.and_(f.is_zero(r), f.at_least(f.emit(f"fmul {f.t} {a}, {b}"), f.safe))
    ok = f.and_(f.finite(r), f.or_(f.or_(f.at_least(r, f.safe), exact_zero), cancelled))
    ok = f.and_(ok, f.and_(f.finite(a), f.finite(b)))
    return emit_store(v, r, f.t, v.oprsz), ok, str(arm_fp.IXC), f.or_(exact_zero, cancelled)


def _gen_sqrt(v, f: F):
    r, ok, inexact = sqrt(f, f.load("a"))
    return emit_store(v, r, f.t, v.oprsz), ok, status_ixc(f, inexact)


def _gen_frint(v, f: F):
    a = f.load("a")
    r = f.call(_ROUND[_mode(v.imm & 7)], a)
    inexact = f.fcmp("une", r, a) if v.imm & 8 else None
    return emit_store(v, r, f.t, v.oprsz), f.fcmp("ord", a, a), status_ixc(f, inexact)


def _gen_fcmp(v, f: F):
    """Scalar compare: NZCV in status bits 31..28 (unordered takes the Python path)."""
    a, b = f.load("a"), f.load("b")
    eq, lt = f.fcmp("oeq", a, b), f.fcmp("olt", a, b)
    nzcv = f.emit(f"select i1 {lt}, i64 {0b1000 << 28}, i64 {0b0010 << 28}")
    nzcv = f.emit(f"select i1 {eq}, i64 {0b0110 << 28}, i64 {nzcv}")
    return (lambda: None), f.fcmp("ord", a, b), nzcv


_FCMP_LANES = {VecOp.fcmeq: "oeq", VecOp.fcmge: "oge", VecOp.fcmgt: "ogt",
               VecOp.facge: "oge", VecOp.facgt: "ogt"}


def _gen_fcm(v, f: F):
    a, b = f.load("a"), f.load("b")
    if v.kind in (VecOp.facge, VecOp.facgt):
        a, b = f.abs(a), f.abs(b)
    c = f.fcmp(_FCMP_LANES[v.kind], a, b)
    r = f.emit(f"sext {f.bt} {c} to {f.it}")
    return emit_store(v, r, f.it, v.oprsz), f.fcmp("ord", a, b), "0"


def _gen_fcvt(v, f: F):
    """Between single and double precision (half takes the Python path)."""
    to = v.imm
    if to not in (2, 3) or to == f.esz:     # half: fcvtl/fcvtn's integer code (lower_arm_vec_fp2)
        return None
    g = F(v, to, f.lanes)
    a = f.load("a")
    if to > f.esz:                  # widening is exact for every non-NaN
        r = v.emit(f"fpext {f.t} {a} to {g.t}")
        return emit_store(v, r, g.t, f.lanes << to), f.fcmp("ord", a, a), "0"
    r = v.emit(f"fptrunc {f.t} {a} to {g.t}")
    back = v.emit(f"fpext {g.t} {r} to {f.t}")
    # Narrowed results stay clear of the subnormal range (tininess), and
    # overflow to infinity shows as a non-finite result.
    ok = f.and_(f.finite(back),
                f.or_(f.at_least(back, 2.0 ** (g.emin + 1)), f.is_zero(a)))
    return emit_store(v, r, g.t, f.lanes << to), ok, status_ixc(f, f.fcmp("une", back, a))


def _int_ty(lanes: int, bits: int) -> str:
    return f"<{lanes} x i{bits}>" if lanes > 1 else f"i{bits}"


def _gen_cvtf(v, f: F):
    """Integer (imm & 3 log2 bytes; bit 2 unsigned) to FP, no fraction bits."""
    isz, unsigned, fbits = v.imm & 3, bool(v.imm & 4), v.imm >> 8
    if fbits or isz < 2:
        return None
    bits = 8 << isz
    ity = _int_ty(f.lanes, bits)
    i = v.emit(f"load {ity}, ptr {v.ptr('a')}, align 1")
    r = v.emit(f"{'uitofp' if unsigned else 'sitofp'} {ity} {i} to {f.t}")
    inexact = None
    if bits > f.prec:
        # Inexact when the magnitude has set bits below its top ``prec`` ones.
        def splat(c: int) -> str:
            return c if f.lanes == 1 else "<" + ", ".join([f"i{bits} {c}"] * f.lanes) + ">"
        m = i
        if not unsigned:
            neg = v.emit(f"sub {ity} {splat(0)}, {i}")
            isneg = v.emit(f"icmp slt {ity} {i}, {splat(0)}")
            m = v.emit(f"select {f.bt} {isneg}, {ity} {neg}, {ity} {i}")
        isfx = f"v{f.lanes}i{bits}" if f.lanes > 1 else f"i{bits}"
        lz = v.emit(f"call {ity} @llvm.ctlz.{isfx}({ity} {m}, i1 false)")
        used = v.emit(f"sub {ity} {splat(bits)}, {lz}")
        over = v.emit(f"sub {ity} {used}, {splat(f.prec)}")
        pos = v.emit(f"icmp sgt {ity} {over}, {splat(0)}")
        over = v.emit(f"select {f.bt} {pos}, {ity} {over}, {ity} {splat(0)}")
        low = v.emit(f"shl {ity} {splat(1)}, {over}")
        low = v.emit(f"sub {ity} {low}, {splat(1)}")
        lost = v.emit(f"and {ity} {m}, {low}")
        inexact = v.emit(f"icmp ne {ity} {lost}, {splat(0)}")
    true = "true" if f.lanes == 1 else "<" + ", ".join(["i1 true"] * f.lanes) + ">"
    return emit_store(v, r, f.t, v.oprsz), true, status_ixc(f, inexact)


def _gen_fcvti(v, f: F):
    """FP to an integer of imm & 3 log2 bytes (bit 2 unsigned) in rounding
    mode imm bits 3..5, no fraction bits; out of range takes the Python path."""
    isz, unsigned, mode, fbits = v.imm & 3, bool(v.imm & 4), (v.imm >> 3) & 7, v.imm >> 8
    if fbits or isz < 2 or _mode(mode) not in _ROUND:
        return None
    bits = 8 << isz
    a = f.load("a")
    r = f.call(_ROUND[_mode(mode)], a)
    lo, hi = (0.0, 2.0 ** bits) if unsigned else (-2.0 ** (bits - 1), 2.0 ** (bits - 1))
    ok = f.and_(f.fcmp("oge", r, f.const(lo)), f.fcmp("olt", r, f.const(hi)))
    ity = _int_ty(f.lanes, bits)
    i = v.emit(f"{'fptoui' if unsigned else 'fptosi'} {f.t} {r} to {ity}")
    inexact = f.fcmp("une", r, a)
    return emit_store(v, i, ity, f.lanes << isz), ok, status_ixc(f, inexact)


for _kind, _gen in {
    VecOp.fadd: _gen_arith, VecOp.fsub: _gen_arith, VecOp.fabd: _gen_arith,
    VecOp.fmul: _gen_arith, VecOp.fnmul: _gen_arith, VecOp.fdiv: _gen_arith,
    VecOp.fmax: _gen_arith, VecOp.fmin: _gen_arith, VecOp.fmaxnm: _gen_arith,
    VecOp.fminnm: _gen_arith, VecOp.fmulx: _gen_arith,
    VecOp.fmla: _gen_fmla, VecOp.fsqrt: _gen_sqrt, VecOp.frint: _gen_frint,
    VecOp.fcmp: _gen_fcmp, VecOp.fcvt: _gen_fcvt, VecOp.cvtf: _gen_cvtf,
    VecOp.fcvti: _gen_fcvti,
    VecOp.fcmeq: _gen_fcm, VecOp.fcmge: _gen_fcm, VecOp.fcmgt: _gen_fcm,
    VecOp.facge: _gen_fcm, VecOp.facgt: _gen_fcm,
}.items():
    lowers_fp(_kind)(_gen)

MODULE_TAIL = '!1 = !{!"branch_weights", i32 1000, i32 1}\n'
