"""Architecture frontends, by name (through the target registry, tcgpy.targets)."""
from __future__ import annotations

from ..targets import lookup
from .arch import ArchInfo


def get_arch(name: str) -> ArchInfo:
    """The frontend of the target called ``name`` (or an alias)."""
    target = lookup(name)
    if not target.frontend:
        raise ValueError(f"no TCG frontend for {target.name} guests (they run under KVM)")
    return target.arch
