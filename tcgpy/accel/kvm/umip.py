"""User-Mode Instruction Prevention as Linux gives it to 64-bit processes
(arch/x86/kernel/umip.c).

Where the CPU has UMIP the vCPUs run with CR4.UMIP, so ring 3's sgdt, sidt,
smsw, str and sldt raise #GP instead of telling the guest where the VM's
descriptor tables are; like the kernel, tcgpy then gives made-up answers
and moves past the instruction: sgdt/sidt a limit of 0 and a dummy base
(memory operands only), smsw Linux's CR0 value, str the selector of
Linux's TSS, sldt 0 (no LDT).  A register destination gets as many bytes
as the operand size, the rest of the register kept (the kernel copies into
the saved register); a memory destination two bytes.  A destination the
guest cannot write is SIGSEGV with SEGV_MAPERR at its address.

The instruction is decoded with capstone: this is a rare path, taken only
by programs that ask.
"""
from __future__ import annotations

import capstone
from capstone import x86

from ...errors import MemoryFault
from . import machine as M

CPUID_UMIP = 1 << 2                            # CPUID.(7,0):ECX
CR4_UMIP = 1 << 11
DUMMY_BASE = {"sgdt": 0xFFFF_FFFF_FFFE_0000, "sidt": 0xFFFF_FFFF_FFFF_0000}
# Linux's CR0 as smsw shows it (CR0_STATE), and its TSS selector (GDT_ENTRY_TSS * 8);
# tcgpy's VM happens to use the same (machine.py)
CR0_STATE = M.CR0_PE | M.CR0_MP | M.CR0_ET | M.CR0_NE | M.CR0_WP | M.CR0_AM | M.CR0_PG
VALUES = {"smsw": CR0_STATE, "str": 0x40, "sldt": 0}
SEGV_MAPERR = 1
SEGMENT_BASES = {"fs": "fs_base", "gs": "gs_base"}

_decoder = None


def _disassembler():
    global _decoder
    if _decoder is None:
        _decoder = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        _decoder.detail = True
    return _decoder


def _full_register(name: str) -> str:
    """The 64-bit register a capstone register name is part of (eax, r8d, ax -> rax, r8)."""
    if name.startswith("r") and name[1:].rstrip("dwb").isdigit():
        return name.rstrip("dwb")
    base = name.lstrip("er")
    return "r" + base if len(base) == 2 else name


def emulate(emu, rip: int) -> bool:
    """Give the answer Linux gives for the UMIP instruction at ``rip`` and
    move past it; False when it is not one (the #GP stands)."""
    code = b""
    for n in (15, 8, 4):                # the instruction may end just before an unmapped page
        try:
            code = bytes(emu.mem_read(rip, n))
            break
        except MemoryFault:
            continue
    insn = next(_disassembler().disasm(code, rip, 1), None)
    if insn is None or insn.mnemonic not in (*DUMMY_BASE, *VALUES) or len(insn.operands) != 1:
        return False
    op = insn.operands[0]
    if insn.mnemonic in DUMMY_BASE:
        if op.type != x86.X86_OP_MEM:
            return False
        data = (0).to_bytes(2, "little") + DUMMY_BASE[insn.mnemonic].to_bytes(8, "little")
    elif op.type == x86.X86_OP_REG:
        reg = _full_register(insn.reg_name(op.reg))
        mask = (1 << (8 * op.size)) - 1
        emu.reg_write(reg, (emu.reg_read(reg) & ~mask) | (VALUES[insn.mnemonic] & mask))
        emu.reg_write("rip", rip + insn.size)
        return True
    else:
        data = (VALUES[insn.mnemonic] & 0xFFFF).to_bytes(2, "little")
    addr = _address(emu, insn, op.mem, rip + insn.size)
    if not emu.guest_may_write(addr, len(data)):
        exc = MemoryFault(rip, addr, "write")
        exc.linux_signal = ("SIGSEGV", SEGV_MAPERR, addr)
        raise exc
    emu.mem_write(addr, data)
    emu.reg_write("rip", rip + insn.size)
    return True


def _address(emu, insn, mem, next_rip: int) -> int:
    addr = mem.disp
    if mem.base:
        base = insn.reg_name(mem.base)
        addr += next_rip if base == "rip" else emu.reg_read(_full_register(base))
    if mem.index:
        addr += emu.reg_read(_full_register(insn.reg_name(mem.index))) * mem.scale
    if mem.segment and insn.reg_name(mem.segment) in SEGMENT_BASES:
        addr += emu.reg_read(SEGMENT_BASES[insn.reg_name(mem.segment)])
    return addr & ((1 << 64) - 1)
