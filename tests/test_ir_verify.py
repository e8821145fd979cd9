"""The verifier: accepts what the frontend and the generator produce, and
rejects each kind of malformed block with a message naming the problem."""
from __future__ import annotations

import random

import pytest
from hypothesis import given

from tcgpy.frontends import get_arch
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block, Insn, Kind, Temp
from tcgpy.ir.ops import Cond, MemOp, Op
from tcgpy.ir.verify import IRError, verify

ARCH = get_arch("aarch64")
G = ARCH.ir_globals
Q0 = ARCH.layout.offsets["q0"]


def new_block() -> tuple[Block, Builder]:
    block = Block(0x1000, globals=ARCH.ir_globals)
    b = Builder(block)
    b.insn_start(0x1000)
    return block, b


def test_accepts_a_well_formed_block():
    block, b = new_block()
    label = b.new_label()
    t = b.add(G["x1"], 5)
    b.brcond(Cond.eq, t, 0, label)
    b.st(t, G["x2"], MemOp.make(3))
    b.emit(Op.st_env, t, consts=(Q0, MemOp.make(3)))
    b.goto_tb(0x1004)
    b.set_label(label)
    b.exit_tb(t, 0)
    verify(block)


@given(randgen.blocks(ARCH))
def test_accepts_random_blocks(block):
    verify(block)


def rejects(block: Block, message: str) -> None:
    with pytest.raises(IRError, match=message):
        verify(block)


def test_rejects_wrong_arity():
    block, b = new_block()
    block.insns.append(Insn(Op.add, (b.new_local(),), (G["x0"],)))
    b.goto_tb(0)
    rejects(block, "add takes 1 outputs, 2 inputs")


def test_rejects_missing_constant():
    block, b = new_block()
    block.insns.append(Insn(Op.setcond, (b.new_local(),), (G["x0"], G["x1"]), ()))
    b.goto_tb(0)
    rejects(block, "setcond takes")


def test_rejects_constant_output():
    block, b = new_block()
    b.emit(Op.mov, b.const(3), G["x0"])
    b.goto_tb(0)
    rejects(block, "output .* is a constant")


def test_rejects_out_of_range_constant_temp():
    block, b = new_block()
    b.emit(Op.mov, G["x0"], Temp(Kind.CONST, -1, value=1 << 64))
    b.goto_tb(0)
    rejects(block, "not a 64-bit value")


def test_rejects_label_set_twice():
    block, b = new_block()
    label = b.new_label()
    b.brcond(Cond.eq, G["x0"], 0, label)
    b.set_label(label)
    b.set_label(label)
    b.goto_tb(0)
    rejects(block, "set twice")


def test_rejects_branch_to_unset_label():
    block, b = new_block()
    b.brcond(Cond.eq, G["x0"], 0, b.new_label())
    b.goto_tb(0)
    rejects(block, "never set")


def test_rejects_block_without_bb_end():
    block, b = new_block()
    b.mov(G["x0"], 1)
    rejects(block, "does not end in a BB_END")


def test_rejects_empty_block():
    rejects(Block(0, globals=ARCH.ir_globals), "does not end in a BB_END")


def test_rejects_code_after_mid_block_exit_without_label():
    block, b = new_block()
    b.goto_tb(0)
    b.mov(G["x0"], 1)
    b.goto_tb(4)
    rejects(block, "not followed by set_label")


@pytest.mark.parametrize("offset,size_log2", [
    (G["x0"].offset, 3),            # exactly a global
    (G["x0"].offset + 4, 2),        # inside one
    (G["x30"].offset + 7, 1),       # straddling two
])
def test_rejects_env_access_overlapping_a_global(offset, size_log2):
    block, b = new_block()
    b.emit(Op.st_env, 1, consts=(offset, size_log2))
    b.goto_tb(0)
    rejects(block, "overlap IR global")
    block, b = new_block()
    b.mov(G["x0"], b._value_op(Op.ld_env, consts=(offset, size_log2)))
    b.goto_tb(0)
    rejects(block, "overlap IR global")


def test_accepts_env_access_next_to_globals():
    block, b = new_block()
    last = max(g.offset for g in G.values())
    b.emit(Op.st_env, 1, consts=(last + 8, 3))        # the first byte after the last global
    b.goto_tb(0)
    verify(block)


def test_rejects_bad_cond():
    block, b = new_block()
    b.setcond(99, G["x0"], 0)
    b.goto_tb(0)
    rejects(block, "not a Cond")


def test_rejects_bad_brcond_cond():
    block, b = new_block()
    label = b.new_label()
    b.brcond(12, G["x0"], 0, label)
    b.set_label(label)
    b.goto_tb(0)
    rejects(block, "not a Cond")


def test_rejects_bad_memop():
    block, b = new_block()
    b.ld(G["x0"], 0x20)
    b.goto_tb(0)
    rejects(block, "not a MemOp")


def test_rejects_align_on_env_access():
    block, b = new_block()
    b.emit(Op.st_env, 1, consts=(Q0, MemOp.make(3, align=True)))
    b.goto_tb(0)
    rejects(block, "bad env offset/MemOp")


def test_rejects_bad_exit_code():
    block, b = new_block()
    b.exit_tb(0, 42)
    rejects(block, "not an Exit code")


def test_rejects_unknown_helper():
    block, b = new_block()
    b.call(1000)
    b.goto_tb(0)
    rejects(block, "no helper")


def test_rejects_local_read_before_write():
    block, b = new_block()
    t = b.new_local()
    b.mov(G["x0"], t)
    b.mov(t, 1)
    b.goto_tb(0)
    rejects(block, "read before it is written")


def test_rejects_two_objects_for_one_local():
    block, b = new_block()
    b.emit(Op.mov, Temp(Kind.LOCAL, 0), 1)
    b.emit(Op.mov, G["x0"], Temp(Kind.LOCAL, 0))
    b.goto_tb(0)
    rejects(block, "two Temp objects for local tmp0")


def test_rejects_foreign_global():
    block, b = new_block()
    b.mov(Temp(Kind.GLOBAL, 1, name="x0", offset=G["x0"].offset), 1)
    b.goto_tb(0)
    rejects(block, "not one of the block's globals")


def test_rejects_non_temp_operand():
    block, b = new_block()
    block.insns.append(Insn(Op.mov, (G["x0"],), (5,)))
    b.goto_tb(0)
    rejects(block, "is not a Temp")


def test_random_generator_is_deterministic():
    a = randgen.random_block(random.Random(7))
    b = randgen.random_block(random.Random(7))
    assert str(a) == str(b)
