"""File and I/O syscalls.  Guest file descriptors are host file descriptors
(as in qemu-user); flags, struct layouts and errno are converted by name
between the guest's kernel ABI and the host's."""
from __future__ import annotations

import ctypes
import os
import select
import stat as host_stat
import struct
import termios
import fcntl as host_fcntl

from ...errors import MemoryFault
from .. import procfs
from ..guestmem import host_iov, iovecs
from ..signals import PendingSignal
from ..threads import ready
from ..errnos import GuestErrno
from .args import s32, s64
from .hostlibc import libc, libc_call
from .paths import at, at_entry, atflag, guest_path
from .table import NORETURN, syscall

MAX_IO = 1 << 24               # cap on one read: the kernel may always return less
IOV_MAX = 1024                 # the host's cap on readv/writev's buffers
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


# -- conversions ------------------------------------------------------------------

def open_flags_to_host(proc, flags: int) -> int:
    out = flags & 3
    for name, bit in proc.arch.consts.OPEN_FLAGS.items():
        if bit and name not in ("O_ACCMODE", "O_TMPFILE_MASK") and (flags & bit) == bit:
            out |= getattr(os, name, 0)
    return out


def open_flags_to_guest(proc, flags: int) -> int:
    out = flags & 3
    for name, bit in proc.arch.consts.OPEN_FLAGS.items():
        h = getattr(os, name, 0)
        if h and name not in ("O_ACCMODE", "O_TMPFILE_MASK") and (flags & h) == h:
            out |= bit
    return out


def pack_stat(proc, st: os.stat_result) -> bytes:
    return proc.layout("stat").pack(
        st_dev=st.st_dev, st_ino=st.st_ino, st_mode=st.st_mode, st_nlink=st.st_nlink,
        st_uid=st.st_uid, st_gid=st.st_gid, st_rdev=st.st_rdev, st_size=st.st_size,
        st_blksize=st.st_blksize, st_blocks=st.st_blocks,
        st_atime_sec=st.st_atime_ns // 10**9, st_atime_nsec=st.st_atime_ns % 10**9,
        st_mtime_sec=st.st_mtime_ns // 10**9, st_mtime_nsec=st.st_mtime_ns % 10**9,
        st_ctime_sec=st.st_ctime_ns // 10**9, st_ctime_nsec=st.st_ctime_ns % 10**9)


# -- open / close / read / write ------------------------------------------------------

def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@syscall("openat", "fd s oflags o")
def sys_openat(proc, dirfd, path, flags, mode):
    O = proc.arch.consts.OPEN_FLAGS
    p, dfd, entry = at_entry(proc, dirfd, path, follow=not flags & O["O_NOFOLLOW"])
    fd = None
    if entry is not None and entry.rest in procfs.SYNTHETIC:
        fd = _memfd(entry.rest, procfs.SYNTHETIC[entry.rest](proc))
    elif entry is not None and entry.rest in procfs.VIRTUAL:
        fd = _memfd(entry.rest, b"")
        proc.vfiles[fd] = procfs.open_virtual(proc, entry, flags & 3)
    elif p in procfs.MACHINE:
        fd = _memfd(os.fsdecode(p.rsplit(b"/", 1)[-1]), procfs.MACHINE[p](proc))
    if fd is None:
        fd = os.open(p, open_flags_to_host(proc, flags), mode & 0o7777, dir_fd=dfd)
    return _inheritable_unless(proc, fd, flags)


def _inheritable_unless(proc, fd: int, flags: int) -> int:
    """Python makes every new descriptor close-on-exec (PEP 446); the guest's
    stay open across execve unless it asked for O_CLOEXEC."""
    if not flags & proc.arch.consts.OPEN_FLAGS["O_CLOEXEC"]:
        os.set_inheritable(fd, True)
    return fd


@syscall("close", "fd")
def sys_close(proc, fd):
    proc.dirstate.pop(s32(fd), None)
    proc.vfiles.pop(s32(fd), None)
    ep = proc.epolls.pop(s32(fd), None)
    if ep is not None:
        ep[0].close()          # the epoll object owns the descriptor
        return 0
    os.close(s32(fd))
    return 0


CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 1 << 1, 1 << 2     # the same on every architecture


@syscall("close_range", "u u x")
def sys_close_range(proc, first, last, flags):
    """The open descriptors from ``first`` to ``last`` closed (or made
    close-on-exec), as close() would, except tcgpy's own (its -D log, the
    fork and vfork pipes, the files behind shared mappings), which a
    program closing "everything" before an exec does not know about;
    UNSHARE has nothing to do (a guest's descriptor table is never shared:
    threads are one host process, a CLONE_FILES child is not emulated)."""
    if first > last or flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC):
        return proc.err("EINVAL")
    own = proc.own_fds()
    for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
        if first <= fd <= last and fd not in own:
            try:
                if flags & CLOSE_RANGE_CLOEXEC:
                    os.set_inheritable(fd, False)
                else:
                    sys_close(proc, fd)
            except OSError:
                pass        # listdir's own descriptor, gone by now
    return 0


@syscall("read", "fd p u")
def sys_read(proc, fd, buf, count):
    vf = proc.vfiles.get(s32(fd))
    if vf is not None:
        return _vf_read(proc, vf, [(buf, count)], None)
    return _host_read(proc, s32(fd), [(buf, count)], read_call=True)


def _host_read(proc, fd: int, vecs, offset: int | None = None, flags: int = 0, read_call: bool = False) -> int:
    """read/readv (preadv at ``offset``) of host descriptor ``fd`` into the
    guest buffers ``vecs``, by the host kernel's rules for bad buffers too
    (guestmem.io_buffers).  (``read_call``: read(2) and pread64(2) of 0
    bytes still ask the file, which may refuse: a directory's EISDIR.)"""
    views, copies = proc.io_buffers(vecs, True, MAX_IO)
    if not views and read_call:
        return len(os.read(fd, 0) if offset is None else os.pread(fd, 0, offset))
    if len(views) > IOV_MAX:
        views = views[:IOV_MAX]
    return proc.host_fill(views, copies,
                          lambda: os.readv(fd, views) if offset is None else os.preadv(fd, views, offset, flags))


