"""The ELF loader and the initial stack, checked word by word in guest
memory (no guest code runs), plus the declared guest ABI data."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tcgpy import Emulator
from tcgpy.linux.aarch64 import LINUX_ARCH, aarch64_hwcaps, kernel_consts, signal_frame
from tcgpy.linux.loader import LoadError, read_elf
from tcgpy.linux.memory import PAGE
from tcgpy.linux.process import LinuxProcess, Options
from tcgpy.linux.syscalls import TABLE

BIN = Path(__file__).resolve().parent / "guest" / "bin"
AT = kernel_consts.AUXV


def load(name: str, argv: list[bytes], envp: list[bytes]):
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options())
    proc.load(str(BIN / name), argv, envp, execfn=b"/some/path/" + name.encode())
    return emu, proc


def u64(emu, addr):
    return struct.unpack("<Q", emu.mem_read(addr, 8))[0]


def cstr(emu, addr):
    out = b""
    while (c := emu.mem_read(addr + len(out), 1)) != b"\0":
        out += c
    return out


def parse_stack(emu):
    sp = emu.reg_read("sp")
    argc = u64(emu, sp)
    argv = [u64(emu, sp + 8 * (1 + i)) for i in range(argc)]
    assert u64(emu, sp + 8 * (1 + argc)) == 0
    p = sp + 8 * (2 + argc)
    envp = []
    while (v := u64(emu, p)) != 0:
        envp.append(v)
        p += 8
    p += 8
    auxv = []
    while True:
        k, v = u64(emu, p), u64(emu, p + 8)
        auxv.append((k, v))
        p += 16
        if k == 0:
            break
    return sp, argv, envp, auxv


def test_stack_layout_static():
    emu, proc = load("fs_args", [b"prog", b"a b", b""], [b"A=1", b"B="])
    sp, argv, envp, auxv = parse_stack(emu)
    assert sp % 16 == 0
    assert [cstr(emu, a) for a in argv] == [b"prog", b"a b", b""]
    assert [cstr(emu, e) for e in envp] == [b"A=1", b"B="]
    # The kernel's string order: argv strings, then envp strings, then execfn, ascending.
    assert argv[0] < argv[1] < argv[2] < envp[0] < envp[1]
    aux = dict(auxv)
    assert [k for k, _ in auxv][-1] == AT["AT_NULL"]
    info = read_elf(str(BIN / "fs_args"))
    assert aux[AT["AT_ENTRY"]] == info.entry == emu.reg_read("pc")
    assert aux[AT["AT_PAGESZ"]] == PAGE
    assert aux[AT["AT_PHENT"]] == 56 and aux[AT["AT_PHNUM"]] == info.phnum
    assert emu.mem_read(aux[AT["AT_PHDR"]], 56) == (BIN / "fs_args").read_bytes()[info.phoff:info.phoff + 56]
    assert aux[AT["AT_BASE"]] == 0 and aux[AT["AT_FLAGS"]] == 0 and aux[AT["AT_SECURE"]] == 0
    assert cstr(emu, aux[AT["AT_PLATFORM"]]) == b"aarch64"
    assert cstr(emu, aux[AT["AT_EXECFN"]]) == b"/some/path/fs_args"
    assert envp[1] < aux[AT["AT_EXECFN"]]
    assert len(emu.mem_read(aux[AT["AT_RANDOM"]], 16)) == 16
    assert (aux[AT["AT_HWCAP"]], aux[AT["AT_HWCAP2"]]) == aarch64_hwcaps()
    assert aux[AT["AT_MINSIGSTKSZ"]] == signal_frame.MINSIGSTKSZ
    assert aux[AT["AT_CLKTCK"]] == 100
    for key in ("AT_UID", "AT_EUID", "AT_GID", "AT_EGID"):
        assert key and AT[key] in aux


def test_static_pie_is_relocated():
    emu, proc = load("fs_args_pie", [b"p"], [])
    info = read_elf(str(BIN / "fs_args_pie"))
    assert info.e_type == "ET_DYN" and info.interp is None
    _, _, _, auxv = parse_stack(emu)
    aux = dict(auxv)
    bias = aux[AT["AT_ENTRY"]] - info.entry
    assert bias > 0 and bias % PAGE == 0
    assert emu.mem_read(aux[AT["AT_PHDR"]], 56) == (BIN / "fs_args_pie").read_bytes()[info.phoff:info.phoff + 56]


def test_segments_permissions_and_brk():
    emu, proc = load("fs_mem", [b"x"], [])
    info = read_elf(str(BIN / "fs_mem"))
    regions = emu.mem_regions()
    for p_type, flags, off, vaddr, filesz, memsz, _ in info.phdrs:
        if p_type != 1:
            continue
        assert emu.mem_read(vaddr, filesz) == (BIN / "fs_mem").read_bytes()[off:off + filesz]
        assert emu.mem_read(vaddr + filesz, memsz - filesz) == bytes(memsz - filesz)   # bss zeroed
        perms = next(p for s, e, p in regions if s <= vaddr < e)
        assert ("x" in perms) == bool(flags & 1) and ("r" in perms) == bool(flags & 4)
    end = max(v + m for t, _, _, v, _, m, _ in info.phdrs if t == 1)
    assert proc.space.brk == (end + PAGE - 1) & ~(PAGE - 1)


@pytest.mark.parametrize("content,message", [
    (b"", "not an ELF file"),
    (b"#!/bin/sh\necho hi\n", "not an ELF file"),
    (b"\x7fELF\x02\x01\x01", "truncated ELF header"),
    (b"\x7fELF\x01\x01\x01" + bytes(60), "only 64-bit little-endian"),
])
def test_bad_files(tmp_path, content, message):
    p = tmp_path / "bad"
    p.write_bytes(content)
    with pytest.raises(LoadError, match=message):
        read_elf(str(p))


def test_truncated_segment(tmp_path):
    data = (BIN / "fs_args").read_bytes()
    p = tmp_path / "trunc"
    p.write_bytes(data[:len(data) // 3])
    with pytest.raises(LoadError, match="truncated"):
        read_elf(str(p))


def _patched(tmp_path, name: str, patch) -> Path:
    """A copy of guest binary ``name`` with ``patch(bytearray, phdrs)`` applied
    (phdrs: (file offset of the header, its fields) of each program header)."""
    data = bytearray((BIN / name).read_bytes())
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    phdrs = [(phoff + 56 * i, list(struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i)))
             for i in range(phnum)]
    patch(data, phdrs)
    p = tmp_path / f"{name}-patched"
    p.write_bytes(bytes(data))
    p.chmod(0o755)
    return p


def _set_phdr(data, at, fields):
    struct.pack_into("<IIQQQQQQ", data, at, *fields)


def test_devices_and_fifos_are_not_read(tmp_path):
    import os
    for path in ("/dev/zero", "/dev/urandom"):
        with pytest.raises(LoadError, match="not a regular file"):
            read_elf(path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(LoadError, match="not a regular file"):
        read_elf(str(fifo))         # without waiting for a writer


def test_interpreter_on_a_device_is_refused(tmp_path):
    """PT_INTERP resolving to /dev/zero through the sysroot: refused without reading it."""
    root = tmp_path / "root"
    info = read_elf(str(BIN / "libc_hello_dyn"))
    target = root / info.interp.lstrip("/")
    target.parent.mkdir(parents=True)
    target.symlink_to("/dev/zero")
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options(sysroot=str(root)))
    with pytest.raises(LoadError, match="not a regular file"):
        proc.load(str(BIN / "libc_hello_dyn"), [b"x"], [])


def test_interp_of_only_a_nul_byte_is_refused(tmp_path):
    def patch(data, phdrs):
        for at, f in phdrs:
            if f[0] == 3:                       # PT_INTERP
                data[f[2]] = 0
    with pytest.raises(LoadError, match="names no interpreter"):
        read_elf(str(_patched(tmp_path, "libc_hello_dyn", patch)))


def test_a_terabyte_of_bss_is_reserved_not_walked(tmp_path):
    def patch(data, phdrs):
        at, f = [(at, f) for at, f in phdrs if f[0] == 1][-1]      # the data segment
        f[6] = 1 << 40
        _set_phdr(data, at, f)
    path = _patched(tmp_path, "fs_args", patch)
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options())
    proc.load(str(path), [b"x"], [])
    assert sum(e - s for s, e, _ in emu.mem_regions()) >= 1 << 40


def test_overlapping_segments_later_replaces_earlier(tmp_path):
    """A read-write segment over the text's last page leaves that page
    read-write and not executable, as the kernel's second mmap does."""
    def patch(data, phdrs):
        loads = [(at, f) for at, f in phdrs if f[0] == 1]
        (_, text), (at, rw) = loads[0], loads[-1]
        text_end = text[3] + text[5]
        rw[3] = rw[4] = (text_end - 1) & ~(PAGE - 1)            # vaddr, paddr: the text's last page
        rw[2] = rw[3] - text[3] + text[2]                      # file offset congruent with it
        rw[5], rw[6] = 16, PAGE                                  # filesz, memsz
        _set_phdr(data, at, rw)
        return text
    text = []
    path = _patched(tmp_path, "fs_args", lambda d, p: text.append(patch(d, p)))
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options())
    proc.load(str(path), [b"x"], [])
    last = (text[0][3] + text[0][5] - 1) & ~(PAGE - 1)
    perms = {s: p for s, e, p in emu.mem_regions() for s in [s] if s <= last < e}
    assert list(perms.values()) == ["rw-"], emu.mem_regions()


