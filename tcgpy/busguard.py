"""A host SIGBUS from a page of a file mapping that another process truncated away
(the TCG engine's: JIT code touches the host mapping; the Linux layer asks
through ``Emulator.watch_host_bus`` and ``take_host_bus_fault``).

AddressSpace.refresh_file_holes turns the pages past the end of a shrunk
file into guest holes at every syscall.  A file shrunk while the guest runs
without a syscall makes the host fault inside JIT code instead, and the
host's SIGBUS would kill tcgpy.  So while file mappings exist, a native
handler (LLVM IR, compiled once per process or taken from the persistent cache) catches SIGBUS at addresses
inside their host memory: it puts a zero page where the vanished one was,
so that the access completes, notes the address and asks the emulator to
return at the next block boundary.  There the process turns the pages into
holes and delivers the guest its SIGBUS (BUS_ADRERR, si_addr).  Shared
mappings are watched at once; private ones (every library of a dynamic
program) from when the emulator makes host code, or at once when the
handler is in place already, so that a run that only interprets loads no
LLVM for them (such a run still dies of the host's SIGBUS when another
process truncates a private mapping's file during a loop with no syscall).

Unlike the kernel's, that SIGBUS arrives at the end of the faulting block,
after the access read zeros (or stored into the zero page): the default
action and a handler that siglongjmps away (the usual way to survive a
SIGBUS) behave as on Linux; a handler that returns resumes after the
faulting block.  A SIGBUS elsewhere is not ours: the handler puts the
default action back and the access faults again, fatally.
"""
from __future__ import annotations

import ctypes
import mmap
import weakref

from .ir.ops import EXIT_REQUESTED

# Host ranges watched at once (more go unwatched): one per file mapping,
# and a dynamic program maps each of its libraries privately in a few.
SLOTS = 4096
PAGE = 4096
MAP_FIXED = 0x10            # the same on every Linux architecture tcgpy hosts on
SIGINFO_ADDR = 16           # offsetof(siginfo_t, si_addr) on 64-bit Linux
SA_SIGINFO = 4

_ranges = (ctypes.c_uint64 * (2 * SLOTS))()     # [lo, hi) pairs; hi 0: a free slot
_used = ctypes.c_uint64(0)                      # slots in use or freed, from the first
_fault = ctypes.c_uint64(0)                     # host address of the first fault not yet taken
_exit_request = ctypes.c_uint64(0)              # address of the running emulator's exit_request
_installed = False
_free: list[int] = []                           # slots below _used given back, to take again
_slots: dict[tuple[int, int], list[int]] = {}   # [lo, hi) -> the slots watching it


# The handler names the state above and libc's functions by symbol: its text
# is the same in every process, so its object code can come from the
# persistent cache (no LLVM in a run whose code is all cached).
_SYMBOLS = {"tcgpy_bg_used": _used, "tcgpy_bg_ranges": _ranges, "tcgpy_bg_fault": _fault,
            "tcgpy_bg_exit_request": _exit_request}


def _handler_ir() -> str:
    anon = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_FIXED
    prot = mmap.PROT_READ | mmap.PROT_WRITE
    decls = "".join(f"@{name} = external global i64\n" for name in _SYMBOLS)
    return decls + f"""
declare ptr @mmap(ptr, i64, i32, i32, i32, i64)
declare ptr @signal(i32, ptr)
define void @tcgpy_sigbus(i32 %sig, ptr %si, ptr %uc) {{
entry:
  %ap = getelementptr i8, ptr %si, i64 {SIGINFO_ADDR}
  %a = load i64, ptr %ap
  %n = load volatile i64, ptr @tcgpy_bg_used
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%next, %check]
  %end = icmp uge i64 %i, %n
  br i1 %end, label %foreign, label %check
check:
  %lop = getelementptr [2 x i64], ptr @tcgpy_bg_ranges, i64 %i, i64 0
  %hip = getelementptr [2 x i64], ptr @tcgpy_bg_ranges, i64 %i, i64 1
  %lo = load volatile i64, ptr %lop
  %hi = load volatile i64, ptr %hip
  %ge = icmp uge i64 %a, %lo
  %lt = icmp ult i64 %a, %hi
  %in = and i1 %ge, %lt
  %next = add i64 %i, 1
  br i1 %in, label %ours, label %loop
ours:
  %page = and i64 %a, {-PAGE}
  %pp = inttoptr i64 %page to ptr
  %r = call ptr @mmap(ptr %pp, i64 {PAGE}, i32 {prot}, i32 {anon}, i32 -1, i64 0)
  %fp = getelementptr i8, ptr @tcgpy_bg_fault, i64 0
  %old = load volatile i64, ptr %fp
  %first = icmp eq i64 %old, 0
  br i1 %first, label %note, label %poke
note:
  store volatile i64 %a, ptr %fp
  br label %poke
poke:
  %erp = load volatile i64, ptr @tcgpy_bg_exit_request
  %er = inttoptr i64 %erp to ptr
  store volatile i64 {EXIT_REQUESTED}, ptr %er
  ret void
foreign:
  %d = call ptr @signal(i32 %sig, ptr null)
  ret void
}}
"""


class _SigAction(ctypes.Structure):
    # glibc's struct sigaction on 64-bit Linux
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_uint64 * 16), ("flags", ctypes.c_int),
                ("restorer", ctypes.c_void_p)]


def _install(store) -> None:
    global _installed
    import signal

    from .backends.llvm.jit import add_process_symbol, runtime_functions
    for name, var in _SYMBOLS.items():
        add_process_symbol(name, ctypes.addressof(var))
    fn = runtime_functions(_handler_ir(), ["tcgpy_sigbus"], store)["tcgpy_sigbus"]
    sa = _SigAction(fn, (ctypes.c_uint64 * 16)(), SA_SIGINFO, None)
    if ctypes.CDLL(None, use_errno=True).sigaction(int(signal.SIGBUS), ctypes.byref(sa), None) == 0:
        _installed = True


def installed() -> bool:
    """Whether the handler is in place (watching more ranges costs nothing more)."""
    return _installed


def watch(emu, lo: int, hi: int) -> bool:
    """Catch SIGBUS in host memory [lo, hi) of a file mapping for ``emu``
    (an emulator running JIT code); False when there is no room."""
    if not hasattr(emu, "env"):
        return False
    if not _installed:
        _install(getattr(getattr(emu, "cache", None), "pcache", None))
        if not _installed:
            return False
    _exit_request.value = ctypes.addressof(emu.env) + type(emu.env).exit_request.offset
    if _free:
        i = _free.pop()
    elif _used.value < SLOTS:
        i = _used.value
    else:
        return False
    _ranges[2 * i] = lo
    _ranges[2 * i + 1] = hi         # (after lo: the handler takes a slot with hi 0 for free)
    _used.value = max(_used.value, i + 1)
    _slots.setdefault((lo, hi), []).append(i)
    return True


def watch_backing(emu, backing) -> None:
    """Watch ``backing``'s host memory (softmmu.memory.host_backing) for
    ``emu`` while the backing lives."""
    lo, hi = backing.host, backing.host + backing.size
    if watch(emu, lo, hi):
        weakref.finalize(backing, unwatch, lo, hi)


def unwatch(lo: int, hi: int) -> None:
    slots = _slots.get((lo, hi))
    if not slots:
        return
    i = slots.pop()
    if not slots:
        del _slots[lo, hi]
    _ranges[2 * i + 1] = 0
    _free.append(i)


def take_fault() -> int | None:
    """The host address of a SIGBUS caught since the last call, if any."""
    a = _fault.value
    if not a:
        return None
    _fault.value = 0
    return a
