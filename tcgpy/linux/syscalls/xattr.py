"""Extended attributes: the host file's, under the guest's path (sysroot
and /proc/self/exe included).  A size of 0 asks for the size needed; a
buffer too small is ERANGE, as in the kernel."""
from __future__ import annotations

import os

from .args import s32
from .paths import guest_path
from .table import syscall

XATTR_SIZE_MAX = 65536


def _target(proc, kind: str, where: int):
    """(path or fd, follow_symlinks) for the path, l- and f- variants."""
    if kind == "f":
        return s32(where), True
    return guest_path(proc, where), kind != "l"


def _reply(proc, data: bytes, buf: int, size: int) -> int:
    if size == 0:
        return len(data)
    if len(data) > size:
        return proc.err("ERANGE")
    proc.write(buf, data)
    return len(data)


def _register(kind: str, arg: str) -> None:
    def getxattr(proc, where, name, buf, size):
        target, follow = _target(proc, kind, where)
        value = os.getxattr(target, proc.read_cstr(name, 256), follow_symlinks=follow)
        return _reply(proc, value, buf, size)

    def listxattr(proc, where, buf, size):
        target, follow = _target(proc, kind, where)
        names = b"".join(os.fsencode(n) + b"\0" for n in os.listxattr(target, follow_symlinks=follow))
        return _reply(proc, names, buf, size)

    def setxattr(proc, where, name, value, size, flags):
        if size > XATTR_SIZE_MAX:
            return proc.err("E2BIG")
        target, follow = _target(proc, kind, where)
        os.setxattr(target, proc.read_cstr(name, 256), proc.read(value, size), s32(flags),
                    follow_symlinks=follow)
        return 0

    def removexattr(proc, where, name):
        target, follow = _target(proc, kind, where)
        os.removexattr(target, proc.read_cstr(name, 256), follow_symlinks=follow)
        return 0

    prefix = "" if kind == "-" else kind
    syscall(f"{prefix}getxattr", f"{arg} s p u")(getxattr)
    syscall(f"{prefix}listxattr", f"{arg} p u")(listxattr)
    syscall(f"{prefix}setxattr", f"{arg} s p u x")(setxattr)
    syscall(f"{prefix}removexattr", f"{arg} s")(removexattr)


for _kind, _arg in (("-", "s"), ("l", "s"), ("f", "fd")):
    _register(_kind, _arg)
