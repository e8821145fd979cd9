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
"""
from __future__ import annotations

import threading
from typing import Callable

from ...ir.core import Block
from ...ir.ops import Exit, Op
from .lower import _ENDS_FLOW, CC, LOWERERS, LoweredBlock, Runtime, _c, _FnLowering


class _RegionLowering(_FnLowering):

    def __init__(self, blocks: list[Block], rt: Runtime, name: str, alloc_slot: Callable[[], int]):
        super().__init__(blocks[0], rt, name, alloc_slot, None, hot=True)
        self.blocks = blocks
        self.index = {b.pc: i for i, b in enumerate(blocks)}
        self.bi = 0
        # env fields that live in allocas: every IR global the region names,
        # the instruction budget and pc (written on the way out only)
        offs = {rt.offsets["icount_left"], rt.offsets["pc"]}
        for b in blocks:
            for insn in b.insns:
                for t in insn.ins + insn.outs:
                    if t.is_global:
                        offs.add(t.offset)
        self.promoted = sorted(offs)
        self.promoted_set = set(offs)

    # -- env fields in allocas -------------------------------------------------------
    def env_ptr(self, offset: int) -> str:
        if offset in self.promoted_set:
            return f"%a{offset}"
        return super().env_ptr(offset)

    def _flush(self) -> None:
        """Write every promoted field back to env before leaving."""
        for off in self.promoted:
            v = self.tmp()
            self.emit(f"{v} = load i64, ptr %a{off}")
            self.emit(f"store i64 {v}, ptr {super().env_ptr(off)}")

    def ret_exit(self, code: int) -> None:
        self._flush()
        super().ret_exit(code)

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

    def _goto_internal(self, target: int) -> None:
        self.sync_globals()
        self.store_pc(_c(target))
        if target <= self.insn_pc:
            self.loop_edge()            # exit requests; pc is already set
        self.emit(f"br label %R{self.index[target]}")

    def lower(self) -> LoweredBlock:
        rt = self.rt
        head = [f"define {CC} i32 @{self.name}(ptr noalias %env) {{", "entry:"]
        body: list[str] = []
        self.lines = body
        for bi, blk in enumerate(self.blocks):
            self.bi = bi
            self.block = blk
            self.vals.clear()
            self.dirty.clear()
            if blk.n_labels:
                self._cross_label_homes(blk)
            self.start_bb(f"R{bi}")
            ic = rt.offsets["icount_left"]
            n = self.tmp()
            self.emit(f"{n} = load i64, ptr %a{ic}")
            n2, neg = self.tmp(), self.tmp()
            self.emit(f"{n2} = sub i64 {n}, {blk.guest_insns}")
            self.emit(f"{neg} = icmp slt i64 {n2}, 0")
            budget, go = self.new_bb("budget"), self.new_bb("body")
            self.emit(f"br i1 {neg}, label %{budget}, label %{go}, !prof !0")
            self.start_bb(budget)
            self.store_pc(_c(blk.pc))
            self.ret_exit(Exit.BUDGET)
            self.start_bb(go)
            self.emit(f"store i64 {n2}, ptr %a{ic}")
            self.insn_pc = blk.pc
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
                    continue
                if op is Op.goto_tb and insn.consts[0] in self.index:
                    self._goto_internal(insn.consts[0])
                else:
                    LOWERERS[op](self, insn)
                if op in _ENDS_FLOW:
                    terminated = True
            if not terminated:
                nxt = blk.pc + blk.guest_size
                if nxt in self.index:
                    self._goto_internal(nxt)
                else:
                    self.sync_globals()
                    self.store_pc(_c(nxt))
                    self.ret_exit(Exit.MISS)
        for home in self.homes.values():
            head.append(f"  {home} = alloca i64")
            head.append(f"  store i64 0, ptr {home}")
        for off in self.promoted:
            head.append(f"  %a{off} = alloca i64")
        head += [f"  %e{off} = getelementptr i8, ptr %env, i64 {off}"
                 for off in sorted(self.env_offsets | self.promoted_set)]
        for off in self.promoted:
            head.append(f"  %in{off} = load i64, ptr %e{off}")
            head.append(f"  store i64 %in{off}, ptr %a{off}")
        head.append("  br label %R0")
        return LoweredBlock(self.name, "\n".join(head + body + ["}"]), self.slots, [])


def region_possible(blocks: list[Block], rt: Runtime) -> bool:
    """Env accesses by offset (ld_env/st_env) must not touch an IR global,
    which would live in an alloca inside the region."""
    glob: set[int] = set()
    raw: set[int] = set()
    for b in blocks:
        for insn in b.insns:
            for t in insn.ins + insn.outs:
                if t.is_global:
                    glob.add(t.offset)
            if insn.op in (Op.ld_env, Op.st_env):
                raw.add(insn.consts[0])
    return not (glob | {rt.offsets["icount_left"], rt.offsets["pc"]}) & raw


def lower_region(blocks: list[Block], rt: Runtime, name: str,
                 alloc_slot: Callable[[], int]) -> LoweredBlock:
    """One function for ``blocks`` (the first is the entry, the loop header)."""
    return _RegionLowering(blocks, rt, name, alloc_slot).lower()


# -- LLVM's optimisation pipeline for region modules --------------------------------------

_opt_lock = threading.Lock()
_opt = None


def optimize(text: str) -> str:
    """``text`` after a short function pipeline: SROA (the allocas become SSA
    values), instcombine, simplifycfg, dead code.  LLVM's whole -O2 pipeline
    compiles three times slower for no measurable gain on these loops."""
    import llvmlite.binding as llvm
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
