"""The architecture-neutral syscall layer: one row per syscall (name,
handler, strace format), an explicit registry, dispatch through the
architecture's :class:`SyscallABI` (process.py); ``-strace`` output is
strace.py.

Handlers are ``sys_<name>(proc, *args) -> int`` taking the raw 64-bit
argument registers; they return a non-negative result or ``-errno`` in the
*guest's* numbering (``proc.err("ENOENT")``), or raise ``OSError`` from a host
call, which the dispatcher translates to the guest errno by name.  Syscall
numbers come from the generated per-architecture table: a handler registered
under a name the kernel does not have is an error found by the tests.
"""
from __future__ import annotations

import functools
from typing import Callable

from ...record import record


class NoReturn:
    """Returned by handlers that set up registers themselves (rt_sigreturn)."""


NORETURN = NoReturn()


@record(frozen=True)
class Syscall:
    name: str
    handler: Callable[..., object]
    # strace argument kinds, one per argument (see strace.fmt_arg); "ret" is the
    # kind of the result: "d" decimal, "x" address, "0" no interesting value.
    args: tuple[str, ...]
    ret: str = "d"

    @functools.cached_property
    def fd_args(self) -> tuple[int, ...]:
        """Which arguments are descriptors (kind "fd"): asked at every syscall."""
        return tuple(i for i, kind in enumerate(self.args) if kind == "fd")


class SyscallTable:
    """The explicit registry: name -> Syscall, filled by the topic modules of this package."""

    def __init__(self):
        self.rows: dict[str, Syscall] = {}

    def register(self, name: str, args: str = "", ret: str = "d"):
        def deco(fn):
            if name in self.rows:
                raise ValueError(f"syscall {name} registered twice")
            self.rows[name] = Syscall(name, fn, tuple(args.split()), ret)
            return fn
        return deco

    def alias(self, name: str, existing: str) -> None:
        row = self.rows[existing]
        self.rows[name] = Syscall(name, row.handler, row.args, row.ret)

    def for_arch(self, numbers: dict[str, int]) -> dict[int, Syscall]:
        return {numbers[name]: row for name, row in self.rows.items() if name in numbers}


TABLE = SyscallTable()
syscall = TABLE.register
