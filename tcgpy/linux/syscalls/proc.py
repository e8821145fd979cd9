"""Process, identity, resource and time syscalls; fork-style clone, execve, wait."""
from __future__ import annotations

import os
import resource
import struct
import sys
import time

from ..errnos import GuestErrno
from ..exits import ProcessExit
from .. import hostfutex
from ..forkshare import move_high
from ..loader import LoadError, read_elf
from ..signals import SIG_DFL, SIG_IGN
from .args import s32
from .paths import guest_path
from .table import NORETURN, syscall

RLIM_INFINITY = (1 << 64) - 1
CLONE_VM, CLONE_VFORK, CLONE_THREAD = 0x100, 0x4000, 0x10000
CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_SETTID = 0x80000, 0x100000, 0x01000000
CLONE_CHILD_CLEARTID = 0x200000
TIMER_ABSTIME = 1
PR_SET_NAME, PR_GET_NAME = 15, 16
CLK_TCK = 100


# -- exit and identity -------------------------------------------------------------------

@syscall("exit", "d")
def sys_exit(proc, status):
    if proc.sched.multi:             # only this thread ends
        proc.sched.exit_current()
        return NORETURN
    raise ProcessExit(status & 0xFF)


@syscall("gettid", "")
def sys_gettid(proc):
    return proc.sched.current.tid


@syscall("exit_group", "d")
def sys_exit_group(proc, status):
    raise ProcessExit(status & 0xFF)


def _simple(name: str, fn):
    syscall(name, "")(lambda proc: fn())


for _name, _fn in (("getpid", os.getpid), ("getppid", os.getppid),
                   ("getuid", os.getuid), ("geteuid", os.geteuid), ("getgid", os.getgid),
                   ("getegid", os.getegid)):
    _simple(_name, _fn)


@syscall("sched_yield", "")
def sys_sched_yield(proc):
    if proc.sched.multi:
        proc.sched.current.wake_result = 0
        proc.sched.preempt()
        return NORETURN
    return 0


@syscall("setsid", "")
def sys_setsid(proc):
    os.setsid()
    return os.getpid()          # the new session's id


