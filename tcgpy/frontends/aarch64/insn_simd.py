"""A64 Advanced SIMD: three-same (integer, saturating, shifts, logic, FP),
three-different (widening/narrowing), by element, two-register misc (integer
and FP), across lanes, copy (dup/ins/umov/smov), modified immediate, shifts
by immediate, ext/zip/uzp/trn/tbl/tbx, the scalar forms of these, AES,
SHA-1/SHA-256 and CRC32.

Each form is one vec op (tcgpy.frontends.aarch64.vecsem) on the register file in env, or a
few; saturating forms accumulate FPSR.QC, FP forms FPSR's exception flags.
FEAT_RDM (sqrdmlah/sqrdmlsh) is here too; FEAT_FP16 arithmetic is in
insn_fp16.  Not implemented: the optional dot products (FEAT_DotProd) and
the later extensions (SHA-3, SHA-512, SM3/SM4, complex numbers).
"""
from __future__ import annotations

from ...ir import helpers
from . import fpsem as fp
from ...ir.ops import MemOp, Op
from .vecsem import VecOp
from . import crc32  # noqa: F401  (registers the crc32 helper trans_CRC32 calls)
from .decode import A64
from .vreg import (VTMP, gen_fp, gen_to_high_half, gen_vec, qofs, read_v, write_v_elem,
                   write_v_scalar, zero_tmp)

# -- three same ---------------------------------------------------------------------

# (U, opcode) -> (VecOp, lane sizes allowed; a 64-bit lane also needs Q=1)
THREE_SAME = {
    (0, 0b10000): (VecOp.add, 0b1111), (1, 0b10000): (VecOp.sub, 0b1111),
    (0, 0b10011): (VecOp.mul, 0b0111),
    (0, 0b00110): (VecOp.cmgt, 0b1111), (1, 0b00110): (VecOp.cmhi, 0b1111),
    (0, 0b00111): (VecOp.cmge, 0b1111), (1, 0b00111): (VecOp.cmhs, 0b1111),
    (0, 0b10001): (VecOp.cmtst, 0b1111), (1, 0b10001): (VecOp.cmeq, 0b1111),
    (0, 0b01100): (VecOp.smax, 0b0111), (1, 0b01100): (VecOp.umax, 0b0111),
    (0, 0b01101): (VecOp.smin, 0b0111), (1, 0b01101): (VecOp.umin, 0b0111),
    (0, 0b10111): (VecOp.addp, 0b1111),
    (0, 0b10100): (VecOp.smaxp, 0b0111), (1, 0b10100): (VecOp.umaxp, 0b0111),
    (0, 0b10101): (VecOp.sminp, 0b0111), (1, 0b10101): (VecOp.uminp, 0b0111),
}

# (U, opcode) -> (VecOp, sizes, imm (None: bit 0 = signed = not U), saturating:
# the extra imm bits, or None when the operation cannot saturate)
THREE_SAME_X = {
    (0, 0b00000): (VecOp.hadd, 0b0111, 1, None), (1, 0b00000): (VecOp.hadd, 0b0111, 0, None),
    (0, 0b00010): (VecOp.hadd, 0b0111, 3, None), (1, 0b00010): (VecOp.hadd, 0b0111, 2, None),
    (0, 0b00100): (VecOp.hsub, 0b0111, 1, None), (1, 0b00100): (VecOp.hsub, 0b0111, 0, None),
    (0, 0b00001): (VecOp.qadd, 0b1111, 1, 0), (1, 0b00001): (VecOp.qadd, 0b1111, 0, 0),
    (0, 0b00101): (VecOp.qsub, 0b1111, 1, 0), (1, 0b00101): (VecOp.qsub, 0b1111, 0, 0),
    (0, 0b01000): (VecOp.shl, 0b1111, 1, None), (1, 0b01000): (VecOp.shl, 0b1111, 0, None),
    (0, 0b01001): (VecOp.shl, 0b1111, 1, 4), (1, 0b01001): (VecOp.shl, 0b1111, 0, 4),
    (0, 0b01010): (VecOp.shl, 0b1111, 3, None), (1, 0b01010): (VecOp.shl, 0b1111, 2, None),
    (0, 0b01011): (VecOp.shl, 0b1111, 3, 4), (1, 0b01011): (VecOp.shl, 0b1111, 2, 4),
    (0, 0b01110): (VecOp.abd, 0b0111, 1, None), (1, 0b01110): (VecOp.abd, 0b0111, 0, None),
    (0, 0b01111): (VecOp.abd, 0b0111, 3, None), (1, 0b01111): (VecOp.abd, 0b0111, 2, None),
    (0, 0b10010): (VecOp.mla, 0b0111, 0, None), (1, 0b10010): (VecOp.mla, 0b0111, 2, None),
    (1, 0b10011): (VecOp.pmul, 0b0001, 0, None),
    (0, 0b10110): (VecOp.qdmulh, 0b0110, 1, 0), (1, 0b10110): (VecOp.qdmulh, 0b0110, 3, 0),
}

QC_BIT = 1 << 27


def gen_qc(ctx, st) -> None:
    """Saturation (status bit 27) sets the sticky FPSR.QC."""
    g = ctx.g
    ctx.b.mov(g["fpsr"], ctx.b.or_(g["fpsr"], ctx.b.and_(st, QC_BIT)))


# (U, size) of opcode 00011: the bitwise operations
LOGIC = {(0, 0): VecOp.and_, (0, 1): VecOp.bic, (0, 2): VecOp.orr, (0, 3): VecOp.orn,
         (1, 0): VecOp.eor}

# (U, size >> 1, opcode) of the single/double FP three-same forms
FP_THREE_SAME = {
    (0, 0, 0b11010): VecOp.fadd, (0, 1, 0b11010): VecOp.fsub, (1, 0, 0b11011): VecOp.fmul,
    (1, 0, 0b11111): VecOp.fdiv, (0, 0, 0b11110): VecOp.fmax, (0, 1, 0b11110): VecOp.fmin,
    (0, 0, 0b11000): VecOp.fmaxnm, (0, 1, 0b11000): VecOp.fminnm,
    (1, 1, 0b11010): VecOp.fabd, (1, 0, 0b11010): VecOp.faddp, (1, 0, 0b11110): VecOp.fmaxp,
    (1, 1, 0b11110): VecOp.fminp, (1, 0, 0b11000): VecOp.fmaxnmp, (1, 1, 0b11000): VecOp.fminnmp,
    (0, 0, 0b11100): VecOp.fcmeq, (1, 0, 0b11100): VecOp.fcmge, (1, 1, 0b11100): VecOp.fcmgt,
    (1, 0, 0b11101): VecOp.facge, (1, 1, 0b11101): VecOp.facgt,
    (0, 0, 0b11011): VecOp.fmulx, (0, 0, 0b11111): VecOp.frecps, (0, 1, 0b11111): VecOp.frsqrts,
}


