"""The difftest core: a case model, the two engines under test, and the comparison.

A :class:`Case` is a short instruction sequence plus a full start state (general
registers, flags, a random data page).  :class:`Engine` runs it on Unicorn (the
reference) and on tcgpy (the subject), compares every register the CPU-state
table marks ``compare`` plus the frontend's pseudo registers and the data page,
and classifies a difference as known (listed, with proof, in the target's
``ArchDef.known``; :mod:`tcgpy.difftest.known_differences`) or not.

Both emulators are created once per :class:`Engine` and reused across cases:
creating them is cheap next to translating code, but mapping per case is not
free either, and tcgpy keeps its translations when the code bytes of the next
case are the same (the minimizer reruns one code sequence many times).
"""
from __future__ import annotations

import hashlib
import importlib
import random
import threading
import time
import traceback
from dataclasses import dataclass, replace
from typing import Sequence

from . import forms
from .archdef import EDGE_VALUES, MASK64, ArchDef, data_pointer, random_value  # noqa: F401  (public names)
from .forms import CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, FormClass, Pos

CODE_PAGE = 0x1000          # the prologue page mapped just below CODE_BASE


@dataclass(frozen=True)
class DiffArch:
    """What the difftest needs to know about one guest architecture: derived
    from the frontend's ArchInfo (register table), the target's ArchDef
    (its difftest module, tcgpy.targets.Target.difftest) and Unicorn."""
    name: str
    info: object                           # tcgpy.frontends.arch.ArchInfo
    defs: ArchDef
    state_regs: tuple[str, ...]            # written before a run (pc excluded)
    compare_regs: tuple[str, ...]          # compared after a run
    uc_ids: dict[str, int]

    @property
    def prologue_bytes(self) -> bytes:
        """The prologue's words, each as long as the target's length rule says."""
        encode = self.info.target.encode
        return b"".join(encode(w) for w in self.defs.prologue)

    @property
    def prologue_base(self) -> int:
        return CODE_BASE - len(self.prologue_bytes)

    @property
    def prologue_code(self) -> bytes:
        """The page before CODE_BASE, ending with the prologue."""
        return self.prologue_bytes.rjust(CODE_PAGE, b"\0")


_DIFF_ARCHES: dict[str, DiffArch] = {}


def diff_arch(name: str) -> DiffArch:
    from ..frontends import get_arch
    info = get_arch(name)
    cached = _DIFF_ARCHES.get(info.name)
    if cached is not None:
        return cached
    defs = info.target.diff_def
    regs = [r.name for r in info.layout.rows if r.user and r.compare and r.name != "pc"]
    regs += list(info.pseudo_regs)
    module, prefix = defs.unicorn_consts
    consts = importlib.import_module(module)
    uc_ids = {n: getattr(consts, prefix + n.upper()) for n in regs + ["pc"]}
    da = DiffArch(info.name, info, defs, tuple(regs), tuple(regs) + ("pc",), uc_ids)
    _DIFF_ARCHES[info.name] = da
    return da


