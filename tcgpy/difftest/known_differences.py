"""Where Unicorn (the difftest reference) deviates from the architecture:
the shape of an entry, and the helpers entries are written with.  Each
target lists its entries in its own folder (``known``, the ArchDef's
``known``).

tcgpy follows the architecture; Unicorn is an old QEMU with its own bugs.  A
mismatch is *known* only when an entry matches it, and an entry goes in only
with proof: the architecture manual's section that defines the behaviour
and/or the observation of the same instruction and inputs on the current
qemu-user of the target or hardware.  Each entry says what Unicorn does, what the architecture
says, the proof, and why tcgpy follows the architecture.  A predicate should be
as narrow as the evidence: the instruction encoding, the inputs that trigger it
and the fields that differ, so that a real tcgpy bug in the same instruction is
not hidden behind the entry.

An entry that explains the engines parting at one instruction gives
``diverges_at`` (that instruction's pc): the engine then reruns the case
stopping there, and the mismatch is known only if everything up to that
instruction agrees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class KnownDifference:
    name: str
    arch: str
    # (case, mismatch, unicorn outcome, tcgpy outcome) -> does this entry explain it?
    matches: Callable[..., bool]
    unicorn: str        # what Unicorn does
    architecture: str   # what the architecture says
    proof: str          # architecture manual reference and/or qemu-user / hardware observation
    why: str            # why tcgpy follows the architecture here
    # (case, mismatch, unicorn outcome, tcgpy outcome) -> pc of the one
    # instruction where the engines legitimately part, or None
    diverges_at: Callable[..., int | None] | None = None


def any_word(mask: int, value: int) -> Callable[[object], bool]:
    """Predicate on a case: some instruction word has ``word & mask == value``."""
    return lambda case: any(w & mask == value for w in case.words)


def only_fields(*prefixes: str) -> Callable[[object], bool]:
    """Predicate on a mismatch: every differing field starts with one of ``prefixes``."""
    return lambda mm: all(f.name.startswith(prefixes) for f in mm.fields)


def subject_fault_pc(case, mismatch, reference, subject) -> int | None:
    """``diverges_at`` of an entry about a fault tcgpy takes where Unicorn
    does not: the faulting instruction."""
    return subject.regs.get("pc") if subject.event.kind == "fault" else None


def classify(case, mismatch, reference, subject, arch: str,
             known: tuple[KnownDifference, ...]) -> KnownDifference | None:
    """The first entry that explains ``mismatch``, or None."""
    for k in known:
        if k.arch == arch and k.matches(case, mismatch, reference, subject):
            return k
    return None
