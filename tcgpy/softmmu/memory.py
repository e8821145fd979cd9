"""The guest address space: mapped regions with r/w/x permissions backed by
host memory, MMIO regions with Python callbacks, and the software TLB that the
JIT's inlined fast path reads (index by page, compare the tag, add the addend).
The regions are also published as a native table (cpustate.RegionTable) from
which host code refills the TLB on a miss (backends/llvm/refill.py); Python
sees only faults, MMIO, stores to translated code and page-crossing accesses.

Backing memory is anonymous ``mmap`` so that large guest mappings cost nothing
until touched.  Regions never overlap; ``protect`` splits them.
"""
from __future__ import annotations

import bisect
import ctypes
import mmap
import os
import struct
import weakref
from typing import Callable

from ..record import record
from .arena import LARGEST, MAP_NORESERVE, Arena
from .intervals import Intervals, Overlap
from ..cpustate import (FAST_READ, FAST_WRITE, PAGE_BITS, PAGE_MASK, PAGE_SIZE, REGION_ENTRY_SIZE, TLB_SIZE,
                        RegionEntry, RegionTable, TLBEntry)

MASK64 = (1 << 64) - 1
# Guest memory is reserved, not committed, as qemu-user does: a guest that
# reserves 1 TiB for a heap or a sanitizer's shadow touches a little of it,
# and Linux's overcommit heuristic refuses large private mappings without
# MAP_NORESERVE.
_ENTRY = struct.Struct("<4Q")        # cpustate.RegionEntry
_TLB_WORDS = ctypes.sizeof(TLBEntry) // 8
NO_TAG = MASK64          # a tag no (page-aligned) address compares equal to

# The host's whole address space as one buffer, for Python's accesses to
# guest memory at its host address: slicing it is no ctypes call, and a
# ctypes call releases the GIL, which a thread waiting for it (LLVM on the
# background thread: backends/llvm/background.py) takes until its next
# release, while the guest waits.  (A store through it is also 3x cheaper
# than ctypes.memmove.)  Only addresses of mapped host memory are sliced.
HOST = memoryview((ctypes.c_ubyte * (1 << 62)).from_address(0)).cast("B")

PERM_R, PERM_W, PERM_X = 1, 2, 4
_PERM_STRINGS = {r + w + x: (PERM_R if r else 0) | (PERM_W if w else 0) | (PERM_X if x else 0)
                 for r in ("", "r") for w in ("", "w") for x in ("", "x")}


def parse_perms(perms) -> int:
    bits = _PERM_STRINGS.get(perms) if isinstance(perms, str) else None
    if bits is not None:
        return bits                 # the usual spellings: no loop (mprotect passes one each call)
    if isinstance(perms, int):
        if perms & ~7:
            raise ValueError(f"bad permission bits {perms:#x}")
        return perms
    bits = 0
    for ch in perms:
        if ch not in "rwx-":
            raise ValueError(f"bad permission string {perms!r}: use a subset of 'rwx'")
        bits |= {"r": PERM_R, "w": PERM_W, "x": PERM_X, "-": 0}[ch]
    return bits


class Fault(Exception):
    """Raised inside the softmmu; the caller turns it into a guest exception."""

    def __init__(self, address: int, access: str, align: bool = False):
        super().__init__(f"{access} fault at {address:#x}")
        self.address = address
        self.access = access
        self.align = align


# Backing, Region (and linux.memory.VMA) have slots: a process may hold
# 100,000 of each, and an instance dict cost more than its fields.
@record(slots=True, weakref_slot=True)
class Backing:
    """Host memory shared by the regions split from one mapping."""
    mm: mmap.mmap | None
    host: int
    size: int
    # a private copy (anonymous, or a MAP_PRIVATE file mapping) that a fork
    # duplicates, rather than memory shared with other processes
    private: bool = True
    parent: "Backing | None" = None     # a view's whole backing, kept alive (linux.memory._view)


class ArenaPiece(Backing):
    """Private memory that is a piece of the address space's arena (small
    mappings: arena.py), given back when the last region using it goes."""
    __slots__ = ("arena",)

    def __del__(self):
        self.arena.give(self.host, self.size)


