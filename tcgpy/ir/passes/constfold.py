"""Constant folding and propagation, with algebraic identities.

Walking forward, ``known`` maps locals and globals to the constant they hold.
Inputs with a known value are replaced by the constant; then the op's fold
function (one per pure value op, ``@folds(Op.x)``, laid out like QEMU's
``fold_<op>``) may reduce it to a copy of one of its operands or a constant
(the op becomes a ``mov``, which copyprop and DCE clean up), or rewrite it in
place into a cheaper canonical form (constant operand second, ``sub x, c`` ->
``add x, -c``, shift counts reduced mod 64).  A brcond that is decided
becomes a ``br`` or disappears.

Evaluating constant operands goes through the interpreter's own semantics
(``VALUE_SEMANTICS``), so the folder cannot disagree with the oracle.
Knowledge is dropped at each label, where paths join.  Globals keep their
constant only until written: nothing else (memory ops, calls, ld/st_env) can
change them.
"""
from __future__ import annotations

from typing import Callable

from ..core import Block, Insn, Kind, Temp
from ..interp import VALUE_SEMANTICS
from ..ops import MASK64, Cond, F, Op, eval_cond
from ._opclass import ADD as _ADD, BR, BRCOND, MOV, SET_LABEL

CONST = Kind.CONST

# Ops that only compute a value from their operands (no memory, env or
# control flow): exactly the ones the folder must understand.
PURE_VALUE_OPS = tuple(op for op in Op if op.value.nout == 1 and op.value.flags == F.NONE
                       and op is not Op.ld_env)

# A fold returns None (keep the op, maybe rewritten in place), a Temp (the
# result equals it) or an Insn (the replacement).
FoldResult = Temp | Insn | None
FOLDERS: dict[Op, Callable[["Folder", Insn], FoldResult]] = {}


class Folder:
    """Per-run context handed to fold functions: makes constant temps."""

    def __init__(self):
        self._consts: dict[int, Temp] = {}

    def const(self, value: int) -> Temp:
        value &= MASK64
        t = self._consts.get(value)
        if t is None:
            t = self._consts[value] = Temp(Kind.CONST, -1, value=value)
        return t

    def evaluate(self, insn: Insn) -> Temp | None:
        """The constant result when every input is constant."""
        for t in insn.ins:
            if t.kind is not CONST:
                return None
        return self.const(VALUE_SEMANTICS[insn.op](*insn.consts, *[t.value for t in insn.ins]))


def folds(*ops: Op):
    def register(fn):
        for op in ops:
            FOLDERS[op] = fn
        return fn
    return register


def _is(t: Temp, value: int) -> bool:
    return t.kind is CONST and t.value == value


def _const_second(insn: Insn) -> tuple[Temp, Temp]:
    """Commutative op: put a constant operand second, so later folds and the
    backend only look there."""
    a, b = insn.ins
    if a.kind is CONST and b.kind is not CONST:
        a, b = b, a
        insn.ins = (a, b)
    return a, b


# -- folds, in op-table order ---------------------------------------------------
# The common case (no constant operand) returns first: this is the hot path.

@folds(Op.mov)
def fold_mov(f: Folder, insn: Insn) -> FoldResult:
    return None     # its (already substituted) input is the whole story


@folds(Op.add)
def fold_add(f: Folder, insn: Insn) -> FoldResult:
    a, b = _const_second(insn)
    if b.kind is not CONST:
        return None
    if a.kind is CONST:
        return f.const(a.value + b.value)
    return a if b.value == 0 else None


