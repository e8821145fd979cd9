"""The long-mode virtual machine the KVM engine runs x86-64 user code in.

There is no guest kernel.  tcgpy builds the few things the CPU needs to run
ring-3 code and to leave ring 3 again (the gVisor "KVM platform" idea):

* guest-physical memory in three kinds of memory slots: the *kernel pages*
  (GDT, TSS, IDT, the stub, a kernel stack), the *page-table pool*, and the
  guest's own memory (an arena of anonymous host memory, plus one slot per
  shared host mapping such as a ``MAP_SHARED`` file);
* 4-level page tables mapping exactly the guest's mappings with their
  permissions (user, writable, no-execute), and the kernel pages
  supervisor-only at the top of the address space.  The page tables are in
  no virtual mapping at all, so guest code can neither read nor write them;
* a stub of a few bytes: ``syscall`` (through ``MSR_LSTAR``) and each of the
  32 exception vectors land on an ``out`` to a port that names them, which
  is a VM exit with the registers in place; tcgpy serves it and re-enters
  ring 3 through ``iretq`` from a frame it wrote on the kernel stack.

Everything a ring-3 program may not do (``hlt``, ``cli``, ``in``/``out``,
``wrmsr``, ``mov cr3``, ``lgdt``, touching the kernel pages) raises #GP or
#PF in the VM, which comes back here as the exception it is.
"""
from __future__ import annotations

import bisect
import ctypes
from array import array
from dataclasses import dataclass

from . import kvmapi as K

PAGE = 4096

# -- guest-physical layout -----------------------------------------------------------------
KERNEL_GPA, KERNEL_SIZE = 0, 32 * PAGE               # one vCPU's kernel pages
# Each vCPU (one per guest thread) has kernel pages of its own, KERNEL_SIZE
# apart in both address spaces: its TSS names its own kernel stack, its stub
# its own flush queue and fs/gs slots, so vCPUs never share a byte of ring-0
# state.  The page tables are one for all (one address space).
MAX_VCPUS = 256
KERNEL_AREA = MAX_VCPUS * KERNEL_SIZE
PT_GPA, PT_SIZE = 1 << 26, 1 << 28                  # 64 Ki tables: 128 GiB of mapped guest memory
ARENA_GPA, ARENA_SIZE = 1 << 32, 1 << 37            # anonymous guest memory
# The arena is registered with KVM a chunk at a time, as far as it is used
# (its allocator is first-fit from the bottom): a memory slot costs KVM
# metadata in proportion to its size (shadow paging's reverse maps), and the
# whole arena as one slot took 43 ms and ~330 MB of the host kernel's
# memory for every VM, i.e. at every start and fork; a 1 GiB chunk ~0.4 ms.
ARENA_CHUNK = 1 << 30
SLOTS_GPA = ARENA_GPA + ARENA_SIZE                  # shared host mappings, each a slot of its own
SLOT_KERNEL, SLOT_PT, SLOT_ARENA = 0, 1, 2          # the arena's chunks: SLOT_ARENA + i
FIRST_EXTRA_SLOT = SLOT_ARENA + ARENA_SIZE // ARENA_CHUNK

# -- the kernel pages (virtual: the last 512 GiB; physical: KERNEL_GPA) ----------------------
KERNEL_VA = 0xFFFF_FF80_0000_0000
GDT_OFF, TSS_OFF, IDT_OFF, STUB_OFF = 0x0, 0x800, PAGE, 2 * PAGE
KSTACK_TOP_OFF = 8 * PAGE                          # pages 3..7: kernel stack
RUNS_OFF, RUNS_SIZE = 16 * PAGE, 16 * PAGE         # page-table writes for the stub to make
RUNS_HEAD = 32                                     # end, current run, entries of it written (flush_stub)
MAX_RUNS = (RUNS_SIZE - RUNS_HEAD) // 32
# More queued entry writes than this, and it is cheaper to make KVM drop every
# shadow of the page tables (their memory slot removed and added again) and
# rebuild them on the next accesses: each guest write to a shadowed table
# traps (~5 us under kvm_pvm), and a thread's 8 MiB stack is 2,048 of them.
# One table's worth (measured: libc_threads 0.84 -> 0.27 s of CPU, a Python
# program with four threads 0.77 -> 0.54 s; 64 made a memory-heavy Python
# run slower, rebuilding shadows too often).
RESHADOW_ENTRIES = 512
PT_VA = KERNEL_VA + (1 << 30)                      # the page-table pool, for the stub's writes

