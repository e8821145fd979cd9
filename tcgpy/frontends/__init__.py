"""Architecture frontends, by name."""
from __future__ import annotations

from .arch import ArchInfo


def get_arch(name: str) -> ArchInfo:
    key = name.lower()
    if key in ("aarch64", "arm64"):
        from .aarch64 import ARCH
        return ARCH
    raise ValueError(f"unsupported guest architecture {name!r} (supported: aarch64/arm64)")
