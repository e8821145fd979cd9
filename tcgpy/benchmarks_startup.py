"""Start-up benchmark: short runs of real AArch64 programs nobody here wrote
(Debian 12's python3, perl, sqlite3, gawk, git, lua, coreutils, xz, file,
make, busybox and bash, fetched by ``bench/get_startup_programs.sh``), where
translating the code is most of the time and a persistent translation cache
should help most.

Each program is timed (wall seconds, best of N) under ``tcgpy run``:

* **cold**: ``TCGPY_CACHE_DIR`` set to a fresh empty directory;
* **warm**: the same command again with the same directory, after ``tcgpy
  cache wait`` (the cache is written by a detached process after each run);
* **nocache**: ``TCGPY_CACHE=0``, for reference;

and under **qemu-aarch64** (``-L SYSROOT`` for the dynamic ones).  The
ratios are time ratios, tcgpy / qemu-aarch64: above 1 tcgpy is slower (lower
is better).  Each tcgpy run's stdout and exit status must equal qemu's.

Two rows run many guest processes: a busybox shell loop executing busybox
``expr`` and ``sed`` 200 times by full path (each guest execve starts a new
tcgpy), and ``make`` running 20 recipes under dash (42 processes).  qemu-user starts a guest's execve'd guest program only
through binfmt_misc, and runs the execve'd ``/bin/dash`` of the host (no
``-L`` for exec), so these rows have no qemu time unless binfmt_misc serves
aarch64 (the shell loop); their output is checked against the known answer.

    python bench/startup_bench.py [--runs 3] [--quick] [--programs NAME...] [--json]
    tcgpy bench --startup [...]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .benchmarks_realprog import (FETCH_SCRIPT, RATIO_DIRECTION, ROOT, CacheCtl, Outcome, best, default_sysroot,
                                  dir_bytes, fetch_hint, find_qemu, first_failure, fmt_s, fmt_x, geomean,
                                  guest_env, report_tail, run_steps, tcgpy_command)

GUEST_BIN = ROOT / "tests" / "guest" / "bin"
EXT = ROOT / "tests" / "guest" / "ext"           # tests/guest/get_realworld.sh's programs
DEFAULT_TIMEOUT = 300.0
DEFAULT_SPAWN = 200

SMALL_TXT = "".join(f"{w} {i * 7919 % 1000}\n" for i, w in enumerate(
    "pear apple fig banana cherry kiwi lemon mango grape plum quince date lime melon".split() * 4))
SCRIPT_SQL = """\
create table fruit(name text primary key, price real, qty integer);
insert into fruit values ('pear', 1.5, 10), ('apple', 0.5, 30), ('fig', 3.25, 4), ('kiwi', 0.8, 12);
create table sale(name text, n integer);
insert into sale values ('pear', 2), ('apple', 5), ('pear', 1), ('fig', 1);
select f.name, sum(s.n), round(sum(s.n) * f.price, 2) from fruit f join sale s using (name)
  group by f.name order by 3 desc;
