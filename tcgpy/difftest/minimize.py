"""Shrink a failing case to the fewest instructions and simplest values that
still fail, so that the case file points at one instruction and one input.

The minimizer is generic over ``fails(case) -> bool``; :func:`minimize_result`
binds it to an :class:`~tcgpy.difftest.engine.Engine` ("still an unknown
mismatch").  Each step keeps a change only if the case still fails, so the
result always fails; the number of reruns is capped by ``budget``.
"""
from __future__ import annotations

from typing import Callable

from .engine import DATA_BASE, DATA_SIZE, MASK64, Case, Engine, Result, default_bound

# Data page granules tried for zeroing, coarse to fine.
DATA_GRANULES = (DATA_SIZE // 2, 4096, 512, 64, 8)


class _Budget(Exception):
    pass


class _Shrinker:
    def __init__(self, fails: Callable[[Case], bool], budget: int):
        self.fails = fails
        self.left = budget

    def check(self, case: Case) -> bool:
        if self.left <= 0:
            raise _Budget
        self.left -= 1
        return self.fails(case)

    # -- instructions -----------------------------------------------------------
    def drop_words(self, case: Case) -> Case:
        """Delete chunks of instructions, halving the chunk size (ddmin-style)."""
        n = len(case.words)
        chunk = max(n // 2, 1)
        while chunk >= 1 and len(case.words) > 1:
            i = 0
            changed = False
            while i < len(case.words) and len(case.words) > 1:
                cand = _without(case, i, i + chunk)
                if cand.words and self.check(cand):
                    case = cand
                    changed = True
                else:
                    i += chunk
            if not changed:
                chunk //= 2
        return case

    # -- register values --------------------------------------------------------
    def simplify_regs(self, case: Case) -> Case:
        # All at once first: most registers are irrelevant to most failures.
        simplest = {n: next(iter(_candidates(n, v)), v) for n, v in case.regs.items()}
        if simplest != case.regs:
            cand = case.with_(regs=simplest)
            if self.check(cand):
                return cand
        for name in list(case.regs):
            for v in _candidates(name, case.regs[name]):
                regs = dict(case.regs)
                regs[name] = v
                cand = case.with_(regs=regs)
                if self.check(cand):
                    case = cand
                    break
        return case

    # -- data page ----------------------------------------------------------------
    def zero_data(self, case: Case) -> Case:
        if not any(case.data):
            return case
        cand = case.with_(data=bytes(len(case.data)))
        if self.check(cand):
            return cand
        for g in DATA_GRANULES:
            data = bytearray(case.data)
            for off in range(0, len(data), g):
                if not any(data[off:off + g]):
                    continue
                trial = bytearray(data)
                trial[off:off + g] = bytes(g)
                cand = case.with_(data=bytes(trial))
                if self.check(cand):
                    data = trial
                    case = cand
        return case


def _without(case: Case, lo: int, hi: int) -> Case:
    words = case.words[:lo] + case.words[hi:]
    classes = case.classes[:lo] + case.classes[hi:] if case.classes else ()
    return case.with_(words=words, classes=classes, bound=min(case.bound, default_bound(len(words))))


def _candidates(name: str, value: int) -> list[int]:
    """Simpler values to try for a register, simplest first (only simpler ones)."""
    out: list[int] = []
    ptr = DATA_BASE + DATA_SIZE // 2
    options = [0, 1]
    if DATA_BASE <= value < DATA_BASE + DATA_SIZE:
        # Pointer-valued: 0 would fault somewhere else, a canonical pointer
        # keeps the access and makes the address easy to read.
        options = [ptr, value & ~15, 0, 1]
    options += [value & 0xFFFF_FFFF, value & 0xFF, value & (MASK64 ^ 0xFFFF_FFFF)]
    for v in options:
        if v != value and v not in out and _simplicity(v) < _simplicity(value):
            out.append(v)
    return out


def _simplicity(v: int) -> tuple[int, int]:
    ptr = DATA_BASE + DATA_SIZE // 2
    if v == ptr:
        return (0, 0)
    return (bin(v).count("1"), v)


def minimize(case: Case, fails: Callable[[Case], bool], budget: int = 600) -> Case:
    """The smallest case found that still ``fails`` (``case`` itself must fail)."""
    s = _Shrinker(fails, budget)
    try:
        for _ in range(2):
            before = case
            case = s.drop_words(case)
            case = s.simplify_regs(case)
            case = s.zero_data(case)
            if case == before:
                break
    except _Budget:
        pass
    return case


def minimize_result(engine: Engine, result: Result, budget: int = 600) -> Result:
    """Minimize a mismatching result; returns the result of the minimized case."""
    if result.status != "mismatch":
        return result
    small = minimize(result.case, lambda c: engine.run(c).status == "mismatch", budget)
    final = engine.run(small)
    # The final rerun must fail (it did when accepted); if the engine is not
    # deterministic, fall back to the original evidence rather than hide it.
    return final if final.status == "mismatch" else result
