"""Difftest campaigns: many cases in chunks, run in this process, in local
worker processes (:mod:`.pools`) or on a Dask cluster (:mod:`.cluster`), each
worker with its own pair of emulators; mismatches minimized by the worker and
written as case files by the campaign.

Case ``i`` of seed ``s`` is generated from (arch, s, i) alone, so a campaign
gives the same cases whatever the number of workers or the chunking, and a
finding's label ("seed 7 case 1234") regenerates it.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Protocol

from .engine import Engine, campaign_case, select_classes
from .minimize import minimize_result


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
    # Case files of the findings, index -> (file name, text): made where the
    # case ran, written by the campaign (a cluster worker's disk is not ours).
    case_files: dict[int, tuple[str, str]] = field(default_factory=dict)

    def merge(self, other: "ChunkResult") -> None:
        for k, v in other.stats.items():
            self.stats.setdefault(k, ClassStats()).add(v)
        self.findings.extend(other.findings)
        for k, v in other.known.items():
            self.known[k] = self.known.get(k, 0) + v
        for k, v in other.times.items():
            self.times[k] = self.times.get(k, 0.0) + v
        self.cases += other.cases
        self.case_files.update(other.case_files)

    def to_json(self) -> dict:
        """The result without its case files (the campaign writes those)."""
        return {"cases": self.cases, "stats": {k: asdict(v) for k, v in self.stats.items()},
                "findings": [asdict(f) for f in self.findings], "known": self.known,
                "times": self.times}

    @staticmethod
    def from_json(d: dict) -> "ChunkResult":
        return ChunkResult({k: ClassStats(**v) for k, v in d["stats"].items()},
                           [Finding(**f) for f in d["findings"]], dict(d["known"]),
                           dict(d["times"]), d["cases"])


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
    ran: int = -1                  # cases run by this call (the rest resumed); -1: all
    where: str = "local"           # "local" or the Dask cluster's address

    def __post_init__(self) -> None:
        if self.ran < 0:
            self.ran = self.count

    @property
    def mismatches(self) -> int:
        return len(self.findings)

    @property
    def cases_per_s(self) -> float:
        return self.ran / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def exit_status(self) -> int:
        return 1 if self.findings else 0

    def to_json(self) -> dict:
        return {
            "arch": self.arch, "seed": self.seed, "count": self.count, "length": self.length,
            "states_per_code": self.states_per_code,
            "jobs": self.jobs, "where": self.where, "ran": self.ran,
            "classes": self.classes, "elapsed_s": round(self.elapsed, 3),
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
                self._finding(out, i, r, small)
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

    def _finding(self, out: ChunkResult, index: int, original, small) -> None:
        from .casefile import case_file_name, case_to_json, disassemble, dumps
        note = (f"minimized from {len(original.case.words)} instructions ({original.case.label})"
                if self.spec.minimize else f"not minimized ({original.case.label})")
        out.case_files[index] = (case_file_name(small, index),
                                 dumps(case_to_json(small, note)) + "\n")
        out.findings.append(Finding(
            index, original.case.label, original.case.primary, sorted(set(small.case.classes)),
            len(small.case.words), len(original.case.words), small.mismatch.names,
            str(small.mismatch), disassemble(small.case.arch, small.case),
            minimized=self.spec.minimize))


def host_crash_result(spec: Spec, index: int) -> ChunkResult:
    """Case ``index`` as a finding: its tcgpy run killed the process that ran it.
    Unicorn's side is rerun here, so the case file shows what was expected."""
    from .casefile import case_file_name, case_to_json, disassemble, dumps
    from .engine import Event, FieldDiff, Mismatch, Outcome, Result, UnicornRunner, case_cpu
    case = campaign_case(spec.arch, select_classes(spec.arch, spec.classes), spec.seed, index,
                         spec.length, spec.states_per_code)
    ref = UnicornRunner(spec.arch, case_cpu(case)).run(case)
    sub = Outcome(Event("crash", detail="the tcgpy worker process died running this case"),
                  {}, b"")
    r = Result(case, ref, sub, Mismatch([FieldDiff("event", str(ref.event), str(sub.event))]))
    out = ChunkResult(cases=1)
    out.stats[case.primary] = ClassStats(cases=1, mismatched=1)
    out.findings.append(Finding(index, case.label, case.primary, sorted(set(case.classes)),
                                len(case.words), len(case.words), ["event"], str(r.mismatch),
                                disassemble(case.arch, case), minimized=False))
    out.case_files[index] = (case_file_name(r, index),
                             dumps(case_to_json(r, "not minimized: host crash")) + "\n")
    return out


