"""``tcgpy bench --kvm``: the KVM engine against native execution and
qemu-x86_64 on the loops of tests/guest/x86_64/kvm_bench.c: a syscall loop
(getppid), 4 KiB pipe round trips (a write and a read) and a compute loop.

Each loop runs at N iterations and at 0 (start-up alone) under each runner;
the difference divided by N is the cost of one iteration, both in wall time
and in CPU time (user + system of the process and its children: on a loaded
machine the wall time includes waiting for a CPU, the CPU time does not).
Ratios are KVM / native and KVM / qemu-x86_64 (>1: the KVM engine slower).
Only ratios are printed; nothing here is asserted.

Threads: the compute kernel of tests/guest/x86_64/kvm_threads.c on one
thread and on two (each thread the same rounds), natively and under KVM,
start-up subtracted: the speed-up is twice the one-thread time over the
two-thread time (2.0x: the two threads ran side by side throughout; on a
machine whose other load takes a core, native falls short of 2 as much).

Start-up: the best of ``runs`` wall (and CPU) times of a whole run of a
static hello (tests/guest/bin-x86_64/libc_hello_static) and of the host's
``python3 -c pass`` (dynamically linked: ld.so, libc, the interpreter's
start-up), natively, under KVM (which includes starting tcgpy's own Python)
and under qemu-x86_64."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time

# (name, kvm_bench arguments, iterations at full size, iterations for --smoke, whether
# native and qemu-x86_64 run SYSCALL_SCALE times as many: their syscalls are
# hundreds of times cheaper, and too few would be lost in the start-up's noise)
LOOPS = [("getppid", "getppid", 20000, 20, True), ("pipe 4 KiB", "pipe", 10000, 10, True),
         ("compute", "compute", 300_000_000, 1000, False)]
SYSCALL_SCALE = 50
THREAD_ROUNDS, THREAD_ROUNDS_SMOKE = 300_000_000, 1000     # rounds of each thread
# (name, program, arguments): whole runs timed for start-up; the program is a
# path, or a name of tests/guest/bin-x86_64 (default_program)
STARTUP = [("static hello", "libc_hello_static", ()), ("python3 -c pass", "/usr/bin/python3", ("-c", "pass"))]


def default_program(name: str = "kvm_bench") -> str | None:
    """A program of a source checkout's tests/guest/bin-x86_64, if built."""
    path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                         "tests", "guest", "bin-x86_64", name))
    return path if os.access(path, os.X_OK) else None


def runners(qemu: str | None) -> dict[str, list[str] | None]:
    """The command prefix of each runner (None: not available here, with the reason printed)."""
    return {"native": [],
            "kvm": [sys.executable, "-m", "tcgpy", "run", "--accel", "kvm"],
            "qemu": [qemu] if qemu else None}


