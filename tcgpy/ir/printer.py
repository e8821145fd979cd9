"""Text form of the IR, laid out like QEMU's ``-d op``::

     ---- 0000000000400078
     add tmp0,x1,$0x5
     setcond tmp1,tmp0,$0x0,eq
"""
from __future__ import annotations

from .core import Block, Insn
from .ops import Cond, Exit, Op


def _fmt_const(op: Op, i: int, c: int) -> str:
    if op in (Op.setcond, Op.movcond) or (op is Op.brcond and i == 0):
        return Cond(c).name
    if op in (Op.set_label, Op.br) or (op is Op.brcond and i == 1):
        return f"$L{c}"
    if op is Op.exit_tb:
        return Exit(c).name.lower()
    if op is Op.vec and i == 0:
        return c.value.name
    if op is Op.hook and i == 0:
        from ..hooks import KIND_NAMES
        return KIND_NAMES.get(c, f"{c:#x}").lower()
    if op is Op.call:
        from .helpers import HELPERS
        return HELPERS[c].name if 0 <= c < len(HELPERS) else f"helper{c}"
    if op in (Op.ld, Op.st, Op.st2, Op.cmpxchg):
        from .ops import MemOp
        s = f"m{8 << (c & MemOp.SIZE_MASK)}"
        if c & MemOp.SIGN:
            s += "s"
        if c & MemOp.ALIGN:
            s += "a"
        if c & MemOp.TBI:
            s += "t"
        return s
    return f"${c:#x}"


def format_insn(insn: Insn) -> str:
    op = insn.op
    if op is Op.insn_start:
        return f" ---- {insn.consts[0]:016x}"
    if op is Op.set_label:
        return f"$L{insn.consts[0]}:"
    args = [repr(t) for t in insn.outs] + [repr(t) for t in insn.ins]
    args += [_fmt_const(op, i, c) for i, c in enumerate(insn.consts)]
    return f" {op.value.name} " + ",".join(args) if args else f" {op.value.name}"


def format_block(block: Block) -> str:
    return "\n".join(format_insn(i) for i in block.insns) + "\n"
