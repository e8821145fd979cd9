"""Random A64 load/store, branch and system encodings.

Every generator returns one random *allocated* encoding of its class that keeps
the run comparable with Unicorn:

- Base registers are PTR_REGS or SP (31), offsets keep every access inside the
  data page even after a few writebacks (|imm9| <= 256, pairs <= 512, scaled
  offsets <= 0x6000 from a pointer within 512 bytes of the page middle).
- Loads, mrs and store-exclusive status registers never write PTR_REGS.
- Writeback through SP moves it by multiples of 16, so SP stays 16-byte
  aligned: the ordered and exclusive stores use SP as their only base, because
  Unicorn (QEMU 5) skips the architectural alignment fault of ldar/stlr and of
  a store-exclusive that fails its monitor check (see tests/test_a64_ldst.py).
- Exclusives in the random class are 64-bit accesses only (ldxr/stxr x, and
  both pair sizes): after a wider load-exclusive, QEMU's narrower stxr writes
  memory yet reports failure; mixed sizes are covered by hand-written tests,
  byte/halfword/word exclusives (one size per case) on random values by
  tests/test_a64_ldst.py::test_difftest_narrow_exclusives.
- Branch targets lie forward in the sequence or exactly at its end.  br/blr/ret
  need a register holding a code address and are difftested in
  tests/test_a64_branch.py with sequences built around them, not here.
- Not generated: wfi (ends a Unicorn run: it runs at EL1), sb (Unicorn's
  Cortex-A72 lacks FEAT_SB), cntvct_el0 and cntfrq_el0 (clock values differ
  by design), tpidrro_el0 (Unicorn runs at EL1, where it is writable state).
"""
from __future__ import annotations

import random

from .. import CODE_BASE, CODE_SIZE, FORMS, KnownDifference, Pos, form_class
from .conventions import PTR_REGS, SMALL_REGS

ARCH = "aarch64"
SP = 31
BASE_REGS = PTR_REGS + (SP,)
# Destinations of loads: never a pointer register (31 is XZR here).
LOAD_DEST = tuple(r for r in range(32) if r not in PTR_REGS)
UIMM_SPAN = 0x6000


def pack(*fields: tuple[int, int]) -> int:
    """Concatenate (value, width) fields, MSB first, into a 32-bit word."""
    word = width = 0
    for value, w in fields:
        assert 0 <= value < (1 << w), (value, w)
        word = (word << w) | value
        width += w
    assert width == 32, width
    return word


def _s(value: int, width: int) -> int:
    """A signed field value as its two's complement bit pattern."""
    assert -(1 << (width - 1)) <= value < (1 << (width - 1)), (value, width)
    return value & ((1 << width) - 1)


def _any_reg(rng: random.Random) -> int:
    return rng.randrange(32)


def _load_dest(rng: random.Random) -> int:
    return rng.choice(LOAD_DEST)


# size, opc combinations of the single-register forms: (size, opc, is_load)
SINGLE_OPS = tuple((size, opc, opc != 0) for size in range(4) for opc in range(4)
                   if opc < 2 or (opc == 2 and size < 3) or (opc == 3 and size < 2))
PRFM = (3, 2)


def _single_rt(rng: random.Random, is_load: bool) -> int:
    return _load_dest(rng) if is_load else _any_reg(rng)


def _single_op(rng: random.Random, prfm: bool) -> tuple[int, int, int]:
    """(size, opc, rt) of a random single-register access, or prefetch."""
    if prfm and rng.random() < 0.08:
        return PRFM[0], PRFM[1], rng.randrange(32)      # rt is the prefetch operation
    size, opc, is_load = rng.choice(SINGLE_OPS)
    return size, opc, _single_rt(rng, is_load)


@form_class(ARCH, "ldst_uimm")
def gen_ldst_uimm(rng: random.Random, pos: Pos) -> int:
    """ldr/str/ldrs* (unsigned scaled offset) of all sizes, prfm"""
    size, opc, rt = _single_op(rng, prfm=True)
    imm = rng.randrange(min(4096, UIMM_SPAN >> size)) if rng.random() < 0.5 else rng.randrange(64)
    return pack((size, 2), (0b111001, 6), (opc, 2), (imm, 12), (rng.choice(BASE_REGS), 5), (rt, 5))


