"""The IR op table: one row per op, everything else (builder methods, verifier
arity checks, printer, coverage tests of the interpreter/folder/lowering) is
derived from it.  Modelled on QEMU's include/tcg/tcg-opc.h.

Every value in the IR is a 64-bit integer.  32-bit guest operations are
expressed with 64-bit ops followed by an explicit ``ext32u``/``ext32s``; LLVM
sees through that, and it keeps the op table (and every table keyed by it)
half the size of TCG's split _i32/_i64 tables.
"""
from __future__ import annotations

import enum

from ..cpustate import PAGE_SIZE
from ..record import record


class F(enum.IntFlag):
    """Op flags, in the spirit of TCG_OPF_*."""
    NONE = 0
    BB_END = enum.auto()        # ends the translation block (nothing may follow)
    BRANCH = enum.auto()        # transfers control to a label inside the block
    SIDE_EFFECTS = enum.auto()  # must not be removed even if outputs are dead
    MEMORY = enum.auto()        # guest memory access: may fault, observes all guest state
    CALL = enum.auto()          # calls a helper


@record(frozen=True)
class OpDef:
    name: str
    nout: int
    nin: int
    nconst: int
    flags: F = F.NONE

    @property
    def may_exit(self) -> bool:
        """Can control leave the block here with guest state observable?"""
        return bool(self.flags & (F.BB_END | F.MEMORY | F.CALL))


