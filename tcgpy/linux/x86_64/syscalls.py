"""x86-64's older syscalls, which the asm-generic table (AArch64's) never
had: each is its *at/2/3 successor with the default arguments, as the
kernel itself implements them (fs/open.c: ``open`` is ``openat(AT_FDCWD, ...)``)."""
from __future__ import annotations

import os
import struct
import time

from ..syscalls import fs as sys_fs, proc as sys_proc
from ..syscalls.table import syscall

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
ARCH_GET_CPUID, ARCH_SET_CPUID = 0x1011, 0x1012


def _fdcwd(proc) -> int:
    return proc.arch.consts.AT_FLAGS["AT_FDCWD"] & ((1 << 64) - 1)


def _nofollow(proc) -> int:
    return proc.arch.consts.AT_FLAGS["AT_SYMLINK_NOFOLLOW"]


@syscall("arch_prctl", "x x")
def sys_arch_prctl(proc, code, addr):
    emu = proc.emu
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        try:
            emu.reg_write("fs_base" if code == ARCH_SET_FS else "gs_base", addr)
        except ValueError:
            return proc.err("EPERM")
        return 0
    if code in (ARCH_GET_FS, ARCH_GET_GS):
        proc.write(addr, struct.pack("<Q", emu.reg_read("fs_base" if code == ARCH_GET_FS else "gs_base")))
        return 0
    if code == ARCH_GET_CPUID:
        return 1                        # cpuid does not fault
    return proc.err("EINVAL")


@syscall("open", "s oflags o")
def sys_open(proc, path, flags, mode):
    return sys_fs.sys_openat(proc, _fdcwd(proc), path, flags, mode)


@syscall("creat", "s o")
def sys_creat(proc, path, mode):
    o = proc.arch.consts.OPEN_FLAGS
    return sys_fs.sys_openat(proc, _fdcwd(proc), path, o["O_CREAT"] | o["O_WRONLY"] | o["O_TRUNC"], mode)


@syscall("stat", "s p")
def sys_stat(proc, path, buf):
    return sys_fs.sys_newfstatat(proc, _fdcwd(proc), path, buf, 0)


@syscall("lstat", "s p")
def sys_lstat(proc, path, buf):
    return sys_fs.sys_newfstatat(proc, _fdcwd(proc), path, buf, _nofollow(proc))


@syscall("access", "s o")
def sys_access(proc, path, mode):
    return sys_fs.sys_faccessat(proc, _fdcwd(proc), path, mode)


@syscall("readlink", "s p u")
def sys_readlink(proc, path, buf, size):
    return sys_fs.sys_readlinkat(proc, _fdcwd(proc), path, buf, size)


@syscall("unlink", "s")
def sys_unlink(proc, path):
    return sys_fs.sys_unlinkat(proc, _fdcwd(proc), path, 0)


@syscall("rmdir", "s")
def sys_rmdir(proc, path):
    return sys_fs.sys_unlinkat(proc, _fdcwd(proc), path, proc.arch.consts.AT_FLAGS["AT_REMOVEDIR"])


@syscall("mkdir", "s o")
def sys_mkdir(proc, path, mode):
    return sys_fs.sys_mkdirat(proc, _fdcwd(proc), path, mode)


@syscall("rename", "s s")
def sys_rename(proc, old, new):
    return sys_fs.sys_renameat(proc, _fdcwd(proc), old, _fdcwd(proc), new)


@syscall("link", "s s")
def sys_link(proc, old, new):
    return sys_fs.sys_linkat(proc, _fdcwd(proc), old, _fdcwd(proc), new, 0)


@syscall("symlink", "s s")
def sys_symlink(proc, target, path):
    return sys_fs.sys_symlinkat(proc, target, _fdcwd(proc), path)


@syscall("chmod", "s o")
def sys_chmod(proc, path, mode):
    return sys_fs.sys_fchmodat(proc, _fdcwd(proc), path, mode)


