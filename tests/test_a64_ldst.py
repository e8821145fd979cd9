"""A64 loads and stores of general registers: hand-written cases, precise
faults, the exclusive monitor, unallocated encodings, Unicorn's deviations
from the architecture (proven, not skipped), and a difftest of every
load/store form class against Unicorn.

Hand-written cases hold the code as byte literals annotated with address and
disassembly (capstone), the start registers and the expected registers and
memory.  Each case runs on tcgpy and, to prove the table itself, on Unicorn.
The data page holds byte ``k & 0xff`` at offset ``k``; ``P`` points 4 KiB in.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tcgpy
from tcgpy.difftest import engine as dt
from tcgpy.difftest.aarch64.conventions import PTR_REGS
from tcgpy.difftest.aarch64.forms_atomic import is_lse
from tcgpy.difftest.aarch64.forms_dp import DP_CLASSES
from tcgpy.difftest.aarch64.forms_fp16 import known_differences as fp16_known_differences
from tcgpy.difftest.aarch64.forms_ls import LDST_CLASSES, LOAD_DEST, LS_CLASSES, _excl, known_differences
from tcgpy.difftest.forms import CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, Pos, classes

CODE = CODE_BASE
DATA = DATA_BASE
P = DATA + 0x1000
M64 = (1 << 64) - 1
INIT = bytes(i & 0xFF for i in range(DATA_SIZE))
UNMAPPED = 0x7700_0000


@dataclass(frozen=True)
class T:
    code: bytes
    regs: dict                    # start registers (others 0)
    expect: dict                  # registers after the run (others unchanged)
    mem: dict                     # data page offset -> hex bytes written
    name: str = field(default="")


def t(*code: bytes, regs=None, expect=None, mem=None, name=""):
    return T(b"".join(code), dict(regs or {}), dict(expect or {}), dict(mem or {}), name)


CASES = [
    # -- unsigned scaled offset ---------------------------------------------------------------
    t(
    b"\x20\x04\x40\xf9",  # 100000: ldr x0, [x1, #8]
      regs={"x1": P}, expect={"x0": 0x0F0E_0D0C_0B0A_0908}),
    t(
    b"\x20\xfc\x7f\x39",  # 100000: ldrb w0, [x1, #0xfff]
      regs={"x0": M64, "x1": P}, expect={"x0": 0xFF}, name="ldrb max offset, zero-extends"),
    t(
    b"\x20\x00\xc2\x39",  # 100000: ldrsb w0, [x1, #0x80]
      regs={"x0": M64, "x1": P}, expect={"x0": 0xFFFF_FF80}, name="ldrsb w: upper half zero"),
    t(
    b"\x20\xfc\x81\x39",  # 100000: ldrsb x0, [x1, #0x7f]
      regs={"x1": P}, expect={"x0": 0x7F}),
    t(
    b"\x20\x00\x81\x79",  # 100000: ldrsh x0, [x1, #0x80]
      regs={"x1": P}, expect={"x0": 0xFFFF_FFFF_FFFF_8180}),
    t(
    b"\x20\x00\xc1\x79",  # 100000: ldrsh w0, [x1, #0x80]
      regs={"x1": P}, expect={"x0": 0xFFFF_8180}),
    t(
    b"\x20\x80\x80\xb9",  # 100000: ldrsw x0, [x1, #0x80]
      regs={"x1": P}, expect={"x0": 0xFFFF_FFFF_8382_8180}),
    t(
    b"\xe0\x07\x40\xb9",  # 100000: ldr w0, [sp, #4]
      regs={"x0": M64, "sp": P}, expect={"x0": 0x0706_0504}, name="sp base"),
    t(
    b"\x22\x08\x00\xf9",  # 100000: str x2, [x1, #0x10]
      regs={"x1": P, "x2": 0x1122_3344_5566_7788}, mem={0x1010: "8877665544332211"}),
    t(
    b"\x22\x04\x00\x79",  # 100000: strh w2, [x1, #2]
    b"\x22\x04\x00\x39",  # 100004: strb w2, [x1, #1]
      regs={"x1": P, "x2": 0xAABB_CCDD}, mem={0x1001: "ddddcc"}, name="strh then strb"),
    t(
    b"\x3f\x00\x00\xb9",  # 100000: str wzr, [x1]
      regs={"x1": P}, mem={0x1000: "00000000"}, name="store of wzr"),
    # -- unscaled, unprivileged ---------------------------------------------------------------
    t(
    b"\x20\xf0\x5f\xf8",  # 100000: ldur x0, [x1, #-1]
      regs={"x1": P}, expect={"x0": 0x0605_0403_0201_00FF}, name="ldur misaligned"),
    t(
    b"\x22\xd0\x1f\xb8",  # 100000: stur w2, [x1, #-3]
      regs={"x1": P, "x2": 0x1234_5678}, mem={0x0FFD: "78563412"}),
    t(
    b"\x20\x58\x40\xf8",  # 100000: ldtr x0, [x1, #5]
    b"\x22\xf8\x1f\x38",  # 100004: sttrb w2, [x1, #-1]
      regs={"x1": P, "x2": 0x99}, expect={"x0": 0x0C0B_0A09_0807_0605}, mem={0x0FFF: "99"},
      name="ldtr/sttr are plain accesses at EL0"),
    # -- pre/post-index -------------------------------------------------------------------------
    t(
    b"\x20\x84\x5f\xf8",  # 100000: ldr x0, [x1], #0xfffffffffffffff8
      regs={"x1": P}, expect={"x0": 0x0706_0504_0302_0100, "x1": P - 8}),
    t(
    b"\x20\x8c\x40\xf8",  # 100000: ldr x0, [x1, #8]!
      regs={"x1": P}, expect={"x0": 0x0F0E_0D0C_0B0A_0908, "x1": P + 8}),
    t(
    b"\xe2\x0f\x1f\xf8",  # 100000: str x2, [sp, #-0x10]!
      regs={"sp": P, "x2": 0xCAFE}, expect={"sp": P - 16}, mem={0x0FF0: "feca000000000000"}),
    t(
    b"\x20\xfc\xcf\x78",  # 100000: ldrsh w0, [x1, #0xff]!
      regs={"x1": P}, expect={"x0": 0x0000_00FF, "x1": P + 255}),
    t(
    b"\x21\x84\x40\xf8",  # 100000: ldr x1, [x1], #8  (CONSTR. UNPRED.: no capstone text)
      regs={"x1": P}, expect={"x1": P + 8}, name="post-index load rn == rt: writeback wins"),
    t(
    b"\x21\x8c\x40\xf8",  # 100000: ldr x1, [x1, #8]!  (CONSTR. UNPRED.: no capstone text)
      regs={"x1": P}, expect={"x1": P + 8}, name="pre-index load rn == rt: writeback wins"),
    t(
    b"\x21\x8c\x00\xf8",  # 100000: str x1, [x1, #8]!
      regs={"x1": P}, expect={"x1": P + 8}, mem={0x1008: "0010200000000000"},
      name="pre-index store rn == rt stores the old value"),
    # -- register offset --------------------------------------------------------------------------
    t(
    b"\x20\x68\x63\xf8",  # 100000: ldr x0, [x1, x3]
      regs={"x1": P, "x3": M64}, expect={"x0": 0x0605_0403_0201_00FF}, name="negative index"),
    t(
    b"\x20\x78\x63\xf8",  # 100000: ldr x0, [x1, x3, lsl #3]
      regs={"x1": P, "x3": 2}, expect={"x0": 0x1716_1514_1312_1110}),
    t(
    b"\x20\x58\x63\xb8",  # 100000: ldr w0, [x1, w3, uxtw #2]
      regs={"x1": P, "x3": 0xFFFF_FFFF_0000_0001}, expect={"x0": 0x0706_0504}),
    t(
    b"\x20\xc8\x63\x38",  # 100000: ldrb w0, [x1, w3, sxtw]
      regs={"x1": P, "x3": 0xFFFF_FFFF}, expect={"x0": 0xFF}, name="sxtw -1"),
    t(
    b"\x20\xf8\x63\x78",  # 100000: ldrh w0, [x1, x3, sxtx #1]
      regs={"x1": P, "x3": 3}, expect={"x0": 0x0706}),
    t(
    b"\x22\xd8\x23\xf8",  # 100000: str x2, [x1, w3, sxtw #3]
      regs={"x1": P, "x2": 0x42, "x3": 0xFFFF_FFFE}, mem={0x0FF0: "4200000000000000"}),
    # -- prefetch: a nop even to unmapped memory ---------------------------------------------------
    t(
    b"\x20\x04\x80\xf9",  # 100000: prfm pldl1keep, [x1, #8]
    b"\x20\xf0\x9f\xf8",  # 100004: prfum pldl1keep, [x1, #-1]
    b"\x20\x68\xa3\xf8",  # 100008: prfm pldl1keep, [x1, x3]
    b"\x40\x00\x00\xd8",  # 10000c: prfm pldl1keep, #0x100014
      regs={"x1": 0x7700_0000, "x3": 8}, name="prfm never faults"),
    # -- literal -----------------------------------------------------------------------------------
    t(
    b"\x60\x00\x00\x18",  # 100000: ldr w0, #0x10000c
    b"\x41\x00\x00\x98",  # 100004: ldrsw x1, #0x10000c
    b"\x02\x00\x00\x14",  # 100008: b #0x100010
    b"\xef\xcd\xab\x89",  # 10000c: .word 0x89abcdef (data)
      regs={"x0": M64}, expect={"x0": 0x89AB_CDEF, "x1": 0xFFFF_FFFF_89AB_CDEF}),
    t(
    b"\x1f\x20\x03\xd5",  # 100000: nop
    b"\xe0\xff\xff\x58",  # 100004: ldr x0, #0x100000
      expect={"x0": 0x58FF_FFE0_D503_201F}, name="ldr x literal backwards"),
    # -- pairs ----------------------------------------------------------------------------------
    t(
    b"\x20\x08\x40\xa9",  # 100000: ldp x0, x2, [x1]
      regs={"x1": P}, expect={"x0": 0x0706_0504_0302_0100, "x2": 0x0F0E_0D0C_0B0A_0908}),
    t(
    b"\x20\x88\x7f\x29",  # 100000: ldp w0, w2, [x1, #-4]
      regs={"x0": M64, "x1": P}, expect={"x0": 0xFFFE_FDFC, "x2": 0x0302_0100}),
    t(
    b"\x20\x08\x50\x69",  # 100000: ldpsw x0, x2, [x1, #0x80]
      regs={"x1": P}, expect={"x0": 0xFFFF_FFFF_8382_8180, "x2": 0xFFFF_FFFF_8786_8584}),
    t(
    b"\x20\x08\xc1\xa9",  # 100000: ldp x0, x2, [x1, #0x10]!
      regs={"x1": P}, expect={"x0": 0x1716_1514_1312_1110, "x2": 0x1F1E_1D1C_1B1A_1918,
                              "x1": P + 16}),
    t(
    b"\x20\x08\xff\xa8",  # 100000: ldp x0, x2, [x1], #-0x10
      regs={"x1": P}, expect={"x0": 0x0706_0504_0302_0100, "x2": 0x0F0E_0D0C_0B0A_0908,
                              "x1": P - 16}),
    t(
    b"\xe2\x0f\xbf\xa9",  # 100000: stp x2, x3, [sp, #-0x10]!
      regs={"sp": P, "x2": 1, "x3": 2}, expect={"sp": P - 16},
      mem={0x0FF0: "0100000000000000" "0200000000000000"}),
    t(
    b"\x22\x8c\x00\x29",  # 100000: stp w2, w3, [x1, #4]
      regs={"x1": P, "x2": 0x1_0000_0001, "x3": 0x2_0000_0002}, mem={0x1004: "0100000002000000"}),
    t(
    b"\x20\x08\x41\xa8",  # 100000: ldnp x0, x2, [x1, #0x10]
    b"\x22\x0c\x3f\xa8",  # 100004: stnp x2, x3, [x1, #-0x10]
      regs={"x1": P, "x3": 7}, expect={"x0": 0x1716_1514_1312_1110, "x2": 0x1F1E_1D1C_1B1A_1918},
      mem={0x0FF0: "18191a1b1c1d1e1f" "0700000000000000"}),
    t(
    b"\x20\x00\x40\xa9",  # 100000: ldp x0, x0, [x1]  (CONSTR. UNPRED.: no capstone text)
      regs={"x1": P}, expect={"x0": 0x0706_0504_0302_0100}, name="ldp rt == rt2: first element"),
    t(
    b"\x21\x08\xc1\xa9",  # 100000: ldp x1, x2, [x1, #16]!  (CONSTR. UNPRED.: no capstone text)
      regs={"x1": P}, expect={"x1": P + 16, "x2": 0x1F1E_1D1C_1B1A_1918},
      name="ldp writeback rn == rt: writeback wins"),
    t(
    b"\x21\x08\x81\xa9",  # 100000: stp x1, x2, [x1, #16]!  (CONSTR. UNPRED.: no capstone text)
      regs={"x1": P, "x2": 5}, expect={"x1": P + 16},
      mem={0x1010: "0010200000000000" "0500000000000000"}, name="stp writeback rn == rt"),
    # -- load-acquire / store-release -------------------------------------------------------------
    t(
    b"\x20\xfc\xdf\xc8",  # 100000: ldar x0, [x1]
    b"\x22\xfc\xdf\x08",  # 100004: ldarb w2, [x1]
    b"\xe3\xff\xdf\x48",  # 100008: ldarh w3, [sp]
      regs={"x1": P + 8, "sp": P + 0x80},
      expect={"x0": 0x0F0E_0D0C_0B0A_0908, "x2": 0x08, "x3": 0x8180}),
    t(
    b"\x22\xfc\x9f\x88",  # 100000: stlr w2, [x1]
    b"\xe2\xff\x9f\x08",  # 100004: stlrb w2, [sp]
    b"\x62\xfc\x9f\x48",  # 100008: stlrh w2, [x3]
    b"\x82\xfc\x9f\xc8",  # 10000c: stlr x2, [x4]
      regs={"x1": P, "sp": P + 5, "x3": P + 6, "x4": P + 8, "x2": 0x0102_0304_0506_0708},
      mem={0x1000: "08070605", 0x1005: "08", 0x1006: "0807", 0x1008: "0807060504030201"}),
]


# -- exclusives: the monitor holds after a load-exclusive until a store-exclusive or
# clrex; a store-exclusive writes and returns 0 iff it hits the monitored address and
# memory still holds the loaded value.
EXCL_CASES = [
    t(
    b"\x20\x7c\x5f\xc8",  # 100000: ldxr x0, [x1]
    b"\x23\x7c\x02\xc8",  # 100004: stxr w2, x3, [x1]
    b"\x25\x7c\x04\xc8",  # 100008: stxr w4, x5, [x1]
      regs={"x1": P, "x2": 9, "x3": 0xAA, "x4": 9, "x5": 0xBB},
      expect={"x0": 0x0706_0504_0302_0100, "x2": 0, "x4": 1}, mem={0x1000: "aa00000000000000"},
      name="stxr succeeds once"),
    t(
    b"\x20\xfc\x5f\x08",  # 100000: ldaxrb w0, [x1]
    b"\x23\xfc\x02\x08",  # 100004: stlxrb w2, w3, [x1]
    b"\x20\x7c\x5f\x48",  # 100008: ldxrh w0, [x1]
    b"\x23\x7c\x04\x48",  # 10000c: stxrh w4, w3, [x1]
    b"\x20\x7c\x5f\x88",  # 100010: ldxr w0, [x1]
    b"\x23\x7c\x05\x88",  # 100014: stxr w5, w3, [x1]
      regs={"x1": P + 0x40, "x2": 9, "x3": 0x1_0000_0103, "x4": 9, "x5": 9},
      expect={"x0": 0x4342_0103, "x2": 0, "x4": 0, "x5": 0}, mem={0x1040: "03010000"},
      name="byte, half, word exclusives"),
    t(
    b"\x20\x14\x7f\x88",  # 100000: ldxp w0, w5, [x1]
    b"\x23\x10\x22\x88",  # 100004: stxp w2, w3, w4, [x1]
    b"\x26\x9c\x7f\xc8",  # 100008: ldaxp x6, x7, [x1]
    b"\x24\x8c\x28\xc8",  # 10000c: stlxp w8, x4, x3, [x1]
      regs={"x1": P, "x2": 9, "x3": 0x1111_1111_2222_2222, "x4": 0x3333_3333_4444_4444, "x8": 9},
      expect={"x0": 0x0302_0100, "x5": 0x0706_0504, "x2": 0, "x6": 0x4444_4444_2222_2222,
              "x7": 0x0F0E_0D0C_0B0A_0908, "x8": 0},
      mem={0x1000: "4444444433333333" "2222222211111111"}, name="pair exclusives"),
    t(
    b"\x20\x7c\x5f\xc8",  # 100000: ldxr x0, [x1]
    b"\x5f\x3f\x03\xd5",  # 100004: clrex
    b"\x23\x7c\x02\xc8",  # 100008: stxr w2, x3, [x1]
      regs={"x1": P, "x2": 9, "x3": 0xAA}, expect={"x0": 0x0706_0504_0302_0100, "x2": 1},
      name="clrex clears the monitor"),
    t(
    b"\x20\x7c\x5f\xc8",  # 100000: ldxr x0, [x1]
    b"\x24\x00\x00\xf9",  # 100004: str x4, [x1]
    b"\x23\x7c\x02\xc8",  # 100008: stxr w2, x3, [x1]
      regs={"x1": P, "x2": 9, "x3": 0xAA, "x4": 0x77},
      expect={"x0": 0x0706_0504_0302_0100, "x2": 1}, mem={0x1000: "7700000000000000"},
      name="changed memory fails the store"),
    t(
    b"\x20\x7c\x5f\xc8",  # 100000: ldxr x0, [x1]
    b"\x83\x7c\x02\xc8",  # 100004: stxr w2, x3, [x4]
    b"\x23\x7c\x05\xc8",  # 100008: stxr w5, x3, [x1]
      regs={"x1": P, "x4": P + 8, "x2": 9, "x3": 0xAA, "x5": 9},
      expect={"x0": 0x0706_0504_0302_0100, "x2": 1, "x5": 1},
      name="another address fails and clears"),
    t(
    b"\x5f\x3f\x03\xd5",  # 100000: clrex
    b"\xe0\x7f\x5f\xc8",  # 100004: ldxr x0, [sp]
    b"\xe0\x7f\x00\xc8",  # 100008: stxr w0, x0, [sp]
      regs={"sp": P + 8}, expect={"x0": 0}, name="status register may be the data register's"),
]




# -- runners ------------------------------------------------------------------------------

DA = dt.diff_arch("aarch64")


def words_of(code: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(code[i:i + 4], "little") for i in range(0, len(code), 4))


def make_case(code: bytes, regs: dict, data: bytes = INIT) -> dt.Case:
    full = {name: 0 for name in DA.state_regs}
    full.update(regs)
    return dt.Case("aarch64", words_of(code), full, data, len(code) // 4)


@pytest.fixture(scope="module")
def tcg():
    return dt.TcgpyRunner("aarch64")


@pytest.fixture(scope="module")
def uc():
    return dt.UnicornRunner("aarch64")


def expected(case: T) -> tuple[dict, bytes]:
    """Every compared register (the V registers only once the difftest compares them)."""
    regs = {name: 0 for name in DA.compare_regs}
    regs.update((k, v) for k, v in case.regs.items() if k in regs)
    regs["pc"] = CODE + len(case.code)
    regs.update((k, v) for k, v in case.expect.items() if k in regs)
    data = bytearray(INIT)
    for off, hexbytes in case.mem.items():
        b = bytes.fromhex(hexbytes)
        data[off:off + len(b)] = b
    return regs, bytes(data)


def _hexdict(d: dict) -> dict:
    return {k: hex(v) for k, v in d.items()}


def check_outcome(out: dt.Outcome, case: T) -> None:
    regs, data = expected(case)
    assert out.event == dt.END, out.event
    assert _hexdict(out.regs) == _hexdict(regs)
    assert out.data == data, dt._mem_diffs(data, out.data)


def _case_id(case: T) -> str:
    return case.name or case.code.hex()


ALL_CASES = CASES + EXCL_CASES


@pytest.mark.parametrize("case", ALL_CASES, ids=[_case_id(c) for c in ALL_CASES])
def test_hand_case(tcg, case):
    check_outcome(tcg.run(make_case(case.code, case.regs)), case)


@pytest.mark.parametrize("case", ALL_CASES, ids=[_case_id(c) for c in ALL_CASES])
def test_hand_case_table_agrees_with_unicorn(uc, case):
    check_outcome(uc.run(make_case(case.code, case.regs)), case)


# -- precise faults -----------------------------------------------------------------------------
# A faulting instruction leaves no trace: registers (incl. writeback) and memory are as
# before it, pc is its address; earlier instructions' effects are visible.

END = DATA + DATA_SIZE              # unmapped
RO = 0x30_0000                      # a read-only page


@dataclass(frozen=True)
class F:
    code: bytes
    regs: dict
    at: int                         # index of the faulting instruction
    address: int | tuple           # or the addresses the softmmu may report (page-crossing)
    access: str
    align: bool = False
    mem: dict = field(default_factory=dict)     # effects of earlier instructions
    name: str = ""


FAULTS = [
    F(b"\x20\x00\x40\xf9",  # 100000: ldr x0, [x1]
      {"x0": 5, "x1": UNMAPPED}, 0, UNMAPPED, "read", name="load unmapped"),
    F(b"\x20\x84\x40\xf8",  # 100000: ldr x0, [x1], #8
      {"x0": 5, "x1": UNMAPPED}, 0, UNMAPPED, "read", name="no writeback on fault"),
    F(b"\x20\x4c\x80\xb8",  # 100000: ldrsw x0, [x1, #4]!
      {"x1": UNMAPPED}, 0, UNMAPPED + 4, "read", name="no pre-index writeback on fault"),
    F(b"\x22\x00\x00\xf9",  # 100000: str x2, [x1]
      {"x1": RO + 8, "x2": 7}, 0, RO + 8, "write", name="store to read-only"),
    F(b"\x22\x00\x00\xf9"   # 100000: str x2, [x1]
      b"\x60\x00\x40\xf9",  # 100004: ldr x0, [x3]
      {"x1": P, "x2": 7, "x3": UNMAPPED}, 1, UNMAPPED, "read", mem={0x1000: "0700000000000000"},
      name="earlier store visible"),
    F(b"\x20\x08\xc1\xa9",  # 100000: ldp x0, x2, [x1, #0x10]!
      {"x0": 1, "x2": 2, "x1": END - 24}, 0, END, "read", name="ldp second element faults"),
    F(b"\x22\x0c\x00\xa9",  # 100000: stp x2, x3, [x1]
      {"x1": END - 8, "x2": 1, "x3": 2}, 0, END, "write", name="stp upper element faults"),
    F(b"\x22\x0c\x00\xa9",  # 100000: stp x2, x3, [x1]
      {"x1": UNMAPPED + 0x100, "x2": 1, "x3": 2}, 0, UNMAPPED + 0x100, "write",
      name="stp unmapped: lower address reported"),
    F(b"\x22\x0c\x00\x29",  # 100000: stp w2, w3, [x1]
      {"x1": END - 4, "x2": 1, "x3": 2}, 0, (END - 4, END), "write", name="stp w across the end"),
    F(b"\x21\x74\x0b\xd5",  # 100000: dc zva, x1
      {"x1": UNMAPPED + 0x53}, 0, UNMAPPED + 0x40, "write", name="dc zva unmapped"),
    # alignment faults
    F(b"\x20\x7c\x5f\xc8",  # 100000: ldxr x0, [x1]
      {"x0": 3, "x1": P + 4}, 0, P + 4, "read", align=True, name="ldxr misaligned"),
    F(b"\x20\x08\x7f\xc8",  # 100000: ldxp x0, x2, [x1]
      {"x1": P + 8}, 0, P + 8, "read", align=True, name="ldxp x needs 16-byte alignment"),
    F(b"\x5f\x3f\x03\xd5"   # 100000: clrex
      b"\x23\x7c\x02\xc8",  # 100004: stxr w2, x3, [x1]
      {"x1": P + 1, "x2": 9}, 1, P + 1, "write", align=True,
      name="stxr misaligned faults though the monitor is clear"),
    F(b"\x20\xfc\xdf\x88",  # 100000: ldar w0, [x1]
      {"x1": P + 2}, 0, P + 2, "read", align=True, name="ldar misaligned"),
    F(b"\x22\xfc\x9f\x48",  # 100000: stlrh w2, [x1]
      {"x1": P + 1}, 0, P + 1, "write", align=True, name="stlrh misaligned"),
]


@pytest.fixture(scope="module")
def femu():
    e = tcgpy.Emulator("aarch64")
    e.mem_map(CODE, CODE_SIZE, perms="rx")
    e.mem_map(DATA, DATA_SIZE, perms="rw")
    e.mem_map(RO, 0x1000, perms="r")
    return e


def _state(e) -> dict:
    return {n: e.reg_read(n) for n in DA.compare_regs}


@pytest.mark.parametrize("f", FAULTS, ids=[f.name for f in FAULTS])
def test_precise_fault(femu, f):
    e = femu
    e.mem_write(CODE, f.code.ljust(CODE_SIZE, b"\0"))
    e.mem_write(DATA, INIT)
    ro_before = e.mem_read(RO, 0x1000)
    for name in DA.state_regs:
        e.reg_write(name, f.regs.get(name, 0))
    before = _state(e)
    cls = tcgpy.AlignmentFault if f.align else tcgpy.MemoryFault
    with pytest.raises(cls) as info:
        e.run(CODE, until=CODE + len(f.code))
    err = info.value
    allowed = f.address if isinstance(f.address, tuple) else (f.address,)
    assert (hex(err.pc), err.access) == (hex(CODE + 4 * f.at), f.access)
    assert err.address in allowed, hex(err.address)
    assert isinstance(err, tcgpy.AlignmentFault) == f.align
    before["pc"] = CODE + 4 * f.at
    assert _hexdict(_state(e)) == _hexdict(before)
    want = bytearray(INIT)
    for off, hexbytes in f.mem.items():
        b = bytes.fromhex(hexbytes)
        want[off:off + len(b)] = b
    assert e.mem_read(DATA, DATA_SIZE) == bytes(want)
    assert e.mem_read(RO, 0x1000) == ro_before


# -- unallocated encodings ---------------------------------------------------------------------

UNALLOCATED = [
    (0xB9C0_0020, "ldr (uimm) size=10 opc=11"),
    (0xF9C0_0020, "ldr (uimm) size=11 opc=11"),
    (0xF880_0C20, "prfm pre-index"),
    (0xF880_0820, "prfm in the unprivileged space"),
    (0xF860_0820, "register offset with uxtb"),
    (0xE940_0020, "pair opc=11"),
    (0x6840_0820, "ldnp with opc=01"),
    (0x6900_0820, "stgp (MTE)"),
    (0x889F_7C22, "stllr (LOR)"),
    (0xB8BF_C020, "ldapr (RCpc)"),
    (0xF820_0420, "ldraa (PAuth)"),
]


@pytest.mark.parametrize("word,why", UNALLOCATED, ids=[w for _, w in UNALLOCATED])
def test_unallocated_is_illegal(tcg, uc, word, why):
    case = make_case(word.to_bytes(4, "little"), {"x0": 0x1234, "x1": P, "x2": 5})
    out = tcg.run(case)
    assert out.event.kind == "illegal"
    assert out.regs["pc"] == CODE and out.regs["x0"] == 0x1234 and out.data == INIT
    assert uc.run(case).event.kind == "illegal", "Unicorn (Cortex-A72) agrees"


# -- Unicorn's deviations, proven ----------------------------------------------------------------

def _known_engine():
    return dt.Engine("aarch64", known=known_differences())


def test_unicorn_ordered_misaligned_deviation(tcg, uc):
    """Unicorn (QEMU 5) completes a misaligned ldar; the architecture faults
    (AArch64.CheckAlignment, AccType_ORDERED), as qemu-aarch64 7.2 does (SIGBUS
    for ldar/stlr at an odd address, checked when this test was written)."""
    code = (b"\x20\xfc\xdf\x88"  # 100000: ldar w0, [x1]
            b"\x22\xfc\x9f\x48")  # 100004: stlrh w2, [x1]
    case = make_case(code, {"x1": P + 2})
    assert uc.run(case).event == dt.END
    assert tcg.run(case).event == dt.Event("fault", "read", P + 2)
    res = _known_engine().run(case)
    assert res.status == "known" and res.known.name == "a64-ordered-misaligned"


def test_unicorn_store_exclusive_misaligned_deviation(tcg, uc):
    """Unicorn checks the monitor before alignment: a misaligned stxr with a
    clear monitor returns 1.  AArch64.ExclusiveMonitorsPass checks alignment
    first, unconditionally (qemu-aarch64 7.2 still returns 1 too)."""
    code = (b"\x5f\x3f\x03\xd5"   # 100000: clrex
            b"\x23\x7c\x02\xc8")  # 100004: stxr w2, x3, [x1]
    case = make_case(code, {"x1": P + 1, "x2": 9})
    ref = uc.run(case)
    assert ref.event == dt.END and ref.regs["x2"] == 1
    sub = tcg.run(case)
    assert sub.event == dt.Event("fault", "write", P + 1) and sub.regs["x2"] == 9
    res = _known_engine().run(case)
    assert res.status == "known" and res.known.name == "a64-store-exclusive-misaligned"


def test_unicorn_dc_zva_fault_pc_deviation(tcg, uc):
    """A dc zva on an unmapped block: Unicorn stops with pc at the next
    instruction (its helper does not restore pc; qemu-aarch64 7.2 reports the
    start of the translation block).  The exception's return address is the
    dc zva's own (tcgpy), and nothing is written."""
    code = (b"\x3b\x74\x0b\xd5"   # 100000: dc zva, x27
            b"\x1f\x20\x03\xd5")  # 100004: nop
    case = make_case(code, {"x27": DATA - 0xA0})
    ref = uc.run(case)
    assert ref.event.kind == "fault" and ref.regs["pc"] != CODE
    sub = tcg.run(case)
    assert sub.event == dt.Event("fault", "write", DATA - 0xC0) and sub.regs["pc"] == CODE
    res = _known_engine().run(case)
    assert res.status == "known" and res.known.name == "a64-dc-zva-fault-pc"


