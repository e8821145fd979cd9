"""Signal syscalls: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack,
rt_sigsuspend, rt_sigpending, kill/tgkill/tkill."""
from __future__ import annotations

import ctypes
import os
import signal
import struct

from ...errors import MemoryFault
from ..abi import BadSignalFrame
from ..signals import SI_TKILL, SI_USER, UNCATCHABLE, PendingSignal, SigAction
from .args import s32
from .table import NORETURN, syscall

NSIG = 64
SS_ONSTACK, SS_DISABLE = 1, 2


def _valid(proc, signo: int) -> bool:
    return 1 <= signo <= NSIG


def _kill_info(proc, signo: int, code: int) -> bytes:
    return struct.pack("<iiiiiI", signo, 0, code, 0, proc.pid, os.getuid()).ljust(128, b"\0")


def host_signo(proc, signo: int) -> int:
    return proc.signals.to_host(signo)


@syscall("rt_sigaction", "sig p p u")
def sys_rt_sigaction(proc, signo, act, oldact, sigsetsize):
    signo = s32(signo)
    if not _valid(proc, signo) or sigsetsize != 8:
        return proc.err("EINVAL")
    lay = proc.layout("sigaction")
    cur = proc.signals.actions[signo]
    new = lay.unpack(proc.read(act, lay.size)) if act else None
    if new is not None and proc.signals.names.get(signo) in UNCATCHABLE:
        return proc.err("EINVAL")
    if oldact:
        # (an architecture without SA_RESTORER has no sa_restorer field)
        restorer = {"sa_restorer": cur.restorer} if any(n == "sa_restorer" for n, _ in lay.fields) else {}
        proc.write(oldact, lay.pack(sa_handler=cur.handler, sa_flags=cur.flags,
                                    sa_mask=cur.mask, **restorer))
    if new is not None:
        if _drain_host_signals(proc):
            return NORETURN
        proc.signals.actions[signo] = SigAction(new["sa_handler"], new["sa_flags"],
                                                new.get("sa_restorer", 0), new["sa_mask"])
    return 0


def _drain_host_signals(proc) -> bool:
    """Host signals that arrived before this change are judged by the
    dispositions and mask they arrived under (hostsig.SignalWatcher.drain),
    and delivered before it, as Linux would have delivered them before the
    syscall: True when a handler now runs first (it returns to the syscall
    instruction; the caller changes nothing and returns NORETURN)."""
    watcher = getattr(proc, "watcher", None)
    if watcher is not None:
        watcher.drain()
    return bool(proc.signals.host_queue) and proc.signal_first()


@syscall("rt_sigprocmask", "i p p u")
def sys_rt_sigprocmask(proc, how, nset, oset, sigsetsize):
    sigs = proc.signals
    if sigsetsize != 8:
        return proc.err("EINVAL")
    old = sigs.blocked
    if nset:
        (mask,) = struct.unpack("<Q", proc.read(nset, 8))
        if _drain_host_signals(proc):
            return NORETURN
        h = proc.arch.consts.SIG_HOW
        if how == h["SIG_BLOCK"]:
            sigs.blocked |= mask
        elif how == h["SIG_UNBLOCK"]:
            sigs.blocked &= ~mask
        elif how == h["SIG_SETMASK"]:
            sigs.blocked = mask
        else:
            return proc.err("EINVAL")
        sigs.blocked &= ~((1 << (sigs.numbers["SIGKILL"] - 1)) | (1 << (sigs.numbers["SIGSTOP"] - 1)))
    if oset:
        proc.write(oset, struct.pack("<Q", old))
    return 0


@syscall("rt_sigreturn", "")
def sys_rt_sigreturn(proc):
    try:
        proc.signals.blocked = proc.arch.sigframe.restore_rt_frame(proc.emu)
    except (MemoryFault, BadSignalFrame):
        proc.signal_fault()         # the kernel's badframe path (arch/*/kernel/signal.c): SIGSEGV
    return NORETURN


@syscall("rt_sigpending", "p u")
def sys_rt_sigpending(proc, setp, sigsetsize):
    # (a signal the host has generated is pending for the guest: a timer's
    # SIGALRM, blocked, is in the set however late the watcher thread runs)
    proc.take_host_signals()
    proc.write(setp, struct.pack("<Q", proc.signals.pending_mask() & proc.signals.blocked))
    return 0


