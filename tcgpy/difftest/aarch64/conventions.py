"""AArch64's choices in the difftest's start-state conventions
(tcgpy.difftest.forms), which its form generators rely on.

- x20..x27 start as pointers into the middle of the data page: the base
  registers of memory forms; x18 and x19 start small (0..255): index registers.
- SP starts as a 16-byte aligned pointer into the middle of the data page (as
  Linux keeps it aligned), so forms may use it as a base register too.
- NZCV and tpidr_el0 are random; FPCR and FPSR hold random values of their
  defined bits (DIFF_ARCH.start in this package says which).
- Unicorn's default CPU is a Cortex-A72; classes of extensions it lacks
  (FEAT_LSE, FP16, RDM, ...) name the "max" model.
- The bytes after the sequence are zero: a udf, so a run that falls past the
  end stops with an illegal instruction on both engines.
"""
from __future__ import annotations

PTR_REGS = tuple(range(20, 28))
SMALL_REGS = (18, 19)
