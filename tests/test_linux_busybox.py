"""A real static AArch64 program nobody here wrote: Debian's busybox-static,
run through ``tcgpy run`` and compared with qemu-aarch64 (stdout, stderr
and exit status).  Opt-in: needs ``tests/guest/get_realworld.sh`` to have
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
    pytest.mark.realworld,
    pytest.mark.skipif(not BUSYBOX.exists(), reason="run tests/guest/get_realworld.sh to fetch busybox-static:arm64"),
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
    "sh -c 'trap \"echo got usr1\" USR1; kill -USR1 $$; echo after'",
    "sh -c 'sleep 5 & kill $!; wait $!; echo status $?'",
    "sh -c 'echo a b c | xargs -n1 echo x'",
    "sh -c 'ln -s in.txt l && readlink l && readlink -f l | grep -c in.txt; rm l'",
    "sh -c 'cp in.txt c.txt && mv c.txt d.txt && chmod 600 d.txt && stat -c \"%a %s %n\" d.txt'",
    "sh -c 'touch -d \"2001-02-03 04:05:06\" t && stat -c %Y t'",
    "hexdump -C in.txt", "cmp in.txt in.txt", "diff in.txt in.txt", "nproc",
    "sh -c 'mkdir -p a/b/c && du -a a | wc -l'", "sh -c 'df . > /dev/null && echo df ok'",
    "sh -c 'free > /dev/null && echo free ok'", "sh -c 'ulimit -n'",
    "sh -c 'exec 3>f3; echo via3 >&3; exec 3>&-; cat f3'", "sh -c 'read x; echo got $x'",
    "sh -c '(exit 7); echo $?'", "sh -c 'ls /nonexistent; echo $?'",
    "sh -c 'umask 077; touch u; stat -c %a u'",
    # Floating point, checksums and compressors run as applets directly: in
    # a busybox shell pipeline qemu-user cannot re-execute /proc/self/exe and
    # runs the host's gzip/cpio/ed instead (or finds no dc/lzop).
    "awk 'BEGIN{printf \"%.6f %g %e\\n\", 3.14159265*2, 1/3, 12345.678; x=0.1+0.2; printf \"%.17g\\n\", x}'",
    "awk '{s+=$2*1.5} END {print s, s/NR; printf \"%.3f\\n\", s}' in.txt", "seq 1 0.5 3", "seq -s, 1 0.25 2",
    "printf '%f|%e|%g|%.0f|%.1f\\n' 1e-7 123456789 1e20 0.5 0.25", "dc -e '10 k 1 3 / p 2 v p 16 i FF p'",
    "sort -r -k2 in.txt", "sha512sum in.txt", "sha3sum in.txt", "sha1sum in.txt", "od -A x -t x1z in.txt",
    "xxd in.txt", "factor 1234567890 600851475143", "date -u -d @86400", "cal 2 2024", "nl in.txt",
    "sed -n '2,3p' in.txt", "wc -l -w -c in.txt", "find . -type f",
    "sh -c 'bzip2 -c in.txt | bzip2 -dc'", "sh -c 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; echo $i'",
    "sh -c 'kill -9 $$'",
]

# Where qemu-user is not a usable reference (it cannot re-execute
# /proc/self/exe, which busybox does for applets run from its shell), the
# expected result is the kernel's: stdout and exit status.
KERNEL_EXPECTED = [
    ("timeout 1 sleep 5", b"", -15),     # the program is killed by SIGTERM
    ("env -i A=1 env", b"A=1\n", 0),
]

RUNNERS = {"tcgpy": [sys.executable, "-m", "tcgpy", "run"],
           "unicorn-cpu": [sys.executable, str(ROOT / "tests" / "linux_unicorn.py")]}


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "in.txt").write_text("b 2\na 1\nc 3\n")
    return tmp_path


def _run(prefix: list[str], cmd: str, cwd: Path, busybox: Path = BUSYBOX) -> subprocess.CompletedProcess:
    import shlex
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(prefix + [str(busybox), *shlex.split(cmd)], input=b"stdin line\n",
                          capture_output=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("cmd", COMMANDS)
def test_busybox_matches_qemu(cmd, runner, workdir):
    ref = _run([QEMU], cmd, workdir)
    res = _run(RUNNERS[runner], cmd, workdir)
    try:
        check_missing_simd(res)
    except MissingSimd as e:
        pytest.xfail(f"stops on an FP/SIMD instruction the frontend lacks: {e}")
    assert (res.stdout, res.returncode) == (ref.stdout, ref.returncode), res.stderr


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("cmd,stdout,status", KERNEL_EXPECTED)
def test_busybox_kernel_behaviour(cmd, stdout, status, runner, workdir):
    res = _run(RUNNERS[runner], cmd, workdir)
    assert (res.stdout, res.returncode) == (stdout, status), res.stderr
