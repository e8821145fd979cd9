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
Besides constants, ``zmask`` records for some temps which bits may be
nonzero (QEMU's z_mask): a setcond result is 0/1, an ext32u or a 32-bit load
has a clear top half, ``shr x, 63`` is one bit.  It lets folds drop
``ext32u`` of a value already zero-extended (every W-register op) or
``and x, 1`` of a flag.  Each rule is one small function, ``@bits(Op.x)``.
And ``offset`` records ``t == s + c`` / ``t == s ^ c``, so chains of
constant adds (``add; subs; subs``) collapse to one add from the base and an
equality test of ``s ^ 1`` (an inverted flag, as b.ne produces) tests ``s``.

Knowledge is dropped at each label, where paths join.  Globals keep their
facts only until written: nothing else (memory ops, calls, ld/st_env) can
change them.
"""
from __future__ import annotations

from typing import Callable

from ..core import Block, Insn, Kind, Temp
from ..interp import VALUE_SEMANTICS
from ..ops import MASK64, Cond, F, MemOp, Op, eval_cond
from ._opclass import ADD as _ADD, BR, BRCOND, HOOK, MOV, SET_LABEL

_SHR, _XOR = Op.shr, Op.xor
_SIGN = int(MemOp.SIGN)

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
    """Per-run context handed to fold functions: makes constant temps and
    knows which bits of a temp may be nonzero."""

    def __init__(self):
        self._consts: dict[int, Temp] = {}
        self.zmask: dict[Temp, int] = {}     # absent: any bit may be set
        # t -> (Op.add or Op.xor, s, c): t == s op c, while neither t nor s
        # is reassigned; ``users`` maps s to those t, to forget them then.
        self.offset: dict[Temp, tuple] = {}
        self.users: dict[Temp, set] = {}

    def z(self, t: Temp) -> int:
        """Bits of ``t`` that may be nonzero."""
        return t.value if t.kind is CONST else self.zmask.get(t, MASK64)

    def const(self, value: int) -> Temp:
        value &= MASK64
        t = self._consts.get(value)
        if t is None:
            t = self._consts[value] = Temp(Kind.CONST, -1, value=value)
        return t

    def compare_through(self, cond: int, a: Temp, k: Temp) -> tuple[Temp, Temp]:
        """``a == k`` with ``a == s + c`` (or ``s ^ c``) is ``s == k - c``
        (``k ^ c``); also for ``!=``.  Other conditions are not preserved."""
        if k.kind is CONST and (cond == _EQ or cond == _NE):
            fact = self.offset.get(a)
            if fact is not None:
                op, s, c = fact
                return s, self.const(k.value - c if op is _ADD else k.value ^ c)
        return a, k

    def forget(self, t: Temp) -> None:
        """``t`` is being written: facts about it and built on it end."""
        fact = self.offset.pop(t, None)
        if fact is not None:
            self.users[fact[1]].discard(t)
        dependents = self.users.pop(t, None)
        if dependents:
            for d in dependents:
                del self.offset[d]

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
    # Its (already substituted) input is the whole story; run() does not even
    # call this, movs being a quarter of all ops.
    return None


@folds(Op.add)
def fold_add(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if a.kind is CONST and b.kind is not CONST:
        a, b = b, a         # constant operand second
        insn.ins = (a, b)
    if b.kind is not CONST:
        return None
    if a.kind is CONST:
        return f.const(a.value + b.value)
    fact = f.offset.get(a)
    if fact is not None and fact[0] is _ADD:
        # (s + c1) + c2 == s + (c1 + c2): the chain of subs/adds collapses
        a, b = fact[1], f.const(fact[2] + b.value)
        insn.ins = (a, b)
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
    return fold_add(f, insn)


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
    a, b = insn.ins
    if a.kind is CONST and b.kind is not CONST:
        a, b = b, a         # constant operand second
        insn.ins = (a, b)
    if a is b:
        return a
    zm = f.zmask
    if b.kind is not CONST:
        return f.const(0) if zm and zm.get(a, MASK64) & zm.get(b, MASK64) == 0 else None
    if b.value == 0:
        return b
    if a.kind is CONST:
        return f.evaluate(insn)
    if zm.get(a, MASK64) & ~b.value & MASK64 == 0:
        return a        # the mask clears nothing that may be set (and x, -1 too)
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
    a, b = insn.ins
    if a.kind is CONST and b.kind is not CONST:
        a, b = b, a         # constant operand second
        insn.ins = (a, b)
    if a is b:
        return f.const(0)
    if b.kind is not CONST:
        return None
    if a.kind is CONST:
        return f.evaluate(insn)
    fact = f.offset.get(a)
    if fact is not None and fact[0] is _XOR:
        # (s ^ c1) ^ c2 == s ^ (c1 ^ c2): double negations of flags vanish
        a, b = fact[1], f.const(fact[2] ^ b.value)
        insn.ins = (a, b)
    return a if b.value == 0 else None


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
            b = f.const(b.value & 63)
            insn.ins = (a, b)
    if a.kind is CONST:
        if a.value == 0 or (a.value == MASK64 and insn.op in _ONES_STAY_ONES):
            return a
        return f.evaluate(insn)
    if b.kind is CONST and insn.op is _SHR and f.zmask.get(a, MASK64) >> b.value == 0:
        return f.const(0)
    return None


_ONES_STAY_ONES = (Op.sar, Op.rotr)


@folds(Op.muluh, Op.mulsh)
def fold_mulh(f: Folder, insn: Insn) -> FoldResult:
    a, b = _const_second(insn)
    if _is(b, 0):
        return b
    return f.evaluate(insn)


@folds(Op.divu_arm, Op.divs_arm)
def fold_div_arm(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if _is(b, 0):
        return b        # x / 0 == 0
    if _is(b, 1):
        return a
    return f.evaluate(insn)


@folds(Op.divu_rv, Op.divs_rv)
def fold_div_rv(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if _is(b, 0):
        return f.const(MASK64)      # x / 0 is all ones
    if _is(b, 1):
        return a
    return f.evaluate(insn)


@folds(Op.remu_rv, Op.rems_rv)
def fold_rem_rv(f: Folder, insn: Insn) -> FoldResult:
    a, b = insn.ins
    if _is(b, 0):
        return a                    # x % 0 == x
    if _is(b, 1):
        return f.const(0)
    return f.evaluate(insn)


@folds(Op.neg, Op.not_, Op.clz, Op.bitrev, Op.bswap64)
def fold_unary(f: Folder, insn: Insn) -> FoldResult:
    return f.evaluate(insn)


# ext to N bits is the identity when no bit at or above the (sign) bit may be set.
_EXT_KEEPS = {"ext8u": 0xFF, "ext16u": 0xFFFF, "ext32u": 0xFFFF_FFFF,
              "ext8s": 0x7F, "ext16s": 0x7FFF, "ext32s": 0x7FFF_FFFF}


@folds(Op.ext8s, Op.ext8u, Op.ext16s, Op.ext16u, Op.ext32s, Op.ext32u)
def fold_ext(f: Folder, insn: Insn) -> FoldResult:
    a = insn.ins[0]
    if a.kind is CONST:
        return f.evaluate(insn)
    if f.zmask.get(a, MASK64) & ~_EXT_KEEPS[insn.op._name_] == 0:
        return a
    return None


_ALWAYS, _NEVER = int(Cond.always), int(Cond.never)
_LTU, _GEU = int(Cond.ltu), int(Cond.geu)
_EQ, _NE = int(Cond.eq), int(Cond.ne)
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
    cond = insn.consts[0]
    a, b = insn.ins
    # always/never are the two highest Conds
    if a.kind is not CONST and b.kind is not CONST and a is not b and cond < _ALWAYS:
        return None     # two unknown values: the common case
    r = decide(cond, a, b)
    if r is not None:
        return f.const(int(r))
    a, b = f.compare_through(cond, a, b)
    insn.ins = (a, b)
    if b.kind is CONST and b.value <= 1 and f.z(a) == 1 and (cond == _EQ or cond == _NE):
        # a is a 0/1 flag: (a != 0) and (a == 1) are a itself, the others its negation.
        if (cond == _NE) == (b.value == 0):
            return a
        insn.op, insn.ins, insn.consts = _XOR, (a, f.const(1)), ()
    return None


@folds(Op.movcond)
def fold_movcond(f: Folder, insn: Insn) -> FoldResult:
    c1, c2, v1, v2 = insn.ins
    if v1 is v2 or (v1.kind is CONST and v2.kind is CONST and v1.value == v2.value):
        return v1
    cond = insn.consts[0]
    r = decide(cond, c1, c2)
    if r is not None:
        return v1 if r else v2
    c1, c2 = f.compare_through(cond, c1, c2)
    if c1 is not insn.ins[0]:
        insn.ins = (c1, c2, v1, v2)
    return None


# -- known-zero bits: which bits of an op's result may be nonzero -------------------
# Rules take the zmask dict itself: they run for most ops, so no method calls.

BITS: dict[Op, Callable[[dict, Insn], int]] = {}


def bits(*ops: Op):
    def register(fn):
        for op in ops:
            BITS[op] = fn
        return fn
    return register


@bits(Op.and_)
def bits_and(zm: dict, insn: Insn) -> int:
    a, b = insn.ins
    return ((a.value if a.kind is CONST else zm.get(a, MASK64))
            & (b.value if b.kind is CONST else zm.get(b, MASK64)))


@bits(Op.or_, Op.xor)
def bits_or(zm: dict, insn: Insn) -> int:
    a, b = insn.ins
    return ((a.value if a.kind is CONST else zm.get(a, MASK64))
            | (b.value if b.kind is CONST else zm.get(b, MASK64)))


@bits(Op.andc)
def bits_andc(zm: dict, insn: Insn) -> int:
    a = insn.ins[0]
    return a.value if a.kind is CONST else zm.get(a, MASK64)


@bits(Op.shr)
def bits_shr(zm: dict, insn: Insn) -> int:
    a, b = insn.ins
    if b.kind is not CONST:
        return MASK64
    return (a.value if a.kind is CONST else zm.get(a, MASK64)) >> (b.value & 63)


@bits(Op.shl)
def bits_shl(zm: dict, insn: Insn) -> int:
    a, b = insn.ins
    if b.kind is not CONST:
        return MASK64
    return ((a.value if a.kind is CONST else zm.get(a, MASK64)) << (b.value & 63)) & MASK64


@bits(Op.ext8u, Op.ext16u, Op.ext32u)
def bits_extu(zm: dict, insn: Insn) -> int:
    a = insn.ins[0]
    return (a.value if a.kind is CONST else zm.get(a, MASK64)) & _EXT_KEEPS[insn.op._name_]


@bits(Op.setcond)
def bits_setcond(zm: dict, insn: Insn) -> int:
    return 1


@bits(Op.movcond)
def bits_movcond(zm: dict, insn: Insn) -> int:
    a, b = insn.ins[2:]
    return ((a.value if a.kind is CONST else zm.get(a, MASK64))
            | (b.value if b.kind is CONST else zm.get(b, MASK64)))


@bits(Op.clz)
def bits_clz(zm: dict, insn: Insn) -> int:
    return 127          # 0..64


@bits(Op.ld)
def bits_ld(zm: dict, insn: Insn) -> int:
    memop = insn.consts[0]
    return MASK64 if memop & _SIGN else (1 << (8 << (memop & 3))) - 1


@bits(Op.ld_env)
def bits_ld_env(zm: dict, insn: Insn) -> int:
    memop = insn.consts[1]
    return MASK64 if memop & _SIGN else (1 << (8 << (memop & 3))) - 1


# -- the pass ----------------------------------------------------------------------

# op name -> (fold, bits rule): one lookup per insn (see _opclass for why names).
_RULES = {op._name_: (FOLDERS.get(op), BITS.get(op)) for op in Op}


def run(block: Block) -> Block:
    f = Folder()
    known: dict[Temp, Temp] = {}     # local/global -> the constant Temp it holds
    zmask = f.zmask
    offset = f.offset
    users = f.users
    rules = _RULES
    out = []
    append = out.append
    for insn in block.insns:
        op = insn.op
        if op is SET_LABEL or op is HOOK:
            known.clear()
            zmask.clear()
            offset.clear()
            users.clear()
            append(insn)
            continue
        if known:
            ins = insn.ins
            for t in ins:
                if t in known:
                    insn.ins = tuple(map(known.get, ins, ins))     # get(t, t) in C
                    break
        outs = insn.outs
        if not outs:
            if op is BRCOND:
                cond = insn.consts[0]
                taken = decide(cond, *insn.ins)
                if taken is False:
                    continue
                if taken:
                    insn = Insn(BR, (), (), (insn.consts[1],))
                elif offset:
                    insn.ins = f.compare_through(cond, *insn.ins)
            append(insn)
            continue
        if len(outs) > 1:
            # (rvfp) never folded: every output's facts end here
            for dst in outs:
                if offset and (dst in offset or dst in users):
                    f.forget(dst)
                known.pop(dst, None)
                zmask.pop(dst, None)
            append(insn)
            continue
        dst = outs[0]
        if op is not MOV:
            fold, rule = rules[op._name_]
            if fold is not None:
                r = fold(f, insn)
                if r is not None:
                    if r.__class__ is Insn:
                        insn = r
                    else:
                        insn = Insn(MOV, outs, (r,))
                if insn.op is not op:   # replaced, or rewritten in place (sub -> add)
                    op = insn.op
                    rule = rules[op._name_][1]
        # Facts about dst end here (after the fold, which may have used them
        # when dst is also an input).
        if offset and (dst in offset or dst in users):
            f.forget(dst)
        if op is MOV:
            src = insn.ins[0]
            if src.kind is CONST:
                known[dst] = src
                if dst in zmask:
                    del zmask[dst]       # f.z() reads a constant's own value
                append(insn)
                continue
            z = zmask.get(src, MASK64)
        else:
            if op is _ADD or op is _XOR:
                s, c = insn.ins
                if c.kind is CONST and s is not dst:
                    offset[dst] = (op, s, c.value)
                    if s in users:
                        users[s].add(dst)
                    else:
                        users[s] = {dst}
            z = MASK64 if rule is None else rule(zmask, insn)
        if dst in known:
            del known[dst]
        if z != MASK64:
            zmask[dst] = z
        elif dst in zmask:
            del zmask[dst]
        append(insn)
    block.insns = out
    return block