@A64.pattern("0 Q:1 U:1 01110 size:2 1 rm:5 opcode:5 1 rn:5 rd:5")
def trans_SIMD_3same(ctx, a):
    oprsz = 16 if a.Q else 8
    d, n, m = qofs(a.rd), qofs(a.rn), qofs(a.rm)
    if a.opcode == 0b00011:
        if a.U and a.size:                  # bsl / bit / bif: (x & c) | (y & ~c)
            x, y, c = {1: (n, m, d), 2: (n, d, m), 3: (d, n, m)}[a.size]
            gen_vec(ctx, VecOp.bsl, d, x, y, 0, oprsz, imm=c)
        else:
            gen_vec(ctx, LOGIC[(a.U, a.size)], d, n, m, 0, oprsz)
        return True
    if a.opcode >= 0b11000:
        esz = 2 + (a.size & 1)
        if esz == 3 and not a.Q:
            return False
        if a.opcode == 0b11001 and not a.U:          # fmla / fmls: d +- n*m, fused
            gen_fp(ctx, VecOp.fmla, d, n, m, esz, oprsz, imm=d | (0x1000 if a.size >> 1 else 0))
            return True
        kind = FP_THREE_SAME.get((a.U, a.size >> 1, a.opcode))
        if kind is None:
            return False
        gen_fp(ctx, kind, d, n, m, esz, oprsz)
        return True
    row = THREE_SAME.get((a.U, a.opcode))
    if row is None:
        row = THREE_SAME_X.get((a.U, a.opcode))
        if row is None or not row[1] >> a.size & 1 or (a.size == 3 and not a.Q):
            return False
        kind, _, imm, qc = row
        if imm is None:                        # signedness from U
            imm = 0 if a.U else 1
        st = gen_vec(ctx, kind, d, n, m, a.size, oprsz, imm | (0 if qc is None else qc))
        if qc is not None:
            gen_qc(ctx, st)
        return True
    if not row[1] >> a.size & 1 or (a.size == 3 and not a.Q):
        return False
    gen_vec(ctx, row[0], d, n, m, a.size, oprsz)


@A64.pattern("0 Q:1 1 01110 size:2 0 rm:5 1 000 S:1 1 rn:5 rd:5")
def trans_SQRDMLAH_vector(ctx, a):
    """sqrdmlah/sqrdmlsh (FEAT_RDM; three same extra)."""
    if a.size not in (1, 2):
        return False
    gen_qc(ctx, gen_vec(ctx, VecOp.qrdmlah, qofs(a.rd), qofs(a.rn), qofs(a.rm), a.size, 16 if a.Q else 8,
                        a.S << 1))


@A64.pattern("01 1 11110 size:2 0 rm:5 1 000 S:1 1 rn:5 rd:5")
def trans_SQRDMLAH_scalar(ctx, a):
    if a.size not in (1, 2):
        return False
    gen_qc(ctx, gen_vec(ctx, VecOp.qrdmlah, qofs(a.rd), qofs(a.rn), qofs(a.rm), a.size, 1 << a.size, a.S << 1))


# Scalar three same on d registers: add/sub and the compares.
SCALAR_THREE_SAME = {k: v[0] for k, v in THREE_SAME.items()
                     if v[0] in (VecOp.add, VecOp.sub, VecOp.cmgt, VecOp.cmhi, VecOp.cmge,
                                 VecOp.cmhs, VecOp.cmtst, VecOp.cmeq)}


@A64.pattern("01 U:1 11110 11 1 rm:5 opcode:5 1 rn:5 rd:5")
def trans_SIMD_scalar_3same(ctx, a):
    kind = SCALAR_THREE_SAME.get((a.U, a.opcode))
    if kind is None:
        return False
    gen_vec(ctx, kind, qofs(a.rd), qofs(a.rn), qofs(a.rm), 3, 8)


# -- two-register misc ------------------------------------------------------------------

# (U, opcode) -> (VecOp, sizes, zero is the first operand / second operand / none)
CMP_ZERO = {(0, 0b01001): (VecOp.cmeq, False), (1, 0b01001): (VecOp.cmge, True),
            (0, 0b01000): (VecOp.cmgt, False), (1, 0b01000): (VecOp.cmge, False),
            (0, 0b01010): (VecOp.cmgt, True)}
UNARY = {(1, 0b01011): (VecOp.neg, 0b1111), (0, 0b01011): (VecOp.abs_, 0b1111),
         (1, 0b00100): (VecOp.clz, 0b0111)}
REV = {(0, 0b00000): 3, (1, 0b00000): 2, (0, 0b00001): 1}     # rev64, rev32, rev16: container


def gen_cmp_zero(ctx, kind, swap, d, n, esz, oprsz) -> None:
    z = zero_tmp(ctx)
    gen_vec(ctx, kind, d, z if swap else n, n if swap else z, esz, oprsz)


@A64.pattern("0 Q:1 U:1 01110 size:2 10000 opcode:5 10 rn:5 rd:5")
def trans_SIMD_2misc(ctx, a):
    oprsz = 16 if a.Q else 8
    d, n = qofs(a.rd), qofs(a.rn)
    key = (a.U, a.opcode)
    if key in CMP_ZERO:
        if a.size == 3 and not a.Q:
            return False
        kind, swap = CMP_ZERO[key]
        gen_cmp_zero(ctx, kind, swap, d, n, a.size, oprsz)
    elif key in UNARY:
        kind, sizes = UNARY[key]
        if not sizes >> a.size & 1 or (a.size == 3 and not a.Q):
            return False
        gen_vec(ctx, kind, d, n, 0, a.size, oprsz)
    elif a.opcode == 0b00101 and a.size == 0:           # cnt / not
        gen_vec(ctx, VecOp.not_ if a.U else VecOp.cnt, d, n, 0, 0, oprsz)
    elif key in REV:
        if a.size >= REV[key]:
            return False
        gen_vec(ctx, VecOp.rev, d, n, 0, a.size, oprsz, imm=REV[key])
    elif key == (0, 0b10010):                           # xtn, xtn2
        if a.size == 3:
            return False
        gen_narrow(ctx, a.Q, a.rd, n, a.size, 0)
    elif key in SQXTN:                                  # sqxtn, uqxtn, sqxtun
        if a.size == 3:
            return False
        gen_qc(ctx, gen_narrow_op(ctx, a.Q, a.rd, VecOp.qshrn, n, 0, a.size, SQXTN[key]))
    elif key == (1, 0b00101) and a.size == 1:            # rbit
        gen_vec(ctx, VecOp.rbit, d, n, 0, 0, oprsz)
    elif key == (0, 0b00100):                           # cls
        if a.size == 3:
            return False
        gen_vec(ctx, VecOp.cls, d, n, 0, a.size, oprsz)
    elif a.opcode in (0b00010, 0b00110):                # [su]addlp, [su]adalp
        if a.size == 3:
            return False
        gen_vec(ctx, VecOp.addlp, d, n, 0, a.size, oprsz,
                (0 if a.U else 1) | (2 if a.opcode == 0b00110 else 0))
    elif a.opcode == 0b00111:                           # sqabs, sqneg
        if a.size == 3 and not a.Q:
            return False
        gen_qc(ctx, gen_vec(ctx, VecOp.qabs, d, n, 0, a.size, oprsz, 2 if a.U else 0))
    elif a.opcode == 0b00011:                           # suqadd, usqadd
        if a.size == 3 and not a.Q:
            return False
        gen_qc(ctx, gen_vec(ctx, VecOp.uqacc, d, n, 0, a.size, oprsz, 0 if a.U else 1))
    elif key == (1, 0b10011):                           # shll, shll2: shift by the lane size
        if a.size == 3:
            return False
        gen_vec(ctx, VecOp.ushll, d, n + (8 if a.Q else 0), 0, a.size, 16, 8 << a.size)
    elif a.opcode >= 0b01100:
        return gen_fp_2misc(ctx, a, d, n, oprsz)
    else:
        return False


