"""softfloat.py: the host fast path agrees with the exact path on random and
edge operands, and a few results checked by hand against the ISA rules."""
from __future__ import annotations

import random

import pytest

from tcgpy.frontends.riscv64 import softfloat as sf

EDGES_D = [0, 1 << 63, 0x3FF0 << 48, 0xBFF0 << 48, 0x0010_0000_0000_0000, 0x000F_FFFF_FFFF_FFFF,
           0x7FEF_FFFF_FFFF_FFFF, 0x7FF0 << 48, 0x7FF8 << 48, 0x7FF0_0000_0000_0001, 0x3CA0 << 48]
EDGES_S = [sf.BOX | v for v in (0, 1 << 31, 0x3F80_0000, 0x0080_0000, 0x007F_FFFF, 0x7F7F_FFFF,
                                0x7F80_0000, 0x7FC0_0000, 0x7F80_0001, 0x3380_0000)]


def _operand(rng, fmt):
    r = rng.random()
    if r < 0.3:
        return rng.choice(EDGES_D if fmt else EDGES_S)
    if fmt:
        return rng.getrandbits(64) if r < 0.6 else (rng.randrange(0x3F0, 0x410) << 52 | rng.getrandbits(52))
    return sf.BOX | (rng.getrandbits(32) if r < 0.6 else (rng.randrange(0x70, 0x90) << 23 | rng.getrandbits(23)))


@pytest.mark.parametrize("fmt", [0, 1])
@pytest.mark.parametrize("op", [sf.OP_ADD, sf.OP_SUB, sf.OP_MUL, sf.OP_DIV, sf.OP_SQRT])
def test_host_fast_path_equals_exact(op, fmt):
    rng = random.Random(f"{op}-{fmt}")
    f = sf.FMTS[fmt]
    taken = 0
    for _ in range(3000):
        a, b = _operand(rng, fmt), _operand(rng, fmt)
        fast = sf._host(op, fmt, a, b)
        if fast is None:
            continue
        taken += 1
        assert fast == sf.exact_operate(op, f, sf.RNE, 0, a, b), (hex(a), hex(b))
    assert taken > 1000          # the fast path is the common case


def test_hand_checked():
    S, D = sf.S, sf.D
    assert sf.add(D, 0x3FF0 << 48, 0x3CA0 << 48, sf.RNE) == (0x3FF0 << 48, sf.NX)         # 1 + 2**-53: tie to even
    assert sf.add(D, 0x3FF0 << 48, 0x3CA0 << 48, sf.RUP) == ((0x3FF0 << 48) + 1, sf.NX)
    assert sf.div(S, 0x3F80_0000, 0, sf.RNE) == (0x7F80_0000, sf.DZ)                       # 1/0
    assert sf.mul(D, 0x0010_0000_0000_0000, 0x3FE0 << 48, sf.RNE) == (0x0008_0000_0000_0000, 0)  # exact subnormal: no UF
    assert sf.mul(D, 0x0010_0000_0000_0001, 0x3FE0 << 48, sf.RNE)[1] == sf.UF | sf.NX     # tiny and inexact
    assert sf.to_int(D, 0x7FF8 << 48, 0, sf.RTZ) == (0x7FFF_FFFF, sf.NV)                   # NaN -> INT32_MAX
    assert sf.to_int(S, 0xBF00_0000, 1, sf.RTZ) == (0, sf.NX)                              # -0.5 -> 0u, inexact
    assert sf.fma(D, 0, 0x7FF0 << 48, 0x7FF8 << 48, sf.RNE) == (0x7FF8 << 48, sf.NV)       # 0 * inf + qNaN: NV
    assert sf.minmax(S, 0x7F80_0001, 0x4000_0000, False) == (0x4000_0000, sf.NV)           # sNaN: the other, NV
    assert sf.fclass(D, 1 << 63) == 1 << 3


def test_host_fma_and_compare_equal_exact():
    rng = random.Random("fma")
    taken = 0
    for _ in range(3000):
        a, b, c = (_operand(rng, 1) for _ in range(3))
        fast = sf._host_fma_d(a, b, c)
        if fast is not None:
            taken += 1
            assert fast == sf.fma(sf.D, a, b, c, sf.RNE), (hex(a), hex(b), hex(c))
        for fmt in (0, 1):
            x, y = _operand(rng, fmt), _operand(rng, fmt)
            for op in (sf.OP_FEQ, sf.OP_FLT, sf.OP_FLE):
                fast = sf._host_compare(op, fmt, x, y)
                if fast is not None:
                    assert fast == sf.exact_operate(op, sf.FMTS[fmt], 0, 0, x, y), (op, hex(x), hex(y))
    assert taken > 1000
