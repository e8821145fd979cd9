"""A64 half precision (FEAT_FP16): hand-written cases (checked on Unicorn's
max model too), and a hypothesis difftest of every FP16 form class against
Unicorn's max model with half-precision special values and FPCR.FZ16 set
up often (tcgpy.difftest.aarch64.forms_fp16).

Hand cases hold byte literals annotated with address and disassembly, the
start state (unlisted registers are 0) and the expected registers after the
run (unlisted ones must be unchanged).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcgpy.difftest import engine as dt
from tcgpy.difftest.aarch64 import forms_fp16 as f16
from tcgpy.difftest.forms import DATA_BASE, DATA_SIZE, Pos, classes
from tcgpy.frontends.aarch64 import fpsem as fp

DA = dt.diff_arch("aarch64")
N, Z, C, V = 8, 4, 2, 1
IOC, DZC, OFC, UFC, IXC, IDC = fp.IOC, fp.DZC, fp.OFC, fp.UFC, fp.IXC, fp.IDC
FZ, FZ16 = fp.FPCR_FZ, fp.FPCR_FZ16
RZ = 3 << 22
M64 = (1 << 64) - 1
GARBAGE = 0xDEAD_BEEF_0000_0000_0000_0000_0000_0000    # upper bits a scalar write must clear

# half-precision bit patterns
ONE, TWO, HALF, ONE_5, THREE = 0x3C00, 0x4000, 0x3800, 0x3E00, 0x4200
INF, NINF, QNAN, SNAN, MAXN, MINN, NZERO = 0x7C00, 0xFC00, 0x7E00, 0x7D00, 0x7BFF, 0x0400, 0x8000


def Hv(*lanes: int) -> int:
    """A vector from its 16-bit lanes, lowest first."""
    return sum(v << (16 * i) for i, v in enumerate(lanes))


@dataclass(frozen=True)
class T:
    code: bytes
    regs: dict
    expect: dict
    name: str = field(default="")
    unicorn_deviates: bool = False      # a known difference (aarch64.forms_fp16.KNOWN_ROWS)


def t(*code: bytes, regs=None, expect=None, name="", unicorn_deviates=False):
    return T(b"".join(code), dict(regs or {}), dict(expect or {}), name, unicorn_deviates)


CASES = [
    # -- scalar arithmetic: values, flags, NaNs, FZ16 --------------------------------------
    t(b"\x20\x28\xe2\x1e",  # 100000: fadd h0, h1, h2
      regs={"q0": GARBAGE, "q1": ONE_5, "q2": TWO}, expect={"q0": 0x4300}, name="1.5 + 2 = 3.5"),
    t(b"\x20\x08\xe2\x1e",  # 100000: fmul h0, h1, h2
      regs={"q1": MAXN, "q2": TWO}, expect={"q0": INF, "fpsr": OFC | IXC}, name="overflow to inf"),
    t(b"\x20\x08\xe2\x1e",  # 100000: fmul h0, h1, h2
      regs={"q1": MAXN, "q2": TWO, "fpcr": RZ}, expect={"q0": MAXN, "fpsr": OFC | IXC},
      name="overflow toward zero: largest normal"),
    t(b"\x20\x28\xe2\x1e",  # 100000: fadd h0, h1, h2
      regs={"q1": SNAN, "q2": ONE}, expect={"q0": 0x7F00, "fpsr": IOC}, name="sNaN quietened, IOC"),
    t(b"\x20\x08\xe2\x1e",  # 100000: fmul h0, h1, h2
      regs={"q1": MINN, "q2": HALF}, expect={"q0": 0x0200}, name="exact denormal result, no UFC"),
    t(b"\x20\x08\xe2\x1e",  # 100000: fmul h0, h1, h2
      regs={"q0": GARBAGE, "q1": MINN, "q2": HALF, "fpcr": FZ16}, expect={"q0": 0, "fpsr": UFC},
      name="FZ16 flushes a denormal result, UFC"),
    t(b"\x20\x08\xe2\x1e",  # 100000: fmul h0, h1, h2
      regs={"q1": MINN, "q2": HALF, "fpcr": FZ}, expect={"q0": 0x0200},
      name="FZ does not flush half precision"),
    t(b"\x20\x28\xe2\x1e",  # 100000: fadd h0, h1, h2
      regs={"q0": GARBAGE, "q1": 0x0001, "q2": NZERO, "fpcr": FZ16}, expect={"q0": 0},
      name="FZ16 flushes denormal inputs without IDC"),
    t(b"\x20\x0c\xe2\x1f",  # 100000: fnmadd h0, h1, h2, h3
      regs={"q1": TWO, "q2": THREE, "q3": ONE}, expect={"q0": 0xC700}, name="fnmadd: -1 - 2*3"),
    t(b"\x20\xc0\xe1\x1e",  # 100000: fsqrt h0, h1
      regs={"q1": 0x4400}, expect={"q0": TWO}),
    t(b"\x20\xc0\xe1\x1e",  # 100000: fsqrt h0, h1
      regs={"q1": 0xBC00}, expect={"q0": QNAN, "fpsr": IOC}, name="fsqrt(-1): default NaN, IOC"),
    t(b"\x20\x40\xe7\x1e",  # 100000: frintx h0, h1
      regs={"q1": ONE_5}, expect={"q0": TWO, "fpsr": IXC}, name="frintx 1.5: 2, IXC"),
    # -- moves -------------------------------------------------------------------------------
    t(b"\x20\x00\xe7\x1e",  # 100000: fmov h0, w1
      regs={"q0": GARBAGE, "x1": 0x1234_5678}, expect={"q0": 0x5678}),
    t(b"\x01\x00\xe6\x1e",  # 100000: fmov w1, h0
      regs={"q0": GARBAGE | 0xABCD, "x1": M64}, expect={"x1": 0xABCD}),
    t(b"\x02\x00\xe6\x9e",  # 100000: fmov x2, h0
      regs={"q0": 0xFFFF_FFFF_FFFF_ABCD}, expect={"x2": 0xABCD}),
    t(b"\x00\x10\xee\x1e",  # 100000: fmov h0, #1.0
      b"\x01\x10\xf8\x1e",  # 100004: fmov h1, #-0.125
      regs={"q0": GARBAGE}, expect={"q0": ONE, "q1": 0xB000}),
    t(b"\x00\xfe\x03\x4f",  # 100000: fmov v0.8h, #1.0
      expect={"q0": Hv(*[ONE] * 8)}),
    t(b"\x20\x0c\xe2\x1e",  # 100000: fcsel h0, h1, h2, eq
      regs={"q1": GARBAGE | 0x1234, "q2": 0x5678, "nzcv": Z << 28}, expect={"q0": 0x1234}),
    # -- conversions ----------------------------------------------------------------------------
    t(b"\x20\x00\xf8\x1e",  # 100000: fcvtzs w0, h1
      regs={"q1": 0xC100, "x0": M64}, expect={"x0": 0xFFFF_FFFE, "fpsr": IXC}, name="fcvtzs -2.5: -2"),
    t(b"\x20\x00\xe4\x1e",  # 100000: fcvtas w0, h1
      regs={"q1": 0xC100}, expect={"x0": 0xFFFF_FFFD, "fpsr": IXC}, name="fcvtas -2.5: -3"),
    t(b"\x20\x00\xe2\x1e",  # 100000: scvtf h0, w1
      regs={"x1": 65520}, expect={"q0": INF, "fpsr": OFC | IXC}, name="scvtf 65520: tie to even is inf"),
    t(b"\x20\x00\xe2\x1e",  # 100000: scvtf h0, w1
      regs={"x1": 65520, "fpcr": RZ}, expect={"q0": MAXN, "fpsr": IXC}, name="scvtf 65520 toward zero"),
    t(b"\x20\x00\xe3\x1e",  # 100000: ucvtf h0, w1
      regs={"x1": 0xFFFF_FFFF}, expect={"q0": INF, "fpsr": OFC | IXC}),
    t(b"\x20\xc0\xd9\x9e",  # 100000: fcvtzu x0, h1, #16
      regs={"q1": MAXN}, expect={"x0": 0xFFE0_0000}),
    t(b"\x20\xf0\xc2\x9e",  # 100000: scvtf h0, x1, #4
      regs={"x1": (-24) & M64}, expect={"q0": 0xBE00}, name="scvtf -24 / 16 = -1.5"),
    t(b"\x25\xfc\x12\x5f",  # 100000: fcvtzs h5, h1, #14
      regs={"q1": NINF, "q5": GARBAGE}, expect={"q5": 0x8000, "fpsr": IOC},
      name="fcvtzs h, h, #14 of -inf: int16 min, zero-extended", unicorn_deviates=True),
    # -- compares -----------------------------------------------------------------------------
    t(b"\x20\x20\xe2\x1e",  # 100000: fcmp h1, h2
      regs={"q1": ONE, "q2": QNAN}, expect={"nzcv": (C | V) << 28}, name="fcmp with a quiet NaN"),
    t(b"\x30\x20\xe2\x1e",  # 100000: fcmpe h1, h2
      regs={"q1": ONE, "q2": QNAN}, expect={"nzcv": (C | V) << 28, "fpsr": IOC},
      name="fcmpe with a quiet NaN: IOC"),
    t(b"\x20\xc8\xf8\x0e",  # 100000: fcmgt v0.4h, v1.4h, #0.0
      regs={"q1": Hv(ONE, 0xBC00, QNAN, NZERO)}, expect={"q0": 0xFFFF, "fpsr": IOC}),
    # -- vector, across lanes, pairwise, by element, estimates ----------------------------------
    t(b"\x20\x14\x42\x4e",  # 100000: fadd v0.8h, v1.8h, v2.8h
      regs={"q1": Hv(ONE, TWO, INF, NINF, SNAN, 0x0001, MAXN, NZERO),
            "q2": Hv(ONE, HALF, NINF, ONE, ONE, 0x0001, MAXN, NZERO)},
      expect={"q0": Hv(TWO, 0x4100, QNAN, NINF, 0x7F00, 0x0002, INF, NZERO), "fpsr": IOC | OFC | IXC}),
    t(b"\x20\xc8\x30\x4e",  # 100000: fmaxnmv h0, v1.8h
      regs={"q1": Hv(ONE, QNAN, 0xC000, THREE, HALF, NINF, TWO, MAXN)}, expect={"q0": MAXN},
      name="fmaxnmv: a quiet NaN loses"),
    t(b"\x20\xf8\x30\x0e",  # 100000: fmaxv h0, v1.4h
      regs={"q1": Hv(ONE, 0x7E01, THREE, TWO, SNAN, SNAN, SNAN, SNAN)}, expect={"q0": 0x7E01},
      name="fmaxv .4h: NaN propagates, the upper half is not read"),
    t(b"\x20\xd8\x30\x5e",  # 100000: faddp h0, v1.2h
      regs={"q1": Hv(ONE_5, 0x4080, 0x5640, 0x5640)}, expect={"q0": 0x4380}, name="faddp 1.5 + 2.25"),
    t(b"\x20\x18\x32\x0f",  # 100000: fmla v0.4h, v1.4h, v2.h[7]
      regs={"q0": Hv(ONE, ONE, ONE, ONE, 1, 2, 3, 4), "q1": Hv(ONE, TWO, 0xBC00, HALF),
            "q2": Hv(0, 0, 0, 0, 0, 0, 0, TWO)},
      expect={"q0": Hv(THREE, 0x4500, 0xBC00, TWO)}),
    t(b"\x20\xd8\xf9\x5e",  # 100000: frecpe h0, h1
      regs={"q1": TWO}, expect={"q0": 0x37FC}, name="frecpe 2.0"),
    t(b"\x20\xf8\xf9\x5e",  # 100000: frecpx h0, h1
      b"\x41\xf8\xf9\x5e",  # 100004: frecpx h1, h2
      regs={"q1": TWO, "q2": 0x8001}, expect={"q0": ONE, "q1": 0xF800},
      name="frecpx: exponent inverted; a denormal gets the largest"),
    # -- FPCR.FZ16 is writable with FEAT_FP16 ---------------------------------------------------
    t(b"\x00\x44\x1b\xd5",  # 100000: msr fpcr, x0
      b"\x01\x44\x3b\xd5",  # 100004: mrs x1, fpcr
      regs={"x0": FZ16}, expect={"x1": FZ16, "fpcr": FZ16}, name="FPCR.FZ16 writable"),
]

DATA = bytes(range(256)) * (DATA_SIZE // 256)


def _case(h: T) -> dt.Case:
    words = tuple(int.from_bytes(h.code[i:i + 4], "little") for i in range(0, len(h.code), 4))
    regs = {name: 0 for name in DA.state_regs}
    regs.update(h.regs)
    return dt.Case("aarch64", words, regs, DATA, len(words), ("fp16_arith",) * len(words))


def _want(h: T) -> dict:
    want = {name: h.regs.get(name, 0) for name in DA.state_regs}
    want.update(h.expect)
    want["pc"] = dt.CODE_BASE + len(h.code)
    return {k: hex(v) for k, v in want.items()}


def dt_disasm(code: bytes) -> str:
    from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs
    cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    return "; ".join(f"{i.mnemonic} {i.op_str}" for i in cs.disasm(code, dt.CODE_BASE))


def _id(h: T) -> str:
    return h.name or dt_disasm(h.code)


@pytest.fixture(scope="module")
def engine():
    return dt.Engine("aarch64")


@pytest.mark.parametrize("h", CASES, ids=[_id(h) for h in CASES])
def test_hand_case(engine, h):
    out = engine.subject.run(_case(h))
    assert out.event == dt.END
    assert {k: hex(v) for k, v in out.regs.items()} == _want(h)


@pytest.mark.parametrize("h", CASES, ids=[_id(h) for h in CASES])
def test_hand_case_table_agrees_with_unicorn(engine, h):
    case = _case(h)
    out = engine.reference_for(case).run(case)
    got = {k: hex(v) for k, v in out.regs.items()}
    if h.unicorn_deviates:
        assert got != _want(h)
        res = engine.run(case)
        assert res.status == "known" and res.known.name == "a64-fcvtzs-h-fixed-sign-extended"
    else:
        assert got == _want(h)


def test_default_cpu_fz16_is_a_known_difference(engine):
    """Classes on Unicorn's default model may msr FZ16, which it drops."""
    words = (0xD51B4400,                                # 100000: msr fpcr, x0
             0xD53B4401)                                # 100004: mrs x1, fpcr
    regs = {name: 0 for name in DA.state_regs}
    regs["x0"] = FZ16
    res = engine.run(dt.Case("aarch64", words, regs, DATA, 2, ("sysreg", "sysreg")))
    assert res.status == "known" and res.known.name == "a64-fpcr-fz16-default-cpu"
    assert {f.name for f in res.mismatch.fields} == {"x1", "fpcr"}


