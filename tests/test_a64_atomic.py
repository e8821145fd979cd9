"""A64 LSE atomics (FEAT_LSE): hand-written cases of every family, sizes and
orderings, alignment and precise faults, unallocated encodings, Unicorn's
deviation (proven, not skipped), every encoding against Unicorn, and the
"atomic" difftest class.

Hand-written cases hold the code as byte literals annotated with address and
disassembly (capstone; keystone cannot assemble LSE), the start registers and
the expected registers and memory.  Each runs on tcgpy and, to prove the table
itself, on Unicorn's "max" CPU model (its default Cortex-A72 lacks LSE).  The
data page holds byte ``k & 0xff`` at offset ``k``; ``P`` points 4 KiB in, so
[P] = 0x0706050403020100 and [P + 0x80] = 0x8786858483828180 (negative).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

import tcgpy
from tcgpy.difftest import engine as dt
from tcgpy.difftest.aarch64.forms_atomic import (LDOP_NAMES, enc_cas, enc_casp, enc_ldop, is_lse,
                                             known_differences)
from tcgpy.difftest.forms import CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, classes

from . import test_a64_ldst as ls
from .test_a64_ldst import INIT, M64, P, t

CODE = CODE_BASE
DATA = DATA_BASE
DA = dt.diff_arch("aarch64")
UNMAPPED = 0x7700_0000
RO = 0x30_0000                      # a read-only page
ATOMIC = "atomic"
KNOWN_NAME = "a64-ldsmax-ldsmin-narrow-unsigned"

CASES = [
    t(
    b"\x20\x00\x22\xb8",  # 100000: ldadd w2, w0, [x1]
      regs={"x0": M64, "x1": P, "x2": 0xFFFF_FFFF_0000_0001},
      expect={"x0": 0x0302_0100},
      mem={0x1000: "01010203"},
      name="ldadd w: old value zero-extended"),
    t(
    b"\x20\x00\x22\x38",  # 100000: ldaddb w2, w0, [x1]
      regs={"x0": M64, "x1": P + 0xFF, "x2": 1},
      expect={"x0": 0xFF},
      mem={0x10FF: "00"},
      name="ldaddb wraps at 8 bits"),
    t(
    b"\x20\x00\xa2\x78",  # 100000: ldaddah w2, w0, [x1]
      regs={"x1": P + 0xFE, "x2": 3},
      expect={"x0": 0xFFFE},
      mem={0x10FE: "0100"},
      name="ldaddah wraps at 16 bits"),
    t(
    b"\x20\x10\x62\xf8",  # 100000: ldclrl x2, x0, [x1]
      regs={"x1": P, "x2": 0xFF00_FF00_FF00_FF00},
      expect={"x0": 0x0706_0504_0302_0100},
      mem={0x1000: "0000020004000600"}),
    t(
    b"\x20\x20\xe2\x78",  # 100000: ldeoralh w2, w0, [x1]
      regs={"x1": P, "x2": 0xFFFF}, expect={"x0": 0x0100}, mem={0x1000: "fffe"}),
    t(
    b"\x20\x30\x22\xb8",  # 100000: ldset w2, w0, [x1]
      regs={"x1": P, "x2": 0x8000_0000}, expect={"x0": 0x0302_0100}, mem={0x1000: "00010283"}),
    t(
    b"\x20\x40\x22\xf8",  # 100000: ldsmax x2, x0, [x1]
      regs={"x1": P + 0x80, "x2": 1},
      expect={"x0": 0x8786_8584_8382_8180},
      mem={0x1080: "0100000000000000"},
      name="ldsmax x: 1 > negative"),
    t(
    b"\x20\x50\x22\xf8",  # 100000: ldsmin x2, x0, [x1]
      regs={"x1": P, "x2": M64},
      expect={"x0": 0x0706_0504_0302_0100},
      mem={0x1000: "ffffffffffffffff"},
      name="ldsmin x: -1 < positive"),
    t(
    b"\x20\x60\x22\x38",  # 100000: ldumaxb w2, w0, [x1]
      regs={"x1": P + 0x80, "x2": 0x7F}, expect={"x0": 0x80}, name="ldumaxb keeps 0x80"),
    t(
    b"\x20\x70\x22\x78",  # 100000: lduminh w2, w0, [x1]
      regs={"x1": P + 0x80, "x2": 0x1_0005},
      expect={"x0": 0x8180},
      mem={0x1080: "0500"},
      name="lduminh ignores bits above 16"),
    t(
    b"\x20\x60\x22\xf8",  # 100000: ldumax x2, x0, [x1]
    b"\x24\x70\x23\xf8",  # 100004: ldumin x3, x4, [x1]
      regs={"x1": P + 0x80, "x2": M64, "x3": 0},
      expect={"x0": 0x8786_8584_8382_8180, "x4": M64},
      mem={0x1080: "0000000000000000"},
      name="ldumax then ldumin x"),
    t(
    b"\x3f\x00\x22\xb8",  # 100000: stadd w2, [x1]
      regs={"x1": P, "x2": 0x10}, mem={0x1000: "10010203"}, name="stadd (rt = wzr)"),
    t(
    b"\x20\x00\xe0\xf8",  # 100000: ldaddal x0, x0, [x1]
      regs={"x0": 5, "x1": P},
      expect={"x0": 0x0706_0504_0302_0100},
      mem={0x1000: "0501020304050607"},
      name="ldaddal rs == rt"),
    t(
    b"\xe0\x23\x22\xf8",  # 100000: ldeor x2, x0, [sp]
      regs={"sp": P + 8, "x2": 0xFF},
      expect={"x0": 0x0F0E_0D0C_0B0A_0908},
      mem={0x1008: "f7"},
      name="sp base"),
    t(
    b"\x20\x30\xbf\xf8",  # 100000: ldseta xzr, x0, [x1]
      regs={"x1": P}, expect={"x0": 0x0706_0504_0302_0100}, name="ldseta xzr: an atomic load"),
    t(
    b"\x20\x80\x22\xf8",  # 100000: swp x2, x0, [x1]
      regs={"x1": P, "x2": 0x1122_3344_5566_7788},
      expect={"x0": 0x0706_0504_0302_0100},
      mem={0x1000: "8877665544332211"}),
    t(
    b"\x20\x80\xa2\x38",  # 100000: swpab w2, w0, [x1]
      regs={"x0": M64, "x1": P + 0x90, "x2": 0x1FF},
      expect={"x0": 0x90},
      mem={0x1090: "ff"},
      name="swpab: byte, zero-extended"),
    t(
    b"\x20\x80\xe0\xb8",  # 100000: swpal w0, w0, [x1]
      regs={"x0": 0xAAAA_BBBB_CCCC_DDDD, "x1": P},
      expect={"x0": 0x0302_0100},
      mem={0x1000: "ddddcccc"},
      name="swpal rs == rt"),
    t(
    b"\x22\x7c\xa0\x88",  # 100000: cas w0, w2, [x1]
      regs={"x0": 0xFFFF_FFFF_0302_0100, "x1": P, "x2": 0xAABB_CCDD},
      expect={"x0": 0x0302_0100},
      mem={0x1000: "ddccbbaa"},
      name="cas w succeeds: compares 32 bits"),
    t(
    b"\x22\x7c\xe0\xc8",  # 100000: casa x0, x2, [x1]
      regs={"x0": 5, "x1": P, "x2": 0xAABB_CCDD},
      expect={"x0": 0x0706_0504_0302_0100},
      name="casa x fails: rs gets the old value"),
    t(
    b"\x22\xfc\xa0\x08",  # 100000: caslb w0, w2, [x1]
      regs={"x0": 0x107, "x1": P + 7, "x2": 0xEE},
      expect={"x0": 7},
      mem={0x1007: "ee"},
      name="caslb compares the low byte"),
    t(
    b"\x22\xfc\xe0\x48",  # 100000: casalh w0, w2, [x1]
      regs={"x0": 0x0302, "x1": P, "x2": 0xEEEE}, expect={"x0": 0x0100}, name="casalh fails"),
    t(
    b"\x22\x7c\xa0\xc8",  # 100000: cas x0, x2, [x1]
    b"\x23\x7c\xa0\xc8",  # 100004: cas x0, x3, [x1]
      regs={"x0": 9, "x1": P + 0x10, "x2": 0x22, "x3": 0x33},
      expect={"x0": 0x1716_1514_1312_1110},
      mem={0x1010: "3300000000000000"},
      name="cas loop: fail, then succeed with the old value"),
    t(
    b"\x22\x7c\xbf\x08",  # 100000: casb wzr, w2, [x1]
      regs={"x1": P, "x2": 0x55}, mem={0x1000: "55"}, name="casb wzr: compares with zero"),
    t(
    b"\x22\x7c\x24\x48",  # 100000: casp x4, x5, x2, x3, [x1]
      regs={"x1": P, "x2": 0x22, "x3": 0x33, "x4": 0x0706_0504_0302_0100, "x5": 0x0F0E_0D0C_0B0A_0908},
      mem={0x1000: "2200000000000000" "3300000000000000"},
      name="casp x succeeds"),
    t(
    b"\x22\xfc\x64\x48",  # 100000: caspal x4, x5, x2, x3, [x1]
      regs={"x1": P, "x2": 0x22, "x3": 0x33, "x4": 0x0706_0504_0302_0100, "x5": 0},
      expect={"x5": 0x0F0E_0D0C_0B0A_0908},
      name="caspal x fails on the second doubleword"),
    t(
    b"\x22\x7c\x24\x08",  # 100000: casp w4, w5, w2, w3, [x1]
      regs={"x1": P, "x2": 0xFFFF_FFFF_1111_1111, "x3": 0x2222_2222, "x4": 0xFFFF_FFFF_0302_0100, "x5": 0x0706_0504},
      expect={"x4": 0x0302_0100},
      mem={0x1000: "1111111122222222"},
      name="casp w succeeds: compares 32-bit halves"),
    t(
    b"\x22\x7c\x64\x08",  # 100000: caspa w4, w5, w2, w3, [x1]
      regs={"x1": P + 8, "x2": 1, "x3": 2, "x4": 0x0B0A_0908, "x5": 0},
      expect={"x4": 0x0B0A_0908, "x5": 0x0F0E_0D0C},
      name="caspa w fails"),
    t(
    b"\x3f\x04\x00\xf9",  # 100000: str xzr, [x1, #8]
    b"\x3e\x7c\x3e\x48",  # 100004: casp x30, xzr, x30, xzr, [x1]
      regs={"x1": P, "x30": 0x0706_0504_0302_0100},
      mem={0x1000: "0001020304050607" "0000000000000000"},
      name="casp x30, xzr: register 31 of a pair is zr"),
]

# Signed max/min of bytes, halfwords and words: Unicorn compares them unsigned
# (test_unicorn_narrow_signed_minmax_deviation); the table follows the Arm ARM.
SIGNED_CASES = [
    t(
    b"\x20\x40\x22\x38",  # 100000: ldsmaxb w2, w0, [x1]
      regs={"x0": M64, "x1": P + 0x80, "x2": 1},
      expect={"x0": 0x80},
      mem={0x1080: "01"},
      name="ldsmaxb: 1 > -128"),
    t(
    b"\x20\x50\xa2\x78",  # 100000: ldsminah w2, w0, [x1]
      regs={"x1": P + 0x80, "x2": 5}, expect={"x0": 0x8180}, name="ldsminah: -32384 < 5"),
    t(
    b"\x20\x50\x62\xb8",  # 100000: ldsminl w2, w0, [x1]
      regs={"x1": P, "x2": 0x8000_0000},
      expect={"x0": 0x0302_0100},
      mem={0x1000: "00000080"},
      name="ldsminl w: negative < positive"),
    t(
    b"\x3f\x40\x22\xb8",  # 100000: stsmax w2, [x1]
      regs={"x1": P + 0x80, "x2": 1}, mem={0x1080: "01000000"}, name="stsmax w: 1 > negative"),
]


def atomic_case(code: bytes, regs: dict, data: bytes = INIT) -> dt.Case:
    """A case of the "atomic" class (the difftest runs it on Unicorn's max model)."""
    case = ls.make_case(code, regs, data)
    return case.with_(classes=(ATOMIC,) * len(case.words), primary=ATOMIC)


@pytest.fixture(scope="module")
def tcg():
    return dt.TcgpyRunner("aarch64")


@pytest.fixture(scope="module")
def ucmax():
    return dt.UnicornRunner("aarch64", "max")


@pytest.fixture(scope="module")
def engine():
    return dt.Engine("aarch64", known=known_differences())


def _case_id(case) -> str:
    return case.name or case.code.hex()


@pytest.mark.parametrize("case", CASES + SIGNED_CASES, ids=[_case_id(c) for c in CASES + SIGNED_CASES])
def test_hand_case(tcg, case):
    ls.check_outcome(tcg.run(atomic_case(case.code, case.regs)), case)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_hand_case_table_agrees_with_unicorn(ucmax, case):
    ls.check_outcome(ucmax.run(atomic_case(case.code, case.regs)), case)


# -- Unicorn's deviation, proven ------------------------------------------------------------------

@pytest.mark.parametrize("case", SIGNED_CASES, ids=[_case_id(c) for c in SIGNED_CASES])
def test_unicorn_narrow_signed_minmax_deviation(ucmax, engine, case):
    """Unicorn (QEMU 5.0) compares ldsmax/ldsmin of b/h/w unsigned; the Arm ARM
    compares SInt() of the access size, as qemu-aarch64 7.2 does (checked
    when this test was written: ldsmaxb of 1 into 0x80 stores 0x01)."""
    c = atomic_case(case.code, case.regs)
    regs, data = ls.expected(case)
    ref = ucmax.run(c)
    assert ref.event == dt.END and ls._hexdict(ref.regs) == ls._hexdict(regs)
    assert ref.data != data, "Unicorn stores the unsigned max/min"
    res = engine.run(c)
    assert res.status == "known" and res.known.name == KNOWN_NAME
    assert res.mismatch.names and all(n.startswith("mem@") for n in res.mismatch.names)


def test_narrow_signed_minmax_entry_is_narrow(engine):
    """The entry replays the case with Unicorn's semantics at the instruction:
    any other difference (here a register Unicorn is made to report
    differently) is not explained by it."""
    case = SIGNED_CASES[0]
    c = atomic_case(case.code + ls.CASES[0].code, {**case.regs, "x9": 1})
    res = engine.run(c)
    assert res.status == "known"
    row = known_differences()[0]
    ref = dt.Outcome(res.reference.event, {**res.reference.regs, "x9": 2}, res.reference.data)
    assert not row.matches(c, dt.compare(DA, ref, res.subject), ref, res.subject)
    same = atomic_case(ls.CASES[0].code, ls.CASES[0].regs)
    assert not row.matches(same, None, res.reference, res.subject), "no ldsmax/ldsmin in it"


# -- alignment and precise faults ------------------------------------------------------------------
# Natural alignment (casp: of the pair) or an alignment fault; a faulting atomic
# leaves registers and memory as they were, pc at the instruction.  Unmapped:
# the load faults (a read, ESR.WnR 0); read-only: the store (a write), even for
# a cas whose comparison fails (AccType_ATOMICRW needs write permission).

@dataclass(frozen=True)
class F:
    code: bytes
    regs: dict
    address: int
    access: str
    align: bool = False
    name: str = ""
    at: int = 0
    mem: dict | None = None


FAULTS = [
    F(b"\x20\x00\x22\xb8",  # 100000: ldadd w2, w0, [x1]
      {"x0": 3, "x1": P + 2, "x2": 1}, P + 2, "read", True, "ldadd w misaligned"),
    F(b"\x22\x7c\xa0\x48",  # 100000: cash w0, w2, [x1]
      {"x0": 0x0201, "x1": P + 1, "x2": 7}, P + 1, "read", True, "cash misaligned"),
    F(b"\x20\x80\xa2\xf8",  # 100000: swpa x2, x0, [x1]
      {"x0": 3, "x1": P + 4, "x2": 1}, P + 4, "read", True, "swpa x misaligned"),
    F(b"\x22\x7c\x24\x48",  # 100000: casp x4, x5, x2, x3, [x1]
      {"x1": P + 8, "x4": 0x0F0E_0D0C_0B0A_0908, "x5": 0x1716_1514_1312_1110, "x2": 1},
      P + 8, "read", True, "casp x needs 16-byte alignment"),
    F(b"\x22\x7c\x24\x08",  # 100000: casp w4, w5, w2, w3, [x1]
      {"x1": P + 4, "x4": 0x0706_0504, "x5": 0x0B0A_0908, "x2": 1}, P + 4, "read", True,
      "casp w needs 8-byte alignment"),
    F(b"\x20\x00\x22\xf8",  # 100000: ldadd x2, x0, [x1]
      {"x0": 3, "x1": UNMAPPED, "x2": 1}, UNMAPPED, "read", name="ldadd x unmapped: a read"),
    F(b"\x20\x40\xa2\xf8",  # 100000: ldsmaxa x2, x0, [x1]
      {"x0": 3, "x1": RO + 8, "x2": 1}, RO + 8, "write", name="ldsmaxa read-only: a write"),
    F(b"\x22\x7c\xa0\xc8",  # 100000: cas x0, x2, [x1]
      {"x0": 3, "x1": RO, "x2": 1}, RO, "write", name="cas read-only faults though it fails"),
    F(b"\x22\x7c\x24\x48",  # 100000: casp x4, x5, x2, x3, [x1]
      {"x1": RO + 16, "x4": 1, "x5": 2}, RO + 16, "write", name="casp read-only"),
    F(b"\x3f\x00\x22\xb8"   # 100000: stadd w2, [x1]
      b"\x60\x00\x22\xf8",  # 100004: ldadd x2, x0, [x3]
      {"x0": 3, "x1": P, "x2": 1, "x3": P + 9}, P + 9, "read", True,
      "earlier atomic visible", at=1, mem={0x1000: "01010203"}),
]


@pytest.fixture(scope="module")
def femu():
    e = tcgpy.Emulator("aarch64")
    e.mem_map(CODE, CODE_SIZE, perms="rx")
    e.mem_map(DATA, DATA_SIZE, perms="rw")
    e.mem_map(RO, 0x1000, perms="r")
    e.mem_write(RO, bytes(range(256)) * 16)
    return e


def _state(e) -> dict:
    return {n: hex(e.reg_read(n)) for n in DA.compare_regs}


@pytest.mark.parametrize("f", FAULTS, ids=[f.name for f in FAULTS])
def test_precise_fault(femu, f):
    e = femu
    e.mem_write(CODE, f.code.ljust(CODE_SIZE, b"\0"))
    e.mem_write(DATA, INIT)
    ro_before = e.mem_read(RO, 0x1000)
    for name in DA.state_regs:
        e.reg_write(name, f.regs.get(name, 0))
    before = _state(e)
    with pytest.raises(tcgpy.MemoryFault) as info:
        e.run(CODE, until=CODE + len(f.code))
    err = info.value
    assert (hex(err.pc), err.access, hex(err.address)) == (hex(CODE + 4 * f.at), f.access,
                                                           hex(f.address))
    assert isinstance(err, tcgpy.AlignmentFault) == f.align
    before["pc"] = hex(CODE + 4 * f.at)
    assert _state(e) == before
    want = bytearray(INIT)
    for off, hexbytes in (f.mem or {}).items():
        b = bytes.fromhex(hexbytes)
        want[off:off + len(b)] = b
    assert e.mem_read(DATA, DATA_SIZE) == bytes(want)
    assert e.mem_read(RO, 0x1000) == ro_before


def _unicorn_fault(f: F):
    """(pc, kind, access, address) of ``f`` on Unicorn's max model, with the
    same read-only page (the difftest's runner maps none)."""
    import unicorn
    from unicorn import arm64_const as uc_const
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.ctl_set_cpu_model(uc_const.UC_CPU_ARM64_MAX)
    uc.mem_map(CODE, CODE_SIZE, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
    uc.mem_map(DATA, DATA_SIZE)
    uc.mem_map(RO, 0x1000, unicorn.UC_PROT_READ)
    uc.mem_write(CODE, f.code)
    uc.mem_write(DATA, INIT)
    got = []
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda u, n, d: (got.append(("intr", n)), u.emu_stop()))
    kinds = {unicorn.UC_MEM_READ_UNMAPPED: "read", unicorn.UC_MEM_WRITE_UNMAPPED: "write",
             unicorn.UC_MEM_READ_PROT: "read", unicorn.UC_MEM_WRITE_PROT: "write"}
    uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED | unicorn.UC_HOOK_MEM_PROT,
                lambda u, acc, addr, size, val, d: got.append((kinds[acc], addr)) and False)
    for name, v in f.regs.items():
        uc.reg_write(getattr(uc_const, "UC_ARM64_REG_" + name.upper()), v)
    try:
        uc.emu_start(CODE, CODE + len(f.code))
    except unicorn.UcError:
        pass
    return uc.reg_read(uc_const.UC_ARM64_REG_PC), got, bytes(uc.mem_read(DATA, DATA_SIZE))


