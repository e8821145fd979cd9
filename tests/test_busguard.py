"""busguard.py through the engine interface: a host SIGBUS from a file
mapping whose file was truncated, caught in JIT or interpreted code and
reported (``take_host_bus_fault``) instead of killing the process."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# In a child process: a SIGBUS that is not caught kills it, not the test run.
PROGRAM = textwrap.dedent("""
    import os, sys
    import tcgpy
    from tcgpy.softmmu.memory import host_backing
    n, path = int(sys.argv[1]), sys.argv[2]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, 4096)
    emu = tcgpy.Emulator("aarch64")
    backings = []
    for i in range(n):
        b = host_backing(4096, fd, 0, shared=True)
        emu.mem_map(0x100000 + i * 0x1000, 0x1000, "rw", backing=b)
        emu.watch_host_bus(b)
        backings.append(b)
    # 0x10000: ldr x0, [x1]; nop
    emu.mem_map(0x10000, 0x1000, "rx")
    emu.mem_write(0x10000, bytes.fromhex("200040f91f2003d5"))
    emu.reg_write("x1", 0x100000 + (n - 1) * 0x1000)
    os.ftruncate(fd, 0)
    emu.run(0x10000, until=0x10008)
    host = emu.take_host_bus_fault()
    print("caught" if host == backings[-1].host else f"not caught: {host}")
""")


def test_sigbus_caught_in_the_last_of_many_file_mappings(tmp_path):
    """Every file mapping is watched (a dynamic program's libraries are
    several private file mappings each): the 1,000th as the first."""
    res = subprocess.run([sys.executable, "-c", PROGRAM, "1000", str(tmp_path / "file")], capture_output=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-2000:]
    assert res.stdout == b"caught\n", res.stderr.decode(errors="replace")[-2000:]
