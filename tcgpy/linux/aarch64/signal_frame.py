"""The AArch64 rt_sigframe, laid out as arch/arm64/kernel/signal.c does:

    sp ->  struct rt_sigframe { siginfo (128) ; ucontext }      16-aligned
           struct frame_record { fp, lr }                      x29 points here

ucontext: uc_flags, uc_link, uc_stack (stack_t), uc_sigmask (8 bytes + 120
unused), then the 16-aligned sigcontext: fault_address, x0..x30, sp, pc,
pstate and 4096 reserved bytes holding context records (fpsimd_context, an
esr_context for faults, then a zero terminator).
"""
from __future__ import annotations

import struct

SIGINFO_SIZE = 128
UC_FLAGS, UC_LINK, UC_STACK, UC_SIGMASK = 0, 8, 16, 40
UC_MCONTEXT = 176
SC_FAULT_ADDRESS = UC_MCONTEXT
SC_REGS = UC_MCONTEXT + 8
SC_SP = SC_REGS + 31 * 8
SC_PC = SC_SP + 8
SC_PSTATE = SC_PC + 8
SC_RESERVED = SC_PSTATE + 8 + 8        # __reserved is 16-aligned
RESERVED_SIZE = 4096
UCONTEXT_SIZE = SC_RESERVED + RESERVED_SIZE
FRAME_SIZE = SIGINFO_SIZE + UCONTEXT_SIZE
FRAME_RECORD_SIZE = 16
MINSIGSTKSZ = 5120                     # arm64 uapi MINSIGSTKSZ

FPSIMD_MAGIC, FPSIMD_SIZE = 0x46508001, 16 + 32 * 16
ESR_MAGIC, ESR_SIZE = 0x45535201, 16

# mov x8, #__NR_rt_sigreturn ; svc #0 -- what the vDSO's __kernel_rt_sigreturn
# holds; used when the guest gives no SA_RESTORER (glibc on AArch64 relies on it).
TRAMPOLINE = struct.pack("<II", 0xD2801168, 0xD4000001)


def _read_q(emu, i: int) -> int:
    try:
        return emu.reg_read(f"q{i}")
    except Exception:       # vector registers not exposed by this emulator build
        return 0


def _write_q(emu, i: int, value: int) -> None:
    try:
        emu.reg_write(f"q{i}", value)
    except Exception:
        pass


def setup_rt_frame(emu, sp: int, signo: int, siginfo: bytes, handler: int, restorer: int,
                   oldmask: int, altstack: tuple[int, int, int], fault_address: int = 0,
                   esr: int = 0, siginfo_arg: bool = True) -> None:
    """Push a frame below ``sp`` and point the guest at ``handler``."""
    sp &= ~15
    record = (sp - FRAME_RECORD_SIZE) & ~15
    frame = (record - FRAME_SIZE) & ~15
    regs = [emu.reg_read(f"x{i}") for i in range(31)]
    pc = emu.reg_read("pc")
    old_sp = emu.reg_read("sp")
    pstate = emu.reg_read("nzcv")

    buf = bytearray(FRAME_SIZE)
    buf[0:len(siginfo)] = siginfo
    uc = SIGINFO_SIZE
    ss_sp, ss_flags, ss_size = altstack
    struct.pack_into("<QQQiiQQ", buf, uc + UC_FLAGS, 0, 0, ss_sp, ss_flags, 0, ss_size, oldmask)
    struct.pack_into("<Q", buf, uc + SC_FAULT_ADDRESS, fault_address)
    struct.pack_into("<31Q", buf, uc + SC_REGS, *regs)
    struct.pack_into("<QQQ", buf, uc + SC_SP, old_sp, pc, pstate)
    res = uc + SC_RESERVED
    struct.pack_into("<IIII", buf, res, FPSIMD_MAGIC, FPSIMD_SIZE,
                     emu.reg_read("fpsr") & 0xFFFFFFFF, emu.reg_read("fpcr") & 0xFFFFFFFF)
    for i in range(32):
        q = _read_q(emu, i)
        struct.pack_into("<QQ", buf, res + 16 + 16 * i, q & (2**64 - 1), q >> 64)
    res += FPSIMD_SIZE
    if esr:
        struct.pack_into("<IIQ", buf, res, ESR_MAGIC, ESR_SIZE, esr)
        res += ESR_SIZE
    struct.pack_into("<II", buf, res, 0, 0)
    emu.mem_write(frame, bytes(buf))
    emu.mem_write(record, struct.pack("<QQ", regs[29], regs[30]))

    emu.reg_write("x0", signo)
    emu.reg_write("x1", frame if siginfo_arg else 0)
    emu.reg_write("x2", frame + SIGINFO_SIZE if siginfo_arg else 0)
    emu.reg_write("sp", frame)
    emu.reg_write("x29", record)
    emu.reg_write("x30", restorer)
    emu.reg_write("pc", handler)


def restore_rt_frame(emu) -> int:
    """rt_sigreturn: restore the context saved at sp; returns the saved signal mask."""
    frame = emu.reg_read("sp")
    uc = frame + SIGINFO_SIZE
    data = emu.mem_read(uc, UCONTEXT_SIZE)
    (mask,) = struct.unpack_from("<Q", data, UC_SIGMASK)
    regs = struct.unpack_from("<31Q", data, SC_REGS)
    sp, pc, pstate = struct.unpack_from("<QQQ", data, SC_SP)
    for i, v in enumerate(regs):
        emu.reg_write(f"x{i}", v)
    emu.reg_write("sp", sp)
    emu.reg_write("pc", pc)
    emu.reg_write("nzcv", pstate & 0xF000_0000)
    magic, size, fpsr, fpcr = struct.unpack_from("<IIII", data, SC_RESERVED)
    if magic == FPSIMD_MAGIC:
        emu.reg_write("fpsr", fpsr)
        emu.reg_write("fpcr", fpcr)
        for i in range(32):
            lo, hi = struct.unpack_from("<QQ", data, SC_RESERVED + 16 + 16 * i)
            _write_q(emu, i, lo | (hi << 64))
    return mask
