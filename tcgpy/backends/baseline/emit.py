"""IR to x86-64 machine code, one op at a time, as TCG does: the baseline tier.

Every IR local lives in a stack slot and every global in env, so each op
loads its inputs into scratch registers, computes and stores its output:
no register allocation, no liveness, a few bytes per op, and guest state
is in env at every instruction (a fault anywhere is precise with nothing
to write back).  The code follows the first tier's conventions
(backends/llvm/runtime.py), so the two chain into each other freely:

* a block is entered with env in r12 (LLVM's ``preserve_none``: blocks
  tail-call each other; Python enters through a trampoline) and may
  clobber every other register but rbp and rsp;
* it leaves by jumping through a jump slot (a direct jump, patched by
  TBCache when its target exists), through the indirect-jump table (an
  indirect one), or by returning an Exit code with env ``pc`` set;
* a loop-closing edge counts down a hotness counter and checks env
  ``exit_request`` (lower._FnLowering.loop_edge), so that hot loops are
  promoted to the LLVM hot tier and a running loop can be stopped;
* a guest access compares the softmmu TLB inline and calls the slow path
  (``slow_ld(env, addr, memop)``, ``slow_st(env, addr, value, memop)``,
  through a cell holding the current one: the Python slow path until the
  native refill exists) on a miss, leaving with Exit.FAULT when it
  reported a fault.

``emit`` returns None for a block with an op it does not handle (vector,
FP and atomic ops, instrumentation): that block stays in the cold tier's
interpreter and goes to LLVM as before.
"""
from __future__ import annotations

import functools
import operator

from ...cpustate import PAGE_BITS, PAGE_SIZE, TLB_ENTRY_SIZE, TLB_SIZE
from ...ir.core import Kind
from ...ir.ops import Cond, Exit, MemOp, Op
from ..llvm.runtime import ENDS_FLOW, ENTRY_COUNT_MIN_INSNS, JMP_WAYS, closes_a_loop
from . import x86
from .x86 import (R8, R12, R13, R14, R15, RAX, RBX, RCX, RDI, RDX, RSI, RSP, alu, alu_imm, load, mov,
                  mov_imm, store)

_LOCAL, _CONST = Kind.LOCAL, Kind.CONST
_ENTRY_SHIFT = TLB_ENTRY_SIZE.bit_length() - 1
assert 1 << _ENTRY_SHIFT == TLB_ENTRY_SIZE

_CC = {Cond.eq: x86.CC_E, Cond.ne: x86.CC_NE, Cond.lt: x86.CC_L, Cond.ge: x86.CC_GE,
       Cond.le: x86.CC_LE, Cond.gt: x86.CC_G, Cond.ltu: x86.CC_B, Cond.geu: x86.CC_AE,
       Cond.leu: x86.CC_BE, Cond.gtu: x86.CC_A}

_ALU = {Op.add: x86.ADD, Op.sub: x86.SUB, Op.and_: x86.AND, Op.or_: x86.OR, Op.xor: x86.XOR}
_SHIFT = {Op.shl: x86.SHL, Op.shr: x86.SHR, Op.sar: x86.SAR, Op.rotr: x86.ROR}
_EXT = {Op.ext8s: (8, True), Op.ext16s: (16, True), Op.ext32s: (32, True),
        Op.ext8u: (8, False), Op.ext16u: (16, False), Op.ext32u: (32, False)}
# What x / 0, x / -1 give for each division op: (signed, remainder, result of
# a zero divisor: "ones", "zero" or "dividend")
_DIV = {Op.divu_arm: (False, False, "zero"), Op.divs_arm: (True, False, "zero"),
        Op.divu_rv: (False, False, "ones"), Op.divs_rv: (True, False, "ones"),
        Op.remu_rv: (False, True, "dividend"), Op.rems_rv: (True, True, "dividend")}


class Context:
    """What code refers to, fixed for a TBCache's lifetime."""

    def __init__(self, offsets: dict, tlb_offset: int, slow_cells: int, jmp_table: int,
                 jmp_mask: int, slot_address, counter_address, alloc_slot, alloc_counter, helpers):
        self.pc = offsets["pc"]
        self.exception = offsets["exception"]
        self.exit_request = offsets["exit_request"]
        self.exit_info = offsets["exit_info"]
        self.tlb = tlb_offset
        self.slow_ld, self.slow_st = slow_cells, slow_cells + 8
        self.jmp_table, self.jmp_mask = jmp_table, jmp_mask
        self.slot_address, self.counter_address = slot_address, counter_address
        self.alloc_slot, self.alloc_counter = alloc_slot, alloc_counter
        self.helpers = helpers


