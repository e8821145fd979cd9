"""A64 loads and stores of FP/SIMD registers: ldr/str/ldur/stur of b/h/s/d/q
(unsigned offset, unscaled, pre/post-index, register offset, literal),
ldp/stp/ldnp/stnp of s/d/q, and ld1/st1 (multiple structures, 1-4
registers, offset and post-index), ld2-ld4/st2-st4 (interleaved), the
single-structure forms (one lane of 1-4 registers) and ld1r-ld4r.

All loads of an instruction happen before any register is written, so a
fault leaves the registers untouched.  Multi-doubleword stores go in
ascending address order, as QEMU (and so Unicorn) issue them.  ldp with
rt == rt2 (CONSTRAINED UNPREDICTABLE): rt then rt2 is written, rt2 wins.
"""
from __future__ import annotations

from ...ir.ops import MemOp, Op
from .vecsem import VecOp
from .decode import A64
from .insn_dp_reg import gen_extend
from .insn_ldst import OFFSET, PAIR_MODE, POST, PRE
from .vreg import VTMP, gen_vec, qofs, read_v, write_v_elem, write_v_q, write_v_scalar


def vld(ctx, addr, scale: int) -> list:
    """Load 1 << scale bytes at addr: [value], or [lo, hi] for a q register."""
    if scale <= 3:
        return [ctx.gen_ld(addr, scale)]
    return [ctx.gen_ld(addr, 3), ctx.gen_ld(ctx.b.add(addr, 8), 3)]


def vwrite(ctx, rt: int, vals: list, scale: int) -> None:
    if scale <= 3:
        write_v_scalar(ctx, rt, vals[0], scale)
    else:
        write_v_q(ctx, rt, vals[0], vals[1])


def vst(ctx, rt: int, addr, scale: int) -> None:
    if scale <= 3:
        ctx.gen_st(read_v(ctx, rt, scale), addr, scale)
    else:
        ctx.gen_st(read_v(ctx, rt, 3), addr, 3)
        ctx.gen_st(read_v(ctx, rt, 3, 8), ctx.b.add(addr, 8), 3)


def gen_ldst_v(ctx, load: bool, scale: int, rt: int, rn: int, offset, mode: int = OFFSET) -> None:
    b = ctx.b
    base = ctx.read_reg(rn, sp=True)
    moved = b.add(base, offset)
    addr = base if mode == POST else moved
    if load:
        vwrite(ctx, rt, vld(ctx, addr, scale), scale)
    else:
        vst(ctx, rt, addr, scale)
    if mode != OFFSET:
        ctx.write_reg(rn, moved, sp=True)


def v_scale(size: int, opc: int) -> int | None:
    """log2 bytes of the size/opc fields of the single-register forms."""
    if opc & 2:
        return 4 if size == 0 else None
    return size


@A64.pattern("size:2 111 1 01 opc:2 imm:12 rn:5 rt:5")
def trans_LDST_v_uimm(ctx, a):
    scale = v_scale(a.size, a.opc)
    if scale is None:
        return False
    gen_ldst_v(ctx, bool(a.opc & 1), scale, a.rt, a.rn, a.imm << scale)


@A64.pattern("size:2 111 1 00 opc:2 0 imm:s9 00 rn:5 rt:5", mode=OFFSET)
@A64.pattern("size:2 111 1 00 opc:2 0 imm:s9 01 rn:5 rt:5", mode=POST)
@A64.pattern("size:2 111 1 00 opc:2 0 imm:s9 11 rn:5 rt:5", mode=PRE)
def trans_LDST_v_imm9(ctx, a):
    scale = v_scale(a.size, a.opc)
    if scale is None:
        return False
    gen_ldst_v(ctx, bool(a.opc & 1), scale, a.rt, a.rn, a.imm, a.mode)


@A64.pattern("size:2 111 1 00 opc:2 1 rm:5 option:3 S:1 10 rn:5 rt:5")
def trans_LDST_v_reg(ctx, a):
    scale = v_scale(a.size, a.opc)
    if scale is None or not a.option & 2:
        return False
    offset = gen_extend(ctx, ctx.read_reg(a.rm), a.option, scale if a.S else 0)
    gen_ldst_v(ctx, bool(a.opc & 1), scale, a.rt, a.rn, offset)


@A64.pattern("opc:2 011 1 00 imm:s19 rt:5")
def trans_LDR_v_lit(ctx, a):
    if a.opc == 3:
        return False
    scale = 2 + a.opc
    vwrite(ctx, a.rt, vld(ctx, ctx.b.const(ctx.pc + a.imm * 4), scale), scale)


@A64.pattern("opc:2 101 1 0 idx:2 L:1 imm:s7 rt2:5 rn:5 rt:5")
def trans_LDST_v_pair(ctx, a):
    if a.opc == 3:
        return False
    b = ctx.b
    scale = 2 + a.opc
    mode = PAIR_MODE[a.idx]
    base = ctx.read_reg(a.rn, sp=True)
    moved = b.add(base, a.imm << scale)
    addr = base if mode == POST else moved
    addr2 = b.add(addr, 1 << scale)
    if a.L:
        v1 = vld(ctx, addr, scale)
        v2 = vld(ctx, addr2, scale)
        vwrite(ctx, a.rt, v1, scale)
        vwrite(ctx, a.rt2, v2, scale)
    else:
        vst(ctx, a.rt, addr, scale)
        vst(ctx, a.rt2, addr2, scale)
    if mode != OFFSET:
        ctx.write_reg(a.rn, moved, sp=True)


