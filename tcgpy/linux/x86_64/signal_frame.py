"""The x86-64 rt_sigframe, laid out as arch/x86/kernel/signal_64.c does:

    sp ->  struct rt_sigframe { pretcode ; ucontext (304) ; siginfo (128) }
           (sp + 8 is 16-aligned, as at a function's entry)
           fpstate (64-aligned) above it

ucontext: uc_flags, uc_link, uc_stack (stack_t), uc_mcontext (the
256-byte struct sigcontext: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx,
rsp, rip, eflags, cs/gs/fs/ss, err, trapno, oldmask, cr2, fpstate pointer,
reserved), uc_sigmask.  The 128-byte red zone below the interrupted rsp is
skipped.

The FP state is what XSAVE writes for every component the guest may use
(x87, SSE, AVX, AVX-512: the engine's ``xstate`` layout, from CPUID leaf
0xD), as arch/x86/kernel/fpu/signal.c puts it: the fxsave image's
software-reserved bytes say so (struct _fpx_sw_bytes: FP_XSTATE_MAGIC1, the
sizes and the components), FP_XSTATE_MAGIC2 follows the area, and
``uc_flags`` has UC_FP_XSTATE.  The handler starts with every FP/vector
register in its initial state.  rt_sigreturn loads the components the
frame's sw bytes name, each as its XSTATE_BV bit says (the others to their
initial state); a frame whose magic numbers or sizes are wrong restores
the fxsave image alone.  A CPU without XSAVE gets the 512-byte fxsave
image and no UC_FP_XSTATE.
"""
from __future__ import annotations

import struct

from ...accel.kvm import xstate as X
from ..abi import BadSignalFrame

SIGINFO_SIZE = 128
UC_FLAGS, UC_LINK, UC_STACK, UC_MCONTEXT = 0, 8, 16, 40
SC_SIZE = 256
UC_SIGMASK = UC_MCONTEXT + SC_SIZE
UCONTEXT_SIZE = UC_SIGMASK + 8
FRAME_SIZE = 8 + UCONTEXT_SIZE + SIGINFO_SIZE
RED_ZONE = 128
MINSIGSTKSZ = 2048
UC_FP_XSTATE, UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 1, 2, 4
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
# struct _fpx_sw_bytes, in the fxsave image's software-reserved bytes:
# magic1, extended_size (the area and magic2), xfeatures, xstate_size
SW_BYTES, SW_FORMAT = 464, "<IIQI"
FP_XSTATE_MAGIC1, FP_XSTATE_MAGIC2 = 0x46505853, 0x46505845
MAGIC2_SIZE = 4
FSAVE_HEADER = 112                      # struct fregs_state (the kernel counts it with IA32 emulation)

# mov $15, %eax (rt_sigreturn) ; syscall -- for a guest that gives no SA_RESTORER
# (x86-64 glibc always does; the kernel then refuses, we are kinder).
TRAMPOLINE = bytes.fromhex("b80f000000" "0f05")


def fpstate_image(emu) -> bytes:
    """The frame's FP area: the engine's XSAVE image with Linux's sw bytes and magic2."""
    layout = emu.xstate
    img = bytearray(emu.xsave())
    if not layout.features:
        return bytes(img)
    struct.pack_into(SW_FORMAT, img, SW_BYTES, FP_XSTATE_MAGIC1, layout.size + MAGIC2_SIZE, layout.features,
                     layout.size)
    return bytes(img) + struct.pack("<I", FP_XSTATE_MAGIC2)


def restore_fpstate(emu, fpstate: int) -> None:
    """Load the FP area at ``fpstate`` as arch/x86/kernel/fpu/signal.c's
    __fpu_restore_sig does (BadSignalFrame where XRSTOR would fault)."""
    layout = emu.xstate
    legacy = emu.mem_read(fpstate, X.LEGACY_SIZE)
    img, features = None, X.XSTATE_X87_SSE
    if layout.features:
        magic1, extended, xfeatures, size = struct.unpack_from(SW_FORMAT, legacy, SW_BYTES)
        if (magic1 == FP_XSTATE_MAGIC1 and X.HEADER + X.HEADER_SIZE <= size <= layout.size
                and size <= extended):
            data = emu.mem_read(fpstate, size + MAGIC2_SIZE)
            if struct.unpack_from("<I", data, size)[0] == FP_XSTATE_MAGIC2:
                img, features = data[:size].ljust(layout.size, b"\0"), xfeatures
    if img is None:
        # the fxsave image alone: x87 and SSE from it, the rest initial
        img = legacy.ljust(layout.size, b"\0")
        if layout.features:
            img = img[:X.XSTATE_BV] + X.XSTATE_X87_SSE.to_bytes(8, "little") + img[X.XSTATE_BV + 8:]
    try:
        emu.xrstor(img, features)
    except X.BadXstate as e:
        raise BadSignalFrame(str(e)) from None


