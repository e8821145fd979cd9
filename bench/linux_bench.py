"""Linux user-mode benchmarks: tcgpy run vs qemu-user on the same guest
binaries (wall time and peak RSS of the whole process, best of N runs, the
two taking turns), for every target with a frontend: AArch64's programs in
tests/guest/bin against qemu-aarch64, riscv64's in tests/guest/riscv64/bin
against qemu-riscv64 (each target's Target.guest_bin and Target.qemu_user).

    python bench/linux_bench.py                 # full sizes (a few seconds each under qemu)
    python bench/linux_bench.py --quick         # small sizes, for a smoke run
    python bench/linux_bench.py --arch riscv64  # one target

Targets from the issues: static hello under 1.0 s; compute kernels at most
2.0x qemu-aarch64 (goal 1.0x), at most 1.5x qemu-riscv64 (goal 0.7x).
Without a target's qemu-user its ratios are skipped with a note.  The
integer kernels are freestanding programs (tests/guest/fs_bench.c); the
floating-point one is a glibc program (tests/guest/bench_fp.c).
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
sys.path.insert(0, str(ROOT))
from tcgpy.targets import TARGETS, lookup  # noqa: E402

HELLO = [("hello (asm)", ["asm_hello"]), ("hello (glibc, static)", ["libc_hello"])]
KERNELS = [  # name, args at full size, args at --quick size
    ("hash", ["fs_bench", "hash", "100000000"], ["fs_bench", "hash", "2000000"]),
    ("sort", ["fs_bench", "sort", "24"], ["fs_bench", "sort", "2"]),
    ("matmul", ["fs_bench", "matmul", "450"], ["fs_bench", "matmul", "8"]),
    ("string", ["fs_bench", "string", "8000"], ["fs_bench", "string", "150"]),
    ("floating point", ["bench_fp", "30"], ["bench_fp", "1"]),     # glibc: mandelbrot + n-body
]


def run_once(cmd: list[str]) -> tuple[float, int, int, bytes]:
    """(wall seconds, peak RSS KiB, exit status, stdout) of one run of ``cmd``."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = p.stdout.read()
    _, st, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, ru.ru_maxrss, os.waitstatus_to_exitcode(st), out


def best(runs: list[tuple[float, int, int, bytes]]) -> tuple[float, int, int, bytes]:
    """The best wall time, the largest peak RSS, the last exit status and output."""
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2], runs[-1][3]


def row(name: str, guest: list[str], runs: int, qemu: str | None) -> None:
    mine, theirs = [], []
    for _ in range(runs):        # in turns: a busy spell of the machine falls on both
        mine.append(run_once([sys.executable, "-m", "tcgpy", "run", *guest]))
        if qemu:
            theirs.append(run_once([qemu, *guest]))
    t, mem, st, out = best(mine)
    line = f"{name:24} tcgpy {t:7.2f} s {mem / 1024:7.1f} MiB  exit {st:<4}"
    if qemu:
        qt, qmem, qst, qout = best(theirs)
        same = "same output" if (qout, qst) == (out, st) else "OUTPUT DIFFERS"
        line += f"| qemu {qt:7.2f} s {qmem / 1024:6.1f} MiB | ratio {t / qt:6.2f}x  {same}"
    print(line, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--runs", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--arch", action="append", help="only this target (repeatable; default: all with a frontend)")
    args = ap.parse_args()
    targets = [lookup(a) for a in args.arch] if args.arch else [t for t in TARGETS if t.frontend]
    for target in targets:
        qemu = shutil.which(target.qemu_user)
        print(f"{target.name}: {target.guest_bin} vs {target.qemu_user}"
              + ("" if qemu else " (not installed: tcgpy numbers only, no ratios)"), flush=True)
        bin_dir = ROOT / target.guest_bin
        progs = [(name, prog) for name, prog in HELLO]
        progs += [(name, quick if args.quick else full) for name, full, quick in KERNELS]
        for name, prog in progs:
            if (bin_dir / prog[0]).exists():
                row(name, [str(bin_dir / prog[0]), *prog[1:]], args.runs, qemu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
