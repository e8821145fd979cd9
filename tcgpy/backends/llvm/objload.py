"""A loader for the relocatable object code of the persistent cache.

What LLVM wrote for the cache (tcgpy/persist.py, jit.runtime_functions) is
an ELF64 relocatable object for x86-64: sections of code and constants and
relocations against symbols, absolute in the large code model.  Loading it
is copying the allocated sections into fresh memory, resolving the
undefined symbols from a table (this run's addresses of env, jump slots,
helpers...) or, for the C library functions LLVM calls, from the process,
and patching each relocation, then making the memory
executable: a few microseconds of Python per object where MCJIT's
RuntimeDyld, through llvmlite, costs about a millisecond (and a run that
finds all its code in the cache then never imports or initialises LLVM).

Anything outside that small subset (a writable section, a relocation type
not listed, a symbol not in the table, offsets out of bounds) is refused
with ``None``: the caller treats the entry as a miss.
"""
from __future__ import annotations

import ctypes
import mmap
import struct

SHT_SYMTAB, SHT_RELA, SHT_NOBITS = 2, 4, 8
SHF_WRITE, SHF_ALLOC = 0x1, 0x2
SHN_UNDEF, SHN_LORESERVE, SHN_ABS = 0, 0xFF00, 0xFFF1
EM_X86_64 = 62
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
RELA = struct.Struct("<QQq")

# relocation type -> (width in bytes, pc-relative, signed)
R_X86_64 = {1: (8, False, False),      # R_X86_64_64
            2: (4, True, True),        # R_X86_64_PC32
            4: (4, True, True),        # R_X86_64_PLT32 (a call within the object)
            10: (4, False, False),     # R_X86_64_32
            11: (4, False, True),      # R_X86_64_32S
            24: (8, True, True)}       # R_X86_64_PC64

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MAP_FAILED = ctypes.c_void_p(-1).value
_libm = None


def process_symbol(name: str) -> int:
    """A C library function LLVM's code calls (``fma``, ``trunc``, ``memcpy``:
    generic x86-64 has no instruction for them), as the process has it; 0
    for tcgpy's own names, which only the caller's table may resolve."""
    global _libm
    if name.startswith("tcgpy_") or not name.isidentifier():
        return 0
    if _libm is None:
        try:
            _libm = ctypes.CDLL("libm.so.6")
        except OSError:         # not glibc's name: ask (find_library runs ldconfig)
            from ctypes.util import find_library
            _libm = ctypes.CDLL(find_library("m"))
    for lib in (_libc, _libm):
        try:
            return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0
        except AttributeError:
            continue
    return 0


class LoadedCode:
    """Memory holding loaded objects; ``close`` releases all of it."""

    def __init__(self):
        self.maps: list[tuple[int, int]] = []

    def close(self) -> None:
        for addr, size in self.maps:
            _libc.munmap(addr, size)
        self.maps.clear()


def load(obj: bytes, symbols: dict[str, int], owner: LoadedCode) -> dict[str, int] | None:
    """Load ``obj``; returns its defined global symbols' addresses, or None
    when it is not an object this loader takes."""
    try:
        return _load(obj, symbols, owner)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError, OverflowError):
        return None


