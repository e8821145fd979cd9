"""riscv64's ``tcgpy bench`` workloads: the same four loops as AArch64's
(arith, memory, indirect, callret) and the translation benchmark's blocks,
encoded by the difftest's independent encoder (keystone has no RISC-V)."""
from __future__ import annotations

import random
import struct
from typing import Callable

from . import encode as E

OP, OP_IMM, LOAD, STORE = 0b0110011, 0b0010011, 0b0000011, 0b0100011
X = {n: i for i, n in enumerate(("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
                                 "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4",
                                 "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"))}


def r(f7: int, f3: int, rd: str, rs1: str, rs2: str) -> Callable:
    return lambda pc, lab: E.r_type(f7, X[rs2], X[rs1], f3, X[rd], OP)


def i(f3: int, rd: str, rs1: str, imm: int, opcode: int = OP_IMM) -> Callable:
    return lambda pc, lab: E.i_type(imm, X[rs1], f3, X[rd], opcode)


def s(f3: int, rs2: str, rs1: str, imm: int) -> Callable:
    return lambda pc, lab: E.s_type(imm, X[rs2], X[rs1], f3, STORE)


def bnez(rs: str, label: str) -> Callable:
    return lambda pc, lab: E.b_type(lab[label] - pc, 0, X[rs], 0b001)


def jal(rd: str, label: str) -> Callable:
    return lambda pc, lab: E.j_type(lab[label] - pc, X[rd])


RET = i(0, "zero", "ra", 0, 0b1100111)


def assemble(items: list, base: int) -> tuple[bytes, dict[str, int]]:
    """Labels (str), instructions (pc, labels -> word) and raw bytes, in order."""
    labels, pc = {}, base
    for it in items:
        if isinstance(it, str):
            labels[it] = pc
        else:
            pc += len(it) if isinstance(it, bytes) else 4
    out, pc = bytearray(), base
    for it in items:
        if isinstance(it, bytes):
            out += it
            pc += len(it)
        elif not isinstance(it, str):
            out += it(pc, labels).to_bytes(4, "little")
            pc += 4
    return bytes(out), labels


def bench_workloads(scale: float, code_base: int, data: int, stack: int):
    """(name, code, end address, start registers) of each loop."""
    n = max(int(2_000_000 * scale), 10)
    out = []
    arith = ["loop",
             r(0, 0, "a2", "a2", "a0"), i(1, "t0", "a2", 3), r(0, 4, "a3", "a3", "t0"),
             i(5, "t0", "a3", 7), r(0, 6, "a4", "a4", "t0"), r(1, 0, "t0", "a2", "a3"),
             r(0, 0, "a5", "a5", "t0"), r(0, 7, "a6", "a5", "s1"), r(32, 0, "a7", "a7", "a6"),
             i(0, "a1", "a1", -1), bnez("a1", "loop"), "end", i(0, "zero", "zero", 0)]
    out.append(("arith", arith, {"a0": 1, "a1": n, "s1": 0xFF00FF00FF00FF}))
    memory = ["loop",
              r(0, 7, "t0", "a1", "s5"), r(0, 0, "t1", "s2", "t0"), i(3, "a2", "t1", 0, LOAD),
              r(0, 0, "a2", "a2", "a1"), s(3, "a2", "t1", 0),
              r(1, 0, "a0", "a0", "s3"), r(0, 0, "a0", "a0", "s4"),
              i(5, "t2", "a0", 40), r(0, 7, "t2", "t2", "s5"), r(0, 0, "t3", "s2", "t2"),
              i(2, "a3", "t3", 0, LOAD), i(0, "a3", "a3", 1, 0b0011011), s(2, "a3", "t3", 0),
              i(0, "a1", "a1", -1), bnez("a1", "loop"), "end", i(0, "zero", "zero", 0)]
    out.append(("memory", memory, {"a0": 0x1234, "a1": n // 2, "s2": data, "s5": 0xFFF8,
                                   "s3": 6364136223846793005, "s4": 1442695040888963407}))
    indirect = ["loop",
                i(7, "t0", "a1", 3), i(1, "t0", "t0", 3), r(0, 0, "t0", "s2", "t0"),
                i(3, "t1", "t0", 0, LOAD), i(0, "ra", "t1", 0, 0b1100111),
                i(0, "a1", "a1", -1), bnez("a1", "loop"), jal("zero", "end"),
                "f0", i(0, "a0", "a0", 1), RET, "f1", i(0, "a0", "a0", 2), RET,
                "f2", i(4, "a0", "a0", 0xFF), RET, "f3", i(0, "a0", "a0", -3), RET,
                "table", bytes(32), "end", i(0, "zero", "zero", 0)]
    out.append(("indirect", indirect, {"a1": n // 4}))
    callret = ["loop", jal("ra", "leaf"), jal("ra", "leaf2"), i(0, "a1", "a1", -1), bnez("a1", "loop"),
               jal("zero", "end"),
               "leaf", i(0, "a0", "a0", 1), RET,
               "leaf2", i(0, "sp", "sp", -16), s(3, "ra", "sp", 8), jal("ra", "leaf"),
               i(3, "ra", "sp", 8, LOAD), i(0, "sp", "sp", 16), RET,
               "end", i(0, "zero", "zero", 0)]
    out.append(("callret", callret, {"a1": n // 4, "sp": stack - 0x100}))
    result = []
    for name, items, regs in out:
        code, lab = assemble(items, code_base)
        if "table" in lab:
            off = lab["table"] - code_base
            code = code[:off] + struct.pack("<4Q", *(lab[f"f{k}"] for k in range(4))) + code[off + 32:]
            regs = {**regs, "s2": lab["table"]}
        result.append((name, code, lab["end"], regs))
    return result


def bench_blocks(n_blocks: int, code_base: int, seed: int = 1) -> tuple[bytes, int, int]:
    """n_blocks distinct blocks of 4-8 instructions, each ending in a jump to the next."""
    rng = random.Random(seed)
    items, n_insns = [], 0

    def reg() -> str:
        return rng.choice([n for n in X if n not in ("zero", "sp")])
    for k in range(n_blocks):
        for _ in range(rng.randint(3, 7)):
            kind = rng.randrange(4)
            if kind == 0:
                items.append(r(rng.choice((0, 32, 1)), 0, reg(), reg(), reg()))
            elif kind == 1:
                items.append(i(rng.choice((0, 4, 6, 7)), reg(), reg(), rng.randrange(-2048, 2048)))
            elif kind == 2:
                items.append(i(rng.choice((1, 5)), reg(), reg(), rng.randrange(1, 64)))
            else:
                items.append(r(0, rng.choice((2, 3)), reg(), reg(), reg()))
            n_insns += 1
        items += [jal("zero", f"l{k}"), f"l{k}"]
        n_insns += 1
    items.append(i(0, "zero", "zero", 0))
    code, _ = assemble(items, code_base)
    return code, code_base + len(code) - 4, n_insns