def test_wrong_architecture():
    # An ELF for a machine no target knows (EM_SPARCV9: 43).
    import tempfile
    with open(BIN / "fs_args", "rb") as f:
        data = bytearray(f.read())
    data[18:20] = (43).to_bytes(2, "little")
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(data)
        tmp.flush()
        with pytest.raises(LoadError, match="unsupported guest architecture"):
            read_elf(tmp.name)


def test_x86_64_is_known():
    import sys

    from tcgpy.linux.x86_64 import LINUX_ARCH as X86_64
    assert read_elf(sys.executable).arch is X86_64


def test_dynamic_needs_sysroot():
    emu = Emulator("aarch64")
    proc = LinuxProcess(emu, LINUX_ARCH, Options())
    with pytest.raises(LoadError, match="pass -L SYSROOT"):
        proc.load(str(BIN / "libc_hello_dyn"), [b"x"], [])


# -- declared ABI data -------------------------------------------------------------------

def test_every_registered_syscall_exists_in_the_kernel_table():
    # (a target's own syscalls -- riscv_hwprobe -- are registered when its
    # Linux layer is loaded: every name must be some target's)
    from tcgpy.targets import TARGETS
    known = set().union(*(t.linux_arch.consts.SYSCALLS for t in TARGETS if t.linux))
    missing = sorted(set(TABLE.rows) - known)
    assert not missing, f"handlers registered under names the kernel does not have: {missing}"


