"""Dead code elimination: drop unreachable ops, labels no branch targets,
and pure ops whose local output is never read.

Liveness of locals is computed backward over the block's labels and branches:
the live set at a label is remembered for the branches to it (which come
earlier, as branches are forward), a backward branch conservatively makes
every local live, and nothing is live after a BB_END op.  Writes to globals
are left to ``deadglobals``: they are guest state, observable at every exit.
"""
from __future__ import annotations

from ..core import Block, Kind
from ..ops import F, Op


def _drop_unreachable(insns: list) -> list:
    """Forward walk: a label is reached by falling into it or by a branch that
    is itself reachable (branches are forward, so those were seen first)."""
    backward = _backward_targets(insns)
    targets = set(backward)
    out = []
    reachable = True
    for insn in insns:
        op = insn.op
        if op is Op.set_label:
            if insn.consts[0] not in targets:
                continue      # no reachable branch lands here: a no-op
            reachable = True
        elif not reachable:
            continue
        out.append(insn)
        if op is Op.br:
            targets.add(insn.consts[0])
            reachable = False
        elif op is Op.brcond:
            targets.add(insn.consts[1])
        elif op.value.flags & F.BB_END:
            reachable = False
    return out


def _backward_targets(insns: list) -> set:
    """Labels some branch after them jumps back to (kept, conservatively)."""
    seen, back = set(), set()
    for insn in insns:
        op = insn.op
        if op is Op.set_label:
            seen.add(insn.consts[0])
        elif op is Op.br or op is Op.brcond:
            label = insn.consts[-1]
            if label in seen:
                back.add(label)
    return back


def _all_locals(insns: list) -> set:
    return {t for insn in insns for t in insn.outs + insn.ins if t.kind is Kind.LOCAL}


def run(block: Block) -> Block:
    insns = _drop_unreachable(block.insns)
    live: set = set()
    at_label: dict[int, set] = {}
    kept = []
    for insn in reversed(insns):
        op = insn.op
        flags = op.value.flags
        if not flags:
            # Pure value op (mov, arithmetic, setcond, ld_env ...).
            out = insn.outs[0]
            if out.kind is Kind.LOCAL:
                if out not in live:
                    continue
                live.discard(out)
            elif op is Op.mov and insn.ins[0] is out:
                continue
        elif op is Op.set_label:
            at_label[insn.consts[0]] = set(live)
        elif flags & F.BB_END:
            live = set()
        elif op is Op.br:
            label = insn.consts[0]
            live = set(at_label[label]) if label in at_label else _all_locals(insns)
        elif op is Op.brcond:
            label = insn.consts[1]
            live |= at_label[label] if label in at_label else _all_locals(insns)
        else:
            for t in insn.outs:
                live.discard(t)
        for t in insn.ins:
            if t.kind is Kind.LOCAL:
                live.add(t)
        kept.append(insn)
    kept.reverse()
    block.insns = kept
    return block
