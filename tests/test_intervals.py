"""tcgpy.softmmu.intervals against a plain sorted list, with chunks small
enough that every operation crosses chunk boundaries."""
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcgpy.softmmu import intervals
from tcgpy.softmmu.intervals import Intervals


@dataclass(eq=False)
class Iv:
    start: int
    end: int


def _model_meeting(model, a, b):
    return [x for x in model if x.end > a and x.start < b]


# (op, slot, width): slots are 8 apart, so intervals of width 1..8 never overlap
OPS = st.lists(st.tuples(st.sampled_from("irRto"), st.integers(0, 40), st.integers(1, 8)), max_size=150)


@settings(max_examples=150, deadline=None)
@given(OPS, st.integers(1, 4))
def test_matches_a_sorted_list(ops, chunk):
    old_chunk = intervals.CHUNK
    intervals.CHUNK = chunk
    try:
        seq, model = Intervals(), []
        for op, slot, width in ops:
            start = slot * 8
            present = next((x for x in model if x.start == start), None)
            if op == "i" and present is None:
                iv = Iv(start, start + width)
                seq.insert(iv)
                model.append(iv)
                model.sort(key=lambda x: x.start)
            elif op == "r" and present is not None:
                seq.remove(present)
                model.remove(present)
            elif op == "R":
                # replace the run meeting a window by its first piece, shortened, and a new one after the run
                a, b = start, start + 8 * width
                old = seq.meeting(a, b)
                assert old == _model_meeting(model, a, b)
                new = old[:1]
                if new and new[0].end - new[0].start > 1:
                    new[0].end -= 1
                seq.replace(old, new)
                for x in old[1:]:
                    model.remove(x)
            elif op == "o":
                # an insert over items present is refused and changes nothing
                iv = Iv(start - 3, start + width)
                met = _model_meeting(model, iv.start, iv.end)
                if met:
                    with pytest.raises(intervals.Overlap) as e:
                        seq.insert(iv)
                    assert e.value.item in met
            elif op == "t":
                # take out the items meeting a window of up to 8 slots
                a, b = start + width - 4, start + 8 * width
                want = _model_meeting(model, a, b)
                assert seq.take(a, b) == want
                for x in want:
                    model.remove(x)
            assert list(seq) == model and len(seq) == len(model) and bool(seq) == bool(model)
            for addr in range(-1, 8 * 42, 3):
                want = next((x for x in model if x.start <= addr < x.end), None)
                assert seq.find(addr) is want
                assert list(seq.below(addr)) == [x for x in reversed(model) if x.start < addr]
                assert seq.last_below(addr) is next((x for x in reversed(model) if x.start < addr), None)
                assert seq.is_free(addr, addr + 5) == (not _model_meeting(model, addr, addr + 5))
            assert seq.meeting(5, 100) == _model_meeting(model, 5, 100)
            if model:
                assert seq[0] is model[0] and seq[-1] is model[-1]
    finally:
        intervals.CHUNK = old_chunk


def test_remove_of_an_absent_object_is_refused():
    seq = Intervals([Iv(0, 4), Iv(8, 12)])
    with pytest.raises(ValueError):
        seq.remove(Iv(8, 12))           # an equal interval, not that object
    with pytest.raises(IndexError):
        seq[2]
    assert len(seq) == 2


def test_mapping_records_have_no_instance_dict():
    """A process may hold 100,000 mappings, each a VMA, a Region and a
    Backing: slots, not a dict per instance (807 -> 693 traced bytes a
    one-page mapping)."""
    import weakref

    import tcgpy
    from tcgpy.linux.memory import AddressSpace
    emu = tcgpy.Emulator("aarch64")
    space = AddressSpace(emu)
    space.map(0x40000, 0x2000, "rw", "mmap")
    space.protect(0x41000, 0x1000, "r")             # a split: the pieces share one backing
    vma, region = space.find(0x41000), emu.aspace.find(0x41000)
    for obj in (vma, region, region.backing):
        assert not hasattr(obj, "__dict__"), type(obj).__name__
    weakref.ref(region.backing)                       # busguard and host_backing finalize backings
    assert emu.aspace.find(0x40000).backing is region.backing
