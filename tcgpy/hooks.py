"""Unicorn-style hooks and native instrumentation (QEMU plugins' inline ops).

Hook kinds and memory-access codes are Unicorn's own values (UC_HOOK_*,
UC_MEM_*), so a Unicorn script ports by renaming and a mask of kinds
(``HOOK_MEM_READ | HOOK_MEM_WRITE``) means what it means there.  A hook's
range [begin, end] is inclusive and ``begin > end`` means everywhere
(Unicorn's HOOK_BOUND_CHECK); it is checked against the instruction's
address for HOOK_CODE, the block's first address for HOOK_BLOCK, and the
accessed address for the memory kinds.  HOOK_INTR and HOOK_INSN_INVALID
have no range (Unicorn's cpu_handle_exception calls them all).

Where the work happens:

* HOOK_CODE, HOOK_BLOCK and HOOK_MEM_FETCH are compiled into the translated
  code (``Instrumentation.apply``: an ``Op.hook`` after the covered instructions'
  ``insn_start``), so code outside every range is translated as without
  hooks.  Adding or removing one invalidates the blocks its range covers.
* The data-access kinds need no retranslation: the pages they cover are kept
  out of the native TLB (as watchpoints are), so those accesses reach
  ``Emulator._slow_access``, which calls them; faults reach it anyway.
* Counters and the block trace are ``Op.count`` / ``Op.trace``: a few host
  instructions storing into memory these objects own, no Python.
"""
from __future__ import annotations

import ctypes
from typing import Any, Callable

from .cpustate import PAGE_MASK, PAGE_SIZE
from .ir.core import Insn, Kind, Temp
from .ir.ops import F, Op
from .record import factory, record

MASK64 = (1 << 64) - 1

# -- the kinds: (name, Unicorn's UC_HOOK_* bit) -----------------------------------------
_KINDS = (
    ("INTR", 1 << 0),
    ("CODE", 1 << 2),
    ("BLOCK", 1 << 3),
    ("MEM_READ_UNMAPPED", 1 << 4),
    ("MEM_WRITE_UNMAPPED", 1 << 5),
    ("MEM_FETCH_UNMAPPED", 1 << 6),
    ("MEM_READ_PROT", 1 << 7),
    ("MEM_WRITE_PROT", 1 << 8),
    ("MEM_FETCH_PROT", 1 << 9),
    ("MEM_READ", 1 << 10),
    ("MEM_WRITE", 1 << 11),
    ("MEM_FETCH", 1 << 12),
    ("MEM_READ_AFTER", 1 << 13),
    ("INSN_INVALID", 1 << 14),
)
KIND_BITS: dict[str, int] = dict(_KINDS)
KIND_NAMES: dict[int, str] = {bit: name for name, bit in _KINDS}
HOOK_INTR, HOOK_CODE, HOOK_BLOCK = KIND_BITS["INTR"], KIND_BITS["CODE"], KIND_BITS["BLOCK"]
HOOK_MEM_READ_UNMAPPED = KIND_BITS["MEM_READ_UNMAPPED"]
HOOK_MEM_WRITE_UNMAPPED = KIND_BITS["MEM_WRITE_UNMAPPED"]
HOOK_MEM_FETCH_UNMAPPED = KIND_BITS["MEM_FETCH_UNMAPPED"]
HOOK_MEM_READ_PROT = KIND_BITS["MEM_READ_PROT"]
HOOK_MEM_WRITE_PROT = KIND_BITS["MEM_WRITE_PROT"]
HOOK_MEM_FETCH_PROT = KIND_BITS["MEM_FETCH_PROT"]
HOOK_MEM_READ, HOOK_MEM_WRITE, HOOK_MEM_FETCH = (KIND_BITS["MEM_READ"], KIND_BITS["MEM_WRITE"],
                                                 KIND_BITS["MEM_FETCH"])
