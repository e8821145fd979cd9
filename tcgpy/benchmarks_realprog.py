"""What the benchmarks of real AArch64 programs (start-up:
``benchmarks_startup``; steady state: ``benchmarks_steady``) share: where the
sysroot that ``bench/get_startup_programs.sh`` fetches lives, finding
qemu-aarch64, the environment every guest command runs in, running a command
(or a few in a row) with a blocking wait that yields its exact wall time and
peak RSS, ``tcgpy cache wait``, best-of-N, geomeans and number formats.

Ratios in every table built on this are tcgpy time / qemu-aarch64 time:
above 1 tcgpy is slower (lower is better)."""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PKG_DIR = Path(__file__).resolve().parent               # .../tcgpy
ROOT = PKG_DIR.parent                                    # a source checkout, or site-packages
FETCH_SCRIPT = "bench/get_startup_programs.sh"
RATIO_DIRECTION = "ratios = tcgpy time / qemu-user time (the program's own target's): >1 means tcgpy is slower (lower is better)"


def default_sysroot() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tcgpy-bench" / "sysroot"


def fetch_hint(sysroot: Path) -> str:
    """How to get the programs of a sysroot: the fetch script, with its
    directory when it is not the default one."""
    return f"run {FETCH_SCRIPT}" + (f" {sysroot.parent}" if sysroot != default_sysroot() else "")


def find_qemu(qemu: str | None, notes: list[str]) -> str | None:
    """The qemu-aarch64 to compare with (``qemu`` or the one on PATH), or
    None with a note saying why there is no qemu column."""
    if qemu and not shutil.which(qemu):
        notes.append(f"--qemu {qemu}: not an executable")
        return None
    found = shutil.which(qemu or "qemu-aarch64")
    if found is None:
        notes.append("qemu-aarch64 not installed: no qemu column and no ratios (apt-get install qemu-user)")
    return found


def tcgpy_command() -> list[str]:
    return [sys.executable, "-m", "tcgpy"]


