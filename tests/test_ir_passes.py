"""Optimizer passes: each pass alone and the whole pipeline leave the
interpreter's result unchanged (exit, full env image, memory) on random
blocks and states; the folder covers every pure op; targeted cases for the
non-SSA/label pitfalls; and a real translated AArch64 block shrinks."""
from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcgpy.frontends import get_arch
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.helpers import HelperDef
from tcgpy.ir.interp import FlatMemory, InterpState, interpret
from tcgpy.ir.ops import MASK64, Cond, MemOp, Op
from tcgpy.ir.passes import PASSES, constfold, copyprop, dce, deadglobals, optimize
from tcgpy.ir.verify import verify
from tcgpy.translator import translate_block

ARCH = get_arch("aarch64")
G = ARCH.ir_globals
M = MASK64
# Deterministic stand-in for helper 0 (the real one reads the clock).
HELPERS = [HelperDef(0, "mix", lambda a, b, c: (a * 0x9E3779B97F4A7C15 + (b ^ c)) & M)]


def outcome(block: Block, state: InterpState, mem: FlatMemory):
    state, mem = state.copy(), mem.copy()
    info = interpret(block, state, mem, helpers=HELPERS)
    return info, state, mem


def assert_same(before: Block, after: Block, state: InterpState, mem: FlatMemory) -> None:
    info0, s0, m0 = outcome(before, state, mem)
    info1, s1, m1 = outcome(after, state, mem)
    context = f"\n--- before\n{before}--- after\n{after}"
    assert info1 == info0, context
    assert s1.env == s0.env, f"{s0.diff(s1)}{context}"
    assert m1.data == m0.data, context


def check_pipeline(seed: int, passes) -> None:
    rng = random.Random(seed)
    block = randgen.random_block(rng, ARCH, n_ops=rng.randrange(5, 60), calls=True, fp=True)
    state, mem = randgen.random_state(rng, ARCH), randgen.random_memory(rng)
    verify(block)
    after = optimize(block.copy(), enabled=passes)
    verify(after)
    assert_same(block, after, state, mem)


@pytest.mark.parametrize("name", list(PASSES))
@given(seed=st.integers(0, 2**64 - 1))
def test_pass_alone_preserves_semantics(name, seed):
    check_pipeline(seed, [name])


@given(seed=st.integers(0, 2**64 - 1))
def test_pipeline_preserves_semantics(seed):
    check_pipeline(seed, None)


def test_pipeline_preserves_semantics_on_many_seeds():
    # A fixed sweep on top of hypothesis' random draws: cheap and reproducible.
    for seed in range(300):
        check_pipeline(seed, None)


@given(seed=st.integers(0, 2**64 - 1))
def test_pipeline_preserves_semantics_without_faults(seed):
    # Faulting blocks stop early; here every block runs to its exit.
    rng = random.Random(seed)
    block = randgen.random_block(rng, ARCH, n_ops=40, fault_rate=0.0)
    after = optimize(block.copy())
    verify(after)
    assert_same(block, after, randgen.random_state(rng, ARCH), randgen.random_memory(rng))


def test_pipeline_is_a_fixpoint_on_its_output_semantics():
    # Running the pipeline twice is as correct as once (passes accept their own output).
    for seed in range(100):
        rng = random.Random(seed)
        block = randgen.random_block(rng, ARCH, n_ops=40, calls=True, fp=True)
        twice = optimize(optimize(block.copy()))
        verify(twice)
        assert_same(block, twice, randgen.random_state(rng, ARCH), randgen.random_memory(rng))


def test_pipeline_selection():
    assert list(PASSES) == ["constfold", "copyprop", "deadglobals", "dce"]
    with pytest.raises(ValueError, match="unknown optimizer pass"):
        optimize(Block(0), enabled=["nope"])
    with pytest.raises(ValueError, match="unknown optimizer pass"):
        optimize(Block(0), disabled=["nope"])
    block, b = new_block()
    b.mov(G["x0"], b.add(1, 2))
    b.goto_tb(0)
    assert len(optimize(block.copy(), enabled=[]).insns) == len(block.insns)
    assert len(optimize(block.copy(), disabled=["dce"]).insns) == len(block.insns)
    assert len(optimize(block.copy()).insns) == len(block.insns) - 1


