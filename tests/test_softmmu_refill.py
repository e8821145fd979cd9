"""The TLB refilled in host code (backends/llvm/refill.py) from the native
region table (softmmu.memory.AddressSpace._publish): random accesses over
1 GiB with protection changes and unmaps between them agree with a model of
the guest, faults stay precise after pages were refilled natively, and stores
to a page whose code was translated after a native refill still invalidate
that code."""
from __future__ import annotations

import random

import pytest

import tcgpy

from tcgpy.emulator import COLD_RUNS

from .asm import asm

CODE = 0x10000
TABLE = 0x100000
BIG = 0x10_0000_0000
BIG_SIZE = 1 << 30
PAGE = 0x1000
M64 = (1 << 64) - 1

# x1: table of addresses, x2: count, x5: increment, x6: checksum
LOOP = """
loop: ldr x3, [x1], #8
ldr x4, [x3]
add x4, x4, x5
str x4, [x3]
add x6, x6, x4
subs x2, x2, #1
b.ne loop
"""
LOAD_PC, STORE_PC, END = CODE + 4, CODE + 12, CODE + 28


def _addresses(rng: random.Random, n: int, earlier: list[int]) -> list[int]:
    """Mostly new pages (misses), some addresses seen before (hits)."""
    out = []
    for _ in range(n):
        if earlier and rng.random() < 0.25:
            out.append(rng.choice(earlier))
        else:
            out.append(BIG + rng.randrange(BIG_SIZE // 8) * 8)
    return out


@pytest.mark.usefixtures("no_baseline")      # (its code calls the Python slow path until LLVM is loaded)
@pytest.mark.parametrize("icount", [True, False], ids=["jit", "cold-tier-then-jit"])
def test_random_access_over_1gib_with_mprotect_and_munmap(icount):
    rng = random.Random(14)
    emu = tcgpy.Emulator("aarch64", icount=icount)
    emu.mem_map(CODE, PAGE, "rx")
    emu.mem_write(CODE, asm(LOOP, CODE))
    n = 2500
    emu.mem_map(TABLE, (n * 8 + PAGE - 1) & -PAGE, "rw")
    emu.mem_map(BIG, BIG_SIZE, "rw")
    model: dict[int, int] = {}          # aligned word -> value
    state: dict[int, str] = {}          # page -> "r" (stores fault) or "none" (unmapped)
    seen: list[int] = []
    csum, faults = 0, 0
    for rnd in range(6):
        # change pages the last rounds touched: their TLB entries were
        # refilled in host code and must not outlive the change (rounds of
        # only mprotect, only munmap and both: each must update the table)
        p_protect = (1.0, 0.0, 0.5)[rnd % 3]
        for a in rng.sample(seen, min(len(seen), 40)):
            page = a & -PAGE
            if state.get(page):
                continue
            if rng.random() < p_protect:
                emu.mem_protect(page, PAGE, "r")
                state[page] = "r"
            else:
                emu.mem_unmap(page, PAGE)
                state[page] = "none"
        addrs = _addresses(rng, n, seen)
        seen += addrs
        emu.mem_write(TABLE, b"".join(a.to_bytes(8, "little") for a in addrs))
        inc = rng.getrandbits(64)
        for reg, v in (("x1", TABLE), ("x2", n), ("x5", inc), ("x6", csum)):
            emu.reg_write(reg, v)
        i, pc = 0, CODE
        while True:
            try:
                emu.run(pc, until=END)
                fault = None
            except tcgpy.MemoryFault as e:
                fault = e
            expected = None
            while i < n:
                a = addrs[i]
                st = state.get(a & -PAGE)
                if st == "none":
                    expected = ("read", LOAD_PC, a)
                    break
                v = (model.get(a, 0) + inc) & M64
                if st == "r":
                    expected = ("write", STORE_PC, a)
                    break
                model[a] = v
                csum = (csum + v) & M64
                i += 1
            if expected is None:
                assert fault is None
                break
            assert fault is not None, f"no fault at {expected}"
            assert (fault.access, fault.pc, fault.address) == expected
            assert emu.reg_read("x6") == csum and emu.reg_read("x2") == n - i
            assert emu.reg_read("x1") == TABLE + 8 * (i + 1)
            page = expected[2] & -PAGE
            if expected[0] == "read":               # map it again: fresh zeros
                emu.mem_map(page, PAGE, "rw")
                for w in [w for w in model if w & -PAGE == page]:
                    del model[w]
            else:
                emu.mem_protect(page, PAGE, "rw")
            del state[page]
            faults += 1
            pc = fault.pc
        assert emu.reg_read("x6") == csum
    for a in rng.sample(sorted(w for w in model if state.get(w & -PAGE) != "none"), 500):
        assert int.from_bytes(emu.mem_read(a, 8), "little") == model[a]
    assert faults > 20
    # most misses were served by host code, not by Python
    assert emu.stats.tlb_refills_native > 5000
    assert emu.stats.slow_accesses < 1000


def test_store_to_code_translated_after_a_native_refill_invalidates_it():
    data = 0x80000
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, PAGE, "rx")
    emu.mem_map(data, 4 * PAGE, "rwx")        # one writable region, no code yet
    emu.mem_write(CODE, asm("str w1, [x2]"))
    target = data + PAGE
    emu.mem_write(target, asm("mov x0, #1", target))
    # a store to the page while it holds no translated code: refilled natively
    emu.reg_write("x1", int.from_bytes(asm("mov x0, #1", target), "little"))
    emu.reg_write("x2", target)
    before = emu.stats.tlb_refills_native
    emu.run(CODE, until=CODE + 4)
    assert emu.stats.tlb_refills_native > before
    # now translate code on it ...
    emu.run(target, until=target + 4)
    assert emu.reg_read("x0") == 1
    # ... and a store there must reach the translated block
    emu.reg_write("x1", int.from_bytes(asm("mov x0, #2", target), "little"))
    emu.run(CODE, until=CODE + 4)
    emu.run(target, until=target + 4)
    assert emu.reg_read("x0") == 2
    # the region's other pages still take stores (through Python's refill)
    emu.reg_write("x2", data + 3 * PAGE + 8)
    emu.run(CODE, until=CODE + 4)
    assert emu.mem_read(data + 3 * PAGE + 8, 4) == asm("mov x0, #2", target)


def test_mmio_still_reaches_python():
    mmio = 0x90000
    seen = []
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, PAGE, "rx")
    emu.mmio_map(mmio, PAGE, lambda off, size: seen.append(("r", off, size)) or 0x1234,
                 lambda off, size, v: seen.append(("w", off, size, v)))
    emu.mem_write(CODE, asm("str x0, [x2]; ldr x3, [x4]"))
    emu.reg_write("x0", 0x1122334455667788)
    emu.reg_write("x2", mmio + 0x10)
    emu.reg_write("x4", mmio + 0x20)
    emu.run(CODE, until=CODE + 8)
    assert seen == [("w", 0x10, 8, 0x1122334455667788), ("r", 0x20, 8)]
    assert emu.reg_read("x3") == 0x1234
    assert emu.stats.slow_accesses == 2


