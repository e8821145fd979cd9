"""A Linux process running on a tcgpy Emulator: loading, the syscall
entry point, signal delivery, and the CPU loop that turns guest faults into
guest signals and host signals into guest signals at block boundaries."""
from __future__ import annotations

import errno
import functools
import operator
import gc
import os
import signal as host_signal
import struct
import sys
import threading

from ..errors import AlignmentFault, EmulationError, GuestTrap, IllegalInstruction, MemoryFault, WatchpointHit
from ..record import factory, record
from .abi import LinuxArch
from .errnos import GuestErrno, host_to_guest_errno
from .exits import ProcessExit, ProcessKilled
from .forkshare import ForkShare, move_high
from .guestmem import GuestMemory
from .hostsig import SignalWatcher, kill_self
from .loader import LoadError, build_stack, load_program, read_elf
from .memory import PAGE, AddressSpace, page_down
from .ownfile import OwnFile
from .signals import (BUS_ADRALN, BUS_ADRERR, ILL_ILLOPC, SEGV_ACCERR, SEGV_MAPERR, SI_KERNEL, SIG_DFL, SIG_IGN,
                      TRAP_BRKPT, PendingSignal, SignalState, host_signal_name)
from .syscalls import TABLE
from .syscalls.args import MASK64, s32
from .syscalls.blocking import FD_POSITIONED, FD_WAITS, remember_positioned, wait_instead
from .syscalls.fs import IOCTLS, MAX_IO
from .syscalls.signal import host_signo
from .syscalls.strace import strace_call, strace_result
from .syscalls.table import NORETURN
from .threads import Scheduler, ThreadExit

SIGTRAMP_ADDR = 0xFFFF_0000        # where the rt_sigreturn trampoline page lives


def _high_if_room(fd: int) -> int:
    """``fd`` moved above the guest's descriptor range, or left where it is
    when the descriptor limit leaves no room there."""
    try:
        return move_high(fd)
    except OSError:
        return fd


@record
class Options:
    strace: bool = False
    sysroot: str | None = None
    log: object = None                 # file-like for -strace / -d output
    diag: object = None                # tcgpy's own stderr (an OwnFile), when it has one
    # command line to re-run tcgpy for a guest execve: the program, then options
    exec_prefix: list[str] = factory(lambda: [sys.executable, "-m", "tcgpy", "run"])
    exec_argv: list[str] = factory(list)
    stack_size: int | None = None      # -s: bytes of main-thread stack (default: the AddressSpace's)
    uname_release: str | None = None   # -r: what uname(2) says the kernel release is
    seed: int | None = None            # -seed: AT_RANDOM and getrandom(2) repeat from this seed
    # guest signals the guest that exec'd this program ignored (execve keeps them ignored)
    ignored: frozenset[int] = frozenset()
    # -d items the Linux layer logs (LOG_ITEMS), to ``log``
    log_items: frozenset[str] = frozenset()


# -d items of the Linux layer (qemu-user's names): item -> what it logs
LOG_ITEMS = {
    "unimp": "syscalls tcgpy does not implement (ENOSYS) and undefined instructions (SIGILL)",
    "guest_errors": "bad addresses the guest passed to syscalls (EFAULT)",
    "page": "the guest's memory map after loading the program",
    "int": "every signal delivered to the guest: number, code, address, and what it does",
}


def first_inaccessible(exc: MemoryFault, space: AddressSpace) -> int:
    """The kernel's si_addr for a faulting access: its first byte that cannot
    be accessed.  The CPU reports where the access starts; when that page
    allows the access, only the access's tail (at most 16 bytes) can have
    faulted, in the next page."""
    addr = exc.address
    v = space.find(addr)
    need = "w" if exc.access == "write" else "r"
    if exc.access == "fetch" or v is None or v.hole or need not in v.perms:
        return addr
    return page_down(addr) + PAGE


def _guest_signal_for_fault(sigs: SignalState, exc: EmulationError, space: AddressSpace) -> PendingSignal:
    n = sigs.numbers
    fixed = getattr(exc, "linux_signal", None)
    if fixed is not None:
        # The engine knows the signal Linux gives for this CPU exception (x86 #GP, #DE...).
        name, code, addr = fixed
        return _fault_signal(n[name], code, addr)
    if isinstance(exc, MemoryFault) and not isinstance(exc, AlignmentFault):
        addr = first_inaccessible(exc, space)
    if isinstance(exc, AlignmentFault):
        signo, code, addr = n["SIGBUS"], BUS_ADRALN, exc.address
    elif isinstance(exc, MemoryFault) and space.is_hole(addr):
        signo, code = n["SIGBUS"], BUS_ADRERR     # beyond the end of a mapped file
    elif isinstance(exc, MemoryFault):
        signo = n["SIGSEGV"]
        code = SEGV_ACCERR if space.find(addr) is not None else SEGV_MAPERR
    elif isinstance(exc, IllegalInstruction):
        signo, code, addr = n["SIGILL"], ILL_ILLOPC, exc.pc
    elif isinstance(exc, GuestTrap):
        signo, code, addr = n["SIGTRAP"], TRAP_BRKPT, exc.pc
    else:
        signo, code, addr = n["SIGSEGV"], SI_KERNEL, exc.pc
    return _fault_signal(signo, code, addr)