# -- cases ------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class Case:
    """One difftest case: code words at CODE_BASE and a full start state."""
    arch: str
    words: tuple[int, ...]
    regs: dict[str, int]                   # start values, by register name
    data: bytes                            # DATA_SIZE bytes at DATA_BASE
    bound: int                             # instruction count limit
    classes: tuple[str, ...] = ()          # form class of each word (informational)
    primary: str = ""                      # the class the case was drawn for
    label: str = ""                        # where it came from, e.g. "seed 1 case 42"
    stop: int | None = None                # stop address, when not after the last word

    @property
    def end(self) -> int:
        """Where the run stops (``run(until=)``): after the last word by default."""
        return CODE_BASE + len(self.code) if self.stop is None else self.stop

    @property
    def code(self) -> bytes:
        """The words as bytes, each as long as the target's length rule says."""
        from ..targets import lookup
        encode = lookup(self.arch).encode
        return b"".join(encode(w) for w in self.words)

    @property
    def addresses(self) -> list[int]:
        """The address of each word."""
        from ..targets import lookup
        encode = lookup(self.arch).encode
        out, a = [], CODE_BASE
        for w in self.words:
            out.append(a)
            a += len(encode(w))
        return out

    def with_(self, **changes) -> "Case":
        return replace(self, **changes)

    def __repr__(self) -> str:
        # Short enough for a test failure: the data page as a digest.
        words = ", ".join(f"{w:#010x}" for w in self.words)
        regs = ", ".join(f"{k}={v:#x}" for k, v in self.regs.items() if v)
        digest = hashlib.sha1(self.data).hexdigest()[:12]
        return (f"Case({self.arch} [{words}] {self.classes} regs({regs}) "
                f"data(sha1 {digest}) bound={self.bound} stop={self.stop} {self.label!r})")


def default_bound(length: int) -> int:
    # Backward branches may loop: allow a few passes over the sequence, no more.
    return 4 * length + 16


def random_start_regs(da: DiffArch, rng: random.Random) -> dict[str, int]:
    """Start registers by the forms conventions (see tcgpy.difftest.forms)."""
    gpr_number = {n: i for i, n in enumerate(da.defs.gprs)}
    ptr_regs, small_regs = da.defs.ptr_regs, da.defs.small_regs
    regs = {}
    for name in da.state_regs:
        n = gpr_number.get(name)
        row = da.info.layout.by_name.get(name)
        if n is None and row is not None and row.size > 8:
            # vector registers: FP special values often (tcgpy.difftest.fpvalues)
            from .fpvalues import random_vector
            regs[name] = random_vector(rng, row.size)
        elif n is None:
            gen = da.defs.start.get(name)
            regs[name] = gen(rng) if gen else 0
        elif n in ptr_regs:
            regs[name] = data_pointer(rng)
        elif n in small_regs:
            regs[name] = rng.randrange(0, 256)
        else:
            regs[name] = random_value(rng)
    return regs


def random_data(rng: random.Random) -> bytes:
    """A random data page: SHAKE-128 keyed from ``rng`` (a third faster than
    ``rng.randbytes`` for 64 KiB, and as reproducible)."""
    return hashlib.shake_128(rng.getrandbits(128).to_bytes(16, "little")).digest(DATA_SIZE)


class FormError(Exception):
    """A form-class generator is broken (a bug in a target's difftest forms, not in tcgpy)."""


def generate_code(classes: Sequence[FormClass], rng: random.Random,
                  length: int) -> tuple[tuple[int, ...], tuple[str, ...], str]:
    """Random words: one primary class, most words drawn from it, some from
    the other selected classes so that instructions of different classes
    meet (flags set by one, read by the next; a store then a load).
    Returns (words, class of each word, primary class)."""
    if not classes:
        raise ValueError("no form classes selected")
    primary = rng.choice(classes)
    # Classes that need another Unicorn model than the primary's stay out.
    mixable = [c for c in classes if c.unicorn_cpu == primary.unicorn_cpu]
    limit = 1 << 8 * diff_arch(primary.arch).info.target.max_insn_length
    words, names = [], []
    for i in range(length):
        fc = primary if rng.random() < 0.75 else rng.choice(mixable)
        try:
            word = fc.gen(rng, Pos(i, length))
        except Exception as e:
            raise FormError(f"form class {fc.arch}/{fc.name} failed to generate: "
                            f"{type(e).__name__}: {e}") from e
        if not 0 <= word < limit:
            raise FormError(f"form class {fc.arch}/{fc.name} generated {word:#x}, not an instruction word")
        words.append(word)
        names.append(fc.name)
    finish = diff_arch(primary.arch).defs.finish_code
    if finish is not None:
        words = finish(words)
    return tuple(words), tuple(names), primary.name


