"""A64 atomic memory operations (FEAT_LSE): cas, casp, swp and the ld<op>
family (add, clr, eor, set, smax, smin, umax, umin; the st<op> aliases are the
same encodings with rt = zr), every size and every ordering.

Atomicity: guest threads of a process run one at a time, but other processes
may share the memory (MAP_SHARED, or shared anonymous memory after a fork)
and run at the same time on other host cores.  So the store is a
compare-and-swap (Op.cmpxchg, the host's atomic instruction): cas is one;
swp and ld<op> load, compute and swap in what they loaded, and run again
from the instruction when another process changed it meanwhile (the block
exits to it).  The ordering bits (A, R/L, o0) need nothing more: the host's
compare-and-swap is sequentially consistent.  Not atomic across processes:
casp of two doublewords (a 16-byte access: two loads and two stores).

Every form loads, then stores (a compare-and-swap needs write permission
whatever it compares), then writes registers:
- Precise faults: a fault in either access leaves registers and memory as
  they were.  An unmapped address faults on the load (reported as a read, as
  the Arm ARM's ESR.WnR rule for atomics says: 0 when a read of the address
  would have faulted); a read-only page faults on the store (a write).
- A cas whose comparison fails stores the old value back.  Memory does not
  change, but the access is still a write for the permission check, as
  AArch64.CheckPermission makes it for AccType_ATOMICRW: a cas on a read-only
  page faults whatever it compares (QEMU's non-parallel cmpxchg does the same).
- Alignment: without FEAT_LSE2 every form must be naturally aligned (casp: to
  the size of the pair), else an alignment fault (AArch64.CheckAlignment).
- Results zero-extend from the access size into W (b, h, w) or X; smax/smin
  compare the operands as signed values of the access size.

Undefined: casp with an odd rs or rt (Arm ARM CASP: "if Rs<0> == '1' then
UNDEFINED"), cas/casp with Rt2 != 11111, and the o3=1 encodings other than swp
(ldapr is FEAT_LRCPC, the ld64b/st64b family FEAT_LS64: neither is implemented).
"""
from __future__ import annotations

from typing import Callable

from ...ir.builder import Builder
from ...ir.core import Temp
from ...ir.ops import Cond
from .decode import A64
from .insn_ldst import ACCESS_READ, gen_check_align

# Truncation to an access size (log2 bytes), unsigned and signed.
ZERO_EXT = {0: Builder.ext8u, 1: Builder.ext16u, 2: Builder.ext32u}
SIGN_EXT = {0: Builder.ext8s, 1: Builder.ext16s, 2: Builder.ext32s}


def _zext(b: Builder, v, size: int) -> Temp:
    return ZERO_EXT[size](b, v) if size < 3 else b.temp(v)


def _sext(b: Builder, v, size: int) -> Temp:
    return SIGN_EXT[size](b, v) if size < 3 else b.temp(v)


def _pick(cond: Cond, sign: bool) -> Callable[[Builder, Temp, Temp, int], Temp]:
    """max/min: the operand for which ``old cond value`` holds, else value;
    compared as ``size``-wide signed or unsigned numbers."""
    ext = _sext if sign else _zext

    def gen(b: Builder, old: Temp, value: Temp, size: int) -> Temp:
        o, v = ext(b, old, size), ext(b, value, size)
        return b.movcond(cond, o, v, o, v)
    return gen


# opc of the atomic memory operations (o3 = 0) -> the value stored, from the
# old memory value (zero-extended) and Rs; only its low ``size`` bytes matter.
LDOPS: dict[int, tuple[str, Callable[[Builder, Temp, Temp, int], Temp]]] = {
    0b000: ("add", lambda b, old, value, size: b.add(old, value)),
    0b001: ("clr", lambda b, old, value, size: b.andc(old, value)),
    0b010: ("eor", lambda b, old, value, size: b.xor(old, value)),
    0b011: ("set", lambda b, old, value, size: b.or_(old, value)),
    0b100: ("smax", _pick(Cond.gt, sign=True)),
    0b101: ("smin", _pick(Cond.lt, sign=True)),
    0b110: ("umax", _pick(Cond.gtu, sign=False)),
    0b111: ("umin", _pick(Cond.ltu, sign=False)),
}


