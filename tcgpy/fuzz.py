"""Fuzzing tcgpy from the outside: mutated ELF files through ``tcgpy run``
and random code through the library API.

Nothing a file contains or a guest does may crash tcgpy: every outcome must
be one a user can read.  Each run is classified:

* ``ran``      -- the program ran and exited with a status of its own;
* ``signal``   -- the guest died of a signal (tcgpy's one-line report, then
  the same signal, as qemu-user does);
* ``error``    -- a clean one-line ``tcgpy:`` error (a bad ELF, say);
* ``timeout``  -- still running at the time cap (a mutated program may loop
  for ever, as it does under qemu: only a failure when qemu does not);

and these are failures: ``traceback`` (a Python traceback or an internal
error), ``crash`` (killed by a signal without the guest-signal report: the
host process itself faulted), ``memory`` (over the memory cap).

Mutations start from a shipped static program and change the ELF header
(entry, program-header offset, count and entry size, type, machine, class),
program headers (type, flags, offset, address, file and memory sizes,
alignment), the ``PT_INTERP`` string, or truncate the file; each one is
named, so a failure can be replayed from its seed.

``tcgpy fuzz elf|code`` runs a campaign (see ``--help``); the test suite
runs a small smoke campaign of each (tests/test_fuzz.py), and longer ones
under ``-m slow``.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_INTERP = 1, 3

FAILURES = ("traceback", "crash", "memory")
MEMORY_CAP = 2 << 30            # bytes of peak RSS a run may use
GUEST_SIGNAL_LINE = "tcgpy: uncaught target signal"


@dataclass
class Outcome:
    kind: str
    status: int | None = None
    detail: str = ""
    rss: int = 0                 # peak, bytes
    seconds: float = 0.0


@dataclass
class Report:
    runs: int = 0
    kinds: Counter = field(default_factory=Counter)
    vs_qemu: Counter = field(default_factory=Counter)   # (tcgpy kind, qemu kind)
    failures: list = field(default_factory=list)         # (seed, mutation, Outcome)

    def format(self) -> str:
        out = [f"{self.runs} runs: " + ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))]
        if self.vs_qemu:
            out.append("vs qemu-user (tcgpy / qemu): " +
                       ", ".join(f"{a}/{b} {n}" for (a, b), n in sorted(self.vs_qemu.items())))
        for seed, what, o in self.failures[:20]:
            out.append(f"FAIL seed {seed} ({what}): {o.kind} status {o.status}: {o.detail}")
        return "\n".join(out)


# -- ELF mutations -------------------------------------------------------------------

def _edge(rng: random.Random, bits: int) -> int:
    top = (1 << bits) - 1
    return rng.choice((0, 1, 2, 7, 0x40, 0x1000, 0xFFF, top, top >> 1, (top >> 1) + 1,
                       rng.getrandbits(bits), rng.getrandbits(bits) & ~0xFFF))


def mutate_elf(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One to three named mutations of ELF file ``data``."""
    buf = bytearray(data)
    names = []
    ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize, \
        e_phnum, e_shentsize, e_shnum, e_shstrndx = EHDR.unpack_from(buf)
    for _ in range(rng.randint(1, 3)):
        what = rng.choice(("entry", "phoff", "phnum", "phentsize", "type", "machine", "class",
                           "ph_field", "ph_field", "ph_field", "interp", "truncate", "bytes"))
        if what == "entry":
            e_entry = _edge(rng, 64)
        elif what == "phoff":
            e_phoff = _edge(rng, 64) if rng.random() < 0.5 else rng.randrange(len(buf) + 64)
        elif what == "phnum":
            e_phnum = rng.choice((0, 1, 0xFFFF, e_phnum + 1, rng.getrandbits(16)))
        elif what == "phentsize":
            e_phentsize = rng.choice((0, 1, 55, 57, 64, 0xFFFF))
        elif what == "type":
            e_type = rng.choice((0, 1, 3, 4, 0xFFFF))
        elif what == "machine":
            e_machine = rng.choice((0, 62, 243, 0xFFFF))
        elif what == "class":
            ident = ident[:4] + bytes([rng.choice((0, 1, 3))]) + ident[5:]
        elif what in ("ph_field", "interp") and e_phnum and e_phoff + PHDR.size <= len(buf):
            i = rng.randrange(min(e_phnum, (len(buf) - e_phoff) // PHDR.size) or 1)
            off = e_phoff + i * PHDR.size
            if off + PHDR.size > len(buf):
                continue
            ph = list(PHDR.unpack_from(buf, off))
            if what == "interp":
                # make it a PT_INTERP naming something (or nothing) in the file
                ph[0] = PT_INTERP
                ph[2] = rng.randrange(len(buf))
                ph[5] = rng.choice((0, 1, 2, 16, 4096, 1 << 40))
                what = "interp"
            else:
                k = rng.randrange(8)
                ph[k] = rng.choice((_edge(rng, 32), PT_LOAD, PT_INTERP, 0x6474E551)) if k < 2 else _edge(rng, 64)
                what = f"ph{i}.{('type', 'flags', 'offset', 'vaddr', 'paddr', 'filesz', 'memsz', 'align')[k]}"
            PHDR.pack_into(buf, off, *ph)
        elif what == "truncate":
            del buf[rng.randrange(len(buf)):]
        elif what == "bytes":
            for _ in range(rng.randint(1, 16)):
                if buf:
                    buf[rng.randrange(len(buf))] = rng.getrandbits(8)
        names.append(what)
    if len(buf) >= EHDR.size:
        EHDR.pack_into(buf, 0, ident, e_type & 0xFFFF, e_machine & 0xFFFF, e_version, e_entry & (2**64 - 1),
                       e_phoff & (2**64 - 1), e_shoff, e_flags, e_ehsize, e_phentsize & 0xFFFF, e_phnum & 0xFFFF,
                       e_shentsize, e_shnum, e_shstrndx)
    return bytes(buf), "+".join(names)


# -- running -------------------------------------------------------------------------

def _run_capped(argv: list[str], timeout: float, env: dict | None = None) -> tuple[int | None, str, int, float]:
    """(status, stderr, peak RSS bytes, seconds) of one run: status is
    negative for a signal, None when the time cap killed it (its whole
    session: a guest's children too)."""
    import tempfile
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                             env=env, start_new_session=True)
        timed_out = False
        while True:
            pid, wstatus, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                timed_out = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                _, wstatus, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        p.returncode = 0          # reaped here: Popen must not wait for it again
        err.seek(0)
        text = err.read().decode(errors="replace")
    status = None if timed_out else os.waitstatus_to_exitcode(wstatus)
    return status, text, usage.ru_maxrss * 1024, time.monotonic() - t0


def classify(status: int | None, stderr: str, rss: int, cap: int = MEMORY_CAP) -> Outcome:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if status is None:
        return Outcome("timeout", None)
    if "Traceback (most recent call last)" in stderr or "internal error" in stderr:
        return Outcome("traceback", status, (lines or [""])[-1][:200])
    if rss > cap:
        return Outcome("memory", status, f"peak RSS {rss >> 20} MiB")
    if status < 0:
        signo = -status
        dumps = signo in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT,
                          signal.SIGTRAP, signal.SIGSYS, signal.SIGQUIT)
        if dumps and not any(GUEST_SIGNAL_LINE in ln for ln in lines):
            return Outcome("crash", status, f"host signal {signo} without the guest-signal report")
        return Outcome("signal", status)
    if status == 1 and lines and lines[-1].startswith("tcgpy: ") and len(lines) <= 2:
        return Outcome("error", status, lines[-1][:200])
    return Outcome("ran", status)


