"""RISC-V 64 instructions, hand-written: byte literals annotated with address
and disassembly (riscv64-linux-gnu-objdump -M no-aliases), start registers
and the expected registers.  Each case also runs on Unicorn (with mstatus.FS
on, as Linux has it) to prove the table, except where a case says Unicorn
differs and why (tcgpy/difftest/riscv64/known.py holds the proofs).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import tcgpy

CODE = 0x100000
DATA = 0x200000
M64 = (1 << 64) - 1
INT64_MIN = 1 << 63
BOX = 0xFFFF_FFFF_0000_0000


@dataclass(frozen=True)
class T:
    code: bytes
    regs: dict
    expect: dict
    name: str = ""
    unicorn: bool = True           # also checked on Unicorn
    mem: dict = field(default_factory=dict)   # expected memory: address -> bytes
    n: int = 0                     # instructions run (0: every word of the code once)


def t(*code: bytes, regs=None, expect=None, name="", unicorn=True, mem=None, n=0):
    return T(b"".join(code), dict(regs or {}), dict(expect or {}), name, unicorn, dict(mem or {}), n)


CASES = [
    # -- M: RISC-V's division rules -----------------------------------------------------
    t(b"\x33\xc5\xc5\x02",  # 100000: 02c5c533  div a0,a1,a2
      regs={"a1": 7, "a2": 0}, expect={"a0": M64}, name="div by zero is -1"),
    t(b"\x33\xd5\xc5\x02",  # 100000: 02c5d533  divu a0,a1,a2
      regs={"a1": 7, "a2": 0}, expect={"a0": M64}, name="divu by zero is all ones"),
    t(b"\x33\xe5\xc5\x02",  # 100000: 02c5e533  rem a0,a1,a2
      regs={"a1": -7 & M64, "a2": 0}, expect={"a0": -7 & M64}, name="rem by zero is the dividend"),
    t(b"\x33\xf5\xc5\x02",  # 100000: 02c5f533  remu a0,a1,a2
      regs={"a1": 9, "a2": 0}, expect={"a0": 9}, name="remu by zero is the dividend"),
    t(b"\x33\xc5\xc5\x02",  # 100000: 02c5c533  div a0,a1,a2
      regs={"a1": INT64_MIN, "a2": M64}, expect={"a0": INT64_MIN}, name="div overflow"),
    t(b"\x33\xe5\xc5\x02",  # 100000: 02c5e533  rem a0,a1,a2
      regs={"a1": INT64_MIN, "a2": M64}, expect={"a0": 0}, name="rem overflow is 0"),
    t(b"\x33\xe5\xc5\x02",  # 100000: 02c5e533  rem a0,a1,a2
      regs={"a1": -7 & M64, "a2": 2}, expect={"a0": -1 & M64}, name="rem takes the dividend's sign"),
    t(b"\x3b\xc5\xc5\x02",  # 100000: 02c5c53b  divw a0,a1,a2
      regs={"a1": 0x1234_5678_8000_0000, "a2": 0xFFFF_FFFF}, expect={"a0": 0xFFFF_FFFF_8000_0000},
      name="divw overflow, upper halves ignored"),
    t(b"\x3b\xd5\xc5\x02",  # 100000: 02c5d53b  divuw a0,a1,a2
      regs={"a1": 5, "a2": 0x1_0000_0000}, expect={"a0": M64}, name="divuw by a zero word"),
    t(b"\x3b\xe5\xc5\x02",  # 100000: 02c5e53b  remw a0,a1,a2
      regs={"a1": 0x8000_0000, "a2": M64}, expect={"a0": 0}),
    t(b"\x3b\xf5\xc5\x02",  # 100000: 02c5f53b  remuw a0,a1,a2
      regs={"a1": 0xFFFF_FFFF_9000_0000, "a2": 0}, expect={"a0": 0xFFFF_FFFF_9000_0000},
      name="remuw by zero: the dividend word, sign-extended"),
    t(b"\x33\xa5\xc5\x02",  # 100000: 02c5a533  mulhsu a0,a1,a2
      regs={"a1": M64, "a2": M64}, expect={"a0": M64}, name="mulhsu -1 * (2**64-1)"),
    t(b"\x33\x95\xc5\x02",  # 100000: 02c59533  mulh a0,a1,a2
      regs={"a1": INT64_MIN, "a2": INT64_MIN}, expect={"a0": 1 << 62}),
    # -- RV64I word shifts, upper immediates, jumps -----------------------------------
    t(b"\x3b\x95\xc5\x00",  # 100000: 00c5953b  sllw a0,a1,a2
      regs={"a1": 1, "a2": 63}, expect={"a0": 0xFFFF_FFFF_8000_0000}, name="sllw uses 5 bits"),
    t(b"\x3b\xd5\xc5\x40",  # 100000: 40c5d53b  sraw a0,a1,a2
      regs={"a1": 0x8000_0000, "a2": 4}, expect={"a0": 0xFFFF_FFFF_F800_0000}),
    t(b"\x3b\xd5\xc5\x00",  # 100000: 00c5d53b  srlw a0,a1,a2
      regs={"a1": 0xFFFF_FFFF_8000_0000, "a2": 4}, expect={"a0": 0x0800_0000}),
    t(b"\x37\x05\x00\x80",  # 100000: 80000537  lui a0,0x80000
      expect={"a0": 0xFFFF_FFFF_8000_0000}),
    t(b"\x17\xf5\xff\xff",  # 100000: fffff517  auipc a0,0xfffff
      expect={"a0": CODE - 0x1000}),
    t(b"\xef\x00\x80\x00",  # 100000: 008000ef  jal ra,100008
      b"\x13\x00\x00\x00",  # 100004: 00000013  addi zero,zero,0
      expect={"ra": CODE + 4, "pc": CODE + 8}, n=1),
    t(b"\x67\x05\x35\x00",  # 100000: 00350567  jalr a0,3(a0)
      regs={"a0": CODE + 5}, expect={"a0": CODE + 4, "pc": CODE + 8},
      name="jalr clears bit 0; rd == rs1 reads the old value"),
    t(b"\x03\xb5\x15\x00",  # 100000: 0015b503  ld a0,1(a1)
      regs={"a1": DATA}, expect={"a0": 0x0908_0706_0504_0302}, name="misaligned load works"),
    # -- A -----------------------------------------------------------------------------
    t(b"\x2f\xb5\x05\x10",  # 100000: 1005b52f  lr.d a0,(a1)
      b"\x2f\xb6\xd5\x18",  # 100004: 18d5b62f  sc.d a2,a3,(a1)
      regs={"a1": DATA + 8, "a3": 0x55}, expect={"a0": 0x100F_0E0D_0C0B_0A09, "a2": 0},
      mem={DATA + 8: (0x55).to_bytes(8, "little")}, name="lr/sc succeeds"),
    t(b"\x2f\xa6\xd5\x18",  # 100000: 18d5a62f  sc.w a2,a3,(a1)
      regs={"a1": DATA + 8, "a3": 0x55}, expect={"a2": 1},
      mem={DATA + 8: bytes(range(9, 13))}, name="sc without reservation fails, no store"),
    t(b"\x2f\xa5\xc5\x00",  # 100000: 00c5a52f  amoadd.w a0,a2,(a1)
      regs={"a1": DATA, "a2": 0x7FFF_FFFF}, expect={"a0": 0x0403_0201},
      mem={DATA: (0x0403_0201 + 0x7FFF_FFFF).to_bytes(4, "little")}),
    t(b"\x2f\xa5\xc5\xe0",  # 100000: e0c5a52f  amomaxu.w a0,a2,(a1)
      regs={"a1": DATA + 0x80, "a2": 0xFFFF_FFFF_0000_0001}, expect={"a0": 0xFFFF_FFFF_8483_8281},
      mem={DATA + 0x80: bytes([0x81, 0x82, 0x83, 0x84])}, name="amomaxu.w compares words unsigned"),
    t(b"\x2f\xb5\xc5\x80",  # 100000: 80c5b52f  amomin.d a0,a2,(a1)
      regs={"a1": DATA, "a2": M64}, expect={"a0": 0x0807_0605_0403_0201},
      mem={DATA: M64.to_bytes(8, "little")}),
    # -- Zicsr on fcsr --------------------------------------------------------------------
    t(b"\x73\x95\x35\x00",  # 100000: 00359573  csrrw a0,fcsr,a1
      regs={"a1": 0x1FF, "fcsr": 0x21}, expect={"a0": 0x21, "fcsr": 0xFF, "frm": 7, "fflags": 0x1F}),
    t(b"\x73\xe5\x12\x00",  # 100000: 0012e573  csrrsi a0,fflags,5
      regs={"fcsr": 0x42}, expect={"a0": 2, "fflags": 7, "frm": 2}),
    t(b"\x73\x25\x20\x00",  # 100000: 00202573  csrrs a0,frm,zero
      regs={"fcsr": 0x83}, expect={"a0": 4}),
    # -- F/D moves and NaN-boxing (Unicorn's QEMU 5.0 does not box: known.py) -------------
    t(b"\x07\xa5\x05\x00",  # 100000: 0005a507  flw fa0,0(a1)
      regs={"a1": DATA}, expect={"fa0": BOX | 0x0403_0201}),
    t(b"\xd3\x05\xc5\x20",  # 100000: 20c505d3  fsgnj.s fa1,fa0,fa2
      regs={"fa0": 0x3F80_0000, "fa2": BOX | 0x8000_0000}, expect={"fa1": BOX | 0xFFC0_0000},
      unicorn=False, name="an unboxed operand is the canonical NaN"),
    t(b"\xd3\x15\xc5\x22",  # 100000: 22c515d3  fsgnjn.d fa1,fa0,fa2
      regs={"fa0": 0x3FF0_0000_0000_0000, "fa2": 0}, expect={"fa1": 0xBFF0_0000_0000_0000}),
    t(b"\x53\x05\x05\xe0",  # 100000: e0050553  fmv.x.w a0,fa0
      regs={"fa0": 0x1234_5678_8000_0001}, expect={"a0": 0xFFFF_FFFF_8000_0001}),
    t(b"\x53\x05\x05\xf0",  # 100000: f0050553  fmv.w.x fa0,a0
      regs={"a0": 0x1234_5678_0000_0001}, expect={"fa0": BOX | 1}, unicorn=False),
    # -- C: each expands to its 32-bit meaning, with 2-byte lengths -----------------------
    t(b"\x08\x08",          # 100000: 0808  c.addi4spn a0,sp,16
      regs={"sp": DATA}, expect={"a0": DATA + 16, "pc": CODE + 2}),
    t(b"\x88\x65",          # 100000: 6588  c.ld a0,8(a1)
      regs={"a1": DATA}, expect={"a0": 0x100F_0E0D_0C0B_0A09}),
    t(b"\xc8\x41",          # 100000: 41c8  c.lw a0,4(a1)
      regs={"a1": DATA + 0x7C}, expect={"a0": 0xFFFF_FFFF_8483_8281}),
    t(b"\x88\xe5",          # 100000: e588  c.sd a0,8(a1)
      regs={"a0": 0x1122, "a1": DATA}, mem={DATA + 8: (0x1122).to_bytes(8, "little")}),
    t(b"\x7d\x35",          # 100000: 357d  c.addiw a0,-1
      regs={"a0": 0x1_0000_0000}, expect={"a0": M64}),
    t(b"\x01\x75",          # 100000: 7501  c.lui a0,0xfffe0
      expect={"a0": 0xFFFF_FFFF_FFFE_0000}),
    t(b"\x39\x71",          # 100000: 7139  c.addi16sp sp,-64
      regs={"sp": DATA + 0x100}, expect={"sp": DATA + 0xC0}),
    t(b"\x7d\x95",          # 100000: 957d  c.srai a0,0x3f
      regs={"a0": INT64_MIN}, expect={"a0": M64}),
    t(b"\x0d\x9d",          # 100000: 9d0d  c.subw a0,a1
      regs={"a0": 0, "a1": 1}, expect={"a0": M64}),
    t(b"\x19\xa0",          # 100000: a019  c.j 100006
      b"\x01\x00\x01\x00",  # 100002: 0001 0001  c.nop; c.nop
      expect={"pc": CODE + 6}, n=1),
    t(b"\x7d\xdd",          # 100000: dd7d  c.beqz a0,ffffe
      regs={"a0": 1}, expect={"pc": CODE + 2}, name="c.beqz not taken: next pc is +2"),
    t(b"\x82\x95",          # 100000: 9582  c.jalr a1
      regs={"a1": CODE + 0x41}, expect={"ra": CODE + 2, "pc": CODE + 0x40}),
    t(b"\x2e\x85",          # 100000: 852e  c.mv a0,a1
      regs={"a1": 77}, expect={"a0": 77}),
    t(b"\x62\x65",          # 100000: 6562  c.ldsp a0,24(sp)
      regs={"sp": DATA}, expect={"a0": 0x201F_1E1D_1C1B_1A19}),
]


def _data() -> bytes:
    return bytes((i + 1) & 0xFF for i in range(0x1000))


def _stop(case: T) -> int:
    return CODE + len(case.code)


def _count(case: T) -> int:
    from tcgpy.targets import lookup
    return case.n or len(lookup("riscv64").words(case.code))


def _run_tcgpy(case: T):
    emu = tcgpy.Emulator("riscv64")
    emu.mem_map(CODE, 0x1000, perms="rx")
    emu.mem_write(CODE, case.code)
    emu.mem_map(DATA, 0x1000, perms="rw")
    emu.mem_write(DATA, _data())
    for k, v in case.regs.items():
        emu.reg_write(k, v & M64)
    # the jumps leave the code: stop after one pass over it
    emu.run(CODE, until=_stop(case), count=_count(case))
    return emu.reg_read, lambda a, n: bytes(emu.mem_read(a, n))


def _run_unicorn(case: T):
    import unicorn
    from unicorn import riscv_const as rc
    uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV64)
    uc.reg_write(rc.UC_RISCV_REG_MSTATUS, 0x6000)
    uc.mem_map(CODE, 0x1000)
    uc.mem_write(CODE, case.code)
    uc.mem_map(DATA, 0x1000)
    uc.mem_write(DATA, _data())
    for k, v in case.regs.items():
        uc.reg_write(getattr(rc, "UC_RISCV_REG_" + k.upper()), v & M64)
    uc.emu_start(CODE, _stop(case), count=_count(case))
    return (lambda n: uc.reg_read(getattr(rc, "UC_RISCV_REG_" + n.upper()))), \
        (lambda a, n: bytes(uc.mem_read(a, n)))


def _check(case: T, read, mem):
    for k, v in case.expect.items():
        assert read(k) == v & M64, f"{case.name or case.code.hex()}: {k} = {read(k):#x}, expected {v:#x}"
    for a, b in case.mem.items():
        assert mem(a, len(b)) == b, f"{case.name or case.code.hex()}: memory at {a:#x}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name or c.code.hex())
def test_rv64_case(case):
    _check(case, *_run_tcgpy(case))


@pytest.mark.parametrize("case", [c for c in CASES if c.unicorn], ids=lambda c: c.name or c.code.hex())
def test_rv64_case_on_unicorn(case):
    """The table itself is right: Unicorn agrees."""
    _check(case, *_run_unicorn(case))


def _emu(code: bytes):
    emu = tcgpy.Emulator("riscv64")
    emu.mem_map(CODE, 0x1000, perms="rx")
    emu.mem_write(CODE, code)
    emu.mem_map(DATA, 0x1000, perms="rw")
    return emu


@pytest.mark.parametrize("code, name", [
    (b"\x00\x00", "c.unimp (all zero)"),
    (b"\x00\x80", "quadrant 0 funct3 100 (reserved)"),
    (b"\x41\x9c", "100 1 11 x 10 x 01 (reserved beside c.subw/c.addw)"),
    (b"\x01\x65", "c.lui a0, 0 (reserved)"),
    (b"\x02\x80", "c.jr zero (reserved)"),
    (b"\x73\x25\x00\xc0", "csrr a0, cycle (Linux refuses it)"),
    (b"\x53\x55\xb5\x00", "fadd.s with the reserved rounding mode 5"),
    (b"\x53\x05\xb5\x04", "fadd.h (Zfh not implemented)"),
])
def test_illegal(code, name):
    emu = _emu(code)
    with pytest.raises(tcgpy.IllegalInstruction) as e:
        emu.run(CODE, count=1)
    assert e.value.pc == CODE


def test_ebreak_and_c_ebreak_trap():
    for code in (b"\x73\x00\x10\x00", b"\x02\x90"):   # ebreak; c.ebreak
        emu = _emu(code)
        with pytest.raises(tcgpy.GuestTrap) as e:
            emu.run(CODE, count=1)
        assert e.value.pc == CODE


def test_misaligned_amo_faults():
    emu = _emu(b"\x2f\xa5\xc5\x00")      # 100000: 00c5a52f  amoadd.w a0,a2,(a1)
    emu.reg_write("a1", DATA + 2)
    with pytest.raises(tcgpy.AlignmentFault) as e:
        emu.run(CODE, count=1)
    assert e.value.pc == CODE and e.value.address == DATA + 2


def test_fault_pc_after_compressed_is_exact():
    emu = _emu(b"\x05\x05"                 # 100000: 0505  c.addi a0,1
               b"\x88\x65")               # 100002: 6588  c.ld a0,8(a1)   (a1 unmapped)
    emu.reg_write("a1", 0x10)
    with pytest.raises(tcgpy.MemoryFault) as e:
        emu.run(CODE, count=2)
    assert e.value.pc == CODE + 2 and e.value.address == 0x18
    assert emu.reg_read("a0") == 1


def test_x0_and_abi_names():
    emu = _emu(b"\x13\x05\x10\x00")      # 100000: 00100513  addi a0,zero,1
    emu.reg_write("x0", 5)
    emu.reg_write("zero", 5)
    emu.run(CODE, count=1)
    assert emu.reg_read("x0") == 0 and emu.reg_read("zero") == 0
    assert emu.reg_read("x10") == emu.reg_read("a0") == 1
    emu.reg_write("s0", 3)
    assert emu.reg_read("fp") == emu.reg_read("x8") == 3
    emu.reg_write("ft0", 9)
    assert emu.reg_read("f0") == 9


def test_instruction_count_is_exact_with_compressed_code():
    # five c.addi a0,1 then ebreak: count stops after exactly three
    emu = _emu(b"\x05\x05" * 5 + b"\x73\x00\x10\x00")
    emu.run(CODE, count=3)
    assert emu.reg_read("a0") == 3 and emu.reg_read("pc") == CODE + 6


def test_instruction_straddling_a_page_end():
    # a 4-byte addi whose second half lies on the next page, which is not executable
    emu = tcgpy.Emulator("riscv64")
    emu.mem_map(CODE, 0x1000, perms="rx")
    emu.mem_map(CODE + 0x1000, 0x1000, perms="r")
    emu.mem_write(CODE + 0xFFE, b"\x13\x05")
    emu.mem_write(CODE + 0x1000, b"\x10\x00")    # 00100513  addi a0,zero,1
    with pytest.raises(tcgpy.MemoryFault):
        emu.run(CODE + 0xFFE, count=1)
    emu.mem_protect(CODE + 0x1000, 0x1000, perms="rx")
    emu.run(CODE + 0xFFE, count=1)
    assert emu.reg_read("a0") == 1 and emu.reg_read("pc") == CODE + 0x1002


def test_self_modifying_code_after_fence_i():
    # sw a1,6(a0): overwrite the c.addi that follows the fence.i with c.addi a0,2... as a
    # 4-byte store over "fence.i; c.li a2,1"; the new code must run
    emu = tcgpy.Emulator("riscv64")
    emu.mem_map(CODE, 0x1000, perms="rwx")
    emu.mem_write(CODE, b"\x23\x23\xb5\x00"    # 100000: 00b52323  sw a1,6(a0)
                        b"\x0f\x10\x00\x00"    # 100004: 0000100f  fence.i
                        b"\x05\x46"            # 100008: 4605  c.li a2,1
                        b"\x01\x00")           # 10000a: 0001  c.nop
    emu.reg_write("a0", CODE + 2)
    emu.reg_write("a1", 0x0001_4609)           # c.li a2,2 ; c.nop
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("a2") == 2


def test_dynamic_rounding_mode_reserved_frm_is_illegal():
    emu = _emu(b"\x53\x75\xb5\x00")      # 100000: 00b57553  fadd.s fa0,fa0,fa1 (rm dyn)
    emu.reg_write("frm", 5)
    with pytest.raises(tcgpy.IllegalInstruction):
        emu.run(CODE, count=1)
    emu.reg_write("frm", 0)
    emu.reg_write("fa0", BOX | 0x3F80_0000)     # 1.0f
    emu.reg_write("fa1", BOX | 0x3380_0000)     # 2**-24: 1 + 2**-24 rounds to 1 (RNE), inexact
    emu.run(CODE, count=1)
    assert emu.reg_read("fa0") == BOX | 0x3F80_0000 and emu.reg_read("fflags") == 1
    emu.reg_write("frm", 3)                     # RUP: rounds up to 1 + 2**-23
    emu.reg_write("fa0", BOX | 0x3F80_0000)
    emu.run(CODE, count=1)
    assert emu.reg_read("fa0") == BOX | 0x3F80_0001


def test_zero_sums_keep_ieee_signs():
    # fadd.d fa0,fa1,fa2 with rm=rdn: +0 + +0 is +0 even rounding down (x + x
    # keeps x's sign); 1 - 1 is -0 rounding down, +0 otherwise (IEEE 754 6.3)
    for rm, a, b, want in ((2, 0, 0, 0), (2, 1 << 63, 1 << 63, 1 << 63), (2, 0, 1 << 63, 1 << 63),
                           (2, 0x3FF0 << 48, 0xBFF0 << 48, 1 << 63), (0, 0x3FF0 << 48, 0xBFF0 << 48, 0)):
        emu = _emu((0x02C58553 | rm << 12).to_bytes(4, "little"))    # fadd.d fa0,fa1,fa2,<rm>
        emu.reg_write("fa1", a)
        emu.reg_write("fa2", b)
        emu.run(CODE, count=1)
        assert emu.reg_read("fa0") == want, (rm, hex(a), hex(b))


# Zbb/Zba (objdump -M no-aliases, -march=rv64gc_zba_zbb_zbs); Unicorn has none of them
@pytest.mark.parametrize("word, a0, a1, want", [
    (0x6015151B, 1 << 63, 0, 32),                  # 6015151b  ctzw a0,a0: the low word is zero
    (0x6005151B, 0x8000, 0, 16),                   # 6005151b  clzw a0,a0
    (0x60251513, M64, 0, 64),                      # 60251513  cpop a0,a0
    (0x2875D513, 0, 0x0100_0000_0000_0011, 0xFF00_0000_0000_00FF),   # 2875d513  orc.b a0,a1
    (0x6B85D513, 0, 0x0102_0304_0506_0708, 0x0807_0605_0403_0201),   # 6b85d513  rev8 a0,a1
    (0x08B5053B, 0xFFFF_FFFF_0000_0002, 3, 5),     # 08b5053b  add.uw a0,a0,a1
    (0x20B54533, 1, 10, 14),                       # 20b54533  sh2add a0,a0,a1
])
def test_bitmanip(word, a0, a1, want):
    emu = _emu(word.to_bytes(4, "little"))
    emu.reg_write("a0", a0)
    emu.reg_write("a1", a1)
    emu.run(CODE, count=1)
    assert emu.reg_read("a0") == want


def test_ecall_drops_the_reservation():
    emu = _emu(b"\x2f\xb5\x05\x10"     # 100000: 1005b52f  lr.d a0,(a1)
               b"\x73\x00\x00\x00"     # 100004: 00000073  ecall
               b"\x2f\xb6\xd5\x18")    # 100008: 18d5b62f  sc.d a2,a3,(a1)
    emu.on_syscall = lambda e: None
    emu.reg_write("a1", DATA)
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("a2") == 1
