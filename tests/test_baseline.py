"""The baseline tier (tcgpy/backends/baseline) against the reference
interpreter: every value op on edge values, every condition and memop, and
random blocks (faults, branches, mid-block exits); and the same guest
programs as the other tiers with it on and off."""
from __future__ import annotations

import ctypes
import os
import random
import struct
from pathlib import Path

import pytest

import tcgpy
from tcgpy.backends import baseline
from tcgpy.backends.baseline.emit import SUPPORTED
from tcgpy.ir import randgen
from tcgpy.ir.core import Block
from tcgpy.ir.interp import FlatMemory, InterpState, interpret
from tcgpy.ir.ops import Exit

from .asm import asm
from .test_backend import ROWS, conditions_and_memops_block, edge_value_blocks, value_ops

# Skipped only on a host it cannot emit code for (it writes x86-64); a
# TCGPY_BASELINE=0 in the environment does not skip these tests.
pytestmark = pytest.mark.skipif(not baseline.HOST_SUPPORTED, reason="the baseline tier emits x86-64 only")


@pytest.fixture(autouse=True)
def _tier_on(monkeypatch):
    monkeypatch.setattr(baseline, "ENABLED", True)

DATA_BASE, DATA_SIZE = randgen.DATA_BASE, randgen.DATA_SIZE
_EMU = None


def _emu():
    global _EMU
    if _EMU is None:
        _EMU = tcgpy.Emulator("aarch64")
        _EMU.mem_map(DATA_BASE, DATA_SIZE, "rw")
    return _EMU


def baseline_run(block: Block, state: InterpState, mem: FlatMemory):
    """``block`` emitted alone (unchained: its jumps go to the miss stub) and
    run once on a copy of ``state``/``mem``."""
    emu = _emu()
    tb = emu.cache._baseline_tb(block)
    assert tb is not None, f"not emitted:\n{block}"
    lay = emu.arch.layout
    ctypes.memmove(emu.env_addr, bytes(state.env[:lay.tlb_offset]), lay.tlb_offset)
    emu.env.exit_request = 0
    emu.env.exception = 0
    emu.aspace.tlb_flush()
    emu.mem_write(DATA_BASE, bytes(mem.data))
    if not (len(block.insns) % 3):
        # a TLB that hits (a block's usual case), not only the slow path
        emu.mem_read(DATA_BASE, DATA_SIZE)
        for page in range(DATA_BASE, DATA_BASE + DATA_SIZE, 4096):
            emu.aspace.tlb_fill(page)
    code = baseline.enter(emu.env_addr, tb.fn_addr)
    emu.cache.invalidate(tb)
    emu.env.exception = 0
    out = InterpState(lay, bytes(ctypes.string_at(emu.env_addr, ctypes.sizeof(emu.env))))
    return out, emu.mem_read(DATA_BASE, DATA_SIZE), (code, emu.env.pc, emu.env.fault_addr,
                                                     emu.env.fault_access)


def check_block(block, state, mem):
    ref_state, ref_mem = state.copy(), mem.copy()
    info = interpret(block, ref_state, ref_mem)
    got_state, got_mem, (code, pc, faddr, facc) = baseline_run(block, state, mem)
    context = f"\n{block}"
    assert pc == info.pc, context
    if info.kind == "fault":
        assert code == Exit.FAULT, context
        assert faddr == info.fault_addr
        assert ("read", "write")[facc & 3] == info.fault_access
        assert bool(facc & 8) == info.fault_align
    elif info.kind == "exit_tb":
        assert code == info.code, context
    else:
        assert code == Exit.MISS, context
    diffs = {n: (hex(ref_state[n]), hex(got_state[n])) for n in ROWS if ref_state[n] != got_state[n]}
    assert not diffs, f"{diffs}{context}"
    assert bytes(ref_mem.data) == got_mem, context


def test_every_value_op_matches_the_interpreter_on_edge_values():
    rng = random.Random(7)
    for block in edge_value_blocks(value_ops(SUPPORTED), immediates=True):
        check_block(block, randgen.random_state(rng), randgen.random_memory(rng))


def test_conditions_and_memops_match_the_interpreter():
    rng = random.Random(9)
    block = conditions_and_memops_block(immediates=True)
    for _ in range(20):
        check_block(block, randgen.random_state(rng), randgen.random_memory(rng))


