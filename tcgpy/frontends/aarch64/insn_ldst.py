"""A64 loads and stores of general registers: immediate (scaled, unscaled,
pre/post-index, unprivileged), register offset, literal, pairs (incl. ldnp/stnp
and ldpsw), load-acquire/store-release, exclusives, and prefetch (a nop).
The SIMD&FP register forms (V=1) are in insn_simd_ldst.py.

Precise faults: every guest-visible effect of an instruction (register writes,
writeback, the exclusive monitor) is emitted after the last of its memory
accesses that can fault, so a faulting instruction leaves no trace.

Where the Arm ARM leaves the outcome CONSTRAINED UNPREDICTABLE, tcgpy does what
QEMU (and so Unicorn, the difftest reference) does:
- Writeback with rn == rt (or rt2), rn != 31: a load writes rt first and the
  base register last, so rn holds the written-back address; a store stores the
  value rt had before the writeback.
- ldp with rt == rt2: rt2 is written first, then rt, so rt gets the first
  (lower) element.  ldxp with rt == rt2: rt then rt2, rt2's element wins.

Page-crossing pairs: see ops.pair_upper_first (which element is stored first).
- A store-exclusive whose size differs from the load-exclusive compares the
  loaded value, zero-extended, against the whole monitored value (and so
  usually fails).  Unlike QEMU it never writes memory when it reports failure.
- rs == rt or rs == rn in a store-exclusive: executes as written (rt and rn
  are read before rs is written).

Not modelled: the SP alignment check (SCTLR_EL1.SA0), which QEMU omits as well;
the *should-be-one* Rs/Rt2 fields of the exclusive/ordered forms are ignored
as QEMU ignores them.
"""
from __future__ import annotations

from ...record import record

from ...ir.ops import Cond, Exit, MemOp, Op
from .cpu import LAYOUT
from .decode import A64
from .insn_dp_reg import gen_extend

# Index modes of the immediate forms.
OFFSET, POST, PRE = 0, 1, 3


@record(frozen=True)
class Access:
    """One general-register access: log2 size, direction, and for loads the
    sign extension and destination width (sf 0: a W register)."""
    size: int
    load: bool
    sign: bool = False
    sf: int = 1


# opc of the single-register forms -> (load, sign-extend, destination sf,
# largest size); size 3 with opc 2 is PRFM, the other gaps are unallocated.
OPC_ROWS = {
    0: (False, False, 1, 3),        # str*
    1: (True, False, 1, 3),         # ldr*, zero-extending
    2: (True, True, 1, 2),          # ldrsb/ldrsh/ldrsw into X
    3: (True, True, 0, 1),          # ldrsb/ldrsh into W
}
GPR_ACCESS: dict[tuple[int, int], Access] = {
    (size, opc): Access(size, load, sign, sf)
    for opc, (load, sign, sf, top) in OPC_ROWS.items() for size in range(top + 1)}


def gpr_access(size: int, opc: int) -> Access | None:
    """The access of a single-register form; None for PRFM and the gaps."""
    return GPR_ACCESS.get((size, opc))


def is_prfm(size: int, opc: int) -> bool:
    return size == 3 and opc == 2


# -- shared shapes -------------------------------------------------------------

def gen_ldst_gpr(ctx, acc: Access, rt: int, rn: int, offset, mode: int = OFFSET,
                 align: bool = False) -> None:
    """Load or store rt at [rn + offset] in index mode ``mode``; rn 31 is SP."""
    b = ctx.b
    base = ctx.read_reg(rn, sp=True)
    moved = b.add(base, offset)             # a local: survives a write to rt == rn
    addr = base if mode == POST else moved
    if acc.load:
        val = ctx.gen_ld(addr, acc.size, acc.sign, align)
        ctx.write_reg(rt, val, acc.sf)
    else:
        ctx.gen_st(ctx.read_reg(rt), addr, acc.size, align)
    if mode != OFFSET:
        ctx.write_reg(rn, moved, sp=True)


def gen_ldst_pair(ctx, size: int, load: bool, sign: bool, rt: int, rt2: int, rn: int,
                  offset: int, mode: int) -> None:
    """ldp/stp/ldpsw/ldnp/stnp of two registers of 1 << size bytes."""
    b = ctx.b
    base = ctx.read_reg(rn, sp=True)
    moved = b.add(base, offset)
    addr = base if mode == POST else moved
    if load:
        # Two accesses of the element size, as the architecture issues them
        # (an MMIO device sees two word reads for an ldp of w registers).
        v1 = ctx.gen_ld(addr, size, sign)
        v2 = ctx.gen_ld(b.add(addr, 1 << size), size, sign)
        ctx.write_reg(rt2, v2)
        ctx.write_reg(rt, v1)
    else:
        ctx.gen_st2(ctx.read_reg(rt), ctx.read_reg(rt2), addr, size)
    if mode != OFFSET:
        ctx.write_reg(rn, moved, sp=True)


