"""Errors as the guest sees them: a handler (or what it calls) fails a
syscall with :class:`GuestErrno` by name, and a host ``OSError``'s errno
becomes the guest's by name, since the numbers differ between architectures."""
from __future__ import annotations

import errno as host_errno


class GuestErrno(Exception):
    """Raised by a handler (or what it calls): the syscall fails with errno ``name``."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


# Host spellings whose guest header only has the other name.
_ERRNO_ALIASES = {"ENOTSUP": "EOPNOTSUPP", "EWOULDBLOCK": "EAGAIN", "EDEADLOCK": "EDEADLK"}


def host_to_guest_errno(e: int, guest_errno: dict[str, int]) -> int:
    name = host_errno.errorcode.get(e)
    name = _ERRNO_ALIASES.get(name, name)
    return guest_errno.get(name, guest_errno["EINVAL"]) if name else guest_errno["EINVAL"]
