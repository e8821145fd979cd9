"""riscv64's own syscalls: riscv_flush_icache and riscv_hwprobe."""
from __future__ import annotations

import struct

from ..syscalls.table import syscall

# arch/riscv/include/uapi/asm/hwprobe.h (Linux 6.4+)
HWPROBE_KEYS = {
    0: 0,           # MVENDORID
    1: 0,           # MARCHID
    2: 0,           # MIMPID
    3: 1,           # BASE_BEHAVIOR: IMA (the rv64 user ISA)
    4: 1 | 2 | 8 | 16 | 32,     # IMA_EXT_0: FD, C, Zba, Zbb, Zbs (no V)
    5: 3,           # CPUPERF_0: misaligned accesses are FAST (done in host code, as qemu-user says)
}
PAIR = struct.Struct("<qQ")


@syscall("riscv_flush_icache", "x x x")
def sys_riscv_flush_icache(proc, start, end, flags):
    """A store to guest code invalidates its translations (the block cache
    tracks code pages); code written through another mapping of the same
    memory (a JIT's W^X double mapping) is not such a store, so what was
    translated from [start, end) goes here (Linux flushes the whole
    instruction cache whatever the range says)."""
    if flags & ~1:
        return proc.err("EINVAL")
    invalidate = getattr(proc.emu, "invalidate_code", None)
    if invalidate is not None and end > start:
        invalidate(start, end - start)
    return 0


@syscall("riscv_hwprobe", "p u u p u")
def sys_riscv_hwprobe(proc, pairs, count, cpusetsize, cpus, flags):
    """Fill each (key, value) pair; an unknown key becomes -1 with value 0.
    Every CPU is alike, so the cpu set does not matter."""
    if flags:
        return proc.err("EINVAL")
    for i in range(count):
        addr = pairs + i * PAIR.size
        key, _ = PAIR.unpack(proc.read(addr, PAIR.size))
        if key in HWPROBE_KEYS:
            proc.write(addr, PAIR.pack(key, HWPROBE_KEYS[key]))
        else:
            proc.write(addr, PAIR.pack(-1, 0))
    return 0