# How the emulator's slow path encodes env.fault_access (tcgpy/emulator.py):
# the index of the access in ("read", "write", "fetch"), plus 8 for alignment.
ACCESS_READ, ACCESS_WRITE, FAULT_ALIGN = 0, 1, 8


def gen_check_align(ctx, addr, nbytes: int, access: int) -> None:
    """Raise an alignment fault at this instruction unless addr % nbytes == 0.

    For alignments the MemOp cannot express (16-byte exclusive pairs) and for
    checks that must come before any access (a failing store-exclusive).
    """
    b = ctx.b
    ok = b.new_label()
    b.brcond(Cond.eq, b.and_(addr, nbytes - 1), 0, ok)
    b.emit(Op.st_env, addr, consts=(LAYOUT.offsets["fault_addr"], MemOp.make(3)))
    b.emit(Op.st_env, access | FAULT_ALIGN,
           consts=(LAYOUT.offsets["fault_access"], MemOp.make(3)))
    b.exit_tb(ctx.pc, Exit.FAULT)
    b.set_label(ok)


# -- load/store register (unsigned immediate, unscaled, pre/post, unprivileged) --

@A64.pattern("size:2 111 0 01 opc:2 imm:12 rn:5 rt:5")
def trans_LDST_uimm(ctx, a):
    if is_prfm(a.size, a.opc):
        return None
    acc = gpr_access(a.size, a.opc)
    if acc is None:
        return False
    gen_ldst_gpr(ctx, acc, a.rt, a.rn, a.imm << a.size)


# ldur/stur (idx 00), post-index (01), ldtr/sttr (10: unprivileged, which at
# EL0 is an ordinary access), pre-index (11).
@A64.pattern("size:2 111 0 00 opc:2 0 imm:s9 00 rn:5 rt:5", mode=OFFSET, prfum=1)
@A64.pattern("size:2 111 0 00 opc:2 0 imm:s9 01 rn:5 rt:5", mode=POST, prfum=0)
@A64.pattern("size:2 111 0 00 opc:2 0 imm:s9 10 rn:5 rt:5", mode=OFFSET, prfum=0)
@A64.pattern("size:2 111 0 00 opc:2 0 imm:s9 11 rn:5 rt:5", mode=PRE, prfum=0)
def trans_LDST_imm9(ctx, a):
    if is_prfm(a.size, a.opc) and a.prfum:
        return None
    acc = gpr_access(a.size, a.opc)
    if acc is None:
        return False
    gen_ldst_gpr(ctx, acc, a.rt, a.rn, a.imm, a.mode)


@A64.pattern("size:2 111 0 00 opc:2 1 rm:5 option:3 S:1 10 rn:5 rt:5")
def trans_LDST_reg(ctx, a):
    if not a.option & 2:                    # only UXTW, LSL, SXTW, SXTX
        return False
    if is_prfm(a.size, a.opc):
        return None
    acc = gpr_access(a.size, a.opc)
    if acc is None:
        return False
    offset = gen_extend(ctx, ctx.read_reg(a.rm), a.option, a.size if a.S else 0)
    gen_ldst_gpr(ctx, acc, a.rt, a.rn, offset)


# opc: 00 ldr w, 01 ldr x, 10 ldrsw, 11 prfm
LITERAL_ACCESS = (Access(2, True), Access(3, True), Access(2, True, sign=True), None)


@A64.pattern("opc:2 011 0 00 imm:s19 rt:5")
def trans_LDR_lit(ctx, a):
    acc = LITERAL_ACCESS[a.opc]
    if acc is None:
        return None
    val = ctx.gen_ld(ctx.b.const(ctx.pc + a.imm * 4), acc.size, acc.sign)
    ctx.write_reg(a.rt, val)


# -- pairs ------------------------------------------------------------------------
# idx: 00 no-allocate hint (ldnp/stnp: a plain offset access), 01 post, 10 offset, 11 pre
PAIR_MODE = (OFFSET, POST, OFFSET, PRE)


@A64.pattern("opc:2 101 0 0 idx:2 L:1 imm:s7 rt2:5 rn:5 rt:5")
def trans_LDST_pair(ctx, a):
    if a.opc == 3:
        return False
    sign = a.opc == 1
    if sign and (not a.L or a.idx == 0):    # stgp (MTE) and "ldnpsw" are unallocated
        return False
    size = 2 if a.opc < 2 else 3
    gen_ldst_pair(ctx, size, bool(a.L), sign, a.rt, a.rt2, a.rn, a.imm << size, PAIR_MODE[a.idx])


# -- load-acquire / store-release ---------------------------------------------------
# Ordering is implicit: tcgpy runs one guest thread in program order.  The
# architecture requires natural alignment (Arm ARM: AccType_ORDERED faults on
# any misalignment without FEAT_LSE2); Unicorn's QEMU 5 does not check it.

