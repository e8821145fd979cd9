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
    # capstone's CS_ARCH_*/CS_MODE_* and unicorn's UC_ARCH_*/UC_MODE_* names:
    # resolved on use (the ``capstone``/``unicorn`` properties) so that
    # ``tcgpy run`` does not pay for importing either (about 40 ms)
    capstone_names: tuple[str, str]
    unicorn_names: tuple[str, str]
    elf_machine: str                       # pyelftools e_machine name
    ir_globals: dict[str, Temp] = field(default_factory=dict)
    # CPU models by name (each with a .features tuple and a .description),
    # and for a model, None or a predicate on instruction words it refuses
    cpu_models: dict[str, object] = field(default_factory=dict)
    default_cpu: str = ""
    refusal: Callable[[str], Callable[[int], bool] | None] = lambda name: None

    @property
    def capstone(self) -> tuple[int, int]:
        """(CS_ARCH_*, CS_MODE_*) for ``capstone.Cs``."""
        import capstone
        return tuple(getattr(capstone, n) for n in self.capstone_names)

    @property
    def unicorn(self) -> tuple[int, int]:
        """(UC_ARCH_*, UC_MODE_*) for ``unicorn.Uc``."""
        import unicorn
        return tuple(getattr(unicorn, n) for n in self.unicorn_names)

    def __post_init__(self):
        for i, r in enumerate(self.layout.ir_globals):
            self.ir_globals[r.name] = Temp(Kind.GLOBAL, i, name=r.name,
                                           offset=self.layout.offsets[r.name])
