"""Unicorn-style hooks and native instrumentation (tcgpy/hooks.py), each
kind compared with the same hook on Unicorn where Unicorn has it."""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import unicorn
from unicorn import arm64_const as UCA

import tcgpy
from tcgpy import Emulator, IllegalInstruction, MemoryFault

ROOT = Path(__file__).resolve().parent.parent
CODE, DATA = 0x10000, 0x20000

# A counted loop with a load and a store (GNU as, checked with objdump):
LOOP = [
    0xd2800000,  # 0x10000  mov  x0, #0
    0xd28000a2,  # 0x10004  mov  x2, #5
    0xf9400023,  # 0x10008  ldr  x3, [x1]
    0x8b020063,  # 0x1000c  add  x3, x3, x2
    0xf9000423,  # 0x10010  str  x3, [x1, #8]
    0x91000400,  # 0x10014  add  x0, x0, #1
    0xf1000442,  # 0x10018  subs x2, x2, #1
    0x54ffff61,  # 0x1001c  b.ne 0x10008
    0xd503201f,  # 0x10020  nop
]
LOOP_END = CODE + 4 * len(LOOP)
# Accesses of several sizes:
ACCESSES = [
    0x39000c22,  # 0x10000  strb w2, [x1, #3]
    0xa9010c22,  # 0x10004  stp  x2, x3, [x1, #16]
    0x39400c26,  # 0x10008  ldrb w6, [x1, #3]
    0xf9400023,  # 0x1000c  ldr  x3, [x1]
    0xd503201f,  # 0x10010  nop
]
ADD1 = 0x91000400   # add x0, x0, #1
LDR_X4_X5 = 0xf94000a4  # ldr x4, [x5]
SVC = 0xd4000001    # svc #0
BRK = 0xd4200000    # brk #0
UDF = 0x00000000    # udf #0 (undefined)
NOP = 0xd503201f


def code(words: list[int]) -> bytes:
    return b"".join(struct.pack("<I", w) for w in words)


def ours(words, **kw) -> Emulator:
    emu = Emulator("aarch64", **kw)
    emu.mem_map(CODE, 0x1000, "rx")
    emu.mem_map(DATA, 0x1000, "rw")
    emu.mem_write(CODE, code(words))
    emu.mem_write(DATA, struct.pack("<Q", 0x1234))
    emu.reg_write("x1", DATA)
    emu.reg_write("x3", 0x77)
    return emu


