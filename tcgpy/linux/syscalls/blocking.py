"""Syscalls that would block in the host do not block the host thread
(threads.py says why): the caller waits in the scheduler for its descriptor
and then runs its syscall instruction again, or a transfer moves its data in
non-blocking steps between waits."""
from __future__ import annotations

import fcntl
import os
import select
import stat
import struct
import time

from ...errors import MemoryFault
from ..guestmem import Buffers, iovecs
from ..threads import ready
from .args import s32
from .fs import MAX_IO, post_sigpipe
from .table import NORETURN


# Syscalls that block on one descriptor: (index of the fd argument, poll
# events it waits for, index of a MSG_* flags argument or None).  sendto
# and sendmsg wait in their handlers (syscalls/net.py, _send).
FD_WAITS = {
    "read": (0, select.POLLIN, None), "readv": (0, select.POLLIN, None),
    "recvfrom": (0, select.POLLIN, 3), "recvmsg": (0, select.POLLIN, 2),
    "accept": (0, select.POLLIN, None), "accept4": (0, select.POLLIN, None),
    "write": (0, select.POLLOUT, None), "writev": (0, select.POLLOUT, None),
}
# Syscalls at a file offset (never waiting themselves): their descriptor is
# remembered in never_wait_fds as the FD_WAITS ones' are, so that a program
# that only preads and pwrites (a database) has them served in host code
# too (backends/llvm/syscall.py).
FD_POSITIONED = frozenset({"pread64", "pwrite64"})
MSG_DONTWAIT = 0x40
# Character devices that never make a reader or writer wait: /dev/null,
# /dev/zero, /dev/full, /dev/random, /dev/urandom (Linux's mem major 1).
NEVER_WAIT_DEVICES = frozenset(os.makedev(1, minor) for minor in (3, 5, 7, 8, 9))
PIPE_BUF = 4096


def wait_instead(proc, name: str, args: tuple):
    """Before a FD_WAITS syscall: None to run it as usual, else its result or
    NORETURN (the caller waits for its descriptor in the scheduler, then the
    syscall runs again).  The host call must not block even with one guest
    thread: host signals are blocked on the CPU thread, so a guest signal
    could not end the wait as it ends the kernel's."""
    index, events, flags_index = FD_WAITS[name]
    fd = s32(args[index])
    if fd in proc.never_wait_fds:
        return None
    if flags_index is not None and args[flags_index] & MSG_DONTWAIT:
        return None
    try:
        # A regular file or a device that never blocks: run the syscall, and
        # remember (a read(2) of a file paid a poll every time).
        if remember_never_wait(proc, fd):
            return None
    except OSError:
        return None             # the syscall itself reports EBADF
    try:
        # Ready (regular files always are; a bad descriptor too: the syscall
        # reports EBADF) and not more than a ready pipe or socket surely
        # takes: run it.  The common case costs one poll.
        send = None
        if name in PIPE_WRITES and _write_size(proc, name, args) > PIPE_BUF:
            send = _stream_sender(fd)
        if send is None and ready([(fd, events)]):
            return None
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK:
            return None
    except OSError:
        return None             # the syscall itself reports EBADF
    if send is not None:
        return _stream_write(proc, fd, PIPE_WRITES[name](proc, args), *send)
    # A socket's SO_RCVTIMEO/SO_SNDTIMEO ends the wait with EAGAIN; a signal
    # then ends it with EINTR even under SA_RESTART (sock_intr_errno).
    import socket           # here: the common cases above run for every write and read
    timeout = sock_timeout(fd, socket.SO_RCVTIMEO if events == select.POLLIN else socket.SO_SNDTIMEO)
    proc.sched.block_io([(fd, events)], deadline=time.monotonic() + timeout if timeout else None,
                        timeout_result=proc.err("EAGAIN"), sa_restart=not timeout)
    return NORETURN


def remember_never_wait(proc, fd: int) -> bool:
    """Whether ``fd`` is a regular file or a device that never makes a
    reader or writer wait; if so it goes into ``proc.never_wait_fds``.
    OSError for a bad descriptor."""
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode) or (
            stat.S_ISCHR(st.st_mode) and st.st_rdev in NEVER_WAIT_DEVICES):
        proc.never_waits(fd)
        return True
    return False