def gen_atomic_rmw(ctx, size: int, rs: int, rt: int, rn: int,
                   op: Callable[[Builder, Temp, Temp, int], Temp]) -> None:
    """[rn] = op(old, Xs); Xt = old, zero-extended (rt = zr discards it)."""
    b = ctx.b
    addr = ctx.read_reg(rn, sp=True)
    value = ctx.read_reg(rs)
    old = ctx.gen_ld(addr, size, align=True)
    ctx.gen_swap_or_retry(addr, old, op(b, old, value, size), size)
    ctx.write_reg(rt, old)


# -- atomic memory operations ---------------------------------------------------------
# A: acquire, R: release (ignored, see the module docstring).

@A64.pattern("size:2 111 0 00 A:1 R:1 1 rs:5 0 opc:3 00 rn:5 rt:5")
def trans_LDOP(ctx, a):
    gen_atomic_rmw(ctx, a.size, a.rs, a.rt, a.rn, LDOPS[a.opc][1])


@A64.pattern("size:2 111 0 00 A:1 R:1 1 rs:5 1 000 00 rn:5 rt:5")
def trans_SWP(ctx, a):
    gen_atomic_rmw(ctx, a.size, a.rs, a.rt, a.rn, lambda b, old, value, size: value)


# -- compare and swap -------------------------------------------------------------------
# L: acquire, o0: release.

@A64.pattern("size:2 001000 1 L:1 1 rs:5 o0:1 11111 rn:5 rt:5")
def trans_CAS(ctx, a):
    """If [rn] == Ws/Xs (at the access size) then [rn] = Wt/Xt; Xs = old."""
    b = ctx.b
    size = a.size
    addr = ctx.read_reg(a.rn, sp=True)
    expected = _zext(b, ctx.read_reg(a.rs), size)
    new = ctx.read_reg(a.rt)
    ctx.write_reg(a.rs, ctx.gen_cmpxchg(addr, expected, new, size))


@A64.pattern("0 sz:1 001000 0 L:1 1 rs:5 o0:1 11111 rn:5 rt:5")
def trans_CASP(ctx, a):
    """Compare the pair at [rn] with (Rs, Rs+1), store (Rt, Rt+1) if equal;
    (Rs, Rs+1) = the old pair.  Register 31 in a pair (rs or rt = 30) is zr."""
    if (a.rs | a.rt) & 1:
        return False
    b = ctx.b
    addr = ctx.read_reg(a.rn, sp=True)
    s1, s2 = ctx.read_reg(a.rs), ctx.read_reg(a.rs + 1)
    t1, t2 = ctx.read_reg(a.rt), ctx.read_reg(a.rt + 1)
    if a.sz == 0:
        # A pair of words is one doubleword access, the first word in the
        # low half (little-endian).
        expected = b.or_(b.ext32u(s1), b.shl(s2, 32))
        new = b.or_(b.ext32u(t1), b.shl(t2, 32))
        old = ctx.gen_cmpxchg(addr, expected, new, 3)
        ctx.write_reg(a.rs, old, sf=0)
        ctx.write_reg(a.rs + 1, b.shr(old, 32))
        return
    # A pair of doublewords: two accesses in memory order, aligned to 16
    # bytes, so both lie in one page and the two stores cannot part on a fault.
    gen_check_align(ctx, addr, 16, ACCESS_READ)
    addr2 = b.add(addr, 8)
    d1 = ctx.gen_ld(addr, 3)
    d2 = ctx.gen_ld(addr2, 3)
    equal = b.and_(b.setcond(Cond.eq, d1, s1), b.setcond(Cond.eq, d2, s2))
    ctx.gen_st(b.movcond(Cond.ne, equal, 0, t1, d1), addr, 3)
    ctx.gen_st(b.movcond(Cond.ne, equal, 0, t2, d2), addr2, 3)
    ctx.write_reg(a.rs, d1)
    ctx.write_reg(a.rs + 1, d2)
