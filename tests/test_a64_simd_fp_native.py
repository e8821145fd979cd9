"""The FP vec ops with native shortcuts of tcgpy/backends/llvm/lower_arm_vec_fp2.py
(pairwise, conversions, estimates, Newton steps; issue 14) on real
instruction encodings: hand cases on ordinary operands, checked on
Unicorn's max model too, that must run without calling the Python
semantics; and a difftest of the form classes that reach these operations
with registers of ordinary values (the other classes' special values send
almost every one of them to the Python path, fcvtn nearly always).

Hand cases hold byte literals annotated with address and disassembly, the
start state (unlisted registers are 0) and the expected registers after the
run (unlisted ones must be unchanged).
"""
from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcgpy.difftest import engine as dt
from tcgpy.difftest.forms import Pos, classes
from tcgpy.frontends.aarch64 import fpsem as fp, vecsem as vector
from tcgpy.frontends.aarch64.vecsem import VecOp
from tests.test_a64_simd import DATA, T, _case, _want, dt_disasm, t

DA = dt.diff_arch("aarch64")
IXC = fp.IXC
GARBAGE = 0xDEAD_BEEF_0000_0000_0000_0000_0000_0000    # upper bits a scalar write must clear
GROUP = (VecOp.faddp, VecOp.fmaxp, VecOp.fminp, VecOp.fmaxnmp, VecOp.fminnmp, VecOp.fcvtl, VecOp.fcvtn,
         VecOp.fcvtxn, VecOp.fmulx, VecOp.frecpe, VecOp.frsqrte, VecOp.frecpx, VecOp.frecps, VecOp.frsqrts)


