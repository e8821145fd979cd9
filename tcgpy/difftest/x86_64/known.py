"""Mismatches of ``tcgpy difftest x86_64`` that are Unicorn's, each with its
proof.  KVM runs the instructions on the real CPU, so a mismatch is
Unicorn's; a class of them is a known difference only with proof."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class KnownX86Difference:
    """A class of mismatch that is Unicorn's, with the proof (as tcgpy.difftest.known_differences)."""
    name: str
    matches: Callable[[list, dict], bool]          # (instructions, differing fields) -> explained?
    unicorn: str
    architecture: str
    proof: str


# None found so far: an unexplained mismatch fails the campaign.
KNOWN: list[KnownX86Difference] = []
