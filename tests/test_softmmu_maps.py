"""What one mapping change costs the softmmu and the Linux layer (issue 19:
100,000 mappings), checked as behaviour: small mappings are pieces of a few
host mappings (softmmu/arena.py), whose memory reads as zeros when reused
and goes back to the host; a protection change that takes no permission
away leaves the TLB alone, one that takes execute permission away (and
only such a change, or an unmap of executable memory) drops translated
code; the Linux layer gives the engine one call per run of adjacent
mappings and refuses a bad mprotect before changing anything."""
from __future__ import annotations

import ctypes
import os
import struct

import pytest

import tcgpy
from tcgpy.cpustate import TLB_SIZE
from tcgpy.linux.memory import AddressSpace
from tcgpy.softmmu import arena
from tcgpy.softmmu.memory import NO_TAG

from .asm import asm

PAGE = 0x1000
BASE = 0x4000_0000


def _present(host: int) -> bool:
    """Whether the host page at ``host`` is in memory (/proc/self/pagemap bit 63)."""
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(host // PAGE * 8)
        return bool(struct.unpack("<Q", f.read(8))[0] >> 63)


def test_small_mappings_are_pieces_of_a_few_host_mappings():
    emu = tcgpy.Emulator("aarch64")
    for i in range(2000):
        # alternating permissions: the regions stay apart
        emu.mem_map(BASE + 2 * i * PAGE, PAGE, "rw" if i & 1 else "r")
    slabs = [(ctypes.addressof(ctypes.c_char.from_buffer(mm)), len(mm)) for mm in emu.aspace.arena._slabs]
    assert len(slabs) <= 4                          # 1 + 2 + 4 + 8 MiB for 8 MiB of pieces
    for r in emu.aspace.regions:
        assert any(a <= r.host and r.host + PAGE <= a + n for a, n in slabs), hex(r.start)
    emu.mem_map(BASE - (1 << 30), arena.LARGEST + PAGE, "rw")    # a larger one is its own
    assert emu.aspace.find(BASE - (1 << 30)).backing.mm is not None


def test_reused_pieces_read_as_zeros_and_their_pages_went_back_to_the_host():
    emu = tcgpy.Emulator("aarch64")
    n = 2 * arena.BATCH
    first = {}
    for i in range(n):
        emu.mem_map(BASE + i * PAGE, PAGE, "rw" if i & 1 else "rwx")
        emu.mem_write(BASE + i * PAGE + 8, b"old data")
        first[emu.aspace.find(BASE + i * PAGE).host] = i
    for i in range(n):
        emu.unmap_any(BASE + i * PAGE, PAGE)
    emu.aspace.arena.clean()
    assert not any(_present(h) for h in first)        # all given back, none left dirty
    reused = 0
    for i in range(n):
        addr = BASE + (n + i) * PAGE
        emu.mem_map(addr, PAGE, "rw")
        reused += emu.aspace.find(addr).host in first
        assert emu.mem_read(addr, PAGE) == bytes(PAGE)
    assert reused == n


def test_a_forked_child_writes_its_own_copy():
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(BASE, PAGE, "rw")
    emu.mem_write(BASE, b"parent")
    pid = os.fork()
    if pid == 0:
        emu.mem_write(BASE, b"child!")
        os._exit(0 if emu.mem_read(BASE, 6) == b"child!" else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert emu.mem_read(BASE, 6) == b"parent"


def _tlb(emu, addr: int) -> tuple[int, int]:
    e = emu.aspace.tlb[(addr >> 12) & (TLB_SIZE - 1)]
    return e.addr_read, e.addr_write


def test_protection_that_takes_nothing_away_keeps_the_tlb():
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(BASE, 4 * PAGE, "r")
    page = BASE + PAGE
    emu.aspace.tlb_fill(page)
    assert _tlb(emu, page) == (page, NO_TAG)
    emu.mem_protect(BASE, 4 * PAGE, "r")            # no change
    emu.mem_protect(page, PAGE, "rw")               # more (a split)
    assert _tlb(emu, page) == (page, NO_TAG)        # a store misses and is refilled
    emu.aspace.tlb_fill(page)
    assert _tlb(emu, page) == (page, page)
    emu.mem_protect(BASE, 2 * PAGE, "rwx")          # more again
    assert _tlb(emu, page) == (page, page)
    emu.mem_protect(BASE, 4 * PAGE, "rx")           # write taken away: dropped
    assert _tlb(emu, page) == (NO_TAG, NO_TAG)
    assert emu.mem_regions() == [(BASE, BASE + 4 * PAGE, "r-x")]     # one region again


def test_translated_code_sees_a_permission_added_after_its_tlb_entry():
    """A store to a page whose read entry stayed in the TLB through an
    mprotect that added write permission reaches memory (the refill finds
    the new permission); taking it away again faults precisely."""
    code = asm("ldr x0, [x1]; str x2, [x1]; add x3, x3, #1")
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(0x10000, PAGE, "rx")
    emu.mem_write(0x10000, code)
    emu.mem_map(BASE, PAGE, "r")
    emu.reg_write("x1", BASE + 16)
    emu.reg_write("x2", 0x1122334455667788)
    emu.run(0x10000, until=0x10004)                 # the load fills the TLB entry
    emu.mem_protect(BASE, PAGE, "rw")
    emu.run(0x10000, until=0x1000c)
    assert emu.mem_read(BASE + 16, 8) == (0x1122334455667788).to_bytes(8, "little")
    emu.mem_protect(BASE, PAGE, "r")
    emu.reg_write("x3", 0)
    with pytest.raises(tcgpy.MemoryFault) as ei:
        emu.run(0x10000, until=0x1000c)
    assert (ei.value.pc, ei.value.address, ei.value.access) == (0x10004, BASE + 16, "write")
    assert emu.reg_read("x3") == 0


def test_only_changes_that_take_execute_away_visit_the_block_cache(monkeypatch):
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(0x10000, 2 * PAGE, "rwx")
    emu.mem_write(0x10000, asm("add x0, x0, #1; add x0, x0, #2"))
    emu.mem_map(BASE, 2 * PAGE, "rw")
    calls = []
    real = emu.cache.invalidate_range
    monkeypatch.setattr(emu.cache, "invalidate_range", lambda a, b: (calls.append((a, b)), real(a, b)))
    emu.mem_protect(BASE, PAGE, "r")
    emu.unmap_any(BASE + PAGE, PAGE)
    emu.unmap_any(BASE + 8 * PAGE, PAGE)            # nothing mapped
    emu.mem_protect(BASE, PAGE, "rwx")              # gains execute: nothing translated there
    assert calls == []
    emu.run(0x10000, until=0x10008)
    assert emu.reg_read("x0") == 3
    emu.mem_protect(0x10000, PAGE, "rx")            # keeps execute: the blocks stay
    emu.run(0x10000, until=0x10008)
    assert emu.reg_read("x0") == 6 and calls == []
    emu.mem_protect(0x10000, PAGE, "r")             # loses it: the code must not run again
    assert calls == [(0x10000, 0x11000)]
    with pytest.raises(tcgpy.MemoryFault) as ei:
        emu.run(0x10000, until=0x10008)
    assert (ei.value.pc, ei.value.access) == (0x10000, "fetch")
    emu.unmap_any(BASE, PAGE)                       # was executable
    assert calls[-1] == (BASE, BASE + PAGE)


def test_linux_munmap_is_one_engine_call_per_run_of_mappings(monkeypatch):
    emu = tcgpy.Emulator("aarch64")
    space = AddressSpace(emu)
    for i in range(3):                              # three adjacent mappings, a gap, one more
        space.map(BASE + i * PAGE, PAGE, "rw" if i & 1 else "r", "mmap")
    space.map(BASE + 4 * PAGE, 2 * PAGE, "rw", "mmap")
    calls = []
    real = emu.unmap_any
    monkeypatch.setattr(emu, "unmap_any", lambda a, n: (calls.append((a, n)), real(a, n)))
    space.unmap(BASE, 5 * PAGE)                     # the last mapping is cut in two
    assert calls == [(BASE, 3 * PAGE), (BASE + 4 * PAGE, PAGE)]
    assert [(v.start, v.end) for v in space.vmas] == [(BASE + 5 * PAGE, BASE + 6 * PAGE)]
    assert emu.mem_regions() == [(BASE + 5 * PAGE, BASE + 6 * PAGE, "rw-")]


def test_linux_mprotect_refuses_before_changing_anything():
    emu = tcgpy.Emulator("aarch64")
    space = AddressSpace(emu)
    space.map(BASE, 2 * PAGE, "r", "mmap")
    space.map(BASE + 2 * PAGE, PAGE, "r", "file", may_write=False, shared=True)
    space.map(BASE + 4 * PAGE, PAGE, "r", "mmap")
    assert space.protect(BASE, 3 * PAGE, "rw") == "EACCES"      # a read-only shared file
    assert space.protect(BASE, 5 * PAGE, "r") == "ENOMEM"       # the hole at BASE + 3 pages
    assert [(v.start, v.end, v.perms) for v in space.vmas] == \
        [(BASE, BASE + 2 * PAGE, "r"), (BASE + 2 * PAGE, BASE + 3 * PAGE, "r"), (BASE + 4 * PAGE, BASE + 5 * PAGE, "r")]
    assert space.protect(BASE + PAGE, PAGE, "rw") is None
    assert [(v.start, v.perms) for v in space.vmas][:3] == [(BASE, "r"), (BASE + PAGE, "rw"), (BASE + 2 * PAGE, "r")]
    assert emu.mem_regions()[:2] == [(BASE, BASE + PAGE, "r--"), (BASE + PAGE, BASE + 2 * PAGE, "rw-")]


def test_protection_of_whole_regions_rewrites_only_their_entries(monkeypatch):
    """An mprotect of whole regions that joins none keeps the list of
    regions (no replace) and rewrites their own entries of the native
    table; one that splits or joins goes through the list."""
    from .test_softmmu_refill import _native_table
    emu = tcgpy.Emulator("aarch64")
    space = emu.aspace
    for i in range(3):
        emu.mem_map(BASE + i * PAGE, PAGE, "r" if i != 1 else "rw")     # three backings: never joined
    before = _native_table(space)
    from tcgpy.softmmu.intervals import Intervals
    monkeypatch.setattr(Intervals, "replace", lambda *a: pytest.fail("whole regions went through replace"))
    emu.mem_protect(BASE + PAGE, PAGE, "r")
    after = _native_table(space)
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1][:3] == before[1][:3] and after[1][3] != before[1][3]      # its fast bits: no writes now
    assert emu.mem_regions() == [(BASE + i * PAGE, BASE + (i + 1) * PAGE, "r--") for i in range(3)]
    monkeypatch.undo()
    emu.mem_protect(BASE + PAGE, PAGE, "rw")                 # the same page back: whole again
    emu.mem_map(BASE + 4 * PAGE, 2 * PAGE, "r")
    emu.mem_protect(BASE + 4 * PAGE, PAGE, "rw")             # a split, then the halves join again
    emu.mem_protect(BASE + 4 * PAGE, PAGE, "r")
    assert emu.mem_regions()[-1] == (BASE + 4 * PAGE, BASE + 6 * PAGE, "r--")
    import struct
    assert _native_table(space) == [struct.unpack("<4Q", space._entry(r)) for r in space.regions]


def test_linux_mprotect_of_one_whole_mapping_keeps_the_rules():
    """The one-mapping path of AddressSpace.protect refuses and changes as the general one does."""
    emu = tcgpy.Emulator("aarch64")
    space = AddressSpace(emu)
    space.map(BASE, PAGE, "r", "file", may_write=False, shared=True)
    space.map(BASE + 2 * PAGE, PAGE, "r", "file", shared=True, hole=True)
    space.map(BASE + 4 * PAGE, PAGE, "rw", "mmap")
    assert space.protect(BASE, PAGE, "rw") == "EACCES"
    assert space.protect(BASE, PAGE - 1, "rx") is None          # a length in the page: the whole page
    assert space.protect(BASE + 2 * PAGE, PAGE, "rw") is None    # a hole: its VMA changes...
    assert space.protect(BASE + 4 * PAGE, PAGE, "r") is None
    assert [(v.start, v.perms) for v in space.vmas] == [(BASE, "rx"), (BASE + 2 * PAGE, "rw"), (BASE + 4 * PAGE, "r")]
    # ...and the engine's page stays inaccessible (SIGBUS for the guest)
    assert emu.mem_regions() == [(BASE, BASE + PAGE, "r-x"), (BASE + 2 * PAGE, BASE + 3 * PAGE, "---"),
                                 (BASE + 4 * PAGE, BASE + 5 * PAGE, "r--")]
