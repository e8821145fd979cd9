"""CLONE_VM|CLONE_VFORK on top of a host fork.

The child of a vfork shares the parent's memory while the parent sleeps
until the child execs or exits, and programs rely on it: glibc's
posix_spawn child stores the errno of a failed execve in the parent's
memory, so that posix_spawn of a missing program returns ENOENT.  qemu-user
turns CLONE_VFORK into a plain fork and loses those stores (posix_spawn
then "succeeds" and the child exits 127); tcgpy behaves as the kernel does.

The child is a host fork, so after the fork every private page is
copy-on-write shared with the sleeping parent.  The pages the child has
written since are exactly those it now maps exclusively (bit 56 of
/proc/self/pagemap, readable without privileges); the child sends them
through the vfork pipe before each execve attempt and before it exits, and
the parent copies them into its own memory when the pipe reaches EOF.
Without a host address for a region (an emulator with no softmmu, such as
the Unicorn CPU of the tests) or without pagemap, all of it is sent.

The child's mmap, munmap, mprotect and brk are the parent's too: before the
pages, the child sends its mappings, each marked with whether the parent
has it already (made before the fork: see VMA.serial), and the parent
unmaps what the child no longer has, maps what the child made, takes the
child's permissions and break.  A shared mapping the child made reaches the
parent as a private copy of its contents (the parent cannot map the child's
host object).
"""
from __future__ import annotations

import os
import pickle
import struct
from array import array

PAGE = 4096
PM_EXCLUSIVE = 1 << 56
HEADER = struct.Struct("<QQ")      # guest address, length
LAYOUT = (1 << 64) - 1              # a header address no page has: the mappings follow


def _private_ranges(emu):
    """(guest start, guest end, host address or None) of memory a fork copied."""
    aspace = getattr(emu, "aspace", None)
    if aspace is None:
        for start, end, _ in emu.mem_regions():
            yield start, end, None
        return
    for r in aspace.regions:
        # Shared backings are the same memory in both processes already.
        if r.backing is not None and r.backing.private:
            yield r.start, r.end, r.host


def _dirty(emu):
    """(guest address, length) runs of pages written since the fork."""
    try:
        pagemap = open("/proc/self/pagemap", "rb", buffering=0)
    except OSError:
        pagemap = None
    try:
        for start, end, host in _private_ranges(emu):
            if host is None or pagemap is None:
                yield start, end - start
                continue
            npages = (end - start) // PAGE
            pagemap.seek(host // PAGE * 8)
            entries = array("Q", pagemap.read(npages * 8))
            run = None
            for i, e in enumerate(entries):
                if e & PM_EXCLUSIVE:
                    if run is None:
                        run = i
                elif run is not None:
                    yield start + run * PAGE, (i - run) * PAGE
                    run = None
            if run is not None:
                yield start + run * PAGE, (len(entries) - run) * PAGE
    finally:
        if pagemap is not None:
            pagemap.close()


def _layout(space, first_new: int) -> bytes:
    """The child's mappings and break; ``inherited`` ones are the parent's memory."""
    vmas = [(v.start, v.end, v.perms, v.name, v.serial < first_new, v.hole) for v in space.vmas]
    return pickle.dumps((vmas, space.brk_start, space.brk))


def _new_shared(space, first_new: int):
    """Shared mappings the child made: the parent gets a copy of all of them."""
    for v in space.vmas:
        if v.shared and not v.hole and v.serial >= first_new:
            yield v.start, v.end - v.start


def send_changes(emu, space, first_new: int, fd: int) -> None:
    """In the vfork child: its mappings and everything it has written so far, to the parent."""
    layout = _layout(space, first_new)
    _write_all(fd, HEADER.pack(LAYOUT, len(layout)) + layout)
    for addr, n in (*_dirty(emu), *_new_shared(space, first_new)):
        _write_all(fd, HEADER.pack(addr, n) + emu.mem_read(addr, n))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue


def receive_changes(fd: int) -> bytes:
    """In the parent: what the child sent, up to its execve or exit (EOF)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def apply_changes(emu, space, data: bytes) -> None:
    """Later records win: the child sends again before each execve and at exit."""
    from ..errors import MemoryFault
    pos = 0
    while pos < len(data):
        addr, n = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        if addr == LAYOUT:
            _take_layout(space, *pickle.loads(data[pos:pos + n]))
        else:
            try:
                emu.mem_write(addr, data[pos:pos + n])
            except MemoryFault:
                pass        # not mapped: the layout before it says otherwise, but a
                            # bad record must not kill the parent
        pos += n


def _take_layout(space, vmas, brk_start: int, brk: int) -> None:
    """Make the parent's mappings the child's (the parent did not run meanwhile)."""
    keep = sorted((s, e) for s, e, _, _, inherited, _ in vmas if inherited)
    gone = []
    for v in space.vmas:
        at = v.start
        for s, e in keep:
            if s < v.end and e > at:
                if s > at:
                    gone.append((at, s))
                at = max(at, e)
        if at < v.end:
            gone.append((at, v.end))
    for s, e in gone:
        space.unmap(s, e - s)
    for start, end, perms, name, inherited, hole in vmas:
        if inherited:
            space.protect(start, end - start, perms)
        else:
            space.map(start, end - start, perms, name, hole=hole)
    space.brk_start, space.brk = brk_start, brk
