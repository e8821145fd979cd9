"""Native floating point (backends/llvm/lower_fp.py) against the Python
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
from tcgpy.backends.llvm import lower_fp
from tcgpy.ir import fp, randgen, vector
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.ops import Op
from tcgpy.ir.vector import VecOp
from tests.test_backend import check_block

ARCH = tcgpy.frontends.get_arch("aarch64")
Q = [ARCH.layout.offsets[f"q{i}"] for i in range(32)]


def _bits(value: float, esz: int) -> int:
    if esz == 3:
        return struct.unpack("<Q", struct.pack("<d", value))[0]
    return struct.unpack("<I", struct.pack("<f", value))[0]


def _value(rng: random.Random, esz: int, plain: bool = False) -> int:
    fmt = fp.FMTS[esz]
    emin, prec = fmt.min_exp, fmt.fbits + 1
    r = rng.random() * (0.55 if plain else 1.0)
    if r < 0.45:                                   # ordinary values
        v = rng.uniform(-1e3, 1e3) * 2.0 ** rng.randrange(-20, 20)
    elif r < 0.55:                                 # small integers
        v = float(rng.randrange(-50, 50))
    elif r < 0.75:                                 # near the shortcut's thresholds
        e = rng.choice((emin, emin + 1, emin + prec, emin + prec + 1, emin + prec + 2,
                        emin // 2, emin // 2 + prec // 2, -emin - 2, -emin - 1))
        v = rng.choice((1.0, -1.0)) * rng.uniform(1.0, 2.0) * 2.0 ** e
        if esz == 2:
            v = struct.unpack("<f", struct.pack("<f", max(min(v, 3e38), -3e38)))[0]
    else:                                          # special encodings
        return rng.choice((0, 1 << (fmt.bits - 1), fmt.inf(0), fmt.inf(1), fmt.default_nan,
                           fmt.default_nan | 1 << (fmt.bits - 1), fmt.inf(0) | 1,     # sNaN
                           1, (1 << fmt.fbits) - 1, fmt.max_normal(0), fmt.max_normal(1),
                           1 << fmt.fbits, (1 << fmt.fbits) | 1))
    return _bits(v, esz)


def _int_value(rng: random.Random, bits: int) -> int:
    return rng.choice((rng.getrandbits(bits), rng.randrange(-1000, 1000) & ((1 << bits) - 1),
                       1 << (bits - 1), (1 << (bits - 1)) - 1, (1 << bits) - 1,
                       rng.getrandbits(rng.randrange(1, bits + 1))))


def _fpcr(rng: random.Random) -> int:
    if rng.random() < 0.85:
        return rng.choice((0, fp.FPCR_DN, fp.FPCR_AHP))       # the shortcut's FPCRs
    return rng.choice((fp.RP, fp.RM, fp.RZ)) << fp.RMODE_SHIFT | rng.choice((0, fp.FPCR_FZ, fp.FPCR_DN))


SHAPES = {2: (4, 8, 16), 3: (8, 16)}


def _cases():
    """(kind, esz, oprsz, imm, source lane size) for every shape lowered natively."""
    for kind in sorted(lower_fp.NATIVE, key=lambda k: k.value.name):
        for esz, sizes in SHAPES.items():
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
                    yield kind, esz, oprsz, 0, esz


CASES = list(_cases())


def _block(kind, esz, oprsz, imm, with_ixc: bool):
    g = ARCH.ir_globals
    block = Block(0x1000, globals=g)
    b = Builder(block)
    b.insn_start(0x1000)
    x = g["x1"]
    if with_ixc:
        x = b.or_(x, b.shl(b.and_(g["x3"], fp.IXC), lower_fp.KNOWN_IXC_BIT - 4))
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
        lanes = [_value(rng, esz, plain) for _ in range(16 >> esz)]
        if kind in (VecOp.fcvti, VecOp.fsqrt) and rng.random() < 0.7:   # mostly in the domain
            lanes = [v & ~(1 << ((8 << esz) - 1)) for v in lanes]
        if rng.random() < 0.2:
            lanes = [lanes[0]] * len(lanes)
        state[f"q{i}"] = int.from_bytes(b"".join(v.to_bytes(1 << esz, "little") for v in lanes), "little")
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
    block = _block(kind, esz, oprsz, imm, kind in lower_fp.KNOWN_IXC)
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
    before = len(lower_fp._library)
    for hot in (False, False):
        block = _block(VecOp.fadd, 3, 16, 0, False)
        state = _state(random.Random(1), 3, 16, 3, VecOp.fadd)
        check_block(block, state, randgen.random_memory(random.Random(1)), hot=hot)
    assert len(lower_fp._library) <= before + 1


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