def generate_case(arch: str, classes: Sequence[FormClass], rng: random.Random,
                  length: int, label: str = "", bound: int | None = None) -> Case:
    """A random case (code and start state) drawn from ``rng``."""
    da = diff_arch(arch)
    words, names, primary = generate_code(classes, rng, length)
    regs = random_start_regs(da, rng)
    return Case(da.name, words, regs, random_data(rng),
                default_bound(length) if bound is None else bound, names, primary, label)


def campaign_case(arch: str, classes: Sequence[FormClass], seed: int, index: int,
                  length: int, states_per_code: int = 1) -> Case:
    """Case ``index`` of the campaign with ``seed``: independent of every other
    case, of the number of workers and of the order they run in.

    Cases come in groups of ``states_per_code`` that share their code and
    differ in start state: the group's code is translated once (LLVM compile
    time dominates a case) and then tested on several states.
    """
    da = diff_arch(arch)
    code_rng = random.Random(f"{da.name}:{seed}:code:{index // states_per_code}")
    words, names, primary = generate_code(classes, code_rng, length)
    rng = random.Random(f"{da.name}:{seed}:state:{index}")
    regs = random_start_regs(da, rng)
    return Case(da.name, words, regs, random_data(rng), default_bound(length),
                names, primary, f"seed {seed} case {index} (states per code {states_per_code})")


def case_cpu(case: Case) -> str | None:
    """The Unicorn CPU model ``case`` runs on: the one its form classes name
    (classes needing different models are never mixed), else None (default)."""
    table = forms.classes(case.arch)
    for name in (case.primary, *case.classes):
        fc = table.get(name)
        if fc is not None and fc.unicorn_cpu is not None:
            return fc.unicorn_cpu
    return None


def select_classes(arch: str, include: Sequence[str] | None = None,
                   exclude: Sequence[str] | None = None) -> list[FormClass]:
    table = forms.classes(arch)
    names = sorted(table)
    for n in list(include or ()) + list(exclude or ()):
        if n not in table:
            raise ValueError(f"unknown form class {n!r} for {arch} "
                             f"(known: {', '.join(names) or 'none'})")
    if include:
        names = [n for n in names if n in include]
    if exclude:
        names = [n for n in names if n not in exclude]
    return [table[n] for n in names]


# -- outcomes -----------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """How a run stopped.  ``end`` covers both the stop address and the count."""
    kind: str                      # end | fault | illegal | syscall | trap | crash | timeout
    access: str | None = None      # fault: read | write | fetch (None when unknown)
    address: int | None = None     # fault: the faulting data address (None when unknown)
    detail: str = ""               # crash: the Python exception

    def same(self, other: "Event") -> bool:
        if self.kind != other.kind:
            return False
        # Unicorn reports alignment faults through its interrupt hook, which
        # says neither the access nor the address: compare what both know.
        for a, b in ((self.access, other.access), (self.address, other.address)):
            if a is not None and b is not None and a != b:
                return False
        return self.kind not in ("crash", "timeout")

    def __str__(self) -> str:
        s = self.kind
        if self.access:
            s += f" {self.access}"
        if self.address is not None:
            s += f" @{self.address:#x}"
        if self.detail:
            s += f" ({self.detail})"
        return s

    def to_json(self) -> dict:
        return {"kind": self.kind, "access": self.access,
                "address": None if self.address is None else f"{self.address:#x}",
                "detail": self.detail}

    @staticmethod
    def from_json(d: dict) -> "Event":
        a = d.get("address")
        return Event(d["kind"], d.get("access"), None if a is None else int(a, 0),
                     d.get("detail", ""))


END = Event("end")


@dataclass
class Outcome:
    event: Event
    regs: dict[str, int]
    data: bytes


@dataclass(frozen=True)
class FieldDiff:
    name: str          # a register's name, "pc", "event", "mem@0x208010"
    reference: str     # Unicorn's value, formatted
    subject: str       # tcgpy's value, formatted