def _host_write(proc, fd: int, vecs, offset: int | None = None, flags: int = 0) -> int:
    """write/writev (pwritev at ``offset``) of the guest buffers ``vecs`` to
    host descriptor ``fd``: as _host_read, and EPIPE with its SIGPIPE."""
    views = proc.io_buffers(vecs, False, MAX_IO)[0][:IOV_MAX]
    if offset is None:
        return _write(proc, lambda: os.writev(fd, views))
    return _write(proc, lambda: os.pwritev(fd, views, offset, flags))


def _vf_read(proc, vf, vecs, offset: int | None) -> int:
    """A virtual file read into guest buffers (at ``offset``, or at and
    moving its position): as far as the buffers are writable, EFAULT when
    that is not a byte of what there was to read."""
    if not vf.readable:
        return proc.err("EBADF")
    data = vf.pread(min(sum(n for _, n in vecs), MAX_IO), vf.pos if offset is None else offset)
    done = 0
    for base, length in vecs:
        part = data[done:done + length]
        bad = proc.space.inaccessible(base, len(part), write=True)
        ok = len(part) if bad is None else bad - base
        proc.write(base, part[:ok])
        done += ok
        if bad is not None or len(part) < length:
            break
    if data and not done:
        return proc.err("EFAULT")
    if offset is None:
        vf.pos += done
    return done


def _vf_write(proc, vf, vecs, offset: int | None) -> int:
    """A virtual file written from guest buffers: the bytes up to the first
    one the guest cannot read (EFAULT when that is the first)."""
    if not vf.writable:
        return proc.err("EBADF")
    data = proc.read_good(vecs, MAX_IO)
    if not data and any(n for _, n in vecs):
        return proc.err("EFAULT")
    n = vf.pwrite(data, vf.pos if offset is None else offset)
    if offset is None:
        vf.pos += n
    return n


def post_sigpipe(proc) -> None:
    """The SIGPIPE the kernel sends with EPIPE (a write to a pipe or stream
    socket nobody reads any more)."""
    sigpipe = proc.signals.numbers["SIGPIPE"]
    info = struct.pack("<iiiiiI", sigpipe, 0, 0, 0, proc.pid, os.getuid()).ljust(128, b"\0")
    proc.signals.post(PendingSignal(sigpipe, info))


def _write(proc, fn):
    try:
        return fn()
    except BrokenPipeError:
        post_sigpipe(proc)
        return proc.err("EPIPE")


@syscall("write", "fd buf u")
def sys_write(proc, fd, buf, count):
    vf = proc.vfiles.get(s32(fd))
    if vf is not None:
        return _vf_write(proc, vf, [(buf, count)], None)
    if count == 0:
        return _write(proc, lambda: os.write(s32(fd), b""))     # (a file may refuse even that)
    return _host_write(proc, s32(fd), [(buf, count)])


@syscall("pread64", "fd p u d")
def sys_pread64(proc, fd, buf, count, offset):
    vf = proc.vfiles.get(s32(fd))
    if vf is not None:
        return _vf_read(proc, vf, [(buf, count)], offset)
    return _host_read(proc, s32(fd), [(buf, count)], s64(offset), read_call=True)


@syscall("pwrite64", "fd buf u d")
def sys_pwrite64(proc, fd, buf, count, offset):
    vf = proc.vfiles.get(s32(fd))
    if vf is not None:
        return _vf_write(proc, vf, [(buf, count)], offset)
    if count == 0:
        return _write(proc, lambda: os.pwrite(s32(fd), b"", s64(offset)))
    return _host_write(proc, s32(fd), [(buf, count)], s64(offset))


@syscall("readv", "fd p i")
def sys_readv(proc, fd, iov, iovcnt):
    vecs = iovecs(proc, iov, iovcnt)
    vf = proc.vfiles.get(s32(fd))
    return _vf_read(proc, vf, vecs, None) if vf is not None else _host_read(proc, s32(fd), vecs)


@syscall("writev", "fd p i")
def sys_writev(proc, fd, iov, iovcnt):
    vecs = iovecs(proc, iov, iovcnt)
    vf = proc.vfiles.get(s32(fd))
    return _vf_write(proc, vf, vecs, None) if vf is not None else _host_write(proc, s32(fd), vecs)


@syscall("preadv", "fd p i d")
def sys_preadv(proc, fd, iov, iovcnt, offset):
    if s64(offset) < 0:
        return proc.err("EINVAL")       # only preadv2 reads at the file position
    return sys_preadv2(proc, fd, iov, iovcnt, offset, 0, 0)


@syscall("pwritev", "fd p i d")
def sys_pwritev(proc, fd, iov, iovcnt, offset):
    if s64(offset) < 0:
        return proc.err("EINVAL")
    return sys_pwritev2(proc, fd, iov, iovcnt, offset, 0, 0)


@syscall("preadv2", "fd p i d x x")
def sys_preadv2(proc, fd, iov, iovcnt, offset, offset_high, flags):
    """At ``offset``, or at the file position (as readv) with offset -1.
    (``offset_high`` is for 32-bit ABIs: a 64-bit one has it all in ``offset``.)"""
    if s64(offset) == -1:
        return sys_readv(proc, fd, iov, iovcnt)
    vecs = iovecs(proc, iov, iovcnt)
    vf = proc.vfiles.get(s32(fd))
    if vf is not None:
        return _vf_read(proc, vf, vecs, offset)
    return _host_read(proc, s32(fd), vecs, s64(offset), flags)


@syscall("pwritev2", "fd p i d x x")
def sys_pwritev2(proc, fd, iov, iovcnt, offset, offset_high, flags):
    if s64(offset) == -1:
        return sys_writev(proc, fd, iov, iovcnt)
    vecs = iovecs(proc, iov, iovcnt)
    vf = proc.vfiles.get(s32(fd))
    if vf is not None:
        return _vf_write(proc, vf, vecs, offset)
    return _host_write(proc, s32(fd), vecs, s64(offset), flags)


