"""Test-only hooks: inject a deliberately broken translation so that tests can
prove a campaign finds, minimizes and replays a real-looking bug.

Not for production use.  The hook patches the translator function of one
decoder pattern in place; emulators created *after* entering it translate with
the broken function (an emulator that already holds translations of the same
code keeps them: use a fresh Engine inside the ``with``).

``TCGPY_DIFFTEST_INJECT=<name>`` makes ``tcgpy difftest`` (and its worker
processes) install the named injection, for end-to-end tests of the command.
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator

ENV_VAR = "TCGPY_DIFFTEST_INJECT"


@contextlib.contextmanager
def patched_translation(arch: str, word: int, after: Callable) -> Iterator[object]:
    """Run ``after(ctx, args)`` after the translator of the pattern that decodes
    ``word`` (for every word that pattern decodes).  Yields the pattern."""
    from ..frontends import get_arch
    info = get_arch(arch)
    pats = info.decoder.lookup(word)
    if not pats:
        raise ValueError(f"no {arch} pattern decodes {word:#010x}")
    pat = pats[0]
    original = pat.trans
    if getattr(original, "difftest_after", None) is after:
        # Already installed (a forked worker inherits its parent's patch).
        yield pat
        return

    def broken(ctx, a):
        r = original(ctx, a)
        if r is not False:
            after(ctx, a)
        return r

    broken.difftest_after = after
    pat.trans = broken
    try:
        yield pat
    finally:
        pat.trans = original


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


def install_from_env(stack: contextlib.ExitStack) -> str | None:
    """Enter the injection named by $TCGPY_DIFFTEST_INJECT (if any) on ``stack``."""
    name = os.environ.get(ENV_VAR)
    if not name:
        return None
    if name not in INJECTIONS:
        raise ValueError(f"{ENV_VAR}={name!r}: unknown injection "
                         f"(known: {', '.join(sorted(INJECTIONS))})")
    stack.enter_context(INJECTIONS[name]())
    return name
