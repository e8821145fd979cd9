"""Syscalls served in host code (tcgpy/hostsyscalls.py,
backends/llvm/syscall.py), through the Emulator API: which calls host code
takes and which it leaves to ``on_syscall``, whatever the state of the
descriptor table, the buffer's region and the hooks.  (End to end, against
the kernel: tests/test_linux_guest.py, libc_edge's hostio mode.)"""
from __future__ import annotations

import os
import struct

import pytest

import tcgpy

from .asm import asm

CODE = 0x10000
DATA = 0x40000
MMIO = 0x80000
N = 300
# AArch64's numbers and registers (the Linux layer passes its ABI's)
NUMBERS = {"read": 63, "write": 64, "pread64": 67, "pwrite64": 68}
REGS = ("x8", ("x0", "x1", "x2", "x3", "x4", "x5"), "x0")
# x19 times: x0 = read(x20, x21, 16); x22 += x0
LOOP = asm("loop: mov x8, #63; mov x0, x20; mov x1, x21; mov x2, #16; svc #0; add x22, x22, x0;"
           "subs x19, x19, #1; b.ne loop")


@pytest.fixture
def zero_fd():
    fd = os.open("/dev/zero", os.O_RDONLY)
    yield fd
    os.close(fd)


def _emu(fd: int, buf: int = DATA):
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, 0x4000, "rx")
    emu.mem_map(DATA, 0x4000, "rw")
    emu.mem_write(CODE, LOOP)
    emu.mem_write(DATA, b"\xff" * 0x4000)
    emu.reg_write("x19", N)
    emu.reg_write("x20", fd)
    emu.reg_write("x21", buf)
    python = []

    def on_syscall(e):
        python.append(e.reg_read("x1"))
        e.reg_write("x0", 7777)
    emu.on_syscall = on_syscall
    hs = emu.host_syscalls(REGS, NUMBERS, 1 << 24)
    hs.allow(fd)
    return emu, hs, python


def _run(emu):
    emu.run(CODE, until=CODE + len(LOOP))


@pytest.mark.parametrize("n", [N, 20 * N])
def test_served_in_host_code(zero_fd, n):
    """Served, and the code after the syscall sees its result: in blocks,
    and (the longer loop) in a hot region, which keeps x0 in a host register
    around the call (lower_region: after_host_call)."""
    emu, hs, python = _emu(zero_fd)
    emu.reg_write("x19", n)
    _run(emu)
    assert hs.served >= n // 2
    assert hs.served + len(python) == n
    assert emu.stats.syscalls_native == hs.served
    assert emu.mem_read(DATA, 17) == bytes(16) + b"\xff"
    assert emu.reg_read("x0") == 16
    assert emu.reg_read("x22") == 16 * hs.served + 7777 * len(python)
    assert emu.stats.hot_regions >= (n > N)


def test_off_when_not_wanted_or_the_descriptor_not_listed(zero_fd):
    emu, hs, python = _emu(zero_fd)
    hs.want(False)
    _run(emu)
    assert (hs.served, len(python)) == (0, N)
    assert emu.reg_read("x0") == 7777
    emu, hs, python = _emu(zero_fd)
    hs.forget_fds()
    _run(emu)
    assert (hs.served, len(python)) == (0, N)


def test_interrupt_hooks_see_every_syscall(zero_fd):
    emu, hs, python = _emu(zero_fd)
    seen = []
    h = emu.hook_add(tcgpy.HOOK_INTR, lambda e, intno, data: seen.append(intno))
    _run(emu)
    assert (len(seen), hs.served, len(python)) == (N, 0, 0)
    emu.hook_del(h)
    emu.reg_write("x19", N)
    _run(emu)
    assert hs.served > 0


def test_host_error_goes_to_python():
    fd = os.open("/dev/null", os.O_WRONLY)      # read(2) of it: EBADF
    try:
        emu, hs, python = _emu(fd)
        _run(emu)
    finally:
        os.close(fd)
    assert (hs.served, len(python)) == (0, N)


@pytest.mark.parametrize("where", ["unmapped", "read-only", "code", "crossing", "watched", "mmio"])
def test_buffers_host_code_leaves_to_python(zero_fd, where):
    """Guest memory host code must not fill: not mapped, not writable, over
    translated code (stores there drop it), crossing out of its region, under
    a memory hook, or device memory."""
    buf = {"unmapped": 0x90000, "read-only": CODE + 0x2000, "code": CODE + 0x40,
           "crossing": DATA + 0x4000 - 8, "watched": DATA, "mmio": MMIO}[where]
    emu, hs, python = _emu(zero_fd, buf)
    if where == "watched":
        emu.hook_add(tcgpy.HOOK_MEM_WRITE, lambda *a: None, begin=DATA, end=DATA + 15)
    if where == "mmio":
        emu.mmio_map(MMIO, 0x1000, lambda off, size: 0, lambda off, size, value: None)
    if where == "code":
        emu.mem_protect(CODE, 0x4000, "rwx")
    _run(emu)
    assert (hs.served, len(python)) == (0, N)
    assert python == [buf] * N


