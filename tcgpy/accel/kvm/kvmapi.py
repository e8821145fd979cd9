"""The Linux KVM API through ctypes: the ioctls, structures and constants
tcgpy's KVM engine uses (include/uapi/linux/kvm.h, arch/x86/include/uapi/asm/kvm.h).

No compiled code: ``ioctl`` is libc's, called through ctypes, which releases
the GIL for the call, so a vCPU in ``KVM_RUN`` does not stop other Python
threads."""
from __future__ import annotations

import ctypes
import mmap
import os

_libc = ctypes.CDLL(None, use_errno=True)
_ioctl = _libc.ioctl
_ioctl.restype = ctypes.c_int
_ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)

KVMIO = 0xAE
_WRITE, _READ = 1, 2


def _ioc(direction: int, nr: int, size: int = 0) -> int:
    return direction << 30 | size << 16 | KVMIO << 8 | nr


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in
                ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
                 "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags")]


class Segment(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint32), ("selector", ctypes.c_uint16),
                *((n, ctypes.c_uint8) for n in ("type", "present", "dpl", "db", "s", "l", "g", "avl",
                                                "unusable", "padding"))]


class DTable(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint16), ("padding", ctypes.c_uint16 * 3)]


class Sregs(ctypes.Structure):
    _fields_ = [*((n, Segment) for n in ("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt")),
                ("gdt", DTable), ("idt", DTable),
                *((n, ctypes.c_uint64) for n in ("cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base")),
                ("interrupt_bitmap", ctypes.c_uint64 * 4)]


class Xsave(ctypes.Structure):
    _fields_ = [("region", ctypes.c_uint8 * 4096)]


class MemoryRegion(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("guest_phys_addr", ctypes.c_uint64),
                ("memory_size", ctypes.c_uint64), ("userspace_addr", ctypes.c_uint64)]


class MsrEntry(ctypes.Structure):
    _fields_ = [("index", ctypes.c_uint32), ("reserved", ctypes.c_uint32), ("data", ctypes.c_uint64)]


