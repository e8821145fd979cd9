#!/usr/bin/env python3
"""Start-up of short runs of real AArch64 programs (Debian 12's python3, perl,
sqlite3, gawk, git, lua, coreutils, xz, file, make, busybox, bash) under
``tcgpy run`` with a cold and a warm translation cache, without the cache,
and under qemu-aarch64.

    bench/get_startup_programs.sh            # once: the sysroot (~/.cache/tcgpy-bench)
    python bench/startup_bench.py [--runs 3] [--quick] [--programs NAME...] [--json]

Ratios are tcgpy time / qemu-aarch64 time: above 1 tcgpy is slower.  Same as
``tcgpy bench --startup``; the logic is in tcgpy/benchmarks_startup.py.
"""
import sys
from pathlib import Path

# Run the checkout's tcgpy (the guest commands start it with the same path).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tcgpy.benchmarks_startup import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