select count(*), max(qty), group_concat(name, ',') from fruit where price < 2;
"""
# make running 20 recipes: a chain of three (sort, sha256sum, wc) and 17
# more that each run a program of their own, all under dash (41 processes).
MAKE_EXTRA = [f"x{i}.txt" for i in range(17)]
MAKEFILE = (f"all: count.txt {' '.join(MAKE_EXTRA)}\n"
            "sorted.txt: small.txt\n\tsort $< > $@\n"
            "sums.txt: sorted.txt\n\tsha256sum $< > $@\n"
            "count.txt: sums.txt\n\twc -l < $< > $@\n\tcat $@\n"
            + "".join(f"{x}: small.txt\n\tcut -c{i % 5 + 1}- $< > $@\n" for i, x in enumerate(MAKE_EXTRA)))
MAKE_EXPECT = (b"sort small.txt > sorted.txt\nsha256sum sorted.txt > sums.txt\n"
               b"wc -l < sums.txt > count.txt\ncat count.txt\n1\n"
               + b"".join(f"cut -c{i % 5 + 1}- small.txt > {x}\n".encode() for i, x in enumerate(MAKE_EXTRA)))
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}
GIT_ID = ["-c", "user.name=Bench", "-c", "user.email=bench@example.org"]


@dataclass
class Ctx:
    """Where things are: the sysroot (host path), tests/guest/bin, the
    directory the commands run in, the number of processes of the spawn row."""
    sysroot: Path
    bin: Path
    work: Path
    spawn: int = DEFAULT_SPAWN

    def s(self, path: str) -> str:
        return str(self.sysroot / path.lstrip("/"))


@dataclass
class Case:
    name: str
    # ctx -> the commands (guest argv lists, host paths) run one after the
    # other in the same directory: their times add up, their outputs concatenate
    steps: Callable[[Ctx], list[list[str]]]
    dynamic: bool = True                          # run with -L SYSROOT
    needs: Callable[[Ctx], list[Path]] | None = None  # files that must exist (default: each step's program)
    stdin: str | None = None                      # a file of the work directory
    fresh_dir: bool = False                       # a new work directory for every run
    env: dict[str, str] = field(default_factory=dict)
    qemu: str = "yes"                             # "yes", "binfmt" (only if binfmt_misc runs aarch64), "no"
    expect: Callable[[Ctx], bytes] | None = None  # the known stdout, where qemu is not the reference
    quick: bool = True                            # part of --quick
    spawn: bool = False                           # the long shell loop: one run, a longer timeout
    note: str = ""
    qemu_binary: str | None = None                # another target's qemu-user (default: qemu-aarch64)
    fetch: str | None = None                      # how to get its program, when not the sysroot's script


def _spawn_script(c: Ctx) -> str:
    bb = c.s("/bin/busybox")
    return (f"i=0; n=0; while [ $i -lt {c.spawn // 2} ]; do i=$({bb} expr $i + 1); "
            f"n=$({bb} sed -n '$=' small.txt); done; echo $i $n")


# One command line for every target's busybox row, so that the rows compare
# targets and not commands: a pipeline of three processes in one row against
# one process in the other reads as a slower target.
BUSYBOX_SH = ["sh", "-c", "echo hi"]

CASES = [
    Case("hello", lambda c: [[str(c.bin / "libc_hello")]], dynamic=False,
         note="glibc static hello (tests/guest/bin)"),
    Case("busybox-sh", lambda c: [[c.s("/bin/busybox"), *BUSYBOX_SH]], dynamic=False),
    Case("bash", lambda c: [[c.s("/bin/bash-static"), "-c", "echo hi"]], dynamic=False),
    Case("python3", lambda c: [[c.s("/usr/bin/python3.11"), "-S", "-c", "print(1)"]], quick=False),
    Case("perl", lambda c: [[c.s("/usr/bin/perl"), "-e", "print 1"]]),
    Case("sqlite3", lambda c: [[c.s("/usr/bin/sqlite3")]], stdin="script.sql"),
    Case("gawk", lambda c: [[c.s("/usr/bin/gawk"), "BEGIN{print 1}"]]),
    Case("git-version", lambda c: [[c.s("/usr/bin/git"), "--version"]]),
    Case("git-commit", lambda c: [[c.s("/usr/bin/git"), "init", "-q", "-b", "main", "."],
                                  [c.s("/usr/bin/git"), "add", "small.txt"],
                                  [c.s("/usr/bin/git"), *GIT_ID, "commit", "-m", "first"]],
         fresh_dir=True, env=GIT_ENV, quick=False, note="3 processes"),
    Case("lua5.4", lambda c: [[c.s("/usr/bin/lua5.4"), "-e", "print(1)"]]),
    Case("sort", lambda c: [[c.s("/usr/bin/sort"), "small.txt"]]),
    Case("sha256sum", lambda c: [[c.s("/usr/bin/sha256sum"), "small.txt"]]),
    Case("xz", lambda c: [[c.s("/usr/bin/xz"), "-9", "-c", "small.txt"]]),
    Case("file", lambda c: [[c.s("/usr/bin/file"), "-m", c.s("/usr/lib/file/magic.mgc"), "small.txt"]],
         needs=lambda c: [Path(c.s("/usr/bin/file")), Path(c.s("/usr/lib/file/magic.mgc"))]),
    Case("make", lambda c: [[c.s("/usr/bin/make"), "SHELL=/bin/dash"]], fresh_dir=True, qemu="no",
         needs=lambda c: [Path(c.s(p)) for p in ("/usr/bin/make", "/bin/dash", "/usr/bin/sort",
                                                 "/usr/bin/sha256sum", "/usr/bin/wc", "/bin/cat",
                                                 "/usr/bin/cut")],
         expect=lambda c: MAKE_EXPECT, quick=False,
         note="20 recipes: make + 20 dash + 21 coreutils processes"),
    Case("spawn", lambda c: [[c.s("/bin/busybox"), "sh", "-c", _spawn_script(c)]], dynamic=False,
         qemu="binfmt", spawn=True,
         expect=lambda c: f"{c.spawn // 2} {SMALL_TXT.count(chr(10))}\n".encode(),
         note="busybox sh loop: N busybox expr/sed processes"),
]


def _other_targets_busybox() -> list[Case]:
    """A busybox ``sh -c`` row for every other target with a frontend, where
    get_realworld.sh fetched Debian's busybox-static for it
    (tests/guest/ext/busybox-NAME), against that target's qemu-user."""
    from .targets import TARGETS
    return [Case(f"busybox-{t.name}",
                 lambda c, t=t: [[str(EXT / f"busybox-{t.name}"), *BUSYBOX_SH]],
                 dynamic=False, qemu_binary=t.qemu_user, fetch="tests/guest/get_realworld.sh",
                 note=f"Debian's {t.name} busybox-static, vs {t.qemu_user}")
            for t in TARGETS if t.frontend and t.name != "aarch64"]


