"""A64 Advanced SIMD half precision (FEAT_FP16): the FP16 encodings of
three same, two-register misc, by element, across lanes, pairwise, the
fixed-point conversions of shift by immediate, fmov (vector, immediate),
and their scalar forms.  (Scalar FP data processing on h registers is
insn_fp: the same translators as single and double.)

The FP16 groups reuse the single/double operation tables of insn_simd: an
FP16 opcode is the low bits of the single/double one and its ``a`` bit is
the top bit of their ``size`` field, so only the lane size differs (1).
Every operation is a vec op whose semantics are tcgpy.frontends.aarch64.fpsem's pseudocode
with FPCR.FZ16 in place of FZ.
"""
from __future__ import annotations

from . import fpsem as fp
from .vecsem import VecOp
from .decode import A64
from .insn_fp import vfp_expand_imm
from .insn_simd import (FP_2MISC, FP_CMP_ZERO, FP_PAIRWISE, FP_THREE_SAME, SCALAR_FP_3SAME,
                        gen_by_elem_fp)
from .vreg import VTMP, gen_fp, gen_vec, qofs, zero_tmp

H = 1                       # log2 of the lane size


def _oprsz(q: int) -> int:
    return 16 if q else 8


# -- three same ------------------------------------------------------------------------

@A64.pattern("0 Q:1 U:1 01110 a:1 10 rm:5 00 opcode:3 1 rn:5 rd:5")
def trans_FP16_3same(ctx, a):
    d, n, m = qofs(a.rd), qofs(a.rn), qofs(a.rm)
    oprsz = _oprsz(a.Q)
    if a.opcode == 0b001 and not a.U:                   # fmla / fmls: d +- n*m, fused
        gen_fp(ctx, VecOp.fmla, d, n, m, H, oprsz, imm=d | (0x1000 if a.a else 0))
        return True
    kind = FP_THREE_SAME.get((a.U, a.a, 0b11000 | a.opcode))
    if kind is None:
        return False
    gen_fp(ctx, kind, d, n, m, H, oprsz)


@A64.pattern("01 U:1 11110 a:1 10 rm:5 00 opcode:3 1 rn:5 rd:5")
def trans_FP16_scalar_3same(ctx, a):
    kind = SCALAR_FP_3SAME.get((a.U, a.a, 0b11000 | a.opcode))
    if kind is None:
        return False
    gen_fp(ctx, kind, qofs(a.rd), qofs(a.rn), qofs(a.rm), H, 2)


# -- two-register misc --------------------------------------------------------------------

def gen_fp16_2misc(ctx, U: int, a_bit: int, opcode: int, d: int, n: int, oprsz: int,
                   scalar: bool) -> bool:
    if a_bit and (U, opcode) in FP_CMP_ZERO:            # fcm<cc> #0
        kind, swap = FP_CMP_ZERO[(U, opcode)]
        z = zero_tmp(ctx)
        gen_fp(ctx, kind, d, z if swap else n, n if swap else z, H, oprsz)
        return True
    if scalar and (U, a_bit, opcode) == (0, 1, 0b11111):
        gen_fp(ctx, VecOp.frecpx, d, n, 0, H, oprsz)
        return True
    row = FP_2MISC.get((U, a_bit, opcode))
    if row is None:
        return False
    kind, imm = row
    if scalar and kind not in (VecOp.cvtf, VecOp.fcvti, VecOp.frecpe, VecOp.frsqrte):
        return False
    if kind in (VecOp.cvtf, VecOp.fcvti):
        imm |= H                                        # 16-bit integers
    if kind in (VecOp.fabs, VecOp.fneg):
        gen_vec(ctx, kind, d, n, 0, H, oprsz)
    else:
        gen_fp(ctx, kind, d, n, 0, H, oprsz, imm)
    return True


@A64.pattern("0 Q:1 U:1 01110 a:1 111100 opcode:5 10 rn:5 rd:5")
def trans_FP16_2misc(ctx, a):
    return gen_fp16_2misc(ctx, a.U, a.a, a.opcode, qofs(a.rd), qofs(a.rn), _oprsz(a.Q), False)


@A64.pattern("01 U:1 11110 a:1 111100 opcode:5 10 rn:5 rd:5")
def trans_FP16_scalar_2misc(ctx, a):
    return gen_fp16_2misc(ctx, a.U, a.a, a.opcode, qofs(a.rd), qofs(a.rn), 2, True)


# -- by element ------------------------------------------------------------------------------

