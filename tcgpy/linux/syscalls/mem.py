"""Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise."""
from __future__ import annotations

import errno
import fcntl
import os
import stat

from ...softmmu.memory import MapError, backing_discard
from ..memory import PAGE, page_up, perms_str
from .args import s32
from .table import syscall


class _Mman:
    """An architecture's mmap/mprotect constants, looked up once (mmap and
    mprotect ask at every call: a dozen dict lookups by name were a tenth
    of an anonymous mmap's handler)."""
    __slots__ = ("read", "write", "execute", "perms", "type_mask", "shared", "private", "shared_validate",
                 "anonymous", "fixed", "fixed_noreplace")

    def __init__(self, m: dict[str, int]):
        self.read, self.write, self.execute = m["PROT_READ"], m["PROT_WRITE"], m["PROT_EXEC"]
        # PROT_* combinations of read, write and execute -> permission string
        self.perms = {r | w | x: perms_str(bool(r), bool(w), bool(x))
                      for r in (0, self.read) for w in (0, self.write) for x in (0, self.execute)}
        self.type_mask, self.shared, self.private = m["MAP_TYPE"], m["MAP_SHARED"], m["MAP_PRIVATE"]
        self.shared_validate, self.anonymous = m["MAP_SHARED_VALIDATE"], m["MAP_ANONYMOUS"]
        self.fixed, self.fixed_noreplace = m["MAP_FIXED"], m["MAP_FIXED_NOREPLACE"]


_MMAN: dict[int, tuple[object, _Mman]] = {}


def _mman(consts) -> _Mman:
    """The _Mman of an architecture's kernel constants (a module, or a
    namespace, which is not hashable: keyed by identity, and kept alive)."""
    got = _MMAN.get(id(consts))
    if got is None:
        got = _MMAN[id(consts)] = (consts, _Mman(consts.MMAN))
    return got[1]


def _perms(m: _Mman, prot: int) -> str:
    perms = m.perms.get(prot)
    if perms is None:           # with bits beyond r/w/x (PROT_GROWSDOWN...): those alone count
        perms = perms_str(bool(prot & m.read), bool(prot & m.write), bool(prot & m.execute))
    return perms


@syscall("brk", "p", ret="x")
def sys_brk(proc, addr):
    return proc.space.do_brk(addr)


