"""Vector operations of the ``vec`` IR op, declared once as data.

``vec`` works on env bytes directly, as QEMU's gvec does: its constants are
``(kind, dofs, aofs, bofs, esz, oprsz, imm)`` -- a :class:`VecOp`, the env
byte offsets of the destination and up to two sources, the log2 lane size
(0 byte .. 3 doubleword), the operation size in bytes and an immediate; its
one i64 input ``x`` is a scalar operand (dup from a general register) or the
FPCR (floating point); its one i64 output is a status word: the FPSR
cumulative exception bits the operation raised (0 for integer operations)
and, for compares, NZCV in bits 31..28.

A ``vec`` writes ``oprsz`` bytes at ``dofs`` and zeroes the rest of the
16-byte register, as every A64 write of a d/s/h/b or 64-bit vector does:
oprsz 16 (a q/.16b form), 8 (a .8b/.4h/.2s form or a d scalar), or the lane
size itself (a scalar FP operation).  Operations with other shapes say so
in their row (``zero_upper=False``: they write only what their doc says).

The meaning of each VecOp is one small Python function below (``@semantics``)
over the env bytes: the interpreter runs it, the JIT's native lowerings
(``tcgpy.backends.llvm.lower_arm_vec*``, ``lower_arm_fp``) are tested against it,
and JIT code calls it (helper ``vec_env``) where floating point leaves the
common case that lower_arm_fp computes natively (NaNs, subnormals, directed
rounding, flush-to-zero, half-precision arithmetic).  Everything floating
point goes through :mod:`tcgpy.frontends.aarch64.fpsem`.
"""
from __future__ import annotations

import enum
from ...record import record
from typing import Callable

from . import fpsem as fp

MASK64 = (1 << 64) - 1


@record(frozen=True)
class VecDef:
    name: str
    nsrc: int                 # vector sources used: aofs (1), aofs and bofs (2)
    uses_x: bool = False      # reads the i64 input (a scalar, or FPCR for FP)
    zero_upper: bool = True   # zeroes the register past oprsz
    doc: str = ""


