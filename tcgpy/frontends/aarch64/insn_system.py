"""A64 exception generation and system instructions: svc, brk, hlt, hints,
barriers, clrex, the EL0 cache-maintenance instructions, and mrs/msr of the
system registers user space can reach.

The model is a Linux EL0 process on a Cortex-A72-class core (AArch32 capable,
as Unicorn's default CPU): the ID values below are that core's, and the
writable FPCR/FPSR bits are the ones such a core implements.
Everything else in the system space is undefined (SIGILL), which is what EL0
sees for EL1 registers, for msr daifset/daifclr under Linux (SCTLR_EL1.UMA=0)
and for the PSTATE fields of features not implemented (SSBS, DIT, TCO, PAN...).
"""
from __future__ import annotations

from ...record import record
from typing import Callable

from ...ir import helpers
from ...ir.ops import Exit, Op
from .decode import A64
from .cpu import FPCR_MASK, FPSR_MASK, LAYOUT

# -- exception generation -----------------------------------------------------------


@A64.pattern("11010100 000 imm:16 000 01")
def trans_SVC(ctx, a):
    # The return to EL0 (ERET) clears the local exclusive monitor
    # (AArch64.ExceptionReturn); nothing of the guest runs in between.
    ctx.b.mov(ctx.g["excl_addr"], -1)
    # pc points after the svc when the syscall handler runs, as on Linux.
    ctx.gen_exit(ctx.next_pc, Exit.SYSCALL)


@A64.pattern("11010100 001 imm:16 000 00")
def trans_BRK(ctx, a):
    ctx.gen_exit(ctx.pc, Exit.TRAP)


@A64.pattern("11010100 010 imm:16 000 00")
def trans_HLT(ctx, a):
    ctx.gen_exit(ctx.pc, Exit.HALT)


# -- hints and barriers ---------------------------------------------------------------

@A64.pattern("11010101 00000011 0010 crm:4 op2:3 11111")
def trans_HINT(ctx, a):
    # nop, yield, wfe, wfi, sev, sevl, and the hints of features not
    # implemented (pointer authentication, BTI, ...) execute as nop, as on a
    # core without those features.
    return None


@A64.pattern("11010101 00000011 0011 crm:4 op2:3 11111")
def trans_BARRIER(ctx, a):
    # op2: 2 clrex, 4 dsb (incl. ssbb/pssbb), 5 dmb, 6 isb, 7 sb (crm 0).
    # One guest thread in program order: barriers order nothing.  isb need not
    # end the block: code changes are caught by the block cache's page tracking.
    if a.op2 == 2:
        ctx.b.mov(ctx.g["excl_addr"], -1)
        return None
    if a.op2 in (4, 5, 6) or (a.op2 == 7 and a.crm == 0):
        return None
    return False


# -- sys: cache maintenance reachable from EL0 ---------------------------------------------

DCZVA_BLOCK = 64        # bytes zeroed by dc zva: DCZID_EL0.BS = log2(64 / 4)


def gen_dc_zva(ctx, rt: int) -> None:
    # The block is aligned and never crosses a page, so the first store faults
    # before any byte is written if any would.
    b = ctx.b
    base = b.and_(ctx.read_reg(rt), -DCZVA_BLOCK)
    for off in range(0, DCZVA_BLOCK, 8):
        ctx.gen_st(0, b.add(base, off), 3)


def gen_cache_nop(ctx, rt: int) -> None:
    # dc cvau/cvac/civac: no caches to maintain (stores to translated code
    # are caught by the block cache's page tracking).  Real hardware would
    # fault on an unmapped address; QEMU/Unicorn do not either.
    return None


def gen_ic_ivau(ctx, rt: int) -> None:
    # Code written through another mapping of the same memory (a JIT's
    # writable view of its executable one, W^X by double mapping) is no
    # store to the executable page: the page tracking cannot see it, so the
    # instruction-cache invalidation __clear_cache issues drops what was
    # translated there (the dispatcher does, at Exit.SYNC:
    # Emulator.invalidate_code, which also covers a flush through the
    # writable view), as it makes the new instructions visible on hardware.
    # qemu-aarch64 ignores it and runs the old code.
    ctx.b.emit(Op.st_env, ctx.read_reg(rt), consts=(LAYOUT.offsets["exit_info"], 3))
    ctx.gen_exit(ctx.next_pc, Exit.SYNC)


