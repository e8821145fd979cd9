"""Hot loops compiled as one function (backends/llvm/lower_region.py):
guest registers live in host registers inside the loop and go back to env on
every way out.  Each way out is checked against Unicorn running the same
code: normal exits, exact instruction counts that end inside the loop, a
fault in the middle of the loop, a timeout, and code that rewrites a block
of the loop after it became hot."""
from __future__ import annotations

import ctypes

import pytest
import unicorn
from unicorn import arm64_const as U

import tcgpy
from tcgpy import tbcache
from tests.asm import CODE, asm

DATA = 0x40000


@pytest.fixture(autouse=True)
def loops_turn_hot_soon(monkeypatch):
    """The loops here are sized for a hot tier that starts after 100 passes
    (the default is higher: start-up code is not worth a hot compile)."""
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 100)

NESTED = """
    mov x9, x0              // data pointer
outer:
    mov x2, #37
inner:
    ldr w3, [x9, x2, lsl #2]
    add x4, x4, x3
    eor x5, x5, x4, ror #7
    subs x2, x2, #1
    b.ne inner
    str x4, [x9, x1, lsl #3]
    adds x6, x6, x5
    subs x1, x1, #1
    b.hi outer
    nop
"""
REGS = [f"x{i}" for i in range(31)] + ["sp", "pc", "nzcv"]


def _tcgpy(code: bytes, regs: dict, data: bytes = b"", **kw) -> tcgpy.Emulator:
    emu = tcgpy.Emulator("aarch64", **kw)
    emu.mem_map(CODE, 0x4000, "rwx")
    emu.mem_map(DATA, 0x4000, "rw")
    emu.mem_write(CODE, code)
    emu.mem_write(DATA, data)
    for k, v in regs.items():
        emu.reg_write(k, v)
    return emu


def _unicorn(code: bytes, regs: dict, data: bytes = b""):
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.mem_map(CODE, 0x4000)
    uc.mem_map(DATA, 0x4000)
    uc.mem_write(CODE, code)
    uc.mem_write(DATA, data)
    for k, v in regs.items():
        uc.reg_write(getattr(U, f"UC_ARM64_REG_{k.upper()}"), v)
    return uc


def _uc_regs(uc) -> dict:
    return {r: uc.reg_read(getattr(U, f"UC_ARM64_REG_{r.upper()}")) for r in REGS}


def _regs(emu) -> dict:
    return {r: emu.reg_read(r) for r in REGS}


def _both_until(code: bytes, regs: dict, end: int, data: bytes = b""):
    """``code`` run from CODE up to ``end`` on tcgpy and on Unicorn."""
    emu = _tcgpy(code, regs, data)
    emu.run(CODE, until=end)
    uc = _unicorn(code, regs, data)
    uc.emu_start(CODE, end)
    return emu, uc


START = {"x0": DATA, "x1": 400, "x4": 3, "x5": 5, "x6": 0, "nzcv": 0}
DATA_BYTES = bytes((i * 37 + 11) & 0xFF for i in range(0x4000))


def test_nested_hot_loop_matches_unicorn_and_runs_as_a_region():
    code = asm(NESTED)
    end = CODE + len(code) - 4
    emu, uc = _both_until(code, START, end, DATA_BYTES)
    assert _regs(emu) == _uc_regs(uc)
    assert emu.mem_read(DATA, 0x4000) == bytes(uc.mem_read(DATA, 0x4000))
    assert emu.stats.hot_regions >= 1


