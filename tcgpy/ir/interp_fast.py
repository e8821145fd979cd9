"""The cold tier's interpreter: the reference interpreter's semantics with
each op bound once, when the block is planned, into a closure over its
operands.

``interpret`` (tcgpy.ir.interp) is the oracle, written for obviousness: per
op it looks up the op's function, builds the operand list through
``Machine.get`` (a kind test and a dict or a byte-slice decode per operand)
and stores through ``Machine.set``.  A cold block runs a few to a few dozen
times before it is compiled, and a first run of a real program interprets
tens of thousands of them, so that bookkeeping is worth doing once per
block: ``plan`` turns each op into a closure specialised for where its
operands live (a local in a list, a global in the env seen as 64-bit words,
a constant bound in), and ``run`` calls them in turn.

Nothing here defines what an op computes.  Value ops call the oracle's own
functions (``VALUE_SEMANTICS``) -- except a few whose meaning is one Python
expression (mov, add, sub, and, or, xor, shl, shr), written out inline --
and every op without a specialised closure here runs the oracle's
``INTERPRETERS`` entry on a Machine that shares the same locals and env.
tests/test_ir_interp_fast.py runs random blocks through both and compares
state, memory and exit.
"""
from __future__ import annotations

from .core import Block, Kind
from .interp import INTERPRETERS, VALUE_SEMANTICS, ExitInfo, InterpFault, Machine
from .ops import COND_FUNCS, MASK64, MemOp, Op, memop_size, tbi_address
from .verify import IRError

MAX_JUMPS = 1_000_000

# Value ops whose whole meaning is an expression of the (unsigned, 64-bit)
# inputs: the same as their VALUE_SEMANTICS function, without the call.
_INLINE = {
    Op.mov: "{0}",
    Op.add: "({0} + {1}) & 0xFFFFFFFFFFFFFFFF",
    Op.sub: "({0} - {1}) & 0xFFFFFFFFFFFFFFFF",
    Op.and_: "{0} & {1}",
    Op.or_: "{0} | {1}",
    Op.xor: "{0} ^ {1}",
    Op.shl: "({0} << ({1} & 63)) & 0xFFFFFFFFFFFFFFFF",
    Op.shr: "{0} >> ({1} & 63)",
}


class _Machine(Machine):
    """The oracle's Machine over the fast runner's locals (a list) and env,
    for the ops run through ``INTERPRETERS``."""

    def __init__(self, block: Block, env, locals_: list, mem, helpers):
        self.block = block
        self.env = env
        self.mem = mem
        self.helpers = helpers
        self.locals = locals_
        self.jump = None
        self.exit = None


_LOCAL, _CONST = Kind.LOCAL, Kind.CONST


def _operands(temps) -> tuple[str, list[int]]:
    """Where each operand is -- "L" a local (its index), "G" a global (its
    64-bit word in env), "C" a constant (its value) -- as a string of kinds
    and a list of those numbers.  (Runs for every op a cold block has.)"""
    kinds = ""
    slots = []
    for t in temps:
        k = t.kind
        if k is _LOCAL:
            kinds += "L"
            slots.append(t.index)
        elif k is _CONST:
            kinds += "C"
            slots.append(t.value & MASK64)
        else:
            kinds += "G"
            slots.append(t.offset >> 3)
    return kinds, slots


def _operand(kind: str, name: str) -> str:
    return {"L": f"L[{name}]", "G": f"E[{name}]", "C": name}[kind]


_FACTORIES: dict[tuple, object] = {}


def _factory(key: tuple, source, *args):
    """``make`` from the Python ``source(*args)`` generates, compiled once per
    process for each shape of op (not once per block)."""
    ns = {"InterpFault": InterpFault, "tbi_address": tbi_address}
    exec(compile(source(*args), f"<interp_fast {key[0]}>", "exec"), ns)
    f = _FACTORIES[key] = ns["make"]
    return f