def test_default_cpu_fz16_through_tpidr_is_a_known_difference(engine):
    """The FZ16 bit read back from fpcr may go on into tpidr_el0 (found by a
    20000-case sysreg campaign, seed 100 case 17905)."""
    words = (0xD51B4404,                                # 100000: msr fpcr, x4
             0xD53B4413,                                # 100004: mrs x19, fpcr
             0xD51BD053)                                # 100008: msr tpidr_el0, x19
    regs = {name: 0 for name in DA.state_regs}
    regs["x4"] = 0x1ED0000
    res = engine.run(dt.Case("aarch64", words, regs, DATA, 3, ("sysreg",) * 3))
    assert res.status == "known" and res.known.name == "a64-fpcr-fz16-default-cpu"
    assert {f.name for f in res.mismatch.fields} == {"x19", "tpidr_el0", "fpcr"}


def test_fp16_classes_run_on_unicorn_max():
    for name in FP16_CLASSES:
        assert classes("aarch64")[name].unicorn_cpu == "max"


# -- difftest against Unicorn ---------------------------------------------------------------------

FP16_CLASSES = ("fp16_fz16", "fp16_arith", "fp16_1src", "fp16_cmp", "fp16_cvt", "fp16_mov", "simd_fp16_3same",
                "simd_fp16_2misc", "simd_fp16_elem", "simd_fp16_scalar", "simd_fp16_across")
