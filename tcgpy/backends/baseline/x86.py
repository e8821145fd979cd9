"""The x86-64 instructions the baseline tier emits, as bytes.

Only the forms emit.py needs: 64-bit register/register and
register/memory operations, memory operands always ``[base + index +
disp32]`` (one encoding, however small the displacement: the code is
short-lived and the emitter's time matters more than its size), and
rel32 branches patched once the block's labels are placed.

Every encoder is memoised: a program's blocks use the same few hundred
forms (the same env fields, stack slots and constants) over and over, and
a dict lookup is a tenth of building the bytes again.
"""
from __future__ import annotations

import functools
import struct

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)

# x86 condition codes (the low nibble of Jcc/SETcc/CMOVcc)
CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A = 0x2, 0x3, 0x4, 0x5, 0x6, 0x7
CC_L, CC_GE, CC_LE, CC_G = 0xC, 0xD, 0xE, 0xF

_pack_i32 = struct.Struct("<i").pack
_pack_u64 = struct.Struct("<Q").pack


def _rex(w: int, r: int, x: int, b: int, force: bool = False) -> bytes:
    v = 0x40 | (w << 3) | ((r >> 3) << 2) | ((x >> 3) << 1) | (b >> 3)
    return bytes((v,)) if v != 0x40 or force else b""


def _mem(reg: int, base: int, disp: int, index: int | None = None) -> tuple[int, int, bytes]:
    """(REX.X bit source, REX.B bit source, ModRM + SIB + disp32) of
    ``[base + index + disp]`` with ``reg`` in ModRM.reg."""
    r = (reg & 7) << 3
    if index is None:
        if base & 7 == RSP:            # rsp and r12 need a SIB byte
            return 0, base, bytes((0x80 | r | 4, 0x24)) + _pack_i32(disp)
        return 0, base, bytes((0x80 | r | (base & 7),)) + _pack_i32(disp)
    return index, base, bytes((0x80 | r | 4, ((index & 7) << 3) | (base & 7))) + _pack_i32(disp)


@functools.cache
def rm_op(opcode: bytes, reg: int, base: int, disp: int, w: int = 1, index: int | None = None,
          prefix: bytes = b"", byte_reg: bool = False) -> bytes:
    """``opcode`` with a register and a memory operand."""
    x, b, tail = _mem(reg, base, disp, index)
    return prefix + _rex(w, reg, x or 0, b, force=byte_reg and reg >= 4) + opcode + tail


@functools.cache
def rr_op(opcode: bytes, reg: int, rm: int, w: int = 1, byte_reg: bool = False) -> bytes:
    """``opcode`` with two register operands (ModRM.reg, ModRM.rm)."""
    force = byte_reg and (rm >= 4 or reg >= 4)
    return _rex(w, reg, 0, rm, force) + opcode + bytes((0xC0 | ((reg & 7) << 3) | (rm & 7),))


@functools.cache
def load(dst: int, base: int, disp: int, index: int | None = None) -> bytes:
    """mov dst, qword [base + index + disp]"""
    return rm_op(b"\x8b", dst, base, disp, index=index)


@functools.cache
def store(src: int, base: int, disp: int, index: int | None = None) -> bytes:
    """mov qword [base + index + disp], src"""
    return rm_op(b"\x89", src, base, disp, index=index)


@functools.cache
def load_sized(dst: int, base: int, disp: int, size_log2: int, sign: bool) -> bytes:
    """dst = the 1/2/4/8-byte value at [base + disp], zero- or sign-extended."""
    if size_log2 == 3:
        return load(dst, base, disp)
    if size_log2 == 2:
        return rm_op(b"\x63", dst, base, disp) if sign else rm_op(b"\x8b", dst, base, disp, w=0)
    op = (b"\x0f\xbe" if sign else b"\x0f\xb6") if size_log2 == 0 else (b"\x0f\xbf" if sign else b"\x0f\xb7")
    return rm_op(op, dst, base, disp)


@functools.cache
def store_sized(src: int, base: int, disp: int, size_log2: int) -> bytes:
    """the low 1/2/4/8 bytes of src to [base + disp]"""
    if size_log2 == 3:
        return store(src, base, disp)
    if size_log2 == 2:
        return rm_op(b"\x89", src, base, disp, w=0)
    if size_log2 == 1:
        return rm_op(b"\x89", src, base, disp, w=0, prefix=b"\x66")
    return rm_op(b"\x88", src, base, disp, w=0, byte_reg=True)


@functools.cache
def mov_imm(dst: int, value: int) -> bytes:
    """dst = value (any 64-bit pattern), in the shortest of three forms."""
    value &= (1 << 64) - 1
    if value < 1 << 32:
        return _rex(0, 0, 0, dst) + bytes((0xB8 | (dst & 7),)) + struct.pack("<I", value)
    if value >= (1 << 64) - (1 << 31):
        return _rex(1, 0, 0, dst) + b"\xc7" + bytes((0xC0 | (dst & 7),)) + _pack_i32(value - (1 << 64))
    return _rex(1, 0, 0, dst) + bytes((0xB8 | (dst & 7),)) + _pack_u64(value)


@functools.cache
def mov(dst: int, src: int) -> bytes:
    return rr_op(b"\x89", src, dst)


