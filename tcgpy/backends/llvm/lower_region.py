"""Hot loops as one LLVM function.

Block-at-a-time code keeps guest registers in env between blocks and goes
from block to block through a jump slot, as QEMU's does.  A loop that keeps
running is worth more: its blocks are lowered into one function entered at
the loop header, where a jump to another block of the loop is a plain branch
and the guest registers (and the instruction budget) live in allocas that
LLVM's mem2reg turns into SSA values, so they stay in host registers around
the loop.  They are written back to env on every way out (a jump out of the
region, a fault, the budget, an exit request), which is when anything else
can look at them.  The function then goes through a short LLVM pipeline
(optimize below) before the hot tier's code generator.

Entries into the middle of the loop from elsewhere keep using the blocks'
own functions; only the header's entry runs the region.

The condition flags are the exception to "globals live in SSA values":
every flag-setting instruction writes all four, almost always to be read by
the branch right after it, yet as loop-carried values they would have to be
computed on every pass for the rare way out that needs them (a third of a
tight loop's host instructions).  In a region they are carried *lazily*, as
the inputs of their last computation (``kind`` naming the expression, up to
four ``leaves``); the expressions are evaluated only where the flags are
needed: on the way out (one shared function per region) and where a block
reads flags it did not set itself.
"""
from __future__ import annotations

import threading
from typing import Callable

from ...ir.core import Block, Insn, Kind, Temp
from ...ir.ops import Op
from .lower import LOWERERS, LoweredBlock, _FnLowering, block_fn_header
from .runtime import Runtime, _c

# The globals carried lazily in a region (when the architecture has them):
# the condition flags, each 0 or 1, all four set by every flag-setting
# instruction.
LAZY_GLOBALS = ("nf", "zf", "cf", "vf")
N_LEAVES = 4          # as many as there are lazy globals: kind 0 is "the values themselves"
MAX_TREE = 48         # IR ops in one kind's expressions (bigger ones are carried as values)
# Value ops whose results are recomputed from their inputs at will.
_PURE = frozenset({Op.add, Op.sub, Op.mul, Op.and_, Op.or_, Op.xor, Op.shl, Op.shr, Op.sar,
                   Op.andc, Op.neg, Op.not_, Op.ext8s, Op.ext8u, Op.ext16s, Op.ext16u,
                   Op.ext32s, Op.ext32u, Op.setcond, Op.movcond})