CROSS = "ldr x0, [x1]; str x3, [x2]; ldrh w5, [x4]"


@pytest.mark.usefixtures("no_baseline")      # (its code calls the Python slow path until LLVM is loaded)
@pytest.mark.parametrize("icount", [True, False], ids=["jit", "cold-tier-then-jit"])
def test_page_crossing_accesses_within_one_mapping_stay_in_host_code(icount):
    """Unaligned loads and stores over a page boundary inside one mapping
    (string and sort code do one every few hundred bytes) are done by the
    native refill: the mapping's host memory is contiguous."""
    emu = tcgpy.Emulator("aarch64", icount=icount)
    emu.mem_map(CODE, PAGE, "rx")
    emu.mem_map(0x40000, 4 * PAGE, "rw")
    emu.mem_write(CODE, asm(CROSS))
    emu.mem_write(0x40ffc, bytes(range(1, 9)))
    for reg, v in (("x1", 0x40ffc), ("x2", 0x41ffa), ("x3", 0x0807060504030201), ("x4", 0x42fff)):
        emu.reg_write(reg, v)
    emu.mem_write(0x42fff, b"\xaa\xbb")
    for _ in range(COLD_RUNS + 2):      # the cold tier's runs first, then translated code
        emu.run(CODE, until=CODE + 12)
        assert emu.reg_read("x0") == int.from_bytes(bytes(range(1, 9)), "little")
        assert emu.mem_read(0x41ffa, 8) == bytes(range(1, 9))
        assert emu.reg_read("x5") == 0xbbaa
    assert emu.stats.slow_accesses == 0


