"""Helper functions callable from IR through ``Op.call``.

A helper is a function of three 64-bit arguments returning a 64-bit value.  It
may not touch CPU state or guest memory: everything it needs comes in through
its arguments, which keeps the interpreter and the JIT calling the same Python
function and keeps the optimizer free to reorder around it (the call op is
still kept in program order because it is marked SIDE_EFFECTS).
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from . import semantics
from ..record import record

MASK64 = (1 << 64) - 1


@record(frozen=True)
class HelperDef:
    id: int
    name: str
    fn: Callable[[int, int, int], int]


HELPERS: list[HelperDef] = []
BY_NAME: dict[str, HelperDef] = {}


def helper(name: str):
    def register(fn):
        h = HelperDef(len(HELPERS), name, fn)
        HELPERS.append(h)
        BY_NAME[name] = h
        return fn
    return register


# The generic timer runs at 62.5 MHz as on many real cores (and in QEMU's virt
# machine); the value only has to be monotonic and consistent with cntfrq_el0.
CNTFRQ_HZ = 62_500_000


@helper("cntvct")
def helper_cntvct(a: int, b: int, c: int) -> int:
    return (time.monotonic_ns() * CNTFRQ_HZ // 1_000_000_000) & MASK64


# RISC-V's time CSR: 10 MHz, the timebase-frequency of QEMU's virt machine
# (Linux user space learns it from the device tree; only monotonicity and
# that rate matter).
RISCV_TIMEBASE_HZ = 10_000_000


@helper("rv_time")
def helper_rv_time(a: int, b: int, c: int) -> int:
    return (time.monotonic_ns() * RISCV_TIMEBASE_HZ // 1_000_000_000) & MASK64


# Arm's vec ops that have no host code, and its CRC32 instructions, call the
# "arm_vec" and "arm_crc32" semantics (the AArch64 target's,
# tcgpy.ir.semantics), looked up when called.  Every helper is declared
# here, none by a target: the table translated code calls through (and that
# the persistent cache's code names by index) is made before a run whose
# code all comes from the cache has imported any target's semantics.
@helper("vec_env")
def helper_vec_env(env_addr: int, packed: int, x: int) -> int:
    return semantics.lookup("arm_vec").vec_env(env_addr, packed, x)


@helper("crc32")
def helper_crc32(acc: int, value: int, desc: int) -> int:
    return semantics.lookup("arm_crc32").crc32(acc, value, desc)


# RISC-V F/D arithmetic: the rvfp IR op means the evaluate function of the
# "riscv_fp" semantics the riscv64 target declares (tcgpy.ir.semantics).
def rvfp_semantics(control: int, a: int, b: int, c: int, fcsr: int) -> tuple[int, int]:
    """The rvfp op: (result, fcsr | flags) of RISC-V F/D operation
    ``control`` (tcgpy/ir/rvfp.py's control word: op, format, rounding mode
    -- DYN reads frm from fcsr --, integer kind)."""
    return _rv_fp().evaluate(control, a, b, c, fcsr)


# The LLVM backend's slow path for rvfp (what its host code does not decide
# calls softfloat).  A helper has one result, an FP instruction two (the
# value and its exception flags), and an FMA takes three operands besides the
# operation: ``rv_fp_ctl`` hands the operation to the ``rv_fma`` that follows
# it and ``rv_fp_flags`` returns the flags of the operation before it.  The
# lowering emits the calls back to back in one op's code, so no other guest
# code runs between them (one guest thread at a time per host thread); the
# hand-over lives per host thread.  The control words have their rounding
# mode resolved (never dynamic).
_rv_fp_state = threading.local()


def _rv_fp():
    return semantics.lookup("riscv_fp")


@helper("rv_fp")
def helper_rv_fp(a: int, b: int, c: int) -> int:
    r, _rv_fp_state.flags = _rv_fp().operate(a, b, c)
    return r


@helper("rv_fp_ctl")
def helper_rv_fp_ctl(a: int, b: int, c: int) -> int:
    _rv_fp_state.ctl = a
    return 0


@helper("rv_fma")
def helper_rv_fma(a: int, b: int, c: int) -> int:
    r, _rv_fp_state.flags = _rv_fp().operate_fma(a, b, c, _rv_fp_state.ctl)
    return r


@helper("rv_fp_flags")
def helper_rv_fp_flags(a: int, b: int, c: int) -> int:
    flags, _rv_fp_state.flags = getattr(_rv_fp_state, "flags", 0), 0
    return flags
