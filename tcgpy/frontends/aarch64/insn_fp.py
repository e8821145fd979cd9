"""A64 scalar floating point in half (FEAT_FP16), single and double
precision: fmov (register, general, top half, immediate), arithmetic, fused
multiply-add, min/max, fabs/fneg/fsqrt, frint*, fcmp/fcmpe/fccmp/fccmpe,
fcsel, fcvt between h, s and d, and conversions to/from general registers
(incl. fixed point).  One translator serves every precision: the format is
the ftype field (tcgpy.frontends.aarch64.fpsem is parametrized by it, FPCR.FZ16 included).

Every operation that can raise a floating-point exception is a vec op whose
semantics are Arm's pseudocode (tcgpy.frontends.aarch64.fpsem): FPCR rounding, FZ and DN are
honoured and the FPSR cumulative flags are set as the architecture says.
"""
from __future__ import annotations

from . import fpsem as fp
from ...ir.ops import Cond, MemOp, Op
from .vecsem import VecOp
from .decode import A64
from .vreg import VTMP, gen_fp, gen_vec, qofs, read_v, write_v_elem, write_v_scalar, zero_tmp

# ftype -> log2 bytes (10 is unallocated)
FTYPE_ESZ = {0: 2, 1: 3, 3: 1}


def _esz(ftype: int) -> int | None:
    return FTYPE_ESZ.get(ftype)


# -- moves ------------------------------------------------------------------------

def vfp_expand_imm(imm8: int, esz: int) -> int:
    """VFPExpandImm: the 8-bit FMOV immediate as an IEEE bit pattern."""
    ebits, fbits = fp.FMTS[esz].ebits, fp.FMTS[esz].fbits
    sign = imm8 >> 7
    b6 = (imm8 >> 6) & 1
    exp = ((b6 ^ 1) << (ebits - 1)) | (((1 << (ebits - 3)) - 1) * b6) << 2 | ((imm8 >> 4) & 3)
    frac = (imm8 & 15) << (fbits - 4)
    return (sign << (ebits + fbits)) | (exp << fbits) | frac


@A64.pattern("000 11110 ftype:2 1 imm8:8 100 00000 rd:5")
def trans_FMOV_imm(ctx, a):
    esz = _esz(a.ftype)
    if esz is None:
        return False
    write_v_scalar(ctx, a.rd, ctx.b.const(vfp_expand_imm(a.imm8, esz)), esz)


# -- one source ---------------------------------------------------------------------

# opcode -> rounding mode of frint* (7: FPCR's), exact (frintx raises inexact)
FRINT = {0b001000: (fp.RN, False), 0b001001: (fp.RP, False), 0b001010: (fp.RM, False),
         0b001011: (fp.RZ, False), 0b001100: (fp.RA, False), 0b001110: (7, True),
         0b001111: (7, False)}


# fcvt opcode -> destination size
FCVT_TO = {0b000100: 2, 0b000101: 3, 0b000111: 1}


@A64.pattern("000 11110 ftype:2 1 opcode:6 10000 rn:5 rd:5")
def trans_FP_1src(ctx, a):
    if a.opcode in FCVT_TO and a.ftype != 2:            # fcvt between h, s and d
        esz = {0: 2, 1: 3, 3: 1}[a.ftype]
        to = FCVT_TO[a.opcode]
        if to == esz:
            return False
        gen_fp(ctx, VecOp.fcvt, qofs(a.rd), qofs(a.rn), esz=esz, imm=to)
        return True
    esz = _esz(a.ftype)
    if esz is None:
        return False
    op = a.opcode
    d, n = qofs(a.rd), qofs(a.rn)
    if op == 0:                                     # fmov
        write_v_scalar(ctx, a.rd, read_v(ctx, a.rn, esz), esz)
    elif op in (1, 2):                              # fabs, fneg: sign bit only, no flags
        gen_vec(ctx, VecOp.fabs if op == 1 else VecOp.fneg, d, n, 0, esz, 1 << esz)
    elif op == 3:
        gen_fp(ctx, VecOp.fsqrt, d, n, esz=esz)
    elif op in FRINT:
        mode, exact = FRINT[op]
        gen_fp(ctx, VecOp.frint, d, n, esz=esz, imm=mode | (8 if exact else 0))
    else:
        return False


