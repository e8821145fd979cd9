"""A64 integer data processing: hand-written cases, unallocated encodings, and
a difftest of every data-processing form class against Unicorn.

Hand-written cases hold one instruction (or a short sequence) as byte literals
annotated with address and disassembly (GNU as/objdump), the start registers
and the expected registers.  Each case runs on tcgpy and, to prove the table
itself, on Unicorn.
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
from tcgpy.difftest.aarch64.forms_dp import DP_CLASSES
from tcgpy.difftest.forms import CODE_BASE, Pos, classes

CODE = CODE_BASE              # the hand cases are annotated at this address too
M64 = (1 << 64) - 1
N, Z, C, V = 8, 4, 2, 1          # NZCV bits, as a 4-bit value


def _disasm(words) -> list[str]:
    from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs
    cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    out = []
    for k, w in enumerate(words):
        pc = CODE + 4 * k
        insn = next(cs.disasm(w.to_bytes(4, "little"), pc), None)
        out.append(f"{pc:x}: {w:08x} " + (f"{insn.mnemonic} {insn.op_str}" if insn else "(undefined)"))
    return out


@dataclass(frozen=True)
class T:
    code: bytes
    regs: dict                    # start registers (others are 0); "flags" is NZCV as 4 bits
    expect: dict                  # registers after the run; "flags" as 4 bits
    name: str = field(default="")


def t(*code: bytes, regs=None, expect=None, name=""):
    return T(b"".join(code), dict(regs or {}), dict(expect or {}), name)


CASES = [
    # -- add/sub (immediate, shifted, extended), adc/sbc ---------------------------------
    t(b"\x20\xfc\x7f\x91",  # 100000: add x0, x1, #0xfff, lsl #12
      regs={"x1": 1}, expect={"x0": 0xFFF001}),
    t(b"\xff\x43\x00\x91",  # 100000: add sp, sp, #0x10
      regs={"sp": 0x1000}, expect={"sp": 0x1010}),
    t(b"\x20\x00\x02\x2b",  # 100000: adds w0, w1, w2
      regs={"x0": M64, "x1": 0xFFFF_FFFF_7FFF_FFFF, "x2": 1},
      expect={"x0": 0x8000_0000, "flags": N | V}, name="adds w signed overflow"),
    t(b"\x3f\x00\x02\xeb",  # 100000: cmp x1, x2
      regs={"x1": 1, "x2": 2, "sp": 0x5000, "flags": Z | C},
      expect={"flags": N, "sp": 0x5000}, name="cmp borrow, xzr not sp"),
    t(b"\x3f\x04\x00\x71",  # 100000: cmp w1, #0x1
      regs={"x1": 1 << 32}, expect={"flags": N}, name="cmp w ignores upper half"),
    t(b"\xe0\x4b\x21\x8b",  # 100000: add x0, sp, w1, uxtw #2
      regs={"sp": 0x10000, "x1": 0xFFFF_FFFF_0000_0003}, expect={"x0": 0x1000C}),
    t(b"\x20\x84\x22\xcb",  # 100000: sub x0, x1, w2, sxtb #1
      regs={"x1": 100, "x2": 0x80}, expect={"x0": 356}),
    t(b"\xe0\xf3\x21\xab",  # 100000: adds x0, sp, x1, sxtx #4
      regs={"x0": 5, "sp": 0x10, "x1": M64}, expect={"x0": 0, "flags": Z | C}),
    t(b"\xe0\x0f\x01\x4b",  # 100000: neg w0, w1, lsl #3
      regs={"x1": 1}, expect={"x0": 0xFFFF_FFF8}),
    t(b"\x20\x00\x02\x9a",  # 100000: adc x0, x1, x2
      regs={"x1": M64, "flags": C}, expect={"x0": 0, "flags": C}, name="adc keeps flags"),
    t(b"\x20\x00\x02\x7a",  # 100000: sbcs w0, w1, w2
      regs={"x0": M64}, expect={"x0": 0xFFFF_FFFF, "flags": N}, name="sbcs borrow in"),
    t(b"\xe0\x03\x01\xfa",  # 100000: ngcs x0, x1
      regs={"x0": 9, "flags": C}, expect={"x0": 0, "flags": Z | C}),
    t(b"\x00\x00\x02\xab",  # 100000: adds x0, x0, x2
      b"\x21\x00\x03\x9a",  # 100004: adc x1, x1, x3
      regs={"x0": M64, "x2": 1}, expect={"x0": 0, "x1": 1, "flags": Z | C}, name="128-bit add"),
    # -- logical -----------------------------------------------------------------------------
    t(b"\x20\x9c\x08\x92",  # 100000: and x0, x1, #0xff00ff00ff00ff00
      regs={"x1": 0x1234_5678_9ABC_DEF0}, expect={"x0": 0x1200_5600_9A00_DE00}),
    t(b"\xe0\xf3\x00\x32",  # 100000: mov w0, #0x55555555 (orr w0, wzr, #0x55555555)
      regs={"x0": M64}, expect={"x0": 0x5555_5555}),
    t(b"\xff\x03\x70\xb2",  # 100000: mov sp, #0x10000 (orr sp, xzr, #0x10000)
      regs={"sp": 8}, expect={"sp": 0x10000}),
    t(b"\x20\x00\x41\xf2",  # 100000: ands x0, x1, #0x8000000000000000
      regs={"x1": M64, "flags": C | V}, expect={"x0": 1 << 63, "flags": N}),
    t(b"\x20\x20\xe2\x8a",  # 100000: bic x0, x1, x2, ror #8
      regs={"x1": M64, "x2": 0xFF}, expect={"x0": 0x00FF_FFFF_FFFF_FFFF}),
    t(b"\x20\x7c\xa2\x4a",  # 100000: eon w0, w1, w2, asr #31
      regs={"x1": 0x1234_5678, "x2": 0x8000_0000}, expect={"x0": 0x1234_5678}),
    t(b"\xe0\xff\x61\xaa",  # 100000: orn x0, xzr, x1, lsr #63
      regs={"x1": 1 << 63}, expect={"x0": M64 - 1}),
    t(b"\x20\x00\x22\x6a",  # 100000: bics w0, w1, w2
      regs={"x0": 3, "x1": 0xF0, "x2": 0xFF, "flags": N | C | V}, expect={"x0": 0, "flags": Z}),
    # -- move wide, pc-relative --------------------------------------------------------------
    t(b"\x80\x46\xe2\xd2",  # 100000: mov x0, #0x1234000000000000 (movz x0, #0x1234, lsl #48)
      expect={"x0": 0x1234 << 48}),
    t(b"\x80\x46\xa2\x12",  # 100000: mov w0, #0xedcbffff (movn w0, #0x1234, lsl #16)
      regs={"x0": M64}, expect={"x0": 0xEDCB_FFFF}),
    t(b"\xe0\xdd\xb7\xf2",  # 100000: movk x0, #0xbeef, lsl #16
      regs={"x0": 0x1111_2222_3333_4444}, expect={"x0": 0x1111_2222_BEEF_4444}),
    t(b"\xe0\xdd\x97\x72",  # 100000: movk w0, #0xbeef
      regs={"x0": 0x1111_2222_3333_4444}, expect={"x0": 0x3333_BEEF}),
    t(b"\x00\x00\x00\x10",  # 100000: adr x0, 100000
      expect={"x0": CODE}),
    t(b"\x1f\x20\x03\xd5",  # 100000: nop
      b"\xe0\xff\xff\xf0",  # 100004: adrp x0, 0xff000
      b"\xe1\xff\xff\x10",  # 100008: adr x1, 100004
      expect={"x0": 0xFF000, "x1": 0x100004}, name="adrp/adr backwards"),
    # -- bitfield, extract -------------------------------------------------------------------
    t(b"\x20\x2c\x44\x93",  # 100000: sbfx x0, x1, #4, #8
      regs={"x1": 0xF80}, expect={"x0": M64 - 7}),
    t(b"\x20\x0c\x04\x53",  # 100000: lsl w0, w1, #28 (ubfiz w0, w1, #28, #4)
      regs={"x1": 0xFFFF_FFFF_0000_001F}, expect={"x0": 0xF000_0000}),
    t(b"\x20\x3c\x78\xb3",  # 100000: bfi x0, x1, #8, #16
      regs={"x0": M64, "x1": 0x1234}, expect={"x0": 0xFFFF_FFFF_FF12_34FF}),
    t(b"\x20\x7c\x1c\x33",  # 100000: bfxil w0, w1, #28, #4
      regs={"x0": M64, "x1": 0xA000_0000}, expect={"x0": 0xFFFF_FFFA}),
    t(b"\x20\x1c\x48\x93",  # 100000: sbfiz x0, x1, #56, #8
      regs={"x1": 0x80}, expect={"x0": 1 << 63}),
    t(b"\x20\x7c\x1f\x13",  # 100000: asr w0, w1, #31
      regs={"x1": 0x8000_0000}, expect={"x0": 0xFFFF_FFFF}),
    t(b"\x20\x00\x41\xd3",  # 100000: lsl x0, x1, #63
      regs={"x1": 3}, expect={"x0": 1 << 63}),
    t(b"\x20\x7c\x40\x93",  # 100000: sxtw x0, w1
      regs={"x1": 0x8000_0000}, expect={"x0": 0xFFFF_FFFF_8000_0000}),
    t(b"\x20\x3c\x00\x53",  # 100000: uxth w0, w1
      regs={"x1": 0xFFFF_FFFF_FFFF_8123}, expect={"x0": 0x8123}),
    t(b"\x20\x10\xc1\x93",  # 100000: ror x0, x1, #4
      regs={"x1": 0x1234_5678_9ABC_DEF1}, expect={"x0": 0x1123_4567_89AB_CDEF}),
    t(b"\x20\x20\x82\x13",  # 100000: extr w0, w1, w2, #8
      regs={"x1": 0x1122_3344, "x2": 0x5566_7788}, expect={"x0": 0x4455_6677}),
    # -- shifts by register --------------------------------------------------------------------
    t(b"\x20\x24\xc2\x1a",  # 100000: lsr w0, w1, w2
      regs={"x1": 0x8000_0000, "x2": 33}, expect={"x0": 0x4000_0000}, name="lsrv w mod 32"),
    t(b"\x20\x28\xc2\x9a",  # 100000: asr x0, x1, x2
      regs={"x1": 1 << 63, "x2": 127}, expect={"x0": M64}, name="asrv x mod 64"),
    t(b"\x20\x2c\xc2\x1a",  # 100000: ror w0, w1, w2
      regs={"x1": 0x1234_5678, "x2": 36}, expect={"x0": 0x8123_4567}),
    t(b"\x20\x20\xc2\x9a",  # 100000: lsl x0, x1, x2
      regs={"x1": 1, "x2": 64}, expect={"x0": 1}),
    # -- conditional select and compare ----------------------------------------------------
    t(b"\x20\x00\x82\x9a",  # 100000: csel x0, x1, x2, eq
      regs={"x1": 1, "x2": 2, "flags": Z}, expect={"x0": 1}),
    t(b"\x20\x14\x82\x1a",  # 100000: csinc w0, w1, w2, ne
      regs={"x1": 1, "x2": 0xFFFF_FFFF, "flags": Z}, expect={"x0": 0}),
    t(b"\x20\xa0\x82\xda",  # 100000: csinv x0, x1, x2, ge
      regs={"x1": 1, "flags": N}, expect={"x0": M64}),
    t(b"\x20\x84\x82\xda",  # 100000: csneg x0, x1, x2, hi
      regs={"x1": 7, "x2": 5, "flags": C | Z}, expect={"x0": M64 - 4}),
    t(b"\xe0\xf7\x9f\x9a",  # 100000: csinc x0, xzr, xzr, nv
      regs={"x0": 9}, expect={"x0": 0}, name="nv is always"),
    t(b"\x2a\x00\x42\xfa",  # 100000: ccmp x1, x2, #0xa, eq
      regs={"x1": 5, "x2": 5}, expect={"flags": N | C}, name="ccmp false: flags from nzcv"),
    t(b"\x2a\x00\x42\xfa",  # 100000: ccmp x1, x2, #0xa, eq
      regs={"x1": 5, "x2": 5, "flags": Z}, expect={"flags": Z | C}, name="ccmp true: compare"),
    t(b"\x26\xb8\x45\x3a",  # 100000: ccmn w1, #0x5, #0x6, lt
      regs={"x1": 0x7FFF_FFFB, "flags": N}, expect={"flags": N | V}),
    # -- multiply and divide -----------------------------------------------------------------
    t(b"\x20\x0c\x02\x9b",  # 100000: madd x0, x1, x2, x3
      regs={"x1": 3, "x2": 5, "x3": 100}, expect={"x0": 115}),
    t(b"\x20\x8c\x02\x1b",  # 100000: msub w0, w1, w2, w3
      regs={"x1": 2, "x2": 3, "x3": 1}, expect={"x0": 0xFFFF_FFFB}),
    t(b"\x20\x0c\x22\x9b",  # 100000: smaddl x0, w1, w2, x3
      regs={"x1": 0xFFFF_FFFE, "x2": 3, "x3": 10}, expect={"x0": 4}),
    t(b"\x20\x8c\xa2\x9b",  # 100000: umsubl x0, w1, w2, x3
      regs={"x1": 0xFFFF_FFFF, "x2": 0xFFFF_FFFF}, expect={"x0": 0x1_FFFF_FFFF}),
    t(b"\x20\x7c\x42\x9b",  # 100000: smulh x0, x1, x2
      regs={"x1": M64, "x2": 5}, expect={"x0": M64}),
    t(b"\x20\x7c\xc2\x9b",  # 100000: umulh x0, x1, x2
      regs={"x1": M64, "x2": M64}, expect={"x0": M64 - 1}),
    t(b"\x20\x08\xc2\x9a",  # 100000: udiv x0, x1, x2
      regs={"x0": 1, "x1": 7}, expect={"x0": 0}, name="udiv by zero"),
    t(b"\x20\x0c\xc2\x9a",  # 100000: sdiv x0, x1, x2
      regs={"x1": 1 << 63, "x2": M64}, expect={"x0": 1 << 63}, name="sdiv INT64_MIN/-1"),
    t(b"\x20\x0c\xc2\x9a",  # 100000: sdiv x0, x1, x2
      regs={"x1": M64 - 6, "x2": 2}, expect={"x0": M64 - 2}, name="sdiv rounds toward zero"),
    t(b"\x20\x0c\xc2\x1a",  # 100000: sdiv w0, w1, w2
      regs={"x1": 0x8000_0000, "x2": 0xFFFF_FFFF}, expect={"x0": 0x8000_0000}, name="sdiv INT32_MIN/-1"),
    t(b"\x20\x08\xc2\x1a",  # 100000: udiv w0, w1, w2
      regs={"x1": 0x1_FFFF_FFFF, "x2": 2}, expect={"x0": 0x7FFF_FFFF}),
    # -- one-source ------------------------------------------------------------------------------
    t(b"\x20\x10\xc0\x5a",  # 100000: clz w0, w1
      regs={"x1": 1 << 32}, expect={"x0": 32}),
    t(b"\x20\x14\xc0\xda",  # 100000: cls x0, x1
      regs={"x1": M64}, expect={"x0": 63}),
    t(b"\x20\x14\xc0\x5a",  # 100000: cls w0, w1
      regs={"x1": 0x00FF_FFFF}, expect={"x0": 7}),
    t(b"\x20\x00\xc0\x5a",  # 100000: rbit w0, w1
      regs={"x1": 0x1_0000_0001}, expect={"x0": 0x8000_0000}),
    t(b"\x20\x04\xc0\xda",  # 100000: rev16 x0, x1
      regs={"x1": 0x0102_0304_0506_0708}, expect={"x0": 0x0201_0403_0605_0807}),
    t(b"\x20\x08\xc0\xda",  # 100000: rev32 x0, x1
      regs={"x1": 0x0102_0304_0506_0708}, expect={"x0": 0x0403_0201_0807_0605}),
    t(b"\x20\x08\xc0\x5a",  # 100000: rev w0, w1
      regs={"x1": 0xAAAA_AAAA_0102_0304}, expect={"x0": 0x0403_0201}),
    t(b"\x20\x0c\xc0\xda",  # 100000: rev x0, x1
      regs={"x1": 0x0102_0304_0506_0708}, expect={"x0": 0x0807_0605_0403_0201}),
]

# Unallocated encodings inside the data-processing groups: IllegalInstruction.
UNALLOCATED = [
    (0x12400020, "logical imm: sf=0 with N=1"),
    (0x9200FC20, "logical imm: N=0 imms=111111 (no element size)"),
    (0x9240FC20, "logical imm: all-ones 64-bit element"),
    (0x1200F420, "logical imm: all-ones 2-bit element"),
    (0x52C00000, "movz w: hw=2"),
    (0xB2800000, "move wide: opc=01"),
    (0x8BC00000, "add shifted: shift=11"),
    (0x0B028020, "add w shifted: imm6=32"),
    (0x8B600000, "add extended: opt=01"),
    (0x8B201400, "add extended: imm3=5"),
    (0x0A028020, "and w shifted: imm6=32"),
    (0x93000000, "sbfm: sf=1 N=0"),
    (0x13200000, "sbfm w: immr=32"),
    (0x13008000, "sbfm w: imms=32"),
    (0xF3400000, "bitfield: opc=11"),
    (0x13808000, "extr w: imms=32"),
    (0x93800000, "extr: sf=1 N=0"),
    (0xB3C00000, "extr: op21=01"),
    (0x5AC00C00, "rev w: opc=11"),
    (0xDA400000, "ccmp: S=0"),
    (0xFA400400, "ccmp: o2=1"),
    (0xFA400010, "ccmp: o3=1"),
    (0x9A800800, "csel: op2=10"),
    (0xBA800000, "csel: S=1"),
    (0x1B200000, "smaddl: sf=0"),
    (0x9B408000, "smulh: o0=1"),
    (0x9B600000, "dp 3-source: op31=011"),
    (0x9AC00000, "dp 2-source: opcode=000000"),
    (0xDAC20000, "dp 1-source: opcode2=00010"),
    (0x5AC01800, "dp 1-source: opcode=000110 (ctz, FEAT_CSSC)"),
    (0x9A000400, "adc: bits 15:10 != 0"),
    (0x91800000, "add imm: bit 23 set (addg, FEAT_MTE)"),
]


# -- runners ---------------------------------------------------------------------------------

NZCV_SHIFT = 28


@pytest.fixture(scope="module")
def emu():
    e = tcgpy.Emulator("aarch64")
    e.mem_map(CODE, 0x1000, perms="rx")
    return e


def run_tcgpy(emu, code: bytes, regs: dict) -> dict:
    emu.mem_write(CODE, code.ljust(0x1000, b"\0"))
    for i in range(31):
        emu.reg_write(f"x{i}", regs.get(f"x{i}", 0))
    emu.reg_write("sp", regs.get("sp", 0))
    emu.reg_write("nzcv", regs.get("flags", 0) << NZCV_SHIFT)
    emu.run(CODE, until=CODE + len(code), count=len(code) // 4)
    out = {f"x{i}": emu.reg_read(f"x{i}") for i in range(31)}
    out.update(sp=emu.reg_read("sp"), pc=emu.reg_read("pc"), flags=emu.reg_read("nzcv") >> NZCV_SHIFT)
    return out


def run_unicorn(code: bytes, regs: dict) -> dict:
    import unicorn
    from unicorn import arm64_const as A
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.mem_map(CODE, 0x1000)
    uc.mem_write(CODE, code)
    ids = {f"x{i}": getattr(A, f"UC_ARM64_REG_X{i}") for i in range(31)}
    ids.update(sp=A.UC_ARM64_REG_SP, pc=A.UC_ARM64_REG_PC)
    for name, rid in ids.items():
        if name != "pc":
            uc.reg_write(rid, regs.get(name, 0))
    uc.reg_write(A.UC_ARM64_REG_NZCV, regs.get("flags", 0) << NZCV_SHIFT)
    uc.emu_start(CODE, CODE + len(code), count=len(code) // 4)
    out = {name: uc.reg_read(rid) for name, rid in ids.items()}
    out["flags"] = uc.reg_read(A.UC_ARM64_REG_NZCV) >> NZCV_SHIFT
    return out


def expected_state(case: T) -> dict:
    """Every register: the expected value where given, else unchanged."""
    want = {f"x{i}": case.regs.get(f"x{i}", 0) for i in range(31)}
    want.update(sp=case.regs.get("sp", 0), flags=case.regs.get("flags", 0), pc=CODE + len(case.code))
    want.update(case.expect)
    return want


def _case_id(case: T) -> str:
    if case.name:
        return case.name
    words = [int.from_bytes(case.code[i:i + 4], "little") for i in range(0, len(case.code), 4)]
    return "; ".join(line.split(" ", 2)[2] for line in _disasm(words))


def _hexdict(d: dict) -> dict:
    return {k: hex(v) for k, v in d.items()}


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_hand_case(emu, case):
    want = expected_state(case)
    got = run_tcgpy(emu, case.code, case.regs)
    assert _hexdict(got) == _hexdict(want)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_hand_case_table_agrees_with_unicorn(case):
    assert _hexdict(run_unicorn(case.code, case.regs)) == _hexdict(expected_state(case))


@pytest.mark.parametrize("word,why", UNALLOCATED, ids=[w for _, w in UNALLOCATED])
def test_unallocated_is_illegal(emu, word, why):
    regs = {"x0": 0x1234, "flags": Z}
    with pytest.raises(tcgpy.IllegalInstruction) as info:
        run_tcgpy(emu, word.to_bytes(4, "little"), regs)
    assert info.value.pc == CODE and info.value.word == word
    # precise: nothing of the instruction happened
    assert emu.reg_read("x0") == 0x1234 and emu.reg_read("nzcv") == Z << NZCV_SHIFT


# -- difftest against Unicorn ------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    return dt.Engine("aarch64")


DA = dt.diff_arch("aarch64")
DP_FORMS = [classes("aarch64")[n] for n in DP_CLASSES]
GPRS = tuple(f"x{i}" for i in range(31))

reg_value = st.one_of(st.sampled_from(dt.EDGE_VALUES), st.integers(0, 255),
                      st.integers(0, (1 << 32) - 1), st.integers(0, M64))


@st.composite
def start_regs(draw):
    regs = dt.random_start_regs(DA, random.Random(draw(st.integers(0, 2 ** 32 - 1))))
    for name in GPRS:
        regs[name] = draw(reg_value)
    regs["sp"] = draw(reg_value)
    regs["nzcv"] = draw(st.integers(0, 15)) << NZCV_SHIFT
    return regs


def _check(engine, words, regs, names):
    case = dt.Case("aarch64", tuple(words), regs, bytes(dt.DATA_SIZE), len(words), tuple(names))
    res = engine.run(case)
    if res.status == "mismatch":
        pytest.fail(f"{_disasm(words)} from {_hexdict(regs)}: {res.mismatch}")


@pytest.mark.parametrize("form", DP_FORMS, ids=[f.name for f in DP_FORMS])
@given(seed=st.integers(0, 2 ** 64 - 1), regs=start_regs())
def test_difftest_class(engine, form, seed, regs):
    rng = random.Random(seed)
    _check(engine, [form.gen(rng, Pos(0, 1))], regs, [form.name])


@given(seed=st.integers(0, 2 ** 64 - 1), length=st.integers(2, 6), regs=start_regs())
def test_difftest_sequence(engine, seed, length, regs):
    """Mixed sequences: flags set by one instruction feed the next."""
    rng = random.Random(seed)
    forms = [rng.choice(DP_FORMS) for _ in range(length)]
    _check(engine, [f.gen(rng, Pos(i, length)) for i, f in enumerate(forms)], regs,
           [f.name for f in forms])


def _random_dp_word(rng: random.Random) -> int | None:
    """Any word of the data-processing (immediate) or (register) groups,
    allocated or not, minus CRC32 (Unicorn implements it, tcgpy does not
    claim it) and minus writes to the pointer registers."""
    w = rng.getrandbits(32)
    if rng.random() < 0.5:
        w = (w & ~(7 << 26)) | (0b100 << 26)
    else:
        w = (w & ~(7 << 25)) | (0b101 << 25)
    if w & 0x7FE0_E000 == 0x1AC0_4000 or (w & 31) in PTR_REGS:
        return None
    return w


@given(seed=st.integers(0, 2 ** 64 - 1), regs=start_regs())
def test_difftest_any_dp_word(engine, seed, regs):
    """Whole encoding space of the groups: same result, or illegal on both."""
    word = _random_dp_word(random.Random(seed))
    if word is not None:
        _check(engine, [word], regs, ["dp-any"])


CAMPAIGN_CASES = 5000


@pytest.mark.slow
@pytest.mark.parametrize("length", [1, 4])
def test_difftest_campaign(engine, length):
    # Kept to thousands, not tens of thousands, per process: every translation
    # is a JIT module that is never released yet, and around 32k of them LLVM
    # runs out of memory mappings (vm.max_map_count) and aborts the process.
    for i in range(CAMPAIGN_CASES):
        case = dt.campaign_case("aarch64", DP_FORMS, length, i, length)
        res = engine.run(case)
        assert res.status != "mismatch", (_disasm(case.words), case.regs, str(res.mismatch))
