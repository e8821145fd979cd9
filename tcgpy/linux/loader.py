"""ELF loading and the initial process stack, as Linux's binfmt_elf does it.

Loads ELF64 little-endian ``ET_EXEC`` and ``ET_DYN`` images (static-PIE, or a
dynamic executable plus the ``PT_INTERP`` interpreter from a sysroot) into an
:class:`AddressSpace` and lays out argc/argv/envp/auxv and the strings above
them exactly in the kernel's order.  Every problem the input file can cause
is a :class:`LoadError` with a one-line message.
"""
from __future__ import annotations

import os
import stat
import struct

from ..record import record
from ..softmmu.memory import MapError
from ..targets import lookup as lookup_target, names as target_names
from .abi import LinuxArch, get_linux_arch
from .memory import PAGE, AddressSpace, page_down, page_up, perms_str

ET_DYN_BASE = 0x5555_5555_4000
MASK64 = (1 << 64) - 1
PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4
PHDR_FMT = struct.Struct("<IIQQQQQQ")   # Elf64_Phdr
# Elf64_Ehdr from e_type on: type, machine, version, entry, phoff, shoff,
# flags, ehsize, phentsize, phnum (read with struct: pyelftools cost every
# run ~25 ms of imports for these ten fields)
EHDR_FMT = struct.Struct("<HHIQQQIHHH")
ET_NAMES = {2: "ET_EXEC", 3: "ET_DYN", 1: "ET_REL", 4: "ET_CORE"}
# e_machine numbers of machines no target emulates, as pyelftools names
# them, for the message that refuses them (the targets' own are in the registry)
OTHER_MACHINES = {3: "EM_386", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64", 22: "EM_S390", 40: "EM_ARM",
                  258: "EM_LOONGARCH"}


class LoadError(Exception):
    """The program cannot be loaded; str() is the one-line reason."""


def printable(text: str) -> str:
    """``text`` for a one-line message: control characters escaped (a path
    from a file may hold anything but NUL)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


@record
class ElfInfo:
    path: str
    arch: LinuxArch
    e_type: str
    entry: int
    phoff: int
    phentsize: int
    phnum: int
    phdrs: list[tuple]          # (type, flags, offset, vaddr, filesz, memsz, align)
    interp: str | None


@record
class LoadedImage:
    bias: int
    entry: int                  # biased program entry (AT_ENTRY)
    phdr: int                   # AT_PHDR
    phent: int
    phnum: int
    end: int                    # highest mapped address of the image
    interp_bias: int = 0        # AT_BASE
    start_pc: int = 0           # where execution begins (interpreter entry if any)
    exec_stack: bool = False
    auxv: bytes = b""           # as /proc/self/auxv shows it


def check_executable(path: str) -> None:
    """execve's permission rule: a program needs search and execute permission
    (for root, any execute bit), and is not a directory."""
    if os.path.exists(path) and (os.path.isdir(path) or not os.access(path, os.X_OK)):
        raise LoadError(f"{path}: Permission denied")


# Longest PT_INTERP path read (the kernel's limit is PATH_MAX).
PATH_MAX = 4096


def read_elf(path: str, expect_arch: LinuxArch | None = None) -> ElfInfo:
    """Parse and validate an ELF file; raises LoadError with a one-line reason.
    Reads the headers only, each within the file's size (segments are read
    when loaded): a device, a FIFO or a lying header cannot make it read or
    allocate without bound."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise LoadError(f"{path}: {e.strerror}") from None
    try:
        return _read_elf(fd, path, expect_arch)
    except OSError as e:
        raise LoadError(f"{path}: {e.strerror}") from None
    finally:
        os.close(fd)


