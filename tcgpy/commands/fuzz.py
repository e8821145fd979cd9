"""``tcgpy fuzz``: campaigns against tcgpy itself (tcgpy/fuzz.py).

    tcgpy fuzz elf [--runs N] [--seed S] [--base PROG] [--timeout T] [--no-qemu]
    tcgpy fuzz code [--runs N] [--seed S]
    tcgpy fuzz table [--runs N] [--code-runs N] [--guest-runs N] [--no-qemu]

``elf`` runs mutated copies of a shipped static program under ``tcgpy run``
(and qemu-aarch64, where installed, to compare outcomes); ``code`` runs
random code through the library API; ``table`` prints runs and outcomes
per probe (each ELF mutation kind, the code campaign, the misbehaving
guest programs of tests/guest/bin), beside qemu-aarch64's.  Exit status 1 when any run ended in
a traceback, a host crash, over the memory cap, or hung where qemu did not;
each failure names its seed and mutation, so it replays.
"""
from __future__ import annotations

import argparse
import os
import tempfile

_BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "tests", "guest", "bin", "fs_args")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("fuzz", help="fuzz tcgpy: mutated ELF files, random code through the API",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("elf", "code", "table"))
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0, help="first seed (run i uses seed + i)")
    p.add_argument("--base", default=_BASE, help="the program to mutate (elf) or whose code to take windows of "
                                                 "(code); default: tests/guest/bin/fs_args")
    p.add_argument("--timeout", type=float, default=20.0, help="elf: seconds a run may take (default 20)")
    p.add_argument("--no-qemu", action="store_true", help="elf: do not compare with qemu-aarch64")
    p.add_argument("--code-runs", type=int, default=None, help="table: code runs (default: 10 x --runs)")
    p.add_argument("--guest-runs", type=int, default=3, help="table: runs of each guest program (default 3)")
    p.add_argument("-v", "--verbose", action="store_true", help="a line per run")
    return p


def main(args) -> int:
    from .. import fuzz
    seeds = range(args.seed, args.seed + args.runs)
    if args.what == "table":
        return _table(args, seeds)
    if args.what == "code":
        report = fuzz.fuzz_code(seeds, progress=(lambda s, w, k: print(s, k)) if args.verbose else None,
                                pool=fuzz.code_pool(args.base))
    else:
        if not os.path.isfile(args.base):
            print(f"tcgpy fuzz: {args.base}: no such file")
            return 2
        qemu = None if args.no_qemu else fuzz.find_qemu(args.base)
        with tempfile.TemporaryDirectory(prefix="tcgpy-fuzz-") as work:
            report = fuzz.fuzz_elf(seeds, args.base, work, args.timeout, qemu,
                                   progress=(lambda s, w, o: print(s, w, o.kind, o.status, o.detail))
                                   if args.verbose else None)
    print(report.format())
    return 1 if report.failures else 0


def _table(args, seeds) -> int:
    from .. import fuzz
    if not os.path.isfile(args.base):
        print(f"tcgpy fuzz: {args.base}: no such file")
        return 2
    qemu = None if args.no_qemu else fuzz.find_qemu(args.base)
    code_runs = 10 * args.runs if args.code_runs is None else args.code_runs
    with tempfile.TemporaryDirectory(prefix="tcgpy-fuzz-") as work:
        rows, failures = fuzz.probe_table(args.runs, code_runs, args.guest_runs, args.base, work, args.seed,
                                          args.timeout, qemu,
                                          progress=(lambda probe, kind: print(probe, kind)) if args.verbose else None)
    print(fuzz.format_probe_table(rows, qemu is not None))
    for seed, what, o in failures[:20]:
        print(f"FAIL seed {seed} ({what}): {o.kind} status {o.status}: {o.detail}")
    return 1 if failures else 0