class _RegionLowering(_FnLowering):

    def __init__(self, blocks: list[Block], rt: Runtime, name: str, alloc_slot: Callable[[], int],
                 alloc_counter: Callable[[], int] | None = None):
        super().__init__(blocks[0], rt, name, alloc_slot, alloc_counter, hot=True)
        self.blocks = blocks
        self.index = {b.pc: i for i, b in enumerate(blocks)}
        self.bi = 0
        # env fields that live in allocas: every IR global the region names,
        # the instruction budget (when counted) and pc (written on the way out only)
        offs = {rt.offsets["icount_left"], rt.offsets["pc"]} if rt.icount else {rt.offsets["pc"]}
        written = set(offs)
        for b in blocks:
            for insn in b.insns:
                for t in insn.ins + insn.outs:
                    if t.is_global:
                        offs.add(t.offset)
                written.update(t.offset for t in insn.outs if t.is_global)
        lazy = [rt.offsets.get(n) for n in LAZY_GLOBALS]
        self.lazy = lazy if None not in lazy and set(lazy) <= offs else []
        self.lazy_set = set(self.lazy)
        offs -= self.lazy_set
        self.promoted = sorted(offs)
        self.promoted_set = set(offs)
        # Only what the region writes goes back to env on the way out: the
        # rest still holds the value it was read from.
        self.written = sorted(offs & written)
        self.lazy_written = bool(self.lazy_set & written)
        self.exprs: dict[str, tuple] = {}      # SSA name -> how it was computed (pure ops)
        self.sizes: dict[str, int] = {}        # SSA name -> ops in that expression
        # kind -> the lazy globals' expressions over leaves ("l", i); kind 0
        # is the identity (the leaves are the values)
        self.kinds: dict[tuple, int] = {tuple(("l", i) for i in range(N_LEAVES)): 0}
        self.reads: list[tuple[str, list[str]]] = []   # in-body evaluations, filled in last

    # -- env fields in allocas -------------------------------------------------------
    def env_ptr(self, offset: int) -> str:
        if offset in self.promoted_set:
            return f"%a{offset}"
        return super().env_ptr(offset)

    def _flush(self) -> None:
        """Write every promoted field the region writes back to env before leaving."""
        for off in self.written:
            v = self.tmp()
            self.emit(f"{v} = load i64, ptr %a{off}")
            self.emit(f"store i64 {v}, ptr {super().env_ptr(off)}")
        if not self.lazy_written:
            return
        if all(self._lazy_id(off) in self.vals for off in self.lazy):
            # set (or evaluated) since the last label: their values are at hand
            for off in self.lazy:
                self.emit(f"store i64 {self.vals[self._lazy_id(off)]}, ptr {super().env_ptr(off)}")
            return
        args = self._load_lazy()
        self.emit(f"call void @{self.name}_flags(ptr %env, {args})")

    # -- lazy globals -------------------------------------------------------------------
    def _load_lazy(self) -> str:
        """kind and leaves from their allocas, as call arguments."""
        names = []
        for a in ["%fk"] + [f"%fl{i}" for i in range(N_LEAVES)]:
            v = self.tmp()
            self.emit(f"{v} = load i64, ptr {a}")
            names.append(f"i64 {v}")
        return ", ".join(names)

    def get(self, t: Temp) -> str:
        if t.is_global and t.offset in self.lazy_set and id(t) not in self.vals:
            # read before this stretch of code set it: evaluate what the
            # allocas describe (filled in once every kind is known)
            n = len(self.reads)
            args = self._load_lazy()
            outs = [f"%fr{n}_{i}" for i in range(len(self.lazy))]
            self.lines.append(f"@@fr {n} {args}")
            self.reads.append((args, outs))
            for i, off in enumerate(self.lazy):
                self.vals[self._lazy_id(off)] = outs[i]
            return self.vals[id(t)]
        return super().get(t)

    def _lazy_id(self, off: int) -> int:
        return id(self.lazy_temps[off])

    def _find_lazy_temps(self, blk: Block) -> None:
        """This block's temps for the lazy globals (stand-ins for those it
        does not name: they are only read back through vals)."""
        self.lazy_temps = {}
        for insn in blk.insns:
            for t in insn.ins + insn.outs:
                if t.is_global and t.offset in self.lazy_set:
                    self.lazy_temps.setdefault(t.offset, t)
        for off in self.lazy:
            if off not in self.lazy_temps:
                self.lazy_temps[off] = Temp(Kind.GLOBAL, -1, offset=off)

    def _store_lazy(self, forget: bool) -> None:
        """The lazy globals written since the last store, as a kind and its
        leaves (the expressions' inputs) in the allocas."""
        dirty = [t for t in self.dirty.values() if t.offset in self.lazy_set]
        if not dirty:
            return
        for t in dirty:
            if forget:
                del self.dirty[id(t)]
        trees = []
        for off in self.lazy:
            t = self.lazy_temps[off]
            if id(t) not in self.vals:
                self.get(t)
            trees.append(self._tree(self.vals[id(t)]))
        leaves: list[str] = []

        def number(tree):
            if tree[0] == "l":
                if tree[1] not in leaves:
                    leaves.append(tree[1])
                return ("l", leaves.index(tree[1]))
            if tree[0] == "c":
                return tree
            return (tree[0], tree[1], tuple(number(k) for k in tree[2]))

        key = tuple(number(t) for t in trees)
        if len(leaves) > N_LEAVES or sum(self.sizes.get(self.vals[id(self.lazy_temps[o])], 0)
                                         for o in self.lazy) > MAX_TREE:
            key, leaves = next(iter(self.kinds)), [self.vals[id(self.lazy_temps[o])] for o in self.lazy]
        kind = self.kinds.setdefault(key, len(self.kinds))
        self.emit(f"store i64 {kind}, ptr %fk")
        for i, v in enumerate(leaves):
            self.emit(f"store i64 {v}, ptr %fl{i}")

    def _tree(self, value: str) -> tuple:
        if not value.startswith("%"):
            return ("c", int(value))
        return self.exprs.get(value, ("l", value))

    def sync_globals(self) -> None:
        if self.lazy:
            self._store_lazy(forget=True)
        super().sync_globals()

    def store_dirty_copy(self) -> None:
        if self.lazy:
            self._store_lazy(forget=False)
        lazy = {k: t for k, t in self.dirty.items() if t.offset in self.lazy_set}
        for k in lazy:
            del self.dirty[k]
        super().store_dirty_copy()
        self.dirty.update(lazy)

    def lower_insn(self, insn: Insn) -> None:
        """Lower one op: a jump to a block of the region is a branch, and
        pure ops remember how they computed their results."""
        if insn.op is Op.goto_tb and insn.consts[0] in self.index:
            self._goto_internal(insn.consts[0])
            return
        if insn.op in _PURE and self.lazy:
            ins = [None if t.is_const else self.get(t) for t in insn.ins]
            LOWERERS[insn.op](self, insn)
            out = self.vals.get(id(insn.outs[0]))
            # Sizes count shared subexpressions again, as walking them does:
            # a chain such as x = x + x stops being an expression at the cap.
            size = 1 + sum(self.sizes.get(v, 0) for v in ins if v is not None)
            if out is not None and out.startswith("%") and out not in self.exprs and size <= MAX_TREE:
                self.exprs[out] = (insn.op, insn.consts,
                                   tuple(("c", t.value) if v is None else self._tree(v)
                                         for t, v in zip(insn.ins, ins)))
                self.sizes[out] = size
            return
        LOWERERS[insn.op](self, insn)

    def _emit_kind(self, key: tuple, leaves: list[str]) -> list[str]:
        """Emit the lazy globals' values for ``key`` over ``leaves``."""
        memo: dict[tuple, str] = {}

        def value(tree) -> str:
            if tree[0] == "l":
                return leaves[tree[1]]
            if tree[0] == "c":
                return _c(tree[1])
            v = memo.get(tree)
            if v is None:
                op, consts, kids = tree
                ins = []
                for k in kids:
                    t = Temp(Kind.LOCAL, -1)
                    self.vals[id(t)] = value(k)
                    ins.append(t)
                out = Temp(Kind.LOCAL, -1)
                LOWERERS[op](self, Insn(op, (out,), tuple(ins), consts))
                v = memo[tree] = self.vals[id(out)]
                for t in ins + [out]:
                    del self.vals[id(t)]
            return v

        return [value(t) for t in key]

    def _evaluate(self, args: list[str], outs: list[str] | None) -> list[str]:
        """Code that selects the lazy globals' values by kind (``args``: the
        kind, then the leaves); with ``outs`` the results get those names."""
        kinds = sorted(self.kinds.items(), key=lambda kv: kv[1])
        results = [self._emit_kind(key, args[1:]) for key, _ in kinds]
        final = []
        for i in range(len(self.lazy)):
            v = results[0][i]
            for (key, kind), res in zip(kinds[1:], results[1:]):
                c, s = self.tmp(), self.tmp()
                self.emit(f"{c} = icmp eq i64 {args[0]}, {kind}")
                self.emit(f"{s} = select i1 {c}, i64 {res[i]}, i64 {v}")
                v = s
            final.append(v)
        if outs is not None:
            for o, v in zip(outs, final):
                self.emit(f"{o} = add i64 {v}, 0")
        return final

    def _flags_function(self) -> list[str]:
        """The shared way-out evaluation: the lazy globals' values for the
        kind (a switch: only that kind's expressions run) to env."""
        saved, self.lines = self.lines, []
        leaves = [f"%l{i}" for i in range(N_LEAVES)]
        cases = []
        for key, kind in self.kinds.items():
            self.lines.append(f"k{kind}:")
            for off, v in zip(self.lazy, self._emit_kind(key, leaves)):
                p = self.tmp()
                self.emit(f"{p} = getelementptr i8, ptr %env, i64 {off}")
                self.emit(f"store i64 {v}, ptr {p}")
            self.emit("ret void")
            cases.append(f"i64 {kind}, label %k{kind}")
        body, self.lines = self.lines, saved
        params = ", ".join(f"i64 {a}" for a in leaves)
        pick = f"  switch i64 %k, label %k0 [ {' '.join(cases[1:])} ]" if cases[1:] else "  br label %k0"
        return ([f"define internal void @{self.name}_flags(ptr noalias %env, i64 %k, {params}) noinline {{",
                 "entry:", pick] + body + ["}"])

    def _fill_reads(self, body: list[str]) -> list[str]:
        out = []
        for line in body:
            if line.startswith("@@fr "):
                n = int(line.split()[1])
                args, outs = self.reads[n]
                saved, self.lines = self.lines, []
                self._evaluate([a.split()[1] for a in args.split(", ")], outs)
                out += self.lines
                self.lines = saved
            else:
                out.append(line)
        return out

    def ret_exit(self, code: int) -> None:
        self._flush()
        super().ret_exit(code)

    def before_host_call(self) -> None:
        self._flush()

    def after_host_call(self) -> None:
        # what the host code wrote (a syscall's result) into the allocas,
        # which the next flush would otherwise write back over it
        for off in self.promoted:
            v = self.tmp()
            self.emit(f"{v} = load i64, ptr {super().env_ptr(off)}")
            self.emit(f"store i64 {v}, ptr %a{off}")
        super().after_host_call()

    def tail_call(self, fn: str) -> None:
        self._flush()
        super().tail_call(fn)

    def label(self, lid: int) -> str:
        return f"B{self.bi}L{lid}"

    # -- the region ---------------------------------------------------------------------
    def _cross_label_homes(self, blk: Block) -> None:
        written: set[int] = set()
        for insn in blk.insns:
            if insn.op is Op.set_label:
                written = set()
                continue
            for t in insn.ins:
                if t.is_local and id(t) not in written and id(t) not in self.homes:
                    self.homes[id(t)] = f"%home{self.bi}_{t.index}"
            for t in insn.outs:
                if t.is_local:
                    written.add(id(t))

    def fall_through(self, pc: int) -> None:
        if pc in self.index:
            self._goto_internal(pc)
        else:
            super().fall_through(pc)

    def _goto_internal(self, target: int) -> None:
        self.sync_globals()
        self.store_pc(_c(target))
        if target <= self.insn_pc:
            # exit requests only (pc is already set): the loop is hot
            self.loop_edge(count=False)
        self.emit(f"br label %R{self.index[target]}")

    def lower(self) -> LoweredBlock:
        head = [block_fn_header(self.name), "entry:"]
        body: list[str] = []
        self.lines = body
        for bi, blk in enumerate(self.blocks):
            self.bi = bi
            self.block = blk
            self.vals.clear()
            self.dirty.clear()
            if blk.n_labels:
                self._cross_label_homes(blk)
            if self.lazy:
                self._find_lazy_temps(blk)
            self.walk_block(blk, f"R{bi}")
        for home in self.homes.values():
            head.append(f"  {home} = alloca i64")
            head.append(f"  store i64 0, ptr {home}")
        for off in self.promoted:
            head.append(f"  %a{off} = alloca i64")
        head += [f"  %e{off} = getelementptr i8, ptr %env, i64 {off}"
                 for off in sorted(self.env_offsets | self.promoted_set | self.lazy_set)]
        for off in self.promoted:
            head.append(f"  %in{off} = load i64, ptr %e{off}")
            head.append(f"  store i64 %in{off}, ptr %a{off}")
        tail = ["}"]
        if self.lazy:
            head += ["  %fk = alloca i64", "  store i64 0, ptr %fk"]
            for i, off in enumerate(self.lazy):
                head += [f"  %fl{i} = alloca i64",
                         f"  %in{off} = load i64, ptr {super().env_ptr(off)}",
                         f"  store i64 %in{off}, ptr %fl{i}"]
            body = self._fill_reads(body)
            tail += self._flags_function()
        head.append("  br label %R0")
        return LoweredBlock(self.name, "\n".join(head + body + tail), self.slots, self.counters)


