"""The random block generator covers what it promises (every op, Cond,
memory size/sign, exit kind, faults) and only makes blocks the verifier and
interpreter accept."""
from __future__ import annotations

import random
from collections import Counter

from hypothesis import given

from tcgpy.frontends import get_arch
from tcgpy.ir import randgen
from tcgpy.ir.helpers import HelperDef
from tcgpy.ir.interp import interpret
from tcgpy.ir.ops import F, Cond, MemOp, Op
from tcgpy.ir.verify import verify

ARCH = get_arch("aarch64")
SEEDS = range(200)
HELPERS = [HelperDef(0, "sum", lambda a, b, c: (a + b + c) & ((1 << 64) - 1))]


def generated(**kw):
    for seed in SEEDS:
        rng = random.Random(seed)
        yield rng, randgen.random_block(rng, ARCH, **kw)


def test_covers_every_op_cond_and_memop():
    ops, conds, ld_memops, st_sizes = set(), set(), set(), set()
    for _, block in generated(calls=True, fp=True):
        for insn in block.insns:
            ops.add(insn.op)
            if insn.op in (Op.setcond, Op.movcond, Op.brcond):
                conds.add((insn.op, insn.consts[0]))
            elif insn.op is Op.ld:
                ld_memops.add(insn.consts[0] & (MemOp.SIZE_MASK | MemOp.SIGN))
            elif insn.op is Op.st:
                st_sizes.add(insn.consts[0] & MemOp.SIZE_MASK)
    assert {op._name_ for op in Op} - {op._name_ for op in ops} <= randgen.NOT_GENERATED
    assert conds == {(op, c) for op in (Op.setcond, Op.movcond, Op.brcond) for c in Cond}
    assert ld_memops == set(range(8))
    assert st_sizes == set(range(4))


def test_uses_edge_values_and_real_globals():
    consts, globals_ = set(), set()
    for _, block in generated():
        for insn in block.insns:
            consts |= {t.value for t in insn.ins if t.is_const}
            globals_ |= {t.name for t in insn.ins + insn.outs if t.is_global}
            assert all(t is ARCH.ir_globals[t.name] for t in insn.ins + insn.outs if t.is_global)
    assert {0, 1, 63, 64, 1 << 63, (1 << 64) - 1, (1 << 32) - 1} <= consts
    assert {"nf", "zf", "cf", "vf", "x0", "pc"} <= globals_


def test_blocks_verify_and_reach_every_kind_of_exit():
    kinds = Counter()
    mid_block_exits = 0
    for rng, block in generated(calls=True):
        verify(block)
        ends = [i for i, insn in enumerate(block.insns) if insn.op.value.flags & F.BB_END]
        mid_block_exits += len(ends) > 1
        info = interpret(block, randgen.random_state(rng, ARCH), randgen.random_memory(rng),
                         helpers=HELPERS)
        kinds[info.kind] += 1
        if info.kind == "fault":
            assert info.fault_access in ("read", "write")
    assert set(kinds) == {"goto_tb", "goto_ptr", "exit_tb", "fault"}
    # Faults are exercised but do not dominate: most blocks run to their end.
    assert 0.03 < kinds["fault"] / len(SEEDS) < 0.4, kinds
    assert mid_block_exits > 10


def test_no_faults_when_asked():
    for rng, block in generated(fault_rate=0.0):
        info = interpret(block, randgen.random_state(rng, ARCH), randgen.random_memory(rng))
        assert info.kind != "fault"


def test_env_accesses_stay_in_the_vector_registers():
    lo = ARCH.layout.offsets["q0"]
    hi = ARCH.layout.offsets["q3"] + 16
    for _, block in generated():
        for insn in block.insns:
            if insn.op in (Op.ld_env, Op.st_env):
                off, memop = insn.consts
                assert lo <= off and off + (1 << (memop & 3)) <= hi


@given(randgen.blocks(ARCH, n_ops=20), randgen.states(ARCH), randgen.memories())
def test_strategies_produce_runnable_inputs(block, state, mem):
    verify(block)
    interpret(block, state, mem)