def test_region_without_icount_matches_unicorn():
    """tcgpy run's regions carry no instruction budget (icount=False)."""
    code = asm(NESTED)
    end = CODE + len(code) - 4
    emu = _tcgpy(code, START, DATA_BYTES, icount=False)
    emu.run(CODE, until=end)
    uc = _unicorn(code, START, DATA_BYTES)
    uc.emu_start(CODE, end)
    assert _regs(emu) == _uc_regs(uc)
    assert emu.mem_read(DATA, 0x4000) == bytes(uc.mem_read(DATA, 0x4000))
    assert emu.stats.hot_regions >= 1
    endless = _tcgpy(asm("loop: add x0, x0, #1; cmp x0, #0; b.ne loop"), {"x0": 1}, icount=False)
    endless.run(CODE, timeout=0.3)
    assert endless.stats.hot_regions >= 1 and endless.reg_read("x0") > 1000


def test_inner_loop_keeps_its_region_when_the_outer_loop_becomes_one():
    """The outer loop's region is entered at the outer header only; a way
    back into the inner loop from elsewhere (in fs_bench's quicksort, the
    swap path, which lies past the outer loop's end) still finds the inner
    loop's own region."""
    code = asm(NESTED)
    end = CODE + len(code) - 4
    emu, uc = _both_until(code, START, end, DATA_BYTES)
    assert _regs(emu) == _uc_regs(uc)
    outer, inner = CODE + 4, CODE + 8
    assert emu.stats.hot_regions >= 2
    assert emu.cache.blocks[outer].region and emu.cache.blocks[inner].region


def test_exact_counts_ending_inside_a_hot_region():
    code = asm(NESTED)
    for count in (20_000, 20_001, 33_333, 50_007):
        emu = _tcgpy(code, START, DATA_BYTES)
        emu.run(CODE, count=count)
        uc = _unicorn(code, START, DATA_BYTES)
        uc.emu_start(CODE, CODE + len(code), count=count)
        assert emu.stats.hot_regions >= 1
        assert _regs(emu) == _uc_regs(uc), count
        assert emu.mem_read(DATA, 0x4000) == bytes(uc.mem_read(DATA, 0x4000))


def test_fault_in_a_hot_region_is_precise():
    # walks up through the data page (storing a running sum) into unmapped memory
    code = asm("""
    loop:
        ldr x3, [x0], #8
        add x4, x4, x3
        str x4, [x0, #-8]
        subs x1, x1, #1
        b.ne loop
        nop
    """)
    regs = {"x0": DATA, "x1": 100_000, "x4": 1}
    emu = _tcgpy(code, regs, DATA_BYTES)
    try:
        emu.run(CODE)
        raise AssertionError("no fault")
    except tcgpy.MemoryFault as e:
        assert e.address == DATA + 0x4000 and e.access == "read"
    uc = _unicorn(code, regs, DATA_BYTES)
    try:
        uc.emu_start(CODE, CODE + len(code))
    except unicorn.UcError:
        pass
    assert emu.stats.hot_regions >= 1
    assert _regs(emu) == _uc_regs(uc)
    assert emu.mem_read(DATA, 0x4000) == bytes(uc.mem_read(DATA, 0x4000))


def test_timeout_leaves_an_endless_region():
    emu = _tcgpy(asm("loop: add x0, x0, #1; cmp x0, #0; b.ne loop"), {"x0": 1})
    emu.run(CODE, timeout=0.3)
    assert emu.stats.hot_regions >= 1
    x0 = emu.reg_read("x0")
    assert x0 > 1000
    # the state written back is consistent: resuming continues the count
    emu.run(emu.reg_read("pc"), count=300)
    assert emu.reg_read("x0") in range(x0 + 99, x0 + 101)


def test_rewriting_a_block_of_a_hot_region_runs_the_new_code():
    code = asm(NESTED)
    end = CODE + len(code) - 4
    emu = _tcgpy(code, START, DATA_BYTES)
    emu.run(CODE, until=end)
    assert emu.stats.hot_regions >= 1
    # "add x4, x4, x3" in the inner loop (not the region's entry) becomes a sub
    at = code.index(asm("add x4, x4, x3"))
    new = code[:at] + asm("sub x4, x4, x3") + code[at + 4:]
    emu.mem_write(CODE, new)
    for k, v in START.items():
        emu.reg_write(k, v)
    emu.mem_write(DATA, DATA_BYTES)
    emu.run(CODE, until=end)
    uc = _unicorn(new, START, DATA_BYTES)
    uc.emu_start(CODE, end)
    assert _regs(emu) == _uc_regs(uc)


