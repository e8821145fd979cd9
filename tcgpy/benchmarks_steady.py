"""Steady-state benchmark: long runs of real AArch64 programs nobody here
wrote (Debian 12's openssl, xz, zstd, gzip, bzip2, sqlite3, python3, perl,
sort, grep, sha256sum/b2sum/md5sum, gawk and lua, fetched by
``bench/get_startup_programs.sh``), each doing a fixed amount of work sized
so that qemu-aarch64 takes 2-5 s, plus the project's own kernels
(tests/guest/bin/fs_bench).  Here translation is a small part of the time:
what counts is how fast the translated code runs.

Each workload runs WARMUP_RUNS times under ``tcgpy run`` with a fresh
``TCGPY_CACHE_DIR`` to fill the translation cache (``tcgpy cache wait``
after each), then is timed
(wall seconds, best of N) under tcgpy with that warm cache and under
**qemu-aarch64** (``-L SYSROOT``), alternately.  Ratios are time ratios,
tcgpy / qemu-aarch64: above 1 tcgpy is slower (lower is better).  Peak RSS
is each process's own (``os.wait4``); a note marks tcgpy above 3x qemu's.
Every tcgpy run's stdout (as a SHA-256) and exit status must equal qemu's.

openssl does fixed work on a file (``dgst``, ``enc``, ``mac``) rather than
``openssl speed``, which runs each test for a fixed time, so that its wall
time would say nothing and its output could not be checked.  ``enc`` refuses
AEAD ciphers, so aes-256-gcm is timed as its two halves (``enc
-aes-256-ctr`` and ``mac GMAC``) and chacha20-poly1305 as ``enc -chacha20``
and ``mac Poly1305``.  openssl picks its code by AT_HWCAP: tcgpy advertises
only what its frontend implements (no SHA-512 instructions), qemu more.

    python bench/steady_bench.py [--runs 3] [--quick] [--scale F] [--workloads NAME...] [--json]
    tcgpy bench --steady [...]
"""
from __future__ import annotations

import argparse
import lzma
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .benchmarks_realprog import (FETCH_SCRIPT, RATIO_DIRECTION, ROOT, CacheCtl, Outcome, best, default_sysroot,
                                  fetch_hint, find_qemu, first_failure, fmt_s, fmt_x, geomean, guest_env,
                                  report_tail, run_steps, tcgpy_command)

GUEST_BIN = ROOT / "tests" / "guest" / "bin"
DEFAULT_TIMEOUT = 900.0
QUICK_SCALE = 0.1
RSS_NOTE_FACTOR = 3.0
KEY128, KEY256 = "00112233445566778899aabbccddeeff", "000102030405060708090a0b0c0d0e0f" * 2
IV128 = "0f0e0d0c0b0a09080706050403020100"
MiB = 1 << 20


# ---------------------------------------------------------------- inputs


# Two warm-up runs: the second still compiles the hot loops whose region
# came out differently from the first run's (that run translated lazily; the
# second finds whole pages loaded from the cache, so a loop's region takes in
# more blocks); from the third on, nothing is compiled (xz -d: 14.7, 15.4,
# then 3.8 s).
WARMUP_RUNS = 2

def _words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(n)]


def text_lines(count: int, seed: int = 1) -> bytes:
    """``count`` lines of four fields (word, word+number, number, hex tag)
    from a fixed seed: the input of sort, grep and gawk, and the text part
    of the mixed file."""
    rng = random.Random(seed)
    words = _words(rng, 3000)
    pick, num = rng.choices, rng.randrange
    out = [f"{a} {b}{num(1000)} {num(1_000_000)} {num(1 << 32):08x}"
           for a, b in zip(pick(words, k=count), pick(words, k=count))]
    return ("\n".join(out) + "\n").encode()