SQXTN = {(0, 0b10100): 0x180, (1, 0b10100): 0, (1, 0b10010): 0x80}

# (U, size >> 1, opcode) -> (VecOp, imm) of the FP two-register misc forms;
# imm None: fcvt to integer with the given rounding mode
FP_2MISC = {
    (0, 1, 0b01111): (VecOp.fabs, 0), (1, 1, 0b01111): (VecOp.fneg, 0),
    (1, 1, 0b11111): (VecOp.fsqrt, 0),
    (0, 0, 0b11000): (VecOp.frint, fp.RN), (0, 1, 0b11000): (VecOp.frint, fp.RP),
    (0, 0, 0b11001): (VecOp.frint, fp.RM), (0, 1, 0b11001): (VecOp.frint, fp.RZ),
    (1, 0, 0b11000): (VecOp.frint, fp.RA), (1, 0, 0b11001): (VecOp.frint, 7 | 8),
    (1, 1, 0b11001): (VecOp.frint, 7),
    (0, 0, 0b11101): (VecOp.cvtf, 0), (1, 0, 0b11101): (VecOp.cvtf, 4),
    (0, 0, 0b11010): (VecOp.fcvti, fp.RN << 3), (1, 0, 0b11010): (VecOp.fcvti, 4 | fp.RN << 3),
    (0, 1, 0b11010): (VecOp.fcvti, fp.RP << 3), (1, 1, 0b11010): (VecOp.fcvti, 4 | fp.RP << 3),
    (0, 0, 0b11011): (VecOp.fcvti, fp.RM << 3), (1, 0, 0b11011): (VecOp.fcvti, 4 | fp.RM << 3),
    (0, 1, 0b11011): (VecOp.fcvti, fp.RZ << 3), (1, 1, 0b11011): (VecOp.fcvti, 4 | fp.RZ << 3),
    (0, 0, 0b11100): (VecOp.fcvti, fp.RA << 3), (1, 0, 0b11100): (VecOp.fcvti, 4 | fp.RA << 3),
    (0, 1, 0b11101): (VecOp.frecpe, 0), (1, 1, 0b11101): (VecOp.frsqrte, 0),
}
# (U, opcode) of the FP compares with zero -> (VecOp, zero first)
FP_CMP_ZERO = {(0, 0b01100): (VecOp.fcmgt, False), (1, 0b01100): (VecOp.fcmge, False),
               (0, 0b01101): (VecOp.fcmeq, False), (1, 0b01101): (VecOp.fcmge, True),
               (0, 0b01110): (VecOp.fcmgt, True)}


def gen_fp_2misc(ctx, a, d: int, n: int, oprsz: int) -> bool:
    esz = 2 + (a.size & 1)
    if a.opcode == 0b10110 and a.U:                     # fcvtxn(2): d -> s, rounding to odd
        if a.size != 1:
            return False
        gen_narrow_op(ctx, a.Q, a.rd, VecOp.fcvtxn, n, 0, 2, 0, fp=True)
        return True
    if a.opcode == 0b11100 and a.size == 2:             # urecpe, ursqrte (32-bit lanes)
        gen_vec(ctx, VecOp.urecpe, d, n, 0, 2, oprsz, a.U)
        return True
    if a.opcode in (0b10110, 0b10111) and not a.U:      # fcvtn(2) / fcvtl(2): s <-> d, h <-> s
        if a.size > 1:
            return False
        narrow = 1 + a.size
        if a.opcode == 0b10111:
            gen_fp(ctx, VecOp.fcvtl, d, n + (8 if a.Q else 0), 0, narrow, 16)
        else:
            gen_fp_narrow(ctx, a.Q, a.rd, n, narrow)
        return True
    if esz == 3 and not a.Q:
        return False
    if a.size >> 1 and (a.U, a.opcode) in FP_CMP_ZERO:
        kind, swap = FP_CMP_ZERO[(a.U, a.opcode)]
        z = zero_tmp(ctx)
        gen_fp(ctx, kind, d, z if swap else n, n if swap else z, esz, oprsz)
        return True
    row = FP_2MISC.get((a.U, a.size >> 1, a.opcode))
    if row is None:
        return False
    kind, imm = row
    if kind in (VecOp.cvtf, VecOp.fcvti):
        imm |= esz
    if kind in (VecOp.fabs, VecOp.fneg):
        gen_vec(ctx, kind, d, n, 0, esz, oprsz)
    else:
        gen_fp(ctx, kind, d, n, 0, esz, oprsz, imm)
    return True


def gen_fp_narrow(ctx, q: int, rd: int, n: int, esz: int) -> None:
    if q:
        gen_fp(ctx, VecOp.fcvtn, VTMP, n, 0, esz, 8)
        gen_to_high_half(ctx, rd, VTMP)
    else:
        gen_fp(ctx, VecOp.fcvtn, qofs(rd), n, 0, esz, 8)


