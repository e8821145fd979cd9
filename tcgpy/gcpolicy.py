"""How ``tcgpy run`` sets CPython's cyclic garbage collector.

A first run keeps tens of thousands of translated blocks alive (IR, plans,
TB records: about a million objects for python3's start-up), and CPython's
default thresholds (700, 10, 10) make the collector walk all of them again
and again: a full collection every few hundred thousand allocations.  For
``perl -e`` that was 0.9 s of a 3.7 s first run, for ``python3 -S -c``
4.6 s of 16.5 s, and it found next to nothing: translated code lives until
the process ends or its page is invalidated, and what does die (a block's
scratch lists, a syscall's arguments) dies by reference counting.

So a run freezes what start-up built (the imports, the loaded program, the
persistent cache's index: never collected, never walked again) and
collects the young generation every 50,000 net allocations instead of 700,
the middle one every 20 of those and the whole heap every 100 middle
collections at most (CPython also waits for the long-lived objects to grow
by a quarter).  Young cycles (an exception and its traceback, a signal
frame's records) are still found while young, so a long-running guest's
memory stays bounded.

Only the command line does this: the collector is the host process's, and
a program that imports tcgpy as a library keeps its own settings.
"""
from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def tune_for_run() -> None:
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
