"""Lowering of the ``vec`` op: one function per VecOp (``@lowers_vec``),
each loading its operands from env as LLVM vectors (``<16 x i8>`` ...
``<2 x i64>``), computing with vector instructions and storing the result.

The saturating, halving, rounding, narrowing and inserting integer ones
are in lower_arm_vec_arith (their lowerings return the status word, FPSR.QC).
The integer ops with more code live in lower_arm_vec_lanes (across lanes, bit
counts, permutes, tbl, polynomial), lower_arm_vec_crypto (AES, SHA) and
lower_arm_vec_arith (saturating, halving, rounding, narrowing).  Floating point,
whose Arm semantics LLVM does not have, goes to lower_arm_fp and lower_arm_vec_fp2
(native code for the common case, the Python semantics otherwise).  A VecOp
with neither would call its Python semantics in tcgpy.frontends.aarch64.vecsem through the
``vec_env`` helper with the env pointer; tests/test_a64_simd_vec.py lists
those (none today).
"""
from __future__ import annotations

from typing import Callable

from ...ir import semantics
from ...ir.helpers import BY_NAME
from ...ir.ops import Op
from .lower import lowers
from .runtime import _c
from .lower_arm_fp import NATIVE as FP_NATIVE
from .lower_arm_fp import lower_arm_fp

# Arm's vec-op semantics: the AArch64 target's definitions, found by name
# (tcgpy.ir.semantics).
arm_vec = semantics.lookup("arm_vec")
VecOp, pack = arm_vec.VecOp, arm_vec.pack

VEC_LOWERERS: dict[VecOp, Callable] = {}


def lowers_vec(*ops: VecOp):
    def register(fn):
        for op in ops:
            VEC_LOWERERS[op] = fn
        return fn
    return register


@lowers(Op.vec)
def lower_arm_vec(fl, insn):
    v = V(fl, insn)
    fn = VEC_LOWERERS.get(v.kind)
    if fn is not None:
        # a lowering returns its status word (saturation: FPSR.QC), or None for 0
        fl.set(insn.outs[0], fn(v) or "0")
        return
    status = lower_arm_fp(v) if v.kind in FP_NATIVE else None
    fl.set(insn.outs[0], status if status is not None else v.call_python())


class V:
    """Operand access for one vec insn."""

    def __init__(self, fl, insn):
        self.fl = fl
        self.insn = insn
        self.kind, self.d, self.a, self.b, self.esz, self.oprsz, self.imm = insn.consts

    def ptr(self, operand: str, extra: int = 0) -> str:
        """Pointer to operand ``a``, ``b``, ``d`` or ``c`` (the third source of
        fused multiply-adds, at env offset imm & 0xfff), plus ``extra`` bytes."""
        off = (self.imm & 0xFFF) if operand == "c" else getattr(self, operand)
        return self.fl.env_ptr(off + extra)

    def x(self) -> str:
        return self.fl.get(self.insn.ins[0])

    def call_python(self) -> str:
        """Run the op's Python semantics (tcgpy.frontends.aarch64.vecsem) through the
        ``vec_env`` helper; returns the status word."""
        return self.call_native(self.fl.rt.helper_ref(BY_NAME["vec_env"].id))

    def call_native(self, fn: str) -> str:
        """Call ``i64 fn(env, packed constants, x)`` (an LLVM pointer
        constant): the Python semantics' helper, or a function of the FP
        library (lower_arm_fp)."""
        packed = pack(self.kind, self.d, self.a, self.b, self.esz, self.oprsz, self.imm)
        return self.emit(f"call i64 {fn}(ptr %env, i64 {_c(packed)}, i64 {self.x()})")

    def emit(self, text: str) -> str:
        t = self.fl.tmp()
        self.fl.emit(f"{t} = {text}")
        return t

    @staticmethod
    def ty(esz: int, nbytes: int) -> str:
        return f"<{nbytes >> esz} x i{8 << esz}>"

    @property
    def t(self) -> str:
        return self.ty(self.esz, self.oprsz)

    def load(self, off: int, esz: int | None = None, nbytes: int | None = None) -> str:
        esz = self.esz if esz is None else esz
        nbytes = self.oprsz if nbytes is None else nbytes
        p = self.fl.env_ptr(off)
        return self.emit(f"load {self.ty(esz, nbytes)}, ptr {p}, align 1")

    def store(self, v: str, esz: int | None = None, nbytes: int | None = None) -> None:
        esz = self.esz if esz is None else esz
        nbytes = self.oprsz if nbytes is None else nbytes
        fl = self.fl
        fl.emit(f"store {self.ty(esz, nbytes)} {v}, ptr {fl.env_ptr(self.d)}, align 1")
        if nbytes < 16:
            # Writes of 64-bit (and scalar) vectors zero the rest of the register.
            fl.emit(f"store <{16 - nbytes} x i8> zeroinitializer, ptr {fl.env_ptr(self.d + nbytes)}, align 1")

    def splat(self, value: int, esz: int | None = None, n: int | None = None) -> str:
        esz = self.esz if esz is None else esz
        n = (self.oprsz >> esz) if n is None else n
        return "<" + ", ".join([f"i{8 << esz} {value}"] * n) + ">"

    def splat_reg(self, scalar: str, esz: int, n: int) -> str:
        ins = self.emit(f"insertelement <{n} x i{8 << esz}> poison, i{8 << esz} {scalar}, i32 0")
        return self.emit(f"shufflevector <{n} x i{8 << esz}> {ins}, <{n} x i{8 << esz}> poison, "
                         f"<{n} x i32> zeroinitializer")

    def shuffle(self, ty: str, p: str, q: str, mask: list[int]) -> str:
        m = "<" + ", ".join(f"i32 {i}" for i in mask) + ">"
        return self.emit(f"shufflevector {ty} {p}, {ty} {q}, <{len(mask)} x i32> {m}")

    @property
    def lanes(self) -> int:
        return self.oprsz >> self.esz