@A64.pattern("01 U:1 11110 11 10000 opcode:5 10 rn:5 rd:5")
def trans_SIMD_scalar_2misc(ctx, a):
    key = (a.U, a.opcode)
    d, n = qofs(a.rd), qofs(a.rn)
    if key in CMP_ZERO:
        kind, swap = CMP_ZERO[key]
        gen_cmp_zero(ctx, kind, swap, d, n, 3, 8)
    elif key in ((1, 0b01011), (0, 0b01011)):
        gen_vec(ctx, UNARY[key][0], d, n, 0, 3, 8)
    else:
        return False


def gen_narrow(ctx, q: int, rd: int, src: int, esz: int, shift: int) -> None:
    """xtn/shrn (q=0: low half, upper zeroed) and xtn2/shrn2 (q=1: upper half)."""
    if q:
        gen_vec(ctx, VecOp.shrn, VTMP, src, 0, esz, 8, imm=shift)
        gen_to_high_half(ctx, rd, VTMP)
    else:
        gen_vec(ctx, VecOp.shrn, qofs(rd), src, 0, esz, 8, imm=shift)


# -- three different (widening and narrowing) --------------------------------------------------

# opcode -> (VecOp, imm, form): form "l" both sources narrow, "w" a wide,
# "hn" narrowing result.  imm bit 0 (signed) is added from U where it matters.
THREE_DIFF = {
    0b0000: (VecOp.addl, 0, "l"), 0b0001: (VecOp.addw, 0, "w"), 0b0010: (VecOp.subl, 0, "l"),
    0b0011: (VecOp.subw, 0, "w"), 0b0100: (VecOp.addhn, 0, "hn"), 0b0110: (VecOp.subhn, 0, "hn"),
    0b0101: (VecOp.abdl, 2, "l"), 0b0111: (VecOp.abdl, 0, "l"), 0b1000: (VecOp.mlal, 0, "l"),
    0b1010: (VecOp.mlal, 2, "l"), 0b1100: (VecOp.mull, 0, "l"), 0b1110: (VecOp.pmull, 0, "l"),
}
# opcode -> imm of sqdmlal, sqdmlsl, sqdmull (U=0, h and s lanes; also scalar)
QDMLAL = {0b1001: 2, 0b1011: 4, 0b1101: 0}


@A64.pattern("0 Q:1 U:1 01110 size:2 1 rm:5 opcode:4 00 rn:5 rd:5")
def trans_SIMD_3diff(ctx, a):
    if a.opcode in QDMLAL:
        if a.U or a.size not in (1, 2):
            return False
        hi = 8 if a.Q else 0
        gen_qc(ctx, gen_vec(ctx, VecOp.qdmlal, qofs(a.rd), qofs(a.rn) + hi, qofs(a.rm) + hi, a.size, 8,
                            QDMLAL[a.opcode]))
        return True
    row = THREE_DIFF.get(a.opcode)
    if row is None:
        return False
    kind, imm, form = row
    if kind is VecOp.pmull:
        if a.U or a.size not in (0, 3):
            return False
    elif a.size == 3:
        return False
    hi = 8 if a.Q else 0
    n, m = qofs(a.rn), qofs(a.rm)
    if form == "hn":
        gen_narrow_op(ctx, a.Q, a.rd, kind, n, m, a.size, imm | (2 if a.U else 0))
        return True
    imm |= 0 if a.U else 1
    gen_vec(ctx, kind, qofs(a.rd), n + (0 if form == "w" else hi), m + hi, a.size, 16, imm)


@A64.pattern("01 U:1 11110 size:2 1 rm:5 opcode:4 00 rn:5 rd:5")
def trans_SIMD_scalar_3diff(ctx, a):
    """sqdmlal, sqdmlsl, sqdmull (scalar): s <- h*h, d <- s*s."""
    if a.U or a.opcode not in QDMLAL or a.size not in (1, 2):
        return False
    gen_qc(ctx, gen_vec(ctx, VecOp.qdmlal, qofs(a.rd), qofs(a.rn), qofs(a.rm), a.size, 1 << a.size,
                        QDMLAL[a.opcode]))


def gen_narrow_op(ctx, q: int, rd: int, kind, a: int, b: int, esz: int, imm: int, fp: bool = False):
    """A narrowing vec op (8-byte result): into rd's low half, upper zeroed,
    or for the '2' forms into its upper half, lower kept.  Returns the status.
    ``fp``: a floating-point operation (FPCR in, FPSR flags out)."""
    gen = gen_fp if fp else gen_vec
    if q:
        st = gen(ctx, kind, VTMP, a, b, esz, 8, imm)
        gen_to_high_half(ctx, rd, VTMP)
        return st
    return gen(ctx, kind, qofs(rd), a, b, esz, 8, imm)


# -- by element ---------------------------------------------------------------------------------
# The element is first replicated into the scratch area, then the ordinary
# vector operation runs with it as its second operand.

# (U, opcode) -> (VecOp, imm, form): "s" same width, "l" widening, "q" saturating
BY_ELEM_INT = {
    (0, 0b1000): (VecOp.mul, 0, "s"), (1, 0b0000): (VecOp.mla, 0, "s"), (1, 0b0100): (VecOp.mla, 2, "s"),
    (0, 0b0010): (VecOp.mlal, 1, "l"), (1, 0b0010): (VecOp.mlal, 0, "l"),
    (0, 0b0110): (VecOp.mlal, 3, "l"), (1, 0b0110): (VecOp.mlal, 2, "l"),
    (0, 0b1010): (VecOp.mull, 1, "l"), (1, 0b1010): (VecOp.mull, 0, "l"),
    (0, 0b1100): (VecOp.qdmulh, 1, "q"), (0, 0b1101): (VecOp.qdmulh, 3, "q"),
    (0, 0b0011): (VecOp.qdmlal, 2, "ql"), (0, 0b0111): (VecOp.qdmlal, 4, "ql"),
    (0, 0b1011): (VecOp.qdmlal, 0, "ql"),
    (1, 0b1101): (VecOp.qrdmlah, 0, "q"), (1, 0b1111): (VecOp.qrdmlah, 2, "q"),     # FEAT_RDM
}


def _elem_index(size: int, H: int, L: int, M: int, rm: int) -> tuple[int, int] | None:
    """(register, index) of the by-element operand, or None if unallocated."""
    if size == 1:
        return rm, H << 2 | L << 1 | M
    if size == 2:
        return M << 4 | rm, H << 1 | L
    if size == 3 and not L:
        return M << 4 | rm, H
    return None