CASES[2:2] = _other_targets_busybox()
CASE_NAMES = [c.name for c in CASES]


def binfmt_runs_aarch64() -> bool:
    """Whether the host kernel hands aarch64 ELF files to an enabled qemu
    (binfmt_misc): only then can qemu-user run a guest that execve()s guest
    programs."""
    d = Path("/proc/sys/fs/binfmt_misc")
    try:
        for p in d.iterdir():
            if p.name in ("register", "status"):
                continue
            try:
                text = p.read_text()
            except OSError:
                continue
            if text.startswith("enabled") and "aarch64" in text:
                return True
    except OSError:
        pass
    return False


# ---------------------------------------------------------------- running

def bench_case(case: Case, ctx: Ctx, tcgpy: list[str], qemu: str | None, runs: int,
               timeout: float, base_env: dict[str, str], cache: CacheCtl, scratch: Path,
               use_qemu_time: bool) -> dict:
    steps = case.steps(ctx)
    lflag = ["-L", str(ctx.sysroot)] if case.dynamic else []
    if case.qemu_binary:
        qemu = shutil.which(case.qemu_binary)
    env = {**base_env, **case.env}
    if case.spawn:
        runs = 1
        timeout = max(timeout, 3.0 * ctx.spawn)
    times: dict[str, list[float | None]] = {"cold": [], "warm": [], "nocache": [], "qemu": []}
    outcomes: dict[str, Outcome] = {}
    wait_s, cache_bytes, nocache_bytes = [], [], 0

    def workdir() -> tuple[Path, bool]:
        if not case.fresh_dir:
            return ctx.work, False
        d = Path(tempfile.mkdtemp(prefix=f"run-{case.name}-", dir=scratch))
        for f in ctx.work.iterdir():
            if f.is_file():
                shutil.copy(f, d / f.name)
        return d, True

    def one(kind: str, prefix: list[str], extra: dict[str, str]) -> None:
        d, fresh = workdir()
        e = {**env, "HOME": str(d), **extra}
        o = run_steps(prefix, steps, e, d, d / case.stdin if case.stdin else None, timeout)
        if fresh:
            shutil.rmtree(d, ignore_errors=True)
        times[kind].append(o.seconds)
        outcomes.setdefault(kind, o)
        # keep the first outcome that differs from the first one of its kind
        if (o.stdout, o.status) != (outcomes[kind].stdout, outcomes[kind].status):
            outcomes[kind + "#"] = o

    for _ in range(runs):
        cdir = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
        one("cold", tcgpy + ["run"] + lflag, {"TCGPY_CACHE_DIR": str(cdir)})
        wait_s.append(cache.wait(cdir, timeout))
        one("warm", tcgpy + ["run"] + lflag, {"TCGPY_CACHE_DIR": str(cdir)})
        cache.wait(cdir, timeout)
        cache_bytes.append(dir_bytes(cdir))
        shutil.rmtree(cdir, ignore_errors=True)
        ndir = Path(tempfile.mkdtemp(prefix="nocache-", dir=scratch))
        one("nocache", tcgpy + ["run"] + lflag, {"TCGPY_CACHE": "0", "TCGPY_CACHE_DIR": str(ndir)})
        nocache_bytes = max(nocache_bytes, dir_bytes(ndir))
        shutil.rmtree(ndir, ignore_errors=True)
        if qemu and (use_qemu_time or case.expect is None):
            one("qemu", [qemu] + lflag, {})

    row: dict = {"program": case.name, "command": " ; ".join(" ".join(s) for s in steps),
                 "runs": runs, "note": case.note}
    for k in ("cold", "warm", "nocache"):
        row[f"{k}_s"] = best(times[k])
    row["qemu_s"] = best(times["qemu"]) if use_qemu_time else None
    q = row["qemu_s"]
    for k in ("cold", "warm", "nocache"):
        row[f"{k}_ratio"] = row[f"{k}_s"] / q if q and row[f"{k}_s"] else None
    row["warm_speedup"] = (row["cold_s"] / row["warm_s"]) if row["cold_s"] and row["warm_s"] else None
    row["cache_wait_s"] = max(wait_s) if wait_s else None
    row["cache_bytes"] = max(cache_bytes) if cache_bytes else 0
    row["nocache_dir_bytes"] = nocache_bytes
    row["timeouts"] = sorted({k for k, v in times.items() if None in v})

    # The reference: qemu's output and status, or the known answer.
    if case.expect is not None:
        ref, ref_status, row["reference"] = case.expect(ctx), [0] * len(steps), "expected output"
    elif "qemu" in outcomes:
        ref, ref_status, row["reference"] = (outcomes["qemu"].stdout, outcomes["qemu"].status,
                                             case.qemu_binary or "qemu-aarch64")
    else:
        ref, ref_status, row["reference"] = None, None, None
    differs = []
    if ref is not None:
        for k, o in outcomes.items():
            if k.startswith("qemu"):
                continue
            if (o.stdout, o.status) != (ref, ref_status):
                differs.append(k.rstrip("#"))
    row["differs"] = sorted(set(differs))
    row["same_output"] = None if ref is None else not differs
    row["status"] = {k: first_failure(o) for k, o in outcomes.items() if not k.endswith("#")}
    if differs or any(row["status"].values()):
        row["stderr_tail"] = {k: o.stderr.decode(errors="replace")[-400:]
                              for k, o in outcomes.items() if not k.endswith("#") and o.stderr}
    return row


