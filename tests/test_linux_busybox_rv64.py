"""A real static RISC-V 64 program nobody here wrote: Debian 13's
busybox-static for riscv64, run through ``tcgpy run`` and compared with
qemu-riscv64 (stdout and exit status), on the same applet commands as the
AArch64 busybox (tests/test_linux_busybox.py).  Opt-in: needs
``tests/guest/get_realworld.sh`` to have fetched it
(tests/guest/ext/busybox-riscv64) and qemu-riscv64 as the reference."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.test_linux_busybox import COMMANDS, KERNEL_EXPECTED, _run, workdir  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = ROOT / "tests" / "guest" / "ext" / "busybox-riscv64"
QEMU = shutil.which("qemu-riscv64")

pytestmark = [
    pytest.mark.realworld,
    pytest.mark.skipif(not BUSYBOX.exists(), reason="run tests/guest/get_realworld.sh to fetch busybox-static:riscv64"),
    pytest.mark.skipif(QEMU is None, reason="qemu-riscv64 is the reference for busybox's output"),
]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_riscv64_busybox_matches_qemu(cmd, workdir):
    ref = _run([QEMU], cmd, workdir, BUSYBOX)
    res = _run([sys.executable, "-m", "tcgpy", "run"], cmd, workdir, BUSYBOX)
    assert (res.stdout, res.returncode) == (ref.stdout, ref.returncode), res.stderr


@pytest.mark.parametrize("cmd,stdout,status", KERNEL_EXPECTED)
def test_riscv64_busybox_kernel_behaviour(cmd, stdout, status, workdir):
    res = _run([sys.executable, "-m", "tcgpy", "run"], cmd, workdir, BUSYBOX)
    assert (res.stdout, res.returncode) == (stdout, status), res.stderr
