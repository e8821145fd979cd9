"""The host libc's calls that Python's ``os`` module lacks (the socket
calls with addresses and messages, timerfd, inotify, tee, vmsplice),
through one ctypes handle, with libc's -1-and-errno turned into OSError."""
from __future__ import annotations

import ctypes
import os

# The process's own symbols, libc's among them (find_library would run
# ldconfig in a subprocess: 5 ms of every run).
libc = ctypes.CDLL(None, use_errno=True)


def libc_call(fn, *args) -> int:
    """A libc function that returns -1 and sets errno: its result, or OSError."""
    r = fn(*args)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
