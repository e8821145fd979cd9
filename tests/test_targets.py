"""The target registry: one declaration per guest, looked up by name or ELF
header, and the boundary it keeps (nothing outside a target's folders names
it)."""
from __future__ import annotations

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
