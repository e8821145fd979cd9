"""Builder: the API frontends use to emit IR.

For every value-producing op in the table there is a method of the same name
(``b.add(x, y)``) that allocates a fresh local, emits the op and returns the
local; ``b.emit(Op.add, out, x, y)`` writes to an existing temp instead.
Plain ints are accepted wherever a temp is and become constants.
"""
from __future__ import annotations

from .core import Block, Insn, Kind, Temp
from .ops import MASK64, Cond, Exit, Op, memop_size

_LOCAL = Kind.LOCAL
_MOV = Op.mov
_INSN_START = Op.insn_start


class Builder:
    def __init__(self, block: Block):
        self.block = block
        self._consts: dict[int, Temp] = {}

    # -- temps -------------------------------------------------------------
    def const(self, value: int) -> Temp:
        value &= MASK64
        t = self._consts.get(value)
        if t is None:
            t = self._consts[value] = Temp(Kind.CONST, -1, value=value)
        return t

    def temp(self, v) -> Temp:
        return v if v.__class__ is Temp else self.const(v)

    def new_local(self) -> Temp:
        return self.block.new_local()

    def new_label(self) -> int:
        self.block.n_labels += 1
        return self.block.n_labels - 1

    # -- emission ----------------------------------------------------------
    # emit and _value_op run for every op a frontend emits: they use the
    # plain ``_value_`` attribute (Enum's ``value`` is a slow descriptor) and
    # test for Temp by exact class, and make no generator.
    def emit(self, op: Op, *args, consts: tuple = ()) -> None:
        """Emit ``op`` with its outputs then inputs as positional temps."""
        d = op._value_
        nout = d.nout
        outs = args[:nout]
        const = self.const
        ins = tuple([a if a.__class__ is Temp else const(a) for a in args[nout:]])
        assert len(ins) == d.nin and len(consts) == d.nconst, (op, args, consts)
        self.block.insns.append(Insn(op, outs, ins, tuple(consts)))

    def _value_op(self, op: Op, *ins, consts: tuple = ()) -> Temp:
        block = self.block
        out = Temp(_LOCAL, block.n_locals)
        block.n_locals += 1
        const = self.const
        block.insns.append(Insn(op, (out,), tuple([a if a.__class__ is Temp else const(a) for a in ins]),
                                consts))
        return out

    def mov(self, dst: Temp, src) -> None:
        # the op frontends emit most (every register write)
        self.block.insns.append(Insn(_MOV, (dst,), (src if src.__class__ is Temp else self.const(src),), ()))

    def setcond(self, cond: Cond, a, b) -> Temp:
        return self._value_op(Op.setcond, a, b, consts=(cond,))

    def movcond(self, cond: Cond, c1, c2, v1, v2) -> Temp:
        return self._value_op(Op.movcond, c1, c2, v1, v2, consts=(cond,))

    def ld(self, addr, memop: int) -> Temp:
        return self._value_op(Op.ld, addr, consts=(memop,))

    def st(self, value, addr, memop: int) -> None:
        self.emit(Op.st, value, addr, consts=(memop,))

    def st2(self, lo, hi, addr, memop: int) -> None:
        self.emit(Op.st2, lo, hi, addr, consts=(memop,))

    def cmpxchg(self, addr, expected, new, memop: int) -> Temp:
        return self._value_op(Op.cmpxchg, addr, expected, new, consts=(memop,))

    def swap_or_retry(self, addr, old, new, memop: int, pc: int) -> None:
        """The store of an atomic read-modify-write that loaded ``old``:
        ``new`` swapped in if memory still holds ``old`` (at the access
        size), else the block is left to run the instruction at ``pc`` again
        (another process wrote it in between; nothing of the instruction
        may be done yet)."""
        size = memop_size(memop)
        seen = self.cmpxchg(addr, old, new, memop)
        swapped = self.new_label()
        self.brcond(Cond.eq, seen, old if size == 8 else self.and_(old, (1 << (8 * size)) - 1), swapped)
        self.exit_tb(pc, Exit.MISS)
        self.set_label(swapped)

    def call(self, helper_id: int, a=0, b=0, c=0) -> Temp:
        return self._value_op(Op.call, a, b, c, consts=(helper_id,))

    def rvfp(self, control: int, fcsr, a, b=0, c=0) -> tuple[Temp, Temp]:
        """RISC-V F/D operation ``control``: (result, fcsr with its flags accrued)."""
        block = self.block
        outs = (Temp(_LOCAL, block.n_locals), Temp(_LOCAL, block.n_locals + 1))
        block.n_locals += 2
        self.emit(Op.rvfp, *outs, a, b, c, fcsr, consts=(control,))
        return outs

    def insn_start(self, pc: int) -> None:
        self.block.insns.append(Insn(_INSN_START, (), (), (pc,)))     # once per guest instruction

    def set_label(self, label: int) -> None:
        self.emit(Op.set_label, consts=(label,))

    def br(self, label: int) -> None:
        self.emit(Op.br, consts=(label,))

    def brcond(self, cond: Cond, a, b, label: int) -> None:
        self.emit(Op.brcond, a, b, consts=(cond, label))

    def goto_tb(self, pc: int) -> None:
        self.emit(Op.goto_tb, consts=(pc & MASK64,))

    def goto_ptr(self, target) -> None:
        self.emit(Op.goto_ptr, target)

    def exit_tb(self, pc, code: int) -> None:
        self.emit(Op.exit_tb, pc, consts=(int(code),))


def _make_value_method(op: Op):
    # One- and two-input ops (nearly all of them) without building a list:
    # these run for most ops a frontend emits.
    nin = op.value.nin
    if nin == 1:
        def method(self: Builder, a) -> Temp:
            block = self.block
            out = Temp(_LOCAL, block.n_locals)
            block.n_locals += 1
            block.insns.append(Insn(op, (out,), (a if a.__class__ is Temp else self.const(a),), ()))
            return out
    elif nin == 2:
        def method(self: Builder, a, b) -> Temp:
            block = self.block
            out = Temp(_LOCAL, block.n_locals)
            block.n_locals += 1
            block.insns.append(Insn(op, (out,), (a if a.__class__ is Temp else self.const(a),
                                                 b if b.__class__ is Temp else self.const(b)), ()))
            return out
    else:
        def method(self: Builder, *ins) -> Temp:
            block = self.block
            out = Temp(_LOCAL, block.n_locals)
            block.n_locals += 1
            const = self.const
            block.insns.append(Insn(op, (out,), tuple([a if a.__class__ is Temp else const(a) for a in ins]),
                                    ()))
            return out
    method.__name__ = op.value.name
    method.__doc__ = f"Emit ``{op.value.name}`` into a fresh local and return it."
    return method


# Every plain value op (one output, no constant args) gets a builder method
# named after the op (and_, or_, not_ keep Python-safe names).
for _op in Op:
    _d = _op.value
    if _d.nout == 1 and _d.nconst == 0 and not hasattr(Builder, _op.name):
        setattr(Builder, _op.name, _make_value_method(_op))