def _read_elf(fd: int, path: str, expect_arch: LinuxArch | None) -> ElfInfo:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise LoadError(f"{path}: not a regular file")       # execve: EACCES
    size = st.st_size
    head = os.pread(fd, 64, 0)
    if head[:4] != b"\x7fELF":
        raise LoadError(f"{path}: not an ELF file")
    if len(head) < 64:
        raise LoadError(f"{path}: truncated ELF header")
    if head[4] != 2 or head[5] != 1:
        raise LoadError(f"{path}: only 64-bit little-endian ELF files are supported")
    e_type_n, e_machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum = \
        EHDR_FMT.unpack_from(head, 16)
    e_type = ET_NAMES.get(e_type_n, e_type_n)
    arch = get_linux_arch(e_machine)
    if arch is None:
        machine = OTHER_MACHINES.get(e_machine)
        name = machine[3:].lower() if machine else f"(e_machine {e_machine})"
        raise LoadError(f"{path}: unsupported guest architecture {name} (tcgpy emulates: {', '.join(target_names())})")
    if expect_arch is not None and arch is not expect_arch:
        raise LoadError(f"{path}: architecture {arch.name} does not match {expect_arch.name}")
    if e_type not in ("ET_EXEC", "ET_DYN"):
        raise LoadError(f"{path}: not an executable (ELF type {e_type})")
    if phentsize != PHDR_FMT.size or phnum == 0 or phoff + phnum * phentsize > size:
        raise LoadError(f"{path}: truncated or malformed program headers")
    table = os.pread(fd, phnum * phentsize, phoff)
    phdrs = []
    interp = None
    for i in range(phnum):
        p_type, p_flags, off, vaddr, _paddr, filesz, memsz, align = PHDR_FMT.unpack_from(table, i * phentsize)
        if p_type == PT_LOAD:
            if filesz and off + filesz > size:
                raise LoadError(f"{path}: truncated (segment {i} extends past the end of the file)")
            if filesz > memsz or (vaddr - off) % PAGE or vaddr + memsz > 1 << 64:
                raise LoadError(f"{path}: malformed segment {i}")
        if p_type == PT_INTERP:
            if off + filesz > size or filesz == 0:
                raise LoadError(f"{path}: truncated PT_INTERP")
            raw = os.pread(fd, min(filesz, PATH_MAX), off)
            name = raw.split(b"\0")[0]
            if not name:
                raise LoadError(f"{path}: PT_INTERP names no interpreter")
            if filesz > PATH_MAX or raw[-1:] != b"\0":
                # Linux's rule (binfmt_elf: the last byte must be the NUL): ENOEXEC
                raise LoadError(f"{path}: invalid PT_INTERP (not a NUL-terminated path)")
            interp = name.decode("utf-8", "replace")
        phdrs.append((p_type, p_flags, off, vaddr, filesz, memsz, align))
    if not any(p[0] == PT_LOAD for p in phdrs):
        raise LoadError(f"{path}: no loadable segments")
    return ElfInfo(path, arch, e_type, entry, phoff, phentsize, phnum, phdrs, interp)


def _load_segments(space: AddressSpace, info: ElfInfo, bias: int) -> int:
    """Map the PT_LOAD segments page-rounded, in order, a later segment's
    pages replacing an earlier one's where they share pages (as the kernel's
    successive mmaps do); copy the file bytes, leave bss zero; returns the
    end.  Works on intervals: a segment's size costs nothing until touched."""
    loads = [p for p in info.phdrs if p[0] == PT_LOAD]
    spans: list[tuple[int, int, str]] = []          # disjoint, in address order
    for _t, flags, _off, vaddr, _fs, memsz, _al in loads:
        lo, hi = page_down(bias + vaddr), page_up(bias + vaddr + memsz)
        perm = perms_str(bool(flags & PF_R), bool(flags & PF_W), bool(flags & PF_X))
        kept = []
        for a, b, p in spans:
            if a < lo:
                kept.append((a, min(b, lo), p))
            if b > hi:
                kept.append((max(a, hi), b, p))
        spans = sorted(kept + [(lo, hi, perm)])
    merged: list[list] = []
    for a, b, p in spans:
        if merged and merged[-1][1] == a and merged[-1][2] == p:
            merged[-1][1] = b
        else:
            merged.append([a, b, p])
    name = os.path.basename(info.path)
    try:
        for a, b, p in merged:
            space.map(a, b - a, p, name)
    except MapError as e:
        raise LoadError(f"{info.path}: {e}") from None
    end = 0
    with open(info.path, "rb") as f:
        for _t, _flags, off, vaddr, filesz, memsz, _al in loads:
            if filesz:
                data = os.pread(f.fileno(), filesz, off)
                if len(data) != filesz:
                    raise LoadError(f"{info.path}: truncated (the file shrank while loading)")
                space.emu.mem_write(bias + vaddr, data)
            end = max(end, bias + vaddr + memsz)
    return end


def _span(info: ElfInfo) -> tuple[int, int]:
    loads = [p for p in info.phdrs if p[0] == PT_LOAD]
    lo = min(page_down(p[3]) for p in loads)
    hi = max(page_up(p[3] + p[5]) for p in loads)
    return lo, hi


def _phdr_addr(info: ElfInfo, bias: int) -> int:
    for p_type, _f, off, vaddr, *_ in info.phdrs:
        if p_type == PT_PHDR:
            return bias + vaddr
    for p_type, _f, off, vaddr, filesz, *_ in info.phdrs:
        if p_type == PT_LOAD and off <= info.phoff < off + filesz:
            return bias + vaddr + (info.phoff - off)
    return 0


