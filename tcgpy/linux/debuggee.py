"""A Linux process under gdb (``tcgpy run -g PORT``): the debuggee the
gdbstub (tcgpy/gdbstub.py) drives, as qemu-user's gdbstub drives its CPU
loop.  Guest faults stop the guest before their signal is delivered; gdb
says whether the signal is delivered (``continue`` passes SIGSEGV, as
``handle SIGSEGV pass`` by default) or dropped."""
from __future__ import annotations

import os
import struct
from typing import Callable

from .. import gdbstub
from ..errors import WatchpointHit
from .exits import ProcessExit, ProcessKilled
from .process import LinuxProcess
from .signals import PendingSignal

SI_USER = 0


class ForkedChild(Exception):
    """The guest forked and this is the child: the connection is the parent's."""


class LinuxDebuggee:
    def __init__(self, proc: LinuxProcess):
        self.proc = proc
        self.emu = proc.emu
        # gdb sees one thread stop at a time: threads take turns on one CPU
        # (threads.py), even on an engine that could run them in parallel.
        proc.sched.parallel = False
        # ... and every syscall comes back to Python, where gdb can stop it
        proc.debugged = True
        if proc.host_syscalls is not None:
            proc.host_syscalls.want(False)
        self.pending: PendingSignal | None = None    # a fault's signal, gdb not asked yet
        self.ended: BaseException | None = None      # the guest's ProcessExit / ProcessKilled
        self._pid = os.getpid()

    def resume(self, step: bool, signal: str | None, interrupted: Callable[[], bool]) -> gdbstub.Stop:
        proc = self.proc
        pending, self.pending = self.pending, None
        sigs = proc.signals
        try:
            if signal is not None:
                if pending is not None and sigs.name(pending.signo) == signal:
                    proc.deliver_fault(pending)
                elif signal in sigs.numbers:
                    signo = sigs.numbers[signal]
                    sigs.post(PendingSignal(signo, struct.pack("<iii", signo, 0, SI_USER).ljust(128, b"\0")))
                    proc.deliver_pending()
            while True:
                if interrupted():
                    return gdbstub.Stop("SIGINT")
                sig = proc.run_once(count=1 if step else None)
                if os.getpid() != self._pid:
                    raise ForkedChild()
                if sig is not None:
                    self.pending = sig
                    return gdbstub.Stop(sigs.name(sig.signo))
                if self.emu.hit_breakpoint is not None:
                    return gdbstub.Stop("SIGTRAP", breakpoint=True)
                if step and not proc.retried:
                    return gdbstub.Stop("SIGTRAP")
        except WatchpointHit as w:
            return gdbstub.Stop("SIGTRAP", watch=(w.kind, w.address))
        except ProcessExit as e:
            if os.getpid() != self._pid:
                raise
            self.ended = e
            return gdbstub.Stop(exit_status=e.status)
        except ProcessKilled as e:
            if os.getpid() != self._pid:
                raise
            self.ended = e
            return gdbstub.Stop(killed_by=sigs.name(e.signo))

    def threads(self) -> list[int]:
        return list(self.proc.sched.order)

    def current_thread(self) -> int:
        return self.proc.sched.current.tid

    def xfer(self, obj: str, annex: str) -> bytes | None:
        if obj == "auxv":
            return self.proc.auxv_bytes
        if obj == "exec-file":
            return os.fsencode(self.proc.exe_path)
        if obj == "siginfo" and self.pending is not None:
            return self.pending.siginfo
        return None


def run_with_gdb(proc: LinuxProcess, port: int) -> None:
    """``proc.run()`` with gdb in control: wait for it on ``port``, serve it
    until the guest ends (ProcessExit / ProcessKilled, as proc.run raises
    them) or gdb detaches (the guest then runs on by itself).  A ``kill``
    from gdb ends the guest as ProcessExit(0), as qemu-user exits 0."""
    srv = gdbstub.listen(port)
    dbg = LinuxDebuggee(proc)
    try:
        final = gdbstub.serve(dbg, srv)
    except ForkedChild:
        # The child of a guest fork runs undebugged, as gdb's default
        # "follow-fork-mode parent, detach-on-fork on" leaves it.
        _forget(proc.emu)
        final = None
    except gdbstub.Kill:
        proc.vfork_send()
        raise ProcessExit(0) from None
    if final is not None and dbg.ended is not None:
        proc.vfork_send()
        raise dbg.ended
    if dbg.pending is not None:
        proc.deliver_fault(dbg.pending)
    proc.debugged = False           # the guest runs on by itself
    proc.run()


def _forget(emu) -> None:
    emu.breakpoints.clear()
    gdbstub.forget_watchpoints(emu)
