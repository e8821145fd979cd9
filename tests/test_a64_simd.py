"""A64 FP/Advanced SIMD: hand-written cases (checked on Unicorn too), and a
hypothesis difftest of every FP/SIMD form class against Unicorn with FP
special values drawn often (tcgpy.difftest.fpvalues) and random FPCR/FPSR.

Hand cases hold byte literals annotated with address and disassembly, the
start state (unlisted registers are 0) and the expected registers after the
run (unlisted ones must be unchanged).
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcgpy.difftest import engine as dt
from tcgpy.difftest.aarch64.forms_simd import SIMD_CLASSES
from tcgpy.difftest.forms import DATA_BASE, DATA_SIZE, Pos, classes
from tcgpy.frontends.aarch64 import fpsem as fp

DA = dt.diff_arch("aarch64")
PTR = DATA_BASE + DATA_SIZE // 2
N, Z, C, V = 8, 4, 2, 1
IOC, DZC, OFC, UFC, IXC, IDC = fp.IOC, fp.DZC, fp.OFC, fp.UFC, fp.IXC, fp.IDC
DN, FZ = fp.FPCR_DN, fp.FPCR_FZ
RMODE_RM = 2 << 22


def D(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def S(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def B(*bs: int) -> int:
    """A vector from its bytes, lowest first."""
    return int.from_bytes(bytes(bs).ljust(16, b"\0"), "little")


@dataclass(frozen=True)
class T:
    code: bytes
    regs: dict
    expect: dict
    name: str = field(default="")


def t(*code: bytes, regs=None, expect=None, name=""):
    return T(b"".join(code), dict(regs or {}), dict(expect or {}), name)


QNAN_D, DNAN_D, SNAN_S = 0x7FF8_0000_0000_1234, 0x7FF8_0000_0000_0000, 0x7F80_0001
GARBAGE = 0xDEAD_BEEF_0000_0000_0000_0000_0000_0000    # upper bits a scalar write must clear

CASES = [
    # -- scalar arithmetic: values, flags, NaNs, FZ --------------------------------------
    t(b"\x20\x28\x62\x1e",  # 100000: fadd d0, d1, d2
      regs={"q0": GARBAGE, "q1": D(1.5), "q2": D(2.25)}, expect={"q0": D(3.75)}),
    t(b"\x20\x18\x62\x1e",  # 100000: fdiv d0, d1, d2
      regs={"q1": D(-1.0), "q2": D(0.0)}, expect={"q0": D(float("-inf")), "fpsr": DZC},
      name="fdiv by zero: -inf, DZC"),
    t(b"\x20\x28\x22\x1e",  # 100000: fadd s0, s1, s2
      regs={"q0": GARBAGE, "q1": S(1.0), "q2": SNAN_S}, expect={"q0": 0x7FC0_0001, "fpsr": IOC},
      name="sNaN operand is quietened, IOC; upper bits zeroed"),
    t(b"\x20\x28\x62\x1e",  # 100000: fadd d0, d1, d2
      regs={"q1": QNAN_D, "q2": D(1.0), "fpcr": DN}, expect={"q0": DNAN_D},
      name="FPCR.DN: default NaN, no flag for a quiet NaN"),
    t(b"\x20\x28\x62\x1e",  # 100000: fadd d0, d1, d2
      regs={"q1": D(1.0), "q2": D(2.0 ** -60)}, expect={"q0": D(1.0), "fpsr": IXC}),
    t(b"\x20\x28\x62\x1e",  # 100000: fadd d0, d1, d2
      regs={"q1": D(1.0), "q2": D(2.0 ** -60), "fpcr": 1 << 22}, expect={"q0": D(1.0) + 1, "fpsr": IXC},
      name="round toward +inf"),
    t(b"\x20\x28\x62\x1e",  # 100000: fadd d0, d1, d2
      regs={"q1": D(1.0), "q2": D(-1.0), "fpcr": RMODE_RM}, expect={"q0": D(-0.0)},
      name="exact zero sum rounding down is -0"),
    t(b"\x20\x08\x62\x1e",  # 100000: fmul d0, d1, d2
      regs={"q1": D(2.0 ** -1000), "q2": D(2.0 ** -30), "fpcr": FZ}, expect={"q0": 0, "fpsr": UFC},
      name="FZ flushes a denormal result: UFC"),
    t(b"\x20\x08\x62\x1e",  # 100000: fmul d0, d1, d2
      regs={"q1": 1, "q2": D(1.0), "fpcr": FZ}, expect={"q0": 0, "fpsr": IDC},
      name="FZ flushes a denormal input: IDC"),
    t(b"\x20\x0c\x42\x1f",  # 100000: fmadd d0, d1, d2, d3
      regs={"q1": D(1 + 2.0 ** -52), "q2": D(1 - 2.0 ** -52), "q3": D(-1.0)}, expect={"q0": D(-(2.0 ** -104))},
      name="fmadd is fused"),
    t(b"\x20\xc0\x61\x1e",  # 100000: fsqrt d0, d1
      regs={"q1": D(-1.0)}, expect={"q0": DNAN_D, "fpsr": IOC}),
    t(b"\x20\x68\x62\x1e",  # 100000: fmaxnm d0, d1, d2
      regs={"q1": QNAN_D, "q2": D(-3.0)}, expect={"q0": D(-3.0)}, name="fmaxnm: number beats quiet NaN"),
    t(b"\x20\x40\x64\x1e",  # 100000: frintn d0, d1
      regs={"q1": D(2.5)}, expect={"q0": D(2.0)}),
    t(b"\x20\x40\x66\x1e",  # 100000: frinta d0, d1
      regs={"q1": D(-2.5)}, expect={"q0": D(-3.0)}),
    # -- compares and selects ---------------------------------------------------------------
    t(b"\x20\x20\x62\x1e",  # 100000: fcmp d1, d2
      regs={"q1": D(1.0), "q2": QNAN_D}, expect={"nzcv": (C | V) << 28}, name="fcmp unordered, quiet"),
    t(b"\x38\x20\x60\x1e",  # 100000: fcmpe d1, #0.0
      regs={"q1": QNAN_D}, expect={"nzcv": (C | V) << 28, "fpsr": IOC}, name="fcmpe signals on quiet NaN"),
    t(b"\x20\x20\x62\x1e",  # 100000: fcmp d1, d2
      regs={"q1": D(-0.0), "q2": D(0.0)}, expect={"nzcv": (Z | C) << 28}, name="-0 == +0"),
    t(b"\x20\x0c\x62\x1e",  # 100000: fcsel d0, d1, d2, eq
      regs={"q1": D(1.0), "q2": D(2.0), "nzcv": Z << 28}, expect={"q0": D(1.0)}),
    # -- conversions ------------------------------------------------------------------------
    t(b"\x20\x00\x78\x1e",  # 100000: fcvtzs w0, d1
      regs={"q1": D(1e10)}, expect={"x0": 0x7FFF_FFFF, "fpsr": IOC}, name="fcvtzs saturates: IOC"),
    t(b"\x20\x00\x78\x1e",  # 100000: fcvtzs w0, d1
      regs={"x0": 5, "q1": D(-2.75)}, expect={"x0": 0xFFFF_FFFE, "fpsr": IXC}),
    t(b"\x20\x00\x62\x1e",  # 100000: scvtf d0, w1
      regs={"x1": 0xFFFF_FFFF}, expect={"q0": D(-1.0)}),
    t(b"\x20\x00\x23\x9e",  # 100000: ucvtf s0, x1
      regs={"x1": (1 << 64) - 1}, expect={"q0": S(2.0 ** 64), "fpsr": IXC}),
    t(b"\x20\x40\x62\x1e",  # 100000: fcvt s0, d1
      regs={"q1": D(1e300)}, expect={"q0": S(float("inf")), "fpsr": OFC | IXC}),
    # -- moves -------------------------------------------------------------------------------
    t(b"\x20\x00\xae\x9e",  # 100000: fmov x0, v1.d[1]
      regs={"q1": 0x1122_3344_5566_7788_99AA_BBCC_DDEE_FF00}, expect={"x0": 0x1122_3344_5566_7788}),
    t(b"\x00\x10\x6e\x1e",  # 100000: fmov d0, #1.0
      regs={"q0": GARBAGE}, expect={"q0": D(1.0)}),
    t(b"\x20\x3c\x07\x0e",  # 100000: umov w0, v1.b[3]
      regs={"q1": B(0, 1, 2, 0xF3)}, expect={"x0": 0xF3}),
    t(b"\x20\x1c\x0c\x4e",  # 100000: ins v0.s[1], w1
      regs={"q0": (1 << 128) - 1, "x1": 0x1234_5678_9ABC_DEF0},
      expect={"q0": ((1 << 128) - 1) ^ (0xFFFF_FFFF << 32) | (0x9ABC_DEF0 << 32)}),
    t(b"\x20\x0c\x01\x4e",  # 100000: dup v0.16b, w1
      regs={"x1": 0x1A5}, expect={"q0": int.from_bytes(b"\xa5" * 16, "little")}),
    t(b"\x40\x26\x00\x6f",  # 100000: mvni v0.4s, #0x12, lsl #8
      expect={"q0": 0xFFFF_EDFF_FFFF_EDFF_FFFF_EDFF_FFFF_EDFF}),
    t(b"\xe0\xb7\x07\x6f",  # 100000: bic v0.8h, #0xff, lsl #8
      regs={"q0": (1 << 128) - 1}, expect={"q0": 0x00FF_00FF_00FF_00FF_00FF_00FF_00FF_00FF}),
    # -- integer vector ----------------------------------------------------------------------
    t(b"\x20\x98\x20\x4e",  # 100000: cmeq v0.16b, v1.16b, #0
      regs={"q1": B(*b"ab\0cd")}, expect={"q0": B(0, 0, 0xFF, 0, 0, *[0xFF] * 11)}),
    t(b"\x20\xa4\x22\x6e",  # 100000: umaxp v0.16b, v1.16b, v2.16b
      regs={"q1": B(1, 9, 200, 3), "q2": B(7, 8)}, expect={"q0": B(9, 200, 0, 0, 0, 0, 0, 0, 8)}),
    t(b"\x20\xbc\x22\x4e",  # 100000: addp v0.16b, v1.16b, v2.16b
      regs={"q1": B(200, 100, 1, 2), "q2": B(5, 6)}, expect={"q0": B(44, 3, 0, 0, 0, 0, 0, 0, 11)}),
    t(b"\x20\x84\x0c\x0f",  # 100000: shrn v0.8b, v1.8h, #4
      regs={"q0": GARBAGE, "q1": 0x1234_ABCD}, expect={"q0": 0x23BC}),
    t(b"\x20\x18\x02\x6e",  # 100000: ext v0.16b, v1.16b, v2.16b, #3
      regs={"q1": B(*range(16)), "q2": B(*range(16, 32))}, expect={"q0": B(*range(3, 19))}),
    t(b"\x20\x1c\xa2\x6e",  # 100000: bit v0.16b, v1.16b, v2.16b
      regs={"q0": 0xFF00, "q1": 0x0FF0, "q2": 0x00FF}, expect={"q0": 0xFFF0}),
    t(b"\x20\x00\x02\x4e",  # 100000: tbl v0.16b, {v1.16b}, v2.16b
      regs={"q1": B(*range(100, 116)), "q2": B(15, 0, 16, 255, 1)}, expect={"q0": B(115, 100, 0, 0, 101, *[100] * 11)}),
    t(b"\x20\xb8\x31\x4e",  # 100000: addv b0, v1.16b
      regs={"q1": B(*[0x11] * 16)}, expect={"q0": 0x10}),
    t(b"\x20\x58\x20\x0e",  # 100000: cnt v0.8b, v1.8b
      regs={"q1": B(0xFF, 0x0F, 1, 0, 0, 0, 0, 0, 0xFF)}, expect={"q0": B(8, 4, 1)}),
    t(b"\x20\xa4\x08\x2f",  # 100000: ushll v0.8h, v1.8b, #0  (uxtl)
      regs={"q1": B(0xFF, 2)}, expect={"q0": 0x0002_00FF}),
    t(b"\x20\x18\x42\x4e",  # 100000: uzp1 v0.8h, v1.8h, v2.8h
      regs={"q1": 0x0007_0006_0005_0004_0003_0002_0001_0000, "q2": 0x000F_000E_000D_000C_000B_000A_0009_0008},
      expect={"q0": 0x000E_000C_000A_0008_0006_0004_0002_0000}),
    t(b"\x20\xd4\x22\x4e",  # 100000: fadd v0.4s, v1.4s, v2.4s
      regs={"q1": S(1.0) | S(2.0) << 32, "q2": S(0.5) | S(-2.0) << 32},
      expect={"q0": S(1.5)}),
    # -- loads and stores --------------------------------------------------------------------
    t(b"\x80\x72\xdf\x4c",  # 100000: ld1 {v0.16b}, [x20], #16
      regs={"x20": PTR}, expect={"q0": B(*range(16)), "x20": PTR + 16}),
    t(b"\x80\x06\x40\xad",  # 100000: ldp q0, q1, [x20]
      regs={"x20": PTR}, expect={"q0": B(*range(16)), "q1": B(*range(16, 32))}),
    t(b"\x81\x0a\xbf\xad",  # 100000: stp q1, q2, [x20, #-32]!
      b"\x80\x06\x40\xad",  # 100004: ldp q0, q1, [x20]
      regs={"x20": PTR + 32, "q1": 1, "q2": 2}, expect={"x20": PTR, "q0": 1, "q1": 2}),
    t(b"\x80\x82\x40\x0c",  # 100000: ld2 {v0.8b, v1.8b}, [x20]
      regs={"x20": PTR}, expect={"q0": B(0, 2, 4, 6, 8, 10, 12, 14), "q1": B(1, 3, 5, 7, 9, 11, 13, 15)}),
    t(b"\x80\xca\x40\x4d",  # 100000: ld1r {v0.4s}, [x20]
      regs={"x20": PTR}, expect={"q0": 0x03020100_03020100_03020100_03020100}),
    # -- more arithmetic: saturation (FPSR.QC), widening, by element, half precision ----------
    t(b"\x20\x0c\x22\x5e",  # 100000: sqadd b0, b1, b2
      regs={"q1": 0x7F, "q2": 1}, expect={"q0": 0x7F, "fpsr": 1 << 27}),
    t(b"\x20\x48\x21\x2e",  # 100000: uqxtn v0.8b, v1.8h
      regs={"q1": 0x00FF_0100}, expect={"q0": 0xFFFF, "fpsr": 1 << 27}),
    t(b"\x20\xc0\x22\x2e",  # 100000: umull v0.8h, v1.8b, v2.8b
      regs={"q1": B(255, 2), "q2": B(255, 3)}, expect={"q0": 0x0006_FE01}),
    t(b"\x20\x10\xa2\x4f",  # 100000: fmla v0.4s, v1.4s, v2.s[1]
      regs={"q0": S(1.0), "q1": S(2.0), "q2": S(3.0) << 32}, expect={"q0": S(7.0)}),
    t(b"\x20\xc0\x23\x1e",  # 100000: fcvt h0, s1
      regs={"q1": S(float("inf")), "fpcr": fp.FPCR_AHP}, expect={"q0": 0x7FFF, "fpsr": IOC},
      name="fcvt to alternative half precision: inf is invalid"),
    # -- crypto ---------------------------------------------------------------------------------
    t(b"\x20\x48\x28\x4e",  # 100000: aese v0.16b, v1.16b
      expect={"q0": int.from_bytes(b"\x63" * 16, "little")}),
    t(b"\x20\x08\x28\x5e",  # 100000: sha1h s0, s1
      regs={"q0": GARBAGE, "q1": 1}, expect={"q0": 0x4000_0000}),
    # -- CRC32 -------------------------------------------------------------------------------
    t(b"\x20\x40\xc2\x1a",  # 100000: crc32b w0, w1, w2
      regs={"x1": 0xFFFF_FFFF, "x2": ord("a")}, expect={"x0": 0xE8B7_BE43 ^ 0xFFFF_FFFF}),
    t(b"\x20\x5c\xc2\x9a",  # 100000: crc32cx w0, w1, x2
      regs={"x1": 0, "x2": 0}, expect={"x0": 0}),
]

DATA = bytes(range(256)) * (DATA_SIZE // 256)


def _case(h: T) -> dt.Case:
    words = tuple(int.from_bytes(h.code[i:i + 4], "little") for i in range(0, len(h.code), 4))
    regs = {name: 0 for name in DA.state_regs}
    regs.update(h.regs)
    return dt.Case("aarch64", words, regs, DATA, len(words))


def _want(h: T) -> dict:
    want = {name: h.regs.get(name, 0) for name in DA.state_regs}
    want.update(h.expect)
    want["pc"] = dt.CODE_BASE + len(h.code)
    return {k: hex(v) for k, v in want.items()}


def _id(h: T) -> str:
    return h.name or dt_disasm(h.code)


def dt_disasm(code: bytes) -> str:
    from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs
    cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    return "; ".join(f"{i.mnemonic} {i.op_str}" for i in cs.disasm(code, dt.CODE_BASE))


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
    out = engine.reference.run(_case(h))
    assert {k: hex(v) for k, v in out.regs.items()} == _want(h)


# -- difftest against Unicorn -----------------------------------------------------------------

SIMD_FORMS = [classes("aarch64")[n] for n in SIMD_CLASSES]


def _check(engine, words, rng, names):
    case = dt.Case("aarch64", tuple(words), dt.random_start_regs(DA, rng), dt.random_data(rng),
                   dt.default_bound(len(words)), tuple(names))
    res = engine.run(case)
    if res.status == "mismatch":
        pytest.fail(f"{dt_disasm(case.code)} from fpcr={case.regs['fpcr']:#x} "
                    f"{ {k: hex(v) for k, v in case.regs.items() if k.startswith('q') and v} }: {res.mismatch}")


@pytest.mark.parametrize("form", SIMD_FORMS, ids=[f.name for f in SIMD_FORMS])
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 64 - 1))
def test_difftest_class(engine, form, seed):
    rng = random.Random(seed)
    _check(engine, [form.gen(rng, Pos(0, 1))], rng, [form.name])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(2, 6))
def test_difftest_sequence(engine, seed, length):
    """Mixed sequences: results of one instruction feed the next."""
    rng = random.Random(seed)
    forms = [rng.choice(SIMD_FORMS) for _ in range(length)]
    _check(engine, [f.gen(rng, Pos(i, length)) for i, f in enumerate(forms)], rng, [f.name for f in forms])


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(4))
def test_difftest_campaign(chunk):
    engine = dt.Engine("aarch64")
    for i in range(chunk * 3000, (chunk + 1) * 3000):
        case = dt.campaign_case("aarch64", SIMD_FORMS, 7, i, 1 + i % 4)
        res = engine.run(case)
        assert res.status != "mismatch", (dt_disasm(case.code), str(res.mismatch))


def test_implemented_features_name_registered_difftest_classes():
    from tcgpy.frontends.aarch64 import features
    from tcgpy.linux.aarch64 import HWCAP_BITS, aarch64_hwcaps
    table = classes("aarch64")
    for f in features.FEATURES:
        assert f.name in HWCAP_BITS
        if f.implemented:
            assert f.difftest and all(c in table for c in f.difftest), f
    hwcap, _ = aarch64_hwcaps()
    assert hwcap == sum(1 << HWCAP_BITS[n] for n in features.IMPLEMENTED)