@syscall("chown", "s d d")
def sys_chown(proc, path, uid, gid):
    return sys_fs.sys_fchownat(proc, _fdcwd(proc), path, uid, gid, 0)


@syscall("lchown", "s d d")
def sys_lchown(proc, path, uid, gid):
    return sys_fs.sys_fchownat(proc, _fdcwd(proc), path, uid, gid, _nofollow(proc))


@syscall("mknod", "s o x")
def sys_mknod(proc, path, mode, dev):
    return sys_fs.sys_mknodat(proc, _fdcwd(proc), path, mode, dev)


@syscall("pipe", "p")
def sys_pipe(proc, fds):
    return sys_fs.sys_pipe2(proc, fds, 0)


@syscall("dup2", "fd i")
def sys_dup2(proc, old, new):
    if (old & 0xFFFFFFFF) == (new & 0xFFFFFFFF):
        os.fstat(old & 0xFFFFFFFF)          # EBADF for a closed descriptor, as dup2 checks
        return new & 0xFFFFFFFF
    return sys_fs.sys_dup3(proc, old, new, 0)


@syscall("poll", "p u d")
def sys_poll(proc, fds, nfds, timeout_ms):
    tmo = 0
    t = timeout_ms & 0xFFFFFFFF
    t = t - (1 << 32) if t >> 31 else t
    if t >= 0:
        tmo = _scratch_timespec(proc, t / 1000)
    return sys_fs.sys_ppoll(proc, fds, nfds, tmo, 0, 8)


@syscall("select", "d p p p p")
def sys_select(proc, nfds, rfds, wfds, efds, tv):
    tmo = 0
    if tv:
        sec, usec = struct.unpack("<qq", proc.read(tv, 16))
        tmo = _scratch_timespec(proc, sec + usec / 1e6)
    return sys_fs.sys_pselect6(proc, nfds, rfds, wfds, efds, tmo, 0)


def _scratch_timespec(proc, seconds: float) -> int:
    """A guest timespec for a converted timeout, just below the red zone of the guest's stack."""
    addr = (proc.emu.reg_read("rsp") - 256) & ~15
    sec = int(seconds)
    proc.write(addr, struct.pack("<qq", sec, int((seconds - sec) * 1e9)))
    return addr


@syscall("fork", "")
def sys_fork(proc):
    return sys_proc.sys_clone(proc, proc.arch.consts.SIGNALS["SIGCHLD"], 0, 0, 0, 0)


@syscall("vfork", "")
def sys_vfork(proc):
    CLONE_VM, CLONE_VFORK = 0x100, 0x4000
    return sys_proc.sys_clone(proc, CLONE_VM | CLONE_VFORK | proc.arch.consts.SIGNALS["SIGCHLD"], 0, 0, 0, 0)


@syscall("time", "p")
def sys_time(proc, tloc):
    now = int(time.time())
    if tloc:
        proc.write(tloc, struct.pack("<q", now))
    return now


@syscall("getpgrp", "")
def sys_getpgrp(proc):
    return os.getpgrp()


@syscall("epoll_create", "d")
def sys_epoll_create(proc, size):
    if (size & 0xFFFFFFFF) == 0 or size >> 31 & 1:
        return proc.err("EINVAL")
    return sys_fs.sys_epoll_create1(proc, 0)


@syscall("epoll_wait", "fd p d d")
def sys_epoll_wait(proc, epfd, events, maxevents, timeout):
    return sys_fs.sys_epoll_pwait(proc, epfd, events, maxevents, timeout, 0, 8)


@syscall("eventfd", "u")
def sys_eventfd(proc, initval):
    return sys_fs.sys_eventfd2(proc, initval, 0)


@syscall("alarm", "u")
def sys_alarm(proc, seconds):
    import signal as host_signal
    return host_signal.alarm(seconds & 0xFFFFFFFF)

