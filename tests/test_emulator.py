"""The Emulator API, the CPU loop, chaining, invalidation and the softmmu."""
from __future__ import annotations

import random
import struct

import threading

import pytest

import tcgpy
from tcgpy import tbcache

from .asm import asm

CODE = 0x10000
DATA = 0x40000


def make(code: bytes, perms="rwx", data_perms="rw", **kw) -> tcgpy.Emulator:
    emu = tcgpy.Emulator("aarch64", **kw)
    emu.mem_map(CODE, 0x4000, perms)
    emu.mem_map(DATA, 0x4000, data_perms)
    emu.mem_write(CODE, code)
    return emu


# -- API -------------------------------------------------------------------------

def test_arm64_alias_and_registers():
    emu = tcgpy.Emulator("arm64")
    for i in range(31):
        emu.reg_write(f"x{i}", i * 0x1111)
    assert [emu.reg_read(f"x{i}") for i in range(31)] == [i * 0x1111 for i in range(31)]
    emu.reg_write("sp", 0x7fff0000)
    emu.reg_write("nzcv", 0xA0000000)
    emu.reg_write("tpidr_el0", 0x1234)
    assert emu.reg_read("sp") == 0x7fff0000
    assert emu.reg_read("nzcv") == 0xA0000000
    assert emu.reg_read("tpidr_el0") == 0x1234
    assert emu.reg_read("lr") == emu.reg_read("x30")
    emu.reg_write("x0", -1)
    assert emu.reg_read("x0") == (1 << 64) - 1
    with pytest.raises(ValueError):
        emu.reg_read("x31")
    with pytest.raises(ValueError):
        tcgpy.Emulator("sparc")


def test_fpcr_fpsr_reserved_bits_ignore_writes_as_msr_does():
    # Unicorn and msr agree; the JIT also relies on FPCR's RES0 bits being
    # clear (the FP shortcut takes bit 36 of its FPCR operand as a hint).
    emu = tcgpy.Emulator("aarch64")
    emu.reg_write("fpcr", (1 << 64) - 1)
    emu.reg_write("fpsr", (1 << 64) - 1)
    assert emu.reg_read("fpcr") == 0x07FF_0000       # AHP DN FZ RMode Stride FZ16 Len
    assert emu.reg_read("fpsr") == 0xF800_009F       # NZCV QC IDC IXC UFC OFC DZC IOC


def test_mem_map_rules():
    emu = tcgpy.Emulator("aarch64")
    with pytest.raises(ValueError):
        emu.mem_map(0x10001, 0x1000)
    with pytest.raises(ValueError):
        emu.mem_map(0x10000, 0x1000, perms="rwz")
    emu.mem_map(0x10000, 0x2000, "rw")
    with pytest.raises(ValueError):
        emu.mem_map(0x11000, 0x1000)
    emu.mem_write(0x10ffe, b"abcd")           # across a page boundary
    assert emu.mem_read(0x10ffe, 4) == b"abcd"
    emu.mem_unmap(0x11000, 0x1000)
    with pytest.raises(tcgpy.MemoryFault) as e:
        emu.mem_read(0x11000, 1)
    # the library's own access: no guest pc to name
    assert str(e.value) == "read fault at 0x11000" and e.value.pc is None
    with pytest.raises(tcgpy.MemoryFault, match=r"^write fault at 0x11000$"):
        emu.mem_write(0x10fff, b"ab")
    assert emu.mem_regions() == [(0x10000, 0x11000, "rw-")]
    # as Unicorn's uc_mem_unmap (UC_ERR_NOMEM): not mapped throughout is an error
    with pytest.raises(ValueError, match="not mapped throughout"):
        emu.mem_unmap(0x11000, 0x1000)
    with pytest.raises(ValueError, match="not mapped throughout"):
        emu.mem_unmap(0x10000, 0x2000)
    assert emu.mem_regions() == [(0x10000, 0x11000, "rw-")]
    emu.unmap_any(0x10000, 0x2000)            # munmap(2)'s rule
    assert emu.mem_regions() == []