def test_unicorn_store_exclusive_size_mismatch_deviation(tcg, uc):
    """After a 64-bit ldxr, Unicorn's stxrb compares only the low byte of the
    monitored value, writes memory, and then reports failure (1).  The
    architecture writes memory only when it reports success
    (AArch64 STXR pseudocode: the store happens iff ExclusiveMonitorsPass).
    tcgpy fails the mismatched store without writing."""
    code = (b"\x20\x7c\x5f\xc8"   # 100000: ldxr x0, [x1]
            b"\x23\x7c\x02\x08")  # 100004: stxrb w2, w3, [x1]
    case = make_case(code, {"x1": P + 8, "x3": 0xEE})
    ref = uc.run(case)
    assert ref.regs["x2"] == 1 and ref.data[0x1008] == 0xEE
    sub = tcg.run(case)
    assert sub.event == dt.END and sub.regs["x2"] == 1 and sub.data == INIT


# -- difftest against Unicorn ---------------------------------------------------------------------

LDST_FORMS = [classes("aarch64")[n] for n in LDST_CLASSES]


@pytest.fixture(scope="module")
def engine():
    # + the FP16 rows: the sysreg class may msr FPCR.FZ16, which Unicorn's default CPU drops
    return dt.Engine("aarch64", known=known_differences() + fp16_known_differences())


