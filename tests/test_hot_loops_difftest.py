"""Random loops against Unicorn: the hot tier and hot regions under difftest.

The form-class difftest runs short straight-line sequences, which never get
hot: loop-closing edges are counted and a loop is recompiled (hot tier,
inline TLB, then one function for the whole loop, lower_region.py) only after
``tbcache.HOT_THRESHOLD`` passes.  These cases wrap random forms from every
difftest class in a counted loop (optionally nested), so the first tier, the
promotion and the region run one after the other on the same state, and
compare the end state with Unicorn like any difftest case.

Memory forms are mixed into every loop body: base registers point into the
data page and post-/pre-index writeback moves them on every pass, so loops
also walk off the page and fault inside a hot region (the fault must be as
precise as in the first tier).  Some cases stop at a random instruction count,
which usually falls inside the hot loop.  Random forms may overwrite the loop
counter (x28/x29 like any register): the loop then ends early or runs until
the count bound, which both engines honour exactly.

The default run lowers the threshold (monkeypatched) so that a loop of a few
dozen passes is promoted; the slow marker runs many more cases at the default
threshold too.
"""
from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcgpy import tbcache
from tcgpy.difftest import engine as dt
from tcgpy.difftest.aarch64.forms_atomic import is_narrow_signed_minmax
from tcgpy.difftest.aarch64.forms_fp16 import is_fcvtzs_h_fixed
from tcgpy.difftest.forms import Pos, classes

ARCH = "aarch64"
INNER, OUTER = 28, 29          # loop counter registers
# Classes whose words may join a loop body.  exc_gen ends the run at once.
BODY_CLASSES = tuple(sorted(n for n in classes(ARCH) if n != "exc_gen"))
# Words of known Unicorn bugs whose known-difference entries replay a case
# as straight-line code (each word once, in order): in a loop they become nops.
UNICORN_BUGS_NOT_IN_LOOPS = (is_narrow_signed_minmax, is_fcvtzs_h_fixed)
NOP = 0xD503201F
# Memory forms mixed into every body (all run on either Unicorn model).
MEMORY_CLASSES = ("ldst_uimm", "ldst_reg", "ldst_prepost", "ldst_pair", "ldst_unscaled",
                  "simd_ldst", "simd_ld1st1")


def movz(rd: int, imm16: int) -> int:
    return 0xD2800000 | (imm16 << 5) | rd


def subs_one(rd: int) -> int:
    """subs xd, xd, #1"""
    return 0xF1000400 | (rd << 5) | rd


def b_ne(from_index: int, to_index: int) -> int:
    return 0x54000001 | (((to_index - from_index) & 0x7FFFF) << 5)


def loop_case(rng: random.Random, passes: tuple[int, int], label: str = "") -> dt.Case:
    """A random loop case: ``movz x28, #n; body; subs x28; b.ne body`` with
    ``n`` drawn from ``passes`` (inclusive), a quarter of the time inside an
    outer loop of 2-3 passes around the inner loop and a second body."""
    table = classes(ARCH)
    body_len = rng.randrange(1, 9)
    body, names, primary = dt.generate_code([table[n] for n in BODY_CLASSES], rng, body_len)
    body, names = list(body), list(names)
    for _ in range(rng.randrange(1, 3)):
        at = rng.randrange(len(body) + 1)
        mem = table[rng.choice(MEMORY_CLASSES)]
        body.insert(at, mem.gen(rng, Pos(at, len(body) + 1)))
        names.insert(at, mem.name)
    n = rng.randint(*passes)
    words = [movz(INNER, n), *body, subs_one(INNER), b_ne(len(body) + 2, 1)]
    names = ["loop", *names, "loop", "loop"]
    if rng.random() < 0.25:
        # movz x29, #m; <the inner loop>; tail; subs x29; b.ne <the inner loop's movz>
        # (branches are pc-relative: the inner loop's words stay as they are)
        tail, tail_names, _ = dt.generate_code([table[primary]], rng, rng.randrange(1, 4))
        words = [movz(OUTER, rng.randint(2, 3)), *words, *tail, subs_one(OUTER)]
        words.append(b_ne(len(words), 1))
        names = ["loop", *names, *tail_names, "loop", "loop"]
    for i, w in enumerate(words):
        if any(bug(w) for bug in UNICORN_BUGS_NOT_IN_LOOPS):
            words[i], names[i] = NOP, "nop"
    da = dt.diff_arch(ARCH)
    regs = dt.random_start_regs(da, rng)
    full = 4 * len(words) * n + 64
    bound = full if rng.random() < 0.7 else rng.randrange(1, full)
    return dt.Case(ARCH, tuple(words), regs, dt.random_data(rng), bound, tuple(names), primary, label)


