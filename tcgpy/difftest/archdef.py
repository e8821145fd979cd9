"""What a target's difftest module declares as ``DIFF_ARCH``
(tcgpy.targets.Target.difftest names the module): an :class:`ArchDef`, the
facts its register table does not give, for a target the engine runs against
Unicorn; or a :class:`StandaloneDifftest`, for a target whose difftest is a
campaign of its own.  And the random-value helpers start states are drawn
with."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import argparse
    import contextlib

from .forms import DATA_BASE, DATA_SIZE

MASK64 = (1 << 64) - 1

# Values that break arithmetic more often than random ones: carries out of 32
# and 64 bits, sign boundaries, all-ones, small shifts.
EDGE_VALUES = (
    0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF,
    (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, (1 << 32) + 1,
    (1 << 63) - 1, 1 << 63, (1 << 63) + 1, MASK64, MASK64 - 1,
    0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_0000_0000, 0x0000_0000_8000_0001,
    0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA, 63, 64, 32, 31,
)


def random_value(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.35:
        return rng.choice(EDGE_VALUES)
    if r < 0.5:
        return rng.randrange(0, 256)
    if r < 0.65:
        v = rng.getrandbits(32)
        return v | 0xFFFF_FFFF_0000_0000 if rng.random() < 0.3 else v
    return rng.getrandbits(64)


def data_pointer(rng: random.Random) -> int:
    """A pointer into the middle of the data page (usually 16-byte aligned)."""
    off = rng.randrange(-512, 512)
    if rng.random() < 0.75:
        off &= ~15
    return DATA_BASE + DATA_SIZE // 2 + off


@dataclass(frozen=True)
class ArchDef:
    """The difftest facts of one architecture that its register table does not give."""
    gprs: tuple[str, ...]                  # general registers, by number (forms' PTR_REGS etc.)
    # Unicorn's register ids: the id of ``name`` is unicorn_consts.PREFIX + NAME.upper()
    unicorn_consts: tuple[str, str]
    # Unicorn's interrupt numbers (QEMU's EXCP_*) as difftest events
    unicorn_intr: dict[int, str]
    # Words run just before every case, falling through into CODE_BASE: they
    # reset state that persists in a reused emulator and neither API can write.
    prologue: tuple[int, ...]
    # How non-GPR start values are drawn (registers not listed start at 0)
    start: dict[str, Callable[[random.Random], int]]
    # General registers (by number) that start as data pointers (the forms'
    # base registers) and as small values (their index registers)
    ptr_regs: tuple[int, ...]
    small_regs: tuple[int, ...]
    # Unicorn CPU models a form class may ask for (FormClass.unicorn_cpu):
    # name -> constant in unicorn_consts' module.  Others run on the default.
    unicorn_cpus: dict[str, str] = field(default_factory=dict)
    # Unicorn registers written once when its CPU is created (by name, as
    # unicorn_consts spells them): machine state Linux user mode has set
    unicorn_init: dict[str, int] = field(default_factory=dict)
    # Unicorn's pc after an exception it reports through the interrupt hook,
    # less the faulting instruction's pc (a target's Unicorn may step over a
    # syscall instruction for every cause of exception)
    unicorn_intr_pc_skew: int = 0
    # UcError codes (as str(UcError) names them) that are events, not crashes
    unicorn_errors: dict[str, str] = field(default_factory=dict)
    # A last pass over a generated sequence (words -> words), for what a form
    # generator cannot know alone (e.g. branch targets on instruction
    # boundaries when instruction lengths differ); None: none
    finish_code: Callable[[list[int]], list[int]] | None = None
    # Known differences with Unicorn, each with its proof
    # (tcgpy.difftest.known_differences.KnownDifference)
    known: tuple = ()
    # tcgpy's GuestTrap kinds that are not a "trap" event (what the kernel
    # delivers for them decides): kind -> event kind
    trap_events: dict[str, str] = field(default_factory=dict)
    # Test-only broken translations (tcgpy.difftest.testing), by the name
    # $TCGPY_DIFFTEST_INJECT gives: name -> () -> context manager
    injections: dict[str, Callable[[], contextlib.AbstractContextManager]] = field(default_factory=dict)


@dataclass(frozen=True)
class StandaloneDifftest:
    """A target whose difftest is not the engine's cases and runners but a
    campaign of its own (a KVM-only target has no TCG frontend to put against
    Unicorn: its campaign puts the host CPU there): ``tcgpy difftest NAME``
    hands it the parsed command line."""
    main: Callable[[argparse.Namespace], int]   # parsed ``tcgpy difftest`` options -> exit status
