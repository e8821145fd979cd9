"""x86-64 as gdb sees it: the features of an ``i386:x86-64`` target
description with the register names, sizes and types of gdb's own
features/i386/64bit-core.xml, 64bit-sse.xml, 64bit-linux.xml,
64bit-segments.xml and 64bit-avx.xml, in that order (gdb's numbering for
amd64 GNU/Linux).

gdb insists on every register of org.gnu.gdb.i386.core, the x87 ones
included, and wants org.gnu.gdb.i386.sse for x86-64; without
org.gnu.gdb.i386.linux (orig_rax) it leaves out its GNU/Linux support
(signal frames, the syscall restart rule).  Each register is read from the
engine: the x87 state from the vCPU's fxsave image, where gdb's view
differs (the full tag word, the 64-bit instruction and operand pointers
cut in halves) converted here.  (AMD CPUs save those pointers and fop only
while an x87 exception is pending, so there they read 0, as under Linux.)"""
from __future__ import annotations

from ...frontends.arch import GdbFeature, GdbReg, GdbTarget

MASK32 = (1 << 32) - 1
X87_TOP_SHIFT = 11                 # fsw bits 11-13: the register at the top of the stack
FOP_BITS = 11
# The x87 tag of a register (2 bits each in gdb's ftag): what its value is.
TAG_VALID, TAG_ZERO, TAG_SPECIAL, TAG_EMPTY = 0, 1, 2, 3

_CORE_TYPES = """\
<flags id="i386_eflags" size="4">
  <field name="CF" start="0" end="0"/>
  <field name="" start="1" end="1"/>
  <field name="PF" start="2" end="2"/>
  <field name="AF" start="4" end="4"/>
  <field name="ZF" start="6" end="6"/>
  <field name="SF" start="7" end="7"/>
  <field name="TF" start="8" end="8"/>
  <field name="IF" start="9" end="9"/>
  <field name="DF" start="10" end="10"/>
  <field name="OF" start="11" end="11"/>
  <field name="NT" start="14" end="14"/>
  <field name="RF" start="16" end="16"/>
  <field name="VM" start="17" end="17"/>
  <field name="AC" start="18" end="18"/>
  <field name="VIF" start="19" end="19"/>
  <field name="VIP" start="20" end="20"/>
  <field name="ID" start="21" end="21"/>
</flags>
"""

_SSE_TYPES = """\
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128">
  <field name="v4_float" type="v4f"/>
  <field name="v2_double" type="v2d"/>
  <field name="v16_int8" type="v16i8"/>
  <field name="v8_int16" type="v8i16"/>
  <field name="v4_int32" type="v4i32"/>
  <field name="v2_int64" type="v2i64"/>
  <field name="uint128" type="uint128"/>
</union>
<flags id="i386_mxcsr" size="4">
  <field name="IE" start="0" end="0"/>
  <field name="DE" start="1" end="1"/>
  <field name="ZE" start="2" end="2"/>
  <field name="OE" start="3" end="3"/>
  <field name="UE" start="4" end="4"/>
  <field name="PE" start="5" end="5"/>
  <field name="DAZ" start="6" end="6"/>
  <field name="IM" start="7" end="7"/>
  <field name="DM" start="8" end="8"/>
  <field name="ZM" start="9" end="9"/>
  <field name="OM" start="10" end="10"/>
  <field name="UM" start="11" end="11"/>
  <field name="PM" start="12" end="12"/>
  <field name="FZ" start="15" end="15"/>
</flags>
"""

_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", *(f"r{i}" for i in range(8, 16)))
_GPR_TYPES = {"rbp": "data_ptr", "rsp": "data_ptr"}
_SELECTORS = ("cs", "ss", "ds", "es", "fs", "gs")


def _tag(value: int) -> int:
    """The tag of an 80-bit x87 register value (SDM vol. 1, "x87 FPU Tag Word")."""
    exponent, mantissa = value >> 64 & 0x7FFF, value & ((1 << 64) - 1)
    if exponent == 0x7FFF:
        return TAG_SPECIAL                         # infinity, NaN
    if exponent == 0:
        return TAG_ZERO if mantissa == 0 else TAG_SPECIAL     # zero, denormal
    return TAG_VALID if mantissa >> 63 else TAG_SPECIAL       # normal, unnormal


