"""The difftest machinery: case generation, both runners, comparison, the
minimizer, case files and replay, campaigns, the ``tcgpy difftest`` command,
and a hypothesis difftest over every registered instruction class."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcgpy.difftest import forms
from tcgpy.difftest.aarch64.testing import broken_add_imm
from tcgpy.difftest.campaign import Spec, run_campaign
from tcgpy.difftest.casefile import case_from_json, case_to_json, replay, write_case
from tcgpy.difftest.engine import (CODE_BASE, DATA_BASE, DATA_SIZE, END, Case, Engine, Event,
                                   Outcome, TcgpyRunner, campaign_case, compare, default_bound,
                                   diff_arch, generate_code, random_data, random_start_regs,
                                   select_classes)
from tcgpy.difftest.known_differences import KnownDifference, any_word, only_fields
from tcgpy.difftest.minimize import minimize, minimize_result
from tcgpy.difftest.testing import ENV_VAR

from .asm import asm

ARCH = "aarch64"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def engine():
    return Engine(ARCH)


def words_of(text: str) -> tuple[int, ...]:
    code = asm(text, CODE_BASE)
    return tuple(int.from_bytes(code[i:i + 4], "little") for i in range(0, len(code), 4))


def simple_case(text: str, **regs) -> Case:
    start = {n: 0 for n in diff_arch(ARCH).state_regs}
    start["sp"] = DATA_BASE + DATA_SIZE // 2
    start.update(regs)
    words = words_of(text)
    return Case(ARCH, words, start, bytes(range(256)) * (DATA_SIZE // 256), 4 * len(words) + 16)


# -- cases --------------------------------------------------------------------------

def test_campaign_cases_are_reproducible_and_share_code_in_groups():
    classes = select_classes(ARCH)
    a = [campaign_case(ARCH, classes, 7, i, 4, states_per_code=4) for i in range(8)]
    b = [campaign_case(ARCH, classes, 7, i, 4, states_per_code=4) for i in range(8)]
    assert a == b
    assert a[0].words == a[3].words and a[0].regs != a[3].regs
    assert a[3].words != a[4].words
    assert campaign_case(ARCH, classes, 8, 0, 4).words != a[0].words


def test_start_state_follows_the_forms_conventions():
    classes = select_classes(ARCH)
    defs = diff_arch(ARCH).defs
    assert defs.ptr_regs and defs.small_regs
    for i in range(50):
        c = campaign_case(ARCH, classes, 1, i, 3)
        for n in defs.ptr_regs:
            assert DATA_BASE + 0x100 <= c.regs[f"x{n}"] < DATA_BASE + DATA_SIZE - 0x100
        for n in defs.small_regs:
            assert c.regs[f"x{n}"] < 256
        assert c.regs["sp"] % 16 == 0 and DATA_BASE < c.regs["sp"] < DATA_BASE + DATA_SIZE
        assert c.regs["nzcv"] & 0x0FFF_FFFF == 0
        assert len(c.words) == 3 and len(c.data) == DATA_SIZE
    # edge values are drawn often
    values = {v for i in range(50) for v in campaign_case(ARCH, classes, 1, i, 1).regs.values()}
    assert {0, 1, (1 << 64) - 1, 1 << 63} <= values


def test_unknown_class_is_an_error():
    with pytest.raises(ValueError, match="no_such_class"):
        select_classes(ARCH, ["no_such_class"])


# -- runners and comparison ---------------------------------------------------------

@pytest.mark.parametrize("text, regs, event, pc_off", [
    ("add x0, x1, #1; add x2, x0, x0", {}, END, 8),
    ("mov x0, #7; ldr x1, [x2]", {"x2": 0x300000}, Event("fault", "read", 0x300000), 4),
    ("mov x0, #8; str x1, [x2]", {"x2": CODE_BASE}, Event("fault", "write", CODE_BASE), 4),
    ("mov x0, #9; svc #0; mov x0, #3", {}, Event("syscall"), 8),
    ("mov x0, #10; .word 0; mov x0, #3", {}, Event("illegal"), 4),
    ("mov x0, #11; brk #0; mov x0, #3", {}, Event("trap"), 4),
    ("mov x0, #12; b .+0x4000", {}, Event("fault", "fetch", CODE_BASE + 0x4004), 0x4004),
    ("mov x0, #13; b .-4", {}, END, 0),                    # stopped by the count
])
def test_both_engines_report_the_same_stops(engine, text, regs, event, pc_off):
    case = simple_case(text, **regs)
    r = engine.run(case)
    assert r.reference.event == event, r.reference.event
    assert r.reference.regs["pc"] == CODE_BASE + pc_off
    assert r.status == "pass", r.mismatch


def test_unicorn_runs_rewritten_code(engine):
    # Unicorn keeps stale blocks after an svc-stopped run unless told to drop them.
    engine.run(simple_case("mov x0, #9; svc #0"))
    r = engine.run(simple_case("mov x0, #10; add x0, x0, #5"))
    assert r.reference.regs["x0"] == 15 and r.subject.regs["x0"] == 15


def test_each_case_starts_with_a_clear_exclusive_monitor(engine):
    ptr = DATA_BASE + 0x100
    engine.run(simple_case("ldxr x1, [x20]", x20=ptr))
    r = engine.run(simple_case("mov x0, #5; stxr w0, x1, [x20]", x20=ptr))
    assert r.reference.regs["x0"] == 1 and r.status == "pass", r.mismatch


def test_compare_names_every_differing_field():
    da = diff_arch(ARCH)
    regs = {n: 0 for n in da.compare_regs}
    data = bytes(DATA_SIZE)
    ref = Outcome(END, regs, data)
    sub = Outcome(Event("fault", "read", 8), dict(regs, x3=1, nzcv=0x40000000),
                  data[:0x10] + b"\1\2" + data[0x12:0x100] + b"\3" + data[0x101:])
    mm = compare(da, ref, sub)
    assert mm.names == ["event", "x3", "nzcv", f"mem@{DATA_BASE + 0x10:#x}",
                        f"mem@{DATA_BASE + 0x100:#x}"]
    assert compare(da, ref, Outcome(END, dict(regs), data)) is None
    # an unknown access or address (Unicorn's alignment faults) matches any
    assert Event("fault").same(Event("fault", "write", 0x1234))
    assert not Event("fault", "read").same(Event("fault", "write"))


# -- the minimizer, against a fake engine ----------------------------------------------

BUG_WORD = 0x8B020020           # add x0, x1, x2


class FakeRunner:
    """Returns the start state as the end state; ``buggy`` flips x0 when the
    bug word runs with x3 != 0 and data byte 0x100 != 0."""

    def __init__(self, name, buggy):
        self.name = name
        self.buggy = buggy

    def run(self, case):
        regs = dict(case.regs, pc=case.end)
        if self.buggy and BUG_WORD in case.words and case.regs["x3"] and case.data[0x100]:
            regs["x0"] ^= 1
        return Outcome(END, regs, case.data)


def fake_engine():
    return Engine(ARCH, reference=FakeRunner("ref", False), subject=FakeRunner("sub", True))


def test_minimizer_shrinks_instructions_values_and_data():
    classes = select_classes(ARCH)
    case = campaign_case(ARCH, classes, 3, 0, 6)
    case = case.with_(words=case.words[:3] + (BUG_WORD,) + case.words[3:],
                      classes=case.classes[:3] + ("x",) + case.classes[3:],
                      regs=dict(case.regs, x3=0x1234_5678_9ABC), data=b"\xAA" * DATA_SIZE)
    eng = fake_engine()
    r = eng.run(case)
    assert r.status == "mismatch"
    small = minimize_result(eng, r)
    c = small.case
    assert c.words == (BUG_WORD,) and c.classes == ("x",)
    assert c.regs["x3"] == 1                                  # simplest value still failing
    assert all(v == 0 for k, v in c.regs.items() if k not in ("x3", "sp") and
               not (DATA_BASE <= v < DATA_BASE + DATA_SIZE))
    assert sum(1 for b in c.data if b) <= 8 and c.data[0x100]
    assert small.mismatch.names == ["x0"]
    assert eng.runs < 400


def test_minimize_never_returns_a_passing_case():
    case = campaign_case(ARCH, select_classes(ARCH), 3, 1, 4)
    calls = []
    out = minimize(case, lambda c: calls.append(c) or len(c.words) >= 2, budget=50)
    assert len(out.words) == 2 and len(calls) <= 50


# -- known differences -------------------------------------------------------------------

def test_known_difference_entry_classifies_a_mismatch():
    entry = KnownDifference(
        name="fake-add-x0", arch=ARCH,
        matches=lambda case, mm, ref, sub: any_word(0xFFFFFFFF, BUG_WORD)(case)
        and only_fields("x0")(mm),
        unicorn="-", architecture="-", proof="test", why="test")
    eng = Engine(ARCH, reference=FakeRunner("ref", False), subject=FakeRunner("sub", True),
                 known=(entry,))
    case = campaign_case(ARCH, select_classes(ARCH), 3, 2, 1)
    case = case.with_(words=(BUG_WORD,), regs=dict(case.regs, x3=5), data=b"\1" * DATA_SIZE)
    r = eng.run(case)
    assert r.status == "known" and r.known is entry


@pytest.mark.parametrize("text", [
    "add x1, x20, #1; stxr w2, x0, [x1]; add x3, x3, #3",       # misaligned store-exclusive
    "add x1, x20, #4; ldar x5, [x1]",                           # misaligned load-acquire
])
def test_known_difference_needs_agreement_up_to_where_it_diverges(text):
    case = simple_case(text, x20=DATA_BASE + 0x100)
    r = Engine(ARCH).run(case)
    assert r.status == "known", r.mismatch
    with broken_add_imm():          # the add before it now differs: a real bug, not the known one
        r = Engine(ARCH).run(case)
    assert r.status == "mismatch" and r.known is None


# -- the injected bug: found, minimized, written, replayed ---------------------------------

def test_broken_translation_is_found_minimized_written_and_replayed(tmp_path):
    spec = Spec(ARCH, seed=11, length=4, classes=("addsub_imm",), out=str(tmp_path))
    with broken_add_imm():
        eng = Engine(ARCH)
        summary = run_campaign(spec, count=24, jobs=1, engine=eng)
        assert summary.exit_status == 1 and summary.findings
        f = summary.findings[0]
        assert f.length == 1 and f.culprit == ["addsub_imm"], f
        assert "add " in f.disassembly[0]
        with open(f.path) as fh:
            doc = json.load(fh)
        assert doc["differences"] and doc["disassembly"] == f.disassembly
        rp = replay(f.path, eng)
        assert rp.reproduced, rp.result.mismatch
    # without the injected bug the same file passes
    assert replay(f.path, Engine(ARCH)).result.status == "pass"


def test_same_seed_same_campaign_whatever_the_number_of_workers():
    spec = Spec(ARCH, seed=77, length=3, classes=("addsub_imm", "movw", "csel"))
    with broken_add_imm():          # forked workers inherit the injected bug
        one = run_campaign(spec, count=120, jobs=1)
        two = run_campaign(spec, count=120, jobs=2)
    assert one.findings and one.stats == two.stats
    assert [f.index for f in one.findings] == [f.index for f in two.findings]
    assert [f.summary for f in one.findings] == [f.summary for f in two.findings]


def test_case_file_round_trip(engine, tmp_path):
    case = campaign_case(ARCH, select_classes(ARCH), 5, 3, 4)
    r = engine.run(case)
    assert case_from_json(case_to_json(r)) == case
    path = write_case(str(tmp_path), r)
    assert replay(path, engine).result.status == "pass"


def test_clean_campaign_has_no_unknown_mismatch(engine):
    summary = run_campaign(Spec(ARCH, seed=2024, length=4, classes=()), count=400, engine=engine)
    assert summary.exit_status == 0, [f.summary for f in summary.findings]
    assert sum(s.cases for s in summary.stats.values()) == 400
    assert set(summary.stats) <= set(forms.classes(ARCH))


# -- the command, end to end -----------------------------------------------------------

def difftest_cmd(*args, env=None, arch=ARCH):
    e = dict(os.environ)
    e.pop(ENV_VAR, None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "tcgpy", "difftest", *([arch] if arch else []),
                           *args], capture_output=True, text=True, env=e, cwd=ROOT, timeout=300)


def test_cli_list_classes():
    p = difftest_cmd("--list-classes")
    assert p.returncode == 0
    names = [line.split()[0] for line in p.stdout.splitlines()]
    assert names == sorted(forms.classes(ARCH))


def test_cli_clean_campaign_json():
    p = difftest_cmd("--count", "48", "--jobs", "2", "--seed", "9", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    for key in ("arch", "seed", "count", "length", "jobs", "classes", "elapsed_s", "cases_per_s",
                "passed", "mismatches", "known", "per_class", "time_s", "findings", "exit_status"):
        assert key in doc, key
    assert doc["count"] == 48 and doc["passed"] + doc["known"] == 48 and doc["mismatches"] == 0
    assert doc["seed"] == 9 and doc["exit_status"] == 0
    assert sum(c["cases"] for c in doc["per_class"].values()) == 48
    assert {"unicorn", "tcgpy", "generate", "tcgpy:llvm_compile"} <= set(doc["time_s"])


def test_cli_finds_and_replays_an_injected_bug(tmp_path):
    inject = {ENV_VAR: "a64-add-imm-plus-one"}
    p = difftest_cmd("--count", "40", "--jobs", "2", "--seed", "4", "--classes", "addsub_imm",
                     "--out", str(tmp_path), env=inject)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "MISMATCH" in p.stdout and "addsub_imm" in p.stdout
    files = sorted(tmp_path.glob("*.json"))
    assert files
    doc = json.loads(files[0].read_text())
    assert len(doc["disassembly"]) == 1 and doc["disassembly"][0].split()[2] == "add"
    [diff] = doc["differences"]
    assert int(diff["tcgpy"], 16) - int(diff["unicorn"], 16) == 1    # exactly the injected bug
    rp = difftest_cmd("--replay", str(files[0]), env=inject, arch=None)
    assert rp.returncode == 1 and "reproduced" in rp.stdout, rp.stdout
    ok = difftest_cmd("--replay", str(files[0]), "--json", arch=None)
    assert ok.returncode == 0 and json.loads(ok.stdout)["replayed"][0]["status"] == "pass"


def test_cli_reports_a_case_that_kills_the_host_process(tmp_path):
    p = difftest_cmd("--count", "4", "--states", "2", "--jobs", "2", "--seed", "1",
                     "--classes", "div", "--out", str(tmp_path), "--json",
                     env={ENV_VAR: "a64-div-kills-host"})
    assert p.returncode == 1, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    assert doc["count"] == 4 and doc["mismatches"] == 4
    assert all("process died" in f["summary"] for f in doc["findings"])
    assert len(list(tmp_path.glob("*.json"))) == 4


def test_a_run_that_never_ends_is_a_timeout(monkeypatch):
    monkeypatch.setattr(TcgpyRunner, "TIMEOUT", 0.4)
    out = TcgpyRunner(ARCH).run(simple_case("b .").with_(bound=10**15))
    assert out.event.kind == "timeout"


def test_cli_usage_errors():
    assert difftest_cmd("--classes", "no_such_class", "--count", "1").returncode == 2
    assert difftest_cmd("--length", "0").returncode == 2
    assert difftest_cmd("--count", "1", arch=None).returncode == 2
    assert difftest_cmd("--count", "1", arch="sparc").returncode == 2
    alias = difftest_cmd("--list-classes", arch="arm64")
    assert alias.returncode == 0 and "addsub_imm" in alias.stdout


# -- hypothesis difftest over every registered class ---------------------------------------

@st.composite
def cases(draw, max_length: int):
    """Code and registers from hypothesis' random source (so it can shrink
    them); the 64 KiB data page from a drawn seed (drawing it byte by byte
    would be a huge example for no benefit)."""
    rng = draw(st.randoms(use_true_random=False))
    length = draw(st.integers(1, max_length))
    words, names, primary = generate_code(select_classes(ARCH), rng, length)
    regs = random_start_regs(diff_arch(ARCH), rng)
    data = random_data(random.Random(draw(st.integers(0, 2**32))))
    return Case(ARCH, words, regs, data, default_bound(length), names, primary, "hypothesis")


def _difftest_property(engine, case):
    r = engine.run(case)
    if r.status == "mismatch":
        small = minimize_result(engine, r)
        lines = "\n".join(case_to_json(small)["disassembly"])
        pytest.fail(f"difftest mismatch ({small.case.classes}):\n{lines}\n{small.mismatch}")


# A difftest example costs a few ms, far less than most property tests: 25 times
# the profile's count (1500 under "ci", about 10 s on two cores).
@settings(max_examples=25 * settings().max_examples)
@given(case=cases(max_length=4))
def test_difftest_random_sequences(engine, case):
    _difftest_property(engine, case)


@pytest.mark.slow
@settings(max_examples=20_000)
@given(case=cases(max_length=8))
def test_difftest_random_sequences_slow(engine, case):
    _difftest_property(engine, case)