# (op1, CRn, CRm, op2) of SYS -> translator; Linux enables all of these at EL0
# (SCTLR_EL1.DZE, UCI).
SYS_OPS: dict[tuple[int, int, int, int], Callable] = {
    (3, 7, 4, 1): gen_dc_zva,        # dc zva
    (3, 7, 11, 1): gen_cache_nop,    # dc cvau
    (3, 7, 10, 1): gen_cache_nop,    # dc cvac
    (3, 7, 14, 1): gen_cache_nop,    # dc civac
    (3, 7, 5, 1): gen_ic_ivau,       # ic ivau
}


@A64.pattern("1101010100 0 01 op1:3 crn:4 crm:4 op2:3 rt:5")
def trans_SYS(ctx, a):
    fn = SYS_OPS.get((a.op1, a.crn, a.crm, a.op2))
    if fn is None:
        return False
    fn(ctx, a.rt)


# -- mrs / msr ------------------------------------------------------------------------------

@record(frozen=True)
class SysReg:
    """A system register visible at EL0.  ``read(ctx)`` returns its value as
    a temp; ``write(ctx, value)`` is None for read-only registers."""
    name: str
    read: Callable
    write: Callable | None = None



# Cortex-A72 r0p3, as Unicorn's default CPU reports them.
MIDR_EL1 = 0x410F_D083
# IminLine=DminLine=64 bytes, L1Ip PIPT, ERG=CWG=64 bytes; IDC/DIC clear so
# __clear_cache issues dc cvau/ic ivau, which are nops here.
CTR_EL0 = 0x8444_C004
DCZID_EL0 = 4            # DZP=0 (dc zva permitted), BS=4 (64-byte blocks)


def _const(value: int) -> Callable:
    return lambda ctx: ctx.b.const(value)


def _field(name: str, mask: int | None = None):
    def read(ctx):
        return ctx.g[name]

    def write(ctx, value):
        ctx.b.mov(ctx.g[name], value if mask is None else ctx.b.and_(value, mask))
    return read, write


def _read_nzcv(ctx):
    b = ctx.b
    v = b.shl(ctx.nf, 31)
    for flag, bit in ((ctx.zf, 30), (ctx.cf, 29), (ctx.vf, 28)):
        v = b.or_(v, b.shl(flag, bit))
    return v


def _write_nzcv(ctx, value):
    b = ctx.b
    for flag, bit in ((ctx.nf, 31), (ctx.zf, 30), (ctx.cf, 29), (ctx.vf, 28)):
        b.mov(flag, b.and_(b.shr(value, bit), 1))


def _read_cntvct(ctx):
    return ctx.b.call(helpers.BY_NAME["cntvct"].id)


# (op0, op1, CRn, CRm, op2) -> register
SYSREGS: dict[tuple[int, int, int, int, int], SysReg] = {
    (3, 3, 4, 2, 0): SysReg("nzcv", _read_nzcv, _write_nzcv),
    (3, 3, 4, 4, 0): SysReg("fpcr", *_field("fpcr", FPCR_MASK)),
    (3, 3, 4, 4, 1): SysReg("fpsr", *_field("fpsr", FPSR_MASK)),
    (3, 3, 13, 0, 2): SysReg("tpidr_el0", *_field("tpidr_el0")),
    # Read-only at EL0; Linux keeps it zero for 64-bit tasks.
    (3, 3, 13, 0, 3): SysReg("tpidrro_el0", _const(0)),
    (3, 3, 0, 0, 1): SysReg("ctr_el0", _const(CTR_EL0)),
    (3, 3, 0, 0, 7): SysReg("dczid_el0", _const(DCZID_EL0)),
    # EL1 register that Linux emulates for EL0 reads (HWCAP_CPUID).
    (3, 0, 0, 0, 0): SysReg("midr_el1", _const(MIDR_EL1)),
    (3, 3, 14, 0, 0): SysReg("cntfrq_el0", _const(helpers.CNTFRQ_HZ)),
    (3, 3, 14, 0, 2): SysReg("cntvct_el0", _read_cntvct),
}


@A64.pattern("1101010100 L:1 1 o0:1 op1:3 crn:4 crm:4 op2:3 rt:5")
def trans_MRS_MSR(ctx, a):
    reg = SYSREGS.get((2 + a.o0, a.op1, a.crn, a.crm, a.op2))
    if reg is None:
        return False
    if a.L:
        ctx.write_reg(a.rt, reg.read(ctx))
    else:
        if reg.write is None:
            return False
        reg.write(ctx, ctx.read_reg(a.rt))
