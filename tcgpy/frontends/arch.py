"""What an architecture frontend provides to the rest of tcgpy."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..cpustate import CPUStateLayout
from ..ir.core import Kind, Temp
from ..record import factory, record
from ..targets import Target

if TYPE_CHECKING:          # the decoder is the translator's, imported when something is translated
    from .decodetree import Decoder


@record
class PseudoReg:
    """A user-visible register composed from state fields (e.g. AArch64 nzcv)."""
    read: Callable[[object], int]          # env -> value
    write: Callable[[object, int], None]   # env, value


@record(frozen=True)
class GdbReg:
    """A register as gdb's target description names it; ``source`` is the
    engine register (or pseudo register) that holds it, when named otherwise.
    A register gdb sees otherwise than the engine holds it (part of one, a
    conversion, a constant) has ``read(engine) -> int`` and ``write(engine, value)``."""
    name: str
    bits: int
    type: str = "int"
    source: str = ""
    read: Callable[[object], int] | None = None
    write: Callable[[object, int], None] | None = None

    @property
    def emu_name(self) -> str:
        return self.source or self.name

    def get(self, emu) -> int:
        """The register's value in ``emu``, as gdb sees it."""
        v = self.read(emu) if self.read is not None else emu.reg_read(self.emu_name)
        return v & ((1 << self.bits) - 1)

    def set(self, emu, value: int) -> None:
        if self.write is not None:
            self.write(emu, value)
        else:
            emu.reg_write(self.emu_name, value)


@record(frozen=True)
class GdbFeature:
    """One ``<feature>`` of a target description: gdb recognises the
    architecture's registers by the feature's name; ``types`` is the XML of
    the types its registers use."""
    name: str
    regs: tuple[GdbReg, ...]
    types: str = ""


@record(frozen=True)
class GdbTarget:
    """What the gdbstub (tcgpy/gdbstub.py) needs to know of an architecture."""
    architecture: str                      # <architecture> in the description
    features: tuple[GdbFeature, ...]
    breakpoint_kinds: frozenset[int]       # the Z0/Z1 "kind" values gdb may send

    @property
    def regs(self) -> tuple[GdbReg, ...]:
        """In gdb's register numbering (the order of the description)."""
        return tuple(r for f in self.features for r in f.regs)


@record
class ArchInfo:
    """A target's frontend: its CPU state, decoder and translation context.
    The facts that need no frontend (names, ELF id, fetch rule, peer ids) are
    the registry's (``target``, tcgpy.targets)."""
    target: Target
    layout: CPUStateLayout
    # () -> (decoder, DisasContext): the translator's modules are imported on
    # first use, so that a run whose code all comes from the persistent cache
    # does not import them (15 ms of a warm run)
    translator: Callable[[], tuple[Decoder, type]]
    pseudo_regs: dict[str, PseudoReg]
    gdb: GdbTarget | None = None           # the gdbstub's view; None: not debuggable
    ir_globals: dict[str, Temp] = factory(dict)
    # CPU models by name (each with a .features tuple and a .description),
    # and for a model, None or a predicate on instruction words it refuses
    cpu_models: dict[str, object] = factory(dict)
    default_cpu: str = ""
    refusal: Callable[[str], Callable[[int], bool] | None] = lambda name: None

    @property
    def decoder(self) -> Decoder:
        return self._translation()[0]

    @property
    def DisasContext(self) -> type:
        return self._translation()[1]

    def _translation(self) -> tuple[Decoder, type]:
        t = self.__dict__.get("_translator_pair")
        if t is None:
            t = self.__dict__["_translator_pair"] = self.translator()
        return t

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.target.aliases

    @property
    def elf_machine(self) -> str:
        return self.target.elf_machine

    @property
    def insn_align(self) -> int:
        """Instruction alignment (the fetch unit): a pc off it cannot be fetched."""
        return self.target.fetch_unit

    @property
    def capstone(self) -> tuple[int, int]:
        """(CS_ARCH_*, CS_MODE_*) for ``capstone.Cs``; resolved on use so that
        ``tcgpy run`` does not pay for importing capstone (about 40 ms)."""
        return self.target.capstone

    @property
    def unicorn(self) -> tuple[int, int]:
        """(UC_ARCH_*, UC_MODE_*) for ``unicorn.Uc``."""
        return self.target.unicorn

    def __post_init__(self):
        for i, r in enumerate(self.layout.ir_globals):
            self.ir_globals[r.name] = Temp(Kind.GLOBAL, i, name=r.name,
                                           offset=self.layout.offsets[r.name])
