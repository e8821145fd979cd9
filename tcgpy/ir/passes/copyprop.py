"""Copy propagation: after ``mov d, s``, readers of ``d`` read ``s`` instead,
for as long as neither is reassigned.

Locals are not SSA, so a copy dies when either side is written again; a
reverse map (source -> copies of it) makes that invalidation cheap.  Knowledge
is dropped at every label, where other paths join, and at a hook.  Rewriting a read never
changes a value, so no op that may exit needs special care; the movs stay for
DCE/deadglobals to judge, except ``mov x, x`` which is a no-op.
"""
from __future__ import annotations

from ..core import Block, Kind
from ._opclass import HOOK, MOV, SET_LABEL

_CONST = Kind.CONST


def run(block: Block) -> Block:
    copy_of: dict = {}     # dst -> the root it copies (never itself a copy)
    copies: dict = {}      # root -> set of dsts currently copying it

    def kill(t) -> None:
        src = copy_of.pop(t, None)
        if src is not None and src.kind is not _CONST:
            copies[src].discard(t)
        dsts = copies.pop(t, None)
        if dsts:
            for d in dsts:
                del copy_of[d]

    out = []
    append = out.append
    for insn in block.insns:
        op = insn.op
        if op is SET_LABEL or op is HOOK:
            copy_of.clear()
            copies.clear()
            append(insn)
            continue
        if copy_of:
            ins = insn.ins
            for t in ins:
                if t in copy_of:
                    insn.ins = tuple(map(copy_of.get, ins, ins))   # get(t, t) in C
                    break
        if op is MOV:
            dst, src = insn.outs[0], insn.ins[0]
            if src is dst:
                continue
            if dst in copy_of or dst in copies:
                kill(dst)
            copy_of[dst] = src
            if src.kind is not _CONST:
                s = copies.get(src)
                if s is None:
                    copies[src] = {dst}
                else:
                    s.add(dst)
        else:
            for t in insn.outs:
                if t in copy_of or t in copies:
                    kill(t)
        append(insn)
    block.insns = out
    return block
