"""A host signal that arrived before a syscall is delivered before it, as
Linux delivers a signal that comes while user code runs: its handler
returns to the syscall instruction, and only then does the syscall run.
Checked on a loaded process (no guest code runs), with the signal put
where the watcher thread (hostsig.py) puts it: queued before the syscall,
or still on its way when the syscall drains the host's signals."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tcgpy import Emulator
from tcgpy.linux.aarch64 import LINUX_ARCH
from tcgpy.linux.process import LinuxProcess, Options
from tcgpy.linux.signals import SIG_DFL, SigAction

BIN = Path(__file__).resolve().parent / "guest" / "bin"
SIGALRM = 14
HANDLER = 0x400100
SVC = 0x400200              # the syscall instruction; pc is after it at the exit
TIMER_INFO = struct.pack("<iii", SIGALRM, 0, 0x80).ljust(128, b"\0")     # SI_KERNEL


class _Watcher:
    """What the syscall layer asks of hostsig.SignalWatcher: drain(), here
    forwarding the signal that was on its way."""

    def __init__(self, proc, late: bytes | None):
        self.proc, self.late = proc, late

    def drain(self) -> None:
        if self.late is not None:
            self.proc.signals.host_queue.append(self.late)
            self.late = None


@pytest.fixture
def proc():
    emu = Emulator("aarch64")
    p = LinuxProcess(emu, LINUX_ARCH, Options())
    p.load(str(BIN / "libc_hello"), [b"libc_hello"], [])
    p.signals.actions[SIGALRM] = SigAction(HANDLER)
    return p


def _sigaction_to_default(proc) -> None:
    """Registers as at the exit of ``rt_sigaction(SIGALRM, {SIG_DFL}, NULL, 8)``."""
    emu = proc.emu
    act = (emu.reg_read("sp") - 0x400) & ~15
    emu.mem_write(act, proc.layout("sigaction").pack(sa_handler=SIG_DFL, sa_flags=0, sa_mask=0, sa_restorer=0))
    for reg, value in (("x8", LINUX_ARCH.nr("rt_sigaction")), ("x0", SIGALRM), ("x1", act), ("x2", 0),
                       ("x3", 8), ("pc", SVC + 4)):
        emu.reg_write(reg, value)


@pytest.mark.parametrize("when", ["queued", "draining"])
def test_signal_before_a_sigaction_runs_its_handler_first(proc, when):
    proc.watcher = _Watcher(proc, TIMER_INFO if when == "draining" else None)
    if when == "queued":
        proc.signals.host_queue.append(TIMER_INFO)
    _sigaction_to_default(proc)
    proc.on_syscall(proc.emu)
    assert proc.emu.reg_read("pc") == HANDLER
    assert proc.signals.actions[SIGALRM].handler == HANDLER      # not yet changed
    # the handler's frame returns to the syscall instruction, which then runs
    assert proc.arch.sigframe.restore_rt_frame(proc.emu) is not None
    assert proc.emu.reg_read("pc") == SVC
    proc.emu.reg_write("pc", SVC + 4)
    proc.on_syscall(proc.emu)
    assert proc.emu.reg_read("x0") == 0
    assert proc.signals.actions[SIGALRM].handler == SIG_DFL


def test_nothing_deliverable_the_syscall_runs_at_once(proc):
    proc.watcher = _Watcher(proc, None)
    proc.signals.blocked |= 1 << (SIGALRM - 1)
    proc.signals.host_queue.append(TIMER_INFO)
    _sigaction_to_default(proc)
    proc.on_syscall(proc.emu)
    assert proc.emu.reg_read("pc") == SVC + 4
    assert proc.emu.reg_read("x0") == 0
    assert proc.signals.actions[SIGALRM].handler == SIG_DFL
    assert [s.signo for s in proc.signals.pending] == [SIGALRM]     # blocked: it waits


def test_sigpending_sees_a_signal_the_watcher_has_not_taken_yet(proc):
    """A blocked timer signal the host generated is pending, however late
    the watcher thread runs (libc_edge sigmask: ``sigpending`` right after a
    wait that outlasted the alarm missed it once on a loaded machine)."""
    proc.watcher = _Watcher(proc, TIMER_INFO)
    proc.signals.blocked |= 1 << (SIGALRM - 1)
    emu = proc.emu
    setp = (emu.reg_read("sp") - 0x400) & ~15
    for reg, value in (("x8", LINUX_ARCH.nr("rt_sigpending")), ("x0", setp), ("x1", 8), ("pc", SVC + 4)):
        emu.reg_write(reg, value)
    proc.on_syscall(emu)
    assert emu.reg_read("x0") == 0
    assert struct.unpack("<Q", emu.mem_read(setp, 8))[0] == 1 << (SIGALRM - 1)
