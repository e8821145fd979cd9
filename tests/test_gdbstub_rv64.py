"""The gdbstub on riscv64: ``tcgpy run -g 0`` on tests/guest/riscv64/bin/gdb_demo
(the AArch64 test's gdb_demo.c, built by tests/guest/riscv64/build.sh with
RVC), driven by the remote-protocol client of tests/test_gdbstub.py and by
the real gdb-multiarch: the org.gnu.gdb.riscv.cpu and .fpu registers,
breakpoints on 4- and 2-byte instructions (gdb's ebreak and c.ebreak
kinds), single steps across a call and over compressed instructions,
watchpoints and a fault."""
from __future__ import annotations

import re
import signal
from pathlib import Path

from elftools.elf.elffile import ELFFile

from tests.test_gdbstub import ROOT, SIGTRAP, Client, needs_gdb, run_gdb, start_tcgpy, stop, symbols

DEMO = ROOT / "tests" / "guest" / "riscv64" / "bin" / "gdb_demo"
N_X, N_F = 32, 32
REG_A0, REG_PC, REG_FA0, REG_FFLAGS, REG_FRM, REG_FCSR = 10, 32, 33 + 10, 65, 66, 67


def _code(demo: Path = DEMO) -> tuple[bytes, int]:
    with open(demo, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        return text.data(), text["sh_addr"]


def insns(name: str) -> list[tuple[int, int]]:
    """(address, length) of each instruction of function ``name`` (up to the next symbol)."""
    sym = symbols(DEMO)
    start = sym[name]
    end = min(a for a in sym.values() if a > start)
    code, base = _code()
    out, pc = [], start
    while pc < end:
        half = int.from_bytes(code[pc - base:pc - base + 2], "little")
        n = 4 if half & 3 == 3 else 2
        out.append((pc, n))
        pc += n
    return out


def call_in(caller: str, callee: str) -> int:
    """The address of the ``jal ra, callee`` in ``caller``."""
    code, base = _code()
    target = symbols(DEMO)[callee]
    for pc, n in insns(caller):
        w = int.from_bytes(code[pc - base:pc - base + n], "little")
        if n == 4 and w & 0xFFF == 0x0EF:             # jal ra
            imm = (w >> 31 << 20 | (w >> 12 & 0xFF) << 12 | (w >> 20 & 1) << 11 | (w >> 21 & 0x3FF) << 1)
            if pc + imm - (1 << 21 if imm >> 20 else 0) == target:
                return pc
    raise AssertionError(f"no jal {callee} in {caller}")


def test_protocol_registers_and_compressed_breakpoint():
    """The description names riscv:rv64's features; g carries 32 x registers,
    pc, 32 f registers and three 32-bit CSRs; p/P reach fa0 and frm; a
    breakpoint of kind 2 on a compressed instruction stops there."""
    proc, port = start_tcgpy(demo=DEMO)
    try:
        c = Client(port)
        xml = c.ask(b"qXfer:features:read:target.xml:0,ffff")
        assert xml[:1] == b"l"
        for needle in (b"<architecture>riscv:rv64</architecture>", b'feature name="org.gnu.gdb.riscv.cpu"',
                       b'feature name="org.gnu.gdb.riscv.fpu"', b'<reg name="zero" bitsize="64"',
                       b'<reg name="fp" bitsize="64" type="data_ptr"', b'<reg name="ft0" bitsize="64"',
                       b'<reg name="fcsr" bitsize="32"'):
            assert needle in xml, needle
        regs = c.ask(b"g")
        assert len(regs) == 2 * (8 * (N_X + 1 + N_F) + 3 * 4)
        assert int.from_bytes(bytes.fromhex(c.ask(b"p%x" % REG_PC).decode()), "little") == symbols(DEMO)["_start"]
        assert c.ask(b"P%x=%s" % (REG_FA0, (0x3FF8 << 48).to_bytes(8, "little").hex().encode())) == b"OK"
        assert c.ask(b"P%x=%s" % (REG_FRM, (3).to_bytes(4, "little").hex().encode())) == b"OK"
        assert c.ask(b"p%x" % REG_FCSR) == (3 << 5).to_bytes(4, "little").hex().encode()
        assert c.ask(b"p%x" % REG_FA0) == (0x3FF8 << 48).to_bytes(8, "little").hex().encode()
        pc2 = next(pc for pc, n in insns("leaf") if n == 2 and pc != symbols(DEMO)["leaf"])
        assert c.ask(b"Z0,%x,2" % pc2) == b"OK"
        reply = c.ask(b"c")
        assert reply.startswith(b"T%02xswbreak:;" % SIGTRAP), reply
        assert int.from_bytes(bytes.fromhex(c.ask(b"p%x" % REG_PC).decode()), "little") == pc2
        assert c.ask(b"z0,%x,2" % pc2) == b"OK"
        assert c.ask(b"c") == b"W08"
    finally:
        stop(proc)


@needs_gdb
def test_gdb_break_registers_fpu_backtrace():
    out, status = run_gdb(["break main", "continue", "info registers", "info registers float",
                           "x/s &greeting", "break leaf", "continue", "bt",
                           "set $fa0 = 1.5", "print $fa0", "set $frm = 2", "print $fcsr",
                           "print $fflags", "continue"], demo=DEMO)
    assert re.search(r"Breakpoint 1, main \(argc=1", out), out
    assert re.search(r"^ra\s+0x\w+\s+0x\w+ <start_c", out, re.M), out
    assert re.search(r"^fp\s+0x", out, re.M) and re.search(r"^t6\s+0x", out, re.M), out
    assert re.search(r"^pc\s+0x\w+\s+0x\w+ <main\+", out, re.M), out
    assert re.search(r"^fs11\s+\{float = 0, double = 0\}", out, re.M), out
    assert re.search(r"^fcsr\s+0x0\s+NV:0 DZ:0 OF:0 UF:0 NX:0 FRM:0", out, re.M), out
    assert '<greeting>:\t"hello from gdb_demo"' in out, out
    assert re.search(r"#0\s+leaf \(n=3\).*\n#1\s+0x\w+ in middle \(n=2\).*\n#2\s+0x\w+ in outer \(n=1\)"
                     r".*\n#3\s+0x\w+ in main", out), out
    assert "$1 = {float = 0, double = 1.5}" in out and "$2 = 64" in out and "$3 = 0" in out, out
    assert "exited with code 010" in out and status == 8, out


@needs_gdb
def test_gdb_stepi_across_a_call_and_compressed_instructions():
    sym = symbols(DEMO)
    jal = call_in("middle", "leaf")
    lengths = [n for _, n in insns("leaf")[:3]]
    out, status = run_gdb([f"break *{jal:#x}", "continue", "print/x $pc", "stepi", "print/x $pc",
                           "print/x $ra", "stepi", "print/x $pc", "stepi", "print/x $pc", "continue"],
                          demo=DEMO)
    assert f"$1 = {jal:#x}" in out and f"$2 = {sym['leaf']:#x}" in out and f"$3 = {jal + 4:#x}" in out, out
    assert f"$4 = {sym['leaf'] + lengths[0]:#x}" in out, out                 # c.addi sp: 2 bytes
    assert f"$5 = {sym['leaf'] + lengths[0] + lengths[1]:#x}" in out, out
    assert lengths[:2] == [2, 2] and status == 8


@needs_gdb
def test_gdb_watchpoint():
    out, status = run_gdb(["break main", "continue", "watch counter", "continue", "print counter",
                           "delete", "continue"], demo=DEMO)
    assert re.search(r"Hardware watchpoint 2: counter\s+Old value = 0\s+New value = 3", out), out
    assert "$1 = 3" in out and status == 8, out


@needs_gdb
def test_gdb_segfault_and_exit_status():
    out, status = run_gdb(["continue", "print $_siginfo.si_signo", "print $_siginfo._sifields._sigfault.si_addr",
                           "continue"], "segv", demo=DEMO)
    assert "Program received signal SIGSEGV, Segmentation fault." in out, out
    assert re.search(r"main \(argc=2.*gdb_demo.c:30", out), out
    assert "= 11" in out and "(void *) 0x10" in out, out
    assert "Program terminated with signal SIGSEGV" in out and status == -signal.SIGSEGV, out
