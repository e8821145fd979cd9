"""Assemble AArch64 test snippets with keystone (a test-only dependency)."""
from __future__ import annotations

import functools

import keystone

CODE = 0x10000


@functools.lru_cache(maxsize=None)
def _ks():
    return keystone.Ks(keystone.KS_ARCH_ARM64, keystone.KS_MODE_LITTLE_ENDIAN)


@functools.lru_cache(maxsize=4096)
def asm(text: str, addr: int = CODE) -> bytes:
    """Assemble ``text`` (statements separated by ';' or newlines) placed at ``addr``."""
    lines = [s.strip() for part in text.split("\n") for s in part.split(";")]
    src = "\n".join(s for s in lines if s)
    encoding, _ = _ks().asm(src, addr)
    return bytes(encoding)
