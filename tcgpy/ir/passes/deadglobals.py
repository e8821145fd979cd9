"""Dead global store elimination (mostly dead NZCV flags): drop a pure op that
writes a global which is written again before anything can observe it.

Walking backward, ``overwritten`` holds the globals that are certainly
rewritten before the next observer.  Anything that can leave the block or
make a global observable on another path is a barrier that empties it: a
ld/st (may fault, and the fault exposes every global), a call, a BB_END op, a
branch, and a label (control may arrive from elsewhere).  ld_env/st_env never
touch IR-global fields (the verifier checks), so they are not barriers.
"""
from __future__ import annotations

from ..core import Block, Kind
from ..ops import F, Op

_BARRIER = F.BB_END | F.MEMORY | F.CALL | F.BRANCH


def run(block: Block) -> Block:
    overwritten: set = set()
    kept = []
    for insn in reversed(block.insns):
        op = insn.op
        flags = op.value.flags
        if flags & _BARRIER or op is Op.set_label:
            overwritten.clear()
            kept.append(insn)
            continue
        if not flags and insn.outs:
            out = insn.outs[0]
            if out.kind is Kind.GLOBAL:
                if out in overwritten:
                    continue
                overwritten.add(out)
        if overwritten:
            for t in insn.ins:
                if t.kind is Kind.GLOBAL:
                    overwritten.discard(t)
        kept.append(insn)
    kept.reverse()
    block.insns = kept
    return block
