"""A64 exception generation and system instructions: svc, brk, hlt, hints,
barriers, mrs/msr."""
from __future__ import annotations

from ...ir.ops import Exit
from .decode import A64


@A64.pattern("11010100 000 imm:16 000 01")
def trans_SVC(ctx, a):
    # pc points after the svc when the syscall handler runs, as on Linux.
    ctx.gen_exit(ctx.next_pc, Exit.SYSCALL)


@A64.pattern("11010101 00000011 0010 crm:4 op2:3 11111")
def trans_HINT(ctx, a):
    # nop, yield, wfe, wfi, sev, sevl and the unallocated hints all execute as nop
    return None