def theirs(words):
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.mem_map(CODE, 0x1000, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
    uc.mem_map(DATA, 0x1000)
    uc.mem_write(CODE, code(words))
    uc.mem_write(DATA, struct.pack("<Q", 0x1234))
    uc.reg_write(UCA.UC_ARM64_REG_X1, DATA)
    uc.reg_write(UCA.UC_ARM64_REG_X3, 0x77)
    return uc


def both(words, kind, uckind, until, make_cb, **hook_kw):
    """The events each engine's hook of ``kind`` records over one run."""
    seen = {}
    emu = ours(words)
    seen["tcgpy"] = []
    emu.hook_add(kind, make_cb(seen["tcgpy"]), **hook_kw)
    emu.run(CODE, until=until)
    uc = theirs(words)
    seen["unicorn"] = []
    uc.hook_add(uckind, make_cb(seen["unicorn"]), **hook_kw)
    uc.emu_start(CODE, until)
    return seen["tcgpy"], seen["unicorn"]


def code_events(out):
    return lambda emu, address, size, user_data: out.append((address, size))


def mem_events(out):
    return lambda emu, access, address, size, value, user_data: out.append((access, address, size, value))


def test_constants_are_unicorns():
    assert tcgpy.HOOK_CODE == unicorn.UC_HOOK_CODE and tcgpy.HOOK_BLOCK == unicorn.UC_HOOK_BLOCK
    assert tcgpy.HOOK_MEM_UNMAPPED == unicorn.UC_HOOK_MEM_UNMAPPED
    assert tcgpy.HOOK_MEM_PROT == unicorn.UC_HOOK_MEM_PROT
    assert tcgpy.HOOK_INSN_INVALID == unicorn.UC_HOOK_INSN_INVALID
    for name in ("MEM_INVALID", "MEM_VALID", "MEM_READ_INVALID", "MEM_WRITE_INVALID", "MEM_FETCH_INVALID",
                 "MEM_READ_AFTER", "INTR", "MEM_FETCH"):
        assert getattr(tcgpy, "HOOK_" + name) == getattr(unicorn, "UC_HOOK_" + name), name
    assert (tcgpy.MEM_READ, tcgpy.MEM_WRITE, tcgpy.MEM_FETCH, tcgpy.MEM_READ_UNMAPPED, tcgpy.MEM_WRITE_PROT) == (
        unicorn.UC_MEM_READ, unicorn.UC_MEM_WRITE, unicorn.UC_MEM_FETCH, unicorn.UC_MEM_READ_UNMAPPED,
        unicorn.UC_MEM_WRITE_PROT)


def test_code_hook_sequence_matches_unicorn():
    mine, uc = both(LOOP, tcgpy.HOOK_CODE, unicorn.UC_HOOK_CODE, LOOP_END, code_events)
    assert len(mine) == 2 + 6 * 5 + 1
    assert mine == uc


def test_block_hook_sequence_matches_unicorn():
    mine, uc = both(LOOP, tcgpy.HOOK_BLOCK, unicorn.UC_HOOK_BLOCK, LOOP_END, code_events)
    assert mine == uc and len(mine) == 6


def test_code_hook_range_matches_unicorn():
    # only the loop's store and add, as Unicorn checks the instruction's address
    mine, uc = both(LOOP, tcgpy.HOOK_CODE, unicorn.UC_HOOK_CODE, LOOP_END, code_events,
                    begin=CODE + 0x10, end=CODE + 0x14)
    assert mine == uc == [(CODE + 0x10, 4), (CODE + 0x14, 4)] * 5


def test_memory_hooks_match_unicorn():
    q_regs = [0x3dc00020,   # 0x10000  ldr q0, [x1]
              0x3d800020]   # 0x10004  str q0, [x1]   (each as two 8-byte accesses, on both)
    for words, until in ((LOOP, LOOP_END), (ACCESSES, CODE + 0x10), (q_regs + [NOP], CODE + 8)):
        mine, uc = both(words, tcgpy.HOOK_MEM_READ | tcgpy.HOOK_MEM_WRITE,
                        unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE, until, mem_events)
        assert mine == uc and mine


def test_memory_hook_range_is_the_accessed_address():
    mine, uc = both(ACCESSES, tcgpy.HOOK_MEM_WRITE, unicorn.UC_HOOK_MEM_WRITE, CODE + 0x10, mem_events,
                    begin=DATA + 0x10, end=DATA + 0x17)
    assert mine == uc == [(tcgpy.MEM_WRITE, DATA + 0x10, 8, 0)]     # stp's first half (x2)


def test_memory_hook_sees_the_accessing_pc():
    pcs = []
    emu = ours(ACCESSES)
    emu.hook_add(tcgpy.HOOK_MEM_READ | tcgpy.HOOK_MEM_WRITE,
                 lambda e, acc, a, s, v, u: pcs.append(e.reg_read("pc")))
    emu.run(CODE, until=CODE + 0x10)
    assert pcs == [CODE, CODE + 4, CODE + 4, CODE + 8, CODE + 0xc]


def test_read_after_gives_the_value():
    # (Unicorn's Python binding has no handler for UC_HOOK_MEM_READ_AFTER to compare with)
    emu = ours(ACCESSES)
    got = []
    emu.hook_add(tcgpy.HOOK_MEM_READ_AFTER, mem_events(got))
    emu.run(CODE, until=CODE + 0x10)
    assert got == [(tcgpy.MEM_READ_AFTER, DATA + 3, 1, 0), (tcgpy.MEM_READ_AFTER, DATA, 8, 0x1234)]


def test_unmapped_read_retried_after_mapping():
    words = [LDR_X4_X5, NOP]
    for engine in ("tcgpy", "unicorn"):
        calls = []
        if engine == "tcgpy":
            emu = ours(words)
            emu.reg_write("x5", 0x40008)

            def fix(e, access, address, size, value, user_data):
                calls.append((access, address, size, value, e.reg_read("pc")))
                e.mem_map(0x40000, 0x1000)
                e.mem_write(0x40008, struct.pack("<Q", 0xfeed))
                return True
            emu.hook_add(tcgpy.HOOK_MEM_UNMAPPED, fix)
            emu.run(CODE, until=CODE + 4)
            result = emu.reg_read("x4")
        else:
            uc = theirs(words)
            uc.reg_write(UCA.UC_ARM64_REG_X5, 0x40008)

            def ucfix(u, access, address, size, value, user_data):
                calls.append((access, address, size, value, u.reg_read(UCA.UC_ARM64_REG_PC)))
                u.mem_map(0x40000, 0x1000)
                u.mem_write(0x40008, struct.pack("<Q", 0xfeed))
                return True
            uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, ucfix)
            uc.emu_start(CODE, CODE + 4)
            result = uc.reg_read(UCA.UC_ARM64_REG_X4)
        assert result == 0xfeed
        assert calls == [(tcgpy.MEM_READ_UNMAPPED, 0x40008, 8, 0, CODE)]