# Selectors as Linux lays out its GDT (glibc and signal frames see the same
# cs/ss values as on Linux): STAR makes syscall/sysret use them.
KERNEL_CS, KERNEL_DS, USER32_CS, USER_DS, USER_CS, TSS_SEL = 0x10, 0x18, 0x23, 0x2B, 0x33, 0x40
GDT = {
    KERNEL_CS: 0x00AF9A000000FFFF,   # 64-bit code, DPL 0
    KERNEL_DS: 0x00CF92000000FFFF,   # data, DPL 0
    USER32_CS: 0x00CFFA000000FFFF,   # 32-bit code, DPL 3
    USER_DS: 0x00CFF2000000FFFF,     # data, DPL 3
    USER_CS: 0x00AFFA000000FFFF,     # 64-bit code, DPL 3
}

# Stub layout (offsets in the stub page) and the ports its exits use.
STUB_IRET_FLUSH = 0x00      # make the queued page-table writes, reload cr3, iretq
STUB_IRET = 0x70            # iretq
STUB_SYSCALL = 0x80         # out 0x80, al; hlt
STUB_VECTORS = 0xA0         # vector n at +8n: out n, al; hlt
STUB_SETSEG = 0x240         # load fs/gs bases from SEGS_OFF (wrmsr), then STUB_IRET_FLUSH
SEGS_OFF = 0x900            # in the GDT page: the fs and gs bases STUB_SETSEG loads
PORT_SYSCALL = 0x80
NVECTORS = 32
# Vectors whose entry pushes an error code.
ERROR_CODE_VECTORS = frozenset({8, 10, 11, 12, 13, 14, 17, 21, 29, 30})
# int3 and into are allowed from ring 3 (as Linux's IDT does); any other int n is #GP.
USER_GATES = frozenset({3, 4})
# The interrupt tcgpy injects to take a running vCPU out of ring 3 (a kick):
# its gate is DPL 0, so "int 0x20" from ring 3 is still #GP.
PREEMPT_VECTOR = 0x20

# -- control registers and MSRs --------------------------------------------------------------
CR0_PE, CR0_MP, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_PG = 1, 2, 0x10, 0x20, 1 << 16, 1 << 18, 1 << 31
CR4_PAE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_OSXSAVE = 0x20, 0x200, 0x400, 1 << 18
EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE = 1, 0x100, 0x400, 0x800
MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK = 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084
# syscall clears TF, IF, DF, IOPL, NT and AC in ring 0 (Linux's mask).
SFMASK = 0x100 | 0x200 | 0x400 | 0x3000 | 0x4000 | 0x40000

# -- page-table entries ------------------------------------------------------------------------
PTE_P, PTE_W, PTE_U, PTE_A, PTE_D = 1, 2, 4, 0x20, 0x40
PTE_NX = 1 << 63
TABLE_ENTRY = PTE_P | PTE_W | PTE_U | PTE_A     # intermediate levels allow everything; leaves decide
ADDR_MASK = 0x000F_FFFF_FFFF_F000
USER_LIMIT = 1 << 47


