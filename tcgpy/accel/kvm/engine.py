"""The KVM engine: x86-64 guest code runs natively in ring 3 of a VM
(machine.py) and every syscall, exception and page fault comes back here.

It offers the same surface as the TCG ``Emulator`` (tcgpy/accel/engine.py):
memory (``mem_map``/``mem_unmap``/``mem_protect``/``mem_read``/``mem_write``),
registers by name, ``run(begin, until, count, timeout)`` with the same
exceptions, ``on_syscall`` and ``request_exit``, so the Linux layer and the
library API run on it unchanged.

Registers.  While the vCPU is stopped, ``self.regs`` holds the guest's
user-visible registers.  Entering writes an ``iretq`` frame (rip, cs,
rflags, rsp, ss) on the kernel stack and points the vCPU at the stub's
``iretq``; a VM exit from the stub gives the registers back (rip, rflags
and rsp from the exception frame, or from rcx/r11 after ``syscall``).
When the vCPU stopped in ring 3 instead (a breakpoint, a single step, a
kick), the registers are set directly.

Threads.  A guest thread is a vCPU of its own (``add_vcpu``, made when the
guest clones a thread), driven by a host thread of its own: every
per-vCPU attribute of this class (``regs``, the FPU state, the kvm_run
page...) is the one of the vCPU the calling host thread is bound to
(``bind_vcpu``; unbound threads see the first vCPU).  The memory, the page
tables and the memory slots are the VM's, one for all vCPUs.  A Linux
process with several threads serialises everything outside KVM_RUN with
the *kernel lock* (``hold_kernel``): a vCPU lets go of it only for the
ioctl, which ctypes makes without the GIL, so the vCPUs compute in
parallel while syscalls are served one at a time.

TLB shootdown.  When a present page-table entry changes (munmap,
mprotect, a remap) while another vCPU is *live* (its ring-3 state in the
CPU: running, or stopped by a kick and not yet taken into the stub), the
change is published before the changing thread leaves the kernel
(``_publish``): every other vCPU is kicked out of KVM_RUN (a signal, as an
IPI) and waited for (it cannot go back in: that needs the kernel lock),
then the page-table memory slot is removed and added again.  That makes KVM itself drop every
translation derived from the tables, for all vCPUs: the shadow page tables
under shadow paging (this machine's nested KVM), the TLBs of the vCPUs
(KVM flushes them on a memslot removal) with EPT/NPT.  No vCPU can then use
an old entry, and none ran guest code while the slot was gone (a walk of
absent tables would have been a spurious page fault).  New entries are
published lazily: each vCPU makes the same writes through its flush stub
on its next entry, and so are changed ones while no other vCPU is live:
each of those returns to ring 3 only through the stub, which makes the
writes and reloads cr3 (a TLB flush) first.  The changing thread's vCPU makes them before its
syscall returns to the guest, so before the guest can tell another thread
of the mapping: with EPT/NPT the walker sees tcgpy's stores anyway and no
TLB keeps a not-present entry; under shadow paging those guest writes are
what makes KVM update its shadow, which all vCPUs share.
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import contextlib
import threading
import time
import weakref

from ...errors import EmulationError, GuestTrap, IllegalInstruction, MemoryFault, UnhandledSyscall
from ..engine import RunTimer
from . import kvmapi as K
from . import machine as M
from . import umip
from . import xstate as X
from .faults import CpuException, exception_for
from .xstate import FX_ARRAYS, FX_FIELDS, FX_STRIDE, XSTATE_BV, XSTATE_X87_SSE

MASK64 = (1 << 64) - 1
GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags")
GPR_SET = frozenset(GPRS)
ALIASES = {"pc": "rip", "sp": "rsp"}
RFLAGS_FIXED = 0x2                 # bit 1 always reads as 1
RFLAGS_USER = 0x0DD5 | 0x40000 | 0x200000 | 0x10000   # flags ring 3 may hold (CF..OF, AC, ID, RF)
RFLAGS_IF = 0x200
RFLAGS_TF = 0x100                  # single-step: #DB after each instruction (run with count)
RFLAGS_RF = 0x10000                # resume: the breakpoint at rip does not fire again
# Ring 3's segment registers: the GDT's user code and data selectors, and
# ds/es/fs/gs null (iretq to ring 3 nulls a data segment register holding a
# ring-0 selector; fs and gs are used through their bases), as under Linux.
USER_SELECTORS = {"cs": M.USER_CS, "ss": M.USER_DS, "ds": 0, "es": 0, "fs": 0, "gs": 0}
INT3 = b"\xcc"
KICK_SIGNAL = 16                   # SIGSTKFLT: unused by Linux and not forwarded to guests (hostsig.py)

_kick_installed = False
_live: "weakref.WeakSet[KvmEmulator]" = weakref.WeakSet()
SHOOTDOWN_POLL = 0.0002            # seconds between looks at whether kicked vCPUs have left KVM_RUN
SHOOTDOWN_REKICK = 0.05            # ... and between kicks, should one be lost


class Vcpu:
    """One vCPU's own state: its KVM descriptors and kvm_run page, its
    kernel pages (machine.kernel_va), and the guest registers while it is
    stopped."""

    def __init__(self, index: int, area_host: int):
        self.index = index
        self._kernel_va = M.kernel_va(index)
        self._kernel_host = area_host + index * M.KERNEL_SIZE
        self._kstack_frame = self._kernel_host + M.KSTACK_TOP_OFF - 40
        self._queue = M.RunQueue(self._kernel_host + M.RUNS_OFF, self._kernel_va + M.RUNS_OFF)
        M.build_kernel_pages(self._kernel_host, self._kernel_va)
        self.regs = K.Regs()
        self.regs.rflags = RFLAGS_FIXED | RFLAGS_IF
        self._fs_base = self._gs_base = 0
        self._segs_dirty = False
        self._fpu: K.Xsave | None = None    # the XSAVE area, fetched on demand while stopped
        self._fpu_dirty = False
        self._step = False                  # single-stepping (TF) for run(count=...)
        self._exit_requested = False
        # KVM_RUN failed with EFAULT: host memory behind the guest's is gone
        # (take_host_bus_fault); _efault_again: the run before failed so too
        self._bus_fault = False
        self._efault_again = False
        self._vcpu_thread = None            # the host thread in run(), for kicks
        self._vcpu = -1
        self._vcpu_sigmask = None
        self._run_page = self._run = self._sync = None
        self._sregs = None
        self._fresh_sregs = False
        self._in_user = False
        self.last_run_insns = 0
        self.stop_reason: str | None = None
        self.hit_breakpoint: int | None = None
        self._flush_due = False             # enter through the flush stub (page-table writes, cr3)
        self._pending_runs: list = []       # page-table writes this vCPU has still to make
        self._runs_overflow = False         # ... more than its queue holds: re-shadow instead
        self._queue_stale = False           # what an interrupted stub left queued is superseded
        self._in_guest = False              # inside KVM_RUN (without the kernel lock)
        self._live = False                  # its ring-3 state is in the CPU, not saved by the stub
        self._holds_kernel = False          # its host thread serialises with the kernel lock
        self.idle = False                   # its guest thread ended: free for the next one

    def kick(self) -> None:
        """Take the vCPU out of KVM_RUN soon (any thread)."""
        run = self._run
        if run is not None:
            run.immediate_exit = 1
        t = self._vcpu_thread
        if t is not None:
            try:
                signal.pthread_kill(t, KICK_SIGNAL)
            except (ProcessLookupError, OSError):
                pass


class _OfVcpu:
    """An attribute of the vCPU the calling host thread drives (KvmEmulator.vcpu)."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, emu, owner=None):
        if emu is None:
            return self
        return getattr(emu._solo or emu.vcpu, self.name)

    def __set__(self, emu, value) -> None:
        setattr(emu._solo or emu.vcpu, self.name, value)


