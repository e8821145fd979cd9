"""A text stream on a descriptor tcgpy owns (its log, its own stderr).

Guest descriptors are host descriptors, so a guest can close, reuse or
dup2 over any number.  tcgpy's streams therefore sit above the numbers a
guest allocates from (forkshare.FD_MIN), are hidden from it (a closed
number to its syscalls, absent from /proc/self/fd), and write through a
plain ``fd`` attribute that LinuxProcess.move_own_fd renumbers when the
guest dup2s onto it.  A write that fails is dropped: a log must never be
the reason a guest dies -- except a write to a pipe nobody reads any more,
which ends tcgpy by SIGPIPE as the same write ends qemu-user (``-strace
prog 2>&1 | head``).
"""
from __future__ import annotations

import os
import signal

from .forkshare import move_high
from .hostsig import kill_self


class OwnFile:
    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def dup_of(cls, fd: int) -> "OwnFile | None":
        """A private, high, close-on-exec copy of ``fd`` (None if it is not open)."""
        try:
            return cls(move_high(os.dup(fd)))
        except OSError:
            return None

    def write(self, text: str) -> int:
        data = text.encode(errors="backslashreplace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except BrokenPipeError:
            kill_self(signal.SIGPIPE)
        except OSError:
            pass
        return len(text)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)