@folds(Op.sub)
def fold_sub(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if a is b:
        return f.const(0)
    if b.kind is not CONST:
        return None
    if b.value == 0:
        return a
    if a.kind is CONST:
        return f.evaluate(insn)
    # x - c == x + (-c): one canonical form for constant offsets
    insn.op, insn.ins = _ADD, (a, f.const(-b.value))
    return None


@folds(Op.mul)
def fold_mul(f: Folder, insn: Insn) -> FoldResult:
    a, b = _const_second(insn)
    if b.kind is not CONST:
        return None
    if b.value == 0:
        return b
    if b.value == 1:
        return a
    return f.evaluate(insn)


@folds(Op.and_)
def fold_and(f: Folder, insn: Insn) -> FoldResult:
    a, b = _const_second(insn)
    if a is b:
        return a
    if b.kind is not CONST:
        return None
    if b.value == 0:
        return b
    if b.value == MASK64:
        return a
    return f.evaluate(insn)


@folds(Op.or_)
def fold_or(f: Folder, insn: Insn) -> FoldResult:
    a, b = _const_second(insn)
    if a is b:
        return a
    if b.kind is not CONST:
        return None
    if b.value == 0:
        return a
    if b.value == MASK64:
        return b
    return f.evaluate(insn)


@folds(Op.xor)
def fold_xor(f: Folder, insn: Insn) -> FoldResult:
    a, b = _const_second(insn)
    if a is b:
        return f.const(0)
    if b.kind is not CONST:
        return None
    if b.value == 0:
        return a
    return f.evaluate(insn)


@folds(Op.andc)
def fold_andc(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if _is(b, 0):
        return a
    if a is b or _is(a, 0) or _is(b, MASK64):
        return f.const(0)
    return f.evaluate(insn)


@folds(Op.shl, Op.shr, Op.sar, Op.rotr)
def fold_shift(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if b.kind is CONST:
        if b.value & 63 == 0:
            return a
        if b.value > 63:
            # Counts are mod 64: say so in the IR, so a backend whose native
            # shift is undefined past the width needs no mask for constants.
            insn.ins = (a, f.const(b.value & 63))
    if a.kind is CONST:
        if a.value == 0 or (a.value == MASK64 and insn.op in _ONES_STAY_ONES):
            return a
        return f.evaluate(insn)
    return None


_ONES_STAY_ONES = (Op.sar, Op.rotr)


@folds(Op.muluh, Op.mulsh)
def fold_mulh(f: Folder, insn: Insn) -> FoldResult:
    a, b = _const_second(insn)
    if _is(b, 0):
        return b
    return f.evaluate(insn)


@folds(Op.divu, Op.divs)
def fold_div(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if _is(b, 0):
        return b        # x / 0 == 0 (AArch64)
    if _is(b, 1):
        return a
    return f.evaluate(insn)


@folds(Op.neg, Op.not_, Op.ext8s, Op.ext8u, Op.ext16s, Op.ext16u, Op.ext32s, Op.ext32u,
       Op.clz, Op.bitrev, Op.bswap64)
def fold_unary(f: Folder, insn: Insn) -> FoldResult:
    return f.evaluate(insn)


_ALWAYS, _NEVER = int(Cond.always), int(Cond.never)
_LTU, _GEU = int(Cond.ltu), int(Cond.geu)
_REFLEXIVE = frozenset(int(c) for c in (Cond.eq, Cond.ge, Cond.le, Cond.geu, Cond.leu))


def decide(cond: int, a: Temp, b: Temp) -> bool | None:
    """The outcome of ``a cond b`` if it is known at translation time."""
    if cond == _ALWAYS:
        return True
    if cond == _NEVER:
        return False
    if a.kind is CONST and b.kind is CONST:
        return eval_cond(cond, a.value, b.value)
    if a is b:
        return cond in _REFLEXIVE
    if b.kind is CONST and b.value == 0 and (cond == _LTU or cond == _GEU):
        return cond == _GEU     # nothing is unsigned-below zero
    return None


@folds(Op.setcond)
def fold_setcond(f: Folder, insn: Insn) -> FoldResult:
    r = decide(insn.consts[0], *insn.ins)
    return None if r is None else f.const(int(r))


@folds(Op.movcond)
def fold_movcond(f: Folder, insn: Insn) -> FoldResult:
    c1, c2, v1, v2 = insn.ins
    if v1 is v2 or (v1.kind is CONST and v2.kind is CONST and v1.value == v2.value):
        return v1
    r = decide(insn.consts[0], c1, c2)
    return None if r is None else (v1 if r else v2)


# -- the pass ----------------------------------------------------------------------

_FOLD_BY_NAME = {op._name_: fn for op, fn in FOLDERS.items()}   # see _opclass


def run(block: Block) -> Block:
    f = Folder()
    known: dict[Temp, Temp] = {}     # local/global -> the constant Temp it holds
    fold_for = _FOLD_BY_NAME.get
    out = []
    append = out.append
    for insn in block.insns:
        op = insn.op
        if op is SET_LABEL:
            known.clear()
            append(insn)
            continue
        if known:
            ins = insn.ins
            for t in ins:
                if t in known:
                    insn.ins = tuple(map(known.get, ins, ins))     # get(t, t) in C
                    break
        fold = fold_for(op._name_)
        if fold is not None:
            r = fold(f, insn)
            if r is not None:
                insn = r if r.__class__ is Insn else Insn(MOV, insn.outs, (r,))
            dst = insn.outs[0]
            if insn.op is MOV and insn.ins[0].kind is CONST:
                known[dst] = insn.ins[0]
            elif dst in known:
                del known[dst]
        elif op is BRCOND:
            taken = decide(insn.consts[0], *insn.ins)
            if taken is False:
                continue
            if taken:
                insn = Insn(BR, (), (), (insn.consts[1],))
        elif known:
            for t in insn.outs:
                known.pop(t, None)
        append(insn)
    block.insns = out
    return block
