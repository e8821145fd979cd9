"""Difftest campaigns on a Dask distributed cluster (``pip install 'tcgpy[cluster]'``).

The campaign driver is the one of local runs (:func:`.campaign.run_campaign`);
this module is its executor on Dask.  A chunk is one Dask task, submitted by
a sliding window (a 10^8-case campaign never has 10^6 futures at once) and
streamed back as it finishes.  Each worker thread keeps one
:class:`.campaign.Worker` per (arch, spec) across chunks, so its emulators,
their translations and the LLVM JIT are reused by every chunk it runs.

Faults: when a worker process dies (killed, its machine lost, or a case that
crashes tcgpy or Unicorn), Dask reruns its chunk elsewhere; a chunk that keeps
killing workers comes back as ``KilledWorker`` and the driver isolates it
case by case, each case in its own task, so that the culprit is reported as
a crash finding and every other case still counts once.

Versions: workers import their own tcgpy.  A campaign mixing versions means
nothing, so the client compares every worker's tcgpy (version and source
digest) and Unicorn with its own before it starts, and each task checks them
again (a worker may join later).
"""
from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from typing import Callable, Iterator

from .campaign import ChunkResult, Spec, Worker
from .journal import versions

INSTALL_HINT = "pip install 'tcgpy[cluster]'"

# Cases per task: a task costs the scheduler and the network a few
# milliseconds, a case ~2 ms of a worker's CPU; 200 cases (~0.4 s) keep the
# per-task share under 1%, and a lost worker costs at most that much work.
CHUNK = 200
# Chunks in flight per worker thread: one running, one queued on the worker
# while the result of the previous one travels back, spare for stragglers.
WINDOW_PER_THREAD = 3
# Seconds to wait for a first worker (a batch system may take a while to
# start one); reaching the scheduler is bounded by Dask's own
# distributed.comm.timeouts.connect.
FIRST_WORKER_TIMEOUT = 300.0


class VersionMismatch(Exception):
    """A worker runs another tcgpy or Unicorn than the client."""


class Unavailable(Exception):
    """The cluster cannot be reached or has no worker."""


class MissingDask(ImportError):
    """The optional dependency is not installed."""


def _import_distributed():
    try:
        import distributed
    except ImportError as e:
        raise MissingDask(f"--cluster needs Dask distributed: {INSTALL_HINT} ({e})") from None
    return distributed


def _mismatch(who: str, theirs: dict[str, str], ours: dict[str, str]) -> str:
    return (f"{who} runs tcgpy {theirs.get('tcgpy')} / unicorn {theirs.get('unicorn')}, "
            f"this client tcgpy {ours['tcgpy']} / unicorn {ours['unicorn']}: "
            "refusing to mix versions in one campaign")


def check_versions(workers: dict[str, dict[str, str]], ours: dict[str, str]) -> None:
    """Raise VersionMismatch (one line) if any worker's versions differ from ``ours``."""
    for addr, theirs in sorted(workers.items()):
        if theirs != ours:
            raise VersionMismatch(_mismatch(f"worker {addr}", theirs, ours))


# -- worker side -----------------------------------------------------------------------

_THREAD = threading.local()           # Dask runs tasks on a pool of worker threads
_HOOKS = contextlib.ExitStack()
_HOOKS_LOCK = threading.Lock()
_hooks_installed = False


def _worker_for(spec: Spec) -> Worker:
    """This thread's Worker for ``spec``, kept across chunks (and campaigns of
    the same arch keep its engine: its emulators and their translations)."""
    global _hooks_installed
    with _HOOKS_LOCK:
        if not _hooks_installed:
            from .testing import install_from_env
            install_from_env(_HOOKS)
            _hooks_installed = True
    cached = getattr(_THREAD, "worker", None)
    if cached is None or cached.spec != spec:
        engine = cached.engine if cached is not None and cached.spec.arch == spec.arch else None
        cached = _THREAD.worker = Worker(spec, engine)
    return cached


def run_chunk(spec: Spec, indices: range, client_versions: dict[str, str]) -> ChunkResult:
    """The Dask task: run one chunk of the campaign on this worker."""
    ours = versions()
    if ours != client_versions:
        raise VersionMismatch(_mismatch("a worker", ours, client_versions))
    return _worker_for(spec).run(indices)


# -- client side -----------------------------------------------------------------------

