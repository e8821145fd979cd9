"""IR verifier: the structural rules every block must keep, checked after the
frontend and after each optimizer pass in tests (and with -d op_opt).

The rules, one checker each:
* each insn has the arity its op row declares; outputs are not constants;
* one Temp object per local index and per global name, and globals are the
  block's own (passes key their tables by Temp identity);
* every label is set exactly once, and every branch target is set;
* the block ends in a BB_END op, and a BB_END op in mid-block is followed by
  a set_label (code after it is reachable only through a branch);
* ld_env/st_env stay clear of IR-global fields (the optimizer tracks globals
  by name and would not see such an access);
* Cond, MemOp, Exit and helper-id constants are in range;
* each local is written before it is read, in block order.
"""
from __future__ import annotations

import enum

from .core import Block, Insn, Kind, Temp
from .ops import MASK64, Cond, Exit, F, MemOp, Op, memop_size


class IRError(Exception):
    """A malformed IR block."""


def _where(i: int, insn: Insn) -> str:
    from .printer import format_insn
    try:
        text = format_insn(insn).strip()
    except Exception:   # the printer chokes on the very constants we reject
        text = f"{insn.op.value.name} {insn.outs} {insn.ins} {insn.consts}"
    return f"insn {i} ({text})"


def _check_arity(i: int, insn: Insn) -> None:
    d = insn.op.value
    if (len(insn.outs), len(insn.ins), len(insn.consts)) != (d.nout, d.nin, d.nconst):
        raise IRError(f"{_where(i, insn)}: {d.name} takes {d.nout} outputs, {d.nin} inputs, "
                      f"{d.nconst} constants; got {len(insn.outs)}, {len(insn.ins)}, "
                      f"{len(insn.consts)}")
    for t in insn.outs + insn.ins:
        if not isinstance(t, Temp):
            raise IRError(f"{_where(i, insn)}: operand {t!r} is not a Temp")
    for c in insn.consts:
        # ints, or enum members naming a sub-operation (e.g. a vector op kind)
        if not isinstance(c, (int, enum.Enum)):
            raise IRError(f"{_where(i, insn)}: constant {c!r} is not an int")
    for t in insn.outs:
        if t.is_const:
            raise IRError(f"{_where(i, insn)}: output {t!r} is a constant")
    for t in insn.ins:
        if t.is_const and not 0 <= t.value <= MASK64:
            raise IRError(f"{_where(i, insn)}: constant {t.value:#x} is not a 64-bit value")


# Plain ints: ~ on an IntFlag complements only within its declared bits.
_VALID_MEMOP = int(MemOp.SIZE_MASK | MemOp.SIGN | MemOp.ALIGN | MemOp.TBI)
_VALID_ENV_MEMOP = int(MemOp.SIZE_MASK | MemOp.SIGN)


def _check_consts(i: int, insn: Insn, n_helpers: int) -> None:
    op, c = insn.op, insn.consts
    if op in (Op.setcond, Op.movcond, Op.brcond) and c[0] not in Cond._value2member_map_:
        raise IRError(f"{_where(i, insn)}: {c[0]} is not a Cond")
    if op in (Op.ld, Op.st, Op.st2, Op.cmpxchg) and c[0] & ~_VALID_MEMOP:
        raise IRError(f"{_where(i, insn)}: {c[0]:#x} is not a MemOp")
    if op is Op.st2 and c[0] & MemOp.ALIGN:
        raise IRError(f"{_where(i, insn)}: st2 has no aligned form")
    if op in (Op.ld_env, Op.st_env) and (c[1] & ~_VALID_ENV_MEMOP or c[0] < 0):
        raise IRError(f"{_where(i, insn)}: bad env offset/MemOp {c[0]}, {c[1]:#x}")
    if op is Op.exit_tb and c[0] not in Exit._value2member_map_:
        raise IRError(f"{_where(i, insn)}: {c[0]} is not an Exit code")
    if op is Op.call and not 0 <= c[0] < n_helpers:
        raise IRError(f"{_where(i, insn)}: no helper with id {c[0]}")


def _check_env_access(i: int, insn: Insn, global_spans: list[tuple[int, int, str]]) -> None:
    off, memop = insn.consts
    end = off + memop_size(memop)
    for g_start, g_end, name in global_spans:
        if off < g_end and g_start < end:
            raise IRError(f"{_where(i, insn)}: env bytes [{off}, {end}) overlap IR global {name}")


def verify(block: Block) -> None:
    """Raise IRError describing the first broken rule in ``block``."""
    from .helpers import HELPERS
    insns = block.insns
    if not insns or not insns[-1].op.value.flags & F.BB_END:
        raise IRError("block does not end in a BB_END op (goto_tb/goto_ptr/exit_tb)")
    global_spans = [(g.offset, g.offset + 8, name) for name, g in block.globals.items()]
    locals_by_index: dict[int, Temp] = {}
    labels_set: set[int] = set()
    labels_used: dict[int, int] = {}
    written: set[int] = set()
    for i, insn in enumerate(insns):
        _check_arity(i, insn)
        _check_consts(i, insn, len(HELPERS))
        op = insn.op
        flags = op.value.flags
        for t in insn.ins + insn.outs:
            if t.kind is Kind.LOCAL:
                other = locals_by_index.setdefault(t.index, t)
                if other is not t:
                    raise IRError(f"{_where(i, insn)}: two Temp objects for local tmp{t.index}")
            elif t.kind is Kind.GLOBAL and block.globals.get(t.name) is not t:
                raise IRError(f"{_where(i, insn)}: global {t.name} is not one of the block's globals")
        for t in insn.ins:
            if t.kind is Kind.LOCAL and t.index not in written:
                raise IRError(f"{_where(i, insn)}: local {t!r} read before it is written")
        for t in insn.outs:
            if t.kind is Kind.LOCAL:
                written.add(t.index)
        if op is Op.set_label:
            label = insn.consts[0]
            if label in labels_set:
                raise IRError(f"{_where(i, insn)}: label $L{label} set twice")
            labels_set.add(label)
        elif op is Op.br:
            labels_used.setdefault(insn.consts[0], i)
        elif op is Op.brcond:
            labels_used.setdefault(insn.consts[1], i)
        elif op in (Op.ld_env, Op.st_env):
            _check_env_access(i, insn, global_spans)
        if flags & F.BB_END and i + 1 < len(insns) and insns[i + 1].op is not Op.set_label:
            raise IRError(f"{_where(i, insn)}: BB_END op in mid-block not followed by set_label")
    for label, i in labels_used.items():
        if label not in labels_set:
            raise IRError(f"{_where(i, insns[i])}: branch to label $L{label} that is never set")
