"""Socket syscalls.  Socket addresses, socket-level option values and the
SOCK_* type flags are the same bytes on every Linux architecture tcgpy
hosts or emulates (asm-generic), so the guest's buffers are handed to the
host's libc as they are; only pointers inside struct msghdr are translated."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import struct

from ..errnos import GuestErrno
from .args import s32
from ..guestmem import Buffers, HostIovec, host_iov
from .blocking import MSG_DONTWAIT, step_or_wait
from .fs import IOV_MAX, MAX_IO, post_sigpipe
from .hostlibc import libc, libc_call
from .table import syscall

MSG_WAITALL = 0x100         # the same on every Linux architecture



def _in_buf(proc, addr: int, size: int):
    """A host copy of a guest buffer (or NULL)."""
    if not addr:
        return None
    return ctypes.create_string_buffer(proc.read(addr, size), size)


def _socklen(proc, addr: int) -> int:
    return struct.unpack("<I", proc.read(addr, 4))[0] if addr else 0


def _out_addr(proc, buf, addr: int, lenp: int, got: int) -> None:
    if addr and lenp:
        room = _socklen(proc, lenp)
        proc.write(addr, buf.raw[:min(room, got)])
        proc.write(lenp, struct.pack("<I", got))


@syscall("socket", "i i i")
def sys_socket(proc, domain, type_, protocol):
    return libc_call(libc.socket, s32(domain), s32(type_), s32(protocol))


@syscall("socketpair", "i i i p")
def sys_socketpair(proc, domain, type_, protocol, sv):
    fds = (ctypes.c_int * 2)()
    libc_call(libc.socketpair, s32(domain), s32(type_), s32(protocol), fds)
    proc.write(sv, struct.pack("<ii", fds[0], fds[1]))
    return 0


@syscall("bind", "fd p u")
def sys_bind(proc, fd, addr, addrlen):
    return libc_call(libc.bind, s32(fd), _in_buf(proc, addr, addrlen), ctypes.c_uint(addrlen))


@syscall("connect", "fd p u")
def sys_connect(proc, fd, addr, addrlen):
    return libc_call(libc.connect, s32(fd), _in_buf(proc, addr, addrlen), ctypes.c_uint(addrlen))


@syscall("listen", "fd i")
def sys_listen(proc, fd, backlog):
    return libc_call(libc.listen, s32(fd), s32(backlog))


def _addr_query(proc, fn, fd, addr, lenp) -> int:
    room = _socklen(proc, lenp) if lenp else 0
    buf = ctypes.create_string_buffer(max(room, 128))
    n = ctypes.c_uint(len(buf))
    r = libc_call(fn, s32(fd), buf if addr else None, ctypes.byref(n) if addr else None)
    _out_addr(proc, buf, addr, lenp, n.value)
    return r


@syscall("accept4", "fd p p x")
def sys_accept4(proc, fd, addr, lenp, flags):
    """The host's accept4; the peer's address goes out after it, as the
    kernel's move_addr_to_user does it: an address wanted with a missing or
    bad length pointer, or a bad address buffer, is EFAULT (a negative
    length EINVAL), and the connection is taken and closed all the same."""
    buf = ctypes.create_string_buffer(128)          # (a sockaddr_storage)
    n = ctypes.c_uint(len(buf))
    r = libc_call(libc.accept4, s32(fd), buf if addr else None, ctypes.byref(n) if addr else None, s32(flags))
    if addr:
        try:
            room = s32(struct.unpack("<I", proc.read(lenp, 4))[0])     # (a NULL lenp faults)
            if room < 0:
                raise GuestErrno("EINVAL")
            proc.write(addr, buf.raw[:min(room, n.value)])
            proc.write(lenp, struct.pack("<I", n.value))
        except BaseException:
            os.close(r)
            raise
    return r


@syscall("accept", "fd p p")
def sys_accept(proc, fd, addr, lenp):
    return sys_accept4(proc, fd, addr, lenp, 0)


@syscall("getsockname", "fd p p")
def sys_getsockname(proc, fd, addr, lenp):
    return _addr_query(proc, libc.getsockname, fd, addr, lenp)


@syscall("getpeername", "fd p p")
def sys_getpeername(proc, fd, addr, lenp):
    return _addr_query(proc, libc.getpeername, fd, addr, lenp)


def _send(proc, fd: int, flags: int, data: Buffers, name=None, namelen: int = 0, ctl=None, ctllen: int = 0):
    """sendto and sendmsg (a host sendmsg either way) of ``data`` (the
    guest's bytes copied, then memory that faults from its first bad byte:
    the host kernel sends what Linux would of a bad buffer).  EPIPE comes
    with SIGPIPE unless MSG_NOSIGNAL (the MSG_ flags are the same on every
    Linux architecture).  A blocking send never blocks the host (threads.py
    says why): the host call is non-blocking and the thread waits in the
    scheduler for room.  A stream socket takes the data in parts, as many
    as it needs (the address and ancillary data go with the first), a
    datagram socket all at once; SO_SNDTIMEO ends the wait with EAGAIN, or
    with the count sent so far, as a signal does."""
    import socket
    fd = s32(fd)
    done = 0

    def part() -> int:
        first = done == 0
        rest = data[done:len(data)]
        h = _MsgHdr(ctypes.addressof(name) if first and name is not None else None, namelen if first else 0,
                    host_iov(rest), len(rest), ctypes.addressof(ctl) if first and ctl is not None else None,
                    ctllen if first else 0, 0)
        return libc_call(libc.sendmsg, fd, ctypes.byref(h), s32(flags | MSG_DONTWAIT))

    def step():
        nonlocal done
        while True:
            try:
                n = part()
            except BlockingIOError:
                return None
            except BrokenPipeError:
                if done:
                    return done
                if not flags & socket.MSG_NOSIGNAL:
                    post_sigpipe(proc)
                raise
            except OSError:
                if done:
                    return done
                raise
            done += n
            if not stream or done >= len(data):
                return done

    blocking = _blocking(fd, flags)
    stream = blocking and _sock_type(fd) == socket.SOCK_STREAM
    if not blocking:
        result = step()
        return proc.err("EAGAIN") if result is None else result
    return step_or_wait(proc, fd, select.POLLOUT, socket.SO_SNDTIMEO, step, lambda: done or None)


def _sock_type(fd: int) -> int:
    import socket
    s = socket.socket(fileno=fd)        # OSError (ENOTSOCK) for anything else
    try:
        return s.type
    finally:
        s.detach()


@syscall("sendto", "fd buf u x p u")
def sys_sendto(proc, fd, buf, length, flags, addr, addrlen):
    data = Buffers(proc.io_buffers([(buf, length)], False, MAX_IO, copy=True)[0])
    return _send(proc, fd, flags, data, _in_buf(proc, addr, addrlen), addrlen if addr else 0)


@syscall("recvfrom", "fd p u x p p")
def sys_recvfrom(proc, fd, buf, length, flags, addr, lenp):
    import socket
    fd = s32(fd)
    if flags & MSG_WAITALL and _blocking(fd, flags) and _sock_type(fd) == socket.SOCK_STREAM:
        if addr and lenp:
            proc.write(lenp, struct.pack("<I", 0))      # a stream has no source address
        return _recvmsg_waitall(proc, fd, flags & ~MSG_WAITALL, [(buf, length)], _MsgHdr(), lambda n: None)
    name = ctypes.create_string_buffer(_SOCKADDR_MAX)
    h = _MsgHdr(ctypes.addressof(name) if addr else None, len(name) if addr else 0)
    n = _recv_into(proc, fd, flags, [(buf, length)], h)
    if addr:
        _move_addr_out(proc, name, h.namelen, addr, lenp)
    return n


_SOCKADDR_MAX = 128         # sizeof(struct sockaddr_storage): the kernel's bound on an address


def _move_addr_out(proc, name, got: int, addr: int, lenp: int) -> None:
    """A received source address to the guest as the kernel's
    move_addr_to_user does it, after the data was taken: the room read from
    ``*lenp`` then (EFAULT, or EINVAL when negative, with the data lost),
    the address cut to it, its whole length written back."""
    room = struct.unpack("<i", proc.read(lenp, 4))[0]
    if room < 0:
        raise OSError(22, "addrlen")
    proc.write(addr, name.raw[:min(room, got)])
    proc.write(lenp, struct.pack("<I", got))


def _recv_into(proc, fd: int, flags: int, vecs: list, h) -> int:
    """A host recvmsg with header ``h`` (its name and control buffers set)
    into the guest buffers ``vecs``: in place up to the first byte the
    kernel's copy would fault on, and from there memory that faults too, so
    that what is lost or kept of a bad buffer's data (a datagram dropped, a
    stream's bytes left for the next read) and the count are the kernel's."""
    views, copies = proc.io_buffers(vecs, True, MAX_IO)
    views = views[:IOV_MAX]             # (more only where the guest's buffers cross regions)
    h.iov, h.iovlen = host_iov(views), len(views)
    return proc.host_fill(views, copies, lambda: libc_call(libc.recvmsg, fd, ctypes.byref(h), s32(flags)))


def _after(vecs: list, skip: int) -> list:
    """The guest buffers ``vecs`` without their first ``skip`` bytes."""
    out = []
    for base, length in vecs:
        if skip < length:
            out.append((base + skip, length - skip))
        skip = max(0, skip - length)
    return out


def _blocking(fd: int, flags: int) -> bool:
    """Whether a socket call may block (OSError EBADF for a bad descriptor)."""
    return not flags & MSG_DONTWAIT and not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK


@syscall("shutdown", "fd i")
def sys_shutdown(proc, fd, how):
    return libc_call(libc.shutdown, s32(fd), s32(how))


@syscall("setsockopt", "fd i i p u")
def sys_setsockopt(proc, fd, level, name, val, vlen):
    return libc_call(libc.setsockopt, s32(fd), s32(level), s32(name), _in_buf(proc, val, vlen),
                 ctypes.c_uint(vlen))


@syscall("getsockopt", "fd i i p p")
def sys_getsockopt(proc, fd, level, name, val, lenp):
    room = _socklen(proc, lenp)
    buf = ctypes.create_string_buffer(max(room, 1))
    n = ctypes.c_uint(room)
    r = libc_call(libc.getsockopt, s32(fd), s32(level), s32(name), buf, ctypes.byref(n))
    proc.write(val, buf.raw[:min(room, n.value)])
    proc.write(lenp, struct.pack("<I", n.value))
    return r


class _MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint), ("iov", ctypes.POINTER(HostIovec)),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


def _host_msghdr(proc, msg: int, for_recv: bool):
    """The guest's ``struct msghdr`` at ``msg``: (its fields, a host header
    with host name and control buffers, those buffers, the guest's iovecs)."""
    lay = proc.layout("msghdr")
    m = lay.unpack(proc.read(msg, lay.size))
    if m["msg_iovlen"] > 1024:
        raise OSError(22, "iovlen")
    iov_lay = proc.layout("iovec")
    raw = proc.read(m["msg_iov"], iov_lay.size * m["msg_iovlen"])
    vecs = [(v["iov_base"], v["iov_len"]) for v in (iov_lay.unpack(raw[i * iov_lay.size:])
                                                    for i in range(m["msg_iovlen"]))]
    name = ctypes.create_string_buffer(proc.read(m["msg_name"], m["msg_namelen"]) if m["msg_name"] and not for_recv
                                       else b"", max(m["msg_namelen"], 1))
    ctl = ctypes.create_string_buffer(proc.read(m["msg_control"], m["msg_controllen"])
                                      if m["msg_control"] and not for_recv else b"", max(m["msg_controllen"], 1))
    h = _MsgHdr(ctypes.addressof(name) if m["msg_name"] else None, m["msg_namelen"], None, 0,
                ctypes.addressof(ctl) if m["msg_control"] else None, m["msg_controllen"], 0)
    return m, h, name, ctl, vecs


