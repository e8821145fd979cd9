"""The GDB remote serial protocol, as qemu-user's ``-g PORT`` speaks it:
``tcgpy run -g PORT prog`` (or ``TCGPY_GDB=PORT``) and
``Emulator.gdb_serve(port)`` wait for ``gdb-multiarch`` (``target remote
:PORT``) before the first instruction.

The stub is all-stop and architecture-neutral: registers come from the
target's ``arch.gdb`` description (frontends/<arch>/gdb.py; x86-64 on the
KVM engine: accel/kvm/gdb.py), execution
from a *debuggee* — :class:`BareDebuggee` for a library Emulator,
tcgpy/linux/debuggee.py for a Linux process — whose ``resume(step,
signal, interrupted)`` runs the guest and returns a :class:`Stop`.
Breakpoints (Z0/Z1) are the engine's ``add_breakpoint``: the translator
ends its blocks before their address, the KVM engine puts an ``int3`` there
only while the guest runs, so gdb never sees one in memory.  Watchpoints
(Z2-Z4) go through the TCG engine's softmmu slow path
(``Emulator.add_watchpoint``); an engine without ``add_watchpoint`` (KVM)
answers them as unsupported, so gdb says so or, with ``set
can-use-hw-watchpoints 0``, single-steps to watch.
"""
from __future__ import annotations

import queue
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Protocol

from .errors import (AlignmentFault, EmulationError, GuestTrap, IllegalInstruction, MemoryFault, UnhandledSyscall,
                     WatchpointHit)

# gdb's own signal numbering (include/gdb/signals.def), which the protocol
# uses whatever the target's numbers are; only its first, POSIX, part.
GDB_SIGNALS = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGEMT": 7,
    "SIGFPE": 8, "SIGKILL": 9, "SIGBUS": 10, "SIGSEGV": 11, "SIGSYS": 12, "SIGPIPE": 13,
    "SIGALRM": 14, "SIGTERM": 15, "SIGURG": 16, "SIGSTOP": 17, "SIGTSTP": 18, "SIGCONT": 19,
    "SIGCHLD": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGIO": 23, "SIGXCPU": 24, "SIGXFSZ": 25,
    "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGUSR1": 30, "SIGUSR2": 31, "SIGPWR": 32,
}
GDB_SIGNAL_NAMES = {v: k for k, v in GDB_SIGNALS.items()}
GDB_SIGNAL_UNKNOWN = 143          # GDB_SIGNAL_UNKNOWN

# Z packet type -> Emulator watchpoint kind, and the stop reply's name for it
WATCH_TYPES = {2: "write", 3: "read", 4: "access"}
WATCH_STOP_NAMES = {"write": "watch", "read": "rwatch", "access": "awatch"}
PACKET_SIZE = 0x4000
INTERRUPT = 0x03                  # what gdb sends on Ctrl-C while the target runs


@dataclass
class Stop:
    """Why the guest stopped: a signal (by name), or it exited or was killed."""
    signal: str = "SIGTRAP"
    breakpoint: bool = False          # at a Z0/Z1 breakpoint
    watch: tuple[str, int] | None = None   # (kind, data address)
    exit_status: int | None = None
    killed_by: str | None = None      # the signal that ended the guest


class Debuggee(Protocol):
    emu: object

    def resume(self, step: bool, signal: str | None, interrupted: Callable[[], bool]) -> Stop: ...
    def threads(self) -> list[int]: ...
    def current_thread(self) -> int: ...
    def xfer(self, obj: str, annex: str) -> bytes | None: ...


class Detach(Exception):
    """gdb detached or went away: the guest runs on without it."""


class Kill(Exception):
    """gdb killed the guest."""


def has_watchpoints(emu) -> bool:
    """Whether the engine can watch data accesses (the TCG engine's softmmu can)."""
    return hasattr(emu, "add_watchpoint")


def forget_watchpoints(emu) -> None:
    for w in list(getattr(emu, "watchpoints", ())):
        emu.remove_watchpoint(*w)


# -- packet framing ---------------------------------------------------------------------
def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(data: bytes) -> bytes:
    """Binary data in a reply: '#', '$', '}' and '*' become '}' and the byte xor 0x20."""
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        out.append(next(it, 0) ^ 0x20 if b == 0x7D else b)
    return bytes(out)


