"""A Unicorn-backed stand-in for tcgpy.Emulator with the same Linux-facing
surface (mem_*, reg_*, run, on_syscall, request_exit, the tcgpy fault
exceptions).  Tests run the Linux layer on it with a complete AArch64 CPU,
so glibc programs exercise the loader, syscalls and signal frames before
tcgpy's own frontend can run them -- the CPU is the reference here, the
Linux layer is what is under test."""
from __future__ import annotations

import unicorn
from unicorn import arm64_const as A

from tcgpy.errors import GuestTrap, IllegalInstruction, MemoryFault
from tcgpy.frontends import get_arch

_PERMS = {"r": unicorn.UC_PROT_READ, "w": unicorn.UC_PROT_WRITE, "x": unicorn.UC_PROT_EXEC}
_REGS = {**{f"x{i}": getattr(A, f"UC_ARM64_REG_X{i}") for i in range(29)},
         "x29": A.UC_ARM64_REG_X29, "x30": A.UC_ARM64_REG_X30, "sp": A.UC_ARM64_REG_SP,
         "pc": A.UC_ARM64_REG_PC, "nzcv": A.UC_ARM64_REG_NZCV, "tpidr_el0": A.UC_ARM64_REG_TPIDR_EL0,
         "fpcr": A.UC_ARM64_REG_FPCR, "fpsr": A.UC_ARM64_REG_FPSR,
         **{f"q{i}": getattr(A, f"UC_ARM64_REG_Q{i}") for i in range(32)}}
EXCP_UDEF, EXCP_SWI = 1, 2
_ACCESS = {unicorn.UC_MEM_READ_UNMAPPED: "read", unicorn.UC_MEM_READ_PROT: "read",
           unicorn.UC_MEM_WRITE_UNMAPPED: "write", unicorn.UC_MEM_WRITE_PROT: "write",
           unicorn.UC_MEM_FETCH_UNMAPPED: "fetch", unicorn.UC_MEM_FETCH_PROT: "fetch"}


def _perms(p) -> int:
    return sum(_PERMS[c] for c in set(p)) if isinstance(p, str) else p


class UnicornEmulator:
    def __init__(self, arch: str = "aarch64"):
        self.arch = get_arch(arch)
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        # The "max" model has what AT_HWCAP advertises (LSE atomics, which
        # glibc then uses); the default Cortex-A72 model has not.
        self.uc.ctl_set_cpu_model(A.UC_CPU_ARM64_MAX)
        # Enable FP/SIMD (CPACR_EL1.FPEN) as the kernel does for EL0.
        self.uc.reg_write(A.UC_ARM64_REG_CPACR_EL1, 3 << 20)
        self.on_syscall = None
        self._backings = {}        # kept alive while Unicorn points into them
        self._event = None
        self._fault = None
        self.uc.hook_add(unicorn.UC_HOOK_INTR, self._intr)
        self.uc.hook_add(unicorn.UC_HOOK_MEM_INVALID, self._invalid)

    def _intr(self, uc, intno, _):
        kind = {EXCP_SWI: "syscall", EXCP_UDEF: "illegal"}.get(intno, "trap")
        self._event = (kind, intno)
        uc.emu_stop()

    def _invalid(self, uc, access, address, size, value, _):
        self._fault = (address, _ACCESS.get(access, "read"))
        return False

    def mem_map(self, address, size, perms="rwx", backing=None):
        if backing is None:
            self.uc.mem_map(address, size, _perms(perms))
            return
        # Host memory of a shared mapping (tcgpy.softmmu.memory.host_backing).
        self.uc.mem_map_ptr(address, size, _perms(perms), backing.host)
        self._backings[address] = backing

    def mem_unmap(self, address, size):
        self.uc.mem_unmap(address, size)

    def unmap_any(self, address, size):
        """munmap(2)'s rule: the mapped parts of the range (tcgpy.Emulator.unmap_any)."""
        end = address + size
        for s, e, _ in list(self.uc.mem_regions()):
            lo, hi = max(s, address), min(e + 1, end)
            if lo < hi:
                self.uc.mem_unmap(lo, hi - lo)

    def mem_protect(self, address, size, perms):
        self.uc.mem_protect(address, size, _perms(perms))

    def mem_regions(self):
        return [(s, e + 1, p) for s, e, p in self.uc.mem_regions()]

    def mem_read(self, address, size):
        try:
            return bytes(self.uc.mem_read(address, size))
        except unicorn.UcError:
            raise MemoryFault(self.reg_read("pc"), address, "read") from None

    def mem_write(self, address, data):
        try:
            self.uc.mem_write(address, bytes(data))
        except unicorn.UcError:
            raise MemoryFault(self.reg_read("pc"), address, "write") from None

    def reg_read(self, name):
        return self.uc.reg_read(_REGS[name])

    def reg_write(self, name, value):
        self.uc.reg_write(_REGS[name], value)

    # The engine interface's hooks for the Linux layer (tcgpy/accel/engine.py):
    # Unicorn's CPU shares no translations with forked children, and a host
    # SIGBUS in its own code is not caught (tests/test_linux_guest.py: bushot).
    counts_instructions = True

    def prefetch_code(self, pcs):
        pass

    def learn_code(self):
        pass

    def code_learned(self):
        return []

    def watch_host_bus(self, backing, lazy=False):
        pass

    def take_host_bus_fault(self):
        return None

    def request_exit(self):
        # Another thread: must not overwrite a syscall the hook just recorded.
        self._exit_requested = True
        self.uc.emu_stop()

    def run(self, begin, until=None, count=None, timeout=None):
        pc = begin
        self._exit_requested = False
        while True:
            self._event = self._fault = None
            try:
                self.uc.emu_start(pc, (1 << 64) - 1)
            except unicorn.UcError as e:
                pc = self.reg_read("pc")
                if self._fault is not None:
                    raise MemoryFault(pc, *self._fault) from None
                if e.errno == unicorn.UC_ERR_INSN_INVALID:
                    raise IllegalInstruction(pc, int.from_bytes(self.uc.mem_read(pc, 4), "little")) from None
                raise MemoryFault(pc, pc, "fetch") from None
            ev = self._event
            if ev is None:
                return            # request_exit (or a stop with nothing to do)
            if ev[0] == "illegal":
                pc = self.reg_read("pc")
                raise IllegalInstruction(pc, int.from_bytes(self.uc.mem_read(pc, 4), "little"))
            if ev[0] == "trap":
                pc = self.reg_read("pc")
                raise GuestTrap(pc, "brk")
            self.on_syscall(self)
            pc = self.reg_read("pc")
            if self._exit_requested:
                return


def main(argv: list[str]) -> int:
    """``python tests/linux_unicorn.py [tcgpy run options] PROG ARGS...``: exactly
    ``tcgpy run`` (same options, exit status, signal death, execve) with
    Unicorn as the CPU."""
    import os
    import sys

    from tcgpy.cli import build_parser, run_main

    args = build_parser().parse_args(["run", *argv])
    return run_main(args, emulator_factory=UnicornEmulator,
                    exec_prefix=[sys.executable, os.path.abspath(__file__)])


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