class VecOp(enum.Enum):
    # bitwise (lane size irrelevant)
    and_   = VecDef("and", 2)
    orr    = VecDef("orr", 2)
    eor    = VecDef("eor", 2)
    bic    = VecDef("bic", 2, doc="a & ~b")
    orn    = VecDef("orn", 2, doc="a | ~b")
    bsl    = VecDef("bsl", 2, doc="(a & c) | (b & ~c), c at env offset imm")
    orrx   = VecDef("orrx", 1, True, doc="a | x in every doubleword")
    bicx   = VecDef("bicx", 1, True, doc="a & ~x in every doubleword")
    # integer lane arithmetic
    add    = VecDef("add", 2)
    sub    = VecDef("sub", 2)
    mul    = VecDef("mul", 2)
    neg    = VecDef("neg", 1)
    abs_   = VecDef("abs", 1)
    not_   = VecDef("not", 1)
    smax   = VecDef("smax", 2)
    smin   = VecDef("smin", 2)
    umax   = VecDef("umax", 2)
    umin   = VecDef("umin", 2)
    # compares: all-ones lanes where true
    cmeq   = VecDef("cmeq", 2)
    cmgt   = VecDef("cmgt", 2)
    cmge   = VecDef("cmge", 2)
    cmhi   = VecDef("cmhi", 2)
    cmhs   = VecDef("cmhs", 2)
    cmtst  = VecDef("cmtst", 2)
    # pairwise: lanes of a then b, adjacent pairs combined
    addp   = VecDef("addp", 2)
    smaxp  = VecDef("smaxp", 2)
    sminp  = VecDef("sminp", 2)
    umaxp  = VecDef("umaxp", 2)
    uminp  = VecDef("uminp", 2)
    # across lanes: one result lane (esz) at dofs
    addv   = VecDef("addv", 1, doc="oprsz bytes of a summed into one esz lane")
    smaxv  = VecDef("smaxv", 1)
    sminv  = VecDef("sminv", 1)
    umaxv  = VecDef("umaxv", 1)
    uminv  = VecDef("uminv", 1)
    uaddlv = VecDef("uaddlv", 1, doc="result lane is 2*esz wide")
    saddlv = VecDef("saddlv", 1, doc="result lane is 2*esz wide")
    # shifts by immediate
    shli   = VecDef("shli", 1, doc="a << imm")
    ushri  = VecDef("ushri", 1, doc="a >> imm (imm may equal the lane size)")
    sshri  = VecDef("sshri", 1)
    # widening and narrowing: esz is the narrow lane size
    shrn   = VecDef("shrn", 1, doc="8 bytes: the 2*esz lanes of a (16 bytes) >> (imm & 0x7f), "
                                   "truncated; imm bit 8: rounding")
    ushll  = VecDef("ushll", 1, doc="16 bytes: the esz lanes of a (8 bytes) zero-extended << imm")
    sshll  = VecDef("sshll", 1, doc="16 bytes: the esz lanes of a (8 bytes) sign-extended << imm")
    # moves and permutes
    dupx   = VecDef("dupx", 0, True, doc="every lane = x")
    dupe   = VecDef("dupe", 1, doc="every lane = lane imm of a")
    ext    = VecDef("ext", 2, doc="bytes imm.. of the concatenation b:a (a low)")
    zip1   = VecDef("zip1", 2)
    zip2   = VecDef("zip2", 2)
    uzp1   = VecDef("uzp1", 2)
    uzp2   = VecDef("uzp2", 2)
    trn1   = VecDef("trn1", 2)
    trn2   = VecDef("trn2", 2)
    rev    = VecDef("rev", 1, doc="reverse esz lanes within containers of 1 << imm bytes")
    cnt    = VecDef("cnt", 1)
    clz    = VecDef("clz", 1)
    tbl    = VecDef("tbl", 2, doc="table of imm & 0x7f bytes at a, indices b; tbx (imm bit 7) keeps d")
    # more lane-wise integer operations; imm bit 0: the signed variant.
    # Saturating ones report saturation as FPSR.QC (status bit 27).
    hadd   = VecDef("hadd", 2, doc="(a + b) >> 1; imm bit 1: rounding")
    hsub   = VecDef("hsub", 2)
    qadd   = VecDef("qadd", 2)
    qsub   = VecDef("qsub", 2)
    shl    = VecDef("shl", 2, doc="a shifted by the signed low byte of b; imm bit 1 rounding, "
                                  "bit 2 saturating")
    abd    = VecDef("abd", 2, doc="|a - b|; imm bit 1: accumulate into d")
    mla    = VecDef("mla", 2, doc="d + a*b; imm bit 1: d - a*b")
    pmul   = VecDef("pmul", 2, doc="polynomial (carry-less) multiply of bytes")
    qdmulh = VecDef("qdmulh", 2, doc="saturating doubling multiply high; imm bit 1: rounding")
    # widening (esz: the narrow lane size; a and b point at 8 bytes, the
    # upper halves for the '2' forms); imm bit 0: signed
    addl   = VecDef("addl", 2)
    subl   = VecDef("subl", 2)
    addw   = VecDef("addw", 2, doc="a is 16 bytes of wide lanes")
    subw   = VecDef("subw", 2, doc="a is 16 bytes of wide lanes")
    abdl   = VecDef("abdl", 2, doc="imm bit 1: accumulate into d")
    mlal   = VecDef("mlal", 2, doc="imm bit 1: subtract")
    mull   = VecDef("mull", 2)
    pmull  = VecDef("pmull", 2, doc="polynomial multiply long of bytes (esz 0) or doublewords (esz 3)")
    addhn  = VecDef("addhn", 2, doc="8 bytes: high halves of a + b (16 bytes each); imm bit 1: rounding")
    subhn  = VecDef("subhn", 2)
    # shifts by immediate, rounding/accumulating/inserting/saturating forms
    rshri  = VecDef("rshri", 1, doc="rounding shift right by imm & 0x7f; bit 7: signed; bit 8: accumulate")
    sri    = VecDef("sri", 1, doc="shift right by imm and insert into d")
    sli    = VecDef("sli", 1, doc="shift left by imm and insert into d")
    qshli  = VecDef("qshli", 1, doc="saturating shift left by imm & 0x7f; bit 7: signed src, bit 8 signed dst")
    qshrn  = VecDef("qshrn", 1, doc="8 bytes: 2*esz lanes of a >> (imm & 0x7f), saturated to esz; "
                                    "bit 7 signed src, bit 8 signed dst, bit 9 rounding")
    # two-register misc extras
    rbit   = VecDef("rbit", 1)
    cls    = VecDef("cls", 1)
    addlp  = VecDef("addlp", 1, doc="pairs of esz lanes added into 2*esz lanes; imm bit 0 signed, "
                                    "bit 1 accumulate into d")
    qabs   = VecDef("qabs", 1, doc="imm bit 1: qneg")
    # floating-point vector extras
    fabd   = VecDef("fabd", 2, True)
    faddp  = VecDef("faddp", 2, True)
    fmaxp  = VecDef("fmaxp", 2, True)
    fminp  = VecDef("fminp", 2, True)
    fmaxnmp = VecDef("fmaxnmp", 2, True)
    fminnmp = VecDef("fminnmp", 2, True)
    fcmeq  = VecDef("fcmeq", 2, True, doc="lane compares (all-ones when true)")
    fcmge  = VecDef("fcmge", 2, True)
    fcmgt  = VecDef("fcmgt", 2, True)
    facge  = VecDef("facge", 2, True)
    facgt  = VecDef("facgt", 2, True)
    fcvtl  = VecDef("fcvtl", 1, True, doc="16 bytes: the esz lanes of a (8 bytes) widened")
    fcvtn  = VecDef("fcvtn", 1, True, doc="8 bytes: the 2*esz lanes of a (16 bytes) narrowed to esz")
    # crypto
    aese   = VecDef("aese", 2, doc="AESE (imm 1: AESD): d = SubBytes(ShiftRows(a ^ b))")
    aesmc  = VecDef("aesmc", 1, doc="MixColumns (imm 1: InvMixColumns)")
    # structure loads/stores: (de)interleaving n registers' worth of lanes
    uzpn   = VecDef("uzpn", 1, doc="lanes r, r+n, r+2n.. of the n*oprsz bytes at a; imm = n | r << 4")
    zipn   = VecDef("zipn", 1, zero_upper=False,
                    doc="n*oprsz bytes: lane i of each of the n vectors at a (oprsz bytes apart) in turn")
    sha    = VecDef("sha", 2, doc="SHA1/SHA256 instruction imm (SHA_OPS) on d (also a source), a, b")
    fmulx  = VecDef("fmulx", 2, True)
    frecps = VecDef("frecps", 2, True)
    frsqrts = VecDef("frsqrts", 2, True)
    frecpe = VecDef("frecpe", 1, True)
    frsqrte = VecDef("frsqrte", 1, True)
    # floating point: x is the FPCR; the status word has the FPSR exception bits
    fadd   = VecDef("fadd", 2, True)
    fsub   = VecDef("fsub", 2, True)
    fmul   = VecDef("fmul", 2, True)
    fdiv   = VecDef("fdiv", 2, True)
    fnmul  = VecDef("fnmul", 2, True)
    fmax   = VecDef("fmax", 2, True)
    fmin   = VecDef("fmin", 2, True)
    fmaxnm = VecDef("fmaxnm", 2, True)
    fminnm = VecDef("fminnm", 2, True)
    fmla   = VecDef("fmla", 2, True, doc="c + a*b fused, c at env offset imm & 0xfff; "
                                        "imm bit 12 negates a, bit 13 negates c")
    fsqrt  = VecDef("fsqrt", 1, True)
    fabs   = VecDef("fabs", 1)
    fneg   = VecDef("fneg", 1)
    fcmp   = VecDef("fcmp", 2, True, doc="NZCV of a vs b in status bits 31..28; imm 1: fcmpe")
    fcvt   = VecDef("fcvt", 1, True, doc="lane of size esz converted to size imm")
    frint  = VecDef("frint", 1, True, doc="imm: rounding mode (fp.RN..RA, 7: FPCR's) | 8: exact")
    cvtf   = VecDef("cvtf", 1, True, doc="integer of 1 << (imm & 3) bytes at a to FP esz; "
                                         "imm bit 2 unsigned, bits 8.. fbits")
    fcvti  = VecDef("fcvti", 1, True, doc="FP esz at a to an integer of 1 << (imm & 3) bytes; "
                                          "bit 2 unsigned, bits 3..5 rounding mode "
                                          "(7: FPCR's), bits 8.. fbits")
    # saturating doubling multiply long (sqdmull/sqdmlal/sqdmlsl): oprsz
    # bytes of esz lanes at a and b (8 for the vector forms, the lane itself
    # for the scalar ones) to 2*oprsz bytes of 2*esz lanes
    qdmlal = VecDef("qdmlal", 2, doc="sat(2*a*b); imm bit 1: sat(d + that), bit 2: sat(d - that)")
    uqacc  = VecDef("uqacc", 1, doc="d + a saturated: imm bit 0 suqadd (d signed, a unsigned), "
                                    "else usqadd (d unsigned, a signed)")
    urecpe = VecDef("urecpe", 1, doc="32-bit lanes; imm bit 0: ursqrte")
    fcvtxn = VecDef("fcvtxn", 1, True, doc="oprsz bytes of esz lanes: the 2*esz lanes of a narrowed, "
                                           "rounding to odd")
    frecpx = VecDef("frecpx", 1, True)
    qrdmlah = VecDef("qrdmlah", 2, doc="FEAT_RDM sqrdmlah: sat((d << esize) + 2*a*b + round) >> esize; "
                                       "imm bit 1: sqrdmlsh (- 2*a*b)")

    @property
    def d(self) -> VecDef:
        return self.value

    def __repr__(self) -> str:
        return f"VecOp.{self.value.name}"


