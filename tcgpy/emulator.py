"""``tcgpy.Emulator``: the library API, in Unicorn's spirit, and the CPU loop."""
from __future__ import annotations

import ctypes
import os
import sys
import weakref
from time import perf_counter
from typing import Callable, Iterable

from . import hooks as hk
from .accel.engine import RunTimer
from .errors import (AlignmentFault, EmulationError, GuestTrap, IllegalInstruction, MemoryFault, UnhandledSyscall,
                     WatchpointHit)
from .backends import baseline as _baseline
from .backends.llvm import jit
from .frontends import get_arch
from .ir.ops import EXIT_REQUESTED, Exit, MemOp
from .cpustate import PAGE_BITS, PAGE_MASK, PAGE_SIZE
from .softmmu.memory import PERM_R, PERM_W, PERM_X, AddressSpace, Fault
from .tbcache import TBCache
from .translator import FetchFault

MASK64 = (1 << 64) - 1
UNLIMITED = 1 << 62

ACCESS_NAMES = ("read", "write", "fetch")
EXC_NONE, EXC_FAULT, EXC_INTERNAL, EXC_WATCH, EXC_STOP = 0, 1, 2, 3, 4
# The exit codes the dispatcher tests after every block, as plain ints:
# reading a member off an IntEnum class goes through EnumType.__getattr__'s
# slot (~200 ns in Python 3.11), four times a syscall's return, a tenth of
# the dispatch of a getppid loop (callgrind).
EXIT_MISS, EXIT_BUDGET, EXIT_SYSCALL, EXIT_HOT = int(Exit.MISS), int(Exit.BUDGET), int(Exit.SYSCALL), int(Exit.HOT)
WATCH_KINDS = ("write", "read", "access")

# The JIT calls these two for every TLB miss, MMIO access and faulting access.
# They are created once and find their emulator from the env pointer.
SLOW_LD = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
SLOW_ST = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
SLOW_CAS = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                            ctypes.c_uint64)
_by_env: "weakref.WeakValueDictionary[int, Emulator]" = weakref.WeakValueDictionary()


def _slow_ld(env_addr, addr, memop):
    emu = _by_env.get(env_addr)
    if emu is None:
        return 0
    return emu._slow_access(addr, memop, None)


def _slow_st(env_addr, addr, value, memop):
    emu = _by_env.get(env_addr)
    if emu is not None:
        emu._slow_access(addr, memop, value)


def _slow_cas(env_addr, addr, expected, new, memop):
    emu = _by_env.get(env_addr)
    if emu is None:
        return 0
    return emu._slow_access(addr, memop, new, expected)


# Op.hook's call (tcgpy/hooks.py): nonzero makes the block leave at env pc.
# One per emulator, which finds it without the lookup by env the slow paths
# make: it runs before every hooked instruction.
HOOK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)


def _hook_function(emu: "Emulator"):
    ref = weakref.ref(emu)

    def on_hook(env_addr, kind, pc, size):
        e = ref()
        return 0 if e is None else e._on_hook(kind, pc, size)
    return HOOK(on_hook)


_SLOW_LD_CB = SLOW_LD(_slow_ld)
_SLOW_ST_CB = SLOW_ST(_slow_st)
_SLOW_LD_ADDR = ctypes.cast(_SLOW_LD_CB, ctypes.c_void_p).value
_SLOW_ST_ADDR = ctypes.cast(_SLOW_ST_CB, ctypes.c_void_p).value
_SLOW_CAS_CB = SLOW_CAS(_slow_cas)
_SLOW_CAS_ADDR = ctypes.cast(_SLOW_CAS_CB, ctypes.c_void_p).value


# A memory hook over more pages than this watches every page (one flag)
# rather than a set of them.
WATCH_PAGES_MAX = 1 << 16


class Context:
    """Saved CPU registers (``Emulator.context_save``), by register row."""

    def __init__(self, arch, data: dict[str, bytes]):
        self.arch = arch
        self.data = data

    def reg_read(self, name: str) -> int:
        """A saved register (by its row name, e.g. ``x0``, ``pc``, ``v3``)."""
        return int.from_bytes(self.data[name.lower()], "little")


def python_calls() -> dict[str, int]:
    """Helper name (vec ops: ``vec_env:KIND``) -> calls from translated code
    into its Python function in this process, most called first."""
    from .ir.helpers import HELPERS
    from .ir.semantics import lookup
    calls = dict(zip((h.name for h in HELPERS), jit.helper_calls))
    counts = {name: n for name, n in calls.items() if n and name != "vec_env"}
    if calls.get("vec_env"):
        # vec ops are Arm's; it counts their calls by kind (and is not
        # imported, with its FP library, when none was called)
        arm_vec = lookup("arm_vec")
        counts.update((f"vec_env:{k.value.name}", n) for k, n in zip(arm_vec.KINDS, arm_vec.VEC_ENV_CALLS) if n)
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


# Interpreted runs of a block before it is compiled (coldtier.py): about
# what compiling one costs (~1 ms) in interpreted runs (~25 us), so that a
# block never costs more than twice the better choice.  glibc hello 0.46 s at
# 8, 0.40 s at 32; perl -e 7.3 s at 8, 7.1 s at 32, 6.8 s at 100.
COLD_RUNS = int(os.environ.get("TCGPY_COLD_RUNS", "32"))
# With LLVM on a background thread a compile costs the guest's thread only
# the lowering (~0.1 ms a block), so blocks are handed over sooner
# (2026-12-07, main thread's CPU for a first run, loaded machine: perl -e
# 2.2-2.3 s at 8 or 16, 2.5-2.7 s at 32 or 64; gawk 1.45-1.65 at 16, 1.65-1.75 at 32).
COLD_RUNS_BACKGROUND = int(os.environ.get("TCGPY_COLD_RUNS", "16"))
SWITCH_INTERVAL = 0.0002       # seconds (sys.setswitchinterval) with the background compiler