class Connection:
    """One gdb connection.  A reader thread takes everything off the socket,
    so that a Ctrl-C (a 0x03 byte outside a packet) reaches ``on_interrupt``
    while the main thread runs the guest, even when it comes before the
    guest started; packets are read from the bytes it queues."""

    def __init__(self, sock: socket.socket, on_interrupt: Callable[[], None]):
        self.sock = sock
        self.acks = True
        self._on_interrupt = on_interrupt
        self._bytes: queue.Queue[bytes] = queue.Queue()
        self._buf = bytearray()
        threading.Thread(target=self._reader, name="tcgpy-gdb-reader", daemon=True).start()

    def _reader(self) -> None:
        state = 0          # 0: between packets, 1: in a payload, 2 and 3: in its checksum
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                self._bytes.put(b"")
                return
            keep = bytearray()
            for b in data:
                if state == 0 and b == INTERRUPT:
                    self._on_interrupt()
                    continue
                if state == 0:
                    state = 1 if b == 0x24 else 0          # '$'
                elif state == 1:
                    state = 2 if b == 0x23 else 1          # '#'
                else:
                    state = 3 if state == 2 else 0
                keep.append(b)
            if keep:                      # b"" in the queue means end of connection
                self._bytes.put(bytes(keep))

    def _more(self) -> None:
        data = self._bytes.get()
        if not data:
            raise Detach("gdb closed the connection")
        self._buf += data

    def read_packet(self) -> bytes:
        """The next packet's payload (acknowledged)."""
        while True:
            buf = self._buf
            while buf and buf[0] != 0x24:  # acks ('+'/'-') and noise before a '$'
                del buf[0]
            if not buf:
                self._more()
                continue
            end = buf.find(b"#")
            if end < 0 or len(buf) < end + 3:
                self._more()
                continue
            payload, given = bytes(buf[1:end]), bytes(buf[end + 1:end + 3])
            del buf[:end + 3]
            if self.acks:
                ok = given.lower() == b"%02x" % checksum(payload)
                self.sock.sendall(b"+" if ok else b"-")
                if not ok:
                    continue
            return payload

    def send(self, payload: bytes) -> None:
        packet = b"$" + payload + b"#%02x" % checksum(payload)
        while True:
            self.sock.sendall(packet)
            if not self.acks:
                return
            while True:                    # wait for gdb's '+' (or '-': send again)
                while not self._buf:
                    self._more()
                ack = self._buf[0]
                if ack in b"+-":
                    del self._buf[0]
                    break
                if ack == ord("$"):        # gdb went on without acking
                    return
                del self._buf[0]
            if ack == ord("+"):
                return


# -- the stub -----------------------------------------------------------------------------
def target_xml(arch) -> bytes:
    """The target description of ``arch`` (an ArchInfo), as qXfer:features:read serves it."""
    parts = ['<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target>\n',
             f"<architecture>{arch.gdb.architecture}</architecture>\n"]
    for f in arch.gdb.features:
        parts.append(f'<feature name="{f.name}">\n{f.types}')
        for r in f.regs:
            parts.append(f'<reg name="{r.name}" bitsize="{r.bits}" type="{r.type}"/>\n')
        parts.append("</feature>\n")
    parts.append("</target>\n")
    return "".join(parts).encode()


def _hex_int(text: bytes) -> int:
    return int(text, 16)