# Flags set by different kinds of instruction in different blocks of one hot
# loop, read in the block that set them, in a later block (csinc at a jump
# target) and by adc/ccmp: inside a region they are carried as the inputs of
# their last computation and evaluated only where needed.
FLAGS_LOOP = """
    mov x9, x0
loop:
    ldr w3, [x9, x2, lsl #2]
    adds w4, w4, w3
    b.vs skip
    eor x5, x5, x4, ror #7
skip:
    csinc x6, x6, x6, cs
    tst x5, #0xff0
    cset x7, eq
    ccmp x4, x5, #4, ne
    adc x8, x8, x4
    cmn w5, w6
    b.le over
    add x10, x10, #1
over:
    subs x2, x2, #1
    b.ne loop
    nop
"""
FLAGS_START = {"x0": DATA, "x2": 900, "x4": 0x7FFF_FF00, "x5": 5, "x6": 0, "nzcv": 0x6000_0000}


def test_lazy_flags_in_a_region_match_unicorn_at_every_way_out():
    code = asm(FLAGS_LOOP)
    end = CODE + len(code) - 4
    emu, uc = _both_until(code, FLAGS_START, end, DATA_BYTES)
    assert emu.stats.hot_regions >= 1
    assert _regs(emu) == _uc_regs(uc)
    # every instruction of the loop body as the last one run (the budget
    # leaves at block starts, with the flags some other block set)
    for count in range(12_000, 12_000 + 18):
        emu = _tcgpy(code, FLAGS_START, DATA_BYTES)
        emu.run(CODE, count=count)
        uc = _unicorn(code, FLAGS_START, DATA_BYTES)
        uc.emu_start(CODE, CODE + len(code), count=count)
        assert emu.stats.hot_regions >= 1
        assert _regs(emu) == _uc_regs(uc), count


def test_lazy_flags_survive_a_fault_in_a_region():
    # the load walks off the data page: the fault comes with the flags that
    # the previous pass through the loop set
    code = asm(FLAGS_LOOP.replace("ldr w3, [x9, x2, lsl #2]", "ldr w3, [x9], #4"))
    regs = {**FLAGS_START, "x2": 100_000}
    emu = _tcgpy(code, regs, DATA_BYTES)
    try:
        emu.run(CODE)
        raise AssertionError("no fault")
    except tcgpy.MemoryFault as e:
        assert e.address == DATA + 0x4000
    uc = _unicorn(code, regs, DATA_BYTES)
    try:
        uc.emu_start(CODE, CODE + len(code))
    except unicorn.UcError:
        pass
    assert emu.stats.hot_regions >= 1
    assert _regs(emu) == _uc_regs(uc)


def test_flags_computed_from_a_long_chain_in_a_region():
    # each add doubles the expression behind x3 if shared parts were copied
    chain = "\n".join(["add x3, x3, x3", "eor x3, x3, x3, lsr #3"] * 40)
    code = asm(f"loop:\n mov x3, x1\n{chain}\n adds x4, x4, x3\n csinc x5, x5, x5, vc\n"
               " subs x1, x1, #1\n b.ne loop\n nop")
    regs = {"x1": 500, "x4": 7, "nzcv": 0}
    emu, uc = _both_until(code, regs, CODE + len(code) - 4)
    assert emu.stats.hot_regions >= 1
    assert _regs(emu) == _uc_regs(uc)