class Op(enum.Enum):
    #            name        out in const flags
    mov      = OpDef("mov",      1, 1, 0)
    # arithmetic / logic (shift counts are taken modulo 64)
    add      = OpDef("add",      1, 2, 0)
    sub      = OpDef("sub",      1, 2, 0)
    mul      = OpDef("mul",      1, 2, 0)
    and_     = OpDef("and",      1, 2, 0)
    or_      = OpDef("or",       1, 2, 0)
    xor      = OpDef("xor",      1, 2, 0)
    andc     = OpDef("andc",     1, 2, 0)   # a & ~b
    shl      = OpDef("shl",      1, 2, 0)
    shr      = OpDef("shr",      1, 2, 0)
    sar      = OpDef("sar",      1, 2, 0)
    rotr     = OpDef("rotr",     1, 2, 0)
    neg      = OpDef("neg",      1, 1, 0)
    not_     = OpDef("not",      1, 1, 0)
    muluh    = OpDef("muluh",    1, 2, 0)   # high 64 bits of the unsigned 128-bit product
    mulsh    = OpDef("mulsh",    1, 2, 0)   # high 64 bits of the signed 128-bit product
    # Division never traps; what x / 0 and INT64_MIN / -1 give is the
    # guest architecture's rule, so each rule is its own op.
    # Arm's (SDIV/UDIV): x / 0 == 0, INT64_MIN / -1 == INT64_MIN
    divu_arm = OpDef("divu_arm", 1, 2, 0)
    divs_arm = OpDef("divs_arm", 1, 2, 0)
    # RISC-V's (M extension): x / 0 is all ones, x % 0 == x,
    # INT64_MIN / -1 == INT64_MIN with remainder 0; remainders take the
    # dividend's sign (quotients truncate toward zero)
    divu_rv  = OpDef("divu_rv",  1, 2, 0)
    divs_rv  = OpDef("divs_rv",  1, 2, 0)
    remu_rv  = OpDef("remu_rv",  1, 2, 0)
    rems_rv  = OpDef("rems_rv",  1, 2, 0)
    # extensions from the low bits
    ext8s    = OpDef("ext8s",    1, 1, 0)
    ext8u    = OpDef("ext8u",    1, 1, 0)
    ext16s   = OpDef("ext16s",   1, 1, 0)
    ext16u   = OpDef("ext16u",   1, 1, 0)
    ext32s   = OpDef("ext32s",   1, 1, 0)
    ext32u   = OpDef("ext32u",   1, 1, 0)
    # bit operations
    clz      = OpDef("clz",      1, 1, 0)   # clz(0) == 64
    bitrev   = OpDef("bitrev",   1, 1, 0)
    bswap64  = OpDef("bswap64",  1, 1, 0)
    # comparisons: const is a Cond
    setcond  = OpDef("setcond",  1, 2, 1)   # d = (a cond b) ? 1 : 0
    movcond  = OpDef("movcond",  1, 4, 1)   # d = (c1 cond c2) ? v1 : v2
    # guest memory: const 0 is a MemOp
    ld       = OpDef("ld",       1, 1, 1, F.MEMORY | F.SIDE_EFFECTS)   # d = mem[a]
    st       = OpDef("st",       0, 2, 1, F.MEMORY | F.SIDE_EFFECTS)   # mem[a1] = a0
    # a pair: mem[a2] = a0, mem[a2 + size] = a1, in the order pair_upper_first says
    st2      = OpDef("st2",      0, 3, 1, F.MEMORY | F.SIDE_EFFECTS)
    # atomic compare-and-swap: d = mem[a0]; if d == a1 (at the access size)
    # then mem[a0] = a2.  Atomic for other host threads and processes too
    # (memory a fork or a MAP_SHARED mapping shares); needs write permission
    # even when the compare fails (as Arm's CAS and QEMU's cmpxchg do).
    cmpxchg  = OpDef("cmpxchg",  1, 3, 1, F.MEMORY | F.SIDE_EFFECTS)
    # raw env access for state that is not an IR global (vector registers,
    # internal fields): const 0 is the byte offset, const 1 a MemOp (size/sign).
    # Must not overlap an IR global's field (the verifier checks).
    ld_env   = OpDef("ld_env",   1, 0, 2)
    st_env   = OpDef("st_env",   0, 1, 2, F.SIDE_EFFECTS)
    # Arm's vector/FP/crypto operation on env bytes (QEMU's gvec), by Arm's
    # rules: the "arm_vec" semantics the AArch64 target declares
    # (tcgpy.ir.semantics).  consts (kind, dofs, aofs, bofs, esz, oprsz, imm)
    # with kind one of those semantics' VecOp; the input is a scalar operand
    # or the FP control word, the output a status word (cumulative exception
    # bits, compare flags).  Like ld_env/st_env it never touches IR globals.
    vec      = OpDef("vec",      1, 1, 7, F.SIDE_EFFECTS)
    # RISC-V F/D arithmetic by the RISC-V ISA manual's rules (canonical NaN
    # results, tininess after rounding, saturating conversions, NaN-boxed
    # singles): outputs the result and fcsr with the raised flags accrued;
    # inputs a, b, c (the addend of a fused multiply-add) and fcsr (whose frm
    # a dynamic rounding mode reads); const: the operation (op, format,
    # rounding mode, integer kind: tcgpy/ir/rvfp.py).
    # No side effects, but two outputs: not PURE, so passes keep it in place.
    rvfp     = OpDef("rvfp",     2, 4, 1)
    # helper call: const 0 is a helper id from tcgpy.ir.helpers
    call     = OpDef("call",     1, 3, 1, F.CALL | F.SIDE_EFFECTS)
    # instrumentation (tcgpy/hooks.py), inserted only where a hook or counter
    # covers the code.  hook: consts (kind, guest pc, size, instructions left
    # in the block from here); sets env pc to the guest pc, calls the
    # emulator's Python hooks of that kind, and leaves the block (Exit.BUDGET,
    # at whatever pc they left) when they asked to stop or moved the pc.  It
    # may change any global: the passes forget what they knew of them there.
    hook       = OpDef("hook",       0, 0, 4, F.CALL | F.SIDE_EFFECTS)
    # host memory, at fixed addresses the instrumentation owns: the u64 at
    # const 0 += a0 (QEMU plugins' inline add) ...
    count      = OpDef("count",      0, 1, 1, F.SIDE_EFFECTS)
    # ... and a ring buffer at const 0 (u64 entries written, then const 1 + 1
    # u64 entries): entry[written & const 1] = const 2, written += 1
    trace      = OpDef("trace",      0, 0, 3, F.SIDE_EFFECTS)
    # control flow inside the block
    insn_start = OpDef("insn_start", 0, 0, 1, F.SIDE_EFFECTS)         # const: guest pc
    set_label  = OpDef("set_label",  0, 0, 1, F.SIDE_EFFECTS)         # const: label id
    br         = OpDef("br",         0, 0, 1, F.BRANCH | F.SIDE_EFFECTS)
    brcond     = OpDef("brcond",     0, 2, 2, F.BRANCH | F.SIDE_EFFECTS)  # consts: cond, label
    # block exits
    goto_tb    = OpDef("goto_tb",    0, 0, 1, F.BB_END | F.SIDE_EFFECTS)  # const: guest pc, chained
    goto_ptr   = OpDef("goto_ptr",   0, 1, 0, F.BB_END | F.SIDE_EFFECTS)  # indirect: pc = a
    exit_tb    = OpDef("exit_tb",    0, 1, 1, F.BB_END | F.SIDE_EFFECTS)  # pc = a, return const code

    @property
    def d(self) -> OpDef:
        return self.value

    def __repr__(self) -> str:
        return f"Op.{self.value.name}"

    # Members are singletons: the identity hash is correct and, unlike Enum's
    # Python-level __hash__, costs nothing on the per-op dispatch paths of the
    # translator, the passes and the lowering.
    __hash__ = object.__hash__


