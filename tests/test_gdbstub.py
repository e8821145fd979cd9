"""The gdbstub (tcgpy/gdbstub.py): ``tcgpy run -g 0`` on tests/guest/bin/gdb_demo,
driven (1) by a small remote-protocol client here, which always runs, and
(2) by the real gdb-multiarch in batch mode, skipped where it is not installed."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tcgpy.gdbstub import checksum, escape, unescape

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "tests" / "guest" / "bin" / "gdb_demo"
TIMEOUT = 120
GDB = shutil.which("gdb-multiarch")
SIGTRAP, SIGINT, SIGSEGV = 5, 2, 11
REG_X0, REG_SP, REG_PC, REG_CPSR = 0, 31, 32, 33


def symbols(demo: Path = DEMO) -> dict[str, int]:
    with open(demo, "rb") as f:
        tab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in tab.iter_symbols() if s.name}


def start_tcgpy(*args: str, demo: Path = DEMO) -> tuple[subprocess.Popen, int]:
    """tcgpy run -g 0 DEMO ARGS, and the port it says it waits on."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TCGPY_CACHE="0")
    proc = subprocess.Popen([sys.executable, "-m", "tcgpy", "run", "-g", "0", str(demo), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    line = proc.stderr.readline().decode()
    m = re.search(r"waiting for gdb on port (\d+)", line)
    if m is None:
        proc.kill()
        raise AssertionError(f"no port announced: {line!r}")
    return proc, int(m.group(1))


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=TIMEOUT)


class Client:
    """Just enough of gdb's side of the protocol, with acks on."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("stub closed the connection")
        self.buf += data

    def send(self, payload: bytes) -> None:
        self.sock.sendall(b"$" + payload + b"#%02x" % checksum(payload))
        while not self.buf:
            self._recv()
        assert self.buf[:1] == b"+", self.buf
        self.buf = self.buf[1:]

    def reply(self) -> bytes:
        while b"#" not in self.buf or len(self.buf) < self.buf.index(b"#") + 3:
            self._recv()
        start, end = self.buf.index(b"$"), self.buf.index(b"#")
        payload, given = self.buf[start + 1:end], self.buf[end + 1:end + 3]
        self.buf = self.buf[end + 3:]
        assert int(given, 16) == checksum(payload)
        self.sock.sendall(b"+")
        return payload

    def ask(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.reply()

    def reg(self, n: int) -> int:
        return int.from_bytes(bytes.fromhex(self.ask(b"p%x" % n).decode()), "little")

    def close(self) -> None:
        self.sock.close()


def stop_fields(reply: bytes) -> tuple[int, dict[bytes, bytes]]:
    assert reply[:1] == b"T", reply
    fields = dict(f.split(b":", 1) for f in reply[3:].split(b";") if f)
    return int(reply[1:3], 16), fields


def test_escape_round_trip():
    data = bytes(range(256))
    assert unescape(escape(data)) == data
    assert not set(escape(data)) & set(b"#$*") - {0x7D}


def test_protocol_session():
    """Break at main, registers, memory, single steps, a watchpoint, exit status."""
    sym = symbols()
    proc, port = start_tcgpy()
    try:
        c = Client(port)
        assert b"qXfer:features:read+" in c.ask(b"qSupported:multiprocess+;swbreak+")
        xml = c.ask(b"qXfer:features:read:target.xml:0,ffff")
        assert xml.startswith(b"l") and b"org.gnu.gdb.aarch64.core" in xml and b'name="v31"' in xml
        sig, fields = stop_fields(c.ask(b"?"))
        assert sig == SIGTRAP
        tid = int(fields[b"thread"], 16)
        assert c.ask(b"qfThreadInfo") == b"m%x" % tid and c.ask(b"qC") == b"QC%x" % tid
        entry = c.reg(REG_PC)
        auxv = c.ask(b"qXfer:auxv:read::0,1000")
        assert auxv[:1] == b"l"
        pairs = [int.from_bytes(unescape(auxv[1:])[i:i + 8], "little") for i in range(0, 32 * 16, 8)]
        assert dict(zip(pairs[::2], pairs[1::2]))[9] == entry          # AT_ENTRY
        assert c.ask(b"qXfer:exec-file:read::0,1000") == b"l" + str(DEMO).encode()

        # a breakpoint at main: stops before its first instruction
        assert c.ask(b"Z0,%x,4" % sym["main"]) == b"OK"
        sig, fields = stop_fields(c.ask(b"c"))
        assert sig == SIGTRAP and b"swbreak" in fields
        assert c.reg(REG_PC) == sym["main"]
        assert c.reg(REG_X0) == 1                                      # argc
        assert c.ask(b"z0,%x,4" % sym["main"]) == b"OK"
        regs = bytes.fromhex(c.ask(b"g").decode())
        assert len(regs) == 33 * 8 + 4 + 32 * 16 + 4 + 4
        assert int.from_bytes(regs[REG_PC * 8:REG_PC * 8 + 8], "little") == sym["main"]

        # memory: the greeting, and a write read back
        text = b"hello from gdb_demo"
        assert bytes.fromhex(c.ask(b"m%x,%x" % (sym["greeting"], len(text))).decode()) == text
        sp = c.reg(REG_SP)
        assert c.ask(b"M%x,4:deadbeef" % (sp - 64)) == b"OK"
        assert c.ask(b"m%x,4" % (sp - 64)) == b"deadbeef"
        assert c.ask(b"X%x,2:" % (sp - 64) + escape(b"#}")) == b"OK"
        assert c.ask(b"m%x,2" % (sp - 64)) == b"237d"
        assert c.ask(b"m0,4").startswith(b"E")

        # single steps: one instruction each, from the stop at main
        sig, _ = stop_fields(c.ask(b"s"))
        assert sig == SIGTRAP and c.reg(REG_PC) == sym["main"] + 4
        sig, _ = stop_fields(c.ask(b"vCont;s:%x;c" % tid))
        assert sig == SIGTRAP and c.reg(REG_PC) == sym["main"] + 8
        # a register write is what the guest sees: outer's argument becomes 7
        call = call_in("main", "outer")
        assert c.ask(b"Z1,%x,4" % call) == b"OK"
        sig, fields = stop_fields(c.ask(b"c"))
        assert sig == SIGTRAP and b"hwbreak" in fields and c.reg(REG_PC) == call
        assert c.ask(b"z1,%x,4" % call) == b"OK"
        assert c.ask(b"P%x=%s" % (REG_X0, (7).to_bytes(8, "little").hex().encode())) == b"OK"
        assert c.reg(REG_X0) == 7

        # a write watchpoint on counter: stops before the store in leaf
        assert c.ask(b"Z2,%x,8" % sym["counter"]) == b"OK"
        sig, fields = stop_fields(c.ask(b"c"))
        assert sig == SIGTRAP and int(fields[b"watch"], 16) == sym["counter"]
        pc = c.reg(REG_PC)
        assert sym["leaf"] < pc < sym["middle"]
        assert c.ask(b"m%x,8" % sym["counter"]) == b"00" * 8             # not stored yet
        # as gdb does: step over the access with the watchpoint out
        assert c.ask(b"z2,%x,8" % sym["counter"]) == b"OK"
        stop_fields(c.ask(b"s"))
        # outer(7) -> middle(14) -> leaf(15): x0 was set to 7 above
        assert int.from_bytes(bytes.fromhex(c.ask(b"m%x,8" % sym["counter"]).decode()), "little") == 15

        assert c.ask(b"vCont;c") == b"W%02x" % ((2 * 15 + 2) & 0xFF)
        c.close()
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert out == b"hello from gdb_demo\n" and proc.returncode == 32
    finally:
        stop(proc)


def test_segfault_stop_and_signal_delivery():
    sym = symbols()
    proc, port = start_tcgpy("segv")
    try:
        c = Client(port)
        sig, _ = stop_fields(c.ask(b"c"))
        assert sig == SIGSEGV
        pc = c.reg(REG_PC)
        assert sym["main"] < pc < sym["main"] + 0x100
        siginfo = unescape(c.ask(b"qXfer:siginfo:read::0,80")[1:])
        signo, _, code, _, addr = __import__("struct").unpack_from("<iiiiQ", siginfo)
        assert (signo, addr) == (11, 16)
        # continuing with the signal: the guest dies of it
        assert c.ask(b"C%02x" % SIGSEGV) == b"X%02x" % SIGSEGV
        c.close()
        proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == -signal.SIGSEGV
    finally:
        stop(proc)


def test_interrupt_and_kill():
    """Ctrl-C (0x03) stops a running guest; k ends it."""
    sym = symbols()
    proc, port = start_tcgpy()
    try:
        c = Client(port)
        assert c.ask(b"Z0,%x,4" % sym["main"]) == b"OK"
        stop_fields(c.ask(b"c"))
        assert c.ask(b"z0,%x,4" % sym["main"]) == b"OK"
        # Spin there, whenever the interrupt comes: "b ." over main's first instruction.
        assert c.ask(b"M%x,4:00000014" % sym["main"]) == b"OK"
        c.send(b"c")
        c.sock.sendall(b"\x03")
        sig, _ = stop_fields(c.reply())
        assert sig == SIGINT
        assert c.reg(REG_PC) == sym["main"]
        c.sock.sendall(b"$k#6b")
        proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0
    finally:
        stop(proc)


def test_detach_runs_on():
    proc, port = start_tcgpy()
    try:
        c = Client(port)
        assert c.ask(b"Z0,%x,4" % symbols()["leaf"]) == b"OK"
        assert c.ask(b"D") == b"OK"
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert out == b"hello from gdb_demo\n" and proc.returncode == 8
    finally:
        stop(proc)


# -- the real gdb ------------------------------------------------------------------------------
def run_gdb(commands: list[str], *args: str, demo: Path = DEMO, errors: bool = False,
            sources: Path = ROOT / "tests" / "guest") -> tuple[str, int]:
    """gdb-multiarch -batch with ``commands`` against tcgpy -g; (gdb's output, guest status).
    ``errors``: gdb's error messages (its stderr) follow the output.  ``sources``:
    where gdb finds the demo's source (its debug information names the
    directory it was built in, which a clone does not have)."""
    proc, port = start_tcgpy(*args, demo=demo)
    try:
        cmd = [GDB, "-batch", "-nx", "-ex", "set pagination off", "-ex", f"directory {sources}",
               "-ex", f"file {demo}", "-ex", f"target remote :{port}"]
        for c in commands:
            cmd += ["-ex", c]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        out = done.stdout + (done.stderr if errors else "")
        proc.communicate(timeout=TIMEOUT)
        return out, proc.returncode
    finally:
        stop(proc)


needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")


@needs_gdb
def test_gdb_break_registers_memory_backtrace():
    out, status = run_gdb(["break main", "continue", "info registers", "x/s &greeting",
                           "break leaf", "continue", "bt", "continue"])
    assert re.search(r"Breakpoint 1, main \(argc=1", out), out
    assert re.search(r"^x30\s+0x", out, re.M) and re.search(r"^cpsr\s+0x\w+\s+\[", out, re.M), out
    assert '<greeting>:\t"hello from gdb_demo"' in out, out
    assert re.search(r"#0\s+leaf \(n=3\).*\n#1\s+0x\w+ in middle \(n=2\).*\n#2\s+0x\w+ in outer \(n=1\)"
                     r".*\n#3\s+0x\w+ in main", out), out
    assert "exited with code 010" in out and status == 8, out


@needs_gdb
def test_gdb_watchpoint():
    out, status = run_gdb(["break main", "continue", "watch counter", "continue", "print counter",
                           "delete", "continue"])
    assert re.search(r"Hardware watchpoint 2: counter\s+Old value = 0\s+New value = 3", out), out
    assert "$1 = 3" in out and status == 8, out


def call_in(caller: str, callee: str) -> int:
    """The address of the ``bl callee`` in ``caller``."""
    sym = symbols()
    with open(DEMO, "rb") as f:
        elf = ELFFile(f)
        text = elf.get_section_by_name(".text")
        code = text.data()
        base = text["sh_addr"]
    for pc in range(sym[caller], sym[caller] + 0x40, 4):
        word = int.from_bytes(code[pc - base:pc - base + 4], "little")
        if word >> 26 == 0b100101:               # bl imm26
            off = (word & (1 << 26) - 1) << 2
            if pc + off - (1 << 28 if off >> 27 else 0) == sym[callee]:
                return pc
    raise AssertionError(f"no bl {callee} in {caller}")


@needs_gdb
def test_gdb_stepi_across_a_branch():
    sym = symbols()
    bl = call_in("middle", "leaf")
    out, status = run_gdb([f"break *{bl:#x}", "continue", "print/x $pc", "stepi", "print/x $pc",
                           "print/x $x30", "continue"])
    assert f"$1 = {bl:#x}" in out and f"$2 = {sym['leaf']:#x}" in out and f"$3 = {bl + 4:#x}" in out, out
    assert status == 8


@needs_gdb
def test_gdb_segfault_and_exit_status():
    out, status = run_gdb(["continue", "print $_siginfo.si_signo", "print $_siginfo._sifields._sigfault.si_addr",
                           "continue"], "segv")
    assert "Program received signal SIGSEGV, Segmentation fault." in out, out
    assert re.search(r"main \(argc=2.*gdb_demo.c:30", out), out
    assert "= 11" in out and "(void *) 0x10" in out, out
    assert "Program terminated with signal SIGSEGV" in out and status == -signal.SIGSEGV, out


def test_emulator_breakpoint_inside_chained_loop():
    """A breakpoint added after the loop was translated and chained still stops it."""
    from tcgpy import Emulator
    code = b"".join(w.to_bytes(4, "little") for w in (
        0xD2800000,      # 0x1000  mov  x0, #0
        0x91000400,      # 0x1004  add  x0, x0, #1
        0xF100141F,      # 0x1008  cmp  x0, #5
        0x54FFFFC1,      # 0x100c  b.ne 0x1004
        0xD503201F,      # 0x1010  nop
    ))
    emu = Emulator("aarch64", icount=True)
    emu.mem_map(0x1000, 0x1000, "rx")
    emu.mem_write(0x1000, code)
    emu.run(0x1000, until=0x1010)
    assert emu.reg_read("x0") == 5
    emu.add_breakpoint(0x1008)
    emu.run(0x1000, until=0x1010)
    assert (emu.hit_breakpoint, emu.reg_read("pc"), emu.reg_read("x0")) == (0x1008, 0x1008, 1)
    emu.run(emu.reg_read("pc"), until=0x1010)           # resuming at it runs it
    assert (emu.hit_breakpoint, emu.reg_read("x0")) == (0x1008, 2)
    emu.remove_breakpoint(0x1008)
    emu.run(emu.reg_read("pc"), until=0x1010)
    assert (emu.hit_breakpoint, emu.reg_read("pc"), emu.reg_read("x0")) == (None, 0x1010, 5)