class DaskPool:
    """Campaign executor on the cluster a ``distributed.Client`` talks to."""

    # Dask reruns the task of a dead worker on another one, up to the
    # scheduler's distributed.scheduler.allowed-failures (3 by default;
    # a cluster that often meets crashing cases runs faster with 0 or 1).
    reruns_lost = True

    def __init__(self, client, where: str):
        self.client = client
        self.where = where
        self.versions = versions()
        self._distributed = _import_distributed()
        self._tag = uuid.uuid4().hex[:8]
        self._n = itertools.count()

    @property
    def jobs(self) -> int:
        return max(sum(self.client.nthreads().values()), 1)

    def chunk_size(self, count: int) -> int:
        # Small campaigns still give every thread a few chunks.
        return max(1, min(CHUNK, -(-count // (4 * self.jobs))))

    def check_workers(self) -> None:
        check_versions(self.client.run(versions), self.versions)

    def _submit(self, spec: Spec, chunk: range):
        key = f"difftest-{self._tag}-{next(self._n)}-{chunk.start}-{chunk.stop}"
        return self.client.submit(run_chunk, spec, chunk, self.versions, key=key)

    def run(self, spec: Spec, chunks: list[range],
            merge: Callable[[range, ChunkResult], None]) -> list[range]:
        killed = self._distributed.KilledWorker
        spec_ = _for_workers(spec)
        todo = iter(chunks)
        window = WINDOW_PER_THREAD * self.jobs
        inflight = {}
        done = self._distributed.as_completed()
        for ch in itertools.islice(todo, window):
            fut = self._submit(spec_, ch)
            inflight[fut.key] = (fut, ch)
            done.add(fut)
        lost = []
        try:
            for fut in done:
                _, ch = inflight.pop(fut.key)
                try:
                    result = fut.result()
                except killed:
                    lost.append(ch)
                else:
                    merge(ch, result)
                fut.release()
                for nxt in itertools.islice(todo, 1):
                    f = self._submit(spec_, nxt)
                    inflight[f.key] = (f, nxt)
                    done.add(f)
        finally:
            if inflight:
                self.client.cancel([f for f, _ in inflight.values()])
        return sorted(lost, key=lambda r: r.start)

    def suspects(self, lost: list[range]) -> tuple[list[range], list[range]]:
        # Dask has already rerun each lost chunk on other workers: only a
        # chunk that killed every worker it ran on comes back lost.
        return lost, []

    def run_alone(self, spec: Spec, chunks: list[range]) -> list[ChunkResult | None]:
        # One task per chunk: a task that kills its worker takes no other
        # task's result with it (Dask reruns those), so they can run at once.
        killed = self._distributed.KilledWorker
        futs = [self._submit(_for_workers(spec), ch) for ch in chunks]
        out = []
        for fut in futs:
            try:
                out.append(fut.result())
            except killed:
                out.append(None)
        return out


def _for_workers(spec: Spec) -> Spec:
    # Workers do not write files; the client does (see ChunkResult.case_files).
    from dataclasses import replace
    return replace(spec, out=None)


@contextlib.contextmanager
def connect(address: str, jobs: int = 2,
            timeout: float = FIRST_WORKER_TIMEOUT) -> Iterator[DaskPool]:
    """A DaskPool on the scheduler at ``address`` (``tcp://HOST:8786``), or on a
    LocalCluster of ``jobs`` single-threaded worker processes for ``local``.
    Waits up to ``timeout`` seconds for a first worker, then checks versions."""
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        try:
            pool = _open(stack, distributed, address, jobs, timeout)
        except (OSError, TimeoutError) as e:   # Dask's connection timeouts are OSErrors
            raise Unavailable(f"cannot use the Dask cluster at {address}: {e}") from None
        pool.check_workers()
        yield pool


def _open(stack: contextlib.ExitStack, distributed, address: str, jobs: int,
          timeout: float) -> DaskPool:
    if address == "local":
        cluster = stack.enter_context(distributed.LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True,
            dashboard_address=":0", silence_logs=50))  # any free port: never clash
        client = stack.enter_context(distributed.Client(cluster))
        where = "dask local"
    else:
        client = stack.enter_context(distributed.Client(address))
        where = f"dask {address}"
    client.wait_for_workers(1, timeout=timeout)
    return DaskPool(client, where)