def _value_source(inline, nconst: int, kinds: str, okind: str) -> str:
    args = [f"i{n}" for n in range(len(kinds))]
    ops = [_operand(k, a) for k, a in zip(kinds, args)]
    consts = [f"k{n}" for n in range(nconst)]
    if inline is not None:
        expr = inline.format(*ops)
    else:
        expr = f"fn({', '.join(consts + ops)}) & 0xFFFFFFFFFFFFFFFF"
    return (f"def make(fn, {''.join(c + ', ' for c in consts)}{''.join(a + ', ' for a in args)}o):\n"
            f"    def run(L, E, m):\n"
            f"        {_operand(okind, 'o')} = {expr}\n"
            f"    return run\n")


def _value(insn):
    op = insn.op
    o = insn.outs[0]
    if o.kind is _CONST:
        return None
    okind, out = ("L", o.index) if o.kind is _LOCAL else ("G", o.offset >> 3)
    kinds, slots = _operands(insn.ins)
    consts = insn.consts
    key = ("value", op if op in _INLINE else None, len(consts), kinds, okind)
    make = _FACTORIES.get(key)
    if make is None:
        make = _factory(key, _value_source, _INLINE.get(op), len(consts), kinds, okind)
    return make(VALUE_SEMANTICS[op], *consts, *slots, out)


def _access_source(kind: str, vkind: str, akind: str, tbi: bool, align: bool, sign: bool) -> str:
    lines = [f"addr = {_operand(akind, 'a')}"]
    if tbi:
        lines.append("addr = tbi_address(addr)")
    if align:
        lines.append(f"if addr & (size - 1):\n            raise InterpFault(addr, '{kind}', align=True)")
    if kind == "read":
        lines.append("x = m.mem.load(addr, size)")
        if sign:
            lines.append("x = ((x ^ sb) - sb) & 0xFFFFFFFFFFFFFFFF")
        lines.append(f"{_operand(vkind, 'v')} = x")
    else:
        lines.append(f"m.mem.store(addr, size, {_operand(vkind, 'v')} & mask)")
    body = "".join(f"        {ln}\n" for ln in lines)
    return f"def make(v, a, size, sb, mask):\n    def run(L, E, m):\n{body}    return run\n"


def _access(insn, kind: str, vkinds: str, vslots: list, akind: str, aslot: int):
    memop = insn.consts[0]
    size = memop_size(memop)
    tbi, align, sign = bool(memop & MemOp.TBI), bool(memop & MemOp.ALIGN), bool(memop & MemOp.SIGN)
    key = ("access", kind, vkinds, akind, tbi, align, sign and kind == "read")
    make = _FACTORIES.get(key)
    if make is None:
        make = _factory(key, _access_source, kind, vkinds, akind, tbi, align, sign)
    return make(vslots[0], aslot, size, 1 << (8 * size - 1), (1 << (8 * size)) - 1)


def _ld(insn):
    okind, oslots = _operands(insn.outs)
    if okind == "C":
        return None
    akind, (addr,) = _operands(insn.ins)
    return _access(insn, "read", okind, oslots, akind, addr)


def _st(insn):
    kinds, slots = _operands(insn.ins)
    return _access(insn, "write", kinds[0], slots, kinds[1], slots[1])


def _brcond_source(kinds: str) -> str:
    a, b = _operand(kinds[0], "a"), _operand(kinds[1], "b")
    return ("def make(f, a, b, label):\n"
            "    def run(L, E, m):\n"
            f"        x = {a}\n"
            f"        y = {b}\n"
            "        if f(x, y, x - 0x10000000000000000 if x >> 63 else x,"
            " y - 0x10000000000000000 if y >> 63 else y):\n"
            "            return label\n"
            "    return run\n")


