"""The KVM engine: x86-64 code run natively in a VM that tcgpy builds.

Library-API tests hold byte literals annotated with their disassembly; the
guest-program tests run each binary of tests/guest/bin-x86_64 (built by
tests/guest/x86_64/build.sh) natively and under ``tcgpy run`` and compare
stdout, stderr, exit status and the files left behind.  Everything that
needs /dev/kvm skips, with the reason, where KVM cannot run a VM.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from tcgpy.accel import AccelUnavailable, host_arch, kvm_status, resolve
from tcgpy.errors import IllegalInstruction, MemoryFault, UnhandledSyscall

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "tests" / "guest" / "bin-x86_64"
TIMEOUT = 120

KVM_PROBLEM = kvm_status()
needs_kvm = pytest.mark.skipif(bool(KVM_PROBLEM), reason=f"KVM cannot run here: {KVM_PROBLEM}")

CODE = 0x400000
DATA = 0x600000
STACK_TOP = 0x7000_0000


@pytest.fixture
def emu():
    from tcgpy import Emulator
    e = Emulator("x86_64", accel="kvm")
    e.mem_map(CODE, 0x1000, "rx")
    e.mem_map(DATA, 0x1000, "rw")
    e.mem_map(STACK_TOP - 0x10000, 0x10000, "rw")
    e.reg_write("rsp", STACK_TOP)
    return e


def load(emu, code: bytes) -> int:
    emu.mem_write(CODE, code)
    return CODE + len(code)


# -- choosing an engine -----------------------------------------------------------------

def test_tcg_cannot_run_x86_64():
    with pytest.raises(AccelUnavailable, match="no TCG frontend for x86_64"):
        resolve("x86_64", "tcg")


def test_kvm_cannot_run_a_foreign_guest():
    if host_arch() != "x86_64":
        pytest.skip(f"host is {host_arch()}")
    with pytest.raises(AccelUnavailable, match="KVM runs only guests of the host's architecture"):
        resolve("aarch64", "kvm")
    assert resolve("aarch64", "auto") == "tcg"


def test_unknown_accel_is_one_line():
    with pytest.raises(AccelUnavailable) as e:
        resolve("aarch64", "hvf")
    assert "\n" not in str(e.value) and "hvf" in str(e.value)


def test_missing_dev_kvm_says_so(monkeypatch):
    if host_arch() != "x86_64":
        pytest.skip(f"host is {host_arch()}")
    real_open = os.open

    def no_kvm(path, *a, **k):
        if path == "/dev/kvm":
            raise FileNotFoundError(2, "No such file or directory")
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", no_kvm)
    assert "/dev/kvm does not exist" in kvm_status()
    with pytest.raises(AccelUnavailable, match="x86_64 guests need KVM.*no x86_64 TCG frontend"):
        resolve("x86_64", "auto")
    with pytest.raises(AccelUnavailable, match="--accel kvm: /dev/kvm does not exist"):
        resolve("x86_64", "kvm")


def test_aarch64_stays_on_tcg():
    from tcgpy import Emulator
    from tcgpy.emulator import Emulator as TcgEmulator
    assert type(Emulator("aarch64")) is TcgEmulator
    assert type(Emulator("aarch64", accel="tcg")) is TcgEmulator


def _tcgpy_run(*args: str, cwd=ROOT, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tcgpy", "run", *args], capture_output=True, cwd=cwd,
                          env=env, timeout=TIMEOUT, **kw)


def test_cli_accel_errors_are_one_line():
    res = _tcgpy_run("--accel", "tcg", str(BIN / "libc_hello"))
    assert res.returncode == 1
    assert res.stderr.count(b"\n") == 1 and b"no TCG frontend for x86_64" in res.stderr
    if host_arch() == "x86_64":
        res = _tcgpy_run("--accel", "kvm", str(ROOT / "tests" / "guest" / "bin" / "fs_args"))
        assert res.returncode == 1
        assert res.stderr.count(b"\n") == 1 and b"KVM runs only guests" in res.stderr


@needs_kvm
@pytest.mark.parametrize("flag", ["--stats", "--count"])
def test_cli_tcg_only_flags_are_refused_in_one_line_before_the_guest_runs(flag):
    res = _tcgpy_run("--accel", "kvm", flag, str(BIN / "libc_hello_static"))
    assert res.returncode == 1 and res.stdout == b""
    assert res.stderr.count(b"\n") == 1 and b"TCG engine" in res.stderr and b"Traceback" not in res.stderr


# -- the library API on KVM -------------------------------------------------------------

@needs_kvm
def test_run_until_and_registers(emu):
    end = load(emu, bytes.fromhex(
        "48c7c02a000000"    # 400000: mov rax, 42
        "4801d8"            # 400007: add rax, rbx
        "90"))              # 40000a: nop
    emu.reg_write("rbx", 100)
    emu.run(CODE, until=end - 1)
    assert emu.reg_read("rax") == 142 and emu.stop_reason == "until"
    assert emu.reg_read("rip") == end - 1 == emu.reg_read("pc")
    # as tcgpy.Emulator: two's complement for negatives, an error past the register
    emu.reg_write("rbx", -1)
    assert emu.reg_read("rbx") == (1 << 64) - 1
    for name, value in (("rbx", 1 << 64), ("rax", 1 << 70), ("xmm0", 1 << 128)):
        with pytest.raises(ValueError, match="does not fit"):
            emu.reg_write(name, value)


@needs_kvm
def test_count_is_exact(emu):
    load(emu, bytes.fromhex(
        "48ffc0"            # 400000: inc rax
        "ebfb"))            # 400003: jmp 400000
    emu.run(CODE, count=7)
    assert emu.last_run_insns == 7 and emu.stop_reason == "count"
    assert emu.reg_read("rax") == 4
    assert emu.reg_read("rip") == CODE + 3


@needs_kvm
def test_timeout_stops_an_endless_loop(emu):
    load(emu, bytes.fromhex("ebfe"))        # 400000: jmp 400000
    emu.run(CODE, timeout=0.2)
    assert emu.reg_read("rip") == CODE and emu.stop_reason == "timeout"


@needs_kvm
def test_request_exit_from_another_thread(emu):
    load(emu, bytes.fromhex("ebfe"))        # 400000: jmp 400000
    started = threading.Event()
    orig = emu._run_once

    def run_once():
        started.set()
        return orig()

    emu._run_once = run_once
    t = threading.Thread(target=lambda: (started.wait(), emu.request_exit()))
    t.start()
    emu.run(CODE, timeout=60)
    t.join()
    assert emu.stop_reason == "stop"
    assert emu.reg_read("rip") == CODE


@needs_kvm
def test_memory_fault_is_precise(emu):
    load(emu, bytes.fromhex(
        "48c7c001000000"    # 400000: mov rax, 1
        "48890425" "00100000"   # 400007: mov [0x1000], rax   (unmapped)
        "48c7c002000000"))  # 40000f: mov rax, 2
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE)
    assert (e.value.pc, e.value.address, e.value.access) == (CODE + 7, 0x1000, "write")
    assert emu.reg_read("rip") == CODE + 7 and emu.reg_read("rax") == 1


@needs_kvm
def test_memory_across_arena_chunks(emu):
    """The arena is registered with KVM a chunk at a time, as far as it is
    used (machine.ARENA_CHUNK): guest code reaches a mapping that spans
    chunks, at its far end too, and a later mapping in a fresh chunk."""
    from tcgpy.accel.kvm import machine as M
    assert emu._arena_chunks == 1
    big, size = 0x1_0000_0000, 2 * M.ARENA_CHUNK
    emu.mem_map(big, size, "rw")                       # past the fixture's pages: into a third chunk
    assert emu._arena_chunks == 3
    emu.mem_map(big + size, M.ARENA_CHUNK, "rw")
    assert emu._arena_chunks == 4
    for addr in (big + M.ARENA_CHUNK - 8, big + size - 8, big + size + M.ARENA_CHUNK - 8):
        end = load(emu, bytes.fromhex("48b8") + addr.to_bytes(8, "little")   # mov rax, addr
                   + bytes.fromhex("488908"))                                # mov [rax], rcx
        emu.reg_write("rcx", addr ^ 0x5A5A)
        emu.run(CODE, until=end)
        assert emu.mem_read(addr, 8) == (addr ^ 0x5A5A).to_bytes(8, "little")


@needs_kvm
def test_protect_and_remap_take_effect(emu):
    """Permission and mapping changes reach a vCPU that has used the old
    page-table entries (the TLB is flushed)."""
    code = load(emu, bytes.fromhex(
        "48890425" "00006000"   # 400000: mov [0x600000], rax
        "488b1c25" "00006000"   # 400008: mov rbx, [0x600000]
        "90"))                  # 400010: nop
    emu.reg_write("rax", 7)
    emu.run(CODE, until=code - 1)
    assert emu.reg_read("rbx") == 7
    emu.mem_protect(DATA, 0x1000, "r")
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE, until=code - 1)
    assert (e.value.pc, e.value.access) == (CODE, "write")
    emu.mem_unmap(DATA, 0x1000)
    emu.mem_map(DATA, 0x1000, "rw")
    emu.mem_write(DATA, (99).to_bytes(8, "little"))
    emu.run(CODE + 8, until=code - 1)
    assert emu.reg_read("rbx") == 99


@needs_kvm
def test_large_protect_and_remap_take_effect(emu):
    """The same for 2,048 pages at once, all used by the vCPU before the
    change (a change that size is more than the flush stub writes one by one)."""
    big, pages = 0x1000000, 2048
    emu.mem_map(big, pages * 0x1000, "rw")
    code = load(emu, bytes.fromhex(
        "48c7c700000001"        # 400000: mov rdi, 0x1000000
        "48c7c100080000"        # 400007: mov rcx, 2048
        "48890f"                # 40000e: mov [rdi], rcx       each page gets its countdown
        "4881c700100000"        # 400011: add rdi, 0x1000
        "48ffc9"                # 400018: dec rcx
        "75f1"                  # 40001b: jne 40000e
        "488b1e"                # 40001d: mov rbx, [rsi]
        "488906"                # 400020: mov [rsi], rax
        "90"))                  # 400023: nop
    probe = big + 1000 * 0x1000
    emu.reg_write("rsi", probe)
    emu.run(CODE, until=CODE + 0x1D)
    emu.run(CODE + 0x1D, until=CODE + 0x20)
    assert emu.reg_read("rbx") == pages - 1000
    emu.mem_protect(big, pages * 0x1000, "r")
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE + 0x20, until=code - 1)
    assert (e.value.pc, e.value.access) == (CODE + 0x20, "write")
    emu.mem_unmap(big, pages * 0x1000)
    # The memory the old entries point at now backs another mapping, with
    # other data; the range itself gets fresh (zero) pages.
    other = 0x5000000
    emu.mem_map(other, pages * 0x1000, "rw")
    emu.mem_write(other + 1000 * 0x1000, b"\x55" * 8)
    emu.mem_map(big, pages * 0x1000, "rw")
    emu.run(CODE + 0x1D, until=CODE + 0x20)
    assert emu.reg_read("rbx") == 0
    emu.mem_unmap(big, pages * 0x1000)
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE + 0x1D, until=CODE + 0x20)
    assert (e.value.pc, e.value.access) == (CODE + 0x1D, "read")


@needs_kvm
def test_illegal_instruction(emu):
    load(emu, bytes.fromhex("90" "0f0b"))   # 400000: nop ; 400001: ud2
    with pytest.raises(IllegalInstruction) as e:
        emu.run(CODE)
    assert e.value.pc == CODE + 1 and e.value.word & 0xFFFF == 0x0B0F


@needs_kvm
def test_syscall_reaches_on_syscall(emu):
    end = load(emu, bytes.fromhex(
        "b827000000"        # 400000: mov eax, 39
        "0f05"              # 400005: syscall
        "90"))              # 400007: nop
    seen = []

    def on_syscall(e):
        seen.append((e.reg_read("rax"), e.reg_read("rip")))
        e.reg_write("rax", 1234)

    emu.on_syscall = on_syscall
    emu.run(CODE, until=end - 1)
    assert seen == [(39, CODE + 7)]
    assert emu.reg_read("rax") == 1234
    assert emu.reg_read("rcx") == CODE + 7          # syscall's own clobbers, as on hardware


@needs_kvm
def test_syscall_without_handler(emu):
    load(emu, bytes.fromhex("0f05"))        # 400000: syscall
    with pytest.raises(UnhandledSyscall) as e:
        emu.run(CODE)
    assert e.value.pc == CODE


@needs_kvm
def test_vector_and_segment_registers(emu):
    end = load(emu, bytes.fromhex(
        "66480f7ec0"        # 400000: movq rax, xmm0
        "66480f6ecb"        # 400005: movq xmm1, rbx
        "64488b142500000000"    # 40000a: mov rdx, fs:[0]
        "90"))              # 400013: nop
    emu.reg_write("xmm0", 0x1111_2222_3333_4444_5555_6666_7777_8888)
    emu.reg_write("rbx", 0xDEADBEEF)
    emu.reg_write("fs_base", DATA + 0x100)
    emu.mem_write(DATA + 0x100, (0x0123456789ABCDEF).to_bytes(8, "little"))
    emu.run(CODE, until=end - 1)
    assert emu.reg_read("rax") == 0x5555_6666_7777_8888
    assert emu.reg_read("xmm1") == 0xDEADBEEF
    assert emu.reg_read("rdx") == 0x0123456789ABCDEF
    assert emu.reg_read("mxcsr") == 0x1F80


@needs_kvm
def test_ymm_registers(emu):
    """ymm0-ymm15 by name where the CPU has AVX: xmm<i> and the XSAVE area's upper half."""
    from tcgpy.accel.kvm import xstate as X
    if not emu.xstate.features & X.AVX:
        pytest.skip("the CPU (as KVM gives it) has no AVX")
    value = int.from_bytes(bytes(range(32)), "little")
    emu.reg_write("ymm0", value)
    emu.mem_write(DATA + 0x20, bytes(range(100, 132)))
    end = load(emu, bytes.fromhex(
        "c5fe7f042500006000"    # 400000: vmovdqu [0x600000], ymm0
        "c5fe6f0c2520006000"))  # 400009: vmovdqu ymm1, [0x600020]
    emu.run(CODE, until=end)
    assert emu.mem_read(DATA, 32) == bytes(range(32))
    assert emu.reg_read("ymm1") == int.from_bytes(bytes(range(100, 132)), "little")
    assert emu.reg_read("xmm1") == int.from_bytes(bytes(range(100, 116)), "little")
    with pytest.raises(ValueError):
        emu.reg_write("ymm2", 1 << 256)


