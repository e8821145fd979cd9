"""Running foreign programs directly: tcgpy as binfmt_misc's interpreter.

Linux hands an ``execve`` of a file whose first bytes match a registered
magic (under a mask) to that registration's interpreter -- how
qemu-user-binfmt makes ``./arm64-prog`` run.  ``tcgpy binfmt install``
registers, for each target tcgpy runs Linux programs of, the 64-bit
little-endian ELF magic of its ``e_machine`` (executables and shared
objects: ET_EXEC and ET_DYN, any OS/ABI byte), qemu's masks.

The interpreter is a launcher written next to the registration: a Python
script that runs this tcgpy's ``run`` (with the Python that installed it,
isolated from the guest's PYTHON* variables), so the kernel needs nothing
compiled.  The registration has the ``P`` flag: the kernel passes the
program's path, then the argv[0] it was started with, then its arguments,
and the guest sees its own argv[0].  Options come from the environment, as
for any binfmt-started run (``TCGPY_LD_PREFIX``, ``TCGPY_STRACE``,
``TCGPY_CPU``, ``TCGPY_CACHE_DIR``...).

What it does not do: the ``F`` flag (the kernel opening the interpreter at
registration, which lets a chroot run it without having it) cannot help a
script launcher -- its ``#!`` Python is looked up at each exec, inside the
chroot.  A chroot into a foreign root file system therefore needs this
Python and tcgpy at the same paths inside (bind mounts: see README).

``--persistent`` also writes the registration to ``/etc/binfmt.d`` (read
by systemd-binfmt at boot); ``uninstall`` removes exactly what ``install``
wrote: the registrations named ``tcgpy-<target>``, their launchers and
configuration files.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

MOUNT = "/proc/sys/fs/binfmt_misc"
LAUNCHER_DIR = "/usr/local/libexec/tcgpy"
CONF_DIR = "/etc/binfmt.d"
PREFIX = "tcgpy-"
FLAGS = "P"

ET_MASK = b"\xfe\xff"            # e_type 2 (EXEC) and 3 (DYN)


class BinfmtError(Exception):
    """Why binfmt_misc cannot be used here (one line)."""


@dataclass(frozen=True)
class Target:
    name: str           # tcgpy's name for it (aarch64)
    machine: int        # ELF e_machine

    @property
    def entry(self) -> str:
        return PREFIX + self.name

    def magic(self) -> tuple[bytes, bytes]:
        """The ELF header bytes this target's programs start with, and the
        mask they are compared under: 64-bit, little-endian, version 1, any
        OS/ABI, executable or shared object, this machine."""
        magic = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00" + self.machine.to_bytes(2, "little")
        mask = b"\xff" * 7 + b"\x00" + b"\xff" * 8 + ET_MASK + b"\xff\xff"
        return magic, mask


def targets() -> list[Target]:
    """Every foreign target tcgpy runs Linux programs of (the registry's,
    less the host's own architecture: the kernel runs those itself)."""
    from .targets import TARGETS
    host = os.uname().machine
    return [Target(t.name, t.elf_machine_number) for t in TARGETS
            if t.linux and host not in (t.name, *t.aliases)]


def select(names: list[str] | None) -> list[Target]:
    known = {t.name: t for t in targets()}
    if not names:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BinfmtError(f"unknown target(s) {', '.join(unknown)} (tcgpy runs: {', '.join(known)})")
    return [known[n] for n in names]


def _escape(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def registration(target: Target, interpreter: str) -> str:
    """The line written to binfmt_misc's register file (and to binfmt.d)."""
    magic, mask = target.magic()
    return f":{target.entry}:M:0:{_escape(magic)}:{_escape(mask)}:{interpreter}:{FLAGS}"


def launcher_text() -> str:
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return f"""#!{sys.executable} -I
# Written by `tcgpy binfmt install`: binfmt_misc's interpreter for foreign
# ELF programs.  With the P flag the kernel passes the program's path, the
# argv[0] it was started with, then its arguments.
import sys
sys.path.insert(0, {pkg_parent!r})
if len(sys.argv) < 3:
    sys.exit("tcgpy binfmt launcher: to be started by binfmt_misc (P flag)")
from tcgpy.cli import main
sys.exit(main(["run", "-0", sys.argv[2], "--", sys.argv[1], *sys.argv[3:]]))
"""


# -- the kernel's side ------------------------------------------------------------

def ensure_mounted(mount: str = MOUNT) -> None:
    """binfmt_misc mounted at ``mount`` (mounting it when it is not)."""
    if os.path.exists(os.path.join(mount, "register")):
        return
    if not os.path.isdir(mount):
        raise BinfmtError(f"{mount} does not exist: this kernel has no binfmt_misc")
    r = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", mount], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(os.path.join(mount, "register")):
        why = (r.stderr.strip().splitlines() or ["mount failed"])[-1]
        raise BinfmtError(f"binfmt_misc is not mounted at {mount} and mounting it failed: {why}")


def read_entry(path: str) -> dict | None:
    """A registration's fields (enabled, interpreter, flags, magic, mask), or None."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    info: dict = {"enabled": bool(lines) and lines[0] == "enabled"}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        if key == "flags:":
            info["flags"] = value
        elif key in ("interpreter", "magic", "mask", "offset"):
            info[key] = value
    return info


def entries(mount: str = MOUNT) -> dict[str, dict]:
    out = {}
    try:
        names = os.listdir(mount)
    except OSError:
        return out
    for name in names:
        if name not in ("register", "status"):
            info = read_entry(os.path.join(mount, name))
            if info is not None:
                out[name] = info
    return out


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise BinfmtError(f"cannot write {path}: {e.strerror}") from None


def install(selected: list[Target], *, persistent: bool = False, mount: str = MOUNT,
            launcher_dir: str = LAUNCHER_DIR, conf_dir: str = CONF_DIR) -> list[str]:
    """Register ``selected``; returns what was done, one line each.  An
    existing tcgpy registration is replaced (a new launcher, say)."""
    ensure_mounted(mount)
    done = []
    try:
        os.makedirs(launcher_dir, mode=0o755, exist_ok=True)
    except OSError as e:
        raise BinfmtError(f"cannot create {launcher_dir}: {e.strerror}") from None
    for t in selected:
        launcher = os.path.join(launcher_dir, t.entry)
        tmp = f"{launcher}.{os.getpid()}.tmp"
        _write(tmp, launcher_text())
        os.chmod(tmp, 0o755)
        os.replace(tmp, launcher)
        if os.path.exists(os.path.join(mount, t.entry)):
            _write(os.path.join(mount, t.entry), "-1")
        line = registration(t, launcher)
        _write(os.path.join(mount, "register"), line)
        done.append(f"registered {t.entry}: {launcher} for {t.name} ELF programs (flags {FLAGS})")
        if persistent:
            try:
                os.makedirs(conf_dir, exist_ok=True)
            except OSError as e:
                raise BinfmtError(f"cannot create {conf_dir}: {e.strerror}") from None
            conf = os.path.join(conf_dir, t.entry + ".conf")
            _write(conf, f"# written by `tcgpy binfmt install --persistent`\n{line}\n")
            done.append(f"wrote {conf} (systemd-binfmt registers it at boot)")
    return done


def uninstall(selected: list[Target], *, mount: str = MOUNT, launcher_dir: str = LAUNCHER_DIR,
              conf_dir: str = CONF_DIR) -> list[str]:
    """Remove what ``install`` added for ``selected``: the registration (if
    binfmt_misc is mounted), the launcher and the binfmt.d file."""
    done = []
    for t in selected:
        entry = os.path.join(mount, t.entry)
        if os.path.exists(entry):
            _write(entry, "-1")
            done.append(f"unregistered {t.entry}")
        for path in (os.path.join(launcher_dir, t.entry), os.path.join(conf_dir, t.entry + ".conf")):
            try:
                os.unlink(path)
                done.append(f"removed {path}")
            except FileNotFoundError:
                pass
            except OSError as e:
                raise BinfmtError(f"cannot remove {path}: {e.strerror}") from None
    return done


def _claims(info: dict, magic: bytes) -> bool:
    """Does a registration match the same ELF programs (class, data,
    version and machine)?"""
    try:
        theirs = bytes.fromhex(info.get("magic", ""))
        offset = int(info.get("offset", "0"))
    except ValueError:
        return False
    return offset == 0 and len(theirs) >= 20 and theirs[:7] == magic[:7] and theirs[18:20] == magic[18:20]


def status(selected: list[Target], *, mount: str = MOUNT, launcher_dir: str = LAUNCHER_DIR,
           conf_dir: str = CONF_DIR) -> list[dict]:
    """Per target: tcgpy's registration (if any), its launcher and binfmt.d
    file, and other registrations that claim the same programs (qemu's,
    say: the most recently registered one is the one the kernel uses)."""
    mounted = os.path.exists(os.path.join(mount, "register"))
    regs = entries(mount) if mounted else {}
    out = []
    for t in selected:
        magic, mask = t.magic()
        others = sorted(name for name, info in regs.items() if name != t.entry and _claims(info, magic))
        launcher = os.path.join(launcher_dir, t.entry)
        conf = os.path.join(conf_dir, t.entry + ".conf")
        out.append({"target": t.name, "entry": t.entry, "mounted": mounted, "registered": regs.get(t.entry),
                    "launcher": launcher if os.path.exists(launcher) else None,
                    "conf": conf if os.path.exists(conf) else None, "others": others})
    return out
