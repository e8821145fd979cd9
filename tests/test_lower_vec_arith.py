"""The saturating, halving, rounding, widening, narrowing and inserting
integer vec ops lowered natively (tcgpy/backends/llvm/lower_arm_vec_arith.py):
for every (esz, oprsz, imm) the A64 frontend emits them with
(tests/a64_vec_consts.py), the JIT and the interpreter (the Python
semantics) agree, status word (FPSR.QC) included, on registers full of edge
lanes -- 0, 1, all-ones, the signed extremes and their neighbours, shift
counts at and past the lane size and negative ones -- and on random ones."""
from __future__ import annotations

import random

import pytest

import tcgpy
from tcgpy.backends.llvm import lower_arm_vec
from tcgpy.backends.llvm.lower_arm_vec import VEC_LOWERERS
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.ops import Op
from tcgpy.frontends.aarch64.vecsem import VecOp
from tests.a64_vec_consts import frontend_vec_consts
from tests.test_backend import check_block, jit_compile

ARCH = tcgpy.frontends.get_arch("aarch64")
Q = [ARCH.layout.offsets[f"q{i}"] for i in range(32)]
SOURCES, DESTS = Q[:8], Q[8:]          # sources are never written: the ops of a block are independent

NATIVE = (VecOp.abd, VecOp.abdl, VecOp.addhn, VecOp.subhn, VecOp.hadd, VecOp.hsub, VecOp.mlal,
          VecOp.qabs, VecOp.qadd, VecOp.qsub, VecOp.qdmlal, VecOp.qdmulh, VecOp.qrdmlah,
          VecOp.qshli, VecOp.qshrn, VecOp.rshri, VecOp.shl, VecOp.sli, VecOp.sri, VecOp.uqacc,
          VecOp.urecpe)
STATES_PER_BLOCK = 8


def _edges(esz: int) -> list[int]:
    bits = 8 << esz
    top = 1 << (bits - 1)
    half = 1 << (bits // 2)
    return [0, 1, 2, 3, top - 1, top, top + 1, top - 2, (1 << bits) - 1, (1 << bits) - 2,
            half, half - 1, half + 1, (1 << bits) - half]


def _shift_counts(esz: int) -> list[int]:
    """Lanes whose low byte is a count for ``shl``: around 0 and the lane
    size, both signs, and the byte's extremes."""
    bits = 8 << esz
    return [c & 0xFF for c in (0, 1, 2, bits - 2, bits - 1, bits, bits + 1, 2 * bits, 127,
                               -1, -2, -(bits - 1), -bits, -(bits + 1), -2 * bits, -128)]


def _vector(rng: random.Random, esz: int, values: list[int], low_byte_only: bool = False) -> int:
    bits = 8 << esz
    out = 0
    for i in range(16 >> esz):
        v = rng.choice(values)
        if low_byte_only:               # the rest of a count lane is ignored: make it noise
            v |= rng.getrandbits(bits) & ~0xFF
        out |= (v & ((1 << bits) - 1)) << (i * bits)
    return out


def _register_kinds(esz: int):
    wide = min(esz + 1, 3)
    return [lambda r: _vector(r, esz, _edges(esz)),
            lambda r: _vector(r, wide, _edges(wide)),
            lambda r: _vector(r, esz, _shift_counts(esz), True),
            lambda r: r.getrandbits(128),
            lambda r: _vector(r, esz, [r.getrandbits(8 << esz)]),     # all lanes equal
            lambda r: _vector(r, esz, _edges(esz) + [r.getrandbits(8 << esz) for _ in range(4)])]


def _state(rng: random.Random, esz: int, k: int):
    """State ``k`` of a block: each source register holds another kind of
    lanes in each state; destinations (accumulators) hold edge lanes."""
    state = randgen.random_state(rng)
    kinds = _register_kinds(esz)
    for i in range(32):
        fill = kinds[(i + k) % len(kinds)] if i < len(SOURCES) else kinds[rng.randrange(2)]
        state[f"q{i}"] = fill(rng)
    return state


def _check_ops(rng: random.Random, ops: list[tuple], esz: int, hot: bool) -> None:
    """One block of independent vec ops (each writes its own destination
    and its status to its own x register), compiled once (``hot``: by the
    optimising tier) and compared with the interpreter on several states."""
    g = ARCH.ir_globals
    for start in range(0, len(ops), len(DESTS)):
        block = Block(0x1000, globals=g)
        b = Builder(block)
        b.insn_start(0x1000)
        for i, (kind, a, bb, e, oprsz, imm) in enumerate(ops[start:start + len(DESTS)]):
            out = b.new_local()
            b.emit(Op.vec, out, g["x1"], consts=(kind, DESTS[i], a, bb, e, oprsz, imm))
            b.mov(g[f"x{i + 2}"], out)
        b.goto_tb(0x2000)
        tb = jit_compile(block, hot)
        for k in range(STATES_PER_BLOCK):
            check_block(block, _state(rng, esz, k), randgen.random_memory(rng), tb=tb)


def test_every_op_here_is_lowered_natively():
    assert set(NATIVE) <= set(VEC_LOWERERS)


@pytest.fixture
def no_python(monkeypatch):
    """Lowering fails if it falls back to the Python semantics."""
    def refuse(v):
        raise AssertionError(f"{v.kind} {v.esz} {v.oprsz} {v.imm:#x} calls Python")
    monkeypatch.setattr(lower_arm_vec.V, "call_python", refuse)


@pytest.mark.parametrize("hot", [False, True], ids=["first_tier", "hot_tier"])
@pytest.mark.parametrize("kind", NATIVE, ids=lambda k: k.value.name)
def test_every_frontend_combination_matches_the_interpreter_on_edge_lanes(kind, hot, no_python):
    consts = sorted(frontend_vec_consts()[kind])
    assert consts, f"the frontend no longer emits {kind}"
    rng = random.Random(kind.value.name)
    for esz in sorted({c[0] for c in consts}):
        ops = [(kind, rng.choice(SOURCES), rng.choice(SOURCES), e, oprsz, imm)
               for e, oprsz, imm in consts if e == esz]
        _check_ops(rng, ops, esz, hot)


def test_urecpe_and_ursqrte_on_every_estimate_input(no_python):
    """The estimates depend on the top nine bits of a lane: all 512 of them
    (and the lanes below the input range), each with random low bits."""
    rng = random.Random(14)
    g = ARCH.ir_globals
    block = Block(0x1000, globals=g)
    b = Builder(block)
    b.insn_start(0x1000)
    for i, src in enumerate(SOURCES):
        for imm in (0, 1):
            out = b.new_local()
            b.emit(Op.vec, out, g["x1"], consts=(VecOp.urecpe, DESTS[2 * i + imm], src, 0, 2, 16, imm))
    b.goto_tb(0x2000)
    tb = jit_compile(block)
    tops = list(range(512))
    per_state = 4 * len(SOURCES)
    for start in range(0, len(tops), per_state):
        state = randgen.random_state(rng)
        chunk = tops[start:start + per_state]
        for r in range(len(SOURCES)):
            lanes = [(t << 23) | rng.getrandbits(23) for t in chunk[4 * r:4 * r + 4]]
            state[f"q{r}"] = sum(v << (32 * j) for j, v in enumerate(lanes))
        check_block(block, state, randgen.random_memory(rng), tb=tb)