def select_cases(programs: list[str] | None, quick: bool, smoke: bool) -> list[Case]:
    if smoke:
        return [c for c in CASES if c.name == "hello"]
    if programs:
        unknown = [p for p in programs if p not in CASE_NAMES]
        if unknown:
            raise SystemExit(f"unknown start-up program(s): {', '.join(unknown)} "
                             f"(choose from {', '.join(CASE_NAMES)})")
        return [c for c in CASES if c.name in programs]
    return [c for c in CASES if c.quick or not quick]


def run_startup(programs: list[str] | None = None, runs: int = 3, quick: bool = False,
                smoke: bool = False, sysroot: str | os.PathLike | None = None,
                qemu: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                spawn: int | None = None, progress=None) -> dict:
    """Time the start-up cases; returns the rows, geomeans and notes."""
    if smoke or quick:
        runs = 1
    spawn = spawn if spawn is not None else (40 if quick else DEFAULT_SPAWN)
    sysroot = Path(sysroot) if sysroot else default_sysroot()
    notes: list[str] = []
    qemu = find_qemu(qemu, notes)
    binfmt = binfmt_runs_aarch64()
    tcgpy = tcgpy_command()
    base_env = guest_env(timeout, notes)
    cache = CacheCtl(tcgpy, base_env)
    rows, skipped = [], []
    cases = select_cases(programs, quick, smoke)
    with tempfile.TemporaryDirectory(prefix="tcgpy-startup-") as tmp:
        scratch = Path(tmp)
        work = scratch / "work"
        work.mkdir()
        (work / "small.txt").write_text(SMALL_TXT)
        (work / "script.sql").write_text(SCRIPT_SQL)
        (work / "Makefile").write_text(MAKEFILE)
        ctx = Ctx(sysroot, GUEST_BIN, work, spawn)
        for i, case in enumerate(cases):
            steps = case.steps(ctx)
            needs = case.needs(ctx) if case.needs else [Path(s[0]) for s in steps]
            missing = [str(p) for p in needs if not p.exists()]
            if missing:
                where = ("build tests/guest (tests/guest/build.sh)" if case.name == "hello"
                         else f"run {case.fetch}" if case.fetch else fetch_hint(sysroot))
                skipped.append({"program": case.name, "missing": missing,
                                "reason": f"missing {missing[0]}" + (f" (+{len(missing) - 1})" if len(missing) > 1 else "")
                                          + f": {where}"})
                if progress:
                    progress(f"[{i + 1}/{len(cases)}] {case.name}: skipped ({skipped[-1]['reason']})")
                continue
            case_qemu = shutil.which(case.qemu_binary) if case.qemu_binary else qemu
            use_qemu_time = case_qemu is not None and (case.qemu == "yes" or (case.qemu == "binfmt" and binfmt))
            t0 = time.perf_counter()
            row = bench_case(case, ctx, tcgpy, qemu, runs, timeout, base_env, cache, scratch, use_qemu_time)
            rows.append(row)
            if progress:
                progress(f"[{i + 1}/{len(cases)}] {case.name}: " + ", ".join(
                    f"{k} {fmt_s(row[k + '_s'])}" for k in ("cold", "warm", "nocache", "qemu"))
                    + f" ({time.perf_counter() - t0:.0f} s)")
    if cache.problem:
        notes.append(cache.problem)
    if rows and cache.available and not any(r["cache_bytes"] for r in rows):
        notes.append("the cache directories stayed empty: is the persistent cache implemented?")
    if any(r["nocache_dir_bytes"] for r in rows):
        notes.append("TCGPY_CACHE=0 runs wrote to their TCGPY_CACHE_DIR")
    if any(r["program"] == "spawn" for r in rows) and not binfmt:
        notes.append("spawn: no qemu time: qemu-user runs a guest's execve'd guest program only through "
                     "binfmt_misc, which does not serve aarch64 here; output checked against the known answer")
    if any(r["program"] == "make" for r in rows):
        notes.append("make: no qemu time: qemu-user execve()s the host's /bin/dash (no -L for exec), so its "
                     "recipes would run host programs; output checked against the known answer")
    if any(r["program"] == "spawn" for r in rows):
        notes.append(f"spawn: {spawn} guest processes, timed once (each run is long enough)")
    for r in rows:
        if r["timeouts"]:
            notes.append(f"{r['program']}: timed out ({', '.join(r['timeouts'])}) after {timeout:.0f} s")
        if r["differs"]:
            notes.append(f"{r['program']}: stdout or exit status differs from {r['reference']} "
                         f"({', '.join(r['differs'])}); statuses {r['status']}")
    with_q = [r for r in rows if r["qemu_s"] and r["cold_s"] and r["warm_s"]]
    geo = {
        "programs_with_qemu": len(with_q),
        "cold_ratio": geomean([r["cold_ratio"] for r in with_q]),
        "warm_ratio": geomean([r["warm_ratio"] for r in with_q]),
        "nocache_ratio": geomean([r["nocache_ratio"] for r in with_q if r["nocache_ratio"]]),
        "warm_speedup": geomean([r["warm_speedup"] for r in rows if r["warm_speedup"]]),
        "programs": len([r for r in rows if r["warm_speedup"]]),
    }
    return {"runs": runs, "sysroot": str(sysroot), "qemu": qemu, "binfmt_aarch64": binfmt,
            "cache_wait_available": cache.available, "spawn_processes": spawn,
            "rows": rows, "skipped": skipped, "geomean": geo, "notes": notes}