def host_backing(size: int, fd: int = -1, offset: int = 0, shared: bool = False) -> Backing:
    """Read-write host memory for ``map(..., backing=)``: a mapping of ``fd``
    at ``offset`` (MAP_SHARED writes reach the file and other processes'
    mappings of it), or anonymous with ``fd`` -1 (shared anonymous memory is
    shared with forked children).  Python's mmap is not used for files
    because it keeps a dup of ``fd``, which would be visible in the guest's
    descriptor numbering.  The host mapping goes away with the last region
    that uses it.  OSError carries the host mmap's errno."""
    flags = ((mmap.MAP_SHARED if shared else mmap.MAP_PRIVATE | MAP_NORESERVE)
             | (mmap.MAP_ANONYMOUS if fd < 0 else 0))
    if fd < 0 and not shared:
        mm = mmap.mmap(-1, size, flags=flags)
        return Backing(mm, ctypes.addressof(ctypes.c_char.from_buffer(mm)), size)
    libc = _libc()
    host = libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, flags, fd, offset)
    if host in (None, MASK64):            # MAP_FAILED
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    b = Backing(None, host, size, private=not shared)
    weakref.finalize(b, libc.munmap, host, size)
    return b


def backing_sync(backing: Backing, offset: int, size: int, flags: int) -> None:
    """msync(2) part of a host_backing (flags are the host's MS_* bits)."""
    if _libc().msync(backing.host + offset, size, flags):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def backing_discard(backing: Backing, offset: int, size: int) -> None:
    """madvise(MADV_DONTNEED) part of a host_backing: a private file
    mapping's pages are the file's again (the copies its writes made are
    dropped), anonymous pages zeros."""
    if _libc().madvise(backing.host + offset, size, mmap.MADV_DONTNEED):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        _LIBC = libc
    return _LIBC


@record(slots=True)
class Region:
    start: int
    end: int                 # exclusive
    perms: int
    backing: Backing | None  # None for MMIO
    offset: int = 0          # byte offset of start in backing
    mmio_read: Callable[[int, int], int] | None = None
    mmio_write: Callable[[int, int, int], None] | None = None
    mmio_base: int = 0       # guest address the MMIO callbacks' offsets are relative to
    # Translated code was found in it: stores must go through Python, which
    # invalidates that code.  Cleared only when the region goes; the host
    # refill then leaves the region's stores to Python, which still fills
    # the TLB for its pages without code.
    has_code: bool = False

    @property
    def host(self) -> int:
        return self.backing.host + self.offset

    @property
    def is_mmio(self) -> bool:
        return self.backing is None


class MapError(ValueError):
    """The host could not provide memory for a mapping (a guest mmap gets ENOMEM)."""


