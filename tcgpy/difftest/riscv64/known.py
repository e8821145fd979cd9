"""Known differences between tcgpy's riscv64 and Unicorn's, each with its
proof (tcgpy.difftest.known_differences.KnownDifference)."""
from __future__ import annotations

KNOWN: tuple = ()
