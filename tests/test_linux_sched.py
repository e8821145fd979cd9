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
from tcgpy.linux.sys_signal import sys_kill, sys_tgkill

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