def test_unmapped_then_read_hook_order_matches_unicorn():
    words = [LDR_X4_X5, NOP]
    events = {}
    for engine in ("tcgpy", "unicorn"):
        out = events[engine] = []

        def mem(e, access, address, size, value, user_data):
            out.append(("mem", access, address))

        def unmapped(e, access, address, size, value, user_data):
            out.append(("unmapped", access, address))
            e.mem_map(0x40000, 0x1000)
            return True
        if engine == "tcgpy":
            emu = ours(words)
            emu.reg_write("x5", 0x40000)
            emu.hook_add(tcgpy.HOOK_MEM_READ | tcgpy.HOOK_MEM_WRITE, mem)
            emu.hook_add(tcgpy.HOOK_MEM_UNMAPPED, unmapped)
            emu.run(CODE, until=CODE + 4)
        else:
            uc = theirs(words)
            uc.reg_write(UCA.UC_ARM64_REG_X5, 0x40000)
            uc.hook_add(unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE, mem)
            uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, unmapped)
            uc.emu_start(CODE, CODE + 4)
    assert events["tcgpy"] == events["unicorn"] == [("unmapped", tcgpy.MEM_READ_UNMAPPED, 0x40000),
                                                    ("mem", tcgpy.MEM_READ, 0x40000)]


def test_unmapped_hook_returning_false_faults():
    emu = ours([LDR_X4_X5, NOP])
    emu.reg_write("x5", 0x40008)
    emu.hook_add(tcgpy.HOOK_MEM_UNMAPPED, lambda *a: False)
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE, until=CODE + 4)
    assert e.value.pc == CODE


def test_prot_hook_reprotects_and_retries():
    emu = ours([0xf9000023, NOP])        # str x3, [x1]
    emu.mem_protect(DATA, 0x1000, "r")
    seen = []

    def allow(e, access, address, size, value, user_data):
        seen.append((access, address, size, value))
        e.mem_protect(DATA, 0x1000, "rw")
        return True
    emu.hook_add(tcgpy.HOOK_MEM_PROT, allow)
    emu.run(CODE, until=CODE + 4)
    assert seen == [(tcgpy.MEM_WRITE_PROT, DATA, 8, 0x77)]
    assert emu.mem_read(DATA, 8) == struct.pack("<Q", 0x77)


def test_fetch_unmapped_maps_code():
    emu = Emulator("aarch64")

    def load(e, access, address, size, value, user_data):
        e.mem_map(0x50000, 0x1000, "rx")
        e.mem_write(0x50000, code([ADD1, ADD1, NOP]))
        return access == tcgpy.MEM_FETCH_UNMAPPED and address == 0x50000
    emu.hook_add(tcgpy.HOOK_MEM_FETCH_UNMAPPED, load)
    emu.run(0x50000, until=0x50008)
    assert emu.reg_read("x0") == 2


@pytest.mark.parametrize("insn,intno,pc_after", [(SVC, 2, CODE + 8), (BRK, 7, CODE + 4)])
def test_intr_hook_matches_unicorn(insn, intno, pc_after):
    words = [ADD1, insn, ADD1, NOP]

    def record(out, pc, set_pc):
        def cb(engine, n, user_data):
            out.append((n, pc(engine)))
            if insn == BRK:                  # both re-run brk, as QEMU leaves pc at it: step over
                set_pc(engine, CODE + 8)
        return cb
    mine, uc = [], []
    emu = ours(words)
    emu.hook_add(tcgpy.HOOK_INTR, record(mine, lambda e: e.reg_read("pc"), lambda e, v: e.reg_write("pc", v)))
    emu.run(CODE, until=CODE + 12)
    u = theirs(words)
    u.hook_add(unicorn.UC_HOOK_INTR, record(uc, lambda e: e.reg_read(UCA.UC_ARM64_REG_PC),
                                            lambda e, v: e.reg_write(UCA.UC_ARM64_REG_PC, v)))
    u.emu_start(CODE, CODE + 12)
    assert mine == uc == [(intno, pc_after)]
    assert emu.reg_read("x0") == u.reg_read(UCA.UC_ARM64_REG_X0) == 2