# -- two sources --------------------------------------------------------------------

FP_2SRC = (VecOp.fmul, VecOp.fdiv, VecOp.fadd, VecOp.fsub, VecOp.fmax, VecOp.fmin,
           VecOp.fmaxnm, VecOp.fminnm, VecOp.fnmul)


@A64.pattern("000 11110 ftype:2 1 rm:5 opcode:4 10 rn:5 rd:5")
def trans_FP_2src(ctx, a):
    esz = _esz(a.ftype)
    if esz is None or a.opcode >= len(FP_2SRC):
        return False
    gen_fp(ctx, FP_2SRC[a.opcode], qofs(a.rd), qofs(a.rn), qofs(a.rm), esz)


@A64.pattern("000 11111 ftype:2 o1:1 rm:5 o0:1 ra:5 rn:5 rd:5")
def trans_FP_3src(ctx, a):
    """fmadd/fmsub/fnmadd/fnmsub: ra +- rn*rm, negations applied to the
    operands before the fused operation (as the Arm ARM's FPNeg calls)."""
    esz = _esz(a.ftype)
    if esz is None:
        return False
    neg_n = 0x1000 if a.o1 != a.o0 else 0
    neg_a = 0x2000 if a.o1 else 0
    gen_fp(ctx, VecOp.fmla, qofs(a.rd), qofs(a.rn), qofs(a.rm), esz,
           imm=qofs(a.ra) | neg_n | neg_a)


# -- compares and selects --------------------------------------------------------------

def gen_fcmp(ctx, esz: int, rn: int, rm: int, with_zero: bool, signal: bool) -> None:
    b = ctx.b
    m = zero_tmp(ctx) if with_zero else qofs(rm)
    st = gen_fp(ctx, VecOp.fcmp, VTMP + 16, qofs(rn), m, esz, imm=int(signal))
    for flag, bit in ((ctx.nf, 31), (ctx.zf, 30), (ctx.cf, 29), (ctx.vf, 28)):
        b.mov(flag, b.and_(b.shr(st, bit), 1))


@A64.pattern("000 11110 ftype:2 1 rm:5 00 1000 rn:5 opc:2 000")
def trans_FCMP(ctx, a):
    esz = _esz(a.ftype)
    if esz is None:
        return False
    gen_fcmp(ctx, esz, a.rn, a.rm, bool(a.opc & 1), bool(a.opc & 2))


@A64.pattern("000 11110 ftype:2 1 rm:5 cond:4 01 rn:5 op:1 nzcv:4")
def trans_FCCMP(ctx, a):
    esz = _esz(a.ftype)
    if esz is None:
        return False
    b = ctx.b
    skip, done = b.new_label(), b.new_label()
    b.brcond(Cond.eq, ctx.cond_holds(a.cond), 0, skip)
    gen_fcmp(ctx, esz, a.rn, a.rm, False, bool(a.op))
    b.br(done)
    b.set_label(skip)
    for flag, bit in ((ctx.nf, 3), (ctx.zf, 2), (ctx.cf, 1), (ctx.vf, 0)):
        b.mov(flag, (a.nzcv >> bit) & 1)
    b.set_label(done)


@A64.pattern("000 11110 ftype:2 1 rm:5 cond:4 11 rn:5 rd:5")
def trans_FCSEL(ctx, a):
    esz = _esz(a.ftype)
    if esz is None:
        return False
    b = ctx.b
    v = b.movcond(Cond.ne, ctx.cond_holds(a.cond), 0, read_v(ctx, a.rn, esz), read_v(ctx, a.rm, esz))
    write_v_scalar(ctx, a.rd, v, esz)


