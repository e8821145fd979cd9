"""The registry of guest targets: one declaration per architecture.

A :class:`Target` holds the facts about a guest architecture that the
architecture-neutral parts of tcgpy need before (or without) loading its
frontend: its names, its ELF identity, how instructions are fetched (the
fetch unit and the rule giving an instruction's length from its first unit:
RISC-V's compressed instructions are 16-bit, A64's are all 32-bit), page
size, byte order, the Unicorn and Capstone ids of the peer engines, and where
its pieces live (frontend, Linux ABI, difftest forms), named as modules and
imported on first use so that ``tcgpy run`` loads one target only.

Everything that chooses by architecture looks a target up here, by name
(:func:`lookup`) or from an ELF header (:func:`from_elf`); nothing else holds
an if-chain on architecture names.
"""
from __future__ import annotations

import importlib
from typing import Callable

from .record import record


def _fixed_length(unit: int) -> Callable[[int], int]:
    def length(first: int) -> int:
        return unit
    return length


def _rv_length(first: int) -> int:
    """RISC-V's length rule (ISA manual, "Base Instruction-Length Encoding"):
    low bits 11 mark a 32-bit instruction, anything else a 16-bit compressed
    one.  The longer encodings (low five bits 11111) are reserved; they are
    fetched as 32 bits and decode as illegal."""
    return 4 if first & 3 == 3 else 2


def _or_names(module, names: str) -> int:
    v = 0
    for n in names.split("|"):
        v |= getattr(module, n)
    return v


@record(frozen=True)
class Target:
    """One guest architecture as the rest of tcgpy sees it."""
    name: str
    aliases: tuple[str, ...]
    elf_machine: str                       # pyelftools' e_machine name
    elf_machine_number: int
    page_size: int
    endianness: str                        # "little" | "big"
    fetch_unit: int                        # bytes; instructions are aligned to it
    insn_length: Callable[[int], int]      # first fetch unit -> length in bytes
    max_insn_length: int
    unicorn_names: tuple[str, str]         # UC_ARCH_*, UC_MODE_*
    capstone_names: tuple[str, str]        # CS_ARCH_*, CS_MODE_* (modes joined by "|")
    frontend: str                          # module with ARCH (frontends.arch.ArchInfo); "": no TCG frontend
    linux: str                             # module with LINUX_ARCH (linux.abi.LinuxArch)
    difftest: str                          # module with DIFF_ARCH (difftest.ArchDef or StandaloneDifftest)
    bench: str                             # module with bench_workloads and bench_blocks
    qemu_user: str                         # qemu-user binary of the bench comparisons
    gnu_triplet: str                       # cross toolchain prefix (guest test programs)
    guest_bin: str                         # its guest test programs in a source checkout
    kvm: bool = False                      # runs natively under KVM on a host of its own architecture
    # Exit kind (tcgpy.ir.ops.Exit name) -> the interrupt number Unicorn's
    # UC_HOOK_INTR callbacks receive for it (QEMU's EXCP_* of the target)
    interrupts: tuple[tuple[str, int], ...] = ()
    # The IR semantics this target defines (tcgpy.ir.semantics): name ->
    # module.  Target-specific IR ops (vec, rvfp) name these, so the IR and
    # the backends reach the definitions without importing the frontend.
    semantics: tuple[tuple[str, str], ...] = ()

    def fetch(self, read: Callable[[int, int], int | None], pc: int) -> tuple[int, int] | None:
        """The instruction at ``pc`` as (word, length in bytes), or None when
        ``pc`` is misaligned or a byte of the instruction is not executable.
        ``read(addr, n)`` reads ``n`` bytes of executable memory (None if not)."""
        unit = self.fetch_unit
        if pc & (unit - 1):
            return None
        first = read(pc, unit)
        if first is None:
            return None
        if self.max_insn_length == unit:
            return first, unit          # (one length: no rule to ask, once per instruction translated)
        n = self.insn_length(first)
        if n == unit:
            return first, n
        # the rest may lie on the next page, with its own permissions
        rest = read(pc + unit, n - unit)
        if rest is None:
            return None
        return first | rest << (8 * unit), n

    def encode(self, word: int) -> bytes:
        """The bytes of one instruction ``word`` (its length from the rule)."""
        return word.to_bytes(self.insn_length(word & ((1 << (8 * self.fetch_unit)) - 1)), self.endianness)

    def words(self, code: bytes) -> list[int]:
        """``code`` split into instruction words by the length rule."""
        out, i, u = [], 0, self.fetch_unit
        while i + u <= len(code):
            n = self.insn_length(int.from_bytes(code[i:i + u], self.endianness))
            out.append(int.from_bytes(code[i:i + n], self.endianness))
            i += n
        return out

    @property
    def capstone(self) -> tuple[int, int]:
        """(CS_ARCH_*, CS_MODE_*) for ``capstone.Cs`` (imports capstone)."""
        import capstone
        return tuple(_or_names(capstone, n) for n in self.capstone_names)

    @property
    def unicorn(self) -> tuple[int, int]:
        """(UC_ARCH_*, UC_MODE_*) for ``unicorn.Uc`` (imports unicorn)."""
        import unicorn
        return tuple(_or_names(unicorn, n) for n in self.unicorn_names)

    def _load(self, module: str, attr: str):
        return getattr(importlib.import_module(module), attr)

    @property
    def arch(self):
        """The frontend's ArchInfo (imports the frontend)."""
        return self._load(self.frontend, "ARCH")

    @property
    def linux_arch(self):
        """The Linux user-mode description (linux.abi.LinuxArch)."""
        return self._load(self.linux, "LINUX_ARCH")

    @property
    def bench_module(self):
        """The module with the target's ``tcgpy bench`` loops and blocks."""
        return importlib.import_module(self.bench)

    @property
    def diff_def(self):
        """The difftest's description (tcgpy.difftest.ArchDef, or
        StandaloneDifftest for a campaign of its own); importing the module
        registers the target's form classes."""
        return self._load(self.difftest, "DIFF_ARCH")


