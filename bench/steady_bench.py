#!/usr/bin/env python3
"""Steady state of long runs of real AArch64 programs (Debian 12's openssl,
xz, zstd, gzip, bzip2, sqlite3, python3, perl, sort, grep, sha256sum, b2sum,
md5sum, gawk, lua) and the project's own kernels under ``tcgpy run`` with a
warm translation cache, and under qemu-aarch64 in the same run.

    bench/get_startup_programs.sh            # once: the sysroot (~/.cache/tcgpy-bench)
    python bench/steady_bench.py [--runs 3] [--quick] [--scale F] [--workloads NAME...] [--json]

Ratios are tcgpy time / qemu-aarch64 time: above 1 tcgpy is slower.  Same as
``tcgpy bench --steady``; the logic is in tcgpy/benchmarks_steady.py.
"""
import sys
from pathlib import Path

# Run the checkout's tcgpy (the guest commands start it with the same path).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tcgpy.benchmarks_steady import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