# -- lane-wise ------------------------------------------------------------------

_BIN = {VecOp.and_: "and", VecOp.orr: "or", VecOp.eor: "xor", VecOp.add: "add",
        VecOp.sub: "sub", VecOp.mul: "mul"}


@lowers_vec(*_BIN)
def lower_bin(v: V) -> None:
    p, q = v.load(v.a), v.load(v.b)
    v.store(v.emit(f"{_BIN[v.kind]} {v.t} {p}, {q}"))


@lowers_vec(VecOp.bic, VecOp.orn)
def lower_bic_orn(v: V) -> None:
    p, q = v.load(v.a), v.load(v.b)
    nq = v.emit(f"xor {v.t} {q}, {v.splat(-1)}")
    v.store(v.emit(f"{'and' if v.kind is VecOp.bic else 'or'} {v.t} {p}, {nq}"))


@lowers_vec(VecOp.bsl)
def lower_bsl(v: V) -> None:
    p, q, c = v.load(v.a), v.load(v.b), v.load(v.imm)
    nc = v.emit(f"xor {v.t} {c}, {v.splat(-1)}")
    x = v.emit(f"and {v.t} {p}, {c}")
    y = v.emit(f"and {v.t} {q}, {nc}")
    v.store(v.emit(f"or {v.t} {x}, {y}"))


@lowers_vec(VecOp.orrx, VecOp.bicx)
def lower_orrx(v: V) -> None:
    n = v.oprsz // 8
    ty = f"<{n} x i64>"
    p = v.load(v.a, 3)
    x = v.fl.get(v.insn.ins[0])
    if v.kind is VecOp.bicx:
        x = v.emit(f"xor i64 {x}, -1")
    s = v.splat_reg(x, 3, n)
    v.store(v.emit(f"{'or' if v.kind is VecOp.orrx else 'and'} {ty} {p}, {s}"), 3)


_ICMP = {VecOp.cmeq: "eq", VecOp.cmgt: "sgt", VecOp.cmge: "sge", VecOp.cmhi: "ugt",
         VecOp.cmhs: "uge"}


@lowers_vec(*_ICMP, VecOp.cmtst)
def lower_cmp(v: V) -> None:
    p, q = v.load(v.a), v.load(v.b)
    if v.kind is VecOp.cmtst:
        m = v.emit(f"and {v.t} {p}, {q}")
        c = v.emit(f"icmp ne {v.t} {m}, zeroinitializer")
    else:
        c = v.emit(f"icmp {_ICMP[v.kind]} {v.t} {p}, {q}")
    v.store(v.emit(f"sext <{v.lanes} x i1> {c} to {v.t}"))