@pytest.mark.parametrize("second", ["read-only", "unmapped", "other-mapping"])
def test_page_crossing_into_another_mapping_goes_to_python_and_faults_precisely(second):
    """Where the next page is not the same mapping (another mapping, other
    permissions, nothing), the crossing access is Python's: it splits the
    access or faults at the instruction, with the access's address."""
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, PAGE, "rx")
    emu.mem_map(0x40000, PAGE, "rw")
    if second == "read-only":
        emu.mem_map(0x41000, PAGE, "r")
    elif second == "other-mapping":
        emu.mem_map(0x41000, PAGE, "rw")
    emu.mem_write(CODE, asm(CROSS))
    emu.mem_write(0x40ffc, bytes(range(1, 5)))
    if second != "unmapped":
        emu.mem_write(0x41000, bytes(range(5, 9)))
    for reg, v in (("x1", 0x40ffc), ("x2", 0x40ffe), ("x3", 0x1111111111111111), ("x4", 0x40000)):
        emu.reg_write(reg, v)
    if second == "unmapped":
        with pytest.raises(tcgpy.MemoryFault) as ei:
            emu.run(CODE, until=CODE + 12)
        assert (ei.value.pc, ei.value.address, ei.value.access) == (CODE, 0x40ffc, "read")
        return
    if second == "read-only":
        with pytest.raises(tcgpy.MemoryFault) as ei:
            emu.run(CODE, until=CODE + 12)
        assert (ei.value.pc, ei.value.address, ei.value.access) == (CODE + 4, 0x40ffe, "write")
        assert emu.reg_read("x0") == int.from_bytes(bytes(range(1, 9)), "little")
        assert emu.mem_read(0x40ffc, 8) == bytes(range(1, 9))      # nothing of the store
        return
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == int.from_bytes(bytes(range(1, 9)), "little")
    assert emu.mem_read(0x40ffe, 8) == b"\x11" * 8
    assert emu.stats.slow_accesses == 2


@pytest.mark.parametrize("change", ["mprotect", "munmap", "mprotect-none"])
def test_one_change_after_a_native_refill_faults_precisely(change):
    data = 0x400000
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, PAGE, "rx")
    emu.mem_map(data, 16 * PAGE, "rw")
    emu.mem_write(CODE, asm("ldr x0, [x1]; add x0, x0, #1; str x0, [x1]"))
    emu.reg_write("x1", data + 5 * PAGE + 16)
    emu.run(CODE, until=CODE + 12)
    assert emu.mem_read(data + 5 * PAGE + 16, 8) == (1).to_bytes(8, "little")
    refills = emu.stats.tlb_refills_native
    assert refills
    if change == "mprotect":
        emu.mem_protect(data + 5 * PAGE, PAGE, "r")
        where, access = CODE + 8, "write"
    elif change == "mprotect-none":
        emu.mem_protect(data + 5 * PAGE, PAGE, "-")
        where, access = CODE, "read"
    else:
        emu.mem_unmap(data + 5 * PAGE, PAGE)
        where, access = CODE, "read"
    with pytest.raises(tcgpy.MemoryFault) as ei:
        emu.run(CODE, until=CODE + 12)
    assert (ei.value.pc, ei.value.address, ei.value.access) == (where, data + 5 * PAGE + 16, access)
    assert emu.reg_read("x0") == (2 if access == "write" else 1)
    # the neighbours keep working, refilled natively again
    emu.reg_write("x1", data + 6 * PAGE)
    emu.run(CODE, until=CODE + 12)
    assert emu.stats.tlb_refills_native > refills


def test_stats_count_calls_from_translated_code_into_python():
    """Every helper translated code calls has a host-code version today, so
    the block calls the Python vec op semantics through vec_env directly."""
    from tcgpy.ir import randgen
    from tcgpy.ir.builder import Builder
    from tcgpy.ir.core import Block
    from tcgpy.ir.helpers import BY_NAME
    from tcgpy.ir.ops import Op
    from tcgpy.frontends.aarch64.vecsem import VecOp, pack

    from . import test_backend
    if test_backend.EMU is None:
        test_backend.EMU = test_backend._emulator()
    emu = test_backend.EMU
    arch = tcgpy.frontends.get_arch("aarch64")
    g, q = arch.ir_globals, arch.layout.offsets
    block = Block(0x1000, globals=g)
    b = Builder(block)
    b.insn_start(0x1000)
    b.mov(g["x1"], pack(VecOp.add, q["q0"], q["q1"], q["q2"], 0, 16, 0))
    for _ in range(5):
        b.emit(Op.call, g["x3"], g["x0"], g["x1"], g["x2"], consts=(BY_NAME["vec_env"].id,))
    b.goto_tb(0x2000)
    state = randgen.random_state(random.Random(1))
    state["x0"] = emu.env_addr              # vec_env's first argument: the env
    before = emu.stats.python_calls.get("vec_env:add", 0)
    test_backend.jit_run(block, state, randgen.random_memory(random.Random(2)))
    assert emu.stats.python_calls["vec_env:add"] - before == 5
    assert "vec_env:add" in emu.stats.format(top=len(emu.stats.python_calls))