# -- env access ------------------------------------------------------------------
# ``env`` is a bytearray (the interpreter) or a writable memoryview over the
# native env (the JIT's callback); only slicing and from_bytes are used.

def lanes(env, off: int, esz: int, nbytes: int) -> list[int]:
    n = 1 << esz
    return [int.from_bytes(env[off + i:off + i + n], "little") for i in range(0, nbytes, n)]


def put_lanes(env, off: int, esz: int, values, zero_to: int = 16) -> None:
    n = 1 << esz
    mask = (1 << (8 * n)) - 1
    data = b"".join((v & mask).to_bytes(n, "little") for v in values)
    data = data.ljust(zero_to, b"\0")
    env[off:off + len(data)] = data


def sext(v: int, esz: int) -> int:
    bits = 8 << esz
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def dup64(x: int, esz: int) -> int:
    """``x``'s low lane repeated across 64 bits."""
    bits = 8 << esz
    lane = x & ((1 << bits) - 1)
    out = 0
    for i in range(0, 64, bits):
        out |= lane << i
    return out


# -- semantics ---------------------------------------------------------------------

Semantics = Callable[..., int]
SEMANTICS: dict[VecOp, Semantics] = {}


def semantics(*ops: VecOp):
    """Register ``fn(env, d, a, b, esz, oprsz, imm, x) -> status`` for ``ops``
    (a shared function receives the VecOp as keyword ``op``)."""
    def register(fn):
        for op in ops:
            if len(ops) == 1:
                SEMANTICS[op] = fn
            else:
                SEMANTICS[op] = (lambda o: lambda *a: fn(*a, op=o))(op)
        return fn
    return register


def _lanewise(fn: Callable[[int, int, int], int]) -> Semantics:
    def run(env, d, a, b, esz, oprsz, imm, x):
        xs, ys = lanes(env, a, esz, oprsz), lanes(env, b, esz, oprsz)
        put_lanes(env, d, esz, [fn(p, q, esz) for p, q in zip(xs, ys)])
        return 0
    return run


def _unary(fn: Callable[[int, int], int]) -> Semantics:
    def run(env, d, a, b, esz, oprsz, imm, x):
        put_lanes(env, d, esz, [fn(p, esz) for p in lanes(env, a, esz, oprsz)])
        return 0
    return run


def _ones(cond: bool, esz: int) -> int:
    return (1 << (8 << esz)) - 1 if cond else 0


_LANEWISE = {
    VecOp.and_: lambda p, q, e: p & q,
    VecOp.orr: lambda p, q, e: p | q,
    VecOp.eor: lambda p, q, e: p ^ q,
    VecOp.bic: lambda p, q, e: p & ~q,
    VecOp.orn: lambda p, q, e: p | ~q,
    VecOp.add: lambda p, q, e: p + q,
    VecOp.sub: lambda p, q, e: p - q,
    VecOp.mul: lambda p, q, e: p * q,
    VecOp.smax: lambda p, q, e: max(sext(p, e), sext(q, e)),
    VecOp.smin: lambda p, q, e: min(sext(p, e), sext(q, e)),
    VecOp.umax: lambda p, q, e: max(p, q),
    VecOp.umin: lambda p, q, e: min(p, q),
    VecOp.cmeq: lambda p, q, e: _ones(p == q, e),
    VecOp.cmgt: lambda p, q, e: _ones(sext(p, e) > sext(q, e), e),
    VecOp.cmge: lambda p, q, e: _ones(sext(p, e) >= sext(q, e), e),
    VecOp.cmhi: lambda p, q, e: _ones(p > q, e),
    VecOp.cmhs: lambda p, q, e: _ones(p >= q, e),
    VecOp.cmtst: lambda p, q, e: _ones(p & q != 0, e),
}
for _op, _fn in _LANEWISE.items():
    SEMANTICS[_op] = _lanewise(_fn)

_UNARY = {
    VecOp.neg: lambda p, e: -p,
    VecOp.abs_: lambda p, e: abs(sext(p, e)),
    VecOp.not_: lambda p, e: ~p,
    VecOp.cnt: lambda p, e: bin(p).count("1"),
    VecOp.clz: lambda p, e: (8 << e) - p.bit_length(),
    VecOp.fabs: lambda p, e: p & ~(1 << ((8 << e) - 1)),
    VecOp.fneg: lambda p, e: p ^ (1 << ((8 << e) - 1)),
}
for _op, _fn in _UNARY.items():
    SEMANTICS[_op] = _unary(_fn)

_PAIRWISE = {
    VecOp.addp: lambda p, q, e: p + q,
    VecOp.smaxp: lambda p, q, e: max(sext(p, e), sext(q, e)),
    VecOp.sminp: lambda p, q, e: min(sext(p, e), sext(q, e)),
    VecOp.umaxp: lambda p, q, e: max(p, q),
    VecOp.uminp: lambda p, q, e: min(p, q),
}


def _pairwise(fn) -> Semantics:
    def run(env, d, a, b, esz, oprsz, imm, x):
        cat = lanes(env, a, esz, oprsz) + lanes(env, b, esz, oprsz)
        put_lanes(env, d, esz, [fn(cat[i], cat[i + 1], esz) for i in range(0, len(cat), 2)])
        return 0
    return run


for _op, _fn in _PAIRWISE.items():
    SEMANTICS[_op] = _pairwise(_fn)

_ACROSS = {
    VecOp.addv: (lambda vs, e: sum(vs), False, False),
    VecOp.smaxv: (lambda vs, e: max(vs), True, False),
    VecOp.sminv: (lambda vs, e: min(vs), True, False),
    VecOp.umaxv: (lambda vs, e: max(vs), False, False),
    VecOp.uminv: (lambda vs, e: min(vs), False, False),
    VecOp.uaddlv: (lambda vs, e: sum(vs), False, True),
    VecOp.saddlv: (lambda vs, e: sum(vs), True, True),
}


def _across(fn, signed: bool, long: bool) -> Semantics:
    def run(env, d, a, b, esz, oprsz, imm, x):
        vs = lanes(env, a, esz, oprsz)
        if signed:
            vs = [sext(v, esz) for v in vs]
        put_lanes(env, d, esz + 1 if long else esz, [fn(vs, esz)])
        return 0
    return run


for _op, (_fn, _s, _l) in _ACROSS.items():
    SEMANTICS[_op] = _across(_fn, _s, _l)


@semantics(VecOp.bsl)
def sem_bsl(env, d, a, b, esz, oprsz, imm, x):
    p, q, c = (int.from_bytes(env[o:o + oprsz], "little") for o in (a, b, imm))
    put_lanes(env, d, 3, lanes((((p & c) | (q & ~c)) & ((1 << (8 * oprsz)) - 1))
                              .to_bytes(oprsz, "little"), 0, 3, oprsz))
    return 0


