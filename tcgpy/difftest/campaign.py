"""Difftest campaigns: many cases, optionally over worker processes, each with
its own pair of emulators; mismatches minimized and written as case files.

Case ``i`` of seed ``s`` is generated from (arch, s, i) alone, so a campaign
gives the same cases whatever the number of workers, and a finding's label
("seed 7 case 1234") regenerates it.
"""
from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from .casefile import write_case
from .engine import Engine, campaign_case, select_classes
from .minimize import minimize_result

CHUNK = 20          # cases per work item: small enough for a smooth progress line


@dataclass(frozen=True)
class Spec:
    arch: str
    seed: int
    length: int
    classes: tuple[str, ...]
    out: str | None = None
    minimize: bool = True
    budget: int = 600
    states_per_code: int = 4


@dataclass
class ClassStats:
    cases: int = 0
    passed: int = 0
    mismatched: int = 0
    known: int = 0

    def add(self, other: "ClassStats") -> None:
        self.cases += other.cases
        self.passed += other.passed
        self.mismatched += other.mismatched
        self.known += other.known


@dataclass
class Finding:
    index: int
    label: str
    primary: str                  # class the case was drawn for
    culprit: list[str]            # classes of the minimized case's instructions
    length: int                   # instructions after minimization
    original_length: int
    fields: list[str]
    summary: str
    disassembly: list[str]
    path: str | None = None
    minimized: bool = True


@dataclass
class ChunkResult:
    stats: dict[str, ClassStats] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    known: dict[str, int] = field(default_factory=dict)    # known-difference name -> count
    times: dict[str, float] = field(default_factory=dict)  # seconds, by stage
    cases: int = 0

    def merge(self, other: "ChunkResult") -> None:
        for k, v in other.stats.items():
            self.stats.setdefault(k, ClassStats()).add(v)
        self.findings.extend(other.findings)
        for k, v in other.known.items():
            self.known[k] = self.known.get(k, 0) + v
        for k, v in other.times.items():
            self.times[k] = self.times.get(k, 0.0) + v
        self.cases += other.cases