def guest_env(timeout: float, notes: list[str]) -> dict[str, str]:
    """The environment of every timed command: this checkout's tcgpy first
    on PYTHONPATH, no inherited cache settings, C locale, UTC; and tcgpy's
    bytecode written first."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TCGPY_CACHE", "TCGPY_CACHE_DIR", "LANG", "LANGUAGE") and not k.startswith("LC_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update({"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"})
    # Every guest process is a new Python: without bytecode (say
    # PYTHONDONTWRITEBYTECODE=1 and a fresh tree) each would compile
    # tcgpy's source first, ~0.1 s that an installed tcgpy does not pay.
    r = subprocess.run([sys.executable, "-m", "compileall", "-q", str(PKG_DIR)],
                       capture_output=True, timeout=timeout, env={**env, "PYTHONDONTWRITEBYTECODE": ""})
    if r.returncode != 0:
        notes.append(f"could not write tcgpy's bytecode ({PKG_DIR}): each tcgpy process compiles its "
                     "source first (~0.1 s more)")
    return env


# Peak RSS needs a small parent: Linux keeps the largest RSS a process had
# across execve (signal->maxrss), and a child forked (or vforked) by the
# benchmark's Python starts with that Python's RSS, ~200 MiB once the inputs
# are made.  So each step is started by this launcher (python -S, ~9 MiB),
# which forks, execs the step, and writes its wall time, wait status and
# ru_maxrss to the file descriptor given first.  The launcher's own RSS is the floor of what is measured.
LAUNCHER = """\
import os, sys, time
fd = int(sys.argv[1])
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.close(fd)
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, st, ru = os.wait4(pid, 0)
os.write(fd, b"%r %d %d" % (time.perf_counter() - t0, st, ru.ru_maxrss))
"""


@dataclass
class Outcome:
    seconds: float | None          # None: timed out
    status: list[int]              # one exit status per step (negative: killed by that signal)
    stdout: bytes                  # the output, or its SHA-256 hex digest (run_steps(digest=True))
    stderr: bytes
    maxrss_kib: int = 0            # the largest peak RSS of the steps' processes (not their children)


def run_steps(prefix: list[str], steps: list[list[str]], env: dict[str, str], cwd: Path,
              stdin: Path | None, timeout: float, digest: bool = False, rss: bool = False) -> Outcome:
    """Run ``prefix + step`` for each step in turn; the time of each is from
    the start to the exit of that process (stdout and stderr go to files, so a
    detached child holding them open cannot stretch it).  With ``digest``
    the outputs are kept as one SHA-256 (for outputs of many MiB); with
    ``rss`` each step runs under LAUNCHER, which also measures its time."""
    total, statuses, out, err, maxrss = 0.0, [], b"", b"", 0
    hasher = hashlib.sha256()
    for step in steps:
        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
                tempfile.TemporaryFile() as fr, \
                (open(stdin, "rb") if stdin else open(os.devnull, "rb")) as fi:
            argv = prefix + step
            if rss:
                argv = [sys.executable, "-S", "-c", LAUNCHER, str(fr.fileno()),
                        shutil.which(argv[0]) or argv[0], *argv[1:]]
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdin=fi, stdout=fo, stderr=fe, cwd=cwd, env=env,
                                 start_new_session=True, pass_fds=(fr.fileno(),) if rss else ())
            # A blocking wait (Popen.wait(timeout) polls, which rounds times
            # up by as much as 50 ms), with a timer to kill the whole session.
            killed = []

            def kill(pid=p.pid):
                killed.append(True)
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            timer = threading.Timer(timeout, kill)
            timer.start()
            try:
                _, wst, usage = os.wait4(p.pid, 0)
            except BaseException:          # ^C: the command is in its own session, take it along
                kill()
                raise
            finally:
                timer.cancel()
            dt = time.perf_counter() - t0
            st = p.returncode = os.waitstatus_to_exitcode(wst)
            step_rss = usage.ru_maxrss                     # KiB on Linux
            if rss:
                fr.seek(0)
                report = fr.read().split()
                if len(report) == 3:
                    dt, st, step_rss = float(report[0]), os.waitstatus_to_exitcode(int(report[1])), int(report[2])
            maxrss = max(maxrss, step_rss)
            if killed:
                dt = None
            fo.seek(0)
            fe.seek(0)
            if digest:
                while chunk := fo.read(1 << 20):
                    hasher.update(chunk)
            else:
                out += fo.read()
            err += fe.read()
        statuses.append(st)
        if dt is None:
            break
        total += dt
    if digest:
        out = hasher.hexdigest().encode()
    return Outcome(None if dt is None else total, statuses, out, err, maxrss)


class CacheCtl:
    """``tcgpy cache wait`` in a cache directory, tolerating a tcgpy without
    the subcommand (then there is nothing to wait for)."""

    def __init__(self, tcgpy: list[str], env: dict[str, str]):
        self.tcgpy, self.env, self.available, self.problem = tcgpy, env, True, ""

    def wait(self, cache_dir: Path, timeout: float) -> float:
        if not self.available:
            return 0.0
        t0 = time.perf_counter()
        try:
            r = subprocess.run(self.tcgpy + ["cache", "wait"], env={**self.env, "TCGPY_CACHE_DIR": str(cache_dir)},
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.problem = f"tcgpy cache wait did not return within {timeout:.0f} s"
            return time.perf_counter() - t0
        if r.returncode != 0:
            text = r.stderr.decode(errors="replace")
            if "invalid choice" in text:
                self.available = False
                self.problem = ("tcgpy has no `cache` subcommand yet: no wait between cold and warm runs "
                                "(and presumably no persistent cache: cold ~ warm)")
                return 0.0
            self.problem = f"tcgpy cache wait exited {r.returncode}: {text.strip()[-300:]}"
        return time.perf_counter() - t0


def dir_bytes(d: Path) -> int:
    n = 0
    for root, _, files in os.walk(d):
        for f in files:
            try:
                n += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return n


def best(vals: list[float | None]) -> float | None:
    vals = [v for v in vals if v is not None]
    return min(vals) if vals else None


def first_failure(o: Outcome) -> int:
    """The first non-zero exit status of an outcome's steps, else 0."""
    return next((s for s in o.status if s != 0), 0)


def geomean(vals: list[float | None]) -> float | None:
    vals = [v for v in vals if v]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def fmt_s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def fmt_x(v: float | None) -> str:
    return "-" if v is None else (f"{v:.0f}x" if v >= 100 else f"{v:.1f}x")


def report_tail(res: dict, what: str) -> list[str]:
    """The skipped ``what``s (res rows' key: program, workload) and the notes
    that end a report."""
    out = [f"skipped {s[what]}: {s['reason']}" for s in res["skipped"]]
    if res["notes"]:
        out.append("")
        out += [f"note: {n}" for n in res["notes"]]
    return out