# ALU ops, register to register: dst op= src
ADD, OR, AND, SUB, XOR, CMP = b"\x01", b"\x09", b"\x21", b"\x29", b"\x31", b"\x39"
_ALU_EXT = {ADD: 0, OR: 1, AND: 4, SUB: 5, XOR: 6, CMP: 7}


@functools.cache
def alu(op: bytes, dst: int, src: int) -> bytes:
    return rr_op(op, src, dst)


@functools.cache
def alu_imm(op: bytes, dst: int, imm: int, w: int = 1) -> bytes:
    """dst op= imm (a signed 32-bit immediate)"""
    return _rex(w, 0, 0, dst) + b"\x81" + bytes((0xC0 | (_ALU_EXT[op] << 3) | (dst & 7),)) + _pack_i32(imm)


@functools.cache
def cmp_mem(reg: int, base: int, disp: int, index: int | None = None) -> bytes:
    """cmp reg, qword [base + index + disp]"""
    return rm_op(b"\x3b", reg, base, disp, index=index)


@functools.cache
def add_mem(reg: int, base: int, disp: int, index: int | None = None) -> bytes:
    """add reg, qword [base + index + disp]"""
    return rm_op(b"\x03", reg, base, disp, index=index)


@functools.cache
def cmp_mem_imm0(base: int, disp: int) -> bytes:
    """cmp qword [base + disp], 0"""
    x, b, tail = _mem(7, base, disp)
    return _rex(1, 0, 0, b) + b"\x83" + tail + b"\x00"


@functools.cache
def test(a: int, b: int) -> bytes:
    return rr_op(b"\x85", b, a)


# Group-2 shifts and group-3 unary ops: the ModRM.reg extension
ROL, ROR, SHL, SHR, SAR = 0, 1, 4, 5, 7
NOT, NEG, MUL, IMUL1, DIV, IDIV = 2, 3, 4, 5, 6, 7


@functools.cache
def shift_cl(kind: int, dst: int) -> bytes:
    return _rex(1, 0, 0, dst) + b"\xd3" + bytes((0xC0 | (kind << 3) | (dst & 7),))


@functools.cache
def shift_imm(kind: int, dst: int, n: int, w: int = 1) -> bytes:
    return _rex(w, 0, 0, dst) + b"\xc1" + bytes((0xC0 | (kind << 3) | (dst & 7), n))


@functools.cache
def unary(kind: int, reg: int) -> bytes:
    """not/neg reg; mul/imul/div/idiv rdx:rax by reg"""
    return _rex(1, 0, 0, reg) + b"\xf7" + bytes((0xC0 | (kind << 3) | (reg & 7),))


@functools.cache
def imul(dst: int, src: int) -> bytes:
    return rr_op(b"\x0f\xaf", dst, src)


@functools.cache
def bswap(reg: int) -> bytes:
    return _rex(1, 0, 0, reg) + bytes((0x0F, 0xC8 | (reg & 7)))


@functools.cache
def bsr(dst: int, src: int) -> bytes:
    return rr_op(b"\x0f\xbd", dst, src)


@functools.cache
def setcc(cc: int, reg: int) -> bytes:
    """the low byte of reg = condition (the rest unchanged: zero it first)"""
    return _rex(0, 0, 0, reg, force=reg >= 4) + bytes((0x0F, 0x90 | cc, 0xC0 | (reg & 7)))


@functools.cache
def cmov(cc: int, dst: int, src: int) -> bytes:
    return rr_op(bytes((0x0F, 0x40 | cc)), dst, src)


@functools.cache
def movsx(dst: int, src: int, bits: int) -> bytes:
    if bits == 32:
        return rr_op(b"\x63", dst, src)
    return rr_op(b"\x0f\xbe" if bits == 8 else b"\x0f\xbf", dst, src)


@functools.cache
def movzx(dst: int, src: int, bits: int) -> bytes:
    if bits == 32:
        return rr_op(b"\x89", src, dst, w=0)          # mov r32, r32 clears the upper half
    return rr_op(b"\x0f\xb6" if bits == 8 else b"\x0f\xb7", dst, src, byte_reg=bits == 8)


@functools.cache
def push(reg: int) -> bytes:
    return _rex(0, 0, 0, reg) + bytes((0x50 | (reg & 7),))


@functools.cache
def pop(reg: int) -> bytes:
    return _rex(0, 0, 0, reg) + bytes((0x58 | (reg & 7),))


@functools.cache
def call_reg(reg: int) -> bytes:
    return _rex(0, 0, 0, reg) + bytes((0xFF, 0xD0 | (reg & 7)))


@functools.cache
def call_mem(reg: int) -> bytes:
    """call qword [reg]"""
    return _rex(0, 0, 0, reg) + bytes((0xFF, 0x10 | (reg & 7)))


@functools.cache
def jmp_mem(reg: int) -> bytes:
    """jmp qword [reg]"""
    return _rex(0, 0, 0, reg) + bytes((0xFF, 0x20 | (reg & 7)))


@functools.cache
def jmp_mem_disp(base: int, disp: int) -> bytes:
    """jmp qword [base + disp]"""
    x, b, tail = _mem(4, base, disp)
    return _rex(0, 0, 0, b) + b"\xff" + tail


RET = b"\xc3"
JMP_REL32 = b"\xe9"             # + rel32


@functools.cache
def jcc_rel32(cc: int) -> bytes:
    """Jcc with its rel32 to patch (the last four bytes)"""
    return bytes((0x0F, 0x80 | cc)) + b"\0\0\0\0"
