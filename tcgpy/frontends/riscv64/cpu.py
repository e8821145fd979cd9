"""RISC-V 64 CPU state: the single declaration of the user-mode registers."""
from __future__ import annotations

from ...cpustate import RegDef, make_layout

# The standard calling convention's names (RISC-V psABI), by register number.
ABI_NAMES = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
             *(f"a{i}" for i in range(8)), *(f"s{i}" for i in range(2, 12)),
             "t3", "t4", "t5", "t6")
FP_ABI_NAMES = (*(f"ft{i}" for i in range(8)), "fs0", "fs1", *(f"fa{i}" for i in range(8)),
                *(f"fs{i}" for i in range(2, 12)), *(f"ft{i}" for i in range(8, 12)))

ROWS: tuple[RegDef, ...] = (
    # x0 is hard-wired zero: not state (the Emulator's pseudo register "x0"
    # reads 0 and ignores writes).
    *(RegDef(f"x{i}", aliases=(ABI_NAMES[i],) + (("fp",) if i == 8 else ())) for i in range(1, 32)),
    # f0..f31 hold 64 bits; a single-precision value lives NaN-boxed in them
    # (upper 32 bits all ones).  Plain IR globals: the moves, loads, stores
    # and sign injections are integer operations on the bits.
    *(RegDef(f"f{i}", aliases=(FP_ABI_NAMES[i],)) for i in range(32)),
    # fcsr: frm in bits 7:5, fflags (NV DZ OF UF NX) in bits 4:0.
    RegDef("fcsr", user=False, compare=False),   # through the pseudo registers fcsr/frm/fflags
    # The LR/SC reservation, as QEMU keeps it: the reserved address (-1 when
    # none) and the value loaded; an sc succeeds if memory still holds it.
    # The field names are the ones the Emulator and the Linux layer clear.
    RegDef("excl_addr", user=False, compare=False),
    RegDef("excl_val", user=False, compare=False),
)

LAYOUT = make_layout("riscv64", ROWS)

GPR_NAMES = tuple(f"x{i}" for i in range(32))
FPR_NAMES = tuple(f"f{i}" for i in range(32))
