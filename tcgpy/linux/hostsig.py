"""Host signals for the guest.

The CPU thread runs JIT code with the GIL released, so a Python signal
handler would only run at the next syscall.  Instead the forwarded signals
are blocked in every thread and a watcher thread takes them with
sigwaitinfo() (through libc: Python's own sigwait loses si_value):
a signal whose guest disposition is the default fatal action kills the
process right away (wherever the CPU thread is, as the kernel would); one
with a guest handler is queued and the emulator is asked to return to
Python at the next block boundary, repeatedly until the CPU thread has
taken it.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import struct
import threading
import time

from .signals import SIG_DFL, SIG_IGN

FORWARDED = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM", "SIGCHLD",
             "SIGCONT", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGVTALRM", "SIGPROF",
             "SIGWINCH", "SIGIO", "SIGPWR")
POKE_INTERVAL = 0.002


_libc_signal = ctypes.CDLL(None, use_errno=True).signal
_libc_signal.argtypes = (ctypes.c_int, ctypes.c_void_p)


def set_disposition(host_signo: int, handler: int) -> None:
    """SIG_DFL or SIG_IGN for a host signal, from any thread (Python's
    signal.signal works only in the main one, and a guest thread on a vCPU
    of its own runs on a host thread of its own: threads.py)."""
    _libc_signal(host_signo, int(handler))


def kill_self(host_signo: int) -> None:
    """Die of ``host_signo`` with the default action and no core file."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    # SIGKILL's disposition cannot be changed (nor needs to be).
    if host_signo != signal.SIGKILL:
        set_disposition(host_signo, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {host_signo})
    signal.pthread_kill(threading.get_ident(), host_signo)
    time.sleep(0.05)
    os._exit(128 + host_signo)


SIGINFO = 128                   # sizeof(siginfo_t)


class _SigSet(ctypes.Structure):
    _fields_ = [("words", ctypes.c_uint64 * 16)]      # glibc's sigset_t