def leaf_flags(perms: str) -> int:
    """The PTE bits of a user page with ``perms`` (x86 cannot make a page
    writable or executable but unreadable: such pages are readable, as on Linux)."""
    if not perms:
        return 0                                # PROT_NONE: not present
    flags = PTE_P | PTE_U | PTE_A | PTE_D
    if "w" in perms:
        flags |= PTE_W
    if "x" not in perms:
        flags |= PTE_NX
    return flags


class Arena:
    """First-fit allocator of guest-physical ranges in the anonymous arena."""

    def __init__(self, base: int, size: int):
        self.free: list[tuple[int, int]] = [(base, base + size)]     # sorted, disjoint

    def alloc(self, size: int) -> int:
        for i, (lo, hi) in enumerate(self.free):
            if hi - lo >= size:
                if hi - lo == size:
                    del self.free[i]
                else:
                    self.free[i] = (lo + size, hi)
                return lo
        raise MemoryError("guest-physical arena exhausted")

    def release(self, lo: int, size: int) -> None:
        hi = lo + size
        i = bisect.bisect_left(self.free, (lo, hi))
        if i < len(self.free) and self.free[i][0] == hi:
            hi = self.free.pop(i)[1]
        if i > 0 and self.free[i - 1][1] == lo:
            lo = self.free.pop(i - 1)[0]
            i -= 1
        self.free.insert(i, (lo, hi))


@dataclass
class Region:
    """A guest-virtual range, contiguous in guest-physical and host memory."""
    start: int
    end: int
    perms: str
    gpa: int
    host: int
    slot: "ExtraSlot | None" = None      # None: arena memory


@dataclass(eq=False)
class ExtraSlot:
    index: int
    gpa: int
    size: int
    host: int
    backing: object                      # kept alive while the slot exists
    users: int = 0


class PageTables:
    """The guest's 4-level page tables, in the page-table pool slot."""

    def __init__(self, host: int):
        self.host = host                 # host address of the pool (guest-physical PT_GPA)
        self.next_free = PAGE            # page 0 is the PML4
        self.pts: dict[int, int] = {}    # va >> 21 -> host address of its page table
        self.changed = False             # entries changed or removed since the last TLB flush
        # A present entry changed (unmapped, protected, remapped) since the
        # last flush: another vCPU may hold a translation it must not use.
        # (New entries need no one else's flush: no TLB, nor KVM's shadow of
        # the tables, keeps a not-present entry, so a vCPU that meets one
        # walks the tables again.)
        self.stale = False
        # Leaf writes the guest has not made yet (flush_stub): (pte va, value, count, step).
        self.runs: list[tuple[int, int, int, int]] = []

    @property
    def root_gpa(self) -> int:
        return PT_GPA

    def _new_table(self) -> int:
        if self.next_free >= PT_SIZE:
            raise MemoryError("page-table pool exhausted")
        gpa = PT_GPA + self.next_free
        self.next_free += PAGE
        return gpa

    def _pt(self, va: int) -> int:
        """Host address of the last-level table for ``va`` (made on demand)."""
        key = va >> 21
        pt = self.pts.get(key)
        if pt is not None:
            return pt
        table = self.host                # PML4
        for shift in (39, 30, 21):
            slot = table + ((va >> shift) & 511) * 8
            entry = ctypes.c_uint64.from_address(slot)
            if not entry.value & PTE_P:
                entry.value = self._new_table() | TABLE_ENTRY
            table = self.host + ((entry.value & ADDR_MASK) - PT_GPA)
        self.pts[key] = table
        return table

    def set(self, va: int, npages: int, gpa: int, flags: int, queue: bool = True) -> None:
        """Map ``npages`` pages from ``va`` to consecutive guest-physical pages
        from ``gpa`` with ``flags`` (0: unmap them).  ``queue``: the guest
        makes the same writes before it runs again (flush_stub)."""
        end = va + npages * PAGE
        while va < end:
            chunk_end = min(end, (va | 0x1FFFFF) + 1)
            n = (chunk_end - va) // PAGE
            pt = self._pt(va) + ((va >> 12) & 511) * 8
            if flags:
                first = gpa | flags
                entries = array("Q", range(first, first + n * PAGE, PAGE))
            else:
                entries = array("Q", bytes(8 * n))
            old = array("Q", ctypes.string_at(pt, 8 * n))
            was_present = any(old)
            if was_present and not self.stale:
                self.stale = any(o and o != e for o, e in zip(old, entries))
            # Entries that stay not present need no guest write: a shadow
            # never caches a not-present entry (fresh PROT_NONE reservations
            # are often large).
            queue_this = queue and (was_present or bool(flags))
            ctypes.memmove(pt, entries.buffer_info()[0], 8 * n)
            if queue_this:
                self.runs.append((PT_VA + (pt - self.host), (gpa | flags) if flags else 0, n,
                                  PAGE if flags else 0))
            gpa += n * PAGE
            va = chunk_end
        self.changed = True

    def set_kernel(self, va: int, npages: int, gpa: int, executable: bool) -> None:
        """Supervisor-only pages (made before the VM first runs: no queued writes)."""
        flags = PTE_P | PTE_W | PTE_A | PTE_D | (0 if executable else PTE_NX)
        self.set(va, npages, gpa, flags, queue=False)


