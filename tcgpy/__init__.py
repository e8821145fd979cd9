"""tcgpy: a QEMU-TCG-style dynamic binary translator in Python.

Guest machine code is decoded by a frontend into a TCG-like IR, optimized,
compiled by LLVM (through llvmlite) into chained host code, and run against a
software MMU.
"""
from .emulator import Emulator
from .errors import (AlignmentFault, EmulationError, GuestTrap, IllegalInstruction, MemoryFault,
                     UnhandledSyscall)

__all__ = ["Emulator", "EmulationError", "MemoryFault", "AlignmentFault", "IllegalInstruction",
           "GuestTrap", "UnhandledSyscall"]
__version__ = "0.1.0"
