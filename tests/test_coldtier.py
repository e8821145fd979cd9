"""The cold tier (tcgpy/coldtier.py): blocks interpreted for their first
runs, then compiled; what the guest sees must not depend on which tier ran a
block (the guest programs run under each tier alone in test_linux_guest)."""
from __future__ import annotations

import struct

import pytest

import tcgpy
from tcgpy.errors import AlignmentFault, MemoryFault

from .asm import asm

CODE = 0x10000
DATA = 0x20000

LOOP = """
    mov x0, #0
    mov x1, #0
loop:
    add x0, x0, x1
    ldr x3, [x2], #8
    add x0, x0, x3
    add x1, x1, #1
    cmp x1, #{n}
    b.ne loop
    str x0, [x4]
"""

# (the cold tier and the LLVM first tier: what the baseline tier bypasses)
pytestmark = pytest.mark.usefixtures("no_baseline")


def make(code: bytes, cold_runs: int) -> tcgpy.Emulator:
    emu = tcgpy.Emulator("aarch64", icount=False)
    emu.cache.cold_runs = cold_runs
    emu.mem_map(CODE, 0x4000, "rwx")
    emu.mem_map(DATA, 0x4000, "rw")
    emu.mem_write(CODE, code)
    return emu


def run_loop(n: int, cold_runs: int):
    code = asm(LOOP.format(n=n))
    emu = make(code, cold_runs)
    emu.mem_write(DATA, b"".join(struct.pack("<Q", 3 * i + 1) for i in range(n)))
    emu.reg_write("x2", DATA)
    emu.reg_write("x4", DATA + 0x2000)
    emu.run(CODE, until=CODE + len(code))
    return emu


@pytest.mark.parametrize("cold_runs", [0, 1, 2, 8, 1000])
def test_a_loop_gives_the_same_result_whatever_the_tier(cold_runs):
    n = 50
    emu = run_loop(n, cold_runs)
    want = sum(i + 3 * i + 1 for i in range(n))
    assert struct.unpack("<Q", emu.mem_read(DATA + 0x2000, 8))[0] == want
    assert emu.reg_read("x2") == DATA + 8 * n
    stats = emu.stats
    if cold_runs == 0:
        assert stats.cold_blocks == 0
    elif cold_runs == 1000:
        assert stats.cold_blocks > 0 and stats.blocks_translated == 0     # never compiled
    else:
        assert stats.cold_blocks > 0 and stats.blocks_translated > 0      # warmed up


def test_a_cold_block_rewritten_by_the_guest_runs_its_new_code():
    # The store rewrites the instruction after it, on the same page: the
    # cold block's IR must go with the code it was made from.
    code = asm("str w1, [x2]; mov x0, #1; mov x0, #2")
    emu = make(code, cold_runs=1000)
    new = asm("mov x0, #7")
    emu.reg_write("x1", struct.unpack("<I", new)[0])
    emu.reg_write("x2", CODE + 8)
    emu.run(CODE, until=CODE + 12)
    # the block that did the store had already decoded its old code (as the JIT does) ...
    assert emu.reg_read("x0") == 2
    emu.reg_write("x2", DATA)
    emu.run(CODE, until=CODE + 12)
    # ... its next run sees the new instruction
    assert emu.reg_read("x0") == 7
    assert emu.stats.blocks_translated == 0 and emu.stats.cold_blocks == 2


@pytest.mark.parametrize("cold_runs", [0, 1000])
def test_faults_are_precise_in_both_tiers(cold_runs):
    code = asm("add x0, x0, #1; ldr x1, [x2]; add x0, x0, #1")
    emu = make(code, cold_runs)
    emu.reg_write("x2", 0x90000)
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE, until=CODE + len(code))
    assert (e.value.pc, e.value.address, e.value.access) == (CODE + 4, 0x90000, "read")
    assert emu.reg_read("pc") == CODE + 4 and emu.reg_read("x0") == 1
    code = asm("ldxr x1, [x2]")
    emu = make(code, cold_runs)
    emu.reg_write("x2", DATA + 4)
    with pytest.raises(AlignmentFault):
        emu.run(CODE, until=CODE + 4)
    code = asm("str x1, [x2]")
    emu = make(code, cold_runs)
    emu.mem_protect(DATA, 0x1000, "r")
    emu.reg_write("x2", DATA + 8)
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE, until=CODE + 4)
    assert e.value.access == "write"


def test_icount_emulators_have_no_cold_tier():
    emu = tcgpy.Emulator("aarch64")
    assert emu.cache.cold_runs == 0