FP16_FORMS = [classes("aarch64")[n] for n in FP16_CLASSES]


def _check(engine, words, rng, names):
    case = dt.Case("aarch64", tuple(words), dt.random_start_regs(DA, rng), dt.random_data(rng),
                   dt.default_bound(len(words)), tuple(names))
    res = engine.run(case)
    if res.status == "mismatch":
        pytest.fail(f"{dt_disasm(case.code)} from fpcr={case.regs['fpcr']:#x} "
                    f"{ {k: hex(v) for k, v in case.regs.items() if k.startswith('q') and v} }: {res.mismatch}")


@pytest.mark.parametrize("form", FP16_FORMS, ids=[f.name for f in FP16_FORMS])
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(1, 4))
def test_difftest_class(engine, form, seed, length):
    rng = random.Random(seed)
    _check(engine, [form.gen(rng, Pos(i, length)) for i in range(length)], rng, [form.name] * length)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(2, 6))
def test_difftest_sequence(engine, seed, length):
    """Mixed sequences: results of one instruction feed the next."""
    rng = random.Random(seed)
    forms = [rng.choice(FP16_FORMS) for _ in range(length)]
    _check(engine, [f.gen(rng, Pos(i, length)) for i, f in enumerate(forms)], rng, [f.name for f in forms])


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(4))
def test_difftest_campaign(chunk):
    engine = dt.Engine("aarch64")
    for i in range(chunk * 3000, (chunk + 1) * 3000):
        case = dt.campaign_case("aarch64", FP16_FORMS, 16, i, 1 + i % 6, states_per_code=2)
        res = engine.run(case)
        assert res.status != "mismatch", (dt_disasm(case.code), str(res.mismatch))