@pytest.mark.parametrize("seed", range(400))
def test_random_blocks_match_the_interpreter(seed):
    rng = random.Random(seed)
    while True:
        # (blocks with an op the tier leaves to the interpreter: cmpxchg)
        block = randgen.random_block(rng, n_ops=rng.randrange(5, 60), fault_rate=rng.choice((0.0, 0.03, 0.2)))
        if all(insn.op in SUPPORTED for insn in block.insns):
            break
    check_block(block, randgen.random_state(rng), randgen.random_memory(rng))


def test_a_forked_child_writing_code_leaves_the_parents_alone():
    """The arena is private memory: Python maps anonymous memory shared by
    default, and a child of fork() emitting its own blocks at the same
    offsets wrote over the parent's code (the parent then jumped into the
    middle of an instruction: libc_edge waitsig died of SIGSEGV)."""
    arena = baseline.Arena()
    addr = arena.put(b"\x90" * 64)
    pid = os.fork()
    if pid == 0:
        arena.put(b"\xcc" * 64)                   # the next block, at the offset the parent's will take
        ctypes.memmove(addr, b"\xcc" * 64, 64)    # and over this one
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert ctypes.string_at(addr, 64) == b"\x90" * 64
    nxt = arena.put(b"\x91" * 64)
    assert ctypes.string_at(nxt, 64) == b"\x91" * 64


def test_a_loop_runs_as_baseline_code_and_turns_hot(monkeypatch):
    """A first run's blocks are emitted by the baseline tier (none
    interpreted, none compiled by LLVM's first tier), chained, and the loop
    goes to the hot tier through its counted edge, with the same result."""
    from tcgpy import tbcache
    from .test_coldtier import DATA, run_loop
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 200)
    monkeypatch.setattr(tbcache, "HOT_WAITS", 2)
    n = 1000
    emu = run_loop(n, 32)
    assert struct.unpack("<Q", emu.mem_read(DATA + 0x2000, 8))[0] == sum(i + 3 * i + 1 for i in range(n))
    assert emu.reg_read("x2") == DATA + 8 * n
    s = emu.stats
    assert s.baseline_blocks > 0 and s.cold_blocks == 0
    assert s.blocks_promoted > 0
    # chained: the loop did not come back to the dispatcher on every pass
    assert s.dispatcher_returns < n // 10


def test_a_block_rewritten_by_the_guest_runs_its_new_code():
    """The store rewrites an instruction after it in the same block: that run
    finishes the code it started (as the other tiers and QEMU do), the next
    one runs the new instruction."""
    from .test_coldtier import CODE, make
    code = asm("str w1, [x2]; mov x0, #1; mov x0, #2")
    emu = make(code, cold_runs=32)
    emu.reg_write("x1", struct.unpack("<I", asm("mov x0, #7"))[0])
    emu.reg_write("x2", CODE + 8)
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == 2 and emu.stats.baseline_blocks == 1
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == 7 and emu.stats.baseline_blocks == 2


def test_a_fault_in_baseline_code_is_precise():
    """The registers an instruction before the fault wrote are in place, the
    pc is the faulting instruction's."""
    from tcgpy.errors import MemoryFault
    from .test_coldtier import CODE, make
    code = asm("mov x3, #5; add x4, x3, #1; ldr x0, [x1]; mov x5, #9")
    emu = make(code, cold_runs=32)
    emu.reg_write("x1", 0x10)
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE, until=CODE + 16)
    assert e.value.pc == CODE + 8 and e.value.address == 0x10
    assert emu.reg_read("x4") == 6 and emu.reg_read("x5") == 0
    assert emu.stats.baseline_blocks == 1


def test_a_loop_that_waits_for_llvm_is_saved_hot_for_the_next_run(tmp_path, monkeypatch):
    """A first run that has not loaded LLVM leaves its first hot loops in
    baseline code (HOT_WAITS), but records them for the persistent cache,
    whose saver compiles them: the next run loads them, compiling nothing."""
    from tcgpy import tbcache
    from tcgpy.backends.llvm import jit
    from .test_pcache import _emu, _run
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 100)
    monkeypatch.setattr(tbcache, "HOT_WAITS", 1 << 30)
    monkeypatch.setattr(jit, "loaded", lambda: False)      # (another test of this process may have loaded it)
    cold = _emu(tmp_path, x1=5000, icount=False)
    assert _run(cold) == (0, 4)
    s = cold.stats
    assert s.baseline_blocks > 0 and s.hot_regions == 0 and s.blocks_promoted == 0
    assert cold.cache.hot_waits > 0 and len(cold.cache.hot_records) == 1
    monkeypatch.undo()
    assert cold.save_cache() > 0
    warm = _emu(tmp_path, x1=5000, icount=False)
    assert _run(warm) == (0, 4)
    w = warm.stats
    assert w.hot_regions_loaded == 1 and w.modules_compiled == 0 and w.baseline_blocks == 0