@syscall("rt_sigsuspend", "p u")
def sys_rt_sigsuspend(proc, maskp, sigsetsize):
    """Wait in the scheduler (other guest threads run meanwhile) with ``mask``
    installed, until a signal it lets in is taken: EINTR, its handler run
    with that mask and its frame recording the thread's own, which
    sigreturn (or deliver_pending, with no handler) puts back."""
    if sigsetsize != 8:
        return proc.err("EINVAL")
    sigs = proc.signals
    (mask,) = struct.unpack("<Q", proc.read(maskp, 8))
    proc.sched.current.saved_mask = sigs.blocked
    sigs.blocked = mask & ~((1 << (sigs.numbers["SIGKILL"] - 1)) | (1 << (sigs.numbers["SIGSTOP"] - 1)))
    proc.sched.block("sigsuspend")
    return NORETURN


@syscall("sigaltstack", "p p")
def sys_sigaltstack(proc, ss, old):
    lay = proc.layout("stack_t")
    cur_sp, cur_flags, cur_size = proc.signals.altstack
    if old:
        sp = proc.emu.reg_read(proc.arch.stack_pointer)
        flags = SS_ONSTACK if cur_flags == 0 and cur_sp <= sp < cur_sp + cur_size else cur_flags
        proc.write(old, lay.pack(ss_sp=cur_sp, ss_flags=flags, ss_size=cur_size))
    if ss:
        new = lay.unpack(proc.read(ss, lay.size))
        if new["ss_flags"] & SS_DISABLE:
            proc.signals.altstack = (0, SS_DISABLE, 0)
        elif new["ss_flags"] & ~SS_ONSTACK:
            return proc.err("EINVAL")
        else:
            if new["ss_size"] < proc.arch.minsigstksz:
                return proc.err("ENOMEM")
            proc.signals.altstack = (new["ss_sp"], 0, new["ss_size"])
    return 0


def _post_self(proc, signo: int, code: int) -> int:
    if signo == 0:
        return 0
    proc.signals.post(PendingSignal(signo, _kill_info(proc, signo, code)))
    proc.sched.nudge(signo)
    return 0


@syscall("kill", "i sig")
def sys_kill(proc, pid, signo):
    pid, signo = s32(pid), s32(signo)
    if not 0 <= signo <= NSIG:
        return proc.err("EINVAL")
    if pid == proc.pid:
        return _post_self(proc, signo, SI_USER)
    hs = host_signo(proc, signo) if signo else 0
    # Other processes, or a group that includes us: the host delivers it, and
    # our share comes back through the signal watcher thread.
    os.kill(pid, hs)
    return 0


@syscall("pidfd_send_signal", "fd sig p x")
def sys_pidfd_send_signal(proc, pidfd, signo, uinfo, flags):
    """kill(2) through a pidfd (a host one: see pidfd_open), or with the
    caller's siginfo as rt_sigqueueinfo: its si_signo must be ``signo``
    (else EINVAL), and only the caller itself may be sent an si_code >= 0
    or SI_TKILL (else EPERM), the kernel's rules; to another process the
    host's pidfd_send_signal carries it whole."""
    pidfd, signo = s32(pidfd), s32(signo)
    if flags or not 0 <= signo <= NSIG:
        return proc.err("EINVAL")
    to_self = _pidfd_pid(pidfd) == proc.pid
    info = None
    if uinfo:
        (given,) = struct.unpack("<i", proc.read(uinfo, 4))
        if given != signo:
            return proc.err("EINVAL")
        info = _queued_info(proc, signo, uinfo, to_self)
        if info is None:
            return proc.err("EPERM")
    if to_self:
        if signo:
            proc.signals.post(PendingSignal(signo, info or _kill_info(proc, signo, SI_USER)))
            proc.sched.nudge(signo)
        return 0
    hs = host_signo(proc, signo) if signo else 0
    if info is None:
        signal.pidfd_send_signal(pidfd, hs)
        return 0
    host_info = ctypes.create_string_buffer(struct.pack("<i", hs) + info[4:], len(info))
    if _host_syscall("pidfd_send_signal", pidfd, hs, host_info, 0) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return 0


