"""The target registry: one declaration per guest, looked up by name or ELF
header, and the boundary it keeps (nothing outside a target's folders names
it)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tcgpy import targets
from tcgpy.difftest import ArchDef, StandaloneDifftest
from tcgpy.frontends import get_arch
from tcgpy.linux.abi import get_linux_arch

ROOT = Path(__file__).resolve().parent.parent / "tcgpy"


def test_lookup_by_name_alias_and_elf():
    assert targets.lookup("arm64") is targets.lookup("aarch64")
    assert targets.lookup("RV64").name == "riscv64"
    assert targets.from_elf("EM_RISCV").name == "riscv64"
    assert targets.from_elf(183).name == "aarch64"
    assert targets.from_elf("EM_X86_64").kvm                  # a KVM-only target
    assert targets.from_elf("EM_MIPS") is None
    with pytest.raises(ValueError, match="supported: aarch64/arm64, riscv64/rv64/rv64gc, x86_64"):
        targets.lookup("mips")
    assert targets.names(tcg=True) == ("aarch64", "riscv64")


def test_every_target_provides_its_pieces():
    for t in targets.TARGETS:
        assert get_linux_arch(t.elf_machine).name == t.name
        if not t.frontend:           # KVM only: no frontend; its difftest puts the host CPU against Unicorn
            assert t.kvm
            with pytest.raises(ValueError, match="no TCG frontend"):
                get_arch(t.name)
            assert isinstance(t.diff_def, StandaloneDifftest)
            continue
        arch = get_arch(t.name)
        assert arch.target is t and arch.name == t.name
        assert isinstance(t.diff_def, ArchDef) and t.diff_def.gprs


def test_fetch_rule():
    rv = targets.lookup("riscv64")
    mem = {0x1000: b"\x05\x05", 0x1002: b"\x13\x05", 0x1004: b"\x10\x00"}

    def read(addr, n):
        b = b"".join(mem.get(a, b"") for a in range(addr, addr + n, 2))
        return int.from_bytes(b, "little") if len(b) == n else None
    assert rv.fetch(read, 0x1000) == (0x0505, 2)              # c.addi a0,1
    assert rv.fetch(read, 0x1002) == (0x00100513, 4)          # addi a0,zero,1
    assert rv.fetch(read, 0x1001) is None                     # misaligned
    assert rv.words(b"\x05\x05\x13\x05\x10\x00") == [0x0505, 0x00100513]
    a64 = targets.lookup("aarch64")
    assert a64.fetch(lambda a, n: 0xD503201F, 0x1002) is None
    assert a64.fetch(lambda a, n: 0xD503201F, 0x1004) == (0xD503201F, 4)


# Files outside riscv64's own folders that may name it: the registry and the
# shared helper table (helper ids must not depend on which targets are
# loaded).
RISCV_ALLOWED = {"targets.py", "ir/helpers.py"}


def test_riscv64_stays_in_its_folders():
    pattern = re.compile(r"riscv|rv64|\bfsgnj|\becall\b", re.IGNORECASE)
    leaks = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in RISCV_ALLOWED or "/riscv64/" in f"/{rel}":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                leaks.append(f"{rel}:{n}: {line.strip()}")
    assert not leaks, "\n".join(leaks)


# -- target semantics live with the target -------------------------------------------

def test_ir_and_backends_import_no_target_folder():
    """The IR and the backends reach a target's semantics through
    tcgpy.ir.semantics (the target declares the module), never by importing
    a frontend, function-local imports included."""
    from tests.test_linux_layering import import_graph
    target_pkgs = {f"tcgpy.frontends.{t.name}" for t in targets.TARGETS}
    leaks = [f"{mod} imports {dep}"
             for mod, deps in import_graph(ROOT).items()
             if mod.startswith(("tcgpy.ir.", "tcgpy.backends."))
             for dep in deps if dep in target_pkgs or dep.startswith(tuple(p + "." for p in target_pkgs))]
    assert not leaks, "\n".join(leaks)


def test_the_import_check_sees_a_target_import(tmp_path):
    from tests.test_linux_layering import import_graph
    pkg = tmp_path / "tcgpy"
    for d in ("ir", "frontends/aarch64"):
        (pkg / d).mkdir(parents=True)
    for f in ("__init__.py", "ir/__init__.py", "frontends/__init__.py", "frontends/aarch64/__init__.py",
              "frontends/aarch64/fpsem.py"):
        (pkg / f).write_text("")
    (pkg / "ir" / "x.py").write_text("def f():\n    from ..frontends.aarch64 import fpsem\n")
    assert "tcgpy.frontends.aarch64.fpsem" in import_graph(pkg)["tcgpy.ir.x"]


def test_semantics_are_found_through_the_declaring_target():
    from tcgpy.ir import semantics
    for t in targets.TARGETS:
        for name, module in t.semantics:
            assert semantics.lookup(name).__name__ == module
            assert module.startswith(t.frontend + "."), (name, module)
    with pytest.raises(LookupError):
        semantics.lookup("no_such_semantics")


# Arm's FP control and status registers and its crypto instructions, as
# words of Python identifiers (FPCR_FZ, sem_sha, AES_SBOX, fpsr).
ARM_WORDS = {"fpcr", "fpsr", "aes", "sha"}
# Modules outside the Arm target's folders (frontends/, linux/, difftest/
# aarch64) allowed to name them, and why: the host-code lowerings of Arm's
# semantics, which test FPCR fields for their fast path and compute AES/SHA.
ARM_NAMES_ALLOWED = {
    "backends/llvm/lower_arm_fp.py": "the native FP shortcut holds only under FPCR round-to-nearest, no FZ",
    "backends/llvm/lower_arm_vec_crypto.py": "host code for Arm's AES and SHA instructions",
}


def _identifiers(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, ast.arg):
            yield node.arg
        elif isinstance(node, ast.alias):
            yield from (node.name.rsplit(".", 1)[-1], node.asname or "")


def test_arm_fp_and_crypto_names_stay_with_aarch64():
    leaks = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ARM_NAMES_ALLOWED or "/aarch64/" in f"/{rel}":
            continue
        for ident in set(_identifiers(ast.parse(path.read_text(), str(path)))):
            if {w.lower() for w in ident.split("_")} & ARM_WORDS:
                leaks.append(f"{rel}: {ident}")
    assert not leaks, "\n".join(leaks)
    assert all((ROOT / rel).exists() for rel in ARM_NAMES_ALLOWED)


def test_top_byte_ignore_is_the_aarch64_linux_setting():
    """MemOp.TBI is a mechanism (ignore the address's top byte); turning it
    on is AArch64 Linux's choice: only an aarch64 folder sets ``tbi=True``,
    and no line elsewhere that speaks of it explains it as Arm's."""
    setters, arm_talk = [], []
    arm = re.compile(r"aarch64|\barm\b|\bEL0\b|\bTCR", re.IGNORECASE)
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if "/aarch64/" in f"/{rel}":
            continue
        text = path.read_text()
        for node in ast.walk(ast.parse(text, str(path))):
            if (isinstance(node, ast.keyword) and node.arg == "tbi"
                    and isinstance(node.value, ast.Constant) and node.value.value is True):
                setters.append(f"{rel}:{node.value.lineno}")
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"tbi|top.byte", line, re.IGNORECASE) and arm.search(line):
                arm_talk.append(f"{rel}:{n}: {line.strip()}")
    assert not setters, setters
    assert not arm_talk, "\n".join(arm_talk)
    on = {t.name for t in targets.TARGETS if t.linux_arch.tbi}
    assert on == {"aarch64"}


