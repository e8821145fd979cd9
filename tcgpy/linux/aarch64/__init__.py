"""AArch64 Linux user mode: the syscall ABI, constants, layouts and hwcaps."""
from __future__ import annotations

from ...frontends.aarch64 import features
from ..abi import LinuxArch, SyscallABI
from ..structs import GENERIC_64
from . import kernel_consts, signal_frame

# arch/arm64/include/uapi/asm/hwcap.h bit numbers
HWCAP_BITS = {"fp": 0, "asimd": 1, "evtstrm": 2, "aes": 3, "pmull": 4, "sha1": 5, "sha2": 6,
              "crc32": 7, "atomics": 8, "fphp": 9, "asimdhp": 10, "cpuid": 11, "asimdrdm": 12,
              "jscvt": 13, "fcma": 14, "lrcpc": 15, "dcpop": 16, "sha3": 17, "sm3": 18, "sm4": 19,
              "asimddp": 20, "sha512": 21, "sve": 22, "asimdfhm": 23, "dit": 24, "uscat": 25,
              "ilrcpc": 26, "flagm": 27, "ssbs": 28, "sb": 29, "paca": 30, "pacg": 31}

# Features the frontend implements and wants guest libcs to use: declared
# once, by the frontend.
IMPLEMENTED_FEATURES: tuple[str, ...] = features.IMPLEMENTED


def aarch64_hwcaps(features: tuple[str, ...] = IMPLEMENTED_FEATURES) -> tuple[int, int]:
    """(AT_HWCAP, AT_HWCAP2) advertising exactly ``features`` (the CPU model's)."""
    hwcap = 0
    for name in features:
        hwcap |= 1 << HWCAP_BITS[name]
    return hwcap, 0


def aarch64_cpuinfo(ncpus: int, features: tuple[str, ...] = IMPLEMENTED_FEATURES) -> str:
    hwcap, _ = aarch64_hwcaps(features)
    feats = " ".join(n for n, b in HWCAP_BITS.items() if hwcap >> b & 1)
    return "".join(f"processor\t: {i}\nFeatures\t: {feats}\nCPU implementer\t: 0x00\n"
                   f"CPU architecture: 8\n\n" for i in range(ncpus))


def start_thread(emu, pc: int, sp: int) -> None:
    """Registers at process entry, as arch/arm64 start_thread leaves them:
    all general registers zero (x0 is not an atexit hook), sp and pc set."""
    for i in range(31):
        emu.reg_write(f"x{i}", 0)
    emu.reg_write("nzcv", 0)
    emu.reg_write("sp", sp)
    emu.reg_write("pc", pc)


CONTEXT_REGS = (*(f"x{i}" for i in range(31)), "sp", "pc", "nzcv", "tpidr_el0", "fpcr", "fpsr",
                *(f"q{i}" for i in range(32)))


def clear_exclusive(emu) -> None:
    """CLREX: forget the exclusive monitor (on a thread switch)."""
    env = getattr(emu, "env", None)
    if env is not None and hasattr(env, "excl_addr"):
        env.excl_addr = (1 << 64) - 1


LINUX_ARCH = LinuxArch(
    name="aarch64",
    elf_machine="EM_AARCH64",
    uname_machine="aarch64",
    platform="aarch64",
    abi=SyscallABI(number="x8", args=("x0", "x1", "x2", "x3", "x4", "x5"), ret="x0"),
    consts=kernel_consts,
    structs=GENERIC_64,
    hwcaps=aarch64_hwcaps,
    minsigstksz=signal_frame.MINSIGSTKSZ,
    sigframe=signal_frame,
    start_thread=start_thread,
    cpuinfo=aarch64_cpuinfo,
    context_regs=CONTEXT_REGS,
    clear_exclusive=clear_exclusive,
    tls_register="tpidr_el0",
    tbi=True,           # Linux sets TCR_EL1.TBI0: EL0 data accesses ignore the top byte (Top Byte Ignore)
)