def test_reg_write_refuses_values_that_do_not_fit():
    emu = tcgpy.Emulator("aarch64")
    emu.reg_write("x0", -1)                   # two's complement
    assert emu.reg_read("x0") == (1 << 64) - 1
    emu.reg_write("x1", (1 << 64) - 1)
    for name, value in (("x0", 1 << 70), ("x0", 1 << 64), ("x0", -(1 << 63) - 1), ("nzcv", 1 << 64),
                        ("q0", 1 << 128)):
        with pytest.raises(ValueError, match="does not fit"):
            emu.reg_write(name, value)
    assert emu.reg_read("x0") == (1 << 64) - 1
    emu.reg_write("q0", (1 << 128) - 1)
    assert emu.reg_read("q0") == (1 << 128) - 1


def test_simple_block_and_flags():
    emu = make(asm("add x0, x1, #5; subs x2, x0, #15"))
    emu.reg_write("x1", 10)
    emu.run(CODE, until=CODE + 8)
    assert emu.reg_read("x0") == 15
    assert emu.reg_read("x2") == 0
    assert emu.reg_read("nzcv") == 0x60000000      # Z and C
    assert emu.reg_read("pc") == CODE + 8


# -- chaining --------------------------------------------------------------------------

LOOP = "mov x0, x1; loop: subs x0, x0, #1; b.ne loop; nop"


def test_hot_loop_stays_in_host_code():
    """The dispatcher is entered a bounded number of times, whatever the iteration count."""
    returns = []
    for n in (100_000, 10_000_000):
        emu = make(asm(LOOP))
        emu.reg_write("x1", n)
        emu.run(CODE, until=CODE + 12)
        assert emu.reg_read("x0") == 0
        returns.append(emu.stats.dispatcher_returns)
    assert returns[0] == returns[1] <= 4
    assert emu.stats.chain_patches >= 1


def test_indirect_branch_uses_jump_table():
    code = asm("""
        mov x0, #0
        adr x5, f
        mov x6, #60000
    loop:
        blr x5
        subs x6, x6, #1
        b.ne loop
        b done
    f:
        add x0, x0, #3
        ret
    done:
        nop
    """)
    emu = make(code)
    end = CODE + len(code) - 4
    emu.run(CODE, until=end)
    assert emu.reg_read("x0") == 180000
    assert emu.stats.dispatcher_returns < 50


def test_indirect_jumps_to_targets_a_power_of_two_apart_stay_in_host_code():
    """Two functions 64 KiB apart (the jump table's reach) called by turns:
    each has its entry in the table at once, so the calls and the returns
    do not go back to the dispatcher (CPython's interpreter called two
    functions 0xa0000 apart this way, 400,000 dispatcher returns a run)."""
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, 0x20000, "rx")
    f, g = CODE + 0x1000, CODE + 0x11000
    loop = asm("""
        mov x0, #0
        mov x6, #30000
    loop:
        blr x5
        blr x7
        subs x6, x6, #1
        b.ne loop
        nop
    """)
    emu.mem_write(CODE, loop)
    emu.mem_write(f, asm("add x0, x0, #3; ret"))
    emu.mem_write(g, asm("add x0, x0, #5; ret"))
    emu.reg_write("x5", f)
    emu.reg_write("x7", g)
    emu.run(CODE, until=CODE + len(loop) - 4)
    assert emu.reg_read("x0") == 30000 * 8
    assert emu.stats.dispatcher_returns < 50


# -- exact counts and stop addresses ------------------------------------------------------

STRAIGHT = "; ".join(f"add x{i}, x{i}, #{i + 1}" for i in range(10))


def test_count_is_exact_mid_block():
    for k in range(0, 11):
        emu = make(asm(STRAIGHT))
        emu.run(CODE, until=CODE + 40)           # translate the whole block first
        for i in range(10):
            emu.reg_write(f"x{i}", 0)
        emu.run(CODE, count=k)
        assert emu.reg_read("pc") == CODE + 4 * k
        assert [emu.reg_read(f"x{i}") for i in range(10)] == [i + 1 if i < k else 0 for i in range(10)]