def test_every_helper_is_declared_before_any_target_semantics_loads():
    """Translated code calls helpers by index, and the persistent cache's
    code names them by index: the table (jit.base) is made once per process,
    before a run whose code all comes from the cache has imported any
    target's semantics, so no semantics module may add a helper."""
    import subprocess
    import sys
    code = (
        "from tcgpy.ir.helpers import HELPERS\n"
        "before = [h.name for h in HELPERS]\n"
        "from tcgpy import targets\n"
        "from tcgpy.ir import semantics\n"
        "for t in targets.TARGETS:\n"
        "    for name, _ in t.semantics:\n"
        "        semantics.lookup(name)\n"
        "import tcgpy.backends.llvm.lower\n"
        "assert [h.name for h in HELPERS] == before, (before, [h.name for h in HELPERS])\n"
        "assert 'vec_env' in before\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT.parent, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name", targets.names(tcg=True))
def test_frontend_builds_its_decoder_only_when_something_is_translated(name):
    """A run whose blocks all come from the persistent cache translates
    nothing: importing a frontend (its registers, gdb view) must not import
    its instruction modules or build its decoder; asking for the decoder does."""
    import subprocess
    import sys
    code = ("import sys; from tcgpy.targets import lookup; a = lookup(%r).arch; "
            "insn = lambda: sorted(m for m in sys.modules if m.startswith(a.target.frontend + '.insn_')); "
            "print(insn()); a.decoder; print(bool(insn()))" % name)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=ROOT.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["[]", "True"]
