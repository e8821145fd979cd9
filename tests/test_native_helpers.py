"""Helpers with a host-code version (backends/llvm/native_helpers.py) agree
with their Python definition, and translated code calls them, not Python."""
from __future__ import annotations

import random
import time

import tcgpy
from tcgpy.backends.llvm import native_helpers
from tcgpy.ir import randgen
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.helpers import BY_NAME, CNTFRQ_HZ
from tcgpy.ir.ops import Op

from .asm import asm
from .test_backend import check_block

ARCH = tcgpy.frontends.get_arch("aarch64")
EDGES = [0, 1, 0xFF, 0xFFFF_FFFF, 0x8000_0000, (1 << 64) - 1, 0x0123_4567_89AB_CDEF]


def test_crc32_matches_the_python_helper_on_random_and_edge_operands():
    rng = random.Random(32)
    g = ARCH.ir_globals
    crc = BY_NAME["crc32"].id
    for chunk in range(6):
        block = Block(0x1000, globals=g)
        b = Builder(block)
        b.insn_start(0x1000)
        for i in range(20):
            acc = rng.choice(EDGES) if i % 3 == 0 else rng.getrandbits(64)
            value = rng.choice(EDGES) if i % 4 == 0 else rng.getrandbits(64)
            b.mov(g["x1"], acc)
            b.mov(g["x2"], value)
            b.emit(Op.call, g[f"x{3 + i}"], g["x1"], g["x2"], g["x0"], consts=(crc,))
            b.mov(g["x0"], (i % 4) | (chunk & 1) << 2)      # size log2, CRC32C bit
        b.goto_tb(0x2000)
        check_block(block, randgen.random_state(rng), randgen.random_memory(rng))


def test_cntvct_is_the_python_clock():
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(0x10000, 0x1000, "rx")
    emu.mem_write(0x10000, asm("mrs x0, cntvct_el0"))
    before = time.monotonic_ns() * CNTFRQ_HZ // 1_000_000_000
    emu.run(0x10000, until=0x10004)
    after = time.monotonic_ns() * CNTFRQ_HZ // 1_000_000_000
    assert before <= emu.reg_read("x0") <= after
    assert "cntvct" not in emu.stats.python_calls


def test_crc32_instructions_do_not_call_python():
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(0x10000, 0x1000, "rx")
    emu.mem_write(0x10000, asm("loop: crc32cx w0, w0, x1; crc32b w0, w0, w1; subs x2, x2, #1; b.ne loop"))
    emu.reg_write("x2", 1000)
    emu.run(0x10000, until=0x10010)
    assert "crc32" not in emu.stats.python_calls
    assert set(native_helpers.TEXTS) == {"crc32", "cntvct"}
