"""The baseline tier: machine code straight from a block's IR, without LLVM.

A first run of a real program meets thousands of blocks and runs most of
them a few times.  Interpreting each run of a block costs 8-30 us of
Python, compiling it with LLVM about a millisecond; emitting x86-64 for
it op by op (emit.py) costs about what planning it for the interpreter
did, and the code then runs at machine speed, chained to the blocks
around it, with no return to Python between blocks.  So a missed block
that the baseline tier can emit is emitted at its first run and never
interpreted; loops that turn hot go to the LLVM hot tier through the same
counters as first-tier code, and the persistent cache still keeps LLVM's
first-tier code for the next run (persist.py compiles what ran).

Only on an x86-64 host, and only for emulators with a cold tier (no exact
instruction counts).  ``TCGPY_BASELINE=0`` turns it off.
"""
from __future__ import annotations

import ctypes
import mmap
import os
import platform

from . import x86
from .emit import Context, emit

# (it emits x86-64 machine code)
HOST_SUPPORTED = platform.machine() in ("x86_64", "AMD64")
ENABLED = HOST_SUPPORTED and os.environ.get("TCGPY_BASELINE", "1") != "0"

_CHUNK = 8 << 20


class Arena:
    """Executable memory that code is appended to and never moved or freed
    within a chunk: a block's code stays valid while any frame may still be
    in it (a block invalidated by a store it makes runs to its end)."""

    def __init__(self):
        self.chunks: list[mmap.mmap] = []
        self.base = self.used = self.size = 0

    def put(self, code: bytes) -> int:
        n = len(code)
        if self.used + n > self.size:
            # private: Python's default for anonymous memory is MAP_SHARED,
            # and a forked child writing its own blocks there would write
            # over the parent's
            m = mmap.mmap(-1, max(_CHUNK, n), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                          prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            self.chunks.append(m)
            self.base = ctypes.addressof(ctypes.c_char.from_buffer(m))
            self.used, self.size = 0, len(m)
        m = self.chunks[-1]
        at = self.used
        m[at:at + n] = code
        self.used = (at + n + 15) & ~15
        return self.base + at

    @property
    def bytes_used(self) -> int:
        return sum(len(m) for m in self.chunks[:-1]) + self.used


_process_arena = None
_stubs: dict[str, int] = {}
ENTER_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
enter = None


def _process_code() -> None:
    """The entry trampoline and the miss stub, once per process."""
    global _process_arena, enter
    if _process_arena is not None:
        return
    arena = Arena()
    # enter(env, fn): save what the C convention has callees keep, env in
    # r12, call the block (16-byte aligned), return its exit code
    saved = (x86.RBX, x86.RBP, x86.R12, x86.R13, x86.R14, x86.R15)
    code = b"".join(x86.push(r) for r in saved) + x86.alu_imm(x86.SUB, x86.RSP, 8)
    code += x86.mov(x86.R12, x86.RDI) + x86.call_reg(x86.RSI) + x86.alu_imm(x86.ADD, x86.RSP, 8)
    code += b"".join(x86.pop(r) for r in reversed(saved)) + x86.RET
    entry = arena.put(code)
    # a jump slot's target before its block exists: return Exit.MISS
    miss = arena.put(x86.mov_imm(x86.RAX, 0) + x86.RET)
    _stubs["enter"], _stubs["miss"] = entry, miss
    enter = ENTER_FN(entry)
    _process_arena = arena          # (last: an arena that could not be made is tried again)


def miss_stub() -> int:
    _process_code()
    return _stubs["miss"]


class Baseline:
    """A TBCache's baseline code: its arena and what the code refers to."""

    def __init__(self, cache):
        _process_code()
        self.cache = cache
        self.arena = Arena()
        # the slow paths code calls through: (load, store), the Python ones
        # until the native TLB refill exists (TBCache.native)
        rt = cache.rt
        self.cells = (ctypes.c_uint64 * 2)(rt.slow_ld or cache.py_slow_ld, rt.slow_st or cache.py_slow_st)
        self.ctx = Context(rt.offsets, rt.tlb_offset, ctypes.addressof(self.cells), rt.jmp_table,
                           rt.jmp_table_mask, cache.slot_address, cache.counter_address,
                           cache._alloc_slot, cache._alloc_counter, rt.helpers)

    def use_slow_paths(self, ld: int, st: int) -> None:
        self.cells[0], self.cells[1] = ld, st

    def make(self, block):
        """(address, slots, counters) of ``block``'s code, or None."""
        made = emit(block, self.ctx)
        if made is None:
            return None
        code, slots, counters = made
        return self.arena.put(code), slots, counters