@dataclass
class Mismatch:
    fields: list[FieldDiff]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def __str__(self) -> str:
        return "; ".join(f"{f.name}: unicorn {f.reference} != tcgpy {f.subject}"
                         for f in self.fields)


MAX_MEM_RUNS = 8


def _mem_diffs(ref: bytes, sub: bytes) -> list[FieldDiff]:
    """Differing bytes as runs (gaps under 8 bytes merged), at most MAX_MEM_RUNS."""
    idx = [i for i in range(min(len(ref), len(sub))) if ref[i] != sub[i]]
    runs: list[list[int]] = []
    for i in idx:
        if runs and i - runs[-1][1] <= 8:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    out = [FieldDiff(f"mem@{DATA_BASE + a:#x}", ref[a:b + 1].hex(), sub[a:b + 1].hex())
           for a, b in runs[:MAX_MEM_RUNS]]
    if len(runs) > MAX_MEM_RUNS:
        out.append(FieldDiff("mem@...", f"{len(runs) - MAX_MEM_RUNS} more runs", ""))
    return out


def compare(da: DiffArch, ref: Outcome, sub: Outcome) -> Mismatch | None:
    fields = []
    if not ref.event.same(sub.event):
        fields.append(FieldDiff("event", str(ref.event), str(sub.event)))
    for r in da.compare_regs:
        a, b = ref.regs.get(r), sub.regs.get(r)
        if a != b:
            fields.append(FieldDiff(r, _hex(a), _hex(b)))
    if ref.data != sub.data:
        fields.extend(_mem_diffs(ref.data, sub.data))
    return Mismatch(fields) if fields else None


def _hex(v) -> str:
    return "-" if v is None else f"{v:#x}"


# -- the engines ---------------------------------------------------------------------