def test_until_inside_a_cached_block():
    emu = make(asm(STRAIGHT))
    emu.run(CODE, until=CODE + 40)
    for i in range(10):
        emu.reg_write(f"x{i}", 0)
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("pc") == CODE + 12
    assert [emu.reg_read(f"x{i}") for i in range(4)] == [1, 2, 3, 0]


def test_count_in_a_loop():
    emu = make(asm(LOOP))
    emu.reg_write("x1", 1000)
    emu.run(CODE, count=1 + 2 * 10)
    assert emu.reg_read("x0") == 990
    assert emu.reg_read("pc") == CODE + 4


def test_timeout_stops_an_infinite_loop():
    emu = make(asm("loop: add x0, x0, #1; b loop"))
    emu.run(CODE, timeout=0.2)
    assert emu.stop_reason == "timeout"
    assert emu.reg_read("x0") > 1000
    assert emu.reg_read("pc") in (CODE, CODE + 4)


def test_stop_reason_says_why_run_returned():
    emu = make(asm("add x0, x0, #1; add x0, x0, #1; loop: add x1, x1, #1; b loop"))
    emu.run(CODE, until=CODE + 8)
    assert emu.stop_reason == "until"
    emu.add_breakpoint(CODE + 4)
    emu.run(CODE)
    assert (emu.stop_reason, emu.hit_breakpoint) == ("breakpoint", CODE + 4)
    emu.remove_breakpoint(CODE + 4)
    stopper = threading.Timer(0.2, emu.emu_stop)       # Unicorn's name for request_exit
    stopper.start()
    emu.run(CODE)                                      # the loop ends only when stopped
    stopper.join()
    assert emu.stop_reason == "stop"
    counted = make(asm("loop: add x1, x1, #1; b loop"), icount=True)
    counted.run(CODE, count=10)
    assert counted.stop_reason == "count" and counted.last_run_insns == 10


def test_without_icount_blocks_carry_no_budget():
    """icount=False (tcgpy run's setting) leaves the per-block instruction
    budget out of the code: same results, no count."""
    code = asm(LOOP)
    results = []
    for icount in (True, False):
        emu = make(code, icount=icount)
        emu.reg_write("x1", 5000)
        emu.run(CODE, until=CODE + 12)
        results.append((emu.reg_read("x0"), emu.reg_read("nzcv"), emu.reg_read("pc")))
        budget = str(emu.env_addr + emu.arch.layout.offsets["icount_left"])
        text, _ = emu.cache._lower([emu.cache._translate(CODE + 4, 8, ())], chain=True, hot=False)
        assert (f"i64 {budget} to ptr" in text) == icount
    assert results[0] == results[1] == (0, 0x60000000, CODE + 12)
    with pytest.raises(ValueError, match="icount"):
        emu.run(CODE, count=3)
    endless = make(asm("loop: add x0, x0, #1; b loop"), icount=False)
    endless.run(CODE, timeout=0.2)      # an exit request still ends the loop
    assert endless.reg_read("x0") > 1000


# -- faults -------------------------------------------------------------------------------

def test_read_fault_is_precise():
    emu = make(asm("add x0, x0, #1; ldr x1, [x2]; add x0, x0, #1"))
    emu.reg_write("x2", 0x900000)
    emu.reg_write("x1", 77)
    with pytest.raises(tcgpy.MemoryFault) as ei:
        emu.run(CODE, until=CODE + 12)
    e = ei.value
    assert (e.pc, e.address, e.access) == (CODE + 4, 0x900000, "read")
    assert emu.reg_read("pc") == CODE + 4
    assert emu.reg_read("x0") == 1 and emu.reg_read("x1") == 77


