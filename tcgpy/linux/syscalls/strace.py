"""``-strace`` output: each argument formatted by the kind its syscall row
declares, and the result (errno by the guest's name)."""
from __future__ import annotations

from .args import s32, s64
from .table import NORETURN, Syscall


def _flags(value: int, names: dict[str, int], zero: str = "0") -> str:
    parts = []
    rest = value
    for name, bit in sorted(names.items(), key=lambda kv: -kv[1]):
        if bit and (rest & bit) == bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(f"{rest:#x}")
    return "|".join(reversed(parts)) or zero


def _quote(data: bytes, limit: int = 32) -> str:
    out = []
    for b in data[:limit]:
        c = chr(b)
        if c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c in "\"\\":
            out.append("\\" + c)
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:o}")
    return '"' + "".join(out) + ('"...' if len(data) > limit else '"')


def fmt_arg(proc, kind: str, value: int, args: tuple[int, ...], i: int) -> str:
    c = proc.arch.consts
    if kind == "d":
        return str(s64(value))
    if kind == "i" or kind == "fd":
        v = s32(value)
        return "AT_FDCWD" if kind == "fd" and v == c.AT_FLAGS["AT_FDCWD"] else str(v)
    if kind == "u":
        return str(value)
    if kind == "x" or kind == "p":
        return "NULL" if kind == "p" and value == 0 else f"{value:#x}"
    if kind == "o":
        return f"0{value:o}" if value else "0"
    if kind == "s":
        if value == 0:
            return "NULL"
        try:
            return _quote(proc.read_cstr(value, 256), 64)
        except Exception:
            return f"{value:#x}"
    if kind == "buf":        # contents; the length is the next argument
        try:
            return _quote(proc.read(value, min(args[i + 1], 32)) + (b"." * (args[i + 1] > 32)))
        except Exception:
            return f"{value:#x}"
    if kind == "oflags":
        acc = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}.get(value & 3, str(value & 3))
        rest = _flags(value & ~3, {k: v for k, v in c.OPEN_FLAGS.items()
                                   if k not in ("O_NDELAY", "O_TMPFILE", "O_TMPFILE_MASK", "O_ACCMODE",
                                                "O_RDONLY", "O_WRONLY", "O_RDWR")}, "")
        return acc + ("|" + rest if rest else "")
    if kind == "prot":
        return _flags(value, {k: v for k, v in c.MMAN.items() if k.startswith("PROT_")}, "PROT_NONE")
    if kind == "mapflags":
        return _flags(value, {k: v for k, v in c.MMAN.items()
                              if k.startswith("MAP_") and k not in ("MAP_TYPE", "MAP_FILE")})
    if kind == "sig":
        return proc.signals.name(value)
    return f"{value:#x}"


def strace_call(proc, row: Syscall, args: tuple[int, ...]) -> str:
    parts = [fmt_arg(proc, k, args[i], args, i) for i, k in enumerate(row.args)]
    return f"{proc.sched.current.tid} {row.name}({','.join(parts)})"


def strace_result(proc, row: Syscall | None, ret, waited: bool = False) -> str:
    if ret is NORETURN:
        return " = ? (switched thread or context)" if proc.sched.multi or waited else ""
    v = s64(ret)
    if -4096 < v < 0:
        name = next((k for k, n in proc.arch.consts.ERRNO.items() if n == -v), "?")
        return f" = -1 errno={-v} ({name})"
    if row is not None and row.ret == "x":
        return f" = {ret:#x}"
    return f" = {v}"
