"""x86-64 Linux user mode (run by the KVM engine): the syscall ABI,
constants, the layouts that differ from asm-generic, hwcaps and the signal frame."""
from __future__ import annotations

import functools

from ..abi import LinuxArch, SyscallABI
from ..structs import GENERIC_64, Layout
from . import kernel_consts, signal_frame, syscalls  # noqa: F401  (syscalls registers its rows)

STRUCTS: dict[str, Layout] = {**GENERIC_64, **{lay.name: lay for lay in (
    # arch/x86/include/uapi/asm/stat.h (64-bit): st_nlink before st_mode, 64-bit blksize
    Layout("stat", (("st_dev", "Q"), ("st_ino", "Q"), ("st_nlink", "Q"), ("st_mode", "I"),
                    ("st_uid", "I"), ("st_gid", "I"), ("_pad0", "i"), ("st_rdev", "Q"),
                    ("st_size", "q"), ("st_blksize", "q"), ("st_blocks", "q"),
                    ("st_atime_sec", "q"), ("st_atime_nsec", "Q"), ("st_mtime_sec", "q"),
                    ("st_mtime_nsec", "Q"), ("st_ctime_sec", "q"), ("st_ctime_nsec", "Q"),
                    ("_unused", "24s"))),
    # x86-64 packs struct epoll_event (12 bytes)
    Layout("epoll_event", (("events", "I"), ("data", "Q"))),
)}}


@functools.lru_cache(maxsize=1)
def _cpuid_leaf1() -> tuple[int, int, int, int]:
    """CPUID leaf 1 as KVM gives it to guests (what the guest's own cpuid sees)."""
    import os

    from ...accel.kvm import kvmapi as K
    fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    try:
        cpuid = K.Cpuid()
        cpuid.nent = K.MAX_CPUID
        K.ioctl(fd, K.GET_SUPPORTED_CPUID, cpuid)
    finally:
        os.close(fd)
    for e in cpuid.entries[:cpuid.nent]:
        if e.function == 1:
            return e.eax, e.ebx, e.ecx, e.edx
    return 0, 0, 0, 0


def x86_64_hwcaps(features=()) -> tuple[int, int]:
    """AT_HWCAP is CPUID.1:EDX, as the kernel gives it; AT_HWCAP2 is 0 (no
    ring-3 FSGSBASE, no ring-3 MONITOR/MWAIT)."""
    try:
        return _cpuid_leaf1()[3], 0
    except OSError:
        return 0, 0


def x86_64_cpuinfo(ncpus: int, features=()) -> str:
    """The host's /proc/cpuinfo for the first ``ncpus`` processors (the guest runs on that CPU)."""
    try:
        with open("/proc/cpuinfo") as f:
            blocks = [b for b in f.read().split("\n\n") if b.strip()]
    except OSError:
        blocks = []
    return "".join(b + "\n\n" for b in blocks[:ncpus])


def start_thread(emu, pc: int, sp: int) -> None:
    """Registers at process entry (arch/x86 start_thread): general registers
    zero (rdx is no atexit hook), rflags 0x202, rsp and rip set."""
    for r in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", *(f"r{i}" for i in range(8, 16))):
        emu.reg_write(r, 0)
    emu.reg_write("rflags", 0x202)
    emu.reg_write("fs_base", 0)
    emu.reg_write("gs_base", 0)
    emu.reg_write("rsp", sp)
    emu.reg_write("rip", pc)


# "xsave" is the whole FP/vector state (x87, SSE, AVX): glibc's string
# functions keep data in the upper halves of the ymm registers.
CONTEXT_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", *(f"r{i}" for i in range(8, 16)),
                "rip", "rflags", "fs_base", "gs_base", "xsave")

LINUX_ARCH = LinuxArch(
    name="x86_64",
    elf_machine="EM_X86_64",
    uname_machine="x86_64",
    platform="x86_64",
    abi=SyscallABI(number="rax", args=("rdi", "rsi", "rdx", "r10", "r8", "r9"), ret="rax"),
    consts=kernel_consts,
    structs=STRUCTS,
    hwcaps=x86_64_hwcaps,
    minsigstksz=signal_frame.MINSIGSTKSZ,
    sigframe=signal_frame,
    start_thread=start_thread,
    cpuinfo=x86_64_cpuinfo,
    clone_args=("ptid", "ctid", "tls"),
    context_regs=CONTEXT_REGS,
    stack_pointer="rsp",
    pc="rip",
    syscall_insn_size=2,
    tls_register="fs_base",
    frame_size=signal_frame.frame_size,
)
