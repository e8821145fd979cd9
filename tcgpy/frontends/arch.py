"""What an architecture frontend provides to the rest of tcgpy."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..cpustate import CPUStateLayout
from ..ir.core import Kind, Temp
from .decodetree import Decoder


@dataclass
class PseudoReg:
    """A user-visible register composed from state fields (e.g. AArch64 nzcv)."""
    read: Callable[[object], int]          # env -> value
    write: Callable[[object, int], None]   # env, value


@dataclass
class ArchInfo:
    name: str
    aliases: tuple[str, ...]
    layout: CPUStateLayout
    decoder: Decoder
    DisasContext: type
    insn_size: int
    pseudo_regs: dict[str, PseudoReg]
    capstone: tuple[int, int]              # (CS_ARCH_*, CS_MODE_*)
    unicorn: tuple[int, int]               # (UC_ARCH_*, UC_MODE_*)
    elf_machine: str                       # pyelftools e_machine name
    ir_globals: dict[str, Temp] = field(default_factory=dict)

    def __post_init__(self):
        for i, r in enumerate(self.layout.ir_globals):
            self.ir_globals[r.name] = Temp(Kind.GLOBAL, i, name=r.name,
                                           offset=self.layout.offsets[r.name])