def format_startup_report(res: dict) -> str:
    spawn = any(r["program"] == "spawn" for r in res["rows"])
    out = [f"Start-up of real programs: wall seconds, best of {res['runs']}" + (" (spawn: 1 run)" if spawn else ""),
           "  cold = empty TCGPY_CACHE_DIR, warm = same dir again after `tcgpy cache wait`, "
           "nocache = TCGPY_CACHE=0",
           f"  {RATIO_DIRECTION}; cold/warm >1 means the cache helps",
           "",
           f"{'program':<16} {'cold s':>8} {'warm s':>8} {'nocache s':>9} {'qemu s':>7} "
           f"{'cold/qemu':>9} {'warm/qemu':>9} {'cold/warm':>9}  output"]
    for r in res["rows"]:
        if r["same_output"] is None:
            mark = "?"
        elif r["same_output"]:
            mark = "same" if r["reference"].startswith("qemu-") else "ok (expected)"
        else:
            mark = "DIFFERS (" + ",".join(r["differs"]) + ")"
        if r["timeouts"]:
            mark += " TIMEOUT(" + ",".join(r["timeouts"]) + ")"
        out.append(f"{r['program']:<16} {fmt_s(r['cold_s']):>8} {fmt_s(r['warm_s']):>8} "
                   f"{fmt_s(r['nocache_s']):>9} {fmt_s(r['qemu_s']):>7} {fmt_x(r['cold_ratio']):>9} "
                   f"{fmt_x(r['warm_ratio']):>9} {fmt_x(r['warm_speedup']):>9}  {mark}")
    g = res["geomean"]
    if res["rows"]:
        out.append(f"{'geomean':<16} {'':>8} {'':>8} {'':>9} {'':>7} {fmt_x(g['cold_ratio']):>9} "
                   f"{fmt_x(g['warm_ratio']):>9} {fmt_x(g['warm_speedup']):>9}"
                   f"  (qemu ratios over {g['programs_with_qemu']} programs; "
                   f"nocache/qemu {fmt_x(g['nocache_ratio'])})")
    out += report_tail(res, "program")
    return "\n".join(out)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--runs", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="1 run each, fewer programs (no python3, git-commit, make), 40 spawned processes")
    ap.add_argument("--smoke", action="store_true", help="libc_hello only, 1 run (for tests)")
    ap.add_argument("--programs", nargs="+", metavar="NAME", choices=CASE_NAMES,
                    help=f"only these ({', '.join(CASE_NAMES)})")
    ap.add_argument("--sysroot", help=f"the sysroot {FETCH_SCRIPT} made "
                                      f"(default {default_sysroot()})")
    ap.add_argument("--qemu", help="path of qemu-aarch64 (default: from PATH; skipped if absent)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="seconds allowed to each command (default 300)")
    ap.add_argument("--spawn", type=int, default=None,
                    help=f"processes in the spawn row (default {DEFAULT_SPAWN}, 40 with --quick)")
    ap.add_argument("--json", action="store_true", help="machine-readable output")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=f"Fetch the programs first: {FETCH_SCRIPT} [DIR]")
    add_arguments(ap)
    args = ap.parse_args(argv)
    res = run_startup(args.programs, args.runs, args.quick, args.smoke, args.sysroot, args.qemu,
                      args.timeout, args.spawn,
                      progress=lambda s: print(s, file=sys.stderr, flush=True))
    if args.json:
        import json
        print(json.dumps(res, indent=2))
    else:
        print(format_startup_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
