"""A64 branches: b, bl, b.cond, cbz/cbnz, tbz/tbnz, br, blr, ret."""
from __future__ import annotations

from ...ir.ops import Cond
from .decode import A64


@A64.pattern("op:1 00101 imm:s26")
def trans_B(ctx, a):
    if a.op:  # BL
        ctx.write_reg(30, ctx.next_pc)
    ctx.gen_goto(ctx.pc + a.imm * 4)


@A64.pattern("0101010 0 imm:s19 0 cond:4")
def trans_B_cond(ctx, a):
    target = ctx.pc + a.imm * 4
    if a.cond >= 14:
        ctx.gen_goto(target)
    else:
        ctx.gen_cond_goto(ctx.cond_holds(a.cond), target)


@A64.pattern("1101011 0 0 op:2 11111 000000 rn:5 00000")
def trans_BR(ctx, a):
    # op: 0 br, 1 blr, 2 ret
    if a.op == 3:
        return False
    target = ctx.b.temp(ctx.read_reg(a.rn))
    if a.op == 1:
        # Read the target before writing lr: "blr x30" jumps to the old x30.
        t = ctx.b.new_local()
        ctx.b.mov(t, target)
        target = t
        ctx.write_reg(30, ctx.next_pc)
    ctx.gen_goto_reg(target)


@A64.pattern("sf:1 011010 op:1 imm:s19 rt:5")
def trans_CBZ(ctx, a):
    # op: 0 cbz, 1 cbnz
    b = ctx.b
    cond = b.setcond(Cond.ne if a.op else Cond.eq, ctx.read_reg_sf(a.rt, a.sf), 0)
    ctx.gen_cond_goto(cond, ctx.pc + a.imm * 4)


@A64.pattern("b5:1 011011 op:1 b40:5 imm:s14 rt:5")
def trans_TBZ(ctx, a):
    # op: 0 tbz, 1 tbnz; the bit number is b5:b40 (b5 set only for X registers)
    b = ctx.b
    bit = b.and_(b.shr(ctx.read_reg(a.rt), (a.b5 << 5) | a.b40), 1)
    if not a.op:
        bit = b.xor(bit, 1)
    ctx.gen_cond_goto(bit, ctx.pc + a.imm * 4)
