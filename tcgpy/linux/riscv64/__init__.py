"""riscv64 Linux user mode: the syscall ABI (asm-generic numbers), constants,
layouts, hwcaps, the signal frame and the registers at process entry."""
from __future__ import annotations

from types import SimpleNamespace

from ..abi import LinuxArch, SyscallABI
from ..structs import GENERIC_64, Layout
from . import kernel_consts, signal_frame
from . import syscalls  # noqa: F401  (riscv_hwprobe, riscv_flush_icache)

# The generated constants come from the cross toolchain's Linux 6.1 headers,
# older than riscv_hwprobe (Linux 6.4: __NR_arch_specific_syscall + 14).
CONSTS = SimpleNamespace(**{k: v for k, v in vars(kernel_consts).items() if k.isupper()})
CONSTS.SYSCALLS = {**kernel_consts.SYSCALLS, "riscv_hwprobe": 258}

# AT_HWCAP has one bit per single-letter extension, bit (letter - 'A')
# (arch/riscv/include/uapi/asm/hwcap.h): what the frontend implements,
# RV64IMAFDC (Zba/Zbb/Zbs have no letter bit: riscv_hwprobe says them).
IMPLEMENTED_FEATURES: tuple[str, ...] = ("i", "m", "a", "f", "d", "c")


def riscv64_hwcaps(features: tuple[str, ...] = IMPLEMENTED_FEATURES) -> tuple[int, int]:
    hwcap = 0
    for letter in features:
        hwcap |= 1 << (ord(letter.upper()) - ord("A"))
    return hwcap, 0


def riscv64_cpuinfo(ncpus: int, features: tuple[str, ...] = IMPLEMENTED_FEATURES) -> str:
    isa = "rv64" + "".join(f for f in "imafdc" if f in features)
    return "".join(f"processor\t: {i}\nhart\t\t: {i}\nisa\t\t: {isa}\nmmu\t\t: sv48\n\n"
                   for i in range(ncpus))


def start_thread(emu, pc: int, sp: int) -> None:
    """Registers at process entry, as arch/riscv start_thread and
    ELF_PLAT_INIT leave them: all zero (a0 is no atexit hook), sp and pc set."""
    for i in range(1, 32):
        emu.reg_write(f"x{i}", 0)
    emu.reg_write("fcsr", 0)
    emu.reg_write("sp", sp)
    emu.reg_write("pc", pc)


CONTEXT_REGS = (*(f"x{i}" for i in range(1, 32)), "pc", *(f"f{i}" for i in range(32)), "fcsr")


def clear_reservation(emu) -> None:
    """Forget the LR reservation (on a thread switch, as a trap does)."""
    env = getattr(emu, "env", None)
    if env is not None and hasattr(env, "excl_addr"):
        env.excl_addr = (1 << 64) - 1


# asm-generic struct sigaction without SA_RESTORER: no sa_restorer field
STRUCTS = {**GENERIC_64,
           "sigaction": Layout("sigaction", (("sa_handler", "Q"), ("sa_flags", "Q"), ("sa_mask", "Q")))}

LINUX_ARCH = LinuxArch(
    name="riscv64",
    elf_machine="EM_RISCV",
    uname_machine="riscv64",
    platform="",                        # riscv Linux gives no AT_PLATFORM
    abi=SyscallABI(number="a7", args=("a0", "a1", "a2", "a3", "a4", "a5"), ret="a0"),
    consts=CONSTS,
    structs=STRUCTS,
    hwcaps=riscv64_hwcaps,
    minsigstksz=signal_frame.MINSIGSTKSZ,
    sigframe=signal_frame,
    start_thread=start_thread,
    cpuinfo=riscv64_cpuinfo,
    context_regs=CONTEXT_REGS,
    clear_exclusive=clear_reservation,
    tls_register="tp",
)