def _ftag_read(emu) -> int:
    """gdb's full tag word from fxsave's abridged one (a bit per physical
    register, set when not empty) and the register values; the fxsave
    image holds st0-st7 in stack order, physical register i is st((i - top) % 8)."""
    abridged = emu.reg_read("ftw")
    top = emu.reg_read("fsw") >> X87_TOP_SHIFT & 7
    tags = 0
    for phys in range(8):
        tag = _tag(emu.reg_read(f"st{(phys - top) & 7}")) if abridged >> phys & 1 else TAG_EMPTY
        tags |= tag << (2 * phys)
    return tags


def _ftag_write(emu, tags: int) -> None:
    emu.reg_write("ftw", sum(1 << phys for phys in range(8) if tags >> (2 * phys) & 3 != TAG_EMPTY))


def _half(source: str, shift: int) -> dict:
    """read/write of one 32-bit half of a 64-bit engine register: gdb's
    fioff/fiseg and fooff/foseg are the halves of the 64-bit fxsave's
    instruction and operand pointers."""
    def read(emu) -> int:
        return emu.reg_read(source) >> shift & MASK32

    def write(emu, value: int) -> None:
        old = emu.reg_read(source) & ~(MASK32 << shift)
        emu.reg_write(source, old | (value & MASK32) << shift)
    return {"read": read, "write": write}


def _fop_write(emu, value: int) -> None:
    emu.reg_write("fop", value & ((1 << FOP_BITS) - 1))


def _ymm_high(i: int) -> dict:
    """read/write of gdb's ymm<i>h, the upper half of ymm<i> (0 on a CPU
    without AVX, whose upper halves do not exist)."""
    def read(emu) -> int:
        try:
            return emu.reg_read(f"ymm{i}") >> 128
        except ValueError:
            return 0

    def write(emu, value: int) -> None:
        low = emu.reg_read(f"xmm{i}")
        emu.reg_write(f"ymm{i}", (value & ((1 << 128) - 1)) << 128 | low)
    return {"read": read, "write": write}


def _orig_rax_read(emu) -> int:
    # The syscall number Linux restarts an interrupted call with; gdb sets
    # it to -1 with the pc so that none is.  The guest never stops for gdb
    # inside a syscall (tcgpy serves each whole), so there never is one.
    return -1


def _orig_rax_write(emu, value: int) -> None:
    pass


GDB = GdbTarget(
    architecture="i386:x86-64",
    features=(
        GdbFeature("org.gnu.gdb.i386.core", (
            *(GdbReg(r, 64, _GPR_TYPES.get(r, "int64")) for r in _GPRS),
            GdbReg("rip", 64, "code_ptr"),
            GdbReg("eflags", 32, "i386_eflags", source="rflags"),
            *(GdbReg(s, 32, "int32") for s in _SELECTORS),
            *(GdbReg(f"st{i}", 80, "i387_ext") for i in range(8)),
            GdbReg("fctrl", 32, source="fcw"),
            GdbReg("fstat", 32, source="fsw"),
            GdbReg("ftag", 32, read=_ftag_read, write=_ftag_write),
            GdbReg("fiseg", 32, **_half("fip", 32)),
            GdbReg("fioff", 32, **_half("fip", 0)),
            GdbReg("foseg", 32, **_half("fdp", 32)),
            GdbReg("fooff", 32, **_half("fdp", 0)),
            GdbReg("fop", 32, write=_fop_write),
        ), _CORE_TYPES),
        GdbFeature("org.gnu.gdb.i386.sse", (
            *(GdbReg(f"xmm{i}", 128, "vec128") for i in range(16)),
            GdbReg("mxcsr", 32, "i386_mxcsr"),
        ), _SSE_TYPES),
        GdbFeature("org.gnu.gdb.i386.linux", (
            GdbReg("orig_rax", 64, read=_orig_rax_read, write=_orig_rax_write),
        )),
        GdbFeature("org.gnu.gdb.i386.segments", (
            GdbReg("fs_base", 64),
            GdbReg("gs_base", 64),
        )),
        # gdb's 64bit-avx.xml: it shows ymm0-ymm15 made of xmm<i> and ymm<i>h
        GdbFeature("org.gnu.gdb.i386.avx", tuple(
            GdbReg(f"ymm{i}h", 128, "uint128", **_ymm_high(i)) for i in range(16))),
    ),
    breakpoint_kinds=frozenset({1}),       # int3, one byte
)