@syscall("lseek", "fd d d")
def sys_lseek(proc, fd, offset, whence):
    vf = proc.vfiles.get(s32(fd))
    if vf:
        return vf.lseek(s64(offset), whence)
    pos = os.lseek(s32(fd), s64(offset), whence)
    if pos == 0:
        proc.dirstate.pop(s32(fd), None)
    return pos


# -- stat -------------------------------------------------------------------------

def _stat_at(proc, dirfd, path, flags) -> os.stat_result:
    if path == 0 or (atflag(proc, flags, "AT_EMPTY_PATH") and proc.read_cstr(path) == b""):
        return os.fstat(s32(dirfd))
    follow = not atflag(proc, flags, "AT_SYMLINK_NOFOLLOW")
    p, dfd = at(proc, dirfd, path, follow)
    return os.stat(p, dir_fd=dfd, follow_symlinks=follow)


@syscall("fstat", "fd p")
def sys_fstat(proc, fd, buf):
    proc.write(buf, pack_stat(proc, os.fstat(s32(fd))))
    return 0


@syscall("newfstatat", "fd s p x")
def sys_newfstatat(proc, dirfd, path, buf, flags):
    proc.write(buf, pack_stat(proc, _stat_at(proc, dirfd, path, flags)))
    return 0


@syscall("statx", "fd s x x p")
def sys_statx(proc, dirfd, path, flags, mask, buf):
    st = _stat_at(proc, dirfd, path, flags)

    def ts(prefix, ns):
        return {f"{prefix}_sec": ns // 10**9, f"{prefix}_nsec": ns % 10**9}
    proc.write(buf, proc.layout("statx").pack(
        stx_mask=0x7FF, stx_blksize=st.st_blksize, stx_nlink=st.st_nlink, stx_uid=st.st_uid,
        stx_gid=st.st_gid, stx_mode=st.st_mode & 0xFFFF, stx_ino=st.st_ino, stx_size=st.st_size,
        stx_blocks=st.st_blocks, **ts("stx_atime", st.st_atime_ns), **ts("stx_ctime", st.st_ctime_ns),
        **ts("stx_mtime", st.st_mtime_ns), **ts("stx_btime", st.st_ctime_ns),
        stx_rdev_major=os.major(st.st_rdev), stx_rdev_minor=os.minor(st.st_rdev),
        stx_dev_major=os.major(st.st_dev), stx_dev_minor=os.minor(st.st_dev)))
    return 0


def _pack_statfs(proc, sv: os.statvfs_result) -> bytes:
    return proc.layout("statfs").pack(
        f_type=0, f_bsize=sv.f_bsize, f_blocks=sv.f_blocks, f_bfree=sv.f_bfree, f_bavail=sv.f_bavail,
        f_files=sv.f_files, f_ffree=sv.f_ffree, f_namelen=sv.f_namemax, f_frsize=sv.f_frsize,
        f_flags=sv.f_flag)


@syscall("statfs", "s p")
def sys_statfs(proc, path, buf):
    proc.write(buf, _pack_statfs(proc, os.statvfs(guest_path(proc, path))))
    return 0


@syscall("fstatfs", "fd p")
def sys_fstatfs(proc, fd, buf):
    proc.write(buf, _pack_statfs(proc, os.fstatvfs(s32(fd))))
    return 0


@syscall("readlinkat", "fd s p u")
def sys_readlinkat(proc, dirfd, path, buf, size):
    if s32(size) <= 0:
        return proc.err("EINVAL")       # (the kernel's bufsiz is an int, checked first)
    p, dfd, entry = at_entry(proc, dirfd, path, follow=False)
    if entry is not None and entry.rest == "exe":
        target = os.fsencode(proc.exe_path)
    else:
        target = os.readlink(p, dir_fd=dfd)
    target = target[:size]
    proc.write(buf, target)
    return len(target)


def _lists_fds(proc, fd: int) -> bool:
    """Whether directory ``fd`` is our /proc/<pid>/fd or fdinfo (whose
    listing leaves tcgpy's descriptors out)."""
    where = os.readlink(f"/proc/self/fd/{fd}")
    entry = procfs.lookup(os.fsencode(where), None, follow=False) if where.startswith("/proc/") else None
    return entry is not None and entry.own and entry.rest in ("fd", "fdinfo")


def _guest_fd(proc, name: bytes) -> bool:
    """A /proc/self/fd name that is the guest's: open once the listing is
    made (not scandir's own descriptor) and not tcgpy's."""
    try:
        host_fcntl.fcntl(int(name), host_fcntl.F_GETFD)
    except (OSError, ValueError):
        return False
    return int(name) not in proc.own_fds()


DT = ((host_stat.S_ISDIR, 4), (host_stat.S_ISREG, 8), (host_stat.S_ISLNK, 10), (host_stat.S_ISCHR, 2),
      (host_stat.S_ISBLK, 6), (host_stat.S_ISFIFO, 1), (host_stat.S_ISSOCK, 12))


@syscall("getdents64", "fd p u")
def sys_getdents64(proc, fd, buf, count):
    fd = s32(fd)
    state = proc.dirstate.get(fd)
    if state is None:
        st = os.fstat(fd)
        if not host_stat.S_ISDIR(st.st_mode):
            return proc.err("ENOTDIR")
        entries = [(st.st_ino, 4, b"."), (st.st_ino, 4, b"..")]
        with os.scandir(fd) as it:
            for e in it:
                try:
                    mode = e.stat(follow_symlinks=False).st_mode
                    dtype = next((d for test, d in DT if test(mode)), 0)
                except OSError:
                    dtype = 0
                entries.append((e.inode(), dtype, os.fsencode(e.name)))
        if _lists_fds(proc, fd):
            entries = entries[:2] + [e for e in entries[2:] if _guest_fd(proc, e[2])]
        state = proc.dirstate[fd] = [entries, 0]
    entries, pos = state
    head = proc.layout("dirent64_head")
    out = bytearray()
    stores = []         # per record: (its start, where the kernel's stores into it end: its name's NUL)
    while pos + len(stores) < len(entries):
        ino, dtype, name = entries[pos + len(stores)]
        reclen = (head.size + len(name) + 1 + 7) & ~7
        if len(out) + reclen > count:
            if not out:
                return proc.err("EINVAL")
            break
        stores.append((len(out), len(out) + head.size + len(name) + 1))
        rec = head.pack(d_ino=ino, d_off=pos + len(stores), d_reclen=reclen, d_type=dtype) + name
        out += rec.ljust(reclen, b"\0")
    # As the kernel's filldir64: the records before the first one it cannot
    # store are listed (and passed); EFAULT, the position unmoved, when that
    # is the first.
    bad = proc.space.inaccessible(buf, len(out), write=True) if out else None
    if bad is not None:
        fit = sum(1 for _, end in stores if end <= bad - buf)
        if fit == 0:
            raise MemoryFault(proc.emu.reg_read(proc.arch.pc), bad, "write")
        if fit < len(stores):
            out = out[:stores[fit][0]]
            stores = stores[:fit]
    state[1] = pos + len(stores)
    proc.write(buf, bytes(out))
    return len(out)


# -- paths ----------------------------------------------------------------------------

@syscall("faccessat", "fd s o")
def sys_faccessat(proc, dirfd, path, mode):
    p, dfd = at(proc, dirfd, path)
    return 0 if os.access(p, mode, dir_fd=dfd) else proc.err("EACCES" if os.path.lexists(p) or dfd else "ENOENT")


@syscall("faccessat2", "fd s o x")
def sys_faccessat2(proc, dirfd, path, mode, flags):
    p, dfd = at(proc, dirfd, path)
    ok = os.access(p, mode, dir_fd=dfd, effective_ids=atflag(proc, flags, "AT_EACCESS"),
                   follow_symlinks=not atflag(proc, flags, "AT_SYMLINK_NOFOLLOW"))
    return 0 if ok else proc.err("EACCES" if os.path.lexists(p) or dfd else "ENOENT")


@syscall("unlinkat", "fd s x")
def sys_unlinkat(proc, dirfd, path, flags):
    p, dfd = at(proc, dirfd, path)
    if atflag(proc, flags, "AT_REMOVEDIR"):
        os.rmdir(p, dir_fd=dfd)
    else:
        os.unlink(p, dir_fd=dfd)
    return 0


@syscall("mkdirat", "fd s o")
def sys_mkdirat(proc, dirfd, path, mode):
    p, dfd = at(proc, dirfd, path)
    os.mkdir(p, mode & 0o7777, dir_fd=dfd)
    return 0


@syscall("mknodat", "fd s o x")
def sys_mknodat(proc, dirfd, path, mode, dev):
    p, dfd = at(proc, dirfd, path)
    os.mknod(p, mode, dev, dir_fd=dfd)
    return 0


@syscall("renameat", "fd s fd s")
def sys_renameat(proc, olddirfd, oldpath, newdirfd, newpath):
    a, adfd = at(proc, olddirfd, oldpath)
    b, bdfd = at(proc, newdirfd, newpath)
    os.rename(a, b, src_dir_fd=adfd, dst_dir_fd=bdfd)
    return 0


@syscall("renameat2", "fd s fd s x")
def sys_renameat2(proc, olddirfd, oldpath, newdirfd, newpath, flags):
    RENAME_NOREPLACE = 1
    if flags & ~RENAME_NOREPLACE:
        return proc.err("EINVAL")
    if flags & RENAME_NOREPLACE:
        b, bdfd = at(proc, newdirfd, newpath)
        try:
            os.stat(b, dir_fd=bdfd, follow_symlinks=False)
            return proc.err("EEXIST")
        except FileNotFoundError:
            pass
    return sys_renameat(proc, olddirfd, oldpath, newdirfd, newpath)


@syscall("symlinkat", "s fd s")
def sys_symlinkat(proc, target, newdirfd, linkpath):
    p, dfd = at(proc, newdirfd, linkpath)
    os.symlink(proc.read_cstr(target), p, dir_fd=dfd)
    return 0


@syscall("linkat", "fd s fd s x")
def sys_linkat(proc, olddirfd, oldpath, newdirfd, newpath, flags):
    a, adfd = at(proc, olddirfd, oldpath)
    b, bdfd = at(proc, newdirfd, newpath)
    os.link(a, b, src_dir_fd=adfd, dst_dir_fd=bdfd, follow_symlinks=atflag(proc, flags, "AT_SYMLINK_FOLLOW"))
    return 0


@syscall("fchmod", "fd o")
def sys_fchmod(proc, fd, mode):
    os.chmod(s32(fd), mode & 0o7777)
    return 0


@syscall("fchmodat", "fd s o")
def sys_fchmodat(proc, dirfd, path, mode):
    p, dfd = at(proc, dirfd, path)
    os.chmod(p, mode & 0o7777, dir_fd=dfd)
    return 0


@syscall("fchown", "fd d d")
def sys_fchown(proc, fd, uid, gid):
    os.chown(s32(fd), s32(uid), s32(gid))
    return 0


@syscall("fchownat", "fd s d d x")
def sys_fchownat(proc, dirfd, path, uid, gid, flags):
    if atflag(proc, flags, "AT_EMPTY_PATH") and proc.read_cstr(path) == b"":
        return sys_fchown(proc, dirfd, uid, gid)
    p, dfd = at(proc, dirfd, path)
    os.chown(p, s32(uid), s32(gid), dir_fd=dfd, follow_symlinks=not atflag(proc, flags, "AT_SYMLINK_NOFOLLOW"))
    return 0


@syscall("utimensat", "fd s p x")
def sys_utimensat(proc, dirfd, path, times, flags):
    target = s32(dirfd) if path == 0 else None
    if target is None:
        p, dfd = at(proc, dirfd, path)
        st = os.stat(p, dir_fd=dfd, follow_symlinks=not atflag(proc, flags, "AT_SYMLINK_NOFOLLOW"))
    else:
        st = os.fstat(target)
    now = None
    if times == 0:
        ns = None
    else:
        a_s, a_ns, m_s, m_ns = struct.unpack("<qqqq", proc.read(times, 32))
        import time
        now = time.time_ns()

        def pick(sec, nsec, old):
            return now if nsec == UTIME_NOW else old if nsec == UTIME_OMIT else sec * 10**9 + nsec
        ns = (pick(a_s, a_ns, st.st_atime_ns), pick(m_s, m_ns, st.st_mtime_ns))
    if target is not None:
        os.utime(target, ns=ns) if ns else os.utime(target)
    else:
        kw = dict(dir_fd=dfd, follow_symlinks=not atflag(proc, flags, "AT_SYMLINK_NOFOLLOW"))
        os.utime(p, ns=ns, **kw) if ns else os.utime(p, **kw)
    return 0


@syscall("truncate", "s d")
def sys_truncate(proc, path, length):
    os.truncate(guest_path(proc, path), s64(length))
    return 0


@syscall("ftruncate", "fd d")
def sys_ftruncate(proc, fd, length):
    os.ftruncate(s32(fd), s64(length))
    return 0


@syscall("fsync", "fd")
def sys_fsync(proc, fd):
    os.fsync(s32(fd))
    return 0


@syscall("fdatasync", "fd")
def sys_fdatasync(proc, fd):
    os.fdatasync(s32(fd))
    return 0


@syscall("sync", "")
def sys_sync(proc):
    os.sync()
    return 0


@syscall("getcwd", "p u")
def sys_getcwd(proc, buf, size):
    cwd = os.getcwdb() + b"\0"
    if len(cwd) > size:
        return proc.err("ERANGE")
    proc.write(buf, cwd)
    return len(cwd)


@syscall("chdir", "s")
def sys_chdir(proc, path):
    os.chdir(guest_path(proc, path))
    return 0


@syscall("fchdir", "fd")
def sys_fchdir(proc, fd):
    os.fchdir(s32(fd))
    return 0


@syscall("umask", "o")
def sys_umask(proc, mask):
    return os.umask(mask & 0o777)


# -- descriptors ------------------------------------------------------------------------

@syscall("dup", "fd")
def sys_dup(proc, fd):
    new = os.dup(s32(fd))
    os.set_inheritable(new, True)
    _dup_virtual(proc, s32(fd), new)
    return new


def _dup_virtual(proc, old: int, new: int) -> None:
    """A duplicate shares the open file (and its position), as the kernel's."""
    vf = proc.vfiles.get(old)
    if vf is not None:
        proc.vfiles[new] = vf
    else:
        proc.vfiles.pop(new, None)


@syscall("dup3", "fd fd x")
def sys_dup3(proc, old, new, flags):
    if s32(old) == s32(new):
        return proc.err("EINVAL")
    cloexec = bool(flags & proc.arch.consts.OPEN_FLAGS["O_CLOEXEC"])
    proc.move_own_fd(s32(new))
    fd = os.dup2(s32(old), s32(new), inheritable=not cloexec)
    _dup_virtual(proc, s32(old), fd)
    return fd


@syscall("pipe2", "p oflags")
def sys_pipe2(proc, fds, flags):
    r, w = os.pipe2(open_flags_to_host(proc, flags))
    proc.write(fds, struct.pack("<ii", r, w))
    return 0


@syscall("fcntl", "fd i x")
def sys_fcntl(proc, fd, cmd, arg):
    F = proc.arch.consts.FCNTL
    fd = s32(fd)
    if cmd in (F["F_DUPFD"], F["F_DUPFD_CLOEXEC"]):
        hostcmd = host_fcntl.F_DUPFD if cmd == F["F_DUPFD"] else host_fcntl.F_DUPFD_CLOEXEC
        new = host_fcntl.fcntl(fd, hostcmd, s32(arg))
        _dup_virtual(proc, fd, new)
        return new
    if cmd == F["F_GETFD"]:
        return host_fcntl.fcntl(fd, host_fcntl.F_GETFD)
    if cmd == F["F_SETFD"]:
        return host_fcntl.fcntl(fd, host_fcntl.F_SETFD, arg & 1)
    if cmd == F["F_GETFL"]:
        return open_flags_to_guest(proc, host_fcntl.fcntl(fd, host_fcntl.F_GETFL))
    if cmd == F["F_SETFL"]:
        return host_fcntl.fcntl(fd, host_fcntl.F_SETFL, open_flags_to_host(proc, arg))
    if cmd in (F["F_GETLK"], F["F_SETLK"], F["F_SETLKW"]):
        # struct flock is identical on AArch64 and x86_64 (asm-generic, 32 bytes).
        hostcmd = {F["F_GETLK"]: host_fcntl.F_GETLK, F["F_SETLK"]: host_fcntl.F_SETLK,
                   F["F_SETLKW"]: host_fcntl.F_SETLKW}[cmd]
        res = host_fcntl.fcntl(fd, hostcmd, proc.read(arg, 32))
        proc.write(arg, res)
        return 0
    if cmd in (F.get("F_GETPIPE_SZ"), F.get("F_SETPIPE_SZ")):
        return host_fcntl.fcntl(fd, cmd, arg) if cmd == F["F_GETPIPE_SZ"] else host_fcntl.fcntl(fd, cmd, s32(arg))
    return proc.err("EINVAL")


def _host_ioc(direction: int, nr: int, size: int) -> int:
    """A 'T' ioctl number in Linux's generic encoding (x86, Arm and RISC-V
    hosts), for the requests Python's termios module does not name."""
    return direction << 30 | size << 16 | ord("T") << 8 | nr


_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _ioctl_ptpeer(proc, fd: int, flags: int) -> int:
    """The pty slave of master ``fd``, opened with open(2) ``flags``: a new
    descriptor, as from open."""
    peer = host_fcntl.ioctl(s32(fd), _host_ioc(_IOC_NONE, 0x41, 0), open_flags_to_host(proc, flags))
    return _inheritable_unless(proc, peer, flags)


def _by_value(host_req: int):
    """The handler of a request that takes a plain integer argument (a
    flag, a queue selector) and returns the host call's result."""
    return lambda proc, fd, arg: host_fcntl.ioctl(s32(fd), host_req, s32(arg))


# Guest ioctl request name -> (host request, bytes copied in, bytes copied
# out), or the handler of a request whose argument is a value, not a buffer.
IOCTLS = {
    "TCGETS": (termios.TCGETS, 0, 36),
    "TCSETS": (termios.TCSETS, 36, 0),
    "TCSETSW": (termios.TCSETSW, 36, 0),
    "TCSETSF": (termios.TCSETSF, 36, 0),
    "TIOCGWINSZ": (termios.TIOCGWINSZ, 0, 8),
    "TIOCSWINSZ": (termios.TIOCSWINSZ, 8, 0),
    "TIOCGPGRP": (termios.TIOCGPGRP, 0, 4),
    "TIOCSPGRP": (termios.TIOCSPGRP, 4, 0),
    "FIONREAD": (termios.FIONREAD, 0, 4),
    "FIONBIO": (termios.FIONBIO, 4, 0),
    "FIOCLEX": (termios.FIOCLEX, 0, 0),
    "FIONCLEX": (termios.FIONCLEX, 0, 0),
    # a /dev/ptmx master: glibc's ptsname, unlockpt, openpty
    "TIOCGPTN": (_host_ioc(_IOC_READ, 0x30, 4), 0, 4),
    "TIOCSPTLCK": (_host_ioc(_IOC_WRITE, 0x31, 4), 4, 0),
    "TIOCGPTLCK": (_host_ioc(_IOC_READ, 0x39, 4), 0, 4),
    "TIOCGPTPEER": _ioctl_ptpeer,
    # controlling terminals and queues: login_tty (forkpty), tcdrain,
    # tcflush, tcflow, tcsendbreak
    "TIOCSCTTY": _by_value(termios.TIOCSCTTY),
    "TIOCNOTTY": (termios.TIOCNOTTY, 0, 0),
    "TIOCGSID": (_host_ioc(_IOC_NONE, 0x29, 0), 0, 4),
    "TIOCOUTQ": (termios.TIOCOUTQ, 0, 4),
    "TIOCEXCL": (termios.TIOCEXCL, 0, 0),
    "TIOCNXCL": (termios.TIOCNXCL, 0, 0),
    "TCSBRK": _by_value(termios.TCSBRK),
    "TCXONC": _by_value(termios.TCXONC),
    "TCFLSH": _by_value(termios.TCFLSH),
}


@syscall("ioctl", "fd x x")
def sys_ioctl(proc, fd, request, arg):
    names = proc.ioctl_names
    name = names.get(request & 0xFFFFFFFF)
    if name not in IOCTLS:
        return proc.err("ENOTTY")
    if callable(IOCTLS[name]):
        return IOCTLS[name](proc, fd, arg)
    host_req, size_in, size_out = IOCTLS[name]
    buf = proc.read(arg, max(size_in, size_out)) if (size_in or size_out) else b""
    res = host_fcntl.ioctl(s32(fd), host_req, buf if buf else 0)
    if size_out:
        proc.write(arg, res[:size_out])
    return 0


SPLICE_F_NONBLOCK = 0x02    # include/linux/splice.h: the same on every architecture
libc.tee.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint)
libc.tee.restype = ctypes.c_ssize_t
libc.vmsplice.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint)
libc.vmsplice.restype = ctypes.c_ssize_t


