"""Shared host backings for guest mappings (tcgpy.softmmu.memory.host_backing),
the piece that MAP_SHARED in Linux user mode stands on; the guest-level
behaviour is tests/guest/fs_mmap.c."""
from __future__ import annotations

import os

import pytest

from tcgpy.emulator import Emulator
from tcgpy.softmmu.memory import backing_sync, host_backing

PAGE = 4096


def test_shared_file_backing_writes_through(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abcdefgh".ljust(2 * PAGE, b"\0"))
    fd = os.open(path, os.O_RDWR)
    try:
        emu = Emulator("aarch64")
        emu.mem_map(0x10000, 2 * PAGE, "rw", backing=host_backing(2 * PAGE, fd, 0, shared=True))
        assert emu.mem_read(0x10000, 8) == b"abcdefgh"
        emu.mem_write(0x10000 + PAGE, b"XYZ")
        assert os.pread(fd, 3, PAGE) == b"XYZ"
        os.pwrite(fd, b"12", 0)
        assert emu.mem_read(0x10000, 4) == b"12cd"
        # A partial unmap keeps the rest of the host mapping alive.
        emu.mem_unmap(0x10000, PAGE)
        assert emu.mem_read(0x10000 + PAGE, 3) == b"XYZ"
    finally:
        os.close(fd)


def test_backing_does_not_hold_a_descriptor(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes(PAGE))
    fd = os.open(path, os.O_RDWR)
    b = host_backing(PAGE, fd, 0, shared=True)
    os.close(fd)
    # The guest's next descriptor number is the one it just closed.
    fd2 = os.open(path, os.O_RDONLY)
    assert fd2 == fd
    os.close(fd2)
    backing_sync(b, 0, PAGE, 4)


def test_host_mmap_errors_are_oserrors(tmp_path):
    r, w = os.pipe()
    try:
        with pytest.raises(OSError):
            host_backing(PAGE, r, 0, shared=True)
    finally:
        os.close(r)
        os.close(w)


def test_shared_anonymous_backing_survives_fork():
    b = host_backing(PAGE, shared=True)
    emu = Emulator("aarch64")
    emu.mem_map(0x20000, PAGE, "rw", backing=b)
    pid = os.fork()
    if pid == 0:
        emu.mem_write(0x20000, b"child")
        os._exit(0)
    os.waitpid(pid, 0)
    assert emu.mem_read(0x20000, 5) == b"child"