def _imm9_form(size: int, opc: int, imm: int, idx: int, rn: int, rt: int) -> int:
    return pack((size, 2), (0b111000, 6), (opc, 2), (0, 1), (_s(imm, 9), 9), (idx, 2),
                (rn, 5), (rt, 5))


@form_class(ARCH, "ldst_unscaled")
def gen_ldst_unscaled(rng: random.Random, pos: Pos) -> int:
    """ldur/stur/ldurs* and ldtr/sttr/ldtrs* (unscaled signed offset), prfum"""
    idx = rng.choice((0b00, 0b10))
    size, opc, rt = _single_op(rng, prfm=idx == 0)
    return _imm9_form(size, opc, rng.randrange(-256, 256), idx, rng.choice(BASE_REGS), rt)


@form_class(ARCH, "ldst_prepost")
def gen_ldst_prepost(rng: random.Random, pos: Pos) -> int:
    """ldr/str/ldrs* pre- and post-index with writeback (incl. rt == rn stores)"""
    size, opc, rt = _single_op(rng, prfm=False)
    rn = rng.choice(BASE_REGS)
    imm = rng.randrange(-256, 256)
    if rn == SP:
        imm = rng.randrange(-16, 16) * 16
    elif opc == 0 and rng.random() < 0.15:
        rt = rn
    return _imm9_form(size, opc, imm, rng.choice((0b01, 0b11)), rn, rt)


@form_class(ARCH, "ldst_reg")
def gen_ldst_reg(rng: random.Random, pos: Pos) -> int:
    """ldr/str/ldrs*/prfm (register offset) with uxtw/lsl/sxtw/sxtx, scaled or not"""
    size, opc, rt = _single_op(rng, prfm=True)
    option = rng.choice((0b010, 0b011, 0b110, 0b111))
    return pack((size, 2), (0b111000, 6), (opc, 2), (1, 1), (rng.choice(SMALL_REGS), 5),
                (option, 3), (rng.randrange(2), 1), (0b10, 2), (rng.choice(BASE_REGS), 5), (rt, 5))


