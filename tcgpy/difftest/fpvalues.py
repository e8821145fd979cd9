"""Start values for vector registers that break floating point: each 128-bit
register is, at random, two doubles, four singles, eight halves or plain
random bits, and each FP lane is drawn half of the time from the special
values below (signed zeros, infinities, quiet and signalling NaNs with
payloads, denormals, the normal extremes, ties, and the edges of the
integer conversion ranges)."""
from __future__ import annotations

import random
import struct


def _d(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _s(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


_EDGES = (0.0, 1.0, 0.5, 1.5, 2.5, -0.5, 3.0, 0.1, 2.0 ** 31, 2.0 ** 31 - 1, 2.0 ** 31 + 0.5,
          2.0 ** 32, 2.0 ** 32 - 1, 2.0 ** 63, 2.0 ** 64, 2.0 ** 52, 2.0 ** 53 + 1, 2.0 ** 24 + 1,
          4294967295.5, 65535.5, 1e-300, 1e300, 3.4e38, 1e-40)

DOUBLE_SPECIALS = tuple(sorted({
    *(_d(x) for x in _EDGES), *(_d(-x) for x in _EDGES),
    0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000,              # +-inf
    0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_1234,              # quiet NaNs
    0x7FF0_0000_0000_0001, 0xFFF4_0000_0000_0000,              # signalling NaNs
    0x7FF7_FFFF_FFFF_FFFF,
    0x0000_0000_0000_0001, 0x8000_0000_0000_0001,              # denormals
    0x000F_FFFF_FFFF_FFFF, 0x0008_0000_0000_0000,
    0x0010_0000_0000_0000, 0x8010_0000_0000_0000,              # smallest normals
    0x7FEF_FFFF_FFFF_FFFF, 0xFFEF_FFFF_FFFF_FFFF,              # largest normals
    0x3690_0000_0000_0000, 0x47F0_0000_0000_0000,              # single-precision range edges
    0x3810_0000_0000_0000, 0x380F_FFFF_F000_0000,
}))

SINGLE_SPECIALS = tuple(sorted({
    *(_s(x) for x in _EDGES if abs(x) < 3.4e38), *(_s(-x) for x in _EDGES if abs(x) < 3.4e38),
    0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_1234, 0x7F80_0001, 0xFFA0_0000, 0x7FBF_FFFF,
    0x0000_0001, 0x8000_0001, 0x007F_FFFF, 0x0040_0000, 0x0080_0000, 0x8080_0000,
    0x7F7F_FFFF, 0xFF7F_FFFF, 0x4F00_0000, 0xCF00_0000, 0x5F00_0000, 0xDF00_0000,
    0x4F7F_FFFF, 0x5F7F_FFFF,
}))


def _h(x: float) -> int:
    return struct.unpack("<H", struct.pack("<e", x))[0]


HALF_SPECIALS = tuple(sorted({
    *(_h(x) for x in _EDGES if abs(x) < 65504), *(_h(-x) for x in _EDGES if abs(x) < 65504),
    0x7C00, 0xFC00, 0x7E00, 0xFE12, 0x7C01, 0xFD00, 0x7DFF,    # +-inf, quiet and signalling NaNs
    0x0001, 0x8001, 0x03FF, 0x0200, 0x0400, 0x8400,            # denormals, smallest normals
    0x7BFF, 0xFBFF, 0x7800, 0xF800, 0x77FF, 0x57FF, 0x5800,    # largest normals, int16/int8 edges
}))


def _lane(rng: random.Random, specials, bits: int) -> int:
    return rng.choice(specials) if rng.random() < 0.5 else rng.getrandbits(bits)


def random_vector(rng: random.Random, size: int = 16) -> int:
    """A random vector register value of ``size`` bytes."""
    r = rng.random()
    if r < 0.35:
        lanes = [_lane(rng, DOUBLE_SPECIALS, 64) for _ in range(size // 8)]
        return sum(v << (64 * i) for i, v in enumerate(lanes))
    if r < 0.7:
        lanes = [_lane(rng, SINGLE_SPECIALS, 32) for _ in range(size // 4)]
        return sum(v << (32 * i) for i, v in enumerate(lanes))
    if r < 0.8:
        # small integers in every byte: equal lanes for compares, zero bytes for strlen
        return int.from_bytes(bytes(rng.randrange(3) for _ in range(size)), "little")
    if r < 0.9:
        # halves, for FEAT_FP16 (drawn from the random-bits share, which they mostly are)
        lanes = [_lane(rng, HALF_SPECIALS, 16) for _ in range(size // 2)]
        return sum(v << (16 * i) for i, v in enumerate(lanes))
    return rng.getrandbits(8 * size)
