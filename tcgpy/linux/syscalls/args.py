"""Handlers receive the raw 64-bit argument registers; the kernel reads an
``int`` argument from the low 32 bits and a ``long`` as signed."""
from __future__ import annotations

MASK64 = (1 << 64) - 1


def s64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v
