"""The riscv64 signal frame (arch/riscv/kernel/signal.c): struct rt_sigframe
{ siginfo; ucontext } with the ucontext of arch/riscv/include/uapi/asm/
ucontext.h and sigcontext.h -- uc_sigmask followed by padding to 1024 bits,
then uc_mcontext (16-aligned): sc_regs (pc, x1..x31) and the F/D state
(f0..f31 and fcsr, in the union __riscv_fp_state, whose last words double
as the extension-context header: a zero END header, no vector state).

The handler gets a0 = signo, a1 = &info, a2 = &uc, ra = the restorer (the
vDSO's __vdso_rt_sigreturn: li a7, 139; ecall), sp = the frame."""
from __future__ import annotations

import struct

SIGINFO_SIZE = 128
UC_FLAGS, UC_SIGMASK = 0, 40
UC_MCONTEXT = 176                       # 48 + 1024/8 - 8 = 168, aligned to 16
SC_REGS = UC_MCONTEXT                   # pc, then x1..x31
SC_FPREGS = SC_REGS + 32 * 8            # f[32], fcsr
SC_FCSR = SC_FPREGS + 32 * 8
FP_STATE_SIZE = 528                     # sizeof(union __riscv_fp_state): the Q state
UCONTEXT_SIZE = SC_FPREGS + FP_STATE_SIZE
FRAME_SIZE = SIGINFO_SIZE + UCONTEXT_SIZE
MINSIGSTKSZ = 2048                      # asm-generic uapi MINSIGSTKSZ

# li a7, 139 (__NR_rt_sigreturn) ; ecall
TRAMPOLINE = struct.pack("<II", 0x08B00893, 0x00000073)


def setup_rt_frame(emu, sp: int, signo: int, siginfo: bytes, handler: int, restorer: int,
                   oldmask: int, altstack: tuple[int, int, int], fault_address: int = 0,
                   esr: int = 0, siginfo_arg: bool = True) -> None:
    """Push a frame below ``sp`` and point the guest at ``handler``."""
    frame = (sp - FRAME_SIZE) & ~15
    buf = bytearray(FRAME_SIZE)
    buf[0:len(siginfo)] = siginfo
    uc = SIGINFO_SIZE
    ss_sp, ss_flags, ss_size = altstack
    struct.pack_into("<QQQiiQQ", buf, uc + UC_FLAGS, 0, 0, ss_sp, ss_flags, 0, ss_size, oldmask)
    struct.pack_into("<32Q", buf, uc + SC_REGS, emu.reg_read("pc"),
                     *(emu.reg_read(f"x{i}") for i in range(1, 32)))
    struct.pack_into("<32QI", buf, uc + SC_FPREGS, *(emu.reg_read(f"f{i}") for i in range(32)),
                     emu.reg_read("fcsr"))
    emu.mem_write(frame, bytes(buf))
    emu.reg_write("a0", signo)
    emu.reg_write("a1", frame if siginfo_arg else 0)
    emu.reg_write("a2", frame + SIGINFO_SIZE if siginfo_arg else 0)
    emu.reg_write("sp", frame)
    emu.reg_write("ra", restorer)
    emu.reg_write("pc", handler)


def restore_rt_frame(emu) -> int:
    """rt_sigreturn: restore the context saved at sp; returns the saved signal mask."""
    uc = emu.reg_read("sp") + SIGINFO_SIZE
    data = bytes(emu.mem_read(uc, UCONTEXT_SIZE))
    (mask,) = struct.unpack_from("<Q", data, UC_SIGMASK)
    regs = struct.unpack_from("<32Q", data, SC_REGS)
    emu.reg_write("pc", regs[0])
    for i in range(1, 32):
        emu.reg_write(f"x{i}", regs[i])
    fregs = struct.unpack_from("<32QI", data, SC_FPREGS)
    for i in range(32):
        emu.reg_write(f"f{i}", fregs[i])
    emu.reg_write("fcsr", fregs[32])
    return mask