def test_insn_invalid_skips_or_raises():
    emu = ours([ADD1, UDF, ADD1, NOP])
    calls = []
    emu.hook_add(tcgpy.HOOK_INSN_INVALID, lambda e, u: calls.append(e.reg_read("pc")) or True)
    emu.run(CODE, until=CODE + 12)
    assert calls == [CODE + 4] and emu.reg_read("x0") == 2
    emu = ours([ADD1, UDF, ADD1, NOP])
    emu.hook_add(tcgpy.HOOK_INSN_INVALID, lambda e, u: False)
    with pytest.raises(IllegalInstruction):
        emu.run(CODE, until=CODE + 12)


def test_emu_stop_in_code_hook_matches_unicorn():
    words = [ADD1, ADD1, ADD1, ADD1, NOP]

    def stopper(engine, address, size, user_data):
        if address == CODE + 8:
            engine.emu_stop()
    emu = ours(words)
    emu.hook_add(tcgpy.HOOK_CODE, stopper)
    emu.run(CODE, until=CODE + 16)
    u = theirs(words)
    u.hook_add(unicorn.UC_HOOK_CODE, stopper)
    u.emu_start(CODE, CODE + 16)
    # Unicorn stops before the instruction whose hook asked
    assert (emu.reg_read("pc"), emu.reg_read("x0")) == (u.reg_read(UCA.UC_ARM64_REG_PC),
                                                        u.reg_read(UCA.UC_ARM64_REG_X0)) == (CODE + 8, 2)
    assert emu.stop_reason == "stop"


def test_emu_stop_in_memory_hook_matches_unicorn():
    words = [ADD1, 0xf9000023, ADD1, ADD1, NOP]     # 0x10004: str x3, [x1]

    def stopper(engine, access, address, size, value, user_data):
        engine.emu_stop()
    emu = ours(words)
    emu.hook_add(tcgpy.HOOK_MEM_WRITE, stopper)
    emu.run(CODE, until=CODE + 16)
    u = theirs(words)
    u.hook_add(unicorn.UC_HOOK_MEM_WRITE, stopper)
    u.emu_start(CODE, CODE + 16)
    # at the store, which has been done (resuming does it again)
    assert (emu.reg_read("pc"), emu.reg_read("x0"), emu.mem_read(DATA, 8)) == (
        u.reg_read(UCA.UC_ARM64_REG_PC), u.reg_read(UCA.UC_ARM64_REG_X0), bytes(u.mem_read(DATA, 8))) == (
        CODE + 4, 1, struct.pack("<Q", 0x77))
    assert emu.stop_reason == "stop"


def test_pc_write_in_code_hook_jumps():
    emu = ours([ADD1, ADD1, ADD1, ADD1, NOP])
    emu.hook_add(tcgpy.HOOK_CODE, lambda e, a, s, u: e.reg_write("pc", CODE + 12) if a == CODE + 4 else None)
    emu.run(CODE, until=CODE + 16)
    assert emu.reg_read("x0") == 2


def test_several_hooks_and_hook_del_inside_a_callback():
    emu = ours(LOOP)
    first, second = [], []
    handle = {}

    def once_a_while(e, address, size, user_data):
        first.append(address)
        if len(first) == 3:
            e.hook_del(handle["h"])
    handle["h"] = emu.hook_add(tcgpy.HOOK_CODE, once_a_while)
    emu.hook_add(tcgpy.HOOK_CODE, lambda e, a, s, u: second.append(a))
    emu.run(CODE, until=LOOP_END)
    assert len(first) == 3 and len(second) == 33