@A64.pattern("0 Q:1 U:1 01111 size:2 L:1 M:1 rm:4 opcode:4 H:1 0 rn:5 rd:5")
def trans_SIMD_by_elem(ctx, a):
    d, n = qofs(a.rd), qofs(a.rn)
    oprsz = 16 if a.Q else 8
    if a.opcode in (0b0001, 0b0101, 0b1001) and a.size >> 1:          # fmla, fmls, fmul
        if a.U and a.opcode != 0b1001:             # U=1 is fmulx only
            return False
        esz = 2 + (a.size & 1)
        el = _elem_index(esz, a.H, a.L, a.M, a.rm)
        if el is None or (esz == 3 and not a.Q):
            return False
        gen_by_elem_fp(ctx, a.opcode | a.U << 4, d, n, el, esz, oprsz)
        return True
    row = BY_ELEM_INT.get((a.U, a.opcode))
    if row is None or a.size not in (1, 2):
        return False
    kind, imm, form = row
    rm, index = _elem_index(a.size, a.H, a.L, a.M, a.rm)
    tmp = VTMP + 64
    gen_vec(ctx, VecOp.dupe, tmp, qofs(rm), 0, a.size, 16, imm=index)
    if form == "l":
        gen_vec(ctx, kind, d, n + (8 if a.Q else 0), tmp, a.size, 16, imm)
    elif form == "ql":
        gen_qc(ctx, gen_vec(ctx, kind, d, n + (8 if a.Q else 0), tmp, a.size, 8, imm))
    else:
        st = gen_vec(ctx, kind, d, n, tmp, a.size, oprsz, imm)
        if form == "q":
            gen_qc(ctx, st)


def gen_by_elem_fp(ctx, opcode: int, d: int, n: int, el, esz: int, oprsz: int) -> None:
    rm, index = el
    tmp = VTMP + 64
    gen_vec(ctx, VecOp.dupe, tmp, qofs(rm), 0, esz, 16, imm=index)
    if opcode & 0xF == 0b1001:                      # fmul, fmulx (opcode | U << 4)
        gen_fp(ctx, VecOp.fmulx if opcode >> 4 else VecOp.fmul, d, n, tmp, esz, oprsz)
    else:
        gen_fp(ctx, VecOp.fmla, d, n, tmp, esz, oprsz, imm=d | (0x1000 if opcode == 0b0101 else 0))


@A64.pattern("01 U:1 11111 1 sz:1 L:1 M:1 rm:4 opcode:4 H:1 0 rn:5 rd:5")
def trans_FP_scalar_by_elem(ctx, a):
    """fmla/fmls/fmul/fmulx (scalar, by element)."""
    if a.opcode not in (0b0001, 0b0101, 0b1001) or (a.U and a.opcode != 0b1001):
        return False
    esz = 2 + a.sz
    el = _elem_index(esz, a.H, a.L, a.M, a.rm)
    if el is None:
        return False
    gen_by_elem_fp(ctx, a.opcode | a.U << 4, qofs(a.rd), qofs(a.rn), el, esz, 1 << esz)


@A64.pattern("01 U:1 11111 size:2 L:1 M:1 rm:4 opcode:4 H:1 0 rn:5 rd:5")
def trans_SIMD_scalar_by_elem(ctx, a):
    """sqdmlal/sqdmlsl/sqdmull, sqdmulh/sqrdmulh, sqrdmlah/sqrdmlsh (scalar, by element)."""
    row = BY_ELEM_INT.get((a.U, a.opcode))
    if row is None or row[2] not in ("q", "ql") or a.size not in (1, 2):
        return False
    kind, imm, _ = row
    rm, index = _elem_index(a.size, a.H, a.L, a.M, a.rm)
    tmp = VTMP + 64
    gen_vec(ctx, VecOp.dupe, tmp, qofs(rm), 0, a.size, 16, imm=index)
    gen_qc(ctx, gen_vec(ctx, kind, qofs(a.rd), qofs(a.rn), tmp, a.size, 1 << a.size, imm))


# -- SHA-1 / SHA-256 -----------------------------------------------------------------------------

@A64.pattern("01011110 00 0 rm:5 0 opcode:3 00 rn:5 rd:5")
def trans_SHA_3reg(ctx, a):
    if a.opcode == 7:
        return False
    gen_vec(ctx, VecOp.sha, qofs(a.rd), qofs(a.rn), qofs(a.rm), 0, 16, a.opcode)


@A64.pattern("01011110 00 10100 opcode:5 10 rn:5 rd:5")
def trans_SHA_2reg(ctx, a):
    if a.opcode > 2:
        return False
    gen_vec(ctx, VecOp.sha, qofs(a.rd), qofs(a.rn), 0, 0, 16, 7 + a.opcode)


# -- AES -------------------------------------------------------------------------------------

@A64.pattern("01001110 00 10100 0010 D:1 10 rn:5 rd:5")
def trans_AESE_AESD(ctx, a):
    gen_vec(ctx, VecOp.aese, qofs(a.rd), qofs(a.rd), qofs(a.rn), 0, 16, a.D)


@A64.pattern("01001110 00 10100 0011 D:1 10 rn:5 rd:5")
def trans_AESMC(ctx, a):
    gen_vec(ctx, VecOp.aesmc, qofs(a.rd), qofs(a.rn), 0, 0, 16, a.D)


# -- across lanes -------------------------------------------------------------------------

ACROSS = {(0, 0b11011): VecOp.addv, (0, 0b01010): VecOp.smaxv, (1, 0b01010): VecOp.umaxv,
          (0, 0b11010): VecOp.sminv, (1, 0b11010): VecOp.uminv, (0, 0b00011): VecOp.saddlv,
          (1, 0b00011): VecOp.uaddlv}


@A64.pattern("0 Q:1 U:1 01110 size:2 11000 opcode:5 10 rn:5 rd:5")
def trans_SIMD_across(ctx, a):
    if a.U and a.opcode in (0b01100, 0b01111):          # fmaxnmv/fminnmv/fmaxv/fminv (.4s)
        if not a.Q or a.size & 1:
            return False
        kind = FP_PAIRWISE[(a.opcode, a.size >> 1)]
        # FPReduce pairs neighbours, then the pair results: two pairwise steps
        gen_fp(ctx, kind, VTMP, qofs(a.rn), qofs(a.rn), 2, 16)
        gen_fp(ctx, kind, qofs(a.rd), VTMP, VTMP + 4, 2, 4)
        return True
    kind = ACROSS.get((a.U, a.opcode))
    if kind is None or a.size == 3 or (a.size == 2 and not a.Q):
        return False
    gen_vec(ctx, kind, qofs(a.rd), qofs(a.rn), 0, a.size, 16 if a.Q else 8)


@A64.pattern("01 0 11110 11 11000 11011 10 rn:5 rd:5")
def trans_ADDP_scalar(ctx, a):
    gen_vec(ctx, VecOp.addv, qofs(a.rd), qofs(a.rn), 0, 3, 16)


