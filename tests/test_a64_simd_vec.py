"""The vec op: every VecOp lowered by the LLVM backend agrees with the
interpreter (tcgpy.ir.vector's semantics) on random register contents, and
the table/semantics/lowering registries cover each other."""
from __future__ import annotations

import random

import pytest

import tcgpy
from tcgpy.backends.llvm.lower_fp import NATIVE as FP_NATIVE
from tcgpy.backends.llvm.lower_vec import VEC_LOWERERS
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.ops import Op
from tcgpy.ir.vector import KINDS, SEMANTICS, VecOp, pack, unpack
from tests.test_backend import check_block

ARCH = tcgpy.frontends.get_arch("aarch64")
Q = [ARCH.layout.offsets[f"q{i}"] for i in range(32)]

# Operations the JIT runs only through the Python semantics (vec_env
# helper): integer ones rare enough not to matter.  Floating point has
# lower_fp's shortcuts (native code on the common path, these semantics on
# the rest: tests/test_lower_fp.py) instead of a lowering here.
PYTHON_ONLY = {VecOp.addv, VecOp.smaxv, VecOp.sminv, VecOp.umaxv, VecOp.uminv, VecOp.uaddlv,
               VecOp.saddlv, VecOp.cnt, VecOp.clz, VecOp.tbl, VecOp.hadd, VecOp.hsub, VecOp.qadd,
               VecOp.qsub, VecOp.shl, VecOp.abd, VecOp.pmul, VecOp.qdmulh, VecOp.abdl, VecOp.mlal,
               VecOp.pmull, VecOp.addhn, VecOp.subhn, VecOp.rshri, VecOp.sri, VecOp.sli,
               VecOp.qshli, VecOp.qshrn, VecOp.rbit, VecOp.cls, VecOp.addlp, VecOp.qabs, VecOp.aese,
               VecOp.aesmc, VecOp.uzpn, VecOp.zipn, VecOp.sha, VecOp.qdmlal, VecOp.uqacc,
               VecOp.urecpe, VecOp.qrdmlah}


def test_every_vecop_has_semantics_and_a_known_lowering():
    assert set(SEMANTICS) == set(VecOp)
    assert set(VEC_LOWERERS) | set(FP_NATIVE) | PYTHON_ONLY == set(VecOp)
    assert not set(VEC_LOWERERS) & PYTHON_ONLY and not set(FP_NATIVE) & PYTHON_ONLY


def test_pack_roundtrip():
    for kind in KINDS:
        c = (kind, Q[31], Q[0], Q[17], 3, 16, 0x3ABC)
        assert unpack(pack(*c)) == c


def _imm(kind: VecOp, esz: int, rng: random.Random) -> int:
    bits = 8 << esz
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
    return 0


def _shapes(kind: VecOp):
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
            imm = _imm(kind, esz, rng)
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