class _Emitter:
    def __init__(self, block, ctx: Context):
        self.block = block
        self.ctx = ctx
        self.code = bytearray()
        n = block.n_locals
        self.frame = 8 * (n | 1)         # rsp is 8 past a 16-byte boundary at entry
        self.labels: dict[int, int] = {}
        self.fixups: list[tuple[int, int]] = []     # (rel32 position, label)
        self.pc = block.pc
        self.slots: list[tuple[int, int]] = []
        self.counters: list[int] = []

    # -- operands ------------------------------------------------------------------
    def get(self, reg: int, t) -> None:
        k = t.kind
        if k is _LOCAL:
            tab = _LOAD_LOCAL[reg]
            i = t.index
            self.code += tab[i] if i < len(tab) else _grow(tab, load, reg, i)
        elif k is _CONST:
            self.code += mov_imm(reg, t.value)
        else:
            self.code += load(reg, R12, t.offset)

    def put(self, t, reg: int) -> None:
        if t.kind is _LOCAL:
            tab = _STORE_LOCAL[reg]
            i = t.index
            self.code += tab[i] if i < len(tab) else _grow(tab, store, reg, i)
        else:
            self.code += store(reg, R12, t.offset)

    # -- control -------------------------------------------------------------------
    def jcc_label(self, cc: int, label: int) -> None:
        self.code += x86.jcc_rel32(cc)
        self.fixups.append((len(self.code) - 4, label))

    def jmp_label(self, label: int) -> None:
        self.code += x86.JMP_REL32 + b"\0\0\0\0"
        self.fixups.append((len(self.code) - 4, label))

    def skip_if(self, cc: int, body: bytes) -> bytes:
        return _skip_if(cc, body)

    def leave(self, code: int) -> bytes:
        return _leave(self.frame, code)

    def store_pc_imm(self, pc: int) -> bytes:
        return mov_imm(RCX, pc) + store(RCX, R12, self.ctx.pc)

    def loop_edge(self, exit_pc: int | None = None) -> None:
        """The exit-request check and hotness count of a loop-closing edge
        (env pc holds the target already, or ``exit_pc`` is stored on the
        way out: a block's entry)."""
        ctx = self.ctx
        idx = ctx.alloc_counter()
        if idx < 0:
            out = self.leave(Exit.BUDGET)
            if exit_pc is not None:
                out = self.store_pc_imm(exit_pc) + out
            self.code += x86.cmp_mem_imm0(R12, ctx.exit_request) + self.skip_if(x86.CC_E, out)
            return
        self.counters.append(idx)
        self.code += (load(RAX, R12, ctx.exit_request) + mov_imm(RCX, ctx.counter_address(idx))
                      + load(RDX, RCX, 0) + alu_imm(x86.SUB, RDX, 1) + store(RDX, RCX, 0)
                      + alu(x86.CMP, RDX, RAX))
        # counter <= request (signed): its count ran out or an exit was asked for
        out = store(RCX, R12, ctx.exit_info) + self.leave(Exit.HOT)
        if exit_pc is not None:
            out = mov_imm(RAX, exit_pc) + store(RAX, R12, ctx.pc) + out
        self.code += self.skip_if(x86.CC_G, out)

    # -- memory --------------------------------------------------------------------
    def access(self, kind: str, memop: int, addr) -> None:
        """The address to rsi (untagged), the instruction's pc to r15 for
        the fault exit, then the access's code (the same bytes for every
        access of its kind and memop: _access)."""
        self.get(RSI, addr)
        if memop & MemOp.TBI:
            # ops.tbi_address: bit 55 over the top byte
            self.code += x86.shift_imm(x86.SHL, RSI, 8) + x86.shift_imm(x86.SAR, RSI, 8)
        self.code += b"\x49\xbf" + self.pc.to_bytes(8, "little")          # mov r15, pc
        self.code += _access(self.ctx, kind, memop, self.frame)

    def op_ld(self, insn) -> None:
        self.access("ld", insn.consts[0], insn.ins[0])
        self.put(insn.outs[0], RAX)

    def op_st(self, insn) -> None:
        self.get(R8, insn.ins[0])
        self.access("st", insn.consts[0], insn.ins[1])

    def op_st2(self, insn) -> None:
        # (r13 and r14 survive the slow-path calls)
        self.get(R13, insn.ins[0])
        self.get(R14, insn.ins[1])
        self.access("st2", insn.consts[0], insn.ins[2])

    def op_ld_env(self, insn) -> None:
        off, memop = insn.consts
        self.code += x86.load_sized(RAX, R12, off, memop & MemOp.SIZE_MASK, bool(memop & MemOp.SIGN))
        self.put(insn.outs[0], RAX)

    def op_st_env(self, insn) -> None:
        off, memop = insn.consts
        self.get(RAX, insn.ins[0])
        self.code += x86.store_sized(RAX, R12, off, memop & MemOp.SIZE_MASK)

    # -- value ops -----------------------------------------------------------------
    def op_mov(self, insn) -> None:
        self.get(RAX, insn.ins[0])
        self.put(insn.outs[0], RAX)

    def op_alu(self, insn) -> None:
        a, b = insn.ins
        self.get(RAX, a)
        op = _ALU[insn.op]
        if b.kind is _CONST and -(1 << 31) <= _signed(b.value) < 1 << 31:
            self.code += alu_imm(op, RAX, _signed(b.value))
        else:
            self.get(RCX, b)
            self.code += alu(op, RAX, RCX)
        self.put(insn.outs[0], RAX)

    def op_andc(self, insn) -> None:
        self.get(RAX, insn.ins[0])
        self.get(RCX, insn.ins[1])
        self.code += x86.unary(x86.NOT, RCX) + alu(x86.AND, RAX, RCX)
        self.put(insn.outs[0], RAX)

    def op_shift(self, insn) -> None:
        a, b = insn.ins
        self.get(RAX, a)
        kind = _SHIFT[insn.op]
        if b.kind is _CONST:
            self.code += x86.shift_imm(kind, RAX, b.value & 63)
        else:
            self.get(RCX, b)
            self.code += x86.shift_cl(kind, RAX)
        self.put(insn.outs[0], RAX)

    def op_unary(self, insn) -> None:
        self.get(RAX, insn.ins[0])
        self.code += x86.unary(x86.NEG if insn.op is Op.neg else x86.NOT, RAX)
        self.put(insn.outs[0], RAX)

    def op_mul(self, insn) -> None:
        self.get(RAX, insn.ins[0])
        self.get(RCX, insn.ins[1])
        if insn.op is Op.mul:
            self.code += x86.imul(RAX, RCX)
            self.put(insn.outs[0], RAX)
            return
        self.code += x86.unary(x86.MUL if insn.op is Op.muluh else x86.IMUL1, RCX)
        self.put(insn.outs[0], RDX)

    def op_div(self, insn) -> None:
        signed, rem, by_zero = _DIV[insn.op]
        self.get(RAX, insn.ins[0])
        self.get(RCX, insn.ins[1])
        out = RDX if rem else RAX
        if signed:
            divide = b"\x48\x99" + x86.unary(x86.IDIV, RCX)       # cqo; idiv
        else:
            divide = alu(x86.XOR, RDX, RDX) + x86.unary(x86.DIV, RCX)
        if signed:
            # x / -1 is -x (INT64_MIN / -1 would trap: it wraps), x % -1 is 0
            minus1 = alu(x86.XOR, RDX, RDX) if rem else x86.unary(x86.NEG, RAX)
            divide = (alu_imm(x86.CMP, RCX, -1) + self.skip_if(x86.CC_E, divide + x86.JMP_REL32
                      + len(minus1).to_bytes(4, "little")) + minus1)
        if by_zero == "zero":
            zero = mov_imm(out, 0)
        elif by_zero == "ones":
            zero = mov_imm(out, (1 << 64) - 1)
        else:
            zero = mov(out, RAX) if out != RAX else b""
        divide += x86.JMP_REL32 + len(zero).to_bytes(4, "little")
        self.code += x86.test(RCX, RCX) + self.skip_if(x86.CC_E, divide) + zero
        self.put(insn.outs[0], out)

    def op_ext(self, insn) -> None:
        bits, sign = _EXT[insn.op]
        self.get(RAX, insn.ins[0])
        self.code += x86.movsx(RAX, RAX, bits) if sign else x86.movzx(RAX, RAX, bits)
        self.put(insn.outs[0], RAX)

    def op_clz(self, insn) -> None:
        self.get(RAX, insn.ins[0])
        # bsr gives the top set bit's index (63 - clz); zero has none: 64
        nonzero = alu_imm(x86.XOR, RAX, 63)
        zero = mov_imm(RAX, 64)
        nonzero += x86.JMP_REL32 + len(zero).to_bytes(4, "little")
        self.code += x86.bsr(RAX, RAX) + self.skip_if(x86.CC_E, nonzero) + zero
        self.put(insn.outs[0], RAX)

    def op_bswap(self, insn) -> None:
        self.get(RAX, insn.ins[0])
        self.code += x86.bswap(RAX)
        self.put(insn.outs[0], RAX)

    def compare(self, a, b) -> None:
        self.get(RAX, a)
        if b.kind is _CONST and -(1 << 31) <= _signed(b.value) < 1 << 31:
            self.code += alu_imm(x86.CMP, RAX, _signed(b.value))
        else:
            self.get(RCX, b)
            self.code += alu(x86.CMP, RAX, RCX)

    def op_setcond(self, insn) -> None:
        cond = insn.consts[0]
        if cond is Cond.always or cond is Cond.never:
            self.code += mov_imm(RDX, 1 if cond is Cond.always else 0)
        else:
            self.code += alu(x86.XOR, RDX, RDX)         # (before the compare: xor sets flags)
            self.compare(*insn.ins)
            self.code += x86.setcc(_CC[cond], RDX)
        self.put(insn.outs[0], RDX)

    def op_movcond(self, insn) -> None:
        cond = insn.consts[0]
        c1, c2, v1, v2 = insn.ins
        if cond is Cond.always or cond is Cond.never:
            self.get(RDX, v1 if cond is Cond.always else v2)
        else:
            self.get(RDX, v2)
            self.get(RSI, v1)
            self.compare(c1, c2)
            self.code += x86.cmov(_CC[cond], RDX, RSI)
        self.put(insn.outs[0], RDX)

    def op_call(self, insn) -> None:
        a, b, c = insn.ins
        self.get(RDI, a)
        self.get(RSI, b)
        self.get(RDX, c)
        helpers, i = self.ctx.helpers, insn.consts[0]
        # The Python function's callback while its host-code version is not
        # made: making it is LLVM (tbcache._Helpers), which a run of
        # baseline code need not load for one call
        fn = list.__getitem__(helpers, i) if i in getattr(helpers, "pending", ()) else helpers[i]
        self.code += mov_imm(RAX, fn) + x86.call_reg(RAX)
        self.put(insn.outs[0], RAX)

    # -- control flow --------------------------------------------------------------
    def op_set_label(self, insn) -> None:
        self.labels[insn.consts[0]] = len(self.code)

    def op_br(self, insn) -> None:
        self.jmp_label(insn.consts[0])

    def op_brcond(self, insn) -> None:
        cond, label = insn.consts
        if cond is Cond.never:
            return
        if cond is Cond.always:
            self.jmp_label(label)
            return
        self.compare(*insn.ins)
        self.jcc_label(_CC[cond], label)

    def op_goto_tb(self, insn) -> None:
        target = insn.consts[0]
        ctx = self.ctx
        slot = ctx.alloc_slot()
        self.slots.append((slot, target))
        self.code += self.store_pc_imm(target)
        if target <= self.pc:
            self.loop_edge()
        self.code += alu_imm(x86.ADD, RSP, self.frame) + mov_imm(RAX, ctx.slot_address(slot)) + x86.jmp_mem(RAX)

    def op_goto_ptr(self, insn) -> None:
        ctx = self.ctx
        self.get(RSI, insn.ins[0])
        self.code += store(RSI, R12, ctx.pc)
        self.loop_edge()
        # runtime.jmp_index, then the window's JMP_WAYS (pc, function) pairs
        bits = ctx.jmp_mask.bit_length()
        c = mov(RAX, RSI) + x86.shift_imm(x86.SHR, RAX, 2) + mov(RCX, RSI) + x86.shift_imm(x86.SHR, RCX, 2 + bits)
        c += alu(x86.XOR, RAX, RCX) + alu_imm(x86.AND, RAX, ctx.jmp_mask) + x86.shift_imm(x86.SHL, RAX, 4)
        c += mov_imm(RCX, ctx.jmp_table) + alu(x86.ADD, RAX, RCX)
        c += alu_imm(x86.ADD, RSP, self.frame)
        for way in range(JMP_WAYS):
            c += x86.cmp_mem(RSI, RAX, 16 * way) + self.skip_if(x86.CC_NE, x86.jmp_mem_disp(RAX, 16 * way + 8))
        c += mov_imm(RAX, Exit.MISS) + x86.RET
        self.code += c

    def op_exit_tb(self, insn) -> None:
        self.get(RAX, insn.ins[0])
        self.code += store(RAX, R12, self.ctx.pc) + self.leave(insn.consts[0])

    # ------------------------------------------------------------------------------
    def emit(self) -> bytes | None:
        handlers = _HANDLERS
        code = self.code
        code += alu_imm(x86.SUB, RSP, self.frame)
        blk = self.block
        if blk.guest_insns >= ENTRY_COUNT_MIN_INSNS and not closes_a_loop(blk):
            # counts its entries, as the first tier's (lower.walk_block)
            self.loop_edge(exit_pc=blk.pc)
        terminated = False
        insn_start, set_label = Op.insn_start, Op.set_label
        for insn in blk.insns:
            op = insn.op
            if op is insn_start:
                self.pc = insn.consts[0]
                continue
            if op is set_label:
                terminated = False
            elif terminated:
                continue        # unreachable after a block end (the verifier forbids it)
            handlers[op](self, insn)
            if op in ENDS_FLOW:
                terminated = True
        if not terminated:
            # (lower.fall_through)
            self.code += self.store_pc_imm(blk.pc + blk.guest_size) + self.leave(Exit.MISS)
        for pos, label in self.fixups:
            code[pos:pos + 4] = (self.labels[label] - pos - 4).to_bytes(4, "little", signed=True)
        return bytes(code)