def default_pipeline():
    """The optimiser (ir.passes.optimize), imported when a block first needs
    it: a run whose code all comes from the persistent cache never does, and
    the passes import the IR interpreter and the targets' semantics with it."""
    run = None

    def optimize(block, enabled=None):
        nonlocal run
        if run is None:
            from .ir.passes import optimize as run
        return run(block, enabled=enabled)
    return optimize


class Emulator:
    """A guest CPU with its own address space and translation cache.

    >>> emu = Emulator("aarch64")
    >>> emu.mem_map(0x10000, 0x1000, perms="rwx")
    """

    def __new__(cls, arch: str = "aarch64", *args, accel: str = "auto", **kwargs):
        """``accel`` picks the execution engine (tcgpy/accel): "tcg", "kvm",
        or "auto" (KVM for a guest of the host's architecture when
        /dev/kvm is usable).  A KVM guest is a KvmEmulator, with this API."""
        from .accel import resolve
        if resolve(arch, accel) == "kvm":
            from .accel.kvm.engine import KvmEmulator
            return KvmEmulator(arch)
        return super().__new__(cls)

    def __init__(self, arch: str = "aarch64", *, passes: Iterable[str] | None = None,
                 tbi: bool = False, icount: bool = True, cache_dir: str | None = None,
                 cache_warn: Callable[[str], None] | None = None, cpu: str | None = None,
                 one_insn_per_tb: bool = False, accel: str = "auto"):
        """``passes`` limits the optimizer to the named passes; ``tbi`` makes
        data accesses ignore the top address byte where the target's Linux
        ABI has it (AArch64's; ``tcgpy run`` follows the ABI; off by default,
        as in Unicorn).  ``icount=False`` leaves the instruction budget out
        of the translated code (a load, a compare and a store per block, and
        a sixth of a small block's LLVM code): ``run`` then takes no
        ``count`` and ``last_run_insns`` stays 0.

        ``cache_dir`` turns on the persistent translation cache there
        (tcgpy/pcache.py): blocks missed are looked up on disk before being
        translated, and :meth:`save_cache` writes what this emulator ran.
        Off by default for the library: a script that maps code of its own
        for one run should not leave files behind unasked (``tcgpy run``
        uses it by default).  ``cache_warn`` receives a line for each cache
        file that could not be used or written.

        ``cpu`` names a CPU model of the architecture (``arch.cpu_models``;
        default: every feature implemented): instructions of features it
        lacks are undefined.  ``one_insn_per_tb`` translates one guest
        instruction per block (qemu's ``-one-insn-per-tb``, for logs)."""
        self.arch = get_arch(arch)
        self.cpu = cpu or self.arch.default_cpu
        if self.arch.cpu_models and self.cpu not in self.arch.cpu_models:
            raise ValueError(f"unknown CPU model {self.cpu!r} for {self.arch.name} "
                             f"(known: {', '.join(self.arch.cpu_models)})")
        self._one_insn_per_tb = one_insn_per_tb
        lay = self.arch.layout
        self.env = lay.struct()
        self.env_addr = ctypes.addressof(self.env)
        self.aspace = AddressSpace(self.env.tlb)
        self._pass_names = None if passes is None else list(passes)
        optimize = default_pipeline()
        names = self._pass_names
        pcache = None
        if cache_dir is not None:
            # before the block cache: the JIT's base code comes from it too
            pcache = self._persistent_cache(cache_dir, cache_warn, tbi, icount)
            jit.use_store(pcache)
        self.cache = TBCache(self.arch, self.env, self.aspace,
                             (lambda b: optimize(b, enabled=names)) if names is not None else optimize)
        self.cache.pcache = self.cache.rt.store = pcache
        self.cache.set_slow_paths(_SLOW_LD_ADDR, _SLOW_ST_ADDR, _SLOW_CAS_ADDR)
        self.cache.tbi = tbi
        self.cache.refuses = self.arch.refusal(self.cpu) if self.arch.cpu_models else None
        if one_insn_per_tb:
            self.cache.block_insns = 1
        self.cache.rt.icount = icount
        # The cold tier (coldtier.py): not with exact instruction counts.
        self.cache.cold_runs = 0 if icount else COLD_RUNS
        self._cold = None
        _by_env[self.env_addr] = self
        self.on_syscall: Callable[["Emulator"], None] | None = None
        self._host_syscalls = None      # tcgpy/hostsyscalls.py, when a Linux layer asked for it
        self._pending_error: BaseException | None = None
        self.env.excl_addr = MASK64 if hasattr(self.env, "excl_addr") else 0
        self.log = None
        # Guest instructions run by the last ``run`` (blocks entered count in
        # full, a faulting block up to its end: exact when it stopped cleanly).
        self.last_run_insns = 0
        # Debugging (tcgpy/gdbstub.py): run stops before these addresses, and
        # at accesses that the watchpoints, (address, size, kind), cover.
        self.breakpoints: set[int] = set()
        self.watchpoints: list[tuple[int, int, str]] = []
        self.hit_breakpoint: int | None = None      # where the last run stopped, if at one
        # Why the last run returned: "until", "count", "timeout", "stop"
        # (request_exit/emu_stop), "breakpoint"; None when it raised.
        self.stop_reason: str | None = None
        self._watch_kind = ""
        # Unicorn-style hooks and native instruments (tcgpy/hooks.py)
        self._hooks = hk.HookTable()
        self._instr = hk.Instrumentation()
        self._mem_hooked = False        # data-access or invalid-access hooks: the slow path calls them
        self._cold_runs = 0             # the cold tier's setting while memory hooks turn it off
        # Counters and traces removed: their memory outlives the emulator's
        # code, which a callback may have removed them from while it ran.
        self._retired: list = []
        self._hook_fn = _hook_function(self)
        self._env_words = memoryview((ctypes.c_char * ctypes.sizeof(self.env)).from_address(
            self.env_addr)).cast("B").cast("Q")
        self._pc_word, self._exit_request_word = lay.offsets["pc"] >> 3, lay.offsets["exit_request"] >> 3
        self.cache.rt.hook_fn = ctypes.cast(self._hook_fn, ctypes.c_void_p).value

    # -- logging (tcgpy run -d) ----------------------------------------------------------
    def set_log(self, log) -> None:
        """Attach a logger (see tcgpy.log) that receives in_asm/op/op_opt/out_asm/exec/cpu."""
        if log is not None and getattr(log, "_cs", 1) is None:
            import capstone
            log._cs = capstone.Cs(*self.arch.capstone)
        self.log = log
        self.cache.log = log
        if log is not None:
            # Every block's in_asm/op/out_asm is logged once, when it is compiled.
            self.cache.cold_runs = 0

    # -- the persistent translation cache -----------------------------------------------
    def set_cache_dir(self, cache_dir: str | None, warn: Callable[[str], None] | None = None) -> None:
        """Use (or with None, stop using) the persistent cache at ``cache_dir``;
        ``warn`` receives one-line notes about files it could not use."""
        self.cache.pcache = self.cache.rt.store = (
            None if cache_dir is None else self._persistent_cache(cache_dir, warn, self.cache.tbi,
                                                                  self.cache.rt.icount))
        self.cache.rt.helpers.store = self.cache.rt.store

    def _persistent_cache(self, cache_dir: str, warn, tbi: bool, icount: bool):
        from .pcache import PersistentCache, namespace
        from .persist import namespace_parts
        return PersistentCache(cache_dir, namespace(namespace_parts(
            self.arch.name, tbi, icount, self._pass_names, cpu=self.cpu,
            one_insn_per_tb=self._one_insn_per_tb)), warn)

    def save_cache(self, background: bool = False) -> int:
        """Write the blocks this emulator ran to its persistent cache (as
        compiled first-tier code, page by page, where the cache lacks them);
        returns the pages written (0 with ``background``, which returns at
        once and leaves the work to a detached process)."""
        from . import persist
        if background:
            persist.save_in_background(self)
            return 0
        return persist.save_now(self)

    # -- memory --------------------------------------------------------------------------
    def mem_map(self, address: int, size: int, perms="rwx", backing=None) -> None:
        """Map ``size`` bytes of zeroed memory at ``address`` (both page-aligned),
        or the host memory of ``backing`` (tcgpy.softmmu.memory.host_backing)."""
        self.aspace.map(address, size, perms, backing=backing)

    def mmio_map(self, address: int, size: int, read: Callable[[int, int], int],
                 write: Callable[[int, int, int], None], perms="rw") -> None:
        """Map device memory: every access calls ``read(offset, size)`` or
        ``write(offset, size, value)``."""
        self.aspace.map(address, size, perms, mmio=(read, write))

    def mem_unmap(self, address: int, size: int) -> None:
        """Unmap a range that is mapped throughout (as Unicorn's uc_mem_unmap,
        which fails with UC_ERR_NOMEM otherwise: ValueError here)."""
        self.aspace.check_range(address, size)
        if not self.aspace.is_mapped(address, size):
            raise ValueError(f"mem_unmap: [{address:#x}, {address + size:#x}) is not mapped throughout")
        self.unmap_any(address, size)

    # Translated code exists only on executable pages: the translator
    # fetches through the permissions, and taking execute permission away
    # drops it (below).  So a change that takes none away has no blocks to
    # drop, and skips the block cache (a third of a one-page munmap's
    # Python).  (The cache's note that a page was looked up in the
    # persistent cache may outlive a page that was never executable; a later
    # lookup there is skipped, which is only a miss.)
    def unmap_any(self, address: int, size: int) -> None:
        """Unmap whatever is mapped in a range (munmap(2)'s rule: holes are fine)."""
        if self.aspace.unmap(address, size) & PERM_X:
            self.cache.invalidate_range(address, address + size)

    def mem_protect(self, address: int, size: int, perms) -> None:
        # Blocks on pages losing execute permission must not run again.
        if self.aspace.protect(address, size, perms) & PERM_X:
            self.cache.invalidate_range(address, address + size)

    def mem_regions(self) -> list[tuple[int, int, str]]:
        """(start, end, perms) of every mapping, in address order."""
        out = []
        for r in self.aspace.regions:
            p = "".join(c if r.perms & b else "-" for c, b in (("r", 1), ("w", 2), ("x", 4)))
            out.append((r.start, r.end, p))
        return out

    def mem_write(self, address: int, data: bytes) -> None:
        """Write bytes regardless of page permissions (the mapping must exist)."""
        try:
            self.aspace.write(address, bytes(data), need=0)
        except Fault as f:
            raise MemoryFault(None, f.address, "write") from None

    def mem_read(self, address: int, size: int) -> bytes:
        """Read bytes regardless of page permissions (the mapping must exist)."""
        try:
            return self.aspace.read(address, size, need=0)
        except Fault as f:
            raise MemoryFault(None, f.address, "read") from None

    # -- registers -----------------------------------------------------------------------
    def _reg(self, name: str):
        r = self.arch.layout.by_name.get(name.lower())
        if r is None or not r.user:
            raise ValueError(f"unknown register {name!r}")
        return r

    def reg_read(self, name: str) -> int:
        pseudo = self.arch.pseudo_regs.get(name.lower())
        if pseudo is not None:
            return pseudo.read(self.env)
        r = self._reg(name)
        v = getattr(self.env, r.name)
        if r.size != 8:
            return int.from_bytes(bytes(v), "little")
        return v

    def plain_reg_fields(self, names) -> list[str] | None:
        """The env fields holding registers ``names``, when each is a plain
        64-bit register (not a pseudo register, not a vector), else None:
        for callers that read the same registers very often (the Linux
        layer's syscall number and arguments)."""
        fields = []
        for name in names:
            if name.lower() in self.arch.pseudo_regs:
                return None
            r = self.arch.layout.by_name.get(name.lower())
            if r is None or not r.user or r.size != 8:
                return None
            fields.append(r.name)
        return fields

    def reg_write(self, name: str, value: int) -> None:
        """Set a register; a negative value is its two's complement.  A value
        that does not fit is a ValueError (Unicorn would keep its low bits)."""
        pseudo = self.arch.pseudo_regs.get(name.lower())
        size = 8 if pseudo is not None else self._reg(name).size
        if not -(1 << (8 * size - 1)) <= value < 1 << (8 * size):
            raise ValueError(f"{name}: {value:#x} does not fit in {8 * size} bits")
        if pseudo is not None:
            pseudo.write(self.env, value & MASK64)
            return
        r = self._reg(name)
        if r.size != 8:
            getattr(self.env, r.name)[:] = (value & ((1 << (8 * r.size)) - 1)).to_bytes(r.size, "little")
        else:
            setattr(self.env, r.name, value & MASK64)

    @property
    def stats(self):
        """JIT statistics (blocks and instructions translated, dispatcher
        returns, chain patches, flushes, time per translation stage, and the
        calls translated code made into Python: slow-path accesses and
        helpers, the latter counted for the whole process)."""
        s = self.cache.stats
        s.tlb_refills_native = self.aspace.native_refills
        s.syscalls_native = self._host_syscalls.served if self._host_syscalls is not None else 0
        s.python_calls = python_calls()
        return s

    def host_syscalls(self, regs: tuple, numbers: dict, max_io: int):
        """Serve ``read``, ``write``, ``pread64`` and ``pwrite64`` on the
        descriptors the caller allows in host code, without returning from
        translated code (tcgpy/hostsyscalls.py).  ``regs``: the syscall ABI's
        (number, argument registers, result) names; ``numbers``: the
        target's syscall table.  Returns the handle the caller keeps up to
        date, or None where this target's registers do not allow it."""
        from .hostsyscalls import HostSyscalls, spec_for
        spec = spec_for(self, regs, numbers, max_io)
        if spec is None:
            return None
        hs = self._host_syscalls = HostSyscalls(self, spec, self.cache.pcache)
        hs.block(bool(self._hooks.of(hk.HOOK_INTR)))
        return hs

    def flush_cache(self) -> None:
        """Drop every translated block (e.g. after changing passes)."""
        self.cache.flush()

    def invalidate_code(self, addr: int, size: int) -> None:
        """Drop what was translated from the pages of [addr, addr + size)
        (Unicorn's ctl_remove_cache): code changed there in a way no store
        to those pages shows (another mapping of the same memory).

        Hardware invalidates the memory's cache lines whichever address
        names them: a range in shared memory that is not executable where
        it is named (a JIT, libffi, writing through one view and flushing
        that view) may be code at another address, so what was translated
        from every shared executable mapping goes too."""
        end = min(addr + max(size, 1), 1 << 64)
        self.cache.invalidate_range(addr & PAGE_MASK, end)
        r = self.aspace.find(addr)
        if r is None or r.backing is None or r.backing.private or r.perms & PERM_X:
            return
        for other in self.aspace.overlapping(0, 1 << 64):
            if other.perms & PERM_X and other.backing is not None and not other.backing.private:
                self.cache.invalidate_range(other.start, other.end)

    def set_background_compile(self, on: bool) -> None:
        """Run LLVM on a second host thread while the cold tier interprets
        the blocks waiting for it (backends/llvm/background.py).  ``tcgpy
        run`` turns it on; the library's default is off, so that the code
        a ``run`` compiled is in place when it returns, whatever the
        threads' timing (statistics, chaining and hot regions a caller looks
        at do not vary from run to run)."""
        if on and self.cache.background is None:
            from .backends.llvm.background import BackgroundCompiler
            self.cache.background = BackgroundCompiler()
            # The LLVM thread needs the GIL between its LLVM calls, a few
            # dozen times a job; a guest's thread running Python (the cold
            # tier, translation) gives it up every switch interval only: at
            # CPython's 5 ms a job took a large part of a second, and the
            # blocks waiting for it were interpreted all that time (file's
            # first run 7 s instead of 4).
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
            if self.cache.cold_runs:
                self.cache.cold_runs = COLD_RUNS_BACKGROUND
            self.cache.prepare_access_functions()
            self.cache.hold_llvm()
        elif not on and self.cache.background is not None:
            self.cache.release_llvm()
            self.cache.wait_compiled()
            self.cache.background = None
            if self.cache.cold_runs:
                self.cache.cold_runs = COLD_RUNS

    # -- what the Linux layer asks of an engine (accel/engine.py) ---------------------------
    @property
    def counts_instructions(self) -> bool:
        """Whether run(count=) works (made with icount=True)."""
        return self.cache.rt.icount

    def prefetch_code(self, pcs) -> None:
        """Translate the blocks at ``pcs`` now (what forked children needed)."""
        self.cache.prefetch(pcs)

    def learn_code(self) -> None:
        """Record the blocks translated or run cold from now on (a forked child's)."""
        self.cache.new_pcs = {}

    def code_learned(self) -> list[int]:
        """The pcs recorded since learn_code or the last call (none if not recording)."""
        pcs = list(self.cache.new_pcs or ())
        if self.cache.new_pcs is not None:
            self.cache.new_pcs = {}
        return pcs

    def watch_host_bus(self, backing, lazy: bool = False) -> None:
        """Survive a host SIGBUS in ``backing``'s memory (a file mapping another
        process may truncate) while JIT code runs (busguard.py).  ``lazy``:
        only once this emulator makes host code (TBCache.native), as the
        handler is host code too: a run that only interprets does not load
        LLVM for it (private file mappings are common: every library a
        dynamic program loads), unless the handler is there already."""
        from . import busguard
        if not lazy or busguard.installed():
            busguard.watch_backing(self, backing)
            return
        ref = weakref.ref(backing)

        def watch() -> None:
            b = ref()
            if b is not None:
                busguard.watch_backing(self, b)
        self.cache.when_native(watch)

    def take_host_bus_fault(self) -> int | None:
        """The host address of a SIGBUS busguard caught since the last call."""
        from . import busguard
        return busguard.take_fault()

    # -- debugging -----------------------------------------------------------------------
    def add_breakpoint(self, address: int) -> None:
        """Make ``run`` stop before executing the instruction at ``address``
        (with ``hit_breakpoint`` set to it), unless the run starts there."""
        address &= MASK64
        self.breakpoints.add(address)
        # Blocks that run over it, and hot loops holding one of those, would
        # carry execution past it without returning to the dispatcher.
        cache = self.cache
        for tb in list(cache.page_blocks.get(address & PAGE_MASK, ())):
            if tb.hot or tb.region or tb.pc <= address < tb.pc + tb.size:
                cache.invalidate(tb)

    def remove_breakpoint(self, address: int) -> None:
        self.breakpoints.discard(address & MASK64)

    def add_watchpoint(self, address: int, size: int, kind: str = "write") -> None:
        """Make guest loads (``kind`` "read"), stores ("write") or both
        ("access") of any byte of [address, address + size) stop ``run``
        before the accessing instruction with :class:`WatchpointHit`.
        Accesses made by system calls on the guest's behalf are not seen."""
        if kind not in WATCH_KINDS:
            raise ValueError(f"watchpoint kind must be one of {WATCH_KINDS}")
        if size <= 0:
            raise ValueError("watchpoint size must be positive")
        self.watchpoints.append((address & MASK64, size, kind))
        # The cold tier's interpreter reads memory without the slow path.
        self.cache.cold_runs = 0
        self._watch_changed()

    def remove_watchpoint(self, address: int, size: int, kind: str = "write") -> None:
        try:
            self.watchpoints.remove((address & MASK64, size, kind))
        except ValueError:
            raise ValueError(f"no {kind} watchpoint at {address:#x}+{size}") from None
        self._watch_changed()

    def gdb_serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Wait for gdb (``target remote :PORT``; 0: a free port, said on
        stderr) and let it debug this emulator from the current pc until it
        detaches or kills (tcgpy/gdbstub.py).  Needs ``icount=True``."""
        from . import gdbstub
        gdbstub.serve_emulator(self, port, host)

    def _watch_changed(self) -> None:
        pages = set()
        for a, n, _ in self.watchpoints:
            pages.update(range(a & PAGE_MASK, a + n, PAGE_SIZE))
        everywhere = False
        for begin, end in self._hooks.ranges(hk.DATA_KINDS):
            if begin > end or (end - begin) >> PAGE_BITS > WATCH_PAGES_MAX:
                everywhere = True
                break
            pages.update(range(begin & PAGE_MASK, end + 1, PAGE_SIZE))
        self.aspace.set_watched_pages(pages, everywhere)

    # -- hooks (tcgpy/hooks.py) -----------------------------------------------------------
    def hook_add(self, kind: int, callback: Callable, user_data=None, begin: int = 1, end: int = 0) -> int:
        """Call ``callback`` on the events of ``kind`` (a ``tcgpy.HOOK_*``, or
        several or-ed together) at addresses in [begin, end] (inclusive;
        ``begin > end``, the default, means everywhere), as Unicorn's
        ``hook_add`` does, with Unicorn's callback signatures:

        * HOOK_CODE, HOOK_BLOCK: ``callback(emu, address, size, user_data)``
          before each instruction / block whose (first) address is in range;
        * HOOK_MEM_READ, _WRITE, _READ_AFTER, _FETCH: ``callback(emu, access,
          address, size, value, user_data)`` for accesses whose address is in
          range (``access`` a ``tcgpy.MEM_*``; reads give 0 before the access,
          READ_AFTER the value read; a fetch is each instruction executed);
        * HOOK_MEM_UNMAPPED, HOOK_MEM_PROT (and their READ/WRITE/FETCH parts):
          the same signature; returning True retries the access (the
          callback mapped or re-protected memory), else the access faults;
        * HOOK_INTR: ``callback(emu, intno, user_data)`` on a system call or
          breakpoint instruction (Unicorn's interrupt numbers), instead of
          ``on_syscall`` or GuestTrap; no range;
        * HOOK_INSN_INVALID: ``callback(emu, user_data)`` on an undefined
          instruction; True skips it (unless the callback moved pc), False
          raises IllegalInstruction; no range.

        ``emu_stop()`` in a callback ends ``run`` with pc at the instruction,
        as in Unicorn: before it from a code or block hook, with its access
        done from a memory hook (resuming runs it again).  A code or block
        hook may write registers, pc included (execution goes on there).
        Returns a handle for :meth:`hook_del`."""
        if not kind or kind & ~hk.ALL_KINDS:
            raise ValueError(f"unknown hook kind {kind:#x}")
        hook = hk.Hook(kind, callback, user_data, begin & MASK64, end & MASK64)
        handle = self._hooks.add(hook)
        self._hooks_changed(hook)
        return handle

    def hook_del(self, handle: int) -> None:
        """Remove a hook (also from inside a callback: it is not called again)."""
        try:
            hook = self._hooks.remove(handle)
        except KeyError:
            raise ValueError(f"no hook with handle {handle!r}") from None
        self._hooks_changed(hook)

    def counter_add(self, kind: str, begin: int = 1, end: int = 0) -> "hk.Counter":
        """A native counter (no Python while it counts) of the instructions
        (``"insns"``), blocks (``"blocks"``, by first address), or loads and
        stores (``"mem_reads"``, ``"mem_writes"``) that instructions at
        addresses in [begin, end] execute; read its ``value``."""
        counter = hk.Counter(kind, begin, end)
        self._instr.counters.append(counter)
        self._instr_changed(counter.begin, counter.end, kind == hk.COUNT_BLOCKS)
        return counter

    def counter_del(self, counter: "hk.Counter") -> None:
        self._instr.counters.remove(counter)
        self._retired.append(counter)
        self._instr_changed(counter.begin, counter.end, counter.kind == hk.COUNT_BLOCKS)

    def trace_add(self, capacity: int = 1 << 16, begin: int = 1, end: int = 0) -> "hk.BlockTrace":
        """Record the address of every block entered whose first address is
        in [begin, end] into a native ring buffer of ``capacity`` (a power
        of two) entries: ``.addresses()``, ``.total``."""
        trace = hk.BlockTrace(capacity, begin, end)
        self._instr.traces.append(trace)
        self._instr_changed(trace.begin, trace.end, True)
        return trace

    def trace_del(self, trace: "hk.BlockTrace") -> None:
        self._instr.traces.remove(trace)
        self._retired.append(trace)
        self._instr_changed(trace.begin, trace.end, True)

    def _instr_changed(self, begin: int, end: int, starts_only: bool) -> None:
        """What translation inserts changed for code in [begin, end]: those
        blocks (by their first address with ``starts_only``) are translated
        again when next run, the rest stay as they are."""
        self.cache.instr = None if self._instr.empty else self._instr
        self.cache.invalidate_code(begin, end, starts_only)

    def _hooks_changed(self, hook: "hk.Hook") -> None:
        hooks = self._hooks
        if hook.kinds & hk.CODE_KINDS:
            self._instr.code_ranges = {bit: [(h.begin, h.end) for h in hooks.of(bit)]
                                       for bit in (hk.HOOK_CODE, hk.HOOK_BLOCK, hk.HOOK_MEM_FETCH)
                                       if hooks.of(bit)}
            self._instr_changed(hook.begin, hook.end, not hook.kinds & (hk.HOOK_CODE | hk.HOOK_MEM_FETCH))
        if hook.kinds & hk.DATA_KINDS:
            self._watch_changed()
        if hook.kinds & hk.HOOK_INTR and self._host_syscalls is not None:
            # interrupt hooks see every syscall instead of on_syscall
            self._host_syscalls.block(bool(hooks.of(hk.HOOK_INTR)))
        mem_hooked = hooks.any(hk.DATA_KINDS | hk.HOOK_MEM_INVALID)
        if mem_hooked != self._mem_hooked:
            # Memory hooks read the registers and pc at the accessing
            # instruction: first-tier code has them in env (and passes the
            # pc), hot code keeps registers in host registers across
            # accesses, and the cold tier's interpreter cannot tell the pc.
            if mem_hooked:
                self.cache.invalidate_hot()
                self._cold_runs, self.cache.cold_runs = self.cache.cold_runs, 0
            elif not self.watchpoints:
                self.cache.cold_runs = self._cold_runs
            self.cache.no_hot = mem_hooked
        self._mem_hooked = mem_hooked

    def _on_hook(self, kind: int, pc: int, size: int) -> int:
        """Op.hook: the code, block or fetch hooks covering ``pc``; nonzero
        when the block must leave (a stop was asked, pc was moved, or a
        callback raised: re-raised by ``run``).  It runs before every hooked
        instruction: env is read as words, not through ctypes fields."""
        try:
            for h in self._hooks.by_kind.get(kind, ()):
                if h.live and (h.begin > h.end or h.begin <= pc <= h.end):     # h.covers, inline
                    if kind == hk.HOOK_MEM_FETCH:
                        h.callback(self, hk.MEM_FETCH, pc, size, 0, h.user_data)
                    else:
                        h.callback(self, pc, size, h.user_data)
        except BaseException as e:
            self._pending_error = e
            self.env.exit_request = EXIT_REQUESTED
            return 1
        words = self._env_words
        return 1 if words[self._exit_request_word] or words[self._pc_word] != pc else 0

    def _mem_event(self, kind: int, access: int, addr: int, size: int, value: int) -> None:
        hooks = [h for h in self._hooks.of(kind) if h.covers(addr)]
        if hooks:
            self._at_access_pc(lambda: [h.callback(self, access, addr, size, hk.to_signed(value), h.user_data)
                                        for h in hooks])

    def _fault_event(self, access: str, addr: int, size: int, value: int) -> bool:
        """Offer a faulting access to the UNMAPPED/PROT hooks: True when one
        of them handled it (the access is retried)."""
        reason = "unmapped" if not self.aspace.is_mapped(addr, size) else "prot"
        code, kind = hk.FAULT_EVENTS[(access, reason)]
        hooks = [h for h in self._hooks.of(kind) if h.covers(addr)]
        if not hooks:
            return False
        if access == "fetch":           # pc is the fetch address already
            return any(h.callback(self, code, addr, size, 0, h.user_data) for h in hooks)
        return self._at_access_pc(lambda: any(h.callback(self, code, addr, size, hk.to_signed(value), h.user_data)
                                              for h in hooks))

    def _at_access_pc(self, call):
        """Run ``call`` with env pc at the accessing instruction (translated
        code passes it in env exit_info on the slow path: access.py's access
        functions), then put back the pc the block's IR holds."""
        env = self.env
        saved, env.pc = env.pc, env.exit_info
        try:
            return call()
        finally:
            env.pc = saved

    def _hooked_access(self, addr: int, size: int, sign: bool, value: int | None) -> int:
        """A guest access with the memory hooks (raises Fault), in Unicorn's
        order: an invalid access goes to the UNMAPPED/PROT hooks first
        (retried once when one handled it), then READ or WRITE hooks see
        the valid access before it happens, READ_AFTER after."""
        write = value is not None
        access = "write" if write else "read"
        for retry in (False, True):
            if self.aspace.accessible(addr, size, PERM_W if write else PERM_R):
                break
            if retry or not self._fault_event(access, addr, size, value or 0):
                raise Fault(addr, access)
        if write:
            value &= (1 << (8 * size)) - 1
            self._mem_event(hk.HOOK_MEM_WRITE, hk.MEM_WRITE, addr, size, value)
            self.aspace.store(addr, size, value)
            return 0
        self._mem_event(hk.HOOK_MEM_READ, hk.MEM_READ, addr, size, 0)
        result = self.aspace.load(addr, size, sign)
        self._mem_event(hk.HOOK_MEM_READ_AFTER, hk.MEM_READ_AFTER, addr, size,
                        result & ((1 << (8 * size)) - 1))
        return result

    # -- context (Unicorn's context_save / context_restore) ----------------------------------
    def context_save(self) -> "Context":
        """The CPU's registers (general, FP/SIMD, flags, pc, the exclusive
        monitor), to restore later with :meth:`context_restore`."""
        return Context(self.arch, {r.name: ctypes.string_at(self.env_addr + self.arch.layout.offsets[r.name], r.size)
                                   for r in self.arch.layout.rows if r.ir or r.user})

    def context_update(self, ctx: "Context") -> None:
        """Store the current registers into ``ctx``."""
        ctx.data = self.context_save().data

    def context_restore(self, ctx: "Context") -> None:
        if ctx.arch is not self.arch:
            raise ValueError(f"context of {ctx.arch.name}, not {self.arch.name}")
        for name, raw in ctx.data.items():
            ctypes.memmove(self.env_addr + self.arch.layout.offsets[name], raw, len(raw))

    def _watch_hit(self, addr: int, size: int, write: bool) -> int | None:
        """The address to report for an access the watchpoints cover, or None."""
        for a, n, kind in self.watchpoints:
            if addr < a + n and a < addr + size and kind != ("read" if write else "write"):
                self._watch_kind = kind
                return max(a, addr)
        return None

    # -- slow path (called from JIT code through ctypes) ----------------------------------
    def _slow_access(self, addr: int, memop: int, value: int | None, expected: int | None = None) -> int:
        """A load (``value`` None), a store of ``value`` or, with ``expected``,
        a compare-and-swap (Op.cmpxchg: the old value; atomic where other
        processes share the memory) that translated code could not do."""
        size = 1 << (memop & MemOp.SIZE_MASK)
        env = self.env
        self.cache.stats.slow_accesses += 1
        if self.watchpoints:
            hit = self._watch_hit(addr, size, value is not None)
            if hit is not None:
                env.fault_addr = hit
                env.exception = EXC_WATCH
                return 0
        try:
            if memop & MemOp.ALIGN and addr & (size - 1):
                # (a compare-and-swap's as its load's: Arm's rule for atomics)
                raise Fault(addr, "read" if value is None or expected is not None else "write", align=True)
            if expected is not None:
                mask = (1 << (8 * size)) - 1
                expected, value = expected & mask, value & mask
                if not self._mem_hooked:
                    return self.aspace.cmpxchg(addr, size, expected, value)
                # (hooks see a read, then a write: no other process shares hooked memory)
                old = self._hooked_access(addr, size, False, None)
                value = value if old == expected else old
            if self._mem_hooked:
                result = self._hooked_access(addr, size, bool(memop & MemOp.SIGN), value)
                if expected is not None:
                    result = old
                if env.exit_request:
                    # a hook asked to stop: leave at this instruction, its
                    # access done (as Unicorn does), through the fault exit
                    env.exception = EXC_STOP
                return result
            if value is None:
                return self.aspace.load(addr, size, bool(memop & MemOp.SIGN))
            self.aspace.store(addr, size, value)
            return 0
        except Fault as f:
            # Report the address where the access starts, even when only its
            # tail crosses into an inaccessible page (the IR interpreter does
            # the same; Linux user mode derives si_addr, the first
            # inaccessible byte, from it: tcgpy/linux/process.py).
            env.fault_addr = addr
            env.fault_access = ACCESS_NAMES.index(f.access) | (8 if f.align else 0)
            env.exception = EXC_FAULT
            return 0
        except BaseException as e:       # an MMIO callback failed: stop the guest, re-raise later
            self._pending_error = e
            env.fault_addr = addr
            env.fault_access = 0 if value is None else 1
            env.exception = EXC_INTERNAL
            return 0

    # -- execution ---------------------------------------------------------------------------
    def request_exit(self) -> None:
        """Make ``run`` return at the next block boundary (thread-safe)."""
        self.env.exit_request = EXIT_REQUESTED

    emu_stop = request_exit         # Unicorn's name

    def run(self, begin: int, until: int | None = None, count: int | None = None,
            timeout: float | None = None) -> None:
        """Execute from ``begin`` until the instruction at ``until`` is reached (not
        executed), ``count`` instructions have run, or ``timeout`` seconds pass.

        Guest faults raise :class:`MemoryFault`, :class:`IllegalInstruction`,
        :class:`GuestTrap` or :class:`UnhandledSyscall` with the state precise
        at the faulting instruction, a watched access :class:`WatchpointHit`.
        A breakpoint ends the run before its instruction, with
        ``hit_breakpoint`` set, except at ``begin`` (resuming from it).
        """
        env = self.env
        cache = self.cache
        stats = cache.stats
        env.pc = begin & MASK64
        env.exit_request = 0
        env.exception = EXC_NONE
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        if count is not None and not cache.rt.icount:
            raise ValueError("run(count=...) needs an Emulator made with icount=True")
        env.icount_left = UNLIMITED if count is None else count
        self.hit_breakpoint = None
        stops = self.breakpoints
        if until is not None:
            until &= MASK64
            cache.invalidate_containing(until)
            stops = stops | {until}
        first = True
        fetch_retry = None
        self.stop_reason = None
        timer = RunTimer(self.request_exit, timeout)
        log = self.log
        enter = jit.enter
        try:
            while True:
                pc = env.pc
                if pc == until:
                    self.stop_reason = "until"
                    break
                if env.exit_request:
                    if self._pending_error is not None:         # a hook raised
                        err, self._pending_error = self._pending_error, None
                        raise err
                    self.stop_reason = "timeout" if timer.fired else "stop"
                    break
                # (without a count or stops, no ctypes read of the budget
                # and no set lookups: a syscall's return comes here)
                if count is not None:
                    left = env.icount_left
                    if left <= 0:
                        self.stop_reason = "count"
                        break
                resume = False
                if stops and pc in stops:
                    if not first:
                        self.hit_breakpoint = pc
                        self.stop_reason = "breakpoint"
                        break
                    resume = True
                first = False
                try:
                    if resume:
                        # Its instruction alone, in a block nothing chains into.
                        tb = cache.translate_partial(pc, 1, stops)
                    else:
                        tb = cache.lookup(pc, stops)
                        if count is not None and tb.n_insns > left:
                            tb = cache.translate_partial(pc, left, stops)
                except FetchFault:
                    if (fetch_retry != pc and not pc & (self.arch.insn_align - 1)
                            and self._hooks.any(hk.HOOK_MEM_FETCH_UNMAPPED | hk.HOOK_MEM_FETCH_PROT)
                            and self._fault_event("fetch", pc, self.arch.target.max_insn_length, 0)):
                        fetch_retry = pc        # once: the hook mapped it, or it faults
                        continue
                    # a misaligned pc is an alignment fault (Linux: SIGBUS, BUS_ADRALN)
                    cls = AlignmentFault if pc & (self.arch.insn_align - 1) else MemoryFault
                    raise cls(pc, pc, "fetch") from None
                if log is not None and log.wants_exec:
                    log.exec_block(self, tb)
                if tb.ir is not None:
                    if self._cold is None:
                        from .coldtier import ColdRunner
                        self._cold = ColdRunner(self)
                    t0 = perf_counter()
                    code = self._cold.run(tb)
                    stats.time_interp += perf_counter() - t0
                else:
                    # (LLVM's trampoline once this process has one: made with the
                    # first LLVM code, maybe during this run; the baseline
                    # tier's before, when no block needs its jmp_buf)
                    code = (enter or jit.enter or _baseline.enter)(self.env_addr, tb.fn_addr)
                stats.dispatcher_returns += 1
                if code == EXIT_MISS or code == EXIT_BUDGET:
                    continue
                if code == EXIT_HOT:
                    cache.hot_edge(env.exit_info, env.pc)
                    continue
                if code == EXIT_SYSCALL and self.on_syscall is not None and not self._hooks.by_kind:
                    # (_handle_exit's first case, without its call: every syscall comes here)
                    t0 = perf_counter()
                    try:
                        self.on_syscall(self)
                    finally:
                        stats.time_syscalls += perf_counter() - t0
                    continue
                self._handle_exit(code)
        finally:
            timer.cancel()
            env.exit_request = 0
            self.last_run_insns = (UNLIMITED if count is None else count) - env.icount_left

    def _handle_exit(self, code: int) -> None:
        env = self.env
        pc = env.pc
        if self._hooks.by_kind and self._hook_exit(code, pc):
            return
        if code == EXIT_SYSCALL:
            if self.on_syscall is None:
                raise UnhandledSyscall(pc)
            t0 = perf_counter()
            try:
                self.on_syscall(self)
            finally:
                self.cache.stats.time_syscalls += perf_counter() - t0
            return
        if code == Exit.FAULT:
            exc = env.exception
            env.exception = EXC_NONE
            if exc == EXC_WATCH:
                raise WatchpointHit(pc, env.fault_addr, self._watch_kind)
            if exc == EXC_STOP:
                return          # run sees the exit request
            if exc == EXC_INTERNAL and self._pending_error is not None:
                err, self._pending_error = self._pending_error, None
                raise err
            acc = env.fault_access
            cls = AlignmentFault if acc & 8 else MemoryFault
            raise cls(pc, env.fault_addr, ACCESS_NAMES[acc & 3])
        if code == Exit.SYNC:
            # (ic ivau: insn_system.gen_ic_ivau)
            self.invalidate_code(env.exit_info, 1)
            return
        word = self._word_at(pc)
        if code == Exit.ILLEGAL:
            raise IllegalInstruction(pc, word)
        if code == Exit.TRAP:
            raise GuestTrap(pc, "brk", word)
        if code == Exit.HALT:
            raise GuestTrap(pc, "hlt", word)
        raise EmulationError(f"unexpected exit code {code} at pc {pc:#x}")

    def _hook_exit(self, code: int, pc: int) -> bool:
        """An interrupt or undefined instruction the hooks handle (True: go on at env pc)."""
        if code in (Exit.SYSCALL, Exit.TRAP) and self._hooks.of(hk.HOOK_INTR):
            intno = dict(self.arch.target.interrupts).get(Exit(code).name)
            if intno is None:
                return False
            for h in self._hooks.of(hk.HOOK_INTR):
                if h.live:
                    h.callback(self, intno, h.user_data)
            return True
        if code == Exit.ILLEGAL:
            for h in self._hooks.of(hk.HOOK_INSN_INVALID):
                if h.live and h.callback(self, h.user_data):
                    if self.env.pc == pc:
                        fetched = self.cache._fetch(pc)
                        self.env.pc = pc + (fetched[1] if fetched else self.arch.target.fetch_unit)
                    return True
        return False

    def _word_at(self, pc: int) -> int:
        fetched = self.cache._fetch(pc)       # by the target's length rule
        if fetched is not None:
            return fetched[0]
        try:
            return int.from_bytes(self.aspace.read(pc, 4, need=0), "little")
        except Fault:
            return 0
