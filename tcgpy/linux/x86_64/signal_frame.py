"""The x86-64 rt_sigframe, laid out as arch/x86/kernel/signal_64.c does:

    sp ->  struct rt_sigframe { pretcode ; ucontext (304) ; siginfo (128) }
           (sp + 8 is 16-aligned, as at a function's entry)
           fpstate (512-byte fxsave image, 64-aligned) above it

ucontext: uc_flags, uc_link, uc_stack (stack_t), uc_mcontext (the
256-byte struct sigcontext: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx,
rsp, rip, eflags, cs/gs/fs/ss, err, trapno, oldmask, cr2, fpstate pointer,
reserved), uc_sigmask.  The 128-byte red zone below the interrupted rsp is
skipped.  The FP state is the legacy fxsave image (x87, SSE, MXCSR), with
no XSAVE extension (``uc_flags`` has no UC_FP_XSTATE): AVX upper halves are
not saved across a handler.
"""
from __future__ import annotations

import struct

SIGINFO_SIZE = 128
UC_FLAGS, UC_LINK, UC_STACK, UC_MCONTEXT = 0, 8, 16, 40
SC_SIZE = 256
UC_SIGMASK = UC_MCONTEXT + SC_SIZE
UCONTEXT_SIZE = UC_SIGMASK + 8
FRAME_SIZE = 8 + UCONTEXT_SIZE + SIGINFO_SIZE
FXSAVE_SIZE = 512
RED_ZONE = 128
MINSIGSTKSZ = 2048
UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 2, 4
USER_CS, USER_DS = 0x33, 0x2B
# sigcontext order of the general registers
SC_GPRS = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx", "rdx",
           "rax", "rcx", "rsp", "rip")
SC_EFLAGS = UC_MCONTEXT + 8 * len(SC_GPRS)
SC_SEGS = SC_EFLAGS + 8
SC_ERR = SC_SEGS + 8
SC_FPSTATE = SC_ERR + 8 * 4
# What a handler may change in eflags on sigreturn (FIX_EFLAGS: CF PF AF ZF SF TF DF OF RF AC).
FIX_EFLAGS = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x10000 | 0x40000

# mov $15, %eax (rt_sigreturn) ; syscall -- for a guest that gives no SA_RESTORER
# (x86-64 glibc always does; the kernel then refuses, we are kinder).
TRAMPOLINE = bytes.fromhex("b80f000000" "0f05")


def setup_rt_frame(emu, sp: int, signo: int, siginfo: bytes, handler: int, restorer: int,
                   oldmask: int, altstack: tuple[int, int, int], fault_address: int = 0,
                   trapno: int = 0, error_code: int = 0) -> None:
    """Push a frame below ``sp`` and point the guest at ``handler``."""
    if sp == emu.reg_read("rsp"):
        sp -= RED_ZONE
    fpstate = (sp - FXSAVE_SIZE) & ~63
    frame = ((fpstate - FRAME_SIZE) & ~15) - 8
    buf = bytearray(FRAME_SIZE)
    struct.pack_into("<Q", buf, 0, restorer)
    uc = 8
    ss_sp, ss_flags, ss_size = altstack
    struct.pack_into("<QQQiiQ", buf, uc + UC_FLAGS, UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, 0,
                     ss_sp, ss_flags, 0, ss_size)
    struct.pack_into(f"<{len(SC_GPRS)}Q", buf, uc + UC_MCONTEXT, *(emu.reg_read(r) for r in SC_GPRS))
    struct.pack_into("<QHHHH", buf, uc + SC_EFLAGS, emu.reg_read("rflags"), USER_CS, 0, 0, USER_DS)
    struct.pack_into("<QQQQQ", buf, uc + SC_ERR, error_code, trapno, oldmask, fault_address, fpstate)
    struct.pack_into("<Q", buf, uc + UC_SIGMASK, oldmask)
    buf[8 + UCONTEXT_SIZE:8 + UCONTEXT_SIZE + len(siginfo)] = siginfo
    emu.mem_write(fpstate, emu.fxsave())
    emu.mem_write(frame, bytes(buf))
    emu.reg_write("rdi", signo)
    emu.reg_write("rsi", frame + 8 + UCONTEXT_SIZE)
    emu.reg_write("rdx", frame + 8)
    emu.reg_write("rax", 0)
    emu.reg_write("rsp", frame)
    emu.reg_write("rip", handler)
    # The handler starts with DF and TF clear, as the kernel leaves them.
    emu.reg_write("rflags", emu.reg_read("rflags") & ~0x500)
    emu.fxrstor(_initial_fpu(emu))


def _initial_fpu(emu) -> bytes:
    """The FP state a handler starts with: fninit's x87, MXCSR 0x1f80 (the registers keep their values)."""
    img = bytearray(emu.fxsave())
    struct.pack_into("<HHBxH", img, 0, 0x37F, 0, 0, 0)
    struct.pack_into("<I", img, 24, 0x1F80)
    return bytes(img)


def restore_rt_frame(emu) -> int:
    """rt_sigreturn: restore the context saved at rsp - 8 (the handler's ret
    popped pretcode); returns the saved signal mask."""
    uc = emu.reg_read("rsp")
    data = emu.mem_read(uc, UCONTEXT_SIZE)
    regs = struct.unpack_from(f"<{len(SC_GPRS)}Q", data, UC_MCONTEXT)
    (eflags,) = struct.unpack_from("<Q", data, SC_EFLAGS)
    (fpstate,) = struct.unpack_from("<Q", data, SC_FPSTATE)
    (mask,) = struct.unpack_from("<Q", data, UC_SIGMASK)
    if fpstate:
        emu.fxrstor(emu.mem_read(fpstate, FXSAVE_SIZE))
    for name, value in zip(SC_GPRS, regs):
        emu.reg_write(name, value)
    old = emu.reg_read("rflags")
    emu.reg_write("rflags", (old & ~FIX_EFLAGS) | (eflags & FIX_EFLAGS))
    return mask