# -- constant folding ------------------------------------------------------------------

def test_every_pure_value_op_has_a_folder():
    pure = {op for op in Op if op.value.nout == 1 and not op.value.flags and op is not Op.ld_env}
    assert set(constfold.PURE_VALUE_OPS) == pure
    assert set(constfold.FOLDERS) == pure


def new_block() -> tuple[Block, Builder]:
    block = Block(0x1000, globals=ARCH.ir_globals)
    b = Builder(block)
    b.insn_start(0x1000)
    return block, b


def fold_one(op: Op, *ins, consts=()):
    """Fold ``x0 = op(ins)``; return the text of what is left for x0."""
    block, b = new_block()
    b.emit(op, G["x0"], *ins, consts=consts)
    b.goto_tb(0)
    out = constfold.run(block.copy())
    return str(out.insns[1]).strip()


@pytest.mark.parametrize("op,ins,consts,expected", [
    # all-constant operands evaluate through the interpreter's semantics
    (Op.add, (M, 2), (), "mov x0,$0x1"),
    (Op.divs_arm, (1 << 63, M), (), "mov x0,$0x8000000000000000"),
    (Op.rems_rv, (1 << 63, M), (), "mov x0,$0x0"),
    (Op.clz, (0,), (), "mov x0,$0x40"),
    (Op.bitrev, (1,), (), "mov x0,$0x8000000000000000"),
    (Op.ext32s, (0x8000_0000,), (), "mov x0,$0xffffffff80000000"),
    # identities
    (Op.add, ("x1", 0), (), "mov x0,x1"),
    (Op.add, (0, "x1"), (), "mov x0,x1"),
    (Op.add, (5, "x1"), (), "add x0,x1,$0x5"),        # constant moves second
    (Op.sub, ("x1", 0), (), "mov x0,x1"),
    (Op.sub, ("x1", "x1"), (), "mov x0,$0x0"),
    (Op.sub, ("x1", 1), (), "add x0,x1,$0xffffffffffffffff"),
    (Op.mul, ("x1", 1), (), "mov x0,x1"),
    (Op.mul, ("x1", 0), (), "mov x0,$0x0"),
    (Op.and_, ("x1", 0), (), "mov x0,$0x0"),
    (Op.and_, ("x1", M), (), "mov x0,x1"),
    (Op.and_, ("x1", "x1"), (), "mov x0,x1"),
    (Op.or_, ("x1", 0), (), "mov x0,x1"),
    (Op.or_, ("x1", M), (), "mov x0,$0xffffffffffffffff"),
    (Op.xor, ("x1", "x1"), (), "mov x0,$0x0"),
    (Op.xor, ("x1", 0), (), "mov x0,x1"),
    (Op.andc, ("x1", "x1"), (), "mov x0,$0x0"),
    (Op.andc, ("x1", 0), (), "mov x0,x1"),
    (Op.shl, ("x1", 64), (), "mov x0,x1"),            # counts are mod 64
    (Op.shr, ("x1", 65), (), "shr x0,x1,$0x1"),
    (Op.sar, (M, "x1"), (), "mov x0,$0xffffffffffffffff"),
    (Op.rotr, (0, "x1"), (), "mov x0,$0x0"),
    (Op.divu_arm, ("x1", 0), (), "mov x0,$0x0"),      # Arm: x / 0 == 0
    (Op.divs_arm, ("x1", 1), (), "mov x0,x1"),
    (Op.divu_rv, ("x1", 0), (), "mov x0,$0xffffffffffffffff"),    # RISC-V: all ones
    (Op.divs_rv, ("x1", 0), (), "mov x0,$0xffffffffffffffff"),
    (Op.divs_rv, ("x1", 1), (), "mov x0,x1"),
    (Op.remu_rv, ("x1", 0), (), "mov x0,x1"),         # RISC-V: x % 0 == x
    (Op.rems_rv, ("x1", 1), (), "mov x0,$0x0"),
    (Op.muluh, ("x1", 0), (), "mov x0,$0x0"),
    (Op.setcond, ("x1", "x1"), (Cond.le,), "mov x0,$0x1"),
    (Op.setcond, ("x1", "x1"), (Cond.gtu,), "mov x0,$0x0"),
    (Op.setcond, ("x1", 0), (Cond.ltu,), "mov x0,$0x0"),
    (Op.setcond, ("x1", "x2"), (Cond.always,), "mov x0,$0x1"),
    (Op.setcond, ("x1", "x2"), (Cond.eq,), "setcond x0,x1,x2,eq"),
    (Op.movcond, ("x1", "x2", "x3", "x3"), (Cond.lt,), "mov x0,x3"),
    (Op.movcond, (1, 2, "x3", "x4"), (Cond.lt,), "mov x0,x3"),
    (Op.movcond, (1, 2, "x3", "x4"), (Cond.gtu,), "mov x0,x4"),
    (Op.neg, ("x1",), (), "neg x0,x1"),
])
def test_fold(op, ins, consts, expected):
    ins = tuple(G[v] if isinstance(v, str) else v for v in ins)
    assert fold_one(op, *ins, consts=consts) == expected