# (opcode, size >> 1) of the FP pairwise reductions -> VecOp
FP_PAIRWISE = {(0b01100, 0): VecOp.fmaxnmp, (0b01100, 1): VecOp.fminnmp, (0b01111, 0): VecOp.fmaxp,
               (0b01111, 1): VecOp.fminp, (0b01101, 0): VecOp.faddp}


@A64.pattern("01 1 11110 size:2 11000 opcode:5 10 rn:5 rd:5")
def trans_FP_pairwise_scalar(ctx, a):
    """faddp/fmaxp/fminp/fmaxnmp/fminnmp (scalar): the two lanes of rn."""
    kind = FP_PAIRWISE.get((a.opcode, a.size >> 1))
    if kind is None:
        return False
    esz = 2 + (a.size & 1)
    n = qofs(a.rn)
    gen_fp(ctx, kind, qofs(a.rd), n, n + (1 << esz), esz, 1 << esz)


@A64.pattern("01 0 11110000 imm5:5 0 0000 1 rn:5 rd:5")
def trans_DUP_scalar(ctx, a):
    """mov b/h/s/d, v.t[i] (dup, scalar)."""
    if not a.imm5 & 15:
        return False
    esz = (a.imm5 & -a.imm5).bit_length() - 1
    index = a.imm5 >> (esz + 1)
    write_v_scalar(ctx, a.rd, read_v(ctx, a.rn, esz, index << esz), esz)


# Scalar three same, any size: the saturating and shift forms, and FP
# (U, opcode) -> (VecOp, sizes, imm (None: signed = not U), qc)
SCALAR_3SAME_X = {k: v for k, v in THREE_SAME_X.items()
                  if v[0] in (VecOp.qadd, VecOp.qsub, VecOp.shl, VecOp.qdmulh)}
# (U, size >> 1, opcode) -> VecOp
SCALAR_FP_3SAME = {(1, 1, 0b11010): VecOp.fabd, (0, 0, 0b11100): VecOp.fcmeq, (1, 0, 0b11100): VecOp.fcmge,
                   (1, 1, 0b11100): VecOp.fcmgt, (1, 0, 0b11101): VecOp.facge, (1, 1, 0b11101): VecOp.facgt,
                   (0, 0, 0b11011): VecOp.fmulx, (0, 0, 0b11111): VecOp.frecps,
                   (0, 1, 0b11111): VecOp.frsqrts}


@A64.pattern("01 U:1 11110 size:2 1 rm:5 opcode:5 1 rn:5 rd:5")
def trans_SIMD_scalar_3same_any(ctx, a):
    d, n, m = qofs(a.rd), qofs(a.rn), qofs(a.rm)
    if a.opcode >= 0b11000:
        kind = SCALAR_FP_3SAME.get((a.U, a.size >> 1, a.opcode))
        if kind is None:
            return False
        esz = 2 + (a.size & 1)
        gen_fp(ctx, kind, d, n, m, esz, 1 << esz)
        return True
    row = SCALAR_3SAME_X.get((a.U, a.opcode))
    if row is None or not row[1] >> a.size & 1:
        return False
    kind, _, imm, qc = row
    if kind is VecOp.shl and qc is None and a.size != 3:       # sshl/ushl/srshl/urshl: d only
        return False
    st = gen_vec(ctx, kind, d, n, m, a.size, 1 << a.size, imm | (0 if qc is None else qc))
    if qc is not None:
        gen_qc(ctx, st)


@A64.pattern("01 U:1 11110 size:2 10000 opcode:5 10 rn:5 rd:5")
def trans_SIMD_scalar_2misc_any(ctx, a):
    d, n = qofs(a.rd), qofs(a.rn)
    key = (a.U, a.opcode)
    if a.opcode == 0b00111:                                    # sqabs, sqneg
        gen_qc(ctx, gen_vec(ctx, VecOp.qabs, d, n, 0, a.size, 1 << a.size, 2 if a.U else 0))
    elif key in SQXTN:                                        # sqxtn, uqxtn, sqxtun (scalar)
        if a.size == 3:
            return False
        gen_scalar_qshrn(ctx, a.rd, a.rn, a.size, SQXTN[key])
    elif a.opcode == 0b00011:                                  # suqadd, usqadd (scalar)
        gen_qc(ctx, gen_vec(ctx, VecOp.uqacc, d, n, 0, a.size, 1 << a.size, 0 if a.U else 1))
    elif key == (1, 0b10110):                                  # fcvtxn (scalar): d -> s
        if a.size != 1:
            return False
        gen_fp(ctx, VecOp.fcvtxn, d, n, 0, 2, 4)
    elif key == (0, 0b11111) and a.size >> 1:                  # frecpx
        esz = 2 + (a.size & 1)
        gen_fp(ctx, VecOp.frecpx, d, n, 0, esz, 1 << esz)
    elif a.opcode >= 0b01100 and a.size >> 1 and key in FP_CMP_ZERO:
        kind, swap = FP_CMP_ZERO[key]
        esz = 2 + (a.size & 1)
        z = zero_tmp(ctx)
        gen_fp(ctx, kind, d, z if swap else n, n if swap else z, esz, 1 << esz)
    elif a.opcode >= 0b11000:
        row = FP_2MISC.get((a.U, a.size >> 1, a.opcode))
        if row is None or row[0] not in (VecOp.cvtf, VecOp.fcvti, VecOp.frecpe, VecOp.frsqrte):
            return False
        esz = 2 + (a.size & 1)
        imm = row[1] | esz if row[0] in (VecOp.cvtf, VecOp.fcvti) else 0
        gen_fp(ctx, row[0], d, n, 0, esz, 1 << esz, imm)
    else:
        return False


def gen_scalar_qshrn(ctx, rd: int, rn: int, esz: int, imm: int) -> None:
    """A saturating narrowing vec op (qshrn) on the scalar of 2*esz in rn:
    only that one element may saturate, so it is staged alone."""
    z = zero_tmp(ctx, 16)
    ctx.b.emit(Op.st_env, read_v(ctx, rn, esz + 1), consts=(z, MemOp.make(esz + 1)))
    gen_qc(ctx, gen_vec(ctx, VecOp.qshrn, VTMP + 16, z, 0, esz, 8, imm))
    v = ctx.b.new_local()
    ctx.b.emit(Op.ld_env, v, consts=(VTMP + 16, MemOp.make(esz)))
    write_v_scalar(ctx, rd, v, esz)


# (U, opcode) of the scalar shifts by immediate on d registers
SCALAR_SHIFT_D = {(0, 0b00000), (1, 0b00000), (0, 0b00010), (1, 0b00010), (0, 0b00100), (1, 0b00100),
                  (0, 0b00110), (1, 0b00110), (0, 0b01010), (1, 0b01000), (1, 0b01010)}


