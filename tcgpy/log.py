"""qemu-style ``-d`` logging: in_asm, op, op_opt, out_asm, exec, cpu.

A ``Logger`` is attached with ``Emulator.set_log``; the block cache calls it
as it translates, and the CPU loop before each block it enters.  ``exec`` and
``cpu`` only see blocks entered from the dispatcher, so attaching a logger
that wants them turns chaining off (as qemu's ``-d exec`` wants ``nochain``).
"""
from __future__ import annotations

import sys
from typing import TextIO


ITEMS = {
    "in_asm": "guest disassembly of each translated block",
    "op": "IR of each block as the frontend emitted it",
    "op_opt": "IR of each block after the optimizer passes",
    "out_asm": "LLVM IR and host assembly of each compiled module",
    "exec": "each block entered from the dispatcher",
    "cpu": "guest registers before each block entered",
    "nochain": "do not chain blocks (every block returns to the dispatcher)",
}


def parse_ranges(spec: str) -> list[tuple[int, int]]:
    """qemu's ``-dfilter`` ranges: comma-separated ``START+SIZE``,
    ``END-SIZE`` (the SIZE bytes ending at END) or ``START..END``; numbers
    in C syntax.  Returns inclusive (first, last) pairs."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            if ".." in part:
                a, b = part.split("..", 1)
                first, last = int(a, 0), int(b, 0)
            elif "+" in part:
                a, b = part.split("+", 1)
                first = int(a, 0)
                last = first + int(b, 0) - 1
            elif "-" in part[1:]:
                a, b = part.split("-", 1)
                last = int(a, 0)
                first = last - int(b, 0) + 1
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"bad -dfilter range {part!r} (START+SIZE, END-SIZE or START..END)") from None
        if first > last or first < 0:
            raise ValueError(f"bad -dfilter range {part!r}: empty")
        out.append((first, last))
    return out


def parse_items(spec: str) -> set[str]:
    items = {s.strip() for s in spec.split(",") if s.strip()}
    unknown = items - set(ITEMS)
    if unknown:
        raise ValueError(f"unknown -d item(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(ITEMS)}")
    return items


class Logger:
    def __init__(self, items: set[str], stream: TextIO | None = None, arch=None,
                 ranges: list[tuple[int, int]] | None = None):
        self.items = set(items)
        self.ranges = ranges          # -dfilter: log only blocks starting in these (inclusive) ranges
        self.stream = stream or sys.stderr
        self.wants_exec = bool(self.items & {"exec", "cpu"})
        self.nochain = self.wants_exec or "nochain" in self.items
        self._cs = None
        if arch is not None:
            import capstone     # only when logging: tcgpy run need not load it
            self._cs = capstone.Cs(*arch.capstone)

    def enabled(self, item: str) -> bool:
        return item in self.items

    def in_range(self, pc: int) -> bool:
        return self.ranges is None or any(a <= pc <= b for a, b in self.ranges)

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def block_in(self, block, fetch) -> None:
        if "in_asm" not in self.items or not self.in_range(block.pc):
            return
        out = ["-" * 40, "IN: "]
        for pc in block.insn_pcs:
            word, size = fetch(pc) or (0, 4)
            code = word.to_bytes(size, "little")
            insn = next(self._cs.disasm(code, pc), None) if self._cs else None
            hexw = f"{word:0{2 * size}x}"
            text = f"{insn.mnemonic} {insn.op_str}".strip() if insn else f".{'half' if size == 2 else 'word'} {word:#0{2 * size + 2}x}"
            out.append(f"0x{pc:016x}:  {hexw:8}      {text}")
        self.write("\n".join(out) + "\n\n")

    def block_ir(self, item: str, block) -> None:
        if item not in self.items or not self.in_range(block.pc):
            return
        title = "OP:" if item == "op" else "OP after optimization:"
        self.write(f"{title}\n{block}\n")

    def llvm(self, item: str, text: str, hot: bool = False, pcs=()) -> None:
        """A module's code; with -dfilter, only if one of its blocks (``pcs``) is in range."""
        if item not in self.items or self.ranges is not None and not any(map(self.in_range, pcs)):
            return
        from .backends.llvm.jit import emit_assembly
        self.write(f"OUT: [LLVM IR]\n{text}\nOUT: [host]\n{emit_assembly(text, hot)}\n")

    def exec_block(self, emu, tb) -> None:
        if not self.in_range(tb.pc):
            return
        if "cpu" in self.items:
            lay = emu.arch.layout
            regs = [r.name for r in lay.rows if r.user and r.size == 8]
            vals = [f"{n.upper():>4}={emu.reg_read(n):016x}" for n in regs]
            for pseudo in emu.arch.pseudo_regs:
                vals.append(f"{pseudo.upper():>4}={emu.reg_read(pseudo):08x}")
            lines = [" ".join(vals[i:i + 4]) for i in range(0, len(vals), 4)]
            self.write("\n".join(lines) + "\n")
        if "exec" in self.items:
            self.write(f"Trace: [{tb.fn_addr:016x}/{tb.pc:016x}] {tb.n_insns} insns\n")