def fold_seq(build) -> str:
    """constfold over ``build(b)`` (which returns the temp to store in x0);
    the text of the insn that writes x0's value, after copyprop."""
    block, b = new_block()
    b.mov(G["x0"], build(b))
    b.goto_tb(0)
    out = optimize(block.copy(), enabled=["constfold", "copyprop", "dce"])
    assert_same(block, out, randgen.random_state(random.Random(3), ARCH),
                FlatMemory(0, bytearray(8)))
    return str(out)


def test_known_zero_bits_drop_redundant_extensions():
    # A W-register result zero-extended twice (write_reg then read_reg_sf).
    text = fold_seq(lambda b: b.ext32u(b.ext32u(b.add(G["x1"], 1))))
    assert text.count("ext32u") == 1
    text = fold_seq(lambda b: b.ext32s(b.ext16u(G["x1"])))      # bit 31 known clear
    assert "ext32s" not in text and "ext16u" in text
    text = fold_seq(lambda b: b.ext8u(b.ld(G["x1"], MemOp.make(0))))
    assert "ext8u" not in text
    text = fold_seq(lambda b: b.ext8u(b.ld(G["x1"], MemOp.make(0, sign=True))))
    assert "ext8u" in text


def test_known_zero_bits_simplify_flag_arithmetic():
    # and with 1 of a 0/1 value, shr of a 32-bit value past its width
    assert "and" not in fold_seq(lambda b: b.and_(b.setcond(Cond.ltu, G["x1"], G["x2"]), 1))
    assert "and" not in fold_seq(lambda b: b.and_(b.shr(G["x1"], 63), 1))
    assert "mov x0,$0x0" in fold_seq(lambda b: b.shr(b.ext32u(G["x1"]), 32))
    assert "mov x0,$0x0" in fold_seq(lambda b: b.and_(b.ext8u(G["x1"]), b.shl(G["x2"], 8)))
    # flag != 0 is the flag; flag == 0 its negation
    text = fold_seq(lambda b: b.setcond(Cond.ne, b.setcond(Cond.lt, G["x1"], G["x2"]), 0))
    assert text.count("setcond") == 1
    text = fold_seq(lambda b: b.setcond(Cond.eq, b.setcond(Cond.lt, G["x1"], G["x2"]), 0))
    assert text.count("setcond") == 1 and "xor" in text


