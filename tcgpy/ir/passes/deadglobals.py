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
from ._opclass import BARRIER, PURE

_GLOBAL = Kind.GLOBAL


def run(block: Block) -> Block:
    overwritten: set = set()
    kept = []
    for insn in reversed(block.insns):
        name = insn.op._name_
        if name in BARRIER:
            overwritten.clear()
            kept.append(insn)
            continue
        if name in PURE:
            out = insn.outs[0]
            if out.kind is _GLOBAL:
                if out in overwritten:
                    continue
                overwritten.add(out)
        if overwritten:
            for t in insn.ins:
                if t.kind is _GLOBAL:
                    overwritten.discard(t)
        kept.append(insn)
    kept.reverse()
    block.insns = kept
    return block