def flush_stub(runs_va: int) -> bytes:
    """Ring-0 code that makes the page-table writes queued at ``runs_va``,
    reloads cr3 and returns to ring 3.  The queue is a header (end of the
    runs, current run, entries of it written) and runs of (first pte
    address, first value, count, step), which the stub never changes.

    A kick can take the vCPU out of the VM between any two instructions,
    and the stub then starts again from its first byte, so its progress is
    always one store: the count of entries written in the current run, or
    the move to the next run (after that count is reset: a kick between the
    two repeats the current run, which is harmless, as each entry's value
    is computed from the run, never carried in a register).  Progress kept
    in several stores (address, value and count of the current run) is not
    resumable: a kick between them shifted a run's values by one page or
    wrote one entry past its end, mapping a neighbouring page to the wrong
    memory (threads preempted on a time slice read another page's data).

    The writes are the guest's own so that a KVM that shadows the guest's
    page tables (shadow paging, no EPT/NPT: this machine's nested KVM) sees
    them: it write-protects the tables it shadows and would never notice
    tcgpy's host-side stores to a present entry.  On EPT/NPT hardware they
    repeat tcgpy's stores, harmlessly."""
    return bytes.fromhex(
        "50 51 52 56 57 53"     # 00: push rax; push rcx; push rdx; push rsi; push rdi; push rbx
        "48bb") + runs_va.to_bytes(8, "little") + bytes.fromhex(   # 06: movabs rbx, queue
        "488b7308"              # 10: mov rsi, [rbx+8]         current run
        "483b33"                # 14: cmp rsi, [rbx]           end of the runs?
        "7338"                  # 17: jae 51
        "488b4b10"              # 19: mov rcx, [rbx+16]        entries written
        "483b4e10"              # 1d: cmp rcx, [rsi+16]        count
        "731c"                  # 21: jae 3f
        "488b4618"              # 23: mov rax, [rsi+24]        step
        "480fafc1"              # 27: imul rax, rcx
        "48034608"              # 2b: add rax, [rsi+8]         value of entry rcx
        "488b3e"                # 2f: mov rdi, [rsi]
        "488904cf"              # 32: mov [rdi+rcx*8], rax
        "48ffc1"                # 36: inc rcx
        "48894b10"              # 39: mov [rbx+16], rcx        progress: one store
        "ebde"                  # 3d: jmp 1d
        "48c7431000000000"      # 3f: mov qword [rbx+16], 0
        "4883c620"              # 47: add rsi, 32
        "48897308"              # 4b: mov [rbx+8], rsi         next run: one store
        "ebc3"                  # 4f: jmp 14
        "0f20d8"                # 51: mov rax, cr3
        "0f22d8"                # 54: mov cr3, rax
        "5b 5f 5e 5a 59 58"     # 57: pop rbx; pop rdi; pop rsi; pop rdx; pop rcx; pop rax
        "48cf".replace(" ", ""))  # 5d: iretq