_MINMAX = {VecOp.smax: "sgt", VecOp.smin: "slt", VecOp.umax: "ugt", VecOp.umin: "ult",
           VecOp.smaxp: "sgt", VecOp.sminp: "slt", VecOp.umaxp: "ugt", VecOp.uminp: "ult"}


def _minmax(v: V, p: str, q: str) -> str:
    c = v.emit(f"icmp {_MINMAX[v.kind]} {v.t} {p}, {q}")
    return v.emit(f"select <{v.lanes} x i1> {c}, {v.t} {p}, {v.t} {q}")


@lowers_vec(VecOp.smax, VecOp.smin, VecOp.umax, VecOp.umin)
def lower_minmax(v: V) -> None:
    v.store(_minmax(v, v.load(v.a), v.load(v.b)))


@lowers_vec(VecOp.addp, VecOp.smaxp, VecOp.sminp, VecOp.umaxp, VecOp.uminp)
def lower_pairwise(v: V) -> None:
    p, q = v.load(v.a), v.load(v.b)
    n = v.lanes
    even = v.shuffle(v.t, p, q, list(range(0, 2 * n, 2)))
    odd = v.shuffle(v.t, p, q, list(range(1, 2 * n, 2)))
    if v.kind is VecOp.addp:
        v.store(v.emit(f"add {v.t} {even}, {odd}"))
    else:
        v.store(_minmax(v, even, odd))


@lowers_vec(VecOp.neg, VecOp.not_, VecOp.abs_)
def lower_unary(v: V) -> None:
    p = v.load(v.a)
    if v.kind is VecOp.not_:
        v.store(v.emit(f"xor {v.t} {p}, {v.splat(-1)}"))
        return
    n = v.emit(f"sub {v.t} zeroinitializer, {p}")
    if v.kind is VecOp.neg:
        v.store(n)
        return
    c = v.emit(f"icmp slt {v.t} {p}, zeroinitializer")
    v.store(v.emit(f"select <{v.lanes} x i1> {c}, {v.t} {n}, {v.t} {p}"))


@lowers_vec(VecOp.fabs, VecOp.fneg)
def lower_fabs_fneg(v: V) -> None:
    # Pure sign-bit operations: no NaN processing, no flags (Arm FPAbs/FPNeg).
    p = v.load(v.a)
    bits = 8 << v.esz
    sign = 1 << (bits - 1)
    mask = sign - 1 if v.kind is VecOp.fabs else sign
    mask -= (1 << bits) if mask >> (bits - 1) else 0      # as LLVM prints it: signed
    v.store(v.emit(f"{'and' if v.kind is VecOp.fabs else 'xor'} {v.t} {p}, {v.splat(mask)}"))


# -- shifts, widening, narrowing -----------------------------------------------------

@lowers_vec(VecOp.shli, VecOp.ushri, VecOp.sshri)
def lower_shift(v: V) -> None:
    bits = 8 << v.esz
    p = v.load(v.a)
    if v.kind is VecOp.ushri and v.imm >= bits:
        v.store("zeroinitializer")
        return
    amt = min(v.imm, bits - 1)
    op = {VecOp.shli: "shl", VecOp.ushri: "lshr", VecOp.sshri: "ashr"}[v.kind]
    v.store(v.emit(f"{op} {v.t} {p}, {v.splat(amt)}"))


@lowers_vec(VecOp.shrn)
def lower_shrn(v: V) -> None:
    wide = v.ty(v.esz + 1, 16)
    n = 16 >> (v.esz + 1)
    p = v.load(v.a, v.esz + 1, 16)
    sh = v.imm & 0x7F
    if v.imm & 0x100 and sh:
        # rshrn: the rounding carry out of the wide lane never reaches the
        # result bits, so a wrapping add is exact
        p = v.emit(f"add {wide} {p}, {v.splat(1 << (sh - 1), v.esz + 1, n)}")
    s = v.emit(f"lshr {wide} {p}, {v.splat(sh, v.esz + 1, n)}") if sh else p
    v.store(v.emit(f"trunc {wide} {s} to {v.ty(v.esz, 8)}"), v.esz, 8)


@lowers_vec(VecOp.ushll, VecOp.sshll)
def lower_shll(v: V) -> None:
    n = 8 >> v.esz
    wide = v.ty(v.esz + 1, 16)
    p = v.load(v.a, v.esz, 8)
    w = v.emit(f"{'sext' if v.kind is VecOp.sshll else 'zext'} {v.ty(v.esz, 8)} {p} to {wide}")
    if v.imm:
        w = v.emit(f"shl {wide} {w}, {v.splat(v.imm, v.esz + 1, n)}")
    v.store(w, v.esz + 1, 16)