@dataclass
class Summary:
    arch: str
    seed: int
    count: int
    length: int
    states_per_code: int
    jobs: int
    classes: list[str]
    stats: dict[str, ClassStats]
    findings: list[Finding]
    known: dict[str, int]
    times: dict[str, float]
    elapsed: float

    @property
    def mismatches(self) -> int:
        return len(self.findings)

    @property
    def cases_per_s(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def exit_status(self) -> int:
        return 1 if self.findings else 0

    def to_json(self) -> dict:
        return {
            "arch": self.arch, "seed": self.seed, "count": self.count, "length": self.length,
            "states_per_code": self.states_per_code,
            "jobs": self.jobs, "classes": self.classes, "elapsed_s": round(self.elapsed, 3),
            "cases_per_s": round(self.cases_per_s, 1),
            "passed": sum(s.passed for s in self.stats.values()),
            "mismatches": self.mismatches,
            "known": sum(self.known.values()),
            "known_by_entry": self.known,
            "per_class": {k: asdict(v) for k, v in sorted(self.stats.items())},
            "time_s": {k: round(v, 3) for k, v in sorted(self.times.items())},
            "findings": [asdict(f) for f in self.findings],
            "exit_status": self.exit_status,
        }


class Worker:
    """One process's engines and the spec it runs cases of."""

    def __init__(self, spec: Spec, engine: Engine | None = None):
        self.spec = spec
        self.classes = select_classes(spec.arch, spec.classes)
        self.engine = engine or Engine(spec.arch)

    def run(self, indices: range | list[int]) -> ChunkResult:
        spec, eng = self.spec, self.engine
        out = ChunkResult()
        t_gen = t_min = 0.0
        stages0 = self._stage_times()
        for i in indices:
            t0 = time.perf_counter()
            case = campaign_case(spec.arch, self.classes, spec.seed, i, spec.length,
                                 spec.states_per_code)
            t_gen += time.perf_counter() - t0
            r = eng.run(case)
            st = out.stats.setdefault(case.primary, ClassStats())
            st.cases += 1
            out.cases += 1
            if r.status == "pass":
                st.passed += 1
            elif r.status == "known":
                st.known += 1
                out.known[r.known.name] = out.known.get(r.known.name, 0) + 1
            else:
                st.mismatched += 1
                t0 = time.perf_counter()
                small = minimize_result(eng, r, spec.budget) if spec.minimize else r
                t_min += time.perf_counter() - t0
                out.findings.append(self._finding(i, r, small))
        out.times = dict(eng.times)
        out.times["generate"] = t_gen
        out.times["minimize"] = t_min
        # The subject's share, split by translation stage (includes minimizer reruns).
        for k, v in self._stage_times().items():
            out.times[f"tcgpy:{k}"] = v - stages0.get(k, 0.0)
        eng.times.clear()
        return out

    def _stage_times(self) -> dict[str, float]:
        sub = self.engine.subject
        return sub.stage_times() if hasattr(sub, "stage_times") else {}

    def _finding(self, index: int, original, small) -> Finding:
        from .casefile import disassemble
        path = None
        if self.spec.out:
            path = write_case(self.spec.out, small, index=index,
                              note=f"minimized from {len(original.case.words)} instructions "
                                   f"({original.case.label})")
        return Finding(index, original.case.label, original.case.primary,
                       sorted(set(small.case.classes)), len(small.case.words),
                       len(original.case.words), small.mismatch.names, str(small.mismatch),
                       disassemble(small.case.arch, small.case), path, minimized=self.spec.minimize)


# Worker-process state: one Worker per process, built by the pool initializer
# (engines cannot be pickled, and building them per chunk would waste the
# translations they cache).
_PROCESS_WORKER: list[Worker] = []
_PROCESS_HOOKS = contextlib.ExitStack()


def _init_process(spec: Spec) -> None:
    from .testing import install_from_env
    install_from_env(_PROCESS_HOOKS)
    _PROCESS_WORKER.append(Worker(spec))


def _run_in_process(indices: range) -> ChunkResult:
    return _PROCESS_WORKER[0].run(indices)


def _mp_context():
    # fork is much faster to start than spawn and the parent holds no
    # emulator, JIT or thread at this point; spawn where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run_in_pool(spec: Spec, chunks: list[range], jobs: int,
                 merge: Callable[[ChunkResult], None]) -> list[range]:
    """Run ``chunks`` over ``jobs`` processes; returns the chunks lost to a
    worker process that died (all those pending at that moment)."""
    lost = []
    with ProcessPoolExecutor(jobs, mp_context=_mp_context(), initializer=_init_process,
                             initargs=(spec,)) as ex:
        futures = {ex.submit(_run_in_process, ch): ch for ch in chunks}
        for fut in as_completed(futures):
            try:
                merge(fut.result())
            except BrokenProcessPool:
                lost.append(futures[fut])
    return sorted(lost, key=lambda r: r.start)


def _isolate(spec: Spec, chunk: range) -> ChunkResult:
    """Rerun a chunk whose worker died, one process per case when the chunk
    kills its process again, and report each case that does as a finding."""
    got: list[ChunkResult] = []
    if not _run_in_pool(spec, [chunk], 1, got.append):
        return got[0]
    out = ChunkResult()
    for i in chunk:
        got.clear()
        if _run_in_pool(spec, [range(i, i + 1)], 1, got.append):
            out.findings.append(_host_crash_finding(spec, i))
            cls = out.findings[-1].primary
            st = out.stats.setdefault(cls, ClassStats())
            st.cases += 1
            st.mismatched += 1
            out.cases += 1
        else:
            out.merge(got[0])
    return out