HOOK_MEM_READ_AFTER = KIND_BITS["MEM_READ_AFTER"]
HOOK_INSN_INVALID = KIND_BITS["INSN_INVALID"]
# Unicorn's combinations
HOOK_MEM_UNMAPPED = HOOK_MEM_READ_UNMAPPED | HOOK_MEM_WRITE_UNMAPPED | HOOK_MEM_FETCH_UNMAPPED
HOOK_MEM_PROT = HOOK_MEM_READ_PROT | HOOK_MEM_WRITE_PROT | HOOK_MEM_FETCH_PROT
HOOK_MEM_INVALID = HOOK_MEM_UNMAPPED | HOOK_MEM_PROT
HOOK_MEM_READ_INVALID = HOOK_MEM_READ_PROT | HOOK_MEM_READ_UNMAPPED
HOOK_MEM_WRITE_INVALID = HOOK_MEM_WRITE_PROT | HOOK_MEM_WRITE_UNMAPPED
HOOK_MEM_FETCH_INVALID = HOOK_MEM_FETCH_PROT | HOOK_MEM_FETCH_UNMAPPED
HOOK_MEM_VALID = HOOK_MEM_READ | HOOK_MEM_WRITE | HOOK_MEM_FETCH
ALL_KINDS = 0
for _, _bit in _KINDS:
    ALL_KINDS |= _bit

# Kinds compiled into translated code; kinds seen by the slow path of data
# accesses (their pages are kept out of the TLB).
CODE_KINDS = HOOK_CODE | HOOK_BLOCK | HOOK_MEM_FETCH
DATA_KINDS = HOOK_MEM_READ | HOOK_MEM_WRITE | HOOK_MEM_READ_AFTER

# -- memory-access codes a memory callback receives (Unicorn's uc_mem_type) -------------
MEM_READ, MEM_WRITE, MEM_FETCH = 16, 17, 18
MEM_READ_UNMAPPED, MEM_WRITE_UNMAPPED, MEM_FETCH_UNMAPPED = 19, 20, 21
MEM_WRITE_PROT, MEM_READ_PROT, MEM_FETCH_PROT = 22, 23, 24
MEM_READ_AFTER = 25

# (access, reason) -> (the access code, the hook kind that receives it)
FAULT_EVENTS = {
    ("read", "unmapped"): (MEM_READ_UNMAPPED, HOOK_MEM_READ_UNMAPPED),
    ("write", "unmapped"): (MEM_WRITE_UNMAPPED, HOOK_MEM_WRITE_UNMAPPED),
    ("fetch", "unmapped"): (MEM_FETCH_UNMAPPED, HOOK_MEM_FETCH_UNMAPPED),
    ("read", "prot"): (MEM_READ_PROT, HOOK_MEM_READ_PROT),
    ("write", "prot"): (MEM_WRITE_PROT, HOOK_MEM_WRITE_PROT),
    ("fetch", "prot"): (MEM_FETCH_PROT, HOOK_MEM_FETCH_PROT),
}


def in_range(begin: int, end: int, addr: int) -> bool:
    """Unicorn's HOOK_BOUND_CHECK: inclusive, and begin > end is everywhere."""
    return begin > end or begin <= addr <= end


def overlaps(begin: int, end: int, lo: int, hi: int) -> bool:
    """Does [begin, end] (begin > end: everything) meet [lo, hi)?"""
    return begin > end or (begin < hi and lo <= end)