def _fault_signal(signo: int, code: int, addr: int) -> PendingSignal:
    info = struct.pack("<iiiiQ", signo, 0, code, 0, addr).ljust(128, b"\0")
    return PendingSignal(signo, info, fault_address=addr)


# Syscalls after which a descriptor number may name another file than before.
FD_REUSE = frozenset({"close", "close_range", "dup2", "dup3", "execve", "execveat"})
# Syscalls after which a file behind a file mapping may be shorter: those
# that shrink files, and waits for another process, which may have.  Then
# its pages past the end become holes (AddressSpace.refresh_file_holes), as
# they do when a wait in the scheduler ends (threads.py).  Not at every
# syscall: two fstat(2)s per mapped file made dd's read/write twice as
# expensive, and busguard.py catches the host SIGBUS of a shrink no
# syscall saw.
FILES_MAY_SHRINK = frozenset({"truncate", "ftruncate", "openat", "fallocate", "wait4", "waitid"})

# What on_syscall does for a syscall besides calling its handler, as bits
# worked out once per row (dispatch_table) rather than four set lookups a call.
CHECK_OWN_FD, CHECK_WAITS, CHECK_POSITIONED, CHECK_REUSE, CHECK_SHRINK = 1, 2, 4, 8, 16


def dispatch_table(table: dict) -> dict:
    """syscall number -> (row, number of arguments, CHECK_* bits)."""
    def checks(row) -> int:
        return ((CHECK_OWN_FD if row.fd_args else 0) | (CHECK_WAITS if row.name in FD_WAITS else 0)
                | (CHECK_POSITIONED if row.name in FD_POSITIONED else 0)
                | (CHECK_REUSE if row.name in FD_REUSE else 0) | (CHECK_SHRINK if row.name in FILES_MAY_SHRINK else 0))
    return {nr: (row, len(row.args), checks(row)) for nr, row in table.items()}


def plain_table(dispatch: dict, args_of) -> dict:
    """syscall number -> (row, arguments(), index of its descriptor argument
    or -1) for the rows on_syscall's lean path serves: those that need none
    of the CHECK_* work, or only CHECK_OWN_FD of one descriptor argument,
    which a negative number (an anonymous mmap's -1) passes without the
    descriptor lists.  ``args_of(n)`` reads the first n argument registers
    (getppid reads none, munmap two: not all six for each)."""
    plain = {}
    for nr, (row, nargs, checks) in dispatch.items():
        if checks == 0:
            plain[nr] = (row, args_of(nargs), -1)
        elif checks == CHECK_OWN_FD and len(row.fd_args) == 1:
            plain[nr] = (row, args_of(nargs), row.fd_args[0])
    return plain


def _syscall_registers(emu, abi):
    """(number(), args_of(n), set_result(value)) for ``emu``: args_of(n) is a
    function reading the first n argument registers.  Straight from the
    env's fields where they are plain 64-bit registers (one C call for
    all of them: reg_read by name cost a sixth of a read(2)'s time in
    Python), else through reg_read/reg_write (the KVM engine)."""
    env, names = getattr(emu, "env", None), (abi.number, *abi.args, abi.ret)
    fields = getattr(emu, "plain_reg_fields", lambda _: None)(names) if env is not None else None
    if fields is None:
        def args_of(n: int):
            return lambda: tuple(emu.reg_read(r) for r in abi.args[:n])
        return (lambda: emu.reg_read(abi.number), args_of, lambda v: emu.reg_write(abi.ret, v))
    nr_field, *arg_fields, ret_field = fields

    def args_of(n: int):
        if n == 0:
            return tuple
        if n == 1:
            one = operator.attrgetter(arg_fields[0])
            return lambda: (one(env),)
        return functools.partial(operator.attrgetter(*arg_fields[:n]), env)
    return functools.partial(getattr, env, nr_field), args_of, functools.partial(setattr, env, ret_field)


