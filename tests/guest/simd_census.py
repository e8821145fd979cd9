"""Which FP/Advanced SIMD instructions does a guest program execute?

Runs each program under ``qemu-aarch64 -d in_asm`` (every instruction of
every block qemu translated, i.e. the code that actually ran), keeps the
instructions that touch FP/SIMD registers or are FP/SIMD system accesses,
and prints them grouped by mnemonic and operand shape with one example
encoding each.  This is the minimum FP/SIMD subset a frontend needs to run
those programs.

    python tests/guest/simd_census.py tests/guest/bin/libc_hello ...
"""
from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import tempfile

import capstone

LINE = re.compile(r"^0x([0-9a-f]+):\s+([0-9a-f]{8})\s")
CPU = os.environ.get("CENSUS_CPU", "cortex-a53")
FP_REG = re.compile(r"\b([vqdsbh]\d+|fpcr|fpsr)\b")


def executed_words(prog: list[str], stdin: bytes = b"") -> dict[int, int]:
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        # An ARMv8.0 CPU (FP + ASIMD, no LSE atomics, no SVE): glibc picks its
        # string and atomic routines from HWCAP, and tcgpy advertises no more.
        subprocess.run(["qemu-aarch64", "-cpu", CPU, "-d", "in_asm", "-D", log.name, *prog], input=stdin,
                       capture_output=True, timeout=120)
        words = {}
        for line in open(log.name, errors="replace"):
            m = LINE.match(line)
            if m:
                words[int(m.group(1), 16)] = int(m.group(2), 16)
    return words


def shape(op_str: str) -> str:
    s = re.sub(r"#-?0x[0-9a-f]+|#-?\d+(\.\d+)?(e[+-]?\d+)?", "#imm", op_str)
    s = re.sub(r"\b([xw])(\d+|zr)\b", r"\1", s)
    s = re.sub(r"\bsp\b", "x", s)
    s = re.sub(r"\b([vqdsbh])\d+\b", r"\1", s)
    return s


def census(words: dict[int, int]) -> collections.Counter:
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    found: dict[tuple[str, str], tuple[int, int, int]] = {}
    for pc, w in sorted(words.items()):
        insn = next(md.disasm(w.to_bytes(4, "little"), pc), None)
        if insn is None or not FP_REG.search(insn.op_str):
            continue
        key = (insn.mnemonic, shape(insn.op_str))
        n, ex_pc, ex_w = found.get(key, (0, pc, w))
        found[key] = (n + 1, ex_pc, ex_w)
    return found


def main(argv: list[str]) -> int:
    total: dict[tuple[str, str], list] = {}
    for prog in argv[1:]:
        found = census(executed_words([prog, tempfile.gettempdir()], b"line\n"))
        for key, (n, pc, w) in found.items():
            e = total.setdefault(key, [0, set(), w, f"{os.path.basename(prog)}@{pc:#x}"])
            e[0] += n
            e[1].add(os.path.basename(prog))
    for (mn, sh), (n, progs, w, where) in sorted(total.items()):
        print(f"{mn:8} {sh:32} {w:08x}  sites={n:<4} e.g. {where}  in {len(progs)} program(s)")
    print(f"{len(total)} distinct FP/SIMD instruction forms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
