"""Blocks a forked child translated, passed back to its parent.

A child of fork starts with its parent's block cache, but what it translates
itself (the code only a child runs: a subshell's body, the steps between
fork and execve, its exit) dies with it, so a shell that forks in a loop
compiles the same blocks in every child (zsh: 0.3-0.4 s per subshell).
Each child sends the pcs of the blocks it translated or ran cold (the cold
tier's blocks that the parent has not run often enough to compile) through a
pipe to its parent at its first few syscalls and when it exits or execs;
before its next fork the parent compiles those that two children have
needed (a child doing work of its own is not copied into the parent), so
the children after the second start with them.  Sending at exit alone
taught nothing to a parent that forks its children before the first one
exits (50 children that sleep: each translated its way back from fork, and
a translation writes to the frontend's objects all over the inherited heap:
a quarter of each child's own memory).

The pipe's ends sit above the descriptors the guest allocates from, but a
guest can still close or dup2 over any number: each end is checked to be
the same pipe (device and inode) before it is used.
"""
from __future__ import annotations

import fcntl
import os
import struct

FD_MIN = 200         # tcgpy's own descriptors go here and above (ownfile.py)
CHUNK = 4096         # PIPE_BUF: one write of whole records is never interleaved
MAX_TEACH = 4096     # pcs a child sends at most at once (its first: the way back from fork)
EARLY_SYSCALLS = 4   # a child teaches at each of its first syscalls (its way back from fork ends at one)


def grow_fd_table() -> None:
    """Size the descriptor table for tcgpy's own numbers now, while the
    process has one thread: growing it later, with the signal watcher
    running, waits for an RCU grace period (10-20 ms each time: a warm
    run's first file mapping paid it).  Up to 1,024 or the soft limit."""
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = min(1024, soft if soft != resource.RLIM_INFINITY else 1024) - 1
    if top < FD_MIN:
        return
    try:
        fd = os.open("/", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.close(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, top))
    except OSError:
        pass
    finally:
        os.close(fd)


def move_high(fd: int) -> int:
    """``fd`` moved (close-on-exec) to FD_MIN or above, out of the range the
    guest allocates from; OSError when the descriptor limit leaves no room."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FD_MIN)
    os.close(fd)
    return new


def _make_pipe() -> tuple[int, int, tuple] | None:
    """(read, write, ident), or None when the guest's descriptor limit leaves
    no room above FD_MIN (the children then just do not share)."""
    try:
        r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        r = move_high(r)      # rebound only once moved: the close below is right either way
        w = move_high(w)
    except OSError:
        os.close(r)
        os.close(w)
        return None
    return r, w, _ident(r)


def _ident(fd: int):
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _still(fd: int, ident) -> bool:
    try:
        return _ident(fd) == ident
    except OSError:
        return False


class ForkShare:
    def __init__(self):
        self.pipe: tuple[int, int, tuple] | None = None   # (read, write, ident) for our children
        self.owner = 0                                     # the pid that made self.pipe
        self.parent: tuple[int, tuple] | None = None       # (write end, ident) to our parent
        self.taught: set[int] = set()                      # pcs one child has sent so far
        self.early = 0                                     # syscalls left at which a child teaches

    def fds(self) -> set[int]:
        """The pipe ends this process holds."""
        fds = set(self.pipe[:2]) if self.pipe is not None else set()
        if self.parent is not None:
            fds.add(self.parent[0])
        return fds

    def renumber(self, old: int, new: int) -> None:
        """Our pipe end ``old`` is now ``new`` (the guest wants the number)."""
        if self.pipe is not None:
            self.pipe = tuple(new if i < 2 and fd == old else fd for i, fd in enumerate(self.pipe))
        if self.parent is not None and self.parent[0] == old:
            self.parent = (new, self.parent[1])

    def before_fork(self, emu) -> None:
        """In the parent: learn what earlier children translated, and make
        sure the children about to be made can tell us theirs."""
        if self.pipe is None or self.owner != os.getpid():
            self.pipe, self.owner = _make_pipe(), os.getpid()
            return
        r, _, ident = self.pipe
        if not _still(r, ident):
            self.pipe = None
            return
        data = b""
        while True:
            try:
                chunk = os.read(r, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        n = len(data) // 8
        again = []
        for pc in struct.unpack(f"<{n}Q", data[:8 * n]):
            if pc in self.taught:
                again.append(pc)
            else:
                self.taught.add(pc)
        if again:
            emu.prefetch_code(again)

    def after_fork_child(self, emu) -> None:
        """In the child: what it translates or runs cold from now on goes to the parent."""
        emu.learn_code()
        self.taught = set()
        if self.pipe is None:
            self.parent, self.early = None, 0
            return
        r, w, ident = self.pipe
        if _still(r, ident):
            os.close(r)
        self.parent, self.pipe, self.early = (w, ident), None, EARLY_SYSCALLS

    def at_syscall(self, emu) -> None:
        """In a child, at one of its first syscalls (while ``early``): send
        what it translated so far, so that a parent still forking uses it."""
        self.early -= 1
        self.teach_parent(emu)

    def teach_parent(self, emu) -> None:
        """In a child about to exit or exec: send the pcs it translated or ran cold."""
        pcs = emu.code_learned()
        if not pcs or self.parent is None or not _still(*self.parent):
            return
        pcs = pcs[:MAX_TEACH]
        data = struct.pack(f"<{len(pcs)}Q", *pcs)
        for i in range(0, len(data), CHUNK):
            try:
                os.write(self.parent[0], data[i:i + CHUNK])
            except OSError:         # the pipe is full (the parent is not forking any more)
                return