def _pipe_transfer(proc, flags: int, fds: tuple[int, ...], waits: list[tuple[int, int]], move):
    """splice, tee and vmsplice as the host runs them with SPLICE_F_NONBLOCK,
    never blocking the CPU thread (host signals are blocked there): where
    the kernel would wait (``move()`` raises EAGAIN), a call the guest made
    blocking (no SPLICE_F_NONBLOCK, no O_NONBLOCK on ``fds``) waits in the
    scheduler for the first of ``waits`` (fd, poll events) not ready and runs
    again (EINTR, or a restart under SA_RESTART, as the kernel's)."""
    try:
        return move()
    except BlockingIOError:
        if flags & SPLICE_F_NONBLOCK or any(host_fcntl.fcntl(fd, host_fcntl.F_GETFL) & os.O_NONBLOCK
                                            for fd in fds):
            raise
        pending = [w for w in waits if not ready([w])] or waits[-1:]
        proc.sched.block_io(pending[:1], sa_restart=True)
        return NORETURN


@syscall("splice", "fd p fd p u x")
def sys_splice(proc, fd_in, off_in, fd_out, off_out, length, flags):
    """The host's splice; it waits for input, else for room (_pipe_transfer)."""
    fd_in, fd_out = s32(fd_in), s32(fd_out)
    oi = struct.unpack("<q", proc.read(off_in, 8))[0] if off_in else None
    oo = struct.unpack("<q", proc.read(off_out, 8))[0] if off_out else None
    n = _pipe_transfer(proc, flags, (fd_in, fd_out), [(fd_in, select.POLLIN), (fd_out, select.POLLOUT)],
                       lambda: os.splice(fd_in, fd_out, length, oi, oo, flags | SPLICE_F_NONBLOCK))
    if n is NORETURN:
        return n
    if off_in:
        proc.write(off_in, struct.pack("<q", oi + n))
    if off_out:
        proc.write(off_out, struct.pack("<q", oo + n))
    return n


