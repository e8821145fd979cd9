"""The guest address space as Linux user mode sees it: a sorted list of
mappings (VMAs) with permissions, kept in step with the emulator's softmmu,
plus the brk heap and a top-down allocator for mmap without MAP_FIXED.

Private anonymous mappings are softmmu memory of their own.  File mappings
and shared anonymous ones are backed by a host mapping of the same kind (the
file with MAP_SHARED or MAP_PRIVATE, or shared anonymous memory), so that
guest stores reach the file, other processes and forked children, and a
private mapping's pages are the file's until written, exactly as the host
kernel makes them.  Pages of a file mapping that lie beyond the end of the
file are "holes": inaccessible in the softmmu, SIGBUS for the guest, and
mapped in on the fault if the file has grown since."""
from __future__ import annotations

import os
import stat
import weakref

from ..record import record
from ..softmmu.intervals import Intervals

PAGE = 4096


def page_down(x: int) -> int:
    return x & ~(PAGE - 1)


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


def perms_str(read: bool, write: bool, execute: bool) -> str:
    return ("r" if read else "") + ("w" if write else "") + ("x" if execute else "")


@record(eq=False)
class FileMap:
    """The file behind a file mapping (shared by the VMAs split or moved from
    it; a private one, by every private mapping of that file)."""
    fd: int                 # tcgpy's own close-on-exec dup, closed with the last VMA
    dev_ino: tuple          # to notice the guest replacing that descriptor number
    host_shared: bool       # False for a read-only file: the guest cannot write it anyway
    seen_size: int = 0      # the size its mapped pages were last laid out for
    closer: object = None   # the finalizer that closes ``fd`` with the last VMA

    def renumber(self, new: int) -> None:
        """Our descriptor is now ``new`` (the guest wanted the old number):
        the one closed with the last VMA is ``new`` too, not the guest's."""
        self.closer.detach()
        self.fd = new
        self.closer = weakref.finalize(self, _close_quietly, new)

    def size(self) -> int | None:
        """The file's current size, or None when the descriptor is no longer ours."""
        try:
            st = os.fstat(self.fd)
        except OSError:
            return None
        return st.st_size if (st.st_dev, st.st_ino) == self.dev_ino else None


@record(slots=True)
class VMA:
    start: int
    end: int
    perms: str
    name: str = ""
    shared: bool = False
    may_write: bool = True       # mprotect(PROT_WRITE) allowed (a shared file needs O_RDWR)
    file: FileMap | None = None  # (a private mapping's too: mremap grows it with the file's pages)
    foff: int = 0                # file offset at ``start``
    hole: bool = False           # beyond the end of ``file``: SIGBUS
    backing: object = None       # host memory of a file or shared mapping (softmmu Backing)
    bbase: int = 0               # guest address of ``backing`` offset 0
    serial: int = 0              # which map() made it (its pieces keep it): see vfork.py

    def piece(self, start: int, end: int) -> "VMA":
        return VMA(start, end, self.perms, self.name, self.shared, self.may_write, self.file,
                   self.foff + (start - self.start), self.hole, self.backing, self.bbase, self.serial)