def _pidfd_pid(pidfd: int) -> int | None:
    """The process a pidfd names, from its fdinfo's Pid: line (None: not
    a pidfd, which the host call then refuses with EBADF)."""
    try:
        with open(f"/proc/self/fdinfo/{pidfd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


@syscall("tgkill", "i i sig")
def sys_tgkill(proc, tgid, tid, signo):
    tid, signo = s32(tid), s32(signo)
    if tid in proc.sched.threads:
        if signo:
            proc.signals.post(PendingSignal(signo, _kill_info(proc, signo, SI_TKILL), tid=tid))
            proc.sched.nudge(signo, tid)
            proc.sched.interrupt(tid, signo)
        return 0
    os.kill(tid, host_signo(proc, signo))
    return 0


@syscall("tkill", "i sig")
def sys_tkill(proc, tid, signo):
    return sys_tgkill(proc, tid, tid, signo)


SI_QUEUE = -1


def _queued_info(proc, signo: int, uinfo: int, to_self: bool) -> bytes | None:
    """The caller's siginfo with its signal number, or None when only the
    kernel may send that code to another process (si_code >= 0 or SI_TKILL)."""
    info = bytearray(proc.read(uinfo, 128))
    (code,) = struct.unpack_from("<i", info, 8)
    if not to_self and (code >= 0 or code == SI_TKILL):
        return None
    struct.pack_into("<i", info, 0, signo)
    return bytes(info)


@syscall("rt_sigqueueinfo", "i sig p")
def sys_rt_sigqueueinfo(proc, pid, signo, uinfo):
    """sigqueue(): a signal with a value (si_value) and the caller's si_code."""
    pid, signo = s32(pid), s32(signo)
    if not 0 <= signo <= NSIG:
        return proc.err("EINVAL")
    info = _queued_info(proc, signo, uinfo, pid == proc.pid)
    if info is None:
        return proc.err("EPERM")
    if pid == proc.pid:
        if signo:
            proc.signals.post(PendingSignal(signo, info))
            proc.sched.nudge(signo)
        return 0
    # Another process: the host's sigqueue carries the value (its si_code is SI_QUEUE).
    (value,) = struct.unpack_from("<Q", info, 24)
    if _libc_sigqueue(pid, host_signo(proc, signo) if signo else 0, value) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return 0


@syscall("rt_tgsigqueueinfo", "i i sig p")
def sys_rt_tgsigqueueinfo(proc, tgid, tid, signo, uinfo):
    tid, signo = s32(tid), s32(signo)
    if not 0 <= signo <= NSIG:
        return proc.err("EINVAL")
    if tid not in proc.sched.threads:
        return sys_rt_sigqueueinfo(proc, tid, signo, uinfo)
    info = _queued_info(proc, signo, uinfo, True)
    if signo:
        proc.sched.nudge(signo, tid)
        proc.signals.post(PendingSignal(signo, info, tid=tid))
        proc.sched.interrupt(tid, signo)
    return 0


def _host_syscall(name: str, *args) -> int:
    """A host syscall Python has no wrapper for (signal.pidfd_send_signal
    takes no siginfo), by the host's number: the host is a target of the
    registry too, its kernel constants those of its Linux layer."""
    import platform
    from ...targets import lookup
    nr = lookup(platform.machine()).linux_arch.consts.SYSCALLS[name]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


def _libc_sigqueue(pid: int, signo: int, value: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    return libc.sigqueue(pid, signo, value)


@syscall("rt_sigtimedwait", "p p p u")
def sys_rt_sigtimedwait(proc, setp, info, timeout, sigsetsize):
    """sigwait/sigtimedwait: take a pending signal of the set without running
    its handler, waiting in the scheduler (other guest threads run, one may
    send it); another signal that is let in ends the wait with EINTR."""
    import time
    (mask,) = struct.unpack("<Q", proc.read(setp, 8))
    deadline = None
    if timeout:
        sec, nsec = struct.unpack("<qq", proc.read(timeout, 16))
        deadline = time.monotonic() + sec + nsec / 1e9
    sigs = proc.signals
    tid = proc.sched.current.tid

    def take():
        for i, p in enumerate(sigs.pending):
            if mask & (1 << (p.signo - 1)) and p.tid in (None, tid):
                sigs.pending.pop(i)
                if info:
                    proc.write(info, p.siginfo)
                return p.signo
        return None

    proc.take_host_signals()
    got = take()
    if got is not None:
        return got
    if deadline is not None and deadline <= time.monotonic():
        return proc.err("EAGAIN")
    proc.sched.block_check(take, deadline, timeout_result=proc.err("EAGAIN"))
    return NORETURN
