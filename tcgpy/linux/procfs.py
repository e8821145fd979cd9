"""The guest's own /proc/<pid>: what it shows is the guest, never tcgpy.

Guest paths reach the host kernel unchanged, and the host's /proc/self is
the Python process: its ``mem`` reads and writes tcgpy's memory, its ``maps``
shows LLVM and CPython.  Which /proc entry a guest path names is decided
the way the kernel decides it, by the kernel: the path is opened O_PATH
(relative to the guest's dirfd or cwd, through ``..``, ``//``, symlinks,
/proc/self, /proc/thread-self, /proc/<pid>/task/<tid>), and the descriptor's
own path says where it landed.  Only the last component's symlinks are
followed by hand, so that a link to /proc/self/exe or /proc/self/fd/<n> is
seen as such before the magic link jumps elsewhere.

An entry of our own directory is then answered from the guest's state
(:data:`SYNTHETIC`, :data:`VIRTUAL`), refused (:data:`REFUSED`), or, for
what describes no memory (cwd, limits, mounts, ...), left to the host.
"""
from __future__ import annotations

import os
import stat as host_stat
import struct

from ..errors import MemoryFault
from ..record import record
from .memory import PAGE

MAX_LINKS = 40          # the kernel's MAXSYMLINKS


@record(frozen=True)
class Entry:
    """A path below /proc/<pid>/ ("" for the directory itself, "fd/3", "maps"),
    and whether <pid> is this process."""
    rest: str
    own: bool

    @property
    def fd(self) -> int | None:
        """The descriptor number of an fd/<n> or fdinfo/<n> entry."""
        head, _, n = self.rest.partition("/")
        return int(n) if head in ("fd", "fdinfo") and n.isdigit() else None


_proc_dev: int | None = None


def _procfs_dev() -> int:
    global _proc_dev
    if _proc_dev is None:
        _proc_dev = os.stat("/proc/self").st_dev
    return _proc_dev


def _parse(where: bytes) -> Entry | None:
    if not where.startswith(b"/proc/"):
        return None
    parts = os.fsdecode(where[6:]).split("/")
    if not parts[0].isdigit():
        return None
    rest = parts[1:]
    if len(rest) >= 2 and rest[0] == "task" and rest[1].isdigit():
        rest = rest[2:]          # a thread's view of the process: the same files
    return Entry("/".join(rest), int(parts[0]) == os.getpid())


def lookup(path: bytes, dir_fd: int | None, follow: bool) -> Entry | None:
    """The /proc/<pid> entry that ``path`` names, or None (not there, or not
    a process directory's: the host answers, errors included)."""
    for _ in range(MAX_LINKS):
        try:
            fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            where = os.readlink(f"/proc/self/fd/{fd}".encode())
        finally:
            os.close(fd)
        link = host_stat.S_ISLNK(st.st_mode)
        if st.st_dev == _procfs_dev():
            entry = _parse(where)
            if entry is not None:
                return entry
        if not (link and follow):
            return None
        target = os.readlink(where)
        path, dir_fd = (target if target.startswith(b"/") else os.path.dirname(where) + b"/" + target), None
    return None


# -- what the files say --------------------------------------------------------------

def _vma_name(proc, v) -> str:
    if v.name.startswith("["):
        return v.name
    return proc.exe_path if v.name == os.path.basename(proc.exe_path) else ""


def _maps_line(proc, v) -> str:
    perms = "".join(c if c in v.perms else "-" for c in "rwx") + ("s" if v.shared else "p")
    return f"{v.start:08x}-{v.end:08x} {perms} {v.foff if v.file else 0:08x} 00:00 0".ljust(73) \
        + f" {_vma_name(proc, v)}".rstrip()


def maps(proc) -> bytes:
    return "".join(_maps_line(proc, v) + "\n" for v in proc.space.vmas).encode()


def _smaps_body(kb: int) -> str:
    # tcgpy does not know which guest pages the host has touched: every
    # mapped page is counted resident, as a kernel would after a full touch.
    fields = [("Size", kb), ("KernelPageSize", PAGE >> 10), ("MMUPageSize", PAGE >> 10), ("Rss", kb),
              ("Pss", kb), ("Shared_Clean", 0), ("Shared_Dirty", 0), ("Private_Clean", 0),
              ("Private_Dirty", kb), ("Referenced", kb), ("Anonymous", kb), ("Swap", 0), ("SwapPss", 0),
              ("Locked", 0)]
    return "".join(f"{k + ':':<16}{v:>8} kB\n" for k, v in fields)