# -- conversions with general registers ---------------------------------------------------

def gen_cvtf(ctx, sf: int, esz: int, rd: int, rn: int, unsigned: bool, fbits: int) -> None:
    """scvtf/ucvtf: general register (W or X) to FP, scaled by 2^-fbits."""
    ctx.b.emit(Op.st_env, ctx.read_reg(rn), consts=(VTMP, MemOp.make(3)))
    gen_fp(ctx, VecOp.cvtf, qofs(rd), VTMP, esz=esz, imm=(2 + sf) | (4 if unsigned else 0) | fbits << 8)


def gen_fcvti(ctx, sf: int, esz: int, rd: int, rn: int, unsigned: bool, mode: int, fbits: int) -> None:
    """fcvt[nsapmz][su]: FP to a general register, saturating."""
    b = ctx.b
    gen_fp(ctx, VecOp.fcvti, VTMP, qofs(rn), esz=esz,
           imm=(2 + sf) | (4 if unsigned else 0) | mode << 3 | fbits << 8)
    v = b.new_local()
    b.emit(Op.ld_env, v, consts=(VTMP, MemOp.make(2 + sf)))
    ctx.write_reg(rd, v, sf)


# (rmode, opcode & 6) -> rounding mode of fcvt*s/u
FCVT_MODE = {(0, 0): fp.RN, (1, 0): fp.RP, (2, 0): fp.RM, (3, 0): fp.RZ, (0, 4): fp.RA}


@A64.pattern("sf:1 00 11110 ftype:2 1 rmode:2 opcode:3 000000 rn:5 rd:5")
def trans_FP_int(ctx, a):
    op, rmode = a.opcode, a.rmode
    if op in (6, 7):
        return gen_fmov_general(ctx, a)
    esz = _esz(a.ftype)
    if esz is None:
        return False
    if op in (2, 3) and rmode == 0:
        gen_cvtf(ctx, a.sf, esz, a.rd, a.rn, op == 3, 0)
        return True
    mode = FCVT_MODE.get((rmode, op & 6))
    if mode is None:
        return False
    gen_fcvti(ctx, a.sf, esz, a.rd, a.rn, bool(op & 1), mode, 0)


def gen_fmov_general(ctx, a) -> bool:
    to_fp = a.opcode == 7
    key = (a.sf, a.ftype, a.rmode)
    if key == (0, 0, 0):                 # w <-> s
        size = 2
    elif key == (1, 1, 0):               # x <-> d
        size = 3
    elif key in ((0, 3, 0), (1, 3, 0)):  # w/x <-> h: the low 16 bits, zero-extended
        size = 1
    elif key == (1, 2, 1):               # x <-> v.d[1]
        if to_fp:
            write_v_elem(ctx, a.rd, ctx.read_reg(a.rn), 3, 8)
        else:
            ctx.write_reg(a.rd, read_v(ctx, a.rn, 3, 8))
        return True
    else:
        return False
    if to_fp:
        write_v_scalar(ctx, a.rd, ctx.read_reg(a.rn), size)
    else:
        ctx.write_reg(a.rd, read_v(ctx, a.rn, size), a.sf)
    return True


@A64.pattern("sf:1 00 11110 ftype:2 0 rmode:2 opcode:3 scale:6 rn:5 rd:5")
def trans_FP_fixed(ctx, a):
    esz = _esz(a.ftype)
    if esz is None or (not a.sf and a.scale < 32):
        return False
    fbits = 64 - a.scale
    if a.rmode == 0 and a.opcode in (2, 3):
        gen_cvtf(ctx, a.sf, esz, a.rd, a.rn, a.opcode == 3, fbits)
    elif a.rmode == 3 and a.opcode in (0, 1):
        gen_fcvti(ctx, a.sf, esz, a.rd, a.rn, a.opcode == 1, fp.RZ, fbits)
    else:
        return False