def remember_positioned(proc, fd: int) -> None:
    """Before a FD_POSITIONED syscall on ``fd``: remember it if it never waits."""
    if fd not in proc.never_wait_fds:
        try:
            remember_never_wait(proc, fd)
        except OSError:
            pass                # the syscall itself reports EBADF


def sock_timeout(fd: int, option: int) -> float:
    """A socket's SO_RCVTIMEO or SO_SNDTIMEO in seconds (0: none, or not a socket)."""
    import socket
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        return 0.0
    try:
        sec, usec = struct.unpack("@ll", s.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("@ll")))
    finally:
        s.detach()
    return sec + usec / 1e6


def _stream_sender(fd: int):
    """(send(bytes) -> count without blocking, bytes per call) for a write to
    a pipe or a stream socket; None for anything else."""
    import socket
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode):
        # poll's POLLOUT on a pipe means PIPE_BUF bytes fit
        return (lambda chunk: os.writev(fd, chunk)), PIPE_BUF
    if not stat.S_ISSOCK(mode):
        return None
    sock = socket.socket(fileno=fd)
    try:
        if sock.type != socket.SOCK_STREAM:
            return None
    finally:
        sock.detach()

    def send(chunk: list) -> int:
        s = socket.socket(fileno=fd)
        try:
            return s.sendmsg(chunk, [], socket.MSG_DONTWAIT)
        finally:
            s.detach()
    return send, 1 << 16


def _write_data(proc, args) -> Buffers:
    return Buffers(proc.io_buffers([(args[1], args[2])], False, MAX_IO, copy=True)[0])


def _writev_data(proc, args) -> Buffers:
    return Buffers(proc.io_buffers(iovecs(proc, args[1], args[2]), False, MAX_IO, copy=True)[0])


# The blocking writes _stream_write does: the bytes each one writes.
PIPE_WRITES = {"write": _write_data, "writev": _writev_data}


def _write_size(proc, name: str, args: tuple) -> int:
    """How many bytes a write/writev asks for (0 for a bad iovec array: the
    syscall itself reports it)."""
    if name == "write":
        return args[2]
    try:
        return sum(length for _, length in iovecs(proc, args[1], args[2]))
    except (MemoryFault, OSError):
        return 0


def _stream_write(proc, fd: int, data: Buffers, send, chunk: int):
    """A blocking write to a pipe or a stream socket, ``chunk`` bytes at a
    time without blocking (``send``), waiting in the scheduler when it is
    full; all of it is written before it returns, as in the kernel, unless a
    signal or the socket's SO_SNDTIMEO comes first: then the bytes written
    so far (EINTR or EAGAIN with none).  EPIPE, and its SIGPIPE, only when
    nothing was written."""
    import socket
    done = 0

    def step():
        nonlocal done
        while done < len(data) and ready([(fd, select.POLLOUT)]):
            try:
                done += send(data[done:done + chunk])
            except BlockingIOError:      # less room than poll promised: wait
                break
            except OSError as e:
                if done:
                    return done
                if isinstance(e, BrokenPipeError):
                    post_sigpipe(proc)
                raise
        return done if done == len(data) else None

    return step_or_wait(proc, fd, select.POLLOUT, socket.SO_SNDTIMEO, step, lambda: done or None)


def step_or_wait(proc, fd: int, events: int, option: int, step, sofar):
    """A blocking transfer that moves data in non-blocking steps: ``step()``
    makes progress and returns the syscall's result, or None to wait for
    ``events`` on ``fd`` and step again.  A signal ends the wait with
    ``sofar()`` (the result for what moved so far, or None: nothing moved,
    EINTR or a restart); the socket's ``option`` timeout (SO_RCVTIMEO or
    SO_SNDTIMEO) with it, or EAGAIN."""
    result = step()
    if result is not None:
        return result
    timeout = sock_timeout(fd, option)
    proc.sched.block_io([(fd, events)], deadline=time.monotonic() + timeout if timeout else None,
                        on_timeout=lambda: sofar() or proc.err("EAGAIN"), resume=step,
                        on_signal=sofar, sa_restart=not timeout)
    return NORETURN