def _before_fork() -> None:
    # A forked child cannot use its parent's vCPU: fetch what is still in
    # it (the FP state is read lazily) while the parent can.
    for emu in list(_live):
        if emu._vcpu_thread is None:
            emu._fetch_fpu()


os.register_at_fork(before=_before_fork)


class _SigAction(ctypes.Structure):
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_uint64 * 16), ("flags", ctypes.c_int),
                ("restorer", ctypes.c_void_p)]


def _install_kick_handler() -> None:
    """A handler that does nothing for KICK_SIGNAL: its only job is to make
    KVM_RUN return EINTR.  It is libc's getpid, so no Python runs in the
    signal (the vCPU thread need not be the main thread)."""
    global _kick_installed
    if _kick_installed:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    sa = _SigAction(ctypes.cast(libc.getpid, ctypes.c_void_p).value, (ctypes.c_uint64 * 16)(), 0, None)
    if libc.sigaction(KICK_SIGNAL, ctypes.byref(sa), None) != 0:
        raise OSError(ctypes.get_errno(), "sigaction")
    _kick_installed = True


class KvmArch:
    """What the library API reports as ``emu.arch`` for an x86-64 KVM guest."""
    name = "x86_64"
    insn_size = 1
    cpu_models = None
    pseudo_regs: dict = {}

    @property
    def gdb(self):
        """The gdbstub's description of x86-64 (accel/kvm/gdb.py), loaded when gdb connects."""
        from .gdb import GDB
        return GDB


