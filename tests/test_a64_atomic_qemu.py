"""The hand-written LSE atomic tables (tests/test_a64_atomic.py) run natively
on a third implementation: a static AArch64 program under qemu-aarch64
-cpu max (current QEMU, not Unicorn's old fork), through the signal harness
of tests/test_a64_ldst_qemu.py.  Proves the tables -- the signed max/min
cases on which Unicorn deviates in particular -- before they judge tcgpy.

Needs aarch64-linux-gnu-gcc and qemu-aarch64 (opt-in with -m slow; skipped
with the reason when either is missing).
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tcgpy.difftest.forms import CODE_BASE, DATA_BASE, DATA_SIZE

from . import test_a64_atomic as at
from . import test_a64_ldst as ls
from . import test_a64_ldst_qemu as q


def _cases() -> list[dict]:
    out = []
    for case in at.CASES + at.SIGNED_CASES:
        want, _ = ls.expected(case)
        out.append(dict(name=at._case_id(case), code=q._words(case.code), regs=q._state(case.regs),
                        expect=q._state(want), pc=want["pc"], mem=q._mem(case.mem),
                        sig=0, addrs=(), check_mem=True))
    for f in at.FAULTS:
        out.append(dict(name=f.name, code=q._words(f.code), regs=q._state(f.regs),
                        expect=q._state(f.regs), pc=CODE_BASE + 4 * f.at, mem=q._mem(f.mem or {}),
                        sig=7 if f.align else 11, addrs=(f.address,), check_mem=True))
    return out


@pytest.mark.slow
def test_atomic_tables_on_qemu(tmp_path):
    missing = [tool for tool in (q.GCC, q.QEMU) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    assert at.RO == ls.RO, "the harness maps the read-only page at ls.RO"
    cases = _cases()
    src = q.HARNESS % dict(code=CODE_BASE, data=DATA_BASE, data_size=DATA_SIZE, ro=ls.RO,
                           cases=q._c_cases(cases))
    (tmp_path / "atomic.c").write_text(src)
    exe = tmp_path / "atomic"
    subprocess.run([q.GCC, "-static", "-O1", "-o", str(exe), str(tmp_path / "atomic.c")],
                   check=True, capture_output=True, timeout=120)
    run = subprocess.run([q.QEMU, "-cpu", "max", str(exe)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith(f"{len(cases)} cases, 0 differences"), run.stdout