def _file_access(proc, fd: int, shared: bool, prot: int) -> tuple[str | None, bool]:
    """(errno name or None, whether the file may be written through a shared mapping)."""
    m = proc.arch.consts.MMAN
    try:
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        st = os.fstat(fd)
    except OSError:
        return "EBADF", False
    if stat.S_ISDIR(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return "ENODEV", False
    acc = fl & os.O_ACCMODE
    if acc == os.O_WRONLY:
        return "EACCES", False
    may_write = acc == os.O_RDWR and not fl & os.O_APPEND
    if shared and prot & m["PROT_WRITE"] and not may_write:
        return "EACCES", False
    return None, may_write


@syscall("mmap", "p u prot mapflags fd x", ret="x")
def sys_mmap(proc, addr, length, prot, flags, fd, offset):
    m = _mman(proc.arch.consts)
    space = proc.space
    if length == 0 or offset & (PAGE - 1) or length > space.LIMIT:
        return proc.err("EINVAL")
    kind = flags & m.type_mask
    if kind != m.private and kind != m.shared and kind != m.shared_validate:
        return proc.err("EINVAL")
    shared = kind != m.private
    anon = bool(flags & m.anonymous)
    hfd = s32(fd)
    may_write = True
    if not anon and hfd in proc.vfiles:
        return proc.err("ENODEV")         # /proc/self/mem has no mmap, as in the kernel
    if not anon:
        error, may_write = _file_access(proc, hfd, shared, prot)
        if error:
            return proc.err(error)
    size = page_up(length)
    fixed = flags & (m.fixed | m.fixed_noreplace)
    if fixed:
        if addr & (PAGE - 1) or addr + size > space.LIMIT:
            return proc.err("EINVAL")
        if flags & m.fixed_noreplace and not flags & m.fixed and not space.is_free(addr, addr + size):
            return proc.err("EEXIST")
        start = addr
    else:
        start = space.find_free(size, addr)
        if start is None:
            return proc.err("ENOMEM")
    try:
        if shared:
            space.map_shared(start, size, _perms(m, prot), "mmap", -1 if anon else hfd, 0 if anon else offset,
                             may_write)
        elif anon or _is_dev_zero(hfd):
            space.map(start, size, _perms(m, prot), "mmap", free=not fixed)
        else:
            error = _map_private_file(space, start, size, _perms(m, prot), hfd, offset)
            if error:
                return proc.err(error)
    except MapError:
        return proc.err("ENOMEM")
    return start


def _is_dev_zero(fd: int) -> bool:
    """A private mapping of /dev/zero is anonymous memory (as in the kernel)."""
    st = os.fstat(fd)
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 5


def _map_private_file(space, start: int, size: int, perms: str, fd: int, offset: int) -> str | None:
    """MAP_PRIVATE of a file: the host maps it copy-on-write too, so pages
    are read when the guest touches them; pages past the end of the file
    are SIGBUS.  Returns an errno name for a file that cannot be mapped."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return "ENODEV"             # devices other than /dev/zero have no private mapping here
    try:
        space.map_private_file(start, size, perms, "mmap", fd, offset)
    except OSError as e:
        return errno.errorcode.get(e.errno, "ENOMEM")
    return None


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
    error = proc.space.protect(addr, length, _perms(_mman(proc.arch.consts), prot))
    return proc.err(error) if error else 0


@syscall("mremap", "p u u x p", ret="x")
def sys_mremap(proc, old, old_size, new_size, flags, new_addr):
    m = proc.arch.consts.MMAN
    space = proc.space
    maymove, fixed, dontunmap = flags & m["MREMAP_MAYMOVE"], flags & m["MREMAP_FIXED"], flags & m["MREMAP_DONTUNMAP"]
    if flags & ~(maymove | fixed | dontunmap) or old & (PAGE - 1) or new_size == 0:
        return proc.err("EINVAL")
    old_size, new_size = page_up(old_size), page_up(new_size)
    if fixed or dontunmap:
        # (the kernel's order: a new address is checked even as a hint, for MREMAP_DONTUNMAP)
        if (new_addr & (PAGE - 1) or not maymove or (dontunmap and old_size != new_size)
                or new_addr + new_size > space.LIMIT
                or (old < new_addr + new_size and new_addr < old + old_size)):
            return proc.err("EINVAL")
    if dontunmap:
        return _move_keeping_old(proc, old, new_size, new_addr if fixed else None, new_addr)
    if fixed:
        if space.find(old) is None:
            return proc.err("EFAULT")
        # as the kernel: what is at the target goes first, then a shrink's tail
        space.unmap(new_addr, new_size)
        if new_size < old_size:
            space.unmap(old + new_size, old_size - new_size)
            old_size = new_size
        return _move_and_grow(proc, old, old_size, new_size, new_addr)
    vma = space.find(old)
    if vma is None:
        return proc.err("EFAULT")
    if new_size <= old_size:
        if new_size < old_size:
            space.unmap(old + new_size, old_size - new_size)
        return old
    if space.is_free(old + old_size, old + new_size):
        _extend(space, space.find(old + old_size - 1) or vma, old + old_size, new_size - old_size, old + old_size)
        return old
    if not flags & m["MREMAP_MAYMOVE"]:
        return proc.err("ENOMEM")
    start = space.find_free(new_size)
    if start is None:
        return proc.err("ENOMEM")
    return _move_and_grow(proc, old, old_size, new_size, start)


def _move_keeping_old(proc, old: int, size: int, fixed: int | None, hint: int) -> int:
    """mremap(MREMAP_DONTUNMAP) (Linux 5.7; any mapping but a device's since
    5.13): [old, old + size), which must be one mapping (EFAULT), moves to
    ``fixed`` (replacing what is there) or a free range (near ``hint``), and
    the old range stays mapped with its protection, its pages gone: private
    anonymous memory reads zeros, a private file mapping reads the file
    again, a shared mapping is the same memory at both addresses."""
    space = proc.space
    parts = space.overlapping(old, old + size)
    if not _one_mapping(parts, old, old + size):
        return proc.err("EFAULT")
    if fixed is not None:
        space.unmap(fixed, size)
        start = fixed
    else:
        start = space.find_free(size, hint)
        if start is None:
            return proc.err("ENOMEM")
    _move(proc, old, size, start)
    for v in parts:
        lo, hi = max(v.start, old), min(v.end, old + size)
        if v.shared or v.hole:
            continue
        if v.file is not None:
            space.map_file(lo, hi - lo, v.perms, v.name, v.file, v.foff + (lo - v.start), False, v.may_write)
        else:
            space.map(lo, hi - lo, v.perms, v.name)
    return start


def _one_mapping(parts: list, start: int, end: int) -> bool:
    """Whether the VMAs ``parts`` cover [start, end) as one mapping of the
    kernel's would: no gap, and pieces that differ only where tcgpy splits
    what the kernel keeps whole (the end of a file, how they were made)."""
    at = start
    for a, b in zip(parts, parts[1:]):
        if (a.end != b.start or (a.perms, a.shared, a.file) != (b.perms, b.shared, b.file)
                or (a.file is not None and a.foff + (a.end - a.start) != b.foff)):
            return False
    for v in parts:
        if v.start > at:
            return False
        at = v.end
    return bool(parts) and at >= end


def _move_and_grow(proc, old: int, old_size: int, new_size: int, start: int) -> int:
    """[old, old + old_size) moved to ``start`` and grown there to
    ``new_size`` (as its last mapping continues); returns ``start``."""
    space = proc.space
    last = space.find(old + old_size - 1) or space.find(old)
    _move(proc, old, old_size, start)
    if new_size > old_size:
        _extend(space, last, old + old_size, new_size - old_size, start + old_size)
    space.unmap(old, old_size)
    return start


def _move(proc, old: int, size: int, new: int) -> None:
    """The mappings of [old, old + size) at ``new`` as well: the same host
    memory where they have their own (file and shared mappings: the same
    pages of the file, the private copies made of them, the memory shared
    with children), a copy of private anonymous memory."""
    space = proc.space
    for v in space.overlapping(old, old + size):
        lo, hi = max(v.start, old), min(v.end, old + size)
        at = new + (lo - old)
        if v.backing is None and not v.hole:
            data = proc.emu.mem_read(lo, hi - lo)
            space.map(at, hi - lo, v.perms, v.name)
            proc.emu.mem_write(at, data)
        else:
            space.map(at, hi - lo, v.perms, v.name, shared=v.shared, may_write=v.may_write, file=v.file,
                      foff=v.foff + (lo - v.start), hole=v.hole, backing=v.backing,
                      bbase=v.bbase + (at - lo))


def _extend(space, vma, end: int, grow: int, at: int) -> None:
    """``grow`` bytes at ``at`` that continue mapping ``vma``, which ends at
    ``end`` (in place: ``at`` is ``end``): the file's next pages, more of the
    same shared memory, or fresh private pages."""
    if vma.file is not None:
        space.map_file(at, grow, vma.perms, vma.name, vma.file, vma.foff + (end - vma.start), vma.shared,
                       vma.may_write)
    elif vma.shared:
        _map_shared_anon(space, vma, at, grow, end - vma.bbase)
    else:
        space.map(at, grow, vma.perms, vma.name)


def _map_shared_anon(space, vma, start: int, size: int, offset: int) -> None:
    """Guest [start, start + size) showing the shared anonymous memory of
    ``vma`` from ``offset`` on.  The kernel backs such a mapping with a shmem
    object the size of the original mmap: pages past its end (after a grow)
    are SIGBUS holes."""
    obj = vma.backing
    inside = max(0, min(size, obj.size - offset)) if obj is not None and offset >= 0 else 0
    if inside:
        space.map(start, inside, vma.perms, vma.name, shared=True, backing=obj, bbase=start - offset)
    if inside < size:
        space.map(start + inside, size - inside, vma.perms, vma.name, shared=True, hole=True)


@syscall("mincore", "p u p")
def sys_mincore(proc, addr, length, vec):
    """Every mapped page counts as resident (guest memory is never paged
    out behind its back in a way it could observe); ENOMEM for a hole."""
    if addr & (PAGE - 1):
        return proc.err("EINVAL")
    end = page_up(addr + length)
    if not proc.space.covers(addr, end):
        return proc.err("ENOMEM")
    proc.write(vec, b"\1" * ((end - addr) // PAGE))
    return 0


@syscall("madvise", "p u d")
def sys_madvise(proc, addr, length, advice):
    if advice == proc.arch.consts.MMAN["MADV_DONTNEED"] and length:
        # Private pages lose what the process wrote: anonymous ones read
        # back as zero-fill, so the range gets fresh pages rather than
        # written zeros (which would commit host memory for what the guest
        # just gave back); a private file mapping's read the file again,
        # which the host's own MADV_DONTNEED on its host mapping (MAP_PRIVATE
        # of the same file) does.  Mapped again either way, so that code
        # translated from the old bytes goes.  Shared pages keep their
        # contents (they are the file's, or the children's); holes past the
        # end of a file stay SIGBUS.
        start, end = addr & ~(PAGE - 1), page_up(addr + length)
        for v in [v for v in proc.space.overlapping(start, end) if not v.shared and not v.hole]:
            lo, hi = max(v.start, start), min(v.end, end)
            if v.backing is None:
                proc.space.map(lo, hi - lo, v.perms, v.name)
            else:
                backing_discard(v.backing, lo - v.bbase, hi - lo)
                proc.space.map(lo, hi - lo, v.perms, v.name, backing=v.backing, bbase=v.bbase)
    return 0


MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4


@syscall("msync", "p u x")
def sys_msync(proc, addr, length, flags):
    from ...softmmu.memory import backing_sync
    if addr & (PAGE - 1) or flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) or \
            (flags & MS_ASYNC and flags & MS_SYNC):
        return proc.err("EINVAL")
    start, end = addr, page_up(addr + length)
    vmas = proc.space.overlapping(start, end)
    if sum(min(v.end, end) - max(v.start, start) for v in vmas) != end - start:
        return proc.err("ENOMEM")
    if flags & MS_SYNC:
        # Stores already reached the page cache (the host mapping is the
        # file's); MS_SYNC also waits for the disk, as the kernel does.
        for v in vmas:
            if v.file is not None and v.backing is not None:
                lo, hi = max(v.start, start), min(v.end, end)
                backing_sync(v.backing, lo - v.bbase, hi - lo, MS_SYNC)
    return 0


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
