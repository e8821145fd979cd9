"""The difftest's boundary: an architecture-neutral engine (the modules of
tcgpy/difftest/) and one folder per target (tcgpy/difftest/<target>/, named
by the target registry).  Checked over the source with ``ast``, imports made
inside functions included:

- no engine module (nor ``tcgpy difftest``, tcgpy/commands/difftest.py)
  imports a target's pieces (its difftest folder, frontend, Linux ABI or
  bench module) or names a target: its name, a register, a form class or an
  instruction, as code or as a string the code uses;
- a target folder takes the engine's names from the package's public
  interface (``tcgpy.difftest.__all__``, each documented in the package
  docstring), never a private (``_``) name of an engine module.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import tcgpy.difftest as difftest
from tcgpy import targets
from tcgpy.difftest import ArchDef, classes
from tcgpy.frontends import get_arch

PKG = Path(difftest.__file__).resolve().parent
ROOT = PKG.parent.parent
ENGINE = sorted(PKG.glob("*.py"))
COMMAND = ROOT / "tcgpy" / "commands" / "difftest.py"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, tree: ast.AST) -> list[tuple[str, str]]:
    """(module, imported name or "") for every import in ``tree``, relative ones resolved."""
    mod = _module(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            out += [(name, a.name) for a in node.names]
    return out


def _code_strings(tree: ast.AST) -> list[ast.Constant]:
    """String constants the code uses: docstrings left out (they explain)."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    return [n for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def _identifiers(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            out.append((n.lineno, n.id))
        elif isinstance(n, ast.Attribute):
            out.append((n.lineno, n.attr))
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((n.lineno, n.name))
        elif isinstance(n, ast.arg):
            out.append((n.lineno, n.arg))
    return out


def _target_modules() -> list[str]:
    return [m for t in targets.TARGETS for m in (t.frontend, t.linux, t.difftest, t.bench) if m]


def _registers(t: targets.Target) -> set[str]:
    if t.frontend:
        info = get_arch(t.name)
        return {n for n, row in info.layout.by_name.items() if row.user} | set(info.pseudo_regs)
    # a KVM-only target: the engine's register names
    from tcgpy.accel.kvm import engine as kvm
    return set(kvm.GPRS) | set(kvm.ALIASES)


def _instructions(t: targets.Target) -> set[str]:
    """Instruction names: the frontend's translators (trans_ADDSUB_i: addsub_i,
    addsub), or, for a target without one, the mnemonics of its difftest's
    instruction rows (its ``forms.OPS``)."""
    out = set()
    if t.frontend:
        for p in get_arch(t.name).decoder.patterns:
            name = p.trans.__name__.removeprefix("trans_").lower()
            out |= {name, name.split("_")[0]}
    else:
        from importlib import import_module
        forms = import_module(t.difftest + ".forms")
        out |= {op.name.split()[0] for op in forms.OPS}
    return out


def _target_words() -> dict[str, set[str]]:
    """What names a target, by kind.  A register name every target has
    (pc, sp: the Emulator API's names for them) names none in particular."""
    regs = [_registers(t) for t in targets.TARGETS]
    shared = set.intersection(*regs)
    return {
        "target": {n for t in targets.TARGETS for n in (t.name, *t.aliases)},
        "register": set().union(*regs) - shared,
        "form class": {c for t in targets.TARGETS for c in classes(t.name)},
        "instruction": set().union(*(_instructions(t) for t in targets.TARGETS)),
    }


def test_each_target_folder_is_a_registered_target():
    folders = {p.parent.name for p in PKG.glob("*/__init__.py")}
    registered = {t.difftest.rsplit(".", 1)[1] for t in targets.TARGETS if t.difftest}
    assert folders == registered
    for t in targets.TARGETS:
        assert not t.difftest or t.difftest == f"{difftest.__name__}.{t.name}"


def test_engine_imports_no_target():
    bad = []
    for path in ENGINE + [COMMAND]:
        for module, name in _imports(path, ast.parse(path.read_text())):
            full = f"{module}.{name}" if name else module
            for target in _target_modules():
                if full == target or full.startswith(target + "."):
                    bad.append(f"{path.relative_to(ROOT)}: imports {full}")
    assert not bad, "\n".join(bad)


def test_engine_names_no_target():
    words = _target_words()
    # (sanity: the sets hold what they should, so an empty result means something)
    assert {"aarch64", "x86_64"} <= words["target"] and {"x5", "nzcv", "rax"} <= words["register"]
    assert {"hlt", "svc", "fsgnj", "imul"} <= words["instruction"] and "addsub_imm" in words["form class"]
    # in words too: docstrings and comments name no target either
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words["target"])) + r")\b", re.IGNORECASE)
    bad = []
    for path in ENGINE + [COMMAND]:
        tree = ast.parse(path.read_text())
        for node in _code_strings(tree):
            for kind, names in words.items():
                if node.value.lower() in names:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r} ({kind})")
        for line, ident in _identifiers(tree):
            if ident.lower() in words["target"] or ident.lower() in words["form class"]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {ident} (identifier)")
        for n, text in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(text):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {text.strip()}")
    assert not bad, "\n".join(bad)


def test_targets_use_only_the_public_interface():
    public = set(difftest.__all__)
    doc = difftest.__doc__
    assert [n for n in public if f"``{n}" not in doc and f":class:`{n}`" not in doc] == []
    engine_modules = {_module(p) for p in ENGINE}
    bad = []
    for path in sorted(PKG.glob("*/*.py")):
        tree = ast.parse(path.read_text())
        for module, name in _imports(path, tree):
            full = f"{module}.{name}" if name else module
            if full in engine_modules and full != difftest.__name__:
                bad.append(f"{path.relative_to(PKG)}: imports engine module {full}")
            elif module == difftest.__name__ and name and name not in public:
                bad.append(f"{path.relative_to(PKG)}: imports {name}, not in tcgpy.difftest.__all__")
            elif module in engine_modules and module != difftest.__name__:
                bad.append(f"{path.relative_to(PKG)}: imports {name} from {module}, "
                           "not from the public interface")
    assert not bad, "\n".join(bad)


def test_engine_targets_declare_an_archdef():
    for t in targets.TARGETS:
        if t.difftest and t.frontend:
            assert isinstance(t.diff_def, ArchDef) and classes(t.name)