def S(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def D(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def H(x: float) -> int:
    return struct.unpack("<H", struct.pack("<e", x))[0]


def Sv(*xs: float) -> int:
    return sum(S(x) << (32 * i) for i, x in enumerate(xs))


def Dv(*xs: float) -> int:
    return sum(D(x) << (64 * i) for i, x in enumerate(xs))


def Hv(*xs: float) -> int:
    return sum(H(x) << (16 * i) for i, x in enumerate(xs))


CASES = [
    t(b"\x20\x68\x21\x0e",  # 100000: fcvtn v0.4h, v1.4s
      regs={"q0": GARBAGE, "q1": Sv(1.0, 1.5, -65504.0, 0.1)},
      expect={"fpsr": IXC, "q0": 0x2e66fbff3e003c00}, name="fcvtn: round to nearest, 0.1 inexact"),
    t(b"\x20\x68\x21\x4e",  # 100000: fcvtn2 v0.8h, v1.4s
      regs={"q0": Hv(1.0, 2.0, 3.0, 4.0), "q1": Sv(65519.0, 6.103515625e-05, -0.0, 1.0009765625 + 2.0 ** -11)},
      expect={"fpsr": IXC, "q0": 0x3c02800004007bff4400420040003c00}, name="fcvtn2: upper half; a tie to even, the smallest normal"),
    t(b"\x20\x78\x21\x0e",  # 100000: fcvtl v0.4s, v1.4h
      regs={"q1": Hv(1.0, -0.0, 65504.0, 5.960464477539063e-08)},
      expect={"q0": 0x33800000477fe000800000003f800000}, name="fcvtl: a subnormal half is a normal single"),
    t(b"\x20\x78\x21\x4e",  # 100000: fcvtl2 v0.4s, v1.8h
      regs={"q1": Hv(9.0, 9.0, 9.0, 9.0, -2.5, 0.333251953125, 1024.0, -6.103515625e-05)},
      expect={"q0": 0xb8800000448000003eaaa000c0200000}, name="fcvtl2: the upper half"),
    t(b"\x20\x68\x61\x0e",  # 100000: fcvtn v0.2s, v1.2d
      regs={"q0": GARBAGE, "q1": Dv(0.1, -3.0)},
      expect={"fpsr": IXC, "q0": 0xc04000003dcccccd}),
    t(b"\x20\x78\x61\x4e",  # 100000: fcvtl2 v0.2d, v1.4s
      regs={"q1": Sv(7.0, 7.0, 1.1, -2.0 ** -140)},
      expect={"q0": 0xb7300000000000003ff19999a0000000}, name="fcvtl2: a subnormal single is a normal double"),
    t(b"\x20\x68\x61\x2e",  # 100000: fcvtxn v0.2s, v1.2d
      regs={"q1": Dv(0.1, -1.5)},
      expect={"fpsr": IXC, "q0": 0xbfc000003dcccccd}, name="fcvtxn: rounding to odd"),
    t(b"\x20\x68\x61\x7e",  # 100000: fcvtxn s0, d1
      regs={"q0": GARBAGE, "q1": D(1.0 + 2.0 ** -40)},
      expect={"fpsr": IXC, "q0": 0x3f800001}, name="fcvtxn: inexact: the last bit set"),
    t(b"\x20\xd4\x22\x6e",  # 100000: faddp v0.4s, v1.4s, v2.4s
      regs={"q1": Sv(1.0, 2.0, 0.1, 0.2), "q2": Sv(-1.0, 1.0, 3.5, 1e30)},
      expect={"fpsr": IXC, "q0": 0x7149f2ca000000003e99999a40400000}),
    t(b"\x20\xd8\x70\x7e",  # 100000: faddp d0, v1.2d
      regs={"q0": GARBAGE, "q1": Dv(1.0, 2.0 ** -60)},
      expect={"fpsr": IXC, "q0": 0x3ff0000000000000}),
    t(b"\x20\xf4\x62\x6e",  # 100000: fmaxp v0.2d, v1.2d, v2.2d
      regs={"q1": Dv(-0.0, 0.0), "q2": Dv(-7.0, -8.0)},
      expect={"q0": 0xc01c0000000000000000000000000000}, name="fmaxp: max of -0 and +0 is +0"),
    t(b"\x20\xc8\xb0\x7e",  # 100000: fminnmp s0, v1.2s
      regs={"q1": Sv(2.5, -1e-40, 9.0, 9.0)},
      expect={"q0": 0x800116c2}, name="fminnmp: a subnormal operand"),
    t(b"\x20\xc8\x30\x6e",  # 100000: fmaxnmv s0, v1.4s
      regs={"q1": Sv(1.0, -3.0, 17.5, 2.0)},
      expect={"q0": 0x418c0000}, name="fmaxnmv: two pairwise steps"),
    t(b"\x20\xdc\x22\x4e",  # 100000: fmulx v0.4s, v1.4s, v2.4s
      regs={"q1": Sv(1.5, -2.0, 0.0, 1e20), "q2": Sv(3.0, 0.1, -4.0, 1e-20)},
      expect={"fpsr": IXC, "q0": 0x3f80000080000000be4ccccd40900000}),
    t(b"\x20\xdc\x62\x5e",  # 100000: fmulx d0, d1, d2
      regs={"q0": GARBAGE, "q1": D(1.1), "q2": D(-3.3)},
      expect={"fpsr": IXC, "q0": 0xc00d0a3d70a3d70a}),
    t(b"\x20\x98\xc2\x6f",  # 100000: fmulx v0.2d, v1.2d, v2.d[1]
      regs={"q1": Dv(2.0, -0.5), "q2": Dv(9.0, 0.75)},
      expect={"q0": 0xbfd80000000000003ff8000000000000}, name="fmulx: by element"),
    t(b"\x20\xd8\xa1\x4e",  # 100000: frecpe v0.4s, v1.4s
      regs={"q1": Sv(3.0, -0.1, 1e30, 1.0)},
      expect={"q0": 0x3f7f80000da28000c12000003eaa8000}),
    t(b"\x20\xd8\xe1\x5e",  # 100000: frecpe d0, d1
      regs={"q0": GARBAGE, "q1": D(-12345.678)},
      expect={"q0": 0xbf15400000000000}),
    t(b"\x20\xd8\xe1\x6e",  # 100000: frsqrte v0.2d, v1.2d
      regs={"q1": Dv(2.0, 1e-300)},
      expect={"q0": 0x5f139000000000003fe6900000000000}, name="frsqrte: even and odd exponents"),
    t(b"\x20\xd8\xa1\x7e",  # 100000: frsqrte s0, s1
      regs={"q0": GARBAGE, "q1": S(0.3)},
      expect={"q0": 0x3fea0000}),
    t(b"\x20\xfc\x22\x4e",  # 100000: frecps v0.4s, v1.4s, v2.4s
      regs={"q1": Sv(3.0, 0.1, -7.0, 1.0), "q2": Sv(0.333, 10.01, -0.1428, 2.0)},
      expect={"fpsr": IXC, "q0": 0x3f800d1b3f7fbe763f8020c4}, name="frecps: Newton step: 2 - a*b, one rounding; a*b = 2 is +0"),
    t(b"\x20\xfc\xe2\x4e",  # 100000: frsqrts v0.2d, v1.2d, v2.2d
      regs={"q1": Dv(0.49, 3.0), "q2": Dv(2.01, 1.0)},
      expect={"fpsr": IXC, "q0": 0x3ff01eecbfb15b58}, name="frsqrts: (3 - a*b) / 2; a*b = 3 is +0"),
    t(b"\x20\xf8\xe1\x5e",  # 100000: frecpx d0, d1
      regs={"q0": GARBAGE, "q1": D(-3.0)},
      expect={"q0": 0xbff0000000000000}),
    t(b"\x20\xf8\xa1\x5e",  # 100000: frecpx s0, s1
      regs={"q0": GARBAGE, "q1": S(1e-3)},
      expect={"q0": 0x45000000}),
    t(b"\x20\xd8\xf9\x4e",  # 100000: frecpe v0.8h, v1.8h
      regs={"q1": Hv(3.0, -0.1, 1000.0, 1.0, 0.5, -2.0, 7.0, 0.0001)},
      expect={"q0": 0x70e03090b7fc3ffc3bfc1418c9003554}, name="frecpe: half precision"),
    t(b"\x20\xd8\xf9\x7e",  # 100000: frsqrte h0, h1
      regs={"q0": GARBAGE, "q1": H(0.3)},
      expect={"q0": 0x3f50}, name="frsqrte: half precision"),
    t(b"\x20\xf8\xf9\x5e",  # 100000: frecpx h0, h1
      regs={"q0": GARBAGE, "q1": H(-3.0)},
      expect={"q0": 0xbc00}, name="frecpx: half precision"),
]


class _PythonCalls:
    """Counts calls of the Python semantics of the group's operations."""

    def __enter__(self):
        self.n = 0
        self.orig = {k: vector.SEMANTICS[k] for k in GROUP}

        def counted(fn):
            def run(*a):
                self.n += 1
                return fn(*a)
            return run
        for k, fn in self.orig.items():
            vector.SEMANTICS[k] = counted(fn)
        return self

    def __exit__(self, *exc):
        vector.SEMANTICS.update(self.orig)


def _id(h: T) -> str:
    return h.name or dt_disasm(h.code)


@pytest.fixture(scope="module")
def engine():
    return dt.Engine("aarch64")


@pytest.mark.parametrize("h", CASES, ids=[_id(h) for h in CASES])
def test_hand_case_runs_native(engine, h):
    with _PythonCalls() as calls:
        out = engine.subject.run(_case(h))
    assert out.event == dt.END
    assert {k: hex(v) for k, v in out.regs.items()} == _want(h)
    assert calls.n == 0


@pytest.mark.parametrize("h", CASES, ids=[_id(h) for h in CASES])
def test_hand_case_table_agrees_with_unicorn_max(h):
    out = dt.UnicornRunner("aarch64", "max").run(_case(h))
    assert {k: hex(v) for k, v in out.regs.items()} == _want(h)


# -- difftest on ordinary values -----------------------------------------------------------------

FORMS = [classes("aarch64")[n] for n in ("simd_fp2misc", "simd_fp3same", "simd_by_elem", "simd_scalar_more",
                                          "simd_misc_more", "simd_fp16_3same", "simd_fp16_2misc",
                                          "simd_fp16_scalar", "simd_fp16_across")]


def _ordinary(rng: random.Random) -> int:
    """A vector of ordinary values, read as halves, singles or doubles: the
    lanes are half-precision values (or near ones) widened, so conversions
    between any two formats stay in range, with random low bits often."""
    esz = rng.choice((1, 2, 3))
    fmt = {1: ("<e", "<H"), 2: ("<f", "<I"), 3: ("<d", "<Q")}[esz]
    out = 0
    for i in range(16 >> esz):
        x = rng.choice((1.0, -1.0)) * rng.uniform(0.5, 2.0) * 2.0 ** rng.randrange(-13, 15)
        bits = struct.unpack(fmt[1], struct.pack(fmt[0], x))[0]
        if esz > 1 and rng.random() < 0.5:
            bits &= ~0 << (13 if esz == 2 else 42)             # exactly a half
        out |= bits << (i << (esz + 3))
    return out


@pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 64 - 1))
def test_difftest_class_on_ordinary_values(engine, form, seed):
    rng = random.Random(seed)
    regs = dt.random_start_regs(DA, rng)
    regs.update({f"q{i}": _ordinary(rng) for i in range(32)})
    regs["fpcr"] = 0
    case = dt.Case("aarch64", (form.gen(rng, Pos(0, 1)),), regs, DATA, dt.default_bound(1), (form.name,))
    res = engine.run(case)
    assert res.status != "mismatch", (dt_disasm(case.code), str(res.mismatch))