@form_class(ARCH, "ldst_literal")
def gen_ldst_literal(rng: random.Random, pos: Pos) -> int:
    """ldr w/x, ldrsw, prfm (literal) of words in the code mapping"""
    opc = rng.randrange(4)
    # any word of the code mapping such that an 8-byte load stays inside it
    target = rng.randrange(CODE_SIZE // 4 - 1) if rng.random() < 0.3 else rng.randrange(pos.length)
    rt = rng.randrange(32) if opc == 3 else _load_dest(rng)
    return pack((opc, 2), (0b011000, 6), (_s(target - pos.index, 19), 19), (rt, 5))


@form_class(ARCH, "ldst_pair")
def gen_ldst_pair(rng: random.Random, pos: Pos) -> int:
    """ldp/stp w/x, ldpsw, ldnp/stnp, in offset, pre- and post-index modes"""
    opc, load = rng.choice(((0, 0), (0, 1), (1, 1), (2, 0), (2, 1)))
    idx = rng.randrange(1, 4) if opc == 1 else rng.randrange(4)
    size = 3 if opc == 2 else 2
    rn = rng.choice(BASE_REGS)
    imm = rng.randrange(-64, 64)
    if rn == SP and idx in (0b01, 0b11):
        imm = rng.randrange(-64, 64) & ~((16 >> size) - 1)
    if load:
        rt, rt2 = _load_dest(rng), _load_dest(rng)
    else:
        rt, rt2 = _any_reg(rng), _any_reg(rng)
        if idx in (0b01, 0b11) and rn != SP and rng.random() < 0.15:
            rt = rn
    return pack((opc, 2), (0b10100, 5), (idx, 2), (load, 1), (_s(imm, 7), 7), (rt2, 5),
                (rn, 5), (rt, 5))


def _excl(size: int, o2: int, load: int, o1: int, rs: int, o0: int, rt2: int, rn: int,
          rt: int) -> int:
    return pack((size, 2), (0b001000, 6), (o2, 1), (load, 1), (o1, 1), (rs, 5), (o0, 1),
                (rt2, 5), (rn, 5), (rt, 5))


@form_class(ARCH, "ldst_acqrel")
def gen_ldst_acqrel(rng: random.Random, pos: Pos) -> int:
    """ldar/stlr of all sizes (SP base: always aligned)"""
    load = rng.randrange(2)
    rt = _load_dest(rng) if load else _any_reg(rng)
    return _excl(rng.randrange(4), 1, load, 0, 31, 1, 31, SP, rt)


@form_class(ARCH, "ldst_excl")
def gen_ldst_excl(rng: random.Random, pos: Pos) -> int:
    """64-bit ldxr/ldaxr/stxr/stlxr, ldxp/ldaxp/stxp/stlxp w and x, clrex"""
    r = rng.random()
    if r < 0.1:
        return pack((0b11010101000000110011, 20), (rng.randrange(16), 4), (0b010, 3), (31, 5))
    pair = r < 0.45
    size = 2 + rng.randrange(2) if pair else 3
    o0 = rng.randrange(2)
    if rng.random() < 0.5:
        rn = SP if rng.random() < 0.5 else rng.choice(PTR_REGS)
        rt = _load_dest(rng)
        rt2 = _load_dest(rng) if pair else 31
        while pair and rt2 == rt:
            rt2 = _load_dest(rng)
        return _excl(size, 0, 1, int(pair), 31, o0, rt2, rn, rt)
    rt = _any_reg(rng)
    rt2 = _any_reg(rng) if pair else 31
    rs = rng.choice([r for r in LOAD_DEST if r not in (rt, rt2)])
    return _excl(size, 0, 0, int(pair), rs, o0, rt2, SP, rt)


@form_class(ARCH, "dc_zva")
def gen_dc_zva(rng: random.Random, pos: Pos) -> int:
    """dc zva on a data pointer; dc cvau/cvac/civac and ic ivau on any register"""
    if rng.random() < 0.5:
        op1, crn, crm, op2, rt = 3, 7, 4, 1, rng.choice(PTR_REGS)
    else:
        (op1, crn, crm, op2), rt = rng.choice(((3, 7, 11, 1), (3, 7, 10, 1), (3, 7, 14, 1),
                                               (3, 7, 5, 1))), rng.randrange(32)
    return pack((0b1101010100, 10), (0, 1), (0b01, 2), (op1, 3), (crn, 4), (crm, 4), (op2, 3),
                (rt, 5))


# -- branches -----------------------------------------------------------------------

def _forward(rng: random.Random, pos: Pos) -> int:
    """Offset in words to a later instruction of the sequence or its end."""
    return rng.randrange(pos.index + 1, pos.length + 1) - pos.index


@form_class(ARCH, "branch")
def gen_branch(rng: random.Random, pos: Pos) -> int:
    """b, bl (forward)"""
    return pack((rng.randrange(2), 1), (0b00101, 5), (_forward(rng, pos), 26))


@form_class(ARCH, "branch_cond")
def gen_branch_cond(rng: random.Random, pos: Pos) -> int:
    """b.cond, all 16 conditions (forward)"""
    return pack((0b01010100, 8), (_forward(rng, pos), 19), (0, 1), (rng.randrange(16), 4))


@form_class(ARCH, "cbz")
def gen_cbz(rng: random.Random, pos: Pos) -> int:
    """cbz/cbnz w and x (forward)"""
    return pack((rng.randrange(2), 1), (0b011010, 6), (rng.randrange(2), 1),
                (_forward(rng, pos), 19), (_any_reg(rng), 5))


@form_class(ARCH, "tbz")
def gen_tbz(rng: random.Random, pos: Pos) -> int:
    """tbz/tbnz on bits 0..63 (forward)"""
    bit = rng.randrange(64)
    return pack((bit >> 5, 1), (0b011011, 6), (rng.randrange(2), 1), (bit & 31, 5),
                (_forward(rng, pos), 14), (_any_reg(rng), 5))


# x16/x17 (the intra-procedure-call registers) and the link register carry
# indirect branch targets (ret of x30 is the common form).
BRANCH_REG_TARGETS = (16, 17, 30)


@form_class(ARCH, "branch_reg")
def gen_branch_reg(rng: random.Random, pos: Pos) -> int:
    """br/blr/ret x16|x17|x30, half the words adr of one of them to a later instruction (or the end)"""
    rn = rng.choice(BRANCH_REG_TARGETS)
    if pos.index + 1 < pos.length and rng.random() < 0.5:
        # A target past the next word, so a br right after the adr still jumps.
        off = 4 * (rng.randrange(pos.index + 2, pos.length + 1) - pos.index)
        return pack((0, 1), (off & 3, 2), (0b10000, 5), (off >> 2, 19), (rn, 5))
    # Without an adr before it the register holds a start value: a fetch
    # fault, or a jump back into the sequence when a later adr set it.
    return pack((0b1101011, 7), (0, 2), (rng.randrange(3), 2), (0b11111, 5), (0, 6), (rn, 5), (0, 5))


# -- system -------------------------------------------------------------------------------

# (op0, op1, CRn, CRm, op2, writable) of the registers Unicorn and tcgpy agree on.
SYSREG_KEYS = (
    (3, 3, 4, 2, 0, True),      # nzcv
    (3, 3, 4, 4, 0, True),      # fpcr
    (3, 3, 4, 4, 1, True),      # fpsr
    (3, 3, 13, 0, 2, True),     # tpidr_el0
    (3, 3, 0, 0, 1, False),     # ctr_el0
    (3, 3, 0, 0, 7, False),     # dczid_el0
    (3, 0, 0, 0, 0, False),     # midr_el1
)


@form_class(ARCH, "sysreg")
def gen_sysreg(rng: random.Random, pos: Pos) -> int:
    """mrs/msr nzcv, fpcr, fpsr, tpidr_el0; mrs ctr_el0, dczid_el0, midr_el1"""
    op0, op1, crn, crm, op2, writable = rng.choice(SYSREG_KEYS)
    read = not writable or rng.random() < 0.5
    rt = _load_dest(rng) if read else _any_reg(rng)
    return pack((0b1101010100, 10), (int(read), 1), (1, 1), (op0 - 2, 1), (op1, 3), (crn, 4),
                (crm, 4), (op2, 3), (rt, 5))


# Unicorn runs at EL1, where wfi halts its CPU and ends the run; at EL0 under
# Linux (SCTLR_EL1.nTWI=1) it is a hint that returns: a nop here.
WFI = 3


@form_class(ARCH, "hint_barrier")
def gen_hint_barrier(rng: random.Random, pos: Pos) -> int:
    """hints (nop, yield, pac/bti hints...) but wfi, dsb/dmb (all options), isb, clrex"""
    if rng.random() < 0.5:
        hint = rng.randrange(1, 128)
        if hint == WFI:
            hint = 0
        return pack((0b11010101000000110010, 20), (hint, 7), (31, 5))
    op2 = rng.choice((2, 4, 5, 6))
    return pack((0b11010101000000110011, 20), (rng.randrange(16), 4), (op2, 3), (31, 5))


@form_class(ARCH, "exc_gen")
def gen_exc_gen(rng: random.Random, pos: Pos) -> int:
    """svc, brk, hlt with any immediate (each ends the run)"""
    opc, ll = rng.choice(((0, 1), (1, 0), (2, 0)))
    return pack((0b11010100, 8), (opc, 3), (rng.getrandbits(16), 16), (0, 3), (ll, 2))


LS_CLASSES: tuple[str, ...] = tuple(
    name for name, fc in FORMS[ARCH].items() if fc.gen.__module__ == __name__)
LDST_CLASSES = tuple(n for n in LS_CLASSES if n.startswith("ldst_") or n == "dc_zva")
BRANCH_CLASSES = ("branch", "branch_cond", "cbz", "tbz", "branch_reg")
SYSTEM_CLASSES = ("sysreg", "hint_barrier", "exc_gen")


# -- Unicorn's deviations from the architecture in these forms --------------------------------
# Entries for tcgpy.difftest.known_differences (same shape); proven in
# tests/test_a64_ldst.py, which runs each on Unicorn and asserts what it does.

def _faulting_word(case, outcome) -> int | None:
    """The word at which ``outcome`` stopped with a fault, if it did."""
    if outcome.event.kind != "fault" or outcome.event.address is None:
        return None
    idx = (outcome.regs.get("pc", 0) - CODE_BASE) // 4
    return case.words[idx] if 0 <= idx < len(case.words) else None


def _reference_passed(ref, sub) -> bool:
    """Unicorn did not stop with a fault at the instruction where tcgpy did."""
    return ref.event.kind != "fault" or ref.regs.get("pc") != sub.regs.get("pc")


def _ordered_misaligned(case, mm, ref, sub) -> bool:
    w = _faulting_word(case, sub)
    if w is None or w & 0x3FA0_8000 != 0x0880_8000:      # ldar*/stlr*
        return False
    return sub.event.address % (1 << (w >> 30)) != 0 and _reference_passed(ref, sub)


def _store_exclusive_misaligned(case, mm, ref, sub) -> bool:
    w = _faulting_word(case, sub)
    if w is None or w & 0x3FC0_0000 != 0x0800_0000:      # stxr*/stlxr*/stxp/stlxp
        return False
    size = w >> 30
    pair = (w >> 21) & 1
    align = (4 << (size & 1)) * 2 if pair else 1 << size
    return (sub.event.access == "write" and sub.event.address % align != 0
            and _reference_passed(ref, sub))


def _dc_zva_fault_pc(case, mm, ref, sub) -> bool:
    w = _faulting_word(case, sub)
    if w is None or w & 0xFFFF_FFE0 != 0xD50B_7420:      # dc zva
        return False
    a = ref.event
    return (a.kind == "fault" and a.access == sub.event.access == "write" and a.address is not None
            and a.address & ~63 == sub.event.address & ~63 and ref.regs.get("pc") != sub.regs.get("pc")
            and all(n in ("event", "pc") for n in mm.names))


KNOWN_ROWS: tuple[dict, ...] = (
    dict(
        name="a64-ordered-misaligned",
        arch=ARCH,
        matches=_ordered_misaligned,
        unicorn="ldar/ldarb/ldarh/stlr/stlrb/stlrh on a misaligned address complete "
                "(QEMU 5 emits them without MO_ALIGN)",
        architecture="Alignment fault: ordered accesses (AccType_ORDERED) must be "
                     "naturally aligned without FEAT_LSE2 (Arm ARM, AArch64.CheckAlignment)",
        proof="qemu-aarch64 7.2 delivers SIGBUS for ldar/stlr at buf+1 "
              "(tests/test_a64_ldst.py::test_unicorn_ordered_misaligned_deviation)",
        why="the architecture, and every later QEMU, fault"),
    dict(
        name="a64-store-exclusive-misaligned",
        arch=ARCH,
        matches=_store_exclusive_misaligned,
        unicorn="a misaligned stxr/stxp whose monitor check fails returns status 1 "
                "without a fault (QEMU compares the address with the monitor first)",
        architecture="AArch64.ExclusiveMonitorsPass checks alignment before the monitor: "
                     "the alignment fault is unconditional",
        proof="Arm ARM pseudocode AArch64.ExclusiveMonitorsPass; the Sail model's "
              "AArch64_ExclusiveMonitorsPass (any return implies an aligned address); "
              "tests/test_a64_ldst.py::test_unicorn_store_exclusive_misaligned_deviation",
        why="the architecture; programs never rely on it, tcgpy follows the spec"),
    dict(
        name="a64-dc-zva-fault-pc",
        arch=ARCH,
        matches=_dc_zva_fault_pc,
        unicorn="a dc zva whose block is unmapped faults with pc past the dc zva (and the "
                "block's last byte as the address): its helper does not restore the pc of "
                "the instruction before the fault",
        architecture="a synchronous Data Abort's preferred return address is the faulting "
                     "instruction itself (Arm ARM, AArch64.DataAbort / preferred exception "
                     "return address of synchronous exceptions), so pc is the dc zva's",
        proof="qemu-aarch64 7.2 shows the same QEMU bug: a static program whose dc zva hits "
              "an unmapped page gets SIGSEGV with uc_mcontext.pc at the first instruction "
              "of its translation block, not at the dc zva (checked when this entry was "
              "written); tests/test_a64_ldst.py::test_unicorn_dc_zva_fault_pc_deviation",
        why="the architecture: a signal handler must see the faulting instruction"),
)


def known_differences():
    """KNOWN_ROWS as tcgpy.difftest.known_differences.KnownDifference rows."""
    return tuple(KnownDifference(**row) for row in KNOWN_ROWS)
