"""The C extension for RV64: every compressed form, translated as the 32-bit
instruction it expands to (ISA manual, "RVC Instruction Set Listings"),
through the same gen_* helpers.  The translator gives each its 2-byte
length, so pc, link addresses and faults are exact.

Reserved encodings are illegal: the all-zero word, c.addi4spn with a zero
immediate, c.addiw/c.lwsp/c.ldsp with rd = 0, c.addi16sp/c.lui with a zero
immediate, c.jr with rs1 = 0, c.subw/c.addw's unused siblings, and quadrant
0's 100 row.  HINTs (c.nop with an immediate, c.li/c.lui/c.mv/c.add/c.slli
with rd = 0, shifts by 0) execute as the no-ops they expand to.
"""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.ops import Cond, Exit
from .decode import (RVC, c_addi4spn, c_addi16sp, c_b, c_imm6, c_j, c_ldsp, c_lui, c_lwsp, c_reg,
                     c_sdsp, c_swsp, c_uimm6, c_uimm_d, c_uimm_w)

M64 = (1 << 64) - 1

# -- quadrant 0 -----------------------------------------------------------------------


@RVC.pattern("000 imm:8 rd:3 00")
def trans_C_ADDI4SPN(ctx, a):
    imm = c_addi4spn(a.word)
    if imm == 0:
        return False            # includes the all-zero (defined illegal) word
    ctx.gen_arith(c_reg(a.rd), ctx.read_reg(2), imm, Builder.add)


@RVC.pattern("0 f:1 1 --- rs1:3 -- rd:3 00")          # c.fld (f=0), c.ld (f=1)
def trans_C_LD(ctx, a):
    if a.f:
        ctx.gen_load(c_reg(a.rd), c_reg(a.rs1), c_uimm_d(a.word), 3, True)
    else:
        ctx.gen_fload(c_reg(a.rd), c_reg(a.rs1), c_uimm_d(a.word), 3)


@RVC.pattern("010 --- rs1:3 -- rd:3 00")
def trans_C_LW(ctx, a):
    ctx.gen_load(c_reg(a.rd), c_reg(a.rs1), c_uimm_w(a.word), 2, True)


@RVC.pattern("1 f:1 1 --- rs1:3 -- rs2:3 00")          # c.fsd (f=0), c.sd (f=1)
def trans_C_SD(ctx, a):
    if a.f:
        ctx.gen_store(c_reg(a.rs2), c_reg(a.rs1), c_uimm_d(a.word), 3)
    else:
        ctx.gen_fstore(c_reg(a.rs2), c_reg(a.rs1), c_uimm_d(a.word), 3)


@RVC.pattern("110 --- rs1:3 -- rs2:3 00")
def trans_C_SW(ctx, a):
    ctx.gen_store(c_reg(a.rs2), c_reg(a.rs1), c_uimm_w(a.word), 2)


# -- quadrant 1 -----------------------------------------------------------------------

@RVC.pattern("000 - rd:5 ----- 01")
def trans_C_ADDI(ctx, a):
    ctx.gen_arith(a.rd, ctx.read_reg(a.rd), c_imm6(a.word) & M64, Builder.add)


@RVC.pattern("001 - rd:5 ----- 01")
def trans_C_ADDIW(ctx, a):
    if a.rd == 0:
        return False
    ctx.gen_arith(a.rd, ctx.read_reg(a.rd), c_imm6(a.word) & M64, Builder.add, word=True)


@RVC.pattern("010 - rd:5 ----- 01")
def trans_C_LI(ctx, a):
    ctx.write_reg(a.rd, c_imm6(a.word) & M64)


@RVC.pattern("011 - rd:5 ----- 01")
def trans_C_LUI_ADDI16SP(ctx, a):
    if a.rd == 2:
        imm = c_addi16sp(a.word)
        if imm == 0:
            return False
        ctx.gen_arith(2, ctx.read_reg(2), imm & M64, Builder.add)
        return None
    imm = c_lui(a.word)
    if imm == 0:
        return False
    ctx.write_reg(a.rd, imm & M64)