# The outer loop calls through a register: it stays block-at-a-time code
# (no region), while its inner loop keeps the region it already had.
INDIRECT = """
    mov x9, x0
    adr x10, callee
outer:
    mov x2, #150
inner:
    ldr w3, [x9, x2, lsl #2]
    add x4, x4, x3
    subs x2, x2, #1
    b.ne inner
    blr x10
    subs x1, x1, #1
    b.hi outer
    b done
callee:
    eor x5, x5, x4, ror #3
    ret
done:
    nop
"""


def test_loop_with_an_indirect_call_keeps_its_inner_region():
    code = asm(INDIRECT)
    end = CODE + len(code) - 4
    regs = {**START, "x1": 300}
    emu, uc = _both_until(code, regs, end, DATA_BYTES)
    assert _regs(emu) == _uc_regs(uc)
    assert emu.stats.hot_regions >= 1
    inner, call = CODE + 12, CODE + 28
    assert emu.cache.blocks[inner].hot         # not demoted when the outer loop turned hot
    assert emu.cache.blocks[call].hot          # the outer loop was promoted, block by block
    from tcgpy.backends.llvm.lower_region import region_possible
    blocks = [emu.cache._translate(pc, emu.cache.blocks[pc].n_insns, ()) for pc in (inner, call)]
    assert region_possible(blocks[:1], emu.cache.rt)
    assert not region_possible(blocks, emu.cache.rt)    # blr leaves on every pass


# A loop calling a short function through a PLT-style stub below it.
THROUGH_STUB = """
    b start
stub:
    ldr x17, [x16]
    br x17
start:
    mov x6, #0
loop:
    mov x0, x1
    bl stub
    add x6, x6, x0
    subs x1, x1, #1
    b.ne loop
    b end
f:
    and x2, x0, #2
    cbz x2, even
    add x0, x0, #3
    ret
even:
    sub x0, x0, #1
    ret
end:
    nop
"""


def test_function_reached_only_from_hot_code_turns_hot(monkeypatch):
    """Hot code counts its indirect jumps: a function that hot code calls
    through a stub (glibc's memcmp from sort's hot loop, by its PLT entry,
    after the loop's ``bl`` edge had made the stub hot) is compiled hot too,
    not left in first-tier code.  The stub is made hot here the way that
    edge did it; a region limit of 2 stands in for the distance between a
    program and its libc (the function's own returns do not bring its entry
    in)."""
    monkeypatch.setattr(tbcache, "HOT_REGION_MAX", 2)
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 1 << 40)
    code = asm(THROUGH_STUB)
    f = CODE + code.index(asm("and x2, x0, #2"))
    stub, loop = CODE + 4, CODE + 16
    end = CODE + len(code) - 4
    emu = _tcgpy(code, {"x1": 10, "x16": DATA}, f.to_bytes(8, "little"))
    emu.run(CODE, until=end)
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 100)
    caller = emu.cache.blocks[loop]
    (bl_edge,) = caller.counters
    emu.cache.promote(bl_edge, stub)
    assert emu.cache.blocks[stub].hot and not emu.cache.blocks[f].hot
    emu.reg_write("x1", 1000)
    emu.run(CODE, until=end)
    assert emu.reg_read("x6") == sum(n - 1 if n & 2 == 0 else n + 3 for n in range(1, 1001))
    assert emu.cache.blocks[f].hot


# A loop closed by a long block (long blocks count their entries, to turn
# hot wherever the loop around them runs) with short blocks before it.
CLOSED_BY_A_LONG_BLOCK = """
    mov x2, #0
loop:
    tbz x1, #0, odd
    add x2, x2, #3
odd:
    add x3, x3, x2
    eor x4, x4, x3
    add x5, x5, x4
    eor x6, x6, x5
    add x7, x7, x6
    eor x8, x8, x7
    add x9, x9, x8
    subs x1, x1, #1
    b.ne loop
    nop
"""