def test_strace_formats_match_handler_arity():
    import inspect
    for row in TABLE.rows.values():
        params = list(inspect.signature(row.handler).parameters)[1:]
        assert len(params) == len(row.args), row.name


def test_generic_struct_sizes():
    s = LINUX_ARCH.structs
    # asm-generic / arm64 sizes (x86_64 differs for stat: 144, and epoll_event: 12).
    assert s["stat"].size == 128 and s["stat"].offset("st_size") == 48
    assert s["statx"].size == 256
    assert s["epoll_event"].size == 16
    assert s["sigaction"].size == 32 and s["stack_t"].size == 24
    assert s["utsname"].size == 390 and s["rusage"].size == 144 and s["sysinfo"].size == 112
    assert s["siginfo_fault"].size == 128 and s["siginfo_chld"].size == 128


def test_sigframe_offsets_match_the_kernel():
    # struct ucontext: uc_mcontext at 176; sigcontext.__reserved 16-aligned at 464; 4560 bytes.
    assert signal_frame.UC_MCONTEXT == 176
    assert signal_frame.SC_RESERVED == 176 + 8 + 31 * 8 + 24 + 8
    assert signal_frame.UCONTEXT_SIZE == 4560
    assert signal_frame.FRAME_SIZE == 128 + 4560


def test_guest_open_flags_are_not_the_hosts():
    f = kernel_consts.OPEN_FLAGS
    assert f["O_DIRECTORY"] == 0o40000 and f["O_NOFOLLOW"] == 0o100000 and f["O_DIRECT"] == 0o200000


def test_entry_point_at_the_top_of_the_address_space_faults_in_the_guest(tmp_path):
    import subprocess
    import sys

    def patch(data, phdrs):
        struct.pack_into("<Q", data, 24, (1 << 64) - 1)          # e_entry
    path = _patched(tmp_path, "fs_args_pie", patch)
    res = subprocess.run([sys.executable, "-m", "tcgpy", "run", "--no-cache", str(path)],
                         capture_output=True, timeout=120)
    # the wrapped entry is misaligned: a pc alignment fault, SIGBUS, as under Linux
    assert res.returncode == -7, res.stderr
    assert b"internal error" not in res.stderr and b"Traceback" not in res.stderr


def test_interp_must_be_nul_terminated_and_messages_stay_one_line(tmp_path):
    import subprocess
    import sys

    def unterminated(data, phdrs):
        at, f = next((at, f) for at, f in phdrs if f[0] == 1)       # a PT_LOAD's bytes as the path
        f[0], f[2], f[5] = 3, 0x200, 64                              # 64 bytes of code, past the headers
        _set_phdr(data, at, f)
        data[0x200:0x240] = b"/lib/ld" + b"A" * 57                    # no NUL at its end
    path = _patched(tmp_path, "fs_args", unterminated)
    with pytest.raises(LoadError, match="invalid PT_INTERP"):
        read_elf(str(path))

    def control_chars(data, phdrs):
        at, f = next((at, f) for at, f in phdrs if f[0] == 1)
        f[0], f[2], f[5] = 3, 0x200, 9
        data[0x200:0x209] = b"/x\n\ty\x1b\x7f\xff\0"
        _set_phdr(data, at, f)
    path = _patched(tmp_path, "fs_args", control_chars)
    res = subprocess.run([sys.executable, "-m", "tcgpy", "run", "--no-cache", str(path)], capture_output=True,
                         timeout=120)
    assert res.returncode == 1 and res.stderr.count(b"\n") == 1, res.stderr
    assert b"interpreter /x\\n\\ty\\x1b\\x7f" in res.stderr
