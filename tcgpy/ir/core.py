"""IR data structures: temps, instructions and blocks."""
from __future__ import annotations

import enum

from ..record import factory, record
from .ops import Op


class Kind(enum.Enum):
    GLOBAL = "global"   # a CPU-state field; lives in env memory across blocks
    LOCAL = "local"     # a block-local value; may be assigned more than once
    CONST = "const"     # an immediate


class Temp:
    """A 64-bit IR value.  Globals carry the env byte offset of their field."""
    __slots__ = ("kind", "index", "name", "value", "offset")

    def __init__(self, kind: Kind, index: int, name: str | None = None,
                 value: int = 0, offset: int = -1):
        self.kind = kind
        self.index = index
        self.name = name
        self.value = value
        self.offset = offset

    @property
    def is_const(self) -> bool:
        return self.kind is Kind.CONST

    @property
    def is_global(self) -> bool:
        return self.kind is Kind.GLOBAL

    @property
    def is_local(self) -> bool:
        return self.kind is Kind.LOCAL

    def __repr__(self) -> str:
        if self.kind is Kind.CONST:
            return f"${self.value:#x}"
        if self.kind is Kind.GLOBAL:
            return self.name
        return f"tmp{self.index}"


@record(frozen=True)
class GlobalDef:
    """A CPU-state field the IR can name: all are 64-bit."""
    name: str
    offset: int


class Insn:
    __slots__ = ("op", "outs", "ins", "consts")

    def __init__(self, op: Op, outs: tuple = (), ins: tuple = (), consts: tuple = ()):
        self.op = op
        self.outs = outs
        self.ins = ins
        self.consts = consts

    def copy(self) -> "Insn":
        return Insn(self.op, self.outs, self.ins, self.consts)

    def __repr__(self) -> str:
        from .printer import format_insn
        return format_insn(self)


@record
class Block:
    """One translation block of IR: straight-line code with labels, ending in a BB_END op."""
    pc: int
    insns: list[Insn] = factory(list)
    globals: dict[str, Temp] = factory(dict)
    n_locals: int = 0
    n_labels: int = 0
    guest_insns: int = 0           # guest instructions covered
    guest_size: int = 0            # bytes of guest code covered
    insn_pcs: list[int] = factory(list)
    instr: int = 0                 # instrumentation (tcgpy/hooks.py): 0 none, 1 native, 2 Python hooks

    def copy(self) -> "Block":
        b = Block(self.pc, [i.copy() for i in self.insns], self.globals, self.n_locals,
                  self.n_labels, self.guest_insns, self.guest_size, list(self.insn_pcs), self.instr)
        return b

    def new_local(self) -> Temp:
        t = Temp(Kind.LOCAL, self.n_locals)
        self.n_locals += 1
        return t

    def __str__(self) -> str:
        from .printer import format_block
        return format_block(self)