def classify_qemu(status: int | None, stderr: str) -> str:
    if status is None:
        return "timeout"
    if status < 0:
        return "signal"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if status in (1, 255) and lines and lines[-1].startswith("qemu"):
        return "error"
    return "ran"


def fuzz_elf(seeds: range, base: str, workdir: str, timeout: float = 20.0, qemu: str | None = None,
             tcgpy: list[str] | None = None, cap: int = MEMORY_CAP, progress=None) -> Report:
    """Run a mutation of ``base`` per seed under ``tcgpy run`` (and qemu)."""
    tcgpy = tcgpy or [sys.executable, "-m", "tcgpy", "run", "--no-cache"]
    data = open(base, "rb").read()
    report = Report()
    env = {**os.environ, "TCGPY_CACHE": "0"}
    for seed in seeds:
        rng = random.Random(seed)
        mutated, what = mutate_elf(data, rng)
        path = os.path.join(workdir, f"elf-{seed}")
        with open(path, "wb") as f:
            f.write(mutated)
        os.chmod(path, 0o755)
        status, err, rss, secs = _run_capped([*tcgpy, path], timeout, env)
        o = classify(status, err, rss, cap)
        o.seconds, o.rss = secs, rss
        report.runs += 1
        report.kinds[o.kind] += 1
        if qemu:
            q_status, q_err, _, _ = _run_capped([qemu, path], timeout)
            q = classify_qemu(q_status, q_err)
            report.vs_qemu[(o.kind, q)] += 1
            if o.kind == "timeout" and q != "timeout":
                o = Outcome("timeout", None, "qemu-aarch64 finished")
                report.failures.append((seed, what, o))
        if o.kind in FAILURES:
            report.failures.append((seed, what, o))
        os.unlink(path)
        if progress:
            progress(seed, what, o)
    return report


