"""riscv64 Linux user mode end to end: the glibc programs of the AArch64
suite (tests/guest/libc_*.c), built static for riscv64 by
tests/guest/riscv64/build.sh, run through ``tcgpy run`` (which picks riscv64
from the ELF header) and compared with the same sources built natively;
riscv64's own signal-frame program is compared with its qemu-riscv64
recording (tests/guest/riscv64/ref).

Programs that do FP arithmetic are expected to fail with SIGILL on an F/D
arithmetic instruction (not implemented: tcgpy/frontends/riscv64/insn_fp.py)
-- strictly, so that any other failure, or their passing, shows.
"""
from __future__ import annotations

import dataclasses
import re
import signal
import subprocess

import pytest

from tests.test_linux_guest import LIBC_CASES, ROOT, _run_with, native_bin, run_case, tcgpy_cmd  # noqa: F401

RV_BIN = ROOT / "tests" / "guest" / "riscv64" / "bin"
RV_REF = ROOT / "tests" / "guest" / "riscv64" / "ref"

# The AArch64 suite's cases that have a riscv64 build (no static-PIE: see build.sh).
CASES = [dataclasses.replace(c, slow=False) for c in LIBC_CASES if (RV_BIN / c.binary).exists()]
# They run double-precision arithmetic (libc_float; libc_edge socket times its waits).
NEEDS_FD_ARITHMETIC = {"libc_float", "libc_edge_socket"}


class MissingFPArithmetic(Exception):
    """The guest died of SIGILL on an F/D arithmetic instruction."""


def check_missing_fp(res: subprocess.CompletedProcess) -> None:
    """Raise MissingFPArithmetic only for a SIGILL on an OP-FP/FMADD-family
    word that is not one of the implemented moves and sign injections."""
    m = re.search(rb"illegal instruction (0x[0-9a-f]+) at pc", res.stderr)
    if res.returncode != -signal.SIGILL or m is None:
        return
    word = int(m.group(1), 16)
    opcode, funct7 = word & 0x7F, word >> 25
    moves = {0b0010000, 0b0010001, 0b1110000, 0b1110001, 0b1111000, 0b1111001}
    if opcode in (0b1000011, 0b1000111, 0b1001011, 0b1001111) or (opcode == 0b1010011 and funct7 not in moves):
        raise MissingFPArithmetic(f"{word:#010x}")


def _rv(case):
    """``case`` with its riscv64 build (run_case takes paths under tests/guest/bin)."""
    return dataclasses.replace(case, binary=f"../riscv64/bin/{case.binary}")


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(
    strict=True, raises=MissingFPArithmetic, reason="F/D arithmetic is not implemented"))
    if c.name in NEEDS_FD_ARITHMETIC else c for c in CASES], ids=[c.name for c in CASES])
def test_riscv64_glibc_program(case, native_bin):
    native = native_bin(case.binary)
    ref = _run_with(case, [], native)
    res = run_case(_rv(case), tcgpy_cmd(*case.options))
    check_missing_fp(res)
    assert res.stdout == ref.stdout, res.stderr.decode(errors="replace")
    assert res.returncode == ref.returncode == case.status


def test_riscv64_signal_frames_as_qemu():
    """Handlers read pc, a0, fs0 and fcsr from the ucontext, change them and
    return: SIGILL (c.unimp), SIGSEGV (si_addr), SIGBUS (misaligned AMO),
    SIGTRAP (ebreak, c.ebreak)."""
    res = subprocess.run(tcgpy_cmd(str(RV_BIN / "rv_sigctx")), capture_output=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert res.stdout == (RV_REF / "rv_sigctx.out").read_bytes()


def test_riscv64_auxv_hwcap_and_uname():
    """AT_HWCAP advertises exactly I, M, A, C; uname says riscv64."""
    from tcgpy.linux.riscv64 import riscv64_hwcaps
    hwcap, _ = riscv64_hwcaps()
    assert hwcap == sum(1 << (ord(c) - ord("A")) for c in "IMAC")
    res = subprocess.run(tcgpy_cmd(str(RV_BIN / "libc_proc")), capture_output=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0
