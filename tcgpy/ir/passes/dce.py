"""Dead code elimination: drop unreachable ops, labels no reachable branch
targets, and pure ops whose local output is never read.

Liveness of locals is computed backward over the block's labels and branches:
the live set at a label is remembered for the branches to it (which come
earlier, as branches are forward), a backward branch conservatively makes
every local live, and nothing is live after a BB_END op.  Writes to globals
are left to ``deadglobals``: they are guest state, observable at every exit.
"""
from __future__ import annotations

from ..core import Block, Kind
from ._opclass import BB_END, BR, BRCOND, INSN_START, MOV, PURE, SET_LABEL

_LOCAL = Kind.LOCAL


def _drop_unreachable(insns: list, keep_labels: frozenset = frozenset()) -> list:
    """Forward walk: a label is reached by falling into it or by a branch that
    is itself reachable.  Branches are normally forward, so those were seen
    first; on meeting a backward branch, start over keeping every label.
    A ``br`` to the label right after it is a fallthrough.

    An op belongs to the guest instruction of the insn_start that precedes it
    in program order (that is the pc a fault reports), so the last insn_start
    of a dropped stretch moves to where reachable code resumes."""
    refs: dict[int, int] = {}    # label -> reachable branches to it
    seen = set()
    out = []
    reachable = True
    owner = None        # last insn_start dropped since code became unreachable
    for insn in insns:
        op = insn.op
        if op is SET_LABEL:
            label = insn.consts[0]
            seen.add(label)
            if out and out[-1].op is BR and out[-1].consts[0] == label:
                out.pop()
                refs[label] -= 1
                reachable = True
            if refs.get(label) or label in keep_labels:
                out.append(insn)
                reachable = True
            if reachable and owner is not None:
                out.append(owner)
                owner = None
            continue
        if not reachable:
            if op is INSN_START:
                owner = insn
            continue
        out.append(insn)
        if op is BR or op is BRCOND:
            label = insn.consts[-1]
            if label in seen and label not in keep_labels:
                return _drop_unreachable(insns, frozenset(
                    i.consts[0] for i in insns if i.op is SET_LABEL))
            refs[label] = refs.get(label, 0) + 1
            if op is BR:
                reachable = False
        elif op._name_ in BB_END:
            reachable = False
    return out


def _all_locals(insns: list) -> set:
    return {t for insn in insns for t in insn.outs + insn.ins if t.kind is _LOCAL}


def run(block: Block) -> Block:
    insns = _drop_unreachable(block.insns)
    live: set = set()
    at_label: dict[int, set] = {}
    kept = []
    for insn in reversed(insns):
        op = insn.op
        if op._name_ in PURE:
            # mov, arithmetic, setcond, ld_env ...: removable when unread.
            out = insn.outs[0]
            if out.kind is _LOCAL:
                if out not in live:
                    continue
                live.discard(out)
            elif op is MOV and insn.ins[0] is out:
                continue
        elif op is SET_LABEL:
            at_label[insn.consts[0]] = set(live)
        elif op is BR:
            label = insn.consts[0]
            live = set(at_label[label]) if label in at_label else _all_locals(insns)
        elif op is BRCOND:
            label = insn.consts[1]
            live |= at_label[label] if label in at_label else _all_locals(insns)
        elif op._name_ in BB_END:
            live = set()
        else:
            for t in insn.outs:
                live.discard(t)
        for t in insn.ins:
            if t.kind is _LOCAL:
                live.add(t)
        kept.append(insn)
    kept.reverse()
    block.insns = kept
    return block
