"""Lowering of IR blocks to LLVM IR text.

Each IR op has one ``@lowers(Op.x)`` function below that turns already
lowered operands into LLVM instructions; the block-level code around it does
what TCG's register allocator does for globals: a global is loaded from env
the first time it is read, kept in an SSA value, and stored back only where
guest state becomes observable (block exits, the fault path of a memory
access, and before labels/branches where control merges).  Text is generated
directly rather than through llvmlite.ir because translation cost is on the
hot path of a dynamic translator and string formatting is several times
cheaper than building an in-memory IR in Python.
"""
from __future__ import annotations

import re
from ...record import factory, record
from typing import Callable

from ...ir.core import Block, Insn, Temp
from ...ir.ops import Cond, Exit, MemOp, Op
from . import access_groups
from .access import (cmpxchg_fast, host_ptr, pair_upper_first, store_fast, store_pair_fast, tlb_lookup,
                     untag, value_fast)
from .runtime import (CC, ENDS_FLOW, ENTRY_COUNT_MIN_INSNS, JMP_WAYS, closes_a_loop, LOAD, MODULE_TAIL, STORE, STORE_PAIR,
                      SYM_ENV, SYM_EXIT, SYM_JMP_TABLE,
                      SYM_SLOW_CAS, SYM_SLOW_LD, SYM_SLOW_ST, Runtime, _c)

LOWERERS: dict[Op, Callable] = {}



def lowers(*ops: Op):
    def register(fn):
        for op in ops:
            LOWERERS[op] = fn
        return fn
    return register


ICMP = {
    Cond.eq: "eq", Cond.ne: "ne", Cond.lt: "slt", Cond.ge: "sge", Cond.le: "sle",
    Cond.gt: "sgt", Cond.ltu: "ult", Cond.geu: "uge", Cond.leu: "ule", Cond.gtu: "ugt",
}

INTRINSIC_DECLS = """\
declare i64 @llvm.ctlz.i64(i64, i1)
declare i64 @llvm.bitreverse.i64(i64)
declare i64 @llvm.bswap.i64(i64)
declare i64 @llvm.fshr.i64(i64, i64, i64)
"""


@record
class LoweredBlock:
    name: str
    text: str
    slots: list[tuple[int, int]] = factory(list)   # (slot index, target pc)
    counters: list[int] = factory(list)            # hotness counters it uses




