"""``tcgpy difftest x86_64``: random x86-64 integer ALU sequences on the KVM
engine (the host CPU itself) and on Unicorn's x86-64 CPU, from the same
random registers and flags; every general register and the arithmetic flags
are compared afterwards.

KVM runs the instructions on the real CPU, so a mismatch is Unicorn's: a
class of them is a known difference only with proof (``known``).  Flags an
instruction leaves *undefined* (Intel SDM vol. 2, each instruction's "Flags
Affected") are the CPU's choice: they are compared only where a later
instruction defined them again, and a difference in one is counted, not
reported.

Modules: ``forms`` (the instruction rows and random cases), ``known`` (known
differences), ``campaign`` (the runners, the comparison and the command).
This target's difftest is a campaign of its own, not the engine's
(tcgpy.difftest.StandaloneDifftest): x86-64 guests have no TCG frontend.
"""
from __future__ import annotations

from .. import StandaloneDifftest
from .campaign import main

DIFF_ARCH = StandaloneDifftest(main=main)
