"""The decodetree decoder's per-word memory (Decoder.candidates): the same
answer as matching the word afresh, bounded, and forgotten when the
patterns change."""
from __future__ import annotations

import random

from tcgpy.frontends.aarch64 import ARCH as A64
from tcgpy.frontends.decodetree import Decoder


def _fresh(decoder, word):
    return [(p, p.extract(word).__dict__) for p in decoder.lookup(word)]


def test_remembered_decodes_are_the_fresh_ones():
    decoder, _ = A64._translation()
    rng = random.Random(5)
    words = [rng.getrandbits(32) for _ in range(3000)]
    words += words[:500]            # met again: from memory
    for w in words:
        got = [(p, args.__dict__) for p, args in decoder.candidates(w)]
        assert got == _fresh(decoder, w)
        assert decoder.decoded_before(w) is not None


def test_memory_is_bounded_and_follows_the_patterns():
    d = Decoder("toy", width=8)

    @d.pattern("0000 imm:4")
    def trans_a(ctx, a):
        return True

    d.DECODED_MAX = 4
    for w in range(16):
        assert [p.trans for p, _ in d.candidates(w)] == [trans_a]
        assert len(d._decoded) <= 4
    assert d.candidates(0x13) == ()

    @d.pattern("0001 imm:4")
    def trans_b(ctx, a):
        return True

    # a new pattern: what was decoded before is decoded again
    assert d.decoded_before(0x13) is None
    assert [(p.trans, a.imm) for p, a in d.candidates(0x13)] == [(trans_b, 3)]
