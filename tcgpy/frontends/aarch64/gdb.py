"""AArch64 as gdb sees it: the org.gnu.gdb.aarch64.core and .fpu features
of a target description, with the types gdb's own aarch64-core.xml and
aarch64-fpu.xml declare (gdb checks the register names of each feature;
the types give ``p $cpsr`` its flags and ``p $v0`` its lanes)."""
from __future__ import annotations

from ..arch import GdbFeature, GdbReg, GdbTarget

_CPSR_TYPES = """\
<flags id="cpsr_flags" size="4">
  <field name="SP" start="0" end="0"/>
  <field name="EL" start="2" end="3"/>
  <field name="nRW" start="4" end="4"/>
  <field name="F" start="6" end="6"/>
  <field name="I" start="7" end="7"/>
  <field name="A" start="8" end="8"/>
  <field name="D" start="9" end="9"/>
  <field name="SS" start="21" end="21"/>
  <field name="PAN" start="22" end="22"/>
  <field name="UAO" start="23" end="23"/>
  <field name="V" start="28" end="28"/>
  <field name="C" start="29" end="29"/>
  <field name="Z" start="30" end="30"/>
  <field name="N" start="31" end="31"/>
</flags>
"""

_VECTOR_TYPES = """\
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v2u" type="uint64" count="2"/>
<vector id="v2i" type="int64" count="2"/>
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v4u" type="uint32" count="4"/>
<vector id="v4i" type="int32" count="4"/>
<vector id="v8f" type="ieee_half" count="8"/>
<vector id="v8u" type="uint16" count="8"/>
<vector id="v8i" type="int16" count="8"/>
<vector id="v16u" type="uint8" count="16"/>
<vector id="v16i" type="int8" count="16"/>
<vector id="v1u" type="uint128" count="1"/>
<vector id="v1i" type="int128" count="1"/>
<union id="vnd"><field name="f" type="v2d"/><field name="u" type="v2u"/><field name="s" type="v2i"/></union>
<union id="vns"><field name="f" type="v4f"/><field name="u" type="v4u"/><field name="s" type="v4i"/></union>
<union id="vnh"><field name="f" type="v8f"/><field name="u" type="v8u"/><field name="s" type="v8i"/></union>
<union id="vnb"><field name="u" type="v16u"/><field name="s" type="v16i"/></union>
<union id="vnq"><field name="u" type="v1u"/><field name="s" type="v1i"/></union>
<union id="aarch64v">
  <field name="d" type="vnd"/><field name="s" type="vns"/><field name="h" type="vnh"/>
  <field name="b" type="vnb"/><field name="q" type="vnq"/>
</union>
"""

GDB = GdbTarget(
    architecture="aarch64",
    features=(
        GdbFeature("org.gnu.gdb.aarch64.core", (
            *(GdbReg(f"x{i}", 64) for i in range(31)),
            GdbReg("sp", 64, "data_ptr"),
            GdbReg("pc", 64, "code_ptr"),
            # user mode: EL0t, so only the NZCV bits are ever set
            GdbReg("cpsr", 32, "cpsr_flags", source="nzcv"),
        ), _CPSR_TYPES),
        GdbFeature("org.gnu.gdb.aarch64.fpu", (
            *(GdbReg(f"v{i}", 128, "aarch64v", source=f"q{i}") for i in range(32)),
            GdbReg("fpsr", 32),
            GdbReg("fpcr", 32),
        ), _VECTOR_TYPES),
    ),
    breakpoint_kinds=frozenset({4}),       # one A64 instruction
)