class UnicornRunner:
    """Runs cases on Unicorn, the reference."""

    name = "unicorn"

    def __init__(self, arch: str, cpu: str | None = None):
        """``cpu``: a CPU model of the arch's ArchDef.unicorn_cpus (None: Unicorn's default)."""
        import unicorn
        self._uc_mod = unicorn
        self.da = diff_arch(arch)
        self.cpu = cpu
        uc = self.uc = unicorn.Uc(*self.da.info.unicorn)
        if cpu is not None:
            consts = importlib.import_module(self.da.defs.unicorn_consts[0])
            uc.ctl_set_cpu_model(getattr(consts, self.da.defs.unicorn_cpus[cpu]))
        if self.da.defs.unicorn_init:
            consts = importlib.import_module(self.da.defs.unicorn_consts[0])
            prefix = self.da.defs.unicorn_consts[1]
            for name, value in self.da.defs.unicorn_init.items():
                uc.reg_write(getattr(consts, prefix + name.upper()), value)
        uc.mem_map(CODE_BASE - CODE_PAGE, CODE_PAGE + CODE_SIZE,
                   unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
        uc.mem_write(CODE_BASE - CODE_PAGE, self.da.prologue_code)
        uc.mem_map(DATA_BASE, DATA_SIZE, unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE)
        self._event: Event | None = None
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_intr)
        uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED | unicorn.UC_HOOK_MEM_PROT, self._on_mem)
        self._ids = [(n, self.da.uc_ids[n]) for n in self.da.state_regs]
        self._cmp_ids = [(n, self.da.uc_ids[n]) for n in self.da.compare_regs]
        self._code: bytes | None = None
        self._end: int | None = None     # stop address the cached blocks were made for
        self._access = {}
        for suffix, access in (("READ", "read"), ("WRITE", "write"), ("FETCH", "fetch")):
            for kind in ("UNMAPPED", "PROT"):
                self._access[getattr(unicorn, f"UC_MEM_{suffix}_{kind}")] = access

    def _on_intr(self, uc, intno, user_data):
        kind = self.da.defs.unicorn_intr.get(intno, f"exception {intno}")
        self._event = Event(kind)
        self._intr = True
        uc.emu_stop()

    def _on_mem(self, uc, access, address, size, value, user_data):
        self._event = Event("fault", self._access.get(access), address)
        return False

    def run(self, case: Case) -> Outcome:
        uc = self.uc
        code = case.code.ljust(CODE_SIZE, b"\0")
        if code != self._code:
            uc.mem_write(CODE_BASE, code)
            # Unicorn 2.1 does not always drop translated blocks when code is
            # rewritten through mem_write (seen after a block that ended in an
            # system call stopped by emu_stop): stale code would run.  Drop them.
            uc.ctl_remove_cache(CODE_BASE, CODE_BASE + CODE_SIZE)
            self._code = code
            self._end = case.end
        elif case.end != self._end:
            # Unicorn compiles the stop address into its translated blocks:
            # blocks cached from a run with another end run past this one's.
            uc.ctl_remove_cache(CODE_BASE, CODE_BASE + CODE_SIZE)
            self._end = case.end
        uc.mem_write(DATA_BASE, case.data)
        get = case.regs.get
        uc.reg_write_batch([(rid, get(name, 0)) for name, rid in self._ids])
        self._event = None
        self._intr = False
        try:
            uc.emu_start(self.da.prologue_base, case.end,
                         count=case.bound + len(self.da.defs.prologue))
        except self._uc_mod.UcError as e:
            if self._event is None:
                known = [k for c, k in self.da.defs.unicorn_errors.items() if c in str(e)]
                self._event = (Event(known[0]) if known else
                               Event("fault" if "UNMAPPED" in str(e) or "PROT" in str(e)
                                     else "crash", detail=str(e)))
        values = uc.reg_read_batch([rid for _, rid in self._cmp_ids])
        regs = dict(zip((name for name, _ in self._cmp_ids), values))
        skew = self.da.defs.unicorn_intr_pc_skew
        if skew and self._intr:
            regs["pc"] = (regs["pc"] - skew) & MASK64
        return Outcome(self._event or END, regs, bytes(uc.mem_read(DATA_BASE, DATA_SIZE)))


def case_emulator(case):
    """A fresh tcgpy emulator holding ``case`` (prologue, code, data page and
    registers) and its DiffArch, ready to run from ``da.prologue_base``: the
    set-up replays of known differences start from."""
    import tcgpy
    da = diff_arch(case.arch)
    emu = tcgpy.Emulator(da.name)
    emu.mem_map(CODE_BASE - CODE_PAGE, CODE_PAGE + CODE_SIZE, perms="rx")
    emu.mem_write(CODE_BASE - CODE_PAGE, da.prologue_code)
    emu.mem_write(CODE_BASE, case.code)
    emu.mem_map(DATA_BASE, DATA_SIZE, perms="rw")
    emu.mem_write(DATA_BASE, case.data)
    for name in da.state_regs:
        emu.reg_write(name, case.regs.get(name, 0))
    return emu, da


def tcgpy_event(exc: Exception, da: DiffArch) -> Event:
    """The event a tcgpy ``EmulationError`` stands for (runs that replay a
    case for a known difference report their stop as TcgpyRunner does)."""
    import tcgpy
    if isinstance(exc, tcgpy.MemoryFault):
        return Event("fault", exc.access, exc.address)
    if isinstance(exc, tcgpy.IllegalInstruction):
        return Event("illegal")
    if isinstance(exc, tcgpy.UnhandledSyscall):
        return Event("syscall")
    trap = getattr(tcgpy, "GuestTrap", None) or getattr(tcgpy.errors, "GuestTrap", None)
    if trap is not None and isinstance(exc, trap):
        return Event(da.defs.trap_events.get(getattr(exc, "kind", ""), "trap"))
    return Event("crash", detail=f"{type(exc).__name__}: {exc}")