# -- the Linux layer's descriptor table --------------------------------------------------

@pytest.fixture
def proc():
    from pathlib import Path

    from tcgpy.linux.aarch64 import LINUX_ARCH
    from tcgpy.linux.process import LinuxProcess, Options
    emu = tcgpy.Emulator("aarch64")
    p = LinuxProcess(emu, LINUX_ARCH, Options())
    p.load(str(Path(__file__).resolve().parent / "guest" / "bin" / "libc_hello"), [b"libc_hello"], [])
    # the host code a first translated block makes (the syscall function among it)
    emu.cache.native()
    return p


def _listed(proc, fd: int) -> bool:
    return bool(proc.host_syscalls.state.fds[fd >> 6] >> (fd & 63) & 1)


def _syscall(proc, name: str, *args: int) -> int:
    """Run syscall ``name`` through the Linux layer as at a syscall exit."""
    emu = proc.emu
    emu.reg_write("x8", proc.arch.nr(name))
    for reg, value in zip(("x0", "x1", "x2", "x3"), args):
        emu.reg_write(reg, value)
    emu.reg_write("pc", 0x400004)
    proc.on_syscall(emu)
    return emu.reg_read("x0")


@pytest.mark.parametrize("call", ["read", "pread64"])
def test_a_file_is_listed_at_its_first_call_and_forgotten_at_a_close(proc, tmp_path, call):
    """read (FD_WAITS) and pread64 (FD_POSITIONED: a database's only calls)
    list a regular file; a close forgets every listed number (it may come
    to name a pipe)."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 64)
    fd, other = os.open(path, os.O_RDONLY), os.open(path, os.O_RDONLY)
    buf = (proc.emu.reg_read("sp") - 0x1000) & ~15
    assert not _listed(proc, fd)
    assert _syscall(proc, call, fd, buf, 16, 0) == 16
    assert _listed(proc, fd) and fd in proc.never_wait_fds
    assert _syscall(proc, "close", other) == 0
    assert not _listed(proc, fd) and not proc.never_wait_fds
    os.close(fd)


@pytest.mark.parametrize("call", ["read", "pread64"])
def test_a_proc_file_tcgpy_answers_is_not_listed(proc, call):
    """/proc/self/mem reads guest memory through tcgpy (procfs.VirtualFile),
    not the memfd behind its number."""
    path = (proc.emu.reg_read("sp") - 0x2000) & ~15
    proc.emu.mem_write(path, b"/proc/self/mem\0")
    fd = _syscall(proc, "openat", (1 << 64) - 100, path, os.O_RDONLY, 0)
    assert fd in proc.vfiles
    _syscall(proc, call, fd, path + 0x100, 8, path)
    assert fd in proc.never_wait_fds and not _listed(proc, fd)


def test_off_while_a_signal_waits_to_be_delivered(proc):
    """A signal left pending (behind a handler that runs, say) is delivered
    at the next syscall that reaches Python: host code serves none until
    then.  One the guest blocks does not stop it."""
    from tcgpy.linux.signals import PendingSignal
    sigusr1 = proc.signals.numbers["SIGUSR1"]
    proc.signals.pending.append(PendingSignal(sigusr1, struct.pack("<i", sigusr1).ljust(128, b"\0")))
    proc.signals.blocked |= 1 << (sigusr1 - 1)
    assert proc.host_syscalls_wanted()
    proc.signals.blocked = 0
    assert not proc.host_syscalls_wanted()


@pytest.mark.parametrize("who", ["strace", "debugger", "forked child"])
def test_off_while_every_syscall_must_reach_python(proc, who):
    """-strace traces each syscall, gdb may stop at each, and a forked
    child's first syscalls teach its parent the code it translated
    (linux/forkshare.py)."""
    assert proc.host_syscalls_wanted() and proc.host_syscalls.active
    if who == "strace":
        proc.opts.strace = True
    elif who == "debugger":
        from tcgpy.linux.debuggee import LinuxDebuggee
        LinuxDebuggee(proc)
        assert not proc.host_syscalls.active
    else:
        proc.forkshare.early = 4
    assert not proc.host_syscalls_wanted()
    _syscall(proc, "getpid")
    assert not proc.host_syscalls.active


def test_made_with_the_first_host_code():
    """Until a block is lowered or loaded (a run that only interprets), the
    syscall function is not made and translated code has none to call."""
    from pathlib import Path

    from tcgpy.linux.aarch64 import LINUX_ARCH
    from tcgpy.linux.process import LinuxProcess, Options
    emu = tcgpy.Emulator("aarch64")
    p = LinuxProcess(emu, LINUX_ARCH, Options())
    p.load(str(Path(__file__).resolve().parent / "guest" / "bin" / "libc_hello"), [b"libc_hello"], [])
    assert p.host_syscalls_wanted() and not p.host_syscalls.active
    emu.cache.native()
    assert p.host_syscalls.active