def test_exception_in_a_hook_reaches_the_caller():
    emu = ours(LOOP)

    def boom(*args):
        raise KeyError("from the hook")
    emu.hook_add(tcgpy.HOOK_CODE, boom, begin=CODE + 8, end=CODE + 8)
    with pytest.raises(KeyError):
        emu.run(CODE, until=LOOP_END)


def test_hook_del_retranslates_only_the_range():
    # two pages of code: a jump from the first to the second and back to a nop
    emu = Emulator("aarch64")
    emu.mem_map(CODE, 0x2000, "rx")
    emu.mem_write(CODE, code([ADD1, 0x14000400]))     # 0x10004: b 0x11004
    emu.mem_write(CODE + 0x1004, code([ADD1, ADD1, NOP]))
    emu.run(CODE, until=CODE + 0x100c)
    base = emu.stats.blocks_translated
    h = emu.hook_add(tcgpy.HOOK_CODE, lambda *a: None, begin=CODE + 0x1000, end=CODE + 0x1fff)
    emu.run(CODE, until=CODE + 0x100c)
    assert emu.stats.blocks_translated == base + 1       # the second page's block only
    emu.hook_del(h)
    emu.run(CODE, until=CODE + 0x100c)
    assert emu.stats.blocks_translated == base + 2
    assert emu.reg_read("x0") == 9


def test_context_round_trip():
    emu = ours(LOOP)
    emu.reg_write("x7", 0x1122334455667788)
    emu.reg_write("v3", 0xaabb << 64 | 0xccdd)
    emu.reg_write("nzcv", 0x60000000)
    emu.reg_write("fpcr", 0x03000000)
    emu.reg_write("pc", CODE)
    ctx = emu.context_save()
    emu.run(CODE, until=LOOP_END)
    for reg in ("x7", "v3", "nzcv", "fpcr"):
        emu.reg_write(reg, 0)
    emu.context_restore(ctx)
    assert (emu.reg_read("x7"), emu.reg_read("v3"), emu.reg_read("nzcv"), emu.reg_read("fpcr"),
            emu.reg_read("x0"), emu.reg_read("pc")) == (0x1122334455667788, 0xaabb << 64 | 0xccdd,
                                                        0x60000000, 0x03000000, 0, CODE)
    assert ctx.reg_read("x7") == 0x1122334455667788


@pytest.mark.parametrize("icount", [True, False], ids=["jit", "cold-tier"])
def test_counters_exact_against_hooks(icount):
    emu = ours(LOOP, icount=icount)
    insns, blocks, reads, writes = [], [], [], []
    emu.hook_add(tcgpy.HOOK_CODE, lambda e, a, s, u: insns.append(a))
    emu.hook_add(tcgpy.HOOK_BLOCK, lambda e, a, s, u: blocks.append(a))
    if icount:      # (memory hooks turn the cold tier off)
        emu.hook_add(tcgpy.HOOK_MEM_READ, lambda *a: reads.append(a[2]))
        emu.hook_add(tcgpy.HOOK_MEM_WRITE, lambda *a: writes.append(a[2]))
    counters = {k: emu.counter_add(k) for k in ("insns", "blocks", "mem_reads", "mem_writes")}
    in_loop = emu.counter_add("insns", CODE + 8, CODE + 0x1c)
    for _ in range(3):
        emu.run(CODE, until=LOOP_END)
    assert [counters[k].value for k in ("insns", "blocks")] == [len(insns), len(blocks)] == [99, 18]
    assert [counters[k].value for k in ("mem_reads", "mem_writes")] == [15, 15]
    if icount:
        assert (len(reads), len(writes)) == (15, 15)
    else:
        assert emu.stats.cold_runs > 0          # the interpreter ran instrumented blocks
    assert in_loop.value == 3 * 30


def test_counters_alone_keep_python_out():
    emu = ours(LOOP)
    c = emu.counter_add("insns")
    emu.run(CODE, until=LOOP_END)
    assert c.value == 33
    assert emu.stats.slow_accesses == 0


def test_trace_ring():
    emu = ours(LOOP)
    blocks = []
    emu.hook_add(tcgpy.HOOK_BLOCK, lambda e, a, s, u: blocks.append(a))
    trace = emu.trace_add(capacity=4)
    emu.run(CODE, until=LOOP_END)
    assert trace.total == len(blocks) == 6
    assert trace.addresses() == blocks[-4:]
    big = emu.trace_add()
    emu.run(CODE, until=LOOP_END)
    assert big.addresses() == blocks[:6]