@needs_kvm
def test_x87_and_selector_registers(emu):
    """The x87 registers come from the fxsave image (st0-st7 in stack
    order; not fip/fdp/fop here: AMD CPUs save them only while an x87
    exception is pending); the segment registers are ring 3's, as the
    guest itself reads them."""
    end = load(emu, bytes.fromhex(
        "d9e8"              # 400000: fld1
        "d9ee"              # 400002: fldz
        "8cd8"              # 400004: mov eax, ds
        "8ccb"              # 400006: mov ebx, cs
        "8cd1"              # 400008: mov ecx, ss
        "8ce2"              # 40000a: mov edx, fs
        "90"))              # 40000c: nop
    emu.run(CODE, until=end - 1)
    assert emu.reg_read("st0") == 0                                  # +0.0 on top
    assert emu.reg_read("st1") == 0x3FFF << 64 | 1 << 63             # 1.0 (80-bit)
    assert emu.reg_read("fsw") >> 11 & 7 == 6                        # two pushed: top 6
    assert emu.reg_read("ftw") == 0b1100_0000                        # physical 6 and 7 in use
    assert [emu.reg_read(r) for r in ("rax", "rbx", "rcx", "rdx")] == [
        emu.reg_read(s) for s in ("ds", "cs", "ss", "fs")] == [0, 0x33, 0x2B, 0]
    emu.reg_write("st7", 0x4000 << 64 | 1 << 63)                      # 2.0
    assert emu.reg_read("st7") == 0x4000 << 64 | 1 << 63
    emu.reg_write("cs", 0x33)                                        # what it is: accepted
    with pytest.raises(ValueError, match="cannot be changed"):
        emu.reg_write("cs", 0x23)


