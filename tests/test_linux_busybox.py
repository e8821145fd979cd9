"""A real static AArch64 program nobody here wrote: Debian's busybox-static,
run through ``tcgpy run`` and compared with qemu-aarch64 (stdout, stderr
and exit status).  Opt-in: needs ``tests/guest/get_busybox.sh`` to have
fetched it (tests/guest/ext/busybox) and qemu-aarch64 as the reference."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_linux_guest import MissingSimd, check_missing_simd

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = ROOT / "tests" / "guest" / "ext" / "busybox"
QEMU = shutil.which("qemu-aarch64")

pytestmark = [
    pytest.mark.skipif(not BUSYBOX.exists(), reason="run tests/guest/get_busybox.sh to fetch busybox-static:arm64"),
    pytest.mark.skipif(QEMU is None, reason="qemu-aarch64 is the reference for busybox's output"),
]

COMMANDS = [
    "echo hello", "uname -m", "grep -n a in.txt", "sed s/a/A/ in.txt", "awk '{s+=$2} END {print s, s/7}' in.txt",
    "sort -k2 -n in.txt", "seq 1 5", "printf '%5.2f|%s\\n' 3.14159 x", "cut -d' ' -f1 in.txt",
    "tr a-z A-Z", "od -c in.txt", "md5sum in.txt", "sha256sum in.txt", "sh -c 'gzip -c in.txt | gzip -dc'",
    "sh -c 'tar cf - in.txt | tar tf -'", "find . -name '*.txt'", "head -1 in.txt", "wc in.txt",
    "dd if=in.txt bs=2 count=2", "basename /a/b/c.txt .txt", "sh -c 'cat in.txt | sort | uniq -c'",
    "sh -c 'for i in 1 2 3; do echo $i; done | wc -l; X=$(echo sub); echo $X; exit 3'",
    "test -f in.txt", "sh -c 'yes | head -3'", "sleep 0.1", "expr 6 '*' 7", "ls in.txt",
    "sh -c 'kill -TERM $$'", "false",
]


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "in.txt").write_text("b 2\na 1\nc 3\n")
    return tmp_path


def _run(prefix: list[str], cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    import shlex
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(prefix + [str(BUSYBOX), *shlex.split(cmd)], input=b"stdin line\n",
                          capture_output=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_busybox_matches_qemu(cmd, workdir):
    ref = _run([QEMU], cmd, workdir)
    res = _run([sys.executable, "-m", "tcgpy", "run"], cmd, workdir)
    try:
        check_missing_simd(res)
    except MissingSimd as e:
        pytest.xfail(f"stops on an FP/SIMD instruction the frontend lacks: {e}")
    assert (res.stdout, res.returncode) == (ref.stdout, ref.returncode), res.stderr
    assert res.stderr.replace(b"tcgpy", b"qemu") == ref.stderr or not ref.stderr.startswith(b"qemu:")