def smaps(proc) -> bytes:
    return "".join(_maps_line(proc, v) + "\n" + _smaps_body((v.end - v.start) >> 10)
                   for v in proc.space.vmas).encode()


def smaps_rollup(proc) -> bytes:
    vmas = proc.space.vmas
    lo, hi = (vmas[0].start, vmas[-1].end) if vmas else (0, 0)
    head = f"{lo:08x}-{hi:08x} ---p 00000000 00:00 0".ljust(73) + " [rollup]\n"
    return (head + _smaps_body(_mapped(proc) >> 10)).encode()


def _mapped(proc) -> int:
    return sum(v.end - v.start for v in proc.space.vmas)


def comm(proc) -> bytes:
    return proc.comm[:15] + b"\n"


def cmdline(proc) -> bytes:
    # read from the guest's stack, as the kernel does (setproctitle shows)
    return _guest_bytes(proc, *proc.arg_span)


def environ(proc) -> bytes:
    return _guest_bytes(proc, *proc.env_span)


def _guest_bytes(proc, start: int, end: int) -> bytes:
    try:
        return proc.emu.mem_read(start, end - start) if end > start else b""
    except MemoryFault:
        return b""


def _host_file(name: str) -> str:
    with open(f"/proc/self/{name}") as f:
        return f.read()


# /proc/<pid>/stat fields (1-based, proc(5)) that describe memory: the guest's
# or nothing, never the host process's.
STAT_MEMORY = {23: "vsize", 24: "rss", 26: "startcode", 27: "endcode", 28: "startstack", 29: "kstkesp",
               30: "kstkeip", 45: "start_data", 46: "end_data", 47: "start_brk", 48: "arg_start",
               49: "arg_end", 50: "env_start", 51: "env_end"}


def stat(proc) -> bytes:
    host = _host_file("stat")
    tail = host[host.rindex(")") + 2:].split()          # fields 3 onwards
    fields = [str(os.getpid()), f"({os.fsdecode(proc.comm[:15])})", *tail]
    guest = {"vsize": _mapped(proc), "rss": _mapped(proc) // PAGE, "start_brk": proc.space.brk_start,
             "arg_start": proc.arg_span[0], "arg_end": proc.arg_span[1],
             "env_start": proc.env_span[0], "env_end": proc.env_span[1]}
    for n, name in STAT_MEMORY.items():
        if n <= len(fields):
            fields[n - 1] = str(guest.get(name, 0))
    fields[19] = str(len(proc.sched.threads))          # num_threads: the guest's, not ours
    return (" ".join(fields) + "\n").encode()


def statm(proc) -> bytes:
    pages = _mapped(proc) // PAGE
    return f"{pages} {pages} 0 0 0 {pages} 0\n".encode()


def status(proc) -> bytes:
    kb = _mapped(proc) >> 10
    memory = {"VmPeak", "VmSize", "VmHWM", "VmRSS", "RssAnon", "VmData"}
    out = []
    for line in _host_file("status").splitlines():
        key = line.split(":", 1)[0]
        if key == "Name":
            line = f"Name:\t{os.fsdecode(proc.comm[:15])}"
        elif key in memory:
            line = f"{key}:\t{kb:8} kB"
        elif key.startswith(("Vm", "Rss", "Huge")):
            line = f"{key}:\t{0:8} kB"
        out.append(line)
    return ("\n".join(out) + "\n").encode()


def cpuinfo(proc) -> bytes:
    """The -cpu model's features (all of tcgpy's without one)."""
    ncpus = len(os.sched_getaffinity(0))
    if proc.cpu_features is None:
        return proc.arch.cpuinfo(ncpus).encode()
    return proc.arch.cpuinfo(ncpus, proc.cpu_features).encode()


