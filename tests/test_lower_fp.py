"""Native floating point (backends/llvm/lower_arm_fp.py) against the Python
semantics it short-cuts: every natively lowered FP vec op, on both tiers (the
first tier calls the FP library, the hot tier inlines), on values chosen to
sit on both sides of every condition the shortcut checks (zeros, subnormals,
the tininess and residual thresholds, overflow, infinities, NaNs, integers
at conversion limits) under FPCRs that allow and forbid the shortcut."""
from __future__ import annotations

import random
import struct

import pytest

import tcgpy
from tcgpy.backends.llvm import lower_arm_fp, lower_arm_vec  # noqa: F401  (lower_arm_vec registers every FP generator)
from tcgpy.frontends.aarch64 import fpsem as fp, vecsem as vector
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.ops import Op
from tcgpy.frontends.aarch64.vecsem import VecOp
from tests.test_backend import check_block

ARCH = tcgpy.frontends.get_arch("aarch64")
Q = [ARCH.layout.offsets[f"q{i}"] for i in range(32)]


_PACK = {1: ("<e", "<H"), 2: ("<f", "<I"), 3: ("<d", "<Q")}


def _bits(value: float, esz: int) -> int:
    f, i = _PACK[esz]
    return struct.unpack(i, struct.pack(f, value))[0]


def _float(bits: int, esz: int) -> float:
    f, i = _PACK[esz]
    return struct.unpack(f, struct.pack(i, bits))[0]