class AddressSpace:
    def __init__(self, tlb: ctypes.Array):
        self.regions = Intervals()      # of Region
        self.arena = Arena()            # host memory of small private mappings
        self.tlb = tlb
        self._tlb_words = memoryview(tlb).cast("B").cast("Q")     # TLBEntry fields as integers
        # Pages holding translated code: stores to them must take the slow
        # path so that the translated blocks are invalidated (QEMU's NOTDIRTY).
        self.code_pages: set[int] = set()
        # Pages under a watchpoint: every access to them goes through Python
        # (Emulator._slow_access checks the watchpoints), so they are kept
        # out of the TLB and their regions out of the native refill.
        self.watched_pages: frozenset[int] = frozenset()
        self.watch_all = False          # every page watched (a memory hook without a range)
        self.on_code_write: Callable[[int, int], None] | None = None
        self.table = RegionTable()
        self.table_address = ctypes.addressof(self.table)
        # The published table lives inside a larger RegionEntry array with
        # room at both ends: entries [_first, _first + count) of _buf.
        self._buf = (RegionEntry * 64)()
        self._first = 32
        self._words = memoryview(self._buf).cast("B").cast("Q")    # the entries' fields as integers
        self._count = 0                 # table.count, read here without a ctypes call
        self._finger = 0                # the index of the entry _splice last changed
        self.table_base = ctypes.addressof(self._buf)
        self.table.entries = ctypes.addressof(self._buf) + self._first * REGION_ENTRY_SIZE
        self.tlb_flush()

    @property
    def native_refills(self) -> int:
        return self.table.refills

    # -- region bookkeeping ------------------------------------------------------
    def _entry(self, r: Region) -> bytes:
        # (r.is_mmio and r.host spelled out: this runs for every entry a change writes)
        b = r.backing
        if (b is None or self.watch_all
                or self.watched_pages and any(r.start <= p < r.end for p in self.watched_pages)):
            return _ENTRY.pack(r.start, r.end, 0, 0)
        fast = ((FAST_READ if r.perms & PERM_R else 0)
                | (FAST_WRITE if r.perms & PERM_W and not r.has_code else 0))
        return _ENTRY.pack(r.start, r.end, (b.host + r.offset - r.start) & MASK64, fast)

    def _publish(self, start: int = 0, end: int = 1 << 64) -> None:
        """Bring the native table the host refill searches up to date after a
        change confined to [start, end): the entries meeting it or its
        neighbours (which a merge may have joined) are replaced.  The
        entries before them or those after move, whichever are fewer (the
        table has room at both ends), so a change costs a short memmove:
        mmap's top-down layout inserts near the front of the table, and
        moving every entry after that made 100,000 mappings quadratic."""
        a, b = max(start - 1, 0), end + 1
        new = self.regions.meeting(a, b)
        # The entries wholly below a (their ends are sorted as their starts
        # are) are the unchanged regions below the change; the old entries
        # meeting [a, b) follow them, up to the first starting at b or above.
        words, first, n_old = self._words, self._first, self._count
        i = bisect.bisect_right(words[4 * first + 1:4 * (first + n_old):4], a)
        k = bisect.bisect_left(words[4 * first:4 * (first + n_old):4], b, lo=i)
        grow = len(new) - (k - i)
        if grow:
            first = self._move(i, k, grow)
        data = self._entry(new[0]) if len(new) == 1 else b"".join(map(self._entry, new))
        at = self.table_base + (first + i) * REGION_ENTRY_SIZE
        HOST[at:at + len(data)] = data          # no ctypes call (see HOST)
        if grow:
            self._count = self.table.count = n_old + grow

    def _splice(self, start: int, old: int, new: list[Region]) -> None:
        """_publish for a caller that knows the change: the ``old`` entries
        from the first starting at or above ``start`` become ``new`` (one
        bisect, where _publish needs two over the whole table)."""
        words, first, n = self._words, self._first, self._count
        # Where the last change was, or next to it, is the usual place:
        # mmap's top-down layout inserts each mapping below the last, and
        # a program unmaps or protects in the order it mapped.  Checked
        # against the two neighbours' starts (two reads) before the bisect
        # (~17 reads through the memoryview, each an int: 2-3 us).
        i = self._finger
        if not (i <= n and (i == 0 or words[4 * (first + i - 1)] < start)
                and (i == n or words[4 * (first + i)] >= start)):
            i -= 1          # (an munmap after the one of the entry above)
            if not (0 <= i < n and (i == 0 or words[4 * (first + i - 1)] < start)
                    and words[4 * (first + i)] >= start):
                i = bisect.bisect_left(words[4 * first:4 * (first + n):4], start)
        self._finger = i
        grow = len(new) - old
        if grow:
            first = self._move(i, i + old, grow)
            self._count = self.table.count = n + grow
        if new:
            data = self._entry(new[0]) if len(new) == 1 else b"".join(map(self._entry, new))
            at = self.table_base + (first + i) * REGION_ENTRY_SIZE
            HOST[at:at + len(data)] = data

    def _move(self, i: int, k: int, grow: int) -> int:
        """Make entries [i, k) of the table ``grow`` longer (or shorter) by
        moving the entries before ``i`` or those from ``k`` on; returns the
        new index of the table's first entry in the buffer."""
        size, n = REGION_ENTRY_SIZE, self._count
        prefix = i <= n - k             # the entries before i are the fewer: they move
        if grow > 0 and (self._first < grow if prefix else self._first + n + grow > len(self._buf)):
            # No room on the short side: recentre (in a larger buffer)
            # rather than move the long side, which at every insert until
            # the other end filled up too would be quadratic again.
            self._regrow(n + grow)
        first, base = self._first, self.table_base
        # (memmove through HOST: memoryview copies overlapping contiguous
        # buffers as memmove does; no call: this runs at every mmap and munmap)
        if prefix:
            if i:
                dst, src = base + (first - grow) * size, base + first * size
                HOST[dst:dst + i * size] = HOST[src:src + i * size]
            first -= grow
            self._first = first
            self.table.entries = base + first * size
        elif k < n:
            dst, src, m = base + (first + k + grow) * size, base + (first + k) * size, (n - k) * size
            HOST[dst:dst + m] = HOST[src:src + m]
        return first

    def _regrow(self, need: int) -> None:
        """A buffer twice as large as ``need`` entries, the table in its middle."""
        n, size = self._count, REGION_ENTRY_SIZE
        buf = (RegionEntry * (2 * need + 64))()
        first = (len(buf) - n) // 2
        ctypes.memmove(ctypes.addressof(buf) + first * size,
                       ctypes.addressof(self._buf) + self._first * size, n * size)
        self._words.release()
        self._buf, self._first = buf, first
        self.table_base = ctypes.addressof(buf)
        self._words = memoryview(buf).cast("B").cast("Q")
        self.table.entries = ctypes.addressof(buf) + first * size

    def add_code_page(self, page: int) -> None:
        """Translated code now comes from ``page``: stores to it go through
        Python (which invalidates the code) until remove_code_page."""
        self.code_pages.add(page)
        self.tlb_flush_page(page)
        r = self.find(page)
        if r is not None and not r.has_code:
            r.has_code = True
            if r.perms & PERM_W:
                self._publish(r.start, r.end)

    def set_watched_pages(self, pages, everywhere: bool = False) -> None:
        """Make every access to ``pages`` (or with ``everywhere``, to all)
        take the Python slow path (and those to the rest of their regions
        miss the native refill: the region table has no finer grain than a
        region; Python still fills the TLB for the unwatched pages)."""
        if everywhere != self.watch_all:
            self.watch_all = everywhere
            self.tlb_flush()
            self._publish()
        old, self.watched_pages = self.watched_pages, frozenset(pages)
        changed = {}
        for page in old ^ self.watched_pages:
            self.tlb_flush_page(page)
            r = self.find(page)
            if r is not None:
                changed[r.start] = r        # each region once (a hook may cover thousands of pages)
        for r in changed.values():
            self._publish(r.start, r.end)

    def remove_code_page(self, page: int) -> None:
        self.code_pages.discard(page)
        self.tlb_flush_page(page)

    def find(self, addr: int) -> Region | None:
        return self.regions.find(addr)

    def overlapping(self, start: int, end: int) -> list[Region]:
        return self.regions.meeting(start, end)

    @staticmethod
    def check_range(addr: int, size: int) -> None:
        if addr & (PAGE_SIZE - 1) or size & (PAGE_SIZE - 1):
            raise ValueError(f"address {addr:#x} and size {size:#x} must be page-aligned ({PAGE_SIZE:#x})")
        if size <= 0 or addr < 0 or addr + size > (1 << 64):
            raise ValueError(f"bad range {addr:#x}+{size:#x}")

    def map(self, addr: int, size: int, perms, *, mmio=None, backing: Backing | None = None) -> None:
        """Map zeroed private memory, or MMIO callbacks (``mmio=(read, write)``),
        or the host memory of ``backing`` (see host_backing; at least ``size`` bytes)."""
        self.check_range(addr, size)
        end = addr + size
        p = parse_perms(perms)
        if backing is not None:
            if backing.size < size:
                raise ValueError(f"backing of {backing.size:#x} bytes for a {size:#x}-byte mapping")
            region = Region(addr, end, p, backing)
        elif mmio is None:
            try:
                if size <= LARGEST:
                    backing = ArenaPiece(None, self.arena.take(size), size)
                    backing.arena = self.arena
                else:
                    mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
                    backing = Backing(mm, ctypes.addressof(ctypes.c_char.from_buffer(mm)), size)
            except (OSError, OverflowError, MemoryError) as e:
                why = e.strerror if isinstance(e, OSError) else "too large for this host"
                raise MapError(f"cannot map {size:#x} bytes at {addr:#x}: {why}") from None
            region = Region(addr, end, p, backing)
        else:
            read, write = mmio
            region = Region(addr, end, p, None, mmio_read=read, mmio_write=write, mmio_base=addr)
        try:
            # (which refuses a range that is not free: no lookup before;
            # the backing made for it goes with the region)
            self.regions.insert(region)
        except Overlap:
            raise ValueError(f"range {addr:#x}+{size:#x} overlaps an existing mapping") from None
        self._splice(addr, 0, [region])
        # No TLB flush: nothing was mapped here, and unmap flushed what was.

    @staticmethod
    def _piece(r: Region, start: int, end: int, perms: int) -> Region:
        """The part [start, end) of ``r`` as a region of its own."""
        return Region(start, end, perms, r.backing, r.offset + (start - r.start) if r.backing else 0,
                      r.mmio_read, r.mmio_write, r.mmio_base, r.has_code)

    def unmap(self, addr: int, size: int) -> int:
        """Unmap whatever is mapped in [addr, addr + size); returns the
        permissions the regions there had between them (0: nothing was)."""
        self.check_range(addr, size)
        end = addr + size
        old = self.regions.take(addr, end)
        if not old:
            return 0        # nothing to drop from the table, and the TLB holds no unmapped page
        # What is left of the regions at either end (one region, when the
        # range is inside it: its tail is cut before its end moves).
        head, tail, left = old[0], old[-1], []
        if tail.end > end:
            left.append(self._piece(tail, end, tail.end, tail.perms))
        if head.start < addr:
            head.end = addr
            left.insert(0, head)
        for r in left:
            self.regions.insert(r)
        self._splice(head.start, len(old), left)
        if size == PAGE_SIZE:
            self.tlb_flush_page(addr)       # (one page, the usual munmap: no loop)
        else:
            self.tlb_flush_range(addr, size)
        had = 0
        for r in old:
            had |= r.perms
        return had

    def protect(self, addr: int, size: int, perms) -> int:
        """Give the mapped parts of [addr, addr + size) permissions
        ``perms``; returns the permission bits some part of it lost (the
        engine drops translated code when execute is among them).

        One walk over the regions meeting the range and its two neighbours
        splits the regions at its ends, sets the permissions and joins
        pieces that became one again (which keeps lookups short); the table
        and the TLB change only where something did.  Permissions that only
        grow leave the TLB alone: an entry grants no more than before, and a
        refill finds the rest."""
        self.check_range(addr, size)
        p = parse_perms(perms)
        end = addr + size
        run = self.regions.meeting(max(addr - 1, 0), end + 1)
        lost, changed, split, out = 0, [], False, []
        for r in run:
            if r.perms == p or r.end <= addr or r.start >= end:
                out.append(r)               # a neighbour, or already so
                continue
            lost |= r.perms & ~p
            changed.append(r)
            tail = self._piece(r, end, r.end, r.perms) if r.end > end else None
            if r.start < addr:              # r keeps its head
                mid = self._piece(r, addr, min(r.end, end), p)
                r.end = addr
                out += (r, mid)
                split = True
            else:
                r.end = min(r.end, end)
                r.perms = p
                out.append(r)
            if tail is not None:
                out.append(tail)
                split = True
        if not changed:
            return 0
        n = len(out)
        self._merge_pieces(out)
        if split or len(out) != n:
            self.regions.replace(run, out)
            self._splice(run[0].start, len(run), out)
        else:
            # Whole regions changed permissions and joined none (an
            # mprotect of whole mappings, the usual kind): the list of
            # regions stays, and only their own entries are rewritten.
            for r in changed:
                self._splice(r.start, 1, [r])
        if lost & (PERM_R | PERM_W):
            self.tlb_flush_range(addr, size)
        return lost

    @staticmethod
    def _merge_pieces(out: list[Region]) -> None:
        """Join neighbours of ``out`` (in place) that are one mapping again."""
        i = 1
        while i < len(out):
            prev, r = out[i - 1], out[i]
            if (prev.end == r.start and prev.perms == r.perms
                    and prev.backing is not None and prev.backing is r.backing
                    and prev.offset + (prev.end - prev.start) == r.offset):
                prev.end = r.end
                prev.has_code |= r.has_code
                del out[i]
            else:
                i += 1

    def is_mapped(self, addr: int, size: int) -> bool:
        covered = addr
        for r in self.overlapping(addr, addr + size):
            if r.start > covered:
                return False
            covered = r.end
        return covered >= addr + size

    # -- the software TLB --------------------------------------------------------
    def tlb_flush(self) -> None:
        ctypes.memset(ctypes.addressof(self.tlb), 0xFF, ctypes.sizeof(self.tlb))

    def tlb_flush_range(self, addr: int, size: int) -> None:
        """Drop the entries of [addr, addr + size): page by page when that is
        cheaper than clearing the whole TLB (a memset of ~20 us)."""
        if size > 16 * PAGE_SIZE:
            self.tlb_flush()
            return
        for page in range(addr & PAGE_MASK, addr + size, PAGE_SIZE):
            self.tlb_flush_page(page)

    def tlb_flush_page(self, page: int) -> None:
        # (through the words, not a TLBEntry: indexing the ctypes array
        # makes an object per call, a third of an munmap's flush)
        w, i = self._tlb_words, ((page >> PAGE_BITS) & (TLB_SIZE - 1)) * _TLB_WORDS
        if w[i] == page or w[i + 1] == page:
            w[i] = w[i + 1] = NO_TAG

    def tlb_fill(self, addr: int) -> None:
        """Make the fast path hit for ``addr``'s page where permissions allow."""
        r = self.find(addr)
        if r is None or r.is_mmio:
            return
        page = addr & PAGE_MASK
        if self.watch_all or page in self.watched_pages:
            return
        w, i = self._tlb_words, ((page >> PAGE_BITS) & (TLB_SIZE - 1)) * _TLB_WORDS
        w[i] = page if r.perms & PERM_R else NO_TAG
        w[i + 1] = page if (r.perms & PERM_W and page not in self.code_pages) else NO_TAG
        w[i + 2] = (r.host - r.start) & MASK64

    # -- slow-path access (also used by the API) ---------------------------------
    def _chunks(self, addr: int, size: int, need: int, access: str):
        """Yield (region, addr, n) pieces covering [addr, addr+size) with ``need`` perms."""
        end = addr + size
        while addr < end:
            r = self.find(addr)
            if r is None or (r.perms & need) != need:
                raise Fault(addr, access)
            n = min(end, r.end) - addr
            yield r, addr, n
            addr += n

    def accessible(self, addr: int, size: int, need: int) -> bool:
        """Is all of [addr, addr + size) mapped with ``need`` permissions?"""
        try:
            for _ in self._chunks(addr, size, need, ""):
                pass
        except Fault:
            return False
        return True

    def read(self, addr: int, size: int, *, need: int = PERM_R, access: str = "read") -> bytes:
        out = bytearray()
        for r, a, n in self._chunks(addr, size, need, access):
            if r.is_mmio:
                for i in range(n):
                    out.append(r.mmio_read(a + i - r.mmio_base, 1) & 0xFF)
            else:
                h = r.host + (a - r.start)
                out += HOST[h:h + n]
        return bytes(out)

    def write(self, addr: int, data: bytes, *, need: int = PERM_W, access: str = "write") -> None:
        if data.__class__ is not bytes and data.__class__ is not bytearray:
            data = memoryview(data).cast("B")      # (any buffer, sliced in bytes below)
        pieces = list(self._chunks(addr, len(data), need, access))   # all-or-nothing
        self.notify_code_write(addr, len(data))
        pos = 0
        for r, a, n in pieces:
            if r.is_mmio:
                for i in range(n):
                    r.mmio_write(a + i - r.mmio_base, 1, data[pos + i])
            else:
                h = r.host + (a - r.start)
                HOST[h:h + n] = data[pos:pos + n]
            pos += n

    def notify_code_write(self, addr: int, size: int) -> None:
        if not self.code_pages or self.on_code_write is None:
            return
        page = addr & PAGE_MASK
        last = (addr + size - 1) & PAGE_MASK
        while page <= last:
            if page in self.code_pages:
                self.on_code_write(page, PAGE_SIZE)
            page += PAGE_SIZE

    def load(self, addr: int, size: int, sign: bool = False) -> int:
        """One guest load (slow path): MMIO is one callback of the access size."""
        r = self.find(addr)
        if r is not None and r.is_mmio and addr + size <= r.end:
            if not r.perms & PERM_R:
                raise Fault(addr, "read")
            v = r.mmio_read(addr - r.mmio_base, size) & ((1 << (8 * size)) - 1)
        else:
            v = int.from_bytes(self.read(addr, size), "little")
            self.tlb_fill(addr)
        if sign and v >> (8 * size - 1):
            v -= 1 << (8 * size)
        return v & MASK64

    def store(self, addr: int, size: int, value: int) -> None:
        r = self.find(addr)
        if r is not None and r.is_mmio and addr + size <= r.end:
            if not r.perms & PERM_W:
                raise Fault(addr, "write")
            r.mmio_write(addr - r.mmio_base, size, value & ((1 << (8 * size)) - 1))
            return
        self.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
        self.tlb_fill(addr)

    def cmpxchg(self, addr: int, size: int, expected: int, new: int) -> int:
        """One guest compare-and-swap (Op.cmpxchg; slow path): the value
        at ``addr``, replaced by ``new`` if it was ``expected``.  Atomic
        (hostatomic.cas) in memory other processes share; elsewhere no other
        host thread touches guest memory meanwhile.  Needs read and write
        permission whatever the compare gives."""
        r = self.find(addr)
        if (r is not None and not r.is_mmio and addr + size <= r.end and r.perms & PERM_R
                and r.perms & PERM_W and (addr & PAGE_MASK) not in self.code_pages):
            h = r.host + (addr - r.start)
            if r.backing.private:
                old = int.from_bytes(HOST[h:h + size], "little")
                if old == expected:
                    HOST[h:h + size] = new.to_bytes(size, "little")
            else:
                from ..hostatomic import cas
                old = cas(h, size, expected, new)
            self.tlb_fill(addr)
            return old
        # MMIO, a page holding translated code, or a fault
        old = self.load(addr, size)
        self.store(addr, size, new if old == expected else old)
        return old

    def fetch(self, addr: int, size: int) -> int | None:
        """``size`` bytes of code for the translator (little-endian), or None
        when they are not all executable (a target's fetch rule reads an
        instruction in units: tcgpy.targets.Target.fetch)."""
        r = self.find(addr)
        if r is None or r.is_mmio or not r.perms & PERM_X or addr + size > r.end:
            return None
        h = r.host + (addr - r.start)
        return int.from_bytes(HOST[h:h + size], "little")

    def code_reader(self):
        """``fetch`` for translating one block: it remembers the region it
        last read from (a block's instructions are nearly always in one), so
        that each instruction costs no region lookup.  Only while no guest
        code runs and no mapping changes: the regions it remembers are
        those of the moment."""
        last = None

        def read(addr: int, size: int) -> int | None:
            nonlocal last
            r = last
            if r is None or addr < r.start or addr + size > r.end:
                r = self.find(addr)
                if r is None or r.is_mmio or not r.perms & PERM_X or addr + size > r.end:
                    return None
                last = r
            h = r.host + (addr - r.start)
            return int.from_bytes(HOST[h:h + size], "little")
        return read