def test_constant_offsets_chain():
    # add x0, x1, #5; sub x0, x0, #1; sub x0, x0, #1 -> x1 + 3
    text = fold_seq(lambda b: b.sub(b.sub(b.add(G["x1"], 5), 1), 1))
    assert "add tmp2,x1,$0x3" in text and text.count("add") == 1
    # double negation of a flag (GE after LT-style inversion) vanishes
    text = fold_seq(lambda b: b.xor(b.xor(G["x1"], 1), 1))
    assert "xor" not in text and "mov x0,x1" in text


def test_constant_offsets_fold_into_equality_tests():
    block, b = new_block()
    label = b.new_label()
    b.brcond(Cond.eq, b.xor(G["zf"], 1), 0, label)      # b.ne: !(zf ^ 1 == 0)
    b.goto_tb(4)
    b.set_label(label)
    b.goto_tb(8)
    out = optimize(block.copy())
    assert "xor" not in str(out) and "brcond zf,$0x1,eq" in str(out)
    for zf in (0, 1):
        assert_same(block, out, InterpState.from_dict(ARCH, {"zf": zf}), FlatMemory(0, bytearray(8)))


def test_constant_offsets_end_when_the_base_is_reassigned():
    # t = x1 + 1; x1 = 5; x0 = t + 1 must stay old_x1 + 2, not 5 + 2 or x1 + 2.
    block, b = new_block()
    t = b.add(G["x1"], 1)
    b.mov(G["x1"], 5)
    b.mov(G["x0"], b.add(t, 1))
    b.goto_tb(0)
    out = optimize(block.copy())
    state = InterpState.from_dict(ARCH, {"x1": 100})
    assert_same(block, out, state, FlatMemory(0, bytearray(8)))
    info, state, _ = outcome(out, state, FlatMemory(0, bytearray(8)))
    assert state["x0"] == 102


def test_constant_offsets_end_when_the_temp_is_reassigned():
    block, b = new_block()
    t = b.add(G["x1"], 1)
    b.emit(Op.mul, t, G["x2"], G["x2"])       # t reassigned: no longer x1 + 1
    b.mov(G["x0"], b.add(t, 1))
    b.goto_tb(0)
    out = optimize(block.copy())
    state = InterpState.from_dict(ARCH, {"x1": 100, "x2": 7})
    info, state, _ = outcome(out, state, FlatMemory(0, bytearray(8)))
    assert state["x0"] == 50


def test_constants_propagate_through_globals_and_locals():
    block, b = new_block()
    b.mov(G["x1"], 40)
    t = b.add(G["x1"], 2)
    b.mov(G["x0"], b.mul(t, t))
    b.goto_tb(0)
    out = constfold.run(block.copy())
    assert str(out.insns[-2]).strip() == "mov x0,$0x6e4"


def test_constfold_forgets_at_labels():
    # x1 is 1 on the fallthrough path only: after the label it is unknown.
    block, b = new_block()
    label = b.new_label()
    b.brcond(Cond.eq, G["x2"], 0, label)
    b.mov(G["x1"], 1)
    b.set_label(label)
    b.mov(G["x0"], b.add(G["x1"], 1))
    b.goto_tb(0)
    out = constfold.run(block.copy())
    assert "add tmp0,x1,$0x1" in str(out)


def test_decided_brcond_becomes_br_or_vanishes():
    block, b = new_block()
    taken, not_taken = b.new_label(), b.new_label()
    b.brcond(Cond.ltu, 1, 2, taken)
    b.brcond(Cond.gt, G["x0"], G["x0"], not_taken)
    b.set_label(not_taken)
    b.goto_tb(4)
    b.set_label(taken)
    b.goto_tb(8)
    out = constfold.run(block.copy())
    ops = [i.op for i in out.insns]
    assert Op.brcond not in ops and ops.count(Op.br) == 1
    out = optimize(block.copy())
    assert str(out) == " ---- 0000000000001000\n goto_tb $0x8\n"


# -- copy propagation ---------------------------------------------------------------

