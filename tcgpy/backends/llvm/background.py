"""LLVM on a second host thread, while the guest goes on.

A first run compiles hundreds of modules (python3's start-up: 520, 4 s of
LLVM), and a block that has earned compiling need not wait for it: the
cold tier can interpret it a few more times meanwhile.  So ``tcgpy run``
lowers a batch to LLVM IR on the guest's thread (that is Python, and it
allocates the batch's jump slots and counters) and hands the text to this
worker, which parses, optimises and generates code.  llvmlite's calls
release the GIL, so on a machine with a second core that work is off the
guest's path.  The finished job waits in ``done`` until the block cache's
next lookup installs it (tbcache.py), after checking that nothing it was
compiled from has changed since.

The worker runs one job at a time; ``pause`` (held across a fork, when
llvmlite's lock must not be held by a thread the child will not have) waits
for the job in hand and keeps the next from starting.
"""
from __future__ import annotations

import collections
import os
import signal
import threading
import weakref


class Job:
    """What to compile (``work()`` on the worker) and what the block cache
    needs to install it (everything else the creator puts in)."""

    def __init__(self, work, **info):
        self.work = work
        self.info = info
        self.result = None
        self.error: BaseException | None = None


class BackgroundCompiler:
    def __init__(self):
        self.queue: collections.deque[Job] = collections.deque()
        self.done: collections.deque[Job] = collections.deque()
        self.pending = 0                    # submitted, not yet taken from ``done``
        self._cv = threading.Condition()
        self._busy = threading.Lock()       # held while a job runs (and across fork)
        self._thread: threading.Thread | None = None
        # A forked child's jobs wait until the child's block cache looks for
        # them (resume): a child that never runs guest code again (the
        # persistent cache's saver) does not compile them.
        self.orphaned = False
        _all.add(self)

    def submit(self, job: Job) -> None:
        """Queue ``job``: a hot loop's behind the rest.  Code a block waits
        for is interpreted meanwhile (50-100 times slower), and after a
        while the guest waits for it; a hot loop runs first-tier code
        meanwhile, 1.5-2 times slower.  (In arrival order, openssl's first
        run queued 73 hot loops of its start-up ahead of blocks it then
        waited for.)"""
        with self._cv:
            if job.info.get("kind") == "hot":
                self.queue.append(job)
            else:
                at = next((i for i, j in enumerate(self.queue) if j.info.get("kind") == "hot"), len(self.queue))
                self.queue.insert(at, job)
            self.pending += 1
            self._start()
            self._cv.notify()

    def _start(self) -> None:
        if self._thread is None:
            # The worker takes no host signal, whatever the mask of the
            # thread starting it (a new thread inherits that): signals are
            # the guest's thread's and the signal watcher's business
            # (linux/hostsig.py), and one the kernel handed to the worker
            # would be lost, or kill the process (SIGALRM's default).
            old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            try:
                self._thread = threading.Thread(target=self._work, name="tcgpy-llvm", daemon=True)
                self._thread.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        self.orphaned = False

    def resume(self) -> None:
        with self._cv:
            if self.queue:
                self._start()
            self.orphaned = False

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self.queue:
                    self._cv.wait()
            with self._busy:
                with self._cv:
                    if not self.queue:
                        continue
                    job = self.queue.popleft()
                try:
                    job.result = job.work()
                except BaseException as e:      # handed to the guest's thread, which raises it
                    job.error = e
                with self._cv:
                    self.done.append(job)
                    self._cv.notify_all()

    def take(self) -> list[Job]:
        """The finished jobs, in the order they finished."""
        out = []
        while self.done:
            out.append(self.done.popleft())
        self.pending -= len(out)
        return out

    def wait_any(self) -> None:
        """Until a job has finished and not been taken, or none is left."""
        with self._cv:
            if self.queue:
                self._start()
            while not self.done and self.pending > 0:
                self._cv.wait()

    def wait_all(self) -> None:
        """Until every submitted job has finished (not taken)."""
        with self._cv:
            if self.queue:
                self._start()
            while self.pending - len(self.done) > 0:
                self._cv.wait()

    # -- fork -----------------------------------------------------------------------
    def _before_fork(self) -> None:
        self._busy.acquire()

    def _after_fork_parent(self) -> None:
        self._busy.release()

    def _after_fork_child(self) -> None:
        # The worker is not in the child (the job it had in hand finished:
        # _busy was held); a new one starts when the child resumes.
        self._cv = threading.Condition()
        self._busy = threading.Lock()
        self._thread = None
        self.orphaned = bool(self.queue)


_all: weakref.WeakSet[BackgroundCompiler] = weakref.WeakSet()


def _before_fork() -> None:
    for c in list(_all):
        c._before_fork()


def _after_fork_parent() -> None:
    for c in list(_all):
        c._after_fork_parent()


def _after_fork_child() -> None:
    for c in list(_all):
        c._after_fork_child()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                    after_in_child=_after_fork_child)
