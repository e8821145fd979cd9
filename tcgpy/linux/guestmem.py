"""Guest memory as a syscall sees it: reads and writes fault (EFAULT) where
the kernel's copy_from_user/copy_to_user would, whatever the softmmu allows;
the host buffers a read(2) or write(2) of guest buffers hands the host
kernel (``io_buffers``); C strings, pointer arrays and iovec arrays read
from guest memory.  A mixin of :class:`~tcgpy.linux.process.LinuxProcess`
(``space``, ``emu``, ``arch``), so handlers call ``proc.read(addr, n)``."""
from __future__ import annotations

import ctypes
import errno
import functools
import mmap
import struct

from ..errors import MemoryFault
from ..softmmu.memory import PERM_R, PERM_W
from .errnos import GuestErrno
from .memory import PAGE


class GuestMemory:
    # (address, access) of the first bad byte io_buffers found last, for
    # ``-d guest_errors`` when the host kernel's answer is EFAULT
    bad_buffer: tuple[int, str] | None = None
    # the copies io_buffers made of a faulting read's buffers, holding the
    # guest's own bytes (copy_back_faulted)
    faulting_copies: list | None = None

    def read(self, addr: int, size: int) -> bytes:
        """Guest memory as a syscall reads it: EFAULT (MemoryFault) where the
        kernel's copy_from_user would fault, whatever the softmmu allows."""
        if size == 0:
            return b""
        bad = self.space.inaccessible(addr, size, write=False)
        if bad is not None:
            raise MemoryFault(self.emu.reg_read(self.arch.pc), bad, "read")
        return self.emu.mem_read(addr, size)

    def write(self, addr: int, data: bytes) -> None:
        if data:
            bad = self.space.inaccessible(addr, len(data), write=True)
            if bad is not None:
                raise MemoryFault(self.emu.reg_read(self.arch.pc), bad, "write")
            self.emu.mem_write(addr, data)

    def io_buffers(self, vecs: list[tuple[int, int]], fill: bool, limit: int,
                   copy: bool = False) -> tuple[list, list]:
        """Host buffers for a host readv (``fill``) or writev of the guest
        buffers ``vecs`` (at most ``limit`` bytes in all): guest memory in
        place where it can be (else a copy), up to the first byte the
        kernel's copy would fault on, and from there host memory that faults
        too.  The host kernel then gives the guest what Linux would: a count
        up to the fault (the file position moved by that much), EFAULT when
        nothing was copied, and the file's own answer where it copies
        nothing (0 at the end of a file, a whole count for /dev/null).
        Returns (buffers, copies): the copies among the buffers, with their
        guest addresses, for ``copy_back`` after a read.  ``copy``: a write's
        bytes copied now, none in place (for a write that may wait while
        other threads change or unmap them)."""
        aspace = None if copy else getattr(self.emu, "aspace", None)
        if len(vecs) == 1 and aspace is not None:
            # (the usual: one good buffer inside one region, in as few steps as can be)
            addr, length = vecs[0]
            length = min(length, limit)
            r = aspace.find(addr)
            if (length > 0 and r is not None and addr + length <= r.end and not r.is_mmio
                    and r.perms & (PERM_W if fill else PERM_R)
                    and self.space.inaccessible(addr, length, write=fill) is None):
                if fill:
                    aspace.notify_code_write(addr, length)
                return [_view(r.host + (addr - r.start), length)], []
        views: list = []
        copies: list = []
        left = limit
        self.bad_buffer = self.faulting_copies = None
        for i, (addr, length) in enumerate(vecs):
            length = min(length, left)
            if length <= 0:
                continue
            bad = self.space.inaccessible(addr, length, write=fill)
            ok = length if bad is None else bad - addr
            if ok:
                self._add_in_place(views, copies, aspace, addr, ok, fill)
            left -= length
            if bad is not None:
                # (as long as the rest: /dev/null's count is all of it)
                rest = length - ok + min(left, sum(n for _, n in vecs[i + 1:]))
                self.bad_buffer = (bad, "write" if fill else "read")
                views.append(_view(_faulting_base(), min(rest, _FAULTING_SIZE)))
                if fill and aspace is None:
                    # An engine without views of guest memory (KVM): the
                    # host kernel may fill a copy in part and then fault
                    # (EFAULT), which natively leaves those bytes in the
                    # guest's buffer.  Copies of the guest's own bytes can
                    # all go back then (copy_back_faulted).
                    for a, data in copies:
                        data[:] = self.emu.mem_read(a, len(data))
                    self.faulting_copies = copies
                break
        return views, copies

    def _add_in_place(self, views: list, copies: list, aspace, addr: int, size: int, fill: bool) -> None:
        """[addr, addr + size), accessible, as views of the engine's regions;
        a copy for what is not plain memory of the engine (MMIO, a region
        without host access so, an engine without regions)."""
        end = addr + size
        while addr < end:
            r = aspace.find(addr) if aspace is not None else None
            if r is None or r.is_mmio or not r.perms & (PERM_W if fill else PERM_R):
                # (to the end of that region, or all that is left)
                stop = min(end, r.end) if r is not None else end
                data = bytearray(stop - addr) if fill else bytearray(self.emu.mem_read(addr, stop - addr))
                views.append(data)
                if fill:
                    copies.append((addr, data))
                addr = stop
                continue
            stop = min(end, r.end)
            if fill:
                aspace.notify_code_write(addr, stop - addr)
            views.append(_view(r.host + (addr - r.start), stop - addr))
            addr = stop

    def copy_back(self, views: list, copies: list, n: int) -> None:
        """A host read put ``n`` bytes into ``views``: the copies' share goes to guest memory."""
        done = 0
        for v in views:
            if done >= n:
                break
            for addr, data in copies:
                if data is v:
                    self.emu.mem_write(addr, bytes(data[:n - done]))
            done += len(v)

    def host_fill(self, views: list, copies: list, read) -> int:
        """``read()``, a host read into buffers of ``io_buffers``: its count,
        with the copies' share of it put into guest memory (after an EFAULT
        too: what it wrote before the fault, copy_back_faulted)."""
        try:
            n = read()
        except OSError as e:
            if e.errno == errno.EFAULT:
                self.copy_back_faulted(copies)
            raise
        if copies:
            self.copy_back(views, copies, n)
        return n

    def copy_back_faulted(self, copies: list) -> None:
        """A host read into buffers of ``io_buffers`` failed with EFAULT:
        the copies it may have filled in part before the fault go back to
        guest memory, where natively its bytes are (only copies io_buffers
        made of the guest's own bytes for that: ``faulting_copies``)."""
        if copies and copies is self.faulting_copies:
            for addr, data in copies:
                self.emu.mem_write(addr, bytes(data))
        self.faulting_copies = None

    def read_good(self, vecs: list[tuple[int, int]], limit: int) -> bytes:
        """The bytes of the guest buffers ``vecs`` (at most ``limit``) up to
        the first one the kernel's copy_from_user would fault on."""
        pieces = []
        for base, length in vecs:
            length = min(length, limit)
            bad = self.space.inaccessible(base, length, write=False)
            pieces.append(self.read(base, length if bad is None else bad - base))
            limit -= length
            if bad is not None or limit <= 0:
                break
        return b"".join(pieces)

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        out = bytearray()
        while len(out) < limit:
            # Read up to the end of the page so that a string ending right
            # before an unmapped page does not fault.
            chunk = min(PAGE - ((addr + len(out)) & (PAGE - 1)), limit - len(out))
            data = self.read(addr + len(out), chunk)
            i = data.find(b"\0")
            if i >= 0:
                return bytes(out + data[:i])
            out += data
        raise GuestErrno("ENAMETOOLONG")

    def read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def read_ptr_array(self, addr: int) -> list[int]:
        out = []
        while addr:
            p = self.read_u64(addr)
            if p == 0:
                break
            out.append(p)
            addr += 8
        return out