def mixed_bytes(size: int, seed: int = 2) -> bytes:
    """``size`` bytes of what compressors meet: text (5/8), a little-endian
    table of slowly growing integers (2/8) and random bytes (1/8), in 64 KiB
    chunks, from a fixed seed."""
    rng = random.Random(seed)
    text = text_lines(size // 40 + 2000, seed)
    parts, n, t, v = [], 0, 0, 0
    while n < size:
        kind = rng.randrange(8)
        if kind == 0:
            chunk = rng.randbytes(1 << 16)
        elif kind < 3:
            vals = []
            for _ in range(1 << 13):
                v += rng.randrange(64)
                vals.append(v & 0xFFFFFFFF)
            chunk = b"".join(x.to_bytes(4, "little") + (x * 2654435761 & 0xFFFF).to_bytes(4, "little")
                             for x in vals)
        else:
            if t + (1 << 16) > len(text):
                t = 0
            chunk, t = text[t:t + (1 << 16)], t + (1 << 16)
        parts.append(chunk)
        n += len(chunk)
    return b"".join(parts)[:size]


@dataclass
class Ctx:
    """Where things are (the sysroot, tests/guest/bin, the work directory)
    and the input files, made on first use and kept for the whole run."""
    sysroot: Path
    bin: Path
    work: Path
    prepare: Callable[[list[str], Path], None] | None = None   # runs a guest command into a file, untimed

    def s(self, path: str) -> str:
        return str(self.sysroot / path.lstrip("/"))

    def _file(self, name: str, make: Callable[[], bytes]) -> str:
        p = self.work / name
        if not p.exists():
            p.write_bytes(make())
        return name

    def text(self, name: str, content: str) -> str:
        return self._file(name, content.encode)

    def mixed(self, mib: float) -> str:
        n = int(mib * MiB)
        return self._file(f"mixed-{n}.bin", lambda: mixed_bytes(n))

    def spread(self, make: Callable[[int], str], total: int, unit: int) -> list[str]:
        """``total`` (MiB, lines) as files of ``unit`` made by ``make``: the
        same file named again and again, and one for the remainder; fixed
        work at any scale without one huge file."""
        return [make(unit)] * (total // unit) + ([make(total % unit)] if total % unit else [])

    def big(self, mib: int) -> str:
        """The 16 MiB mixed file repeated to ``mib`` MiB: for hashes and
        ciphers, whose speed does not depend on the bytes."""
        src = self.mixed(16.0)
        return self._file(f"big-{mib}.bin", lambda: (self.work / src).read_bytes() * (mib // 16)
                          + (self.work / src).read_bytes()[:mib % 16 * MiB])

    def lines(self, count: int) -> str:
        return self._file(f"lines-{count}.txt", lambda: text_lines(count))

    def xz(self, mib: float) -> str:
        src = self.mixed(mib)
        return self._file(src + ".xz", lambda: lzma.compress((self.work / src).read_bytes(), preset=1))

    def zst(self, mib: int) -> str:
        """The mixed file compressed by the sysroot's zstd (-3), run untimed
        by the reference (Python has no zstd in its standard library)."""
        src = self.mixed(float(mib))
        dst = self.work / (src + ".zst")
        if not dst.exists():
            self.prepare([self.s("/usr/bin/zstd"), "-3", "-q", "-c", src], dst)
        return dst.name


@dataclass
class Workload:
    name: str
    program: str                      # a path in the sysroot; if not dynamic, in tests/guest/bin
    # (ctx, size) -> the program's arguments for each command, run one after
    # the other in the work directory: their times add up, outputs concatenate
    args: Callable[[Ctx, float], list[list[str]]]
    size: float                       # at scale 1: MiB, lines, rows or loop iterations
    dynamic: bool = True              # run with -L SYSROOT
    stdin: Callable[[Ctx, float], str] | None = None   # makes a file of the work directory
    note: str = ""

    def path(self, ctx: Ctx) -> Path:
        return Path(ctx.s(self.program) if self.dynamic else ctx.bin / self.program)

    def steps(self, ctx: Ctx, size: float) -> list[list[str]]:
        return [[str(self.path(ctx)), *a] for a in self.args(ctx, size)]

    def sized(self, scale: float) -> float:
        """The workload's size at ``scale``; counts stay whole and >= 1."""
        v = self.size * scale
        return v if isinstance(self.size, float) else max(1, round(v))


def _dgst(alg: str) -> Callable[[Ctx, float], list[list[str]]]:
    return lambda c, mib: [["dgst", "-" + alg, *c.spread(c.big, mib, 64)]]


def _enc(cipher: str, key: str, c: Ctx, mib: float) -> list[str]:
    return ["enc", "-" + cipher, "-K", key, "-iv", IV128, "-in", c.big(mib)]


def _mac(c: Ctx, mib: float, *args: str) -> list[str]:
    return ["mac", "-in", c.big(mib), *args]


def _files(c: Ctx, mib: int) -> list[list[str]]:
    return [c.spread(lambda m: c.mixed(float(m)), mib, 16)]


SQL = """\
create table t(id integer primary key, k integer, v text);
with recursive c(x) as (select 1 union all select x + 1 from c where x < {n})
  insert into t select x, (x * 7919) % 10007, hex(x * x) from c;
create index tk on t(k);
select k, count(*), sum(length(v)) from t group by k order by 2 desc, 1 limit 3;
select count(*), sum(id % 7) from t where k between 100 and 3000;
update t set v = v || 'x' where k % 3 = 0;
select sum(length(v)) from t;
"""
PYTHON_LOOP = """\
d = {}
s = 0
for i in range(@N@):
    k = "k%d" % (i % 5003)
    d[k] = d.get(k, 0) + i * i % 7
    s += len(str(i)) + (i ^ (i >> 3)) % 11
print(len(d), s, sum(d.values()))
"""
PERL_LOOP = """\
my %d; my $s = 0;
for my $i (0 .. @N@ - 1) {
    my $k = "k" . ($i % 5003);
    $d{$k} += $i * $i % 7;
    $s += length("$i") + ($i ^ ($i >> 3)) % 11;
}
my $t = 0; $t += $_ for values %d;
print scalar(keys %d), " $s $t\\n";
"""
LUA_LOOP = """\
local d, s = {}, 0
for i = 0, @N@ - 1 do
  local k = "k" .. (i % 5003)
  d[k] = (d[k] or 0) + i * i % 7
  s = s + #tostring(i) + (i ~ (i >> 3)) % 11
end
local n, t = 0, 0
for _, v in pairs(d) do n = n + 1; t = t + v end
print(n, s, t)
"""
GAWK_AGG = ('BEGIN { PROCINFO["sorted_in"] = "@ind_str_asc" } '
            '{ n[$1]++; s[$1] += $3; if ($3 > m[$1]) m[$1] = $3; t[substr($4, 1, 2)]++ } '
            'END { for (k in n) { c++; x += s[k] % 9973 + m[k] % 7 } print c, x; for (k in t) print k, t[k] }')
GREP_RE = r"^[a-m][a-z]* [a-z]*(ab|cd|ef|q)[a-z]*[0-9]+ [0-9]*7[0-9]* [0-9a-f]*(0|f)$"


def _code(template: str, n: int) -> str:
    return template.replace("@N@", str(n))


# Sizes at scale 1: qemu-aarch64 took 1-4 s for each (most 2-3 s) when
# calibrated on the 2-core development machine, 2026-12-07; every table
# prints the qemu time it measured.
WORKLOADS = [
    Workload("openssl-sha256", "/usr/bin/openssl", _dgst("sha256"), 192, note="N MiB"),
    Workload("openssl-sha512", "/usr/bin/openssl", _dgst("sha512"), 192, note="N MiB"),
    Workload("openssl-md5", "/usr/bin/openssl", _dgst("md5"), 1024, note="N MiB"),
    Workload("openssl-aes-128-cbc", "/usr/bin/openssl", lambda c, m: [_enc("aes-128-cbc", KEY128, c, m)], 128,
             note="N MiB"),
    Workload("openssl-aes-256-gcm", "/usr/bin/openssl", lambda c, m: [
        _enc("aes-256-ctr", KEY256, c, m),
        _mac(c, m, "-cipher", "AES-256-GCM", "-macopt", "hexkey:" + KEY256, "-macopt", "hexiv:" + IV128[:24],
             "GMAC")], 64, note="N MiB: enc -aes-256-ctr + mac GMAC"),
    Workload("openssl-chacha20-poly1305", "/usr/bin/openssl", lambda c, m: [
        _enc("chacha20", KEY256, c, m),
        _mac(c, m, "-macopt", "hexkey:" + KEY256, "Poly1305")], 96, note="N MiB: enc -chacha20 + mac Poly1305"),
    Workload("xz-9", "/usr/bin/xz", lambda c, m: [["-9", "-T1", "-c", c.mixed(m)]], 3.0, note="N MiB"),
    Workload("xz-d", "/usr/bin/xz", lambda c, m: [["-d", "-c", c.xz(m)]], 20.0, note="N MiB"),
    Workload("zstd-19", "/usr/bin/zstd", lambda c, m: [["-19", "-T1", "-q", "-c", c.mixed(m)]], 3.0, note="N MiB"),
    Workload("zstd-d", "/usr/bin/zstd", lambda c, m: [["-d", "-q", "-c", *c.spread(c.zst, m, 16)]], 480,
             note="N MiB"),
    Workload("gzip-9", "/bin/gzip", lambda c, m: [["-9", "-c", c.mixed(m)]], 20.0, note="N MiB"),
    Workload("bzip2", "/bin/bzip2", lambda c, m: [["-9", "-c", c.mixed(m)]], 12.0, note="N MiB"),
    Workload("sqlite3", "/usr/bin/sqlite3", lambda c, n: [[]], 150_000, note="N rows",
             stdin=lambda c, n: c.text(f"steady-{n}.sql", SQL.format(n=n))),
    Workload("python3", "/usr/bin/python3.11", lambda c, n: [["-S", "-c", _code(PYTHON_LOOP, n)]], 600_000,
             note="N iterations"),
    Workload("perl", "/usr/bin/perl", lambda c, n: [["-e", _code(PERL_LOOP, n)]], 1_000_000,
             note="N iterations"),
    Workload("sort", "/usr/bin/sort", lambda c, n: [[c.lines(n)]], 1_500_000, note="N lines"),
    Workload("grep-E", "/bin/grep", lambda c, n: [["-E", "-c", "-h", GREP_RE, *c.spread(c.lines, n, 1_000_000)]],
             12_000_000, note="N lines"),
    Workload("sha256sum", "/usr/bin/sha256sum", _files, 320, note="N MiB"),
    Workload("b2sum", "/usr/bin/b2sum", _files, 768, note="N MiB"),
    Workload("md5sum", "/usr/bin/md5sum", _files, 1024, note="N MiB"),
    Workload("gawk", "/usr/bin/gawk", lambda c, n: [[GAWK_AGG, c.lines(n)]], 500_000, note="N lines"),
    Workload("lua5.4", "/usr/bin/lua5.4", lambda c, n: [["-e", _code(LUA_LOOP, n)]], 700_000,
             note="N iterations"),
    Workload("fs_bench-hash", "fs_bench", lambda c, n: [["hash", str(n)]], 250_000_000, dynamic=False,
             note="tests/guest/fs_bench.c"),
    Workload("fs_bench-matmul", "fs_bench", lambda c, n: [["matmul", str(n)]], 300, dynamic=False,
             note="tests/guest/fs_bench.c"),
]
WORKLOAD_NAMES = [w.name for w in WORKLOADS]


# ---------------------------------------------------------------- running

def select_workloads(names: list[str] | None) -> list[Workload]:
    if not names:
        return list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOAD_NAMES]
    if unknown:
        raise SystemExit(f"unknown steady-state workload(s): {', '.join(unknown)} "
                         f"(choose from {', '.join(WORKLOAD_NAMES)})")
    return [w for w in WORKLOADS if w.name in names]


def bench_workload(w: Workload, ctx: Ctx, size: float, tcgpy: list[str], qemu: str | None, runs: int,
                   timeout: float, env: dict[str, str], cache: CacheCtl, scratch: Path) -> dict:
    steps = w.steps(ctx, size)
    stdin = ctx.work / w.stdin(ctx, size) if w.stdin else None
    lflag = ["-L", str(ctx.sysroot)] if w.dynamic else []
    cdir = Path(tempfile.mkdtemp(prefix=f"cache-{w.name}-", dir=scratch))
    tenv = {**env, "TCGPY_CACHE_DIR": str(cdir)}
    times: dict[str, list[float | None]] = {"tcgpy": [], "qemu": []}
    rss: dict[str, int] = {"tcgpy": 0, "qemu": 0}
    outcomes: dict[str, Outcome] = {}

    def one(kind: str, prefix: list[str], e: dict[str, str], timed: bool = True) -> None:
        o = run_steps(prefix, steps, e, ctx.work, stdin, timeout, digest=True, rss=True)
        if timed:
            times[kind].append(o.seconds)
            rss[kind] = max(rss[kind], o.maxrss_kib)
        if kind not in outcomes or (o.stdout, o.status) != (outcomes[kind].stdout, outcomes[kind].status):
            outcomes.setdefault(kind, o)
            if o is not outcomes[kind]:
                outcomes[kind + "#"] = o

    # The warm-up runs fill the translation cache (and the page cache).
    t0 = time.perf_counter()
    for _ in range(WARMUP_RUNS):
        one("tcgpy", tcgpy + ["run"] + lflag, tenv, timed=False)
        cache.wait(cdir, timeout)
        if outcomes["tcgpy"].seconds is None:
            break
    warmup_s = time.perf_counter() - t0
    if outcomes["tcgpy"].seconds is None:
        # a warm-up that ran out of time says enough: tcgpy takes > timeout
        times["tcgpy"].append(None)
        rss["tcgpy"] = outcomes["tcgpy"].maxrss_kib
        if qemu:
            one("qemu", [qemu] + lflag, env)
    else:
        for _ in range(runs):
            one("tcgpy", tcgpy + ["run"] + lflag, tenv)
            if qemu:
                one("qemu", [qemu] + lflag, env)
    cache.wait(cdir, timeout)          # the detached writer of the last run, before the directory goes
    shutil.rmtree(cdir, ignore_errors=True)

    t, q = best(times["tcgpy"]), best(times["qemu"])
    row = {"workload": w.name, "size": size, "runs": runs, "note": w.note, "timeout_s": timeout,
           "command": " ; ".join(" ".join(s if len(s) < 60 else s[:57] + "..." for s in step) for step in steps),
           "tcgpy_s": t, "qemu_s": q, "ratio": t / q if t and q else None, "warmup_s": warmup_s,
           # tcgpy timed out every time: its ratio is at least this
           "ratio_at_least": timeout / q if t is None and q else None,
           "tcgpy_rss_mib": rss["tcgpy"] / 1024 or None, "qemu_rss_mib": rss["qemu"] / 1024 or None,
           "timeouts": sorted({k for k, v in times.items() if None in v})}
    row["rss_ratio"] = (row["tcgpy_rss_mib"] / row["qemu_rss_mib"]
                        if row["tcgpy_rss_mib"] and row["qemu_rss_mib"] else None)
    ref = outcomes.get("qemu")
    row["reference"] = "qemu-aarch64" if ref else None
    # a run killed at the timeout has no output to compare (it is reported as a timeout)
    finished = {k: o for k, o in outcomes.items() if o.seconds is not None}
    compared = [k for k in finished if ref and not k.startswith("qemu")]
    row["differs"] = sorted({k.rstrip("#") for k in compared
                             if (finished[k].stdout, finished[k].status) != (ref.stdout, ref.status)})
    row["same_output"] = not row["differs"] if compared else None
    row["status"] = {k: first_failure(o) for k, o in finished.items() if not k.endswith("#")}
    if row["differs"] or any(row["status"].values()):
        row["stderr_tail"] = {k: o.stderr.decode(errors="replace")[-400:]
                              for k, o in outcomes.items() if not k.endswith("#") and o.stderr}
    return row


def run_steady(names: list[str] | None = None, runs: int = 3, scale: float = 1.0,
               sysroot: str | os.PathLike | None = None, qemu: str | None = None,
               timeout: float = DEFAULT_TIMEOUT, progress=None) -> dict:
    """Time the steady-state workloads at ``scale`` (1: qemu-aarch64 takes
    ~2-5 s); returns the rows, the geomean and notes."""
    sysroot = Path(sysroot) if sysroot else default_sysroot()
    notes: list[str] = []
    qemu = find_qemu(qemu, notes)
    tcgpy = tcgpy_command()
    env = guest_env(timeout, notes)
    cache = CacheCtl(tcgpy, env)
    rows, skipped = [], []
    workloads = select_workloads(names)
    with tempfile.TemporaryDirectory(prefix="tcgpy-steady-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)
        work = scratch / "work"
        work.mkdir()
        runner = [qemu, "-L", str(sysroot)] if qemu else tcgpy + ["run", "-L", str(sysroot)]

        def prepare(argv: list[str], dst: Path) -> None:
            with open(dst, "wb") as f:
                subprocess.run(runner + argv, cwd=work, stdout=f, env=env, check=True, timeout=timeout)
        ctx = Ctx(sysroot, GUEST_BIN, work, prepare)
        for i, w in enumerate(workloads):
            prog = w.path(ctx)
            if not prog.exists():
                where = "build tests/guest (tests/guest/build.sh)" if not w.dynamic else fetch_hint(sysroot)
                skipped.append({"workload": w.name, "missing": str(prog), "reason": f"missing {prog}: {where}"})
                if progress:
                    progress(f"[{i + 1}/{len(workloads)}] {w.name}: skipped ({skipped[-1]['reason']})")
                continue
            t0 = time.perf_counter()
            row = bench_workload(w, ctx, w.sized(scale), tcgpy, qemu, runs, timeout, env, cache, scratch)
            rows.append(row)
            if progress:
                progress(f"[{i + 1}/{len(workloads)}] {w.name}: tcgpy {fmt_s(row['tcgpy_s'])} s, "
                         f"qemu {fmt_s(row['qemu_s'])} s, {fmt_x(row['ratio'])} "
                         f"({time.perf_counter() - t0:.0f} s)")
    if cache.problem:
        notes.append(cache.problem)
    big_rss = [f"{r['workload']} {r['tcgpy_rss_mib']:.0f}/{r['qemu_rss_mib']:.0f}" for r in rows
               if r["rss_ratio"] and r["rss_ratio"] > RSS_NOTE_FACTOR]
    if big_rss:
        notes.append(f"tcgpy's peak RSS is more than {RSS_NOTE_FACTOR:g}x qemu-aarch64's (MiB, tcgpy/qemu) in "
                     f"{len(big_rss)} of {len(rows)} workloads: {', '.join(big_rss)}")
    for r in rows:
        if r["timeouts"]:
            notes.append(f"{r['workload']}: timed out ({', '.join(r['timeouts'])}) after {timeout:.0f} s")
        if r["differs"]:
            notes.append(f"{r['workload']}: stdout or exit status differs from qemu-aarch64 "
                         f"({', '.join(r['differs'])}); statuses {r['status']}")
        elif any(r["status"].values()):
            notes.append(f"{r['workload']}: non-zero exit status {r['status']}")
    with_q = [r for r in rows if r["ratio"] or r["ratio_at_least"]]
    ratios = [r["ratio"] or r["ratio_at_least"] for r in with_q]
    geo = {"ratio": geomean(ratios), "workloads": len(with_q),
           "lower_bound": any(r["ratio_at_least"] for r in with_q),
           "over_2x": [r["workload"] for r, x in zip(with_q, ratios) if x > 2.0]}
    if geo["lower_bound"]:
        notes.append("the geomean is a lower bound: it counts each timed-out workload as timeout / qemu time")
    return {"runs": runs, "scale": scale, "sysroot": str(sysroot), "qemu": qemu, "rows": rows,
            "skipped": skipped, "geomean": geo, "notes": notes}


def format_steady_report(res: dict) -> str:
    out = [f"Steady state of real programs: wall seconds, best of {res['runs']} after {WARMUP_RUNS} warm-up runs "
           f"(warm translation cache), scale {res['scale']:g}",
           f"  {RATIO_DIRECTION}; RSS = peak resident MiB of the process",
           "",
           f"{'workload':<26} {'size':>10} {'tcgpy s':>8} {'qemu s':>7} {'tcgpy/qemu':>10} "
           f"{'tcgpy MiB':>9} {'qemu MiB':>8}  output"]
    for r in res["rows"]:
        if r["same_output"] is None:
            mark = "?"
        else:
            mark = "same" if r["same_output"] else "DIFFERS (" + ",".join(r["differs"]) + ")"
        if r["timeouts"]:
            mark += " TIMEOUT(" + ",".join(r["timeouts"]) + ")"
        if r["rss_ratio"] and r["rss_ratio"] > RSS_NOTE_FACTOR:
            mark += f" RSS {r['rss_ratio']:.0f}x"
        size = f"{r['size']:g}" if isinstance(r["size"], float) else f"{r['size']:,}"
        rss = [f"{v:.0f}" if v else "-" for v in (r["tcgpy_rss_mib"], r["qemu_rss_mib"])]
        t = fmt_s(r["tcgpy_s"]) if r["tcgpy_s"] else ">" + fmt_s(r["timeout_s"])
        ratio = fmt_x(r["ratio"]) if r["ratio"] or not r["ratio_at_least"] else ">" + fmt_x(r["ratio_at_least"])
        out.append(f"{r['workload']:<26} {size:>10} {t:>8} {fmt_s(r['qemu_s']):>7} "
                   f"{ratio:>10} {rss[0]:>9} {rss[1]:>8}  {mark}")
    g = res["geomean"]
    if res["rows"]:
        geo = (">" if g["lower_bound"] else "") + fmt_x(g["ratio"])
        out.append(f"{'geomean':<26} {'':>10} {'':>8} {'':>7} {geo:>10}  "
                   f"(over {g['workloads']} workloads; above 2.0x: {', '.join(g['over_2x']) or 'none'})")
    out += report_tail(res, "workload")
    return "\n".join(out)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--runs", type=int, default=3, help="best of N timed runs after the warm-up runs (default 3)")
    ap.add_argument("--quick", action="store_true", help=f"1 run, scale {QUICK_SCALE} (for development)")
    ap.add_argument("--scale", type=float, default=None,
                    help="work multiplier (default 1: qemu-aarch64 takes ~2-5 s per workload)")
    ap.add_argument("--workloads", nargs="+", metavar="NAME", choices=WORKLOAD_NAMES,
                    help=f"only these ({', '.join(WORKLOAD_NAMES)})")
    ap.add_argument("--sysroot", help=f"the sysroot {FETCH_SCRIPT} made (default {default_sysroot()})")
    ap.add_argument("--qemu", help="path of qemu-aarch64 (default: from PATH; skipped if absent)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help=f"seconds allowed to each command (default {DEFAULT_TIMEOUT:.0f})")
    ap.add_argument("--json", action="store_true", help="machine-readable output")


def runs_and_scale(quick: bool, runs: int, scale: float | None) -> tuple[int, float]:
    """--quick: 1 run at QUICK_SCALE (an explicit scale wins); else scale 1."""
    return (1 if quick else runs), (scale if scale is not None else (QUICK_SCALE if quick else 1.0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=f"Fetch the programs first: {FETCH_SCRIPT} [DIR]")
    add_arguments(ap)
    args = ap.parse_args(argv)
    runs, scale = runs_and_scale(args.quick, args.runs, args.scale)
    res = run_steady(args.workloads, runs, scale, args.sysroot, args.qemu, args.timeout,
                     progress=lambda s: print(s, file=sys.stderr, flush=True))
    if args.json:
        import json
        print(json.dumps(res, indent=2))
    else:
        print(format_steady_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
