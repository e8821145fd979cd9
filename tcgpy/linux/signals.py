"""Guest signal state: dispositions, the blocked mask, pending signals, and
the kernel's default actions.  Delivery (building the frame) is done by the
architecture's ``sigframe`` module; this module decides *what* to deliver."""
from __future__ import annotations

import collections
import signal as host_signal
import threading

from ..record import record

SIG_DFL, SIG_IGN = 0, 1

# Default actions (signal(7)); anything not listed terminates.
SYNCHRONOUS = frozenset({"SIGSEGV", "SIGBUS", "SIGILL", "SIGTRAP", "SIGFPE", "SIGSYS"})
CORE = frozenset({"SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV",
                  "SIGXCPU", "SIGXFSZ", "SIGSYS"})
IGNORE = frozenset({"SIGCHLD", "SIGURG", "SIGWINCH", "SIGCONT"})
STOP = frozenset({"SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU"})
UNCATCHABLE = frozenset({"SIGKILL", "SIGSTOP"})

# si_code values (asm-generic siginfo.h)
SI_USER, SI_TKILL, SI_KERNEL = 0, -6, 0x80
SEGV_MAPERR, SEGV_ACCERR, BUS_ADRALN, BUS_ADRERR, ILL_ILLOPC, TRAP_BRKPT = 1, 2, 1, 2, 1, 1
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3


@record
class SigAction:
    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


@record
class PendingSignal:
    signo: int
    siginfo: bytes
    fault_address: int = 0
    esr: int = 0
    tid: int | None = None          # thread-directed (tgkill, faults), else process-directed


class SignalState:
    def __init__(self, consts):
        self.numbers: dict[str, int] = dict(consts.SIGNALS)
        self.names: dict[int, str] = {}
        for name, n in sorted(consts.SIGNALS.items(), key=lambda kv: kv[0] in ("SIGIOT", "SIGPOLL")):
            self.names.setdefault(n, name)
        self.sa = consts.SA_FLAGS
        self.actions: dict[int, SigAction] = collections.defaultdict(SigAction)
        self.blocked = 0
        self.pending: list[PendingSignal] = []
        self.altstack = (0, 2, 0)          # ss_sp, ss_flags (SS_DISABLE), ss_size
        # Host signals arrive on the watcher thread; they are queued here and
        # turned into guest signals on the CPU thread.
        self.host_queue: collections.deque[bytes] = collections.deque()   # guest siginfo
        self.lock = threading.Lock()

    # Real-time signals (32-64) are numbered alike on every Linux
    # architecture; the others are matched by name.
    RT_FIRST = 32

    def to_host(self, signo: int) -> int:
        """Guest signal number -> the host's."""
        name = self.names.get(signo)
        if signo < self.RT_FIRST and name and hasattr(host_signal, name):
            return int(getattr(host_signal, name))
        return signo

    def from_host(self, hs: int) -> int | None:
        """Host signal number -> the guest's (None: the guest has no such signal)."""
        if hs >= self.RT_FIRST:
            return hs
        try:
            return self.numbers.get(host_signal.Signals(hs).name)
        except ValueError:
            return None

    def name(self, signo: int) -> str:
        return self.names.get(signo, str(signo) if signo < 32 else f"SIGRT_{signo - 32}")

    def default_action(self, signo: int) -> str:
        name = self.names.get(signo, "")
        if name in CORE:
            return "core"
        if name in IGNORE:
            return "ignore"
        if name in STOP:
            return "stop"
        return "term"

    def is_ignored(self, signo: int) -> bool:
        h = self.actions[signo].handler
        return h == SIG_IGN or (h == SIG_DFL and self.default_action(signo) == "ignore")

    def post(self, sig: PendingSignal) -> None:
        """Queue a signal (standard signals do not queue twice)."""
        if sig.signo < 32 and any(p.signo == sig.signo for p in self.pending):
            return
        if self.is_ignored(sig.signo) and not self.blocked & (1 << (sig.signo - 1)):
            return
        self.pending.append(sig)

    def next_deliverable(self, force: int = 0, tid: int | None = None) -> PendingSignal | None:
        """The next pending signal for thread ``tid`` that is not blocked (``force``:
        a synchronous fault signal is delivered even when blocked, as the kernel does)."""
        # As the kernel's dequeue_signal: the thread's own signals before the
        # process's, synchronous faults first, then the lowest number (the
        # oldest first among real-time signals of one number).
        best = None
        for i, p in enumerate(self.pending):
            if p.tid is not None and p.tid != tid:
                continue
            if p.signo == force or not self.blocked & (1 << (p.signo - 1)):
                key = (p.tid is None, self.names.get(p.signo) not in SYNCHRONOUS, p.signo, i)
                if best is None or key < best:
                    best = key
        return None if best is None else self.pending.pop(best[3])

    def pending_mask(self) -> int:
        m = 0
        for p in self.pending:
            m |= 1 << (p.signo - 1)
        return m


def host_signal_name(signo: int) -> str:
    try:
        return host_signal.strsignal(signo) or f"signal {signo}"
    except ValueError:
        return f"signal {signo}"
