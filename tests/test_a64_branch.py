"""A64 branches: hand-written cases (checked on Unicorn too), every condition
code against the architecture's table, unallocated encodings, and a difftest
of the direct-branch form classes and of br/blr/ret.

Indirect branches are not a random form class (a random register seldom holds
a code address); here each generated sequence gets one br/blr/ret whose
register is set to a forward target in the start state.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcgpy.difftest import engine as dt
from tcgpy.difftest.aarch64.conventions import PTR_REGS
from tcgpy.difftest.aarch64.forms_ls import BRANCH_CLASSES, pack
from tcgpy.difftest.forms import CODE_BASE, DATA_SIZE, Pos, classes

CODE = CODE_BASE
N, Z, C, V = 8 << 28, 4 << 28, 2 << 28, 1 << 28        # NZCV as mrs nzcv reads it


@dataclass(frozen=True)
class T:
    code: bytes
    regs: dict
    expect: dict
    count: int = 0                 # instructions to run (default: one pass)
    name: str = field(default="")


def t(*code: bytes, regs=None, expect=None, count=0, name=""):
    return T(b"".join(code), dict(regs or {}), dict(expect or {}), count, name)


CASES = [
    t(
    b"\x02\x00\x00\x14",  # 100000: b #0x100008
    b"\x20\x00\x80\xd2",  # 100004: mov x0, #1
    b"\x41\x00\x80\xd2",  # 100008: mov x1, #2
      expect={"x1": 2}, name="b skips"),
    t(
    b"\x02\x00\x00\x94",  # 100000: bl #0x100008
    b"\x20\x00\x80\xd2",  # 100004: mov x0, #1
    b"\x41\x00\x80\xd2",  # 100008: mov x1, #2
      expect={"x1": 2, "x30": CODE + 4}, name="bl links"),
    t(
    b"\x03\x00\x00\x14",  # 100000: b #0x10000c
    b"\x03\x00\x00\x14",  # 100004: b #0x100010
    b"\x20\x00\x80\xd2",  # 100008: mov x0, #1
    b"\xfe\xff\xff\x17",  # 10000c: b #0x100004
    b"\x41\x00\x80\xd2",  # 100010: mov x1, #2
      expect={"x1": 2}, name="b backward"),
    t(
    b"\x40\x00\x00\xb4",  # 100000: cbz x0, #0x100008
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x40\x00\x00\x35",  # 100008: cbnz w0, #0x100010
    b"\x42\x00\x80\xd2",  # 10000c: mov x2, #2
      regs={"x0": 1 << 32}, expect={"x1": 1, "x2": 2}, name="cbz x / cbnz w see their width"),
    t(
    b"\x40\x00\x00\x34",  # 100000: cbz w0, #0x100008
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x40\x00\x00\xb5",  # 100008: cbnz x0, #0x100010
    b"\x42\x00\x80\xd2",  # 10000c: mov x2, #2
      regs={"x0": 1 << 32}, expect={"x1": 0, "x2": 0}, name="cbz w taken, cbnz x taken"),
    t(
    b"\x40\x00\xf8\xb7",  # 100000: tbnz x0, #0x3f, #0x100008
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x40\x00\xf8\x36",  # 100008: tbz w0, #0x1f, #0x100010
    b"\x42\x00\x80\xd2",  # 10000c: mov x2, #2
    b"\x40\x00\x00\x37",  # 100010: tbnz w0, #0, #0x100018
    b"\x63\x00\x80\xd2",  # 100014: mov x3, #3
      regs={"x0": 1 << 63 | 1 << 31 | 1}, expect={"x2": 2},
      name="tbnz bit 63 taken, tbz bit 31 not, tbnz bit 0 taken"),
    t(
    b"\xa0\x00\x1f\xd6",  # 100000: br x5
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x42\x00\x80\xd2",  # 100008: mov x2, #2
      regs={"x5": CODE + 8}, expect={"x2": 2}, name="br"),
    t(
    b"\xa0\x00\x3f\xd6",  # 100000: blr x5
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x42\x00\x80\xd2",  # 100008: mov x2, #2
      regs={"x5": CODE + 8}, expect={"x2": 2, "x30": CODE + 4}, name="blr"),
    t(
    b"\xc0\x03\x3f\xd6",  # 100000: blr x30
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x42\x00\x80\xd2",  # 100008: mov x2, #2
      regs={"x30": CODE + 8}, expect={"x2": 2, "x30": CODE + 4},
      name="blr x30 jumps to the old x30"),
    t(
    b"\xc0\x03\x5f\xd6",  # 100000: ret
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x42\x00\x80\xd2",  # 100008: mov x2, #2
      regs={"x30": CODE + 8}, expect={"x2": 2}, name="ret"),
    t(
    b"\xe0\x00\x5f\xd6",  # 100000: ret x7
    b"\x21\x00\x80\xd2",  # 100004: mov x1, #1
    b"\x42\x00\x80\xd2",  # 100008: mov x2, #2
      regs={"x7": CODE + 8, "x30": CODE + 4}, expect={"x2": 2}, name="ret x7"),
    t(
    b"\xa0\x00\x80\xd2",  # 100000: mov x0, #5
    b"\x00\x04\x00\xf1",  # 100004: subs x0, x0, #1
    b"\xe1\xff\xff\x54",  # 100008: b.ne #0x100004
      expect={"x0": 0, "nzcv": Z | C}, count=11, name="counted loop"),
]



DA = dt.diff_arch("aarch64")
DATA = bytes(DATA_SIZE)


def words_of(code: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(code[i:i + 4], "little") for i in range(0, len(code), 4))


def make_case(code: bytes, regs: dict, count: int = 0) -> dt.Case:
    full = {name: 0 for name in DA.state_regs}
    full.update(regs)
    return dt.Case("aarch64", words_of(code), full, DATA, count or len(code) // 4)


@pytest.fixture(scope="module")
def tcg():
    return dt.TcgpyRunner("aarch64")


@pytest.fixture(scope="module")
def uc():
    return dt.UnicornRunner("aarch64")


def _hexdict(d: dict) -> dict:
    return {k: hex(v) for k, v in d.items()}


def check(out: dt.Outcome, case: T) -> None:
    want = {name: 0 for name in DA.compare_regs}
    want.update(case.regs)
    want["pc"] = CODE + len(case.code)
    want.update(case.expect)
    assert out.event == dt.END, out.event
    assert _hexdict(out.regs) == _hexdict(want)


def _case_id(case: T) -> str:
    return case.name or case.code.hex()


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_hand_case(tcg, case):
    check(tcg.run(make_case(case.code, case.regs, case.count)), case)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_hand_case_table_agrees_with_unicorn(uc, case):
    check(uc.run(make_case(case.code, case.regs, case.count)), case)


# -- conditions: the Arm ARM's ConditionHolds, all 16 codes on all 16 flag values ------------------

def condition_holds(cond: int, nzcv: int) -> bool:
    n, z, c, v = (nzcv >> 31) & 1, (nzcv >> 30) & 1, (nzcv >> 29) & 1, (nzcv >> 28) & 1
    base = (z, c, n, v, c and not z, n == v, n == v and not z, True)[cond >> 1]
    return bool(base) != bool(cond & 1 and cond != 15)


@pytest.mark.parametrize("cond", range(16))
def test_b_cond_every_flag_value(tcg, uc, cond):
    code = (pack((0b01010100, 8), (2, 19), (0, 1), (cond, 4)).to_bytes(4, "little")
            + b"\x20\x00\x80\xd2")  # 100004: mov x0, #1 -- skipped when taken
    for flags in range(16):
        nzcv = flags << 28
        case = make_case(code, {"nzcv": nzcv})
        taken = condition_holds(cond, nzcv)
        for runner in (tcg, uc):
            out = runner.run(case)
            assert out.regs["x0"] == (0 if taken else 1), (runner.name, cond, flags)


# -- unallocated ------------------------------------------------------------------------------

UNALLOCATED = [
    (0xD67F_00A0, "br-group opc=0011"),
    (0x5400_0010, "b.cond with bit 4 set (bc.cond, FEAT_HBC)"),
    (0xD71F_08A0, "braa (PAuth)"),
    (0xD61F_08A0, "br with op3 != 0"),
    (0xD61F_00A1, "br with op4 != 0"),
]


@pytest.mark.parametrize("word,why", UNALLOCATED, ids=[w for _, w in UNALLOCATED])
def test_unallocated_is_illegal(tcg, uc, word, why):
    case = make_case(word.to_bytes(4, "little"), {"x5": CODE + 4, "x30": 0x77})
    out = tcg.run(case)
    assert out.event.kind == "illegal" and out.regs["pc"] == CODE and out.regs["x30"] == 0x77
    assert uc.run(case).event.kind == "illegal"


def test_eret_is_illegal_at_el0(tcg):
    # Unicorn runs at EL1, where eret is allocated: tcgpy only.
    out = tcg.run(make_case(b"\xe0\x03\x9f\xd6", {}))   # 100000: eret
    assert out.event.kind == "illegal"


# -- difftest ------------------------------------------------------------------------------------

BRANCH_FORMS = [classes("aarch64")[n] for n in BRANCH_CLASSES]
# Fillers that write no register, so an indirect target register survives.
QUIET_FORMS = [classes("aarch64")[n] for n in ("branch_cond", "cbz", "tbz", "hint_barrier")]


@pytest.fixture(scope="module")
def engine():
    return dt.Engine("aarch64")


def _run(engine, words, regs) -> None:
    case = dt.Case("aarch64", tuple(words), regs, DATA, dt.default_bound(len(words)))
    res = engine.run(case)
    assert res.status == "pass", ([f"{w:08x}" for w in words], _hexdict(regs), res.mismatch)


@pytest.mark.parametrize("form", BRANCH_FORMS, ids=[f.name for f in BRANCH_FORMS])
@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(1, 8))
def test_difftest_class(engine, form, seed, length):
    rng = random.Random(seed)
    words = [form.gen(rng, Pos(i, length)) for i in range(length)]
    _run(engine, words, dt.random_start_regs(DA, rng))


# op field of the br/blr/ret group
INDIRECT_OPS = (0, 1, 2)


@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(1, 8))
def test_difftest_indirect(engine, seed, length):
    """One br/blr/ret to a forward target (or the end) among quiet fillers."""
    rng = random.Random(seed)
    at = rng.randrange(length)
    words = [rng.choice(QUIET_FORMS).gen(rng, Pos(i, length)) for i in range(length)]
    op = rng.choice(INDIRECT_OPS)
    reg = 30 if op == 2 and rng.random() < 0.5 else rng.choice(PTR_REGS)
    words[at] = pack((0b1101011, 7), (0, 2), (op, 2), (0b11111, 5), (0, 6), (reg, 5), (0, 5))
    regs = dt.random_start_regs(DA, rng)
    regs[f"x{reg}"] = CODE + 4 * rng.randrange(at + 1, length + 1)
    _run(engine, words, regs)
