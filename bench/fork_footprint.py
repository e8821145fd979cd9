"""Memory of forked children (issue 19, item 8): run
``tests/guest/bin/libc_forks N MS`` under tcgpy (and qemu-aarch64), wait
until its N children exist, and sum their proportional set size (PSS,
/proc/PID/smaps_rollup: memory shared with the parent counts in part), and
their RSS, while they sleep.

    python bench/fork_footprint.py [N] [--sleep MS] [--no-qemu]

PSS is what the children cost the machine together; RSS counts shared
pages in every process and overstates it."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROG = ROOT / "tests" / "guest" / "bin" / "libc_forks"


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def _rollup(pid: int) -> dict[str, int]:
    """KiB fields of /proc/PID/smaps_rollup ({} when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return {}
    return {ln.split(":")[0]: int(ln.split()[1]) for ln in lines if ln.endswith("kB")}


def measure(cmd: list[str], n: int, wait_s: float = 60.0) -> dict:
    """Start ``cmd``; once it has ``n`` children, their summed PSS and RSS
    (MiB) and the parent's."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True,
                         env={**os.environ, "TCGPY_CACHE": "0"})
    try:
        deadline = time.monotonic() + wait_s
        kids = []
        while time.monotonic() < deadline and p.poll() is None:
            kids = _children(p.pid)
            if len(kids) >= n:
                break
            time.sleep(0.05)
        time.sleep(0.3)                 # the last ones past their start-up
        rolls = [r for r in map(_rollup, _children(p.pid)) if r]
        parent = _rollup(p.pid)
        return {"children": len(rolls),
                "pss_mib": sum(r.get("Pss", 0) for r in rolls) / 1024,
                "rss_mib": sum(r.get("Rss", 0) for r in rolls) / 1024,
                "parent_pss_mib": parent.get("Pss", 0) / 1024, "parent_rss_mib": parent.get("Rss", 0) / 1024}
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=50)
    ap.add_argument("--sleep", type=int, default=4000, help="ms each child sleeps (default 4000)")
    ap.add_argument("--no-qemu", action="store_true")
    args = ap.parse_args()
    engines = [("tcgpy", [sys.executable, "-m", "tcgpy", "run", "--no-cache"])]
    qemu = None if args.no_qemu else shutil.which("qemu-aarch64")
    if qemu:
        engines.append(("qemu-aarch64", [qemu]))
    print(f"{args.n} forked children of libc_forks, sleeping: MiB summed over the children, and the parent")
    print(f"{'engine':<13} {'children':>8} {'PSS':>8} {'RSS':>8} {'parent PSS':>11} {'parent RSS':>11}")
    for name, prefix in engines:
        m = measure([*prefix, str(PROG), str(args.n), str(args.sleep)], args.n)
        print(f"{name:<13} {m['children']:>8} {m['pss_mib']:>8.1f} {m['rss_mib']:>8.1f} "
              f"{m['parent_pss_mib']:>11.1f} {m['parent_rss_mib']:>11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