def _disasm(words) -> list[str]:
    from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs
    cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    out = []
    for k, w in enumerate(words):
        pc = CODE + 4 * k
        insn = next(cs.disasm(w.to_bytes(4, "little"), pc), None)
        out.append(f"{pc:x}: {w:08x} " + (f"{insn.mnemonic} {insn.op_str}" if insn else "(?)"))
    return out


def random_case(forms, seed: int, length: int) -> dt.Case:
    """A sequence drawn from ``forms`` with the difftest's start state (pointer
    registers into the data page, edge values elsewhere, random data)."""
    rng = random.Random(seed)
    chosen = [rng.choice(forms) for _ in range(length)]
    words = tuple(f.gen(rng, Pos(i, length)) for i, f in enumerate(chosen))
    return dt.Case("aarch64", words, dt.random_start_regs(DA, rng), rng.randbytes(DATA_SIZE),
                   dt.default_bound(length), tuple(f.name for f in chosen))


def check_case(engine, case: dt.Case, allow_known: bool = False) -> None:
    res = engine.run(case)
    if res.status == "pass" or (allow_known and res.status == "known"):
        return
    why = res.mismatch if res.status == "mismatch" else f"known difference {res.known.name}"
    pytest.fail(f"{_disasm(case.words)} from "
                f"{ {k: hex(v) for k, v in case.regs.items()} }: {why}")