@needs_kvm
def test_guest_cannot_touch_the_stub_or_run_privileged_code(emu):
    from tcgpy.accel.kvm import machine as M
    for va in (M.KERNEL_VA, M.KERNEL_VA + M.STUB_OFF, M.KERNEL_VA + M.KSTACK_TOP_OFF - 8):
        load(emu, bytes.fromhex("48b8") + va.to_bytes(8, "little")   # mov rax, va
             + bytes.fromhex("488908"))                               # mov [rax], rcx
        with pytest.raises(MemoryFault) as e:
            emu.run(CODE)
        assert (e.value.address, e.value.access) == (va, "write")
    for insn in ("f4", "fa", "0f30", "0f22d8", "e680", "ec"):       # hlt cli wrmsr mov-cr3 out in
        load(emu, bytes.fromhex(insn))
        with pytest.raises(Exception) as e:
            emu.run(CODE)
        assert getattr(e.value, "linux_signal", None) == ("SIGSEGV", 0x80, 0), insn
        assert emu.reg_read("rip") == CODE


@needs_kvm
def test_descriptor_table_instructions_give_linux_answers(emu):
    """With UMIP the vCPU refuses sgdt/sidt/smsw/str/sldt in ring 3 and the
    engine answers as Linux's umip.c: dummy bases, its CR0 and TSS selector,
    a register's bytes past the operand size kept."""
    if not emu.umip:
        pytest.skip("the CPU (as KVM gives it) has no UMIP")
    end = load(emu, bytes.fromhex(
        "0f01042500006000"      # 400000: sgdt [0x600000]
        "0f010c250a006000"      # 400008: sidt [0x60000a]
        "660f01e0"              # 400010: smsw ax
        "0f00cb"                # 400014: str ebx
        "480f00c1"))            # 400017: sldt rcx
    for r in ("rax", "rbx", "rcx"):
        emu.reg_write(r, 0x1111_2222_3333_4444)
    emu.run(CODE, until=end)
    assert emu.mem_read(DATA, 20) == (bytes(2) + (0xFFFF_FFFF_FFFE_0000).to_bytes(8, "little")
                                      + bytes(2) + (0xFFFF_FFFF_FFFF_0000).to_bytes(8, "little"))
    assert emu.reg_read("rax") == 0x1111_2222_3333_0033
    assert emu.reg_read("rbx") == 0x1111_2222_0000_0040
    assert emu.reg_read("rcx") == 0
    end = load(emu, bytes.fromhex("0f01042500100000"))    # sgdt [0x1000]: unmapped
    with pytest.raises(MemoryFault) as e:
        emu.run(CODE, until=end)
    assert e.value.linux_signal == ("SIGSEGV", 1, 0x1000) and emu.reg_read("rip") == CODE


