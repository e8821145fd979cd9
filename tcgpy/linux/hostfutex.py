"""Futexes other processes can reach: a non-private futex operation on
memory shared with them (a MAP_SHARED mapping: a file, or shared anonymous
memory a fork passed on).  The guest's threads wait in their own process's
scheduler (threads.py), which another process's wake cannot reach; here the
wait and the wake are the host's futex calls on the host memory behind the
guest address, which the host kernel keys by the shared object, as it
does for native processes (process-shared POSIX semaphores, mutexes and
condition variables: Python's multiprocessing, for one).

A wait runs in the host's futex_wait in slices of ``SLICE`` seconds, so a
guest signal or the end of the process is seen between them: in the
syscall itself for a process with one thread, on a helper thread for the
scheduler of one with several (the others run meanwhile).
"""
from __future__ import annotations

import ctypes
import errno
import functools
import importlib
import threading
import time

FUTEX_WAKE_BITSET, FUTEX_WAIT_BITSET = 10, 9      # shared (not FUTEX_PRIVATE_FLAG) operations
SLICE = 0.02

_libc = ctypes.CDLL(None, use_errno=True)


@functools.lru_cache(maxsize=1)
def _sys_futex() -> int:
    """The host's futex syscall number: from the kernel constants of the
    target that is the host's architecture (the host runs Linux on one)."""
    from ..accel import host_arch
    from ..targets import lookup
    return importlib.import_module(lookup(host_arch()).linux).LINUX_ARCH.nr("futex")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def host_address(space, addr: int) -> int | None:
    """The host address of the guest futex word at ``addr`` when other
    processes can share it (a MAP_SHARED mapping whose host memory is
    shared), else None: a process-local futex."""
    v = space.find(addr)
    if v is None or not v.shared or v.hole or v.backing is None or v.backing.private:
        return None
    return v.backing.host + (addr - v.bbase)


def _futex(host: int, op: int, val: int, timeout, bitset: int) -> int:
    """The host's futex(2): its result, or -errno."""
    r = _libc.syscall(_sys_futex(), ctypes.c_void_p(host), op, ctypes.c_uint32(val),
                      timeout, None, ctypes.c_uint32(bitset))
    return r if r >= 0 else -ctypes.get_errno()


def wake(host: int, count: int, bitset: int) -> int:
    """Wake up to ``count`` waiters (of any process) on the host futex at ``host``."""
    r = _futex(host, FUTEX_WAKE_BITSET, min(count, 0x7FFFFFFF), None, bitset)
    return max(r, 0)


def wait_slice(host: int, val: int, bitset: int, seconds: float = SLICE) -> bool:
    """One slice of a wait: True once it has ended (woken, or the word no
    longer holds ``val``), False when the slice passed or a host signal
    came (look at the guest's signals and deadline, then wait on)."""
    end = time.clock_gettime(time.CLOCK_MONOTONIC) + seconds
    ts = _Timespec(int(end), int((end % 1) * 1e9))
    r = _futex(host, FUTEX_WAIT_BITSET, val, ctypes.byref(ts), bitset)
    return r == 0 or r == -errno.EAGAIN


class Waiter:
    """A helper thread in the host's futex_wait for a guest thread that
    waits in the scheduler: ``done`` once it was woken; ``notify`` is
    called then, so that the scheduler looks again."""

    def __init__(self, host: int, val: int, bitset: int, notify):
        self.done = False
        self._cancelled = False
        self._args = (host, val, bitset)
        self._notify = notify
        threading.Thread(target=self._run, name="tcgpy-futex", daemon=True).start()

    def _run(self) -> None:
        while not self._cancelled:
            if wait_slice(*self._args):
                self.done = True
                self._notify()
                return

    def cancel(self) -> None:
        """The guest thread waits no longer (timeout, signal): stop at the end of the slice."""
        self._cancelled = True
