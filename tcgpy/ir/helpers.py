"""Helper functions callable from IR through ``Op.call``.

A helper is a function of three 64-bit arguments returning a 64-bit value.  It
may not touch CPU state or guest memory: everything it needs comes in through
its arguments, which keeps the interpreter and the JIT calling the same Python
function and keeps the optimizer free to reorder around it (the call op is
still kept in program order because it is marked SIDE_EFFECTS).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
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
