"""The translation-block cache: translation pipeline, chaining, invalidation.

* Direct jumps end in a ``musttail`` call through a jump slot (a u64 in a
  native array) that first points at the miss stub and is patched once the
  target block exists; every slot is recorded under its target pc so that a
  new block patches the slots already waiting for it.
* Indirect jumps look the pc up in a direct-mapped native table of
  (pc, host function) pairs.
* Blocks are tracked by guest page; a write to such a page (from the guest
  through the slow path, or from the API) invalidates the page's blocks and
  points every slot that led to them back at the miss stub.
* A cap on the number of blocks compiled (or slots used) triggers a full
  flush, as QEMU does when its code buffer fills; the flush disposes of the
  cache's code space, which is what releases MCJIT's machine code.
* Two tiers: blocks are compiled cheaply first (in batches: a miss also
  translates what the block jumps to); loop-closing edges count their passes
  and a hot one recompiles its loop optimised (``promote``).
"""
from __future__ import annotations

import ctypes
import functools
import os
import struct
import time
from collections.abc import Container

from .backends import baseline
from .backends.llvm import jit, native_helpers, refill
from .backends.llvm.background import Job
# The lowering (backends/llvm/lower.py, lower_region.py) is imported where
# blocks are lowered: a run whose code all comes from the persistent cache
# lowers none, and importing it is ~10 ms of a warm start's ~80.
from .backends.llvm.access import access_function_text
from .backends.llvm.runtime import (ACCESS_KEYS, JMP_WAYS, SYM_SLOW_CAS, SYM_SLOW_LD, SYM_SLOW_ST, Runtime,
                                    access_fn_name, jmp_index)
from . import persist
from .cpustate import PAGE_BITS, PAGE_MASK
from .ir.core import Insn, Kind, Temp
from .ir.ops import Exit, MemOp, Op
from .record import factory, record, replace as replace_record
from .translator import MAX_BLOCK_INSNS, FetchFault, translate_block


JMP_TABLE_BITS = 14
_NO_PC = 0xFFFF_FFFF_FFFF_FFFF       # an empty indirect-jump table entry (no pc is all ones)
# The cap is about memory (~8 KB per compiled block, host code and MCJIT's
# bookkeeping); a program that needs more blocks than it allows retranslates
# everything after each flush.  CPython's start-up alone runs ~45,000: with
# a cap of 12,000 `python3 -S -c 'print(1)'` flushed 11 times and took
# 106 s, with 64,000 none and 37 s (425 MB peak).
MAX_SLOTS = 1 << 17
MAX_BLOCKS = 64_000
N_COUNTERS = MAX_BLOCKS + 64
# Modules loaded from the persistent cache (persist.py) address their
# counters from one base: they take contiguous runs from a region of their own.
LOADED_COUNTERS = 1 << 16
# Blocks translated and compiled together on a miss (the block and what it
# jumps to); code that streams through new blocks gets up to MAX_LOOKAHEAD.
# Once a block's own code got cheap to compile (one function per batch,
# out-of-line memory accesses) compiling what may never run stopped paying:
# on glibc's hello, string and float programs 1 beats 2, 4 and 8 by 2-10%
# (instructions executed, callgrind).  Rechecked once blocks got smaller
# still (no instruction budget in tcgpy run's blocks, top-byte-ignore in the access
# functions): 3 saves hello 1.3% but costs string 1.6% and float 3%.
# Streaming batches capped at 4 instead of 64: hello -6.2%, string -3.8%,
# float -6.1%, zsh -c (a loop, a pipe to sort) -3.1%; 2, 8 and 16 are in
# between.
LOOKAHEAD = 1
MAX_LOOKAHEAD = 4
# A block's one direct successor (it ends in a jump or a call, nothing
# conditional) runs next: it joins the batch whatever the lookahead, up to
# MAX_BATCH blocks.  Code that streams through such chains compiles in few
# modules (tcgpy bench's translation loop: 1,600-2,000 blocks/s with the
# cap of 4, ~2,700 with 64), at no cost to programs that branch
# (callgrind: hello +0.5%, string -0.4%, float -0.6%).
MAX_BATCH = 64
# Passes over a loop-closing edge before its loop is recompiled hot.  A hot
# compile costs 5-30 ms and saves a few nanoseconds per pass, so it pays only
# for loops that run far longer than any threshold; what the threshold buys
# is not compiling the many short loops of a program's start-up (dynamic
# linking, libc initialisation).  3000 against 100 (callgrind, instructions):
# glibc hello -7.6%, fs_bench matmul -8.4%, bench_fp -2.6%, fs_bench sort
# +1.2%; sqlite3's start-up (dynamic, -L) 11.1 s -> 7.8 s of CPU, 34 hot
# regions -> 4.  (At 1000 sort runs 9% more instructions, and 5000 forms
# the same regions: its loops turn hot in another order, and the recursion's
# loop becomes a region around the partition loops, which the partition's
# other paths enter mid-way.)
HOT_THRESHOLD = int(os.environ.get("TCGPY_HOT_THRESHOLD", "3000"))
# While the process has not loaded LLVM and the baseline tier runs its
# code, a loop is promoted only once loop edges have run out this many
# times in all: the first hot loop costs LLVM's loading, its -O2 runtime
# code and the loop's compile (~0.2-0.3 s), which a short run's loops do
# not earn back (lua -e at 1: 0.88 s; with no promotion 0.64 s).  Not in a
# run whose code comes from the persistent cache, which has its hot loops
# there too: promoted later, a loop takes other blocks into its region,
# whose key the cache does not have (perl's loop, second run: 2.1 s
# against 1.4).  A loop that waits is recorded for the cache's saver as if
# promoted (hot_records), so that the next run has its hot code.
HOT_WAITS = int(os.environ.get("TCGPY_HOT_WAITS", "10"))
# A cold block whose compile is on the background thread (background.py)
# is interpreted meanwhile, up to this many times cold_runs: then the guest
# waits for the code.
WAIT_RUNS = 4
# With the background compiler, a process that has not loaded LLVM holds
# the first batches that earn compiling back: they stay interpreted until
# their runs past cold_runs add up to this many.  Loading LLVM and
# compiling its first modules is ~65 MB of a first glibc hello's 96 MB peak
# (libLLVM's pages, ~45 MB, and its heap) and ~0.1 s of CPU, which a short
# run never earns back; its blocks reach the persistent cache all the same
# (the saver translates and compiles them after the guest exits).  A held
# run is a planned run of the cold tier (~10-30 us), but a program that
# loads LLVM in the end pays for them: busybox sh -c with no persistent
# cache, which crosses the threshold near its end, 17% more instructions
# under callgrind at 10,000 (10% at 6,000).  2026-12-07, runs a first run
# would hold: glibc hello 5,500-6,000 (so not less than 10,000: other
# arguments and environments take more), busybox sh -c and perl -e more
# than 10,000 (TCGPY_LLVM_START; 0: no hold).
LLVM_START = int(os.environ.get("TCGPY_LLVM_START", "10000"))
HOT_REGION_MAX = 64    # blocks recompiled together for one hot edge
WRITER_POLL = 0.05      # seconds between looks at whether another process writes the persistent cache
COUNTER_NEVER = 1 << 62  # a count that does not run out
# A hot loop's blocks also become one function entered at its header
# (TCGPY_HOT_REGIONS=0 turns that off, to compare).
HOT_REGIONS = os.environ.get("TCGPY_HOT_REGIONS", "1") != "0"