@syscall("sendmsg", "fd p x")
def sys_sendmsg(proc, fd, msg, flags):
    m, h, name, ctl, vecs = _host_msghdr(proc, msg, False)
    data = Buffers(proc.io_buffers(vecs, False, MAX_IO, copy=True)[0])
    return _send(proc, fd, flags, data, name if m["msg_name"] else None,
                 m["msg_namelen"], ctl if m["msg_control"] else None, m["msg_controllen"])


@syscall("recvmsg", "fd p x")
def sys_recvmsg(proc, fd, msg, flags):
    import socket
    m, h, name, ctl, vecs = _host_msghdr(proc, msg, True)
    fd = s32(fd)

    def header_out(n: int) -> None:
        """The source address, the ancillary data and the flags to the guest."""
        if m["msg_name"]:
            proc.write(m["msg_name"], name.raw[:h.namelen])
        if m["msg_control"]:
            # SCM_RIGHTS carries host fds, which are the guest's fds too.
            proc.write(m["msg_control"], ctl.raw[:h.controllen])
        lay = proc.layout("msghdr")
        proc.write(msg + lay.offset("msg_namelen"), struct.pack("<I", h.namelen))
        proc.write(msg + lay.offset("msg_controllen"), struct.pack("<Q", h.controllen))
        proc.write(msg + lay.offset("msg_flags"), struct.pack("<i", h.flags))

    if (flags & MSG_WAITALL and any(length for _, length in vecs) and _blocking(fd, flags)
            and _sock_type(fd) == socket.SOCK_STREAM):
        return _recvmsg_waitall(proc, fd, flags & ~MSG_WAITALL, vecs, h, header_out)
    n = _recv_into(proc, fd, flags, vecs, h)
    header_out(n)
    return n