def test_write_fault_on_readonly_page():
    emu = make(asm("mov x0, #7; str x0, [x1]"), data_perms="r")
    emu.reg_write("x1", DATA + 8)
    with pytest.raises(tcgpy.MemoryFault) as ei:
        emu.run(CODE, until=CODE + 8)
    assert (ei.value.pc, ei.value.address, ei.value.access) == (CODE + 4, DATA + 8, "write")
    assert emu.mem_read(DATA + 8, 8) == bytes(8)
    assert emu.reg_read("x0") == 7


def test_fetch_fault_and_nonexec():
    emu = make(asm(f"b #{CODE + 0x3000:#x}"))        # inside the mapping, not executable
    emu.mem_protect(CODE + 0x3000, 0x1000, "r")
    with pytest.raises(tcgpy.MemoryFault) as ei:
        emu.run(CODE)
    assert (ei.value.pc, ei.value.address, ei.value.access) == (CODE + 0x3000,) * 2 + ("fetch",)
    with pytest.raises(tcgpy.MemoryFault):
        emu.run(0xdead0000)


def test_unaligned_normal_access_allowed_across_pages():
    emu = make(asm("ldr x0, [x1]; str x0, [x2]"))
    emu.mem_write(DATA + 0xffc, bytes(range(1, 9)))
    emu.reg_write("x1", DATA + 0xffc)
    emu.reg_write("x2", DATA + 0x2001)
    emu.run(CODE, until=CODE + 8)
    assert emu.reg_read("x0") == int.from_bytes(bytes(range(1, 9)), "little")
    assert emu.mem_read(DATA + 0x2001, 8) == bytes(range(1, 9))


def test_illegal_instruction():
    emu = make(asm("add x0, x0, #1") + struct.pack("<I", 0x00000000))
    with pytest.raises(tcgpy.IllegalInstruction) as ei:
        emu.run(CODE, until=CODE + 8)
    assert ei.value.pc == CODE + 4 and ei.value.word == 0
    assert emu.reg_read("x0") == 1


def test_syscall_handler_and_unhandled():
    emu = make(asm("mov x8, #93; svc #0; add x0, x0, #1"))
    seen = []

    def on_syscall(e):
        seen.append((e.reg_read("x8"), e.reg_read("pc")))
        e.reg_write("x0", 41)
    emu.on_syscall = on_syscall
    emu.run(CODE, until=CODE + 12)
    assert seen == [(93, CODE + 8)]
    assert emu.reg_read("x0") == 42
    emu.on_syscall = None
    with pytest.raises(tcgpy.UnhandledSyscall):
        emu.run(CODE, until=CODE + 12)


# -- self-modifying code ----------------------------------------------------------------------

def test_self_modifying_code_runs_new_code():
    # The loop body is patched by the guest itself after the first iteration.
    code = asm("""
        mov x0, #0
        mov x3, #2
    again:
        bl body
        ldr w4, [x5]
        str w4, [x6]
        subs x3, x3, #1
        b.ne again
        b end
    body:
        add x0, x0, #1
        ret
    end:
        nop
    """)
    new_insn = asm("add x0, x0, #100")
    emu = make(code)
    body = CODE + code.index(asm("add x0, x0, #1"), 16)
    emu.mem_write(DATA, new_insn)
    emu.reg_write("x5", DATA)
    emu.reg_write("x6", body)
    emu.run(CODE, until=CODE + len(code) - 4)
    assert emu.reg_read("x0") == 101
    assert emu.stats.invalidations >= 1


def test_api_write_invalidates_chained_code():
    emu = make(asm("add x0, x0, #1; b next; next: add x0, x0, #2; nop"))
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == 3
    emu.mem_write(CODE + 8, asm("add x0, x0, #20"))
    emu.reg_write("x0", 0)
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == 21


# -- MMIO -------------------------------------------------------------------------------------------

