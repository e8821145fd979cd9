"""Descriptors the kernel makes for events and anonymous files: memfd,
timerfd, inotify.  The host's own objects serve the guest directly (guest
descriptors are host descriptors); their flags (MFD_*, TFD_*, IN_*) and
the structures read from them (struct inotify_event, struct itimerspec,
u64 expiry counts) are the same bytes on every 64-bit Linux architecture.
Blocking reads wait in the scheduler like any other read (threads.py)."""
from __future__ import annotations

import ctypes
import os

from .args import s32
from .hostlibc import libc, libc_call
from .paths import guest_path
from .table import syscall

ITIMERSPEC = 32         # two struct timespec


@syscall("memfd_create", "s x")
def sys_memfd_create(proc, name, flags):
    return os.memfd_create(proc.read_cstr(name, 250), flags)


@syscall("timerfd_create", "i x")
def sys_timerfd_create(proc, clockid, flags):
    return libc_call(libc.timerfd_create, s32(clockid), s32(flags))


@syscall("timerfd_settime", "fd x p p")
def sys_timerfd_settime(proc, fd, flags, new, old):
    new_buf = ctypes.create_string_buffer(proc.read(new, ITIMERSPEC), ITIMERSPEC)
    old_buf = ctypes.create_string_buffer(ITIMERSPEC)
    libc_call(libc.timerfd_settime, s32(fd), s32(flags), new_buf, old_buf)
    if old:
        proc.write(old, old_buf.raw)
    return 0


@syscall("timerfd_gettime", "fd p")
def sys_timerfd_gettime(proc, fd, cur):
    buf = ctypes.create_string_buffer(ITIMERSPEC)
    libc_call(libc.timerfd_gettime, s32(fd), buf)
    proc.write(cur, buf.raw)
    return 0


@syscall("inotify_init1", "x")
def sys_inotify_init1(proc, flags):
    return libc_call(libc.inotify_init1, s32(flags))


@syscall("inotify_add_watch", "fd s x")
def sys_inotify_add_watch(proc, fd, path, mask):
    return libc_call(libc.inotify_add_watch, s32(fd), guest_path(proc, path), ctypes.c_uint32(mask))


@syscall("inotify_rm_watch", "fd i")
def sys_inotify_rm_watch(proc, fd, wd):
    return libc_call(libc.inotify_rm_watch, s32(fd), s32(wd))
