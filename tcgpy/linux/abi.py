"""What an architecture contributes to Linux user mode: its syscall ABI
(which registers hold the number, the arguments and the result), its kernel
constants, struct layouts, the auxv hardware capabilities and its signal
frame.  Everything else in tcgpy.linux is architecture-neutral."""
from __future__ import annotations

from types import ModuleType
from typing import Callable

from ..record import factory, record
from ..targets import from_elf
from .structs import Layout


class BadSignalFrame(Exception):
    """A ``sigframe.restore_rt_frame`` found a frame the kernel would not
    restore: rt_sigreturn then gives SIGSEGV."""


@record(frozen=True)
class SyscallABI:
    """Qiling-style: where a syscall's number, arguments and result live."""
    number: str
    args: tuple[str, ...]
    ret: str


@record(frozen=True)
class LinuxArch:
    name: str                           # tcgpy.frontends arch name
    elf_machine: str                    # pyelftools e_machine
    uname_machine: str                  # utsname.machine
    platform: str                       # AT_PLATFORM string
    abi: SyscallABI
    consts: ModuleType                  # generated kernel_consts module
    structs: dict[str, Layout]
    hwcaps: Callable[..., tuple[int, int]]  # (features=all) -> (AT_HWCAP, AT_HWCAP2)
    minsigstksz: int                    # MINSIGSTKSZ (sigaltstack's least size), and AT_MINSIGSTKSZ ...
    sigframe: ModuleType                # setup_rt_frame / restore_rt_frame (BadSignalFrame) / TRAMPOLINE
    start_thread: Callable[[object, int, int], None]   # (emu, pc, sp): registers at process entry
    cpuinfo: Callable[..., str] = lambda ncpus, features=(): ""   # /proc/cpuinfo text
    # clone(2)'s argument order differs between architectures (x86_64 puts
    # child_tid before tls); names for the registers after flags and newsp.
    clone_args: tuple[str, str, str] = ("ptid", "tls", "ctid")
    # registers that make up a thread's context (saved/restored on a switch)
    context_regs: tuple[str, ...] = ()
    clear_exclusive: Callable[[object], None] = lambda emu: None
    stack_pointer: str = "sp"
    pc: str = "pc"
    syscall_insn_size: int = 4          # a restarted syscall runs its instruction again
    tls_register: str = ""
    # ... unless the CPU decides the signal frame's size (x86: the XSAVE area): (emu) -> AT_MINSIGSTKSZ
    frame_size: Callable[[object], int] | None = None
    elf_flags: int = 0
    # user space's data accesses ignore the address's top byte (a tag):
    # tcgpy.ir.ops.MemOp.TBI, on the accesses the frontend marks
    tbi: bool = False
    extra: dict = factory(dict)

    def nr(self, name: str) -> int:
        return self.consts.SYSCALLS[name]


def get_linux_arch(elf_machine: str | int) -> LinuxArch | None:
    """The Linux user-mode description for an ELF e_machine (pyelftools'
    name or the number), or None (through the target registry, tcgpy.targets)."""
    target = from_elf(elf_machine)
    return None if target is None else target.linux_arch
