"""What translated code and the runtime agree on: the calling convention,
the addresses code refers to (``Runtime``; in relocatable code, symbols
the loader maps to this run's addresses), the out-of-line access functions
and the indirect-jump table's layout.

Apart from lower.py so that a run whose code all comes from the persistent
cache -- which needs these names to key, relocate and chain that code --
does not import the lowering (lower.py and the target lowerings it
registers: ~10 ms of a warm start's ~80).
"""
from __future__ import annotations


from ...ir.ops import F, MemOp, Op
from ...record import factory, record

MASK64 = (1 << 64) - 1

# Blocks call each other only through tail calls, so no register needs to
# survive a call: preserve_none drops the callee-saved pushes and pops that
# the C convention would put around every block.  Python enters through a
# C-convention trampoline (jit.enter).
CC = "preserve_nonecc"


@record
class Runtime:
    """Addresses the generated code needs, fixed for the emulator's lifetime."""
    offsets: dict[str, int]          # env field offsets
    tlb_offset: int
    slot_base: int                   # address of the jump-slot array (u64 each)
    jmp_table: int                   # address of the pc -> host fn table (pc, fn) pairs
    jmp_table_mask: int
    slow_ld: int                     # u64 slow_ld(env, addr, memop)
    slow_st: int                     # void slow_st(env, addr, value, memop)
    helpers: list[int]               # helper id -> callable address
    counters: int = 0                # address of the per-block hotness counters (u64 each)
    slow_cas: int = 0                # u64 slow_cas(env, addr, expected, new, memop) (Op.cmpxchg)
    env_addr: int = 0                # address of the env structure
    # (memop, kind) -> address of the out-of-line access function
    # (access_module_text); empty: every access is inlined
    access_fns: dict = factory(dict)
    # exit code -> a function returning it (jit.exit_stubs); empty: plain returns
    exit_fns: dict = factory(dict)
    # Blocks count the instructions they run against env icount_left (for
    # run(count=...)); without it they carry no budget check at all.
    icount: bool = True
    # u64 hook(env, kind, pc, size): the emulator's Python hooks (Op.hook)
    hook_fn: int = 0
    # env offset of ``syscall_fn`` (cpustate.make_layout): a syscall exit
    # first calls it when it is not 0 (lower.lower_exit_tb); 0 here: the
    # exit goes straight to the dispatcher (code for tests' bare runtimes)
    syscall_fn_offset: int = 0
    # Non-empty: relocatable code for the persistent cache (tcgpy/pcache.py).
    # Every address above is then named by a symbol (``ref``) that the
    # loader maps to this run's value, and ``tag`` makes the module's own
    # symbols (its jump slots, counters and functions) unique in an engine.
    tag: str = ""
    imports: dict = factory(dict)   # symbol -> extra (fplib: its key)
    # Where runtime functions' object code is kept between processes
    # (jit.runtime_functions' store: the persistent cache), or None.
    store: object = None

    def ref(self, sym: str, addr: int, offset: int = 0) -> str:
        """The address ``addr + offset`` as an LLVM constant: a number, or in
        relocatable code symbol ``sym`` plus ``offset``."""
        if not self.tag:
            return f"inttoptr (i64 {addr + offset} to ptr)"
        self.imports.setdefault(sym, None)
        return f"getelementptr (i8, ptr @{sym}, i64 {offset})" if offset else f"@{sym}"

    def import_decls(self) -> str:
        """Declarations of the symbols relocatable code named (``ref``), for
        the module text: the loader maps each to this run's address."""
        return "".join(f"@{sym} = external global i8\n" for sym in self.imports)

    def slot_ref(self, slot: int) -> str:
        return self.ref(f"tcgpy_slots_{self.tag}", self.slot_base, 8 * slot)

    def counter_ref(self, idx: int) -> str:
        return self.ref(f"tcgpy_ctr_{self.tag}", self.counters, 8 * idx)

    def helper_ref(self, helper_id: int) -> str:
        return self.ref(f"tcgpy_helper_{helper_id}", self.helpers[helper_id])

    def access_ref(self, key) -> str | None:
        """The out-of-line access function for (memop, kind), if there is one."""
        fn = self.access_fns.get(key)
        return None if fn is None else self.ref(access_fn_name(*key), fn)