@RVC.pattern("100 - 00 rd:3 ----- 01", op=1)        # c.srli
@RVC.pattern("100 - 01 rd:3 ----- 01", op=2)        # c.srai
def trans_C_SHIFT_R(ctx, a):
    rd = c_reg(a.rd)
    ctx.gen_arith(rd, ctx.read_reg(rd), c_uimm6(a.word), (Builder.shr, Builder.sar)[a.op - 1])


@RVC.pattern("100 - 10 rd:3 ----- 01")
def trans_C_ANDI(ctx, a):
    rd = c_reg(a.rd)
    ctx.gen_arith(rd, ctx.read_reg(rd), c_imm6(a.word) & M64, Builder.and_)


C_ALU = {(0, 0): (Builder.sub, False), (0, 1): (Builder.xor, False), (0, 2): (Builder.or_, False),
         (0, 3): (Builder.and_, False), (1, 0): (Builder.sub, True), (1, 1): (Builder.add, True)}


@RVC.pattern("100 w:1 11 rd:3 op:2 rs2:3 01")
def trans_C_ALU(ctx, a):
    op = C_ALU.get((a.w, a.op))
    if op is None:
        return False
    rd = c_reg(a.rd)
    ctx.gen_arith(rd, ctx.read_reg(rd), ctx.read_reg(c_reg(a.rs2)), op[0], word=op[1])


@RVC.pattern("101 ----------- 01")
def trans_C_J(ctx, a):
    ctx.gen_jal(0, (ctx.pc + c_j(a.word)) & M64)


@RVC.pattern("11 ne:1 --- rs1:3 ----- 01")
def trans_C_BEQZ_BNEZ(ctx, a):
    ctx.gen_branch(Cond.ne if a.ne else Cond.eq, c_reg(a.rs1), 0, (ctx.pc + c_b(a.word)) & M64)


# -- quadrant 2 -----------------------------------------------------------------------

@RVC.pattern("000 - rd:5 ----- 10")
def trans_C_SLLI(ctx, a):
    ctx.gen_arith(a.rd, ctx.read_reg(a.rd), c_uimm6(a.word), Builder.shl)


@RVC.pattern("001 - rd:5 ----- 10")
def trans_C_FLDSP(ctx, a):
    ctx.gen_fload(a.rd, 2, c_ldsp(a.word), 3)


@RVC.pattern("010 - rd:5 ----- 10")
def trans_C_LWSP(ctx, a):
    if a.rd == 0:
        return False
    ctx.gen_load(a.rd, 2, c_lwsp(a.word), 2, True)


@RVC.pattern("011 - rd:5 ----- 10")
def trans_C_LDSP(ctx, a):
    if a.rd == 0:
        return False
    ctx.gen_load(a.rd, 2, c_ldsp(a.word), 3, True)


@RVC.pattern("100 0 rs1:5 00000 10")
def trans_C_JR(ctx, a):
    if a.rs1 == 0:
        return False
    ctx.gen_jalr(0, a.rs1, 0)


@RVC.pattern("100 0 rd:5 rs2:5 10")
def trans_C_MV(ctx, a):
    if a.rs2 == 0:
        return False            # c.jr, more specific, took it
    ctx.gen_arith(a.rd, 0, ctx.read_reg(a.rs2), Builder.add)


@RVC.pattern("100 1 00000 00000 10")
def trans_C_EBREAK(ctx, a):
    ctx.gen_exit(ctx.pc, Exit.TRAP)


@RVC.pattern("100 1 rs1:5 00000 10")
def trans_C_JALR(ctx, a):
    ctx.gen_jalr(1, a.rs1, 0)


@RVC.pattern("100 1 rd:5 rs2:5 10")
def trans_C_ADD(ctx, a):
    ctx.gen_arith(a.rd, ctx.read_reg(a.rd), ctx.read_reg(a.rs2), Builder.add)


@RVC.pattern("101 ------ rs2:5 10")
def trans_C_FSDSP(ctx, a):
    ctx.gen_fstore(a.rs2, 2, c_sdsp(a.word), 3)


@RVC.pattern("110 ------ rs2:5 10")
def trans_C_SWSP(ctx, a):
    ctx.gen_store(a.rs2, 2, c_swsp(a.word), 2)


@RVC.pattern("111 ------ rs2:5 10")
def trans_C_SDSP(ctx, a):
    ctx.gen_store(a.rs2, 2, c_sdsp(a.word), 3)


