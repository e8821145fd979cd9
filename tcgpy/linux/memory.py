"""The guest address space as Linux user mode sees it: a sorted list of
mappings (VMAs) with permissions, kept in step with the emulator's softmmu,
plus the brk heap and a top-down allocator for mmap without MAP_FIXED."""
from __future__ import annotations

import bisect
from dataclasses import dataclass

PAGE = 4096


def page_down(x: int) -> int:
    return x & ~(PAGE - 1)


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


def perms_str(read: bool, write: bool, execute: bool) -> str:
    return ("r" if read else "") + ("w" if write else "") + ("x" if execute else "")


@dataclass
class VMA:
    start: int
    end: int
    perms: str
    name: str = ""


class AddressSpace:
    # Default guest layout, in the spirit of a 48-bit AArch64 Linux process.
    STACK_TOP = 0x7FFF_FFFF_0000
    STACK_SIZE = 8 << 20
    MMAP_TOP = 0x7FFF_F000_0000
    MMAP_BOTTOM = 0x1000_0000
    LIMIT = 1 << 47

    def __init__(self, emu):
        self.emu = emu
        self.vmas: list[VMA] = []
        self.brk_start = 0
        self.brk = 0

    # -- queries -------------------------------------------------------------
    def _index(self, addr: int) -> int:
        return bisect.bisect_right([v.start for v in self.vmas], addr) - 1

    def find(self, addr: int) -> VMA | None:
        i = self._index(addr)
        if i >= 0 and self.vmas[i].start <= addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def is_free(self, start: int, end: int) -> bool:
        return all(v.end <= start or v.start >= end for v in self.vmas)

    def find_free(self, length: int, hint: int = 0) -> int | None:
        """A free page-aligned range of ``length`` bytes: at ``hint`` if free, else top-down."""
        length = page_up(length)
        if hint and page_down(hint) + length <= self.MMAP_TOP and self.is_free(page_down(hint), page_down(hint) + length):
            return page_down(hint)
        top = self.MMAP_TOP
        for v in sorted(self.vmas, key=lambda v: -v.start):
            if v.start >= top:
                continue
            if v.end <= top - length:
                return top - length
            top = v.start
        return top - length if top - length >= self.MMAP_BOTTOM else None

    # -- changes ---------------------------------------------------------------
    def _split(self, addr: int) -> None:
        v = self.find(addr)
        if v is not None and v.start < addr:
            i = self.vmas.index(v)
            self.vmas.insert(i + 1, VMA(addr, v.end, v.perms, v.name))
            v.end = addr

    def map(self, start: int, length: int, perms: str, name: str = "") -> None:
        """Map fresh zeroed pages; any existing mapping in the range is replaced."""
        start, end = page_down(start), page_up(start + length)
        self.unmap(start, end - start)
        self.emu.mem_map(start, end - start, perms)
        self.vmas.insert(self._index(start) + 1, VMA(start, end, perms, name))

    def unmap(self, start: int, length: int) -> None:
        start, end = page_down(start), page_up(start + length)
        self._split(start)
        self._split(end)
        for v in [v for v in self.vmas if start <= v.start and v.end <= end]:
            self.emu.mem_unmap(v.start, v.end - v.start)
            self.vmas.remove(v)

    def protect(self, start: int, length: int, perms: str) -> bool:
        """mprotect; False (ENOMEM) when part of the range is unmapped."""
        start, end = page_down(start), page_up(start + length)
        covered = sum(min(v.end, end) - max(v.start, start) for v in self.vmas
                      if v.end > start and v.start < end)
        if covered != end - start:
            return False
        self._split(start)
        self._split(end)
        for v in self.vmas:
            if start <= v.start and v.end <= end and v.perms != perms:
                self.emu.mem_protect(v.start, v.end - v.start, perms)
                v.perms = perms
        return True

    # -- brk -------------------------------------------------------------------
    def set_brk_start(self, addr: int) -> None:
        self.brk_start = self.brk = page_up(addr)

    def do_brk(self, new: int) -> int:
        """Linux brk(2): returns the new break, or the old one on failure."""
        if new < self.brk_start:
            return self.brk
        old_top, new_top = page_up(self.brk), page_up(new)
        if new_top > old_top:
            if not self.is_free(old_top, new_top):
                return self.brk
            self.map(old_top, new_top - old_top, "rw", "[heap]")
        elif new_top < old_top:
            self.unmap(new_top, old_top - new_top)
        self.brk = new
        return self.brk
