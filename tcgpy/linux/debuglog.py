"""qemu-style ``-d`` logging for ``tcgpy run``: the logger object that
``Emulator.set_log`` feeds (in_asm, op, op_opt, out_asm, exec, cpu)."""
from __future__ import annotations

import capstone

from ..ir.printer import format_block

LOG_ITEMS = {
    "in_asm": "guest disassembly of each translated block (capstone)",
    "op": "IR of each block before the optimizer passes",
    "op_opt": "IR of each block after the optimizer passes",
    "out_asm": "the LLVM IR handed to the JIT for each compiled batch of blocks",
    "exec": "one line per block entered from the dispatcher (chained blocks run without it)",
    "cpu": "CPU registers before each block entered from the dispatcher",
    "strace": "same as -strace",
}


class DebugLog:
    def __init__(self, items: set[str], out, arch):
        self.items = items
        self.out = out
        self.arch = arch
        self.wants_exec = bool(items & {"exec", "cpu"})
        self._cs = None

    def enabled(self, item: str) -> bool:
        return item in self.items

    def write(self, text: str) -> None:
        self.out.write(text)

    def block_in(self, block, fetch) -> None:
        if "in_asm" not in self.items:
            return
        if self._cs is None:
            self._cs = capstone.Cs(*self.arch.capstone)
        lines = ["----------------", "IN: "]
        for pc in block.insn_pcs:
            word = fetch(pc)
            if word is None:
                continue
            insns = list(self._cs.disasm(word.to_bytes(4, "little"), pc))
            text = f"{insns[0].mnemonic} {insns[0].op_str}".strip() if insns else f".word {word:#010x}"
            lines.append(f"0x{pc:016x}:  {word:08x}      {text}")
        self.out.write("\n".join(lines) + "\n\n")

    def block_ir(self, item: str, block) -> None:
        if item in self.items:
            title = "OP:" if item == "op" else "OP after optimization and liveness analysis:"
            self.out.write(f"{title}\n{format_block(block)}\n")

    def llvm(self, item: str, text: str) -> None:
        if item in self.items:
            self.out.write(f"OUT: [LLVM IR]\n{text}\n")

    def exec_block(self, emu, tb) -> None:
        if "cpu" in self.items:
            regs = [f"X{i:02d}={emu.reg_read(f'x{i}'):016x}" for i in range(31)]
            lines = [" ".join(regs[i:i + 4]) for i in range(0, 31, 4)]
            nzcv = emu.reg_read("nzcv") >> 28
            flags = "".join(c if nzcv & (8 >> i) else "-" for i, c in enumerate("NZCV"))
            lines.append(f"SP={emu.reg_read('sp'):016x} PC={emu.reg_read('pc'):016x} PSTATE={flags}")
            self.out.write("\n".join(lines) + "\n")
        if "exec" in self.items:
            self.out.write(f"Trace: [{tb.pc:016x}] {tb.n_insns} insns\n")
