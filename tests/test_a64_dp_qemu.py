"""The hand-written data-processing table of test_a64_dp.py, run natively on a
third implementation: a static AArch64 binary under qemu-aarch64 (current
QEMU, not Unicorn's old fork).  Proves the table's expectations before they
are used to judge tcgpy.

Each case becomes an assembly function that loads x0..x30, sp and NZCV from a
state array, executes the case's words (.inst), and stores everything back;
x0 is parked in d31 and the state pointer in TPIDR_EL0 so that no guest
register is disturbed.  Needs aarch64-linux-gnu-gcc and qemu-aarch64 (opt-in
with -m slow; skipped with the reason when either is missing).
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from .test_a64_dp import CASES, T, _case_id

GCC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64"
NREG = 33                       # x0..x30, sp, nzcv
SP_SLOT, NZCV_SLOT = 31 * 8, 32 * 8


def _pc_relative(case: T) -> bool:
    # adr/adrp results depend on where the code sits, which differs natively
    words = [int.from_bytes(case.code[i:i + 4], "little") for i in range(0, len(case.code), 4)]
    return any(w & 0x1F00_0000 == 0x1000_0000 for w in words)


def _case_asm(k: int, case: T) -> list[str]:
    words = [int.from_bytes(case.code[i:i + 4], "little") for i in range(0, len(case.code), 4)]
    s = [f"    .global case{k}", f"case{k}:",
         "    stp x29, x30, [sp, #-96]!", "    stp x19, x20, [sp, #16]", "    stp x21, x22, [sp, #32]",
         "    stp x23, x24, [sp, #48]", "    stp x25, x26, [sp, #64]", "    stp x27, x28, [sp, #80]",
         "    adrp x1, saved", "    add x1, x1, :lo12:saved", "    mov x2, sp", "    str x2, [x1]",
         "    mrs x2, tpidr_el0", "    str x2, [x1, #8]", "    msr tpidr_el0, x0",
         f"    ldr x1, [x0, #{NZCV_SLOT}]", "    msr nzcv, x1",
         f"    ldr x1, [x0, #{SP_SLOT}]", "    mov sp, x1"]
    s += [f"    ldr x{r}, [x0, #{8 * r}]" for r in range(30, -1, -1)]
    s += [f"    .inst {w:#010x}" for w in words]
    s += ["    fmov d31, x0", "    mrs x0, tpidr_el0"]
    s += [f"    str x{r}, [x0, #{8 * r}]" for r in range(1, 31)]
    s += ["    fmov x1, d31", "    str x1, [x0]", "    mrs x1, nzcv", f"    str x1, [x0, #{NZCV_SLOT}]",
          "    mov x1, sp", f"    str x1, [x0, #{SP_SLOT}]",
          "    adrp x1, saved", "    add x1, x1, :lo12:saved", "    ldr x2, [x1, #8]", "    msr tpidr_el0, x2",
          "    ldr x2, [x1]", "    mov sp, x2",
          "    ldp x19, x20, [sp, #16]", "    ldp x21, x22, [sp, #32]", "    ldp x23, x24, [sp, #48]",
          "    ldp x25, x26, [sp, #64]", "    ldp x27, x28, [sp, #80]", "    ldp x29, x30, [sp], #96", "    ret"]
    return s


def _state(d: dict, base: dict) -> str:
    vals = [d.get(f"x{i}", base.get(f"x{i}", 0)) for i in range(31)]
    vals += [d.get("sp", base.get("sp", 0)), d.get("flags", base.get("flags", 0)) << 28]
    return "{" + ", ".join(f"{v:#x}ULL" for v in vals) + "}"


MAIN = r"""
int main(void) {
    int bad = 0, n = sizeof fns / sizeof fns[0];
    for (int k = 0; k < n; k++) {
        uint64_t st[NREG];
        memcpy(st, ins[k], sizeof st);
        fns[k](st);
        for (int r = 0; r < NREG; r++)
            if (st[r] != outs[k][r]) {
                printf("%s: state[%d] = %#llx, want %#llx\n", names[k], r,
                       (unsigned long long)st[r], (unsigned long long)outs[k][r]);
                bad++;
            }
    }
    printf("%d cases, %d differing registers\n", n, bad);
    return bad != 0;
}
"""


@pytest.mark.slow
def test_hand_table_on_qemu(tmp_path):
    missing = [tool for tool in (GCC, QEMU) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    cases = [c for c in CASES if not _pc_relative(c)]
    asm = ["    .text"]
    for k, case in enumerate(cases):
        asm += _case_asm(k, case)
    asm += ["    .bss", "    .align 3", "saved: .quad 0, 0"]
    c = ["#include <stdio.h>", "#include <stdint.h>", "#include <string.h>", f"#define NREG {NREG}"]
    c += [f"extern void case{k}(uint64_t *);" for k in range(len(cases))]
    c.append("static void (*fns[])(uint64_t *) = {" + ", ".join(f"case{k}" for k in range(len(cases))) + "};")
    c.append("static const uint64_t ins[][NREG] = {" + ",\n".join(_state(x.regs, {}) for x in cases) + "};")
    c.append("static const uint64_t outs[][NREG] = {"
             + ",\n".join(_state(x.expect, x.regs) for x in cases) + "};")
    c.append("static const char *names[] = {"
             + ", ".join('"' + _case_id(x).replace('"', "'") + '"' for x in cases) + "};")
    (tmp_path / "cases.S").write_text("\n".join(asm) + "\n")
    (tmp_path / "main.c").write_text("\n".join(c) + MAIN)
    exe = tmp_path / "dp_cases"
    subprocess.run([GCC, "-static", "-O1", "-o", str(exe), str(tmp_path / "main.c"), str(tmp_path / "cases.S")],
                   check=True, capture_output=True, timeout=120)
    run = subprocess.run([QEMU, str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == f"{len(cases)} cases, 0 differing registers"