class _FnLowering:
    """State while lowering one block into one LLVM function."""

    def __init__(self, block: Block, rt: Runtime, name: str, alloc_slot: Callable[[], int],
                 alloc_counter: Callable[[], int] | None = None, hot: bool = False):
        self.alloc_counter = alloc_counter
        self.counters: list[int] = []
        self.hot = hot
        self.block = block
        self.rt = rt
        self.name = name
        self.alloc_slot = alloc_slot
        self.lines: list[str] = []
        self.n = 0
        self.vals: dict[int, str] = {}     # id(temp) -> SSA name currently holding it
        self.dirty: dict[int, Temp] = {}   # globals written since the last sync
        self.homes: dict[int, str] = {}    # locals that live across labels -> alloca
        self.bools: dict[str, str] = {}    # SSA name of a setcond's 0/1 -> its i1
        self.insn_pc = block.pc
        self.slots: list[tuple[int, int]] = []
        self.label_names: dict[int, str] = {}
        self.tail_edges: list[tuple[str, str]] = []   # (function value, predecessor block)
        self.env_offsets: set[int] = set()
        self.current_bb = "entry"
        self.tag = ""                      # prefix of this block's fixed names in a batch
        self.groups: dict[int, access_groups.Member] = {}   # hot code: id(access insn) -> its group

    def tmp(self) -> str:
        self.n += 1
        return f"%t{self.n}"

    def emit(self, line: str) -> None:
        self.lines.append("  " + line)

    def env_ptr(self, offset: int) -> str:
        """Pointer to an env field.

        LLVM's compile time grows with the instruction count, and env sits at
        a fixed address for the emulator's lifetime: first-tier code names
        fields by absolute address (a constant, no instruction; about 17%
        cheaper to compile).  Hot-tier code addresses them from the env
        argument (shorter machine code), with one getelementptr per field
        hoisted to the entry block."""
        if not self.hot and not self.rt.tag:
            return self.rt.ref(SYM_ENV, self.rt.env_addr, offset)
        # (relocatable code too: a relocation per field reference would
        # cost every load of it from the persistent cache)
        self.env_offsets.add(offset)
        return f"%e{offset}"

    # -- temps -----------------------------------------------------------------
    def get(self, t: Temp) -> str:
        if t.is_const:
            return _c(t.value)
        v = self.vals.get(id(t))
        if v is not None:
            return v
        v = self.tmp()
        if t.is_global:
            self.emit(f"{v} = load i64, ptr {self.env_ptr(t.offset)}")
        else:
            home = self.homes.get(id(t))
            if home is None:
                # A local read before any write: the verifier forbids it, but
                # random blocks may still do it; define it as zero.
                return "0"
            self.emit(f"{v} = load i64, ptr {home}")
        self.vals[id(t)] = v
        return v

    def set(self, t: Temp, value: str) -> None:
        self.vals[id(t)] = value
        if t.is_global:
            self.dirty[id(t)] = t
        elif id(t) in self.homes:
            self.emit(f"store i64 {value}, ptr {self.homes[id(t)]}")

    def sync_globals(self) -> None:
        """Store dirty globals to env (they stay cached and valid)."""
        for t in self.dirty.values():
            self.emit(f"store i64 {self.vals[id(t)]}, ptr {self.env_ptr(t.offset)}")
        self.dirty.clear()

    def store_dirty_copy(self) -> None:
        """Store dirty globals on a side path (fault exit) without forgetting them."""
        for t in self.dirty.values():
            self.emit(f"store i64 {self.vals[id(t)]}, ptr {self.env_ptr(t.offset)}")

    def label(self, lid: int) -> str:
        name = self.label_names.get(lid)
        if name is None:
            name = self.label_names[lid] = f"{self.tag}L{lid}"
        return name

    def new_bb(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def start_bb(self, name: str) -> None:
        self.lines.append(f"{name}:")
        self.current_bb = name

    def tail_call(self, fn: str) -> None:
        """Leave for ``fn`` through the function's single tail-call block.

        FastISel cannot select a musttail call and hands the whole basic
        block holding one to SelectionDAG, several times slower to compile;
        funnelling every exit into one small shared block keeps that cost to
        a few instructions per function.  Hot-tier code keeps one indirect
        jump per exit instead: separate jump sites predict better, and there
        compile time matters less."""
        if self.hot:
            r = self.tmp()
            self.emit(f"{r} = musttail call {CC} i32 {fn}(ptr %env)")
            self.emit(f"ret i32 {r}")
            return
        self.tail_edges.append((fn, self.current_bb))
        self.emit("br label %tail")

    def loop_edge(self, exit_pc: int | None = None, count: bool = True) -> None:
        """Checks on a loop-closing edge (a backward direct jump or an
        indirect jump), with pc already holding the target (or, given
        ``exit_pc``, stored on the exit path only: a block's entry).  Every cycle of
        guest code passes through one, so two things need doing only here,
        not on every block entry:

        * an exit request (timeout, host signal) leaves; code without such an
          edge runs forward and reaches the dispatcher or an edge within a
          bounded number of blocks anyway;
        * first-tier code counts passes; at zero it leaves with Exit.HOT and
          the counter's index in env ``exit_info``, to be recompiled.

        Both are one compare where the edge counts: env ``exit_request`` is
        EXIT_REQUESTED (far above any count) when set, so "counter <= request"
        catches either, and the dispatcher tells them apart.  (Two checks cost
        the first tier a sixth of its LLVM code: an edge in almost every block.)
        """
        idx = -1 if self.alloc_counter is None or not count else self.alloc_counter()
        er = self.tmp()
        self.emit(f"{er} = load i64, ptr {self.env_ptr(self.rt.offsets['exit_request'])}")
        stop_bb, go_bb = self.new_bb("request"), self.new_bb("go")
        test = self.tmp()
        if idx < 0:
            self.emit(f"{test} = icmp ne i64 {er}, 0")
        else:
            self.counters.append(idx)
            c, c1 = self.tmp(), self.tmp()
            addr = self.rt.counter_ref(idx)
            self.emit(f"{c} = load i64, ptr {addr}")
            self.emit(f"{c1} = sub i64 {c}, 1")
            self.emit(f"store i64 {c1}, ptr {addr}")
            self.emit(f"{test} = icmp sle i64 {c1}, {er}")
        self.emit(f"br i1 {test}, label %{stop_bb}, label %{go_bb}, !prof !0")
        self.start_bb(stop_bb)
        if exit_pc is not None:
            self.store_pc(_c(exit_pc))      # only on the way out: not on every pass
        if idx < 0:
            self.ret_exit(Exit.BUDGET)
        else:
            # the counter's address tells the dispatcher which edge it was
            self.emit(f"store i64 ptrtoint (ptr {self.rt.counter_ref(idx)} to i64), "
                      f"ptr {self.env_ptr(self.rt.offsets['exit_info'])}")
            self.ret_exit(Exit.HOT)
        self.start_bb(go_bb)

    def store_pc(self, value: str) -> None:
        self.emit(f"store i64 {value}, ptr {self.env_ptr(self.rt.offsets['pc'])}")

    def ret_exit(self, code: int) -> None:
        """Return ``code`` to the dispatcher.

        FastISel cannot lower a return in the preserve_none convention, so
        every basic block ending in one goes through SelectionDAG, many times
        slower to compile.  First-tier code leaves instead by tail-calling a
        stub that returns the code, through its single tail-call block."""
        if self.hot or not self.rt.exit_fns:
            self.emit(f"ret i32 {int(code)}")
            return
        self.tail_call(self.rt.ref(f"{SYM_EXIT}{int(code)}", self.rt.exit_fns[int(code)]))

    # -- the block ---------------------------------------------------------------
    def find_cross_label_locals(self) -> None:
        """Locals read in a region (between labels) where they were not written
        before get a stack home; everything else stays in SSA values."""
        written: set[int] = set()
        for insn in self.block.insns:
            if insn.op is Op.set_label:
                written = set()
                continue
            for t in insn.ins:
                if t.is_local and id(t) not in written and id(t) not in self.homes:
                    self.homes[id(t)] = f"%{self.tag}home{t.index}"
            for t in insn.outs:
                if t.is_local:
                    written.add(id(t))

    def lower_body(self, entry_bb: str) -> list[str]:
        """The block's code as basic blocks, the first named ``entry_bb``;
        allocas for ``homes`` are the caller's to place in the entry block."""
        blk = self.block
        if blk.n_labels:
            self.find_cross_label_locals()
        self.lines = []
        self.walk_block(blk, entry_bb)
        return self.lines

    def walk_block(self, blk: Block, entry_bb: str) -> None:
        """Append ``blk``'s code to ``lines``, from a new basic block
        ``entry_bb``: the instruction budget, then every op (through
        lower_insn), then the fall-through exit (fall_through)."""
        # Instruction budget at block entry (QEMU's icount decrement), for
        # exact counts; exit requests are checked on loop edges (loop_edge).
        self.start_bb(entry_bb)
        if (self.alloc_counter is not None and not self.hot and blk.guest_insns >= ENTRY_COUNT_MIN_INSNS
                and not closes_a_loop(blk)):
            # First tier: count entries too, so that a hot block is recompiled
            # optimised wherever the loop around it runs -- through a call
            # and a return, say, which no counted loop edge spans (a hash
            # function's straight-line body called once per input block).
            # Before the instruction budget: leaving here runs nothing.
            self.sync_globals()
            self.loop_edge(exit_pc=blk.pc)
        if self.rt.icount:
            ic = self.rt.offsets["icount_left"]
            n, n2, neg = self.tmp(), self.tmp(), self.tmp()
            budget_bb, body_bb = self.new_bb("budget"), self.new_bb("body")
            self.emit(f"{n} = load i64, ptr {self.env_ptr(ic)}")
            self.emit(f"{n2} = sub i64 {n}, {blk.guest_insns}")
            self.emit(f"{neg} = icmp slt i64 {n2}, 0")
            self.emit(f"br i1 {neg}, label %{budget_bb}, label %{body_bb}, !prof !0")
            self.start_bb(budget_bb)
            self.store_pc(_c(blk.pc))
            self.ret_exit(Exit.BUDGET)
            self.start_bb(body_bb)
            self.emit(f"store i64 {n2}, ptr {self.env_ptr(ic)}")
        self.insn_pc = blk.pc
        self.groups = access_groups.plan(blk) if self.hot else {}
        terminated = False
        for insn in blk.insns:
            op = insn.op
            if op is Op.set_label:
                if not terminated:
                    self.sync_globals()
                    self.emit(f"br label %{self.label(insn.consts[0])}")
                self.vals.clear()
                self.dirty.clear()
                self.start_bb(self.label(insn.consts[0]))
                terminated = False
                continue
            if terminated:
                continue      # unreachable code after a block end (verifier forbids it)
            self.lower_insn(insn)
            if op in ENDS_FLOW:
                terminated = True
        if not terminated:
            self.fall_through(blk.pc + blk.guest_size)

    def lower_insn(self, insn: Insn) -> None:
        LOWERERS[insn.op](self, insn)

    def before_host_call(self) -> None:
        """Make env hold the guest state before host code reads it (the
        globals are synced already: nothing to do here; a region keeps more)."""

    def after_host_call(self) -> None:
        """Host code may have written guest registers in env: forget the
        values cached from before."""
        for t in self.block.globals.values():
            self.vals.pop(id(t), None)

    def fall_through(self, pc: int) -> None:
        """Leave for the next guest block at ``pc``, through the dispatcher."""
        self.sync_globals()
        self.store_pc(_c(pc))
        self.ret_exit(Exit.MISS)

    def allocas(self) -> list[str]:
        out = []
        for home in self.homes.values():
            out.append(f"  {home} = alloca i64")
            out.append(f"  store i64 0, ptr {home}")
        return out

    def lower(self) -> LoweredBlock:
        body = self.lower_body("entry")
        geps = [f"  %e{off} = getelementptr i8, ptr %env, i64 {off}" for off in sorted(self.env_offsets)]
        lines = ([block_fn_header(self.name), body[0]] + geps
                 + self.allocas() + body[1:] + _tail_block(self.tail_edges) + ["}"])
        return LoweredBlock(self.name, "\n".join(lines), self.slots, self.counters)


def block_fn_header(name: str) -> str:
    """The first line of a translated block's function.  ``nounwind``: no
    exception unwinds through translated code (a guest fault leaves by
    longjmp), so LLVM emits no unwind tables for it and MCJIT registers none."""
    return f"define {CC} i32 @{name}(ptr noalias %env) nounwind {{"


def _tail_block(edges: list[tuple[str, str]]) -> list[str]:
    if not edges:
        return []
    phi = ", ".join(f"[ {fn}, %{bb} ]" for fn, bb in edges)
    return ["tail:", f"  %tailfn = phi ptr {phi}",
            f"  %tailr = musttail call {CC} i32 %tailfn(ptr %env)", "  ret i32 %tailr"]


def _search_tree(cases: list[tuple[int, str]]) -> list[str]:
    """Branch to the case whose pc equals %pc (else to %stray) by binary
    search, as compares and branches: FastISel cannot select a switch, and
    SelectionDAG lowering one costs more than all its cases' blocks."""
    cases = sorted(cases)
    out: list[str] = []
    n = [0]

    def node(lo: int, hi: int) -> str:
        n[0] += 1
        name = f"s{n[0]}"
        if hi - lo == 1:
            pc, target = cases[lo]
            out.extend([f"{name}:", f"  %{name}c = icmp eq i64 %pc, {_c(pc)}",
                        f"  br i1 %{name}c, label %{target}, label %stray"])
            return name
        mid = (lo + hi) // 2
        at = len(out)
        out.extend([None, None, None])
        left, right = node(lo, mid), node(mid, hi)
        out[at:at + 3] = [f"{name}:", f"  %{name}c = icmp ult i64 %pc, {_c(cases[mid][0])}",
                          f"  br i1 %{name}c, label %{left}, label %{right}"]
        return name

    node(0, len(cases))
    return ["  br label %s1"] + out


@record
class LoweredBatch:
    """First-tier blocks compiled as one function that finds the entered
    block's code from env ``pc``."""
    name: str
    text: str
    parts: list[LoweredBlock]      # per block: its slots and counters (name unused)


def lower_batch(blocks: list[Block], rt: Runtime, name: str, alloc_slot: Callable[[], int],
                alloc_counter: Callable[[], int] | None = None) -> LoweredBatch:
    """Lower first-tier ``blocks`` (distinct pcs) into one function.

    Most of LLVM's compile time for a small block is per function (a
    hundred-odd codegen passes, each with its pass-manager bookkeeping, and
    SelectionDAG runs for the preserve_none argument and tail call), not per
    instruction.  Every way into a block (the dispatcher, a chained jump,
    an indirect jump) has just stored its pc to env, so one function per
    batch can switch on it; each block keeps its own budget check, exits and
    jump slots, exactly as when compiled alone."""
    pc_off = rt.offsets["pc"]
    parts, lines, cases, allocas, tail_edges = [], [], [], [], []
    env_offsets: set[int] = set()
    n = 0
    for i, block in enumerate(blocks):
        fl = _FnLowering(block, rt, name, alloc_slot, alloc_counter)
        fl.tag = f"b{i}"
        fl.n = n
        lines += fl.lower_body(f"b{i}")
        n = fl.n
        cases.append((block.pc, f"b{i}"))
        allocas += fl.allocas()
        tail_edges += fl.tail_edges
        env_offsets |= fl.env_offsets
        parts.append(LoweredBlock(name, "", fl.slots, fl.counters))
    stray = _FnLowering(blocks[0], rt, name, alloc_slot)
    stray.n = n
    stray.current_bb = "stray"
    stray.ret_exit(Exit.MISS)             # not reachable: pc is always one of the cases
    tail_edges += stray.tail_edges
    pc_ptr = stray.env_ptr(pc_off)
    env_offsets |= stray.env_offsets
    geps = [f"  %e{off} = getelementptr i8, ptr %env, i64 {off}" for off in sorted(env_offsets)]
    head = [block_fn_header(name), "entry:"] + geps + allocas + [
        f"  %pc = load i64, ptr {pc_ptr}"] + _search_tree(cases) + ["stray:"] + stray.lines
    text = "\n".join(head + lines + _tail_block(tail_edges) + ["}"])
    return LoweredBatch(name, text, parts)


# --- value ops ------------------------------------------------------------------

def _binop(llop: str):
    def lower(fl: _FnLowering, insn: Insn) -> None:
        a, b = fl.get(insn.ins[0]), fl.get(insn.ins[1])
        d = fl.tmp()
        fl.emit(f"{d} = {llop} i64 {a}, {b}")
        fl.set(insn.outs[0], d)
    return lower


for _op, _ll in ((Op.add, "add"), (Op.sub, "sub"), (Op.mul, "mul"), (Op.and_, "and"),
                 (Op.or_, "or"), (Op.xor, "xor")):
    LOWERERS[_op] = _binop(_ll)


@lowers(Op.shl, Op.shr, Op.sar)
def lower_shift(fl, insn):
    llop = {Op.shl: "shl", Op.shr: "lshr", Op.sar: "ashr"}[insn.op]
    a = fl.get(insn.ins[0])
    b = insn.ins[1]
    # LLVM shifts by >= 64 are poison; the IR defines counts modulo 64.
    if b.is_const:
        amt = str(b.value & 63)
    else:
        amt = fl.tmp()
        fl.emit(f"{amt} = and i64 {fl.get(b)}, 63")
    d = fl.tmp()
    fl.emit(f"{d} = {llop} i64 {a}, {amt}")
    fl.set(insn.outs[0], d)


@lowers(Op.rotr)
def lower_rotr(fl, insn):
    a, b = fl.get(insn.ins[0]), fl.get(insn.ins[1])
    d = fl.tmp()
    fl.emit(f"{d} = call i64 @llvm.fshr.i64(i64 {a}, i64 {a}, i64 {b})")
    fl.set(insn.outs[0], d)


@lowers(Op.andc)
def lower_andc(fl, insn):
    a, b = fl.get(insn.ins[0]), fl.get(insn.ins[1])
    nb, d = fl.tmp(), fl.tmp()
    fl.emit(f"{nb} = xor i64 {b}, -1")
    fl.emit(f"{d} = and i64 {a}, {nb}")
    fl.set(insn.outs[0], d)


@lowers(Op.mov)
def lower_mov(fl, insn):
    fl.set(insn.outs[0], fl.get(insn.ins[0]))


@lowers(Op.neg)
def lower_neg(fl, insn):
    d = fl.tmp()
    fl.emit(f"{d} = sub i64 0, {fl.get(insn.ins[0])}")
    fl.set(insn.outs[0], d)


@lowers(Op.not_)
def lower_not(fl, insn):
    d = fl.tmp()
    fl.emit(f"{d} = xor i64 {fl.get(insn.ins[0])}, -1")
    fl.set(insn.outs[0], d)


@lowers(Op.muluh, Op.mulsh)
def lower_mulh(fl, insn):
    ext = "zext" if insn.op is Op.muluh else "sext"
    a, b = fl.get(insn.ins[0]), fl.get(insn.ins[1])
    wa, wb, p, h, d = (fl.tmp() for _ in range(5))
    fl.emit(f"{wa} = {ext} i64 {a} to i128")
    fl.emit(f"{wb} = {ext} i64 {b} to i128")
    fl.emit(f"{p} = mul i128 {wa}, {wb}")
    fl.emit(f"{h} = lshr i128 {p}, 64")
    fl.emit(f"{d} = trunc i128 {h} to i64")
    fl.set(insn.outs[0], d)


# Division: (LLVM instruction, signed, the result for a zero divisor: a
# constant or "a", the dividend).  LLVM's x / 0 and INT64_MIN / -1 are
# undefined behaviour, so both divide by 1 instead and the zero case is
# selected after; INT64_MIN / 1 is INT64_MIN and INT64_MIN % 1 is 0, which
# is what every rule here gives for the overflow.
_DIVISION = {Op.divu_arm: ("udiv", False, "0"), Op.divs_arm: ("sdiv", True, "0"),
             Op.divu_rv: ("udiv", False, "-1"), Op.divs_rv: ("sdiv", True, "-1"),
             Op.remu_rv: ("urem", False, "a"), Op.rems_rv: ("srem", True, "a")}


@lowers(*_DIVISION)
def lower_division(fl, insn):
    llop, signed, by_zero = _DIVISION[insn.op]
    a, b = fl.get(insn.ins[0]), fl.get(insn.ins[1])
    z, sb, q, d = fl.tmp(), fl.tmp(), fl.tmp(), fl.tmp()
    fl.emit(f"{z} = icmp eq i64 {b}, 0")
    bad = z
    if signed:
        m, n1, ov, bad = fl.tmp(), fl.tmp(), fl.tmp(), fl.tmp()
        fl.emit(f"{m} = icmp eq i64 {a}, -9223372036854775808")
        fl.emit(f"{n1} = icmp eq i64 {b}, -1")
        fl.emit(f"{ov} = and i1 {m}, {n1}")
        fl.emit(f"{bad} = or i1 {z}, {ov}")
    fl.emit(f"{sb} = select i1 {bad}, i64 1, i64 {b}")
    fl.emit(f"{q} = {llop} i64 {a}, {sb}")
    fl.emit(f"{d} = select i1 {z}, i64 {a if by_zero == 'a' else by_zero}, i64 {q}")
    fl.set(insn.outs[0], d)


_EXT = {Op.ext8s: ("i8", "sext"), Op.ext8u: ("i8", "zext"), Op.ext16s: ("i16", "sext"),
        Op.ext16u: ("i16", "zext"), Op.ext32s: ("i32", "sext"), Op.ext32u: ("i32", "zext")}


@lowers(*_EXT)
def lower_ext(fl, insn):
    ty, ext = _EXT[insn.op]
    t, d = fl.tmp(), fl.tmp()
    fl.emit(f"{t} = trunc i64 {fl.get(insn.ins[0])} to {ty}")
    fl.emit(f"{d} = {ext} {ty} {t} to i64")
    fl.set(insn.outs[0], d)


@lowers(Op.clz, Op.bitrev, Op.bswap64)
def lower_bitop(fl, insn):
    a = fl.get(insn.ins[0])
    d = fl.tmp()
    if insn.op is Op.clz:
        fl.emit(f"{d} = call i64 @llvm.ctlz.i64(i64 {a}, i1 false)")
    elif insn.op is Op.bitrev:
        fl.emit(f"{d} = call i64 @llvm.bitreverse.i64(i64 {a})")
    else:
        fl.emit(f"{d} = call i64 @llvm.bswap.i64(i64 {a})")
    fl.set(insn.outs[0], d)


def _icmp(fl, cond: Cond, a: str, b: str) -> str:
    c = fl.tmp()
    if cond is Cond.always or cond == Cond.always:
        fl.emit(f"{c} = icmp eq i64 0, 0")
    elif cond == Cond.never:
        fl.emit(f"{c} = icmp ne i64 0, 0")
    else:
        fl.emit(f"{c} = icmp {ICMP[Cond(cond)]} i64 {a}, {b}")
    return c


@lowers(Op.setcond)
def lower_setcond(fl, insn):
    c = _icmp(fl, insn.consts[0], fl.get(insn.ins[0]), fl.get(insn.ins[1]))
    d = fl.tmp()
    fl.emit(f"{d} = zext i1 {c} to i64")
    fl.bools[d] = c
    fl.set(insn.outs[0], d)


@lowers(Op.movcond)
def lower_movcond(fl, insn):
    c1, c2, v1, v2 = (fl.get(t) for t in insn.ins)
    c = _icmp(fl, insn.consts[0], c1, c2)
    d = fl.tmp()
    fl.emit(f"{d} = select i1 {c}, i64 {v1}, i64 {v2}")
    fl.set(insn.outs[0], d)


# --- guest memory: inline TLB hit path, Python slow path ----------------------

def _fault_check(fl, ok_bb: str) -> None:
    """After a slow-path call: leave the block precisely if it reported a fault."""
    exc = fl.tmp()
    fl.emit(f"{exc} = load i64, ptr {fl.env_ptr(fl.rt.offsets['exception'])}")
    bad = fl.tmp()
    fl.emit(f"{bad} = icmp ne i64 {exc}, 0")
    fault_bb = fl.new_bb("fault")
    fl.emit(f"br i1 {bad}, label %{fault_bb}, label %{ok_bb}, !prof !0")
    fl.start_bb(fault_bb)
    fl.store_dirty_copy()
    fl.store_pc(_c(fl.insn_pc))
    fl.ret_exit(Exit.FAULT)


def _guest_access(fl, memop: int, addr: str, write: bool, fast, slow):
    """The shape every guest access shares: the inline TLB compare, the hit
    path ``fast(host_ptr)`` and the slow-path call ``slow()`` with its fault
    exit.  Returns the hit path's and the slow path's results (or None) with
    the blocks they come from, for the caller's phi."""
    hit, entp = tlb_lookup(fl, addr, memop, write=write)
    hit_bb, miss_bb, cont_bb = fl.new_bb("hit"), fl.new_bb("miss"), fl.new_bb("cont")
    fl.emit(f"br i1 {hit}, label %{hit_bb}, label %{miss_bb}, !prof !1")
    fl.start_bb(hit_bb)
    fast_val = fast(host_ptr(fl, addr, entp))
    fl.emit(f"br label %{cont_bb}")
    fl.start_bb(miss_bb)
    slow_val = slow()
    _fault_check(fl, cont_bb)
    fl.start_bb(cont_bb)
    return (fast_val, hit_bb), (slow_val, miss_bb)


def _call_access(fl, fn: int, addr: str, *vals: str) -> str | None:
    """First tier: call the shared out-of-line access function (TLB compare,
    hit path, slow path) for a load (no ``vals``; returns its value) or a
    store of ``vals``.  An inline access is about 25 LLVM instructions in
    four basic blocks with its fault exit, and memory accesses are most of a
    typical block's code: a call is far cheaper to compile and costs little
    at run time.  A fault leaves through env ``jmp_buf`` (see jit.enter) with
    pc set from the last argument, so guest state is written back first,
    as QEMU does before an access that may fault."""
    fl.sync_globals()
    pc = _c(fl.insn_pc)
    args = "".join(f", i64 {v}" for v in vals)
    if not vals:
        d = fl.tmp()
        fl.emit(f"{d} = call i64 {fn}(ptr %env, i64 {addr}, i64 {pc})")
        return d
    fl.emit(f"call void {fn}(ptr %env, i64 {addr}{args}, i64 {pc})")
    return None


@lowers(Op.ld)
def lower_ld(fl, insn):
    memop = insn.consts[0]
    addr = fl.get(insn.ins[0])
    fn = None if fl.hot else fl.rt.access_ref((memop, LOAD))
    if fn is not None:
        fl.set(insn.outs[0], _call_access(fl, fn, addr))
        return

    def full():
        a = untag(fl, addr, memop)

        def slow():
            v = fl.tmp()
            fl.emit(f"{v} = call i64 {fl.rt.ref(SYM_SLOW_LD, fl.rt.slow_ld)}(ptr %env, i64 {a}, i64 {memop})")
            return v

        (fv, fbb), (sv, sbb) = _guest_access(fl, memop, a, False,
                                             lambda hp: value_fast(fl, hp, memop), slow)
        d = fl.tmp()
        fl.emit(f"{d} = phi i64 [ {fv}, %{fbb} ], [ {sv}, %{sbb} ]")
        return d

    fl.set(insn.outs[0], _grouped(fl, insn, lambda hp: value_fast(fl, hp, memop), full))


def _grouped(fl, insn, fast, full):
    """An access of a group (access_groups) takes ``fast(host pointer)``
    where its group's check passed, ``full()`` (its own TLB compare) where
    not; any other access just ``full()``.  Returns the value, for loads."""
    m = fl.groups.get(id(insn))
    if m is None:
        return full()
    g = m.group
    if m.first:
        access_groups.emit_check(fl, g)
    fast_bb, full_bb, join_bb = fl.new_bb("gfast"), fl.new_bb("gfull"), fl.new_bb("gjoin")
    fl.emit(f"br i1 {g.ok}, label %{fast_bb}, label %{full_bb}, !prof !1")
    fl.start_bb(fast_bb)
    v1 = fast(access_groups.member_ptr(fl, m))
    fl.emit(f"br label %{join_bb}")
    fl.start_bb(full_bb)
    v2 = full()
    from_bb = fl.current_bb
    fl.emit(f"br label %{join_bb}")
    fl.start_bb(join_bb)
    if v1 is None:
        return None
    d = fl.tmp()
    fl.emit(f"{d} = phi i64 [ {v1}, %{fast_bb} ], [ {v2}, %{from_bb} ]")
    return d


@lowers(Op.st)
def lower_st(fl, insn):
    memop = insn.consts[0]
    val = fl.get(insn.ins[0])
    addr = fl.get(insn.ins[1])
    fn = None if fl.hot else fl.rt.access_ref((memop, STORE))
    if fn is not None:
        _call_access(fl, fn, addr, val)
        return
    _grouped(fl, insn, lambda hp: store_fast(fl, hp, val, memop),
             lambda: _inline_store(fl, memop, untag(fl, addr, memop), val))


def _inline_store(fl, memop: int, addr: str, val: str) -> None:
    def slow():
        fl.emit(f"call void {fl.rt.ref(SYM_SLOW_ST, fl.rt.slow_st)}"
                f"(ptr %env, i64 {addr}, i64 {val}, i64 {memop})")

    _guest_access(fl, memop, addr, True, lambda hp: store_fast(fl, hp, val, memop), slow)


@lowers(Op.cmpxchg)
def lower_cmpxchg(fl, insn):
    memop = insn.consts[0]
    addr, expected, new = (fl.get(t) for t in insn.ins)
    a = untag(fl, addr, memop)

    def slow():
        v = fl.tmp()
        fl.emit(f"{v} = call i64 {fl.rt.ref(SYM_SLOW_CAS, fl.rt.slow_cas)}"
                f"(ptr %env, i64 {a}, i64 {expected}, i64 {new}, i64 {memop})")
        return v

    (fv, fbb), (sv, sbb) = _guest_access(fl, memop, a, True,
                                         lambda hp: cmpxchg_fast(fl, hp, expected, new, memop), slow)
    d = fl.tmp()
    fl.emit(f"{d} = phi i64 [ {fv}, %{fbb} ], [ {sv}, %{sbb} ]")
    fl.set(insn.outs[0], d)


@lowers(Op.st2)
def lower_st2(fl, insn):
    memop = insn.consts[0]
    lo, hi = fl.get(insn.ins[0]), fl.get(insn.ins[1])
    addr = fl.get(insn.ins[2])
    fn = None if fl.hot else fl.rt.access_ref((memop, STORE_PAIR))
    if fn is not None:
        _call_access(fl, fn, addr, lo, hi)
        return
    size = 1 << (memop & MemOp.SIZE_MASK)

    def full():
        # inline (the hot tier): the two stores in pair_upper_first's order
        a = untag(fl, addr, memop)
        up = pair_upper_first(fl, a, size)
        upper = fl.tmp()
        fl.emit(f"{upper} = add i64 {a}, {size}")
        picks = []
        for if_up, otherwise in ((upper, a), (hi, lo), (a, upper), (lo, hi)):
            v = fl.tmp()
            fl.emit(f"{v} = select i1 {up}, i64 {if_up}, i64 {otherwise}")
            picks.append(v)
        _inline_store(fl, memop, picks[0], picks[1])
        _inline_store(fl, memop, picks[2], picks[3])

    _grouped(fl, insn, lambda hp: store_pair_fast(fl, hp, lo, hi, memop), full)


@lowers(Op.ld_env)
def lower_ld_env(fl, insn):
    off, memop = insn.consts
    size_log2 = memop & MemOp.SIZE_MASK
    ty = f"i{8 << size_log2}"
    raw = fl.tmp()
    fl.emit(f"{raw} = load {ty}, ptr {fl.env_ptr(off)}, align 1")
    if size_log2 == 3:
        d = raw
    else:
        d = fl.tmp()
        fl.emit(f"{d} = {'sext' if memop & MemOp.SIGN else 'zext'} {ty} {raw} to i64")
    fl.set(insn.outs[0], d)


@lowers(Op.st_env)
def lower_st_env(fl, insn):
    off, memop = insn.consts
    size_log2 = memop & MemOp.SIZE_MASK
    ty = f"i{8 << size_log2}"
    v = fl.get(insn.ins[0])
    if size_log2 != 3:
        t = fl.tmp()
        fl.emit(f"{t} = trunc i64 {v} to {ty}")
        v = t
    fl.emit(f"store {ty} {v}, ptr {fl.env_ptr(off)}, align 1")


@lowers(Op.call)
def lower_call(fl, insn):
    a, b, c = (fl.get(t) for t in insn.ins)
    d = fl.tmp()
    fl.emit(f"{d} = call i64 {fl.rt.helper_ref(insn.consts[0])}(i64 {a}, i64 {b}, i64 {c})")
    fl.set(insn.outs[0], d)


# --- instrumentation (tcgpy/hooks.py) --------------------------------------------
# Instrumented code is never relocatable (never stored in the persistent
# cache): it names the hook function and its counters by address.

@lowers(Op.hook)
def lower_hook(fl, insn):
    kind, pc, size, left = insn.consts
    fl.sync_globals()
    fl.store_pc(_c(pc))
    r, stop = fl.tmp(), fl.tmp()
    fl.emit(f"{r} = call i64 inttoptr (i64 {fl.rt.hook_fn} to ptr)(ptr %env, i64 {kind}, i64 {_c(pc)}, i64 {size})")
    fl.emit(f"{stop} = icmp ne i64 {r}, 0")
    stop_bb, go_bb = fl.new_bb("hookstop"), fl.new_bb("hookgo")
    fl.emit(f"br i1 {stop}, label %{stop_bb}, label %{go_bb}, !prof !0")
    fl.start_bb(stop_bb)
    if fl.rt.icount:
        # the instructions from here on were charged at the block's entry
        ic, n, n2 = fl.env_ptr(fl.rt.offsets["icount_left"]), fl.tmp(), fl.tmp()
        fl.emit(f"{n} = load i64, ptr {ic}")
        fl.emit(f"{n2} = add i64 {n}, {left}")
        fl.emit(f"store i64 {n2}, ptr {ic}")
    fl.ret_exit(Exit.BUDGET)        # at the pc the hooks left in env
    fl.start_bb(go_bb)
    # the hooks may have written any register: read them again
    for t in fl.block.globals.values():
        fl.vals.pop(id(t), None)


@lowers(Op.count)
def lower_count(fl, insn):
    n = fl.get(insn.ins[0])
    p, c, c1 = f"inttoptr (i64 {insn.consts[0]} to ptr)", fl.tmp(), fl.tmp()
    fl.emit(f"{c} = load i64, ptr {p}")
    fl.emit(f"{c1} = add i64 {c}, {n}")
    fl.emit(f"store i64 {c1}, ptr {p}")


@lowers(Op.trace)
def lower_trace(fl, insn):
    ring, mask, value = insn.consts
    p = f"inttoptr (i64 {ring} to ptr)"
    w, i, o, a, e, w1 = (fl.tmp() for _ in range(6))
    fl.emit(f"{w} = load i64, ptr {p}")
    fl.emit(f"{i} = and i64 {w}, {mask}")
    fl.emit(f"{o} = shl i64 {i}, 3")
    fl.emit(f"{a} = add i64 {o}, {ring + 8}")
    fl.emit(f"{e} = inttoptr i64 {a} to ptr")
    fl.emit(f"store i64 {_c(value)}, ptr {e}")
    fl.emit(f"{w1} = add i64 {w}, 1")
    fl.emit(f"store i64 {w1}, ptr {p}")


# --- control flow ---------------------------------------------------------------

@lowers(Op.insn_start)
def lower_insn_start(fl, insn):
    fl.insn_pc = insn.consts[0]


@lowers(Op.br)
def lower_br(fl, insn):
    fl.sync_globals()
    fl.emit(f"br label %{fl.label(insn.consts[0])}")


@lowers(Op.brcond)
def lower_brcond(fl, insn):
    cond, lid = insn.consts
    a, b = fl.get(insn.ins[0]), fl.get(insn.ins[1])
    taken = fl.label(lid)
    nxt = fl.new_bb("fall")
    if a in fl.bools and (cond, b) in _BOOL_TESTS:
        # a branch on a setcond's result (a flag, cbz) branches on its i1
        c = fl.bools[a]
        targets = (taken, nxt) if _BOOL_TESTS[cond, b] else (nxt, taken)
    else:
        c = _icmp(fl, cond, a, b)
        targets = (taken, nxt)
    fl.sync_globals()
    fl.emit(f"br i1 {c}, label %{targets[0]}, label %{targets[1]}")
    fl.start_bb(nxt)


# (cond, constant) -> whether brcond(cond, x, constant) is taken when x is 1, for x in {0, 1}
_BOOL_TESTS = {(Cond.ne, "0"): True, (Cond.eq, "1"): True, (Cond.eq, "0"): False, (Cond.ne, "1"): False}


@lowers(Op.goto_tb)
def lower_goto_tb(fl, insn):
    target = insn.consts[0]
    slot = fl.alloc_slot()
    fl.slots.append((slot, target))
    fl.sync_globals()
    fl.store_pc(_c(target))
    if target <= fl.insn_pc:
        # Hot code counts these too: a loop around hot code (an inner loop,
        # or a block that turned hot by its entry count) turns hot through
        # them (zstd's sequence decoder, a cycle of 25 blocks, stayed
        # first tier around its hot inner part).
        fl.loop_edge()
    f = fl.tmp()
    fl.emit(f"{f} = load ptr, ptr {fl.rt.slot_ref(slot)}")
    fl.tail_call(f)


@lowers(Op.goto_ptr)
def lower_goto_ptr(fl, insn):
    rt = fl.rt
    target = fl.get(insn.ins[0])
    fl.sync_globals()
    fl.store_pc(target)
    # Counted in hot code too: a function reached from hot code through a
    # PLT stub, a pointer or a return turns hot through this edge alone
    # (sort's memcmp, called from a hot loop by way of its PLT stub, stayed
    # first tier and took a third of the run).
    fl.loop_edge()
    h, hh, x, i, o, ep = (fl.tmp() for _ in range(6))
    fl.emit(f"{h} = lshr i64 {target}, 2")
    fl.emit(f"{hh} = lshr i64 {target}, {2 + rt.jmp_table_mask.bit_length()}")
    fl.emit(f"{x} = xor i64 {h}, {hh}")
    fl.emit(f"{i} = and i64 {x}, {rt.jmp_table_mask}")
    fl.emit(f"{o} = shl i64 {i}, 4")
    fl.emit(f"{ep} = getelementptr i8, ptr {rt.ref(SYM_JMP_TABLE, rt.jmp_table)}, i64 {o}")
    for way in range(JMP_WAYS):
        wp, epc, hit, fp, f = (fl.tmp() for _ in range(5))
        fl.emit(f"{wp} = getelementptr i8, ptr {ep}, i64 {16 * way}")
        fl.emit(f"{epc} = load i64, ptr {wp}")
        fl.emit(f"{hit} = icmp eq i64 {epc}, {target}")
        hit_bb, miss_bb = fl.new_bb("jhit"), fl.new_bb("jmiss")
        fl.emit(f"br i1 {hit}, label %{hit_bb}, label %{miss_bb}, !prof !1")
        fl.start_bb(hit_bb)
        fl.emit(f"{fp} = getelementptr i8, ptr {wp}, i64 8")
        fl.emit(f"{f} = load ptr, ptr {fp}")
        fl.tail_call(f)
        fl.start_bb(miss_bb)
    fl.ret_exit(Exit.MISS)


@lowers(Op.exit_tb)
def lower_exit_tb(fl, insn):
    pc = fl.get(insn.ins[0])
    fl.sync_globals()
    fl.store_pc(pc)
    code = insn.consts[0]
    if code == Exit.SYSCALL and insn.ins[0].is_const and fl.rt.syscall_fn_offset:
        host_syscall(fl, insn.ins[0].value)
    fl.ret_exit(code)


def host_syscall(fl, next_pc: int) -> None:
    """Offer the syscall to host code first: env ``syscall_fn`` when it is
    not 0 (backends/llvm/syscall.py; 0 while the Linux layer wants every
    syscall in Python).  When that served it, the guest goes on at
    ``next_pc`` as after a direct jump, chained through a jump slot: no
    dispatcher.  Else the exit returns to the dispatcher as it always did.
    The host function sees the guest registers in env."""
    fp, on, r, done = (fl.tmp() for _ in range(4))
    fl.emit(f"{fp} = load ptr, ptr {fl.env_ptr(fl.rt.syscall_fn_offset)}")
    fl.emit(f"{on} = icmp ne ptr {fp}, null")
    call_bb, served_bb, exit_bb = fl.new_bb("sys"), fl.new_bb("served"), fl.new_bb("sysexit")
    fl.emit(f"br i1 {on}, label %{call_bb}, label %{exit_bb}")
    fl.start_bb(call_bb)
    fl.before_host_call()
    fl.emit(f"{r} = call i64 {fp}(ptr %env)")
    fl.emit(f"{done} = icmp ne i64 {r}, 0")
    fl.emit(f"br i1 {done}, label %{served_bb}, label %{exit_bb}, !prof !1")
    fl.start_bb(served_bb)
    fl.after_host_call()
    # A host signal that came during the call (the watcher thread set
    # exit_request) is delivered now, as Linux delivers it on the way back
    # from the syscall; a loop of reads would take it at its next edge anyway.
    fl.loop_edge(count=False)
    fl.lower_insn(Insn(Op.goto_tb, consts=(next_pc,)))
    fl.start_bb(exit_bb)


@lowers(Op.set_label)
def lower_set_label(fl, insn):   # handled by _FnLowering.lower (control merges)
    raise AssertionError("set_label is lowered by the block walker")


def lower_block(block: Block, rt: Runtime, name: str, alloc_slot: Callable[[], int],
                alloc_counter: Callable[[], int] | None = None, hot: bool = False) -> LoweredBlock:
    """Lower one block.  ``alloc_counter`` (returning an index, or -1 when
    none is left) enables hotness counting on loop-closing edges; ``hot``
    lowers for the optimising tier."""
    return _FnLowering(block, rt, name, alloc_slot, alloc_counter, hot).lower()


# Text a module carries only when its code names it, by name: intrinsics'
# declarations (every declaration costs parsing, verification and an
# intrinsic-attribute lookup in each module: with all of them declared, about
# a fifth of a small module's compile time), and the out-of-line functions and
# constant tables of the vec lowering (``@tcgpy_mod_*``, internal to each
# module that uses them, so relocatable code needs no symbol for them).
ON_DEMAND: dict[str, str] = {}
_NAMED = re.compile(r"@((?:llvm\.|tcgpy_mod_)[\w.]+)")


def on_demand(text: str) -> None:
    """Register the declarations and definitions in ``text`` by the name
    each starts with: ``declare`` and ``@name = ...`` lines, ``define``
    bodies up to their closing ``}`` line."""
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip():
            continue
        item = [line]
        if line.startswith("define"):
            for more in lines:
                item.append(more)
                if more == "}":
                    break
        name = _NAMED.search(line) or re.search(r"@([\w.]+)", line)
        ON_DEMAND[name.group(1)] = "\n".join(item) + "\n"


def _on_demand_text(body: str) -> str:
    """What ``body`` names from ON_DEMAND, and what that names in turn."""
    if "@llvm." not in body and "@tcgpy_mod_" not in body:
        return ""
    seen: dict[str, str] = {}
    todo = [body]
    while todo:
        for name in set(_NAMED.findall(todo.pop())):
            if name not in seen:
                seen[name] = ON_DEMAND.get(name, "")
                todo.append(seen[name])
    return "".join(seen.values())


def module_text(funcs: list[LoweredBlock], extra: str = "") -> str:
    body = "\n".join(f.text for f in funcs)
    return _on_demand_text(body) + extra + body + "\n" + MODULE_TAIL


# The target lowerings register with this module as they load, whichever of
# them was imported first (each imports this module before using it; the
# vec lowering's helpers register their own declarations; lower_arm_fp
# imports nothing of this module, so it is complete here).
from . import lower_arm_vec  # noqa: E402,F401  (registers the vec op's lowering)
from . import lower_rvfp  # noqa: E402,F401  (registers the rvfp op's lowering)
from .lower_arm_fp import DECLS as FP_DECLS  # noqa: E402

on_demand(INTRINSIC_DECLS + FP_DECLS)