class ChunkExecutor(Protocol):
    """Where chunks run: in this process, in local worker processes, on a
    Dask cluster.  The campaign driver (chunking, merging, crash isolation,
    case files, the resume record) is the same for all of them."""

    jobs: int                      # chunks that run at once
    # Whether a lost chunk has already been rerun elsewhere (and killed its
    # worker there too): then isolation goes straight to single cases.
    reruns_lost: bool

    def chunk_size(self, count: int) -> int:
        """Cases per chunk for a campaign of ``count`` cases."""

    def run(self, spec: Spec, chunks: list[range],
            merge: Callable[[range, ChunkResult], None]) -> list[range]:
        """Run ``chunks``, merging each result as it arrives; returns the
        chunks lost to a worker process that died."""

    def suspects(self, lost: list[range]) -> tuple[list[range], list[range]]:
        """Split lost chunks into those that may have killed their worker
        (to isolate) and those that were only caught by the death (to rerun)."""

    def run_alone(self, spec: Spec, chunks: list[range]) -> list[ChunkResult | None]:
        """Run each chunk where its crash cannot take another one down; None
        for a chunk whose worker died."""


def _isolate(spec: Spec, chunk: range, ex: ChunkExecutor) -> ChunkResult:
    """Rerun a chunk whose worker died; when it kills its worker again, run
    each case alone and report each case that does as a crash finding."""
    if not ex.reruns_lost:
        [alone] = ex.run_alone(spec, [chunk])
        if alone is not None:
            return alone
    out = ChunkResult()
    singles = [range(i, i + 1) for i in chunk]
    for one, r in zip(singles, ex.run_alone(spec, singles)):
        out.merge(r if r is not None else host_crash_result(spec, one.start))
    return out


def chunked(todo: list[range], step: int) -> list[range]:
    """``todo`` cut into chunks of ``step`` cases; a chunk never straddles a
    code group (``step`` is a multiple of the group size and ranges start on one)."""
    return [range(i, min(i + step, r.stop)) for r in todo for i in range(r.start, r.stop, step)]


Progress = Callable[[int, int, int, int, float], None]   # done, total, mismatches, known, elapsed


def run_campaign(spec: Spec, count: int, jobs: int = 1, progress: Progress | None = None,
                 engine: Engine | None = None, executor: ChunkExecutor | None = None,
                 resume: bool = False) -> Summary:
    """Run cases 0..count-1 of ``spec``: on ``executor`` when one is given (a
    Dask cluster: :mod:`tcgpy.difftest.cluster`), else in this process on
    ``engine`` when one is given (tests supply their runners), else over
    ``jobs`` local worker processes.

    With ``spec.out`` the campaign is recorded there as it goes (case files
    and :mod:`tcgpy.difftest.journal`); ``resume`` then runs only the cases
    that record does not hold yet.
    """
    from . import journal
    from .pools import InProcess, LocalPool
    classes = select_classes(spec.arch, spec.classes)
    if not classes:
        raise ValueError(f"no form classes selected for {spec.arch}")
    spec = replace(spec, classes=tuple(c.name for c in classes))
    if executor is None:
        executor = InProcess(Worker(spec, engine)) if engine is not None else LocalPool(jobs)
    total = ChunkResult()
    todo = [range(0, count)]
    record = None
    if spec.out:
        if resume:
            done = journal.load(spec.out, spec, count)
            for r in done.values():
                total.merge(r)
            todo = journal.remaining(done, count)
        else:
            journal.start(spec.out, spec, count)
        record = journal.Recorder(spec.out)
    elif resume:
        raise ValueError("resume needs the campaign's output directory (spec.out)")
    resumed = total.cases
    # Chunks hold whole groups of cases sharing code, so that one worker
    # translates each code sequence once.
    group = spec.states_per_code
    step = -(-executor.chunk_size(count - resumed) // group) * group
    start = time.perf_counter()

    def merge(chunk: range, cr: ChunkResult) -> None:
        if spec.out:
            for f in cr.findings:
                name, text = cr.case_files[f.index]
                f.path = os.path.join(spec.out, name)
                with open(f.path, "w") as fh:
                    fh.write(text)
        cr.case_files = {}
        if record is not None:
            record.add(chunk, cr)
        total.merge(cr)
        if progress:
            progress(total.cases, count, len(total.findings), sum(total.known.values()),
                     time.perf_counter() - start)

    try:
        pending = chunked(todo, step)
        while pending:
            lost = executor.run(spec, pending, merge)
            suspects, pending = executor.suspects(lost)
            for ch in suspects:
                merge(ch, _isolate(spec, ch, executor))
    finally:
        if record is not None:
            record.close()
    elapsed = time.perf_counter() - start
    total.findings.sort(key=lambda f: f.index)
    return Summary(spec.arch, spec.seed, count, spec.length, spec.states_per_code,
                   executor.jobs, list(spec.classes), total.stats, total.findings, total.known,
                   total.times, elapsed, ran=total.cases - resumed,
                   where=getattr(executor, "where", "local"))


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