class AddressSpace:
    # Default guest layout, in the spirit of a 48-bit AArch64 Linux process.
    STACK_TOP = 0x7FFF_FFFF_0000
    STACK_SIZE = 8 << 20
    MMAP_TOP = 0x7FFF_F000_0000
    MMAP_BOTTOM = 0x1000_0000
    LIMIT = 1 << 47

    def __init__(self, emu):
        self.emu = emu
        self.vmas = Intervals()            # of VMA: sorted by start, disjoint
        self.brk_start = 0
        self.brk = 0
        self.next_serial = 1
        # The regular files behind file mappings, shared and private (each
        # alive while a VMA holds it): checked for shrinking
        # (refresh_file_holes).
        self.files: weakref.WeakSet[FileMap] = weakref.WeakSet()
        # The files behind private mappings, one FileMap (one descriptor of
        # ours) per file, by (st_dev, st_ino).
        self.private_files: weakref.WeakValueDictionary[tuple, FileMap] = weakref.WeakValueDictionary()
        # [packed_from, MMAP_TOP) holds no free page: find_free's top-down
        # search starts below it, so a process that maps and maps again does
        # not walk all its mappings each time (as the kernel's gap tree avoids).
        self.packed_from = self.MMAP_TOP

    # -- queries -------------------------------------------------------------
    def inaccessible(self, addr: int, size: int, write: bool) -> int | None:
        """The first address of [addr, addr + size) that a kernel access
        (copy_from_user/copy_to_user) would fault on: unmapped, a hole past
        the end of a file, PROT_NONE, or read-only for a write; else None."""
        end = addr + size
        if size <= 0:
            return None
        for v in self.vmas.meeting(addr, end):
            if v.start > addr or v.hole or not v.perms or (write and "w" not in v.perms):
                return addr
            addr = v.end
        return None if addr >= end else addr

    def file_fds(self) -> set[int]:
        """tcgpy's descriptors of the files behind mappings.  (Through the
        WeakSet's own weak references: iterating the WeakSet enters and
        leaves a guard object, a dozen Python calls at every syscall that
        names a descriptor.)"""
        fds = {fm.fd for fm in map(_deref, self.files.data) if fm is not None}
        if self.private_files.data:
            fds.update(fm.fd for fm in map(_deref, self.private_files.data.values()) if fm is not None)
        return fds

    def all_file_maps(self) -> list[FileMap]:
        return list(dict.fromkeys([*self.files, *self.private_files.values()]))

    def find(self, addr: int) -> VMA | None:
        return self.vmas.find(addr)

    def overlapping(self, start: int, end: int) -> list[VMA]:
        return self.vmas.meeting(start, end)

    def covers(self, start: int, end: int) -> bool:
        """Whether mappings (of any permissions) cover all of [start, end)."""
        return end - start == sum(min(v.end, end) - max(v.start, start) for v in self.overlapping(start, end))

    def is_free(self, start: int, end: int) -> bool:
        return not self.vmas.meeting(start, end)

    def find_free(self, length: int, hint: int = 0) -> int | None:
        """A free page-aligned range of ``length`` bytes: at ``hint`` if free,
        else the highest below MMAP_TOP (the kernel's top-down layout)."""
        length = (length + PAGE - 1) & ~(PAGE - 1)
        if hint and page_down(hint) + length <= self.MMAP_TOP and self.is_free(page_down(hint), page_down(hint) + length):
            return page_down(hint)
        top = self.packed_from
        v = self.vmas.last_below(top)
        if v is not None and v.end > top - length:
            # (the usual case, room right below the packed run, makes no generator)
            for v in self.vmas.below(top):
                if v.end <= top - length:
                    break
                top = min(top, v.start)
        return top - length if top - length >= self.MMAP_BOTTOM else None

    # -- changes ---------------------------------------------------------------
    def _split(self, addr: int) -> None:
        v = self.vmas.find(addr)
        if v is not None and v.start < addr:
            tail = v.piece(addr, v.end)
            v.end = addr
            self.vmas.insert(tail)

    def map(self, start: int, length: int, perms: str, name: str = "", free: bool = False, **shared) -> None:
        """Map fresh zeroed pages; any existing mapping in the range is replaced
        (``free``: the caller knows there is none, as find_free's ranges).
        ``shared`` holds VMA fields of a shared mapping (backing, bbase, file, hole...)."""
        start, end = start & ~(PAGE - 1), (start + length + PAGE - 1) & ~(PAGE - 1)
        vmas = self.vmas
        if not free and not vmas.is_free(start, end):
            self.unmap(start, end - start)
        serial = self.next_serial
        self.next_serial = serial + 1
        vma = VMA(start, end, perms, name, **shared, serial=serial) if shared else \
            VMA(start, end, perms, name, serial=serial)
        if vma.backing is not None:
            self.emu.mem_map(start, end - start, "" if vma.hole else perms,
                             backing=_view(vma.backing, start - vma.bbase, end - start))
        else:
            self.emu.mem_map(start, end - start, "" if vma.hole else perms)
        vmas.insert(vma)
        # grow the packed run down over this mapping and those right below it
        if start < self.packed_from <= end:
            low = start
            below = vmas.last_below(low)
            while below is not None and below.end == low:
                low = below.start
                below = vmas.last_below(low)
            self.packed_from = low

    def map_shared(self, start: int, size: int, perms: str, name: str, fd: int = -1, offset: int = 0,
                   may_write: bool = True, file: FileMap | None = None) -> None:
        """A MAP_SHARED mapping of host descriptor ``fd`` (or of ``file``) at
        ``offset``, or shared anonymous memory with neither (OSError with the
        host's errno; nothing changes then)."""
        if fd < 0 and file is None:
            from ..softmmu.memory import host_backing
            self.map(start, size, perms, name, shared=True, backing=host_backing(size, shared=True),
                     bbase=start)
            return
        self.map_file(start, size, perms, name, file or _file_map(fd, may_write), offset, True, may_write)

    def map_private_file(self, start: int, size: int, perms: str, name: str, fd: int, offset: int) -> None:
        """A MAP_PRIVATE mapping of regular file ``fd`` at ``offset`` (OSError
        with the host's errno; nothing changes then)."""
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        fm = self.private_files.get(key)
        if fm is None or fm.size() is None:
            fm = self.private_files[key] = _file_map(fd, False)
        self.map_file(start, size, perms, name, fm, offset, False)

    def map_file(self, start: int, size: int, perms: str, name: str, fm: FileMap, offset: int, shared: bool,
                 may_write: bool = True) -> None:
        """``size`` bytes of ``fm``'s file from ``offset`` at ``start``,
        MAP_SHARED or MAP_PRIVATE: the host maps the file the same way (a
        private mapping's pages are read when touched, copied when written);
        pages past the end of a regular file are holes."""
        from ..softmmu.memory import host_backing
        data = size
        st = os.fstat(fm.fd)
        regular = stat.S_ISREG(st.st_mode)
        if regular:
            data = min(size, page_up(st.st_size - offset) if st.st_size > offset else 0)
            fm.seen_size = st.st_size
            self.files.add(fm)
        fields = dict(shared=shared, may_write=may_write, file=fm)
        if data:
            b = host_backing(data, fm.fd, offset, shared=shared and fm.host_shared)
            if regular or shared:
                # Another process may truncate the file under it: the host
                # mapping's pages past the new end then fault, a private
                # mapping's copies among them (the kernel drops those too).
                self.emu.watch_host_bus(b, lazy=not shared)
            self.map(start, data, perms, name, foff=offset, backing=b, bbase=start, **fields)
        if data < size:
            self.map(start + data, size - data, perms, name, foff=offset + data, hole=True, **fields)

    def unmap(self, start: int, length: int) -> None:
        start, end = start & ~(PAGE - 1), (start + length + PAGE - 1) & ~(PAGE - 1)
        vmas = self.vmas
        old = vmas.take(start, end)
        if not old:
            return
        # the engine unmaps each run of adjacent mappings at once
        if len(old) == 1:                   # (the usual case, without the generator)
            runs = ((max(old[0].start, start), min(old[0].end, end)),)
        else:
            runs = [(max(a, start), min(b, end)) for a, b in _runs(old)]
        # what is left of the mappings at either end goes back
        head, tail = old[0], old[-1]
        if tail.end > end:
            vmas.insert(tail.piece(end, tail.end))      # (first: head may be tail)
        if head.start < start:
            head.end = start
            vmas.insert(head)
        for a, b in runs:
            self.emu.unmap_any(a, b - a)
        if end > self.packed_from:
            self.packed_from = min(max(self.packed_from, end), self.MMAP_TOP)

    def protect(self, start: int, length: int, perms: str) -> str | None:
        """mprotect: None, or the errno name of a refusal (then nothing
        changed): EACCES for write access to a shared file opened read-only,
        ENOMEM when part of the range is unmapped."""
        start, end = page_down(start), page_up(start + length)
        v = self.vmas.find(start)
        if v is not None and v.start == start and v.end == end:
            # One whole mapping (the usual mprotect): the rules below, without their lists.
            if "w" in perms and not v.may_write:
                return "EACCES"
            if v.perms != perms:
                v.perms = perms
                if not v.hole:
                    self.emu.mem_protect(start, end - start, perms)
            return None
        old = self.vmas.meeting(start, end)
        if "w" in perms:
            for v in old:
                if not v.may_write:
                    return "EACCES"
        covered = start
        for v in old:
            if v.start > covered:
                return "ENOMEM"
            covered = v.end
        if covered < end:
            return "ENOMEM"
        if old[0].start < start or old[-1].end > end:
            self._split(start)
            self._split(end)
            old = self.vmas.meeting(start, end)
        changing = [v for v in old if v.perms != perms]
        for v in changing:
            v.perms = perms
        # holes stay inaccessible in the engine whatever their permissions
        for a, b in _runs(v for v in changing if not v.hole):
            self.emu.mem_protect(a, b - a, perms)
        return None

    def fault_in(self, addr: int) -> bool:
        """A guest access faulted at ``addr``: True when it was a hole of a file
        mapping whose file has grown meanwhile (now mapped: run the access again)."""
        v = self.find(addr)
        if v is None or not v.hole or v.file is None:
            return False
        # A shrink since the last syscall must not be hidden by the size seen now.
        self.refresh_file_holes()
        size = v.file.size()
        if size is None or v.foff + (page_down(addr) - v.start) >= size:
            return False
        self.map_file(v.start, v.end - v.start, v.perms, v.name, v.file, v.foff, v.shared, v.may_write)
        return True

    def refresh_file_holes(self) -> bool:
        """Pages of file mappings wholly past the end of a file that shrank
        (this process truncated it, or another one did) become holes, so
        that touching them is a guest SIGBUS rather than a host one: shared
        ones, and private ones whether or not the guest wrote the page (the
        kernel's truncate drops a private mapping's copies past the end
        too).  Called after the syscalls that may shrink a file
        (process.FILES_MAY_SHRINK) and waits while file mappings exist, and
        after busguard caught the host's SIGBUS for a file shrunk while the
        guest made no syscall.  True when a page became a hole."""
        shrunk = []
        for fm in list(self.files):
            size = fm.size()
            if size is not None and size < fm.seen_size:
                shrunk.append(fm)
            if size is not None:
                fm.seen_size = size
        if not shrunk:
            return False
        holes = False
        for v in [v for v in self.vmas if v.file in shrunk and not v.hole]:
            gone = max(v.start, v.start + page_up(v.file.seen_size) - v.foff)
            if gone < v.end:
                self.map(gone, v.end - gone, v.perms, v.name, shared=v.shared, may_write=v.may_write, file=v.file,
                         foff=v.foff + (gone - v.start), hole=True)
                holes = True
        return holes

    def guest_address(self, host: int) -> int | None:
        """The guest address of host memory inside a file or shared mapping's backing."""
        for v in self.vmas:
            b = v.backing
            if b is not None and b.host <= host < b.host + b.size:
                g = v.bbase + (host - b.host)
                if v.start <= g < v.end:
                    return g
        return None

    def is_hole(self, addr: int) -> bool:
        v = self.find(addr)
        return v is not None and v.hole

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


def _runs(vmas):
    """(start, end) of each run of adjacent mappings among ``vmas`` (in order)."""
    a = b = None
    for v in vmas:
        if v.start != b:
            if b is not None:
                yield a, b
            a = v.start
        b = v.end
    if b is not None:
        yield a, b


def _view(backing, offset: int, size: int):
    """The part of a host backing from ``offset`` (a mapping may start inside one)."""
    if offset == 0:
        return backing
    from ..softmmu.memory import Backing
    return Backing(None, backing.host + offset, size, private=backing.private, parent=backing)


def _file_map(fd: int, may_write: bool) -> FileMap:
    import fcntl
    st = os.fstat(fd)
    # Out of the low numbers the guest allocates from, and gone on execve.
    try:
        own = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 256)
    except OSError:         # RLIMIT_NOFILE at 256 or below
        own = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)
    fm = FileMap(own, (st.st_dev, st.st_ino), may_write)
    fm.closer = weakref.finalize(fm, _close_quietly, own)
    return fm


def _deref(ref):
    return ref()


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