def frame_size(emu) -> int:
    """AT_MINSIGSTKSZ: the largest frame with its alignment, as the kernel's
    init_sigframe_size computes it from the XSAVE size (and the legacy
    fsave header it allows for 32-bit processes)."""
    fp = emu.xstate.size + (MAGIC2_SIZE if emu.xstate.features else 0) + FSAVE_HEADER
    return (FRAME_SIZE + 15 + fp + 63 + 15) & ~15


def setup_rt_frame(emu, sp: int, signo: int, siginfo: bytes, handler: int, restorer: int,
                   oldmask: int, altstack: tuple[int, int, int], fault_address: int = 0,
                   trapno: int = 0, error_code: int = 0) -> None:
    """Push a frame below ``sp`` and point the guest at ``handler``."""
    if sp == emu.reg_read("rsp"):
        sp -= RED_ZONE
    fpimage = fpstate_image(emu)
    fpstate = (sp - len(fpimage)) & ~63
    frame = ((fpstate - FRAME_SIZE) & ~15) - 8
    buf = bytearray(FRAME_SIZE)
    struct.pack_into("<Q", buf, 0, restorer)
    uc = 8
    ss_sp, ss_flags, ss_size = altstack
    uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (UC_FP_XSTATE if emu.xstate.features else 0)
    struct.pack_into("<QQQiiQ", buf, uc + UC_FLAGS, uc_flags, 0, ss_sp, ss_flags, 0, ss_size)
    struct.pack_into(f"<{len(SC_GPRS)}Q", buf, uc + UC_MCONTEXT, *(emu.reg_read(r) for r in SC_GPRS))
    struct.pack_into("<QHHHH", buf, uc + SC_EFLAGS, emu.reg_read("rflags"), USER_CS, 0, 0, USER_DS)
    struct.pack_into("<QQQQQ", buf, uc + SC_ERR, error_code, trapno, oldmask, fault_address, fpstate)
    struct.pack_into("<Q", buf, uc + UC_SIGMASK, oldmask)
    buf[8 + UCONTEXT_SIZE:8 + UCONTEXT_SIZE + len(siginfo)] = siginfo
    emu.mem_write(fpstate, fpimage)
    emu.mem_write(frame, bytes(buf))
    emu.reg_write("rdi", signo)
    emu.reg_write("rsi", frame + 8 + UCONTEXT_SIZE)
    emu.reg_write("rdx", frame + 8)
    emu.reg_write("rax", 0)
    emu.reg_write("rsp", frame)
    emu.reg_write("rip", handler)
    # The handler starts with DF and TF clear, as the kernel leaves them.
    emu.reg_write("rflags", emu.reg_read("rflags") & ~0x500)
    emu.fpu_init()


def restore_rt_frame(emu) -> int:
    """rt_sigreturn: restore the context saved at rsp - 8 (the handler's ret
    popped pretcode); returns the saved signal mask."""
    uc = emu.reg_read("rsp")
    data = emu.mem_read(uc, UCONTEXT_SIZE)
    regs = struct.unpack_from(f"<{len(SC_GPRS)}Q", data, UC_MCONTEXT)
    (eflags,) = struct.unpack_from("<Q", data, SC_EFLAGS)
    (fpstate,) = struct.unpack_from("<Q", data, SC_FPSTATE)
    (mask,) = struct.unpack_from("<Q", data, UC_SIGMASK)
    for name, value in zip(SC_GPRS, regs):
        emu.reg_write(name, value)
    old = emu.reg_read("rflags")
    emu.reg_write("rflags", (old & ~FIX_EFLAGS) | (eflags & FIX_EFLAGS))
    if fpstate:
        restore_fpstate(emu, fpstate)
    else:
        emu.fpu_init()              # no FP area: the initial state (fpu__restore_sig with buf NULL)
    return mask