def test_copyprop_routes_reads_to_the_source():
    block, b = new_block()
    t = b.new_local()
    b.mov(t, G["x1"])
    b.mov(G["x0"], b.add(t, 1))
    b.goto_tb(0)
    assert "add tmp1,x1,$0x1" in str(copyprop.run(block.copy()))


def test_copyprop_stops_when_the_source_is_reassigned():
    # Locals are not SSA: after x1 changes, t still holds the old x1.
    block, b = new_block()
    t = b.new_local()
    b.mov(t, G["x1"])
    b.mov(G["x1"], 5)
    b.mov(G["x0"], t)
    b.goto_tb(0)
    out = copyprop.run(block.copy())
    assert str(out.insns[-2]).strip() == "mov x0,tmp0"
    state = InterpState.from_dict(ARCH, {"x1": 9})
    assert_same(block, out, state, FlatMemory(0, bytearray(8)))


def test_copyprop_stops_when_the_copy_is_reassigned():
    block, b = new_block()
    t = b.new_local()
    b.mov(t, G["x1"])
    b.mov(t, G["x2"])
    b.mov(G["x0"], t)
    b.goto_tb(0)
    out = copyprop.run(block.copy())
    assert str(out.insns[-2]).strip() == "mov x0,x2"


def test_copyprop_drops_self_moves():
    block, b = new_block()
    t = b.new_local()
    b.mov(t, G["x1"])
    b.mov(G["x1"], t)      # x1 = x1
    b.goto_tb(0)
    assert "mov x1" not in str(copyprop.run(block.copy()))


# -- dead global stores -------------------------------------------------------------

def flag_block(between):
    """nf = x1; <between>; nf = x2; goto_tb"""
    block, b = new_block()
    b.mov(G["nf"], G["x1"])
    between(b)
    b.mov(G["nf"], G["x2"])
    b.goto_tb(0)
    return block


def nf_writes(block: Block) -> int:
    return sum(1 for i in block.insns if G["nf"] in i.outs)


def test_overwritten_global_store_is_removed():
    block = flag_block(lambda b: b.mov(G["x0"], b.add(G["x3"], 1)))
    assert nf_writes(deadglobals.run(block.copy())) == 1


@pytest.mark.parametrize("observer", [
    lambda b: b.mov(G["x0"], G["nf"]),                            # read
    lambda b: b.ld(G["x3"], MemOp.make(3)),                       # may fault
    lambda b: b.st(0, G["x3"], MemOp.make(0)),                    # may fault
    lambda b: b.call(0, 1, 2, 3),                                 # may exit
], ids=["read", "ld", "st", "call"])
def test_global_store_before_an_observer_is_kept(observer):
    block = flag_block(observer)
    assert nf_writes(deadglobals.run(block.copy())) == 2


def test_global_store_before_a_branch_is_kept():
    block, b = new_block()
    label = b.new_label()
    b.mov(G["nf"], 1)
    b.brcond(Cond.eq, G["x0"], 0, label)
    b.mov(G["nf"], 2)
    b.set_label(label)
    b.goto_tb(0)
    assert nf_writes(deadglobals.run(block.copy())) == 2


def test_env_access_does_not_keep_a_global_store():
    q0 = ARCH.layout.offsets["q0"]
    block = flag_block(lambda b: b.emit(Op.st_env, G["x3"], consts=(q0, 3)))
    assert nf_writes(deadglobals.run(block.copy())) == 1


# -- dead code ---------------------------------------------------------------------

def test_dce_keeps_locals_read_after_a_label():
    block, b = new_block()
    label = b.new_label()
    t = b.add(G["x1"], 1)
    b.brcond(Cond.eq, G["x0"], 0, label)
    u = b.add(G["x1"], 2)           # dead: read by nobody
    b.mov(G["x2"], 0)
    b.set_label(label)
    b.mov(G["x0"], t)
    b.goto_tb(0)
    out = dce.run(block.copy())
    text = str(out)
    assert "add tmp0,x1,$0x1" in text and f"add {u!r}" not in text
    verify(out)


