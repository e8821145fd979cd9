"""The cold tier's interpreter (tcgpy.ir.interp_fast: planned, and a
block's first run, run_once) against the oracle
(tcgpy.ir.interp.interpret): the same exit, env image and memory, on random
blocks (every value op, memory sizes and signs, misaligned ALIGN accesses,
faults, branches, calls, mid-block exits) and on real translated AArch64
code, vector ops included, before and after the optimizer."""
from __future__ import annotations

import random

import pytest

from tcgpy.frontends import get_arch
from tcgpy.ir import interp_fast, randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.helpers import HelperDef
from tcgpy.ir.interp import FlatMemory, InterpState, interpret
from tcgpy.ir.ops import MASK64, Cond, Exit, Op
from tcgpy.ir.passes import optimize
from tcgpy.translator import translate_block

ARCH = get_arch("aarch64")
# Deterministic stand-in for helper 0 (the real one reads the clock).
HELPERS = [HelperDef(0, "mix", lambda a, b, c: (a * 0x9E3779B97F4A7C15 + (b ^ c)) & MASK64)]


def both(block: Block, state: InterpState, mem: FlatMemory, helpers=HELPERS):
    s0, m0 = state.copy(), mem.copy()
    want = interpret(block, s0, m0, helpers=helpers)
    s1, m1 = state.copy(), mem.copy()
    env = memoryview(s1.env)
    got = interp_fast.run(interp_fast.plan(block), env, env.cast("Q"), m1, helpers=helpers)
    env.release()
    s2, m2 = state.copy(), mem.copy()
    env = memoryview(s2.env)
    once = interp_fast.run_once(block, env, env.cast("Q"), m2, helpers=helpers)
    env.release()
    context = f"\n{block}"
    assert got == want, context
    assert s1.env == s0.env, f"{s0.diff(s1)}{context}"
    assert m1.data == m0.data, context
    assert once == want, "run_once" + context
    assert s2.env == s0.env, f"run_once {s0.diff(s2)}{context}"
    assert m2.data == m0.data, "run_once" + context
    return want


@pytest.mark.parametrize("seed", range(300))
def test_random_blocks_match_the_oracle(seed):
    rng = random.Random(seed)
    block = randgen.random_block(rng, ARCH, n_ops=rng.randrange(5, 80), calls=True, fp=True,
                                 fault_rate=rng.choice((0.0, 0.03, 0.2)))
    state, mem = randgen.random_state(rng, ARCH), randgen.random_memory(rng)
    both(block, state, mem)
    both(optimize(block.copy()), state, mem)


def test_random_blocks_cover_every_exit_kind():
    kinds = set()
    for seed in range(300):
        rng = random.Random(seed)
        block = randgen.random_block(rng, ARCH, n_ops=rng.randrange(5, 80), calls=True, fp=True,
                                     fault_rate=rng.choice((0.0, 0.03, 0.2)))
        kinds.add(both(block, randgen.random_state(rng, ARCH), randgen.random_memory(rng)).kind)
    assert kinds == {"goto_tb", "goto_ptr", "exit_tb", "fault"}


# Real code: integer, memory (pairs, pre/post index, exclusive), flags and
# branches, FP and SIMD (vec ops), crc32: each word a block of its own and
# the whole list as straight-line blocks.
WORDS = [
    0x8B020020,  # add  x0, x1, x2
    0xEB02003F,  # cmp  x1, x2
    0x9A821020,  # csel x0, x1, x2, ne
    0xF9400420,  # ldr  x0, [x1, #8]
    0xA9BF7BFD,  # stp  x29, x30, [sp, #-16]!
    0xA8C17BFD,  # ldp  x29, x30, [sp], #16
    0x385FF020,  # ldurb w0, [x1, #-1]
    0xB8A24820,  # ldrsw x0, [x1, w2, uxtw]
    0xC85F7C20,  # ldxr x0, [x1]
    0x9AC20C20,  # sdiv x0, x1, x2
    0x9B027C20,  # mul  x0, x1, x2
    0xD3441C20,  # ubfx x0, x1, #4, #4
    0xDAC01020,  # clz  x0, x1
    0x1E622820,  # fadd d0, d1, d2
    0x1E620020,  # scvtf d0, w1
    0x4EA21C20,  # mov  v0.16b, v1.16b   (orr)
    0x4E228420,  # add  v0.16b, v1.16b, v2.16b
    0x6E221C20,  # eor  v0.16b, v1.16b, v2.16b
    0x4C407020,  # ld1  {v0.16b}, [x1]
    0x0E31B820,  # addv b0, v1.8b
    0x1AC24C20,  # crc32x w0, w1, x2
    0xB4000040,  # cbz  x0, +8
    0x54000041,  # b.ne +8
    0xD63F0020,  # blr  x1
]
CODE = 0x400000


def _translate(words: list[int], pc: int = CODE) -> Block:
    data = b"".join(w.to_bytes(4, "little") for w in words)
    fetch = (lambda a: (int.from_bytes(data[a - pc:a - pc + 4], "little"), 4)
             if pc <= a < pc + len(data) else None)
    return translate_block(ARCH, fetch, pc, tbi=True)


@pytest.mark.parametrize("seed", range(12))
def test_translated_aarch64_blocks_match_the_oracle(seed):
    rng = random.Random(seed)
    mem = randgen.random_memory(rng, base=randgen.DATA_BASE)
    blocks = [_translate([w]) for w in WORDS] + [_translate(rng.sample(WORDS, 8))]
    for block in blocks:
        state = randgen.random_state(rng, ARCH)
        # addresses inside the data region most of the time, so that loads and
        # stores happen (and sometimes outside: faults)
        for reg in ("x1", "x2", "sp"):
            if rng.random() < 0.8:
                state[reg] = randgen.DATA_BASE + rng.randrange(0, randgen.DATA_SIZE - 64, 8)
        both(block, state, mem)
        both(optimize(block.copy()), state, mem)


def test_internal_loop_and_label_jumps():
    # A block that jumps back to a label (not produced by the frontends, but
    # legal IR): counts x1 down to 0, then exits.
    block = Block(CODE, globals=ARCH.ir_globals)
    b = Builder(block)
    x1 = ARCH.ir_globals["x1"]
    b.insn_start(CODE)
    top, done = b.new_label(), b.new_label()
    b.set_label(top)
    b.brcond(Cond.eq, x1, 0, done)
    b.emit(Op.sub, x1, x1, 1)
    b.br(top)
    b.set_label(done)
    b.exit_tb(CODE + 4, Exit.MISS)
    state = InterpState(ARCH.layout)
    state["x1"] = 1000
    info = both(block, state, FlatMemory(0, bytearray(8)))
    assert info.kind == "exit_tb"