def load_program(space: AddressSpace, info: ElfInfo, sysroot: str | None) -> LoadedImage:
    """Map the program (and its interpreter, if dynamic) and set up brk."""
    lo, hi = _span(info)
    bias = 0
    if info.e_type == "ET_DYN":
        bias = ET_DYN_BASE - lo
    if not space.is_free(bias + lo, bias + hi) or bias + hi > space.LIMIT:
        raise LoadError(f"{info.path}: segments overlap the emulator's reserved address range")
    end = _load_segments(space, info, bias)
    img = LoadedImage(bias=bias, entry=(info.entry + bias) & MASK64, phdr=_phdr_addr(info, bias),
                      phent=info.phentsize, phnum=info.phnum, end=end)
    img.exec_stack = any(p[0] == PT_GNU_STACK and p[1] & PF_X for p in info.phdrs)
    img.start_pc = img.entry
    if info.interp:
        if not sysroot:
            # As qemu-user without -L: the interpreter of this file system,
            # when it has one (a foreign chroot, a multiarch host).
            if not os.path.exists(info.interp):
                raise LoadError(f"{info.path}: dynamically linked (interpreter {printable(info.interp)}); "
                                f"pass -L SYSROOT, e.g. -L /usr/{lookup_target(info.arch.name).gnu_triplet}")
            sysroot = "/"
        ipath = os.path.join(sysroot, info.interp.lstrip("/"))
        interp = read_elf(ipath, info.arch)
        if interp.interp:
            raise LoadError(f"{ipath}: the interpreter itself asks for an interpreter")
        ilo, ihi = _span(interp)
        ibase = space.find_free(ihi - ilo)
        if ibase is None:
            raise LoadError(f"{ipath}: no room for the interpreter")
        ibias = (ibase - ilo) if interp.e_type == "ET_DYN" else 0
        _load_segments(space, interp, ibias)
        img.interp_bias = ibias
        img.start_pc = (interp.entry + ibias) & MASK64
    space.set_brk_start(end)
    return img


def build_stack(space: AddressSpace, arch: LinuxArch, img: LoadedImage, argv: list[bytes],
                envp: list[bytes], execfn: bytes, random16: bytes | None = None,
                features: tuple[str, ...] | None = None) -> int:
    """Map the stack and write the initial process stack; returns sp.
    ``features``: the CPU model's, for AT_HWCAP (default: all implemented)."""
    top = space.STACK_TOP
    space.map(top - space.STACK_SIZE, space.STACK_SIZE, "rwx" if img.exec_stack else "rw", "[stack]")
    emu = space.emu
    p = top - 8                                  # the kernel leaves one NULL word at the very top

    def push_bytes(b: bytes) -> int:
        nonlocal p
        p -= len(b)
        emu.mem_write(p, b)
        return p

    execfn_addr = push_bytes(execfn + b"\0")
    env_addrs = [push_bytes(e + b"\0") for e in reversed(envp)][::-1]
    arg_addrs = [push_bytes(a + b"\0") for a in reversed(argv)][::-1]
    p &= ~15
    platform_addr = push_bytes(arch.platform.encode() + b"\0") if arch.platform else 0
    p &= ~15
    random_addr = push_bytes(random16 if random16 is not None else os.urandom(16))
    hwcap, hwcap2 = arch.hwcaps() if features is None else arch.hwcaps(features)
    a = arch.consts.AUXV
    auxv = [
        (a["AT_MINSIGSTKSZ"], arch.minsigstksz if arch.frame_size is None else arch.frame_size(emu)),
        (a["AT_HWCAP"], hwcap),
        (a["AT_PAGESZ"], PAGE),
        (a["AT_CLKTCK"], 100),
        (a["AT_PHDR"], img.phdr),
        (a["AT_PHENT"], img.phent),
        (a["AT_PHNUM"], img.phnum),
        (a["AT_BASE"], img.interp_bias),
        (a["AT_FLAGS"], 0),
        (a["AT_ENTRY"], img.entry),
        (a["AT_UID"], os.getuid()),
        (a["AT_EUID"], os.geteuid()),
        (a["AT_GID"], os.getgid()),
        (a["AT_EGID"], os.getegid()),
        (a["AT_SECURE"], 0),
        (a["AT_RANDOM"], random_addr),
        (a["AT_HWCAP2"], hwcap2),
        (a["AT_EXECFN"], execfn_addr),
        *(((a["AT_PLATFORM"], platform_addr),) if arch.platform else ()),
        (a["AT_NULL"], 0),
    ]
    words = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    for k, v in auxv:
        words += [k, v]
    sp = (p - 8 * len(words)) & ~15
    emu.mem_write(sp, struct.pack(f"<{len(words)}Q", *words))
    img.auxv = struct.pack(f"<{2 * len(auxv)}Q", *(x for kv in auxv for x in kv))
    return sp
