"""Guest memory as a syscall sees it: reads and writes fault (EFAULT) where
the kernel's copy_from_user/copy_to_user would, whatever the softmmu allows;
C strings, pointer arrays and iovec arrays read from guest memory.  A
mixin of :class:`~tcgpy.linux.process.LinuxProcess` (``space``, ``emu``,
``arch``), so handlers call ``proc.read(addr, n)``."""
from __future__ import annotations

import ctypes
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

    def host_buffer(self, addr: int, size: int, write: bool) -> memoryview | None:
        """Guest memory [addr, addr+size) in place, for a host read(2) to
        fill (``write``) or a write(2) to drain: where it is one plain
        region of the TCG engine's that the guest may access so; else None
        (then ``read``/``write`` copy, and report EFAULT).  Translated code
        in the range is dropped first, as a store would drop it.  (A read(2)
        went through two copies and four layers of Python: a sixth of its
        time.)"""
        aspace = getattr(self.emu, "aspace", None)
        if aspace is None or size <= 0 or self.space.inaccessible(addr, size, write=write) is not None:
            return None
        r = aspace.find(addr)
        if r is None or r.is_mmio or addr + size > r.end or not r.perms & (PERM_W if write else PERM_R):
            return None
        if write:
            aspace.notify_code_write(addr, size)
        return memoryview((ctypes.c_char * size).from_address(r.host + (addr - r.start))).cast("B")

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


def iovecs(proc, iov, iovcnt) -> list[tuple[int, int]]:
    """The (base, length) pairs of a guest ``struct iovec`` array (readv, writev...)."""
    if iovcnt > 1024:
        raise OSError(22, "iovcnt")
    lay = proc.layout("iovec")
    raw = proc.read(iov, lay.size * iovcnt)
    return [(e["iov_base"], e["iov_len"]) for e in (lay.unpack(raw[i * lay.size:]) for i in range(iovcnt))]
