"""Self-contained difftest case files (JSON): written for every mismatch,
rerun by ``replay``/``tcgpy difftest --replay``.

A file reads on its own: code as hex plus one disassembly line per
instruction (address, word, text, form class), the start state (registers in
hex, the data page as its non-zero byte runs), both engines' end states (how
they stopped, registers, the bytes each one changed) and the differing fields.
Only ``arch``, ``code``, ``bound``, ``stop`` and ``start`` are read back; the
rest is for the reader.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .engine import (CODE_BASE, DATA_BASE, DATA_SIZE, Case, Engine, Outcome, Result,
                     diff_arch)

FORMAT = "tcgpy-difftest-case/1"


def disassemble(arch: str, case: Case) -> list[str]:
    import capstone
    md = capstone.Cs(*diff_arch(arch).info.capstone)
    lines = []
    encode = diff_arch(arch).info.target.encode
    for i, (w, addr) in enumerate(zip(case.words, case.addresses)):
        code = encode(w)
        insn = next(md.disasm(code, addr), None)
        hexw = f"{w:0{2 * len(code)}x}"
        text = f"{insn.mnemonic} {insn.op_str}".strip() if insn else f".inst {w:#0{2 * len(code) + 2}x}"
        cls = f"   ; {case.classes[i]}" if i < len(case.classes) else ""
        lines.append(f"{addr:#x}:  {hexw:8}  {text}{cls}")
    return lines


def _runs(data: bytes, base_data: bytes | None = None, gap: int = 16) -> list[dict]:
    """Byte runs that are non-zero (or, with ``base_data``, that differ from it)."""
    if base_data is None:
        idx = [i for i, b in enumerate(data) if b]
    else:
        idx = [i for i in range(min(len(data), len(base_data))) if data[i] != base_data[i]]
    runs: list[list[int]] = []
    for i in idx:
        if runs and i - runs[-1][1] <= gap:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [{"at": f"{DATA_BASE + a:#x}", "hex": data[a:b + 1].hex()} for a, b in runs]


def _regs_json(regs: dict[str, int]) -> dict[str, str]:
    return {k: f"{v:#x}" for k, v in regs.items()}


def _outcome_json(o: Outcome, case: Case) -> dict:
    # Registers the run changed (and pc): the start state gives the others.
    changed = {k: v for k, v in o.regs.items() if k == "pc" or case.regs.get(k) != v}
    return {"event": o.event.to_json(), "regs_changed": _regs_json(changed),
            "data_written": _runs(o.data, case.data) if o.data else []}


def case_to_json(result: Result, note: str = "") -> dict:
    case = result.case
    mm = result.mismatch
    return {
        "format": FORMAT,
        "arch": case.arch,
        "label": case.label,
        "note": note,
        "status": result.status,
        "known": getattr(result.known, "name", None),
        "summary": str(mm) if mm else "no difference",
        "differences": [{"field": f.name, "unicorn": f.reference, "tcgpy": f.subject}
                        for f in (mm.fields if mm else [])],
        "disassembly": disassemble(case.arch, case),
        "code": {"base": f"{CODE_BASE:#x}", "hex": case.code.hex(),
                 "classes": list(case.classes), "primary": case.primary},
        "bound": case.bound,
        "stop": None if case.stop is None else f"{case.stop:#x}",
        "start": {"regs": _regs_json(case.regs),
                  "data": {"base": f"{DATA_BASE:#x}", "size": len(case.data),
                           "fill": 0, "runs": _runs(case.data)}},
        "end": {"unicorn": _outcome_json(result.reference, case),
                "tcgpy": _outcome_json(result.subject, case)},
    }


def case_from_json(d: dict) -> Case:
    if d.get("format") != FORMAT:
        raise ValueError(f"not a tcgpy difftest case file (format {d.get('format')!r})")
    code = bytes.fromhex(d["code"]["hex"])
    words = tuple(diff_arch(d["arch"]).info.target.words(code))
    start = d["start"]
    dd = start["data"]
    if int(dd["base"], 0) != DATA_BASE or dd["size"] != DATA_SIZE:
        raise ValueError("case file data page does not match this tcgpy's difftest layout")
    data = bytearray([dd.get("fill", 0)]) * dd["size"]
    for run in dd["runs"]:
        off = int(run["at"], 0) - DATA_BASE
        chunk = bytes.fromhex(run["hex"])
        data[off:off + len(chunk)] = chunk
    stop = d.get("stop")
    return Case(d["arch"], words, {k: int(v, 0) for k, v in start["regs"].items()},
                bytes(data), int(d["bound"]), tuple(d["code"].get("classes", ())),
                d["code"].get("primary", ""), d.get("label", ""),
                None if stop is None else int(stop, 0))


def case_file_name(result: Result, index: int | None = None) -> str:
    cls = result.case.classes[0] if len(result.case.classes) == 1 else result.case.primary
    tag = f"{index:06d}-" if index is not None else ""
    return f"{tag}{cls or 'case'}-{result.case.code.hex()[:16]}.json"


def write_case(directory: str, result: Result, note: str = "", index: int | None = None) -> str:
    """Write ``result`` as a case file in ``directory``; returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, case_file_name(result, index))
    with open(path, "w") as f:
        f.write(dumps(case_to_json(result, note)) + "\n")
    return path


def dumps(obj, indent: str = "") -> str:
    """JSON laid out for reading: small objects on one line, registers four
    to a line, lists one item per line."""
    inner = indent + "  "
    if isinstance(obj, dict):
        flat = json.dumps(obj)
        if len(flat) <= 100 and not any(isinstance(v, (dict, list)) and v for v in obj.values()):
            return flat
        items = [f"{json.dumps(k)}: {dumps(v, inner)}" for k, v in obj.items()]
        if all(isinstance(v, str) for v in obj.values()) and len(obj) > 4:
            rows = [", ".join(items[i:i + 4]) for i in range(0, len(items), 4)]
            return "{\n" + ",\n".join(inner + r for r in rows) + "\n" + indent + "}"
        return "{\n" + ",\n".join(inner + i for i in items) + "\n" + indent + "}"
    if isinstance(obj, list) and obj:
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj)


def load_case(path: str) -> tuple[Case, dict]:
    with open(path) as f:
        d = json.load(f)
    return case_from_json(d), d


@dataclass
class Replay:
    path: str
    result: Result
    recorded: list[str]         # differing fields when the file was written

    @property
    def reproduced(self) -> bool:
        """The same fields differ as when the file was written."""
        mm = self.result.mismatch
        return mm is not None and bool(self.recorded) and mm.names == self.recorded


def replay(path: str, engine: Engine | None = None) -> Replay:
    """Rerun the case in ``path`` on both engines."""
    case, d = load_case(path)
    engine = engine or Engine(case.arch)
    return Replay(path, engine.run(case), [x["field"] for x in d.get("differences", [])])
