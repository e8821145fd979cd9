"""Random x86-64 integer ALU sequences for ``tcgpy difftest x86_64``: each
form as one row (encoder, flags it defines, flags it leaves undefined, flags
it reads, assembly text), and the random cases drawn from them.

Flags an instruction leaves *undefined* (Intel SDM vol. 2, each
instruction's "Flags Affected") are the CPU's choice: a case never reads one
(make_case), and they are compared only where a later instruction defined
them again (compared_flags).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

CF, PF, AF, ZF, SF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800
ARITH = CF | PF | AF | ZF | SF | OF
LOGIC = CF | PF | ZF | SF | OF              # and/or/xor/test: AF undefined, CF = OF = 0
GPRS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")   # in encoding order
USABLE = [n for n in range(16) if GPRS[n] != "rsp"]              # no stack games
CODE = 0x400000


def _rr(opcode: bytes, reg: int, rm: int) -> bytes:
    """REX.W opcode /r with register operands (ModRM mod 3)."""
    return bytes([0x48 | (reg >> 3) << 2 | rm >> 3]) + opcode + bytes([0xC0 | (reg & 7) << 3 | rm & 7])


def _digit(opcode: bytes, digit: int, rm: int, tail: bytes = b"") -> bytes:
    """REX.W opcode /digit with a register operand, then an immediate."""
    return bytes([0x48 | rm >> 3]) + opcode + bytes([0xC0 | digit << 3 | rm & 7]) + tail


@dataclass(frozen=True)
class Op:
    name: str
    encode: Callable[[int, int, int], bytes]       # (dst, src, imm) -> bytes
    defined: Callable[[int], int]                  # imm -> flags the op sets
    undefined: Callable[[int], int]                # imm -> flags it leaves undefined
    text: Callable[[int, int, int], str]           # (dst, src, imm) -> assembly
    reads: int = 0                                 # flags its result depends on


def _always(mask: int) -> Callable[[int], int]:
    return lambda imm: mask


def _binary(name: str, opcode: int, flags: int, undefined: int = 0, reads: int = 0) -> Op:
    return Op(name, lambda d, s, i: _rr(bytes([opcode]), s, d), _always(flags), _always(undefined),
              lambda d, s, i: f"{name} {GPRS[d]}, {GPRS[s]}", reads)


def _immediate(name: str, digit: int, flags: int, undefined: int = 0, reads: int = 0) -> Op:
    return Op(f"{name} imm", lambda d, s, i: _digit(b"\x81", digit, d, (i & 0xFFFFFFFF).to_bytes(4, "little")),
              _always(flags), _always(undefined), lambda d, s, i: f"{name} {GPRS[d]}, {i & 0xFFFFFFFF:#x}", reads)


def _count_flags(rotate: bool):
    """(defined, undefined) of a shift or rotate by an immediate count: count 0
    changes no flag; 1 defines OF, more leave it undefined.  Shifts set SF ZF
    PF and leave AF undefined; rotates touch only CF and OF."""
    def defined(imm: int) -> int:
        c = imm & 63                        # the count the instruction uses (its imm8, masked)
        return 0 if c == 0 else CF | (OF if c == 1 else 0) | (0 if rotate else SF | ZF | PF)

    def undefined(imm: int) -> int:
        c = imm & 63
        return 0 if c == 0 else (OF if c > 1 else 0) | (0 if rotate else AF)
    return defined, undefined


def _shift(name: str, digit: int, rotate: bool, reads: int = 0) -> Op:
    return Op(name, lambda d, s, i: _digit(b"\xC1", digit, d, bytes([i & 63])), *_count_flags(rotate),
              lambda d, s, i: f"{name} {GPRS[d]}, {i & 63}", reads)


def _double_shift(name: str, opcode: int) -> Op:
    return Op(name, lambda d, s, i: _rr(bytes([0x0F, opcode]), s, d) + bytes([i & 63]), *_count_flags(False),
              lambda d, s, i: f"{name} {GPRS[d]}, {GPRS[s]}, {i & 63}")


# Condition codes in encoding order (the low nibble of jcc/setcc/cmovcc), each pair
# (a condition and its negation) with the flags it reads.
CONDITIONS = ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g")
CONDITION_READS = (OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF)


def _cmov(cc: int) -> Op:
    name = "cmov" + CONDITIONS[cc]
    return Op(name, lambda d, s, i: _rr(bytes([0x0F, 0x40 + cc]), d, s), _always(0), _always(0),
              lambda d, s, i: f"{name} {GPRS[d]}, {GPRS[s]}", CONDITION_READS[cc // 2])


def _setcc(cc: int) -> Op:
    # SETcc r/m8; a REX prefix makes 4-7 spl..dil (not ah..bh) and reaches r8b-r15b
    name = "set" + CONDITIONS[cc]
    return Op(name, lambda d, s, i: bytes([0x40 | d >> 3, 0x0F, 0x90 + cc, 0xC0 | d & 7]), _always(0), _always(0),
              lambda d, s, i: f"{name} {GPRS[d]} (low byte)", CONDITION_READS[cc // 2])


# (name, ModRM /digit, flags set, flags read): the eight classic ALU operations in encoding order.
ALU = (("add", 0, ARITH, 0), ("or", 1, LOGIC, 0), ("adc", 2, ARITH, CF), ("sbb", 3, ARITH, CF),
       ("and", 4, LOGIC, 0), ("sub", 5, ARITH, 0), ("xor", 6, LOGIC, 0), ("cmp", 7, ARITH, 0))

OPS: list[Op] = [
    *(_binary(n, 8 * d + 1, f, ARITH & ~f, r) for n, d, f, r in ALU),     # op r/m64, r64
    *(_immediate(n, d, f, ARITH & ~f, r) for n, d, f, r in ALU),           # op r/m64, imm32
    _binary("test", 0x85, LOGIC, AF),
    _binary("mov", 0x89, 0),
    Op("imul", lambda d, s, i: _rr(b"\x0F\xAF", d, s), _always(CF | OF), _always(SF | ZF | AF | PF),
       lambda d, s, i: f"imul {GPRS[d]}, {GPRS[s]}"),
    Op("inc", lambda d, s, i: _digit(b"\xFF", 0, d), _always(ARITH & ~CF), _always(0), lambda d, s, i: f"inc {GPRS[d]}"),
    Op("dec", lambda d, s, i: _digit(b"\xFF", 1, d), _always(ARITH & ~CF), _always(0), lambda d, s, i: f"dec {GPRS[d]}"),
    Op("neg", lambda d, s, i: _digit(b"\xF7", 3, d), _always(ARITH), _always(0), lambda d, s, i: f"neg {GPRS[d]}"),
    Op("not", lambda d, s, i: _digit(b"\xF7", 2, d), _always(0), _always(0), lambda d, s, i: f"not {GPRS[d]}"),
    _shift("rol", 0, True), _shift("ror", 1, True), _shift("rcl", 2, True, CF), _shift("rcr", 3, True, CF),
    _shift("shl", 4, False), _shift("shr", 5, False), _shift("sar", 7, False),
    _double_shift("shld", 0xA4), _double_shift("shrd", 0xAC),
    Op("xadd", lambda d, s, i: _rr(b"\x0F\xC1", s, d), _always(ARITH), _always(0),
       lambda d, s, i: f"xadd {GPRS[d]}, {GPRS[s]}"),
    Op("bswap", lambda d, s, i: bytes([0x48 | d >> 3, 0x0F, 0xC8 + (d & 7)]), _always(0), _always(0),
       lambda d, s, i: f"bswap {GPRS[d]}"),
    *(_cmov(cc) for cc in range(16)),
    *(_setcc(cc) for cc in range(16)),
]


# Values that reach the edge cases: zero, signs, carries, all ones.
SPECIAL = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63, (1 << 63) - 1,
           (1 << 64) - 1, (1 << 64) - 2)


def _value(rng: random.Random) -> int:
    return rng.choice(SPECIAL) if rng.random() < 0.3 else rng.getrandbits(64)


def make_case(rng: random.Random, length: int) -> dict:
    """Random instructions, none of which reads a flag an earlier one left
    undefined (its result would be the CPU's choice too)."""
    insns = []
    known = ARITH
    for _ in range(length):
        op = rng.choice([i for i, o in enumerate(OPS) if not o.reads & ~known])
        imm = rng.choice((0, 1, 2, 31, 32, 63)) if rng.random() < 0.5 else rng.getrandbits(32)
        insns.append((op, rng.choice(USABLE), rng.choice(USABLE), imm))
        known = (known | OPS[op].defined(imm)) & ~OPS[op].undefined(imm)
    regs = {GPRS[n]: _value(rng) for n in USABLE}
    return {"insns": insns, "regs": regs, "flags": rng.getrandbits(12) & ARITH}


def code_of(case: dict) -> bytes:
    return b"".join(OPS[op].encode(d, s, i) for op, d, s, i in case["insns"])


def disassemble(case: dict) -> list[str]:
    return [OPS[op].text(d, s, i) for op, d, s, i in case["insns"]]


def compared_flags(case: dict) -> int:
    """The arithmetic flags whose value the architecture defines after the case."""
    known = ARITH
    for op, _, _, imm in case["insns"]:
        known = (known | OPS[op].defined(imm)) & ~OPS[op].undefined(imm)
    return known


def flag_names(mask: int) -> str:
    return ",".join(n for n, b in (("CF", CF), ("PF", PF), ("AF", AF), ("ZF", ZF), ("SF", SF), ("OF", OF))
                    if mask & b)
