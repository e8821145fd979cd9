"""``tcgpy difftest x86_64``: random x86-64 integer ALU sequences on the KVM
engine (the host CPU itself) and on Unicorn's x86-64 CPU, from the same
random registers and flags; every general register and the arithmetic flags
are compared afterwards.

KVM runs the instructions on the real CPU, so a mismatch is Unicorn's: a
class of them is a known difference only with proof (KNOWN below).  Flags an
instruction leaves *undefined* (Intel SDM vol. 2, each instruction's "Flags
Affected") are the CPU's choice: they are compared only where a later
instruction defined them again, and a difference in one is counted, not
reported.
"""
from __future__ import annotations

import json
import random
import sys
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


@dataclass(frozen=True)
class KnownX86Difference:
    """A class of mismatch that is Unicorn's, with the proof (as known_differences.py)."""
    name: str
    matches: Callable[[list, dict], bool]          # (instructions, differing fields) -> explained?
    unicorn: str
    architecture: str
    proof: str


# None found so far: an unexplained mismatch fails the campaign.
KNOWN: list[KnownX86Difference] = []

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


class Runners:
    """One KVM engine and one Unicorn CPU, reused for every case."""

    def __init__(self):
        import unicorn
        from unicorn import x86_const

        from ..emulator import Emulator
        self.kvm = Emulator("x86_64", accel="kvm")
        self.kvm.mem_map(CODE, 0x1000, "rx")
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
        self.uc.mem_map(CODE, 0x1000, unicorn.UC_PROT_ALL)
        self.ucregs = {n: getattr(x86_const, f"UC_X86_REG_{n.upper()}") for n in GPRS}
        self.ucflags = x86_const.UC_X86_REG_EFLAGS

    def run_kvm(self, case: dict, code: bytes) -> dict:
        emu = self.kvm
        emu.mem_write(CODE, code + b"\x90")
        for n, v in case["regs"].items():
            emu.reg_write(n, v)
        emu.reg_write("rflags", case["flags"])
        emu.run(CODE, until=CODE + len(code))
        out = {n: emu.reg_read(n) for n in case["regs"]}
        out["flags"] = emu.reg_read("rflags") & ARITH
        return out

    def run_unicorn(self, case: dict, code: bytes) -> dict:
        uc = self.uc
        uc.mem_write(CODE, code + b"\x90")
        for n, v in case["regs"].items():
            uc.reg_write(self.ucregs[n], v)
        uc.reg_write(self.ucflags, case["flags"] | 0x2)
        uc.emu_start(CODE, CODE + len(code))
        out = {n: uc.reg_read(self.ucregs[n]) for n in case["regs"]}
        out["flags"] = uc.reg_read(self.ucflags) & ARITH
        return out


def _flag_names(mask: int) -> str:
    return ",".join(n for n, b in (("CF", CF), ("PF", PF), ("AF", AF), ("ZF", ZF), ("SF", SF), ("OF", OF))
                    if mask & b)


def compare(case: dict, kvm: dict, uni: dict) -> tuple[dict, int]:
    """(fields that differ where the architecture defines them, undefined flags that differ)."""
    diff = {n: (kvm[n], uni[n]) for n in case["regs"] if kvm[n] != uni[n]}
    mask = compared_flags(case)
    if (kvm["flags"] ^ uni["flags"]) & mask:
        diff["flags"] = (kvm["flags"] & mask, uni["flags"] & mask)
    return diff, (kvm["flags"] ^ uni["flags"]) & ARITH & ~mask


def run_campaign(count: int, seed: int, length: int, progress=None) -> dict:
    rng = random.Random(seed)
    runners = Runners()
    out = {"arch": "x86_64", "seed": seed, "count": count, "length": length, "mismatches": [],
           "known": {}, "undefined_flag_differences": 0, "undefined_flags": {}}
    for index in range(count):
        case = make_case(rng, length)
        code = code_of(case)
        kvm, uni = runners.run_kvm(case, code), runners.run_unicorn(case, code)
        diff, undefined = compare(case, kvm, uni)
        out["undefined_flag_differences"] += bool(undefined)
        for name in filter(None, _flag_names(undefined).split(",")):
            out["undefined_flags"][name] = out["undefined_flags"].get(name, 0) + 1
        if diff:
            known = next((k for k in KNOWN if k.matches(disassemble(case), diff)), None)
            if known is not None:
                out["known"][known.name] = out["known"].get(known.name, 0) + 1
            else:
                out["mismatches"].append({"index": index, "code": code.hex(), "insns": disassemble(case),
                                          "regs": case["regs"], "flags": case["flags"],
                                          "differ": {k: [f"{a:#x}", f"{b:#x}"] for k, (a, b) in diff.items()}})
        if progress is not None and (index + 1) % 100 == 0:
            progress(index + 1)
    return out


def format_report(res: dict) -> str:
    lines = []
    for m in res["mismatches"][:20]:
        lines.append(f"MISMATCH case {m['index']} ({m['code']})")
        lines += ["    " + t for t in m["insns"]]
        for field, (kvm, uni) in m["differ"].items():
            what = f" ({_flag_names(int(kvm, 16) ^ int(uni, 16))})" if field == "flags" else ""
            lines.append(f"    {field}: KVM (the CPU) {kvm}, Unicorn {uni}{what}")
    for name, n in sorted(res["known"].items()):
        lines.append(f"known difference {name}: {n} cases")
    lines.append(f"{res['count']} cases ({res['length']} instructions each, seed {res['seed']}): "
                 f"{len(res['mismatches'])} mismatches, {sum(res['known'].values())} known differences; "
                 f"{res['undefined_flag_differences']} cases where a flag the SDM leaves undefined differs "
                 f"(not compared: " + ", ".join(f"{k} {v}" for k, v in sorted(res["undefined_flags"].items()))
                 + ")")
    return "\n".join(lines)


def main(args) -> int:
    """``tcgpy difftest x86_64`` (--count, --seed, --length, --json, --quiet)."""
    from ..accel import kvm_status
    problem = kvm_status()
    if problem:
        print(f"tcgpy difftest x86_64: needs KVM, which cannot run here: {problem}", file=sys.stderr)
        return 2
    unsupported = [o for o, on in (("--replay", args.replay), ("--resume", args.resume), ("--out", args.out),
                                   ("--cluster", args.cluster), ("--classes", args.classes),
                                   ("--exclude", args.exclude), ("--list-classes", args.list_classes)) if on]
    if unsupported:
        print(f"tcgpy difftest x86_64: {', '.join(unsupported)} not supported for x86_64", file=sys.stderr)
        return 2
    if args.count < 0 or args.length < 1:
        print("tcgpy difftest: --count must be >= 0 and --length >= 1", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    quiet = args.quiet or args.json
    res = run_campaign(args.count, seed, args.length,
                       None if quiet else lambda n: print(f"\r{n}/{args.count}", end="", file=sys.stderr))
    if not quiet:
        print(file=sys.stderr)
    print(json.dumps(res, indent=1) if args.json else format_report(res))
    return 1 if res["mismatches"] else 0