@pytest.mark.parametrize("form", LDST_FORMS, ids=[f.name for f in LDST_FORMS])
@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(1, 4))
def test_difftest_class(engine, form, seed, length):
    """Every form class on its own: equal to Unicorn, no known difference needed."""
    check_case(engine, random_case([form], seed, length))


@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(2, 10))
def test_difftest_mixed_ldst(engine, seed, length):
    """Stores then loads of the same bytes, writeback feeding later addresses."""
    check_case(engine, random_case(LDST_FORMS, seed, length))


@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(2, 10))
def test_difftest_with_integer_classes(engine, seed, length):
    """Mixed with the branch, system and integer data-processing classes (data
    processing may misalign SP: the documented Unicorn deviations are then
    allowed, nothing else)."""
    table = classes("aarch64")
    forms = [table[n] for n in LS_CLASSES + DP_CLASSES]
    check_case(engine, random_case(forms, seed, length), allow_known=True)


def narrow_exclusive_case(seed: int) -> dt.Case:
    """Byte, halfword or word exclusives (one size per case: after a wider
    load-exclusive Unicorn's narrower store-exclusive misbehaves, see
    test_unicorn_store_exclusive_size_mismatch_deviation), plain or
    acquire/release, around random plain stores of that size and clrex, on an
    aligned SP into random data."""
    rng = random.Random(seed)
    size = rng.randrange(3)

    def data_reg() -> int:
        return rng.choice(LOAD_DEST)

    def load_excl() -> int:
        return _excl(size, 0, 1, 0, 31, rng.randrange(2), 31, 31, data_reg())

    def store_excl() -> int:
        rt = rng.randrange(32)
        rs = rng.choice([r for r in LOAD_DEST if r != rt])
        return _excl(size, 0, 0, 0, rs, rng.randrange(2), 31, 31, rt)

    plain_store = lambda: 0x3900_03E0 | size << 30 | rng.randrange(32)   # str{b,h,} [sp]
    clrex = 0xD503_305F
    words = [load_excl()]
    for _ in range(rng.randrange(1, 5)):
        words.append(rng.choice((store_excl, store_excl, load_excl, plain_store,
                                 lambda: clrex))())
    words.append(store_excl())
    regs = dt.random_start_regs(DA, rng)
    regs["sp"] = DATA_BASE + rng.randrange(DATA_SIZE // 16) * 16 + rng.randrange(4) * (1 << size)
    return dt.Case("aarch64", tuple(words), regs, rng.randbytes(DATA_SIZE), len(words))


@given(seed=st.integers(0, 2 ** 64 - 1))
def test_difftest_narrow_exclusives(engine, seed):
    """ldxrb/ldaxrb/stxrb/stlxrb and the h and w forms on random values
    (the random classes draw only 64-bit and pair exclusives)."""
    check_case(engine, narrow_exclusive_case(seed))


def _random_ldst_word(rng: random.Random) -> int | None:
    """Any word of the general-register load/store groups (op0 x1x0, V=0),
    allocated or not, but never loading into the pointer registers, and no
    LSE atomic (Unicorn's default model lacks them: tests/test_a64_atomic.py
    difftests them on its "max" model)."""
    w = (rng.getrandbits(32) | 1 << 27) & ~(1 << 26) & ~(1 << 25)
    return None if (w & 31) in PTR_REGS or is_lse(w) else w


@given(seed=st.integers(0, 2 ** 64 - 1))
def test_difftest_any_ldst_word(engine, seed):
    """The whole encoding space of the groups: same result, or illegal on both.
    Bases hold random values, so most accesses fault: same address and access
    on both -- except page-crossing faults, where the two softmmus differ by
    design (see test_precise_fault)."""
    rng = random.Random(seed)
    word = _random_ldst_word(rng)
    if word is None:
        return
    case = dt.Case("aarch64", (word,), dt.random_start_regs(DA, rng), rng.randbytes(DATA_SIZE), 1)
    res = engine.run(case)
    if res.status == "mismatch" and _page_crossing_fault(res):
        return
    check_case(engine, case, allow_known=True)


def test_page_crossing_fault_wraps_around_the_address_space(engine):
    """stnp w13, w1, [x16, #-0xb8] with x16 = 0xb4 stores at -4 and at 0:
    tcgpy stores (and faults on) the upper half first, Unicorn the lower
    (HYPOTHESIS_PROFILE=dev, seed 4681778153)."""
    case = make_case(b"\x0d\x06\x29\x28", {"x16": 0xB4})   # 100000: stnp w13, w1, [x16, #-0xb8]
    res = engine.run(case)
    assert (res.reference.event.address, res.subject.event.address) == ((1 << 64) - 4, 0)
    assert _page_crossing_fault(res)


def _page_crossing_fault(res) -> bool:
    """Both faulted with the same access at addresses less than 16 bytes apart
    on different pages (apart modulo 2**64: a pair at -4 also stores at 0),
    and only the event and memory differ."""
    a, b = res.reference.event, res.subject.event
    if a.kind != "fault" or b.kind != "fault" or a.address is None or b.address is None:
        return False
    apart = (a.address - b.address) % (1 << 64)
    return (a.access == b.access and min(apart, (1 << 64) - apart) < 16
            and a.address >> 12 != b.address >> 12
            and all(n == "event" or n.startswith("mem@") for n in res.mismatch.names))


@pytest.mark.slow
def test_difftest_campaign(engine):
    for length in (1, 4, 12):
        for i in range(3000):
            case = random_case(LDST_FORMS, i, length)
            res = engine.run(case)
            assert res.status == "pass", (_disasm(case.words), res.mismatch)

