"""A sorted sequence of disjoint intervals: objects with ``start`` and
``end`` (exclusive), ordered by ``start``, which must not change while the
object is in the sequence (``end`` may).

Kept as a list of chunks of at most 2 * CHUNK items, each with the list of
its items' starts (bisect on a list of ints makes no Python call per probe:
a key= function made the lookups a tenth of a 100,000-mapping run), and the
first start of each chunk, so that inserting or removing one item moves at most
2 * CHUNK references and a list of starts with one per chunk.  A flat
Python list moved every item above the change: mmap's top-down layout
inserts near the front, and 100,000 mappings spent a third of their time in
list.insert (issue 19).  The softmmu's regions and the Linux layer's VMAs
are both kept this way.
"""
from __future__ import annotations

import bisect
import itertools
from typing import Iterator

# Items per chunk (a chunk splits at twice this).  list.insert moves the
# references after the new one one at a time: with 512 the inserts were 4%
# of the instructions of libc_maps' mmap/mprotect/munmap handlers (20,000
# mappings), and 128 is 3% fewer instructions in all at 100,000 (callgrind),
# the longer list of firsts costing a probe or two per lookup.
CHUNK = 128


class Overlap(ValueError):
    """An item inserted over one present (``item``)."""

    def __init__(self, item):
        super().__init__(f"[{item.start:#x}, {item.end:#x}) is there")
        self.item = item


