"""Path translation for syscalls: a guest path argument becomes a host
path (the sysroot of ``-L``, the guest's own /proc entries) and, for the
*at calls, a host directory descriptor."""
from __future__ import annotations

import os

from .. import procfs
from ..errnos import GuestErrno
from ..procfs import Entry
from .args import s32


def _resolve(proc, path: bytes, dfd: int | None, follow: bool) -> tuple[bytes, int | None, Entry | None]:
    """(host path, dir_fd, the /proc/<pid> entry it names or None).  The
    guest's own /proc directory is the guest's (procfs.py): its exe is the
    guest program, tcgpy's descriptors are not in its fd/, what shows host
    memory is refused, and so is another process's memory."""
    entry = procfs.lookup(path, dfd, follow)
    if entry is None:
        return path, dfd, None
    if not entry.own:
        if entry.rest == "mem":
            raise GuestErrno("EACCES")
        return path, dfd, None
    if entry.fd is not None and entry.fd in proc.own_fds():
        raise GuestErrno("ENOENT")
    refused = procfs.REFUSED.get(entry.rest.split("/", 1)[0])
    if refused is not None:
        raise GuestErrno(refused)
    if entry.rest == "exe" and follow:
        return os.fsencode(proc.exe_path), None, entry
    return path, dfd, entry


def guest_path(proc, addr: int, follow: bool = True) -> bytes:
    """The host path for a syscall's guest path argument."""
    return _resolve(proc, proc.host_path(proc.read_cstr(addr)), None, follow)[0]


def at(proc, dirfd: int, addr: int, follow: bool = True) -> tuple[bytes, int | None]:
    """(host path, dir_fd or None) for a *at syscall's (dirfd, path)."""
    return at_entry(proc, dirfd, addr, follow)[:2]


def at_entry(proc, dirfd: int, addr: int, follow: bool = True) -> tuple[bytes, int | None, Entry | None]:
    path = proc.host_path(proc.read_cstr(addr))
    fd = s32(dirfd)
    if path.startswith(b"/") or fd == proc.arch.consts.AT_FLAGS["AT_FDCWD"]:
        fd = None
    elif fd in proc.own_fds():
        raise GuestErrno("EBADF")
    return _resolve(proc, path, fd, follow)


def atflag(proc, flags: int, name: str) -> bool:
    """Whether ``flags`` has the guest's AT_* flag ``name``."""
    return bool(flags & proc.arch.consts.AT_FLAGS[name])