# -- random code through the library API ---------------------------------------------

CODE, DATA = 0x10000, 0x40000


def code_pool(path: str) -> bytes:
    """The executable bytes of a (static) ELF program: real instructions to
    take windows from and mutate (b"" when it cannot be read)."""
    try:
        data = open(path, "rb").read()
        ident, _, _, _, _, phoff, _, _, _, phentsize, phnum, _, _, _ = EHDR.unpack_from(data)
        out = b""
        for i in range(phnum):
            p_type, p_flags, off, _, _, filesz, _, _ = PHDR.unpack_from(data, phoff + i * phentsize)
            if p_type == PT_LOAD and p_flags & 1:
                out += data[off:off + filesz]
        return out[:len(out) & ~3]
    except (OSError, struct.error):
        return b""


def fuzz_code_one(seed: int, pool: bytes = b"") -> str:
    """Run code through ``tcgpy.Emulator`` with an instruction budget: a
    window of real instructions from ``pool`` with a few bits flipped, or
    random words; returns how it ended.  Anything but a tcgpy error or a
    normal stop propagates (a failure)."""
    import tcgpy
    rng = random.Random(seed)
    emu = tcgpy.Emulator("aarch64", icount=True)
    emu.mem_map(CODE, 0x4000, "rwx" if rng.random() < 0.3 else "rx")
    emu.mem_map(DATA, 0x4000, rng.choice(("rw", "r", "-")))
    n = rng.randint(1, 64)
    if pool and rng.random() < 0.7:
        at = rng.randrange(0, len(pool) - 4 * n + 1, 4) if len(pool) >= 4 * n else 0
        code = bytearray(pool[at:at + 4 * n])
        for _ in range(rng.randint(0, 3)):
            if code:
                code[rng.randrange(len(code))] ^= 1 << rng.randrange(8)
    else:
        code = b"".join(rng.getrandbits(32).to_bytes(4, "little") for _ in range(n))
    emu.mem_write(CODE, bytes(code))
    for i in range(31):
        emu.reg_write(f"x{i}", rng.choice((0, DATA, DATA + rng.randrange(0x4000), rng.getrandbits(64))))
    emu.reg_write("sp", DATA + 0x2000)
    try:
        emu.run(CODE, count=rng.randint(1, 2000))
        return "stopped"
    except tcgpy.EmulationError as e:
        return type(e).__name__


def fuzz_code(seeds: range, progress=None, pool: bytes = b"") -> Report:
    report = Report()
    for seed in seeds:
        try:
            kind = fuzz_code_one(seed, pool)
        except Exception as e:       # noqa: BLE001 -- exactly what a fuzz run must catch
            kind = "traceback"
            report.failures.append((seed, "code", Outcome("traceback", None, f"{type(e).__name__}: {e}"[:200])))
        report.runs += 1
        report.kinds[kind] += 1
        if progress:
            progress(seed, "code", kind)
    return report


# -- the statistics table: runs per probe and outcomes ---------------------------------

# The columns: what each engine's outcome kinds count as.
COLUMNS = ("error", "signal", "ran", "timeout", "failure")
_CODE_KIND = {"stopped": "ran"}        # code runs: an EmulationError is the guest's fault (its signal)

# Misbehaving guest programs (tests/guest/bin; tests/test_linux_hostile.py,
# tests/test_linux_guest.py check their output): probe name, argv.
GUEST_PROBES = (
    ("guest /proc probing", ["libc_hostile", "proc"]),
    ("guest fd games", ["libc_hostile", "fds"]),
    ("guest signal dispositions", ["libc_hostile", "sigign"]),
    ("guest 2,000 mappings", ["libc_maps", "many", "2000"]),
    ("guest huge mappings", ["libc_maps", "huge"]),
    ("guest 50 forked children", ["libc_forks", "50", "100"]),
)


@dataclass
class ProbeRow:
    probe: str
    runs: int = 0
    tcgpy: Counter = field(default_factory=Counter)     # column -> runs
    qemu: Counter = field(default_factory=Counter)


def _column(kind: str) -> str:
    kind = _CODE_KIND.get(kind, kind)
    if kind in FAILURES:
        return "failure"
    return kind if kind in COLUMNS else "signal"