def _value(rng: random.Random, esz: int, plain: bool = False) -> int:
    fmt = fp.FMTS[esz]
    emin, prec = fmt.min_exp, fmt.fbits + 1
    r = rng.random() * (0.55 if plain else 1.0)
    if r < 0.45:                                   # ordinary values
        v = rng.uniform(-1e3, 1e3) * 2.0 ** (rng.randrange(-22, 6) if esz == 1 else rng.randrange(-20, 20))
    elif r < 0.55:                                 # small integers
        v = float(rng.randrange(-50, 50))
    elif r < 0.75:                                 # near the shortcut's thresholds
        e = rng.choice((emin, emin + 1, emin + prec, emin + prec + 1, emin + prec + 2,
                        emin // 2, emin // 2 + prec // 2, -emin - 2, -emin - 1))
        v = rng.choice((1.0, -1.0)) * rng.uniform(1.0, 2.0) * 2.0 ** e
    else:                                          # special encodings
        return rng.choice((0, 1 << (fmt.bits - 1), fmt.inf(0), fmt.inf(1), fmt.default_nan,
                           fmt.default_nan | 1 << (fmt.bits - 1), fmt.inf(0) | 1,     # sNaN
                           1, (1 << fmt.fbits) - 1, fmt.max_normal(0), fmt.max_normal(1),
                           1 << fmt.fbits, (1 << fmt.fbits) | 1))
    if esz < 3:
        top = _float(fmt.max_normal(0), esz)
        v = max(min(v, top), -top)
    return _bits(v, esz)


def _narrowable(rng: random.Random, esz: int) -> int:
    """A value of ``esz`` that the next narrower format holds but for random
    low bits: rounding (ties included) near every value, the narrow
    format's subnormals and its largest values."""
    narrow = _value(rng, esz - 1, plain=rng.random() < 0.5)
    shift = fp.FMTS[esz].fbits - fp.FMTS[esz - 1].fbits
    wide = _bits(_float(narrow, esz - 1), esz)
    low = rng.choice((0, 1 << (shift - 1), rng.getrandbits(shift), (1 << shift) - 1))
    return wide ^ low if wide & ((1 << fp.FMTS[esz].bits - 1) - 1) else wide


def _lanes(v: int, esz: int) -> list[int]:
    n = 1 << esz
    return [int.from_bytes(v.to_bytes(16, "little")[i:i + n], "little") for i in range(0, 16, n)]


def _near_reciprocal(rng: random.Random, a: int, esz: int) -> int:
    """About 1/a, so that a*b is about 1: a Newton step's operands."""
    x = _float(a, esz)
    if x == 0 or x != x or abs(x) == float("inf"):
        return a
    try:
        return _bits(1 / x, esz) ^ rng.choice((0, 1, 2, 3))
    except OverflowError:
        return a


def _int_value(rng: random.Random, bits: int) -> int:
    return rng.choice((rng.getrandbits(bits), rng.randrange(-1000, 1000) & ((1 << bits) - 1),
                       1 << (bits - 1), (1 << (bits - 1)) - 1, (1 << bits) - 1,
                       rng.getrandbits(rng.randrange(1, bits + 1))))


def _fpcr(rng: random.Random) -> int:
    if rng.random() < 0.85:
        return rng.choice((0, fp.FPCR_DN, fp.FPCR_AHP))       # the shortcut's FPCRs
    return rng.choice((fp.RP, fp.RM, fp.RZ)) << fp.RMODE_SHIFT | rng.choice((0, fp.FPCR_FZ, fp.FPCR_DN))


SHAPES = {2: (4, 8, 16), 3: (8, 16)}
# The shapes the frontend emits where they differ from SHAPES: esz is the
# narrow lane size of conversions; half precision where it has a shortcut.
KIND_SHAPES = {
    VecOp.fcvtl: {1: (16,), 2: (16,)},
    VecOp.fcvtn: {1: (8,), 2: (8,)},
    VecOp.fcvtxn: {2: (4, 8)},
    VecOp.frecpx: {1: (2,), 2: (4,), 3: (8,)},
    VecOp.frecpe: {1: (2, 8, 16), **SHAPES},
    VecOp.frsqrte: {1: (2, 8, 16), **SHAPES},
}


def _source_esz(kind, esz: int) -> int:
    return esz + 1 if kind in (VecOp.fcvtn, VecOp.fcvtxn) else esz


def _cases():
    """(kind, esz, oprsz, imm, source lane size) for every shape lowered natively."""
    for kind in sorted(lower_arm_fp.NATIVE, key=lambda k: k.value.name):
        for esz, sizes in KIND_SHAPES.get(kind, SHAPES).items():
            for oprsz in sizes:
                if kind is VecOp.fcmp and oprsz != 1 << esz:
                    continue
                if kind is VecOp.fcvt:
                    if oprsz == 1 << esz:
                        yield kind, esz, oprsz, 5 - esz, esz
                elif kind is VecOp.cvtf:
                    for isz in (2, 3):
                        for uns in (0, 4):
                            if oprsz >> esz << isz <= 16:
                                yield kind, esz, oprsz, isz | uns, isz
                elif kind is VecOp.fcvti:
                    for isz in (2, 3):
                        for uns in (0, 4):
                            for mode in (fp.RN, fp.RP, fp.RM, fp.RZ, fp.RA, 7):
                                if oprsz >> esz << isz <= 16:
                                    yield kind, esz, oprsz, isz | uns | mode << 3, esz
                elif kind is VecOp.frint:
                    for mode in (fp.RN, fp.RP, fp.RM, fp.RZ, fp.RA, 7):
                        for exact in (0, 8):
                            yield kind, esz, oprsz, mode | exact, esz
                elif kind is VecOp.fmla:
                    for neg in (0, 0x1000, 0x2000, 0x3000):
                        yield kind, esz, oprsz, Q[5] | neg, esz
                else:
                    yield kind, esz, oprsz, 0, _source_esz(kind, esz)


CASES = list(_cases())


def _block(kind, esz, oprsz, imm, with_ixc: bool):
    g = ARCH.ir_globals
    block = Block(0x1000, globals=g)
    b = Builder(block)
    b.insn_start(0x1000)
    x = g["x1"]
    if with_ixc:
        x = b.or_(x, b.shl(b.and_(g["x3"], fp.IXC), lower_arm_fp.KNOWN_IXC_BIT - 4))
    out = b.new_local()
    b.emit(Op.vec, out, x, consts=(kind, Q[0], Q[1], Q[2], esz, oprsz, imm))
    b.mov(g["x2"], out)
    b.goto_tb(0x2000)
    return block


def _state(rng, esz, oprsz, src_esz, kind):
    state = randgen.random_state(rng)
    plain = rng.random() < 0.6          # every lane an ordinary value or integer
    for i in range(6):
        if kind is VecOp.cvtf and i in (1, 2):
            lanes = [_int_value(rng, 8 << src_esz) for _ in range(16 >> src_esz)]
            state[f"q{i}"] = int.from_bytes(b"".join(v.to_bytes(1 << src_esz, "little") for v in lanes), "little")
            continue
        fe = src_esz
        if kind in (VecOp.fcvtn, VecOp.fcvtxn) and plain:
            lanes = [_narrowable(rng, fe) for _ in range(16 >> fe)]
        else:
            lanes = [_value(rng, fe, plain) for _ in range(16 >> fe)]
        if kind in (VecOp.fcvti, VecOp.fsqrt, VecOp.frsqrte) and rng.random() < 0.7:   # mostly in the domain
            lanes = [v & ~(1 << ((8 << fe) - 1)) for v in lanes]
        if rng.random() < 0.2:
            lanes = [lanes[0]] * len(lanes)
        if kind in (VecOp.frecps, VecOp.frsqrts) and i == 2 and rng.random() < 0.5:
            lanes = [_near_reciprocal(rng, a, fe) for a in _lanes(state["q1"], fe)]
        state[f"q{i}"] = int.from_bytes(b"".join(v.to_bytes(1 << fe, "little") for v in lanes), "little")
    state["x1"] = _fpcr(rng)
    state["x3"] = rng.choice((0, fp.IXC, fp.IXC, fp.IXC))
    return state


class _PythonCalls:
    """Counts calls of the Python semantics of one VecOp."""

    def __init__(self, kind):
        self.kind = kind
        self.n = 0

    def __enter__(self):
        self.orig = vector.SEMANTICS[self.kind]

        def counted(*a):
            self.n += 1
            return self.orig(*a)
        vector.SEMANTICS[self.kind] = counted
        return self

    def __exit__(self, *exc):
        vector.SEMANTICS[self.kind] = self.orig


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].value.name}-e{c[1]}-{c[2]}-{c[3]:#x}")
def test_native_fp_matches_semantics(case):
    kind, esz, oprsz, imm, src_esz = case
    rng = random.Random(repr(case))
    block = _block(kind, esz, oprsz, imm, kind in lower_arm_fp.KNOWN_IXC)
    native = 0
    runs = 0
    for hot in (False, True):
        for _ in range(7):
            state = _state(rng, esz, oprsz, src_esz, kind)
            with _PythonCalls(kind) as calls:
                check_block(block, state, randgen.random_memory(rng), hot=hot)
            runs += 1
            native += calls.n == 1           # only the interpreter called Python
    # the shortcut must actually be exercised, not only its fallback
    assert native >= runs // 6, (native, runs)


def test_fp_library_function_per_shape_is_reused():
    before = len(lower_arm_fp._library)
    for hot in (False, False):
        block = _block(VecOp.fadd, 3, 16, 0, False)
        state = _state(random.Random(1), 3, 16, 3, VecOp.fadd)
        check_block(block, state, randgen.random_memory(random.Random(1)), hot=hot)
    assert len(lower_arm_fp._library) <= before + 1


@pytest.mark.parametrize("esz,oprsz", [(3, 8), (3, 16), (2, 4), (2, 16)])
def test_fused_multiply_add_of_zeros_is_native_and_signed_right(esz, oprsz):
    """c + a*b with a zero product and a zero addend, every sign: exact, so
    the shortcut keeps it (n-body style sums start from zero)."""
    values = [_bits(v, esz) for v in (0.0, -0.0, 1.5, -2.25)]
    runs = native = 0
    for neg in (0, 0x1000, 0x2000, 0x3000):
        block = _block(VecOp.fmla, esz, oprsz, Q[5] | neg, True)
        for a in values:
            for b in values:
                for c in values[:2]:
                    if a not in values[:2] and b not in values[:2]:
                        continue
                    rng = random.Random(f"{a}{b}{c}{neg}")
                    state = _state(rng, esz, oprsz, esz, VecOp.fmla)
                    lanes = 16 >> esz
                    for i, v in ((1, a), (2, b), (5, c)):
                        state[f"q{i}"] = int.from_bytes(v.to_bytes(1 << esz, "little") * lanes, "little")
                    state["x1"], state["x3"] = 0, fp.IXC
                    with _PythonCalls(VecOp.fmla) as calls:
                        check_block(block, state, randgen.random_memory(rng), hot=bool(neg & 0x1000))
                    runs += 1
                    native += calls.n == 1
    assert native == runs


@pytest.mark.parametrize("esz,oprsz", [(3, 8), (3, 16), (2, 4), (2, 16)])
def test_fused_multiply_add_cancelling_exactly_is_native_with_ixc_clear(esz, oprsz):
    """c + a*b == 0 exactly, every negation, FPSR.IXC clear or set: native
    (one Python call counted is the interpreter's reference run), with the
    interpreter's status word; tiny terms whose zero could hide an
    underflow keep the Python path."""
    products = [(1.5, -2.25), (3.0, 0.75), (-5.0, 7.0)]      # exact products
    runs = native = 0
    for neg in (0, 0x1000, 0x2000, 0x3000):
        block = _block(VecOp.fmla, esz, oprsz, Q[5] | neg, True)
        for (a, b) in products + [(2.0 ** -70, 2.0 ** -70)]:
            for ixc in (0, fp.IXC):
                p = struct.unpack("<f", struct.pack("<f", a * b))[0] if esz == 2 else a * b
                sign = -1 if bool(neg & 0x1000) == bool(neg & 0x2000) else 1
                c = sign * p                      # (c ^ neg_c) + (a ^ neg_a) * b == 0
                rng = random.Random(f"{a}{b}{neg}{ixc}")
                state = _state(rng, esz, oprsz, esz, VecOp.fmla)
                lanes = 16 >> esz
                for i, v in ((1, a), (2, b), (5, c)):
                    state[f"q{i}"] = int.from_bytes(_bits(v, esz).to_bytes(1 << esz, "little") * lanes, "little")
                state["x1"], state["x3"] = 0, ixc
                with _PythonCalls(VecOp.fmla) as calls:
                    check_block(block, state, randgen.random_memory(rng), hot=bool(neg & 0x1000))
                tiny = a == 2.0 ** -70
                if esz == 3 and tiny:
                    continue                      # a normal double product: not tiny for doubles
                runs += 1
                native += (calls.n == 1) != tiny
    assert native == runs


# -- the rarer operations (lower_arm_vec_fp2) ------------------------------------------------------

GROUP2 = {VecOp.faddp, VecOp.fmaxp, VecOp.fminp, VecOp.fmaxnmp, VecOp.fminnmp, VecOp.fcvtl,
          VecOp.fcvtn, VecOp.fcvtxn, VecOp.fmulx, VecOp.frecpe, VecOp.frsqrte, VecOp.frecpx,
          VecOp.frecps, VecOp.frsqrts}


def _edges(esz: int) -> list[int]:
    """Every class of operand the shortcuts tell apart, of both signs."""
    fmt = fp.FMTS[esz]
    one = _bits(1.0, esz)
    mags = [0, 1, (1 << fmt.fbits) - 1, 1 << fmt.fbits, (1 << fmt.fbits) | 1, one, one | 1,
            _bits(1.5, esz), fmt.max_normal(0), fmt.max_normal(0) - 1, fmt.inf(0), fmt.default_nan,
            fmt.inf(0) | 1, (fmt.emax_field - 2) << fmt.fbits, (2 * fmt.bias - 1) << fmt.fbits,
            (2 * fmt.bias - 2) << fmt.fbits | 0x3, 2 << fmt.fbits]
    if esz > 1:
        # the next narrower format's limits, as conversions to it see them
        nar = fp.FMTS[esz - 1]
        shift = fmt.fbits - nar.fbits
        top = _bits(_float(nar.max_normal(0), esz - 1), esz)
        low = _bits(_float(1 << nar.fbits, esz - 1), esz)
        mags += [top, top + (1 << (shift - 1)) - 1, top + (1 << (shift - 1)), top + (1 << shift) - 1,
                 low, low - 1, low + (1 << (shift - 1)), low - (1 << shift)]
    return mags + [m | 1 << (fmt.bits - 1) for m in mags]


def _packed(values: list[int], esz: int) -> int:
    return int.from_bytes(b"".join(v.to_bytes(1 << esz, "little") for v in values), "little")


FPCRS = (0, fp.FPCR_DN, fp.FPCR_FZ, fp.FPCR_FZ | fp.FPCR_FZ16, fp.RZ << fp.RMODE_SHIFT,
         fp.RP << fp.RMODE_SHIFT | fp.FPCR_AHP, fp.FPCR_AHP)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in GROUP2],
                         ids=lambda c: f"{c[0].value.name}-e{c[1]}-{c[2]}")
