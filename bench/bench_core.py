#!/usr/bin/env python3
"""Execution and translation throughput of tcgpy vs Unicorn, in one process.

    python bench/bench_core.py [--scale 40] [--blocks 2000] [--json]

Prints guest MIPS for chained loops (arithmetic, memory, indirect branch,
call/return) on both engines and the ratio, and blocks/s translated with the
per-stage time split.  Same as ``tcgpy bench`` without whole programs.
"""
import sys

from tcgpy.benchmarks import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["--scale", "40"]))
