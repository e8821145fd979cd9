"""``tcgpy run`` as a user meets it: options, logs, and one-line errors."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = "tests/guest/bin"


def tcgpy(*args: str, stdin: bytes = b"", env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "tcgpy", *args], input=stdin, capture_output=True,
                          cwd=ROOT, env=e, timeout=120)


def test_help_documents_every_option():
    res = tcgpy("run", "--help")
    assert res.returncode == 0
    for opt in ("-strace", "-d ITEMS", "-D FILE", "-E VAR=VALUE", "-U VAR", "-0 ARGV0", "-L PATH",
                "--stats", "in_asm", "op_opt", "out_asm", "exec", "cpu"):
        assert opt in res.stdout.decode(), opt


@pytest.mark.parametrize("content,message", [
    (b"hello\n", "not an ELF file"),
    (b"\x7fELF\x02\x01\x01\x00", "truncated ELF header"),
])
def test_bad_program_is_one_line_error(tmp_path, content, message):
    p = tmp_path / "prog"
    p.write_bytes(content)
    p.chmod(0o755)
    res = tcgpy("run", str(p))
    assert res.returncode == 1
    err = res.stderr.decode()
    assert err.count("\n") == 1 and message in err and err.startswith("tcgpy: ")


def test_missing_program():
    res = tcgpy("run", "/nonexistent/prog")
    assert res.returncode == 1 and "No such file" in res.stderr.decode()


def test_wrong_architecture_is_named():
    # x86_64 programs run under KVM (tests/test_kvm.py); TCG has no x86_64 frontend.
    res = tcgpy("run", "--accel", "tcg", sys.executable)
    assert res.returncode == 1
    err = res.stderr.decode()
    assert err.count("\n") == 1 and "no TCG frontend for x86_64" in err


def test_dynamic_without_sysroot_says_to_pass_L():
    res = tcgpy("run", f"{BIN}/libc_hello_dyn")
    assert res.returncode == 1
    err = res.stderr.decode()
    assert err.count("\n") == 1 and "-L" in err and "ld-linux-aarch64.so.1" in err


def test_strace_names_calls_and_unknown_syscalls(tmp_path):
    res = tcgpy("run", "-strace", f"{BIN}/fs_misc", "0", stdin=b"")
    err = res.stderr.decode()
    assert res.returncode == 0
    assert 'uname(' in err and "exit_group(0)" in err
    # syscall 4000 does not exist: ENOSYS, and strace says so by name.
    assert "syscall_4000(...) [unimplemented] = -1 errno=38 (ENOSYS)" in err


def test_strace_and_d_go_to_D_file(tmp_path):
    log = tmp_path / "log.txt"
    res = tcgpy("run", "-strace", "-d", "in_asm,op,op_opt", "-D", str(log), f"{BIN}/asm_hello")
    assert res.stdout == b"hello from aarch64\n" and res.stderr == b""
    text = log.read_text()
    assert "IN: " in text and "svc" in text and "OP:" in text and "OP after optimization" in text
    assert 'write(1,"hello from aarch64\\n",19) = 19' in text


def test_close_range_leaves_the_D_log_open(tmp_path):
    # libc_events ends with close_range(40, ~0U): the -D log (a descriptor
    # above 200) is tcgpy's, not the guest's, and the trace goes on.
    log = tmp_path / "log.txt"
    res = tcgpy("run", "-strace", "-D", str(log), f"{BIN}/libc_events", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert b"close_range with first > last: -1 Invalid argument" in res.stdout
    text = log.read_text()
    assert "close_range(40,4294967295,0x0) = 0" in text and "exit_group(0)" in text


def test_environment_options():
    res = tcgpy("run", "-U", "TCGPY_TEST_GONE", "-E", "TCGPY_TEST_NEW=v,TCGPY_TEST_TWO=w",
                f"{BIN}/fs_args", env={"TCGPY_TEST_GONE": "1"})
    out = res.stdout.decode()
    assert "env TCGPY_TEST_NEW=v\n" in out and "env TCGPY_TEST_TWO=w\n" in out
    assert "TCGPY_TEST_GONE" not in out


def test_stats():
    res = tcgpy("run", "--stats", f"{BIN}/asm_hello")
    assert res.returncode == 0 and b"blocks_translated" in res.stderr
    assert b"tlb_refills_native" in res.stderr and b"python_calls" in res.stderr


def test_unknown_d_item():
    res = tcgpy("run", "-d", "nonsense", f"{BIN}/asm_hello")
    assert res.returncode == 1 and b"unknown -d item" in res.stderr


def test_proc_self_maps_and_auxv_describe_the_guest():
    maps = tcgpy("run", f"{BIN}/fs_cat", "/proc/self/maps").stdout.decode()
    assert "[stack]" in maps and "fs_cat" in maps and "python" not in maps
    auxv = tcgpy("run", f"{BIN}/fs_cat", "/proc/self/auxv").stdout
    assert len(auxv) % 16 == 0 and auxv[-16:] == bytes(16)
    cpuinfo = tcgpy("run", f"{BIN}/fs_cat", "/proc/cpuinfo").stdout.decode()
    assert "Features" in cpuinfo


def test_strace_shows_signal_delivery():
    err = tcgpy("run", "-strace", f"{BIN}/fs_mem").stderr.decode()
    assert "--- SIGSEGV {si_signo=SIGSEGV, si_code=2, si_addr=0x" in err     # SEGV_ACCERR
    assert "--- SIGSEGV {si_signo=SIGSEGV, si_code=1, si_addr=0x" in err     # SEGV_MAPERR


def test_terminal_ioctls_on_a_pty():
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        e = {**os.environ, "PYTHONPATH": str(ROOT)}
        res = subprocess.run([sys.executable, "-m", "tcgpy", "run", f"{BIN}/fs_tty"], stdin=slave,
                             capture_output=True, cwd=ROOT, env=e, timeout=120)
    finally:
        os.close(master)
        os.close(slave)
    assert res.stdout.decode() == ("tcgets=0\ntcsets=0\ntiocgwinsz=0\nrows=30\ncols=100\n"
                                   "tiocgpgrp_ok=1\nunknown_ioctl_enotty=1\n"), res.stderr


def test_sigpipe_kills_a_writer_to_a_closed_pipe():
    import signal
    r, w = os.pipe()
    os.close(r)
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "tcgpy", "run", f"{BIN}/asm_hello"], stdout=w,
                         stderr=subprocess.PIPE, cwd=ROOT, env=e, timeout=120)
    os.close(w)
    assert res.returncode == -signal.SIGPIPE and res.stderr == b""


def test_every_d_item_logs_something(tmp_path):
    log = tmp_path / "d.txt"
    res = tcgpy("run", "-d", "in_asm,op,op_opt,out_asm,exec,cpu", "-D", str(log), f"{BIN}/asm_hello")
    assert res.returncode == 0 and res.stdout == b"hello from aarch64\n", res.stderr
    text = log.read_text()
    for marker in ("IN: ", "OP:", "OP after optimization", "OUT: [LLVM IR]", "X0=", "PC="):
        assert marker in text, marker


def test_first_guest_descriptor_is_3(tmp_path):
    """tcgpy's own descriptors (signal watcher, shared file mappings) must not
    take the numbers a guest expects from its first open, as after a kernel's
    execve with 0-2 open."""
    res = tcgpy("run", "-strace", f"{BIN}/fs_files", str(tmp_path))
    first = next(line for line in res.stderr.decode().splitlines() if " openat(" in line)
    assert first.endswith(" = 3"), first


# -- rough edges a new user hit (issue 17) --------------------------------------------

def test_no_program_names_only_PROG():
    res = tcgpy("run")
    err = res.stderr.decode()
    assert res.returncode == 2 and "required: PROG" in err and "ARGS" not in err.splitlines()[-1]


def test_guest_environment_is_exactly_the_given_one():
    # With no locale variables Python's start-up coerces LC_CTYPE=C.UTF-8 into
    # its own environment (PEP 538); the guest sees only what tcgpy was given.
    bare = {"PYTHONPATH": str(ROOT), "TCGPY_CACHE": "0"}
    res = subprocess.run([sys.executable, "-m", "tcgpy", "run", "-E", "A=1", "-U", "TCGPY_CACHE",
                          f"{BIN}/fs_env"], capture_output=True, cwd=ROOT, env=bare, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.decode().splitlines()) == ["A=1", f"PYTHONPATH={ROOT}"]


def _closing(fd: int):
    return lambda: os.close(fd)


@pytest.mark.parametrize("fd,how,status", [(1, "", 0), (2, "", 0), (1, "segv", -11), (2, "segv", -11)])
def test_closed_stdout_or_stderr_gives_the_guest_status(fd, how, status):
    # as `tcgpy run prog >&-` / `2>&-`: qemu gives the guest's own status
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "tcgpy", "run", f"{BIN}/fs_die", how], capture_output=True,
                         cwd=ROOT, env=e, timeout=120, preexec_fn=_closing(fd))
    assert res.returncode == status, res.stderr
    if fd == 1:
        assert b"internal error" not in res.stderr


def _wait_for_mapping(pid: int, name: str) -> None:
    for _ in range(6000):
        with open(f"/proc/{pid}/maps") as f:
            if name in f.read():
                return
        time.sleep(0.01)
    raise AssertionError(f"{name} never mapped")


def test_ctrl_c_during_start_up_is_a_plain_sigint():
    # SIGINT lands while tcgpy is still importing: llvmlite's library is
    # mapped as the JIT is imported, before the guest is loaded.  (A Ctrl-C at
    # any later time also ends tcgpy by SIGINT: fs_spin leaves it at default.)
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "tcgpy", "run", f"{BIN}/fs_spin", "wait"], cwd=ROOT, env=e,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_mapping(p.pid, "llvmlite")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == -signal.SIGINT and b"Traceback" not in err, err


def test_strace_to_a_closed_pipe_dies_of_sigpipe():
    # `tcgpy run -strace prog 2>&1 >/dev/null | head -2`: qemu dies of SIGPIPE.
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "tcgpy", "run", "-strace", f"{BIN}/fs_cat", "/dev/zero"],
                         cwd=ROOT, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.stderr.readline()
    p.stderr.readline()
    p.stderr.close()
    assert p.wait(timeout=120) == -signal.SIGPIPE


def test_program_without_execute_permission_is_refused(tmp_path):
    prog = tmp_path / "hello"
    prog.write_bytes((ROOT / BIN / "asm_hello").read_bytes())
    prog.chmod(0o644)
    res = tcgpy("run", str(prog))
    assert res.returncode == 1 and res.stdout == b""
    assert res.stderr.decode() == f"tcgpy: {prog}: Permission denied\n"


# -- qemu-user flags (issue 17) -------------------------------------------------------

def test_version_both_spellings():
    for args in (["--version"], ["run", "-version"]):
        res = tcgpy(*args)
        assert res.returncode == 0 and res.stdout.decode().startswith("tcgpy 0.1.0"), args


@pytest.mark.parametrize("flag", ["-B", "-R", "-p", "-plugin"])
def test_unsupported_qemu_flag_is_named(flag):
    res = tcgpy("run", flag, "0x10000", f"{BIN}/asm_hello")
    assert res.returncode == 1 and res.stdout == b""
    assert res.stderr.decode() == (f"tcgpy: run: qemu option {flag} is not supported by tcgpy "
                                   "(see tcgpy run --help)\n")


@pytest.mark.parametrize("how,env", [(["-s", "1M"], {}), ([], {"QEMU_STACK_SIZE": "1048576"}),
                                     ([], {"TCGPY_STACK_SIZE": "1024k"})])
def test_stack_size(how, env):
    res = tcgpy("run", *how, f"{BIN}/fs_cat", "/proc/self/maps", env=env)
    [line] = [ln for ln in res.stdout.decode().splitlines() if ln.endswith("[stack]")]
    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
    assert hi - lo == 1 << 20


def test_one_insn_per_tb():
    res = tcgpy("run", "-one-insn-per-tb", "-d", "in_asm", f"{BIN}/asm_hello")
    assert res.returncode == 0 and res.stdout == b"hello from aarch64\n"
    blocks = res.stderr.decode().split("IN: ")[1:]
    assert len(blocks) > 3 and all(b.count("\n0x") == 1 for b in blocks)


def test_dfilter_limits_block_logs_to_its_ranges(tmp_path):
    everything, filtered = tmp_path / "all.log", tmp_path / "filtered.log"
    assert tcgpy("run", "--no-cache", "-d", "in_asm", "-D", str(everything), f"{BIN}/fs_args").returncode == 0
    starts = [int(line.split(":")[0], 16) for line in everything.read_text().splitlines()
              if line.startswith("0x")]
    lo = min(starts)
    # START+SIZE, END-SIZE and START..END name the same 0x200 bytes
    for spec in (f"{lo:#x}+0x200", f"{lo + 0x1ff:#x}-0x200", f"{lo:#x}..{lo + 0x1ff:#x}"):
        res = tcgpy("run", "--no-cache", "-d", "in_asm", "-dfilter", spec, "-D", str(filtered), f"{BIN}/fs_args")
        assert res.returncode == 0, res.stderr
        blocks = [b for b in filtered.read_text().split("IN: ")[1:]]
        firsts = [int(b.split(":")[0], 16) for b in blocks]
        assert firsts and all(lo <= pc < lo + 0x200 for pc in firsts), spec
        assert len(firsts) < everything.read_text().count("IN: ")
    res = tcgpy("run", "-dfilter", "0x1000", f"{BIN}/fs_args")
    assert res.returncode == 1 and res.stderr.count(b"\n") == 1 and b"-dfilter" in res.stderr


def test_d_page_int_unimp(tmp_path):
    log = tmp_path / "d.log"
    res = tcgpy("run", "-d", "page,int,unimp", "-D", str(log), f"{BIN}/fs_signals")
    assert res.returncode == 0, res.stderr
    text = log.read_text()
    assert "page layout changed following binary load" in text
    assert " rx  fs_signals\n" in text and " rw  [stack]\n" in text and "\nentry       0x" in text
    assert "signal 10 (SIGUSR1) code 0 " in text and ": handler 0x" in text
    # the undefined instruction fs_signals runs, then the SIGILL it raises
    assert "undefined instruction 0x00000000 at pc 0x" in text
    assert "signal 4 (SIGILL) code 1 " in text and "(synchronous)" in text


def test_d_unimp_and_guest_errors_name_the_syscall():
    import io

    from tcgpy import Emulator
    from tcgpy.linux.aarch64 import LINUX_ARCH
    from tcgpy.linux.process import LinuxProcess, Options
    log = io.StringIO()
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options(log=log, log_items=frozenset({"unimp", "guest_errors"})))
    proc.load(str(ROOT / BIN / "fs_args"), [b"fs_args"], [])
    emu.reg_write("x8", 999)
    proc.on_syscall(emu)
    assert emu.reg_read("x0") == (-38) & (2**64 - 1)          # ENOSYS
    emu.reg_write("x8", LINUX_ARCH.nr("write"))
    for reg, value in (("x0", 1), ("x1", 0x10), ("x2", 5)):
        emu.reg_write(reg, value)
    proc.on_syscall(emu)
    assert emu.reg_read("x0") == (-14) & (2**64 - 1)          # EFAULT
    assert log.getvalue() == ("Unsupported syscall: 999 (syscall_999)\n"
                              "write: bad address 0x10 (read): EFAULT\n")