# Host memory no access reaches, for the tail of a buffer from the guest's
# first inaccessible byte on (syscalls ask at most MAX_IO bytes of it).
_FAULTING_SIZE = 1 << 24


@functools.cache
def _faulting_base() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    prot_none = 0                       # (which commits no memory)
    base = libc.mmap(None, _FAULTING_SIZE, prot_none, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if base in (None, ctypes.c_void_p(-1).value):
        raise MemoryError("no host address space for a faulting buffer")
    return base


def _view(host: int, size: int) -> memoryview:
    """Host memory [host, host + size) as a buffer (nothing reads it here)."""
    return memoryview((ctypes.c_char * size).from_address(host)).cast("B")


class Buffers:
    """Host buffers (``GuestMemory.io_buffers``: the guest's bytes in place
    or copied, then memory that faults from its first bad byte) as one
    sequence that a transfer in steps takes in slices, so that the host
    kernel's copy stops where the guest's would: the pages before it
    moved, EFAULT when none."""
    __slots__ = ("views", "size")

    def __init__(self, views: list):
        self.views = [memoryview(v) for v in views]
        self.size = sum(len(v) for v in self.views)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, part: slice) -> list[memoryview]:
        out, at = [], 0
        stop = self.size if part.stop is None else part.stop
        for v in self.views:
            lo, hi = max(part.start - at, 0), min(stop - at, len(v))
            if lo < hi:
                out.append(v[lo:hi])
            at += len(v)
        return out


class HostIovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def host_iov(views: list):
    """A host ``struct iovec`` array over ``views`` (buffers of ``io_buffers``)."""
    iov = (HostIovec * max(1, len(views)))()
    for i, v in enumerate(views):
        iov[i] = HostIovec(ctypes.addressof(ctypes.c_char.from_buffer(v)), len(v))
    return iov


def iovecs(proc, iov, iovcnt) -> list[tuple[int, int]]:
    """The (base, length) pairs of a guest ``struct iovec`` array (readv, writev...)."""
    if iovcnt > 1024:
        raise OSError(22, "iovcnt")
    lay = proc.layout("iovec")
    raw = proc.read(iov, lay.size * iovcnt)
    return [(e["iov_base"], e["iov_len"]) for e in (lay.unpack(raw[i * lay.size:]) for i in range(iovcnt))]