def _random_code_run(seed: int, pool: bytes, on: bool, monkeypatch):
    """fuzz.fuzz_code_one's random code (real instructions with flipped bits,
    or random words) on an emulator without an instruction budget, with the
    baseline tier on or off: how it ended, the registers and the data."""
    from tcgpy import fuzz
    monkeypatch.setattr(baseline, "ENABLED", on)
    rng = random.Random(seed)
    emu = tcgpy.Emulator("aarch64", icount=False)
    emu.mem_map(fuzz.CODE, 0x4000, "rwx" if rng.random() < 0.3 else "rx")
    emu.mem_map(fuzz.DATA, 0x4000, rng.choice(("rw", "rw", "r", "-")))
    n = rng.randint(1, 64)
    at = rng.randrange(0, len(pool) - 4 * n + 1, 4)
    code = bytearray(pool[at:at + 4 * n])
    for _ in range(rng.randint(0, 3)):
        code[rng.randrange(len(code))] ^= 1 << rng.randrange(8)
    emu.mem_write(fuzz.CODE, bytes(code))
    for i in range(31):
        emu.reg_write(f"x{i}", rng.choice((0, fuzz.DATA, fuzz.DATA + rng.randrange(0x4000), rng.getrandbits(64))))
    emu.reg_write("sp", fuzz.DATA + 0x2000)
    try:
        # (none of the seeds below loops, and each ends within 0.03 s here:
        # the timeout is only a guard, far from any loaded machine's times)
        emu.run(fuzz.CODE, until=fuzz.CODE + 4 * n, timeout=10)
        end = emu.stop_reason
    except tcgpy.EmulationError as e:
        end = f"{type(e).__name__}: {e}"
    if end == "timeout":
        return None                 # (a loop: where it stopped would be the machine's timing)
    regs = [emu.reg_read(f"x{i}") for i in range(31)] + [emu.reg_read(r) for r in ("sp", "pc", "nzcv")]
    data = emu.mem_read(fuzz.DATA, 0x4000)
    return end, regs, data, emu.stats.baseline_blocks


def test_random_code_ends_the_same_with_and_without_the_baseline_tier(monkeypatch):
    """Real instructions with flipped bits: the same fault, registers and
    memory from baseline code as from the cold tier and LLVM."""
    from tcgpy import fuzz
    pool = fuzz.code_pool(str(Path(__file__).parent / "guest" / "bin" / "libc_hello"))
    compared = used = 0
    for seed in range(60):
        with_it = _random_code_run(seed, pool, True, monkeypatch)
        without = _random_code_run(seed, pool, False, monkeypatch)
        if with_it is None or without is None:
            continue
        compared += 1
        used += with_it[3] > 0
        assert with_it[:3] == without[:3], f"seed {seed}: {with_it[0]} / {without[0]}"
    assert compared >= 40 and used >= compared - 5


def test_a_helper_call_from_baseline_code():
    """``mrs x0, cntvct_el0`` calls the timer helper: its Python function
    (no LLVM for its host-code version), from baseline code."""
    from tcgpy.backends.llvm import jit
    from .test_coldtier import CODE, make
    # (the calls are counted per process: put back afterwards, so that
    # test_native_helpers' "no Python clock call" in the same process sees
    # none of these)
    saved = list(jit.helper_calls)
    try:
        emu = make(asm("mrs x0, cntvct_el0; mrs x1, cntvct_el0; sub x2, x1, x0"), cold_runs=32)
        emu.run(CODE, until=CODE + 12)
        assert emu.reg_read("x0") > 0 and emu.reg_read("x2") < 1 << 40
        assert emu.stats.baseline_blocks == 1
        assert emu.stats.python_calls
    finally:
        jit.helper_calls[:] = saved


def test_no_executable_memory_leaves_blocks_to_the_other_tiers(monkeypatch):
    """A host that refuses executable anonymous memory (or has none left):
    the block is interpreted, then compiled, as without the tier."""
    from .test_coldtier import CODE, make

    def refuse(self, code):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(baseline.Arena, "put", refuse)
    emu = make(asm("mov x3, #5; add x4, x3, #1"), cold_runs=32)
    emu.run(CODE, until=CODE + 8)
    assert emu.reg_read("x4") == 6
    assert emu.stats.baseline_blocks == 0 and emu.stats.cold_blocks == 1