def _brcond(insn):
    cond, label = insn.consts
    kinds, (a, b) = _operands(insn.ins)
    key = ("brcond", kinds)
    make = _FACTORIES.get(key)
    if make is None:
        make = _factory(key, _brcond_source, kinds)
    return make(COND_FUNCS[cond], a, b, label)


def _generic(insn):
    """Any other op, through the oracle's own function."""
    fn = INTERPRETERS[insn.op]

    def run(L, E, m):
        fn(m, insn)
        if m.exit is not None:
            return m.exit
        if m.jump is not None:
            label, m.jump = m.jump, None
            return label
    return run


class Plan:
    """A block, ready to run: one closure per op (insn_start and set_label
    dropped), where each label continues, and the guest pc that owns each op
    (the pc of the insn_start before it in program order: a fault's pc)."""
    __slots__ = ("block", "fns", "labels", "owner", "pc_word", "n_locals")

    def __init__(self, block: Block):
        self.block = block
        pc_global = block.globals["pc"]
        self.pc_word = pc_global.offset >> 3
        self.n_locals = block.n_locals
        fns, owner = [], []
        self.labels = labels = {}
        pc = block.pc
        for insn in block.insns:
            op = insn.op
            if op is Op.insn_start:
                pc = insn.consts[0]
                continue
            if op is Op.set_label:
                labels[insn.consts[0]] = len(fns)
                continue
            if op is Op.goto_tb:
                fn = _goto_tb(insn.consts[0] & MASK64, self.pc_word)
            elif op is Op.br:
                fn = _br(insn.consts[0])
            else:
                special = _SPECIAL.get(op)
                fn = special(insn) if special is not None else None
            fns.append(fn or _generic(insn))
            owner.append(pc)
        fns.append(_fell_off)
        owner.append(pc)
        self.fns = fns
        self.owner = owner


def _goto_tb(target: int, pc_word: int):
    info = ExitInfo("goto_tb", target)      # frozen: one for every run

    def run(L, E, m):
        E[pc_word] = target
        return info
    return run


def _br(label: int):
    def run(L, E, m):
        return label
    return run


def _fell_off(L, E, m):
    raise IRError("control fell off the end of the block")


# Ops with a closure of their own; any other op runs the oracle's function.
_SPECIAL = {op: _value for op in VALUE_SEMANTICS if op is not Op.call}
_SPECIAL.update({Op.ld: _ld, Op.st: _st, Op.brcond: _brcond})


def plan(block: Block) -> Plan:
    return Plan(block)


def run(p: Plan, env, words, mem, helpers=None) -> ExitInfo:
    """Run planned block ``p`` on ``env`` (its bytes, writable) and ``words``
    (the same memory as unsigned 64-bit words) and guest memory ``mem``: the
    oracle's ``interpret``, with the same precise faults."""
    if helpers is None:
        from .helpers import HELPERS as helpers
    L = [0] * p.n_locals
    m = _Machine(p.block, env, L, mem, helpers)
    fns, labels = p.fns, p.labels
    i = 0
    jumps = 0
    try:
        while True:
            r = fns[i](L, words, m)
            if r is None:
                i += 1
            elif r.__class__ is int:
                jumps += 1
                if jumps > MAX_JUMPS:
                    raise IRError(f"block did not exit within {MAX_JUMPS} jumps")
                try:
                    i = labels[r]
                except KeyError:
                    raise IRError(f"branch to unset label $L{r}") from None
            else:
                return r
    except InterpFault as f:
        pc = p.owner[i]
        words[p.pc_word] = pc & MASK64
        return ExitInfo("fault", pc, fault_addr=f.addr & MASK64, fault_access=f.access, fault_align=f.align)


# -- a block's first run ---------------------------------------------------------------
# Most cold blocks run once (perl -e's first run: 3,400 of 7,900), so their
# first run goes over the unoptimised IR as it is, unplanned: planning costs
# about what one run through the oracle does.  ``run_once`` is the oracle's
# run without its per-op bookkeeping for the ops most of such IR is (perl
# -e: insn_start and mov two fifths, value ops, goto_tb and brcond most of
# the rest): operands read in line instead of Machine.get/set calls, mov and
# add written out, the other value ops' own VALUE_SEMANTICS functions called
# directly; every other op (loads, stores, calls, exits) is the oracle's.