class KvmEmulator:
    """An x86-64 guest CPU running on KVM, with its own address space."""

    native = True        # the guest runs on the host's own CPU and ABI (tcgpy run: -L / by default)
    parallel_threads = True     # guest threads are vCPUs that run at the same time (linux/threads.py)

    def __init__(self, arch: str = "x86_64"):
        from .. import kvm_status
        problem = kvm_status()
        if problem:
            raise OSError(errno.ENODEV, problem)
        self.arch = KvmArch()
        self.on_syscall = None
        self.breakpoints: set[int] = set()
        self._patched: dict[int, bytes] = {}   # int3 written for a run's stops: original bytes
        self._bound = threading.local()     # .vcpu: the vCPU this host thread drives
        self._kernel = threading.Lock()     # the kernel lock (hold_kernel)
        self.kernel_hooks = None            # (leave, enter): called as a thread lets go of / takes it
        self._place_fd = lambda fd: fd      # relocate_fds
        self._regions: list[M.Region] = []  # sorted by start, disjoint
        self._extra_slots: dict[int, M.ExtraSlot] = {}
        self._next_slot_gpa = M.SLOTS_GPA
        self._area_host = K.host_alloc(M.KERNEL_AREA)
        self._pt_host = K.host_alloc(M.PT_SIZE)
        self._arena_host = K.host_alloc(M.ARENA_SIZE)
        self._arena = M.Arena(M.ARENA_GPA, M.ARENA_SIZE)
        self._arena_chunks = 0              # chunks of the arena registered as memory slots
        self._pt = M.PageTables(self._pt_host)
        # Every vCPU's kernel pages are mapped from the start: a vCPU made
        # later changes no page-table entry another vCPU may be using.
        self._pt.set_kernel(M.KERNEL_VA, M.KERNEL_AREA // M.PAGE, M.KERNEL_GPA, executable=False)
        for i in range(M.MAX_VCPUS):
            self._pt.set_kernel(M.kernel_va(i) + M.STUB_OFF, 1, M.KERNEL_GPA + i * M.KERNEL_SIZE + M.STUB_OFF,
                                executable=True)
        self._pt.set_kernel(M.PT_VA, M.PT_SIZE // M.PAGE, M.PT_GPA, executable=False)
        self._pt.changed = self._pt.stale = False
        self._pt.runs.clear()
        self._vcpus = [Vcpu(0, self._area_host)]
        self._solo: Vcpu | None = self._vcpus[0]     # the only vCPU, while there is one (fast path)
        _install_kick_handler()
        self._open_vm()
        self._start_vcpu(self._vcpus[0])
        _live.add(self)

    # -- vCPUs: one per guest thread ---------------------------------------------------------
    @property
    def vcpu(self) -> Vcpu:
        """The vCPU the calling host thread drives."""
        return getattr(self._bound, "vcpu", None) or self._vcpus[0]

    def bind_vcpu(self, cpu: Vcpu) -> None:
        """Make the calling host thread the one that drives ``cpu``."""
        self._bound.vcpu = cpu

    @contextlib.contextmanager
    def _as(self, cpu: Vcpu):
        before = getattr(self._bound, "vcpu", None)
        self._bound.vcpu = cpu
        try:
            yield
        finally:
            self._bound.vcpu = before

    def add_vcpu(self) -> Vcpu:
        """A vCPU for a new guest thread: one whose thread ended, or a new
        one (KVM_CREATE_VCPU); OSError(EAGAIN) past MAX_VCPUS."""
        for cpu in self._vcpus:
            if cpu.idle:
                cpu.idle = False
                return cpu
        free = sorted(set(range(M.MAX_VCPUS)) - {c.index for c in self._vcpus})
        if not free:
            raise OSError(errno.EAGAIN, "no vCPU left")
        cpu = Vcpu(free[0], self._area_host)
        self._solo = None                   # from now on each thread sees its own
        self._start_vcpu(cpu)
        self._vcpus.append(cpu)
        return cpu

    def retire_vcpu(self, cpu: Vcpu) -> None:
        """``cpu``'s guest thread ended (KVM cannot destroy a vCPU: it waits
        for the next thread).  Called with the kernel lock held, before
        ``drop_kernel``: nobody takes it over before its thread is done."""
        cpu.idle = True
        cpu._live = False       # whatever ring 3 had is gone: the next thread's state replaces it

    # -- the kernel lock ------------------------------------------------------------------------
    def hold_kernel(self) -> None:
        """From now on the calling thread (its vCPU) holds the kernel lock
        whenever it is not in KVM_RUN: called when a second thread appears."""
        self._kernel.acquire()
        self.vcpu._holds_kernel = True

    def release_kernel(self) -> None:
        """Let go of the kernel lock (to wait, or to run the guest): page-table
        changes are published first."""
        self._publish()
        hooks = self.kernel_hooks
        if hooks is not None:
            hooks[0]()
        self._kernel.release()

    def acquire_kernel(self) -> None:
        self._kernel.acquire()
        hooks = self.kernel_hooks
        if hooks is not None:
            hooks[1]()

    def drop_kernel(self) -> None:
        """The calling thread's guest thread ended: let go of the lock for good."""
        cpu = self.vcpu
        if cpu._holds_kernel:
            self._publish()
            cpu._holds_kernel = False
            self._kernel.release()

    def _publish(self) -> None:
        """Hand the page-table changes made since the last call to every
        vCPU: queued writes for their next entry, or, when a present entry
        changed and other vCPUs may be using it, a shootdown."""
        pt = self._pt
        if not pt.changed:
            return
        if pt.stale and any(c._live for c in self._vcpus if c is not self.vcpu):
            self._shootdown()
        else:
            for cpu in self._vcpus:
                if len(cpu._pending_runs) + len(pt.runs) > M.MAX_RUNS:
                    cpu._runs_overflow = True
                    cpu._pending_runs = []
                elif not cpu._runs_overflow:
                    cpu._pending_runs.extend(pt.runs)
                cpu._flush_due = True
        pt.runs.clear()
        pt.changed = pt.stale = False

    def stop_others(self) -> None:
        """Take every other vCPU out of KVM_RUN and wait for it; with the
        kernel lock held, none runs guest code again until it is let go of
        (a vfork parent's wait: the child's memory is copied back then)."""
        me = self.vcpu
        others = [c for c in self._vcpus if c is not me]
        last_kick = 0.0
        while True:
            inside = [c for c in others if c._in_guest]
            if not inside:
                break
            now = time.monotonic()
            if now - last_kick >= SHOOTDOWN_REKICK:
                for c in inside:
                    c.kick()
                last_kick = now
            time.sleep(SHOOTDOWN_POLL)

    def _shootdown(self) -> None:
        """Every other vCPU out of KVM_RUN, then KVM forgets every
        translation made from the page tables (module docstring); the
        queued writes are then superseded."""
        self.stop_others()
        self._reshadow()
        for cpu in self._vcpus:
            cpu._pending_runs = []
            cpu._runs_overflow = False
            cpu._queue_stale = True
            cpu._flush_due = True
        self._pt.runs.clear()
        self._pt.changed = self._pt.stale = False

    def _reshadow(self) -> None:
        """Make KVM drop every shadow of the page tables and the TLB entries
        made from them, on every vCPU, by removing their memory slot and
        adding it again; the next accesses rebuild them from the tables,
        which hold every change (tcgpy stores them)."""
        self._set_slot(M.SLOT_PT, M.PT_GPA, 0, self._pt_host)
        self._set_slot(M.SLOT_PT, M.PT_GPA, M.PT_SIZE, self._pt_host)

    # -- the VM and its vCPU (again in a forked child: KVM belongs to one process) --------------
    def host_fds(self) -> set[int]:
        """The host descriptors the engine holds (/dev/kvm, the VM, its vCPUs):
        not the guest's to see or close."""
        return {self._kvm, self._vm, *(c._vcpu for c in self._vcpus)}

    def relocate_fds(self, place) -> None:
        """From now on put each descriptor the engine opens where ``place(fd)``
        moves it (the Linux layer: above the guest's range), starting with
        those it has."""
        self._place_fd = place
        self._kvm, self._vm = place(self._kvm), place(self._vm)
        for c in self._vcpus:
            c._vcpu = place(c._vcpu)

    def _open_vm(self) -> None:
        place = self._place_fd
        self._kvm = place(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        self._vm = place(K.ioctl(self._kvm, K.CREATE_VM, 0))
        K.ioctl(self._vm, K.SET_TSS_ADDR, 0xFFFBD000)
        self._set_slot(M.SLOT_KERNEL, M.KERNEL_GPA, M.KERNEL_AREA, self._area_host)
        self._set_slot(M.SLOT_PT, M.PT_GPA, M.PT_SIZE, self._pt_host)
        for i in range(self._arena_chunks):
            self._set_arena_chunk(i)
        for s in self._extra_slots.values():
            self._set_slot(s.index, s.gpa, s.size, s.host)
        self._run_size = K.ioctl(self._kvm, K.GET_VCPU_MMAP_SIZE, 0)
        self._has_sync = bool(K.ioctl(self._kvm, K.CHECK_EXTENSION, K.CAP_SYNC_REGS) & K.SYNC_X86_REGS)
        cpuid = K.Cpuid()
        cpuid.nent = K.MAX_CPUID
        K.ioctl(self._kvm, K.GET_SUPPORTED_CPUID, cpuid)
        self._cpuid = cpuid
        self.cpuid = {(e.function, e.index): (e.eax, e.ebx, e.ecx, e.edx) for e in cpuid.entries[:cpuid.nent]}
        self.xstate = X.layout_from_cpuid(self.cpuid)     # the vCPUs' XSAVE area (XCR0, layout)
        self.umip = bool(self.cpuid.get((7, 0), (0, 0, 0, 0))[2] & umip.CPUID_UMIP)
        if self.xstate.features:
            # This machine's KVM (kvm_pvm) gives XSAVE state components in
            # leaf 0xD but clears XSAVE in leaf 1, and then refuses
            # CR4.OSXSAVE; the guest's own cpuid sees the host CPU (with
            # XSAVE and AVX), so without OSXSAVE its glibc found no usable
            # AVX and a signal frame had no XSAVE area to hold it.
            for e in cpuid.entries[:cpuid.nent]:
                if e.function == 1:
                    e.ecx |= X.CPUID_XSAVE

    def _start_vcpu(self, cpu: Vcpu) -> None:
        """KVM_CREATE_VCPU for ``cpu`` and its long-mode ring-0 state (its own kernel pages)."""
        cpu._vcpu = self._place_fd(K.ioctl(self._vm, K.CREATE_VCPU, cpu.index))
        cpu._vcpu_sigmask = None
        cpu._run_page = K.map_run_page(cpu._vcpu, self._run_size)
        cpu._run = K.RunHead.from_address(cpu._run_page)
        cpu._sync = None
        if self._has_sync:
            cpu._sync = K.RunSync.from_address(cpu._run_page + K.RUN_SYNC_OFFSET)
            cpu._sync.valid_regs = K.SYNC_X86_REGS
        K.ioctl(cpu._vcpu, K.SET_CPUID2, self._cpuid)
        xsave = bool(self.xstate.features)
        sregs = K.Sregs()
        K.ioctl(cpu._vcpu, K.GET_SREGS, sregs)
        M.long_mode_sregs(sregs, xsave, cpu._kernel_va)
        if self.umip:
            sregs.cr4 |= umip.CR4_UMIP          # ring 3 may not read the descriptor tables (umip.py)
        cpu._sregs = sregs
        cpu._segs_dirty = True
        cpu._fresh_sregs = True             # _sregs is to be loaded as it is (a new vCPU)
        if xsave:
            xcrs = K.Xcrs()
            xcrs.nr_xcrs = 1
            xcrs.xcrs[0].xcr = 0
            xcrs.xcrs[0].value = self.xstate.features
            K.ioctl(cpu._vcpu, K.SET_XCRS, xcrs)
        msrs = M.syscall_msrs(cpu._kernel_va)
        blob = ctypes.create_string_buffer(8 + 16 * len(msrs))
        ctypes.c_uint32.from_buffer(blob, 0).value = len(msrs)
        for i, (index, value) in enumerate(msrs):
            e = K.MsrEntry.from_buffer(blob, 8 + 16 * i)
            e.index, e.data = index, value
        if K.ioctl(cpu._vcpu, K.SET_MSRS, blob) != len(msrs):
            raise OSError(errno.EINVAL, "KVM refused the syscall MSRs")
        cpu._in_user = False
        cpu._flush_due = True
        # The tables' memory holds every change: a new VM or vCPU has no
        # shadow to bring up to date, and an interrupted stub's queue is past.
        cpu._pending_runs = []
        cpu._queue_stale = True
        with self._as(cpu):
            if cpu._fpu is None:
                # the state Linux starts a process with
                self.reg_write("fcw", 0x37F)
                self.reg_write("mxcsr", 0x1F80)
            cpu._fpu_dirty = True

    def _kvm_run(self) -> int:
        """KVM_RUN: 0 or the errno.  A kick (blocked outside KVM_RUN) that
        ended it is still pending afterwards: take it, or the next KVM_RUN
        would end at once too.  A thread that holds the kernel lock lets
        go of it for the ioctl only."""
        cpu = self.vcpu
        if cpu._holds_kernel:
            # _in_guest is set before the lock is let go of: a shootdown that
            # takes the lock next waits for this KVM_RUN to end.
            cpu._in_guest = True
            self.release_kernel()
            try:
                err = K.run_vcpu(cpu._vcpu)
            finally:
                cpu._in_guest = False
                self.acquire_kernel()
        else:
            err = K.run_vcpu(cpu._vcpu)
        if err == errno.EINTR:
            signal.sigtimedwait({KICK_SIGNAL}, 0)
        return err

    def _set_arena_chunk(self, i: int) -> None:
        off = i * M.ARENA_CHUNK
        self._set_slot(M.SLOT_ARENA + i, M.ARENA_GPA + off, M.ARENA_CHUNK, self._arena_host + off)

    def _arena_reaches(self, end: int) -> None:
        """Register the arena's chunks up to guest-physical ``end`` (before
        anything maps memory there: a vCPU may use it once it is mapped)."""
        while M.ARENA_GPA + self._arena_chunks * M.ARENA_CHUNK < end:
            self._set_arena_chunk(self._arena_chunks)
            self._arena_chunks += 1

    def _set_slot(self, index: int, gpa: int, size: int, host: int) -> None:
        r = K.MemoryRegion(index, 0, gpa, size, host)
        K.ioctl(self._vm, K.SET_USER_MEMORY_REGION, r)

    def after_fork_child(self) -> None:
        """In a forked child: the parent's VM is not usable here; build one
        over this process's (copy-on-write) copy of the same memory, with
        one vCPU: the forking thread's."""
        me = self.vcpu
        for fd in [c._vcpu for c in self._vcpus] + [self._vm, self._kvm]:
            try:
                os.close(fd)
            except OSError:
                pass
        for c in self._vcpus:
            c._run = c._sync = None
            if c._run_page is not None:
                K.host_free(c._run_page, self._run_size)     # the parent's vCPU's: dead here
            c._run_page = None
        self._vcpus = [me]
        self._solo = me
        self._open_vm()
        self._start_vcpu(me)

    # -- memory ------------------------------------------------------------------------------
    def _index(self, addr: int) -> int:
        lo, hi = 0, len(self._regions)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._regions[mid].start <= addr:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def _find(self, addr: int) -> M.Region | None:
        i = self._index(addr)
        if i >= 0 and addr < self._regions[i].end:
            return self._regions[i]
        return None

    def guest_may_write(self, address: int, size: int) -> bool:
        """Whether guest code may store ``size`` bytes at ``address`` (its mappings' permissions)."""
        end = address + size
        while address < end:
            r = self._find(address)
            if r is None or "w" not in r.perms:
                return False
            address = r.end
        return True

    def _overlapping(self, start: int, end: int) -> list[M.Region]:
        i = max(self._index(start), 0)
        out = []
        while i < len(self._regions) and self._regions[i].start < end:
            r = self._regions[i]
            if r.end > start:
                out.append(r)
            i += 1
        return out

    @staticmethod
    def _check(address: int, size: int) -> None:
        if address & (M.PAGE - 1) or size & (M.PAGE - 1) or size <= 0:
            raise ValueError(f"address {address:#x} and size {size:#x} must be page-aligned and size > 0")
        if address + size > M.USER_LIMIT:
            raise ValueError(f"range {address:#x}+{size:#x} is beyond the 47-bit user address space")

    def mem_map(self, address: int, size: int, perms="rwx", backing=None) -> None:
        """Map ``size`` bytes of zeroed memory at ``address`` (page-aligned), or
        the host memory of ``backing`` (tcgpy.softmmu.memory.host_backing)."""
        self._check(address, size)
        perms = _perms(perms)
        if self._overlapping(address, address + size):
            raise ValueError(f"range {address:#x}+{size:#x} overlaps an existing mapping")
        if backing is None:
            gpa = self._arena.alloc(size)
            self._arena_reaches(gpa + size)
            region = M.Region(address, address + size, perms, gpa, self._arena_host + (gpa - M.ARENA_GPA))
        else:
            if backing.host & (M.PAGE - 1) or backing.size < size:
                raise ValueError("a backing must be page-aligned and cover the mapping")
            slot = self._new_slot(backing, size)
            region = M.Region(address, address + size, perms, slot.gpa, slot.host, slot)
        self._regions.insert(self._index(address) + 1, region)
        self._pt.set(address, size // M.PAGE, region.gpa, M.leaf_flags(perms))

    def _new_slot(self, backing, size: int) -> M.ExtraSlot:
        used = {s.index for s in self._extra_slots.values()}
        index = next(i for i in range(M.FIRST_EXTRA_SLOT, 1 << 15) if i not in used)
        slot = M.ExtraSlot(index, self._next_slot_gpa, size, backing.host, backing, users=1)
        self._next_slot_gpa += (size + 0x1FFFFF) & ~0x1FFFFF
        self._set_slot(index, slot.gpa, size, slot.host)
        self._extra_slots[index] = slot
        return slot

    def _split(self, addr: int) -> None:
        r = self._find(addr)
        if r is None or r.start == addr:
            return
        off = addr - r.start
        piece = M.Region(addr, r.end, r.perms, r.gpa + off, r.host + off, r.slot)
        if r.slot is not None:
            r.slot.users += 1
        r.end = addr
        self._regions.insert(self._regions.index(r) + 1, piece)

    def mem_unmap(self, address: int, size: int) -> None:
        """Unmap a range mapped throughout (ValueError otherwise, as the TCG
        Emulator and Unicorn refuse it); ``unmap_any`` is munmap's rule."""
        self._check(address, size)
        covered = address
        for r in self._overlapping(address, address + size):
            if r.start > covered:
                break
            covered = r.end
        if covered < address + size:
            raise ValueError(f"mem_unmap: [{address:#x}, {address + size:#x}) is not mapped throughout")
        self.unmap_any(address, size)

    def unmap_any(self, address: int, size: int) -> None:
        """Unmap whatever is mapped in a range (munmap(2)'s rule: holes are fine)."""
        self._check(address, size)
        end = address + size
        for addr in [a for a in self._patched if address <= a < end]:
            del self._patched[addr]         # its int3 goes with the memory: nothing to restore
        self._split(address)
        self._split(end)
        for r in self._overlapping(address, end):
            self._regions.remove(r)
            self._pt.set(r.start, (r.end - r.start) // M.PAGE, 0, 0)
            if r.slot is None:
                K.host_zero(r.host, r.end - r.start)
                self._arena.release(r.gpa, r.end - r.start)
            else:
                r.slot.users -= 1
                if r.slot.users == 0:
                    self._set_slot(r.slot.index, r.slot.gpa, 0, r.slot.host)
                    del self._extra_slots[r.slot.index]

    def mem_protect(self, address: int, size: int, perms) -> None:
        self._check(address, size)
        end = address + size
        perms = _perms(perms)
        self._split(address)
        self._split(end)
        for r in self._overlapping(address, end):
            r.perms = perms
            self._pt.set(r.start, (r.end - r.start) // M.PAGE, r.gpa, M.leaf_flags(perms))

    def mem_regions(self) -> list[tuple[int, int, str]]:
        return [(r.start, r.end, "".join(c if c in r.perms else "-" for c in "rwx")) for r in self._regions]

    def _host_ranges(self, address: int, size: int, access: str):
        out = []
        while size > 0:
            r = self._find(address)
            if r is None:
                raise MemoryFault(self.regs.rip, address, access)
            n = min(size, r.end - address)
            out.append((r.host + (address - r.start), n))
            address += n
            size -= n
        return out

    def mem_read(self, address: int, size: int) -> bytes:
        """Read bytes regardless of page permissions (the mapping must exist)."""
        data = b"".join(ctypes.string_at(h, n) for h, n in self._host_ranges(address, size, "read"))
        if self._patched:
            # a syscall of the running guest reads its code as it is, without our int3s
            out = bytearray(data)
            for addr, orig in self._patched.items():
                if address <= addr < address + size:
                    out[addr - address] = orig[0]
            data = bytes(out)
        return data

    def mem_write(self, address: int, data: bytes) -> None:
        """Write bytes regardless of page permissions (the mapping must exist)."""
        data = bytes(data)
        pos = 0
        for h, n in self._host_ranges(address, len(data), "write"):
            ctypes.memmove(h, data[pos:pos + n], n)
            pos += n
        if self._patched:
            # A syscall wrote over an int3 of the running guest's stops: what
            # it wrote is what the stop gives back, and the int3 stays.
            for addr in [a for a in self._patched if address <= a < address + len(data)]:
                self._patched[addr] = data[addr - address:addr - address + 1]
                self._patch_byte(addr)

    # -- registers -----------------------------------------------------------------------------
    def _fetch_fpu(self) -> bytearray:
        """The vCPU's XSAVE area (its first 512 bytes: the fxsave image), read
        once per stop.  KVM_SET_FPU would leave XSTATE_BV alone, and a state
        component whose bit is clear is loaded as its initial value: writes
        go through KVM_SET_XSAVE with the x87 and SSE bits set."""
        if self._fpu is None:
            x = K.Xsave()
            K.ioctl(self._vcpu, K.GET_XSAVE, x)
            self._fpu = x
        return memoryview(self._fpu.region).cast("B")

    def _fpu_changed(self, components: int = 0) -> None:
        area = self._fetch_fpu()
        bv = int.from_bytes(area[XSTATE_BV:XSTATE_BV + 8], "little") | XSTATE_X87_SSE | components
        area[XSTATE_BV:XSTATE_BV + 8] = bv.to_bytes(8, "little")
        self._fpu_dirty = True

    @staticmethod
    def _fx_place(name: str) -> tuple[int, int] | None:
        """(offset, size) of register ``name`` in the fxsave image, or None."""
        if name in FX_FIELDS:
            return FX_FIELDS[name]
        for prefix, (base, count, size) in FX_ARRAYS.items():
            index = name[len(prefix):]
            if name.startswith(prefix) and index.isdigit() and int(index) < count:
                return base + FX_STRIDE * int(index), size
        return None

    def reg_read(self, name: str) -> int:
        if name in GPR_SET:                 # the common case (each syscall reads seven), first
            return getattr(self.regs, name)
        n = ALIASES.get(name.lower(), name.lower())
        if n in GPRS:
            return getattr(self.regs, n)
        if n == "fs_base":
            return self._fs_base
        if n == "gs_base":
            return self._gs_base
        if n in USER_SELECTORS:
            return USER_SELECTORS[n]
        if n == "xsave":
            return bytes(self._fetch_fpu())
        place = self._fx_place(n)
        if place is not None:
            off, size = place
            return int.from_bytes(self._fetch_fpu()[off:off + size], "little")
        halves = X.ymm_halves(self.xstate, n)
        if halves is not None:
            area, (low, high) = self._fetch_fpu(), halves
            return (int.from_bytes(area[low:low + 16], "little")
                    | int.from_bytes(area[high:high + 16], "little") << 128)
        raise ValueError(f"unknown register {name!r}")

    def reg_write(self, name: str, value: int) -> None:
        if name in GPR_SET and name != "rflags" and 0 <= value <= MASK64:
            setattr(self.regs, name, value)
            return
        n = ALIASES.get(name.lower(), name.lower())
        place = self._fx_place(n)
        halves = X.ymm_halves(self.xstate, n)
        if halves is not None:
            if not -(1 << 255) <= value < 1 << 256:
                raise ValueError(f"{name}: {value:#x} does not fit in 256 bits")
            area, (low, high) = self._fetch_fpu(), halves
            area[low:low + 16] = (value & ((1 << 128) - 1)).to_bytes(16, "little")
            area[high:high + 16] = (value >> 128 & ((1 << 128) - 1)).to_bytes(16, "little")
            self._fpu_changed(X.AVX)
            return
        if n != "xsave":
            # as tcgpy.Emulator: two's complement for a negative value, an
            # error for one that does not fit the register
            bits = max(64, 8 * place[1]) if place is not None else 64
            if not -(1 << (bits - 1)) <= value < 1 << bits:
                raise ValueError(f"{name}: {value:#x} does not fit in {bits} bits")
        if n in GPRS:
            if n == "rflags":
                value = (value & RFLAGS_USER) | RFLAGS_FIXED | RFLAGS_IF
            setattr(self.regs, n, value & MASK64)
            return
        if n in ("fs_base", "gs_base"):
            if value >= M.USER_LIMIT and value < (MASK64 - M.USER_LIMIT + 1):
                raise ValueError(f"{n} {value:#x} is not a canonical address")
            setattr(self, "_" + n, value & MASK64)
            self._segs_dirty = True
            return
        if n in USER_SELECTORS:
            if value != USER_SELECTORS[n]:
                raise ValueError(f"{n} is {USER_SELECTORS[n]:#x} in ring 3 and cannot be changed")
            return
        if n == "xsave":
            # the whole XSAVE area (x87, SSE, AVX...): a thread's FP context
            self._fetch_fpu()[:] = bytes(value)
            self._fpu_dirty = True
            return
        if place is None:
            raise ValueError(f"unknown register {name!r}")
        off, size = place
        if n == "mxcsr":
            value &= 0xFFFF             # reserved bits would make the load fail
        self._fetch_fpu()[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        self._fpu_changed()

    # -- the FP state as signal frames hold it (linux/x86_64/signal_frame.py) ------------------
    def xsave(self) -> bytes:
        """The FP and vector state as XSAVE writes it for every component the
        guest may use (``xstate.features``; ``xstate.size`` bytes, standard
        form; without XSAVE the 512-byte fxsave image)."""
        return X.user_image(self._fetch_fpu(), self.xstate)

    def xrstor(self, img: bytes, features: int) -> None:
        """Load ``img`` as rt_sigreturn does: XRSTOR of the components in
        ``features``, the others put in their initial state
        (xstate.BadXstate for an image the CPU refuses)."""
        area = self._fetch_fpu()
        X.load_image(area, img, features, self.xstate)
        self._fpu_dirty = True

    def fpu_init(self) -> None:
        """Every FP/vector register in its initial state (fninit's x87, MXCSR 0x1f80, zero vectors)."""
        X.init_state(self._fetch_fpu(), self.xstate)
        self._fpu_dirty = True

    # -- what the Linux layer asks of an engine (accel/engine.py) ------------------------------
    counts_instructions = True          # run(count=) single-steps

    # Native code is not translated: nothing for forked children to share.
    def prefetch_code(self, pcs) -> None:
        pass

    def learn_code(self) -> None:
        pass

    def code_learned(self) -> list[int]:
        return []

    def watch_host_bus(self, backing, lazy: bool = False) -> None:
        """Nothing to do: no tcgpy code touches a file mapping while the guest runs."""

    def take_host_bus_fault(self) -> int | None:
        """0 after a KVM_RUN that failed for host memory that is gone (where,
        KVM does not say), else None."""
        if not self._bus_fault:
            return None
        self._bus_fault = False
        return 0

    # -- debugging -------------------------------------------------------------------------------
    def add_breakpoint(self, address: int) -> None:
        """Make ``run`` stop before executing the instruction at ``address``
        (with ``hit_breakpoint`` set to it), unless the run starts there.
        ValueError for an address in memory shared with other processes."""
        address &= MASK64
        if self._shared(address):
            raise ValueError(f"cannot stop at {address:#x}: it is in a shared mapping")
        self.breakpoints.add(address)

    def remove_breakpoint(self, address: int) -> None:
        self.breakpoints.discard(address & MASK64)

    # No add_watchpoint: the debug registers do not fire under nested KVM
    # (docs/kvm.md), and guest code does not go through tcgpy to reach memory.

    def gdb_serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Wait for gdb (``target remote :PORT``; 0: a free port, said on
        stderr) and let it debug this guest from the current pc until it
        detaches or kills (tcgpy/gdbstub.py)."""
        from ... import gdbstub
        gdbstub.serve_emulator(self, port, host)

    # -- execution -------------------------------------------------------------------------------
    def request_exit(self, cpu: Vcpu | None = None) -> None:
        """Make ``run`` return soon (thread-safe): the vCPU is kicked out of
        KVM_RUN.  ``cpu``: that vCPU's run only; by default every vCPU's (a
        host signal, a timeout: whichever thread comes out takes it)."""
        for c in [cpu] if cpu is not None else list(self._vcpus):
            c._exit_requested = True
            c.kick()


    emu_stop = request_exit         # Unicorn's name (as tcgpy.Emulator)

    def _shared(self, addr: int) -> bool:
        """Whether ``addr`` is in memory other processes see (a MAP_SHARED
        mapping): no int3 may go there.  A private file mapping (a library's
        code) is this process's copy-on-write copy."""
        r = self._find(addr)
        return r is not None and r.slot is not None and not r.slot.backing.private

    def _patch_stops(self, stops: set[int]) -> None:
        """Put an ``int3`` at each address the run stops at.  (The debug
        registers would leave guest memory alone, but DR0-DR7 breakpoints do
        not fire under nested virtualisation, where tcgpy's CI runs.)"""
        for addr in stops:
            r = self._find(addr)
            if r is None or addr in self._patched:
                continue
            if self._shared(addr):
                raise ValueError(f"cannot stop at {addr:#x}: it is in a shared mapping")
            self._patched[addr] = ctypes.string_at(r.host + (addr - r.start), 1)
            self._patch_byte(addr)

    def _patch_byte(self, addr: int) -> None:
        r = self._find(addr)
        ctypes.memmove(r.host + (addr - r.start), INT3, 1)

    def _unpatch_stops(self) -> None:
        for addr, orig in self._patched.items():
            r = self._find(addr)
            if r is not None:
                ctypes.memmove(r.host + (addr - r.start), orig, 1)
        self._patched.clear()

    def _enter(self) -> None:
        """Load the stopped guest state into the vCPU before KVM_RUN.  The
        vCPU is in the stub (ring 0): it returns to ring 3 through iretq
        from a frame written on the kernel stack, first loading new fs/gs
        bases and making queued page-table writes when there are any."""
        self._publish()
        if self._fresh_sregs:
            K.ioctl(self._vcpu, K.SET_SREGS, self._sregs)
            self._fresh_sregs = False
        if self._fpu_dirty:
            K.ioctl(self._vcpu, K.SET_XSAVE, self._fpu)
            self._fpu_dirty = False
        self._fpu = None
        r = self.regs
        frame = (ctypes.c_uint64 * 5).from_address(self._kstack_frame)
        frame[:] = [r.rip, M.USER_CS, r.rflags | (RFLAGS_TF if self._step else 0), r.rsp, M.USER_DS]
        k = K.Regs.from_buffer_copy(r)
        k.rsp = self._kernel_va + M.KSTACK_TOP_OFF - 40
        k.rflags = RFLAGS_FIXED
        if self._segs_dirty:
            segs = (ctypes.c_uint64 * 2).from_address(self._kernel_host + M.SEGS_OFF)
            segs[0], segs[1] = self._fs_base, self._gs_base
            entry = M.STUB_SETSEG
        elif self._flush_due:
            entry = M.STUB_IRET_FLUSH
        else:
            entry = M.STUB_IRET
        k.rip = self._kernel_va + M.STUB_OFF + entry
        if self._flush_due or self._segs_dirty:
            self._write_runs()
        self._flush_due = self._segs_dirty = False
        self._set_regs(k)

    def _get_regs(self) -> K.Regs:
        """The vCPU's registers (those KVM stored in kvm_run at the exit, with sync regs)."""
        if self._sync is not None:
            return K.Regs.from_buffer_copy(self._sync.regs)
        k = K.Regs()
        K.ioctl(self._vcpu, K.GET_REGS, k)
        return k

    def _set_regs(self, k: K.Regs) -> None:
        """Registers for the next KVM_RUN (loaded by it, with sync regs)."""
        if self._sync is not None:
            self._sync.regs = k
            self._sync.dirty_regs |= K.SYNC_X86_REGS
        else:
            K.ioctl(self._vcpu, K.SET_REGS, k)

    def _write_runs(self) -> None:
        """Queue the page-table writes made since this vCPU's last entry for
        its flush stub, after what an interrupted stub left of its queue."""
        cpu = self.vcpu
        runs = ([] if cpu._queue_stale else cpu._queue.pending()) + cpu._pending_runs
        overflow = cpu._runs_overflow
        cpu._pending_runs, cpu._runs_overflow, cpu._queue_stale = [], False, False
        if overflow or len(runs) > M.MAX_RUNS or sum(run[2] for run in runs) > M.RESHADOW_ENTRIES:
            # Many changes (or more than the queue holds): make KVM forget
            # every shadow of the tables instead, by re-adding their slot.
            # The tables' memory already holds every change: tcgpy stored
            # them, and a stub interrupted before made older writes first.
            # No other vCPU may be inside the VM meanwhile (a shootdown).
            self._shootdown()
            cpu._queue_stale = False
            runs = []
        cpu._queue.load(runs)

    def run(self, begin: int, until: int | None = None, count: int | None = None,
            timeout: float | None = None) -> None:
        """Execute from ``begin`` until the instruction at ``until`` is reached
        (not executed), ``count`` instructions have run (single-stepped), or
        ``timeout`` seconds pass.  Faults raise :class:`MemoryFault`,
        :class:`IllegalInstruction`, :class:`GuestTrap` or a
        :class:`CpuException` with every register as before the faulting
        instruction; a syscall calls ``on_syscall`` (or raises
        :class:`UnhandledSyscall`)."""
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        self.regs.rip = begin & MASK64
        self._exit_requested = False
        self._run.immediate_exit = 0
        # The kick stays blocked in this thread, and is let in only inside
        # KVM_RUN: a kick that arrives while Python serves a syscall must not
        # interrupt the host calls made for it; it ends the next KVM_RUN.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {KICK_SIGNAL}) | {KICK_SIGNAL}
        if blocked != self._vcpu_sigmask:
            K.set_vcpu_signal_mask(self._vcpu, blocked - {KICK_SIGNAL})
            self._vcpu_sigmask = blocked
        self._vcpu_thread = threading.get_ident()
        self.hit_breakpoint = None
        stops = set(self.breakpoints)
        if until is not None:
            stops.add(until & MASK64)
        self.stop_reason = None
        timer = RunTimer(self.request_exit, timeout)
        done = 0
        first = True
        try:
            while True:
                rip = self.regs.rip
                if until is not None and rip == until & MASK64:
                    self.stop_reason = "until"
                    break
                if rip in self.breakpoints and not first:
                    self.hit_breakpoint = rip
                    self.stop_reason = "breakpoint"
                    break
                if count is not None and done >= count:
                    self.stop_reason = "count"
                    break
                if self._exit_requested:
                    self.stop_reason = "timeout" if timer.fired else "stop"
                    break
                # Resuming from a breakpoint: its instruction runs alone, unpatched.
                resume = first and rip in stops
                first = False
                self._step = count is not None or resume
                if not resume:
                    self._patch_stops(stops)
                done += self._run_once()
                if resume and count is None:
                    done = 0
        finally:
            timer.cancel()
            self._vcpu_thread = None
            self._exit_requested = False
            self._step = False
            self._unpatch_stops()
            self.last_run_insns = done

    def _run_once(self) -> int:
        """One KVM_RUN and the handling of its exit; instructions completed (when single-stepping)."""
        self._enter()
        self.vcpu._live = True
        err = self._kvm_run()
        run = self._run
        if err == errno.EINTR or (err == 0 and run.exit_reason == K.EXIT_INTR):
            run.immediate_exit = 0
            return self._stopped_anywhere()
        if err == errno.EFAULT and not self._efault_again:
            # KVM could not fault in the host page behind a guest access:
            # another process truncated a file the guest maps, under a loop
            # that made no syscall (KVM says no more on this kernel: no
            # KVM_EXIT_MEMORY_FAULT).  The instruction has not run; stop,
            # so that the Linux layer makes the pages past the file's end
            # holes (take_host_bus_fault) and runs it again: it faults then,
            # a SIGBUS.  A second EFAULT in a row is not that.  (Stopped as a
            # kick stops it: the state is the vCPU's, in ring 3.)
            self._efault_again = self._bus_fault = self._exit_requested = True
            return self._stopped_anywhere()
        if err:
            raise EmulationError(f"KVM_RUN failed: {os.strerror(err)} (pc {self.regs.rip:#x})")
        self._efault_again = False
        reason = run.exit_reason
        if reason == K.EXIT_IO:
            return self._from_stub(run.io_port)
        raise EmulationError(f"VM stopped unexpectedly (KVM exit {reason}) near pc {self.regs.rip:#x}")

    def _stub_va(self, rip: int) -> bool:
        base = self._kernel_va + M.STUB_OFF
        return base <= rip < base + M.PAGE

    def _stopped_anywhere(self) -> int:
        """A kick stopped the vCPU: in ring 3, in the stub about to enter
        ring 3, or at a stub entry whose exit is still to come."""
        if self._sync is not None and self._sync.dirty_regs & K.SYNC_X86_REGS:
            # Kicked before KVM_RUN loaded what _enter wrote: nothing ran.
            # Enter again the long way (fs/gs bases and the flush queue).
            self._segs_dirty = self._flush_due = True
            self.vcpu._live = False
            return 0
        k = self._get_regs()
        if not self._stub_va(k.rip):
            return self._preempt()
        off = k.rip - (self._kernel_va + M.STUB_OFF)
        if off < M.STUB_SYSCALL or off >= M.STUB_SETSEG:
            # Not yet back in ring 3: the state is still what we wrote (the
            # flush stub, if interrupted, goes on where it stopped; fs/gs are
            # loaded again).
            if off >= M.STUB_SETSEG:
                self._segs_dirty = True
            elif off < M.STUB_IRET:
                self._flush_due = True
            self.vcpu._live = False
            return 0
        # At a syscall or exception entry: take that exit now (another kick
        # may end this KVM_RUN first: the entry is still to run then).
        while True:
            err = self._kvm_run()
            if err == errno.EINTR or (err == 0 and self._run.exit_reason == K.EXIT_INTR):
                self._run.immediate_exit = 0
                continue
            break
        if err == 0 and self._run.exit_reason == K.EXIT_IO:
            return self._from_stub(self._run.io_port)
        raise EmulationError(f"VM stopped unexpectedly in the stub (pc {k.rip:#x})")

    def _preempt(self) -> int:
        """A kick stopped the vCPU in ring 3: take it into the stub the way
        a kernel preempts a task, with an interrupt (PREEMPT_VECTOR), whose
        frame and registers are the task's.  (The registers KVM_GET_REGS
        gives while the vCPU sits in ring 3 are not trustworthy under this
        machine's nested KVM: threads preempted that way resumed with
        another value in a register now and then.)"""
        run = self._run
        injected = False
        while True:
            if not injected and run.ready_for_interrupt_injection and run.if_flag:
                K.ioctl(self._vcpu, K.INTERRUPT, ctypes.c_uint32(M.PREEMPT_VECTOR))
                injected = True
            run.request_interrupt_window = 0 if injected else 1
            err = self._kvm_run()
            if err == errno.EINTR or (err == 0 and run.exit_reason in (K.EXIT_INTR, K.EXIT_IRQ_WINDOW_OPEN)):
                run.immediate_exit = 0
                continue
            run.request_interrupt_window = 0
            if err == 0 and run.exit_reason == K.EXIT_IO:
                # An exception or syscall may come first: the interrupt then
                # stays pending, and is taken (a stop with nothing to do) later.
                return self._from_stub(run.io_port)
            raise EmulationError(f"VM did not stop for preemption (pc {self.regs.rip:#x})")

    def _take_regs(self, k: K.Regs) -> None:
        ctypes.memmove(ctypes.addressof(self.regs), ctypes.addressof(k), ctypes.sizeof(k))
        self.regs.rflags &= ~(RFLAGS_TF | RFLAGS_RF)

    def _from_stub(self, port: int) -> int:
        """A VM exit from the stub: a syscall, or exception ``port``.
        Returns the instructions completed (1 for a syscall or a step)."""
        self.vcpu._live = False             # ring 3's state is in the stub's frame or registers
        k = self._get_regs()
        if port == M.PORT_SYSCALL:
            return self._syscall(k)
        if port >= M.NVECTORS and port != M.PREEMPT_VECTOR:
            raise EmulationError(f"VM exit on unknown port {port:#x}")
        frame = (ctypes.c_uint64 * 6).from_address(self._kernel_host + (k.rsp - self._kernel_va))
        code = None
        pos = 0
        if port in M.ERROR_CODE_VECTORS:
            code = frame[0]
            pos = 1
        rip, cs, rflags, rsp = frame[pos], frame[pos + 1], frame[pos + 2], frame[pos + 3]
        entry = self._kernel_va + M.STUB_OFF + M.STUB_SYSCALL
        if port == 1 and cs == M.KERNEL_CS and rip == entry:
            # A single step over syscall traps at its entry, in ring 0.
            k.rsp = rsp
            return self._syscall(k)
        if port == 14 and cs == M.USER_CS and rip == entry:
            # syscall reached its entry without leaving ring 3: under nested
            # virtualisation on AMD (this machine: EPYC, KVM in a VM) the
            # instruction is emulated and loads rip, rcx and r11 but not CS,
            # so the supervisor-only entry page faults.  rcx and r11 hold
            # what syscall saved, as in the ring-0 path; rsp is the frame's.
            k.rsp = rsp
            return self._syscall(k)
        if port == M.PREEMPT_VECTOR and cs == M.KERNEL_CS:
            # The preemption interrupt, injected while the vCPU was in ring 3
            # but overtaken by a syscall or fault, arrived in the stub on the
            # way back (an injected event ignores IF): go back out again.
            self._segs_dirty = self._flush_due = True
            return 0
        if cs != M.USER_CS:
            raise EmulationError(f"exception {port} in tcgpy's ring-0 stub (rip {rip:#x})")
        self._take_regs(k)
        self.regs.rip, self.regs.rsp = rip, rsp
        # TF is the guest's own unless run(count=) set it (a program that
        # traces itself keeps it in its signal frame, as natively)
        self.regs.rflags = rflags & ~(RFLAGS_RF | (RFLAGS_TF if self._step else 0))
        if port == M.PREEMPT_VECTOR:
            return 0                       # preempted (_preempt): the state is saved, nothing to do
        if port == 1 and self._step:
            return 1                       # our single step: the instruction ran
        single_step = True
        if port == 1:
            # DR6 tells a step of the guest's own TF from int1; the CPU
            # never clears it, so it is cleared for the next #DB.
            dbg = K.DebugRegs()
            K.ioctl(self._vcpu, K.GET_DEBUGREGS, dbg)
            single_step = bool(dbg.dr6 & K.DR6_BS)
            dbg.dr6 = K.DR6_INIT
            K.ioctl(self._vcpu, K.SET_DEBUGREGS, dbg)
        if port == 3 and rip - 1 in self._patched:
            self.regs.rip = rip - 1        # our int3: its instruction is still to run
            return 0
        cr2 = 0
        if port == 14:
            K.ioctl(self._vcpu, K.GET_SREGS, self._sregs)
            cr2 = self._sregs.cr2
        if port == 13 and self.umip and umip.emulate(self, rip):
            return 1 if self._step else 0          # done as Linux does it: the guest runs on
        raise exception_for(port, code, rip, cr2, self, single_step)

    def _syscall(self, k: K.Regs) -> int:
        self._take_regs(k)
        self.regs.rip = k.rcx
        self.regs.rflags = k.r11 & ~(RFLAGS_TF | RFLAGS_RF)
        if self.on_syscall is None:
            self.regs.rip -= 2
            raise UnhandledSyscall(self.regs.rip)
        self.on_syscall(self)
        return 1


# KvmEmulator's attributes that are its vCPUs' own (Vcpu): each host thread sees its vCPU's.
VCPU_ATTRS = ("regs", "_fs_base", "_gs_base", "_segs_dirty", "_fpu", "_fpu_dirty", "_step", "_exit_requested",
              "_bus_fault", "_efault_again",
              "_vcpu_thread", "_vcpu", "_vcpu_sigmask", "_run_page", "_run", "_sync", "_sregs", "_fresh_sregs",
              "_in_user", "_kstack_frame", "_queue", "_kernel_host", "_kernel_va", "_flush_due",
              "last_run_insns", "stop_reason", "hit_breakpoint")
for _name in VCPU_ATTRS:
    setattr(KvmEmulator, _name, _OfVcpu(_name))
del _name


def _perms(p) -> str:
    if isinstance(p, int):
        return "".join(c for c, b in (("r", 1), ("w", 2), ("x", 4)) if p & b)
    bad = set(p) - set("rwx")
    if bad:
        raise ValueError(f"bad permissions {p!r}")
    return "".join(c for c in "rwx" if c in p)


__all__ = ["KvmEmulator", "CpuException", "GuestTrap", "IllegalInstruction"]
