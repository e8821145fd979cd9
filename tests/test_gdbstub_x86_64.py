"""The gdbstub on x86-64 guests (the KVM engine): ``tcgpy run -g 0`` on
tests/guest/bin-x86_64/gdb_demo (tests/guest/x86_64/gdb_demo.c, static,
-g -O0), driven by the remote-protocol client of tests/test_gdbstub.py and
by the real gdb-multiarch: the i386:x86-64 description (core with the x87
registers, sse, linux, segments), int3 breakpoints that gdb never sees in
memory, single steps, a fault, the exit status, watchpoints answered as
unsupported; and ``gdb_serve`` of a library KvmEmulator.  Skipped where
/dev/kvm cannot run a VM."""
from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tcgpy.accel import kvm_status
from tests.test_gdbstub import ROOT, SIGINT, SIGTRAP, SIGSEGV, TIMEOUT, Client, needs_gdb, run_gdb, start_tcgpy, stop, \
    stop_fields, symbols

KVM_PROBLEM = kvm_status()
pytestmark = pytest.mark.skipif(bool(KVM_PROBLEM), reason=f"KVM cannot run here: {KVM_PROBLEM}")

DEMO = ROOT / "tests" / "guest" / "bin-x86_64" / "gdb_demo"
SOURCES = ROOT / "tests" / "guest" / "x86_64"
SIGFPE = 8
# gdb's register numbers (the order of the description, tcgpy/accel/kvm/gdb.py)
REG_RSP, REG_RDI, REG_RIP, REG_EFLAGS, REG_CS, REG_SS, REG_DS, REG_GS = 7, 5, 16, 17, 18, 19, 20, 23
REG_FCTRL, REG_FTAG, REG_XMM0, REG_MXCSR, REG_ORIG_RAX, REG_FS_BASE, REG_YMM0H = 32, 34, 40, 56, 57, 58, 60
G_BYTES = 16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 3 * 8 + 16 * 16