class _TimeSpec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class SignalWatcher:
    def __init__(self, proc):
        self.proc = proc
        # The real-time signals from glibc's SIGRTMIN (the two below it are
        # glibc's own, in tcgpy's process as in the guest's).
        self.host = ({int(getattr(signal, n)) for n in FORWARDED if hasattr(signal, n)}
                     | set(range(signal.SIGRTMIN, signal.SIGRTMAX + 1)))
        self.thread: threading.Thread | None = None
        self._set = _SigSet()
        for hs in self.host:
            self._set.words[(hs - 1) // 64] |= 1 << ((hs - 1) % 64)
        self._libc = ctypes.CDLL(None, use_errno=True)
        # held while a host signal is taken and forwarded: drain() then sees
        # every signal that arrived before it, forwarded or still pending
        self._forwarding = threading.Lock()

    def start(self, ignored: frozenset[int] = frozenset()) -> None:
        """Call on the main thread before the guest runs.  Signals ignored
        when tcgpy started (nohup, a shell's background job) stay ignored
        for the guest, as execve leaves them; so do the guest signals in
        ``ignored`` (those an exec'ing guest ignored: CPython sets SIGPIPE and
        SIGXFSZ to SIG_IGN at startup, so a host disposition cannot say)."""
        sigs = self.proc.signals
        for hs in self.host:
            g = sigs.from_host(hs)
            if g is not None and (g in ignored or signal.getsignal(hs) == signal.SIG_IGN):
                sigs.actions[g].handler = SIG_IGN
            signal.signal(hs, signal.SIG_DFL)
        for g in ignored - {sigs.from_host(hs) for hs in self.host}:
            sigs.actions[g].handler = SIG_IGN
        signal.pthread_sigmask(signal.SIG_BLOCK, self.host)
        self._spawn()

    def _spawn(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="tcgpy-signals", daemon=True)
        self.thread.start()

    def after_fork_child(self) -> None:
        # The parent's watcher thread may have held the lock when the CPU
        # thread forked: the child's copy would stay locked for ever.
        self._forwarding = threading.Lock()
        self._spawn()

    def prepare_exec(self) -> None:
        """Before execve: the new image starts with the guest's ignored signals
        ignored and everything else at the default, unblocked."""
        sigs = self.proc.signals
        for name in ("SIGPIPE", "SIGXFSZ"):
            set_disposition(getattr(signal, name), signal.SIG_DFL)
        for hs in self.host | {signal.SIGPIPE}:
            g = sigs.from_host(hs)
            if g and sigs.actions[g].handler == SIG_IGN:
                set_disposition(hs, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self.host)

    def undo_prepare_exec(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, self.host)
        set_disposition(signal.SIGPIPE, signal.SIG_IGN)

    def _loop(self) -> None:
        while True:
            # While a queued signal waits for the CPU thread, keep asking the
            # emulator to return (request_exit() only lasts until run() is
            # re-entered), but go on taking signals: a fatal one must still
            # kill the process whatever the CPU thread is doing.
            info = ctypes.create_string_buffer(SIGINFO)
            if self.proc.signals.host_queue:
                self.proc.emu.request_exit()
                poke = _TimeSpec(0, int(POKE_INTERVAL * 1e9))
                hs = self._libc.sigtimedwait(ctypes.byref(self._set), info, ctypes.byref(poke))
            else:
                hs = self._libc.sigwaitinfo(ctypes.byref(self._set), info)
            if hs > 0:
                with self._forwarding:
                    self.forward(hs, info.raw)

    def drain(self) -> None:
        """Forward the host signals that arrived and are still pending, now,
        under the guest's current dispositions and mask.  Called before the
        guest changes those: a signal is discarded or queued as things stood
        when it was generated (a SIGCHLD that arrived while SIGCHLD was at its
        default must not reach a handler installed after it, which the watcher
        thread, when it runs late, would otherwise deliver it to)."""
        if self.thread is None:
            return
        zero = _TimeSpec(0, 0)
        with self._forwarding:
            while True:
                info = ctypes.create_string_buffer(SIGINFO)
                hs = self._libc.sigtimedwait(ctypes.byref(self._set), info, ctypes.byref(zero))
                if hs <= 0:
                    return
                self.forward(hs, info.raw)

    def forward(self, hs: int, info: bytes = b"") -> None:
        """Host signal ``hs`` (with the host's siginfo, whose layout is the
        guest's too but for the signal number) for the guest."""
        proc = self.proc
        sigs = proc.signals
        g = sigs.from_host(hs)
        if g is None:
            return
        if hs == signal.SIGCHLD:
            # A wait4/waitid waiting in the scheduler looks again now, not at
            # its next periodic retry, whatever the guest does with SIGCHLD.
            proc.wakeup.set()
            proc.sched.host_signal()
            # The SIGCHLD of a child the guest reaped with SIGCHLD at its
            # default, which arrives late (this thread ran late: a loaded
            # machine): the kernel had discarded it.
            pid = struct.unpack_from("<i", info, 16)[0] if len(info) >= 20 else 0
            if pid in getattr(proc, "reaped_at_default", ()):
                proc.reaped_at_default.discard(pid)
                return
        act = sigs.actions[g]
        blocked = sigs.blocked & (1 << (g - 1))
        if act.handler == SIG_IGN:
            return
        if act.handler == SIG_DFL and not blocked:
            what = sigs.default_action(g)
            if what == "ignore":
                return
            if what == "stop":
                os.kill(os.getpid(), signal.SIGSTOP)
                return
            proc.flush_logs()
            kill_self(hs)
        info = info or struct.pack("<iiii", g, 0, 0, 0)          # SI_USER
        sigs.host_queue.append(struct.pack("<i", g) + info[4:].ljust(SIGINFO - 4, b"\0"))
        proc.wakeup.set()
        proc.sched.host_signal()
        proc.emu.request_exit()