@needs_kvm
def test_breakpoint_stops_and_resumes(emu):
    end = load(emu, bytes.fromhex(
        "48ffc0"            # 400000: inc rax
        "48ffc0"            # 400003: inc rax
        "48ffc0"            # 400006: inc rax
        "90"))              # 400009: nop
    emu.add_breakpoint(CODE + 3)
    emu.run(CODE, until=end - 1)
    assert (emu.hit_breakpoint, emu.reg_read("rax")) == (CODE + 3, 1)
    assert emu.mem_read(CODE + 3, 1) == b"\x48"           # no int3 left behind
    emu.run(CODE + 3, until=end - 1)
    assert emu.hit_breakpoint is None and emu.reg_read("rax") == 3


@needs_kvm
def test_breakpoint_hidden_from_syscalls(emu):
    """While the guest runs, its stops' int3s are tcgpy's: a syscall reads
    the code as it is, and what one writes over a stop is what runs there
    after it, the stop still in place."""
    end = load(emu, bytes.fromhex(
        "48ffc0"            # 400000: inc rax
        "0f05"              # 400003: syscall
        "48ffc0"            # 400005: inc rax   (the syscall makes it inc rbx)
        "90"))              # 400008: nop
    seen = []

    def on_syscall(e):
        seen.append(e.mem_read(CODE + 5, 3))
        e.mem_write(CODE + 5, bytes.fromhex("48ffc3"))       # inc rbx
    emu.on_syscall = on_syscall
    emu.add_breakpoint(CODE + 5)
    emu.run(CODE, until=end - 1)
    assert seen == [bytes.fromhex("48ffc0")] and emu.hit_breakpoint == CODE + 5
    assert emu.mem_read(CODE + 5, 3) == bytes.fromhex("48ffc3")
    emu.run(CODE + 5, until=end - 1)
    assert (emu.reg_read("rax"), emu.reg_read("rbx")) == (1, 1)


