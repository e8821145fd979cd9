"""tcgpy: a QEMU-TCG-style dynamic binary translator in Python.

Guest machine code is decoded by a frontend into a TCG-like IR, optimized,
compiled by LLVM (through llvmlite) into chained host code, and run against a
software MMU.
"""
from .errors import (AlignmentFault, EmulationError, GuestTrap, IllegalInstruction, MemoryFault,
                     UnhandledSyscall)

__all__ = ["Emulator", "EmulationError", "MemoryFault", "AlignmentFault", "IllegalInstruction",
           "GuestTrap", "UnhandledSyscall"]
__version__ = "0.1.0"
_SUBPACKAGES = ("frontends", "backends", "ir", "linux", "softmmu", "difftest")


def __getattr__(name: str):
    # Emulator pulls in LLVM (most of a run's start-up): loaded on first use,
    # so the command line can set up (signals, argument errors) before that.
    if name == "Emulator":
        from .emulator import Emulator
        return Emulator
    if name.startswith(("HOOK_", "MEM_", "COUNT_")):
        # Unicorn's UC_HOOK_* / UC_MEM_* under tcgpy's names (tcgpy/hooks.py)
        from . import hooks
        if hasattr(hooks, name):
            return getattr(hooks, name)
    if name in _SUBPACKAGES:            # tcgpy.frontends.get_arch(...) as before
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tcgpy' has no attribute {name!r}")
