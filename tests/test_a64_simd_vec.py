"""The vec op: every VecOp lowered by the LLVM backend agrees with the
interpreter (tcgpy.frontends.aarch64.vecsem's semantics) on random register contents, and
the table/semantics/lowering registries cover each other."""
from __future__ import annotations

import random

import pytest

import tcgpy
from tcgpy.backends.llvm.lower_arm_fp import NATIVE as FP_NATIVE
from tcgpy.backends.llvm.lower_arm_vec import VEC_LOWERERS
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.ops import Op
from tcgpy.frontends.aarch64.vecsem import KINDS, SEMANTICS, SHA_OPS, VecOp, pack, unpack
from tests.a64_vec_consts import frontend_vec_consts
from tests.test_backend import check_block
from tests.test_lower_vec_arith import NATIVE as ARITH_NATIVE

ARCH = tcgpy.frontends.get_arch("aarch64")
Q = [ARCH.layout.offsets[f"q{i}"] for i in range(32)]

# Operations the JIT runs only through the Python semantics (vec_env helper):
# none.  Integer ops have a lowering here; floating point has lower_arm_fp's
# shortcuts (native code on the common path, these semantics on the rest:
# tests/test_lower_fp.py).  An op added to the IR without either lands here
# and must be justified as rare.
PYTHON_ONLY: set[VecOp] = set()


def test_every_vecop_has_semantics_and_a_known_lowering():
    assert set(SEMANTICS) == set(VecOp)
    assert set(VEC_LOWERERS) | set(FP_NATIVE) | PYTHON_ONLY == set(VecOp)
    assert not set(VEC_LOWERERS) & PYTHON_ONLY and not set(FP_NATIVE) & PYTHON_ONLY
    # what `pytest -s` shows: the vec ops translated code runs in Python
    print("vec ops without a native lowering:", sorted(k.value.name for k in PYTHON_ONLY) or "none")


def test_pack_roundtrip():
    for kind in KINDS:
        c = (kind, Q[31], Q[0], Q[17], 3, 16, 0x3ABC)
        assert unpack(pack(*c)) == c


# What insn_simd/insn_simd_ldst emit for the lower_arm_vec_lanes operations:
# every (esz, oprsz) and every imm.
_VEC = [(e, o) for e in range(4) for o in (8, 16) if (e, o) != (3, 8)]        # .1d is no arrangement
_ACROSS = [(e, o) for e in range(3) for o in (8, 16) if (e, o) != (2, 8)]     # .2s has no across form
_BYTES = [(0, 8), (0, 16)]
_HBS = [(e, o) for e in range(3) for o in (8, 16)]
LANES_SHAPES = {
    VecOp.uzpn: _VEC, VecOp.zipn: _VEC,
    VecOp.addv: _ACROSS + [(3, 16)],                                        # + addp d, v.2d
    VecOp.smaxv: _ACROSS, VecOp.sminv: _ACROSS, VecOp.umaxv: _ACROSS, VecOp.uminv: _ACROSS,
    VecOp.uaddlv: _ACROSS, VecOp.saddlv: _ACROSS,
    VecOp.cnt: _BYTES, VecOp.rbit: _BYTES, VecOp.clz: _HBS, VecOp.cls: _HBS, VecOp.addlp: _HBS,
    VecOp.tbl: _BYTES, VecOp.pmul: _BYTES, VecOp.pmull: [(0, 16), (3, 16)],
    VecOp.aese: [(0, 16)], VecOp.aesmc: [(0, 16)], VecOp.sha: [(0, 16)],
}
LANES_IMMS = {
    VecOp.uzpn: [n | r << 4 for n in (2, 3, 4) for r in range(n)],         # n registers, register r
    VecOp.zipn: [2, 3, 4],
    VecOp.addlp: [0, 1, 2, 3],                                              # bit 0 signed, bit 1 accumulate
    VecOp.tbl: [16 * n | x for n in (1, 2, 3, 4) for x in (0, 0x80)],       # table bytes | tbx
    VecOp.pmull: [1],                                                       # U=0 sets the "signed" bit
    VecOp.aese: [0, 1], VecOp.aesmc: [0, 1],                                # AESE/AESMC, AESD/AESIMC
    VecOp.sha: list(range(len(SHA_OPS))),                                   # SHA_OPS[imm]
}


def _imm(kind: VecOp, esz: int, rng: random.Random, oprsz: int = 16) -> int:
    bits = 8 << esz
    if kind in ARITH_NATIVE:
        return rng.choice(sorted(imm for e, o, imm in frontend_vec_consts()[kind] if (e, o) == (esz, oprsz)))
    if kind is VecOp.bsl:
        return rng.choice(Q[:6])
    if kind is VecOp.shli:
        return rng.randrange(bits)
    if kind in (VecOp.ushri, VecOp.sshri):
        return rng.randrange(1, bits + 1)
    if kind is VecOp.shrn:
        return rng.randrange(1, bits + 1) | rng.choice((0, 0x100))
    if kind in (VecOp.ushll, VecOp.sshll):
        return rng.randrange(bits + 1)        # shll shifts by the whole narrow lane
    if kind is VecOp.dupe:
        return rng.randrange(16 >> esz)
    if kind is VecOp.rev:
        return rng.randrange(esz + 1, 4)
    if kind in (VecOp.mla, VecOp.addl, VecOp.subl, VecOp.addw, VecOp.subw, VecOp.mull):
        return rng.randrange(4)           # bit 0 signed, bit 1 subtract (mla)
    if kind in LANES_IMMS:
        return rng.choice(LANES_IMMS[kind])
    return 0


