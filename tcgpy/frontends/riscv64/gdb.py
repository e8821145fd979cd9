"""RISC-V 64 as gdb sees it: the org.gnu.gdb.riscv.cpu and .fpu features of
a target description, with the register names and types of gdb's own
riscv-64bit-cpu.xml and riscv-64bit-fpu.xml (gdb recognises the registers
of each feature by name: x0..x31 by their ABI names, x8 as "fp", pc; the
f registers by theirs, then fflags, frm and fcsr)."""
from __future__ import annotations

from ..arch import GdbFeature, GdbReg, GdbTarget
from .cpu import ABI_NAMES, FP_ABI_NAMES

# The type gdb gives each x register (riscv-64bit-cpu.xml).
_X_TYPES = {"ra": "code_ptr", "sp": "data_ptr", "gp": "data_ptr", "tp": "data_ptr", "fp": "data_ptr"}

# An f register holds a double, or a NaN-boxed single in its low half.
_FP_TYPES = """\
<union id="riscv_double">
  <field name="float" type="ieee_single"/>
  <field name="double" type="ieee_double"/>
</union>
"""


def _x_name(i: int) -> str:
    return "fp" if i == 8 else ABI_NAMES[i]


GDB = GdbTarget(
    architecture="riscv:rv64",
    features=(
        GdbFeature("org.gnu.gdb.riscv.cpu", (
            *(GdbReg(_x_name(i), 64, _X_TYPES.get(_x_name(i), "int"), source=f"x{i}")
              for i in range(32)),
            GdbReg("pc", 64, "code_ptr"),
        )),
        GdbFeature("org.gnu.gdb.riscv.fpu", (
            *(GdbReg(FP_ABI_NAMES[i], 64, "riscv_double", source=f"f{i}") for i in range(32)),
            GdbReg("fflags", 32),
            GdbReg("frm", 32),
            GdbReg("fcsr", 32),
        ), _FP_TYPES),
    ),
    # an ebreak (4) or c.ebreak (2): gdb picks by the instruction at the address
    breakpoint_kinds=frozenset({2, 4}),
)