def _sweep_words() -> list[tuple[str, int, bool]]:
    """Every (U, a, opcode) of the pure FP16 groups with fixed registers v1
    (n), v2 (m), v0 (d): (group, word, allocated per the Arm ARM tables the
    generators use)."""
    words = []
    for u in (0, 1):
        for a in (0, 1):
            for op in range(8):
                for q, mid, table in ((0, 0b01110, f16.THREE_SAME), (1, 0b11110, f16.SCALAR_THREE_SAME)):
                    words.append(("3same", q << 30 | u << 29 | mid << 24 | a << 23 | 0b10 << 21
                                  | 2 << 16 | op << 11 | 1 << 10 | 1 << 5, (u, a, op) in table))
            for op in range(32):
                for mid, table in ((0b01110, f16.TWO_MISC), (0b11110, f16.SCALAR_TWO_MISC)):
                    words.append(("2misc", 1 << 30 | u << 29 | mid << 24 | a << 23 | 0b111100 << 17
                                  | op << 12 | 0b10 << 10 | 1 << 5, (u, a, op) in table))
        for op in range(16):
            for mid in (0b01111, 0b11111):                          # by element, size 00
                words.append(("elem", 1 << 30 | u << 29 | mid << 24 | 2 << 16 | op << 12 | 1 << 5,
                              (u, op) in ((0, 0b0001), (0, 0b0101), (0, 0b1001), (1, 0b1001))))
    for a in (0, 1):
        for op in (0b01100, 0b01101, 0b01110, 0b01111):
            words.append(("across", 1 << 30 | 0b01110 << 24 | a << 23 | 0b11000 << 17 | op << 12
                          | 0b10 << 10 | 1 << 5, op in (0b01100, 0b01111)))
            words.append(("pairwise", 0b01011110 << 24 | a << 23 | 0b11000 << 17 | op << 12
                          | 0b10 << 10 | 1 << 5, (a, op) in f16.PAIRWISE))
    return words