def _time(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``cmd`` (CPU: its and its children's user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.decode(errors='replace')[-300:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _per_iteration(prefix: list[str], program: str, mode: str, n: int, runs: int) -> tuple[float, float]:
    """Best-of-``runs`` (wall, CPU) seconds per iteration, start-up subtracted."""
    base = [min(x) for x in zip(*(_time(prefix + [program, mode, "0"]) for _ in range(runs)))]
    full = [min(x) for x in zip(*(_time(prefix + [program, mode, str(n)]) for _ in range(runs)))]
    return max(full[0] - base[0], 0.0) / n, max(full[1] - base[1], 0.0) / n


def run_kvm_bench(program: str | None = None, qemu: str | None = None, smoke: bool = False,
                  runs: int = 3) -> dict:
    from .accel import kvm_status
    program = program or default_program()
    out: dict = {"rows": [], "skipped": {}}
    if program is None:
        out["skipped"]["all"] = "no kvm_bench: build it with tests/guest/x86_64/build.sh"
        return out
    problem = kvm_status()
    qemu = qemu or shutil.which("qemu-x86_64")
    avail = runners(qemu)
    if problem:
        avail["kvm"] = None
        out["skipped"]["kvm"] = f"KVM cannot run here: {problem}"
    if avail["qemu"] is None:
        out["skipped"]["qemu"] = "no qemu-x86_64 (the qemu-user package)"
    runs = 1 if smoke else runs
    for name, mode, n, n_smoke, scaled in LOOPS:
        n = n_smoke if smoke else n
        row = {"loop": name}
        for runner, prefix in avail.items():
            if prefix is not None:
                iters = n * SYSCALL_SCALE if scaled and runner != "kvm" else n
                wall, cpu = _per_iteration(prefix, program, mode, iters, runs)
                row[runner] = {"iterations": iters, "wall_us": wall * 1e6, "cpu_us": cpu * 1e6}
        out["rows"].append(row)
    out["startup"] = startup_times(avail, 1 if smoke else max(runs, 5), out["skipped"])
    threads = default_program("kvm_threads")
    if threads is None:
        out["skipped"]["threads"] = "no kvm_threads: build it with tests/guest/x86_64/build.sh"
    else:
        out["threads"] = {}
        for runner in ("native", "kvm"):
            if avail[runner] is not None:
                out["threads"][runner] = thread_speedup(avail[runner], threads,
                                                        THREAD_ROUNDS_SMOKE if smoke else THREAD_ROUNDS, runs)
    return out


def startup_times(avail: dict, runs: int, skipped: dict) -> dict:
    """{program: {runner: {"wall_s", "cpu_s"}}}: best of ``runs`` whole runs each."""
    out = {}
    for name, program, args in STARTUP:
        path = program if os.path.isabs(program) else default_program(program)
        if path is None or not os.access(path, os.X_OK):
            skipped[name] = f"no {program} here"
            continue
        out[name] = {}
        for runner, prefix in avail.items():
            if prefix is not None:
                wall, cpu = (min(x) for x in zip(*(_time(prefix + [path, *args]) for _ in range(runs))))
                out[name][runner] = {"wall_s": wall, "cpu_s": cpu}
    return out


def thread_speedup(prefix: list[str], program: str, rounds: int, runs: int) -> dict:
    """Best-of-``runs`` wall seconds of the compute kernel on one and on two
    threads (start-up subtracted), and the speed-up of two."""
    def best(threads: int, n: int) -> float:
        return min(_time(prefix + [program, "compute", str(threads), str(n)])[0] for _ in range(runs))
    one = max(best(1, rounds) - best(1, 0), 0.0)
    two = max(best(2, rounds) - best(2, 0), 0.0)
    return {"rounds": rounds, "one_s": one, "two_s": two, "speedup": 2 * one / two if two > 0 else 0.0}


def _ratio(a: dict | None, b: dict | None, key: str) -> str:
    if not a or not b or b[key] <= 0:
        return "-"
    return f"{a[key] / b[key]:.2f}x"


def format_kvm_report(res: dict) -> str:
    lines = [__doc__.split("\n\n")[0].replace("\n", " "), ""]
    head = f"{'loop':<12} {'per iteration (us, wall / CPU)':<52} {'KVM/native':>12} {'KVM/qemu':>12}"
    lines += [head, f"{'':<12} {'native':<17} {'KVM':<17} {'qemu-x86_64':<17} {'(CPU)':>12} {'(CPU)':>12}"]
    for row in res["rows"]:
        cells = []
        for runner in ("native", "kvm", "qemu"):
            r = row.get(runner)
            cells.append(f"{r['wall_us']:.3g} / {r['cpu_us']:.3g}" if r else "-")
        lines.append(f"{row['loop']:<12} {cells[0]:<17} {cells[1]:<17} {cells[2]:<17} "
                     f"{_ratio(row.get('kvm'), row.get('native'), 'cpu_us'):>12} "
                     f"{_ratio(row.get('kvm'), row.get('qemu'), 'cpu_us'):>12}")
    startup = res.get("startup") or {}
    if startup:
        lines += ["", f"{'start-up':<16} {'best wall s (CPU s)':<52} {'KVM/native':>12} {'KVM/qemu':>12}",
                  f"{'':<16} {'native':<17} {'KVM':<17} {'qemu-x86_64':<17} {'(wall)':>12} {'(wall)':>12}"]
        for name, by_runner in startup.items():
            cells = [f"{r['wall_s']:.3f} ({r['cpu_s']:.3f})" if r else "-"
                     for r in (by_runner.get(x) for x in ("native", "kvm", "qemu"))]
            lines.append(f"{name:<16} {cells[0]:<17} {cells[1]:<17} {cells[2]:<17} "
                         f"{_ratio(by_runner.get('kvm'), by_runner.get('native'), 'wall_s'):>12} "
                         f"{_ratio(by_runner.get('kvm'), by_runner.get('qemu'), 'wall_s'):>12}")
    threads = res.get("threads") or {}
    if threads:
        lines += ["", "two compute threads (each the same rounds), wall s: one thread / two threads -> speed-up"]
        for runner, r in threads.items():
            lines.append(f"  {runner:<8} {r['one_s']:.3g} / {r['two_s']:.3g} -> {r['speedup']:.2f}x")
    for what, why in res["skipped"].items():
        lines.append(f"skipped {what}: {why}")
    return "\n".join(lines)