@pytest.fixture(scope="module")
def engine():
    return dt.Engine(ARCH)


@contextlib.contextmanager
def hot_threshold(passes: int):
    # Read when a loop edge's counter is allocated, i.e. when code is compiled.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tbcache, "HOT_THRESHOLD", passes)
        yield


def _check(engine, case: dt.Case) -> None:
    res = engine.run(case)
    if res.status == "pass" or res.status == "known" and res.known.diverges_at is None:
        return
    # Where tcgpy faults, the engines may part at that instruction for a known
    # reason.  Known-difference entries judge straight-line code (a rerun that
    # stops at the first visit of a pc, replays that run each word once), so
    # a loop's case is judged in two steps: everything agrees up to the
    # faulting instruction's pass, and that instruction alone, from that
    # state, differs only in a known way.
    assert res.subject.event.kind == "fault", f"{case}: {res.mismatch}"
    before = _agrees_before_fault(engine, res)
    assert before.status == "pass", f"{case}: before the fault: {before.mismatch}"
    pc = res.subject.regs["pc"]
    assert before.subject.regs["pc"] == pc, f"{case}: the fault is not where tcgpy says"
    word = case.words[(pc - dt.CODE_BASE) // 4]
    one = case.with_(words=(word,), regs=before.subject.regs, data=before.subject.data, bound=1,
                     classes=(case.classes[(pc - dt.CODE_BASE) // 4],), label=f"{case.label} at {pc:#x}")
    alone = engine.run(one)
    assert alone.subject.event == res.subject.event, f"{one}: {alone.subject.event}"
    page_crossing = alone.reference.event.kind == "fault" and _page_crossing_fault(alone)
    assert alone.status == "known" or page_crossing, f"{case}: {res.mismatch}; alone: {alone.mismatch}"


def _page_crossing_fault(res: dt.Result) -> bool:
    """A loop that walks its pointer off the data page ends in an access that
    crosses a page boundary, where the two softmmus differ by design
    (tcgpy/ir/ops.py pair_upper_first, and
    tests/test_a64_ldst.py::test_difftest_any_ldst_word): tcgpy reports the
    first address of the (up to 8-byte) access that faults, stores the upper
    half of a pair first when only its lower half is in the first page, and
    loads everything before writing a register; Unicorn reports another
    address of the access and has already stored, or loaded into vector
    registers, the elements before the fault.  Both fault at the same
    instruction with the same access, at addresses less than 64 bytes apart
    next to a page boundary, and only the event, memory and vector registers
    differ."""
    a, b = res.reference.event, res.subject.event
    if a.access != b.access or a.address is None or b.address is None:
        return False
    lo, hi = sorted((a.address, b.address))
    if hi - lo >= 1 << 63:          # a pair at -8 also accesses 0
        lo, hi = hi, hi + (lo - hi) % (1 << 64)
    if hi - lo >= 64 or (lo - 64) >> 12 == (hi + 63) >> 12:
        return False
    return all(n == "event" or n.startswith(("mem@", "q")) for n in res.mismatch.names)


def _agrees_before_fault(engine, res: dt.Result) -> dt.Result:
    """The case run to the largest instruction count at which tcgpy stops
    before its fault (so the faulting instruction is the next one)."""
    lo, hi = 0, res.case.bound
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if engine.subject.run(res.case.with_(bound=mid)).event.kind == "end":
            lo = mid
        else:
            hi = mid - 1
    return engine.run(res.case.with_(bound=lo))


def test_loop_words_are_a_counted_loop(engine):
    # movz x28, #3; add x0, x0, #1; subs x28, x28, #1; b.ne add
    words = (movz(INNER, 3), 0x91000400, subs_one(INNER), b_ne(3, 1))
    da = dt.diff_arch(ARCH)
    case = dt.Case(ARCH, words, {r: 0 for r in da.state_regs}, bytes(dt.DATA_SIZE), 100)
    res = engine.run(case)
    assert res.status == "pass", res.mismatch
    assert res.subject.regs["x0"] == 3 and res.subject.regs["x28"] == 0


def _hand_loop(body: tuple[int, ...], regs: dict, passes: int) -> dt.Case:
    words = (movz(INNER, passes), *body, subs_one(INNER), b_ne(len(body) + 2, 1))
    da = dt.diff_arch(ARCH)
    start = {r: 0 for r in da.state_regs}
    start.update(regs)
    data = bytes(i * 7 & 0xFF for i in range(dt.DATA_SIZE))
    return dt.Case(ARCH, words, start, data, 4 * len(words) * passes, ("loop",) * len(words))


def test_hot_loop_running_off_the_page_end(engine):
    # st1 {v24.4s-v27.4s}, [x23], x18: 64 bytes a pass, 30 bytes on: the last
    # pass crosses into the unmapped page after the loop got hot.
    case = _hand_loop((0x4C922AF8,), {"x23": dt.DATA_BASE + 0xF000, "x18": 30, "q26": 0x1234 << 64 | 5},
                      400)
    with hot_threshold(6):
        res = engine.run(case)
        assert res.subject.event.kind == "fault" and res.subject.regs["pc"] == dt.CODE_BASE + 4
        assert _page_crossing_fault(res)
        _check(engine, case)


def test_hot_loop_dc_zva_below_the_page(engine):
    # dc zva, x27; stp q0, q20, [x27], #-0x100: walks down below the data page
    case = _hand_loop((0xD50B743B, 0xACB85360), {"x27": dt.DATA_BASE + 0x1F60, "q0": 3, "q20": 7}, 400)
    with hot_threshold(6):
        res = engine.run(case)
        assert res.status == "known" and res.known.name == "a64-dc-zva-fault-pc"
        _check(engine, case)


def test_random_loops_get_hot_and_match_unicorn(engine):
    stats = engine.subject.emu.stats
    promoted, regions = stats.blocks_promoted, stats.hot_regions
    with hot_threshold(6):
        for i in range(12):
            _check(engine, loop_case(random.Random(f"hot loops {i}"), (20, 60), f"hot loops {i}"))
    # The cases must reach the code under test, not just pass.
    assert stats.blocks_promoted > promoted
    assert stats.hot_regions > regions


# A third of the profile's examples: each case compiles a loop at two tiers.
@settings(deadline=None, max_examples=max(10, settings.default.max_examples // 3))
@given(seed=st.integers(0, 2 ** 64 - 1))
def test_difftest_random_loops(engine, seed):
    with hot_threshold(6):
        _check(engine, loop_case(random.Random(seed), (1, 50), f"seed {seed}"))


@pytest.mark.slow
@pytest.mark.parametrize("threshold", [6, tbcache.HOT_THRESHOLD])
def test_random_loops_campaign(engine, threshold):
    with hot_threshold(threshold):
        for i in range(1500):
            label = f"loop campaign {threshold} {i}"
            _check(engine, loop_case(random.Random(label), (1, 4 * threshold), label))
