"""The guest-thread scheduler's decisions, checked on a loaded process
(no guest code runs): which signal sends hand the CPU to a waiting thread
at the next block boundary instead of at the end of the time slice."""
from __future__ import annotations

from pathlib import Path

import pytest

from tcgpy import Emulator
from tcgpy.ir.ops import EXIT_REQUESTED
from tcgpy.linux.aarch64 import LINUX_ARCH
from tcgpy.linux.process import LinuxProcess, Options
from tcgpy.linux.syscalls.signal import sys_kill, sys_tgkill

BIN = Path(__file__).resolve().parent / "guest" / "bin"
SIGUSR1 = 10


@pytest.fixture
def two_threads():
    """A process whose main thread runs and whose second thread waits in a
    sigwait-style check (it blocks SIGUSR1, as sigwait requires)."""
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options())
    proc.load(str(BIN / "libc_hello"), [b"libc_hello"], [])
    other = proc.sched.spawn(0, None, 0)
    other.blocked = 1 << (SIGUSR1 - 1)
    other.waiting = "check"
    other.resume = lambda: None
    emu.env.exit_request = 0
    proc.sched.need_resched = False
    return proc, other


def switch_asked(proc) -> bool:
    return proc.sched.need_resched and proc.emu.env.exit_request == EXIT_REQUESTED


def test_tgkill_to_a_waiting_thread_switches_at_the_next_block(two_threads):
    proc, other = two_threads
    assert sys_tgkill(proc, proc.pid, other.tid, SIGUSR1) == 0
    assert switch_asked(proc)
    assert [p.tid for p in proc.signals.pending] == [other.tid]


def test_tgkill_to_a_running_thread_waits_for_the_slice(two_threads):
    proc, other = two_threads
    other.waiting, other.resume = None, None
    sys_tgkill(proc, proc.pid, other.tid, SIGUSR1)
    assert not switch_asked(proc)


def test_kill_of_the_process_switches_only_when_the_sender_blocks_it(two_threads):
    proc, other = two_threads
    sys_kill(proc, proc.pid, SIGUSR1)
    assert not switch_asked(proc)           # the sender takes it on its way out
    proc.signals.pending.clear()
    proc.signals.blocked |= 1 << (SIGUSR1 - 1)
    sys_kill(proc, proc.pid, SIGUSR1)
    assert switch_asked(proc)


def test_late_sigchld_of_a_child_reaped_at_the_default_is_discarded():
    """The kernel discards a SIGCHLD while SIGCHLD is at its default.  When
    the host's reaches the signal watcher only after the guest reaped that
    child and installed a handler (a loaded machine: the watcher thread runs
    late), it must not reach the handler (libc_events failed so once); the
    SIGCHLD of a child reaped under a handler still does."""
    import os
    import struct
    from tcgpy.linux.hostsig import SignalWatcher
    from tcgpy.linux.signals import SigAction
    from tcgpy.linux.syscalls.proc import sys_wait4
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options())
    watcher = SignalWatcher(proc)          # not started: forward() is called as the thread would
    chld = proc.signals.numbers["SIGCHLD"]

    def exited_child() -> tuple[int, bytes]:
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        while not os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT):
            pass
        return pid, struct.pack("<iiiiiii", 17, 0, 1, 0, pid, os.getuid(), 7).ljust(128, b"\0")

    pid, info = exited_child()
    assert sys_wait4(proc, pid, 0, 0, 0) == pid               # reaped at SIGCHLD's default
    proc.signals.actions[chld] = SigAction(0x1000, 0, 0, 0)   # then a handler
    watcher.forward(17, info)                                 # ... and the host's SIGCHLD, late
    assert not proc.signals.host_queue
    pid, info = exited_child()
    assert sys_wait4(proc, pid, 0, 0, 0) == pid               # reaped under the handler
    watcher.forward(17, info)
    assert len(proc.signals.host_queue) == 1