def _shapes(kind: VecOp):
    if kind in ARITH_NATIVE:
        return sorted({(e, o) for e, o, imm in frontend_vec_consts()[kind]})
    if kind in LANES_SHAPES:
        return LANES_SHAPES[kind]
    if kind in (VecOp.shrn, VecOp.ushll, VecOp.sshll, VecOp.addl, VecOp.subl, VecOp.addw, VecOp.subw,
                VecOp.mull):
        if kind not in (VecOp.shrn, VecOp.ushll, VecOp.sshll):
            return [(e, 16) for e in range(3)]
        return [(e, 8) for e in range(3)]
    if kind is VecOp.ext:
        return [(0, 8), (0, 16)]
    if kind is VecOp.rev:
        return [(e, o) for e in range(3) for o in (8, 16)]
    if kind in (VecOp.fabs, VecOp.fneg):
        return [(e, o) for e in (2, 3) for o in (8, 16)]
    return [(e, o) for e in range(4) for o in (8, 16) if not (o == 8 and e == 3)
            or kind in (VecOp.add, VecOp.sub, VecOp.cmeq, VecOp.cmgt, VecOp.neg)]


@pytest.mark.parametrize("kind", sorted(VEC_LOWERERS, key=lambda k: k.value.name),
                         ids=lambda k: k.value.name)
def test_llvm_lowering_matches_semantics(kind):
    rng = random.Random(kind.value.name)
    g = ARCH.ir_globals
    for esz, oprsz in _shapes(kind):
        for _ in range(3):
            block = Block(0x1000, globals=g)
            b = Builder(block)
            b.insn_start(0x1000)
            imm = _imm(kind, esz, rng, oprsz)
            if kind is VecOp.ext:
                imm = rng.randrange(oprsz)
            d, a, bb = (rng.choice(Q[:6]) for _ in range(3))
            out = b.new_local()
            b.emit(Op.vec, out, g["x1"], consts=(kind, d, a, bb, esz, oprsz, imm))
            b.mov(g["x2"], out)
            b.goto_tb(0x2000)
            state = randgen.random_state(rng)
            for i in range(6):
                v = rng.getrandbits(128)
                if rng.random() < 0.3:      # equal lanes, to exercise compares
                    v = int.from_bytes(bytes([rng.randrange(3)]) * 16, "little")
                state[f"q{i}"] = v
            check_block(block, state, randgen.random_memory(rng))


# -- lower_arm_vec_lanes on edge values ------------------------------------------------------------
# Three random registers per shape miss most of what these operations can get
# wrong: lanes at 0, all-ones, INT_MIN and INT_MAX (reductions, cls, the
# carries of addlp), table indices at and past the table's end, polynomial
# operands with the top bits set.  Every shape and imm the frontend emits,
# with operands where the frontend puts them, in both tiers.

VTMP = ARCH.layout.offsets["vtmp"]
_INDEX_EDGES = (0, 1, 15, 16, 17, 31, 32, 47, 48, 63, 64, 65, 0x7F, 0x80, 0xFF)


def _edge_vector(rng: random.Random, nbytes: int) -> int:
    """Lanes of one random size, each 0, 1, all-ones, INT_MIN, INT_MAX or random."""
    bits = 8 << rng.randrange(4)
    pick = (0, 1, (1 << bits) - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1)
    v = 0
    for i in range(0, 8 * nbytes, bits):
        lane = rng.choice(pick) if rng.random() < 0.8 else rng.getrandbits(bits)
        v |= lane << i
    return v


def _operands(kind: VecOp, rng: random.Random) -> tuple[int, int, int]:
    """(d, a, b) as the frontend places them (tables and structures staged in vtmp)."""
    d, a, b = (rng.choice(Q[:6]) for _ in range(3))
    if kind in (VecOp.uzpn, VecOp.tbl):
        a = VTMP
    elif kind is VecOp.zipn:
        d, a = VTMP + 64, VTMP
    elif kind is VecOp.pmull:
        a, b = a + rng.choice((0, 8)), b + rng.choice((0, 8))      # pmull2: the upper halves
    return d, a, b


@pytest.mark.parametrize("hot", [False, True], ids=["first_tier", "hot_tier"])
@pytest.mark.parametrize("kind", sorted(LANES_SHAPES, key=lambda k: k.value.name), ids=lambda k: k.value.name)
def test_lanes_lowering_on_edge_values(kind, hot):
    rng = random.Random(f"edges {kind.value.name} {hot}")
    g = ARCH.ir_globals
    for esz, oprsz in LANES_SHAPES[kind]:
        for imm in LANES_IMMS.get(kind, [0]):
            for _ in range(3):
                block = Block(0x1000, globals=g)
                b = Builder(block)
                b.insn_start(0x1000)
                d, a, bb = _operands(kind, rng)
                out = b.new_local()
                b.emit(Op.vec, out, g["x1"], consts=(kind, d, a, bb, esz, oprsz, imm))
                b.mov(g["x2"], out)
                b.goto_tb(0x2000)
                state = randgen.random_state(rng)
                for i in range(6):
                    state[f"q{i}"] = _edge_vector(rng, 16)
                state["vtmp"] = _edge_vector(rng, 128)
                if kind is VecOp.tbl:
                    idx = bytes(rng.choice(_INDEX_EDGES) for _ in range(16))
                    state[f"q{Q.index(bb)}"] = int.from_bytes(idx, "little")
                check_block(block, state, randgen.random_memory(rng), hot=hot)