@record
class Stats:
    blocks_translated: int = 0
    insns_translated: int = 0
    dispatcher_returns: int = 0
    chain_patches: int = 0
    cache_flushes: int = 0
    invalidations: int = 0
    modules_compiled: int = 0
    blocks_promoted: int = 0
    hot_regions: int = 0              # hot loops compiled as one function (lower_region)
    cold_blocks: int = 0              # blocks translated for the cold tier (interpreted)
    cold_runs: int = 0                # runs of them
    baseline_blocks: int = 0          # blocks emitted by the baseline tier (backends/baseline)
    pcache_hits: int = 0              # guest pages whose blocks came from the persistent cache
    pcache_misses: int = 0            # guest pages looked up there and not found
    pcache_late: int = 0              # ... found later: another process was writing them
    pcache_blocks: int = 0            # blocks installed from it
    pcache_bytes: int = 0             # bytes of it read
    modules_loaded: int = 0           # object-code modules loaded (no LLVM codegen)
    hot_regions_loaded: int = 0       # hot loops among them
    time_pcache_load: float = 0.0
    time_decode: float = 0.0
    time_ir_build: float = 0.0
    time_passes: float = 0.0
    time_llvm_lower: float = 0.0
    time_llvm_compile: float = 0.0
    time_interp: float = 0.0          # running cold blocks (coldtier.py)
    time_baseline: float = 0.0        # emitting baseline code
    time_syscalls: float = 0.0        # in the syscall handler (Linux user mode)
    # Where translated code went back to Python (a cliff when it is in a loop):
    slow_accesses: int = 0            # Python slow path: faults, MMIO, code-page stores, page crossings
    tlb_refills_native: int = 0       # TLB misses refilled in host code (refill.py)
    syscalls_native: int = 0          # syscalls served in host code (backends/llvm/syscall.py)
    # helper (vec ops as "vec_env:KIND") -> calls from translated code, most first
    python_calls: dict = factory(dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def format(self, top: int = 12) -> str:
        lines = []
        for k, v in self.as_dict().items():
            if isinstance(v, dict):
                lines.append(f"{k:>20}: {sum(v.values())}")
                lines += [f"{'':>22}{n:>10}  {name}" for name, n in list(v.items())[:top]]
            else:
                lines.append(f"{k:>20}: {v:.6f}" if isinstance(v, float) else f"{k:>20}: {v}")
        return "\n".join(lines)


class _Helpers(list):
    """Helper id -> the address translated code calls: the host-code version
    (native_helpers.py) where there is one, compiled or loaded on first use
    (from ``store``, the persistent cache), else the Python function's callback."""

    def __init__(self, python_addrs: list[int]):
        super().__init__(python_addrs)
        self.store = None
        self.pending = set(native_helpers.TEXTS_BY_ID)

    def __getitem__(self, i):
        if i in self.pending:
            self.pending.discard(i)
            self[i] = native_helpers.native_address(i, self.store)
        return list.__getitem__(self, i)


class _AccessFunctions(dict):
    """(memop, kind) -> address of the out-of-line access function for it,
    compiled on first use (each costs a few milliseconds at -O2, and a
    program uses about half of them) and shared by every cache in the
    process (jit.runtime_functions)."""

    def __init__(self, rt: Runtime):
        super().__init__()
        self.rt = rt

    def get(self, key, default=None):
        fn = dict.get(self, key)
        if fn is None and key in ACCESS_KEYS:
            name = access_fn_name(*key)
            fn = self[key] = jit.runtime_functions(self.text(key), [name], self.rt.store)[name]
        return default if fn is None else fn

    def text(self, key) -> str:
        # named by process symbols, not addresses: the persistent cache
        # keeps its object code for the next process
        return access_function_text(replace_record(self.rt, tag="runtime", imports={}), *key)

    def stored(self, key) -> bool:
        """Whether ``key``'s function is made, or loaded now from the persistent cache."""
        if dict.get(self, key) is not None:
            return True
        fns = jit.stored_runtime_functions(self.text(key), [access_fn_name(*key)], self.rt.store)
        if fns is None:
            return False
        self[key] = fns[access_fn_name(*key)]
        return True


@record(eq=False, slots=True)
class TB:
    # slots: a warm python3 creates 38,000 of these at start-up
    pc: int
    size: int
    n_insns: int
    insn_pcs: list[int]
    fn_addr: int = 0
    slots: list[tuple[int, int]] = factory(list)
    pages: tuple[int, ...] = ()
    valid: bool = True
    counters: list[int] = factory(list)   # hotness counters on its edges
    hot: bool = False
    region: bool = False      # a hot loop's function entered at its header (lower_region)
    ir: object = None         # a cold block: its IR, interpreted (coldtier.py), no host code
    plan: object = None        # ... planned for the cold tier's interpreter (ir.interp_fast) once run twice
    runs: int = 0
    instr: int = 0             # its instrumentation (ir.core.Block.instr)
    compiling: bool = False    # in a job of the background compiler (a cold block, or hot code being replaced)
    raw: bool = False          # a cold block whose IR the optimiser has not seen yet (TBCache.cold_ir)
    jmp: int = 0               # where _jmp_set last entered it in the indirect-jump table


def lower_hot(blocks, header_pc: int, rt: Runtime, fn_name, alloc_slot, alloc_counter=None):
    """LLVM IR for a hot loop: (text, blocks in function order, their
    lowerings, whether the last is the loop's region function).  Each block
    gets its own hot-tier function and, when the loop's header is among
    them, the whole loop is also one function entered there.  The blocks'
    backward and indirect jumps out count with ``alloc_counter``."""
    from .backends.llvm.lower import lower_block, module_text
    from .backends.llvm.lower_region import lower_region, region_possible
    header = next((b for b in blocks if b.pc == header_pc), None)
    if header is None or not HOT_REGIONS or not region_possible(blocks, rt):
        lowered = [lower_block(b, rt, fn_name(), alloc_slot, alloc_counter, True) for b in blocks]
        return module_text(lowered), list(blocks), lowered, False
    others = [b for b in blocks if b is not header]
    lowered = [lower_block(b, rt, fn_name(), alloc_slot, alloc_counter, True) for b in others]
    lowered.append(lower_region([header] + others, rt, fn_name(), alloc_slot, alloc_counter))
    return module_text(lowered), others + [header], lowered, True


def _compile_access_functions(texts: dict) -> dict:
    """(addresses, object code) of each access function in ``texts`` (key -> its text)."""
    return {key: jit.compile_runtime_functions(text, [access_fn_name(*key)]) for key, text in texts.items()}


def mark_region(tbs: list["TB"]) -> None:
    """The last of a hot loop's TBs is its region: it runs every block's
    code, so any of their pages invalidates it."""
    tbs[-1].pages = tuple(sorted({p for tb in tbs for p in tb.pages}))
    tbs[-1].region = True


def _pages(block) -> tuple[int, ...]:
    """The guest pages a block's code lies on."""
    return tuple(sorted({block.pc & PAGE_MASK, (block.pc + max(block.guest_size, 1) - 1) & PAGE_MASK}))


class TBCache:
    def __init__(self, arch, env, aspace, pipeline, log=None):
        self.arch = arch
        self._target_fetch = arch.target.fetch
        self.env = env
        self.aspace = aspace
        self.pipeline = pipeline           # callable(block) -> block
        self.log = log                     # optional logger with .enabled(item)/.write
        self.tbi = False                   # data accesses ignore the address's top byte (set by the Emulator)
        self.refuses = None                # words the CPU model lacks features for (set by the Emulator)
        self.block_insns = MAX_BLOCK_INSNS  # 1 with -one-insn-per-tb
        # Hooks and counters compiled into code (hooks.Instrumentation, set by
        # the Emulator while it has any); ``no_hot``: no hot tier meanwhile
        # (memory hooks read registers that hot code keeps in host registers).
        self.instr = None
        self.no_hot = False
        self.stats = Stats()
        # The host code everything else calls (base code, TLB refill; and
        # what native_waiters make, the host-code syscalls) is made when
        # a block is first lowered or loaded (native): a run that only
        # interprets never needs it, and with nothing in the persistent
        # cache making it is LLVM at -O2 (~35 MB of a first hello's peak).
        self.native_ready = False
        self.native_waiters: list = []
        self.miss_stub = 0
        self.slots = (ctypes.c_uint64 * MAX_SLOTS)()
        self.jmp_table = (ctypes.c_uint64 * (2 * ((1 << JMP_TABLE_BITS) + JMP_WAYS - 1)))()
        self.jmp_mask = (1 << JMP_TABLE_BITS) - 1
        self._jmp_victim = 0
        self.counters = (ctypes.c_uint64 * (N_COUNTERS + LOADED_COUNTERS))()
        self.free_counters = list(range(N_COUNTERS - 1, -1, -1))
        self.next_loaded_counter = N_COUNTERS
        self.max_blocks = MAX_BLOCKS
        # The persistent cache (pcache.py, persist.py), when the emulator has one:
        self.pcache = None
        self.pcache_tried: set[int] = set()            # pages looked up since their last change
        # Pages missed while another process was writing the cache (an
        # earlier run's saver, still at work when the same program runs
        # again), with when: looked up again, WRITER_POLL later at the
        # soonest, before their blocks are compiled here.
        self.pcache_retry: dict[int, float] = {}
        self._writer_seen = (-1.0, False)               # (when, busy): looked at once per WRITER_POLL
        self.pcache_pages: dict[int, tuple[str, set[int]]] = {}   # page -> (key, pcs) loaded
        self.page_hashes: dict[int, str | None] = {}   # content hash of code pages (persist.py)
        self.hot_records: dict[str, tuple] = {}        # hot loops compiled here: key -> (header, blocks, keyed)
        self.hot_choices: dict[tuple, list] = {}       # (header, edge source) -> region chosen here
        self.pcache_slot_base = self.pcache_ctr_base = 0   # of the entry persist.py loaded last
        self.counter_owner: dict[int, TB] = {}
        self.blocks: dict[int, TB] = {}
        self.cold: dict[int, TB] = {}            # cold blocks (coldtier.py), by pc
        self.lukewarm: list[TB] = []             # cold blocks halfway to cold_runs
        self.cold_runs = 0                       # interpreted runs before compiling; 0: no cold tier
        self.page_blocks: dict[int, set[TB]] = {}
        self.waiting: dict[int, set[int]] = {}       # target pc -> slots jumping there
        self.slot_owner: dict[int, TB] = {}
        self.code = jit.CodeSpace()
        self.generation_blocks = 0     # blocks compiled into the current code space
        self.lookahead = LOOKAHEAD     # batch size of the last miss
        self.frontier: set[int] = set()   # jump targets the last batch left untranslated
        # When a dict (an ordered set): the pcs of the blocks this process ran
        # cold or had to compile (linux/forkshare.py: a forked child's, for its parent).
        self.new_pcs: dict[int, None] | None = None
        self.next_slot = 0
        self.free_slots: list[int] = []
        self._fn_counter = 0
        # LLVM on another thread (backends/llvm/background.py) when set:
        # only with a cold tier, which runs the blocks meanwhile.
        self.background = None
        # The baseline tier (backends/baseline), made at the first block it
        # emits; the Python slow paths its code calls before native() made
        # the host-code refill (set_slow_paths).
        self.baseline = None
        self.py_slow_ld = self.py_slow_st = 0
        self.hot_waits = 0             # loop edges run out before LLVM is loaded (HOT_WAITS)
        self._access_wanted = False    # prepare_access_functions, at the first translation
        self._access_job = None        # the background job making them, until installed
        # First-tier batches held back until LLVM_START (with the background
        # compiler, while this process has not loaded LLVM): (blocks, their
        # cold TBs), and the interpreted runs of those past cold_runs.
        self.held: list[tuple[list, list[TB]]] | None = None
        self.held_runs = 0
        lay = arch.layout
        self.rt = Runtime(offsets=lay.offsets, tlb_offset=lay.tlb_offset,
                          slot_base=ctypes.addressof(self.slots),
                          jmp_table=ctypes.addressof(self.jmp_table), jmp_table_mask=self.jmp_mask,
                          slow_ld=0, slow_st=0, helpers=_Helpers(jit.helper_addresses()),
                          counters=ctypes.addressof(self.counters),
                          env_addr=ctypes.addressof(env), exit_fns={},
                          syscall_fn_offset=lay.syscall_fn_offset)
        aspace.on_code_write = self.invalidate_page

    def native(self) -> None:
        """Make the host code blocks rely on, once, before the first block
        is lowered or loaded (on the guest's thread: it may load LLVM,
        which opens files)."""
        if self.native_ready:
            return
        self.native_ready = True
        if not self.miss_stub:
            # (else the baseline tier's, in the slots already: the same code)
            self.miss_stub = jit.miss_stub()
            self._reset_slots()
        self.rt.exit_fns.update(jit.exit_stubs())
        text = refill.slow_path_text(replace_record(self.rt, tag="runtime", imports={}),
                                     self.arch.layout.mem_table_offset)
        fns = jit.runtime_functions(text, [refill.REFILL_LD, refill.REFILL_ST], self.rt.store)
        self.rt.slow_ld, self.rt.slow_st = fns[refill.REFILL_LD], fns[refill.REFILL_ST]
        jit.add_process_symbol(SYM_SLOW_LD, self.rt.slow_ld)
        jit.add_process_symbol(SYM_SLOW_ST, self.rt.slow_st)
        if self.baseline is not None:
            self.baseline.use_slow_paths(self.rt.slow_ld, self.rt.slow_st)
        waiters, self.native_waiters = self.native_waiters, []
        for make in waiters:
            make()

    def when_native(self, make) -> None:
        """Call ``make`` once the host code is made (now, if it is)."""
        if self.native_ready:
            make()
        else:
            self.native_waiters.append(make)

    def set_slow_paths(self, ld: int, st: int, cas: int = 0) -> None:
        """Install the Python slow paths (``ld(env, addr, memop)``, ``st(env,
        addr, value, memop)``) behind the native TLB refill (refill.py), which
        is what translated code calls on a miss, and ``cas(env, addr,
        expected, new, memop)``, which a compare-and-swap calls on one."""
        jit.add_process_symbol(refill.PY_SLOW_LD, ld)
        jit.add_process_symbol(refill.PY_SLOW_ST, st)
        self.py_slow_ld, self.py_slow_st = ld, st
        if cas:
            self.rt.slow_cas = cas
            jit.add_process_symbol(SYM_SLOW_CAS, cas)
        self.env.mem_table = self.aspace.table_address
        self.rt.access_fns = _AccessFunctions(self.rt)
        self.rt.helpers.store = self.rt.store

    def _reset_slots(self) -> None:
        stub = struct.pack("<Q", self.miss_stub)
        ctypes.memmove(self.slots, stub * MAX_SLOTS, ctypes.sizeof(self.slots))
        # Empty entries still hold a callable (the miss stub): any pc value,
        # even the filler, may be looked up by an indirect jump.
        entry = struct.pack("<Q", _NO_PC) + stub
        ctypes.memmove(self.jmp_table, entry * (len(self.jmp_table) // 2), ctypes.sizeof(self.jmp_table))

    def alloc_slot_range(self, n: int) -> int | None:
        """``n`` contiguous jump slots (a loaded module's), or None."""
        if self.next_slot + n > MAX_SLOTS - 4096:
            return None
        self.next_slot += n
        return self.next_slot - n

    def alloc_counter_range(self, n: int) -> int | None:
        """``n`` contiguous hotness counters (a loaded module's), or None."""
        if self.next_loaded_counter + n > len(self.counters):
            return None
        base = self.next_loaded_counter
        self.next_loaded_counter += n
        for i in range(base, base + n):
            self.counters[i] = HOT_THRESHOLD
        return base

    def slot_address(self, idx: int) -> int:
        return ctypes.addressof(self.slots) + 8 * idx

    def counter_address(self, idx: int) -> int:
        return ctypes.addressof(self.counters) + 8 * idx

    def install_loaded(self, tbs: list[TB]) -> None:
        """Register blocks loaded from the persistent cache (a page's), with
        their hotness counters."""
        owner = self.counter_owner
        for tb in tbs:
            for idx in tb.counters:
                owner[idx] = tb
        self.generation_blocks += len(tbs)
        self._register_all(tbs)

    def _alloc_slot(self) -> int:
        if self.free_slots:
            return self.free_slots.pop()
        if self.next_slot >= MAX_SLOTS:
            raise MemoryError("jump slots exhausted")
        self.next_slot += 1
        return self.next_slot - 1

    # -- translation -----------------------------------------------------------------
    def _fetch(self, pc: int) -> tuple[int, int] | None:
        """(instruction word, length) at ``pc`` by the target's fetch rule, or None."""
        return self._target_fetch(self.aspace.fetch, pc)

    def _translate(self, pc: int, max_insns: int, stops: Container[int], plain: bool = False,
                   optimize: bool = True):
        """IR for the block at ``pc``, optimised unless not ``optimize``,
        with the instrumentation ``instr`` asks for (hooks, counters) unless
        ``plain`` (code for the persistent cache, which never holds
        instrumented code)."""
        if self._access_wanted and not plain and self.held is None:
            self._submit_access_functions()
        t0 = time.perf_counter()
        log = self.log
        d0 = self.stats.time_decode
        block = translate_block(self.arch, functools.partial(self._target_fetch, self.aspace.code_reader()),
                                pc, max_insns=min(max_insns, self.block_insns),
                                stops=stops, stats=self.stats, tbi=self.tbi, refuses=self.refuses)
        t1 = time.perf_counter()
        # translate_block interleaves decoding and IR building; it reports the
        # decode share itself, the rest is IR building.
        self.stats.time_ir_build += (t1 - t0) - (self.stats.time_decode - d0)
        if self.instr is not None and not plain:
            self.instr.apply(block)
        if log is not None:
            log.block_in(block, self._fetch)
            log.block_ir("op", block)
        if optimize:
            block = self.pipeline(block)
        self.stats.time_passes += time.perf_counter() - t1
        if log is not None:
            log.block_ir("op_opt", block)
        return block

    def _alloc_counter(self) -> int:
        if not self.free_counters:
            return -1
        idx = self.free_counters.pop()
        self.counters[idx] = HOT_THRESHOLD
        return idx

    def _lower(self, blocks, chain: bool, hot: bool):
        """LLVM IR text for ``blocks`` as one module.  ``chain`` blocks count
        their loop-closing edges unless they are already the ``hot`` tier."""
        from .backends.llvm.lower import lower_batch, lower_block, module_text
        self.native()
        t0 = time.perf_counter()
        lowered = []
        counting = self._alloc_counter if chain and not hot else None
        if not hot and len(blocks) > 1:
            # first tier: one function for the whole batch (lower_batch)
            self._fn_counter += 1
            batch = lower_batch(blocks, self.rt, f"tb_{id(self):x}_{self._fn_counter}",
                                self._alloc_slot, counting)
            text = module_text([batch])
            lowered = batch.parts
        else:
            for block in blocks:
                self._fn_counter += 1
                name = f"tb_{id(self):x}_{self._fn_counter}"
                lowered.append(lower_block(block, self.rt, name, self._alloc_slot, counting, hot))
            text = module_text(lowered)
        self.stats.time_llvm_lower += time.perf_counter() - t0
        if self.log is not None:
            self.log.llvm("out_asm", text, hot, [b.pc for b in blocks])
        return text, lowered

    # -- compiling on the background thread ------------------------------------------
    def hold_llvm(self) -> None:
        """Hold first-tier batches back (interpreted) until their runs reach
        LLVM_START, if LLVM is not loaded in this process yet."""
        if LLVM_START > 0 and not jit.loaded() and self.held is None:
            self.held = []

    def release_llvm(self) -> None:
        """Stop holding: the held batches' blocks that are still valid go to
        the background compiler, once the access functions' job is installed.
        (Their code calls those functions: lowered before, a batch would make
        each it needs again, on the guest's thread; perl -e's first run spent
        3% of that thread so.  Meanwhile they are interpreted.)"""
        if self.held is None:
            return
        if self._access_wanted:
            self._submit_access_functions()
        job = self._access_job
        if job is not None and not job.info.get("kept") and job.error is None:
            return                      # (_install_compiled calls again)
        held, self.held = self.held, None
        for blocks, colds in held:
            live = [b for b, c in zip(blocks, colds) if c.valid and self.cold.get(c.pc) is c]
            if live:
                self._compile_in_background(live)

    def _compile_in_background(self, blocks) -> None:
        """Compile a first-tier batch on the background thread; its blocks
        stay cold (interpreted) until the code is installed."""
        colds = [self._cold_tb(b) for b in blocks]
        for c in colds:
            c.compiling = True
        if self.held is not None:
            if self.log is None and not jit.loaded():
                self.held.append((blocks, colds))
                return
            # LLVM is here already (a hot loop's compile loaded it), or -d
            # out_asm and the like want to show what it makes
            self.release_llvm()
        text, lowered = self._lower(blocks, True, False)
        code = self.code
        code.prepare(False)
        names = [lb.name for lb in lowered]
        self.background.submit(Job(lambda: code.compile(text, names), kind="first", code=code,
                                   blocks=blocks, lowered=lowered, colds=colds))

    def cold_ir(self, tb: TB):
        """Cold block ``tb``'s IR, optimised (once: before it is planned for
        the fast interpreter or compiled)."""
        if tb.raw:
            t0 = time.perf_counter()
            tb.ir = self.pipeline(tb.ir)
            tb.raw = False
            self.stats.time_passes += time.perf_counter() - t0
        return tb.ir

    def prepare_access_functions(self) -> None:
        """Compile on the background thread the out-of-line access functions
        first-tier code may call (those of this cache's TBI setting; those
        not in the persistent cache): a first run would otherwise compile
        them on the guest's thread, each when a batch first needs it (perl
        -e: 21, 0.11 s).  A batch that needs one before the job is done
        compiles it itself.  Done when this cache first translates a block:
        code from the persistent cache loads the ones it calls, and a run
        that translates nothing would have made the text of all 26 and
        looked each up in the cache for nothing."""
        self._access_wanted = True

    def _submit_access_functions(self) -> None:
        self._access_wanted = False
        if self.background is None:
            return
        fns = self.rt.access_fns
        todo = self._access_todo()
        if not todo:
            return
        texts = {key: fns.text(key) for key in todo}
        self._access_job = Job(lambda: _compile_access_functions(texts), kind="access", texts=texts)
        self.background.submit(self._access_job)

    def _access_todo(self) -> list:
        """The access functions of this cache's TBI setting that are neither
        made nor in the persistent cache."""
        self.native()             # (their code names the refill's symbols)
        fns = self.rt.access_fns
        return [key for key in sorted(ACCESS_KEYS)
                if bool(key[0] & MemOp.TBI) == self.tbi and not fns.stored(key)]

    def keep_access_functions(self) -> None:
        """Put the access functions of a background job that was not
        installed yet in the persistent cache (when saving: a run often ends
        before its lookups install that job, and the next run would then
        compile them on its guest's thread).  A job still waiting is done
        here."""
        bg = self.background
        if bg is None:
            return
        if self._access_wanted and self.stats.cold_blocks:
            # LLVM was held back all run (hold_llvm): the job was never made
            self._access_wanted = False
            texts = {key: self.rt.access_fns.text(key) for key in self._access_todo()}
            self._install_access_functions({"texts": texts}, _compile_access_functions(texts))
        for job in list(bg.done) + list(bg.queue):
            if job.info["kind"] == "access" and not job.info.get("kept"):
                result = job.result if job.result is not None and job.error is None else job.work()
                self._install_access_functions(job.info, result)

    def _install_access_functions(self, info: dict, result: dict) -> None:
        info["kept"] = True
        fns = self.rt.access_fns
        for key, (addrs, obj) in result.items():
            if dict.get(fns, key) is None:
                fns[key] = addrs[access_fn_name(*key)]
            # (its file written here, on the guest's thread: the guest never
            # sees a descriptor of tcgpy's come and go while it runs)
            jit.store_runtime_functions(info["texts"][key], obj, self.rt.store)

    def _baseline_tb(self, block) -> TB | None:
        """``block`` as baseline code (backends/baseline), or None when that
        tier leaves it to the interpreter."""
        t0 = time.perf_counter()
        try:
            bl = self.baseline
            if bl is None:
                bl = self.baseline = baseline.Baseline(self)
                if not self.miss_stub:
                    # the slots' stub before native() makes LLVM's (the same code)
                    self.miss_stub = baseline.miss_stub()
                    self._reset_slots()
            made = bl.make(block)
        except OSError:
            # no executable memory for it (a hardened host, or none left):
            # the block goes to the other tiers
            made = None
        self.stats.time_baseline += time.perf_counter() - t0
        if made is None:
            return None
        addr, slots, counters = made
        tb = TB(block.pc, block.guest_size, block.guest_insns, block.insn_pcs, addr, slots,
                _pages(block), counters=counters)
        for idx in counters:
            self.counter_owner[idx] = tb
        self.generation_blocks += 1
        self.stats.baseline_blocks += 1
        return tb

    def _cold_tb(self, block) -> TB:
        """The cold block holding ``block``'s IR, made if it has none yet (a
        batch's block that has not run)."""
        tb = self.cold.get(block.pc)
        if tb is not None and tb.ir is block:
            return tb
        tb = TB(block.pc, block.guest_size, block.guest_insns, block.insn_pcs, ir=block,
                pages=_pages(block), instr=block.instr)
        self.cold[block.pc] = tb
        self._track_pages(tb)
        self.stats.cold_blocks += 1
        return tb

    def _install_compiled(self) -> None:
        """Install what the background thread has finished, unless what it
        was compiled from changed meanwhile (a store to the code, an unmap, a
        flush: its blocks are no longer valid)."""
        for job in self.background.take():
            info = job.info
            if job.error is not None:
                raise job.error
            if info["kind"] == "access":
                self._install_access_functions(info, job.result)
                if self.held is not None:
                    self.release_llvm()         # (asked for, it waited for this job)
                continue
            if info["kind"] not in ("first", "hot") or info["code"] is not self.code:
                continue                # (flushed: its slots and counters went with it)
            addrs, elapsed = job.result
            self.stats.time_llvm_compile += elapsed
            if info["kind"] == "first":
                tbs = self._make_tbs(info["blocks"], info["lowered"], addrs, False)
                for tb, cold in zip(tbs, info["colds"]):
                    cold.compiling = False
                    if cold.valid and tb.pc not in self.blocks:
                        self._register(tb)      # in the cold block's place
                    else:
                        self._discard(tb)
            else:
                region = info["region"]
                for tb in region:
                    tb.compiling = False
                news = self._finish_hot(info, addrs)
                if all(tb.valid for tb in region):
                    self._install_hot(region, news, info["target"])
                else:
                    for tb in news:
                        self._discard(tb)

    def _discard(self, tb: TB) -> None:
        """Drop compiled code that was never registered: its slots and
        counters go back (nothing jumps to it)."""
        tb.valid = False
        self.free_slots.extend(slot for slot, _ in tb.slots)
        for idx in tb.counters:
            self.counter_owner.pop(idx, None)
            self.free_counters.append(idx)
        tb.counters = []

    def wait_compiled(self) -> None:
        """Install every job the background thread has (waiting for them)."""
        if self.background is not None:
            self.background.wait_all()
            self._install_compiled()

    def _compile(self, blocks, chain: bool, hot: bool = False) -> list[TB]:
        """Lower and compile ``blocks`` as one module, synchronously."""
        text, lowered = self._lower(blocks, chain, hot)
        addrs, elapsed = self.code.compile(text, [lb.name for lb in lowered], hot=hot)
        self.stats.time_llvm_compile += elapsed
        return self._make_tbs(blocks, lowered, addrs, hot)

    def _compile_hot(self, blocks, header_pc: int) -> list[TB]:
        """The hot tier: each block's own function and, when the loop's header
        is among them, the whole loop as one function entered there
        (lower_region), optimised by LLVM."""
        from .backends.llvm.lower_region import optimize as optimize_region
        info = self._lower_hot(blocks, header_pc)
        t1 = time.perf_counter()
        text = info["text"]
        if info["is_region"]:
            text = optimize_region(text)
        if self.log is not None:
            self.log.llvm("out_asm", text, True, [b.pc for b in blocks])
        addrs, _ = self.code.compile(text, [lb.name for lb in info["lowered"]], hot=True)
        self.stats.time_llvm_compile += time.perf_counter() - t1     # optimisation included
        return self._finish_hot(info, addrs)

    def _lower_hot(self, blocks, header_pc: int) -> dict:
        self.native()
        t0 = time.perf_counter()
        text, order, lowered, is_region = lower_hot(blocks, header_pc, self.rt, self._fn_name, self._alloc_slot,
                                                    self._alloc_counter)
        self.stats.time_llvm_lower += time.perf_counter() - t0
        return {"text": text, "order": order, "lowered": lowered, "is_region": is_region}

    def _finish_hot(self, info: dict, addrs) -> list[TB]:
        tbs = self._make_tbs(info["order"], info["lowered"], addrs, True)
        if info["is_region"]:
            mark_region(tbs)
            self.stats.hot_regions += 1
        return tbs

    def _compile_hot_in_background(self, blocks, header_pc: int, region: list[TB]) -> None:
        from .backends.llvm.lower_region import optimize as optimize_region
        info = self._lower_hot(blocks, header_pc)
        text, is_region = info["text"], info["is_region"]
        names = [lb.name for lb in info["lowered"]]
        code = self.code
        code.prepare(True)
        self.release_llvm()           # LLVM is loaded now: the held batches need not wait

        def work():
            t0 = time.perf_counter()
            addrs, _ = code.compile(optimize_region(text) if is_region else text, names, hot=True)
            return addrs, time.perf_counter() - t0

        for tb in region:
            tb.compiling = True
        self.background.submit(Job(work, kind="hot", code=code, region=region, target=header_pc, **info))

    def _fn_name(self) -> str:
        self._fn_counter += 1
        return f"tb_{id(self):x}_{self._fn_counter}"

    def _make_tbs(self, blocks, lowered, addrs, hot: bool) -> list[TB]:
        self.stats.modules_compiled += 1
        self.generation_blocks += len(blocks)
        tbs = []
        for block, lb in zip(blocks, lowered):
            tb = TB(block.pc, block.guest_size, block.guest_insns, block.insn_pcs,
                    addrs[lb.name], lb.slots, _pages(block), counters=lb.counters, hot=hot,
                    instr=block.instr)
            for idx in lb.counters:
                self.counter_owner[idx] = tb
            tbs.append(tb)
            self.stats.blocks_translated += 1
            self.stats.insns_translated += block.guest_insns
        return tbs

    @property
    def nochain(self) -> bool:
        return self.log is not None and self.log.nochain

    def _track_pages(self, tb: TB) -> None:
        """Stores to ``tb``'s pages take the slow path, which invalidates it."""
        for page in tb.pages:
            self.page_blocks.setdefault(page, set()).add(tb)
            if page not in self.aspace.code_pages:
                self.aspace.add_code_page(page)

    def _register(self, tb: TB) -> None:
        self._register_all((tb,))

    def _register_all(self, tbs) -> None:
        """Make ``tbs`` the blocks at their pcs: tracked by page, chained to
        and from.  Many at once for a warm run, which registers a page's
        blocks together (python3: 32,000; one at a time this was half of its
        start-up's CPU)."""
        blocks, cold = self.blocks, self.cold
        chain = not self.nochain
        waiting, slot_owner, slots = self.waiting, self.slot_owner, self.slots
        patches = 0
        by_pages: dict[tuple, list[TB]] = {}
        pages = group = None
        for tb in tbs:
            pc = tb.pc
            if cold:
                c = cold.get(pc)
                if c is not None:
                    self.invalidate(c)       # compiled with a batch before its time
            blocks[pc] = tb
            if tb.pages is not pages:        # (a loaded page's blocks share one tuple)
                pages = tb.pages
                group = by_pages.get(pages)
                if group is None:
                    group = by_pages[pages] = []
            group.append(tb)
            if not chain:
                continue
            # slots waiting for this block, then this block's own slots
            w = waiting.get(pc)
            if w:
                fn = tb.fn_addr
                for slot in w:
                    slots[slot] = fn
                patches += len(w)
            for slot, target in tb.slots:
                slot_owner[slot] = tb
                w = waiting.get(target)
                if w is None:
                    waiting[target] = {slot}
                else:
                    w.add(slot)
                dst = blocks.get(target)
                if dst is not None:
                    slots[slot] = dst.fn_addr
                    patches += 1
        self.stats.chain_patches += patches
        # Stores to these pages take the slow path, which invalidates the blocks.
        page_blocks, code_pages = self.page_blocks, self.aspace.code_pages
        for pages, group in by_pages.items():
            for page in pages:
                s = page_blocks.get(page)
                if s is None:
                    page_blocks[page] = set(group)
                else:
                    s.update(group)
                if page not in code_pages:
                    self.aspace.add_code_page(page)
        # (not entered in the indirect-jump table here: an indirect jump's
        # first miss does that, in lookup; a warm run registers 35,000
        # blocks at once, most of which no indirect jump reaches, and each
        # would have pushed a live entry out)

    def _jmp_set(self, tb: TB) -> None:
        """Enter ``tb`` in its window of the indirect-jump table
        (runtime.jmp_index): where its pc is already, else in a free entry,
        else over the entries in turn."""
        table, pc = self.jmp_table, tb.pc
        first = jmp_index(pc, self.jmp_mask) * 2
        window = range(first, first + 2 * JMP_WAYS, 2)
        for i in window:
            if table[i] == pc:
                break
        else:
            for i in window:
                if table[i] == _NO_PC:
                    break
            else:
                self._jmp_victim = (self._jmp_victim + 1) % JMP_WAYS
                i = first + 2 * self._jmp_victim
        table[i] = pc
        table[i + 1] = tb.fn_addr
        tb.jmp = i

    def note_miss_while_written(self, page: int) -> None:
        """``page`` was not in the persistent cache: worth another look if
        another process is writing the cache meanwhile."""
        now = time.monotonic()
        when, busy = self._writer_seen
        if now - when > WRITER_POLL:
            from .pcache import writer_busy
            busy = writer_busy(self.pcache.root)
            self._writer_seen = (now, busy)
        if busy:
            self.pcache_retry[page] = now

    def _load_late(self, tb: TB, stops) -> TB | None:
        """Cold block ``tb``'s page from the persistent cache, where it
        missed while another process was writing the cache and has been
        written since; the block there, or None."""
        page = tb.pc & PAGE_MASK
        if time.monotonic() - self.pcache_retry[page] < WRITER_POLL:
            return None
        del self.pcache_retry[page]
        self.pcache_tried.discard(page)
        loaded = persist.load_page(self, tb.pc, stops, again=True)
        if loaded is not None:
            self.stats.pcache_late += 1
        return loaded

    def may_load(self, pc: int) -> bool:
        """Whether to look for ``pc``'s page in the persistent cache: not
        looked for since it last changed, not translated here already, and
        no instrumentation there (the persistent cache holds none)."""
        return (self.pcache is not None and (pc & PAGE_MASK) not in self.pcache_tried
                and pc not in self.cold and not (self.instr is not None and self.instr.covers_page(pc)))

    def lookup(self, pc: int, stops: Container[int] = ()) -> TB:
        """The block at ``pc``, translating it (and what it jumps to) on a miss;
        with a cold tier, a cold block (``tb.ir``) for its first ``cold_runs`` runs.
        Translation ends blocks before ``stops`` (run's ``until`` and
        breakpoints) and does not start blocks there: the dispatcher must
        see those addresses, so nothing may chain into them."""
        bg = self.background
        if bg is not None and (bg.done or bg.orphaned):
            if bg.orphaned:
                bg.resume()         # (a forked child's first lookup)
            self._install_compiled()
        tb = self.blocks.get(pc)
        if tb is not None:
            log = self.log
            if log is None or not log.nochain:      # (nochain without its property's call)
                # Still where it was entered last, the usual case (a
                # syscall's return comes here): two reads, where the
                # search of its window made a range and hashed the pc.
                table, i = self.jmp_table, tb.jmp
                if table[i] != pc or table[i + 1] != tb.fn_addr:
                    self._jmp_set(tb)
            return tb
        if self.may_load(pc):
            tb = persist.load_page(self, pc, stops)
            if tb is not None:
                return tb
        warm = None
        if self.cold_runs:
            tb = self.cold.get(pc)
            if tb is None:
                # Not optimised until it runs a few times (cold_ir): most
                # cold blocks run once or twice, and the passes cost more
                # than interpreting the ops they would remove.
                raw = self.log is None
                block = self._translate(pc, MAX_BLOCK_INSNS, stops, optimize=not raw)
                if raw and baseline.ENABLED and self.py_slow_ld:
                    tb = self._baseline_tb(block)
                    if tb is not None:
                        self._register(tb)
                        if self.new_pcs is not None:
                            self.new_pcs[pc] = None
                        return tb
                tb = TB(block.pc, block.guest_size, block.guest_insns, block.insn_pcs, ir=block,
                        pages=_pages(block), instr=block.instr, raw=raw)
                self.cold[pc] = tb
                self._track_pages(tb)
                self.stats.cold_blocks += 1
            if self.new_pcs is not None:
                self.new_pcs[pc] = None
            tb.runs += 1
            if self.pcache_retry and tb.runs == self.cold_runs // 2 and (pc & PAGE_MASK) in self.pcache_retry:
                # (halfway: when it would join another block's batch)
                loaded = self._load_late(tb, stops)
                if loaded is not None:
                    return loaded
            if tb.compiling and tb.runs >= WAIT_RUNS * self.cold_runs:
                # Still waiting for its code: a hot loop would go on being
                # interpreted, 50-100 times slower; the guest waits instead
                # (for that code, not for every job queued after it).
                while tb.compiling and self.background.pending:
                    self.background.wait_any()
                    self._install_compiled()
                if self.blocks.get(pc) is not None:
                    return self.blocks[pc]
            if tb.compiling and self.held is not None:
                self.held_runs += 1
                if self.held_runs >= LLVM_START:
                    self.release_llvm()
            if tb.runs < self.cold_runs or tb.compiling:
                self.stats.cold_runs += 1
                if tb.runs == self.cold_runs // 2:
                    self.lukewarm.append(tb)
                return tb
            warm = self.cold_ir(tb)
            if self.background is None:
                self.invalidate(tb)     # warm now: compiled below, from the same IR
        # The cap counts every block compiled since the last flush, live or
        # invalidated: their machine code is only released with the code space.
        if self.generation_blocks >= MAX_BLOCKS or self.next_slot >= MAX_SLOTS - 4096:
            self.flush()
        # Translate the block and, breadth first, the blocks it jumps to, and
        # compile them as one module: LLVM's cost per module is large enough
        # that batching pays even though some of them may never run.  When
        # execution ran off the edge of the previous batch (code streaming
        # through new blocks) the batch doubles, up to MAX_LOOKAHEAD; a miss
        # anywhere else starts again from LOOKAHEAD.
        limit = min(2 * self.lookahead, MAX_LOOKAHEAD) if pc in self.frontier else LOOKAHEAD
        self.lookahead = limit
        # a batch does not run past the cap (the block missed always fits)
        cap = max(1, min(MAX_BATCH, MAX_BLOCKS - self.generation_blocks))
        limit = min(limit, cap)
        blocks = [warm or self._translate(pc, MAX_BLOCK_INSNS, stops)]
        seen = {pc}
        frontier = set()
        i = 0
        while i < len(blocks):
            targets = [insn.consts[0] for insn in blocks[i].insns if insn.op is Op.goto_tb]
            # A block's only way on (a jump, a call) is where it goes next:
            # that joins the batch past the limit.
            room = cap if len(targets) == 1 else limit
            for t in targets:
                if t in seen or t in self.blocks or t in stops or self._fetch(t) is None:
                    continue
                seen.add(t)
                if len(blocks) >= room:
                    frontier.add(t)
                    continue
                cold = self.cold.get(t)
                if cold is not None and cold.compiling:
                    continue            # in another batch on its way
                blocks.append(self.cold_ir(cold) if cold is not None else self._translate(t, MAX_BLOCK_INSNS, stops))
            i += 1
        self.frontier = frontier
        # Cold blocks halfway to their compile come along: fewer modules.
        while self.lukewarm and len(blocks) < MAX_BATCH and self.generation_blocks + len(blocks) < MAX_BLOCKS:
            cold = self.lukewarm.pop()
            if cold.valid and not cold.compiling and cold.pc not in seen:
                seen.add(cold.pc)
                blocks.append(self.cold_ir(cold))
        if warm is not None and self.background is not None:
            self._compile_in_background(blocks)
            self.stats.cold_runs += 1
            return self.cold[pc]        # interpreted until its code is in
        tbs = self._compile(blocks, chain=True)
        for tb in tbs:
            self._register(tb)
        if self.new_pcs is not None:
            self.new_pcs.update(dict.fromkeys(tb.pc for tb in tbs))
        return tbs[0]

    def prefetch(self, pcs) -> None:
        """Translate the blocks at ``pcs`` not cached yet (what forked children
        of this process needed: linux/forkshare.py), MAX_BATCH to a module,
        leaving room below the cap for what runs next."""
        todo = [pc for pc in dict.fromkeys(pcs) if pc not in self.blocks and self._fetch(pc) is not None]
        del todo[max(0, MAX_BLOCKS - MAX_BLOCKS // 8 - self.generation_blocks):]
        for i in range(0, len(todo), MAX_BATCH):
            blocks = []
            for pc in todo[i:i + MAX_BATCH]:
                try:
                    blocks.append(self._translate(pc, MAX_BLOCK_INSNS, ()))
                except FetchFault:
                    continue
            if blocks:
                for tb in self._compile(blocks, chain=True):
                    self._register(tb)

    def translate_partial(self, pc: int, max_insns: int, stops: Container[int] = ()) -> TB:
        """An uncached block of at most ``max_insns`` instructions (exact counts):
        its direct exits return to the dispatcher instead of chaining."""
        block = self._translate(pc, max_insns, stops)
        for i, insn in enumerate(block.insns):
            if insn.op is Op.goto_tb:
                target = Temp(Kind.CONST, -1, value=insn.consts[0])
                block.insns[i] = Insn(Op.exit_tb, (), (target,), (int(Exit.MISS),))
        return self._compile([block], chain=False)[0]

    def hot_edge(self, counter_addr: int, target: int) -> None:
        """A counted loop edge to ``target`` left with Exit.HOT (env
        ``exit_info`` holds its counter's address): its counter ran out
        (promote the loop), or an exit was requested and it had not."""
        counter = (counter_addr - ctypes.addressof(self.counters)) >> 3
        if not 0 <= counter < len(self.counters):
            return
        left = self.counters[counter]
        if 0 < left < 1 << 63:
            return
        if self.no_hot:
            # not now (memory hooks: hooks.py), perhaps once they are gone
            self.counters[counter] = HOT_THRESHOLD
            return
        later = self.promote(counter, target)
        if counter in self.counter_owner:
            # Not promoted (and still counting): this edge stays first tier,
            # unless its loop had a block on its way from the background
            # thread: then it counts again (left for good, a first run kept
            # such loops first tier to its end, and the next run compiled
            # them again).
            self.counters[counter] = HOT_THRESHOLD if later else COUNTER_NEVER

    def promote(self, counter: int, target: int) -> bool:
        """A loop-closing edge became hot: recompile its loop at the hot tier.

        The loop is taken to be the valid blocks from the edge's target up to
        its source (the source itself for a forward indirect jump), which
        covers the usual loop laid out in address order.  True when it
        could not be promoted now but may be later."""
        src = self.counter_owner.get(counter)
        if src is None or not src.valid or src.instr > 1:
            return False
        if src.hot:
            # A way out of hot code: what it reaches is promoted, unless
            # that is hot already.
            dst = self.blocks.get(target)
            if dst is None or dst.hot:
                return False
        # The region an earlier run chose for this loop, when its blocks are
        # all here: a run that loaded whole pages from the persistent cache
        # has blocks the first run had not translated yet when the loop
        # turned hot, and would choose another region (another key:
        # compiled again).
        region = persist.chosen_region(self, target, src.pc) if self.pcache is not None else None
        choice = None
        if region is None:
            if not src.hot:
                region = self._form_region(target, src)
            elif any(t == target for _, t in src.slots):
                region = self._loop_by_paths(target, src)
            else:
                region = self._callee_region(target)
            if self.pcache is not None and region:
                # kept once the loop is promoted (below): the next run takes
                # this region only to find its code in the persistent cache
                choice = [(tb.pc, tb.n_insns) for tb in region]
        # Python hooks run in first-tier code only (its registers are in env
        # at every hook); counted code may be hot, but not from the
        # persistent cache, which holds none.
        region = [tb for tb in region if tb.instr < 2]
        if not region:
            return False
        if any(tb.compiling for tb in region):
            return True                 # (a region of it on its way from the background thread)
        if choice is not None:
            self.hot_choices[(target, src.pc)] = choice
        hot_key = keyed = None
        if self.pcache is not None and not any(tb.instr for tb in region):
            keyed = [(tb.pc, tb.n_insns, tb.size) for tb in region]
            hot_key = persist.hot_key(self, target, keyed)
            news = persist.load_hot(self, hot_key) if hot_key else None
            if news is not None:
                # (the blocks it was compiled from: region_possible may have left some out)
                pcs = {tb.pc for tb in news}
                self._install_hot([tb for tb in region if tb.pc in pcs], news, target)
                return False
        # Same pc, same instruction count: the same guest code (the blocks
        # are still valid, so their bytes have not changed).
        blocks = [self._translate(tb.pc, tb.n_insns, ()) for tb in region]
        from .backends.llvm.lower_region import region_possible
        if HOT_REGIONS and not region_possible(blocks, self.rt):
            # No region for this loop: keep the hot code (and the regions)
            # of its inner loops as they are.
            keep = [i for i, tb in enumerate(region) if not tb.hot]
            region = [region[i] for i in keep]
            blocks = [blocks[i] for i in keep]
            if not region:
                return False
        if hot_key:
            # For the persistent cache, compiled again as relocatable code
            # when saving (persist._save_hot checks the key against the code
            # as it is then).  Recorded now, not once installed: a loop that
            # turns hot near the end of a run is still on the background
            # thread when the guest exits, and the next run would compile
            # it again.
            self.hot_records[hot_key] = (target, [(b.pc, b.guest_insns) for b in blocks], keyed)
        if (self.baseline is not None and self.hot_waits < HOT_WAITS and not jit.loaded()
                and not self.stats.pcache_hits):
            # Not yet (HOT_WAITS), but the persistent cache's saver compiles
            # it for the next run (hot_records) all the same.
            self.hot_waits += 1
            return True
        if self.background is not None and self.log is None:
            self._compile_hot_in_background(blocks, target, region)
            return False
        news = self._compile_hot(blocks, target)
        self._install_hot(region, news, target)
        return False

    def _form_region(self, target: int, src: TB) -> list[TB]:
        """The blocks of the loop closed by ``src``'s edge to ``target``, by pc."""
        lo, hi = min(target, src.pc), max(target, src.pc)
        # Inner loops that are hot already are taken in again when regions
        # are on: the outer loop then runs as one function around them.
        region = self._blocks_between(lo, hi, HOT_REGION_MAX + 1)
        if len(region) > HOT_REGION_MAX:
            # A long way back, or a loop through a call (the hot edge is the
            # return): the blocks on direct-jump paths from the target back
            # to the edge's source are what runs (the callee's body too),
            # and always the two ends.
            return self._loop_by_paths(target, src)
        region.sort(key=lambda tb: tb.pc)
        return region

    def _loop_by_paths(self, target: int, src: TB) -> list[TB]:
        """The loop closed by ``src``'s jump to ``target`` as the blocks on
        direct-jump paths between them (_paths_between) and both ends, by
        pc: when the pc range is too long, or when ``src`` is hot code (the
        range would miss the part of the loop that lies above a hot inner
        region's header)."""
        ends = [tb for tb in (self.blocks.get(target), src) if tb is not None]
        region = list({tb.pc: tb for tb in self._paths_between(target, src, HOT_REGION_MAX) + ends
                       if HOT_REGIONS or not tb.hot}.values())
        region.sort(key=lambda tb: tb.pc)
        return region

    def _callee_region(self, target: int) -> list[TB]:
        """What hot code's indirect jump to ``target`` runs (a function it
        calls through a PLT stub or a pointer, the code it returns to): the
        first-tier blocks reachable from ``target`` by direct jumps, nearest
        first.  Not the paths back to the jump: they run through hot code
        already, and the function's own body would be left out."""
        first = self.blocks.get(target)
        if first is None:
            return []
        region = [tb for tb in self._reachable(first, 4 * HOT_REGION_MAX)[0] if not tb.hot][:HOT_REGION_MAX]
        region.sort(key=lambda tb: tb.pc)
        return region

    def _reachable(self, first: TB, limit: int) -> tuple[list[TB], dict[int, list[int]]]:
        """Up to ``limit`` valid registered blocks reachable from ``first`` by
        its jump slots, nearest first, and each visited block's slot targets."""
        found = {first.pc}
        order = [first]
        succ: dict[int, list[int]] = {}
        for tb in order:
            succ[tb.pc] = outs = [t for _, t in tb.slots]
            for t in outs:
                nb = self.blocks.get(t)
                if t not in found and nb is not None and nb.valid and len(found) < limit:
                    found.add(t)
                    order.append(nb)
        return order, succ

    def _install_hot(self, region: list[TB], news: list[TB], target: int) -> None:
        """Replace a loop's ``region`` blocks by their hot versions ``news``."""
        # An inner loop's region stays the way into that loop: the outer
        # region is entered at its own header only, and code that comes back
        # into the inner loop from elsewhere (a path that left the outer
        # region, a return from a call) would otherwise run it block at a
        # time.  (fs_bench sort: 18% more instructions when its partition
        # loop's regions were replaced by the recursion's.)
        inner = {tb.pc for tb in region if tb.region and tb.pc != target}
        for old in region:
            if old.pc not in inner:
                self.invalidate(old)
        for new in news:
            if new.pc in inner and not new.region:
                self.free_slots.extend(slot for slot, _ in new.slots)    # never registered
                continue
            self._register(new)
        self.stats.blocks_promoted += len(news)

    def _paths_between(self, target: int, src: TB, limit: int) -> list[TB]:
        """Up to ``limit`` registered blocks that lie on a path of direct
        jumps (jump slots) from the block at ``target`` to ``src``: the body
        of a loop wherever its blocks lie (code laid out far from the loop's
        ends).  When no such path exists -- the loop goes back through a
        return, as when the hot edge is a call to a function below its
        caller -- the blocks reachable from ``target``, nearest first: the
        callee's body.  Explores at most 4 * ``limit`` blocks."""
        first = self.blocks.get(target)
        if first is None:
            return []
        order, succ = self._reachable(first, 4 * limit)
        found = {tb.pc: tb for tb in order}
        if src.pc not in found:
            return order[:limit]
        back = {src.pc}                 # the blocks src is reachable from
        grew = True
        while grew:
            grew = False
            for pc, outs in succ.items():
                if pc not in back and any(t in back for t in outs):
                    back.add(pc)
                    grew = True
        return [found[pc] for pc in sorted(back) if pc in found][:limit]

    def _blocks_between(self, lo: int, hi: int, limit: int) -> list[TB]:
        """The registered blocks whose pc is in [lo, hi] (hot ones only with
        HOT_REGIONS), up to ``limit`` of them, found by page (a scan of every block made each promotion cost
        O(blocks): 0.3 s of a warm python3 start-up, which loads 38,000
        from the persistent cache)."""
        out: dict[int, TB] = {}
        if (hi - lo) >> PAGE_BITS > len(self.page_blocks):
            for pc, tb in self.blocks.items():
                if lo <= pc <= hi and (HOT_REGIONS or not tb.hot):
                    out[pc] = tb
                    if len(out) >= limit:
                        break
            return list(out.values())
        page = lo & PAGE_MASK
        while page <= hi and len(out) < limit:
            for tb in self.page_blocks.get(page, ()):
                if lo <= tb.pc <= hi and self.blocks.get(tb.pc) is tb and (HOT_REGIONS or not tb.hot):
                    out[tb.pc] = tb
            page += 1 << PAGE_BITS
        return list(out.values())

    # -- invalidation --------------------------------------------------------------
    def invalidate(self, tb: TB) -> None:
        if not tb.valid:
            return
        tb.valid = False
        if tb.ir is not None:
            if self.cold.get(tb.pc) is tb:
                del self.cold[tb.pc]
        else:
            self.stats.invalidations += 1
        if self.blocks.get(tb.pc) is tb:
            del self.blocks[tb.pc]
        for page in tb.pages:
            s = self.page_blocks.get(page)
            if s is not None:
                s.discard(tb)
                if not s:
                    del self.page_blocks[page]
                    self.aspace.remove_code_page(page)
        stub = self.miss_stub
        for slot in self.waiting.get(tb.pc, ()):
            self.slots[slot] = stub
        for slot, target in tb.slots:
            self.slots[slot] = stub
            w = self.waiting.get(target)
            if w is not None:
                w.discard(slot)
            self.slot_owner.pop(slot, None)
            self.free_slots.append(slot)
        for idx in tb.counters:
            self.counter_owner.pop(idx, None)
            self.free_counters.append(idx)
        tb.counters = []
        first = jmp_index(tb.pc, self.jmp_mask) * 2
        for i in range(first, first + 2 * JMP_WAYS, 2):
            if self.jmp_table[i] == tb.pc and self.jmp_table[i + 1] == tb.fn_addr:
                self.jmp_table[i] = _NO_PC
                self.jmp_table[i + 1] = stub

    def invalidate_page(self, page: int, size: int = 0) -> None:
        self.pcache_tried.discard(page)        # new content: look it up again
        self.page_hashes.pop(page, None)
        for tb in list(self.page_blocks.get(page, ())):
            self.invalidate(tb)

    def invalidate_range(self, start: int, end: int) -> None:
        """Drop the blocks on the pages of [start, end): by walking the pages
        holding code when they are fewer than the range's pages (a munmap of
        a 1 TiB reservation must not visit every page)."""
        first = start & PAGE_MASK
        known = len(self.page_blocks) + len(self.pcache_tried) + len(self.page_hashes)
        if (end - first) >> PAGE_BITS > known:
            pages = [p for p in {*self.page_blocks, *self.pcache_tried, *self.page_hashes} if first <= p < end]
        else:
            pages = range(first, end, 1 << PAGE_BITS)
        for page in pages:
            self.invalidate_page(page)

    def invalidate_code(self, begin: int, end: int, starts_only: bool = False) -> int:
        """Drop the blocks with code in [begin, end] (inclusive; begin > end:
        all), or with ``starts_only`` those that start there, and any hot
        loop holding one (a hook's range changed: hooks.py); returns how
        many.  Safe from inside translated code: only jump slots change."""
        everywhere = begin > end
        if everywhere or (end - begin) >> PAGE_BITS > len(self.page_blocks):
            pages = [p for p in self.page_blocks if everywhere or (begin & PAGE_MASK) <= p <= end]
        else:
            pages = range(begin & PAGE_MASK, end + 1, 1 << PAGE_BITS)
        doomed = set()
        for page in pages:
            for tb in self.page_blocks.get(page, ()):
                hit = (begin <= tb.pc <= end) if starts_only else (tb.pc <= end and begin < tb.pc + tb.size)
                if everywhere or hit or tb.region:
                    doomed.add(tb)
        for tb in doomed:
            self.invalidate(tb)
        return len(doomed)

    def invalidate_hot(self) -> None:
        """Drop every hot-tier block and region (their code keeps registers
        in host registers across memory accesses)."""
        for tb in [tb for s in self.page_blocks.values() for tb in s if tb.hot or tb.region]:
            self.invalidate(tb)

    def invalidate_containing(self, addr: int) -> None:
        """Drop blocks that start at or run over ``addr`` (a new stop address)."""
        for tb in list(self.page_blocks.get(addr & PAGE_MASK, ())):
            if tb.pc <= addr < tb.pc + tb.size:
                self.invalidate(tb)

    def flush(self) -> None:
        """Drop every block and its host code (only called from the dispatcher,
        when no JIT frame is live)."""
        self.stats.cache_flushes += 1
        if self.background is not None:
            # Nothing may still compile into the code space about to go.
            self.background.wait_all()
            self.background.take()
            for tb in self.blocks.values():
                tb.compiling = False
        for tb in self.blocks.values():
            tb.valid = False
        self.blocks.clear()
        self.cold.clear()
        self.lukewarm.clear()
        if self.held is not None:
            self.held.clear()
        for page in self.page_blocks:
            self.aspace.code_pages.discard(page)
        self.page_blocks.clear()
        self.waiting.clear()
        self.slot_owner.clear()
        self.free_slots.clear()
        self.next_slot = 0
        self._reset_slots()
        self.aspace.tlb_flush()
        # Nothing points into the old code any more: release it all.
        self.code.close()
        self.code = jit.CodeSpace()
        if self.baseline is not None:
            self.baseline.arena = baseline.Arena()
        self.generation_blocks = 0
        self.free_counters = list(range(N_COUNTERS - 1, -1, -1))
        self.next_loaded_counter = N_COUNTERS
        self.counter_owner.clear()
        self.pcache_tried.clear()
        self.pcache_pages.clear()
        self.page_hashes.clear()