# Symbols of relocatable code that name the same thing in every module
# (the per-module ones carry the module's tag: Runtime.slot_ref/counter_ref).
SYM_ENV, SYM_JMP_TABLE, SYM_SLOW_LD, SYM_SLOW_ST = "tcgpy_env", "tcgpy_jmp_table", "tcgpy_slow_ld", "tcgpy_slow_st"
SYM_SLOW_CAS = "tcgpy_slow_cas"
SYM_EXIT, SYM_HELPER, SYM_FPLIB = "tcgpy_exit_", "tcgpy_helper_", "tcgpy_fplib_"


def runtime_symbol(rt: Runtime, sym: str, extra=None) -> int:
    """The address relocatable code's shared symbol ``sym`` stands for in
    ``rt``'s run (0: unknown, the code must not be loaded)."""
    if sym == SYM_ENV:
        return rt.env_addr
    if sym == SYM_JMP_TABLE:
        return rt.jmp_table
    if sym == SYM_SLOW_LD:
        return rt.slow_ld
    if sym == SYM_SLOW_ST:
        return rt.slow_st
    if sym == SYM_SLOW_CAS:
        return rt.slow_cas
    if sym.startswith(SYM_EXIT):
        return rt.exit_fns.get(int(sym[len(SYM_EXIT):]), 0) if sym[len(SYM_EXIT):].isdigit() else 0
    if sym.startswith(SYM_HELPER):
        i = sym[len(SYM_HELPER):]
        return rt.helpers[int(i)] if i.isdigit() and int(i) < len(rt.helpers) else 0
    if sym.startswith(SYM_FPLIB):
        from .lower_arm_fp import library_function_for
        return library_function_for(extra, rt)
    key = ACCESS_BY_NAME.get(sym)
    if key is not None:
        return rt.access_fns.get(key) or 0
    return 0


def _c(v: int) -> str:
    """An i64 constant as LLVM text (signed, as LLVM prints it)."""
    v &= MASK64
    return str(v - (1 << 64) if v >> 63 else v)


# The kinds of out-of-line access function, and the (memop, kind) pairs
# there is one for: the MemOps frontends use (a 64-bit load has no sign;
# pairs are never aligned); any other (random IR in the tests) is lowered
# inline.
LOAD, STORE, STORE_PAIR = "ld", "st", "st2"
ACCESS_KEYS = frozenset(
    [(MemOp.make(size, sign, align, tbi), kind)
     for size in range(4) for align in (False, True) for tbi in (False, True)
     for kind, sign in ((LOAD, False), (LOAD, True), (STORE, False))
     if not (sign and size == 3)]
    + [(MemOp.make(size, tbi=tbi), STORE_PAIR) for size in range(4) for tbi in (False, True)])


def access_fn_name(memop: int, kind: str) -> str:
    return f"tcgpy_{kind}_{memop}"


ACCESS_BY_NAME = {access_fn_name(*key): key for key in ACCESS_KEYS}


# Ops after which control does not fall through to the next op.
ENDS_FLOW = frozenset(op for op in Op if op.value.flags & F.BB_END) | {Op.br}


def closes_a_loop(blk) -> bool:
    """Whether ``blk`` jumps back (a counted loop edge, lower_goto_tb).  Such
    a block does not count its entries as well: that count would run out
    first, on the same pass, and make the block hot alone, after which its
    loop edge no longer counts and the loop around it never becomes one
    region (zstd's sequence decoder: its short blocks stayed first tier)."""
    last = blk.insn_pcs[-1] if blk.insn_pcs else blk.pc
    return any(i.op is Op.goto_tb and i.consts[0] <= last for i in blk.insns)


# First-tier blocks of at least this many instructions count their entries
# (loop_edge at the block's start); shorter ones would pay the count on too
# little work, and are promoted with the loops they lie in.
ENTRY_COUNT_MIN_INSNS = 8


# The indirect-jump table (TBCache.jmp_table): (pc, host function) pairs,
# a pc's entry in a window of JMP_WAYS from jmp_index(pc) (the table has
# JMP_WAYS - 1 entries past its mask for the last windows).  A window, not one
# entry: CPython's interpreter jumps to two functions 0xa0000 apart by turns
# from one call site, which one entry per index thrashed through the
# dispatcher 400,000 times a run.  The high bits are folded in for the same
# reason: code laid out a power of two apart would share every index.
JMP_WAYS = 4


def jmp_index(pc: int, mask: int) -> int:
    return ((pc >> 2) ^ (pc >> (2 + mask.bit_length()))) & mask


MODULE_TAIL = '!0 = !{!"branch_weights", i32 1, i32 1000}\n!1 = !{!"branch_weights", i32 1000, i32 1}\n'