@needs_kvm
def test_breakpoint_in_a_private_file_mapping_not_a_shared_one(emu, tmp_path):
    """A library's code is a private copy-on-write file mapping: a stop's
    int3 may go there (and never reaches the file); not into memory other
    processes share."""
    from tcgpy.softmmu.memory import host_backing
    code = bytes.fromhex(
        "48ffc0"            # 500000: inc rax
        "48ffc0"            # 500003: inc rax
        "90")               # 500006: nop
    path = tmp_path / "code"
    path.write_bytes(code.ljust(0x1000, b"\x90"))
    fd = os.open(path, os.O_RDWR)
    try:
        emu.mem_map(0x500000, 0x1000, "rx", backing=host_backing(0x1000, fd, 0, shared=False))
        emu.mem_map(0x510000, 0x1000, "rx", backing=host_backing(0x1000, fd, 0, shared=True))
    finally:
        os.close(fd)
    emu.add_breakpoint(0x500003)
    emu.run(0x500000, until=0x500006)
    assert (emu.hit_breakpoint, emu.reg_read("rax")) == (0x500003, 1)
    assert emu.mem_read(0x500003, 1) == b"\x48" and path.read_bytes()[:len(code)] == code
    with pytest.raises(ValueError, match="shared mapping"):
        emu.add_breakpoint(0x510003)


# -- guest programs against native execution --------------------------------------------

PROGRAMS = [
    ("libc_hello", ("7", "two words")),
    ("libc_hello_static", ("3",)),
    ("libc_string", ()),
    ("libc_io", ()),
    ("libc_float", ()),
    # (libc_edge's modes one by one: with no mode it would need a directory
    # as its last argument, and exits at once without one)
    ("libc_edge", ("bus", "{tmp}")),
    ("libc_edge", ("bushot", "{tmp}")),        # truncated by another process: KVM_RUN's EFAULT
    ("libc_edge", ("privbushot", "{tmp}")),
    ("libc_edge", ("sigmask",)),               # ppoll's mask lets a pending signal in, with threads
    ("libc_edge", ("efault", "{tmp}")),
    ("libc_edge", ("mremapfile", "{tmp}")),
    ("libc_edge", ("dontunmap", "{tmp}")),
    ("libc_edge", ("sockfault", "{tmp}")),     # a recv's bytes before the fault, through a copy
    ("libc_sys", ("{tmp}",)),
    ("libc_sys_static", ("{tmp}",)),
    ("libc_maps", ()),
    ("libc_proc", ()),
    ("libc_events", ("{tmp}",)),       # its own directory: /tmp sees other tests' files come and go (inotify)
    ("libc_blocking", ()),
    ("libc_spawn", ()),
    ("libc_threads", ()),
    ("libc_threads_static", ()),
    ("libc_hostile", ()),
    ("libc_pshared", ()),              # futexes two processes share (linux/hostfutex.py)
    ("x86_faults", ()),
    ("x86_hostile", ()),
    # threads on vCPUs of their own (tests/guest/x86_64/kvm_threads.c)
    ("kvm_threads", ("memory",)),
    ("kvm_threads", ("signal",)),
    ("kvm_threads", ("fork",)),
    ("kvm_threads", ("exit",)),
    ("kvm_threads", ("last",)),
    ("kvm_threads", ("compute", "3", "100000")),
]