class CpuidEntry(ctypes.Structure):
    _fields_ = [("function", ctypes.c_uint32), ("index", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("eax", ctypes.c_uint32), ("ebx", ctypes.c_uint32), ("ecx", ctypes.c_uint32),
                ("edx", ctypes.c_uint32), ("padding", ctypes.c_uint32 * 3)]


MAX_CPUID = 256


class Cpuid(ctypes.Structure):
    _fields_ = [("nent", ctypes.c_uint32), ("padding", ctypes.c_uint32), ("entries", CpuidEntry * MAX_CPUID)]


class Xcr(ctypes.Structure):
    _fields_ = [("xcr", ctypes.c_uint32), ("reserved", ctypes.c_uint32), ("value", ctypes.c_uint64)]


class Xcrs(ctypes.Structure):
    _fields_ = [("nr_xcrs", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("xcrs", Xcr * 16),
                ("padding", ctypes.c_uint64 * 16)]


class RunHead(ctypes.Structure):
    """The start of ``struct kvm_run`` (the vCPU's shared page) and the io/debug exit union."""
    _fields_ = [("request_interrupt_window", ctypes.c_uint8), ("immediate_exit", ctypes.c_uint8),
                ("padding1", ctypes.c_uint8 * 6), ("exit_reason", ctypes.c_uint32),
                ("ready_for_interrupt_injection", ctypes.c_uint8), ("if_flag", ctypes.c_uint8),
                ("flags", ctypes.c_uint16), ("cr8", ctypes.c_uint64), ("apic_base", ctypes.c_uint64),
                # union: io {direction, size, port, count, data_offset} / debug.arch
                ("u0", ctypes.c_uint8), ("u1", ctypes.c_uint8), ("io_port", ctypes.c_uint16),
                ("u4", ctypes.c_uint32), ("u8", ctypes.c_uint64), ("u16", ctypes.c_uint64),
                ("u24", ctypes.c_uint64)]


class RunSync(ctypes.Structure):
    """``struct kvm_run`` from ``kvm_valid_regs`` on (after the 256-byte exit
    union): with KVM_CAP_SYNC_REGS, KVM stores the registers here at every
    exit and loads them at the next KVM_RUN when marked dirty, which saves
    the KVM_GET_REGS and KVM_SET_REGS ioctls of each exit."""
    _fields_ = [("valid_regs", ctypes.c_uint64), ("dirty_regs", ctypes.c_uint64), ("regs", Regs)]


RUN_SYNC_OFFSET = 32 + 256          # after the header (RunHead up to the union) and the exit union
CAP_SYNC_REGS = 74
SYNC_X86_REGS = 1

GET_API_VERSION = _ioc(0, 0x00)
CREATE_VM = _ioc(0, 0x01)
CHECK_EXTENSION = _ioc(0, 0x03)
GET_VCPU_MMAP_SIZE = _ioc(0, 0x04)
GET_SUPPORTED_CPUID = _ioc(_READ | _WRITE, 0x05, 8)
CREATE_VCPU = _ioc(0, 0x41)
SET_USER_MEMORY_REGION = _ioc(_WRITE, 0x46, ctypes.sizeof(MemoryRegion))
SET_TSS_ADDR = _ioc(0, 0x47)
RUN = _ioc(0, 0x80)
GET_REGS = _ioc(_READ, 0x81, ctypes.sizeof(Regs))
SET_REGS = _ioc(_WRITE, 0x82, ctypes.sizeof(Regs))
GET_SREGS = _ioc(_READ, 0x83, ctypes.sizeof(Sregs))
SET_SREGS = _ioc(_WRITE, 0x84, ctypes.sizeof(Sregs))
SET_MSRS = _ioc(_WRITE, 0x89, 8)
SET_CPUID2 = _ioc(_WRITE, 0x90, 8)
GET_XSAVE = _ioc(_READ, 0xA4, ctypes.sizeof(Xsave))
SET_XSAVE = _ioc(_WRITE, 0xA5, ctypes.sizeof(Xsave))
SET_XCRS = _ioc(_WRITE, 0xA7, ctypes.sizeof(Xcrs))

EXIT_IO, EXIT_DEBUG, EXIT_HLT, EXIT_SHUTDOWN, EXIT_FAIL_ENTRY, EXIT_INTR = 2, 4, 5, 8, 9, 10
EXIT_INTERNAL_ERROR = 17


class KvmError(OSError):
    pass


def ioctl(fd: int, request: int, arg=None) -> int:
    if arg is None:
        p = None
    elif isinstance(arg, int):
        p = arg
    else:
        p = ctypes.addressof(arg)
    r = _ioctl(fd, request, p)
    if r < 0:
        e = ctypes.get_errno()
        raise KvmError(e, os.strerror(e))
    return r


def run_vcpu(fd: int) -> int:
    """KVM_RUN; returns 0 or the errno (EINTR when a signal kicked it out)."""
    r = _ioctl(fd, RUN, None)
    return ctypes.get_errno() if r < 0 else 0


# -- host memory: guest RAM (anonymous), vCPU run pages, with their addresses -------------
_mmap = _libc.mmap
_mmap.restype = ctypes.c_void_p
_mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_munmap = _libc.munmap
_munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)


def map_run_page(fd: int, size: int) -> int:
    """The address of a vCPU's ``struct kvm_run`` mapped from ``fd``.  (Through
    libc, not Python's mmap module, which keeps a duplicate of the
    descriptor open: a number in the guest's range it could see and close.)"""
    addr = _mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        e = ctypes.get_errno()
        raise KvmError(e, os.strerror(e))
    return addr
_madvise = _libc.madvise
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
MAP_NORESERVE = 0x4000
MADV_DONTNEED = 4


def host_alloc(size: int) -> int:
    """``size`` bytes of zeroed host memory (reserved lazily: untouched pages cost nothing)."""
    addr = _mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE,
                 mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        e = ctypes.get_errno()
        raise KvmError(e, os.strerror(e))
    return addr


def host_free(addr: int, size: int) -> None:
    _munmap(addr, size)


def host_zero(addr: int, size: int) -> None:
    """Give pages back to the host: they read as zero next time."""
    _madvise(addr, size, MADV_DONTNEED)



class VcpuEvents(ctypes.Structure):
    _fields_ = [("exc_injected", ctypes.c_uint8), ("exc_nr", ctypes.c_uint8),
                ("exc_has_error_code", ctypes.c_uint8), ("exc_pending", ctypes.c_uint8),
                ("exc_error_code", ctypes.c_uint32),
                ("int_injected", ctypes.c_uint8), ("int_nr", ctypes.c_uint8), ("int_soft", ctypes.c_uint8),
                ("int_shadow", ctypes.c_uint8), ("nmi", ctypes.c_uint8 * 4), ("sipi_vector", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("smi", ctypes.c_uint8 * 4), ("triple_fault", ctypes.c_uint8),
                ("reserved", ctypes.c_uint8 * 26), ("exception_has_payload", ctypes.c_uint8),
                ("exception_payload", ctypes.c_uint64)]


GET_VCPU_EVENTS = _ioc(_READ, 0x9F, ctypes.sizeof(VcpuEvents))


class DebugRegs(ctypes.Structure):
    _fields_ = [("db", ctypes.c_uint64 * 4), ("dr6", ctypes.c_uint64), ("dr7", ctypes.c_uint64),
                ("flags", ctypes.c_uint64), ("reserved", ctypes.c_uint64 * 9)]


GET_DEBUGREGS = _ioc(_READ, 0xA1, ctypes.sizeof(DebugRegs))
SET_DEBUGREGS = _ioc(_WRITE, 0xA2, ctypes.sizeof(DebugRegs))
DR6_BS = 1 << 14                    # the #DB came from a single step (TF)
DR6_INIT = 0xFFFF0FF0               # DR6 with no cause recorded
INTERRUPT = _ioc(_WRITE, 0x86, 4)
EXIT_IRQ_WINDOW_OPEN = 7
SET_SIGNAL_MASK = _ioc(_WRITE, 0x8B, 4)


def set_vcpu_signal_mask(fd: int, blocked: set[int]) -> None:
    """KVM_SET_SIGNAL_MASK: the signals blocked while the vCPU runs (KVM_RUN)."""
    bits = 0
    for s in blocked:
        bits |= 1 << (s - 1)
    buf = ctypes.create_string_buffer(12)
    ctypes.c_uint32.from_buffer(buf, 0).value = 8
    ctypes.c_uint64.from_buffer(buf, 4).value = bits
    ioctl(fd, SET_SIGNAL_MASK, buf)