@semantics(VecOp.orrx, VecOp.bicx)
def sem_orrx(env, d, a, b, esz, oprsz, imm, x, op):
    vs = lanes(env, a, 3, oprsz)
    put_lanes(env, d, 3, [v | x if op is VecOp.orrx else v & ~x for v in vs])
    return 0


@semantics(VecOp.shli, VecOp.ushri, VecOp.sshri)
def sem_shift(env, d, a, b, esz, oprsz, imm, x, op):
    vs = lanes(env, a, esz, oprsz)
    if op is VecOp.shli:
        out = [v << imm for v in vs]
    elif op is VecOp.ushri:
        out = [v >> imm for v in vs]
    else:
        out = [sext(v, esz) >> imm for v in vs]
    put_lanes(env, d, esz, out)
    return 0


@semantics(VecOp.shrn)
def sem_shrn(env, d, a, b, esz, oprsz, imm, x):
    sh = imm & 0x7F
    rc = 1 << (sh - 1) if imm & 0x100 and sh else 0
    put_lanes(env, d, esz, [(v + rc) >> sh for v in lanes(env, a, esz + 1, 16)])
    return 0


@semantics(VecOp.ushll, VecOp.sshll)
def sem_shll(env, d, a, b, esz, oprsz, imm, x, op):
    vs = lanes(env, a, esz, 8)
    if op is VecOp.sshll:
        vs = [sext(v, esz) for v in vs]
    put_lanes(env, d, esz + 1, [v << imm for v in vs])
    return 0


@semantics(VecOp.dupx)
def sem_dupx(env, d, a, b, esz, oprsz, imm, x):
    put_lanes(env, d, esz, [x] * (oprsz >> esz))
    return 0


@semantics(VecOp.dupe)
def sem_dupe(env, d, a, b, esz, oprsz, imm, x):
    v = lanes(env, a, esz, 16)[imm]
    put_lanes(env, d, esz, [v] * (oprsz >> esz))
    return 0


@semantics(VecOp.ext)
def sem_ext(env, d, a, b, esz, oprsz, imm, x):
    cat = bytes(env[a:a + oprsz]) + bytes(env[b:b + oprsz])
    put_lanes(env, d, 0, cat[imm:imm + oprsz])
    return 0


