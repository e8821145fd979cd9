"""Optimizer passes over one IR block, and the pipeline that runs them.

Each pass is a module with one entry point ``run(block) -> Block`` (it may
rewrite the block in place and return it).  ``PASSES`` lists them in pipeline
order, by the names ``optimize``, ``-d op_opt`` and the tests use to switch
each one on or off.

Locals are not SSA and blocks hold labels and forward branches, so every pass
is conservative at labels; globals keep their guest-visible value at every op
that may leave the block (a faulting ld/st, a call, a BB_END).
"""
from __future__ import annotations

from typing import Callable, Iterable

from ..core import Block
from . import constfold, copyprop, dce, deadglobals

# Order matters: folding turns computed values into constants, copy
# propagation then routes readers past the movs both leave behind, dead
# global stores go next (their removal kills the values that fed them) and
# DCE sweeps up everything that lost its last reader.
PASSES: dict[str, Callable[[Block], Block]] = {
    "constfold": constfold.run,
    "copyprop": copyprop.run,
    "deadglobals": deadglobals.run,
    "dce": dce.run,
}


def optimize(block: Block, enabled: Iterable[str] | None = None,
             disabled: Iterable[str] = ()) -> Block:
    """Run the pipeline on ``block``: all passes, or only ``enabled``, minus ``disabled``."""
    enabled = set(PASSES) if enabled is None else set(enabled)
    disabled = set(disabled)
    unknown = (enabled | disabled) - set(PASSES)
    if unknown:
        raise ValueError(f"unknown optimizer pass(es) {sorted(unknown)}; known: {list(PASSES)}")
    for name, run in PASSES.items():
        if name in enabled and name not in disabled:
            block = run(block)
    return block
