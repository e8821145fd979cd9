"""riscv64 Linux user mode end to end: the glibc programs of the AArch64
suite (tests/guest/libc_*.c), built static for riscv64 by
tests/guest/riscv64/build.sh, run through ``tcgpy run`` (which picks riscv64
from the ELF header) and compared with the same sources built natively;
riscv64's own programs (signal frames, F/D rules) are compared with their
qemu-riscv64 recordings (tests/guest/riscv64/ref).
"""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from tests.test_linux_guest import (HOSTIO, LIBC_CASES, ROOT, _run_with, native_bin, native_syscalls,  # noqa: F401
                                    run_case, tcgpy_cmd)

RV_BIN = ROOT / "tests" / "guest" / "riscv64" / "bin"
RV_REF = ROOT / "tests" / "guest" / "riscv64" / "ref"

# The AArch64 suite's cases that have a riscv64 build (no static-PIE: see build.sh).
CASES = [dataclasses.replace(c, slow=False) for c in LIBC_CASES if (RV_BIN / c.binary).exists()]

def _rv(case):
    """``case`` with its riscv64 build (run_case takes paths under tests/guest/bin)."""
    return dataclasses.replace(case, binary=f"../riscv64/bin/{case.binary}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_riscv64_glibc_program(case, native_bin):
    native = native_bin(case.binary)
    ref = _run_with(case, [], native)
    res = run_case(_rv(case), tcgpy_cmd(*case.options))
    assert res.stdout == ref.stdout, res.stderr.decode(errors="replace")
    assert res.returncode == ref.returncode == case.status


def test_riscv64_syscalls_in_host_code(native_bin):
    """riscv64's read/write/pread64/pwrite64 (its own registers and
    numbers) are served in host code too, with the kernel's results."""
    ref = _run_with(HOSTIO, [], native_bin("libc_edge"))
    res = run_case(_rv(HOSTIO), tcgpy_cmd("--stats"))
    assert res.stdout == ref.stdout, res.stderr.decode(errors="replace")[-3000:]
    assert native_syscalls(res) >= 10_000


# Where qemu-riscv64 7.2 (the recording) is not the ISA: these lines are what
# the ISA gives (and tcgpy prints) instead.
QEMU_DEVIATIONS = {
    # ctzw counts trailing zeros of the low word, 32 when it is zero (Zbb,
    # "ctzw"); qemu 7.2 counts in all 64 bits: ctzw of 0x8000000000000000 is
    # 63 there (tests/test_rv64_insn.py holds that case on its own).
    "rv_bitmanip": [(b"ctzw       b620b1461a6b5e9b", b"ctzw       bb5b814820e407d0")],
}


@pytest.mark.parametrize("name", ["rv_sigctx", "rv_fp", "rv_fpgrid", "rv_bitmanip"])
def test_riscv64_program_as_qemu(name):
    """rv_sigctx: handlers read pc, a0, fs0 and fcsr from the ucontext, change
    them and return: SIGILL (c.unimp), SIGSEGV (si_addr), SIGBUS (misaligned
    AMO), SIGTRAP (ebreak, c.ebreak).  rv_fp: NaN-boxing, fmin/fmax with a
    signalling NaN, saturating conversions, the five rounding modes static
    and dynamic, flags.  rv_fpgrid: every F/D arithmetic, fused, compare,
    min/max, fclass and conversion instruction on a grid of special and
    ordinary values in the five rounding modes (hashes of result bits and
    flags), then FP kernels (the native code's common path).  rv_bitmanip: every Zba/Zbb/Zbs instruction on a grid
    of operands."""
    res = subprocess.run(tcgpy_cmd(str(RV_BIN / name)), capture_output=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    expected = (RV_REF / f"{name}.out").read_bytes()
    for qemu, isa in QEMU_DEVIATIONS.get(name, ()):
        assert qemu in expected
        expected = expected.replace(qemu, isa)
    assert res.stdout == expected


def test_riscv64_hwcap():
    """AT_HWCAP advertises exactly I, M, A, F, D, C."""
    from tcgpy.linux.riscv64 import riscv64_hwcaps
    hwcap, _ = riscv64_hwcaps()
    assert hwcap == sum(1 << (ord(c) - ord("A")) for c in "IMAFDC")


def test_riscv64_hwprobe_and_flush_icache():
    """riscv_hwprobe answers the keys Linux 6.4 defines with what tcgpy
    implements (IMA base, FD, C, Zba, Zbb, Zbs, fast misaligned accesses) and -1 for an
    unknown key; riscv_flush_icache succeeds (code stores invalidate)."""
    res = subprocess.run(tcgpy_cmd(str(RV_BIN / "rv_hwprobe")), capture_output=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert res.stdout == b"hwprobe 0: 0=0 1=0 2=0 3=1 4=59 5=3 -1=0\nflush_icache 0\n"


SYSROOT = Path("/usr/riscv64-linux-gnu")


@pytest.mark.skipif(not (SYSROOT / "lib" / "ld-linux-riscv64-lp64d.so.1").exists(),
                    reason="needs the riscv64 glibc sysroot /usr/riscv64-linux-gnu "
                           "(Debian/Ubuntu package libc6-riscv64-cross)")
def test_riscv64_dynamic_glibc_with_sysroot(native_bin):
    """A dynamically linked PIE through its interpreter ld-linux-riscv64-lp64d.so.1."""
    case = dataclasses.replace(next(c for c in LIBC_CASES if c.name == "libc_hello"),
                               binary="libc_hello_dyn", options=("-L", str(SYSROOT)))
    ref = _run_with(case, [], native_bin("libc_hello"))
    res = run_case(_rv(case), tcgpy_cmd(*case.options))
    assert res.stdout == ref.stdout, res.stderr.decode(errors="replace")
    assert res.returncode == ref.returncode == case.status