@functools.cache
def _leave(frame: int, code: int) -> bytes:
    """Return Exit ``code`` to whoever entered the chain."""
    return alu_imm(x86.ADD, RSP, frame) + mov_imm(RAX, int(code)) + x86.RET


def _skip_if(cc: int, body: bytes) -> bytes:
    """Jcc over ``body``: the bytes of "if not cc: body"."""
    return x86.jcc_rel32(cc)[:2] + len(body).to_bytes(4, "little") + body


def _jmp_over(body: bytes) -> bytes:
    return x86.JMP_REL32 + len(body).to_bytes(4, "little")


@functools.cache
def _access(ctx: Context, kind: str, memop: int, frame: int) -> bytes:
    """A guest access: the address in rsi, the instruction's pc in r15; a
    load leaves its value in rax, a store takes its value from r8, a pair
    (st2) its two from r13 and r14.  The inline TLB compare, the hit path
    on the host pointer, and on a miss the slow path, leaving with
    Exit.FAULT (env pc from r15) when it reported a fault."""
    size_log2 = memop & MemOp.SIZE_MASK
    size = 1 << size_log2
    write = kind != "ld"
    span = 2 * size if kind == "st2" else size
    # the TLB entry's offset in rax, the tag compare
    c = mov(RAX, RSI) + x86.shift_imm(x86.SHR, RAX, PAGE_BITS)
    c += alu_imm(x86.AND, RAX, TLB_SIZE - 1, w=0) + x86.shift_imm(x86.SHL, RAX, _ENTRY_SHIFT, w=0)
    c += mov(RDX, RSI)
    if memop & MemOp.ALIGN:
        # misaligned addresses keep low bits set and never match the tag
        c += alu_imm(x86.AND, RDX, -PAGE_SIZE | (span - 1))
    else:
        # the page of the last byte: an access crossing a page misses
        c += alu_imm(x86.ADD, RDX, span - 1) + alu_imm(x86.AND, RDX, -PAGE_SIZE)
    c += x86.cmp_mem(RDX, R12, ctx.tlb + (8 if write else 0), index=RAX)
    # hit: the host pointer in rdx
    hit = mov(RDX, RSI) + x86.add_mem(RDX, R12, ctx.tlb + 16, index=RAX)
    fault = _skip_if(x86.CC_E, store(R15, R12, ctx.pc) + _leave(frame, Exit.FAULT))

    def slow(cell: int) -> bytes:
        return (mov(RDI, R12) + mov_imm(RAX, cell) + x86.call_mem(RAX)
                + x86.cmp_mem_imm0(R12, ctx.exception) + fault)

    if kind == "ld":
        hit += x86.load_sized(RAX, RDX, 0, size_log2, bool(memop & MemOp.SIGN))
        miss = mov_imm(RDX, memop) + slow(ctx.slow_ld)
    elif kind == "st":
        hit += x86.store_sized(R8, RDX, 0, size_log2)
        miss = mov(RDX, R8) + mov_imm(RCX, memop) + slow(ctx.slow_st)
    else:
        hit += x86.store_sized(R13, RDX, 0, size_log2) + x86.store_sized(R14, RDX, size, size_log2)

        def one(offset: int, val: int) -> bytes:
            c = mov(RSI, RBX)
            if offset:
                c += alu_imm(x86.ADD, RSI, offset)
            return c + mov(RDX, val) + mov_imm(RCX, memop) + slow(ctx.slow_st)

        # ops.pair_upper_first: the upper element first when the pair
        # crosses a page with the lower one wholly in the first
        upper_first = one(size, R14) + one(0, R13)
        lower_first = one(0, R13) + one(size, R14)
        lower_first += _jmp_over(upper_first)
        miss = (mov(RBX, RSI) + mov(RAX, RSI) + alu_imm(x86.ADD, RAX, 2 * size - 1)
                + alu_imm(x86.AND, RAX, PAGE_SIZE - 1) + alu_imm(x86.CMP, RAX, size)
                + _skip_if(x86.CC_B, lower_first) + upper_first)
    hit += _jmp_over(miss)
    return c + _skip_if(x86.CC_NE, hit) + miss