def test_fp16_unallocated_encodings_are_undefined(engine):
    """Unicorn cannot say (QEMU 5 asserts on some, e.g. 0x0e422c20), so the
    Arm ARM tables do; every FP16 group has holes."""
    case = dt.Case("aarch64", (0,), {}, DATA, 1)
    for group, word, allocated in _sweep_words():
        if not allocated:
            out = engine.subject.run(case.with_(words=(word,)))
            assert out.event.kind == "illegal", (group, f"{word:#010x}", dt_disasm(word.to_bytes(4, "little")))


def test_fp16_allocated_encodings_agree_with_unicorn_max(engine):
    rng = random.Random(5)
    for group, word, allocated in _sweep_words():
        if allocated:
            case = dt.Case("aarch64", (word,), dt.random_start_regs(DA, rng), DATA, 1, ("fp16_arith",))
            res = engine.run(case)
            assert res.status != "mismatch", (group, f"{word:#010x}", dt_disasm(case.code), str(res.mismatch))


# -- an oracle independent of Unicorn: the host's IEEE binary16 -------------------------------

def _host_half(x: float) -> int:
    """x rounded to binary16, ties to even (struct's 'e'); overflow is inf."""
    import math
    import struct
    try:
        return struct.unpack("<H", struct.pack("<e", x))[0]
    except OverflowError:
        return INF | (0x8000 if math.copysign(1.0, x) < 0 else 0)


def _py(h: int) -> float:
    import struct
    return struct.unpack("<e", h.to_bytes(2, "little"))[0]


_NOT_NAN = st.integers(0, 0xFFFF).filter(lambda h: h & 0x7C00 != 0x7C00 or not h & 0x3FF)


@settings(max_examples=1000, deadline=None)
@given(a=_NOT_NAN, b=_NOT_NAN)
def test_half_arithmetic_matches_ieee_binary16(a, b):
    """Round to nearest, no NaN operands or results: FPAdd/FPSub/FPMul/FPDiv/
    FPSqrt on halves equal the host's double result rounded to binary16
    (exact for + - *; for / and sqrt, 53 >= 2*11+2 bits make the double
    rounding innocuous)."""
    import math
    x, y = _py(a), _py(b)
    for fn, op in ((fp.fp_add, lambda: x + y), (fp.fp_sub, lambda: x - y), (fp.fp_mul, lambda: x * y),
                   (fp.fp_div, lambda: x / y), (lambda p, q, e, c: fp.fp_sqrt(p, e, c), lambda: math.sqrt(x))):
        try:
            r = op()
        except (ZeroDivisionError, ValueError):         # x/0, sqrt of a negative
            continue
        if r == r:
            assert fn(a, b, 1, 0)[0] == _host_half(r), (hex(a), hex(b), r)