class Cond(enum.IntEnum):
    """Comparison conditions for setcond/movcond/brcond (TCGCond)."""
    eq = 0
    ne = 1
    lt = 2
    ge = 3
    le = 4
    gt = 5
    ltu = 6
    geu = 7
    leu = 8
    gtu = 9
    always = 10
    never = 11


class MemOp:
    """Constant argument of ld/st: log2 size in the low bits, then modifiers.
    Plain ints rather than an IntFlag: every load and store of every block
    tests these bits while it is translated, lowered or interpreted, and an
    IntFlag makes each ``&`` build an enum member."""
    SIZE_MASK = 0x3
    SIGN = 0x4        # sign-extend loads
    ALIGN = 0x8       # fault unless naturally aligned (exclusives, atomics)
    TBI = 0x10        # top byte ignored: the access uses tbi_address(addr)

    @staticmethod
    def make(size_log2: int, sign: bool = False, align: bool = False, tbi: bool = False) -> int:
        return (size_log2 | (MemOp.SIGN if sign else 0) | (MemOp.ALIGN if align else 0)
                | (MemOp.TBI if tbi else 0))


def pair_upper_first(addr: int, size: int) -> bool:
    """Does st2 store its upper element first?  The lower element goes first,
    as QEMU and hardware order the accesses, so the lowest faulting address is
    the one reported -- except when the pair crosses a page with its lower
    element wholly in the first page: then the upper one goes first, so that
    overrunning the end of a mapping (the common direction) faults before
    anything is written.  What remains imprecise: with the lower page bad and
    the upper one good, the upper element is written (the architecture does
    not order the accesses of one instruction)."""
    return (addr + 2 * size - 1) & (PAGE_SIZE - 1) < size


def tbi_address(addr: int) -> int:
    """The address an access with MemOp.TBI uses: bit 55 copied over bits
    63:56, so a pointer with a tag in its top byte reaches the memory of the
    untagged one and an upper-half address stays an upper-half one.  A
    target's Linux ABI says whether user space has it (LinuxArch.tbi), the
    frontend which accesses carry the flag.  Carried by the MemOp rather
    than computed in the IR: the backend applies it inside its out-of-line
    access functions, which keeps two instructions per access out of every
    block's code."""
    addr &= MASK64
    return addr | (0xFF << 56) if addr >> 55 & 1 else addr & ((1 << 56) - 1)


def memop_size(memop: int) -> int:
    return 1 << (memop & MemOp.SIZE_MASK)


class Exit(enum.IntEnum):
    """Why host code returned to the dispatcher (value returned by a block)."""
    MISS = 0       # pc holds the next guest pc; no chained host code for it yet
    BUDGET = 1     # instruction budget exhausted or exit requested, pc not executed
    SYSCALL = 2    # pc points after the syscall instruction
    FAULT = 3      # memory fault: env fault_* fields describe it, pc is the insn
    ILLEGAL = 4    # undefined instruction at pc
    TRAP = 5       # breakpoint-style trap (brk), pc is the insn
    HALT = 6       # guest asked to stop (hlt), pc is the insn
    HOT = 7        # at a counted loop edge to pc: its counter ran out, or an exit was requested
    SYNC = 8       # instruction-cache invalidation (ic ivau): translated code of the page at
                   # env exit_info goes; pc is the next insn


# env exit_request when set: above any hotness count, so a counted loop edge
# checks both with one compare (lower.loop_edge).
EXIT_REQUESTED = 1 << 62


COND_FUNCS = {
    Cond.eq: lambda a, b, sa, sb: a == b,
    Cond.ne: lambda a, b, sa, sb: a != b,
    Cond.lt: lambda a, b, sa, sb: sa < sb,
    Cond.ge: lambda a, b, sa, sb: sa >= sb,
    Cond.le: lambda a, b, sa, sb: sa <= sb,
    Cond.gt: lambda a, b, sa, sb: sa > sb,
    Cond.ltu: lambda a, b, sa, sb: a < b,
    Cond.geu: lambda a, b, sa, sb: a >= b,
    Cond.leu: lambda a, b, sa, sb: a <= b,
    Cond.gtu: lambda a, b, sa, sb: a > b,
    Cond.always: lambda a, b, sa, sb: True,
    Cond.never: lambda a, b, sa, sb: False,
}

MASK64 = (1 << 64) - 1


def to_signed(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def eval_cond(cond: Cond, a: int, b: int) -> bool:
    """Evaluate a Cond on two unsigned 64-bit values (shared by interpreter and folder)."""
    return COND_FUNCS[cond](a, b, to_signed(a), to_signed(b))     # an int finds its Cond key