def _native_table(aspace) -> list[tuple[int, int, int, int]]:

    from tcgpy.cpustate import RegionEntry
    t = aspace.table
    arr = (RegionEntry * t.count).from_address(t.entries)
    return [(e.start, e.end, e.addend, e.fast) for e in arr]


def test_native_table_follows_random_map_unmap_protect(monkeypatch):
    """The table is updated by splicing the changed span; it must equal a
    table built from scratch after every change, with regions kept sorted,
    disjoint and merged (in chunks of a few regions, so that changes cross
    the region list's chunk boundaries)."""
    import struct

    from tcgpy.softmmu import intervals
    monkeypatch.setattr(intervals, "CHUNK", 3)
    rng = random.Random(5)
    emu = tcgpy.Emulator("aarch64")
    space = emu.aspace
    base, pages = 0x100000, 256
    changed = 0
    for step in range(1500):
        page = rng.randrange(pages)
        n = rng.randrange(1, 12)
        addr, size = base + page * PAGE, min(n, pages - page) * PAGE
        op = rng.random()
        try:
            if op < 0.35:
                emu.mem_map(addr, size, rng.choice(["r", "rw", "rx", "rwx"]))
            elif op < 0.6:
                emu.unmap_any(addr, size)
            elif op < 0.95:
                emu.mem_protect(addr, size, rng.choice(["r", "rw", "-", "rwx"]))
            else:
                space.add_code_page(addr)
        except (ValueError, tcgpy.EmulationError):
            continue                      # overlapping map, protect of a hole: refused, nothing changed
        changed += 1
        expected = [struct.unpack("<4Q", space._entry(r)) for r in space.regions]
        assert _native_table(space) == expected, step
        regions = list(space.regions)
        assert len(regions) == len(space.regions)
        assert all(a.end <= b.start for a, b in zip(regions, regions[1:]))
        assert all(space.find(r.start) is r and space.find(r.end - 1) is r for r in regions)
    assert changed > 800 and len(space.regions) > 20


def test_native_table_grows_at_both_ends():
    """Mappings made top-down insert at the table's front, bottom-up at its
    back, and unmaps in any order remove from anywhere: the table moves the
    shorter side and regrows past its capacity, and stays equal to a table
    built from scratch."""
    import struct

    rng = random.Random(7)
    emu = tcgpy.Emulator("aarch64")
    space = emu.aspace
    mid = 0x4000_0000

    def check():
        expected = [struct.unpack("<4Q", space._entry(r)) for r in space.regions]
        assert _native_table(space) == expected

    pages = []
    for i in range(300):                # alternating permissions: neighbours never merge
        for addr in (mid - (i + 1) * PAGE, mid + i * PAGE):
            emu.mem_map(addr, PAGE, "rw" if i % 2 else "rwx")
            pages.append(addr)
        if i % 37 == 0:
            check()
    check()
    assert len(space.regions) == 600
    rng.shuffle(pages)
    for n, addr in enumerate(pages):
        emu.unmap_any(addr, PAGE)
        if n % 41 == 0:
            check()
    check()
    assert space.table.count == 0


def test_native_table_follows_mappings_made_protected_and_unmapped_in_turn():
    """libc_maps' order (each mapping below the last, a third protected,
    then unmapped from the top), which a change finds at or next to the
    last change's index, and single changes elsewhere between them (which
    move that index far away): after each, the table equals one built from
    scratch."""
    import struct

    emu = tcgpy.Emulator("aarch64")
    space = emu.aspace
    emu.mem_map(0x10000, PAGE, "rx")            # below, and above: entries on both sides
    emu.mem_map(0x7000_0000, PAGE, "rw")
    top = 0x4000_0000

    def check():
        expected = [struct.unpack("<4Q", space._entry(r)) for r in space.regions]
        assert _native_table(space) == expected

    pages = [top - (i + 1) * PAGE for i in range(120)]
    for i, addr in enumerate(pages):
        emu.mem_map(addr, PAGE, "rw" if i % 2 else "rwx")
        check()
        if i % 25 == 0:
            emu.mem_map(0x20000 + i * PAGE, PAGE, "r")      # far from the last change
            check()
    for addr in pages[::3]:
        emu.mem_protect(addr, PAGE, "r")
        check()
    for i, addr in enumerate(pages):
        emu.unmap_any(addr, PAGE)
        check()
        if i % 25 == 0:
            emu.unmap_any(0x20000 + i * PAGE, PAGE)
            check()
    assert [(r.start, r.end) for r in space.regions] == [(0x10000, 0x11000), (0x7000_0000, 0x7000_1000)]
