"""CPU models (``Emulator(cpu=...)``, ``tcgpy run -cpu``): a model without a
feature makes that feature's instructions undefined and leaves it out of
AT_HWCAP and /proc/cpuinfo; Armv8.0 instructions run on every model."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import tcgpy
from tcgpy.frontends.aarch64.features import CPU_MODELS, FEATURE_ENCODINGS, IMPLEMENTED

ROOT = Path(__file__).resolve().parent.parent
CODE, DATA = 0x10000, 0x20000

# (word, disassembly, feature); encodings checked with binutils' objdump
OPTIONAL = [
    (0xF8210062, "ldadd x1, x2, [x3]", "atomics"),
    (0xC8A17C62, "cas x1, x2, [x3]", "atomics"),
    (0x48207C82, "casp x0, x1, x2, x3, [x4]", "atomics"),
    (0x9AC24C20, "crc32x w0, w1, x2", "crc32"),
    (0x4E284820, "aese v0.16b, v1.16b", "aes"),
    (0x0EE2E020, "pmull v0.1q, v1.1d, v2.1d", "pmull"),
    (0x5E020020, "sha1c q0, s1, v2.4s", "sha1"),
    (0x5E024020, "sha256h q0, q1, v2.4s", "sha2"),
    (0x1EE22820, "fadd h0, h1, h2", "fphp"),
    (0x4E421420, "fadd v0.8h, v1.8h, v2.8h", "asimdhp"),
    (0x6E828420, "sqrdmlah v0.4s, v1.4s, v2.4s", "asimdrdm"),
]
BASE = [
    (0x1EE24020, "fcvt s0, h1"),
    (0x0E22E020, "pmull v0.8h, v1.8b, v2.8b"),
    (0xC87F0440, "ldxp x0, x1, [x2]"),
    (0x8B020020, "add x0, x1, x2"),
    (0x1E222820, "fadd s0, s1, s2"),
]


def run_one(cpu: str, word: int) -> None:
    emu = tcgpy.Emulator("aarch64", cpu=cpu)
    emu.mem_map(CODE, 0x1000, "rx")
    emu.mem_map(DATA, 0x1000, "rw")
    emu.mem_write(CODE, word.to_bytes(4, "little"))
    for r in ("x2", "x3", "x4"):
        emu.reg_write(r, DATA)
    emu.run(CODE, until=CODE + 4)


def test_every_optional_feature_has_encodings():
    assert set(IMPLEMENTED) - {"fp", "asimd", "asimdhp"} == set(FEATURE_ENCODINGS)
    assert {f for _, _, f in OPTIONAL} == set(IMPLEMENTED) - {"fp", "asimd"}


@pytest.mark.parametrize("word,text,feature", OPTIONAL, ids=[t for _, t, _ in OPTIONAL])
def test_a_model_without_the_feature_refuses_it(word, text, feature):
    run_one("max", word)
    for name, model in CPU_MODELS.items():
        if feature in model.features:
            run_one(name, word)
        else:
            with pytest.raises(tcgpy.IllegalInstruction) as ei:
                run_one(name, word)
            assert ei.value.pc == CODE


@pytest.mark.parametrize("word,text", BASE, ids=[t for _, t in BASE])
def test_armv8_0_instructions_run_on_every_model(word, text):
    for name in CPU_MODELS:
        run_one(name, word)


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown CPU model"):
        tcgpy.Emulator("aarch64", cpu="pentium")


def tcgpy_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "tcgpy", "run", *args], capture_output=True,
                          cwd=ROOT, env=e, timeout=120)


@pytest.mark.parametrize("how", [["-cpu", "armv8.0"], []])
def test_baseline_model_hwcaps_and_cpuinfo(how):
    # TCGPY_CPU (or QEMU_CPU) stands in for -cpu in binfmt-started runs.
    env = {} if how else {"QEMU_CPU": "armv8.0"}
    res = tcgpy_run(*how, "tests/guest/bin/fs_cat", "/proc/cpuinfo", env=env)
    assert res.returncode == 0, res.stderr
    assert "Features\t: fp asimd\n" in res.stdout.decode()
    res = tcgpy_run(*how, "tests/guest/bin/fs_cat", "/proc/self/auxv", env=env)
    auxv = dict(struct.iter_unpack("<QQ", res.stdout))
    assert auxv[16] == 0b11 and auxv[26] == 0       # AT_HWCAP: fp, asimd; AT_HWCAP2: none
    res = tcgpy_run(*how, "tests/guest/bin/libc_hello", env=env)
    assert res.returncode == 0 and res.stdout.startswith(b"hello, world\n")


def test_cpu_help_lists_the_models():
    res = tcgpy_run("-cpu", "help")
    out = res.stdout.decode()
    assert res.returncode == 0 and all(f"  {name} " in out for name in CPU_MODELS)


def test_model_and_block_size_are_part_of_the_cache_key():
    from tcgpy.pcache import namespace
    from tcgpy.persist import namespace_parts
    keys = {namespace(namespace_parts("aarch64", True, False, None, cpu=c, one_insn_per_tb=o))
            for c in CPU_MODELS for o in (False, True)}
    assert len(keys) == 2 * len(CPU_MODELS)