class RunQueue:
    """The flush stub's queue (flush_stub) at host address ``host``, which
    the guest sees at ``va``: written only while the vCPU is stopped."""

    def __init__(self, host: int, va: int):
        self.host, self.va = host, va

    def _head(self):
        return (ctypes.c_uint64 * 3).from_address(self.host)

    def pending(self) -> list[tuple[int, int, int, int]]:
        """The writes an interrupted stub has still to make: the rest of its
        current run and the runs after it."""
        end, cursor, done = self._head()
        if cursor >= end:
            return []
        n = (end - cursor) // 32
        flat = (ctypes.c_uint64 * (4 * n)).from_address(self.host + (cursor - self.va))
        runs = [tuple(flat[4 * i:4 * i + 4]) for i in range(n)]
        pte, value, count, step = runs[0]
        runs[0] = (pte + 8 * done, (value + step * done) & (2 ** 64 - 1), count - done, step)
        return runs

    def load(self, runs: list[tuple[int, int, int, int]]) -> None:
        """Make ``runs`` the queue (at most MAX_RUNS)."""
        if len(runs) > MAX_RUNS:
            raise ValueError(f"{len(runs)} page-table runs do not fit the queue")
        if runs:
            flat = array("Q", [v for run in runs for v in run])
            ctypes.memmove(self.host + RUNS_HEAD, flat.buffer_info()[0], 8 * len(flat))
        first = self.va + RUNS_HEAD
        head = self._head()
        head[0], head[1], head[2] = first + 32 * len(runs), first, 0


def setseg_stub(segs_va: int, at: int, then: int) -> bytes:
    """Ring-0 code that loads the fs and gs bases (two qwords at
    ``segs_va``) with wrmsr, as a kernel does on a thread switch, and jumps
    to ``then``.  A nested KVM that keeps ring-3 state of its own (this
    machine's) takes the bases from these MSR writes: set from outside with
    KVM_SET_SREGS while the vCPU was in ring 0 they were sometimes lost on
    the way back to ring 3 (a thread then read another thread's TLS)."""
    code = (bytes.fromhex("505152" "48a1") + segs_va.to_bytes(8, "little")   # push rax/rcx/rdx; mov rax, [fs]
            + bytes.fromhex("4889c2" "48c1ea20" "b9000100c0" "0f30"          # rdx = rax >> 32; MSR_FS_BASE; wrmsr
                            "48a1") + (segs_va + 8).to_bytes(8, "little")    # mov rax, [gs]
            + bytes.fromhex("4889c2" "48c1ea20" "b9010100c0" "0f30"          # MSR_GS_BASE; wrmsr
                            "5a5958"))                                       # pop rdx/rcx/rax
    rel = then - (at + len(code) + 5)
    return code + b"\xe9" + (rel & 0xFFFFFFFF).to_bytes(4, "little")       # jmp then


def kernel_va(index: int) -> int:
    """Where vCPU ``index``'s kernel pages are (KERNEL_GPA + the same offset, physically)."""
    return KERNEL_VA + index * KERNEL_SIZE


