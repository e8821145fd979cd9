"""Guest threads on one emulated CPU, scheduled by tcgpy as a uniprocessor
kernel would: CLONE_THREAD creates a thread with its own register context,
signal mask and tid; threads switch at futex waits, sleeps, sched_yield and
thread exit, and on a time slice (a ticker thread asks the emulator to
return at a block boundary).  Memory is shared because there is one guest
address space.  Syscalls that would block in the host (read on an empty
pipe, accept, poll...) do not block the host thread: the caller waits in the
scheduler for its descriptors to become ready and then executes its syscall
instruction again, as the kernel restarts an interrupted syscall
(syscalls/blocking.py decides which wait).  That holds
with a single guest thread too, because host signals are blocked on the CPU
thread: the scheduler's wait is what a guest signal can end (with EINTR, a
partial result or a restart, as the kernel decides).  wait4/waitid for a
running child look again periodically in the scheduler, for the same reason.

On an engine whose CPUs run in parallel (KVM: ``emu.parallel_threads``)
the scheduler is not a uniprocessor one: from the first clone, each guest
thread is a vCPU of its own driven by a host thread of its own, and they
run at the same time.  Everything outside the guest is serialised by the
engine's kernel lock, as a big-kernel-lock kernel would: a thread that
serves a syscall, takes a signal or handles a fault holds it, so the rest
of this module (and the Linux layer) still sees one ``current`` thread.
A wait lets go of the lock and sleeps on the thread's own event, which
futex wakes, signals and host signals set (a wait for I/O or for a
condition looks again every IDLE_POLL too); exit_group or a fatal signal
in any thread ends the process through the host thread that runs
``LinuxProcess.run``.
"""
from __future__ import annotations

import os
import select
import struct
import threading
import time

from ..errors import MemoryFault
from ..record import factory, record
from .errnos import host_to_guest_errno
from .exits import ProcessExit, ProcessKilled
from .signals import SIG_DFL, SIG_IGN

TIME_SLICE = 0.01
# How often a wait without a descriptor (wait4) looks again, besides when
# a host SIGCHLD wakes the scheduler (hostsig.SignalWatcher.forward).
RETRY_INTERVAL = 0.005
IDLE_POLL = 0.02                # longest host poll before looking at pending host signals
FIRST_TID = 1 << 22            # above the kernel's pid_max: never a host process
# Waits that only a wake, a signal or their deadline ends: a parallel
# thread sleeps on its event for them without looking again periodically
# (100 idle threads each looking every IDLE_POLL kept a CPU busy).
EVENT_WAITS = frozenset({"futex", "sleep", "sigsuspend"})
MASK64 = (1 << 64) - 1


class ThreadExit(BaseException):
    """The calling host thread's guest thread has ended (or the process has):
    the host thread stops.  Not an Exception: the syscall layer's handlers
    must let it through."""


@record
class GuestThread:
    tid: int
    context: dict | None = None     # saved registers while not running
    blocked: int = 0                # signal mask
    altstack: tuple = (0, 2, 0)
    clear_child_tid: int = 0
    waiting: str | None = None      # None (runnable), "futex", "sleep", "io", "sigsuspend", "check", "poll"
    io: list = factory(list)   # (host fd, poll events) an "io" wait ends on
    resume: object = None           # "io": called when ready, "check"/"poll": at each look; result or None
    wait_addr: int = 0
    wait_bitset: int = 0
    deadline: float | None = None   # monotonic end of a wait or sleep
    wake_result: int | None = None  # syscall result to hand over when it runs again
    on_timeout: object = None       # at the deadline: called for the result (instead of the fixed one)
    on_signal: object = None        # a signal ends the wait: called, the result if it got somewhere, else None
    sa_restart: bool = False        # nothing done: SA_RESTART restarts it (-ERESTARTSYS), else EINTR
    # rt_sigsuspend/ppoll/pselect6/epoll_pwait installed their mask: the mask to go back to
    # when the call ends, except after EINTR, when the handler runs with the
    # temporary mask and its frame records this one (the kernel's
    # TIF_RESTORE_SIGMASK).
    saved_mask: int | None = None
    # parallel engines: the thread's vCPU, the event its waits sleep on, and
    # a restart owed to the syscall it waits in (its registers are in its
    # vCPU, not in ``context``)
    vcpu: object = None
    event: threading.Event = factory(threading.Event)
    restart: bool = False


