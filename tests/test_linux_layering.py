"""The Linux layer's structure (issue 15): no import cycle involves a
tcgpy.linux module, function-local imports included (one that only hides a
cycle is still a cycle); the per-target folders (linux/<target>/) hold only
what differs between architectures; and no other module of tcgpy.linux
names a target.  Checked over the source with ``ast`` and ``tokenize``."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from tcgpy import targets
from tcgpy.linux.syscalls import TABLE

PKG = Path(__file__).resolve().parent.parent / "tcgpy"
LINUX = PKG / "linux"


# -- the import graph ----------------------------------------------------------------

def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (getattr(test, "id", None) == "TYPE_CHECKING"
                                         or getattr(test, "attr", None) == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import/ImportFrom node that runs, wherever it sits (functions
    included), except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules of package ``root`` that importing it runs:
    what it imports, and the packages above each of those (importing
    ``a.b.c`` runs ``a/b/__init__.py`` first), except its own packages,
    which Python has imported before the module itself."""
    paths = {_module_name(root, p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in paths.items():
        package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        own_packages = {".".join(package[:i]) for i in range(1, len(package) + 1)}
        names: list[str] = []
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
                continue
            base = package[:len(package) - node.level + 1] if node.level else []
            base_name = ".".join(base + ([node.module] if node.module else []))
            for a in node.names:
                # a submodule, or else a name the module (or package) defines
                sub = f"{base_name}.{a.name}"
                names.append(sub if sub in paths else base_name)
        runs = set()
        for name in names:
            parts = name.split(".")
            runs.add(name)
            runs.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in own_packages)
        graph[mod] = {t for t in runs if t in paths and t != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_check_sees_function_local_imports(tmp_path):
    """The checker itself: a cycle closed only by an import inside a
    function, or through a package's __init__, is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")
    (pkg / "sub" / "__init__.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text("from ..d import y\n")
    (pkg / "d.py").write_text("from .sub.e import z\n")
    (pkg / "sub" / "e.py").write_text("")
    (pkg / "t.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .u import v\n")
    (pkg / "u.py").write_text("from .t import w\n")
    found = cycles(import_graph(pkg))
    assert ["pkg.a", "pkg.b"] in found
    assert ["pkg.d", "pkg.sub", "pkg.sub.c"] in found
    assert not any("pkg.t" in c for c in found)


def test_the_graph_sees_the_linux_layer():
    graph = import_graph(PKG)
    assert "tcgpy.linux.syscalls" in graph["tcgpy.linux.process"]
    assert "tcgpy.linux.vfork" in graph["tcgpy.linux.syscalls.proc"]       # inside sys_clone
    assert "tcgpy.linux.syscalls.fs" in graph["tcgpy.linux.x86_64.syscalls"]


def test_no_import_cycle_involves_the_linux_layer():
    found = [c for c in cycles(import_graph(PKG)) if any(m.startswith("tcgpy.linux") for m in c)]
    assert found == []


# -- what the target folders hold -------------------------------------------------------

# linux/<target>/: its ABI declaration (__init__: LINUX_ARCH, registers at
# process entry, HWCAP), generated kernel constants (numbers, flag bits),
# the signal frame, and syscalls only that target has.
TARGET_MODULES = {"__init__", "kernel_consts", "signal_frame", "syscalls"}
# What a target folder may use of the architecture-neutral layer: the ABI
# description it fills in, the struct layouts it adjusts, and the syscall
# table (and handlers) its own syscalls register in or build on.
TARGET_MAY_IMPORT = ("tcgpy.linux.abi", "tcgpy.linux.structs", "tcgpy.linux.syscalls")


def _linux_targets():
    folders = {}
    for t in targets.TARGETS:
        assert t.linux.startswith("tcgpy.linux."), t.linux
        folders[t.linux.rsplit(".", 1)[1]] = t
    assert set(folders) == {p.name for p in LINUX.iterdir()
                            if p.is_dir() and (p / "__init__.py").exists() and p.name != "syscalls"}
    return folders


def test_target_folders_hold_only_what_differs():
    graph = import_graph(PKG)
    for folder, target in _linux_targets().items():
        modules = {p.stem for p in (LINUX / folder).glob("*.py")}
        assert modules <= TARGET_MODULES, (folder, modules - TARGET_MODULES)
        for m in modules:
            mod = f"tcgpy.linux.{folder}" + ("" if m == "__init__" else f".{m}")
            used = {d for d in graph[mod] if d.startswith("tcgpy.linux.")
                    and not d.startswith(f"tcgpy.linux.{folder}")}
            stray = {d for d in used if not d.startswith(TARGET_MAY_IMPORT)}
            assert not stray, (mod, stray)


def test_target_syscalls_are_the_targets_own():
    """A row a target folder registers is a syscall of that target's kernel
    (riscv_hwprobe, x86-64's open/stat/fork...), so no other target's
    table can pick it up."""
    for folder, target in _linux_targets().items():
        numbers = target.linux_arch.consts.SYSCALLS      # imports the folder: its rows register
        own = [name for name, row in TABLE.rows.items()
               if row.handler.__module__.startswith(f"tcgpy.linux.{folder}.")]
        assert all(name in numbers for name in own), (folder, [n for n in own if n not in numbers])
        for other_folder, other in _linux_targets().items():
            if other_folder != folder:
                shared = [n for n in own if n in other.linux_arch.consts.SYSCALLS]
                assert shared == [], (folder, other_folder, shared)


# -- nothing else names a target ----------------------------------------------------------

TARGET_NAME = re.compile(r"aarch64|arm64|riscv|rv64|x86[_-]?64|amd64", re.IGNORECASE)


def _code_tokens(path: Path):
    """(line, text) of the names and strings of a module, its comments and
    docstrings left out: they may say which architecture a rule comes from."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                docstrings.add(body[0].lineno)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME or (tok.type == tokenize.STRING and tok.start[0] not in docstrings) \
                or tok.type == getattr(tokenize, "FSTRING_MIDDLE", None):
            yield tok.start[0], tok.string


def test_no_module_outside_the_target_folders_names_a_target():
    folders = set(_linux_targets())
    leaks = []
    for path in LINUX.rglob("*.py"):
        rel = path.relative_to(LINUX)
        if rel.parts[0] in folders:
            continue
        for line, text in _code_tokens(path):
            if TARGET_NAME.search(text):
                leaks.append(f"linux/{rel.as_posix()}:{line}: {text}")
    assert leaks == []


def test_the_name_check_sees_code(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('"""Docstring: AArch64."""\n# comment: riscv64\nHINT = f"-L /usr/{x}-aarch64"\nx86_64 = 1\n')
    found = [text for _, text in _code_tokens(path) if TARGET_NAME.search(text)]
    assert len(found) == 2, found