def test_hooked_code_does_not_come_from_the_persistent_cache(tmp_path):
    emu = ours(LOOP, cache_dir=str(tmp_path))
    emu.run(CODE, until=LOOP_END)
    emu.save_cache()
    emu = ours(LOOP, cache_dir=str(tmp_path))
    seen = []
    emu.hook_add(tcgpy.HOOK_CODE, lambda e, a, s, u: seen.append(a))
    c = emu.counter_add("insns")
    emu.run(CODE, until=LOOP_END)
    assert len(seen) == c.value == 33
    assert emu.stats.pcache_blocks == 0


def test_cli_count_and_trace(tmp_path):
    """--count and --trace agree with -d exec's log of every block run."""
    prog = ROOT / "tests" / "guest" / "bin" / "libc_hello"
    trace, log = tmp_path / "trace.txt", tmp_path / "exec.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TCGPY_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "tcgpy", "run", "--count", "--trace", str(trace),
                        "-d", "exec", "-D", str(log), str(prog)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("hello, world\n")
    counts = {k: int(v) for k, v in (line[len("tcgpy count "):].split(": ")
                                     for line in r.stderr.splitlines() if line.startswith("tcgpy count "))}
    blocks = [(int(a, 16), int(n)) for a, n in re.findall(r"/([0-9a-f]+)\] (\d+) insns", log.read_text())]
    assert counts["blocks"] == len(blocks) > 1000
    assert counts["insns"] == sum(n for _, n in blocks)
    assert counts["mem_reads"] > 0 and counts["mem_writes"] > 0
    assert [int(a, 16) for a in trace.read_text().split()] == [a for a, _ in blocks]


def test_hooks_bench_counts_agree():
    from tcgpy import benchmarks_hooks
    res = benchmarks_hooks.run_hooks(scale=0.002, hook_scale=0.001, repeat=1)
    assert [r["workload"] for r in res["hooks"]] == ["arith", "memory", "indirect", "callret"]
    for r in res["hooks"]:
        assert r["counters_exact"] and r["same_hook_calls"] and r["code_hook_insns"] > 0, r
    assert "counters/plain" in benchmarks_hooks.format_hooks_report(res)


def test_riscv64_code_hook_and_counter_match_unicorn():
    from unicorn import riscv_const
    words = [0x00150513, 0x00150513, 0x00000013]     # addi a0, a0, 1 (twice); nop
    emu = Emulator("riscv64")
    emu.mem_map(CODE, 0x1000, "rx")
    emu.mem_write(CODE, code(words))
    mine, theirs_ = [], []
    emu.hook_add(tcgpy.HOOK_CODE, code_events(mine))
    counter = emu.counter_add("insns")
    emu.run(CODE, until=CODE + 12)
    uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV64)
    uc.mem_map(CODE, 0x1000)
    uc.mem_write(CODE, code(words))
    uc.hook_add(unicorn.UC_HOOK_CODE, code_events(theirs_))
    uc.emu_start(CODE, CODE + 12)
    assert mine == theirs_ == [(CODE, 4), (CODE + 4, 4), (CODE + 8, 4)] and counter.value == 3
    assert emu.reg_read("a0") == uc.reg_read(riscv_const.UC_RISCV_REG_A0) == 2


def test_fetch_hook_sees_each_instruction_run():
    emu = ours(LOOP)
    fetches, insns = [], []
    emu.hook_add(tcgpy.HOOK_MEM_FETCH, mem_events(fetches))
    emu.hook_add(tcgpy.HOOK_CODE, code_events(insns))
    emu.run(CODE, until=LOOP_END)
    assert fetches == [(tcgpy.MEM_FETCH, a, s, 0) for a, s in insns] and len(insns) == 33


def test_block_hook_range_is_the_block_start():
    # the loop's block starts at 0x10008; the first block (0x10000) runs over it
    mine, uc = both(LOOP, tcgpy.HOOK_BLOCK, unicorn.UC_HOOK_BLOCK, LOOP_END, code_events,
                    begin=CODE + 8, end=CODE + 8)
    assert mine == uc == [(CODE + 8, 24)] * 4


def test_bad_kinds_and_handles():
    emu = ours(LOOP)
    with pytest.raises(ValueError):
        emu.hook_add(1 << 20, lambda *a: None)
    with pytest.raises(ValueError):
        emu.hook_del(12345)


