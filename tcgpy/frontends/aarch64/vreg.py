"""Access to the FP/SIMD registers for the A64 translators: q registers
are env fields (not IR globals) read and written with ld_env/st_env and the
vec op.  Every write of a b/h/s/d scalar or of a 64-bit vector zeroes the
rest of the 128-bit register (Arm ARM: V[] and the scalar views)."""
from __future__ import annotations

from . import fpsem as fp
from ...ir.core import Temp
from ...ir.ops import MemOp, Op
from .vecsem import KNOWN_IXC_BIT, KNOWN_IXC_OPS, VecOp
from .cpu import LAYOUT

QOFF = tuple(LAYOUT.offsets[f"q{i}"] for i in range(32))
VTMP = LAYOUT.offsets["vtmp"]
VTMP_SIZE = 128

# FPSR bits a floating-point operation may raise (its status word's low byte).
FPSR_EXC = 0x9F


def qofs(n: int, byte: int = 0) -> int:
    return QOFF[n & 31] + byte


def read_v(ctx, n: int, size_log2: int, byte: int = 0, sign: bool = False) -> Temp:
    """An element (or the low scalar) of vector register n as a temp."""
    out = ctx.b.new_local()
    ctx.b.emit(Op.ld_env, out, consts=(qofs(n, byte), MemOp.make(size_log2, sign)))
    return out


def write_v_elem(ctx, n: int, value, size_log2: int, byte: int = 0) -> None:
    """Write one element, leaving the rest of the register alone (ins)."""
    ctx.b.emit(Op.st_env, value, consts=(qofs(n, byte), MemOp.make(size_log2)))


def write_v_scalar(ctx, n: int, value, size_log2: int) -> None:
    """Write the low b/h/s/d scalar (or a 64-bit vector) and zero the rest."""
    b = ctx.b
    if size_log2 < 3:
        value = b.and_(value, (1 << (8 << size_log2)) - 1)
    write_v_elem(ctx, n, value, 3)
    write_v_elem(ctx, n, 0, 3, 8)


def write_v_q(ctx, n: int, lo, hi) -> None:
    write_v_elem(ctx, n, lo, 3)
    write_v_elem(ctx, n, hi, 3, 8)


def zero_tmp(ctx, nbytes: int = 16, byte: int = 0) -> int:
    """Zero ``nbytes`` of the scratch area; returns its env offset."""
    for i in range(0, nbytes, 8):
        ctx.b.emit(Op.st_env, 0, consts=(VTMP + byte + i, MemOp.make(3)))
    return VTMP + byte


def gen_vec(ctx, kind: VecOp, d: int, a: int = 0, b: int = 0, esz: int = 0, oprsz: int = 16,
            imm: int = 0, x=0) -> Temp:
    """Emit one vec op on env offsets; returns its status word."""
    out = ctx.b.new_local()
    ctx.b.emit(Op.vec, out, x, consts=(kind, d, a, b, esz, oprsz, imm))
    return out


def gen_fp(ctx, kind: VecOp, d: int, a: int = 0, b: int = 0, esz: int = 3, oprsz: int | None = None,
           imm: int = 0) -> Temp:
    """A floating-point vec op under the current FPCR; its exception flags
    accumulate into FPSR.  Returns the status word."""
    g = ctx.g
    x = g["fpcr"]
    if kind in KNOWN_IXC_OPS:
        # The JIT may skip computing inexactness once FPSR.IXC is set.
        ixc = ctx.b.and_(g["fpsr"], fp.IXC)
        x = ctx.b.or_(x, ctx.b.shl(ixc, KNOWN_IXC_BIT - 4))
    st = gen_vec(ctx, kind, d, a, b, esz, (1 << esz) if oprsz is None else oprsz, imm, x)
    ctx.b.mov(g["fpsr"], ctx.b.or_(g["fpsr"], ctx.b.and_(st, FPSR_EXC)))
    return st


def gen_to_high_half(ctx, rd: int, src_ofs: int) -> None:
    """The '2' forms of narrowing instructions: the 8 bytes at src_ofs go to
    the upper half of rd, the lower half is kept."""
    b = ctx.b
    t = b.new_local()
    b.emit(Op.ld_env, t, consts=(src_ofs, MemOp.make(3)))
    write_v_elem(ctx, rd, t, 3, 8)