def to_signed(v: int) -> int:
    """Memory callbacks get the value as Unicorn's Python binding does (int64)."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


@record(eq=False, slots=True)
class Hook:
    kinds: int
    callback: Callable
    user_data: Any
    begin: int
    end: int
    live: bool = True

    def covers(self, addr: int) -> bool:
        return self.live and (self.begin > self.end or self.begin <= addr <= self.end)


class HookTable:
    """The live hooks, by handle and by kind bit."""

    def __init__(self):
        self.by_handle: dict[int, Hook] = {}
        self.by_kind: dict[int, list[Hook]] = {}
        self.next_handle = 1

    def add(self, hook: Hook) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.by_handle[handle] = hook
        for _, bit in _KINDS:
            if hook.kinds & bit:
                # a new list: a callback running over the old one is unaffected
                self.by_kind[bit] = self.by_kind.get(bit, []) + [hook]
        return handle

    def remove(self, handle: int) -> Hook:
        hook = self.by_handle.pop(handle)
        hook.live = False
        for bit, hooks in list(self.by_kind.items()):
            if hook in hooks:
                rest = [h for h in hooks if h is not hook]
                if rest:
                    self.by_kind[bit] = rest
                else:
                    del self.by_kind[bit]
        return hook

    def of(self, bit: int) -> list[Hook]:
        return self.by_kind.get(bit, [])

    def any(self, kinds: int) -> bool:
        return any(bit & kinds for bit in self.by_kind)

    def ranges(self, kinds: int) -> list[tuple[int, int]]:
        return [(h.begin, h.end) for bit, hooks in self.by_kind.items() if bit & kinds for h in hooks]


# -- native instrumentation ----------------------------------------------------------

# What a counter counts, each at the instructions whose address is in its range
# (a memory-access counter counts the loads or stores those instructions make,
# as QEMU plugins' inline memory ops do: no address test per access).
COUNT_INSNS, COUNT_BLOCKS, COUNT_MEM_READS, COUNT_MEM_WRITES = "insns", "blocks", "mem_reads", "mem_writes"
COUNT_KINDS = (COUNT_INSNS, COUNT_BLOCKS, COUNT_MEM_READS, COUNT_MEM_WRITES)


class Counter:
    """A 64-bit counter translated code increments in place (``value``)."""

    def __init__(self, kind: str, begin: int = 1, end: int = 0):
        if kind not in COUNT_KINDS:
            raise ValueError(f"counter kind must be one of {COUNT_KINDS}")
        self.kind, self.begin, self.end = kind, begin & MASK64, end & MASK64
        self._cell = ctypes.c_uint64(0)
        self.address = ctypes.addressof(self._cell)

    @property
    def value(self) -> int:
        return self._cell.value

    def reset(self) -> None:
        self._cell.value = 0

    def __repr__(self) -> str:
        return f"Counter({self.kind}, {self.begin:#x}..{self.end:#x}: {self.value})"


class BlockTrace:
    """The addresses of the last ``capacity`` blocks entered in [begin, end],
    written by translated code into a ring buffer (a power of two of u64s
    after the count of entries written)."""

    def __init__(self, capacity: int = 1 << 16, begin: int = 1, end: int = 0):
        if capacity <= 0 or capacity & (capacity - 1):
            raise ValueError("trace capacity must be a power of two")
        self.capacity, self.begin, self.end = capacity, begin & MASK64, end & MASK64
        self._ring = (ctypes.c_uint64 * (capacity + 1))()
        self.address = ctypes.addressof(self._ring)

    @property
    def total(self) -> int:
        """Blocks entered since the trace started (or was cleared)."""
        return self._ring[0]

    def addresses(self) -> list[int]:
        """The block addresses still in the ring, oldest first."""
        n, cap = self._ring[0], self.capacity
        if n <= cap:
            return list(self._ring[1:n + 1])
        start = n & (cap - 1)
        body = self._ring[1:cap + 1]
        return body[start:] + body[:start]

    def clear(self) -> None:
        ctypes.memset(self.address, 0, 8 * (self.capacity + 1))


# -- the IR pass ---------------------------------------------------------------------

@record
class Instrumentation:
    """What translation inserts, from the hooks and native instruments an
    emulator has; consulted for every block translated while any exists."""
    code_ranges: dict[int, list[tuple[int, int]]] = factory(dict)   # hook bit -> ranges
    counters: list[Counter] = factory(list)
    traces: list[BlockTrace] = factory(list)

    @property
    def empty(self) -> bool:
        return not (self.code_ranges or self.counters or self.traces)

    def _ranges(self):
        for ranges in self.code_ranges.values():
            yield from ranges
        for c in self.counters:
            yield c.begin, c.end
        for t in self.traces:
            yield t.begin, t.end

    def covers(self, lo: int, hi: int) -> bool:
        """Is any code of [lo, hi) instrumented?"""
        return any(overlaps(b, e, lo, hi) for b, e in self._ranges())

    def covers_page(self, page: int) -> bool:
        return self.covers(page & PAGE_MASK, (page & PAGE_MASK) + PAGE_SIZE)

    def apply(self, block) -> None:
        """Insert the instrumentation ``block`` needs (before the optimizer:
        an Op.hook is a point where the passes forget what globals hold, and
        where dead-store elimination keeps every register written back) and
        set ``block.instr`` (0 none, 1 native only, 2 Python hooks)."""
        if not self.covers(block.pc, block.pc + max(block.guest_size, 1)):
            return
        pcs = block.insn_pcs
        sizes = [b - a for a, b in zip(pcs, pcs[1:] + [block.pc + block.guest_size])]
        index = {pc: i for i, pc in enumerate(pcs)}
        n = len(pcs)
        hooked = {bit: [any(in_range(b, e, pc) for b, e in ranges) for pc in pcs]
                  for bit, ranges in self.code_ranges.items()}
        counts = {kind: [c for c in self.counters if c.kind == kind] for kind in COUNT_KINDS}
        level = 0
        out: list[Insn] = []
        pending: dict[int, int] = {}    # counter address -> index in out of its open count op
        first = True
        owner = 0
        for insn in block.insns:
            op = insn.op
            out.append(insn)
            if op is Op.insn_start:
                pc = insn.consts[0]
                i = index.get(pc)
                if i is None:
                    continue
                # Hooks first: one that stops the run leaves before the
                # block or instruction is traced or counted.
                if first and hooked.get(HOOK_BLOCK, [False])[0]:
                    out.append(Insn(Op.hook, (), (), (HOOK_BLOCK, block.pc, block.guest_size, n)))
                    level = 2
                for bit in (HOOK_MEM_FETCH, HOOK_CODE):     # the fetch, then the instruction
                    if hooked.get(bit, [False] * n)[i]:
                        out.append(Insn(Op.hook, (), (), (bit, pc, sizes[i], n - i)))
                        pending.clear()
                        level = 2
                if first:
                    first = False
                    for t in self.traces:
                        if in_range(t.begin, t.end, block.pc):
                            out.append(Insn(Op.trace, (), (), (t.address, t.capacity - 1, block.pc)))
                            level = max(level, 1)
                    for c in counts[COUNT_BLOCKS]:
                        if in_range(c.begin, c.end, block.pc):
                            _count(out, pending, c.address, 1)
                            level = max(level, 1)
                for c in counts[COUNT_INSNS]:
                    if in_range(c.begin, c.end, pc):
                        _count(out, pending, c.address, 1)
                        level = max(level, 1)
                owner = i
                continue
            flags = op.value.flags
            if flags & (F.MEMORY | F.CALL | F.BB_END | F.BRANCH) or op is Op.set_label:
                pending.clear()     # a count after here must not be paid before
            if op in _ACCESSES and not first:
                kind, times = _ACCESSES[op]
                for c in counts[kind]:
                    if in_range(c.begin, c.end, pcs[owner]):
                        out.append(Insn(Op.count, (), (_const(times),), (c.address,)))
                        level = max(level, 1)
        block.insns = out
        block.instr = level


# load/store ops -> (the counter kind they feed, accesses per op)
_ACCESSES = {Op.ld: (COUNT_MEM_READS, 1), Op.st: (COUNT_MEM_WRITES, 1), Op.st2: (COUNT_MEM_WRITES, 2),
             Op.cmpxchg: (COUNT_MEM_WRITES, 1)}


def _const(v: int) -> Temp:
    return Temp(Kind.CONST, -1, value=v)


def _count(out: list[Insn], pending: dict[int, int], address: int, n: int) -> None:
    """Add ``n`` to the counter at ``address``: to the count op already open
    for it when nothing since could have left the block, else a new one."""
    j = pending.get(address)
    if j is not None:
        old = out[j]
        out[j] = Insn(Op.count, (), (_const(old.ins[0].value + n),), old.consts)
        return
    pending[address] = len(out)
    out.append(Insn(Op.count, (), (_const(n),), (address,)))
