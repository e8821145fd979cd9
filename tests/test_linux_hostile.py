"""A guest probing its emulator as a hostile program would (issue 19):
``tests/guest/libc_hostile.c`` prints only verdicts that a kernel makes the
same way, so its expected output is fixed below; where a host C compiler
is installed, the same source built natively must print it too (the proof
that the expectation is the kernel's, not ours)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUEST = ROOT / "tests" / "guest"
PROGRAM = GUEST / "bin" / "libc_hostile"
TIMEOUT = 120

MAPS_SPELLINGS = ["/proc/self/maps", "/proc//self//maps", "/proc/self/../self/./maps", "/proc/thread-self/maps",
                  "/proc/<pid>/maps", "/proc/self/task/<tid>/maps", "/proc/self/smaps",
                  "openat(/proc, self/maps)", "openat(/proc/self, maps)", "a symlink",
                  "chdir(/proc/self) + maps", "chdir(/proc/self) + ../self/maps"]
EXPECTED_PROC = "".join(f"maps via {s}: ok\n" for s in MAPS_SPELLINGS) + """\
smaps_rollup: ok
mem via /proc/self/mem: ok
mem via /proc//self/mem: ok
mem via /proc/thread-self/mem: ok
mem write to read-only data: written
mem read of unmapped low page: -1 Input/output error
mem write far away: -1 Input/output error
mem read at position: ok
cmdline: ok
comm: ok
stat: ok
status: ok
environ: ok
auxv: ok
exe link: ok
exe contents: ok
fds at start: mask 0x7, 0 above 63
"""

EXPECTED_FDS = """\
fds at start: mask 0x7, 0 above 63
reopened: 2
dup2 failures: 0
fds after dup2: mask 0xffffffffffffffff, 236 above 63
pipe: 3 4 x
fds at end: mask 0x1f, 0 above 63
"""

EXPECTED_FDMAP = """\
dup2 failures: 0
still open after munmap: 990
"""

EXPECTED_SIGIGN = """\
SIGHUP ignored, SIGINT ignored, SIGTERM default, SIGUSR1 default
survived
after execve: SIGPIPE ignored
SIGHUP ignored, SIGINT default, SIGTERM ignored, SIGUSR1 ignored
survived
"""


def _ignore_hup_int() -> None:
    """What nohup and a shell's background job leave a program with."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(cmd: list[str], preexec=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, preexec_fn=preexec)


def tcgpy(*args: str, preexec=None) -> subprocess.CompletedProcess:
    *options, mode = args
    return run([sys.executable, "-m", "tcgpy", "run", *options, str(PROGRAM.relative_to(ROOT)), mode],
               preexec=preexec)


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no host C compiler (cc) to build the reference program")
    exe = tmp_path_factory.mktemp("native") / "libc_hostile"
    subprocess.run([cc, "-O2", "-o", str(exe), str(GUEST / "libc_hostile.c")], check=True, capture_output=True)
    return exe


CASES = [("proc", EXPECTED_PROC, None), ("fds", EXPECTED_FDS, None), ("fdmap", EXPECTED_FDMAP, None),
         ("sigign", EXPECTED_SIGIGN, _ignore_hup_int)]


@pytest.mark.parametrize("mode,expected,preexec", CASES, ids=[c[0] for c in CASES])
def test_expectation_is_the_kernels(mode, expected, preexec, native):
    res = run([str(native), mode], preexec=preexec)
    assert (res.stdout.decode(), res.returncode) == (expected, 0), res.stderr.decode()


@pytest.mark.parametrize("mode,expected,preexec", CASES, ids=[c[0] for c in CASES])
def test_guest_sees_only_itself(mode, expected, preexec):
    res = tcgpy(mode, preexec=preexec)
    assert (res.stdout.decode(), res.returncode) == (expected, 0), res.stderr.decode()


LOGGED = [("-strace",), ("-strace", "-D", "{log}"), ("-d", "in_asm", "-D", "{log}")]


@pytest.mark.parametrize("options", LOGGED, ids=[" ".join(o) for o in LOGGED])
@pytest.mark.parametrize("mode,expected", [("proc", EXPECTED_PROC), ("fds", EXPECTED_FDS)], ids=["proc", "fds"])
def test_logs_are_out_of_the_guests_way(mode, expected, options, tmp_path):
    """The guest closes, reuses and dup2s over every descriptor and lists
    /proc/self/fd: tcgpy's log goes on, unseen."""
    log = tmp_path / "log"
    res = tcgpy(*(o.format(log=log) for o in options), mode)
    assert (res.stdout.decode(), res.returncode) == (expected, 0), res.stderr.decode()
    text = log.read_text() if "-D" in options else res.stderr.decode()
    assert "internal error" not in text
    if "-strace" in options:
        # the calls the guest made after closing everything are logged
        assert "pipe2(" in text or mode == "proc", text[-2000:]
        assert "exit_group(0)" in text, text[-2000:]
    else:
        assert "IN:" in text
