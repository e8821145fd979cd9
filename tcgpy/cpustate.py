"""CPU state: one list of register rows per architecture becomes the native
``ctypes.Structure`` that JIT code addresses through its ``env`` pointer, the IR
globals, and the name maps used by ``reg_read``/``reg_write``, the difftest and
the logs (archinfo-style: declare once, derive everything).
"""
from __future__ import annotations

import ctypes

from .record import factory, record

# 16,384 entries (64 MiB of reach, 512 KiB of env): a miss is refilled in
# host code (backends/llvm/refill.py), so the size only has to keep conflict
# misses rare in working sets of tens of MiB; flushing it is a 512 KiB memset.
TLB_BITS = 14
TLB_SIZE = 1 << TLB_BITS
PAGE_BITS = 12
PAGE_SIZE = 1 << PAGE_BITS
PAGE_MASK = ~(PAGE_SIZE - 1) & ((1 << 64) - 1)


@record(frozen=True)
class RegDef:
    """One architectural (or internal) register."""
    name: str
    size: int = 8                  # bytes
    aliases: tuple[str, ...] = ()
    ir: bool = True                # visible to the IR as a 64-bit global
    user: bool = True              # readable/writable through Emulator.reg_read/reg_write
    compare: bool = True           # compared by the difftest


class TLBEntry(ctypes.Structure):
    # addr_read/addr_write hold the page address when the access is allowed
    # from the fast path, or -1 so the inline compare always misses.
    _fields_ = [("addr_read", ctypes.c_uint64),
                ("addr_write", ctypes.c_uint64),
                ("addend", ctypes.c_uint64),
                ("_pad", ctypes.c_uint64)]


TLB_ENTRY_SIZE = ctypes.sizeof(TLBEntry)


class RegionEntry(ctypes.Structure):
    """One guest mapping as host code sees it (softmmu.memory.AddressSpace
    keeps an array of them, sorted by start, for the native TLB refill)."""
    _fields_ = [("start", ctypes.c_uint64),
                ("end", ctypes.c_uint64),        # exclusive
                ("addend", ctypes.c_uint64),     # host address - guest address
                ("fast", ctypes.c_uint64)]       # FAST_READ | FAST_WRITE


# What the refill may grant without Python: reads of readable RAM, writes to
# writable RAM holding no translated code (stores there must invalidate it).
FAST_READ, FAST_WRITE = 1, 2


class RegionTable(ctypes.Structure):
    """The header env ``mem_table`` points at."""
    _fields_ = [("count", ctypes.c_uint64),
                ("entries", ctypes.c_void_p),    # RegionEntry[count]
                ("refills", ctypes.c_uint64)]    # TLB refills done in host code


REGION_ENTRY_SIZE = ctypes.sizeof(RegionEntry)

# Fields every architecture's env has: the dispatcher and the backend use them.
COMMON_ROWS: tuple[RegDef, ...] = (
    RegDef("pc"),
    RegDef("icount_left", ir=False, user=False, compare=False),   # signed budget
    RegDef("exit_request", ir=False, user=False, compare=False),
    RegDef("fault_addr", ir=False, user=False, compare=False),
    RegDef("fault_access", ir=False, user=False, compare=False),  # 0 read, 1 write, 2 fetch
    RegDef("exception", ir=False, user=False, compare=False),     # set by slow paths
    # detail of an exit (HOT: its counter), and in a slow-path access the
    # accessing instruction's pc (for memory hooks: access.access_function_text)
    RegDef("exit_info", ir=False, user=False, compare=False),
    # where a faulting out-of-line access leaves translated code (set by jit.enter)
    RegDef("jmp_buf", ir=False, user=False, compare=False),
)


@record
class CPUStateLayout:
    rows: tuple[RegDef, ...]
    struct: type
    offsets: dict[str, int] = factory(dict)
    by_name: dict[str, RegDef] = factory(dict)
    tlb_offset: int = 0
    mem_table_offset: int = 0
    syscall_fn_offset: int = 0
    syscall_state_offset: int = 0

    @property
    def ir_globals(self) -> list[RegDef]:
        return [r for r in self.rows if r.ir]


def make_layout(arch_name: str, arch_rows: tuple[RegDef, ...]) -> CPUStateLayout:
    rows = COMMON_ROWS + tuple(arch_rows)
    fields = []
    for r in rows:
        ctype = ctypes.c_uint64 if r.size == 8 else ctypes.c_uint8 * r.size
        fields.append((r.name, ctype))
    fields.append(("tlb", TLBEntry * TLB_SIZE))
    # After the TLB, with it outside every register image (InterpState, the
    # tests' env copies): the address space's RegionTable, which the native
    # TLB refill searches.
    fields.append(("mem_table", ctypes.c_void_p))
    # The host-code syscall path (backends/llvm/syscall.py): translated code
    # calls ``syscall_fn`` at a syscall exit when it is not 0, and that
    # function finds what it may serve in ``syscall_state``.  A pointer in
    # env, not in the code: the same code runs with the path on or off.
    fields.append(("syscall_fn", ctypes.c_void_p))
    fields.append(("syscall_state", ctypes.c_void_p))
    struct = type(f"{arch_name.capitalize()}Env", (ctypes.Structure,), {"_fields_": fields})
    layout = CPUStateLayout(rows, struct)
    for r in rows:
        layout.offsets[r.name] = getattr(struct, r.name).offset
        layout.by_name[r.name] = r
        for a in r.aliases:
            layout.by_name[a] = r
    layout.tlb_offset = struct.tlb.offset
    layout.mem_table_offset = struct.mem_table.offset
    layout.syscall_fn_offset = struct.syscall_fn.offset
    layout.syscall_state_offset = struct.syscall_state.offset
    return layout
