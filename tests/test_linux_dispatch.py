"""The dispatcher's per-syscall checks (process.dispatch_table), worked out
once per row, say what the sets they come from say, for every row; the
lean path (process.plain_table) serves only rows that need none of them,
with the generic path's answers."""
from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest

import tcgpy
from tcgpy.linux import process
from tcgpy.linux.syscalls import TABLE
from tcgpy.linux.syscalls.blocking import FD_POSITIONED, FD_WAITS

SETS = {
    process.CHECK_WAITS: FD_WAITS,
    process.CHECK_POSITIONED: FD_POSITIONED,
    process.CHECK_REUSE: process.FD_REUSE,
    process.CHECK_SHRINK: process.FILES_MAY_SHRINK,
}


def test_checks_follow_the_sets_and_descriptor_arguments():
    rows = dict(enumerate(TABLE.rows.values()))
    table = process.dispatch_table(rows)
    assert table.keys() == rows.keys()
    seen = 0
    for nr, row in rows.items():
        got, nargs, checks = table[nr]
        assert got is row and nargs == len(row.args)
        assert bool(checks & process.CHECK_OWN_FD) == bool(row.fd_args), row.name
        for bit, names in SETS.items():
            assert bool(checks & bit) == (row.name in names), (row.name, bit)
        seen |= checks
    # every check is some row's (a set naming no registered syscall would be dead)
    assert seen == process.CHECK_OWN_FD | sum(SETS)


def test_the_lean_path_serves_the_rows_that_need_no_checks():
    """process.plain_table: the rows without CHECK_* work, and those whose
    only check is that their one descriptor argument is not tcgpy's (the
    lean path passes a negative number and sends any other to the generic
    path); every other row takes the generic path."""
    rows = dict(enumerate(TABLE.rows.values()))
    dispatch = process.dispatch_table(rows)
    plain = process.plain_table(dispatch, lambda n: n)
    for nr, (row, nargs, checks) in dispatch.items():
        if checks == 0:
            assert plain[nr] == (row, nargs, -1), row.name
        elif checks == process.CHECK_OWN_FD and len(row.fd_args) == 1:
            assert plain[nr] == (row, nargs, row.fd_args[0]), row.name
        else:
            assert nr not in plain, row.name
    names = {row.name for row, _, _ in plain.values()}
    assert {"getppid", "mmap", "munmap", "mprotect"} <= names
    assert not names & {"read", "write", "close", "dup3", "ftruncate"}


@pytest.fixture
def proc():
    from tcgpy.linux.aarch64 import LINUX_ARCH
    emu = tcgpy.Emulator("aarch64")
    p = process.LinuxProcess(emu, LINUX_ARCH, process.Options())
    p.load(str(Path(__file__).resolve().parent / "guest" / "bin" / "libc_hello"), [b"libc_hello"], [])
    return p


def _syscall(proc, name: str, *args: int) -> int:
    """Syscall ``name`` through on_syscall, as at a syscall exit (AArch64's registers)."""
    emu = proc.emu
    emu.reg_write("x8", proc.arch.nr(name))
    for i, value in enumerate(args):
        emu.reg_write(f"x{i}", value & ((1 << 64) - 1))
    proc.on_syscall(emu)
    x0 = emu.reg_read("x0")
    return x0 - (1 << 64) if x0 >> 63 else x0


def _mmap(proc, fd: int) -> int:
    m = proc.arch.consts.MMAN
    anon = m["MAP_ANONYMOUS"] if fd < 0 else 0
    return _syscall(proc, "mmap", 0, 4096, m["PROT_READ"], m["MAP_PRIVATE"] | anon, fd, 0)


def test_a_descriptor_of_tcgpys_is_refused_on_the_lean_path_too(proc):
    """mmap takes the lean path: an anonymous one (descriptor -1) maps; one
    naming a descriptor tcgpy holds is EBADF, as any call naming one is."""
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        assert _mmap(proc, -1) > 0
        assert _mmap(proc, fd) > 0              # a descriptor of the guest's
        proc.vfork_pipe = fd                    # now one of tcgpy's
        assert _mmap(proc, fd) == proc.err("EBADF")
    finally:
        proc.vfork_pipe = None
        os.close(fd)


def test_a_handler_that_fails_on_the_lean_path_gives_a_guest_errno(proc, monkeypatch, capfd):
    """A host error, a guest errno, and a tcgpy bug (a handler returning
    something not an int: one line on stderr) become the guest's result,
    as on the generic path, never a traceback."""
    from tcgpy.linux.errnos import GuestErrno
    from tcgpy.linux.syscalls.table import Syscall
    nr = proc.arch.nr("getppid")
    row, read_args, fd_at = proc.plain[nr]

    def served_by(handler):
        monkeypatch.setitem(proc.plain, nr, (Syscall("getppid", handler, ()), read_args, fd_at))
        return _syscall(proc, "getppid")

    def host_error(p):
        raise OSError(errno.ENOENT, "gone")

    def guest_errno(p):
        raise GuestErrno("EPERM")

    assert served_by(host_error) == proc.err("ENOENT")
    assert served_by(guest_errno) == proc.err("EPERM")
    assert served_by(lambda p: None) == proc.err("EINVAL")
    assert "internal error in getppid: TypeError" in capfd.readouterr().err
    assert served_by(lambda p: 42) == 42


def test_strace_takes_the_generic_path(proc):
    """With -strace every call is traced, the lean path's included."""
    log = io.StringIO()
    proc.opts.strace, proc.log = True, log
    assert _syscall(proc, "getppid") == os.getppid()
    assert f"getppid() = {os.getppid()}" in log.getvalue()
