"""The LLVM backend against the reference interpreter: every op, and random blocks."""
from __future__ import annotations

import ctypes
import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

import tcgpy
from tcgpy.backends.llvm import jit
from tcgpy.backends.llvm.lower import LOWERERS
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.interp import FlatMemory, InterpState, interpret
from tcgpy.ir.ops import Cond, Exit, MemOp, Op

DATA_BASE, DATA_SIZE = randgen.DATA_BASE, randgen.DATA_SIZE
ARCH_GLOBALS = None


def _emulator():
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(DATA_BASE, DATA_SIZE, "rw")
    return emu


EMU = None


def jit_run(block: Block, state: InterpState, mem: FlatMemory, hot: bool = False):
    """Compile ``block`` alone and run it once on a copy of ``state``/``mem``.

    Returns (env image as InterpState, data bytes, (exit code, pc, fault addr, access)).
    """
    return jit_enter(jit_compile(block, hot), state, mem)


def jit_compile(block: Block, hot: bool = False):
    """``block`` compiled alone (unchained), for :func:`jit_enter`."""
    global EMU
    if EMU is None:
        EMU = _emulator()
    return EMU.cache._compile([block], chain=False, hot=hot)[0]


def jit_enter(tb, state: InterpState, mem: FlatMemory):
    """Run a block of :func:`jit_compile` once on a copy of ``state``/``mem``
    (the results as :func:`jit_run`'s)."""
    emu = EMU
    lay = emu.arch.layout
    # registers from the interpreter's image (everything before the TLB);
    # then the dispatcher's own fields
    ctypes.memmove(emu.env_addr, bytes(state.env[:lay.tlb_offset]), lay.tlb_offset)
    emu.env.icount_left = 1 << 40
    emu.env.exit_request = 0
    emu.env.exception = 0
    emu.aspace.tlb_flush()
    emu.mem_write(DATA_BASE, bytes(mem.data))
    code = jit.enter(emu.env_addr, tb.fn_addr)
    emu.env.exception = 0
    out = InterpState(lay, bytes(ctypes.string_at(emu.env_addr, ctypes.sizeof(emu.env))))
    return out, emu.mem_read(DATA_BASE, DATA_SIZE), (code, emu.env.pc, emu.env.fault_addr,
                                                     emu.env.fault_access)


def compared_rows():
    lay = tcgpy.frontends.get_arch("aarch64").layout
    return [r.name for r in lay.rows
            if r.name not in ("icount_left", "exit_request", "fault_addr", "fault_access", "exception",
                              "exit_info")]


ROWS = compared_rows()


def check_block(block, state, mem, hot=False, tb=None):
    """``block`` interpreted and run by the JIT agree (``tb``: its
    :func:`jit_compile` code, to run one compilation on several states)."""
    ref_state, ref_mem = state.copy(), mem.copy()
    info = interpret(block, ref_state, ref_mem)
    got_state, got_mem, (code, pc, faddr, facc) = (jit_run(block, state, mem, hot) if tb is None
                                                   else jit_enter(tb, state, mem))
    assert pc == info.pc
    if info.kind == "fault":
        assert code == Exit.FAULT
        assert faddr == info.fault_addr
        assert ("read", "write")[facc & 3] == info.fault_access
        assert bool(facc & 8) == info.fault_align
    elif info.kind == "exit_tb":
        assert code == info.code
    else:
        assert code == Exit.MISS          # unchained goto_tb / goto_ptr fall back to the dispatcher
    diffs = {n: (hex(ref_state[n]), hex(got_state[n])) for n in ROWS if ref_state[n] != got_state[n]}
    assert not diffs, f"{diffs}\n{block}"
    assert bytes(ref_mem.data) == got_mem


def test_every_op_has_a_lowering():
    assert set(Op) - set(LOWERERS) == set()


EDGES = [0, 1, 2, 31, 32, 63, 64, 65, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
         (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0x0123_4567_89AB_CDEF]


def edge_value_blocks(ops, immediates: bool = False):
    """Blocks computing each of ``ops`` (one output, no constants) on every
    pair of EDGES, 25 pairs a block; the operands come from globals so that
    nothing is folded away (with ``immediates``, the second one also as a
    constant: a backend's immediate forms)."""
    g = tcgpy.frontends.get_arch("aarch64").ir_globals
    pairs = list(itertools.product(EDGES, repeat=2))
    for op in ops:
        for chunk in range(0, len(pairs), 25):
            block = Block(0x1000, globals=g)
            b = Builder(block)
            b.insn_start(0x1000)
            for i, (x, y) in enumerate(pairs[chunk:chunk + 25]):
                ins = [g["x1"], g["x2"]][:op.value.nin]
                b.mov(g["x1"], x)
                b.mov(g["x2"], y)
                b.emit(op, g[f"x{3 + i}"], *ins)
                if immediates and op.value.nin == 2:
                    b.emit(op, g["x30"], g["x1"], y)
            b.goto_tb(0x2000)
            yield block


def value_ops(ops=Op):
    return [op for op in ops if op.value.nout == 1 and op.value.nconst == 0 and op.value.flags == 0]


def test_every_value_op_matches_the_interpreter_on_edge_values():
    rng = random.Random(7)
    for block in edge_value_blocks(value_ops()):
        check_block(block, randgen.random_state(rng), randgen.random_memory(rng))


def conditions_and_memops_block(immediates: bool = False) -> Block:
    """Every condition by setcond and movcond (with ``immediates``, setcond
    against a constant too), every load size and sign and store size."""
    g = tcgpy.frontends.get_arch("aarch64").ir_globals
    block = Block(0x1000, globals=g)
    b = Builder(block)
    b.insn_start(0x1000)
    i = 3
    for cond in Cond:
        b.emit(Op.setcond, g[f"x{i}"], g["x1"], g["x2"], consts=(cond,))
        b.emit(Op.movcond, g[f"x{i + 1}"], g["x1"], g["x2"], g["x0"], g["x2"], consts=(cond,))
        if immediates:
            b.emit(Op.setcond, g[f"x{i + 2}"], g["x1"], 5, consts=(cond,))
        i = 3 + (i - 1) % 24
    for size in range(4):
        for sign in (False, True):
            addr = b.add(b.and_(g["x0"], DATA_SIZE - 16), DATA_BASE + 3)   # unaligned on purpose
            b.emit(Op.ld, g[f"x{5 + size * 2 + sign}"], addr, consts=(MemOp.make(size, sign),))
            b.st(g["x2"], b.add(addr, 1 + size), MemOp.make(size))
    b.goto_tb(0x2000)
    return block


def test_conditions_and_memops_match_the_interpreter():
    rng = random.Random(9)
    block = conditions_and_memops_block()
    for _ in range(20):
        st_ = randgen.random_state(rng)
        check_block(block, st_, randgen.random_memory(rng))


@given(seed=st.integers(0, 2**64 - 1), hot=st.booleans())
def test_random_blocks_jit_equals_interpreter(seed, hot):
    """Both tiers: codegen level 0 with shared tail block, and the hot tier."""
    rng = random.Random(seed)
    block = randgen.random_block(rng, n_ops=40, fp=True)
    check_block(block, randgen.random_state(rng), randgen.random_memory(rng), hot)