def _recvmsg_waitall(proc, fd: int, flags: int, vecs: list, h, header_out):
    """A blocking MSG_WAITALL recv on a stream socket: what arrives goes to
    the guest buffers ``vecs`` as it comes (in place, as _recv_into), the
    thread waiting in the scheduler in between, until they are full, end of
    stream, an error, a signal or SO_RCVTIMEO (then the bytes so far, or
    EINTR/EAGAIN with none).  The header ``h`` (address, ancillary data) is
    the first part's, given to ``header_out`` with the count at the end."""
    import socket
    total = sum(min(length, MAX_IO) for _, length in vecs)
    done = 0
    first = True

    def step():
        nonlocal done, first
        while done < total:
            # (the buffers found again at each step: other threads run
            # during a wait, and may unmap or protect them meanwhile)
            views, copies = proc.io_buffers(_after(vecs, done), True, total - done)
            views = views[:IOV_MAX]
            part = h if first else _MsgHdr()
            part.iov, part.iovlen = host_iov(views), len(views)
            try:
                n = libc_call(libc.recvmsg, fd, ctypes.byref(part), s32(flags | MSG_DONTWAIT))
            except BlockingIOError:
                return None
            except OSError as e:
                if e.errno == errno.EFAULT:
                    proc.copy_back_faulted(copies)
                if done:
                    break
                raise
            first = False
            if n == 0:
                break                   # end of stream
            if copies:
                proc.copy_back(views, copies, n)
            done += n
        return finish()

    def finish():
        header_out(done)
        return done

    return step_or_wait(proc, fd, select.POLLIN, socket.SO_RCVTIMEO, step, lambda: finish() if done else None)