class Intervals:
    __slots__ = ("_chunks", "_keys", "_firsts", "_len")

    def __init__(self, items=()):
        self._chunks: list[list] = []
        self._keys: list[list[int]] = []       # the starts of each chunk's items
        self._firsts: list[int] = []
        self._len = 0
        for item in items:
            self.insert(item)

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __iter__(self) -> Iterator:
        # Over a copy of the chunk list: a chunk that splits or goes while a
        # caller iterates must not skip or repeat the items after it.
        return itertools.chain.from_iterable(list(self._chunks))

    def __getitem__(self, index: int):
        """The item at ``index`` (meant for the ends: 0 and -1)."""
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("Intervals index out of range")
        for chunk in self._chunks:
            if index < len(chunk):
                return chunk[index]
            index -= len(chunk)
        raise AssertionError("chunk lengths disagree with the count")

    # -- queries -------------------------------------------------------------
    def _floor(self, addr: int) -> tuple[int, int]:
        """(chunk, index) of the last item starting at or below ``addr``;
        index -1 (in chunk 0) when there is none."""
        c = bisect.bisect_right(self._firsts, addr) - 1
        if c < 0:
            return 0, -1
        return c, bisect.bisect_right(self._keys[c], addr) - 1

    # find() and meeting() repeat _floor inline: they run several times a
    # syscall, and most meet one item of one chunk.
    def find(self, addr: int):
        """The item containing ``addr``, or None."""
        c = bisect.bisect_right(self._firsts, addr) - 1
        if c >= 0:
            item = self._chunks[c][bisect.bisect_right(self._keys[c], addr) - 1]
            if addr < item.end:
                return item
        return None

    def last_below(self, addr: int):
        """The item starting highest below ``addr``, or None."""
        c = bisect.bisect_right(self._firsts, addr - 1) - 1
        if c < 0:
            return None
        return self._chunks[c][bisect.bisect_right(self._keys[c], addr - 1) - 1]

    def is_free(self, a: int, b: int) -> bool:
        """Whether no item meets [a, b) (one probe, no list built)."""
        item = self.last_below(b)
        return item is None or item.end <= a

    def _first_meeting(self, a: int) -> tuple[int, int] | None:
        """(chunk, index) of the first item ending above ``a`` (it may be
        just past a chunk's end), or None when there are no items."""
        chunks, keys = self._chunks, self._keys
        c = bisect.bisect_right(self._firsts, a) - 1
        if c < 0:
            return (0, 0) if chunks else None
        i = bisect.bisect_right(keys[c], a) - 1
        if chunks[c][i].end <= a:
            i += 1
        return c, i

    def meeting(self, a: int, b: int) -> list:
        """The items meeting [a, b), in order."""
        start = self._first_meeting(a)
        if start is None:
            return []
        chunks, keys = self._chunks, self._keys
        c, i = start
        chunk = chunks[c]
        j = bisect.bisect_left(keys[c], b, i)
        if j < len(chunk):
            return chunk[i:j]           # all in this chunk
        out = []
        while c < len(chunks):
            chunk = chunks[c]
            j = bisect.bisect_left(keys[c], b, i)
            out += chunk[i:j]
            if j < len(chunk):
                break
            c, i = c + 1, 0
        return out

    def take(self, a: int, b: int) -> list:
        """Take out the items meeting [a, b) and return them, in order (as
        meeting() then remove() of each, with the lookups done once)."""
        chunks, keys, firsts = self._chunks, self._keys, self._firsts
        c = bisect.bisect_right(firsts, a) - 1
        if c >= 0:
            # (the usual case first, with _first_meeting inline: a run
            # that ends inside the chunk it starts in)
            chunk, k = chunks[c], keys[c]
            i = bisect.bisect_right(k, a) - 1
            if chunk[i].end <= a:
                i += 1
            j = bisect.bisect_left(k, b, i)
            if j < len(chunk) or c + 1 == len(chunks) or firsts[c + 1] >= b:
                return self._cut(c, i, j) if i < j else []
        start = self._first_meeting(a)
        if start is None:
            return []
        c, i = start
        out = []
        while c < len(chunks):
            chunk, k = chunks[c], keys[c]
            n = len(chunk)
            j = bisect.bisect_left(k, b, i)
            if i < j:
                out += self._cut(c, i, j)
            if j < n:
                break           # an item at or above b: the run ends here
            if chunk:
                c += 1          # (else the next chunk moved down to c)
            i = 0
        return out

    def _cut(self, c: int, i: int, j: int) -> list:
        """Items i..j (i < j) of chunk ``c``, taken out (the chunk with them
        if none is left)."""
        chunk, k = self._chunks[c], self._keys[c]
        out = chunk[i:j]
        del chunk[i:j], k[i:j]
        self._len -= j - i
        if not chunk:
            del self._chunks[c], self._keys[c], self._firsts[c]
        elif i == 0:
            self._firsts[c] = k[0]
        return out

    def below(self, addr: int) -> Iterator:
        """The items starting below ``addr``, highest first (the sequence
        must not change while this is consumed)."""
        c, i = self._floor(addr - 1)
        chunks = self._chunks
        while c >= 0 and chunks:
            chunk = chunks[c]
            while i >= 0:
                yield chunk[i]
                i -= 1
            c -= 1
            if c >= 0:
                i = len(chunks[c]) - 1

    # -- changes ---------------------------------------------------------------
    def insert(self, item) -> None:
        """Add ``item``; Overlap (and no change) if it meets an item present.
        (The check is two comparisons with the neighbours the insert finds
        anyway, so a caller need not look the range up first.)"""
        chunks, firsts, s = self._chunks, self._firsts, item.start
        if not chunks:
            chunks.append([item])
            self._keys.append([s])
            firsts.append(s)
            self._len += 1
            return
        c = max(bisect.bisect_right(firsts, s) - 1, 0)
        chunk, keys = chunks[c], self._keys[c]
        i = bisect.bisect_right(keys, s)
        if i and chunk[i - 1].end > s:
            raise Overlap(chunk[i - 1])
        after = chunk[i] if i < len(chunk) else chunks[c + 1][0] if c + 1 < len(chunks) else None
        if after is not None and after.start < item.end:
            raise Overlap(after)
        self._len += 1
        chunk.insert(i, item)
        keys.insert(i, s)
        if i == 0:
            firsts[c] = s
        if len(chunk) > 2 * CHUNK:
            chunks.insert(c + 1, chunk[CHUNK:])
            self._keys.insert(c + 1, keys[CHUNK:])
            firsts.insert(c + 1, keys[CHUNK])
            del chunk[CHUNK:], keys[CHUNK:]

    def remove(self, item) -> None:
        """Take out ``item`` (that very object: ValueError if it is not there)."""
        chunks, firsts = self._chunks, self._firsts
        c = bisect.bisect_right(firsts, item.start) - 1
        if c >= 0:
            chunk, keys = chunks[c], self._keys[c]
            i = bisect.bisect_left(keys, item.start)
            if i < len(chunk) and chunk[i] is item:
                del chunk[i], keys[i]
                self._len -= 1
                if not chunk:
                    del chunks[c], self._keys[c], firsts[c]
                elif i == 0:
                    firsts[c] = keys[0]
                return
        raise ValueError(f"no interval starting at {item.start:#x} is that object")

    def replace(self, old: list, new: list) -> None:
        """Take out the items ``old`` and put in ``new`` (as after meeting():
        the pieces a change left of a run of items)."""
        # A few items (one mmap, munmap or mprotect): lists of ids are
        # cheaper to build than sets, and as quick to search.
        ids = set if len(old) + len(new) > 8 else list
        keep, kept = ids(map(id, new)), ids(map(id, old))
        for item in old:
            if id(item) not in keep:
                self.remove(item)
        for item in new:
            if id(item) not in kept:
                self.insert(item)

