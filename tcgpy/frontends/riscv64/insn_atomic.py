"""The A extension: lr/sc with a reservation, and the AMOs, word and
doubleword, every aq/rl combination.

Atomicity as for AArch64's atomics (frontends/aarch64/insn_atomic.py):
guest threads of a process run one at a time, but other processes sharing
the memory run at the same time, so every store here is a compare-and-swap
(Op.cmpxchg, sequentially consistent: aq/rl order nothing more).

- Alignment: every form must be naturally aligned, else a misaligned-address
  exception (Linux: SIGBUS, BUS_ADRALN), as QEMU's linux-user raises it.
- The reservation is QEMU's: lr records the address (excl_addr) and the value
  loaded (excl_val); sc fails without accessing memory when its address is
  not the reserved one, else it swaps in its value if memory still holds the
  recorded one (the access needs write permission either way, as QEMU's
  cmpxchg makes it); every sc clears the reservation.  rd = 0 on success, 1
  on failure.
- AMOs load, swap in the result if memory still holds what they loaded (else
  run again from the instruction: another process wrote it), then write rd
  (the old value, sign-extended for .w): a fault in either access leaves
  registers as they were.
"""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.core import Temp
from ...ir.ops import Cond, MemOp
from .decode import RV32


def _amo_minmax(cond: Cond, signed: bool):
    def gen(b: Builder, old: Temp, v: Temp, word: bool) -> Temp:
        if word:
            ext = Builder.ext32s if signed else Builder.ext32u
            old, v = ext(b, old), ext(b, v)
        return b.movcond(cond, old, v, old, v)
    return gen


AMO_OPS = {
    0b00001: lambda b, old, v, word: b.temp(v),            # amoswap
    0b00000: lambda b, old, v, word: b.add(old, v),        # amoadd
    0b00100: lambda b, old, v, word: b.xor(old, v),        # amoxor
    0b01100: lambda b, old, v, word: b.and_(old, v),       # amoand
    0b01000: lambda b, old, v, word: b.or_(old, v),        # amoor
    0b10000: _amo_minmax(Cond.lt, True),                  # amomin
    0b10100: _amo_minmax(Cond.gt, True),                  # amomax
    0b11000: _amo_minmax(Cond.ltu, False),                # amominu
    0b11100: _amo_minmax(Cond.gtu, False),                # amomaxu
}


@RV32.pattern("f5:5 aq:1 rl:1 rs2:5 rs1:5 01 d:1 rd:5 0101111")
def trans_AMO(ctx, a):
    op = AMO_OPS.get(a.f5)
    if op is None:
        return False            # lr/sc below, or reserved
    b = ctx.b
    size = 2 + a.d
    addr = ctx.read_reg(a.rs1)
    old = b.ld(addr, MemOp.make(size, sign=size == 2, align=True))
    b.swap_or_retry(addr, old, op(b, old, ctx.read_reg(a.rs2), not a.d), MemOp.make(size, align=True), ctx.pc)
    ctx.write_reg(a.rd, old)


@RV32.pattern("00010 aq:1 rl:1 00000 rs1:5 01 d:1 rd:5 0101111")
def trans_LR(ctx, a):
    b = ctx.b
    addr = ctx.read_reg(a.rs1)
    v = b.ld(addr, MemOp.make(2 + a.d, sign=not a.d, align=True))
    b.mov(ctx.g["excl_addr"], addr)
    b.mov(ctx.g["excl_val"], v)
    ctx.write_reg(a.rd, v)


@RV32.pattern("00011 aq:1 rl:1 rs2:5 rs1:5 01 d:1 rd:5 0101111")
def trans_SC(ctx, a):
    b = ctx.b
    size = 2 + a.d
    addr = ctx.read_reg(a.rs1)
    value = ctx.read_reg(a.rs2)
    excl_addr, excl_val = ctx.g["excl_addr"], ctx.g["excl_val"]
    result = b.new_local()
    fail, done = b.new_label(), b.new_label()
    b.brcond(Cond.ne, addr, excl_addr, fail)
    # compared at the access size, as QEMU's cmpxchg extends its compare
    # value (an sc.w after an lr.d of the same address compares the low word)
    seen = b.cmpxchg(addr, excl_val, value, MemOp.make(size, align=True))
    b.mov(result, b.setcond(Cond.ne, seen, b.ext32u(excl_val) if size == 2 else excl_val))
    b.br(done)
    b.set_label(fail)
    b.mov(result, 1)
    b.set_label(done)
    b.mov(excl_addr, -1)
    ctx.write_reg(a.rd, result)
