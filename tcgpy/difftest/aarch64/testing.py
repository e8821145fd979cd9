"""AArch64's test-only broken translations (tcgpy.difftest.testing): a bug
that looks real, and one that kills the host process, for the tests that
prove a campaign finds, minimizes, isolates and replays them."""
from __future__ import annotations

import contextlib
import os
from typing import Callable

from .. import patched_translation


def _add_one_to_rd(ctx, a) -> None:
    # Only the plain ADD form (op and S clear when the pattern has them), and
    # never SP: the bug must look like an ordinary off-by-one in one instruction.
    if getattr(a, "op", 0) or getattr(a, "S", 0) or a.rd == 31:
        return
    ctx.write_reg(a.rd, ctx.b.add(ctx.read_reg(a.rd), 1), getattr(a, "sf", 1))


def broken_add_imm() -> contextlib.AbstractContextManager:
    """A64 ``ADD (immediate)`` (non-flag-setting, rd != sp) adds one too many."""
    return patched_translation("aarch64", 0x91000420, _add_one_to_rd)  # add x0, x1, #1


def _kill_process(ctx, a) -> None:
    os._exit(70)


def host_crash_on_div() -> contextlib.AbstractContextManager:
    """Translating A64 ``UDIV``/``SDIV`` kills the process, as a JIT bug that
    crashes the host would (the campaign must report the case, not die)."""
    return patched_translation("aarch64", 0x9AC20820, _kill_process)  # udiv x0, x1, x2


INJECTIONS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "a64-add-imm-plus-one": broken_add_imm,
    "a64-div-kills-host": host_crash_on_div,
}