def test_code_outside_every_range_is_translated_as_without_hooks():
    emu = ours(LOOP)

    def ir(pc):
        return str(emu.cache._translate(pc, 64, ()))
    plain = ir(CODE)
    emu.hook_add(tcgpy.HOOK_CODE, lambda *a: None, begin=0x7000_0000, end=0x7000_0fff)
    emu.hook_add(tcgpy.HOOK_BLOCK, lambda *a: None, begin=CODE + 4, end=CODE + 0xfff)   # no block starts there
    emu.counter_add("insns", 0x7000_0000, 0x7000_0fff)
    assert ir(CODE) == plain and "hook" not in plain
    emu.hook_add(tcgpy.HOOK_CODE, lambda *a: None, begin=CODE + 8, end=CODE + 8)
    assert ir(CODE).count(" hook ") == 1


def test_instruction_budget_with_hooks():
    emu = ours(LOOP)
    seen = []
    emu.hook_add(tcgpy.HOOK_CODE, lambda e, a, s, u: seen.append(a))
    emu.run(CODE, count=7)
    assert len(seen) == 7 and emu.last_run_insns == 7 and emu.stop_reason == "count"
    emu = ours(LOOP)
    emu.hook_add(tcgpy.HOOK_CODE, lambda e, a, s, u: e.emu_stop() if a == CODE + 12 else None)
    emu.run(CODE)
    # stopped before the fourth instruction: three ran, the rest of the block was given back
    assert emu.last_run_insns == 3 and emu.reg_read("pc") == CODE + 12


def test_memory_hooks_on_a_loop_already_hot():
    emu = ours(LOOP)
    emu.reg_write("x2", 10_000)          # past the hot threshold: the loop is recompiled hot
    emu.run(CODE + 8, until=LOOP_END)
    assert emu.stats.blocks_promoted > 0
    events = []
    emu.hook_add(tcgpy.HOOK_MEM_READ | tcgpy.HOOK_MEM_WRITE,
                 lambda e, access, address, size, value, u: events.append((access, e.reg_read("pc"),
                                                                           e.reg_read("x2"))))
    emu.reg_write("x2", 3)
    emu.run(CODE + 8, until=LOOP_END)
    assert events == [(tcgpy.MEM_READ, CODE + 8, 3), (tcgpy.MEM_WRITE, CODE + 0x10, 3),
                      (tcgpy.MEM_READ, CODE + 8, 2), (tcgpy.MEM_WRITE, CODE + 0x10, 2),
                      (tcgpy.MEM_READ, CODE + 8, 1), (tcgpy.MEM_WRITE, CODE + 0x10, 1)]


def test_code_hook_on_a_loop_already_hot():
    emu = ours(LOOP)
    emu.reg_write("x2", 10_000)
    emu.run(CODE + 8, until=LOOP_END)
    assert emu.stats.blocks_promoted > 0
    seen = []
    emu.hook_add(tcgpy.HOOK_CODE, lambda e, a, s, u: seen.append(e.reg_read("x2")), begin=CODE + 0x18,
                 end=CODE + 0x18)                                    # subs x2, x2, #1
    emu.reg_write("x2", 3)
    emu.run(CODE + 8, until=LOOP_END)
    assert seen == [3, 2, 1]


def test_loops_turn_hot_again_once_memory_hooks_are_gone():
    emu = ours(LOOP)
    h = emu.hook_add(tcgpy.HOOK_MEM_WRITE, lambda *a: None)
    emu.reg_write("x2", 10_000)
    emu.run(CODE + 8, until=LOOP_END)
    assert emu.stats.blocks_promoted == 0
    emu.hook_del(h)
    emu.reg_write("x2", 10_000)
    emu.run(CODE + 8, until=LOOP_END)
    assert emu.stats.blocks_promoted > 0


def test_exception_in_a_memory_hook_reaches_the_caller():
    emu = ours(ACCESSES)

    def boom(*args):
        raise KeyError("from the memory hook")
    emu.hook_add(tcgpy.HOOK_MEM_READ, boom)
    with pytest.raises(KeyError):
        emu.run(CODE, until=CODE + 0x10)