class _Watchdog:
    """Stops a run whose thread has spent more than ``limit`` seconds of CPU
    (a tcgpy bug that ignores the instruction count must fail the case, not
    hang the campaign), or that has waited ten times that long: CPU time, so
    that a long case on a loaded machine is not a timeout (the hot-loop
    campaign's slowest, 7.5 s of CPU, took over 20 s of wall time beside
    other work).  One daemon thread per runner: a threading.Timer per run
    would start a thread per case, which costs more than the case."""

    WALL_FACTOR = 10

    def __init__(self, limit: float):
        self.limit = limit
        self._run: tuple[float, int, float, object] | None = None  # (start, CPU clock, its start, emulator)
        self.fired = False
        threading.Thread(target=self._loop, name="difftest-watchdog", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.limit / 4)
            run = self._run
            if run is None:
                continue
            start, clock, cpu_start, emu = run
            try:
                cpu = time.clock_gettime(clock) - cpu_start
            except OSError:             # (the thread is gone: its run too)
                continue
            if (cpu > self.limit or time.perf_counter() - start > self.WALL_FACTOR * self.limit) \
                    and self._run is run:
                self.fired = True
                emu.request_exit()

    def arm(self, emu) -> None:
        self.fired = False
        clock = time.pthread_getcpuclockid(threading.get_ident())
        self._run = (time.perf_counter(), clock, time.clock_gettime(clock), emu)

    def disarm(self) -> None:
        self._run = None


class TcgpyRunner:
    """Runs cases on tcgpy, the subject, through its public Emulator API."""

    name = "tcgpy"
    TIMEOUT = 20.0      # seconds of CPU; a case runs in well under a millisecond

    def __init__(self, arch: str):
        self.da = diff_arch(arch)
        self._past_stages: dict[str, float] = {}
        self.emu = None
        self._watchdog = _Watchdog(self.TIMEOUT)
        self._reset()

    def stage_times(self) -> dict[str, float]:
        """Seconds spent in each translation stage so far (from Emulator.stats)."""
        out = dict(self._past_stages)
        for k, v in vars(self.emu.stats).items():
            if k.startswith("time_"):
                out[k[5:]] = out.get(k[5:], 0.0) + v
        return out

    def _reset(self) -> None:
        import tcgpy
        self._tcgpy = tcgpy
        if self.emu is not None:
            self._past_stages = self.stage_times()
        emu = self.emu = tcgpy.Emulator(self.da.name)
        emu.mem_map(CODE_BASE - CODE_PAGE, CODE_PAGE + CODE_SIZE, perms="rx")
        emu.mem_write(CODE_BASE - CODE_PAGE, self.da.prologue_code)
        emu.mem_map(DATA_BASE, DATA_SIZE, perms="rw")
        self._code: bytes | None = None

    def run(self, case: Case) -> Outcome:
        emu = self.emu
        code = case.code.ljust(CODE_SIZE, b"\0")
        if code != self._code:
            # Only rewrite changed code: a write invalidates the translations,
            # and reruns of one sequence (minimizer, replay) should reuse them.
            emu.mem_write(CODE_BASE, code)
            self._code = code
        emu.mem_write(DATA_BASE, case.data)
        for name in self.da.state_regs:
            emu.reg_write(name, case.regs.get(name, 0))
        event = END
        self._watchdog.arm(emu)
        try:
            emu.run(self.da.prologue_base, until=case.end,
                    count=case.bound + len(self.da.defs.prologue))
            if self._watchdog.fired:
                event = Event("timeout", detail=f"still running after {self.TIMEOUT:.0f}s of CPU")
        except self._tcgpy.EmulationError as e:
            event = tcgpy_event(e, self.da)
        except Exception as e:  # noqa: BLE001 - a tcgpy bug must become a report, not a crash
            tb = traceback.extract_tb(e.__traceback__)[-1]
            event = Event("crash", detail=f"{type(e).__name__}: {e} "
                                          f"[{tb.filename.rsplit('/', 1)[-1]}:{tb.lineno}]")
        finally:
            self._watchdog.disarm()
        try:
            regs = {name: emu.reg_read(name) for name in self.da.compare_regs}
            data = bytes(emu.mem_read(DATA_BASE, DATA_SIZE))
        except Exception:  # noqa: BLE001
            regs, data = {}, b""
        if event.kind in ("crash", "timeout"):
            # Internal state may be inconsistent after an internal error.
            self._reset()
        return Outcome(event, regs, data)