@record
class Scheduler:
    proc: object
    threads: dict[int, GuestThread] = factory(dict)
    order: list[int] = factory(list)
    current: GuestThread | None = None
    need_resched: bool = False
    _next_tid: int = FIRST_TID
    _ticker: threading.Thread | None = None
    loads: int = 0                  # context loads so far (-strace: did a syscall wait?)
    parallel: bool = False          # threads are vCPUs of their own (module docstring)
    held: bool = False              # ... and the kernel lock is in use (a second thread was made)
    main_ident: int = 0             # the host thread that runs LinuxProcess.run (parallel)
    final: BaseException | None = None     # how the process ends (parallel: any thread may say)
    final_event: threading.Event = factory(threading.Event)

    def __post_init__(self):
        main = GuestThread(self.proc.pid)
        self.threads[main.tid] = main
        self.order.append(main.tid)
        self.current = main
        self.parallel = bool(getattr(self.proc.emu, "parallel_threads", False))
        self._local = threading.local()       # .thread: the guest thread of this host thread

    @property
    def multi(self) -> bool:
        return len(self.threads) > 1

    # -- register contexts -------------------------------------------------------------
    def _save(self, t: GuestThread) -> None:
        emu = self.proc.emu
        t.context = {r: emu.reg_read(r) for r in self.proc.arch.context_regs}
        t.blocked = self.proc.signals.blocked
        t.altstack = self.proc.signals.altstack

    def _running(self, t: GuestThread) -> None:
        self.current = t
        self.loads += 1
        # After a wait or another thread's time: a file behind a file
        # mapping may have shrunk meanwhile (process.FILES_MAY_SHRINK).
        space = self.proc.space
        if space.files.data:
            space.refresh_file_holes()

    def _load(self, t: GuestThread) -> None:
        emu = self.proc.emu
        for r, v in t.context.items():
            emu.reg_write(r, v)
        # A store-exclusive must not succeed across a context switch.
        self.proc.arch.clear_exclusive(emu)
        self.proc.signals.blocked = t.blocked
        self.proc.signals.altstack = t.altstack
        t.context = None
        self._running(t)
        if t.wake_result is not None:
            emu.reg_write(self.proc.arch.abi.ret, t.wake_result & MASK64)
            t.wake_result = None

    # -- creation and exit ---------------------------------------------------------------
    def spawn(self, sp: int, tls: int | None, clear_child_tid: int) -> GuestThread:
        """A new runnable thread: a copy of the caller, returning 0 from clone on ``sp``."""
        if self.parallel:
            return self._spawn_parallel(sp, tls, clear_child_tid)
        arch = self.proc.arch
        t = GuestThread(self._next_tid)
        self._next_tid += 1
        self._save(self.current)
        ctx = dict(self.current.context)
        self.current.context = None
        ctx[arch.abi.ret] = 0
        if sp:
            ctx[arch.stack_pointer] = sp
        if tls is not None and arch.tls_register:
            ctx[arch.tls_register] = tls
        t.context = ctx
        t.blocked = self.proc.signals.blocked
        t.clear_child_tid = clear_child_tid
        self.threads[t.tid] = t
        self.order.append(t.tid)
        self._start_ticker()
        return t

    def exit_current(self) -> None:
        """The running thread ends (exit, not exit_group); CLONE_CHILD_CLEARTID
        is honoured so that pthread_join wakes up.  (Parallel: ThreadExit
        ends its host thread.)"""
        t = self.current
        if t.clear_child_tid:
            try:
                self.proc.write(t.clear_child_tid, struct.pack("<i", 0))
            except Exception:       # the guest unmapped it: nothing to clear
                pass
            self.wake(t.clear_child_tid, 1, MASK64)
        i = self.order.index(t.tid)
        del self.threads[t.tid]
        self.order.remove(t.tid)
        if self.held:
            raise ThreadExit()
        self.current = None
        self._run_next(start=i)

    def after_fork_child(self, pid: int) -> None:
        """Only the forking thread exists in the child; it becomes the main thread."""
        t = self.current
        t.tid = pid
        self.threads = {pid: t}
        self.order = [pid]
        self._ticker = None
        # The forking host thread is the child's only one: it ends the process.
        self.main_ident = threading.get_ident()
        self.final = None
        self.final_event = threading.Event()

    # -- blocking ---------------------------------------------------------------------------
    def block(self, waiting: str, addr: int = 0, bitset: int = 0, deadline: float | None = None,
              timeout_result: int = 0, on_timeout=None, on_signal=None, sa_restart: bool = False) -> None:
        """The running thread waits (its syscall result arrives when it is woken).
        A signal for it ends the wait as in the kernel: ``on_signal`` may
        return what the syscall achieved so far (a partial write); otherwise
        the result is EINTR, or with ``sa_restart`` and an SA_RESTART handler
        the syscall runs again after the handler."""
        t = self.current
        t.waiting, t.wait_addr, t.wait_bitset, t.deadline = waiting, addr, bitset, deadline
        t.wake_result = timeout_result
        t.on_timeout, t.on_signal, t.sa_restart = on_timeout, on_signal, sa_restart
        if self.held:
            # The mask the wait is under (ppoll's, pselect6's) decides at
            # once which pending signal ends it, even with no time to wait.
            t.blocked = self.proc.signals.blocked
            self._wait(t)
            return
        self._save(t)
        self._run_next(start=self.order.index(t.tid) + 1)

    def block_io(self, io: list, deadline: float | None = None, timeout_result: int = 0,
                 resume=None, **kw) -> None:
        """Wait until one of ``io`` (fd, poll events) is ready, then run the
        syscall again (or, with ``resume``, call it: its result, or None to
        wait on); at ``deadline`` return ``timeout_result`` instead."""
        self.current.io = list(io)
        self.current.resume = resume
        self.block("io", deadline=deadline, timeout_result=timeout_result, **kw)

    def block_check(self, check, deadline: float | None = None, timeout_result: int = 0,
                    periodic: bool = False, **kw) -> None:
        """Wait until ``check()`` (asked each time the scheduler looks, after
        host signals are taken in) returns the syscall's result, or the
        deadline passes.  ``periodic``: what it waits for happens outside
        the guest's sight (a child exits), so look every RETRY_INTERVAL."""
        self.current.resume = check
        self.block("poll" if periodic else "check", deadline=deadline, timeout_result=timeout_result, **kw)

    def _restart(self, t: GuestThread) -> None:
        if t.context is None:
            t.restart = True            # parallel: its registers are in its vCPU (_resume)
        else:
            t.context[self.proc.arch.pc] -= self.proc.arch.syscall_insn_size
        t.wake_result = None

    def _end_wait(self, t: GuestThread, interrupted: bool = False) -> None:
        t.waiting, t.deadline, t.resume = None, None, None
        t.event.set()                   # parallel: its host thread runs on
        t.on_timeout = t.on_signal = None
        if t.saved_mask is not None and not interrupted:
            t.blocked, t.saved_mask = t.saved_mask, None

    def _call(self, fn):
        """Run a resume/on_timeout/on_signal hook: host and guest-memory errors
        become the syscall's errno, as they would in its handler."""
        try:
            return fn()
        except MemoryFault:
            return -self.proc.errno["EFAULT"]
        except OSError as e:
            return -host_to_guest_errno(e.errno or 0, self.proc.errno)

    def wake(self, addr: int, count: int, bitset: int) -> int:
        n = 0
        for tid in self.order:
            t = self.threads[tid]
            if n >= count:
                break
            if t.waiting == "futex" and t.wait_addr == addr and t.wait_bitset & bitset:
                t.waiting, t.deadline, t.wake_result = None, None, 0
                t.event.set()
                n += 1
        return n

    def requeue(self, addr: int, count: int, addr2: int, limit: int) -> int:
        n = self.wake(addr, count, MASK64)
        moved = 0
        for tid in self.order:
            t = self.threads[tid]
            if moved >= limit:
                break
            if t.waiting == "futex" and t.wait_addr == addr:
                t.wait_addr = addr2
                moved += 1
        return n + moved

    def interrupt(self, tid: int, signo: int) -> None:
        """A signal for a waiting thread ends its wait (unless it blocks the signal)."""
        t = self.threads[tid]
        if t is not self.current and t.waiting is not None and not t.blocked & (1 << (signo - 1)):
            self._interrupt(t, signo)

    def nudge(self, signo: int, tid: int | None = None) -> None:
        """Signal ``signo`` was sent to thread ``tid`` (None: to the process)
        while the current thread runs on.  A waiting thread it may wake (a
        sigwait for it, or a wait it interrupts) gets the CPU at the next
        block boundary rather than at the end of the time slice, as if it
        had a CPU of its own."""
        cur = self.current
        if tid is None and not self.proc.signals.blocked & (1 << (signo - 1)):
            return                  # the current thread takes it on the way out
        if self.held:
            # Threads on other vCPUs: a waiting one looks at its signals, a
            # running one is kicked out of the guest to take it.
            for t in list(self.threads.values()):
                if t is cur or tid not in (None, t.tid):
                    continue
                if t.waiting is not None:
                    t.event.set()
                elif t.vcpu is not None:
                    self.proc.emu.request_exit(t.vcpu)
            return
        if any(t is not cur and t.waiting is not None and tid in (None, t.tid)
               for t in self.threads.values()):
            self.need_resched = True
            self.proc.emu.request_exit()

    def _interrupt(self, t: GuestThread, signo: int) -> None:
        """End ``t``'s wait for signal ``signo`` the way the kernel ends a
        sleep for a signal: what the syscall got done (a partial write)
        stands; with nothing done it fails with EINTR when a handler runs,
        except that SA_RESTART restarts the syscalls that allow it; with no
        handler (a stop, say) it restarts."""
        result = self._call(t.on_signal) if t.on_signal is not None else None
        if result is None:
            act = self.proc.signals.actions[signo]
            handled = act.handler not in (SIG_DFL, SIG_IGN)
            if handled and not (t.sa_restart and act.flags & self.proc.signals.sa["SA_RESTART"]):
                result = -self.proc.errno["EINTR"]
        if result is None:
            self._restart(t)
        else:
            t.wake_result = result
        # The signal is taken (handler, default action or discarded) with
        # the wait's mask still in force, as the kernel's get_signal does;
        # deliver_pending then puts the thread's own mask back.
        self._end_wait(t, interrupted=True)
        t.event.set()

    def _signal_target(self, signo: int, tid: int | None) -> GuestThread | None:
        """The thread a pending signal goes to: the one it names, else (as the
        kernel's complete_signal) the main thread unless it blocks the signal,
        then the first thread that does not."""
        bit = 1 << (signo - 1)
        if tid is not None:
            t = self.threads.get(tid)
            return t if t is not None and not t.blocked & bit else None
        main = self.threads.get(self.proc.pid)
        for t in ([main] if main is not None else []) + [self.threads[i] for i in self.order]:
            if not t.blocked & bit:
                return t
        return None

    def _interrupt_waiters(self) -> GuestThread | None:
        """Pending signals end the waits of the threads they go to; the first
        thread so woken, if any (it runs next, so that it takes its signal)."""
        self.proc.drain_host_signals()
        first = None
        now = time.monotonic()
        for t in self.threads.values():
            # A sigtimedwait takes the signals it waits for before they can
            # interrupt it; a child that has exited is reaped first too.
            if t.waiting in ("check", "poll") and self._runnable(t, now):
                first = first or t
        for p in list(self.proc.signals.pending):
            t = self._signal_target(p.signo, p.tid)
            if t is not None and t.waiting is not None:
                self._interrupt(t, p.signo)
                first = first or t
        return first

    def preempt(self) -> None:
        """Time slice over: the running thread stays runnable, the next one runs."""
        self.need_resched = False
        if self.held:
            # Every thread has a CPU of its own: give the host CPU away once.
            t = self.current
            emu = self.proc.emu
            emu.release_kernel()
            try:
                os.sched_yield()
            finally:
                emu.acquire_kernel()
            self._resume(t)
            return
        if not self.multi:
            return
        t = self.current
        self._save(t)
        self._run_next(start=self.order.index(t.tid) + 1)

    # -- choosing ------------------------------------------------------------------------------
    def _runnable(self, t: GuestThread, now: float) -> bool:
        if t.waiting is None:
            return True
        if t.waiting in ("check", "poll") or (t.waiting == "io" and ready(t.io)):
            if t.resume is None:
                self._restart(t)
                self._end_wait(t)
                return True
            result = self._call(t.resume)
            if result is not None:
                t.wake_result = result
                self._end_wait(t)
                return True
            # Not done yet: it waits on, unless its time is up.
        if t.deadline is not None and now >= t.deadline:
            if t.on_timeout is not None:
                t.wake_result = self._call(t.on_timeout)
            self._end_wait(t)
            return True
        return False

    def _run_next(self, start: int) -> None:
        """Resume the first runnable thread in round-robin order from ``start``;
        with none runnable, wait for a deadline or a host signal."""
        while True:
            woken = self._interrupt_waiters()
            if woken is not None:
                self._load(woken)
                return
            now = time.monotonic()
            n = len(self.order)
            for i in range(n):
                t = self.threads[self.order[(start + i) % n]]
                if self._runnable(t, now):
                    self._load(t)
                    return
            deadlines = [t.deadline for t in self.threads.values() if t.deadline is not None]
            if any(t.waiting == "poll" for t in self.threads.values()):
                deadlines.append(now + RETRY_INTERVAL)
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            io = [e for t in self.threads.values() if t.waiting == "io" for e in t.io]
            if io:
                # Host signals set an Event, which poll cannot wait for: look
                # at it between bounded polls.  (A pipe for the watcher to
                # write to would take a descriptor number the guest expects
                # to get from its first open.)
                ready(io, IDLE_POLL if timeout is None else min(timeout, IDLE_POLL))
            else:
                self.proc.wakeup.wait(timeout)

    # -- parallel threads (one vCPU each) ---------------------------------------------------------
    def _spawn_parallel(self, sp: int, tls: int | None, clear_child_tid: int) -> GuestThread:
        """A new thread on a vCPU of its own, started at once on a host thread of its own."""
        arch, emu = self.proc.arch, self.proc.emu
        if not self.held:
            self._start_parallel()
        cpu = emu.add_vcpu()
        ctx = {r: emu.reg_read(r) for r in arch.context_regs}
        ctx[arch.abi.ret] = 0
        if sp:
            ctx[arch.stack_pointer] = sp
        if tls is not None and arch.tls_register:
            ctx[arch.tls_register] = tls
        t = GuestThread(self._next_tid, vcpu=cpu)
        self._next_tid += 1
        t.blocked = self.proc.signals.blocked
        t.clear_child_tid = clear_child_tid
        self.threads[t.tid] = t
        self.order.append(t.tid)
        threading.Thread(target=self._runner, args=(t, ctx), name=f"tcgpy-vcpu{cpu.index}", daemon=True).start()
        return t

    def _start_parallel(self) -> None:
        """The second thread is coming: the calling (only) thread starts to
        hold the kernel lock, and its state moves with the lock from now on."""
        emu = self.proc.emu
        self.current.vcpu = emu.vcpu
        emu.bind_vcpu(emu.vcpu)
        self._local.thread = self.current
        self.main_ident = threading.get_ident()
        emu.hold_kernel()
        emu.kernel_hooks = (self._leave_kernel, self._enter_kernel)
        self.held = True

    def _leave_kernel(self) -> None:
        t = getattr(self._local, "thread", None)
        if t is not None:
            t.blocked = self.proc.signals.blocked
            t.altstack = self.proc.signals.altstack

    def _enter_kernel(self) -> None:
        t = getattr(self._local, "thread", None)
        if t is None:
            return
        self.current = t
        self.proc.signals.blocked = t.blocked
        self.proc.signals.altstack = t.altstack
        if self.final is not None:
            # The process is ending (exit_group, a fatal signal elsewhere): no
            # thread does anything more; the main one ends it.
            if threading.get_ident() == self.main_ident:
                raise self.final
            raise ThreadExit()

    def _runner(self, t: GuestThread, ctx: dict) -> None:
        """The host thread of guest thread ``t``: its CPU loop."""
        proc, emu = self.proc, self.proc.emu
        emu.bind_vcpu(t.vcpu)
        self._local.thread = t
        emu.hold_kernel()
        try:
            self._enter_kernel()
            for r, v in ctx.items():
                emu.reg_write(r, v)
            while True:
                sig = proc.run_once()
                if sig is not None:
                    proc.deliver_fault(sig)
        except ThreadExit:
            pass
        except (ProcessExit, ProcessKilled, Exception) as e:
            if not isinstance(e, (ProcessExit, ProcessKilled)):
                # A tcgpy bug: one line, and the process ends, rather than a
                # traceback from this host thread and a guest waiting for ever.
                e = ProcessKilled(proc.signals.numbers["SIGABRT"],
                                  f"tcgpy: internal error in thread {t.tid}: {type(e).__name__}: {e}")
            if threading.get_ident() == self.main_ident:
                proc.end_host_process(e)      # a forked child's only thread
            self.end_process(e)
        finally:
            emu.retire_vcpu(t.vcpu)
            emu.drop_kernel()

    def end_process(self, e: BaseException) -> None:
        """Thread-safe: the process ends with ``e`` (ProcessExit or
        ProcessKilled), raised by the main host thread; every other thread
        stops where it is."""
        if self.final is None:
            self.final = e
        self.final_event.set()
        for t in list(self.threads.values()):
            t.event.set()
        self.proc.emu.request_exit()

    def host_signal(self) -> None:
        """Thread-safe: a host signal was queued for the guest; waiting
        threads look at it (parallel)."""
        for t in list(self.threads.values()):
            if t.waiting is not None:
                t.event.set()

    def main_thread_exited(self) -> None:
        """The main host thread's guest thread ended (exit, others run on):
        it waits for the process to end, and ends it."""
        emu = self.proc.emu
        emu.retire_vcpu(emu.vcpu)
        emu.drop_kernel()
        self._local.thread = None
        self.final_event.wait()
        emu.acquire_kernel()            # the others stay stopped while the process ends
        raise self.final

    def _wait(self, t: GuestThread) -> None:
        """Parallel ``block``: sleep without the kernel lock until ``t`` may run."""
        emu = self.proc.emu
        while True:
            t.event.clear()
            self._interrupt_waiters()
            now = time.monotonic()
            if self._runnable(t, now):
                break
            timeout = (None if t.waiting in EVENT_WAITS else
                       RETRY_INTERVAL if t.waiting == "poll" else IDLE_POLL)
            if t.deadline is not None:
                left = max(0.0, t.deadline - now)
                timeout = left if timeout is None else min(timeout, left)
            io = list(t.io) if t.waiting == "io" else None
            emu.release_kernel()
            try:
                if io:
                    ready(io, timeout)
                else:
                    t.event.wait(timeout)
            finally:
                emu.acquire_kernel()
        self._resume(t)

    def _resume(self, t: GuestThread) -> None:
        """``t`` runs on: what its wait left for its registers and mask."""
        emu, arch = self.proc.emu, self.proc.arch
        self._running(t)
        self.proc.signals.blocked = t.blocked
        self.proc.signals.altstack = t.altstack
        if t.restart:
            emu.reg_write(arch.pc, emu.reg_read(arch.pc) - arch.syscall_insn_size)
            t.restart = False
        if t.wake_result is not None:
            emu.reg_write(arch.abi.ret, t.wake_result & MASK64)
            t.wake_result = None

    # -- preemption ------------------------------------------------------------------------------
    def _start_ticker(self) -> None:
        if self._ticker is not None:
            return

        def tick():
            while True:
                time.sleep(TIME_SLICE)
                if self.multi:
                    self.need_resched = True
                    self.proc.emu.request_exit()
        self._ticker = threading.Thread(target=tick, name="tcgpy-timeslice", daemon=True)
        self._ticker.start()


def ready(io: list, timeout: float | None = 0.0) -> bool:
    """Whether any (fd, events) is ready, waiting up to ``timeout`` seconds
    (None: no limit); a closed descriptor counts: the restarted syscall
    reports EBADF."""
    p = select.poll()
    for fd, events in io:
        try:
            p.register(fd, events)
        except (OSError, ValueError):
            return True
    try:
        return bool(p.poll(None if timeout is None else timeout * 1000))
    except InterruptedError:
        return False