def test_mmio_callbacks():
    log = []

    def read(off, size):
        log.append(("r", off, size))
        return 0x1122334455667788

    def write(off, size, value):
        log.append(("w", off, size, value))
    emu = make(asm("ldr w0, [x1, #4]; strh w2, [x1, #8]; ldr x3, [x1]"))
    emu.mmio_map(0x90000, 0x1000, read, write)
    emu.reg_write("x1", 0x90000)
    emu.reg_write("x2", 0xABCDEF)
    emu.run(CODE, until=CODE + 12)
    assert log == [("r", 4, 4), ("w", 8, 2, 0xCDEF), ("r", 0, 8)]
    assert emu.reg_read("x0") == 0x55667788
    assert emu.reg_read("x3") == 0x1122334455667788


def test_mmio_callback_error_propagates():
    def read(off, size):
        raise RuntimeError("device on fire")
    emu = make(asm("ldr x0, [x1]"))
    emu.mmio_map(0x90000, 0x1000, read, lambda *a: None)
    emu.reg_write("x1", 0x90000)
    with pytest.raises(RuntimeError, match="device on fire"):
        emu.run(CODE, until=CODE + 4)


# -- cache cap ---------------------------------------------------------------------------------------

def test_cache_cap_flushes(monkeypatch):
    monkeypatch.setattr(tbcache, "MAX_BLOCKS", 20)
    # 60 blocks: each adds and branches to the next one.
    code = asm("; ".join(f"add x0, x0, #1; b l{i}; l{i}: nop" for i in range(60)))
    emu = make(code)
    emu.run(CODE, until=CODE + len(code))
    assert emu.reg_read("x0") == 60
    assert emu.stats.cache_flushes >= 2
    emu.reg_write("x0", 0)
    emu.run(CODE, until=CODE + len(code))
    assert emu.reg_read("x0") == 60


# -- no guest input crashes the host --------------------------------------------------------------

def test_random_words_never_crash():
    rng = random.Random(1234)
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, 0x4000, "rwx")
    emu.mem_map(DATA, 0x4000, "rw")
    outcomes = {}
    for case in range(25):
        words = [rng.getrandbits(32) for _ in range(100)]
        emu.mem_write(CODE, struct.pack(f"<{len(words)}I", *words))
        for trial in range(40):
            for i in range(31):
                emu.reg_write(f"x{i}", rng.choice([0, 1, DATA + rng.randrange(0x4000), rng.getrandbits(64)]))
            emu.reg_write("sp", DATA + 0x2000)
            emu.reg_write("nzcv", rng.getrandbits(4) << 28)
            start = CODE + 4 * rng.randrange(len(words))
            try:
                emu.run(start, count=20)
                kind = "stop"
            except tcgpy.EmulationError as e:
                kind = type(e).__name__
            outcomes[kind] = outcomes.get(kind, 0) + 1
    assert sum(outcomes.values()) == 1000
    assert outcomes.get("IllegalInstruction", 0) > 0


def test_hot_loop_is_promoted_and_still_invalidated_by_code_writes():
    emu = make(asm("loop: add x0, x0, #1; subs x1, x1, #1; b.ne loop; nop"))
    emu.reg_write("x1", 50_000)
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == 50_000
    assert emu.stats.blocks_promoted >= 1
    emu.mem_write(CODE, asm("add x0, x0, #3"))
    emu.reg_write("x0", 0)
    emu.reg_write("x1", 50_000)
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == 150_000


def test_loop_edge_that_is_not_promoted_stops_counting(monkeypatch):
    """A counted loop edge leaves for the dispatcher when its counter runs
    out; if nothing replaces the loop, the edge must not keep leaving."""
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 10)
    monkeypatch.setattr(tbcache.TBCache, "promote", lambda self, counter, target: None)
    emu = make(asm("loop: add x0, x0, #1; subs x1, x1, #1; b.ne loop; nop"))
    emu.reg_write("x1", 50_000)
    emu.run(CODE, until=CODE + 12)
    assert emu.reg_read("x0") == 50_000
    assert emu.stats.blocks_promoted == 0
    assert emu.stats.dispatcher_returns <= 5


