"""``tcgpy bench``: throughput benchmarks against Unicorn (and qemu-user for
whole programs), measured in one run so that ratios hold on a noisy machine."""
from __future__ import annotations

import importlib.util
import json
import sys


def add_parser(subparsers):
    p = subparsers.add_parser(
        "bench", help="execution and translation throughput vs Unicorn (and qemu-user)",
        description=__doc__)
    p.add_argument("--scale", type=float, default=40.0,
                   help="iteration multiplier for the execution loops (default 40: runs of "
                        "0.1-0.3 s on tcgpy, so that its translation and compile time, printed "
                        "in the last column, is about a tenth of each)")
    p.add_argument("--blocks", type=int, default=2000,
                   help="distinct blocks in the translation benchmark")
    p.add_argument("--programs", nargs="*", default=None,
                   help="guest programs to time under tcgpy run and the qemu-user of each one's "
                        "target, best of --runs taking turns (default: in a source checkout, the "
                        "hello worlds, compute kernels and mappings benchmark of --arch, and every "
                        "other target's build of the compute kernels; give no value to skip whole "
                        "programs)")
    p.add_argument("--qemu", help="path of --arch's qemu-user (default: from PATH; other targets' "
                                  "programs use theirs; a program whose qemu is absent gets no ratio)")
    p.add_argument("--arch", default="aarch64",
                   help="guest architecture of the loops, the translation benchmark and the default "
                        "programs (default aarch64; qemu-user is the target's)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, for tests")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    g = p.add_argument_group(
        "start-up", "--startup times short runs of real programs (bench/get_startup_programs.sh "
                    "fetches them) cold, warm and without the translation cache, and under "
                    "qemu-aarch64; ratios are tcgpy time / qemu time (>1: tcgpy slower). "
                    "--programs then names start-up programs, --smoke runs libc_hello once")
    g.add_argument("--startup", action="store_true", help="the start-up table instead of the above")
    g.add_argument("--sysroot", help="the sysroot bench/get_startup_programs.sh made "
                                     "(default ~/.cache/tcgpy-bench/sysroot)")
    g.add_argument("--runs", type=int, default=3, help="best of N runs (default 3; also the whole "
                                                       "programs of the default table)")
    g.add_argument("--quick", action="store_true", help="1 run each, fewer programs (--steady: scale 0.1)")
    s = p.add_argument_group(
        "steady state", "--steady times long runs of real programs (openssl, xz, zstd, gzip, bzip2, "
                        "sqlite3, python3, perl, sort, grep, sha256sum, b2sum, md5sum, gawk, lua; the same "
                        "fetch script) with a warm translation cache, and under qemu-aarch64; ratios are "
                        "tcgpy time / qemu time (>1: tcgpy slower). --programs then names workloads; "
                        "--sysroot, --runs, --quick, --qemu apply")
    s.add_argument("--steady", action="store_true", help="the steady-state table instead of the above")
    s.add_argument("--steady-scale", type=float, default=None,
                   help="work multiplier (default 1: qemu-aarch64 takes ~2-5 s per workload)")
    k = p.add_argument_group(
        "KVM", "--kvm times a syscall loop, 4 KiB pipe round trips and a compute loop "
               "(tests/guest/x86_64/kvm_bench.c) natively, under the KVM engine and under "
               "qemu-x86_64, per iteration in wall and CPU time, and the speed-up of a compute "
               "kernel on two threads over one (tests/guest/x86_64/kvm_threads.c), natively and "
               "under KVM, and the start-up of a static hello and of python3 -c pass (best of "
               "--runs, at least 5) under all three; --qemu names qemu-x86_64, --runs and --smoke apply")
    k.add_argument("--kvm", action="store_true", help="the KVM table instead of the above")
    s.add_argument("--steady-timeout", type=float, default=None,
                   help="seconds allowed to each command (default 900); a workload whose warm-up "
                        "runs out of time is reported as a lower bound")
    h = p.add_argument_group(
        "hooks", "--hooks times the execution loops with a Python code hook on every instruction "
                 "(and the same hook on Unicorn), with the native counters on, and with a hook on "
                 "other code; ratios are time ratios (>1: the first named slower). --scale, "
                 "--arch, --runs, --smoke, --json apply")
    h.add_argument("--hooks", action="store_true", help="the hooks table instead of the above")
    return p


def hooks_main(args) -> int:
    from .. import benchmarks_hooks as bh
    scale, hook_scale = (0.01, 0.002) if args.smoke else (args.scale, args.scale / 400)
    res = bh.run_hooks(scale, hook_scale, 1 if args.smoke else args.runs, args.arch)
    print(json.dumps(res, indent=2) if args.json else bh.format_hooks_report(res))
    return 0


def startup_main(args) -> int:
    from .. import benchmarks_startup as bs
    names = args.programs or None
    unknown = [n for n in names or () if n not in bs.CASE_NAMES]
    if unknown:
        print(f"tcgpy bench --startup: unknown program(s) {', '.join(unknown)} "
              f"(choose from {', '.join(bs.CASE_NAMES)})")
        return 2
    res = bs.run_startup(names, args.runs, args.quick, args.smoke, args.sysroot, args.qemu,
                         progress=None if args.json else lambda s: print(s, flush=True))
    print(json.dumps(res, indent=2) if args.json else bs.format_startup_report(res))
    return 0


def steady_main(args) -> int:
    from .. import benchmarks_steady as bst
    names = args.programs or None
    unknown = [n for n in names or () if n not in bst.WORKLOAD_NAMES]
    if unknown:
        print(f"tcgpy bench --steady: unknown workload(s) {', '.join(unknown)} "
              f"(choose from {', '.join(bst.WORKLOAD_NAMES)})")
        return 2
    runs, scale = bst.runs_and_scale(args.quick, args.runs, args.steady_scale)
    res = bst.run_steady(names, runs, scale, args.sysroot, args.qemu, args.steady_timeout or bst.DEFAULT_TIMEOUT,
                         progress=None if args.json else lambda s: print(s, flush=True))
    print(json.dumps(res, indent=2) if args.json else bst.format_steady_report(res))
    return 0


def kvm_main(args) -> int:
    from .. import benchmarks_kvm as bk
    res = bk.run_kvm_bench(qemu=args.qemu, smoke=args.smoke, runs=args.runs)
    print(json.dumps(res, indent=2) if args.json else bk.format_kvm_report(res))
    return 0


def main(args) -> int:
    if args.kvm:
        return kvm_main(args)
    if args.startup:
        return startup_main(args)
    if args.steady:
        return steady_main(args)
    if args.hooks:
        return hooks_main(args)
    from .. import benchmarks
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        # refused before the benchmark runs, not after it
        print(f"tcgpy bench: --plot needs matplotlib: {benchmarks.install_hint('plot')}", file=sys.stderr)
        return 1
    if args.programs is None:
        programs = [] if args.smoke else benchmarks.default_programs(args.arch)
    else:
        programs = [[p] for p in args.programs]
    scale, blocks = (0.01, 50) if args.smoke else (args.scale, args.blocks)
    res = benchmarks.run_all(scale, blocks, programs, args.qemu, repeat=1 if args.smoke else 3,
                             arch=args.arch, runs=1 if args.smoke or args.quick else args.runs)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(benchmarks.format_report(res))
    if args.plot:
        benchmarks.plot(res, args.plot)
    return 0
