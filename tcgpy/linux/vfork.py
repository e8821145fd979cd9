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
"""
from __future__ import annotations

import os
import struct
from array import array

PAGE = 4096
PM_EXCLUSIVE = 1 << 56
HEADER = struct.Struct("<QQ")      # guest address, length


def _private_ranges(emu):
    """(guest start, guest end, host address or None) of memory a fork copied."""
    aspace = getattr(emu, "aspace", None)
    if aspace is None:
        for start, end, _ in emu.mem_regions():
            yield start, end, None
        return
    for r in aspace.regions:
        # Shared backings (mm None) are the same memory in both processes already.
        if r.backing is not None and r.backing.mm is not None:
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


def send_changes(emu, fd: int) -> None:
    """In the vfork child: everything it has written so far, to the parent."""
    for addr, n in _dirty(emu):
        data = HEADER.pack(addr, n) + emu.mem_read(addr, n)
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


def apply_changes(emu, data: bytes) -> None:
    """Later records win: the child sends again before each execve and at exit."""
    from ..errors import MemoryFault
    pos = 0
    while pos < len(data):
        addr, n = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        try:
            emu.mem_write(addr, data[pos:pos + n])
        except MemoryFault:
            pass            # the parent has nothing mapped there (the child mapped it)
        pos += n
