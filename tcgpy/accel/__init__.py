"""Execution engines ("accelerators", as QEMU calls them) and choosing one.

``tcg`` translates guest code (every target with a frontend); ``kvm`` runs
x86-64 guests natively on an x86-64 host.  ``auto`` takes KVM when the guest
is the host's architecture and ``/dev/kvm`` is usable, TCG otherwise.  A
request that cannot be met is an :class:`AccelUnavailable` whose message is
one line saying why.
"""
from __future__ import annotations

import errno
import os

ACCELS = ("auto", "kvm", "tcg")
_HOST_ALIASES = {"arm64": "aarch64", "amd64": "x86_64"}        # uname -m spellings
KVM_API_VERSION = 12


class AccelUnavailable(ValueError):
    """The requested engine cannot run this guest here (the message says why)."""


def host_arch() -> str:
    m = os.uname().machine.lower()
    return _HOST_ALIASES.get(m, m)


def guest_arch(name: str) -> str:
    """The target registry's name for ``name`` (or ``name`` itself, lower case)."""
    from ..targets import lookup
    try:
        return lookup(name).name
    except ValueError:
        return name.lower()


def kvm_archs() -> frozenset[str]:
    """Targets that run natively under KVM (the registry's ``kvm`` ones)."""
    from ..targets import TARGETS
    return frozenset(t.name for t in TARGETS if t.kvm)


def kvm_status() -> str:
    """'' when /dev/kvm can run a VM here, else one line saying why not."""
    if host_arch() != "x86_64":
        return f"KVM runs x86_64 guests on an x86_64 host (this host is {host_arch()})"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return "/dev/kvm does not exist (no KVM in this kernel, or virtualisation is off: " \
               "nested virtualisation, in a VM)"
    except PermissionError:
        return "no permission to open /dev/kvm (join the 'kvm' group)"
    except OSError as e:
        return f"cannot open /dev/kvm: {e.strerror}"
    try:
        from .kvm import kvmapi as K
        try:
            version = K.ioctl(fd, K.GET_API_VERSION, 0)
        except OSError as e:
            return f"/dev/kvm does not answer KVM_GET_API_VERSION: {e.strerror}"
        if version != KVM_API_VERSION:
            return f"/dev/kvm speaks KVM API {version}, tcgpy needs {KVM_API_VERSION}"
        try:
            vm = K.ioctl(fd, K.CREATE_VM, 0)
        except OSError as e:
            why = "virtualisation disabled or in use" if e.errno in (errno.EBUSY, errno.ENODEV, errno.EIO) else e.strerror
            return f"KVM cannot create a VM here: {why}"
        os.close(vm)
        return ""
    finally:
        os.close(fd)


def has_frontend(arch: str) -> bool:
    """Whether TCG can run ``arch`` (the target registry gives it a frontend)."""
    from ..targets import lookup
    try:
        return bool(lookup(arch).frontend)
    except ValueError:
        return False


def resolve(arch: str, accel: str = "auto") -> str:
    """The engine ("tcg" or "kvm") that runs ``arch`` for an ``accel`` request."""
    arch = guest_arch(arch)
    if accel not in ACCELS:
        raise AccelUnavailable(f"unknown accelerator {accel!r} (choose from {', '.join(ACCELS)})")
    if accel == "tcg":
        if not has_frontend(arch):
            why = " (x86_64 guests run only under KVM)" if arch in kvm_archs() else ""
            raise AccelUnavailable(f"no TCG frontend for {arch} guests{why}")
        return "tcg"
    kvm_ok = arch in kvm_archs() and arch == host_arch()
    if accel == "kvm":
        if not kvm_ok:
            raise AccelUnavailable(f"KVM runs only guests of the host's architecture "
                                   f"({host_arch()}) that tcgpy knows (x86_64), not {arch}")
        problem = kvm_status()
        if problem:
            raise AccelUnavailable(f"--accel kvm: {problem}")
        return "kvm"
    if kvm_ok:
        problem = kvm_status()
        if not problem:
            return "kvm"
        if not has_frontend(arch):
            raise AccelUnavailable(f"{arch} guests need KVM, and {problem} "
                                   f"(there is no x86_64 TCG frontend yet)")
    if not has_frontend(arch):
        raise AccelUnavailable(f"unsupported guest architecture {arch!r} (TCG frontends: see "
                               f"tcgpy.frontends; KVM: {', '.join(sorted(kvm_archs()))})")
    return "tcg"
