"""``tcgpy difftest ARCH``: differential-testing campaigns against Unicorn.

Exit status: 0 when no mismatch outside the known-differences list, 1 when
there is one (or a replayed case still fails), 2 on a usage error.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys

from ..targets import TARGETS
from ..targets import lookup as lookup_target
from ..targets import names as target_names


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``difftest`` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "difftest", help="differential-test the CPU frontend against Unicorn",
        description="Run random instruction sequences of the frontend's implemented forms "
                    "on tcgpy and on Unicorn from the same random state and compare every "
                    "register and the data page.  Mismatches are minimized and written as "
                    "case files (--out) that --replay reruns.")
    configure_parser(p)
    return p


def _arch_help() -> str:
    # From the registry alone: importing the targets' difftest modules would
    # load the difftest for every tcgpy command line that builds this parser.
    engine = [t.name for t in TARGETS if t.difftest and t.frontend]
    kvm = [t.name for t in TARGETS if t.difftest and t.kvm and not t.frontend]
    notes = "".join(f"; {n}: the KVM engine against Unicorn, --count/--seed/--length only" for n in kvm)
    return f"guest architecture ({', '.join(engine)}{notes}); not needed with --replay"


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", nargs="?", default=None, help=_arch_help())
    p.add_argument("--count", "-n", type=int, default=1000, help="number of cases (default 1000)")
    p.add_argument("--seed", "-s", type=int, default=None,
                   help="campaign seed; the same seed gives the same cases (default: random, printed)")
    p.add_argument("--length", "-l", type=int, default=4, help="instructions per case (default 4)")
    p.add_argument("--states", type=int, default=4, metavar="K",
                   help="start states per code sequence: each sequence is translated once "
                        "and run from K random states (default 4)")
    p.add_argument("--classes", type=_names, default=None, metavar="A,B",
                   help="only these instruction classes (see --list-classes)")
    p.add_argument("--exclude", type=_names, default=None, metavar="A,B",
                   help="leave out these instruction classes")
    p.add_argument("--list-classes", action="store_true", help="list the instruction classes and exit")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: one per CPU)")
    p.add_argument("--out", "-o", default=None, metavar="DIR",
                   help="write a minimized case file for every mismatch into DIR, and record "
                        "the campaign's progress there (DIR/.campaign) for --resume")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the campaign recorded in DIR by --out: run only the cases "
                        "it has no result for (arch, seed, count and case options come "
                        "from DIR; --jobs/--cluster may differ)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run on a Dask distributed cluster: tcp://HOST:8786 for a running "
                        "scheduler, or 'local' for a LocalCluster of --jobs workers "
                        "(needs pip install 'tcgpy[cluster]')")
    p.add_argument("--replay", nargs="+", default=None, metavar="FILE",
                   help="rerun case files instead of a campaign")
    p.add_argument("--no-minimize", dest="minimize", action="store_false",
                   help="report mismatches as found, without shrinking them")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress line")


def _list_classes(arch: str, as_json: bool) -> int:
    from ..difftest import forms
    table = forms.classes(arch)
    if as_json:
        print(json.dumps({n: table[n].doc for n in sorted(table)}, indent=1))
    else:
        width = max((len(n) for n in table), default=0)
        for n in sorted(table):
            print(f"{n.ljust(width)}  {table[n].doc}")
    return 0


def _replay(args) -> int:
    from ..difftest.casefile import disassemble, replay
    from ..difftest.engine import Engine
    engines: dict[str, Engine] = {}
    failed = 0
    reports = []
    for path in args.replay:
        from ..difftest.casefile import load_case
        case, _ = load_case(path)
        eng = engines.setdefault(case.arch, Engine(case.arch))
        rp = replay(path, eng)
        r = rp.result
        failed += r.status == "mismatch"
        reports.append({"path": path, "status": r.status, "reproduced": rp.reproduced,
                        "recorded": rp.recorded,
                        "fields": r.mismatch.names if r.mismatch else [],
                        "summary": str(r.mismatch) if r.mismatch else "",
                        "known": getattr(r.known, "name", None)})
        if not args.json:
            print(f"== {path}  ({case.label or 'no label'})")
            for line in disassemble(case.arch, case):
                print("   " + line)
            print(f"   unicorn: {r.reference.event}, pc {r.reference.regs.get('pc', 0):#x}")
            print(f"   tcgpy:   {r.subject.event}, pc {r.subject.regs.get('pc', 0):#x}")
            if r.mismatch is None:
                print("   PASS: both engines agree now")
            else:
                what = "KNOWN difference " + r.known.name if r.known else "MISMATCH"
                again = "reproduced" if rp.reproduced else "differs from the recorded fields"
                print(f"   {what} ({again}): {r.mismatch}")
    if args.json:
        print(json.dumps({"replayed": reports, "exit_status": 1 if failed else 0}, indent=1))
    return 1 if failed else 0


def _print_summary(summary) -> None:
    from ..difftest.campaign import format_table
    print(format_table(summary))
    print()
    # Cases sharing code (--states) usually minimize to the same failure:
    # show each distinct failure once, with the other cases that hit it.
    groups: dict[tuple, list] = {}
    for f in summary.findings:
        groups.setdefault((tuple(f.disassembly), tuple(f.fields)), []).append(f)
    for same in groups.values():
        f = same[0]
        size = (f"{f.length} of {f.original_length} instructions after minimizing" if f.minimized
                else f"{f.length} instructions, not minimized")
        print(f"MISMATCH {f.label} [{', '.join(f.culprit)}] ({size})")
        for line in f.disassembly:
            print("    " + line)
        print(f"    {f.summary}")
        if f.path:
            print(f"    case file: {f.path}")
        if len(same) > 1:
            print(f"    same failure in {len(same) - 1} more case(s): "
                  + ", ".join(str(g.index) for g in same[1:]))
    for name, n in sorted(summary.known.items()):
        print(f"known difference {name}: {n} cases")
    t = summary.times
    top = {k: v for k, v in t.items() if ":" not in k}
    split = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(top.items(), key=lambda kv: -kv[1]))
    stages = {k.split(":", 1)[1]: v for k, v in t.items() if k.startswith("tcgpy:")}
    if stages:
        split += "; of tcgpy: " + ", ".join(
            f"{k} {v:.1f}s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1]))
    resumed = (f", {summary.count - summary.ran} of them resumed from the record"
               if summary.ran != summary.count else "")
    print(f"{summary.count} cases ({summary.length} instructions each, seed {summary.seed}{resumed}) "
          f"in {summary.elapsed:.1f}s with {summary.jobs} job(s) ({summary.where}): "
          f"{summary.cases_per_s:.0f} cases/s; "
          f"{summary.mismatches} mismatches, {sum(summary.known.values())} known differences")
    print(f"time by stage (summed over workers): {split}")


class ClusterError(Exception):
    """The cluster cannot run this campaign (Dask missing, versions differ)."""


@contextlib.contextmanager
def _executor(args):
    """The Dask executor for --cluster, or None for the local pool."""
    if not args.cluster:
        yield None
        return
    from ..difftest import cluster
    try:
        with cluster.connect(args.cluster, args.jobs) as pool:
            yield pool
    except (cluster.MissingDask, cluster.Unavailable, cluster.VersionMismatch) as e:
        raise ClusterError(str(e)) from None


def main(args) -> int:
    """Run the subcommand with parsed ``args``; returns the exit status."""
    from ..difftest.campaign import Spec, print_progress, run_campaign
    from ..difftest.engine import FormError, select_classes
    from ..difftest.testing import install_from_env
    if args.arch is None and not (args.replay or args.resume):
        example = target_names(tcg=True)[0]
        print(f"tcgpy difftest: give the guest architecture (e.g. tcgpy difftest {example})",
              file=sys.stderr)
        return 2
    if args.arch is not None:
        from ..difftest import StandaloneDifftest
        from ..frontends import get_arch
        try:
            target = lookup_target(args.arch)
            defs = target.diff_def if target.difftest else None
            if not isinstance(defs, StandaloneDifftest):
                get_arch(args.arch)
                if defs is None:
                    raise ValueError(f"no difftest for {target.name} guests")
        except ValueError as e:
            print(f"tcgpy difftest: {e}", file=sys.stderr)
            return 2
        if isinstance(defs, StandaloneDifftest):
            # a campaign of its own (a KVM-only target: the host CPU against Unicorn)
            return defs.main(args)
    if args.list_classes:
        return _list_classes(args.arch, args.json)
    hooks = contextlib.ExitStack()
    with hooks:
        install_from_env(hooks)
        if args.replay:
            return _replay(args)
        if args.count < 0 or min(args.length, args.jobs, args.states) < 1:
            print("tcgpy difftest: --count must be >= 0; --length, --jobs, --states >= 1",
                  file=sys.stderr)
            return 2
        if args.resume:
            from ..difftest.journal import load_header
            try:
                spec, count = load_header(args.resume)
            except ValueError as e:
                print(f"tcgpy difftest: {e}", file=sys.stderr)
                return 2
        else:
            try:
                classes = select_classes(args.arch, args.classes, args.exclude)
            except ValueError as e:
                print(f"tcgpy difftest: {e}", file=sys.stderr)
                return 2
            if not classes:
                print(f"tcgpy difftest: no instruction classes selected for {args.arch}",
                      file=sys.stderr)
                return 2
            seed = args.seed if args.seed is not None else random.randrange(1 << 32)
            spec = Spec(args.arch, seed, args.length, tuple(c.name for c in classes),
                        args.out, args.minimize, states_per_code=args.states)
            count = args.count
        try:
            with _executor(args) as executor:
                if not args.quiet:
                    where = executor.where if executor else "local"
                    jobs = executor.jobs if executor else args.jobs
                    print(f"difftest {spec.arch}: {count} cases of {spec.length} instructions, "
                          f"seed {spec.seed}, {len(spec.classes)} classes, {jobs} job(s) "
                          f"({where}){', resuming ' + args.resume if args.resume else ''}",
                          file=sys.stderr)
                summary = run_campaign(spec, count, args.jobs,
                                       None if args.quiet else print_progress(sys.stderr),
                                       executor=executor, resume=bool(args.resume))
        except FormError as e:
            print(f"\ntcgpy difftest: {e}", file=sys.stderr)
            return 2
        except ClusterError as e:
            print(f"tcgpy difftest: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            again = (f"; tcgpy difftest --resume {spec.out} continues it" if spec.out
                     else " (give --out DIR to be able to --resume)")
            print(f"\ntcgpy difftest: interrupted{again}", file=sys.stderr)
            return 130
        if args.json:
            print(json.dumps(summary.to_json(), indent=1))
        else:
            _print_summary(summary)
        return summary.exit_status


def _standalone(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tcgpy difftest")
    configure_parser(p)
    return main(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(_standalone())