# register -> [the bytes of loading (storing) it from (to) local i's stack
# slot]: what get/put use most, without the encoders' cache keys
_LOAD_LOCAL: list[list[bytes]] = [[] for _ in range(16)]
_STORE_LOCAL: list[list[bytes]] = [[] for _ in range(16)]


def _grow(tab: list[bytes], encode, reg: int, i: int) -> bytes:
    while len(tab) <= i:
        tab.append(encode(reg, RSP, 8 * len(tab)))
    return tab[i]


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


_HANDLERS = {
    Op.mov: _Emitter.op_mov, Op.andc: _Emitter.op_andc, Op.neg: _Emitter.op_unary, Op.not_: _Emitter.op_unary,
    Op.mul: _Emitter.op_mul, Op.muluh: _Emitter.op_mul, Op.mulsh: _Emitter.op_mul,
    Op.clz: _Emitter.op_clz, Op.bswap64: _Emitter.op_bswap,
    Op.setcond: _Emitter.op_setcond, Op.movcond: _Emitter.op_movcond,
    Op.ld: _Emitter.op_ld, Op.st: _Emitter.op_st, Op.st2: _Emitter.op_st2,
    Op.ld_env: _Emitter.op_ld_env, Op.st_env: _Emitter.op_st_env, Op.call: _Emitter.op_call,
    Op.insn_start: None, Op.set_label: _Emitter.op_set_label, Op.br: _Emitter.op_br,
    Op.brcond: _Emitter.op_brcond, Op.goto_tb: _Emitter.op_goto_tb, Op.goto_ptr: _Emitter.op_goto_ptr,
    Op.exit_tb: _Emitter.op_exit_tb,
    **{op: _Emitter.op_alu for op in _ALU}, **{op: _Emitter.op_shift for op in _SHIFT},
    **{op: _Emitter.op_ext for op in _EXT}, **{op: _Emitter.op_div for op in _DIV},
}
SUPPORTED = frozenset(_HANDLERS)
_OP = operator.attrgetter("op")


def emit(block, ctx: Context):
    """(machine code, jump slots [(slot, target pc)], counters) for ``block``,
    or None when it has an op the baseline tier leaves to the interpreter
    (checked before any slot or counter is taken)."""
    if block.instr or not SUPPORTED.issuperset(map(_OP, block.insns)):
        return None
    e = _Emitter(block, ctx)
    code = e.emit()
    return code, e.slots, e.counters