def _host_crash_finding(spec: Spec, index: int) -> Finding:
    from .casefile import disassemble
    from .engine import Event, FieldDiff, Mismatch, Outcome, Result, UnicornRunner, case_cpu
    case = campaign_case(spec.arch, select_classes(spec.arch, spec.classes), spec.seed, index,
                         spec.length, spec.states_per_code)
    ref = UnicornRunner(spec.arch, case_cpu(case)).run(case)
    sub = Outcome(Event("crash", detail="the tcgpy worker process died running this case"),
                  {}, b"")
    r = Result(case, ref, sub, Mismatch([FieldDiff("event", str(ref.event), str(sub.event))]))
    path = write_case(spec.out, r, index=index, note="not minimized: host crash") if spec.out else None
    return Finding(index, case.label, case.primary, sorted(set(case.classes)), len(case.words),
                   len(case.words), ["event"], str(r.mismatch), disassemble(case.arch, case), path)


Progress = Callable[[int, int, int, int, float], None]   # done, total, mismatches, known, elapsed


def run_campaign(spec: Spec, count: int, jobs: int = 1, progress: Progress | None = None,
                 engine: Engine | None = None) -> Summary:
    """Run cases 0..count-1 of ``spec`` over ``jobs`` worker processes, or in
    this process on ``engine`` when one is given (tests supply their runners)."""
    classes = select_classes(spec.arch, spec.classes)
    if not classes:
        raise ValueError(f"no form classes selected for {spec.arch}")
    spec = replace(spec, classes=tuple(c.name for c in classes))
    # Chunks hold whole groups of cases sharing code, so that one worker
    # translates each code sequence once.
    step = -(-CHUNK // spec.states_per_code) * spec.states_per_code
    chunks = [range(i, min(i + step, count)) for i in range(0, count, step)]
    total = ChunkResult()
    start = time.perf_counter()

    def merge(cr: ChunkResult) -> None:
        total.merge(cr)
        if progress:
            progress(total.cases, count, len(total.findings), sum(total.known.values()),
                     time.perf_counter() - start)

    if engine is not None:
        worker = Worker(spec, engine)
        for ch in chunks:
            merge(worker.run(ch))
    else:
        # Worker processes even for one job: a case that kills the host
        # process (a JIT bug can) is then found and reported, not fatal.
        # When a worker dies every pending chunk fails; the executor runs
        # chunks in order, so the culprit is among the first jobs + 1 (those
        # running or queued): isolate those, resubmit the rest.
        jobs = max(jobs, 1)
        pending = chunks
        while pending:
            lost = _run_in_pool(spec, pending, jobs, merge)
            suspects, pending = lost[:jobs + 1], lost[jobs + 1:]
            for ch in suspects:
                merge(_isolate(spec, ch))
    elapsed = time.perf_counter() - start
    total.findings.sort(key=lambda f: f.index)
    return Summary(spec.arch, spec.seed, count, spec.length, spec.states_per_code, max(jobs, 1),
                   list(spec.classes),
                   total.stats, total.findings, total.known, total.times, elapsed)


def format_table(summary: Summary) -> str:
    rows = [("class", "cases", "passed", "mismatched", "known")]
    for name in summary.classes:
        s = summary.stats.get(name, ClassStats())
        rows.append((name, str(s.cases), str(s.passed), str(s.mismatched), str(s.known)))
    tot = ClassStats()
    for s in summary.stats.values():
        tot.add(s)
    rows.append(("total", str(tot.cases), str(tot.passed), str(tot.mismatched), str(tot.known)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for j, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
        if j == 0 or j == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_progress(stream=sys.stderr) -> Progress:
    """A live one-line progress display (a line every few seconds when not a tty)."""
    tty = stream.isatty()
    last = [0.0]

    def show(done: int, total: int, mism: int, known: int, elapsed: float) -> None:
        if done < total and elapsed - last[0] < (0.2 if tty else 5.0):
            return
        last[0] = elapsed
        rate = done / elapsed if elapsed > 0 else 0.0
        width = 30
        fill = int(width * done / total) if total else width
        line = (f"[{'#' * fill}{'.' * (width - fill)}] {done}/{total} cases  "
                f"{rate:.0f} cases/s  {mism} mismatches  {known} known")
        if tty:
            stream.write("\r" + line + ("\n" if done >= total else ""))
        else:
            stream.write(line + "\n")
        stream.flush()
    return show