@syscall("tee", "fd fd u x")
def sys_tee(proc, fd_in, fd_out, length, flags):
    """The host's tee (pipe to pipe, the input left unread); it waits for
    input, else for room (_pipe_transfer); no reader: EPIPE and SIGPIPE."""
    fd_in, fd_out = s32(fd_in), s32(fd_out)
    return _write(proc, lambda: _pipe_transfer(
        proc, flags, (fd_in, fd_out), [(fd_in, select.POLLIN), (fd_out, select.POLLOUT)],
        lambda: libc_call(libc.tee, fd_in, fd_out, length, flags | SPLICE_F_NONBLOCK)))


@syscall("vmsplice", "fd p u x")
def sys_vmsplice(proc, fd, iov, nr_segs, flags):
    """Guest memory into a pipe (its write end) or out of one (its read end,
    as readv), with the kernel's answers for bad buffers: into a pipe, the
    bytes before the first bad one (EFAULT when none); out of one, the host
    kernel's copy into the guest's buffers in place, which leaves in the
    pipe what it could not copy (guestmem.io_buffers).  Into a pipe, the
    host's vmsplice references the pages it is given rather than copying
    them, so it is given a private copy of the guest's bytes in a mapping
    unmapped right after the call: the pipe holds the only reference, and
    the reader gets the bytes as they were at the call (SPLICE_F_GIFT is a
    hint the kernel may ignore, and here does).  No reader: EPIPE and SIGPIPE."""
    import mmap
    fd = s32(fd)
    vecs = [(base, length) for base, length in iovecs(proc, iov, nr_segs) if length]
    if not vecs:
        return 0
    mode = host_fcntl.fcntl(fd, host_fcntl.F_GETFL) & os.O_ACCMODE
    if mode == os.O_RDONLY:
        views, copies = proc.io_buffers(vecs, True, MAX_IO)
        views = views[:IOV_MAX]
        iov_out = host_iov(views)
        n = _pipe_transfer(proc, flags, (fd,), [(fd, select.POLLIN)],
                           lambda: libc_call(libc.vmsplice, fd, iov_out, len(views), flags | SPLICE_F_NONBLOCK))
        if n is not NORETURN and copies:
            proc.copy_back(views, copies, n)
        return n
    data = proc.read_good(vecs, MAX_IO)
    if not data:
        return proc.err("EFAULT")

    def move():
        m = mmap.mmap(-1, len(data))
        m.write(data)
        view = ctypes.c_char.from_buffer(m)
        try:
            one = (ctypes.c_void_p * 2)(ctypes.addressof(view), len(data))
            return libc_call(libc.vmsplice, fd, one, 1, flags | SPLICE_F_NONBLOCK)
        finally:
            del view            # the mapping closes only without exported pointers
            m.close()
    return _write(proc, lambda: _pipe_transfer(proc, flags, (fd,), [(fd, select.POLLOUT)], move))


