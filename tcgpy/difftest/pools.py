"""Campaign executors on this machine: in this process (tests, with their own
runners) and over local worker processes.

The local pool stays a ``ProcessPoolExecutor`` rather than a Dask
``LocalCluster``: per case they are as fast (2,000 cases, 2 workers, this
2-core machine under load from others: 305 vs 383 and 133 vs 267 cases/s,
noise larger than the difference), but forked workers start in well under a
second, where a LocalCluster spawns fresh interpreters that import tcgpy,
llvmlite and Unicorn again (3.5-5 s, more than a typical local campaign) and
needs an optional dependency.  Both run
the same campaign driver (:func:`tcgpy.difftest.campaign.run_campaign`).
"""
from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from .campaign import ChunkResult, Spec, Worker

CHUNK = 20          # cases per work item: small enough for a smooth progress line


class InProcess:
    """Chunks run one after another on one Worker in this process."""

    where = "local"
    jobs = 1
    reruns_lost = False

    def __init__(self, worker: Worker):
        self.worker = worker

    def chunk_size(self, count: int) -> int:
        return CHUNK

    def run(self, spec: Spec, chunks: list[range],
            merge: Callable[[range, ChunkResult], None]) -> list[range]:
        for ch in chunks:
            merge(ch, self.worker.run(ch))
        return []

    def suspects(self, lost: list[range]) -> tuple[list[range], list[range]]:
        return lost, []

    def run_alone(self, spec: Spec, chunks: list[range]) -> list[ChunkResult | None]:
        return [self.worker.run(ch) for ch in chunks]


# Worker-process state: one Worker per process, built by the pool initializer
# (engines cannot be pickled, and building them per chunk would waste the
# translations they cache).
_PROCESS_WORKER: list[Worker] = []
_PROCESS_HOOKS = contextlib.ExitStack()


def _init_process(spec: Spec) -> None:
    from .testing import install_from_env
    install_from_env(_PROCESS_HOOKS)
    _PROCESS_WORKER.append(Worker(spec))


def _run_in_process(indices: range) -> ChunkResult:
    return _PROCESS_WORKER[0].run(indices)


def _mp_context():
    # fork is much faster to start than spawn and the parent holds no
    # emulator, JIT or thread at this point; spawn where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class LocalPool:
    """Chunks over ``jobs`` local worker processes: processes even for one job,
    so that a case that kills the host process (a JIT bug can) is found and
    reported, not fatal."""

    where = "local"
    reruns_lost = False

    def __init__(self, jobs: int):
        self.jobs = max(jobs, 1)

    def chunk_size(self, count: int) -> int:
        return CHUNK

    def run(self, spec: Spec, chunks: list[range],
            merge: Callable[[range, ChunkResult], None], jobs: int | None = None) -> list[range]:
        lost = []
        with ProcessPoolExecutor(jobs or self.jobs, mp_context=_mp_context(),
                                 initializer=_init_process, initargs=(spec,)) as ex:
            futures = {ex.submit(_run_in_process, ch): ch for ch in chunks}
            for fut in as_completed(futures):
                try:
                    merge(futures[fut], fut.result())
                except BrokenProcessPool:
                    lost.append(futures[fut])
        return sorted(lost, key=lambda r: r.start)

    def suspects(self, lost: list[range]) -> tuple[list[range], list[range]]:
        # When a worker dies every pending chunk fails; the executor runs
        # chunks in order, so the culprit is among the first jobs + 1 (those
        # running or queued): isolate those, resubmit the rest.
        return lost[:self.jobs + 1], lost[self.jobs + 1:]

    def run_alone(self, spec: Spec, chunks: list[range]) -> list[ChunkResult | None]:
        out = []
        for ch in chunks:
            got: list[ChunkResult] = []
            lost = self.run(spec, [ch], lambda _, r: got.append(r), jobs=1)
            out.append(None if lost else got[0])
        return out