# Entries of our /proc/<pid> whose contents are made from the guest's state
# when opened (a snapshot, as the kernel's seq files are at first read).
SYNTHETIC = {
    "maps": maps, "smaps": smaps, "smaps_rollup": smaps_rollup, "auxv": lambda proc: proc.auxv_bytes,
    "cmdline": cmdline, "environ": environ, "comm": comm, "stat": stat, "statm": statm, "status": status,
}

# Files outside the process directories that describe the emulated machine.
MACHINE = {b"/proc/cpuinfo": cpuinfo}

# Entries that show host memory or host code and have no guest meaning here:
# the errors are the kernel's when the ptrace access check fails
# (syscall, stack, map_files) or the option is not built (sched, numa_maps).
REFUSED = {"syscall": "EACCES", "stack": "EACCES", "map_files": "EACCES", "clear_refs": "EACCES",
           "sched": "ENOENT", "numa_maps": "ENOENT", "wchan": "ENOENT"}


# -- files read at an offset: mem and pagemap ----------------------------------------------

class VirtualFile:
    """A guest descriptor whose reads and writes tcgpy answers (the host
    descriptor under its number is an empty placeholder)."""

    def __init__(self, proc, readable: bool, writable: bool):
        self.proc = proc
        self.readable, self.writable = readable, writable
        self.pos = 0

    def pread(self, size: int, offset: int) -> bytes:
        raise OSError(22, "not readable")

    def pwrite(self, data: bytes, offset: int) -> int:
        raise OSError(22, "not writable")

    def read(self, size: int) -> bytes:
        if not self.readable:
            raise OSError(9, "not open for reading")
        data = self.pread(size, self.pos)
        self.pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        if not self.writable:
            raise OSError(9, "not open for writing")
        n = self.pwrite(data, self.pos)
        self.pos += n
        return n

    def lseek(self, offset: int, whence: int) -> int:
        # mem_lseek: SEEK_SET and SEEK_CUR only
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.pos}.get(whence)
        if base is None or base + offset < 0:
            raise OSError(22, "whence")
        self.pos = base + offset
        return self.pos


class GuestMemFile(VirtualFile):
    """/proc/self/mem: the offset is a guest address.  Access is a
    debugger's (the kernel's FOLL_FORCE): any mapped page reads, and a write
    reaches a read-only private page, but not a shared one the guest could
    not make writable.  Only the guest's mappings are reachable; the first
    unmapped byte ends the transfer, and none at all is EIO."""

    def _span(self, addr: int, size: int, write: bool) -> int:
        space, done = self.proc.space, 0
        while done < size:
            v = space.find(addr + done)
            if v is None or v.hole or (write and v.shared and not v.may_write):
                break
            done = min(size, v.end - addr)
        return done

    def pread(self, size: int, addr: int) -> bytes:
        n = self._span(addr, size, write=False)
        if n == 0 and size:
            raise OSError(5, "unmapped")
        return self.proc.emu.mem_read(addr, n) if n else b""

    def pwrite(self, data: bytes, addr: int) -> int:
        n = self._span(addr, len(data), write=True)
        if n == 0 and data:
            raise OSError(5, "unmapped")
        if n:
            self.proc.emu.mem_write(addr, data[:n])      # translated code there is invalidated
        return n


class GuestPagemapFile(VirtualFile):
    """/proc/self/pagemap: one 64-bit word per guest page, "present" (bit
    63) for mapped pages; the frame number is 0, as the kernel shows it to
    an unprivileged reader."""

    def pread(self, size: int, offset: int) -> bytes:
        if offset % 8 or size % 8:
            raise OSError(22, "unaligned")
        first = offset // 8
        space = self.proc.space
        words = [(1 << 63) if (v := space.find((first + i) * PAGE)) is not None and not v.hole else 0
                 for i in range(min(size, 1 << 16) // 8)]
        return struct.pack(f"<{len(words)}Q", *words)


VIRTUAL = {"mem": GuestMemFile, "pagemap": GuestPagemapFile}


def open_virtual(proc, entry: Entry, accmode: int) -> VirtualFile | None:
    cls = VIRTUAL.get(entry.rest)
    if cls is None:
        return None
    return cls(proc, accmode in (os.O_RDONLY, os.O_RDWR), accmode in (os.O_WRONLY, os.O_RDWR))