# -- fused multiply-add whose terms cancel ---------------------------------------------------------
# A zero that is exact, from cancellation a*b == -c with the product's last
# bit no finer than the smallest subnormal, raises nothing and stays in host
# code whatever FPSR.IXC (glibc's libm clears it); a cancellation of tinier
# terms takes the Python path (the case marked None: compared only).
FMLA_CASES = [
    (t(b"\x20\xcc\x62\x4e",  # 100000: fmla v0.2d, v1.2d, v2.2d
       regs={"q0": Dv(-15.0, 0.75), "q1": Dv(3.0, -0.25), "q2": Dv(5.0, 3.0)},
       expect={"q0": Dv(0.0, 0.0)}, name="fmla: both lanes cancel exactly, FPSR clear"), True),
    (t(b"\x20\x0c\x42\x1f",  # 100000: fmadd d0, d1, d2, d3
       regs={"q1": D(0.1), "q2": D(3.0), "q3": D(-0.1 * 3.0)},
       name="fmadd: the product's residual, inexact"), None),
    (t(b"\x20\x8c\x42\x1f",  # 100000: fmsub d0, d1, d2, d3
       regs={"q0": GARBAGE, "q1": D(1.25), "q2": D(1.25), "q3": D(1.5625)},
       expect={"q0": D(0.0)}, name="fmsub: x - x"), True),
    (t(b"\x20\x0c\x42\x1f",  # 100000: fmadd d0, d1, d2, d3
       regs={"q1": D(2.0 ** -600), "q2": D(2.0 ** -500), "q3": D(-(2.0 ** -1100))},
       expect={"q0": D(0.0)}, name="fmadd: tiny terms cancel: not shown exact"), False),
]


@pytest.mark.parametrize("h,native", FMLA_CASES, ids=[h.name for h, _ in FMLA_CASES])
@pytest.mark.parametrize("ixc", [False, True], ids=["ixc-clear", "ixc-set"])
def test_fma_cancelling_to_zero(engine, h, native, ixc):
    regs = dict(h.regs, fpsr=IXC) if ixc else h.regs
    case = _case(T(h.code, regs, h.expect, h.name))
    ref = dt.UnicornRunner("aarch64", "max").run(case)
    calls = []
    orig = vector.SEMANTICS[VecOp.fmla]
    vector.SEMANTICS[VecOp.fmla] = lambda *a: calls.append(1) or orig(*a)
    try:
        out = engine.subject.run(case)
    finally:
        vector.SEMANTICS[VecOp.fmla] = orig
    assert out.event == dt.END
    assert {k: hex(v) for k, v in out.regs.items()} == {k: hex(v) for k, v in ref.regs.items()}
    if native is not None:
        assert out.regs["q0"] == h.expect["q0"]
        assert bool(calls) == (not native)