def region_possible(blocks: list[Block], rt: Runtime) -> bool:
    """Env accesses by offset (ld_env/st_env) must not touch an IR global,
    which would live in an alloca inside the region.  A loop that jumps
    indirectly (a call through a pointer, a switch table) is not made a
    region either: such a jump leaves the region, and its target comes back
    to the header through the region's entry, so every pass would pay for
    loading and writing back the registers (tcgpy bench's indirect loop ran
    at 0.8x the block-at-a-time code)."""
    glob: set[int] = set()
    raw: set[int] = set()
    for b in blocks:
        for insn in b.insns:
            if insn.op is Op.goto_ptr:
                return False
            for t in insn.ins + insn.outs:
                if t.is_global:
                    glob.add(t.offset)
            if insn.op in (Op.ld_env, Op.st_env):
                raw.add(insn.consts[0])
    return not (glob | {rt.offsets["icount_left"], rt.offsets["pc"]}) & raw


def lower_region(blocks: list[Block], rt: Runtime, name: str, alloc_slot: Callable[[], int],
                 alloc_counter: Callable[[], int] | None = None) -> LoweredBlock:
    """One function for ``blocks`` (the first is the entry, the loop header).
    Its ways out count with ``alloc_counter`` where they jump back or
    indirectly (the loop around this one, the function it calls)."""
    return _RegionLowering(blocks, rt, name, alloc_slot, alloc_counter).lower()


# -- LLVM's optimisation pipeline for region modules --------------------------------------

_opt_lock = threading.Lock()
_opt = None


def optimize(text: str) -> str:
    """``text`` after a short function pipeline: SROA (the allocas become SSA
    values), instcombine, simplifycfg, dead code.  LLVM's whole -O2 pipeline
    compiles three times slower for no measurable gain on these loops."""
    from .jit import _llvm
    llvm = _llvm()              # imported and initialised on first use
    global _opt
    with _opt_lock:
        if _opt is None:
            tm = llvm.Target.from_default_triple().create_target_machine(opt=2, codemodel="jitdefault")
            _opt = (tm, llvm.create_pipeline_tuning_options(speed_level=2))
        tm, pto = _opt
        mod = llvm.parse_assembly(text)
        pb = llvm.create_pass_builder(tm, pto)
        fpm = llvm.create_new_function_pass_manager()
        fpm.add_sroa_pass()
        fpm.add_instruction_combine_pass()
        fpm.add_simplify_cfg_pass()
        fpm.add_dead_code_elimination_pass()
        for fn in mod.functions:
            if not fn.is_declaration:
                fpm.run(fn, pb)
        return str(mod)