class GdbStub:
    """Serves one gdb connection for ``debuggee`` until gdb detaches (the
    guest then runs on), kills it, or the guest ends.  ``serve`` returns
    the guest's final Stop (exit or kill), or None after a detach."""

    def __init__(self, debuggee: Debuggee, conn_sock: socket.socket):
        self.dbg = debuggee
        self.emu = debuggee.emu
        arch = self.emu.arch
        if arch.gdb is None:
            raise ValueError(f"no gdb description for {arch.name}")
        self.regs = arch.gdb.regs
        self.xml = target_xml(arch)
        self._interrupt = threading.Event()
        self.conn = Connection(conn_sock, self._on_interrupt)
        self.last_stop = Stop()
        self.sw_breaks: set[int] = set()
        self.hw_breaks: set[int] = set()
        self.final: Stop | None = None

    def _on_interrupt(self) -> None:
        self._interrupt.set()
        self.emu.request_exit()

    # -- the loop ----------------------------------------------------------------------
    def serve(self) -> Stop | None:
        try:
            while self.final is None:
                packet = self.conn.read_packet()
                reply = self.handle(packet)
                if reply is not None:
                    self.conn.send(reply)
            return self.final
        except Detach:
            self._forget_debug_state()
            return None
        finally:
            try:
                self.conn.sock.close()
            except OSError:
                pass

    def _forget_debug_state(self) -> None:
        for a in self.sw_breaks | self.hw_breaks:
            self.emu.remove_breakpoint(a)
        forget_watchpoints(self.emu)

    def handle(self, packet: bytes) -> bytes | None:
        """The reply to one packet (None: no reply)."""
        handler, args = self._BY_LETTER.get(packet[:1]), packet[1:]
        for prefix, fn in self._BY_PREFIX:
            if packet.startswith(prefix):
                handler, args = fn, packet[len(prefix):]
                break
        if handler is None:
            return b""                    # unsupported: gdb falls back
        try:
            return handler(self, args)
        except (ValueError, IndexError):
            return b"E01"

    # -- replies -------------------------------------------------------------------------
    def stop_reply(self, stop: Stop) -> bytes:
        if stop.exit_status is not None:
            return b"W%02x" % (stop.exit_status & 0xFF)
        if stop.killed_by is not None:
            return b"X%02x" % GDB_SIGNALS.get(stop.killed_by, GDB_SIGNAL_UNKNOWN)
        out = b"T%02x" % GDB_SIGNALS.get(stop.signal, GDB_SIGNAL_UNKNOWN)
        if stop.watch is not None:
            kind, addr = stop.watch
            out += b"%s:%x;" % (WATCH_STOP_NAMES[kind].encode(), addr)
        elif stop.breakpoint:
            pc = self.emu.reg_read("pc")
            out += b"swbreak:;" if pc in self.sw_breaks else b"hwbreak:;"
        return out + b"thread:%x;" % self.dbg.current_thread()

    def _resume(self, step: bool, signal: str | None) -> bytes | None:
        # A Ctrl-C already seen (gdb may send it right after the packet) counts.
        stop = self.dbg.resume(step, signal, self._interrupt.is_set)
        self._interrupt.clear()
        self.last_stop = stop
        if stop.exit_status is not None or stop.killed_by is not None:
            self.final = stop
        return self.stop_reply(stop)

    # -- registers -----------------------------------------------------------------------
    def _reg_hex(self, r) -> bytes:
        return r.get(self.emu).to_bytes(r.bits // 8, "little").hex().encode()

    def _reg_set(self, r, text: bytes) -> None:
        r.set(self.emu, int.from_bytes(bytes.fromhex(text.decode()), "little"))

    def cmd_g(self, _args: bytes) -> bytes:
        return b"".join(self._reg_hex(r) for r in self.regs)

    def cmd_G(self, args: bytes) -> bytes:
        pos = 0
        for r in self.regs:
            n = r.bits // 4
            if pos + n > len(args):
                break
            self._reg_set(r, args[pos:pos + n])
            pos += n
        return b"OK"

    def cmd_p(self, args: bytes) -> bytes:
        n = _hex_int(args)
        return self._reg_hex(self.regs[n]) if n < len(self.regs) else b"E01"

    def cmd_P(self, args: bytes) -> bytes:
        n, _, value = args.partition(b"=")
        i = _hex_int(n)
        if i >= len(self.regs):
            return b"E01"
        self._reg_set(self.regs[i], value)
        return b"OK"

    # -- memory --------------------------------------------------------------------------
    def cmd_m(self, args: bytes) -> bytes:
        addr, _, size = args.partition(b",")
        try:
            return self.emu.mem_read(_hex_int(addr), min(_hex_int(size), PACKET_SIZE // 2)).hex().encode()
        except MemoryFault:
            return b"E14"                  # EFAULT, as gdbserver says

    def _write(self, addr: bytes, data: bytes) -> bytes:
        try:
            self.emu.mem_write(_hex_int(addr), data)
        except MemoryFault:
            return b"E14"
        return b"OK"

    def cmd_M(self, args: bytes) -> bytes:
        where, _, data = args.partition(b":")
        return self._write(where.partition(b",")[0], bytes.fromhex(data.decode()))

    def cmd_X(self, args: bytes) -> bytes:
        where, _, data = args.partition(b":")
        return self._write(where.partition(b",")[0], unescape(data))

    # -- breakpoints and watchpoints -----------------------------------------------------
    def _z(self, args: bytes, insert: bool) -> bytes:
        kind, addr, size = args.split(b";")[0].split(b",")
        kind, addr, size = int(kind), _hex_int(addr), _hex_int(size)
        if kind in (0, 1):
            mine, other = (self.sw_breaks, self.hw_breaks) if kind == 0 else (self.hw_breaks, self.sw_breaks)
            if insert:
                self.emu.add_breakpoint(addr)      # ValueError (E01): the engine cannot stop there
                mine.add(addr)
            else:
                mine.discard(addr)
                if addr not in other:
                    self.emu.remove_breakpoint(addr)
            return b"OK"
        if kind in WATCH_TYPES and has_watchpoints(self.emu):
            if insert:
                self.emu.add_watchpoint(addr, size, WATCH_TYPES[kind])
            else:
                self.emu.remove_watchpoint(addr, size, WATCH_TYPES[kind])
            return b"OK"
        return b""

    def cmd_Z(self, args: bytes) -> bytes:
        return self._z(args, True)

    def cmd_z(self, args: bytes) -> bytes:
        return self._z(args, False)

    # -- execution -----------------------------------------------------------------------
    def _resume_at(self, addr: bytes) -> None:
        if addr:
            self.emu.reg_write("pc", _hex_int(addr))

    @staticmethod
    def _signal(num: bytes) -> str | None:
        n = _hex_int(num)
        return None if n == 0 else GDB_SIGNAL_NAMES.get(n)

    def cmd_c(self, args: bytes) -> bytes | None:
        self._resume_at(args)
        return self._resume(False, None)

    def cmd_s(self, args: bytes) -> bytes | None:
        self._resume_at(args)
        return self._resume(True, None)

    def cmd_C(self, args: bytes) -> bytes | None:
        sig, _, addr = args.partition(b";")
        self._resume_at(addr)
        return self._resume(False, self._signal(sig))

    def cmd_S(self, args: bytes) -> bytes | None:
        sig, _, addr = args.partition(b";")
        self._resume_at(addr)
        return self._resume(True, self._signal(sig))

    def cmd_vCont(self, args: bytes) -> bytes | None:
        if args == b"?":
            return b"vCont;c;C;s;S"
        # All-stop, one thread runs: the action for the current thread (or
        # the default one, without a thread id) is what happens.
        me = self.dbg.current_thread()
        chosen = None
        for action in args.lstrip(b";").split(b";"):
            act, _, tid = action.partition(b":")
            if not tid or tid in (b"-1", b"0") or _hex_int(tid.split(b".")[-1]) == me:
                chosen = act
                break
        if chosen is None:
            return b"E01"
        step = chosen[:1] in (b"s", b"S")
        sig = self._signal(chosen[1:]) if chosen[:1] in (b"C", b"S") else None
        return self._resume(step, sig)

    def cmd_k(self, _args: bytes) -> bytes | None:
        raise Kill()

    def cmd_vKill(self, _args: bytes) -> bytes | None:
        self.conn.send(b"OK")
        raise Kill()

    def cmd_D(self, _args: bytes) -> bytes | None:
        self.conn.send(b"OK")
        raise Detach()

    def cmd_question(self, _args: bytes) -> bytes:
        return self.stop_reply(self.last_stop)

    # -- queries -------------------------------------------------------------------------
    def cmd_qSupported(self, _args: bytes) -> bytes:
        return (b"PacketSize=%x;QStartNoAckMode+;qXfer:features:read+;qXfer:auxv:read+;"
                b"qXfer:exec-file:read+;qXfer:siginfo:read+;vContSupported+;swbreak+;hwbreak+"
                % PACKET_SIZE)

    def cmd_QStartNoAckMode(self, _args: bytes) -> bytes:
        self.conn.send(b"OK")
        self.conn.acks = False
        return None

    def cmd_qXfer(self, args: bytes) -> bytes:
        # qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH
        obj, op, annex, span = args.lstrip(b":").split(b":", 3)
        if op != b"read":
            return b""
        off, _, length = span.partition(b",")
        off, length = _hex_int(off), _hex_int(length)
        if obj == b"features":
            data = self.xml if annex == b"target.xml" else None
        else:
            data = self.dbg.xfer(obj.decode(), annex.decode())
        if data is None:
            return b"E00"
        chunk = data[off:off + length]
        return (b"m" if off + length < len(data) else b"l") + escape(chunk)

    def cmd_qAttached(self, _args: bytes) -> bytes:
        # As qemu-user: gdb detaches (the guest runs on) rather than kills when it quits.
        return b"1"

    def cmd_qfThreadInfo(self, _args: bytes) -> bytes:
        return b"m" + b",".join(b"%x" % t for t in self.dbg.threads())

    def cmd_qsThreadInfo(self, _args: bytes) -> bytes:
        return b"l"

    def cmd_qC(self, _args: bytes) -> bytes:
        return b"QC%x" % self.dbg.current_thread()

    def cmd_H(self, _args: bytes) -> bytes:
        # Registers and memory are always the current (stopped) thread's.
        return b"OK"

    def cmd_T(self, args: bytes) -> bytes:
        return b"OK" if _hex_int(args) in self.dbg.threads() else b"E01"

    def cmd_qSymbol(self, _args: bytes) -> bytes:
        return b"OK"

    _BY_PREFIX: tuple = ()
    _BY_LETTER: dict = {}


# Longer names first: "qC" must not take "qSupported"'s packets, nor "vCont" "vKill"'s.
GdbStub._BY_PREFIX = tuple(sorted(
    ((name.encode(), getattr(GdbStub, "cmd_" + name)) for name in (
        "vCont", "vKill", "QStartNoAckMode", "qSupported", "qXfer", "qAttached", "qfThreadInfo",
        "qsThreadInfo", "qSymbol", "qC")),
    key=lambda kv: -len(kv[0])))
GdbStub._BY_LETTER = {
    b"g": GdbStub.cmd_g, b"G": GdbStub.cmd_G, b"p": GdbStub.cmd_p, b"P": GdbStub.cmd_P,
    b"m": GdbStub.cmd_m, b"M": GdbStub.cmd_M, b"X": GdbStub.cmd_X, b"Z": GdbStub.cmd_Z, b"z": GdbStub.cmd_z,
    b"c": GdbStub.cmd_c, b"C": GdbStub.cmd_C, b"s": GdbStub.cmd_s, b"S": GdbStub.cmd_S,
    b"k": GdbStub.cmd_k, b"D": GdbStub.cmd_D, b"?": GdbStub.cmd_question, b"H": GdbStub.cmd_H,
    b"T": GdbStub.cmd_T,
}


def listen(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on ``port`` (0: a free one; said on stderr, since
    whoever starts gdb needs to know it)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(1)
    if port == 0:
        sys.stderr.write(f"tcgpy: waiting for gdb on port {srv.getsockname()[1]}\n")
        sys.stderr.flush()
    return srv


def serve(debuggee: Debuggee, srv: socket.socket) -> Stop | None:
    """Accept one gdb on ``srv`` and serve it (see GdbStub.serve).  Raises
    Kill when gdb kills the guest."""
    conn, _ = srv.accept()
    srv.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return GdbStub(debuggee, conn).serve()


def serve_emulator(emu, port: int, host: str = "127.0.0.1") -> None:
    """``gdb_serve`` of an engine: a library Emulator (no operating system)
    debugged from its current pc until gdb detaches or kills."""
    dbg = BareDebuggee(emu)
    try:
        serve(dbg, listen(port, host))
    except Kill:
        pass


# -- a library Emulator as a debuggee ------------------------------------------------------
# what each guest exception is, as a signal (as Linux would deliver it), where
# the engine does not say (its ``linux_signal``: the KVM engine's CPU exceptions)
_FAULT_SIGNALS = ((AlignmentFault, "SIGBUS"), (MemoryFault, "SIGSEGV"), (IllegalInstruction, "SIGILL"),
                  (GuestTrap, "SIGTRAP"), (UnhandledSyscall, "SIGSYS"))


def _fault_signal(exc: EmulationError) -> str | None:
    given = getattr(exc, "linux_signal", None)
    if given is not None:
        return given[0]
    return next((name for cls, name in _FAULT_SIGNALS if isinstance(exc, cls)), None)


class BareDebuggee:
    """An Emulator with no operating system under it: one thread, no exit;
    a fault stops with its signal and the pc at the faulting instruction."""

    THREAD = 1

    def __init__(self, emu):
        if not emu.counts_instructions:
            raise ValueError("gdb needs an Emulator made with icount=True (single steps)")
        self.emu = emu

    def resume(self, step: bool, signal: str | None, interrupted: Callable[[], bool]) -> Stop:
        emu = self.emu
        try:
            while True:
                if interrupted():
                    return Stop("SIGINT")
                emu.run(emu.reg_read("pc"), count=1 if step else None)
                if emu.hit_breakpoint is not None:
                    return Stop("SIGTRAP", breakpoint=True)
                if step:
                    return Stop("SIGTRAP")
        except WatchpointHit as w:
            return Stop("SIGTRAP", watch=(w.kind, w.address))
        except EmulationError as e:
            name = _fault_signal(e)
            if name is None:
                raise
            return Stop(name)

    def threads(self) -> list[int]:
        return [self.THREAD]

    def current_thread(self) -> int:
        return self.THREAD

    def xfer(self, obj: str, annex: str) -> bytes | None:
        return None