class LinuxProcess(GuestMemory):
    def __init__(self, emu, arch: LinuxArch, options: Options):
        self.emu = emu
        self.arch = arch
        self.opts = options
        self.log = options.log or sys.stderr
        self.space = AddressSpace(emu)
        if options.stack_size is not None:
            self.space.STACK_SIZE = options.stack_size
        # The model's features, for AT_HWCAP and /proc/cpuinfo (an engine
        # without models, such as the tests' Unicorn one, has them all).
        models = getattr(emu.arch, "cpu_models", None) or {}
        model = models.get(getattr(emu, "cpu", None))
        self.cpu_features: tuple[str, ...] | None = model.features if model is not None else None
        self._rng = None
        if options.seed is not None:
            import random
            self._rng = random.Random(options.seed)
        self.table = TABLE.for_arch(arch.consts.SYSCALLS)
        self.dispatch = dispatch_table(self.table)
        self.names = {v: k for k, v in arch.consts.SYSCALLS.items()}
        self.signals = SignalState(arch.consts)
        self.errno = arch.consts.ERRNO
        self.pid = os.getpid()
        self.exe_path = ""
        self.tid_address = 0
        self.umask_value = None
        self.exit_status: int | None = None
        self.fault_info: EmulationError | None = None
        self.wakeup = threading.Event()    # set when a host signal is queued
        self.dirstate: dict[int, list] = {}   # getdents64 position per directory fd
        self.epolls: dict[int, tuple] = {}    # epoll fd -> (host epoll, fd -> guest data)
        self.vfiles: dict[int, object] = {}   # guest fd -> procfs.VirtualFile (/proc/self/mem)
        self.comm = b""                       # /proc/self/comm, prctl(PR_SET_NAME)
        self.arg_span = self.env_span = (0, 0)   # where argv and envp strings sit on the guest stack
        self.vfork_pipe: int | None = None    # in a CLONE_VFORK child: the parent waits for its EOF
        self.vfork_vm: int | None = None      # ... and CLONE_VM: the parent gets our stores and
                                              # mappings; the first VMA serial made after the fork
        self.forkshare = ForkShare()          # blocks forked children translated, for the next ones
        # Several names share a number (FIONREAD == TIOCINQ): keep the one we handle.
        self.sched = Scheduler(self)
        self.ioctl_names = {v: k for k, v in arch.consts.IOCTLS.items() if k in IOCTLS}
        # descriptors that never wait (regular files, /dev/null...): the
        # FD_WAITS syscalls on them run at once (syscalls/blocking.py, wait_instead);
        # forgotten whenever a number may come to name another file
        self.never_wait_fds: set[int] = set()
        self.reaped_at_default: set[int] = set()   # see syscalls/proc.py, _reaped
        self._read_nr, args_of, self._write_ret = _syscall_registers(emu, arch.abi)
        self._read_args = args_of(len(arch.abi.args))
        # The syscalls on_syscall serves without its generic bookkeeping
        self.plain = plain_table(self.dispatch, args_of)
        # read/write/pread64/pwrite64 on never_wait_fds served in host code
        # without coming here (the TCG engine's; None elsewhere), while
        # nothing needs to see every syscall (host_syscalls_wanted)
        make = getattr(emu, "host_syscalls", None)
        abi = arch.abi
        self.host_syscalls = make((abi.number, abi.args, abi.ret), arch.consts.SYSCALLS, MAX_IO) if make else None
        self.debugged = False                 # a debugger (linux/debuggee.py) sees every syscall
        emu.on_syscall = self.on_syscall
        if hasattr(emu, "relocate_fds"):
            # The engine's descriptors (KVM's) out of the numbers the guest
            # expects its opens to get, as tcgpy's others are.
            emu.relocate_fds(_high_if_room)

    @property
    def auxv_bytes(self) -> bytes:
        return self.image.auxv

    def layout(self, name: str):
        return self.arch.structs[name]

    def err(self, name: str) -> int:
        return -self.errno[name]

    def host_path(self, path: bytes) -> bytes:
        """qemu -L semantics: absolute guest paths that exist under the sysroot go there."""
        if self.opts.sysroot and path.startswith(b"/"):
            alt = os.fsencode(self.opts.sysroot).rstrip(b"/") + path
            if os.path.lexists(alt):
                return alt
        return path

    # -- loading ---------------------------------------------------------------------
    def load(self, path: str, argv: list[bytes], envp: list[bytes], execfn: bytes | None = None) -> None:
        info = read_elf(path)
        if info.arch is not self.arch:
            raise LoadError(f"{path}: architecture {info.arch.name} does not match the emulator")
        img = load_program(self.space, info, self.opts.sysroot)
        self.image = img
        self.exe_path = os.path.abspath(path)
        execfn = execfn if execfn is not None else os.fsencode(path)
        sp = build_stack(self.space, self.arch, img, argv, envp, execfn,
                         random16=self.random_bytes(16), features=self.cpu_features)
        # The strings lie end to end, argv's then envp's (as the kernel lays them out).
        arg_start = self.read_u64(sp + 8) if argv else 0
        self.arg_span = (arg_start, arg_start + sum(len(a) + 1 for a in argv))
        self.env_span = (self.arg_span[1], self.arg_span[1] + sum(len(e) + 1 for e in envp))
        self.comm = os.path.basename(execfn)[:15]      # the kernel's: the name execve was given
        self.space.map(SIGTRAMP_ADDR, PAGE, "rx", "[sigtramp]")
        self.emu.mem_write(SIGTRAMP_ADDR, self.arch.sigframe.TRAMPOLINE)
        self.arch.start_thread(self.emu, img.start_pc, sp)
        if "page" in self.opts.log_items:
            self._log_page_layout(img, sp)

    def _dlog(self, item: str, text: str) -> None:
        """A -d line of the Linux layer's ``item``, if it was asked for."""
        if item in self.opts.log_items:
            self._trace(text)

    def _log_page_layout(self, img, sp: int) -> None:
        lines = ["page layout changed following binary load",
                 f"{'start':<16} {'end':<16} {'size':<16} prot"]
        for v in self.space.vmas:
            lines.append(f"{v.start:016x}-{v.end:016x} {v.end - v.start:016x} {v.perms:<3} {v.name}".rstrip())
        lines += [f"start_brk   0x{self.space.brk_start:016x}", f"brk         0x{self.space.brk:016x}",
                  f"start_stack 0x{sp:016x}", f"entry       0x{img.entry:016x}"]
        self._trace("\n".join(lines) + "\n")

    def random_bytes(self, n: int) -> bytes:
        """Randomness the guest is given: repeatable under -seed."""
        return os.urandom(n) if self._rng is None else self._rng.randbytes(n)

    # -- syscalls --------------------------------------------------------------------
    def on_syscall(self, emu) -> None:
        if self.signals.host_queue and self.signal_first():
            return
        nr = self._read_nr()
        plain = self.plain.get(nr)
        if plain is not None and not (self.forkshare.early or self.opts.strace):
            # The lean path (most calls): the handler with the arguments it
            # takes, and no check it does not need.
            row, read_args, fd_at = plain
            args = read_args()
            if fd_at >= 0 and not args[fd_at] & 0x8000_0000:
                self._syscall(nr, self._read_args())   # a descriptor: it may be one of tcgpy's
                return
            try:
                ret = row.handler(self, *args)
                if ret.__class__ is not int and ret is not NORETURN:
                    self._check_result(ret)
            except (ProcessExit, ProcessKilled):
                raise
            except Exception as e:
                ret = self._failed(row, e)
            if ret is not NORETURN:
                self._write_ret(ret & MASK64)
            self._after_syscall()
        else:
            self._syscall(nr, self._read_args())

    def _syscall(self, nr: int, args: tuple) -> None:
        """A syscall by the generic path: -strace, the CHECK_* work, unknown numbers."""
        entry = self.dispatch.get(nr)
        trace = self.opts.strace
        if self.forkshare.early:
            self.forkshare.at_syscall(self.emu)
        if entry is None:
            checks = 0
            name = self.names.get(nr, f"syscall_{nr}")
            ret = self.err("ENOSYS")
            self._dlog("unimp", f"Unsupported syscall: {nr} ({name})\n")
            if trace:
                self._trace(f"{self.sched.current.tid} {name}(...) [unimplemented]" + strace_result(self, None, ret) + "\n")
        else:
            row, nargs, checks = entry
            if trace:
                self._trace(strace_call(self, row, args))
                loads = self.sched.loads
            try:
                ret = None
                if checks & CHECK_OWN_FD and self._names_own_fd(row, args):
                    ret = self.err("EBADF")       # tcgpy's descriptors are not the guest's
                elif checks & CHECK_WAITS:
                    ret = wait_instead(self, row.name, args)
                elif checks & CHECK_POSITIONED:
                    remember_positioned(self, s32(args[row.fd_args[0]]))
                if ret is None:
                    ret = row.handler(self, *args[:nargs])
                if checks & CHECK_REUSE:
                    self.forget_never_wait_fds()
                if ret.__class__ is not int and ret is not NORETURN:
                    self._check_result(ret)
            except (ProcessExit, ProcessKilled):
                if trace:
                    self._trace("\n")
                raise
            except Exception as e:
                ret = self._failed(row, e)
            if trace:
                self._trace(strace_result(self, row, ret, waited=self.sched.loads != loads) + "\n")
        if ret is not NORETURN:
            self._write_ret(ret & MASK64)
        if checks & CHECK_SHRINK and self.space.files.data and (
                row.name != "openat" or args[2] & self.arch.consts.OPEN_FLAGS["O_TRUNC"]):
            # (an openat shrinks a file only with O_TRUNC: a dynamic
            # program's libraries are private file mappings, so the other
            # openats would pay an fstat for each, ~2 us)
            self.space.refresh_file_holes()
        self._after_syscall()

    @staticmethod
    def _check_result(ret) -> None:
        if not isinstance(ret, int):
            raise TypeError(f"handler returned {ret!r}")

    def _failed(self, row, e: Exception) -> int:
        """The guest's result of a handler that raised ``e``."""
        if isinstance(e, OSError):
            if e.errno == errno.EFAULT and self.bad_buffer is not None:
                # (a read or write whose buffer the host kernel faulted on: guestmem.io_buffers)
                (bad, access), self.bad_buffer = self.bad_buffer, None
                self._dlog("guest_errors", f"{row.name}: bad address {bad:#x} ({access}): EFAULT\n")
            return -host_to_guest_errno(e.errno or 0, self.errno) if e.errno else self.err("EINVAL")
        if isinstance(e, GuestErrno):
            return self.err(e.name)
        if isinstance(e, MemoryFault):
            self._dlog("guest_errors", f"{row.name}: bad address {e.address:#x} ({e.access}): EFAULT\n")
            return self.err("EFAULT")
        if isinstance(e, (ValueError, OverflowError)):
            return self.err("EINVAL")
        # a tcgpy bug: say so in one line, let the guest see EINVAL
        sys.stderr.write(f"tcgpy: internal error in {row.name}: {type(e).__name__}: {e}\n")
        return self.err("EINVAL")

    def _after_syscall(self) -> None:
        """Signals the call made deliverable, and whether host code may now
        serve syscalls: asked only when the answer may be no or may have
        changed (a signal pending, -strace, a forked child's first
        syscalls, or host code held off, as a debugger holds it)."""
        sigs = self.signals
        if sigs.pending or sigs.host_queue or self.wakeup.is_set() or self.sched.current.saved_mask is not None:
            self.deliver_pending()          # (else it would find nothing to do)
        hs = self.host_syscalls
        if hs is not None and (sigs.pending or not hs.wanted or self.forkshare.early or self.opts.strace):
            wanted = self.host_syscalls_wanted()
            if wanted != hs.wanted:
                hs.want(wanted)

    def signal_first(self) -> bool:
        """A host signal the watcher thread queued while the guest ran up to
        this syscall instruction is delivered before the syscall, as Linux
        delivers one that comes while user code runs: the handler returns to
        the instruction, and the syscall runs then.  True when a handler
        frame was pushed.  (Run after it, a sigaction(SIG_DFL) or a mask the
        syscall sets judged the signal instead: a timer's last SIGALRM killed
        a guest that had just stopped the timer and reset the action; more
        often once reads and writes stopped coming to Python, which left the
        watcher more room to queue a signal just before a syscall.)"""
        emu, pc = self.emu, self.arch.pc
        at = emu.reg_read(pc)
        emu.reg_write(pc, at - self.arch.syscall_insn_size)
        if self.deliver_pending():
            return True
        emu.reg_write(pc, at)
        return False

    def host_syscalls_wanted(self) -> bool:
        """Whether host code may serve syscalls now: not while -strace, a
        debugger or a forked child's first syscalls (forkshare.py) must see
        each, nor while a signal that is not blocked is pending (it is
        delivered at the next syscall that reaches here, or the next return
        to the dispatcher; one left pending behind a handler that is running
        would wait for the next of those)."""
        sigs = self.signals
        return not (self.opts.strace or self.debugged or self.forkshare.early
                    or sigs.pending and sigs.pending_mask() & ~sigs.blocked)

    def never_waits(self, fd: int) -> None:
        """Descriptor ``fd`` is a file or device that never makes a reader
        or writer wait (syscalls/blocking.py) until FD_REUSE."""
        self.never_wait_fds.add(fd)
        if self.host_syscalls is not None and fd not in self.vfiles:
            self.host_syscalls.allow(fd)     # (a /proc file tcgpy answers itself is not)

    def forget_never_wait_fds(self) -> None:
        self.never_wait_fds.clear()
        if self.host_syscalls is not None:
            self.host_syscalls.forget_fds()

    def _trace(self, text: str) -> None:
        try:
            self.log.write(text)
            self.log.flush()
        except BrokenPipeError:
            # qemu-user's log writes hit a default SIGPIPE: die of it, not of Python.
            kill_self(host_signal.SIGPIPE)

    # -- signals ---------------------------------------------------------------------
    def drain_host_signals(self) -> None:
        # Cleared before the queue is read: a signal queued meanwhile sets it
        # again, so none is left queued with nothing to say so.  (clear()
        # takes a lock; at every syscall there is usually nothing to clear.)
        if self.wakeup.is_set():
            self.wakeup.clear()
        q = self.signals.host_queue
        while q:
            info = q.popleft()
            self.signals.post(PendingSignal(struct.unpack_from("<i", info)[0], info))

    def take_host_signals(self) -> None:
        """drain_host_signals, with the host signals that arrived and the
        watcher thread has not taken yet (it may not have run since: a
        loaded machine): for the syscalls that report what is pending."""
        watcher = getattr(self, "watcher", None)
        if watcher is not None:
            watcher.drain()
        self.drain_host_signals()

    def deliver_pending(self, force: int = 0) -> bool:
        """Deliver what can be delivered; True when a guest handler frame was pushed."""
        self.drain_host_signals()
        while True:
            sig = self.signals.next_deliverable(force, self.sched.current.tid)
            if sig is None:
                self.restore_saved_mask()
                return False
            if self.deliver(sig, synchronous=sig.signo == force):
                # The handler runs first; further signals are taken at its
                # next syscall or block boundary.
                return True

    def restore_saved_mask(self) -> None:
        """The mask a rt_sigsuspend/ppoll/pselect6/epoll_pwait installed ends with the call
        (a handler it let in has run by now, or none was due)."""
        t = self.sched.current
        if t.saved_mask is not None:
            self.signals.blocked, t.saved_mask = t.saved_mask, None

    def deliver(self, sig: PendingSignal, synchronous: bool = False) -> bool:
        """Deliver one signal; True when a guest handler was set up."""
        sigs = self.signals
        signo = sig.signo
        act = sigs.actions[signo]
        blocked = bool(sigs.blocked & (1 << (signo - 1)))
        if "int" in self.opts.log_items:
            code, addr = struct.unpack_from("<8xi4xQ", sig.siginfo)
            how = ("ignored" if act.handler == SIG_IGN and not synchronous else
                   "default action" if act.handler in (SIG_DFL, SIG_IGN) or (synchronous and blocked) else
                   f"handler {act.handler:#x}")
            self._trace(f"signal {signo} ({sigs.name(signo)}) code {code} addr {addr:#x} at pc "
                        f"{self.emu.reg_read(self.arch.pc):#x}{' (synchronous)' if synchronous else ''}: {how}\n")
        if act.handler == SIG_IGN and not synchronous:
            return False
        if act.handler in (SIG_DFL, SIG_IGN) or (synchronous and blocked):
            what = sigs.default_action(signo)
            if synchronous:
                what = "core" if what in ("core", "ignore") or act.handler == SIG_IGN else what
            if what == "ignore":
                return False
            if what == "stop":
                os.kill(os.getpid(), host_signal.SIGSTOP)
                return False
            self.die(signo, core=(what == "core"), fault=sig if synchronous else None)
        if self.opts.strace:
            code, addr = struct.unpack_from("<8xi4xQ", sig.siginfo)
            name = sigs.name(signo)
            self._trace(f"--- {name} {{si_signo={name}, si_code={code}, si_addr={addr:#x}}} ---\n")
        sa = sigs.sa
        sp = self.emu.reg_read(self.arch.stack_pointer)
        ss_sp, ss_flags, ss_size = sigs.altstack
        if act.flags & sa["SA_ONSTACK"] and ss_flags == 0 and not (ss_sp <= sp < ss_sp + ss_size):
            sp = ss_sp + ss_size
        # (SA_RESTORER is not on every architecture: without it the return is
        # through the trampoline, as through the vDSO)
        restorer = act.restorer if act.flags & sa.get("SA_RESTORER", 0) else SIGTRAMP_ADDR
        try:
            # After a ppoll's EINTR the handler runs with the call's mask,
            # and sigreturn goes back to the mask from before the call.
            t = self.sched.current
            saved = sigs.blocked if t.saved_mask is None else t.saved_mask
            self.arch.sigframe.setup_rt_frame(self.emu, sp, signo, sig.siginfo, act.handler, restorer,
                                              saved, sigs.altstack, sig.fault_address)
            t.saved_mask = None
        except MemoryFault:
            self.die(sigs.numbers["SIGSEGV"], core=True, fault=None)
        sigs.blocked |= act.mask
        if not act.flags & sa["SA_NODEFER"]:
            sigs.blocked |= 1 << (signo - 1)
        sigs.blocked &= ~((1 << (sigs.numbers["SIGKILL"] - 1)) | (1 << (sigs.numbers["SIGSTOP"] - 1)))
        if act.flags & sa["SA_RESETHAND"]:
            sigs.actions[signo] = type(act)()
        return True

    def die(self, signo: int, core: bool, fault: PendingSignal | None = None):
        msg = ""
        if core:
            desc = host_signal_name(signo)
            # qemu-user says "- core dumped"; tcgpy writes no core file, so it
            # says what happened instead.
            msg = f"tcgpy: uncaught target signal {signo} ({desc})"
            if self.fault_info is not None:
                msg += f": {self.fault_info}"
        raise ProcessKilled(signo, msg)

    # -- host process plumbing (fork, exec, logs) ---------------------------------------
    def start_signal_watcher(self) -> None:
        self.watcher = SignalWatcher(self)
        self.watcher.start(self.opts.ignored)

    def flush_logs(self) -> None:
        for f in (self.log, sys.stdout, sys.stderr):
            if f is None:           # the descriptor was closed when tcgpy started
                continue
            try:
                f.flush()
            except (OSError, ValueError):
                pass

    def after_fork_child(self) -> None:
        # What the child inherited stays out of its collector's sight: a
        # full collection writes to every object it visits, which would
        # copy the parent's whole heap into the child (a collection in the
        # child of a 400,000-object heap: 29 MiB of its own, 0.9 MiB
        # frozen).  Freezing relinks the collector's lists, it does not
        # touch the objects.  Cycles among them are left uncollected here:
        # the parent collects its own.
        gc.freeze()
        self.pid = os.getpid()
        self.sched.after_fork_child(self.pid)
        self.signals.pending.clear()
        self.signals.host_queue.clear()
        self.wakeup.clear()
        if getattr(self, "watcher", None) is not None:
            self.watcher.after_fork_child()
        if hasattr(self.emu, "after_fork_child"):
            self.emu.after_fork_child()       # an engine whose CPU belongs to one process (KVM)
        self.forkshare.after_fork_child(self.emu)

    def own_fds(self) -> set[int]:
        """The host descriptors tcgpy itself has open in this process: to the
        guest they are closed numbers, absent from /proc/self/fd."""
        fds = self.space.file_fds()
        for f in (self.log, self.opts.diag):
            if isinstance(f, OwnFile):
                fds.add(f.fd)
        if self.vfork_pipe is not None:
            fds.add(self.vfork_pipe)
        if hasattr(self.emu, "host_fds"):
            fds |= self.emu.host_fds()
        return fds | self.forkshare.fds()

    def _names_own_fd(self, row, args) -> bool:
        # dup3 onto one of our numbers is allowed: ours moves out of the way
        fd_args = row.fd_args[:1] if row.name == "dup3" else row.fd_args
        # A number in never_wait_fds is the guest's: it was checked here
        # before it got there, and it leaves there when it is closed or
        # replaced (FD_REUSE); meanwhile tcgpy cannot get that number.
        never_wait = self.never_wait_fds
        if len(fd_args) == 1:           # (most: without the lists)
            fd = s32(args[fd_args[0]])
            return fd >= 0 and fd not in never_wait and fd in self.own_fds()
        fds = [fd for fd in (s32(args[i]) for i in fd_args) if fd >= 0 and fd not in never_wait]
        if not fds:
            return False        # AT_FDCWD, anonymous mmap's -1: not ours, and own_fds' set is not built
        own = self.own_fds()
        return any(fd in own for fd in fds)

    def move_own_fd(self, fd: int) -> None:
        """Give descriptor number ``fd`` up to the guest: whatever of tcgpy's
        uses it moves to another number above the guest's usual range."""
        if fd not in self.own_fds():
            return
        new = move_high(os.dup(fd))
        for f in (self.log, self.opts.diag):
            if isinstance(f, OwnFile) and f.fd == fd:
                f.fd = new
        if self.vfork_pipe == fd:
            self.vfork_pipe = new
        for fm in self.space.all_file_maps():
            if fm.fd == fd:
                fm.renumber(new)
        self.forkshare.renumber(fd, new)
        os.close(fd)

    def vfork_send(self) -> None:
        """About to exec or exit: a vfork child's parent gets our stores, and
        a forked child's parent the blocks we translated (forkshare.py)."""
        if self.vfork_pipe is not None and self.vfork_vm is not None:
            from .vfork import send_changes   # lazy: pickle, for CLONE_VFORK children only
            send_changes(self.emu, self.space, self.vfork_vm, self.vfork_pipe)
        self.forkshare.teach_parent(self.emu)

    def prepare_host_exec(self) -> None:
        if getattr(self, "watcher", None) is not None:
            self.watcher.prepare_exec()

    def undo_prepare_host_exec(self) -> None:
        if getattr(self, "watcher", None) is not None:
            self.watcher.undo_prepare_exec()

    def exec_command(self, path: str, argv: list[bytes], envp: list[bytes], execfn: bytes) -> list[str]:
        """The host command line that runs guest program ``path`` under tcgpy
        again, with the same options (a guest execve of a guest binary)."""
        import json
        dec = [os.fsdecode(a) for a in argv]
        # The guest environment travels in an inherited memfd: an argument is
        # limited to 128 KiB and would show the environment in ps.
        fd = os.memfd_create("tcgpy-guest-environ", 0)
        os.write(fd, json.dumps([os.fsdecode(e) for e in envp]).encode())
        os.set_inheritable(fd, True)
        cmd = [*self.opts.exec_prefix, *self.opts.exec_argv,
               "--exec-environ-fd", str(fd), "--execfn", os.fsdecode(execfn)]
        ignored = sorted(g for g, act in self.signals.actions.items() if act.handler == SIG_IGN)
        if ignored:
            cmd += ["--exec-ignored", ",".join(map(str, ignored))]
        if dec:
            cmd += ["-0", dec[0]]
        return cmd + ["--", path, *dec[1:]]

    # -- the CPU loop ----------------------------------------------------------------
    def run(self) -> None:
        """Run until the guest exits (ProcessExit) or dies (ProcessKilled)."""
        try:
            self._run()
        except (ProcessExit, ProcessKilled):
            self.vfork_send()
            raise

    def _host_bus_fault(self) -> bool:
        """A host SIGBUS from a file another process truncated (the engine's
        watch_host_bus): the pages past its end become holes and the guest
        gets its SIGBUS."""
        host = self.emu.take_host_bus_fault()
        if host is None:
            return False
        if not host:
            # The engine cannot say where (KVM): the shrunk files' pages
            # become holes, and the access, run again, faults in one (a
            # SIGBUS there, as for any hole).
            return self.space.refresh_file_holes()
        addr = self.space.guest_address(host)
        self.space.refresh_file_holes()
        if addr is None:
            return False            # not a guest mapping any more
        v = self.space.find(addr)
        if v is not None and not v.hole and v.file is not None:
            # The file grew back meanwhile: the page busguard replaced is the file's again.
            page = page_down(addr)
            self.space.map_file(page, PAGE, v.perms, v.name, v.file, v.foff + (page - v.start), v.shared,
                                v.may_write)
        self.fault_info = MemoryFault(self.emu.reg_read(self.arch.pc), addr, "read")
        sig = _fault_signal(self.signals.numbers["SIGBUS"], BUS_ADRERR, addr)
        sig.tid = self.sched.current.tid
        self.signals.pending.insert(0, sig)
        self.deliver_pending(force=sig.signo)
        return True

    def _run(self) -> None:
        try:
            while True:
                sig = self.run_once()
                if sig is not None:
                    self.deliver_fault(sig)
        except ThreadExit:
            # The main thread exited with others running on their own vCPUs
            # (threads.py, parallel): the process ends when they do.
            self.sched.main_thread_exited()

    def end_host_process(self, e: BaseException) -> None:
        """End this host process as the guest process ended (``e``:
        ProcessExit or ProcessKilled), where no caller of ``run`` is left
        to do it: a forked child whose only thread is not the host's main
        one (threads.py, parallel)."""
        self.vfork_send()
        self.flush_logs()
        if isinstance(e, ProcessExit):
            os._exit(e.status)
        if e.message:
            try:
                sys.stderr.write(e.message + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        kill_self(host_signo(self, e.signo))

    def run_once(self, count: int | None = None) -> PendingSignal | None:
        """Run the current thread until a fault, the end of its time slice,
        a host signal's stop, a breakpoint or ``count`` instructions (which
        needs an Emulator with icount).  A fault that is a guest signal is
        returned, not delivered yet: a debugger sees it first (linux/debuggee.py).
        ``retried`` says the guest did not run (a page faulted in, a host
        SIGBUS turned into a guest one): the same instruction is next."""
        emu = self.emu
        self.fault_info = None
        self.retried = False
        try:
            emu.run(emu.reg_read(self.arch.pc), count=count)
        except WatchpointHit:
            raise
        except EmulationError as exc:
            self.retried = True
            if self._host_bus_fault():
                return None
            if (isinstance(exc, MemoryFault) and not isinstance(exc, AlignmentFault)
                    and self.space.fault_in(first_inaccessible(exc, self.space))):
                return None
            self.retried = False
            self.fault_info = exc
            if isinstance(exc, IllegalInstruction):
                self._dlog("unimp", f"undefined instruction {exc.word:#010x} at pc {exc.pc:#x}\n")
            sig = _guest_signal_for_fault(self.signals, exc, self.space)
            sig.tid = self.sched.current.tid
            return sig
        # run() came back without a fault: a time slice ended, a host
        # signal asked us to stop, or busguard caught a host SIGBUS.
        if self._host_bus_fault():
            return None
        if self.sched.need_resched:
            self.sched.preempt()
        self.deliver_pending()
        if self.host_syscalls is not None:
            self.host_syscalls.want(self.host_syscalls_wanted())
        return None

    def deliver_fault(self, sig: PendingSignal) -> None:
        """Deliver the signal of a fault (run_once's) ahead of any other."""
        self.signals.pending.insert(0, sig)
        self.deliver_pending(force=sig.signo)

    def signal_fault(self) -> None:
        """The SIGSEGV the kernel forces on a thread whose signal frame it
        could not read or restore (si_code SI_KERNEL, no address)."""
        sig = _fault_signal(self.signals.numbers["SIGSEGV"], SI_KERNEL, 0)
        sig.tid = self.sched.current.tid
        self.deliver_fault(sig)
