"""The cold tier: a block's first runs go through the IR interpreter.

Most blocks a program runs, it runs only a few times: glibc's static hello
enters 789 blocks, 624 of them once and all of them 6,122 times in all.
For such a block LLVM costs far more than it saves: compiling takes about
a millisecond, interpreting its IR about 30 microseconds a run.  So with a
cold tier a missed block is translated and optimised as usual but kept as
IR, and the dispatcher interprets it with the semantics of tcgpy.ir.interp,
the reference both JIT tiers are tested against (tcgpy.ir.interp_fast: its
first run over the IR as it is, from its second with each op bound into a
closure) on the emulator's own env and guest memory;
the run that reaches ``TBCache.cold_runs`` (emulator.COLD_RUNS) compiles it like any miss
(with what it jumps to), and it is chained from then on.

The interpreter's faults are as precise as the JIT's (the state at the
faulting instruction), its stores go through the softmmu (permissions,
MMIO, invalidation of translated code on the page), and its helpers are
the JIT's.  Only emulators without an instruction budget use it: ``run``'s
exact counts come from compiled blocks.
"""
from __future__ import annotations

import ctypes

from .errors import AlignmentFault, MemoryFault
from .ir import interp_fast
from .ir.helpers import HELPERS
from .ir.interp import InterpFault
from .ir.ops import Exit
from .cpustate import PAGE_BITS, PAGE_MASK, PAGE_SIZE, TLBEntry
from .softmmu.memory import HOST, Fault

_TLB_WORDS = ctypes.sizeof(TLBEntry) // 8          # addr_read, addr_write, addend, pad
_IN_PAGE = PAGE_SIZE - 1
_MASK64 = (1 << 64) - 1

# A block's first run goes over its IR unplanned (interp_fast.run_once, the
# oracle's run without its per-op bookkeeping): planning a block costs
# about what an oracle run does (perl -e's first run, 2026-12-07: 34 us a
# plan, 31 us an oracle run of unoptimised IR, 8 us a planned run), and most
# blocks run once (7,949 blocks: 731 ran exactly twice, 3,813 more often).
PLAN_RUNS = 2


class _Env:
    """The env the interpreter works on: the emulator's own, in place, as
    bytes and as 64-bit words."""

    def __init__(self, env):
        self.env = memoryview((ctypes.c_char * ctypes.sizeof(env)).from_address(ctypes.addressof(env))).cast("B")
        self.words = self.env.cast("Q")       # the same bytes as the u64 globals


class _GuestMemory:
    """Guest memory for the interpreter, with the JIT's access checks, and
    the emulator's code and block hooks (Op.hook: tcgpy/hooks.py).  Memory
    hooks turn the cold tier off while they exist, as watchpoints do: they
    report the accessing instruction's pc, which this interface lacks.

    An access within one page that the softmmu TLB allows (the entries the
    JIT's inline path and native refill use, in env) goes to host memory
    directly, as the JIT's does; any other takes the softmmu's slow path
    (permissions, MMIO, stores to translated code, faults), which fills the
    TLB for the next."""

    def __init__(self, emu):
        self.emu = emu
        self.aspace = emu.aspace
        tlb = emu.env.tlb
        # (a memoryview of words: indexing it costs a fifth of a ctypes array's)
        self.tlb = memoryview((ctypes.c_uint64 * (len(tlb) * _TLB_WORDS)).from_address(
            ctypes.addressof(tlb))).cast("B").cast("Q")
        self.tlb_mask = len(tlb) - 1

    def load(self, addr: int, size: int) -> int:
        i = ((addr >> PAGE_BITS) & self.tlb_mask) * _TLB_WORDS
        if self.tlb[i] == addr & PAGE_MASK and (addr & _IN_PAGE) + size <= PAGE_SIZE:
            h = (addr + self.tlb[i + 2]) & _MASK64
            return int.from_bytes(HOST[h:h + size], "little")
        try:
            return self.aspace.load(addr, size)
        except Fault:
            raise InterpFault(addr, "read") from None

    def store(self, addr: int, size: int, value: int) -> None:
        i = ((addr >> PAGE_BITS) & self.tlb_mask) * _TLB_WORDS
        if self.tlb[i + 1] == addr & PAGE_MASK and (addr & _IN_PAGE) + size <= PAGE_SIZE:
            h = (addr + self.tlb[i + 2]) & _MASK64
            HOST[h:h + size] = value.to_bytes(size, "little")
            return
        try:
            self.aspace.store(addr, size, value)
        except Fault:
            raise InterpFault(addr, "write") from None

    def cmpxchg(self, addr: int, size: int, expected: int, new: int) -> int:
        try:
            return self.aspace.cmpxchg(addr, size, expected, new)
        except Fault as f:
            raise InterpFault(addr, f.access) from None

    def hook(self, kind: int, pc: int, size: int) -> bool:
        return bool(self.emu._on_hook(kind, pc, size))


class ColdRunner:
    def __init__(self, emu):
        self.helpers = HELPERS          # (the interpreter would import it again at every run)
        self.cache = emu.cache
        self.state = _Env(emu.env)
        self.mem = _GuestMemory(emu)

    def run(self, tb) -> int:
        """Interpret cold block ``tb``; its exit code (MISS to go on at env.pc),
        or the guest fault raised as the JIT's dispatcher raises it."""
        if tb.plan is not None:
            info = interp_fast.run(tb.plan, self.state.env, self.state.words, self.mem, self.helpers)
        elif tb.runs < PLAN_RUNS:
            info = interp_fast.run_once(tb.ir, self.state.env, self.state.words, self.mem, self.helpers)
        else:
            tb.plan = interp_fast.plan(self.cache.cold_ir(tb))
            info = interp_fast.run(tb.plan, self.state.env, self.state.words, self.mem, self.helpers)
        if info.kind == "exit_tb":
            return info.code
        if info.kind == "fault":
            cls = AlignmentFault if info.fault_align else MemoryFault
            raise cls(info.pc, info.fault_addr, info.fault_access)
        return int(Exit.MISS)
