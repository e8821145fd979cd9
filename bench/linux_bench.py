"""Linux user-mode benchmarks: tcgpy run vs qemu-aarch64 on the same guest
binaries (wall time and peak RSS of the whole process, best of N runs).

    python bench/linux_bench.py            # full sizes (a few seconds each under qemu)
    python bench/linux_bench.py --quick    # small sizes, for a smoke run

Targets from the issue: static hello under 1.0 s; compute kernels at most
2.0x qemu-aarch64 (goal 1.0x).  Without qemu-aarch64 the ratios are skipped
with a note.  The integer kernels are freestanding programs
(tests/guest/fs_bench.c); the floating-point one is a glibc program
(tests/guest/bench_fp.c).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "tests" / "guest" / "bin"

HELLO = [("hello (asm)", ["asm_hello"]), ("hello (glibc, static)", ["libc_hello"])]
KERNELS = [  # name, args at full size, args at --quick size
    ("hash", ["fs_bench", "hash", "100000000"], ["fs_bench", "hash", "2000000"]),
    ("sort", ["fs_bench", "sort", "24"], ["fs_bench", "sort", "2"]),
    ("matmul", ["fs_bench", "matmul", "450"], ["fs_bench", "matmul", "8"]),
    ("string", ["fs_bench", "string", "8000"], ["fs_bench", "string", "150"]),
    ("floating point", ["bench_fp", "30"], ["bench_fp", "1"]),     # glibc: mandelbrot + n-body
]


def measure(cmd: list[str], runs: int) -> tuple[float, int, int, bytes]:
    """(best wall seconds, peak RSS KiB, exit status, stdout) of ``cmd``."""
    best, peak, status, out = float("inf"), 0, 0, b""
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        out = p.stdout.read()
        _, st, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(st)
        best = min(best, time.perf_counter() - t0)
        peak = max(peak, ru.ru_maxrss)
        status = p.returncode
    return best, peak, status, out


def row(name: str, prog: list[str], runs: int, qemu: str | None) -> None:
    guest = [str(BIN / prog[0]), *prog[1:]]
    t, mem, st, out = measure([sys.executable, "-m", "tcgpy", "run", *guest], runs)
    line = f"{name:24} tcgpy {t:7.2f} s {mem / 1024:7.1f} MiB  exit {st:<4}"
    if qemu:
        qt, qmem, qst, qout = measure([qemu, *guest], runs)
        same = "same output" if (qout, qst) == (out, st) else "OUTPUT DIFFERS"
        line += f"| qemu {qt:7.2f} s {qmem / 1024:6.1f} MiB | ratio {t / qt:6.2f}x  {same}"
    print(line, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--runs", type=int, default=3, help="best of N runs (default 3)")
    args = ap.parse_args()
    qemu = shutil.which("qemu-aarch64")
    if qemu is None:
        print("note: qemu-aarch64 not installed: printing tcgpy numbers only, no ratios")
    for name, prog in HELLO:
        row(name, prog, args.runs, qemu)
    for name, full, quick in KERNELS:
        row(name, quick if args.quick else full, 1 if not args.quick else args.runs, qemu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