# -- ld1-ld4/st1-st4 (multiple structures) ---------------------------------------------
# opcode -> number of registers of ld1/st1 (contiguous)
LD1_REGS = {0b0111: 1, 0b1010: 2, 0b0110: 3, 0b0010: 4}
# opcode -> number of registers of ld2-ld4/st2-st4 (interleaved elements)
LDN_REGS = {0b1000: 2, 0b0100: 3, 0b0000: 4}


def gen_ldn_stn(ctx, a, post: bool) -> bool:
    """ld2-ld4/st2-st4: memory is staged through the scratch area, then
    (de)interleaved by vec ops; all loads come before any register write."""
    nregs = LDN_REGS[a.opcode]
    if a.size == 3 and not a.Q:
        return False
    b = ctx.b
    oprsz = 16 if a.Q else 8
    total = nregs * oprsz
    base = ctx.read_reg(a.rn, sp=True)
    if a.L:
        vals = [ctx.gen_ld(b.add(base, i), 3) for i in range(0, total, 8)]
        for i, v in enumerate(vals):
            b.emit(Op.st_env, v, consts=(VTMP + 8 * i, MemOp.make(3)))
        for r in range(nregs):
            gen_vec(ctx, VecOp.uzpn, qofs(a.rt + r), VTMP, 0, a.size, oprsz, nregs | r << 4)
    else:
        for r in range(nregs):
            for i in range(0, oprsz, 8):
                b.emit(Op.st_env, read_v(ctx, a.rt + r, 3, i), consts=(VTMP + r * oprsz + i, MemOp.make(3)))
        gen_vec(ctx, VecOp.zipn, VTMP + 64, VTMP, 0, a.size, oprsz, nregs)
        for i in range(0, total, 8):
            v = b.new_local()
            b.emit(Op.ld_env, v, consts=(VTMP + 64 + i, MemOp.make(3)))
            ctx.gen_st(v, b.add(base, i), 3)
    if post:
        inc = b.const(total) if a.rm == 31 else ctx.read_reg(a.rm)
        ctx.write_reg(a.rn, b.add(base, inc), sp=True)
    return True


def gen_ld1_st1(ctx, a, post: bool) -> bool:
    if a.opcode in LDN_REGS:
        return gen_ldn_stn(ctx, a, post)
    nregs = LD1_REGS.get(a.opcode)
    if nregs is None:
        return False
    b = ctx.b
    oprsz = 16 if a.Q else 8
    base = ctx.read_reg(a.rn, sp=True)
    if a.L:
        vals = [ctx.gen_ld(b.add(base, i), 3) for i in range(0, nregs * oprsz, 8)]
        for r in range(nregs):
            rt = (a.rt + r) % 32
            if a.Q:
                write_v_q(ctx, rt, vals[2 * r], vals[2 * r + 1])
            else:
                write_v_scalar(ctx, rt, vals[r], 3)
    else:
        for r in range(nregs):
            for i in range(0, oprsz, 8):
                ctx.gen_st(read_v(ctx, a.rt + r, 3, i), b.add(base, r * oprsz + i), 3)
    if post:
        inc = b.const(nregs * oprsz) if a.rm == 31 else ctx.read_reg(a.rm)
        ctx.write_reg(a.rn, b.add(base, inc), sp=True)
    return True


@A64.pattern("0 Q:1 0011000 L:1 000000 opcode:4 size:2 rn:5 rt:5")
def trans_LD1_ST1(ctx, a):
    return gen_ld1_st1(ctx, a, post=False)


@A64.pattern("0 Q:1 0011001 L:1 0 rm:5 opcode:4 size:2 rn:5 rt:5")
def trans_LD1_ST1_post(ctx, a):
    return gen_ld1_st1(ctx, a, post=True)


# -- ld1-ld4/st1-st4 (single structure) and ld1r-ld4r ---------------------------------------

def gen_ldst_single(ctx, a, post: bool) -> bool:
    nregs = ((a.opcode & 1) << 1 | a.R) + 1
    sel = a.opcode >> 1
    if sel == 3:                                   # ld1r-ld4r: replicate
        if not a.L or a.S:
            return False
        scale, index = a.size, None
    elif sel == 0:
        scale, index = 0, a.Q << 3 | a.S << 2 | a.size
    elif sel == 1:
        if a.size & 1:
            return False
        scale, index = 1, a.Q << 2 | a.S << 1 | a.size >> 1
    elif a.size == 0:
        scale, index = 2, a.Q << 1 | a.S
    elif a.size == 1 and not a.S:
        scale, index = 3, a.Q
    else:
        return False
    b = ctx.b
    base = ctx.read_reg(a.rn, sp=True)
    esize = 1 << scale
    if a.L:
        vals = [ctx.gen_ld(b.add(base, r * esize), scale) for r in range(nregs)]
        for r, v in enumerate(vals):
            if index is None:
                gen_vec(ctx, VecOp.dupx, qofs(a.rt + r), 0, 0, scale, 16 if a.Q else 8, x=v)
            else:
                write_v_elem(ctx, (a.rt + r) % 32, v, scale, index << scale)
    else:
        for r in range(nregs):
            ctx.gen_st(read_v(ctx, (a.rt + r) % 32, scale, index << scale), b.add(base, r * esize), scale)
    if post:
        inc = b.const(nregs * esize) if a.rm == 31 else ctx.read_reg(a.rm)
        ctx.write_reg(a.rn, b.add(base, inc), sp=True)
    return True


@A64.pattern("0 Q:1 0011010 L:1 R:1 00000 opcode:3 S:1 size:2 rn:5 rt:5")
def trans_LDST_single(ctx, a):
    return gen_ldst_single(ctx, a, post=False)


@A64.pattern("0 Q:1 0011011 L:1 R:1 rm:5 opcode:3 S:1 size:2 rn:5 rt:5")
def trans_LDST_single_post(ctx, a):
    return gen_ldst_single(ctx, a, post=True)