def probe_table(elf_runs: int, code_runs: int, guest_runs: int, base: str, workdir: str, seed: int = 0,
                timeout: float = 20.0, qemu: str | None = None, progress=None) -> tuple[list[ProbeRow], list]:
    """Outcome counts per probe: the ELF campaign by the kind of each
    run's first mutation (``ph3.filesz`` counts as ``ph.filesz``), the code
    campaign as one row, and ``guest_runs`` runs of each GUEST_PROBES
    program; qemu's outcomes beside tcgpy's where ``qemu`` is given (the
    code campaign goes through the library API: no qemu).  Returns the
    rows and the failures, as Report.failures."""
    import re
    rows: dict[str, ProbeRow] = {}
    failures = []

    def row(name: str) -> ProbeRow:
        return rows.setdefault(name, ProbeRow(name))

    def elf_progress(s, what, o):
        r = row("elf " + re.sub(r"^ph\d+", "ph", what.split("+")[0]))
        r.runs += 1
        r.tcgpy[_column(o.kind)] += 1
        if progress:
            progress(r.probe, o.kind)
    if elf_runs:
        report = fuzz_elf(range(seed, seed + elf_runs), base, workdir, timeout, None, progress=elf_progress)
        failures += report.failures
        if qemu:
            # the same mutations again (a seed makes its mutation), under qemu
            data = open(base, "rb").read()
            for s in range(seed, seed + elf_runs):
                mutated, what = mutate_elf(data, random.Random(s))
                path = os.path.join(workdir, f"elf-q{s}")
                with open(path, "wb") as f:
                    f.write(mutated)
                os.chmod(path, 0o755)
                status, err, _, _ = _run_capped([qemu, path], timeout)
                os.unlink(path)
                row("elf " + re.sub(r"^ph\d+", "ph", what.split("+")[0])).qemu[_column(classify_qemu(status, err))] += 1
    if code_runs:
        r = row("code via the API")
        pool = code_pool(base)
        for s in range(seed, seed + code_runs):
            try:
                kind = fuzz_code_one(s, pool)
            except Exception as e:       # noqa: BLE001 -- a failure, counted
                kind = "traceback"
                failures.append((s, "code", Outcome("traceback", None, f"{type(e).__name__}: {e}"[:200])))
            r.runs += 1
            r.tcgpy[_column(kind)] += 1
    bindir = os.path.dirname(os.path.abspath(base))       # the guest programs sit beside it
    env = {**os.environ, "TCGPY_CACHE": "0"}
    tcgpy = [sys.executable, "-m", "tcgpy", "run", "--no-cache"]
    for name, argv in GUEST_PROBES if guest_runs else ():
        prog = os.path.join(bindir, argv[0])
        if not os.access(prog, os.X_OK):
            continue
        r = row(name)
        for _ in range(guest_runs):
            status, err, rss, _ = _run_capped([*tcgpy, prog, *argv[1:]], timeout, env)
            o = classify(status, err, rss)
            r.runs += 1
            r.tcgpy[_column(o.kind)] += 1
            if o.kind in FAILURES:
                failures.append((0, name, o))
            if qemu:
                status, err, _, _ = _run_capped([qemu, prog, *argv[1:]], timeout)
                r.qemu[_column(classify_qemu(status, err))] += 1
            if progress:
                progress(name, "")
    return sorted(rows.values(), key=lambda r: (r.probe.split()[0] != "elf", r.probe)), failures


def format_probe_table(rows: list[ProbeRow], qemu: bool) -> str:
    """One line per probe: runs, then tcgpy's outcome counts (and qemu's)."""
    heads = ["clean error", "guest signal", "ran", "timeout", "failure"]
    width = max([len(r.probe) for r in rows] + [5])
    head = f"{'probe':<{width}} {'runs':>5} | " + " ".join(f"{h:>12}" for h in heads)
    if qemu:
        head += " | qemu-aarch64: " + " ".join(f"{h:>12}" for h in heads[:4])
    out = [head, "-" * len(head)]
    total = ProbeRow("total")
    for r in [*rows, None]:
        if r is None:
            r = total
            out.append("-" * len(head))
        else:
            total.runs += r.runs
            total.tcgpy.update(r.tcgpy)
            total.qemu.update(r.qemu)
        line = f"{r.probe:<{width}} {r.runs:>5} | " + " ".join(f"{r.tcgpy[c]:>12}" for c in COLUMNS)
        if qemu:
            line += " | " + " " * 14 + " ".join(f"{r.qemu[c] if r.qemu else '-':>12}" for c in COLUMNS[:4])
        out.append(line)
    return "\n".join(out)


def find_qemu(base: str | None = None) -> str | None:
    """The qemu-user of ``base``'s architecture (qemu-aarch64 by default), if installed."""
    name = "qemu-aarch64"
    if base is not None:
        from .targets import from_elf
        try:
            with open(base, "rb") as f:
                machine = EHDR.unpack(f.read(EHDR.size))[2]
        except (OSError, struct.error):
            machine = None
        target = from_elf(machine) if machine is not None else None
        if target is not None and target.qemu_user:
            name = target.qemu_user
    return shutil.which(name)