def _text(demo: Path = DEMO) -> tuple[bytes, int]:
    with open(demo, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        return text.data(), text["sh_addr"]


def call_in(caller: str, callee: str) -> tuple[int, int]:
    """(address, length) of the ``call callee`` in ``caller``."""
    import capstone
    sym = symbols(DEMO)
    code, base = _text()
    start = sym[caller]
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    for insn in md.disasm(code[start - base:start - base + 0x80], start):
        if insn.mnemonic == "call" and insn.op_str == hex(sym[callee]):
            return insn.address, insn.size
    raise AssertionError(f"no call {callee} in {caller}")


def test_protocol_registers_breakpoints_and_steps():
    """The description is i386:x86-64's; g carries the 76 registers; the
    segment registers are ring 3's; a Z0 at main stops there with argc in
    rdi while memory shows main's own bytes; a step runs one instruction;
    Z2 is unsupported; the exit status arrives."""
    sym = symbols(DEMO)
    code, base = _text()
    proc, port = start_tcgpy(demo=DEMO)
    try:
        c = Client(port)
        xml = c.ask(b"qXfer:features:read:target.xml:0,ffff")
        assert xml[:1] == b"l"
        for needle in (b"<architecture>i386:x86-64</architecture>", b'feature name="org.gnu.gdb.i386.core"',
                       b'feature name="org.gnu.gdb.i386.sse"', b'feature name="org.gnu.gdb.i386.linux"',
                       b'feature name="org.gnu.gdb.i386.segments"', b'feature name="org.gnu.gdb.i386.avx"',
                       b'<reg name="st7" bitsize="80" type="i387_ext"',
                       b'<reg name="eflags" bitsize="32" type="i386_eflags"', b'<reg name="orig_rax" bitsize="64"'):
            assert needle in xml, needle
        assert len(bytes.fromhex(c.ask(b"g").decode())) == G_BYTES
        assert c.reg(REG_RIP) == sym["_start"]
        assert [c.reg(n) for n in (REG_CS, REG_SS, REG_DS, REG_GS)] == [0x33, 0x2B, 0, 0]
        # the x87 and SSE state Linux starts a process with: every x87 register empty
        assert (c.reg(REG_FCTRL), c.reg(REG_FTAG), c.reg(REG_MXCSR)) == (0x37F, 0xFFFF, 0x1F80)
        assert c.reg(REG_ORIG_RAX) == (1 << 64) - 1
        assert c.ask(b"P%x=%s" % (REG_CS, (0x33).to_bytes(4, "little").hex().encode())) == b"OK"
        assert c.ask(b"P%x=%s" % (REG_CS, (0x23).to_bytes(4, "little").hex().encode())).startswith(b"E")
        assert c.ask(b"Z2,%x,8" % sym["counter"]) == b""          # no watchpoints on KVM

        assert c.ask(b"Z0,%x,1" % sym["main"]) == b"OK"
        sig, fields = stop_fields(c.ask(b"c"))
        assert sig == SIGTRAP and b"swbreak" in fields
        assert c.reg(REG_RIP) == sym["main"] and c.reg(REG_RDI) == 1          # argc
        assert c.reg(REG_FS_BASE) != 0                                      # glibc's TLS
        # the int3 is in memory only while the guest runs
        main = code[sym["main"] - base:sym["main"] - base + 8]
        assert bytes.fromhex(c.ask(b"m%x,8" % sym["main"]).decode()) == main
        text = b"hello from gdb_demo"
        assert bytes.fromhex(c.ask(b"m%x,%x" % (sym["greeting"], len(text))).decode()) == text
        sp = c.reg(REG_RSP)
        assert c.ask(b"M%x,4:deadbeef" % (sp - 64)) == b"OK" and c.ask(b"m%x,4" % (sp - 64)) == b"deadbeef"
        assert c.ask(b"m0,4").startswith(b"E")
        xmm = bytes(range(16))
        assert c.ask(b"P%x=%s" % (REG_XMM0, xmm.hex().encode())) == b"OK"
        assert bytes.fromhex(c.ask(b"p%x" % REG_XMM0).decode()) == xmm
        ymmh = bytes(range(16, 32))                   # ymm0's upper half (org.gnu.gdb.i386.avx)
        assert c.ask(b"P%x=%s" % (REG_YMM0H, ymmh.hex().encode())) == b"OK"
        assert bytes.fromhex(c.ask(b"p%x" % REG_YMM0H).decode()) == ymmh
        assert bytes.fromhex(c.ask(b"p%x" % REG_XMM0).decode()) == xmm

        # main starts with push %rbp (one byte): a step runs it alone
        assert main[0] == 0x55
        sig, fields = stop_fields(c.ask(b"s"))
        assert sig == SIGTRAP and b"swbreak" not in fields
        assert c.reg(REG_RIP) == sym["main"] + 1 and c.reg(REG_RSP) == sp - 8
        assert c.reg(REG_EFLAGS) & 0x100 == 0                  # the step's TF is tcgpy's, not the guest's
        assert c.ask(b"z0,%x,1" % sym["main"]) == b"OK"
        assert c.ask(b"vCont;c") == b"W08"
        c.close()
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert out == b"hello from gdb_demo\n" and proc.returncode == 8
    finally:
        stop(proc)


def test_segfault_stop_and_signal_delivery():
    sym = symbols(DEMO)
    proc, port = start_tcgpy("segv", demo=DEMO)
    try:
        c = Client(port)
        sig, _ = stop_fields(c.ask(b"c"))
        assert sig == SIGSEGV
        assert sym["main"] < c.reg(REG_RIP) < sym["main"] + 0x100
        siginfo = unescape_reply(c.ask(b"qXfer:siginfo:read::0,80"))
        signo, _, _, _, addr = struct.unpack_from("<iiiiQ", siginfo)
        assert (signo, addr) == (11, 16)
        assert c.ask(b"C%02x" % SIGSEGV) == b"X%02x" % SIGSEGV
        c.close()
        proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == -signal.SIGSEGV
    finally:
        stop(proc)


def test_interrupt_kill_and_detach():
    """Ctrl-C (0x03) stops a guest spinning in ring 3; k ends it; a
    detached guest runs on to its end."""
    sym = symbols(DEMO)
    proc, port = start_tcgpy(demo=DEMO)
    try:
        c = Client(port)
        assert c.ask(b"Z0,%x,1" % sym["main"]) == b"OK"
        stop_fields(c.ask(b"c"))
        assert c.ask(b"z0,%x,1" % sym["main"]) == b"OK"
        assert c.ask(b"M%x,2:ebfe" % sym["main"]) == b"OK"          # jmp . (wherever the interrupt comes)
        c.send(b"c")
        c.sock.sendall(b"\x03")
        sig, _ = stop_fields(c.reply())
        assert sig == SIGINT and c.reg(REG_RIP) == sym["main"]
        c.sock.sendall(b"$k#6b")
        proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0
    finally:
        stop(proc)
    proc, port = start_tcgpy(demo=DEMO)
    try:
        c = Client(port)
        assert c.ask(b"Z0,%x,1" % sym["leaf"]) == b"OK"
        assert c.ask(b"D") == b"OK"
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert out == b"hello from gdb_demo\n" and proc.returncode == 8
    finally:
        stop(proc)


def unescape_reply(reply: bytes) -> bytes:
    from tcgpy.gdbstub import unescape
    assert reply[:1] == b"l", reply
    return unescape(reply[1:])


def test_ftag_from_the_abridged_tag():
    """gdb's full x87 tag word, from fxsave's one bit per physical register
    and the values: with top 6, st0 (physical 6) is 1.0 (valid), st1
    (physical 7) is +0 (zero), st2 (physical 0) is infinity (special)."""
    from tcgpy.accel.kvm.gdb import GDB
    state = {"fsw": 6 << 11, "ftw": 0b1100_0001,
             "st0": 0x3FFF << 64 | 1 << 63, "st1": 0, "st2": 0x7FFF << 64 | 1 << 63}
    emu = type("Fx", (), {"reg_read": lambda self, n: state.get(n, 0),
                          "reg_write": lambda self, n, v: state.__setitem__(n, v)})()
    ftag = next(r for r in GDB.regs if r.name == "ftag")
    assert ftag.get(emu) == 0b01_00_11_11_11_11_11_10     # physical 7..0
    ftag.set(emu, 0xFFFF & ~(3 << 4))                      # physical 2 in use, the rest empty
    assert state["ftw"] == 0b100


def test_ftag_of_the_vcpu():
    """After fld1; fldz: physical 7 holds 1.0 (valid), physical 6 +0 (zero), the rest are empty."""
    from tcgpy import Emulator
    from tcgpy.accel.kvm.gdb import GDB
    emu = Emulator("x86_64", accel="kvm")
    emu.mem_map(0x400000, 0x1000, "rx")
    emu.mem_write(0x400000, bytes.fromhex(
        "d9e8"          # 0x400000  fld1
        "d9ee"          # 0x400002  fldz
        "90"))          # 0x400004  nop
    emu.run(0x400000, until=0x400004)
    regs = {r.name: r for r in GDB.regs}
    assert regs["ftag"].get(emu) == 0b00_01_11_11_11_11_11_11
    assert regs["fstat"].get(emu) >> 11 & 7 == 6
    assert regs["st1"].get(emu) == 0x3FFF << 64 | 1 << 63


_LIBRARY_GUEST = r"""
import sys
from tcgpy import Emulator
emu = Emulator("x86_64", accel="kvm")
emu.mem_map(0x400000, 0x1000, "rx")
emu.mem_write(0x400000, bytes.fromhex(
    "b8 07 00 00 00"      # 0x400000  mov  eax, 7
    "31 c9"               # 0x400005  xor  ecx, ecx
    "f7 f1"               # 0x400007  div  ecx        (divide error: SIGFPE)
))
emu.reg_write("rip", 0x400000)
emu.gdb_serve(0)
print("detached", hex(emu.reg_read("rip")))
"""


def test_library_gdb_serve_on_kvm():
    """KvmEmulator.gdb_serve: steps, and a CPU exception stops with its Linux signal."""
    proc = subprocess.Popen([sys.executable, "-c", _LIBRARY_GUEST], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        line = proc.stderr.readline().decode()
        m = re.search(r"waiting for gdb on port (\d+)", line)
        assert m, line
        c = Client(int(m.group(1)))
        assert c.reg(REG_RIP) == 0x400000
        assert stop_fields(c.ask(b"s"))[0] == SIGTRAP and c.reg(REG_RIP) == 0x400005
        assert c.reg(0) == 7
        assert stop_fields(c.ask(b"c"))[0] == SIGFPE and c.reg(REG_RIP) == 0x400007
        assert c.ask(b"D") == b"OK"
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert out == b"detached 0x400007\n"
    finally:
        stop(proc)


# -- the real gdb ------------------------------------------------------------------------------
@needs_gdb
def test_gdb_break_registers_memory_backtrace_next():
    out, status = run_gdb(["break main", "continue", "info registers", "info registers fs_base orig_rax",
                           "info registers float", "x/s &greeting", "break leaf",
                           "continue", "bt", "next", "print counter", "continue"], demo=DEMO, sources=SOURCES)
    assert re.search(r"Breakpoint 1, main \(argc=1", out), out
    assert re.search(r"^rip\s+0x\w+\s+0x\w+ <main\+\d+>", out, re.M), out
    rsp = int(re.search(r"^rsp\s+(0x\w+)", out, re.M).group(1), 16)
    rbp = int(re.search(r"^rbp\s+(0x\w+)", out, re.M).group(1), 16)
    assert 0 < rbp - rsp < 0x100 and rsp % 16 == 0, out     # main's frame, as the ABI aligns it
    assert re.search(r"^eflags\s+0x\w+\s+\[.*IF", out, re.M), out
    assert re.search(r"^cs\s+0x33\s+51", out, re.M) and re.search(r"^fs_base\s+0x[1-9a-f]", out, re.M), out
    assert re.search(r"^orig_rax\s+0xffffffffffffffff\s+-1", out, re.M), out
    assert re.search(r"^st7\s+0\s+\(raw 0x0+\)", out, re.M), out
    assert re.search(r"^fctrl\s+0x37f", out, re.M) and re.search(r"^ftag\s+0xffff", out, re.M), out
    assert '<greeting>:\t"hello from gdb_demo"' in out, out
    assert re.search(r"#0\s+leaf \(n=3\).*\n#1\s+0x\w+ in middle \(n=2\).*\n#2\s+0x\w+ in outer \(n=1\)"
                     r".*\n#3\s+0x\w+ in main", out), out
    assert re.search(r"\n\d+\s+return counter \* 2;", out) and "$1 = 3" in out, out
    assert "exited with code 010" in out and status == 8, out


@needs_gdb
def test_gdb_ymm_registers():
    """gdb makes ymm0-ymm15 of xmm<i> and org.gnu.gdb.i386.avx's ymm<i>h:
    a value set through $ymm3 reads back whole, its low half as $xmm3."""
    out, _ = run_gdb(["break main", "continue", "set var $ymm3.v4_int64 = {1, 2, 0x33, 0x44}",
                      "p/x $ymm3.v4_int64", "p/x $xmm3.v2_int64", "continue"], demo=DEMO, sources=SOURCES)
    assert "= {0x1, 0x2, 0x33, 0x44}" in out and "= {0x1, 0x2}" in out, out


@needs_gdb
def test_gdb_dynamic_program_in_its_libraries():
    """A dynamic program (the host's ld.so and libc, -L /): gdb follows the
    library loads (its breakpoint in ld.so) and stops in libc's write."""
    out, status = run_gdb(["set breakpoint pending on", "break write", "continue", "info sharedlibrary", "bt",
                           "continue"], demo=DEMO.parent / "libc_hello")
    assert re.search(r"Breakpoint 1, (0x\w+ in )?\S*write", out), out
    assert re.search(r"^0x\w+\s+0x\w+\s+Yes.*\s/\S*libc\.so\.6$", out, re.M), out
    assert "__libc_start_main" in out, out
    assert "exited normally" in out and status == 0, out


@needs_gdb
def test_gdb_stepi_into_a_call():
    sym = symbols(DEMO)
    call, size = call_in("middle", "leaf")
    out, status = run_gdb([f"break *{call:#x}", "continue", "print/x $pc", "stepi", "print/x $pc",
                           "print/x *(long *)$sp", "stepi", "print/x $pc", "continue"], demo=DEMO, sources=SOURCES)
    assert f"$1 = {call:#x}" in out and f"$2 = {sym['leaf']:#x}" in out, out
    assert f"$3 = {call + size:#x}" in out and f"$4 = {sym['leaf'] + 1:#x}" in out, out   # push %rbp
    assert status == 8, out


@needs_gdb
def test_gdb_watchpoints_unsupported_then_software():
    """No hardware watchpoints on KVM: gdb says it cannot insert one; its
    software watchpoints (single steps) work."""
    out, status = run_gdb(["break main", "continue", "watch counter", "continue", "delete",
                           "set can-use-hw-watchpoints 0", "watch counter", "continue", "print counter",
                           "delete", "continue"], demo=DEMO, errors=True, sources=SOURCES)
    assert "Could not insert hardware watchpoint 2." in out, out
    assert re.search(r"Watchpoint \d+: counter\s+Old value = 0\s+New value = 3", out), out
    assert "$1 = 3" in out and status == 8, out


@needs_gdb
def test_gdb_segfault_and_exit_status():
    out, status = run_gdb(["continue", "print $_siginfo.si_signo", "print $_siginfo._sifields._sigfault.si_addr",
                           "continue"], "segv", demo=DEMO, sources=SOURCES)
    assert "Program received signal SIGSEGV, Segmentation fault." in out, out
    assert re.search(r"main \(argc=2.*gdb_demo.c:\d+", out), out
    assert "= 11" in out and "(void *) 0x10" in out, out
    assert "Program terminated with signal SIGSEGV" in out and status == -signal.SIGSEGV, out
