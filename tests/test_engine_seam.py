"""The seam between the Linux layer / library API and the execution
engines (tcgpy/accel/engine.py): nothing outside the TCG engine imports the
LLVM backend or the TCG engine's internals (block cache, cold tier,
persistent code cache, busguard), and nothing reaches into an engine's block
cache (``emu.cache``).  Checked over the source with ``ast``, imports made
inside functions included."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "tcgpy"

# The TCG engine's internals, and the modules of the TCG engine allowed to use them.
INTERNALS = ("tcgpy.backends", "tcgpy.tbcache", "tcgpy.coldtier", "tcgpy.persist", "tcgpy.busguard",
             "tcgpy.hostsyscalls")
TCG_ENGINE = {"tcgpy.emulator", "tcgpy.tbcache", "tcgpy.coldtier", "tcgpy.persist", "tcgpy.busguard",
              "tcgpy.hostsyscalls",
              "tcgpy.hostatomic",   # the compare-and-swap the TCG engine's Python paths do
              "tcgpy.log"}      # log: -d out_asm disassembles the JIT's host code


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    mod = _module(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def _internal(name: str) -> bool:
    return any(name == i or name.startswith(i + ".") for i in INTERNALS)


def test_only_the_tcg_engine_imports_its_internals():
    offenders = {}
    for path in PKG.rglob("*.py"):
        mod = _module(path)
        if mod in TCG_ENGINE or _internal(mod):
            continue
        bad = sorted(n for n in _imports(path) if _internal(n))
        if bad:
            offenders[mod] = bad
    assert offenders == {}


def test_nothing_reaches_into_an_engines_block_cache():
    offenders = []
    for path in PKG.rglob("*.py"):
        mod = _module(path)
        if mod in TCG_ENGINE or _internal(mod):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "cache":
                owner = node.value
                name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
                if name == "emu":
                    offenders.append(f"{mod}:{node.lineno}")
    assert offenders == []


def test_the_checks_see_imports():
    """The checks themselves: relative and in-function imports are resolved."""
    mod = PKG / "emulator.py"
    assert any(n.startswith("tcgpy.backends.llvm") for n in _imports(mod))
    assert "tcgpy.tbcache" in _imports(mod)
    assert _imports(PKG / "linux" / "process.py") >= {"tcgpy.linux.signals"}