def build_kernel_pages(host: int, va: int = KERNEL_VA) -> None:
    """Write the GDT, TSS, IDT and stub into the kernel pages at ``host``,
    which the vCPU sees at ``va``."""
    def put(off: int, data: bytes) -> None:
        ctypes.memmove(host + off, data, len(data))

    for sel, desc in GDT.items():
        put(GDT_OFF + (sel & ~7), desc.to_bytes(8, "little"))
    tss_va = va + TSS_OFF
    tss_limit = 0x67
    low = (tss_limit & 0xFFFF) | (tss_va & 0xFFFFFF) << 16 | 0x89 << 40 | ((tss_va >> 24) & 0xFF) << 56
    put(GDT_OFF + TSS_SEL, low.to_bytes(8, "little") + (tss_va >> 32).to_bytes(8, "little"))
    # TSS: rsp0 at +4; the I/O bitmap base past the limit, so no port is allowed in ring 3.
    put(TSS_OFF + 4, (va + KSTACK_TOP_OFF).to_bytes(8, "little"))
    put(TSS_OFF + 102, (0x68).to_bytes(2, "little"))
    stub = va + STUB_OFF
    for n in (*range(NVECTORS), PREEMPT_VECTOR):
        target = stub + STUB_VECTORS + 8 * n
        attr = 0xEE if n in USER_GATES else 0x8E          # present 64-bit interrupt gate, DPL
        gate = (target & 0xFFFF) | KERNEL_CS << 16 | attr << 40 | ((target >> 16) & 0xFFFF) << 48
        put(IDT_OFF + 16 * n, gate.to_bytes(8, "little") + (target >> 32).to_bytes(8, "little"))
        put(STUB_OFF + STUB_VECTORS + 8 * n, bytes([0xE6, n, 0xF4]))
    put(STUB_OFF + STUB_IRET_FLUSH, flush_stub(va + RUNS_OFF))
    put(STUB_OFF + STUB_IRET, bytes.fromhex("48cf"))
    put(STUB_OFF + STUB_SETSEG, setseg_stub(va + SEGS_OFF, STUB_SETSEG, STUB_IRET_FLUSH))
    put(STUB_OFF + STUB_SYSCALL, bytes([0xE6, PORT_SYSCALL, 0xF4]))


def _segment(selector: int, code: bool, dpl: int, long: bool = True) -> K.Segment:
    s = K.Segment()
    s.base, s.limit, s.selector = 0, 0xFFFFFFFF, selector
    s.type = 0xB if code else 0x3
    s.present, s.dpl, s.s, s.g = 1, dpl, 1, 1
    s.l = 1 if code and long else 0
    s.db = 0 if code and long else 1
    return s


def long_mode_sregs(sregs: K.Sregs, xsave: bool, va: int = KERNEL_VA) -> None:
    """Fill ``sregs`` for 64-bit ring 0 with the tables of the kernel pages at ``va``."""
    sregs.cs = _segment(KERNEL_CS, True, 0)
    for name in ("ds", "es", "ss"):
        setattr(sregs, name, _segment(KERNEL_DS, False, 0))
    sregs.fs = _segment(0, False, 0)
    sregs.gs = _segment(0, False, 0)
    tr = K.Segment()
    tr.base, tr.limit, tr.selector, tr.type, tr.present = va + TSS_OFF, 0x67, TSS_SEL, 0xB, 1
    sregs.tr = tr
    ldt = K.Segment()
    ldt.unusable = 1
    ldt.type = 2
    sregs.ldt = ldt
    sregs.gdt.base, sregs.gdt.limit = va + GDT_OFF, TSS_SEL + 15
    # All 256 gates: those past the exceptions are not present, so a ring-3 "int n" is #GP.
    sregs.idt.base, sregs.idt.limit = va + IDT_OFF, 16 * 256 - 1
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG
    sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (CR4_OSXSAVE if xsave else 0)
    sregs.cr3 = PT_GPA
    sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE


def syscall_msrs(va: int = KERNEL_VA) -> list[tuple[int, int]]:
    # sysret to 64-bit code takes CS = STAR[63:48] + 16 and SS = + 8.
    star = (USER32_CS << 48) | (KERNEL_CS << 32)
    return [(MSR_STAR, star), (MSR_LSTAR, va + STUB_OFF + STUB_SYSCALL),
            (MSR_CSTAR, va + STUB_OFF + STUB_SYSCALL), (MSR_SFMASK, SFMASK)]
