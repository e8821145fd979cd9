"""Host memory for small private guest mappings, carved out of a few large
host reservations instead of one host mapping each.

A host ``mmap`` and ``munmap`` per guest mapping are two system calls, ~4 us
together (Python's mmap object included), and were most of the system time
of ``tcgpy run tests/guest/bin/libc_maps many 100000`` (0.8 s).  Here a
mapping of up to LARGEST bytes is a piece of a slab: taking one is a pop
or a bump and giving it back an append (~0.3 us together); the pieces
given back are zeroed (``MADV_DONTNEED``: their pages go back to the host
and read as zeros) a batch at a time, one call a run of adjacent pieces,
and kept for the next mappings of their size.

A slab is reserved, not committed (``MAP_NORESERVE``), and private, so a
forked child gets a copy-on-write copy of it as of a mapping of its own.
Slabs are kept while any piece of them may be in use (the backings refer
to the arena); pieces are reused only for mappings of the same size, so
the address space a process reserves is at most LARGEST / PAGE_SIZE times
the most it had mapped in small mappings at once (no memory is committed
for it).
"""
from __future__ import annotations

import ctypes
import mmap

from ..cpustate import PAGE_SIZE

LARGEST = 16 * PAGE_SIZE        # larger mappings are host mappings of their own
FIRST_SLAB = 1 << 20            # slabs double from this...
LAST_SLAB = 64 << 20            # ...to this
BATCH = 256                     # pieces given back to the host at once
# (Python < 3.13 does not export it; its value on Linux hosts)
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)


class Arena:
    __slots__ = ("_slabs", "_next", "_end", "_free", "_dirty", "_madvise", "__weakref__")

    def __init__(self):
        self._slabs: list[mmap.mmap] = []
        self._next = self._end = 0              # the unused part of the newest slab
        self._free: dict[int, list[int]] = {}   # size -> host addresses of zeroed pieces
        self._dirty: list[tuple[int, int]] = []  # (host, size) given back, not yet zeroed
        libc = ctypes.CDLL(None, use_errno=True)
        self._madvise = libc.madvise
        self._madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

    def take(self, size: int) -> int:
        """The host address of ``size`` zeroed bytes (a multiple of the page
        size, at most LARGEST); OSError when the host has no room."""
        free = self._free.get(size)
        if free:
            return free.pop()
        if self._next + size > self._end:
            self._grow()
        host = self._next
        self._next = host + size
        return host

    def give(self, host: int, size: int) -> None:
        """Piece [host, host + size) is no longer used."""
        dirty = self._dirty
        dirty.append((host, size))
        if len(dirty) >= BATCH:
            self.clean()

    def clean(self) -> None:
        """Zero the pieces given back (one madvise a run of adjacent ones)
        and make them free for the next mappings of their sizes."""
        dirty = sorted(self._dirty)
        self._dirty = []
        free = self._free
        run: list[tuple[int, int]] = []
        for piece in dirty:
            if run and piece[0] != run[-1][0] + run[-1][1]:
                self._zero(run, free)
                run = []
            run.append(piece)
        if run:
            self._zero(run, free)

    def _zero(self, run: list[tuple[int, int]], free: dict[int, list[int]]) -> None:
        start, end = run[0][0], run[-1][0] + run[-1][1]
        if self._madvise(start, end - start, mmap.MADV_DONTNEED):
            return      # (not for our own private mappings) never handed out again: they may hold data
        for host, size in run:
            pieces = free.get(size)
            if pieces is None:
                free[size] = [host]
            else:
                pieces.append(host)

    def _grow(self) -> None:
        size = min(FIRST_SLAB << len(self._slabs), LAST_SLAB)
        mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
        self._slabs.append(mm)
        self._next = ctypes.addressof(ctypes.c_char.from_buffer(mm))
        self._end = self._next + size