def test_rarer_fp_on_edge_operands(case):
    """Each edge operand in a lane of ordinary ones, in turn in each lane
    position, with another edge in the second operand (the pairwise ops see
    neighbours of both), under FPCRs that allow and forbid the shortcut:
    both paths run."""
    kind, esz, oprsz, imm, src_esz = case
    rng = random.Random(repr(case))
    edges = _edges(src_esz)
    lanes = 16 >> src_esz
    block = _block(kind, esz, oprsz, imm, False)
    paths = set()
    for hot in (False, True):
        for i, edge in enumerate(edges):
            p, q = [_bits(1.5, src_esz)] * lanes, [_bits(-1.25, src_esz)] * lanes
            p[i % lanes], q[(i + 1) % lanes] = edge, edges[(i * 7) % len(edges)]
            state = randgen.random_state(rng)
            state["q1"], state["q2"] = _packed(p, src_esz), _packed(q, src_esz)
            state["x1"] = FPCRS[i % len(FPCRS)] if (i + hot) % 2 else 0
            with _PythonCalls(kind) as calls:
                check_block(block, state, randgen.random_memory(rng), hot=hot)
            paths.add(calls.n)
    assert paths == {1, 2}, paths          # native (interpreter only) and fallback


@pytest.mark.parametrize("kind", [VecOp.frecpe, VecOp.frsqrte])
@pytest.mark.parametrize("esz", [1, 2, 3])
def test_estimates_on_every_table_input(kind, esz):
    """The estimate of every 8-bit fraction prefix, at an even and an odd
    exponent (frsqrte's two tables), against the pseudocode's loop."""
    fmt = fp.FMTS[esz]
    lanes = 16 >> esz
    g = ARCH.ir_globals
    block = Block(0x1000, globals=g)
    b = Builder(block)
    b.insn_start(0x1000)
    for i in range(8):
        out = b.new_local()
        b.emit(Op.vec, out, g["x1"], consts=(kind, Q[16 + i], Q[i], 0, esz, 16, 0))
        b.mov(g[f"x{10 + i}"], out)
    b.goto_tb(0x2000)
    inputs = [(fmt.bias + parity) << fmt.fbits | top << (fmt.fbits - 8)
              for parity in (0, 1) for top in range(256)]
    rng = random.Random(esz)
    for chunk in range(0, len(inputs), 8 * lanes):
        state = randgen.random_state(rng)
        vals = inputs[chunk:chunk + 8 * lanes]
        for i in range(8):
            state[f"q{i}"] = _packed((vals[i * lanes:(i + 1) * lanes] + vals[:lanes])[:lanes], esz)
        state["x1"] = 0
        with _PythonCalls(kind) as calls:
            check_block(block, state, randgen.random_memory(rng), hot=chunk % 2 == 0)
        assert calls.n == 8                  # the interpreter's only: every lane native