def _run_in_fresh_dir(cmd: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``cmd`` in a new directory ("{tmp}" in it names that directory)."""
    tmp = tempfile.mkdtemp(prefix="tcgpy-kvm-")
    cmd = [a.replace("{tmp}", tmp) for a in cmd]
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C", "TCGPY_TEST_VAR": "set",
               "PYTHONPATH": str(ROOT)}
        res = subprocess.run(cmd, capture_output=True, cwd=tmp, env=env, timeout=TIMEOUT)
        files = {}
        for dirpath, _, names in os.walk(tmp):
            for n in names:
                p = os.path.join(dirpath, n)
                files[os.path.relpath(p, tmp)] = open(p, "rb").read() if os.path.isfile(p) else None
        return res, files
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@needs_kvm
@pytest.mark.parametrize("name,args", PROGRAMS)
def test_program_matches_native(name, args):
    exe = str(BIN / name)
    native, native_files = _run_in_fresh_dir([exe, *args])
    if native.returncode == 127 or b"GLIBC_" in native.stderr:
        pytest.skip(f"{name} does not run natively on this host: {native.stderr[:200]!r}")
    kvm, kvm_files = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", "--accel", "kvm", exe, *args])
    assert kvm.stdout.decode(errors="replace") == native.stdout.decode(errors="replace")
    assert kvm.stderr.decode(errors="replace") == native.stderr.decode(errors="replace")
    assert kvm.returncode == native.returncode
    assert kvm_files == native_files


@needs_kvm
def test_threads_under_preemption_repeatedly():
    """Threads switched on a time slice, several times over: the switches
    land anywhere, often in the page-table flush stub (tests/test_kvm_flush.py),
    and a wrong one showed as a short join sum now and then."""
    exe = str(BIN / "libc_threads")
    native, _ = _run_in_fresh_dir([exe])
    for _ in range(3):
        kvm, _ = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", "--accel", "kvm", exe])
        assert (kvm.stdout, kvm.stderr, kvm.returncode) == (native.stdout, native.stderr, native.returncode)


@needs_kvm
def test_threads_run_at_the_same_time():
    """Two threads each spin until they see the other's flag, then hand a
    counter back and forth 200 times by spinning, with no syscall: under
    KVM there is no time slice (each thread is a vCPU of its own, threads.py),
    so threads that took turns, or a KVM_RUN that kept the GIL, would never
    get past the first spin and the run would hit the timeout.  However
    loaded the machine, the host schedules both vCPU threads eventually."""
    exe = str(BIN / "kvm_threads")
    kvm, _ = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", "--accel", "kvm", exe, "handshake"])
    assert (kvm.stdout, kvm.stderr, kvm.returncode) == (b"handshake done, ball 400\n", b"", 0)


@needs_kvm
def test_another_thread_sees_unmap_and_protect_at_once():
    """One thread reads a region in user code (its vCPU holds the
    translations) while another unmaps a page of it, makes another read-only
    and maps the first again: each change holds as soon as its syscall has
    returned (SIGSEGV with the kernel's code and address, then the new
    page's contents), as natively; several rounds, as the vCPUs land
    anywhere when the changes come."""
    exe = str(BIN / "kvm_threads")
    native, _ = _run_in_fresh_dir([exe, "memory"])
    assert b"SIGSEGV SEGV_MAPERR at page 1" in native.stdout and b"SEGV_ACCERR at page 2" in native.stdout
    for _ in range(3):
        kvm, _ = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", "--accel", "kvm", exe, "memory"])
        assert (kvm.stdout, kvm.stderr, kvm.returncode) == (native.stdout, native.stderr, native.returncode)


@needs_kvm
def test_privileged_instructions_are_sigsegv():
    """Independently of the native run: what Linux gives for each case."""
    # (--sysenter: probed whatever the CPU; natively only AMD's answer is the
    # architecture's, see x86_faults.c)
    res, _ = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", str(BIN / "x86_faults"), "--sysenter"])
    out = res.stdout.decode().splitlines()
    lines = {line[:24].strip(): line[24:].split() for line in out if " sig " in line}
    for case in ("hlt", "cli", "in al,dx", "out dx,al", "wrmsr", "mov cr3,rax", "lgdt", "int 0x21",
                 "read non-canonical", "mov cr0,rax", "mov dr7,rax", "clts", "wbinvd", "invd", "lmsw", "ltr",
                 "lldt", "xsetbv", "swapgs", "sysret", "rdpmc"):
        assert lines[case][:6] == ["sig", "11", "code", "128", "addr", "0"], case
    for case in ("monitor", "mwait", "sysenter"):       # #UD: SIGILL ILL_ILLOPN at the instruction
        assert lines[case][:6] == ["sig", "4", "code", "2", "addr", "rip"], case
    for case in ("sgdt", "sidt", "smsw"):               # UMIP or not, Linux lets these run
        assert lines[case][:2] == ["sig", "0"], case
    assert lines["int1"][:4] == ["sig", "5", "code", "1"]                        # TRAP_BRKPT
    assert lines["trap flag"][:4] == ["sig", "5", "code", "2"] and lines["trap flag"][8:10] == ["tf", "1"]
    for case in ("read kernel space", "write kernel space", "jump to kernel space", "read vsyscall page"):
        assert lines[case][:6] == ["sig", "11", "code", "1", "addr", "ptr"], case
    assert lines["ud2"][:4] == ["sig", "4", "code", "2"]
    assert lines["int3"][:4] == ["sig", "5", "code", "128"]
    assert lines["divide by zero"][:4] == ["sig", "8", "code", "1"]
    assert lines["write read-only page"][:6] == ["sig", "11", "code", "2", "addr", "ptr"]
    # downgrades and remaps reach a vCPU that used the old entries
    assert lines["write after RW->R"][:6] == ["sig", "11", "code", "2", "addr", "ptr"]
    assert lines["read unmapped page"][:6] == ["sig", "11", "code", "1", "addr", "ptr"]
    assert "remapped page reads 0x5eed" in out
    assert all(v[-4:] == ["xmm7", "kept", "rbx", "kept"] for v in lines.values())
    assert res.returncode == 0


@needs_kvm
def test_avx_state_survives_a_signal_handler():
    """ymm0-15 (and zmm16, k1 with AVX-512) across a SIGILL handler that
    clobbers them: the frame's XSAVE area as Linux lays it out, the handler
    starting with zeroed vector registers, its changes to the frame taking
    effect, a frame with bad magic numbers restoring the fxsave image alone,
    one without an FP area the initial state, and one XRSTOR refuses a SIGSEGV;
    then timer signals interrupting a loop that keeps values in ymm0-15 (tests/guest/x86_64/x86_avx_signal.c).
    The same as native, and what Linux gives independently of it."""
    exe = str(BIN / "x86_avx_signal")
    native, _ = _run_in_fresh_dir([exe])
    if native.returncode == 77:
        pytest.skip(f"the host CPU has no AVX ({native.stdout.decode().strip()})")
    kvm, _ = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", "--accel", "kvm", exe])
    assert (kvm.stdout, kvm.stderr, kvm.returncode) == (native.stdout, native.stderr, native.returncode)
    *out, timer = kvm.stdout.decode().splitlines()
    # a timer's signals landing anywhere in a loop that keeps values in ymm0-15
    assert timer == "timer signals: 100 or more taken, ymm0-15 changed in 0 rounds"
    cases, name = {}, ""
    for line in out:
        if line.startswith("  "):
            cases[name].append(line.strip())
        else:
            name = line
            cases[name] = []
    for lines in cases.values():
        assert lines[0].endswith("uc_flags 0x7, 64-byte aligned fpstate 1, magic1 1, extended_size = xstate_size + 4 1, "
                                 "xfeatures has x87 SSE AVX 1, magic2 1")
        assert "starts with ymm0-15 zero 1" in lines[1]
    regs = lambda state: " ".join(f"ymm{i} {state(i)}" for i in range(16))    # noqa: E731
    assert cases["keep"][-1] == "after return: " + regs(lambda i: "kept/kept")
    assert cases["change ymm3 and xmm4"][-1] == "after return: " + regs(
        lambda i: {3: "kept/0x33", 4: "0x44/kept"}.get(i, "kept/kept"))
    for name in ("clear XSTATE_BV.AVX", "bad magic1", "bad magic2"):
        assert cases[name][-1] == "after return: " + regs(lambda i: "kept/zero"), name
    assert cases["no FP area"][-1] == "after return: " + regs(lambda i: "zero/zero")
    assert cases["reserved header bits"][-1] == "rt_sigreturn failed: sig 11 code 0x80"
    if "avx512" in cases:
        assert cases["avx512"][1:] == ["handler: zmm16 in frame 1, k1 in frame 1, starts with ymm0-15 zero 1",
                                       "after return: zmm16 kept, k1 kept"]


@needs_kvm
def test_minsigstksz_holds_a_frame(emu):
    """AT_MINSIGSTKSZ follows the XSAVE size (linux/x86_64/signal_frame.frame_size):
    a frame, its FP area and their alignment fit, whatever the CPU's state components."""
    from tcgpy.linux.x86_64 import signal_frame as F
    need = F.FRAME_SIZE + len(F.fpstate_image(emu)) + 63 + 15
    assert need <= F.frame_size(emu) <= need + 16 + F.FSAVE_HEADER
    assert F.frame_size(emu) % 16 == 0


def test_xsave_layout_and_xrstor_checks():
    """The XSAVE area's layout from CPUID leaf 0xD, and the images XRSTOR refuses
    (no KVM needed: tcgpy/accel/kvm/xstate.py on a buffer)."""
    from tcgpy.accel.kvm import xstate as X
    cpuid = {(0xD, 0): (0x2E7, 0xA88, 0xA88, 0), (0xD, 2): (256, 576, 0, 0), (0xD, 5): (64, 832, 0, 0),
             (0xD, 6): (512, 896, 0, 0), (0xD, 7): (1024, 1408, 0, 0), (0xD, 9): (8, 2432, 0, 0)}
    layout = X.layout_from_cpuid(cpuid)
    assert layout.features == 0xE7          # PKRU (bit 9) is not enabled
    assert layout.size == 2432 and [c[0] for c in layout.components] == [2, 5, 6, 7]
    assert X.layout_from_cpuid({}).features == 0
    area = bytearray(4096)
    area[X.MXCSR_MASK_OFF:X.MXCSR_MASK_OFF + 4] = (0xFFFF).to_bytes(4, "little")
    X.init_state(area, layout)
    img = bytearray(X.user_image(area, layout))
    assert len(img) == 2432 and img[X.XSTATE_BV] == X.XSTATE_X87_SSE and img[0:2] == b"\x7f\x03"
    img[576:592] = b"\x11" * 16                                        # ymm0's upper half
    img[X.XSTATE_BV] |= X.AVX
    X.load_image(area, bytes(img), layout.features, layout)
    assert area[576:592] == b"\x11" * 16 and area[X.XSTATE_BV] & X.AVX
    X.load_image(area, bytes(img), X.XSTATE_X87_SSE, layout)            # AVX not named: initial state
    assert area[576:592] == bytes(16) and not area[X.XSTATE_BV] & X.AVX
    for offset, value in ((24, 0x10000), (X.XSTATE_BV, 1 << 9), (X.XSTATE_BV + 20, 1)):
        bad = bytearray(img)
        bad[offset:offset + 4] = (int.from_bytes(bad[offset:offset + 4], "little") | value).to_bytes(4, "little")
        with pytest.raises(X.BadXstate):
            X.load_image(area, bytes(bad), layout.features, layout)


@needs_kvm
def test_guest_finds_nothing_of_the_vm():
    """A scan of the address space finds what /proc/self/maps lists and
    nothing else (the kernel pages, page tables), and memory mapped at the
    virtual addresses where the VM's own pages are in guest-physical space
    is the guest's: filled with 0xff, the machine runs on (syscalls, faults,
    a second vCPU, fork); sgdt and sidt tell Linux's made-up answers with UMIP
    (accel/kvm/umip.py), kernel addresses without.  What Linux gives,
    independently of the native run."""
    res, _ = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", str(BIN / "x86_hostile")])
    umip = " umip " in " ".join(line for line in open("/proc/cpuinfo") if line.startswith("flags")) + " "
    tables = ("gdt limit 0 base linux-dummy, idt limit 0 base linux-dummy" if umip
              else "gdt limit nonzero base kernel-address, idt limit nonzero base kernel-address")
    assert res.stdout.decode().splitlines() == [
        "scan: over 2000 probes, 0 disagree with /proc/self/maps",
        "gpa: 5 of 5 mapped, 5 filled, contents kept 1; then: getppid ok, new page 0x600d, "
        "write after mprotect sig 11, thread 1275, child exit 3",
        f"tables: {tables}, msw 0x80050033 0x33, str 0x40 0x40, sldt 0",
        "tables: sgdt to a read-only page: signal 11"], res.stderr
    assert res.returncode == 0


HOST_PROGRAMS = [
    pytest.param("sh", ["/bin/sh", "-c", "echo start; for i in 1 2 3; do echo $i; done | wc -l; "
                             "x=$(echo sub); echo $x; (exit 3); echo status $?; ls / >/dev/null && echo ls"],
                 id="sh"),
    pytest.param("python3-threads", ["/usr/bin/python3", "-c",
                         "import threading\nout=[]\n"
                         "ts=[threading.Thread(target=lambda i=i: out.append(sum(range(i*10000)))) "
                         "for i in range(4)]\n[t.start() for t in ts]\n[t.join() for t in ts]\n"
                         "print(sorted(out)); import os; print(os.uname().machine)"],
                 id="python3-threads"),
    # subprocess from threads: each a vfork (CLONE_VM) whose child closes every
    # descriptor but its own, while the other threads run on their vCPUs
    pytest.param("python3-subprocess-threads", ["/usr/bin/python3", "-c",
                         "import threading, subprocess\nout=[]\n"
                         "def run(i): out.append(subprocess.run(['/bin/echo', str(i)], capture_output=True,"
                         " text=True).stdout)\n"
                         "ts=[threading.Thread(target=run, args=(i,)) for i in range(4)]\n"
                         "[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(out))"],
                 id="python3-subprocess-threads"),
    # execve from a thread that is not the main one (its own host thread)
    pytest.param("python3-exec-in-thread", ["/usr/bin/python3", "-c",
                         "import threading, os, time\n"
                         "threading.Thread(target=lambda: os.execv('/bin/echo', ['echo', 'exec'])).start()\n"
                         "time.sleep(30)"],
                 id="python3-exec-in-thread"),
    # the engine's descriptors (/dev/kvm, the VM, vCPUs) are not the guest's
    pytest.param("ls-fds", ["/bin/ls", "/proc/self/fd"], id="ls-fds"),
]


@needs_kvm
@pytest.mark.parametrize("name,cmd", HOST_PROGRAMS)
def test_host_program_matches_native(name, cmd):
    if not os.path.exists(cmd[0]):
        pytest.skip(f"no {cmd[0]} on this host")
    native, _ = _run_in_fresh_dir(cmd)
    kvm, _ = _run_in_fresh_dir([sys.executable, "-m", "tcgpy", "run", *cmd])
    assert (kvm.stdout, kvm.stderr, kvm.returncode) == (native.stdout, native.stderr, native.returncode)


def test_both_engines_implement_the_interface():
    from tcgpy import Emulator
    from tcgpy.accel.engine import Engine
    assert isinstance(Emulator("aarch64"), Engine)
    if KVM_PROBLEM:
        pytest.skip(f"KVM cannot run here: {KVM_PROBLEM}")
    assert isinstance(Emulator("x86_64"), Engine)


def test_truncated_x86_64_program_is_one_line(tmp_path):
    data = (BIN / "libc_hello_static").read_bytes()
    for n in (100, 3000):
        bad = tmp_path / f"trunc{n}"
        bad.write_bytes(data[:n])
        bad.chmod(0o755)
        res = _tcgpy_run(str(bad))
        assert res.returncode == 1
        assert res.stderr.count(b"\n") == 1 and res.stderr.startswith(b"tcgpy: "), res.stderr


def test_kvm_bench_smoke_reports_every_loop():
    """`tcgpy bench --kvm --smoke`: the table's structure (times are not asserted)."""
    import json
    r = subprocess.run([sys.executable, "-m", "tcgpy", "bench", "--kvm", "--smoke", "--json"],
                       capture_output=True, timeout=TIMEOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [row["loop"] for row in res["rows"]] == ["getppid", "pipe 4 KiB", "compute"]
    runners = ["native"] + (["kvm"] if not KVM_PROBLEM else []) + (["qemu"] if shutil.which("qemu-x86_64") else [])
    for row in res["rows"]:
        for runner in runners:
            assert row[runner]["wall_us"] >= 0 and row[runner]["cpu_us"] >= 0
    assert ("kvm" in res["skipped"]) == bool(KVM_PROBLEM)
    assert sorted(res["startup"]) == sorted(
        ["static hello"] + (["python3 -c pass"] if os.access("/usr/bin/python3", os.X_OK) else []))
    for by_runner in res["startup"].values():
        assert sorted(by_runner) == sorted(runners)
        assert all(r["wall_s"] > 0 and r["cpu_s"] >= 0 for r in by_runner.values())
    assert sorted(res["threads"]) == sorted(["native"] + (["kvm"] if not KVM_PROBLEM else []))
    for r in res["threads"].values():
        assert r["one_s"] >= 0 and r["two_s"] >= 0 and r["speedup"] >= 0
