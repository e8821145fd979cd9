"""ecall, ebreak, fence, fence.i (Zifencei) and the Zicsr instructions on
the CSRs user mode has: fflags, frm, fcsr and time.

cycle and instret are not readable (SIGILL), as under Linux 6.6 and later
without the perf sysctl that opens them; ``time`` counts at 10 MHz, the
timebase QEMU's virt machine and Linux's device tree give it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...ir import helpers
from ...ir.ops import Exit
from .decode import RV32


@RV32.pattern("000000000000 00000 000 00000 1110011")
def trans_ECALL(ctx, a):
    # Linux's return from a trap invalidates the reservation (an sc in
    # ret_from_exception), so an lr before the ecall pairs with no sc after it.
    ctx.b.mov(ctx.g["excl_addr"], -1)
    # pc points after the ecall when the syscall handler runs (Linux's
    # sepc + 4), as on AArch64; a restarted syscall steps back 4 bytes.
    ctx.gen_exit(ctx.next_pc, Exit.SYSCALL)


@RV32.pattern("000000000001 00000 000 00000 1110011")
def trans_EBREAK(ctx, a):
    ctx.gen_exit(ctx.pc, Exit.TRAP)


@RV32.pattern("fm:4 pred:4 succ:4 rs1:5 000 rd:5 0001111")
def trans_FENCE(ctx, a):
    # One guest thread runs at a time, in program order: a fence orders
    # nothing.  The reserved fm/rs1/rd values execute as a fence too (the
    # ISA manual asks implementations to ignore them).
    return None


@RV32.pattern("imm:12 rs1:5 001 rd:5 0001111")
def trans_FENCE_I(ctx, a):
    # Code changes invalidate translations through the block cache's page
    # tracking when they are stored; fence.i ends the block so that the next
    # instruction is fetched anew.
    ctx.b.goto_tb(ctx.next_pc)
    ctx.ended = True


# -- Zicsr --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CSR:
    name: str
    read: Callable              # ctx -> Temp
    write: Callable | None      # ctx, Temp -> None; None: read-only


def _fcsr_field(shift: int, width: int) -> tuple[Callable, Callable]:
    mask = ((1 << width) - 1) << shift

    def read(ctx):
        b = ctx.b
        return b.and_(b.shr(ctx.fcsr, shift), (1 << width) - 1) if shift else b.and_(ctx.fcsr, mask)

    def write(ctx, v):
        b = ctx.b
        b.mov(ctx.fcsr, b.or_(b.andc(ctx.fcsr, mask), b.and_(b.shl(v, shift) if shift else v, mask)))
    return read, write


CSRS: dict[int, CSR] = {
    0x001: CSR("fflags", *_fcsr_field(0, 5)),
    0x002: CSR("frm", *_fcsr_field(5, 3)),
    0x003: CSR("fcsr", *_fcsr_field(0, 8)),
    0xC01: CSR("time", lambda ctx: ctx.b.call(helpers.BY_NAME["rv_time"].id), None),
}


def gen_csr(ctx, a, value, op: str) -> bool:
    """csrrw/csrrs/csrrc (``value`` from rs1 or the immediate).  A set or
    clear with a zero source does not write, so it may name a read-only CSR
    (the ISA manual's csrr pseudo-instruction); a csrrw with rd = x0 does not
    read."""
    csr = CSRS.get(a.csr)
    if csr is None:
        return False
    writes = op == "w" or a.src != 0
    if writes and csr.write is None:
        return False
    b = ctx.b
    old = csr.read(ctx) if (op != "w" or a.rd) else None
    if writes:
        v = b.temp(value)
        if op == "s":
            v = b.or_(old, v)
        elif op == "c":
            v = b.andc(old, v)
        csr.write(ctx, v)
    if old is not None:
        ctx.write_reg(a.rd, old)
    return True


@RV32.pattern("csr:12 src:5 001 rd:5 1110011", op="w")
@RV32.pattern("csr:12 src:5 010 rd:5 1110011", op="s")
@RV32.pattern("csr:12 src:5 011 rd:5 1110011", op="c")
def trans_CSR(ctx, a):
    # gen_csr writes rd last, so rs1 == rd reads the old value
    return gen_csr(ctx, a, ctx.read_reg(a.src), a.op)


@RV32.pattern("csr:12 src:5 101 rd:5 1110011", op="w")
@RV32.pattern("csr:12 src:5 110 rd:5 1110011", op="s")
@RV32.pattern("csr:12 src:5 111 rd:5 1110011", op="c")
def trans_CSRI(ctx, a):
    return gen_csr(ctx, a, a.src, a.op)
