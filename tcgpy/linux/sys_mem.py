"""Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise."""
from __future__ import annotations

import os

from .memory import PAGE, page_up, perms_str
from .syscalls import syscall


def _perms(proc, prot: int) -> str:
    m = proc.arch.consts.MMAN
    return perms_str(bool(prot & m["PROT_READ"]), bool(prot & m["PROT_WRITE"]), bool(prot & m["PROT_EXEC"]))


@syscall("brk", "p", ret="x")
def sys_brk(proc, addr):
    return proc.space.do_brk(addr)


@syscall("mmap", "p u prot mapflags fd x", ret="x")
def sys_mmap(proc, addr, length, prot, flags, fd, offset):
    m = proc.arch.consts.MMAN
    space = proc.space
    if length == 0 or offset & (PAGE - 1) or length > space.LIMIT:
        return proc.err("EINVAL")
    size = page_up(length)
    fixed = flags & (m["MAP_FIXED"] | m["MAP_FIXED_NOREPLACE"])
    if fixed:
        if addr & (PAGE - 1) or addr + size > space.LIMIT:
            return proc.err("EINVAL")
        if flags & m["MAP_FIXED_NOREPLACE"] and not flags & m["MAP_FIXED"] and not space.is_free(addr, addr + size):
            return proc.err("EEXIST")
        start = addr
    else:
        start = space.find_free(size, addr)
        if start is None:
            return proc.err("ENOMEM")
    data = b""
    if not flags & m["MAP_ANONYMOUS"]:
        # File mappings are private copies; MAP_SHARED writes do not reach the file.
        data = os.pread(fd if fd < (1 << 31) else -1, length, offset)
    space.map(start, size, _perms(proc, prot), "mmap")
    if data:
        proc.emu.mem_write(start, data)
    return start


@syscall("munmap", "p u")
def sys_munmap(proc, addr, length):
    if addr & (PAGE - 1) or length == 0:
        return proc.err("EINVAL")
    proc.space.unmap(addr, length)
    return 0


@syscall("mprotect", "p u prot")
def sys_mprotect(proc, addr, length, prot):
    if addr & (PAGE - 1):
        return proc.err("EINVAL")
    if length == 0:
        return 0
    return 0 if proc.space.protect(addr, length, _perms(proc, prot)) else proc.err("ENOMEM")


@syscall("mremap", "p u u x p", ret="x")
def sys_mremap(proc, old, old_size, new_size, flags, new_addr):
    m = proc.arch.consts.MMAN
    space = proc.space
    if old & (PAGE - 1) or new_size == 0:
        return proc.err("EINVAL")
    vma = space.find(old)
    if vma is None:
        return proc.err("EFAULT")
    old_size, new_size = page_up(old_size), page_up(new_size)
    if flags & m["MREMAP_FIXED"]:
        return proc.err("EINVAL")
    if new_size <= old_size:
        if new_size < old_size:
            space.unmap(old + new_size, old_size - new_size)
        return old
    if space.is_free(old + old_size, old + new_size):
        space.map(old + old_size, new_size - old_size, vma.perms, vma.name)
        return old
    if not flags & m["MREMAP_MAYMOVE"]:
        return proc.err("ENOMEM")
    start = space.find_free(new_size)
    if start is None:
        return proc.err("ENOMEM")
    data = proc.emu.mem_read(old, old_size)
    space.map(start, new_size, vma.perms, vma.name)
    proc.emu.mem_write(start, data)
    space.unmap(old, old_size)
    return start


@syscall("madvise", "p u d")
def sys_madvise(proc, addr, length, advice):
    if advice == proc.arch.consts.MMAN["MADV_DONTNEED"] and length:
        # Private pages read back as zero-fill after MADV_DONTNEED: give the
        # range fresh pages rather than writing zeros (which would commit
        # host memory for what the guest just gave back).
        start, end = addr & ~(PAGE - 1), page_up(addr + length)
        for v in [v for v in proc.space.vmas if v.end > start and v.start < end]:
            lo, hi = max(v.start, start), min(v.end, end)
            proc.space.map(lo, hi - lo, v.perms, v.name)
    return 0


@syscall("msync", "p u x")
def sys_msync(proc, addr, length, flags):
    # Mappings are private copies: there is nothing to write back.
    return 0 if proc.space.find(addr) is not None else proc.err("ENOMEM")


# Locking pages in memory has no meaning for softmmu-backed guest memory.
@syscall("mlock", "p u")
def sys_mlock(proc, addr, length):
    return 0


@syscall("munlock", "p u")
def sys_munlock(proc, addr, length):
    return 0


@syscall("mlockall", "x")
def sys_mlockall(proc, flags):
    return 0


@syscall("munlockall", "")
def sys_munlockall(proc):
    return 0