_ONCE_VALUE = {op: fn for op, fn in VALUE_SEMANTICS.items() if op is not Op.call}
_INSN_START, _SET_LABEL, _GOTO_TB, _BRCOND, _MOV, _ADD = (
    Op.insn_start, Op.set_label, Op.goto_tb, Op.brcond, Op.mov, Op.add)


def run_once(block: Block, env, words, mem, helpers=None) -> ExitInfo:
    """Run ``block`` (unplanned) as ``run(plan(block), ...)`` would: the
    same state, memory, exit and precise faults."""
    if helpers is None:
        from .helpers import HELPERS as helpers
    insns = block.insns
    L = [0] * block.n_locals
    m = _Machine(block, env, L, mem, helpers)
    labels = None
    i = jumps = 0
    try:
        while True:
            insn = insns[i]
            op = insn.op
            if op is _INSN_START or op is _SET_LABEL:
                i += 1
                continue
            sem = _ONCE_VALUE.get(op)
            if sem is not None:
                vals = []
                for t in insn.ins:
                    k = t.kind
                    vals.append(L[t.index] if k is _LOCAL else
                                t.value & MASK64 if k is _CONST else words[t.offset >> 3])
                if op is _MOV:          # (mov and add: two thirds of the value ops)
                    v = vals[0]
                elif op is _ADD:
                    v = (vals[0] + vals[1]) & MASK64
                else:
                    v = sem(*insn.consts, *vals) & MASK64
            else:
                if op is _GOTO_TB:
                    target = insn.consts[0] & MASK64
                    words[block.globals["pc"].offset >> 3] = target
                    return ExitInfo("goto_tb", target)
                if op is _BRCOND:
                    a, b = insn.ins
                    x = L[a.index] if a.kind is _LOCAL else a.value & MASK64 if a.kind is _CONST else words[a.offset >> 3]
                    y = L[b.index] if b.kind is _LOCAL else b.value & MASK64 if b.kind is _CONST else words[b.offset >> 3]
                    cond, label = insn.consts
                    if COND_FUNCS[cond](x, y, x - 0x10000000000000000 if x >> 63 else x,
                                        y - 0x10000000000000000 if y >> 63 else y):
                        m.jump = label
                else:
                    INTERPRETERS[op](m, insn)
                    if m.exit is not None:
                        return m.exit
                if m.jump is None:
                    i += 1
                else:
                    jumps += 1
                    if jumps > MAX_JUMPS:
                        raise IRError(f"block did not exit within {MAX_JUMPS} jumps")
                    if labels is None:
                        labels = {x.consts[0]: j for j, x in enumerate(insns) if x.op is _SET_LABEL}
                    try:
                        i = labels[m.jump]
                    except KeyError:
                        raise IRError(f"branch to unset label $L{m.jump}") from None
                    m.jump = None
                continue
            o = insn.outs[0]
            k = o.kind
            if k is _LOCAL:
                L[o.index] = v
            elif k is _CONST:
                raise IRError(f"write to constant {o!r}")
            else:
                words[o.offset >> 3] = v
            i += 1
    except IndexError:
        if i >= len(insns):
            raise IRError("control fell off the end of the block") from None
        raise
    except InterpFault as f:
        # the op's guest instruction: the insn_start before it in program order
        pc = next((x.consts[0] for x in reversed(insns[:i]) if x.op is _INSN_START), block.pc)
        words[block.globals["pc"].offset >> 3] = pc & MASK64
        return ExitInfo("fault", pc, fault_addr=f.addr & MASK64, fault_access=f.access, fault_align=f.align)
