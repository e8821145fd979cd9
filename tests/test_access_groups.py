"""One TLB check for accesses off the same base (backends/llvm/access_groups.py).

The plan: which accesses of a block share a check, and where grouping stops.
The code: hot loops whose stack-frame and structure accesses are grouped run
as Unicorn runs them, also where the group's check fails -- its span crosses
into the next page, or into an unmapped or read-only page (the fault stays
precise: the accesses before the faulting one have happened), or the page
holds code the loop rewrites."""
from __future__ import annotations

import pytest
import unicorn
from unicorn import arm64_const as U

import tcgpy
from tcgpy import tbcache
from tcgpy.backends.llvm import access_groups
from tcgpy.ir.passes import optimize
from tcgpy.frontends import get_arch
from tcgpy.translator import translate_block
from tests.asm import CODE, asm

ARCH = get_arch("aarch64")
DATA = 0x40000
REGS = [f"x{i}" for i in range(31)] + ["sp", "pc", "nzcv"]


@pytest.fixture(autouse=True)
def loops_turn_hot_soon(monkeypatch):
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 100)


def _block(src: str):
    data = asm(src)
    fetch = (lambda a: (int.from_bytes(data[a - CODE:a - CODE + 4], "little"), 4)
             if CODE <= a < CODE + len(data) else None)
    blk = translate_block(ARCH, fetch, CODE, tbi=True)
    optimize(blk)
    return blk


def _groups(src: str) -> list[list[tuple[int, bool]]]:
    """Each group's members as (offset from the group's first byte, first?)."""
    blk = _block(src)
    members = access_groups.plan(blk)
    groups: dict[int, list] = {}
    for insn in blk.insns:
        m = members.get(id(insn))
        if m is not None:
            groups.setdefault(id(m.group), []).append((m.k, m.first))
    return list(groups.values())


def test_a_stack_frame_is_one_group():
    g = _groups("""
        stp x29, x30, [sp, #-0x60]!
        stp x19, x20, [sp, #0x10]
        ldr x3, [sp, #0x58]
        str w4, [sp, #0x20]
        ret
    """)
    assert g == [[(0, True), (0x10, False), (0x58, False), (0x20, False)]]


def test_a_written_base_starts_a_new_group():
    # x0 changes between the second and third access: two groups of two
    g = _groups("""
        ldr x1, [x0, #8]
        ldr x2, [x0, #16]
        add x0, x0, x1
        ldr x3, [x0]
        ldr x4, [x0, #24]
        ret
    """)
    assert g == [[(0, True), (8, False)], [(0, True), (24, False)]]


def test_what_is_not_grouped():
    # alone; a span above MAX_SPAN; alignment-checked exclusives
    assert _groups("ldr x1, [x0, #8]; ret") == []
    assert _groups(f"ldr x1, [x0]; ldr x2, [x0, #{access_groups.MAX_SPAN}]; ret") == []
    assert _groups("ldxr x1, [x0]; ldxr x2, [x0]; ret") == []


def test_offsets_below_the_base_count_from_the_lowest():
    g = _groups("ldur x1, [x0, #-16]; ldr x2, [x0, #8]; ret")
    assert g == [[(0, True), (24, False)]]


def _tcgpy(code: bytes, regs: dict, data: bytes, data_perm: str = "rw", data_size: int = 0x2000,
           tbi: bool = False):
    emu = tcgpy.Emulator("aarch64", tbi=tbi)
    emu.mem_map(CODE, 0x4000, "rwx")
    emu.mem_map(DATA, data_size, data_perm)
    emu.mem_write(CODE, code)
    emu.mem_write(DATA, data[:data_size])
    for k, v in regs.items():
        emu.reg_write(k, v)
    return emu


def _unicorn(code: bytes, regs: dict, data: bytes, data_perm: int = unicorn.UC_PROT_ALL,
             data_size: int = 0x2000):
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.mem_map(CODE, 0x4000)
    uc.mem_map(DATA, data_size, data_perm)
    uc.mem_write(CODE, code)
    uc.mem_write(DATA, data[:data_size])
    for k, v in regs.items():
        uc.reg_write(getattr(U, f"UC_ARM64_REG_{k.upper()}"), v)
    return uc


def _regs(emu) -> dict:
    return {r: emu.reg_read(r) for r in REGS}


def _uc_regs(uc) -> dict:
    return {r: uc.reg_read(getattr(U, f"UC_ARM64_REG_{r.upper()}")) for r in REGS}


DATA_BYTES = bytes((i * 53 + 7) & 0xFF for i in range(0x4000))

# A frame of 0x40 bytes that walks up through the data 8 bytes a pass: its
# group's span stays in one page for most passes and crosses into the next
# page for some, then off the end of the mapping.
WALK = """
loop:
    stp x4, x5, [x0, #0x10]
    ldr x6, [x0, #0x38]
    ldp x7, x8, [x0]
    add x4, x4, x6
    eor x5, x5, x7, ror #3
    add x9, x9, x8
    str w9, [x0, #0x28]
    add x0, x0, #8
    subs x1, x1, #1
    b.ne loop
    nop
"""