@pytest.mark.parametrize("f", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_agrees_with_unicorn(f):
    """Unicorn faults at the same instruction: an alignment exception (its
    interrupt hook says neither access nor address), or a memory fault of the
    same access at the same address; memory is untouched by the atomic."""
    pc, got, data = _unicorn_fault(f)
    assert pc == CODE + 4 * f.at
    assert got == ([("intr", 4)] if f.align else [(f.access, f.address)])
    want = bytearray(INIT)
    for off, hexbytes in (f.mem or {}).items():
        b = bytes.fromhex(hexbytes)
        want[off:off + len(b)] = b
    assert data == bytes(want)


# -- unallocated -------------------------------------------------------------------------------------

UNALLOCATED = [
    (enc_casp(1, 0, 5, 0, 1, 2), "casp odd rs", True),
    (enc_casp(0, 1, 4, 1, 1, 3), "caspal odd rt", True),
    (enc_cas(3, 0, 0, 0, 1, 2) & ~(1 << 10), "cas with Rt2 != 11111", True),
    (enc_casp(1, 0, 4, 0, 1, 2) & ~(1 << 14), "casp with Rt2 != 11111", True),
    (enc_ldop(3, 0, 0, 2, 1, 0b001, 1, 0), "o3=1 opc=001", True),
    (enc_ldop(2, 1, 0, 31, 1, 0b100, 1, 0), "ldapr (FEAT_LRCPC, not implemented)", False),
]


@pytest.mark.parametrize("word,why,unicorn_too", UNALLOCATED, ids=[w for _, w, _ in UNALLOCATED])
def test_unallocated_is_illegal(tcg, ucmax, word, why, unicorn_too):
    case = atomic_case(word.to_bytes(4, "little"), {"x0": 0x1234, "x1": P, "x2": 5})
    out = tcg.run(case)
    assert out.event.kind == "illegal"
    assert out.regs["pc"] == CODE and out.regs["x0"] == 0x1234 and out.data == INIT
    if unicorn_too:
        assert ucmax.run(case).event.kind == "illegal", "Unicorn (max) agrees"


# -- every encoding against Unicorn ----------------------------------------------------------------
# Every size and ordering of every operation, from two states at [P + 0x80]
# (negative in every size): one where cas/casp compare equal and one where
# they do not; operands of differing sign for the max/min forms.

def _every_encoding() -> list[tuple[int, str]]:
    words = []
    for size in range(4):
        for a in range(2):
            for r in range(2):
                words += [(enc_ldop(size, a, r, 2, 0, opc, 1, 0), f"ld{LDOP_NAMES[opc]}")
                          for opc in range(8)]
                words.append((enc_ldop(size, a, r, 2, 1, 0, 1, 0), "swp"))
                words.append((enc_cas(size, a, 0, r, 1, 2), "cas"))
    for sz in range(2):
        for l_ in range(2):
            for o0 in range(2):
                words.append((enc_casp(sz, l_, 4, o0, 1, 2), "casp"))
    return words


EVERY = _every_encoding()
AT = P + 0x80
# x5: the second element of an x pair; casp w compares w5 with the second word.
HIT = {"x0": 0x8786_8584_8382_8180, "x4": 0x8786_8584_8382_8180, "x5": 0x8F8E_8D8C_8B8A_8988}
MISS = {"x0": 0x8786_8584_8382_8181, "x4": 0x0786_8584_8382_8180, "x5": 0x8F8E_8D8C_8B8A_8988}
W_PAIR_X5 = {"hit": 0x8786_8584, "miss": 0x8786_8585}


def test_every_encoding_is_lse():
    assert len(EVERY) == 4 * 4 * 10 + 8 and all(is_lse(w) for w, _ in EVERY)


@pytest.mark.parametrize("compare", [HIT, MISS], ids=["cas-equal", "cas-differs"])
def test_every_encoding_matches_unicorn(engine, compare):
    bad = []
    for word, family in EVERY:
        regs = {"x1": AT, "x2": 0x1_0000_0001, "x3": 0x7FFF_FFFF_FFFF_FFFE, **compare}
        if family == "casp" and not word >> 30 & 1:
            regs["x5"] = W_PAIR_X5["hit" if compare is HIT else "miss"]
        res = engine.run(atomic_case(word.to_bytes(4, "little"), regs))
        want = "known" if family in ("ldsmax", "ldsmin") and word >> 30 != 3 else "pass"
        if res.status != want:
            bad.append((hex(word), family, res.status, str(res.mismatch)))
        if family.startswith("cas"):
            stored = res.subject.data != INIT
            assert stored == (compare is HIT), (hex(word), family)
    assert not bad


# -- the difftest class ------------------------------------------------------------------------------

def _check(res) -> None:
    if res.status == "pass" or (res.status == "known" and res.known.name == KNOWN_NAME):
        return
    pytest.fail(f"{ls._disasm(res.case.words)} from {res.case.regs}: {res.mismatch}")


def test_difftest_atomic_class(engine):
    """300 cases of 4 instructions, 4 start states per code sequence."""
    forms = dt.select_classes("aarch64", [ATOMIC])
    for i in range(300):
        _check(engine.run(dt.campaign_case("aarch64", forms, 2026, i, 4, states_per_code=4)))


@pytest.mark.slow
def test_difftest_atomic_campaign(engine):
    forms = dt.select_classes("aarch64", [ATOMIC])
    for length in (1, 6, 12):
        for i in range(3000):
            _check(engine.run(dt.campaign_case("aarch64", forms, length, i, length,
                                               states_per_code=4)))


# -- the engine runs the class on Unicorn's max model, and only it ---------------------------------

def test_atomic_cases_run_on_unicorn_max(engine):
    table = classes("aarch64")
    assert table[ATOMIC].unicorn_cpu == "max"
    forms = dt.select_classes("aarch64")
    rng = random.Random(5)
    seen = set()
    for i in range(400):
        words, names, primary = dt.generate_code(forms, rng, 6)
        case = dt.Case("aarch64", words, {}, b"", 1, names, primary)
        cpu = dt.case_cpu(case)
        # never mixed with classes of another model
        assert {table[n].unicorn_cpu for n in names} == {cpu} == {table[primary].unicorn_cpu}
        seen.add(cpu)
        runner = engine.reference_for(case)
        assert runner is (engine.reference if cpu is None else engine.reference_for(case))
        assert getattr(runner, "cpu", None) == cpu
    assert seen == {None, "max"}


def test_hwcap_advertises_atomics():
    from tcgpy.frontends.aarch64 import features
    from tcgpy.linux.aarch64 import HWCAP_BITS, aarch64_hwcaps
    row = next(f for f in features.FEATURES if f.name == "atomics")
    assert row.implemented and row.difftest == (ATOMIC,) and ATOMIC in classes("aarch64")
    assert aarch64_hwcaps()[0] >> HWCAP_BITS["atomics"] & 1


def test_both_unicorn_deviations_in_one_case():
    """fcvtzs h3, h0, #11 of a negative half (Unicorn sign-extends the int16)
    and ldsmin wzr, w4, [sp] of a negative word (Unicorn compares unsigned)
    in one case: neither single entry explains it, the combined one does
    (a mixed campaign, seed 300 case 3146)."""
    data = bytearray(INIT)
    data[0x100:0x104] = (0xC2505C05).to_bytes(4, "little")
    code = (b"\x03\xfc\x15\x5f"   # 100000: fcvtzs h3, h0, #0xb
            b"\xe4\x53\x3f\xb8")  # 100004: ldsmin wzr, w4, [sp]
    c = atomic_case(code, {"sp": ls.DATA + 0x100, "q0": 0xF722}, bytes(data))
    res = dt.Engine("aarch64").run(c)          # every known difference
    assert res.status == "known" and res.known.name == "a64-ldsmax-and-fcvtzs-h-together"
    assert set(res.mismatch.names) == {"q3", f"mem@{ls.DATA + 0x100:#x}"}