def _load(obj, symbols, owner):
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        return None
    e_type, e_machine = struct.unpack_from("<HH", obj, 16)
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    if e_type != 1 or e_machine != EM_X86_64 or shentsize != SHDR.size or not 0 < shnum < 1024:
        return None
    shdrs = [SHDR.unpack_from(obj, shoff + i * SHDR.size) for i in range(shnum)]
    # lay the allocated sections out one after another
    place: dict[int, int] = {}
    size = 0
    for i, (_, sh_type, flags, _, off, sz, _, _, align, _) in enumerate(shdrs):
        if not flags & SHF_ALLOC:
            continue
        if flags & SHF_WRITE:
            return None
        if sh_type != SHT_NOBITS and off + sz > len(obj):
            return None
        align = max(align, 1)
        if align & (align - 1) or align > 4096:
            return None
        size = (size + align - 1) & -align
        place[i] = size
        size += sz
    if not place:
        return None
    total = (max(size, 1) + mmap.PAGESIZE - 1) & -mmap.PAGESIZE
    base = _libc.mmap(None, total, mmap.PROT_READ | mmap.PROT_WRITE,
                      mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if base in (None, MAP_FAILED):
        return None
    ok = False
    try:
        # sections straight into the fresh (zeroed) mapping, and relocated
        # there: no staging copy of the image (python3's warm start-up
        # loads 17 MB of objects)
        for i, start in place.items():
            _, sh_type, _, _, off, sz, _, _, _, _ = shdrs[i]
            if sh_type != SHT_NOBITS:
                ctypes.memmove(base + start, obj[off:off + sz], sz)
        addrs, defined = _symbols(obj, shdrs, place, base, symbols)
        # (pack_into through a memoryview: 40% cheaper than through the
        # ctypes array or a bytearray)
        image = memoryview((ctypes.c_char * total).from_address(base)).cast("B")
        if addrs is None or not _relocate(obj, shdrs, place, base, addrs, image):
            return None
        if _libc.mprotect(base, total, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            return None
        ok = True
        owner.maps.append((base, total))
        return defined
    finally:
        if not ok:
            _libc.munmap(base, total)


def _symbols(obj, shdrs, place, base, table):
    """(address of each symbol index, {global defined name: address})."""
    symtabs = [s for s in shdrs if s[1] == SHT_SYMTAB]
    if len(symtabs) != 1:
        return None, None
    _, _, _, _, off, sz, link, _, _, entsize = symtabs[0]
    if entsize != SYM.size or off + sz > len(obj) or link >= len(shdrs):
        return None, None
    str_off, str_size = shdrs[link][4], shdrs[link][5]
    strtab = obj[str_off:str_off + str_size]
    addrs, defined = [], {}
    for s in range(off, off + sz, SYM.size):
        name_off, info, _, shndx, value, _ = SYM.unpack_from(obj, s)
        name = strtab[name_off:strtab.index(b"\0", name_off)].decode() if name_off else ""
        if shndx == SHN_UNDEF:
            if not name:
                addrs.append(0)
                continue
            addr = table.get(name) or process_symbol(name)
            if not addr:
                return None, None
        elif shndx == SHN_ABS:
            addr = value
        elif shndx < SHN_LORESERVE and shndx in place:
            addr = base + place[shndx] + value
            if info >> 4 != 0 and name:          # not STB_LOCAL
                defined[name] = addr
        else:
            addr = 0                            # a section that is not loaded: nothing may refer to it
        addrs.append(addr)
    return addrs, defined


_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _relocate(obj, shdrs, place, base, addrs, image) -> bool:
    n_addrs = len(addrs)
    put64, put32 = _U64.pack_into, _U32.pack_into
    for _, sh_type, _, _, off, sz, _, target, _, entsize in shdrs:
        if sh_type != SHT_RELA or target not in place:
            continue
        if entsize != RELA.size or off + sz > len(obj) or sz % RELA.size:
            return False
        tstart, tsize = place[target], shdrs[target][5]
        last64 = tsize - 8
        for r_offset, r_info, addend in RELA.iter_unpack(obj[off:off + sz]):
            sym = r_info >> 32
            if r_info & 0xFFFFFFFF == 1 and r_offset <= last64 and sym < n_addrs:
                # R_X86_64_64 against a resolved symbol: nearly all of them
                # (python3's warm start-up patches 170,000)
                s = addrs[sym]
                if s:
                    put64(image, tstart + r_offset, (s + addend) & 0xFFFF_FFFF_FFFF_FFFF)
                    continue
            if sym >= n_addrs or r_offset + 8 > tsize + 4:
                return False
            where = tstart + r_offset
            if r_info & 0xFFFFFFFF == 1:                 # (against nothing: the addend alone)
                if sym or r_offset + 8 > tsize:
                    return False
                put64(image, where, addend & 0xFFFF_FFFF_FFFF_FFFF)
                continue
            kind = R_X86_64.get(r_info & 0xFFFFFFFF)
            if kind is None or (sym and not addrs[sym]):
                return False
            width, pcrel, signed = kind
            if r_offset + width > tsize:
                return False
            value = addrs[sym] + addend - (base + where if pcrel else 0)
            if width == 8:
                put64(image, where, value & 0xFFFF_FFFF_FFFF_FFFF)
            else:
                lo, hi = (-(1 << 31), 1 << 31) if signed else (0, 1 << 32)
                if not lo <= value < hi:
                    return False
                put32(image, where, value & 0xFFFF_FFFF)
    return True