@pytest.mark.parametrize("passes", [700, 0x2000 // 8 - 7, 0x2000 // 8])
def test_walking_group_matches_unicorn_across_pages_and_off_the_end(passes):
    """``passes`` 700 stays in the mapping (crossing the page at 0x41000);
    the next walks exactly to its end; the last faults on the group's
    highest access (the load at +0x38) after the pair stored below it.""" 
    code = asm(WALK)
    regs = {"x0": DATA, "x1": passes, "x4": 1, "x5": 2, "x9": 3}
    end = CODE + len(code) - 4
    emu = _tcgpy(code, regs, DATA_BYTES)
    uc = _unicorn(code, regs, DATA_BYTES)
    fault = None
    try:
        emu.run(CODE, until=end)
    except tcgpy.MemoryFault as e:
        fault = e
    try:
        uc.emu_start(CODE, end)
        uc_faulted = False
    except unicorn.UcError:
        uc_faulted = True
    assert (fault is not None) == uc_faulted
    if fault is not None:
        assert fault.address == DATA + 0x2000 and fault.access == "read"
        assert fault.pc == CODE + 4
    assert emu.stats.hot_regions >= 1
    assert _regs(emu) == _uc_regs(uc)
    assert emu.mem_read(DATA, 0x2000) == bytes(uc.mem_read(DATA, 0x2000))


def test_hot_group_meeting_a_read_only_page_faults_on_its_first_store():
    """The loop turns hot over writable data, then its base moves to a
    read-only page that the TLB grants for reading (the loop reads it
    through another register every pass): the group's check must ask for
    writing too, and the first store faults."""
    code = asm("""
    loop:
        ldr x0, [x12], #8
        ldr x7, [x13]
        stp x4, x5, [x0, #0x10]
        ldr x6, [x0, #0x38]
        add x4, x4, x6
        add x5, x5, x7
        subs x1, x1, #1
        b.ne loop
        nop
    """)
    ro = DATA + 0x1000
    table = DATA + 0x800
    data = bytearray(DATA_BYTES[:0x2000])
    for i in range(400):
        data[table - DATA + 8 * i:table - DATA + 8 * i + 8] = (
            (DATA + 8 * (i % 32) if i < 300 else ro + 0x40).to_bytes(8, "little"))
    regs = {"x1": 1000, "x12": table, "x13": ro, "x4": 1, "x5": 2}
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, 0x4000, "rwx")
    emu.mem_map(DATA, 0x1000, "rw")
    emu.mem_map(ro, 0x1000, "r")
    emu.mem_write(CODE, code)
    emu.mem_write(DATA, bytes(data))
    for k, v in regs.items():
        emu.reg_write(k, v)
    with pytest.raises(tcgpy.MemoryFault) as e:
        emu.run(CODE)
    assert e.value.address == ro + 0x50 and e.value.access == "write"
    assert e.value.pc == CODE + 8
    assert emu.stats.hot_regions + emu.stats.blocks_promoted >= 1
    assert emu.reg_read("x1") == 1000 - 300
    assert emu.mem_read(ro + 0x50, 16) == bytes(data[0x1050:0x1060])


def test_grouped_stores_into_translated_code_take_effect():
    """A hot loop that calls a two-instruction function and rewrites its
    first instruction every pass (add #1 and add #3 by turns).  The code
    page has a read tag in the TLB (the loop reads it through x11 just
    before the group) but no write tag, so the group's check fails and each store takes the path
    that notices code: every call runs what the pass before wrote."""
    patch_at = CODE + 0x1000
    code = asm(f"""
        mov x1, #400
    loop:
        bl #{patch_at:#x}
        and x5, x1, #1
        ldr w3, [x10, x5, lsl #2]
        ldr w6, [x11]
        ldr w4, [x0, #4]
        str w3, [x0]
        subs x1, x1, #1
        b.ne loop
        nop
    """)
    patch = asm("add x2, x2, #1; ret", patch_at)
    data = asm("add x2, x2, #1") + asm("add x2, x2, #3") + DATA_BYTES[8:]
    regs = {"x0": patch_at, "x10": DATA, "x11": patch_at + 8, "x2": 0}
    end = CODE + len(code) - 4
    emu = _tcgpy(code, regs, data)
    emu.mem_write(patch_at, patch)
    emu.run(CODE, until=end)
    assert emu.stats.hot_regions + emu.stats.blocks_promoted >= 1
    uc = _unicorn(code, regs, data)
    uc.mem_write(patch_at, patch)
    uc.emu_start(CODE, end)
    # pass n (x1 = 400 - n) runs what pass n-1 wrote: x1 + 1 odd -> add #3
    assert emu.reg_read("x2") == 1 + sum(3 if (x + 1) & 1 else 1 for x in range(1, 400))
    assert _regs(emu) == _uc_regs(uc)


def test_tagged_base_runs_as_the_untagged_one():
    """Top-byte-ignore: a group off a tagged pointer checks the untagged
    span, and the loop computes what it computes from the plain pointer."""
    code = asm(WALK)
    end = CODE + len(code) - 4
    out = []
    for tag in (0, 0x5A << 56):
        emu = _tcgpy(code, {"x0": DATA | tag, "x1": 700, "x4": 1, "x5": 2, "x9": 3}, DATA_BYTES, tbi=True)
        emu.run(CODE, until=end)
        assert emu.stats.hot_regions >= 1
        regs = _regs(emu)
        assert regs.pop("x0") >> 56 == tag >> 56
        out.append((regs, emu.mem_read(DATA, 0x2000)))
    assert out[0] == out[1]
