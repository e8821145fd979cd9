"""``tcgpy bench``: throughput benchmarks against Unicorn (and qemu-user for
whole programs), measured in one run so that ratios hold on a noisy machine."""
from __future__ import annotations

import glob
import json
import os


def add_parser(subparsers):
    p = subparsers.add_parser(
        "bench", help="execution and translation throughput vs Unicorn (and qemu-user)",
        description=__doc__)
    p.add_argument("--scale", type=float, default=8.0,
                   help="iteration multiplier for the execution loops (default 8: long enough "
                        "that translation time is a small share)")
    p.add_argument("--blocks", type=int, default=2000,
                   help="distinct blocks in the translation benchmark")
    p.add_argument("--programs", nargs="*", default=None,
                   help="guest programs to time under tcgpy run and qemu-aarch64 "
                        "(default: bench/programs/* when present)")
    p.add_argument("--qemu", help="path of qemu-aarch64 (default: from PATH; skipped if absent)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, for tests")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    return p


def main(args) -> int:
    from .. import benchmarks
    programs = args.programs
    if programs is None:
        root = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "programs")
        programs = sorted(p for p in glob.glob(os.path.join(root, "*")) if os.access(p, os.X_OK))
    scale, blocks = (0.01, 50) if args.smoke else (args.scale, args.blocks)
    res = benchmarks.run_all(scale, blocks, programs, args.qemu)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(benchmarks.format_report(res))
    if args.plot:
        try:
            benchmarks.plot(res, args.plot)
        except ImportError:
            print("tcgpy bench: --plot needs matplotlib (pip install 'tcgpy[plot]')")
            return 1
    return 0