TARGETS: tuple[Target, ...] = (
    Target(
        name="aarch64", aliases=("arm64",),
        elf_machine="EM_AARCH64", elf_machine_number=183,
        page_size=4096, endianness="little",
        fetch_unit=4, insn_length=_fixed_length(4), max_insn_length=4,
        unicorn_names=("UC_ARCH_ARM64", "UC_MODE_ARM"),
        capstone_names=("CS_ARCH_ARM64", "CS_MODE_ARM"),
        frontend="tcgpy.frontends.aarch64",
        linux="tcgpy.linux.aarch64",
        difftest="tcgpy.difftest.aarch64",
        bench="tcgpy.benchmarks",
        qemu_user="qemu-aarch64",
        gnu_triplet="aarch64-linux-gnu",
        guest_bin="tests/guest/bin",
        interrupts=(("SYSCALL", 2), ("TRAP", 7)),          # EXCP_SWI, EXCP_BKPT
        semantics=(("arm_fp", "tcgpy.frontends.aarch64.fpsem"),      # the FP pseudocode
                   ("arm_vec", "tcgpy.frontends.aarch64.vecsem"),    # the vec op
                   ("arm_crc32", "tcgpy.frontends.aarch64.crc32")),  # the crc32 helper
    ),
    Target(
        name="riscv64", aliases=("rv64", "rv64gc"),
        elf_machine="EM_RISCV", elf_machine_number=243,
        page_size=4096, endianness="little",
        fetch_unit=2, insn_length=_rv_length, max_insn_length=4,
        unicorn_names=("UC_ARCH_RISCV", "UC_MODE_RISCV64"),
        capstone_names=("CS_ARCH_RISCV", "CS_MODE_RISCV64|CS_MODE_RISCVC"),
        frontend="tcgpy.frontends.riscv64",
        linux="tcgpy.linux.riscv64",
        difftest="tcgpy.difftest.riscv64",
        bench="tcgpy.difftest.riscv64.bench",
        qemu_user="qemu-riscv64",
        gnu_triplet="riscv64-linux-gnu",
        guest_bin="tests/guest/riscv64/bin",
        interrupts=(("SYSCALL", 8), ("TRAP", 3)),          # RISCV_EXCP_U_ECALL, _BREAKPOINT
        semantics=(("riscv_fp", "tcgpy.frontends.riscv64.softfloat"),),  # the rvfp op
    ),
    # No TCG frontend yet: x86-64 guests run on an x86-64 host under KVM
    # (tcgpy/accel/kvm), with this Linux layer.
    Target(
        name="x86_64", aliases=("x86-64", "amd64"),
        elf_machine="EM_X86_64", elf_machine_number=62,
        page_size=4096, endianness="little",
        fetch_unit=1, insn_length=_fixed_length(1), max_insn_length=15,
        unicorn_names=("UC_ARCH_X86", "UC_MODE_64"),
        capstone_names=("CS_ARCH_X86", "CS_MODE_64"),
        frontend="",
        linux="tcgpy.linux.x86_64",
        difftest="tcgpy.difftest.x86_64",
        bench="",
        qemu_user="qemu-x86_64",
        gnu_triplet="x86_64-linux-gnu",
        guest_bin="tests/guest/bin-x86_64",
        kvm=True,
    ),
)

_BY_NAME: dict[str, Target] = {}
for _t in TARGETS:
    for _n in (_t.name, *_t.aliases):
        _BY_NAME[_n] = _t
_BY_ELF: dict[str, Target] = {t.elf_machine: t for t in TARGETS}
_BY_ELF_NUMBER: dict[int, Target] = {t.elf_machine_number: t for t in TARGETS}


def names(tcg: bool = False) -> tuple[str, ...]:
    """The targets' canonical names (``tcg``: only those with a frontend)."""
    return tuple(t.name for t in TARGETS if t.frontend or not tcg)


def semantics_provider(name: str) -> str:
    """The module that defines the IR semantics called ``name``."""
    for t in TARGETS:
        for provided, module in t.semantics:
            if provided == name:
                return module
    raise LookupError(f"no target defines the IR semantics {name!r}")


def lookup(name: str) -> Target:
    """The target called ``name`` (or an alias of it); ValueError otherwise."""
    t = _BY_NAME.get(name.lower())
    if t is None:
        known = ", ".join("/".join((t.name, *t.aliases)) for t in TARGETS)
        raise ValueError(f"unsupported guest architecture {name!r} (supported: {known})")
    return t


def from_elf(machine: str | int) -> Target | None:
    """The target of an ELF ``e_machine`` (pyelftools' name or the number), or None."""
    if isinstance(machine, int):
        return _BY_ELF_NUMBER.get(machine)
    return _BY_ELF.get(machine)