# -- moves and permutes -------------------------------------------------------------

@lowers_vec(VecOp.dupx)
def lower_dupx(v: V) -> None:
    x = v.fl.get(v.insn.ins[0])
    if v.esz < 3:
        x = v.emit(f"trunc i64 {x} to i{8 << v.esz}")
    v.store(v.splat_reg(x, v.esz, v.lanes))


@lowers_vec(VecOp.dupe)
def lower_dupe(v: V) -> None:
    src = v.load(v.a, v.esz, 16)
    e = v.emit(f"extractelement {v.ty(v.esz, 16)} {src}, i32 {v.imm}")
    v.store(v.splat_reg(e, v.esz, v.lanes))


def _permute_mask(kind: VecOp, n: int) -> list[int]:
    if kind in (VecOp.zip1, VecOp.zip2):
        base = 0 if kind is VecOp.zip1 else n // 2
        return [j for i in range(n // 2) for j in (base + i, n + base + i)]
    if kind in (VecOp.uzp1, VecOp.uzp2):
        return list(range(0 if kind is VecOp.uzp1 else 1, 2 * n, 2))
    o = 0 if kind is VecOp.trn1 else 1
    return [j for i in range(0, n, 2) for j in (i + o, n + i + o)]


@lowers_vec(VecOp.zip1, VecOp.zip2, VecOp.uzp1, VecOp.uzp2, VecOp.trn1, VecOp.trn2)
def lower_permute(v: V) -> None:
    p, q = v.load(v.a), v.load(v.b)
    v.store(v.shuffle(v.t, p, q, _permute_mask(v.kind, v.lanes)))


@lowers_vec(VecOp.ext)
def lower_ext(v: V) -> None:
    p, q = v.load(v.a, 0), v.load(v.b, 0)
    v.store(v.shuffle(v.ty(0, v.oprsz), p, q, list(range(v.imm, v.imm + v.oprsz))), 0)


@lowers_vec(VecOp.rev)
def lower_rev(v: V) -> None:
    per = (1 << v.imm) >> v.esz
    p = v.load(v.a)
    mask = [i + per - 1 - j for i in range(0, v.lanes, per) for j in range(per)]
    v.store(v.shuffle(v.t, p, "poison", mask))


# -- multiply-accumulate and widening ------------------------------------------------------

@lowers_vec(VecOp.mla)
def lower_mla(v: V) -> None:
    acc, p, q = v.load(v.d), v.load(v.a), v.load(v.b)
    prod = v.emit(f"mul {v.t} {p}, {q}")
    v.store(v.emit(f"{'sub' if v.imm & 2 else 'add'} {v.t} {acc}, {prod}"))


_WIDEN = {VecOp.addl: "add", VecOp.subl: "sub", VecOp.addw: "add", VecOp.subw: "sub",
          VecOp.mull: "mul"}


@lowers_vec(*_WIDEN)
def lower_widen(v: V) -> None:
    """The esz lanes of 8 bytes at a and b, extended (imm bit 0: signed) to
    2*esz lanes; addw/subw take a as 16 bytes of wide lanes already."""
    narrow, wide = v.ty(v.esz, 8), v.ty(v.esz + 1, 16)
    ext = "sext" if v.imm & 1 else "zext"
    if v.kind in (VecOp.addw, VecOp.subw):
        p = v.load(v.a, v.esz + 1, 16)
    else:
        p = v.emit(f"{ext} {narrow} {v.load(v.a, v.esz, 8)} to {wide}")
    q = v.emit(f"{ext} {narrow} {v.load(v.b, v.esz, 8)} to {wide}")
    v.store(v.emit(f"{_WIDEN[v.kind]} {wide} {p}, {q}"), v.esz + 1, 16)


from . import lower_arm_vec_arith  # noqa: E402,F401  (registers the saturating/rounding/narrowing ops)
from . import lower_arm_vec_crypto, lower_arm_vec_lanes  # noqa: E402,F401  (they register more lowerings)
from . import lower_arm_vec_fp2  # noqa: E402,F401  (registers the rarer FP ops with lower_arm_fp)