@syscall("sendfile", "fd fd p u")
def sys_sendfile(proc, out_fd, in_fd, offset, count):
    if offset:
        off = struct.unpack("<q", proc.read(offset, 8))[0]
        n = os.sendfile(s32(out_fd), s32(in_fd), off, count)
        proc.write(offset, struct.pack("<q", off + n))
        return n
    return os.sendfile(s32(out_fd), s32(in_fd), None, count)


@syscall("copy_file_range", "fd p fd p u x")
def sys_copy_file_range(proc, fd_in, off_in, fd_out, off_out, length, flags):
    oi = struct.unpack("<q", proc.read(off_in, 8))[0] if off_in else None
    oo = struct.unpack("<q", proc.read(off_out, 8))[0] if off_out else None
    n = os.copy_file_range(s32(fd_in), s32(fd_out), length, oi, oo)
    if off_in:
        proc.write(off_in, struct.pack("<q", oi + n))
    if off_out:
        proc.write(off_out, struct.pack("<q", oo + n))
    return n


# -- polling ------------------------------------------------------------------------------

def _timeout_ms(proc, ts_addr) -> int | None:
    if ts_addr == 0:
        return None
    sec, nsec = struct.unpack("<qq", proc.read(ts_addr, 16))
    return max(0, sec * 1000 + (nsec + 999_999) // 1_000_000)


def _write_remaining(proc, ts_addr, ms: int | None, started: float) -> None:
    """The kernel writes the time left back into a ppoll/pselect6 timeout
    (zero after a timeout); glibc's select() passes it on to its caller."""
    import time
    if ts_addr == 0 or ms is None:
        return
    left_ns = max(0, ms * 1_000_000 - int((time.monotonic() - started) * 1e9))
    proc.write(ts_addr, struct.pack("<qq", left_ns // 10**9, left_ns % 10**9))


def _block(proc, io: list, ms: int | None, **kw) -> None:
    """The calling thread waits in the scheduler, never in a blocking host
    call (where host signals are blocked), for ``io`` or the timeout.  A
    signal ends the wait with EINTR, SA_RESTART or not, as in the kernel."""
    import time
    proc.sched.block_io(io, None if ms is None else time.monotonic() + ms / 1000, timeout_result=0, **kw)


def _read_sigmask(proc, addr: int, size: int) -> int | None:
    """A ppoll/pselect6/epoll_pwait signal mask argument (None: no mask)."""
    if not addr:
        return None
    if size != 8:
        raise GuestErrno("EINVAL")
    return struct.unpack("<Q", proc.read(addr, 8))[0]


def _signal_pending(proc) -> bool:
    """Whether a signal the running thread does not block is pending for it."""
    proc.take_host_signals()
    tid, blocked = proc.sched.current.tid, proc.signals.blocked
    return any(p.tid in (None, tid) and not blocked >> (p.signo - 1) & 1 for p in proc.signals.pending)


def _wait_for(proc, check, finish, io: list, ms: int | None, tmo: int = 0, started: float = 0.0,
              mask: int | None = None, interrupted=None):
    """A poll-like syscall: ``check()`` says what is ready now (without
    waiting); ``finish(ready)`` writes the results and returns the count,
    at once when something is ready or there is no time to wait, else when
    something becomes ready or, with nothing, at the timeout.  ``mask`` is
    the signal mask in force meanwhile: a signal it lets in ends the wait
    with EINTR (even a zero one) and its handler runs with that mask; any
    other end of the call restores the thread's own mask.  ``interrupted()``
    writes what the call leaves behind on EINTR (ppoll: revents all zero)."""
    if mask is not None:
        sigs = proc.signals
        proc.sched.current.saved_mask = sigs.blocked
        sigs.blocked = mask & ~((1 << (sigs.numbers["SIGKILL"] - 1)) | (1 << (sigs.numbers["SIGSTOP"] - 1)))
    ready = check()
    if ready or (ms == 0 and not (mask is not None and _signal_pending(proc))):
        proc.restore_saved_mask()
        return finish(ready)

    def resume():
        ready = check()
        return finish(ready) if ready else None

    def on_signal():
        if interrupted is not None:
            interrupted()
        _write_remaining(proc, tmo, ms, started)
        return None
    _block(proc, io, ms, resume=resume, on_timeout=lambda: finish(check()), on_signal=on_signal)
    return NORETURN


@syscall("ppoll", "p u p p u")
def sys_ppoll(proc, fds, nfds, tmo, sigmask, sigsetsize):
    import time
    lay = proc.layout("pollfd")
    raw = proc.read(fds, lay.size * nfds)
    entries = [lay.unpack(raw[i * lay.size:]) for i in range(nfds)]
    ms = _timeout_ms(proc, tmo)
    started = time.monotonic()

    def check():
        p = select.poll()
        for e in entries:
            if e["fd"] >= 0:
                p.register(e["fd"], e["events"] & 0xFFFF)
        return dict(p.poll(0))

    def finish(ready):
        out = b""
        n = 0
        for e in entries:
            rev = ready.get(e["fd"], 0) if e["fd"] >= 0 else 0
            n += bool(rev)
            out += lay.pack(fd=e["fd"], events=e["events"], revents=rev if rev < 0x8000 else rev - 0x10000)
        proc.write(fds, out)
        _write_remaining(proc, tmo, ms, started)
        return n

    io = [(e["fd"], e["events"] & 0xFFFF) for e in entries if e["fd"] >= 0]
    # On EINTR the kernel still copies the (all zero) revents out; select
    # leaves its sets alone.
    return _wait_for(proc, check, finish, io, ms, tmo, started, _read_sigmask(proc, sigmask, sigsetsize),
                     interrupted=lambda: finish({}))


@syscall("pselect6", "i p p p p p")
def sys_pselect6(proc, nfds, rfds, wfds, efds, tmo, sigmask):
    import time
    nbytes = ((nfds + 63) // 64) * 8

    def fdset(addr):
        if not addr:
            return []
        bits = int.from_bytes(proc.read(addr, nbytes), "little")
        return [i for i in range(nfds) if bits >> i & 1]

    sets = [fdset(a) for a in (rfds, wfds, efds)]
    ms = _timeout_ms(proc, tmo)
    started = time.monotonic()

    def check():
        ready = select.select(*sets, 0)
        return ready if any(ready) else None

    def finish(ready):
        # Nothing ready (the timeout): every set comes back empty.
        total = 0
        for addr, fds in zip((rfds, wfds, efds), ready or ([], [], [])):
            if addr:
                proc.write(addr, sum(1 << fd for fd in fds).to_bytes(nbytes, "little"))
                total += len(fds)
        _write_remaining(proc, tmo, ms, started)
        return total

    io = [(fd, ev) for fds, ev in zip(sets, (select.POLLIN, select.POLLOUT, select.POLLPRI)) for fd in fds]
    # The sixth argument points to {const sigset_t *ss; size_t ss_len}.
    mask = _read_sigmask(proc, *struct.unpack("<QQ", proc.read(sigmask, 16))) if sigmask else None
    return _wait_for(proc, check, finish, io, ms, tmo, started, mask)


@syscall("eventfd2", "u x")
def sys_eventfd2(proc, initval, flags):
    return os.eventfd(initval & 0xFFFFFFFF, open_flags_to_host(proc, flags))


@syscall("epoll_create1", "x")
def sys_epoll_create1(proc, flags):
    ep = select.epoll(flags=0)
    fd = _inheritable_unless(proc, ep.fileno(), flags)
    proc.epolls[fd] = (ep, {})
    return fd


@syscall("epoll_ctl", "fd i fd p")
def sys_epoll_ctl(proc, epfd, op, fd, event):
    entry = proc.epolls.get(s32(epfd))
    if entry is None:
        return proc.err("EBADF")
    ep, data = entry
    fd = s32(fd)
    lay = proc.layout("epoll_event")
    ev = lay.unpack(proc.read(event, lay.size)) if event else {"events": 0, "data": 0}
    if op == 1:
        ep.register(fd, ev["events"])
    elif op == 2:
        ep.unregister(fd)
    elif op == 3:
        ep.modify(fd, ev["events"])
    else:
        return proc.err("EINVAL")
    data[fd] = ev["data"]
    return 0


@syscall("epoll_pwait", "fd p i i p u")
def sys_epoll_pwait(proc, epfd, events, maxevents, timeout, sigmask, sigsetsize):
    entry = proc.epolls.get(s32(epfd))
    if entry is None:
        return proc.err("EBADF")
    ep, data = entry
    t = s32(timeout)
    lay = proc.layout("epoll_event")

    def finish(ready):
        proc.write(events, b"".join(lay.pack(events=ev, data=data.get(fd, 0)) for fd, ev in ready))
        return len(ready)
    return _wait_for(proc, lambda: ep.poll(0, max(1, s32(maxevents))), finish, [(s32(epfd), select.POLLIN)],
                     None if t < 0 else t, mask=_read_sigmask(proc, sigmask, sigsetsize))


# -- advice and locks ---------------------------------------------------------------------

@syscall("flock", "fd x")
def sys_flock(proc, fd, op):
    import fcntl as f
    host = {1: f.LOCK_SH, 2: f.LOCK_EX, 8: f.LOCK_UN}.get(op & ~4)   # LOCK_NB is 4 everywhere
    if host is None:
        return proc.err("EINVAL")
    f.flock(s32(fd), host | (f.LOCK_NB if op & 4 else 0))
    return 0


@syscall("fallocate", "fd i d d")
def sys_fallocate(proc, fd, mode, offset, length):
    if mode:
        return proc.err("EOPNOTSUPP")
    os.posix_fallocate(s32(fd), s64(offset), s64(length))
    return 0


@syscall("fadvise64", "fd d d i")
def sys_fadvise64(proc, fd, offset, length, advice):
    os.fstat(s32(fd))               # EBADF for a bad descriptor, as the kernel
    return 0


@syscall("sync_file_range", "fd d d x")
def sys_sync_file_range(proc, fd, offset, nbytes, flags):
    os.fdatasync(s32(fd))
    return 0


@syscall("syncfs", "fd")
def sys_syncfs(proc, fd):
    os.sync()
    return 0