@semantics(VecOp.zip1, VecOp.zip2, VecOp.uzp1, VecOp.uzp2, VecOp.trn1, VecOp.trn2)
def sem_permute(env, d, a, b, esz, oprsz, imm, x, op):
    p, q = lanes(env, a, esz, oprsz), lanes(env, b, esz, oprsz)
    n = len(p)
    if op in (VecOp.zip1, VecOp.zip2):
        base = 0 if op is VecOp.zip1 else n // 2
        out = [v for i in range(n // 2) for v in (p[base + i], q[base + i])]
    elif op in (VecOp.uzp1, VecOp.uzp2):
        out = (p + q)[0 if op is VecOp.uzp1 else 1::2]
    else:
        o = 0 if op is VecOp.trn1 else 1
        out = [v for i in range(0, n, 2) for v in (p[i + o], q[i + o])]
    put_lanes(env, d, esz, out)
    return 0


@semantics(VecOp.rev)
def sem_rev(env, d, a, b, esz, oprsz, imm, x):
    vs = lanes(env, a, esz, oprsz)
    per = (1 << imm) >> esz
    put_lanes(env, d, esz, [v for i in range(0, len(vs), per) for v in reversed(vs[i:i + per])])
    return 0


@semantics(VecOp.tbl)
def sem_tbl(env, d, a, b, esz, oprsz, imm, x):
    size = imm & 0x7F
    table = bytes(env[a:a + size])
    old = bytes(env[d:d + oprsz])
    idx = bytes(env[b:b + oprsz])
    out = [table[i] if i < size else (old[k] if imm & 0x80 else 0) for k, i in enumerate(idx)]
    put_lanes(env, d, 0, out)
    return 0


# -- floating point ----------------------------------------------------------------

_FP2 = {
    VecOp.fadd: fp.fp_add, VecOp.fsub: fp.fp_sub, VecOp.fmul: fp.fp_mul,
    VecOp.fdiv: fp.fp_div, VecOp.fnmul: fp.fp_nmul, VecOp.fmax: fp.fp_max,
    VecOp.fmin: fp.fp_min, VecOp.fmaxnm: fp.fp_maxnum, VecOp.fminnm: fp.fp_minnum,
}


def _fp2(fn) -> Semantics:
    def run(env, d, a, b, esz, oprsz, imm, x):
        flags = 0
        out = []
        for p, q in zip(lanes(env, a, esz, oprsz), lanes(env, b, esz, oprsz)):
            r, f = fn(p, q, esz, x)
            out.append(r)
            flags |= f
        put_lanes(env, d, esz, out)
        return flags
    return run


for _op, _fn in _FP2.items():
    SEMANTICS[_op] = _fp2(_fn)


# Bit of the x operand (FPCR bits 32.. are RES0) that the frontend sets for
# these operations when FPSR.IXC is already set.
KNOWN_IXC_BIT = 36
KNOWN_IXC_OPS = frozenset({VecOp.fmla})


@semantics(VecOp.fmla)
def sem_fmla(env, d, a, b, esz, oprsz, imm, x):
    sign = 1 << ((8 << esz) - 1)
    neg_a = sign if imm & 0x1000 else 0
    neg_c = sign if imm & 0x2000 else 0
    # Once FPSR.IXC is set the JIT need not know whether the result is exact:
    # the frontend says so in x, and the status word then always has IXC.
    flags = fp.IXC if x >> KNOWN_IXC_BIT & 1 else 0
    out = []
    for p, q, c in zip(lanes(env, a, esz, oprsz), lanes(env, b, esz, oprsz),
                       lanes(env, imm & 0xFFF, esz, oprsz)):
        r, f = fp.fp_muladd(c ^ neg_c, p ^ neg_a, q, esz, x)
        out.append(r)
        flags |= f
    put_lanes(env, d, esz, out)
    return flags


def _fp1(fn) -> Semantics:
    def run(env, d, a, b, esz, oprsz, imm, x):
        flags = 0
        out = []
        for p in lanes(env, a, esz, oprsz):
            r, f = fn(p, esz, x, imm)
            out.append(r)
            flags |= f
        put_lanes(env, d, esz, out)
        return flags
    return run


def _mode(imm_mode: int, fpcr: int) -> int:
    return fp.rmode(fpcr) if imm_mode == 7 else imm_mode


SEMANTICS[VecOp.fsqrt] = _fp1(lambda p, e, fpcr, imm: fp.fp_sqrt(p, e, fpcr))
SEMANTICS[VecOp.frecpe] = _fp1(lambda p, e, fpcr, imm: fp.fp_recpe(p, e, fpcr))
SEMANTICS[VecOp.frsqrte] = _fp1(lambda p, e, fpcr, imm: fp.fp_rsqrte(p, e, fpcr))
SEMANTICS[VecOp.frint] = _fp1(lambda p, e, fpcr, imm: fp.fp_round_int(
    p, e, fpcr, _mode(imm & 7, fpcr), bool(imm & 8)))


@semantics(VecOp.fcmp)
def sem_fcmp(env, d, a, b, esz, oprsz, imm, x):
    p = lanes(env, a, esz, 1 << esz)[0]
    q = lanes(env, b, esz, 1 << esz)[0]
    nzcv, flags = fp.fp_compare(p, q, esz, x, bool(imm & 1))
    return (nzcv << 28) | flags


@semantics(VecOp.fcvt)
def sem_fcvt(env, d, a, b, esz, oprsz, imm, x):
    flags = 0
    out = []
    for p in lanes(env, a, esz, oprsz):
        r, f = fp.fp_convert(p, esz, imm, x)
        out.append(r)
        flags |= f
    put_lanes(env, d, imm, out, zero_to=16)
    return flags


@semantics(VecOp.cvtf)
def sem_cvtf(env, d, a, b, esz, oprsz, imm, x):
    isz = imm & 3
    flags = 0
    out = []
    for v in lanes(env, a, isz, oprsz >> esz << isz):
        r, f = fp.fixed_to_fp(v, 8 << isz, bool(imm & 4), imm >> 8, esz, x)
        out.append(r)
        flags |= f
    put_lanes(env, d, esz, out)
    return flags


@semantics(VecOp.fcvti)
def sem_fcvti(env, d, a, b, esz, oprsz, imm, x):
    isz = imm & 3
    mode = _mode((imm >> 3) & 7, x)
    flags = 0
    out = []
    for v in lanes(env, a, esz, oprsz):
        r, f = fp.fp_to_fixed(v, esz, x, imm >> 8, bool(imm & 4), 8 << isz, mode)
        out.append(r)
        flags |= f
    put_lanes(env, d, isz, out)
    return flags


# -- more integer operations -----------------------------------------------------------

QC = 1 << 27       # FPSR.QC in the status word: some lane saturated


def _sat(v: int, esz: int, signed: bool) -> tuple[int, bool]:
    bits = 8 << esz
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if v < lo:
        return lo, True
    if v > hi:
        return hi, True
    return v, False


def _vals(env, off: int, esz: int, nbytes: int, signed: bool) -> list[int]:
    vs = lanes(env, off, esz, nbytes)
    return [sext(v, esz) for v in vs] if signed else vs


def _shr(v: int, n: int) -> int:
    return v >> n if n >= 0 else v << -n


@semantics(VecOp.hadd, VecOp.hsub, VecOp.qadd, VecOp.qsub, VecOp.shl, VecOp.abd, VecOp.mla,
           VecOp.pmul, VecOp.qdmulh)
def sem_int2(env, d, a, b, esz, oprsz, imm, x, op):
    signed = bool(imm & 1)
    rnd = (imm >> 1) & 1
    bits = 8 << esz
    ps, qs = _vals(env, a, esz, oprsz, signed), _vals(env, b, esz, oprsz, signed)
    old = lanes(env, d, esz, oprsz)
    out, st = [], 0
    for p, q, o in zip(ps, qs, old):
        sat = False
        if op is VecOp.hadd:
            r = (p + q + rnd) >> 1
        elif op is VecOp.hsub:
            r = (p - q) >> 1
        elif op is VecOp.qadd:
            r, sat = _sat(p + q, esz, signed)
        elif op is VecOp.qsub:
            r, sat = _sat(p - q, esz, signed)
        elif op is VecOp.shl:
            sh = sext(lanes(env, b, esz, oprsz)[len(out)] & 0xFF, 0)
            rc = 1 << (-sh - 1) if rnd and sh < 0 else 0
            r = _shr(p + rc, -sh)
            if imm & 4:
                r, sat = _sat(r, esz, signed)
        elif op is VecOp.abd:
            r = abs(p - q) + (o if rnd else 0)
        elif op is VecOp.mla:
            r = o - p * q if rnd else o + p * q
        elif op is VecOp.pmul:
            r = _clmul(p, q)
        else:
            r, sat = _sat((2 * p * q + (rnd << (bits - 1))) >> bits, esz, True)
        st |= QC if sat else 0
        out.append(r)
    put_lanes(env, d, esz, out)
    return st


def _clmul(p: int, q: int) -> int:
    """Carry-less product of two non-negative ints."""
    assert p >= 0 and q >= 0
    r = 0
    while q:
        if q & 1:
            r ^= p
        p <<= 1
        q >>= 1
    return r


@semantics(VecOp.addl, VecOp.subl, VecOp.addw, VecOp.subw, VecOp.abdl, VecOp.mlal, VecOp.mull,
           VecOp.pmull)
def sem_widen(env, d, a, b, esz, oprsz, imm, x, op):
    signed = bool(imm & 1)
    alt = (imm >> 1) & 1
    if op is VecOp.pmull and esz == 3:
        put_lanes(env, d, 3, _split128(_clmul(lanes(env, a, 3, 8)[0], lanes(env, b, 3, 8)[0])))
        return 0
    n = 8 >> esz
    ps = (_vals(env, a, esz + 1, 16, signed) if op in (VecOp.addw, VecOp.subw)
          else _vals(env, a, esz, 8, signed))
    qs = _vals(env, b, esz, 8, signed)
    old = lanes(env, d, esz + 1, 16)
    out = []
    for i in range(n):
        p, q, o = ps[i], qs[i], old[i]
        if op in (VecOp.addl, VecOp.addw):
            r = p + q
        elif op in (VecOp.subl, VecOp.subw):
            r = p - q
        elif op is VecOp.abdl:
            r = abs(p - q) + (o if alt else 0)
        elif op is VecOp.mlal:
            r = o - p * q if alt else o + p * q
        elif op is VecOp.mull:
            r = p * q
        else:
            m = (1 << (8 << esz)) - 1
            r = _clmul(p & m, q & m)
        out.append(r)
    put_lanes(env, d, esz + 1, out)
    return 0


def _split128(v: int) -> list[int]:
    return [v & MASK64, (v >> 64) & MASK64]


@semantics(VecOp.addhn, VecOp.subhn)
def sem_hn(env, d, a, b, esz, oprsz, imm, x, op):
    bits = 8 << esz
    rc = (1 << (bits - 1)) if imm & 2 else 0
    ps, qs = lanes(env, a, esz + 1, 16), lanes(env, b, esz + 1, 16)
    put_lanes(env, d, esz, [((p + q if op is VecOp.addhn else p - q) + rc) >> bits
                            for p, q in zip(ps, qs)])
    return 0


@semantics(VecOp.rshri)
def sem_rshri(env, d, a, b, esz, oprsz, imm, x):
    sh = imm & 0x7F
    ps = _vals(env, a, esz, oprsz, bool(imm & 0x80))
    rc = (1 << (sh - 1)) if imm & 0x200 else 0
    out = [(p + rc) >> sh for p in ps]
    if imm & 0x100:
        out = [o + r for o, r in zip(lanes(env, d, esz, oprsz), out)]
    put_lanes(env, d, esz, out)
    return 0


@semantics(VecOp.sri, VecOp.sli)
def sem_insert(env, d, a, b, esz, oprsz, imm, x, op):
    ones = (1 << (8 << esz)) - 1
    mask = (ones >> imm) if op is VecOp.sri else (ones << imm) & ones
    ps = lanes(env, a, esz, oprsz)
    vals = [p >> imm for p in ps] if op is VecOp.sri else [(p << imm) & ones for p in ps]
    put_lanes(env, d, esz, [(o & ~mask) | v for o, v in zip(lanes(env, d, esz, oprsz), vals)])
    return 0


@semantics(VecOp.qshli)
def sem_qshli(env, d, a, b, esz, oprsz, imm, x):
    sh = imm & 0x7F
    st, out = 0, []
    for p in _vals(env, a, esz, oprsz, bool(imm & 0x80)):
        r, sat = _sat(p << sh, esz, bool(imm & 0x100))
        st |= QC if sat else 0
        out.append(r)
    put_lanes(env, d, esz, out)
    return st


@semantics(VecOp.qshrn)
def sem_qshrn(env, d, a, b, esz, oprsz, imm, x):
    sh = imm & 0x7F
    rc = (1 << (sh - 1)) if imm & 0x200 and sh else 0
    st, out = 0, []
    for p in _vals(env, a, esz + 1, 16, bool(imm & 0x80)):
        r, sat = _sat((p + rc) >> sh, esz, bool(imm & 0x100))
        st |= QC if sat else 0
        out.append(r)
    put_lanes(env, d, esz, out)
    return st


@semantics(VecOp.rbit)
def sem_rbit(env, d, a, b, esz, oprsz, imm, x):
    put_lanes(env, d, 0, [int(f"{v:08b}"[::-1], 2) for v in lanes(env, a, 0, oprsz)])
    return 0


@semantics(VecOp.cls)
def sem_cls(env, d, a, b, esz, oprsz, imm, x):
    bits = 8 << esz
    out = []
    for v in lanes(env, a, esz, oprsz):
        t = (v ^ (v >> 1)) & ((1 << (bits - 1)) - 1)
        out.append(bits - 1 - t.bit_length())
    put_lanes(env, d, esz, out)
    return 0


@semantics(VecOp.addlp)
def sem_addlp(env, d, a, b, esz, oprsz, imm, x):
    vs = _vals(env, a, esz, oprsz, bool(imm & 1))
    out = [vs[i] + vs[i + 1] for i in range(0, len(vs), 2)]
    if imm & 2:
        out = [o + r for o, r in zip(lanes(env, d, esz + 1, oprsz), out)]
    put_lanes(env, d, esz + 1, out)
    return 0


@semantics(VecOp.qabs)
def sem_qabs(env, d, a, b, esz, oprsz, imm, x):
    st, out = 0, []
    for p in _vals(env, a, esz, oprsz, True):
        r, sat = _sat(-p if imm & 2 else abs(p), esz, True)
        st |= QC if sat else 0
        out.append(r)
    put_lanes(env, d, esz, out)
    return st


# -- more floating point -------------------------------------------------------------

def _fabd(p, q, esz, fpcr):
    r, f = fp.fp_sub(p, q, esz, fpcr)
    return r & ~(1 << ((8 << esz) - 1)), f


def _fcmp_lane(kind: str):
    def run(p, q, esz, fpcr):
        if kind.startswith("fac"):
            sign = 1 << ((8 << esz) - 1)
            p, q = p & ~sign, q & ~sign
        nzcv, flags = fp.fp_compare(p, q, esz, fpcr, kind != "fcmeq")
        if nzcv == 0b0011:
            return 0, flags
        ones = (1 << (8 << esz)) - 1
        eq, gt = nzcv == 0b0110, nzcv == 0b0010
        res = {"fcmeq": eq, "fcmge": eq or gt, "fcmgt": gt, "facge": eq or gt, "facgt": gt}[kind]
        return (ones if res else 0), flags
    return run


_FP2_MORE = {VecOp.fmulx: fp.fp_mulx, VecOp.frecps: fp.fp_recps, VecOp.frsqrts: fp.fp_rsqrts,
             VecOp.fabd: _fabd, VecOp.fcmeq: _fcmp_lane("fcmeq"), VecOp.fcmge: _fcmp_lane("fcmge"),
             VecOp.fcmgt: _fcmp_lane("fcmgt"), VecOp.facge: _fcmp_lane("facge"),
             VecOp.facgt: _fcmp_lane("facgt")}
for _op, _fn in _FP2_MORE.items():
    SEMANTICS[_op] = _fp2(_fn)

_FP_PAIRWISE = {VecOp.faddp: fp.fp_add, VecOp.fmaxp: fp.fp_max, VecOp.fminp: fp.fp_min,
                VecOp.fmaxnmp: fp.fp_maxnum, VecOp.fminnmp: fp.fp_minnum}


def _fp_pairwise(fn) -> Semantics:
    def run(env, d, a, b, esz, oprsz, imm, x):
        cat = lanes(env, a, esz, oprsz) + lanes(env, b, esz, oprsz)
        flags, out = 0, []
        for i in range(0, len(cat), 2):
            r, f = fn(cat[i], cat[i + 1], esz, x)
            out.append(r)
            flags |= f
        put_lanes(env, d, esz, out)
        return flags
    return run


for _op, _fn in _FP_PAIRWISE.items():
    SEMANTICS[_op] = _fp_pairwise(_fn)


@semantics(VecOp.fcvtl, VecOp.fcvtn)
def sem_fcvt_ln(env, d, a, b, esz, oprsz, imm, x, op):
    flags, out = 0, []
    src, dst = (esz, esz + 1) if op is VecOp.fcvtl else (esz + 1, esz)
    for v in lanes(env, a, src, 8 if op is VecOp.fcvtl else 16):
        r, f = fp.fp_convert(v, src, dst, x)
        out.append(r)
        flags |= f
    put_lanes(env, d, dst, out)
    return flags


# -- AES -------------------------------------------------------------------------------

def _aes_tables():
    sbox = [0] * 256
    p = q = 1
    while True:
        p ^= (p << 1) ^ (0x1B if p & 0x80 else 0)
        p &= 0xFF
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        r = q ^ ((q << 1) | (q >> 7)) ^ ((q << 2) | (q >> 6)) ^ ((q << 3) | (q >> 5)) ^ ((q << 4) | (q >> 4))
        sbox[p] = (r ^ 0x63) & 0xFF
        if p == 1:
            break
    sbox[0] = 0x63
    inv = [0] * 256
    for i, v in enumerate(sbox):
        inv[v] = i
    return tuple(sbox), tuple(inv)


AES_SBOX, AES_INV_SBOX = _aes_tables()
SHIFT_ROWS = tuple((i + 4 * (i % 4)) % 16 for i in range(16))      # out[i] = in[SHIFT_ROWS[i]]
INV_SHIFT_ROWS = tuple((i - 4 * (i % 4)) % 16 for i in range(16))


def _xt(v: int) -> int:
    v <<= 1
    return (v ^ 0x1B) & 0xFF if v & 0x100 else v


def _gmul(v: int, k: int) -> int:
    r = 0
    while k:
        if k & 1:
            r ^= v
        v = _xt(v)
        k >>= 1
    return r


@semantics(VecOp.aese)
def sem_aese(env, d, a, b, esz, oprsz, imm, x):
    st = bytes(p ^ q for p, q in zip(env[a:a + 16], env[b:b + 16]))
    if imm & 1:
        out = [AES_INV_SBOX[st[INV_SHIFT_ROWS[i]]] for i in range(16)]
    else:
        out = [AES_SBOX[st[SHIFT_ROWS[i]]] for i in range(16)]
    put_lanes(env, d, 0, out)
    return 0


@semantics(VecOp.aesmc)
def sem_aesmc(env, d, a, b, esz, oprsz, imm, x):
    st = bytes(env[a:a + 16])
    m = (14, 11, 13, 9) if imm & 1 else (2, 3, 1, 1)
    out = []
    for c in range(4):
        col = st[4 * c:4 * c + 4]
        for r in range(4):
            v = 0
            for k in range(4):
                v ^= _gmul(col[k], m[(k - r) % 4])
            out.append(v)
    put_lanes(env, d, 0, out)
    return 0


@semantics(VecOp.uzpn)
def sem_uzpn(env, d, a, b, esz, oprsz, imm, x):
    n, r = imm & 15, imm >> 4
    put_lanes(env, d, esz, lanes(env, a, esz, n * oprsz)[r::n])
    return 0


@semantics(VecOp.zipn)
def sem_zipn(env, d, a, b, esz, oprsz, imm, x):
    n = imm & 15
    regs = [lanes(env, a + k * oprsz, esz, oprsz) for k in range(n)]
    put_lanes(env, d, esz, [regs[k][i] for i in range(oprsz >> esz) for k in range(n)], zero_to=0)
    return 0


# -- SHA-1 / SHA-256 ---------------------------------------------------------------------

SHA_OPS = ("sha1c", "sha1p", "sha1m", "sha1su0", "sha256h", "sha256h2", "sha256su1",
           "sha1h", "sha1su1", "sha256su0")
M32 = 0xFFFF_FFFF
M128 = (1 << 128) - 1


def _rol32(v: int, n: int) -> int:
    return ((v << n) | (v >> (32 - n))) & M32


def _ror32(v: int, n: int) -> int:
    return ((v >> n) | (v << (32 - n))) & M32


def _w(v: int, i: int) -> int:
    return (v >> (32 * i)) & M32


def _from_words(ws) -> int:
    return sum((w & M32) << (32 * i) for i, w in enumerate(ws))


def _sha1_hash(x: int, y: int, w: int, f) -> int:
    for e in range(4):
        t = f(_w(x, 1), _w(x, 2), _w(x, 3))
        y = (y + _rol32(_w(x, 0), 5) + t + _w(w, e)) & M32
        x = (x & ~(M32 << 32)) | (_rol32(_w(x, 1), 30) << 32)
        x, y = ((x << 32) | y) & M128, x >> 96
    return x


def _sha256_hash(x: int, y: int, w: int, part1: bool) -> int:
    for e in range(4):
        chs = ((_w(y, 1) ^ _w(y, 2)) & _w(y, 0)) ^ _w(y, 2)
        maj = (_w(x, 0) & _w(x, 1)) | ((_w(x, 0) | _w(x, 1)) & _w(x, 2))
        y0 = _w(y, 0)
        t = (_w(y, 3) + (_ror32(y0, 6) ^ _ror32(y0, 11) ^ _ror32(y0, 25)) + chs + _w(w, e)) & M32
        x3 = (t + _w(x, 3)) & M32
        x0 = _w(x, 0)
        y3 = (t + (_ror32(x0, 2) ^ _ror32(x0, 13) ^ _ror32(x0, 22)) + maj) & M32
        x = (x & ~(M32 << 96)) | (x3 << 96)
        y = (y & ~(M32 << 96)) | (y3 << 96)
        x, y = ((x << 32) | (y >> 96)) & M128, ((y << 32) | (x >> 96)) & M128
    return x if part1 else y


_SHA1_F = (lambda x, y, z: ((y ^ z) & x) ^ z, lambda x, y, z: x ^ y ^ z,
           lambda x, y, z: (x & y) | ((x | y) & z))


@semantics(VecOp.sha)
def sem_sha(env, d, a, b, esz, oprsz, imm, x):
    rd = int.from_bytes(env[d:d + 16], "little")
    rn = int.from_bytes(env[a:a + 16], "little")
    rm = int.from_bytes(env[b:b + 16], "little")
    op = SHA_OPS[imm]
    if op in ("sha1c", "sha1p", "sha1m"):
        r = _sha1_hash(rd, rn & M32, rm, _SHA1_F[imm])
    elif op == "sha1su0":
        r = rd ^ (((rn & MASK64) << 64) | (rd >> 64)) ^ rm
    elif op == "sha256h":
        r = _sha256_hash(rd, rn, rm, True)
    elif op == "sha256h2":
        r = _sha256_hash(rn, rd, rm, False)
    elif op == "sha256su1":
        t0 = ((rm & M32) << 96) | (rn >> 32)
        t1 = rm >> 64
        res = []
        for e in range(4):
            elt = _w(t1, e) if e < 2 else res[e - 2]
            elt = _ror32(elt, 17) ^ _ror32(elt, 19) ^ (elt >> 10)
            res.append((elt + _w(rd, e) + _w(t0, e)) & M32)
        r = _from_words(res)
    elif op == "sha1h":
        r = _rol32(rn & M32, 30)
    elif op == "sha1su1":
        t = rd ^ (rn >> 32)
        ws = [_rol32(_w(t, i), 1) for i in range(3)]
        ws.append(_rol32(_w(t, 3), 1) ^ _rol32(_w(t, 0), 2))
        r = _from_words(ws)
    else:                                               # sha256su0
        t = ((rn & M32) << 96) | (rd >> 32)
        res = []
        for e in range(4):
            elt = _w(t, e)
            elt = _ror32(elt, 7) ^ _ror32(elt, 18) ^ (elt >> 3)
            res.append((elt + _w(rd, e)) & M32)
        r = _from_words(res)
    env[d:d + 16] = r.to_bytes(16, "little")
    return 0


# -- saturating long multiplies, accumulates, estimates, round to odd ---------------------

@semantics(VecOp.qdmlal)
def sem_qdmlal(env, d, a, b, esz, oprsz, imm, x):
    st, out = 0, []
    old = _vals(env, d, esz + 1, 2 * oprsz, True)
    for p, q, o in zip(_vals(env, a, esz, oprsz, True), _vals(env, b, esz, oprsz, True), old):
        r, sat = _sat(2 * p * q, esz + 1, True)
        if imm & 6:
            r, sat2 = _sat(o - r if imm & 4 else o + r, esz + 1, True)
            sat |= sat2
        st |= QC if sat else 0
        out.append(r)
    put_lanes(env, d, esz + 1, out)
    return st


@semantics(VecOp.uqacc)
def sem_uqacc(env, d, a, b, esz, oprsz, imm, x):
    signed = bool(imm & 1)
    st, out = 0, []
    for p, o in zip(_vals(env, a, esz, oprsz, not signed), _vals(env, d, esz, oprsz, signed)):
        r, sat = _sat(o + p, esz, signed)
        st |= QC if sat else 0
        out.append(r)
    put_lanes(env, d, esz, out)
    return st


def _unsigned_estimate(v: int, rsqrt: bool) -> int:
    """UnsignedRecipEstimate / UnsignedRSqrtEstimate of a 32-bit lane."""
    if not v >> (30 if rsqrt else 31):
        return 0xFFFF_FFFF
    est = fp._rsqrt_estimate(v >> 23) if rsqrt else fp._recip_estimate(v >> 23)
    return (est & 0x1FF) << 23


@semantics(VecOp.urecpe)
def sem_urecpe(env, d, a, b, esz, oprsz, imm, x):
    put_lanes(env, d, 2, [_unsigned_estimate(v, bool(imm & 1)) for v in lanes(env, a, 2, oprsz)])
    return 0


def _fcvt_odd(v: int, esz: int, fpcr: int) -> tuple[int, int]:
    """FPConvert to the narrower esz with FPRounding_ODD: truncate, and make
    the last bit one when that lost anything (no overflow to infinity)."""
    f = [0]
    t, s, value = fp.unpack(v, esz + 1, fpcr, f)
    if t not in (fp.NORMAL, fp.DENORM):
        r, g = fp.fp_convert(v, esz + 1, esz, fpcr)
        return r, f[0] | g
    g = [0]
    r = fp.fp_round(value, esz, fpcr, g, fp.RZ)
    if g[0] & fp.IXC and not g[0] & fp.OFC:
        r |= 1
    return r, f[0] | g[0]


@semantics(VecOp.fcvtxn)
def sem_fcvtxn(env, d, a, b, esz, oprsz, imm, x):
    flags, out = 0, []
    for v in lanes(env, a, esz + 1, 2 * oprsz):
        r, f = _fcvt_odd(v, esz, x)
        out.append(r)
        flags |= f
    put_lanes(env, d, esz, out)
    return flags


SEMANTICS[VecOp.frecpx] = _fp1(lambda p, e, fpcr, imm: fp.fp_recpx(p, e, fpcr))


@semantics(VecOp.qrdmlah)
def sem_qrdmlah(env, d, a, b, esz, oprsz, imm, x):
    bits = 8 << esz
    st, out = 0, []
    for p, q, o in zip(_vals(env, a, esz, oprsz, True), _vals(env, b, esz, oprsz, True),
                       _vals(env, d, esz, oprsz, True)):
        prod = -2 * p * q if imm & 2 else 2 * p * q
        r, sat = _sat(((o << bits) + prod + (1 << (bits - 1))) >> bits, esz, True)
        st |= QC if sat else 0
        out.append(r)
    put_lanes(env, d, esz, out)
    return st


# -- the JIT's way in -------------------------------------------------------------
# Operations without an LLVM vector lowering are run by the same semantics
# through one helper the backend calls with the env pointer (it is the one
# helper that touches CPU state; IR never names it in an Op.call, whose
# arguments are values).  The constants travel packed into one i64.

KINDS = list(VecOp)
assert len(KINDS) <= 256, "pack() has 8 bits for the kind"
KIND_INDEX = {op: i for i, op in enumerate(KINDS)}
_OFS_BITS = 12
ENV_VIEW_SIZE = 1 << _OFS_BITS


# Bit positions in the packed word (the JIT's FP library unpacks offsets too).
PACK_ESZ, PACK_OPRSZ, PACK_D, PACK_A, PACK_B, PACK_IMM = 8, 10, 13, 25, 37, 49


def pack(kind: VecOp, d: int, a: int, b: int, esz: int, oprsz: int, imm: int) -> int:
    """All of a vec op's constants in 64 bits: kind 8, esz 2, log2 oprsz 3,
    three 12-bit env offsets, imm 15 (the helper takes the i64 unsigned)."""
    assert 0 <= imm < 1 << 15 and max(d, a, b) < ENV_VIEW_SIZE, (kind, d, a, b, imm)
    return (KIND_INDEX[kind] | esz << PACK_ESZ | (oprsz.bit_length() - 1) << PACK_OPRSZ
            | d << PACK_D | a << PACK_A | b << PACK_B | imm << PACK_IMM)


def unpack(packed: int) -> tuple[VecOp, int, int, int, int, int, int]:
    m = (1 << _OFS_BITS) - 1
    return (KINDS[packed & 0xFF], (packed >> PACK_D) & m, (packed >> PACK_A) & m,
            (packed >> PACK_B) & m, (packed >> PACK_ESZ) & 3, 1 << ((packed >> PACK_OPRSZ) & 7),
            packed >> PACK_IMM)


_views: dict[int, memoryview] = {}


def _env_view(addr: int) -> memoryview:
    v = _views.get(addr)
    if v is None:
        import ctypes
        v = _views[addr] = memoryview((ctypes.c_uint8 * ENV_VIEW_SIZE).from_address(addr)).cast("B")
    return v


# Calls of vec_env by kind (KINDS index): the vec ops translated code ran in
# Python, in this process (--stats).
VEC_ENV_CALLS = [0] * len(KINDS)


def vec_env(env_addr: int, packed: int, x: int) -> int:
    """The ``vec_env`` helper (tcgpy.ir.helpers): a vec op with no host code,
    on the guest's env in place."""
    VEC_ENV_CALLS[packed & 0xFF] += 1
    kind, d, a, b, esz, oprsz, imm = unpack(packed)
    return SEMANTICS[kind](_env_view(env_addr), d, a, b, esz, oprsz, imm, x)


def run(env, kind: VecOp, d: int, a: int, b: int, esz: int, oprsz: int, imm: int, x: int) -> int:
    """Execute one vec op on ``env`` (bytes-like, writable); returns the status word."""
    return SEMANTICS[kind](env, d, a, b, esz, oprsz, imm, x) & MASK64
