"""Exceptions a guest can cause.  Everything a guest does wrong ends in one of
these (never a Python traceback from inside tcgpy, never a host crash)."""
from __future__ import annotations


class EmulationError(Exception):
    """Base class of guest-caused stops of ``Emulator.run``."""

    pc: int = 0


class MemoryFault(EmulationError):
    """A guest access to unmapped memory or against the page permissions."""

    def __init__(self, pc: int | None, address: int, access: str):
        # pc None: an access by the library user (mem_read/mem_write), not by guest code
        super().__init__(f"{access} fault at {address:#x}" + ("" if pc is None else f" (pc {pc:#x})"))
        self.pc = pc
        self.address = address
        self.access = access      # "read" | "write" | "fetch"


class AlignmentFault(MemoryFault):
    """A misaligned exclusive or atomic access, or a misaligned pc (SIGBUS,
    BUS_ADRALN, in Linux user mode)."""


class IllegalInstruction(EmulationError):
    def __init__(self, pc: int, word: int):
        super().__init__(f"illegal instruction {word:#010x} at pc {pc:#x}")
        self.pc = pc
        self.word = word


class GuestTrap(EmulationError):
    """A breakpoint (``brk``) or halt (``hlt``) instruction; pc is that instruction."""

    def __init__(self, pc: int, kind: str, word: int = 0):
        super().__init__(f"{kind} at pc {pc:#x}")
        self.pc = pc
        self.kind = kind          # "brk" | "hlt"
        self.word = word


class WatchpointHit(EmulationError):
    """An access to memory under a watchpoint (``Emulator.add_watchpoint``),
    stopped before it happened: pc is the accessing instruction, as an
    AArch64 hardware watchpoint reports it (a debugger steps over it with
    the watchpoint removed)."""

    def __init__(self, pc: int, address: int, kind: str):
        super().__init__(f"{kind} watchpoint at {address:#x} (pc {pc:#x})")
        self.pc = pc
        self.address = address    # within both the access and the watched range
        self.kind = kind          # "write" | "read" | "access"


class UnhandledSyscall(EmulationError):
    """The guest made a system call and no ``on_syscall`` handler is set."""

    def __init__(self, pc: int):
        super().__init__(f"system call with no on_syscall handler (pc {pc:#x})")
        self.pc = pc