@A64.pattern("size:2 001000 1 L:1 0 ----- 1 ----- rn:5 rt:5")
def trans_LDAR_STLR(ctx, a):
    gen_ldst_gpr(ctx, GPR_ACCESS[(a.size, a.L)], a.rt, a.rn, 0, align=True)


# -- exclusives ---------------------------------------------------------------------
# The monitor is QEMU's: ldxr records the address in excl_addr and the value
# in excl_val (excl_val2: the second doubleword of a 64-bit pair); a store-
# exclusive succeeds iff its address is excl_addr and memory still holds the
# recorded value, and always clears the monitor (excl_addr = -1).

@A64.pattern("size:2 001000 0 1 0 ----- o0:1 ----- rn:5 rt:5")
def trans_LDXR(ctx, a):
    addr = ctx.read_reg(a.rn, sp=True)
    val = ctx.gen_ld(addr, a.size, align=True)
    ctx.b.mov(ctx.g["excl_addr"], addr)
    ctx.b.mov(ctx.g["excl_val"], val)
    ctx.write_reg(a.rt, val)


@A64.pattern("1 sz:1 001000 0 1 1 ----- o0:1 rt2:5 rn:5 rt:5")
def trans_LDXP(ctx, a):
    b = ctx.b
    addr = ctx.read_reg(a.rn, sp=True)
    if a.sz == 0:
        # A 32-bit pair is one 64-bit single-copy-atomic access.
        val = ctx.gen_ld(addr, 3, align=True)
        b.mov(ctx.g["excl_addr"], addr)
        b.mov(ctx.g["excl_val"], val)
        ctx.write_reg(a.rt, val, sf=0)
        ctx.write_reg(a.rt2, b.shr(val, 32))
        return
    # A 64-bit pair must be aligned to its 16 bytes.
    gen_check_align(ctx, addr, 16, ACCESS_READ)
    v1 = ctx.gen_ld(addr, 3)
    v2 = ctx.gen_ld(b.add(addr, 8), 3)
    b.mov(ctx.g["excl_addr"], addr)
    b.mov(ctx.g["excl_val"], v1)
    b.mov(ctx.g["excl_val2"], v2)
    ctx.write_reg(a.rt, v1)
    ctx.write_reg(a.rt2, v2)


def gen_store_exclusive(ctx, rs: int, rn: int, size: int, align: int, values) -> None:
    """Store ``values`` (one per doubleword at most, each ``1 << size`` bytes)
    at [rn] if the monitor holds; rs = 0 on success, 1 on failure.

    The alignment fault comes before the monitor check, as in the Arm ARM's
    AArch64.ExclusiveMonitorsPass (QEMU checks alignment only on a monitor hit).
    """
    b = ctx.b
    addr = ctx.read_reg(rn, sp=True)
    gen_check_align(ctx, addr, align, ACCESS_WRITE)
    fail, done = b.new_label(), b.new_label()
    status = b.new_local()
    b.brcond(Cond.ne, addr, ctx.g["excl_addr"], fail)
    if len(values) == 1:
        # one compare-and-swap: atomic for other processes sharing the memory
        # too.  A monitored value wider than the store never matches.
        excl = ctx.g["excl_val"]
        if size < 3:
            b.brcond(Cond.gtu, excl, (1 << (8 << size)) - 1, fail)
        seen = ctx.gen_cmpxchg(addr, excl, values[0], size, align=False)
        b.brcond(Cond.ne, seen, excl, fail)
    else:
        # (a pair of doublewords: two loads and two stores, atomic for this
        # process's threads only)
        addrs = [addr, b.add(addr, 8)]
        expected = (ctx.g["excl_val"], ctx.g["excl_val2"])
        for i, ad in enumerate(addrs):
            b.brcond(Cond.ne, ctx.gen_ld(ad, size), expected[i], fail)
        for v, ad in zip(values, addrs):
            ctx.gen_st(v, ad, size)
    b.mov(status, 0)
    b.br(done)
    b.set_label(fail)
    b.mov(status, 1)
    b.set_label(done)
    b.mov(ctx.g["excl_addr"], -1)
    ctx.write_reg(rs, status)


@A64.pattern("size:2 001000 0 0 0 rs:5 o0:1 ----- rn:5 rt:5")
def trans_STXR(ctx, a):
    gen_store_exclusive(ctx, a.rs, a.rn, a.size, 1 << a.size, [ctx.read_reg(a.rt)])


@A64.pattern("1 sz:1 001000 0 0 1 rs:5 o0:1 rt2:5 rn:5 rt:5")
def trans_STXP(ctx, a):
    b = ctx.b
    if a.sz == 0:
        lo = b.ext32u(ctx.read_reg(a.rt))
        val = b.or_(lo, b.shl(ctx.read_reg(a.rt2), 32))
        gen_store_exclusive(ctx, a.rs, a.rn, 3, 8, [val])
    else:
        gen_store_exclusive(ctx, a.rs, a.rn, 3, 16, [ctx.read_reg(a.rt), ctx.read_reg(a.rt2)])