@pytest.mark.parametrize("kind", [VecOp.frecps, VecOp.frsqrts])
@pytest.mark.parametrize("esz", [2, 3])
def test_newton_step_exact_zero_is_native(kind, esz):
    """a*b == 2 (3 for frsqrts): an exact +0, no flag, on the shortcut."""
    c = 3.0 if kind is VecOp.frsqrts else 2.0
    for k in (-3, 0, 5):
        a, b = 2.0 ** k, c * 2.0 ** -k
        block = _block(kind, esz, 16, 0, False)
        rng = random.Random(k)
        state = randgen.random_state(rng)
        state["q1"] = _packed([_bits(a, esz)] * (16 >> esz), esz)
        state["q2"] = _packed([_bits(b, esz)] * (16 >> esz), esz)
        state["x1"] = 0
        with _PythonCalls(kind) as calls:
            check_block(block, state, randgen.random_memory(rng), hot=k > 0)
        assert calls.n == 1


@pytest.mark.parametrize("esz,oprsz", [(3, 8), (2, 16)])
def test_zero_divided_by_infinity_is_exact(esz, oprsz):
    """0 / inf is an exact zero (the shortcut's residual is 0 * inf, a NaN:
    it once reported Inexact for it)."""
    zero, inf = 0, fp.FMTS[esz].inf(0)
    for a, b in ((zero, inf), (zero | 1 << ((8 << esz) - 1), fp.FMTS[esz].inf(1))):
        state = _state(random.Random(esz), esz, oprsz, esz, VecOp.fdiv)
        lanes = oprsz >> esz
        for i, v in ((1, a), (2, b)):
            state[f"q{i}"] = int.from_bytes(v.to_bytes(1 << esz, "little") * lanes, "little")
        state["x1"] = 0
        for hot in (False, True):
            check_block(_block(VecOp.fdiv, esz, oprsz, 0, False), state,
                        randgen.random_memory(random.Random(0)), hot=hot)