def test_memory_hook_values_are_signed_as_unicorns():
    words = [0xf9000023,   # 0x10000  str  x3, [x1]
             0x39000023,   # 0x10004  strb w3, [x1]
             NOP]
    out = {}
    for engine in ("tcgpy", "unicorn"):
        seen = out[engine] = []
        if engine == "tcgpy":
            emu = ours(words)
            emu.reg_write("x3", -2)
            emu.hook_add(tcgpy.HOOK_MEM_WRITE, mem_events(seen))
            emu.run(CODE, until=CODE + 8)
        else:
            uc = theirs(words)
            uc.reg_write(UCA.UC_ARM64_REG_X3, (1 << 64) - 2)
            uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, mem_events(seen))
            uc.emu_start(CODE, CODE + 8)
    assert out["tcgpy"] == out["unicorn"] == [(tcgpy.MEM_WRITE, DATA, 8, -2), (tcgpy.MEM_WRITE, DATA, 1, 0xfe)]


def test_riscv64_ecall_intr_matches_unicorn():
    from unicorn import riscv_const
    words = [0x00150513, 0x00000073, 0x00150513, 0x00000013]   # addi a0, a0, 1; ecall; addi; nop
    emu = Emulator("riscv64")
    emu.mem_map(CODE, 0x1000, "rx")
    emu.mem_write(CODE, code(words))
    mine, theirs_ = [], []
    emu.hook_add(tcgpy.HOOK_INTR, lambda e, n, u: mine.append((n, e.reg_read("pc"))))
    emu.run(CODE, until=CODE + 12)
    uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV64)
    uc.mem_map(CODE, 0x1000)
    uc.mem_write(CODE, code(words))
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda u, n, d: theirs_.append((n, u.reg_read(riscv_const.UC_RISCV_REG_PC))))
    uc.emu_start(CODE, CODE + 12)
    assert mine == theirs_ == [(8, CODE + 8)]       # RISCV_EXCP_U_ECALL, pc after the ecall
    assert emu.reg_read("a0") == uc.reg_read(riscv_const.UC_RISCV_REG_A0) == 2


def recorders(out):
    """Code, block and memory callbacks that record into one list."""
    return (lambda e, a, s, u: out.append(("insn", a, s)),
            lambda e, a, s, u: out.append(("block", a, s)),
            lambda e, acc, a, s, v, u: out.append(("mem", acc, a, s, v)))


@pytest.mark.parametrize("workload", ["arith", "memory", "indirect", "callret"])
def test_chained_loops_hook_events_match_unicorn(workload):
    """Code, block and memory events, interleaved, over tcgpy bench's loops
    (calls through a table, returns, pair stores): the same on both."""
    from tcgpy import benchmarks as b
    name, prog, end, regs = next(w for w in b.bench_workloads(0.0001) if w[0] == workload)
    events = {}
    for engine in ("tcgpy", "unicorn"):
        on_code, on_block, on_mem = recorders(events.setdefault(engine, []))
        if engine == "tcgpy":
            emu = Emulator("aarch64")
            for base, size in ((b.CODE, 0x10000), (b.DATA, b.DATA_SIZE), (b.STACK - 0x10000, 0x10000)):
                emu.mem_map(base, size, "rwx")
            emu.mem_write(b.CODE, prog)
            for k, v in regs.items():
                emu.reg_write(k, v)
            for kind, cb in ((tcgpy.HOOK_CODE, on_code), (tcgpy.HOOK_BLOCK, on_block),
                             (tcgpy.HOOK_MEM_READ | tcgpy.HOOK_MEM_WRITE, on_mem)):
                emu.hook_add(kind, cb)
            emu.run(b.CODE, until=end)
        else:
            uc, reg_id = b._unicorn("aarch64")
            for base, size in ((b.CODE, 0x10000), (b.DATA, b.DATA_SIZE), (b.STACK - 0x10000, 0x10000)):
                uc.mem_map(base, size)
            uc.mem_write(b.CODE, prog)
            for k, v in regs.items():
                uc.reg_write(reg_id(k), v)
            for kind, cb in ((unicorn.UC_HOOK_CODE, on_code), (unicorn.UC_HOOK_BLOCK, on_block),
                             (unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE, on_mem)):
                uc.hook_add(kind, cb)
            uc.emu_start(b.CODE, end)
    assert len(events["tcgpy"]) > 500
    assert events["tcgpy"] == events["unicorn"]