@dataclass
class Result:
    case: Case
    reference: Outcome
    subject: Outcome
    mismatch: Mismatch | None
    known: object | None = None            # a known_differences.KnownDifference

    @property
    def status(self) -> str:
        if self.mismatch is None:
            return "pass"
        return "known" if self.known is not None else "mismatch"


class Engine:
    """Runs cases on a reference and a subject runner and compares them.

    The runners are created on first use (tests substitute fakes through
    ``reference``/``subject``; anything with ``run(case) -> Outcome`` works).
    A case whose form classes need another Unicorn CPU model (``case_cpu``)
    runs on a reference runner of that model, unless a reference was given.
    """

    def __init__(self, arch: str, *, reference=None, subject=None,
                 known: Sequence | None = None):
        self.da = diff_arch(arch)
        self.arch = self.da.name
        self._given_reference = reference is not None
        self._cpu_references: dict[str, UnicornRunner] = {}
        self._reference = reference
        self._subject = subject
        self._known = known
        self.runs = 0
        self.times: dict[str, float] = {}     # seconds per runner, for "where time goes"

    @property
    def reference(self):
        if self._reference is None:
            self._reference = UnicornRunner(self.arch)
        return self._reference

    @property
    def subject(self):
        if self._subject is None:
            self._subject = TcgpyRunner(self.arch)
        return self._subject

    def reference_for(self, case: Case):
        """The reference runner of ``case``'s Unicorn CPU model."""
        cpu = None if self._given_reference else case_cpu(case)
        if cpu is None:
            return self.reference
        runner = self._cpu_references.get(cpu)
        if runner is None:
            runner = self._cpu_references[cpu] = UnicornRunner(self.arch, cpu)
        return runner

    def run(self, case: Case) -> Result:
        from .known_differences import classify
        self.runs += 1
        reference, subject = self.reference_for(case), self.subject
        t0 = time.perf_counter()
        ref = reference.run(case)
        t1 = time.perf_counter()
        sub = subject.run(case)
        t2 = time.perf_counter()
        mm = compare(self.da, ref, sub)
        t = self.times
        t[reference.name] = t.get(reference.name, 0.0) + (t1 - t0)
        t[subject.name] = t.get(subject.name, 0.0) + (t2 - t1)
        t["compare"] = t.get("compare", 0.0) + (time.perf_counter() - t2)
        known = None
        if mm is not None:
            known = classify(case, mm, ref, sub, self.arch,
                             self.da.defs.known if self._known is None else self._known)
            if known is not None and known.diverges_at is not None:
                # The entry explains the engines parting at one instruction;
                # everything up to it must still agree, or the case shows a
                # real difference before the known one.
                pc = known.diverges_at(case, mm, ref, sub)
                # (explained by another entry: several known differences in one case)
                if pc is None or (case.stop != pc and self.run(case.with_(stop=pc)).status == "mismatch"):
                    known = None
        return Result(case, ref, sub, mm, known)


__all__ = [
    "Case", "DiffArch", "END", "Engine", "Event", "FieldDiff", "Mismatch", "Outcome", "Result",
    "TcgpyRunner", "UnicornRunner", "campaign_case", "case_cpu", "case_emulator", "compare",
    "diff_arch", "FormError", "generate_case", "generate_code", "random_data",
    "random_start_regs", "select_classes", "tcgpy_event",
]