def test_hot_indirect_loop_promotes_its_region():
    code = asm("""
        adr x5, f
    loop:
        blr x5
        subs x6, x6, #1
        b.ne loop
        b done
    f:
        add x0, x0, #2
        ret
    done:
        nop
    """)
    emu = make(code)
    emu.reg_write("x6", 20_000)
    emu.run(CODE, until=CODE + len(code) - 4)
    assert emu.reg_read("x0") == 40_000
    assert emu.stats.blocks_promoted >= 2


def test_retranslation_does_not_grow_host_memory_mappings(monkeypatch):
    """Blocks rewritten again and again (a difftest campaign, a self-modifying
    guest) must not accumulate machine code: flushes release it."""
    monkeypatch.setattr(tbcache, "MAX_BLOCKS", 100)

    def maps() -> int:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    emu = make(b"")
    counts = []
    for i in range(1500):
        emu.mem_write(CODE, struct.pack("<I", 0x91000000 | ((i % 4096) << 10)))   # add x0, x0, #i
        emu.reg_write("x0", 0)
        emu.run(CODE, until=CODE + 4)
        assert emu.reg_read("x0") == i % 4096
        if i % 500 == 499:
            counts.append(maps())
    assert emu.stats.cache_flushes >= 10
    assert counts[-1] <= counts[0] + 50, counts


def test_top_byte_ignore_is_opt_in():
    code = asm("ldr x0, [x1]; str x0, [x1, #8]; add x1, x1, #16")
    tagged = (0x5A << 56) | DATA
    for tbi in (False, True):
        emu = make(code, tbi=tbi)
        emu.mem_write(DATA, (0x1122334455667788).to_bytes(8, "little"))
        emu.reg_write("x1", tagged)
        if not tbi:
            with pytest.raises(tcgpy.MemoryFault) as ei:
                emu.run(CODE, until=CODE + 12)
            assert ei.value.address == tagged
            continue
        emu.run(CODE, until=CODE + 12)
        assert emu.reg_read("x0") == 0x1122334455667788
        assert emu.mem_read(DATA + 8, 8) == (0x1122334455667788).to_bytes(8, "little")
        assert emu.reg_read("x1") == tagged + 16          # the tag survives in the register
    emu = make(code, tbi=True)
    emu.reg_write("x1", (0xFF << 56) | (1 << 55) | DATA)  # a kernel-half address still faults
    with pytest.raises(tcgpy.MemoryFault):
        emu.run(CODE, until=CODE + 12)


def test_top_byte_ignore_in_hot_code(monkeypatch):
    """The hot tier applies MemOp.TBI inline (the first tier in its access
    functions): a loop over a tagged pointer gives the same sums."""
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 50)
    code = asm("""
    loop:
        ldrb w2, [x1], #1
        add x0, x0, x2
        strb w0, [x1, #0xfff]
        subs x3, x3, #1
        b.ne loop
        nop
    """)
    emu = make(code, tbi=True)
    data = bytes((7 + 3 * i) & 0xFF for i in range(0x800))
    emu.mem_write(DATA, data)
    emu.reg_write("x1", (0xA5 << 56) | DATA)
    emu.reg_write("x3", 0x800)
    emu.run(CODE, until=CODE + len(code) - 4)
    assert emu.stats.hot_regions >= 1
    sums, total = [], 0
    for b in data:
        total += b
        sums.append(total & 0xFF)
    assert emu.reg_read("x0") == total
    assert emu.mem_read(DATA + 0x1000, 0x800) == bytes(sums)
    assert emu.reg_read("x1") == (0xA5 << 56) | (DATA + 0x800)


def test_misaligned_pc_is_an_alignment_fault():
    """A branch to pc % 4 != 0 faults on the fetch with an alignment fault
    (Linux: SIGBUS/BUS_ADRALN, as under qemu-aarch64), not a segfault."""
    emu = make(asm("br x0"))
    emu.reg_write("x0", CODE + 0x102)
    with pytest.raises(tcgpy.AlignmentFault) as ei:
        emu.run(CODE)
    assert (ei.value.pc, ei.value.address, ei.value.access) == (CODE + 0x102, CODE + 0x102, "fetch")