@A64.pattern("01 U:1 111110 immh:4 immb:3 opcode:5 1 rn:5 rd:5")
def trans_SIMD_scalar_shift_imm(ctx, a):
    if a.immh == 0:
        return False
    esz = a.immh.bit_length() - 1
    bits = 8 << esz
    immhb = a.immh << 3 | a.immb
    d, n = qofs(a.rd), qofs(a.rn)
    key = (a.U, a.opcode)
    if key in SCALAR_SHIFT_D:
        if esz != 3:
            return False
        right = 2 * bits - immhb
        if a.opcode == 0:
            gen_vec(ctx, VecOp.ushri if a.U else VecOp.sshri, d, n, 0, 3, 8, right)
        elif a.opcode in (0b00010, 0b00100, 0b00110):
            flags = {0b00010: 0x100, 0b00100: 0x200, 0b00110: 0x300}[a.opcode]
            gen_vec(ctx, VecOp.rshri, d, n, 0, 3, 8, right | flags | (0 if a.U else 0x80))
        elif key == (0, 0b01010):
            gen_vec(ctx, VecOp.shli, d, n, 0, 3, 8, immhb - bits)
        elif key == (1, 0b01000):
            gen_vec(ctx, VecOp.sri, d, n, 0, 3, 8, right)
        else:
            gen_vec(ctx, VecOp.sli, d, n, 0, 3, 8, immhb - bits)
    elif key in ((0, 0b01110), (1, 0b01110), (1, 0b01100)):   # sqshl, uqshl, sqshlu (scalar)
        sign = {(0, 0b01110): 0x180, (1, 0b01110): 0, (1, 0b01100): 0x80}[key]
        gen_qc(ctx, gen_vec(ctx, VecOp.qshli, d, n, 0, esz, 1 << esz, (immhb - bits) | sign))
    elif key in SQSHRN:                                       # sq[r]shr[u]n, uq[r]shrn (scalar)
        if esz == 3:
            return False
        gen_scalar_qshrn(ctx, a.rd, a.rn, esz, (2 * bits - immhb) | SQSHRN[key])
    elif a.opcode in (0b11100, 0b11111) and esz >= 2:         # [su]cvtf, fcvtz[su] (scalar, fixed)
        fbits = 2 * bits - immhb
        if a.opcode == 0b11100:
            gen_fp(ctx, VecOp.cvtf, d, n, 0, esz, 1 << esz, esz | (4 if a.U else 0) | fbits << 8)
        else:
            gen_fp(ctx, VecOp.fcvti, d, n, 0, esz, 1 << esz, esz | (4 if a.U else 0) | fp.RZ << 3 | fbits << 8)
    else:
        return False


# -- copy -----------------------------------------------------------------------------------

@A64.pattern("0 Q:1 op:1 01110000 imm5:5 0 imm4:4 1 rn:5 rd:5")
def trans_SIMD_copy(ctx, a):
    if not a.imm5 & 15:
        return False
    esz = (a.imm5 & -a.imm5).bit_length() - 1
    index = a.imm5 >> (esz + 1)
    d = qofs(a.rd)
    if a.op:
        if not a.Q:
            return False
        src = a.imm4 >> esz                                  # ins (element)
        write_v_elem(ctx, a.rd, read_v(ctx, a.rn, esz, src << esz), esz, index << esz)
        return True
    if a.imm4 == 0b0000:                                     # dup (element)
        if esz == 3 and not a.Q:
            return False
        gen_vec(ctx, VecOp.dupe, d, qofs(a.rn), 0, esz, 16 if a.Q else 8, imm=index)
    elif a.imm4 == 0b0001:                                   # dup (general)
        if esz == 3 and not a.Q:
            return False
        gen_vec(ctx, VecOp.dupx, d, 0, 0, esz, 16 if a.Q else 8, x=ctx.read_reg(a.rn))
    elif a.imm4 == 0b0011 and a.Q:                           # ins (general)
        write_v_elem(ctx, a.rd, ctx.read_reg(a.rn), esz, index << esz)
    elif a.imm4 in (0b0101, 0b0111):                         # smov / umov
        sign = a.imm4 == 0b0101
        if sign and (esz == 3 or esz == 2 and not a.Q):
            return False
        if not sign and (esz == 3) != bool(a.Q):
            return False
        v = read_v(ctx, a.rn, esz, index << esz, sign)
        ctx.write_reg(a.rd, v, a.Q)
    else:
        return False


# -- modified immediate --------------------------------------------------------------------

def adv_simd_expand_imm(op: int, cmode: int, imm8: int) -> int | None:
    """AdvSIMDExpandImm: the 64-bit pattern (None: unallocated/unsupported)."""
    c = cmode >> 1
    if c <= 3:
        return (imm8 << (8 * c)) * 0x0000_0001_0000_0001
    if c <= 5:
        return (imm8 << (8 * (c & 1))) * 0x0001_0001_0001_0001
    if c == 6:
        lane = (imm8 << 8 | 0xFF) if not cmode & 1 else (imm8 << 16 | 0xFFFF)
        return lane * 0x0000_0001_0000_0001
    if cmode == 0b1110:
        if not op:
            return imm8 * 0x0101_0101_0101_0101
        return sum(0xFF << (8 * i) for i in range(8) if imm8 >> i & 1)
    if not op:                                                 # fmov (vector, single)
        b6 = (imm8 >> 6) & 1
        lane = ((imm8 >> 7) << 31) | ((b6 ^ 1) << 30) | ((0x1F * b6) << 25) | ((imm8 & 0x3F) << 19)
        return lane * 0x0000_0001_0000_0001
    b6 = (imm8 >> 6) & 1                                       # fmov (vector, double)
    return ((imm8 >> 7) << 63) | ((b6 ^ 1) << 62) | ((0xFF * b6) << 54) | ((imm8 & 0x3F) << 48)


@A64.pattern("0 Q:1 op:1 0111100000 abc:3 cmode:4 0 1 defgh:5 rd:5")
def trans_SIMD_modimm(ctx, a):
    if a.cmode == 0b1111 and a.op and not a.Q:
        return False
    imm = adv_simd_expand_imm(a.op, a.cmode, a.abc << 5 | a.defgh)
    oprsz = 16 if a.Q else 8
    d = qofs(a.rd)
    shifted = a.cmode < 0b1100                       # the 32- and 16-bit shifted forms
    if shifted and a.cmode & 1:                      # orr / bic
        gen_vec(ctx, VecOp.bicx if a.op else VecOp.orrx, d, d, 0, 3, oprsz, x=imm)
        return True
    if a.op and a.cmode < 0b1110:                    # mvni
        imm = ~imm & ((1 << 64) - 1)
    gen_vec(ctx, VecOp.dupx, d, 0, 0, 3, oprsz, x=imm)


