"""The fuzz harness (tcgpy/fuzz.py): its classification, and smoke
campaigns -- mutated ELF files through ``tcgpy run``, random code through
the API -- that must end in no traceback, host crash, runaway memory or
hang.  Longer campaigns run under ``-m slow`` (and ``tcgpy fuzz``)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from tcgpy import fuzz

ROOT = Path(__file__).resolve().parent.parent
BASES = [ROOT / "tests" / "guest" / "bin" / p for p in ("fs_args", "libc_hello", "fs_args_pie")]


def test_classification():
    assert fuzz.classify(1, "tcgpy: prog: truncated or malformed program headers\n", 0).kind == "error"
    assert fuzz.classify(0, "", 0).kind == "ran" and fuzz.classify(3, "guest's own text\n", 0).kind == "ran"
    assert fuzz.classify(None, "", 0).kind == "timeout"
    tb = "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: boom\n"
    assert fuzz.classify(1, tb, 0).kind == "traceback"
    assert fuzz.classify(1, "tcgpy: internal error: KeyError: 3 (x.py:1; TCGPY_TRACEBACK=1 ...)\n", 0).kind == "traceback"
    # a SIGSEGV with the guest-signal report is the guest's; without it, tcgpy's own
    assert fuzz.classify(-11, "tcgpy: uncaught target signal 11 (Segmentation fault)\n", 0).kind == "signal"
    assert fuzz.classify(-11, "", 0).kind == "crash"
    assert fuzz.classify(-15, "", 0).kind == "signal"       # a terminating signal prints nothing
    assert fuzz.classify(0, "", fuzz.MEMORY_CAP + 1).kind == "memory"


def test_mutations_are_named_and_replay_from_their_seed():
    data = BASES[0].read_bytes()
    a = fuzz.mutate_elf(data, random.Random(42))
    assert a == fuzz.mutate_elf(data, random.Random(42)) and a[0] != data and a[1]
    kinds = {part.split(".")[0].rstrip("0123456789") for s in range(300)
             for part in fuzz.mutate_elf(data, random.Random(s))[1].split("+")}
    assert kinds >= {"entry", "phoff", "phnum", "phentsize", "type", "machine", "class", "ph", "interp",
                     "truncate", "bytes"}


@pytest.mark.parametrize("base", BASES, ids=lambda p: p.name)
def test_mutated_elf_smoke(base, tmp_path):
    report = fuzz.fuzz_elf(range(1000, 1008), str(base), str(tmp_path), timeout=60)
    assert report.runs == 8 and not report.failures, report.format()
    assert set(report.kinds) <= {"ran", "signal", "error", "timeout"}


def test_random_code_smoke():
    pool = fuzz.code_pool(str(BASES[1]))
    assert len(pool) > 100_000                 # libc_hello's text
    report = fuzz.fuzz_code(range(0, 150), pool=pool)
    assert report.runs == 150 and not report.failures, report.format()
    assert set(report.kinds) <= {"stopped", "IllegalInstruction", "MemoryFault", "AlignmentFault", "GuestTrap",
                                 "UnhandledSyscall"}


@pytest.mark.slow
def test_mutated_elf_campaign(tmp_path):
    report = fuzz.fuzz_elf(range(0, 600), str(BASES[1]), str(tmp_path), timeout=60, qemu=fuzz.find_qemu())
    print(report.format())
    assert not report.failures, report.format()


@pytest.mark.slow
def test_random_code_campaign():
    report = fuzz.fuzz_code(range(0, 20_000), pool=fuzz.code_pool(str(BASES[1])))
    print(report.format())
    assert not report.failures, report.format()


def test_probe_table_counts_every_run_once_per_probe(tmp_path, monkeypatch):
    """``tcgpy fuzz table``: each ELF run counts under its first mutation's
    kind, the code campaign is one row, each guest program one row; the
    counts of a row add up to its runs, for tcgpy and for qemu alike."""
    import shutil
    monkeypatch.setattr(fuzz, "GUEST_PROBES", (("guest fd games", ["libc_hostile", "fds"]),))
    qemu = shutil.which("qemu-aarch64")
    rows, failures = fuzz.probe_table(4, 6, 1, str(BASES[0]), str(tmp_path), seed=3, timeout=60, qemu=qemu)
    assert failures == []
    by = {r.probe: r for r in rows}
    assert sum(r.runs for r in rows if r.probe.startswith("elf ")) == 4
    assert by["code via the API"].runs == 6 and not by["code via the API"].qemu
    guest = by["guest fd games"]
    assert guest.runs == 1 and guest.tcgpy["ran"] == 1
    for r in rows:
        assert sum(r.tcgpy.values()) == r.runs and set(r.tcgpy) <= set(fuzz.COLUMNS)
        if qemu and r.probe != "code via the API":
            assert sum(r.qemu.values()) == r.runs
    text = fuzz.format_probe_table(rows, qemu is not None).splitlines()
    assert text[0].split()[:2] == ["probe", "runs"] and len(text) == len(rows) + 4
    assert text[-1].split()[:2] == ["total", str(4 + 6 + 1)]


def test_fuzz_table_command_prints_the_table():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "tcgpy", "fuzz", "table", "--runs", "2", "--code-runs", "3",
                        "--guest-runs", "0", "--no-qemu"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["probe", "runs"] and "qemu" not in lines[0]
    assert any(ln.startswith("code via the API") for ln in lines)
    assert lines[-1].split()[:2] == ["total", "5"]
