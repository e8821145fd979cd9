"""x86-64 exceptions as the Linux layer sees them: the tcgpy fault
exceptions, each with the signal native Linux delivers for it
(arch/x86/kernel/traps.c, arch/x86/mm/fault.c)."""
from __future__ import annotations

from ...errors import EmulationError, GuestTrap, IllegalInstruction, MemoryFault
from .machine import USER_GATES

SI_KERNEL = 0x80
ILL_ILLOPN = 2
FPE_INTDIV, FPE_FLTDIV, FPE_FLTOVF, FPE_FLTUND, FPE_FLTRES, FPE_FLTINV = 1, 3, 4, 5, 6, 7
TRAP_BRKPT, TRAP_TRACE = 1, 2
BUS_ADRALN = 1

PF_WRITE, PF_FETCH = 1 << 1, 1 << 4


# vector -> (name, Linux signal, si_code, whether si_addr is the faulting rip (else 0))
VECTORS = {
    0: ("divide error", "SIGFPE", FPE_INTDIV, True),
    1: ("debug", "SIGTRAP", TRAP_TRACE, True),
    3: ("int3", "SIGTRAP", SI_KERNEL, False),
    4: ("overflow", "SIGSEGV", SI_KERNEL, False),
    5: ("bound range", "SIGSEGV", SI_KERNEL, False),
    6: ("invalid opcode", "SIGILL", ILL_ILLOPN, True),
    7: ("device not available", "SIGSEGV", SI_KERNEL, False),
    10: ("invalid TSS", "SIGSEGV", SI_KERNEL, False),
    11: ("segment not present", "SIGBUS", SI_KERNEL, False),
    12: ("stack segment", "SIGBUS", SI_KERNEL, False),
    13: ("general protection", "SIGSEGV", SI_KERNEL, False),
    16: ("x87 floating point", "SIGFPE", 0, True),
    17: ("alignment check", "SIGBUS", BUS_ADRALN, False),
    19: ("SIMD floating point", "SIGFPE", 0, True),
}


class CpuException(EmulationError):
    """An x86 exception other than a page fault, #UD or int3: ``vector``,
    its error code, and the signal Linux gives for it."""

    def __init__(self, pc: int, vector: int, error_code: int | None, linux_signal: tuple[str, int, int]):
        name = VECTORS.get(vector, (f"vector {vector}",))[0]
        super().__init__(f"{name} at pc {pc:#x}" + (f" (error code {error_code:#x})" if error_code else ""))
        self.pc = pc
        self.vector = vector
        self.error_code = error_code
        self.linux_signal = linux_signal


def _simd_code(mxcsr: int) -> int:
    """si_code of a SIMD/x87 exception from its unmasked, raised flags (Linux's fpu__exception_code)."""
    raised = mxcsr & 0x3F & ~((mxcsr >> 7) & 0x3F)
    for bit, code in ((0x1, FPE_FLTINV), (0x4, FPE_FLTDIV), (0x8, FPE_FLTOVF), (0x10, FPE_FLTUND),
                      (0x20, FPE_FLTRES)):
        if raised & bit:
            return code
    return 0


# Instructions ring 3 may not run that the CPU refuses with #UD (so Linux
# gives SIGILL) but that come back as #GP under nested virtualisation (KVM
# intercepts them before the privilege check): monitor, mwait.
UD_WHEN_PRIVILEGED = (bytes.fromhex("0f01c8"), bytes.fromhex("0f01c9"))


def exception_for(vector: int, error_code: int | None, rip: int, cr2: int, emu,
                  single_step: bool = True) -> EmulationError:
    """The exception of ``vector`` at ``rip`` (for #DB, ``single_step``: DR6 says TF caused it)."""
    if vector == 13 and _code_at(emu, rip, 3) in UD_WHEN_PRIVILEGED:
        vector = 6
    if vector == 14:
        access = "fetch" if error_code & PF_FETCH else "write" if error_code & PF_WRITE else "read"
        return MemoryFault(rip, cr2, access)
    if vector == 6:
        word = int.from_bytes(_code_at(emu, rip, 4), "little")
        if word & 0xFF == 0xCD and (word >> 8) & 0xFF not in USER_GATES:
            # "int n" through a gate ring 3 may not use is #GP on the CPU, but
            # under nested virtualisation on AMD (KVM in a VM, as here) the
            # instruction is emulated and comes back as #UD: report the #GP.
            vector, error_code = 13, ((word >> 8) & 0xFF) * 8 + 2
            name, signame, code, _ = VECTORS[13]
            return CpuException(rip, vector, error_code, (signame, code, 0))
        exc = IllegalInstruction(rip, word)
        exc.linux_signal = ("SIGILL", ILL_ILLOPN, rip)
        return exc
    if vector == 3:
        exc = GuestTrap(rip, "int3", 0xCC)
        exc.linux_signal = ("SIGTRAP", SI_KERNEL, 0)
        return exc
    name, signame, code, at_rip = VECTORS.get(vector, ("", "SIGSEGV", SI_KERNEL, False))
    if vector == 1 and not single_step:
        code = TRAP_BRKPT                   # int1 (icebp), as Linux's get_si_code gives without DR6.BS
    if vector in (16, 19):
        code = _simd_code(emu.reg_read("mxcsr")) if vector == 19 else FPE_FLTINV
    return CpuException(rip, vector, error_code, (signame, code, rip if at_rip else 0))


def _code_at(emu, rip: int, n: int) -> bytes:
    try:
        return bytes(emu.mem_read(rip, n))
    except MemoryFault:
        return bytes(n)