@syscall("getgroups", "i p")
def sys_getgroups(proc, size, lst):
    groups = os.getgroups()
    if size == 0:
        return len(groups)
    if size < len(groups):
        return proc.err("EINVAL")
    proc.write(lst, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


@syscall("setpgid", "i i")
def sys_setpgid(proc, pid, pgid):
    os.setpgid(s32(pid), s32(pgid))
    return 0


@syscall("getpgid", "i")
def sys_getpgid(proc, pid):
    return os.getpgid(s32(pid))


@syscall("getsid", "i")
def sys_getsid(proc, pid):
    return os.getsid(s32(pid))


@syscall("setuid", "i")
def sys_setuid(proc, uid):
    os.setuid(s32(uid))
    return 0


@syscall("setgid", "i")
def sys_setgid(proc, gid):
    os.setgid(s32(gid))
    return 0


@syscall("setreuid", "i i")
def sys_setreuid(proc, r, e):
    os.setreuid(s32(r), s32(e))         # -1: unchanged, as in the kernel
    return 0


@syscall("setregid", "i i")
def sys_setregid(proc, r, e):
    os.setregid(s32(r), s32(e))
    return 0


@syscall("setresuid", "i i i")
def sys_setresuid(proc, r, e, s):
    os.setresuid(s32(r), s32(e), s32(s))
    return 0


@syscall("setresgid", "i i i")
def sys_setresgid(proc, r, e, s):
    os.setresgid(s32(r), s32(e), s32(s))
    return 0


@syscall("setfsuid", "i")
def sys_setfsuid(proc, uid):
    return _host_libc().setfsuid(s32(uid))     # the previous fsuid; never fails


@syscall("setfsgid", "i")
def sys_setfsgid(proc, gid):
    return _host_libc().setfsgid(s32(gid))


@syscall("setgroups", "u p")
def sys_setgroups(proc, size, lst):
    if size > 65536:
        return proc.err("EINVAL")
    os.setgroups(list(struct.unpack(f"<{size}I", proc.read(lst, 4 * size))))
    return 0


def _host_libc():
    import ctypes
    return ctypes.CDLL(None, use_errno=True)


@syscall("getresuid", "p p p")
def sys_getresuid(proc, r, e, s):
    for addr, v in zip((r, e, s), os.getresuid()):
        proc.write(addr, struct.pack("<I", v))
    return 0


@syscall("getresgid", "p p p")
def sys_getresgid(proc, r, e, s):
    for addr, v in zip((r, e, s), os.getresgid()):
        proc.write(addr, struct.pack("<I", v))
    return 0


@syscall("uname", "p")
def sys_uname(proc, buf):
    u = os.uname()
    proc.write(buf, proc.layout("utsname").pack(
        sysname=b"Linux", nodename=u.nodename.encode(), release=(proc.opts.uname_release or u.release).encode(),
        version=u.version.encode(), machine=proc.arch.uname_machine.encode(), domainname=b"(none)"))
    return 0


@syscall("set_tid_address", "p")
def sys_set_tid_address(proc, addr):
    proc.sched.current.clear_child_tid = addr
    return proc.sched.current.tid


@syscall("set_robust_list", "p u")
def sys_set_robust_list(proc, head, length):
    return 0


@syscall("rseq", "p u x x")
def sys_rseq(proc, rseq, length, flags, sig):
    # Restartable sequences need kernel cooperation on preemption; glibc
    # falls back cleanly when the kernel says ENOSYS.
    return proc.err("ENOSYS")


@syscall("prctl", "i x x x x")
def sys_prctl(proc, option, a2, a3, a4, a5):
    if option == PR_SET_NAME:
        proc.comm = proc.read_cstr(a2, 16)[:15]
        return 0
    if option == PR_GET_NAME:
        proc.write(a2, proc.comm[:15].ljust(16, b"\0"))
        return 0
    return proc.err("EINVAL")


@syscall("personality", "x")
def sys_personality(proc, persona):
    return 0


@syscall("membarrier", "i x i")
def sys_membarrier(proc, cmd, flags, cpu_id):
    return 0            # single-threaded: MEMBARRIER_CMD_QUERY reports no commands


@syscall("getcpu", "p p p")
def sys_getcpu(proc, cpu, node, cache):
    for a in (cpu, node):
        if a:
            proc.write(a, struct.pack("<I", 0))
    return 0


@syscall("sched_getaffinity", "i u p")
def sys_sched_getaffinity(proc, pid, size, mask):
    cpus = os.sched_getaffinity(s32(pid))
    bits = sum(1 << c for c in cpus)
    n = max(8, ((max(cpus) // 64) + 1) * 8)
    if size < n:
        return proc.err("EINVAL")
    proc.write(mask, bits.to_bytes(n, "little"))
    return n


@syscall("sched_setaffinity", "i u p")
def sys_sched_setaffinity(proc, pid, size, mask):
    return 0


# -- resources ------------------------------------------------------------------------

def _rlim_to_guest(v: int) -> int:
    return RLIM_INFINITY if v == resource.RLIM_INFINITY else v


def _rlim_to_host(v: int) -> int:
    return resource.RLIM_INFINITY if v == RLIM_INFINITY else v


@syscall("prlimit64", "i i p p")
def sys_prlimit64(proc, pid, res, new, old):
    lay = proc.layout("rlimit")
    pid = s32(pid) or os.getpid()
    if new:
        n = lay.unpack(proc.read(new, lay.size))
        cur = resource.prlimit(pid, res, (_rlim_to_host(n["rlim_cur"]), _rlim_to_host(n["rlim_max"])))
    else:
        cur = resource.prlimit(pid, res)
    if old:
        proc.write(old, lay.pack(rlim_cur=_rlim_to_guest(cur[0]), rlim_max=_rlim_to_guest(cur[1])))
    return 0


@syscall("getrlimit", "i p")
def sys_getrlimit(proc, res, rlim):
    return sys_prlimit64(proc, 0, res, 0, rlim)


@syscall("setrlimit", "i p")
def sys_setrlimit(proc, res, rlim):
    return sys_prlimit64(proc, 0, res, rlim, 0)


def pack_rusage(proc, ru) -> bytes:
    def tv(t):
        return int(t), int(round((t - int(t)) * 1e6))
    us, uu = tv(ru.ru_utime)
    ss, su = tv(ru.ru_stime)
    return proc.layout("rusage").pack(
        ru_utime_sec=us, ru_utime_usec=uu, ru_stime_sec=ss, ru_stime_usec=su, ru_maxrss=ru.ru_maxrss,
        ru_minflt=ru.ru_minflt, ru_majflt=ru.ru_majflt, ru_inblock=ru.ru_inblock,
        ru_oublock=ru.ru_oublock, ru_nvcsw=ru.ru_nvcsw, ru_nivcsw=ru.ru_nivcsw)


@syscall("getrusage", "i p")
def sys_getrusage(proc, who, usage):
    w = {0: resource.RUSAGE_SELF, -1: resource.RUSAGE_CHILDREN}.get(s32(who))
    if w is None:
        return proc.err("EINVAL")
    proc.write(usage, pack_rusage(proc, resource.getrusage(w)))
    return 0


@syscall("sysinfo", "p")
def sys_sysinfo(proc, info):
    mem = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, v = line.split(":", 1)
                mem[k] = int(v.split()[0]) * 1024
        with open("/proc/uptime") as f:
            uptime = int(float(f.read().split()[0]))
    except (OSError, ValueError):
        uptime = 0
    loads = [int(x * 65536) for x in os.getloadavg()]
    proc.write(info, proc.layout("sysinfo").pack(
        uptime=uptime, loads0=loads[0], loads1=loads[1], loads2=loads[2],
        totalram=mem.get("MemTotal", 0), freeram=mem.get("MemFree", 0), sharedram=mem.get("Shmem", 0),
        bufferram=mem.get("Buffers", 0), totalswap=mem.get("SwapTotal", 0),
        freeswap=mem.get("SwapFree", 0), procs=1, mem_unit=1))
    return 0


@syscall("getrandom", "p u x")
def sys_getrandom(proc, buf, length, flags):
    data = proc.random_bytes(min(length, 1 << 20))
    proc.write(buf, data)
    return len(data)


# -- time ----------------------------------------------------------------------------

@syscall("clock_gettime", "i p")
def sys_clock_gettime(proc, clk, ts):
    ns = time.clock_gettime_ns(s32(clk))
    proc.write(ts, struct.pack("<qq", ns // 10**9, ns % 10**9))
    return 0


@syscall("clock_getres", "i p")
def sys_clock_getres(proc, clk, ts):
    res = time.clock_getres(s32(clk))
    if ts:
        proc.write(ts, struct.pack("<qq", int(res), int(round((res - int(res)) * 1e9))))
    return 0


@syscall("gettimeofday", "p p")
def sys_gettimeofday(proc, tv, tz):
    ns = time.time_ns()
    if tv:
        proc.write(tv, struct.pack("<qq", ns // 10**9, (ns % 10**9) // 1000))
    if tz:
        proc.write(tz, struct.pack("<ii", 0, 0))
    return 0


@syscall("times", "p")
def sys_times(proc, buf):
    t = os.times()
    if buf:
        proc.write(buf, struct.pack("<4q", *(int(x * CLK_TCK) for x in t[:4])))
    return int(t.elapsed * CLK_TCK) & ((1 << 63) - 1)


def _sleep(proc, seconds: float, rem: int) -> int:
    """Sleep, but return -EINTR early when a host signal arrives for the guest."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        if proc.wakeup.wait(left):
            proc.drain_host_signals()
            if proc.signals.pending:
                if rem:
                    left = max(0.0, deadline - time.monotonic())
                    proc.write(rem, struct.pack("<qq", int(left), int((left - int(left)) * 1e9)))
                return proc.err("EINTR")


@syscall("nanosleep", "p p")
def sys_nanosleep(proc, req, rem):
    sec, nsec = struct.unpack("<qq", proc.read(req, 16))
    if sec < 0 or not 0 <= nsec < 10**9:
        return proc.err("EINVAL")
    if proc.sched.multi:             # let the other threads run meanwhile
        proc.sched.block("sleep", deadline=time.monotonic() + sec + nsec / 1e9)
        return NORETURN
    return _sleep(proc, sec + nsec / 1e9, rem)


@syscall("clock_nanosleep", "i x p p")
def sys_clock_nanosleep(proc, clk, flags, req, rem):
    sec, nsec = struct.unpack("<qq", proc.read(req, 16))
    if sec < 0 or not 0 <= nsec < 10**9:
        return proc.err("EINVAL")
    t = sec + nsec / 1e9
    if flags & TIMER_ABSTIME:
        t -= time.clock_gettime(s32(clk))
    if proc.sched.multi:
        proc.sched.block("sleep", deadline=time.monotonic() + max(0.0, t))
        return NORETURN
    return _sleep(proc, max(0.0, t), 0 if flags & TIMER_ABSTIME else rem)


@syscall("setitimer", "i p p")
def sys_setitimer(proc, which, new, old):
    import signal
    iv_s, iv_us, v_s, v_us = struct.unpack("<4q", proc.read(new, 32))
    prev = signal.setitimer(which, v_s + v_us / 1e6, iv_s + iv_us / 1e6)
    if old:
        proc.write(old, struct.pack("<4q", int(prev[1]), int((prev[1] % 1) * 1e6),
                                    int(prev[0]), int((prev[0] % 1) * 1e6)))
    return 0


@syscall("getitimer", "i p")
def sys_getitimer(proc, which, cur):
    import signal
    value, interval = signal.getitimer(which)
    proc.write(cur, struct.pack("<4q", int(interval), int((interval % 1) * 1e6),
                                int(value), int((value % 1) * 1e6)))
    return 0


FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 3, 4
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_CLOCK_REALTIME = 256
FUTEX_PRIVATE_FLAG = 128
ALL_BITS = 0xFFFFFFFF


@syscall("futex", "p i u p p u")
def sys_futex(proc, uaddr, op, val, timeout, uaddr2, val3):
    cmd = op & 0x7F
    if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        cur = struct.unpack("<I", proc.read(uaddr, 4))[0]
        if cur != val & 0xFFFFFFFF:
            return proc.err("EAGAIN")
        bitset = ALL_BITS if cmd == FUTEX_WAIT else val3 & ALL_BITS
        if bitset == 0:
            return proc.err("EINVAL")
        wait = None
        if timeout:
            sec, nsec = struct.unpack("<qq", proc.read(timeout, 16))
            wait = sec + nsec / 1e9
            if cmd == FUTEX_WAIT_BITSET:     # absolute, on CLOCK_REALTIME or CLOCK_MONOTONIC
                clock = time.CLOCK_REALTIME if op & FUTEX_CLOCK_REALTIME else time.CLOCK_MONOTONIC
                wait -= time.clock_gettime(clock)
            wait = max(0.0, wait)
        host = None if op & FUTEX_PRIVATE_FLAG else hostfutex.host_address(proc.space, uaddr)
        if host is not None:
            return _shared_futex_wait(proc, host, val & ALL_BITS, bitset, wait)
        if proc.sched.multi:
            # Without a timeout the kernel's futex_wait returns -ERESTARTSYS.
            proc.sched.block("futex", uaddr, bitset, None if wait is None else time.monotonic() + wait,
                             timeout_result=proc.err("ETIMEDOUT"), sa_restart=wait is None)
            return NORETURN
        # Single-threaded: only a signal (or the timeout) can end the wait.
        r = _sleep(proc, 1e9 if wait is None else wait, 0)
        return r if r or wait is None else proc.err("ETIMEDOUT")
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        bitset = ALL_BITS if cmd == FUTEX_WAKE else val3 & ALL_BITS
        host = None if op & FUTEX_PRIVATE_FLAG else hostfutex.host_address(proc.space, uaddr)
        woken = 0 if host is None else hostfutex.wake(host, val, bitset)
        return woken + proc.sched.wake(uaddr, val - woken, bitset)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if cmd == FUTEX_CMP_REQUEUE and struct.unpack("<I", proc.read(uaddr, 4))[0] != val3 & ALL_BITS:
            return proc.err("EAGAIN")
        return proc.sched.requeue(uaddr, val, uaddr2, timeout & 0x7FFFFFFF)
    return proc.err("ENOSYS")


def _shared_futex_wait(proc, host: int, val: int, bitset: int, wait: float | None) -> int:
    """A futex wait other processes may end (hostfutex.py): ``wait`` seconds at most."""
    deadline = None if wait is None else time.monotonic() + wait
    timed_out = proc.err("ETIMEDOUT")
    if proc.sched.multi:
        t = proc.sched.current

        def notify():
            t.event.set()               # a thread with a vCPU of its own
            proc.wakeup.set()           # threads taking turns: the scheduler's idle wait

        w = hostfutex.Waiter(host, val, bitset, notify)

        def stop(result):
            w.cancel()
            return result
        proc.sched.block_check(lambda: 0 if w.done else None, deadline, timeout_result=timed_out,
                               on_timeout=lambda: stop(timed_out), on_signal=lambda: stop(None),
                               sa_restart=wait is None)
        return NORETURN
    while not hostfutex.wait_slice(host, val, bitset, hostfutex.SLICE if deadline is None
                                   else min(hostfutex.SLICE, max(0.0, deadline - time.monotonic()))):
        proc.drain_host_signals()
        if proc.signals.pending:
            return proc.err("EINTR")
        if deadline is not None and time.monotonic() >= deadline:
            return timed_out
    return 0


# -- processes ------------------------------------------------------------------------

@syscall("clone", "x p p p p")
def sys_clone(proc, flags, newsp, a2, a3, a4):
    named = dict(zip(proc.arch.clone_args, (a2, a3, a4)))
    ptid, tls, ctid = named["ptid"], named["tls"], named["ctid"]
    if flags & CLONE_THREAD:
        if not flags & CLONE_VM:
            return proc.err("EINVAL")
        t = proc.sched.spawn(newsp, tls if flags & CLONE_SETTLS else None,
                             ctid if flags & CLONE_CHILD_CLEARTID else 0)
        for flag, addr in ((CLONE_PARENT_SETTID, ptid), (CLONE_CHILD_SETTID, ctid)):
            if flags & flag and addr:
                proc.write(addr, struct.pack("<i", t.tid))
        return t.tid
    proc.flush_logs()
    proc.forkshare.before_fork(proc.emu)
    vfork_fd = None
    if flags & CLONE_VFORK:
        # The parent of a vfork sleeps until the child execs or exits: a
        # close-on-exec pipe reaches EOF at exactly those two moments.
        r, w = os.pipe2(os.O_CLOEXEC)
        vfork_fd = (_high_fd(r), _high_fd(w))
        if flags & CLONE_VM and hasattr(proc.emu, "stop_others"):
            # The child's stores are copied back over the parent's memory
            # (vfork.py): threads running on other CPUs meanwhile would
            # have theirs overwritten, so they wait with the parent.
            proc.emu.stop_others()
    pid = os.fork()
    if pid == 0:
        if proc.vfork_pipe is not None:
            # We are a vfork child forking: our parent waits for us, not for this child.
            os.close(proc.vfork_pipe)
            proc.vfork_pipe = None
        if vfork_fd:
            os.close(vfork_fd[0])
            proc.vfork_pipe = vfork_fd[1]
            # The parent's memory: see vfork.py.
            proc.vfork_vm = proc.space.next_serial if flags & CLONE_VM else None
        proc.after_fork_child()
        emu = proc.emu
        if newsp:
            emu.reg_write(proc.arch.stack_pointer, newsp)
        if flags & CLONE_SETTLS and proc.arch.tls_register:
            emu.reg_write(proc.arch.tls_register, tls)
        if flags & CLONE_CHILD_SETTID and ctid:
            proc.write(ctid, struct.pack("<i", proc.pid))
        return 0
    if vfork_fd:
        from ..vfork import apply_changes, receive_changes   # lazy: pickle, for CLONE_VFORK only
        os.close(vfork_fd[1])
        changes = receive_changes(vfork_fd[0])
        os.close(vfork_fd[0])
        if flags & CLONE_VM:
            apply_changes(proc.emu, proc.space, changes)
    if flags & CLONE_PARENT_SETTID and ptid:
        proc.write(ptid, struct.pack("<i", pid))
    return pid


def _high_fd(fd: int) -> int:
    """Move a descriptor of tcgpy's own out of the range the guest allocates
    from (where the guest's descriptor limit leaves room for that: the pipe
    lives only until the child execs or exits)."""
    try:
        return move_high(fd)
    except OSError:
        return fd


@syscall("clone3", "p u")
def sys_clone3(proc, args, size):
    return proc.err("ENOSYS")        # glibc falls back to clone


@syscall("execve", "s p p")
def sys_execve(proc, path, argv, envp):
    gpath = proc.read_cstr(path)
    hpath = guest_path(proc, path)          # sysroot, and /proc/self/exe is the guest program
    try:
        # MAX_ARG_STRLEN: one argument or environment string is at most 32 pages.
        args = [proc.read_cstr(a, 1 << 17) for a in proc.read_ptr_array(argv)]
        env = [proc.read_cstr(e, 1 << 17) for e in proc.read_ptr_array(envp)]
    except GuestErrno:
        return proc.err("E2BIG")
    if not os.path.exists(hpath):
        return proc.err("ENOENT")
    if os.path.isdir(hpath) or not os.access(hpath, os.X_OK):
        return proc.err("EACCES")
    guest = False
    try:
        with open(hpath, "rb") as f:
            magic = f.read(4)
        if magic == b"\x7fELF":
            info = read_elf(os.fsdecode(hpath))
            # A program of the host's own architecture exec'd by a translated
            # guest runs natively, as before there was a KVM engine; under the
            # KVM engine it stays a guest of tcgpy's kernel.
            from ...accel import host_arch
            guest = info.arch.name != host_arch() or getattr(proc.emu, "native", False)
    except LoadError:
        guest = False
    except OSError as e:
        raise e
    proc.flush_logs()
    proc.vfork_send()
    if guest:
        cmd = proc.exec_command(os.fsdecode(hpath), args, env, execfn=gpath)
        proc.prepare_host_exec()
        os.execve(sys.executable, cmd, os.environ)
    proc.prepare_host_exec()
    try:
        os.execve(hpath, args or [gpath], dict(e.split(b"=", 1) for e in env if b"=" in e))
    except OSError:
        proc.undo_prepare_host_exec()
        raise
    return NORETURN


def _write_status(proc, addr, status):
    if addr:
        proc.write(addr, struct.pack("<i", status))


@syscall("wait4", "i p x p")
def sys_wait4(proc, pid, wstatus, options, rusage):
    # Never a blocking host wait, where a guest signal could not end it (host
    # signals are blocked on the CPU thread): the caller waits in the
    # scheduler, which asks the host again every RETRY_INTERVAL, so a handler
    # runs meanwhile, EINTR/SA_RESTART apply as in the kernel (-ERESTARTSYS),
    # and other guest threads run.
    def check():
        try:
            got, status, ru = os.wait4(s32(pid), (options & 0xFFFFFFFF) | os.WNOHANG)
        except ChildProcessError:
            return proc.err("ECHILD")
        if not got and not options & os.WNOHANG:
            return None
        if got:
            _reaped(proc, got)
            _write_status(proc, wstatus, status)
            if rusage:
                proc.write(rusage, pack_rusage(proc, ru))
        return got
    return _wait_child(proc, check)


def _reaped(proc, pid: int) -> None:
    """A child reaped while SIGCHLD is at its default or ignored: the kernel
    discarded its SIGCHLD when the child exited.  The host's may still be on
    its way to the signal watcher, which must not hand it to a handler the
    guest installs later (hostsig.SignalWatcher.forward)."""
    sigs = proc.signals
    if sigs.actions[sigs.numbers["SIGCHLD"]].handler in (SIG_DFL, SIG_IGN):
        if len(proc.reaped_at_default) > 4096:
            proc.reaped_at_default.clear()
        proc.reaped_at_default.add(pid)


def _wait_child(proc, check):
    got = check()
    if got is not None:
        return got
    proc.sched.block_check(check, periodic=True, sa_restart=True)
    return NORETURN


@syscall("waitid", "i i p x p")
def sys_waitid(proc, idtype, id_, infop, options, rusage):
    def check():
        try:
            # As wait4: the wait happens in the scheduler, not in the host.
            res = os.waitid(idtype, s32(id_), (options & 0xFFFFFFFF) | os.WNOHANG)
        except ChildProcessError:
            return proc.err("ECHILD")
        if res is None and not options & os.WNOHANG:
            return None
        if res is not None and not options & os.WNOWAIT:
            _reaped(proc, res.si_pid)
        lay = proc.layout("siginfo_chld")
        if infop:
            if res is None:
                proc.write(infop, bytes(lay.size))
            else:
                proc.write(infop, lay.pack(si_signo=res.si_signo, si_code=res.si_code, si_pid=res.si_pid,
                                           si_uid=res.si_uid, si_status=res.si_status))
        return 0
    return _wait_child(proc, check)


@syscall("pidfd_open", "i x")
def sys_pidfd_open(proc, pid, flags):
    """Guest processes are host processes (fork is the host's), so a pidfd
    is the host's: poll reports the exit, waitid(P_PIDFD) reaps through it.
    Always close-on-exec, as the kernel's; PIDFD_NONBLOCK is O_NONBLOCK."""
    nonblock = proc.arch.consts.OPEN_FLAGS["O_NONBLOCK"]
    if flags & ~nonblock:
        return proc.err("EINVAL")
    return os.pidfd_open(s32(pid), os.O_NONBLOCK if flags & nonblock else 0)


@syscall("getpriority", "i i")
def sys_getpriority(proc, which, who):
    # The raw syscall returns 20 - nice (never negative); glibc converts back.
    return 20 - os.getpriority(s32(which), s32(who))


@syscall("setpriority", "i i i")
def sys_setpriority(proc, which, who, prio):
    os.setpriority(s32(which), s32(who), s32(prio))
    return 0


def _sched_pid(proc, pid: int) -> int:
    """The host process a sched_* call means: guest threads are all this one."""
    pid = s32(pid)
    return 0 if pid in proc.sched.threads else pid


@syscall("sched_getscheduler", "i")
def sys_sched_getscheduler(proc, pid):
    return os.sched_getscheduler(_sched_pid(proc, pid))


@syscall("sched_getparam", "i p")
def sys_sched_getparam(proc, pid, param):
    prio = os.sched_getparam(_sched_pid(proc, pid)).sched_priority
    proc.write(param, struct.pack("<i", prio))
    return 0


@syscall("sched_setparam", "i p")
def sys_sched_setparam(proc, pid, param):
    (prio,) = struct.unpack("<i", proc.read(param, 4))
    os.sched_setparam(_sched_pid(proc, pid), os.sched_param(prio))
    return 0


@syscall("sched_setscheduler", "i i p")
def sys_sched_setscheduler(proc, pid, policy, param):
    (prio,) = struct.unpack("<i", proc.read(param, 4))
    os.sched_setscheduler(_sched_pid(proc, pid), s32(policy), os.sched_param(prio))
    return 0


@syscall("sched_get_priority_max", "i")
def sys_sched_get_priority_max(proc, policy):
    return os.sched_get_priority_max(s32(policy))


@syscall("sched_get_priority_min", "i")
def sys_sched_get_priority_min(proc, policy):
    return os.sched_get_priority_min(s32(policy))


@syscall("sched_rr_get_interval", "i p")
def sys_sched_rr_get_interval(proc, pid, tp):
    t = os.sched_rr_get_interval(_sched_pid(proc, pid))
    proc.write(tp, struct.pack("<qq", int(t), round((t - int(t)) * 1e9)))
    return 0