def test_loop_closed_by_a_long_block_becomes_one_region():
    """The closing block counts its loop edge, not its entries: counting
    both, the entry count ran out first on the same pass, the block turned
    hot alone, and the short blocks before it stayed first tier."""
    code = asm(CLOSED_BY_A_LONG_BLOCK)
    end = CODE + len(code) - 4
    emu, uc = _both_until(code, {"x1": 1000, "nzcv": 0}, end)
    assert _regs(emu) == _uc_regs(uc)
    loop = CODE + 4
    assert emu.cache.blocks[loop].region
    assert all(emu.cache.blocks[pc].hot for pc in (loop, loop + 4, loop + 8))


# The shape of zstd's sequence decoder: an inner loop turns hot first, and
# the outer loop's closing jump lies in the inner loop's region, whose
# blocks reach above the outer loop's header and back.
AROUND_A_HOT_INNER_LOOP = """
    mov x2, #0
outer:
    add x2, x2, #1
    tbz x1, #0, up
    add x2, x2, #3
up:
    b high
mid:
    add x3, x3, x2
    subs x4, x4, #1
    b.ne high
    subs x1, x1, #1
    b.ne outer
    b end
high:
    eor x5, x5, x3
    cbnz x4, mid
    mov x4, #5
    b mid
end:
    nop
"""


def test_loop_around_a_hot_inner_loop_becomes_one_region():
    """Hot code counts its backward ways out: the outer loop, which runs
    through the inner loop's region, turns hot around it."""
    code = asm(AROUND_A_HOT_INNER_LOOP)
    end = CODE + len(code) - 4
    emu, uc = _both_until(code, {"x1": 3000, "x4": 5, "nzcv": 0}, end)
    assert _regs(emu) == _uc_regs(uc)
    outer = CODE + 4
    assert emu.cache.blocks[outer].region
    assert all(emu.cache.blocks[pc].hot for pc in (outer, outer + 8, outer + 12))


def test_loop_with_a_block_still_compiling_turns_hot_later(monkeypatch):
    """A loop edge that runs out while a block of its loop is still on its
    way from the background thread counts again.  It used to stay first
    tier for the rest of the run: a first run kept such loops slow to its
    end, and the next run compiled them."""
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 1 << 40)
    code = asm(NESTED)
    end = CODE + len(code) - 4
    emu = _tcgpy(code, START, DATA_BYTES)
    emu.run(CODE, until=end)
    cache = emu.cache
    inner = cache.blocks[CODE + 8]
    (edge,) = [c for c in inner.counters if cache.counter_owner.get(c) is inner]
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 100)
    inner.compiling = True
    cache.counters[edge] = 0
    cache.hot_edge(ctypes.addressof(cache.counters) + 8 * edge, inner.pc)
    assert not cache.blocks[inner.pc].hot
    assert cache.counters[edge] == 100          # counting again, not given up
    inner.compiling = False
    emu.reg_write("x1", START["x1"])
    emu.run(CODE, until=end)
    assert cache.blocks[inner.pc].hot


IRREDUCIBLE = """
    cbz x2, second
first:
    add x3, x3, #1
    eor x4, x4, x3, ror #5
second:
    add x4, x4, x3, lsl #1
    ldr x5, [x0, x1, lsl #3]
    add x6, x6, x5
    subs x1, x1, #1
    b.ne first
    nop
"""


@pytest.mark.parametrize("entry", [0, 1])
def test_irreducible_loop_turns_hot_and_matches_unicorn(entry):
    """A cycle with two ways in (falling into ``first``, jumping to
    ``second``): no single header dominates it.  It must still turn hot
    whichever way it was entered, and compute what Unicorn computes."""
    code = asm(IRREDUCIBLE)
    end = CODE + len(code) - 4
    regs = {"x0": DATA, "x1": 1500, "x2": entry, "x3": 7, "x4": 9, "x6": 0}
    emu, uc = _both_until(code, regs, end, DATA_BYTES)
    assert emu.stats.hot_regions + emu.stats.blocks_promoted >= 1
    assert _regs(emu) == _uc_regs(uc)
