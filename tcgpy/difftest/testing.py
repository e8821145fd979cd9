"""Test-only hooks: inject a deliberately broken translation so that tests can
prove a campaign finds, minimizes and replays a real-looking bug.

Not for production use.  The hook patches the translator function of one
decoder pattern in place; emulators created *after* entering it translate with
the broken function (an emulator that already holds translations of the same
code keeps them: use a fresh Engine inside the ``with``).

``TCGPY_DIFFTEST_INJECT=<name>`` makes ``tcgpy difftest`` (and its worker
processes) install the named injection, for end-to-end tests of the command.
Each target declares its injections (ArchDef.injections) in its own folder.
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


def injections() -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    """Every target's injections, by name (imports the targets' difftest modules)."""
    from ..targets import TARGETS
    from .archdef import ArchDef
    out = {}
    for target in TARGETS:
        defs = target.diff_def if target.difftest else None
        if isinstance(defs, ArchDef):
            out.update(defs.injections)
    return out


def install_from_env(stack: contextlib.ExitStack) -> str | None:
    """Enter the injection named by $TCGPY_DIFFTEST_INJECT (if any) on ``stack``."""
    name = os.environ.get(ENV_VAR)
    if not name:
        return None
    known = injections()
    if name not in known:
        raise ValueError(f"{ENV_VAR}={name!r}: unknown injection "
                         f"(known: {', '.join(sorted(known))})")
    stack.enter_context(known[name]())
    return name