def _by_elem(ctx, U: int, opcode: int, d: int, n: int, rm: int, index: int, oprsz: int) -> bool:
    """fmla/fmls/fmul (U=0) and fmulx (U=1) by element v0..v15.h[index]."""
    if opcode not in (0b0001, 0b0101, 0b1001) or (U and opcode != 0b1001):
        return False
    gen_by_elem_fp(ctx, opcode | U << 4, d, n, (rm, index), H, oprsz)
    return True


@A64.pattern("0 Q:1 U:1 01111 00 L:1 M:1 rm:4 opcode:4 H:1 0 rn:5 rd:5")
def trans_FP16_by_elem(ctx, a):
    return _by_elem(ctx, a.U, a.opcode, qofs(a.rd), qofs(a.rn), a.rm, a.H << 2 | a.L << 1 | a.M,
                    _oprsz(a.Q))


@A64.pattern("01 U:1 11111 00 L:1 M:1 rm:4 opcode:4 H:1 0 rn:5 rd:5")
def trans_FP16_scalar_by_elem(ctx, a):
    return _by_elem(ctx, a.U, a.opcode, qofs(a.rd), qofs(a.rn), a.rm, a.H << 2 | a.L << 1 | a.M, 2)


# -- across lanes and pairwise ------------------------------------------------------------------

@A64.pattern("0 Q:1 0 01110 a:1 0 11000 opcode:5 10 rn:5 rd:5")
def trans_FP16_across(ctx, a):
    """fmaxnmv/fminnmv/fmaxv/fminv on .4h/.8h: FPReduce combines neighbours,
    then neighbouring results: log2(lanes) pairwise steps."""
    if a.opcode not in (0b01100, 0b01111):
        return False
    kind = FP_PAIRWISE[(a.opcode, a.a)]
    src, width = qofs(a.rn), _oprsz(a.Q)
    stage = VTMP
    while width > 4:
        gen_fp(ctx, kind, stage, src, src, H, width)
        src, width, stage = stage, width // 2, stage + 16
    gen_fp(ctx, kind, qofs(a.rd), src, src + 2, H, 2)
    return True


@A64.pattern("01 0 11110 a:1 0 11000 opcode:5 10 rn:5 rd:5")
def trans_FP16_pairwise_scalar(ctx, a):
    """faddp/fmaxp/fminp/fmaxnmp/fminnmp h, v.2h: the two low lanes of rn."""
    kind = FP_PAIRWISE.get((a.opcode, a.a))
    if kind is None:
        return False
    n = qofs(a.rn)
    gen_fp(ctx, kind, qofs(a.rd), n, n + 2, H, 2)


# -- fixed-point conversions (shift by immediate with immh = 001x) ----------------------------------

def _fixed(ctx, U: int, opcode: int, d: int, n: int, immhb: int, oprsz: int) -> bool:
    fbits = 32 - immhb
    if opcode == 0b11100:                               # scvtf / ucvtf
        gen_fp(ctx, VecOp.cvtf, d, n, 0, H, oprsz, H | (4 if U else 0) | fbits << 8)
    elif opcode == 0b11111:                             # fcvtzs / fcvtzu
        gen_fp(ctx, VecOp.fcvti, d, n, 0, H, oprsz, H | (4 if U else 0) | fp.RZ << 3 | fbits << 8)
    else:
        return False
    return True


@A64.pattern("0 Q:1 U:1 011110 001 immhb:4 opcode:5 1 rn:5 rd:5")
def trans_FP16_fixed(ctx, a):
    return _fixed(ctx, a.U, a.opcode, qofs(a.rd), qofs(a.rn), 0b0010000 | a.immhb, _oprsz(a.Q))


@A64.pattern("01 U:1 111110 001 immhb:4 opcode:5 1 rn:5 rd:5")
def trans_FP16_scalar_fixed(ctx, a):
    return _fixed(ctx, a.U, a.opcode, qofs(a.rd), qofs(a.rn), 0b0010000 | a.immhb, 2)


# -- fmov (vector, immediate) ------------------------------------------------------------------------

@A64.pattern("0 Q:1 0 0111100000 abc:3 1111 1 1 defgh:5 rd:5")
def trans_FMOV_v_imm_h(ctx, a):
    gen_vec(ctx, VecOp.dupx, qofs(a.rd), 0, 0, H, _oprsz(a.Q),
            x=ctx.b.const(vfp_expand_imm(a.abc << 5 | a.defgh, H)))