# -- shifts by immediate ---------------------------------------------------------------------

@A64.pattern("0 Q:1 U:1 011110 immh:4 immb:3 opcode:5 1 rn:5 rd:5")
def trans_SIMD_shift_imm(ctx, a):
    if a.immh == 0:
        return False
    esz = a.immh.bit_length() - 1
    bits = 8 << esz
    immhb = a.immh << 3 | a.immb
    oprsz = 16 if a.Q else 8
    d, n = qofs(a.rd), qofs(a.rn)
    key = (a.U, a.opcode)
    if key in ((0, 0), (1, 0), (0, 0b01010)):
        if esz == 3 and not a.Q:
            return False
        if a.opcode == 0:
            gen_vec(ctx, VecOp.ushri if a.U else VecOp.sshri, d, n, 0, esz, oprsz, 2 * bits - immhb)
        else:
            gen_vec(ctx, VecOp.shli, d, n, 0, esz, oprsz, immhb - bits)
    elif a.opcode in (0b00010, 0b00100, 0b00110):    # [su]sra, [su]rshr, [su]rsra
        if esz == 3 and not a.Q:
            return False
        flags = {0b00010: 0x100, 0b00100: 0x200, 0b00110: 0x300}[a.opcode]
        gen_vec(ctx, VecOp.rshri, d, n, 0, esz, oprsz, (2 * bits - immhb) | flags | (0 if a.U else 0x80))
    elif key in ((1, 0b01000), (1, 0b01010)):        # sri, sli
        if esz == 3 and not a.Q:
            return False
        sri = a.opcode == 0b01000
        gen_vec(ctx, VecOp.sri if sri else VecOp.sli, d, n, 0, esz, oprsz,
                2 * bits - immhb if sri else immhb - bits)
    elif key in ((0, 0b01110), (1, 0b01110), (1, 0b01100)):   # sqshl, uqshl, sqshlu
        if esz == 3 and not a.Q:
            return False
        sign = {(0, 0b01110): 0x180, (1, 0b01110): 0, (1, 0b01100): 0x80}[key]
        gen_qc(ctx, gen_vec(ctx, VecOp.qshli, d, n, 0, esz, oprsz, (immhb - bits) | sign))
    elif key in ((0, 0b10000), (0, 0b10001)):        # shrn(2), rshrn(2)
        if esz == 3:
            return False
        gen_narrow(ctx, a.Q, a.rd, n, esz, (2 * bits - immhb) | (0x100 if a.opcode & 1 else 0))
    elif key in SQSHRN:                              # saturating narrowing shifts
        if esz == 3:
            return False
        st = gen_narrow_op(ctx, a.Q, a.rd, VecOp.qshrn, n, 0, esz, (2 * bits - immhb) | SQSHRN[key])
        gen_qc(ctx, st)
    elif a.opcode in (0b11100, 0b11111) and esz >= 2:    # [su]cvtf, fcvtz[su] (vector, fixed point)
        if esz == 3 and not a.Q:
            return False
        fbits = 2 * bits - immhb
        if a.opcode == 0b11100:
            gen_fp(ctx, VecOp.cvtf, d, n, 0, esz, oprsz, esz | (4 if a.U else 0) | fbits << 8)
        else:
            gen_fp(ctx, VecOp.fcvti, d, n, 0, esz, oprsz,
                   esz | (4 if a.U else 0) | fp.RZ << 3 | fbits << 8)
    elif a.opcode == 0b10100:                        # sshll/ushll (sxtl/uxtl), and the '2' forms
        if esz == 3:
            return False
        gen_vec(ctx, VecOp.ushll if a.U else VecOp.sshll, d, n + (8 if a.Q else 0), 0, esz, 16,
                immhb - bits)
    else:
        return False


# (U, opcode) of the saturating narrowing shifts -> imm bits: 0x80 signed
# source, 0x100 signed result, 0x200 rounding
SQSHRN = {(0, 0b10010): 0x180, (0, 0b10011): 0x380, (1, 0b10010): 0, (1, 0b10011): 0x200,
          (1, 0b10000): 0x80, (1, 0b10001): 0x280}


# -- permutes ---------------------------------------------------------------------------------

@A64.pattern("0 Q:1 101110 00 0 rm:5 0 imm4:4 0 rn:5 rd:5")
def trans_EXT(ctx, a):
    if not a.Q and a.imm4 & 8:
        return False
    gen_vec(ctx, VecOp.ext, qofs(a.rd), qofs(a.rn), qofs(a.rm), 0, 16 if a.Q else 8, a.imm4)


PERMUTE = {0b001: VecOp.uzp1, 0b010: VecOp.trn1, 0b011: VecOp.zip1, 0b101: VecOp.uzp2,
           0b110: VecOp.trn2, 0b111: VecOp.zip2}


@A64.pattern("0 Q:1 001110 size:2 0 rm:5 0 opcode:3 10 rn:5 rd:5")
def trans_SIMD_permute(ctx, a):
    kind = PERMUTE.get(a.opcode)
    if kind is None or (a.size == 3 and not a.Q):
        return False
    gen_vec(ctx, kind, qofs(a.rd), qofs(a.rn), qofs(a.rm), a.size, 16 if a.Q else 8)


@A64.pattern("0 Q:1 001110 000 rm:5 0 len:2 op:1 00 rn:5 rd:5")
def trans_TBL_TBX(ctx, a):
    """The table registers (rn.. rn+len, wrapping at 31) are copied to the
    scratch area first: contiguous, and safe if rd is one of them."""
    n = a.len + 1
    for r in range(n):
        for half in (0, 8):
            v = read_v(ctx, (a.rn + r) % 32, 3, half)
            ctx.b.emit(Op.st_env, v, consts=(VTMP + 16 * r + half, MemOp.make(3)))
    gen_vec(ctx, VecOp.tbl, qofs(a.rd), VTMP, qofs(a.rm), 0, 16 if a.Q else 8,
            imm=16 * n | (0x80 if a.op else 0))


# -- CRC32 --------------------------------------------------------------------------------------

@A64.pattern("sf:1 00 11010110 rm:5 010 C:1 sz:2 rn:5 rd:5")
def trans_CRC32(ctx, a):
    if (a.sz == 3) != bool(a.sf):
        return False
    v = ctx.b.call(helpers.BY_NAME["crc32"].id, ctx.read_reg(a.rn), ctx.read_reg(a.rm),
                   a.sz | a.C << 2)
    ctx.write_reg(a.rd, v, 0)
