"""Architecture frontends, by name (through the target registry, tcgpy.targets)."""
from __future__ import annotations

from ..targets import lookup
from .arch import ArchInfo


def get_arch(name: str) -> ArchInfo:
    """The frontend of the target called ``name`` (or an alias)."""
    return lookup(name).arch
