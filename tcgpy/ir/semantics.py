"""Whose meaning an IR op has, when it is one architecture's.

Most IR ops mean the same for every guest.  A few carry one architecture's
definition of its instructions: ``vec`` means Arm's Advanced SIMD,
floating-point and crypto operations (the Arm ARM's pseudocode), ``rvfp``
RISC-V's F and D arithmetic (the RISC-V ISA manual's).  Those definitions,
in Python, are the reference the interpreter runs and the backends fall
back on and are tested against, and they live with the target that owns
them.  The IR and the backends ask for them here by name; the target's
declaration (``tcgpy.targets.Target.semantics``) says which module provides
each name.  So neither imports a target's folder, and a third target adds
ops of its own by declaring the module that defines them.
"""
from __future__ import annotations

import importlib
from types import ModuleType

_loaded: dict[str, ModuleType] = {}


def lookup(name: str) -> ModuleType:
    """The module that defines the semantics called ``name`` (imported on
    first use).  Raises LookupError when no target provides it."""
    module = _loaded.get(name)
    if module is None:
        from ..targets import semantics_provider
        module = _loaded[name] = importlib.import_module(semantics_provider(name))
    return module
