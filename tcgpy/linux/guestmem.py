"""Guest memory as a syscall sees it: reads and writes fault (EFAULT) where
the kernel's copy_from_user/copy_to_user would, whatever the softmmu allows;
the host buffers a read(2) or write(2) of guest buffers hands the host
kernel (``io_buffers``); C strings, pointer arrays and iovec arrays read
from guest memory.  A mixin of :class:`~tcgpy.linux.process.LinuxProcess`
(``space``, ``emu``, ``arch``), so handlers call ``proc.read(addr, n)``."""
from __future__ import annotations

import ctypes
import functools
import mmap
import struct

from ..errors import MemoryFault
from ..softmmu.memory import PERM_R, PERM_W
from .errnos import GuestErrno
from .memory import PAGE


class GuestMemory:
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

    def io_buffers(self, vecs: list[tuple[int, int]], fill: bool, limit: int) -> "IoBuffers":
        """Host buffers for a host readv (``fill``) or writev of the guest
        buffers ``vecs`` (at most ``limit`` bytes in all): guest memory in
        place where it can be (else a copy), up to the first byte the
        kernel's copy would fault on, and from there host memory that faults
        too.  The host kernel then gives the guest what Linux would: a count
        up to the fault (the file position moved by that much), EFAULT when
        nothing was copied, and the file's own answer where it copies
        nothing (0 at the end of a file, a whole count for /dev/null)."""
        io = IoBuffers()
        left = limit
        for i, (addr, length) in enumerate(vecs):
            length = min(length, left)
            if length <= 0:
                continue
            bad = self.space.inaccessible(addr, length, write=fill)
            ok = length if bad is None else bad - addr
            if ok:
                self._add_in_place(io, addr, ok, fill)
            left -= length
            if bad is not None:
                # (as long as the rest: /dev/null's count is all of it)
                rest = length - ok + min(left, sum(n for _, n in vecs[i + 1:]))
                io.views.append(_faulting(rest))
                break
        return io

    def _add_in_place(self, io: "IoBuffers", addr: int, size: int, fill: bool) -> None:
        """[addr, addr + size), accessible, as views of the engine's regions;
        a copy for what is not plain memory of the engine (MMIO, a region
        without host access so, an engine without regions)."""
        aspace = getattr(self.emu, "aspace", None)
        end = addr + size
        while addr < end:
            r = aspace.find(addr) if aspace is not None else None
            if r is None or r.is_mmio or not r.perms & (PERM_W if fill else PERM_R):
                # (to the end of that region, or all that is left)
                stop = min(end, r.end) if r is not None else end
                data = bytearray(stop - addr) if fill else bytearray(self.emu.mem_read(addr, stop - addr))
                io.views.append(data)
                if fill:
                    io.copies.append((addr, data))
                addr = stop
                continue
            stop = min(end, r.end)
            if fill:
                aspace.notify_code_write(addr, stop - addr)
            io.views.append(memoryview((ctypes.c_char * (stop - addr)).from_address(r.host + (addr - r.start)))
                            .cast("B"))
            addr = stop

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


class IoBuffers:
    """What ``io_buffers`` made: ``views`` for the host call, and the copies
    whose bytes go to guest memory after a read (``filled``)."""
    __slots__ = ("views", "copies")

    def __init__(self):
        self.views: list = []
        self.copies: list[tuple[int, bytearray]] = []

    def filled(self, proc, n: int) -> int:
        """The host read ``n`` bytes into ``views``: the copies' share goes to guest memory."""
        if self.copies:
            done = 0
            for v in self.views:
                if done >= n:
                    break
                for addr, data in self.copies:
                    if data is v:
                        proc.emu.mem_write(addr, bytes(data[:n - done]))
                done += len(v)
        return n


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


def _faulting(size: int) -> memoryview:
    return memoryview((ctypes.c_char * min(size, _FAULTING_SIZE)).from_address(_faulting_base())).cast("B")


def iovecs(proc, iov, iovcnt) -> list[tuple[int, int]]:
    """The (base, length) pairs of a guest ``struct iovec`` array (readv, writev...)."""
    if iovcnt > 1024:
        raise OSError(22, "iovcnt")
    lay = proc.layout("iovec")
    raw = proc.read(iov, lay.size * iovcnt)
    return [(e["iov_base"], e["iov_len"]) for e in (lay.unpack(raw[i * lay.size:]) for i in range(iovcnt))]