def test_dce_removes_unreachable_code_and_unused_labels():
    block, b = new_block()
    dead_label = b.new_label()
    b.goto_tb(0)
    b.set_label(dead_label)          # nothing branches here
    b.mov(G["x0"], 1)
    b.goto_tb(4)
    assert str(dce.run(block.copy())) == " ---- 0000000000001000\n goto_tb $0x0\n"


def test_dce_is_conservative_with_backward_branches():
    # Not produced by frontends, but the pass must not break on it.
    block, b = new_block()
    top, out_label = b.new_label(), b.new_label()
    b.mov(G["x0"], 0)
    t = b.new_local()
    b.mov(t, 3)
    b.set_label(top)
    b.mov(G["x0"], b.add(G["x0"], t))
    b.brcond(Cond.geu, G["x0"], 9, out_label)
    b.br(top)
    b.set_label(out_label)
    b.goto_tb(0)
    after = optimize(block.copy())
    info, state, _ = outcome(after, InterpState(ARCH), FlatMemory(0, bytearray(8)))
    assert state["x0"] == 9 and info.pc == 0


# -- a real translated block ---------------------------------------------------------

CODE = 0x1000
WORDS = [
    0x91001420,   # 1000: add  x0, x1, #5
    0xF1000400,   # 1004: subs x0, x0, #1
    0xF1000400,   # 1008: subs x0, x0, #1
    0x54FFFFC1,   # 100c: b.ne 0x1004
]


def translated() -> Block:
    def fetch(pc):
        i = (pc - CODE) // 4
        return (WORDS[i], 4) if 0 <= i < len(WORDS) else None
    return translate_block(ARCH, fetch, CODE)


@pytest.mark.parametrize("x1,x0,pc,nzcv", [
    (10, 13, 0x1004, (0, 0, 1, 0)),      # 15-1-1 = 13: ne, loop
    (-3 & M, 0, 0x1010, (0, 1, 1, 0)),   # 2-1-1 = 0: eq, fall through
    (-5 & M, -2 & M, 0x1004, (1, 0, 1, 0)),  # (0-1)-1: negative, no borrow in the last subs
])
def test_translated_block_interprets_correctly(x1, x0, pc, nzcv):
    block = translated()
    verify(block)
    for b in (block, optimize(translated())):
        state = InterpState.from_dict(ARCH, {"x1": x1})
        info = interpret(b, state, FlatMemory(0, bytearray(8)))
        assert info.kind == "goto_tb" and info.pc == pc
        assert state["x0"] == x0 and state["pc"] == pc
        assert (state["nf"], state["zf"], state["cf"], state["vf"]) == nzcv


def test_pipeline_shrinks_translated_block_and_drops_dead_flags():
    block = translated()
    after = optimize(translated())
    verify(after)
    flags = [G[n] for n in ("nf", "zf", "cf", "vf")]

    def flag_writes(b):
        return sum(1 for i in b.insns for t in i.outs if t in flags)
    # Both subs write all four flags; only the second one's survive.
    assert flag_writes(block) == 8 and flag_writes(after) == 4
    assert sum(1 for i in after.insns if G["x0"] in i.outs) == 1
    assert len(after.insns) < 0.7 * len(block.insns)
    rng = random.Random(1)
    for _ in range(50):
        assert_same(block, after, randgen.random_state(rng, ARCH), FlatMemory(0, bytearray(8)))


@pytest.mark.slow
def test_soak_each_pass_and_pipeline_on_large_blocks():
    for seed in range(10_000):
        rng = random.Random(10**6 + seed)
        block = randgen.random_block(rng, ARCH, n_ops=rng.randrange(5, 150), calls=True)
        state, mem = randgen.random_state(rng, ARCH), randgen.random_memory(rng)
        for passes in [[name] for name in PASSES] + [None]:
            after = optimize(block.copy(), enabled=passes)
            verify(after)
            assert_same(block, after, state, mem)
