"""`tcgpy difftest x86_64` (tcgpy/difftest/x86_64/): the KVM engine (the
host CPU) against Unicorn's x86-64 CPU on random integer ALU sequences."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tcgpy.accel import kvm_status
from tcgpy.difftest.x86_64 import campaign as C
from tcgpy.difftest.x86_64 import forms as X

ROOT = Path(__file__).resolve().parent.parent
KVM_PROBLEM = kvm_status()
needs_kvm = pytest.mark.skipif(bool(KVM_PROBLEM), reason=f"KVM cannot run here: {KVM_PROBLEM}")


def test_every_form_encodes_what_it_says():
    """Each encoder's bytes disassemble (capstone) to its own mnemonic and registers."""
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    rng = random.Random(1)
    byte_names = {**{g: g for g in X.GPRS}, "rax": "al", "rcx": "cl", "rdx": "dl", "rbx": "bl",
                  "rbp": "bpl", "rsi": "sil", "rdi": "dil", **{f"r{n}": f"r{n}b" for n in range(8, 16)}}
    for op in X.OPS:
        for _ in range(40):
            d, s, imm = rng.choice(X.USABLE), rng.choice(X.USABLE), rng.choice((0, 1, 63, rng.getrandbits(32)))
            code = op.encode(d, s, imm)
            insns = list(md.disasm(code, 0))
            assert len(insns) == 1 and insns[0].size == len(code), (op.name, code.hex())
            want = op.text(d, s, imm)
            assert insns[0].mnemonic == want.split()[0], (want, insns[0].mnemonic, insns[0].op_str)
            regs = [w.strip(",") for w in want.split()[1:] if w.strip(",") in X.GPRS]
            if op.name.startswith("set"):
                regs = [byte_names[r] for r in regs]
            names = set(X.GPRS) | set(byte_names.values())
            assert [r for r in insns[0].op_str.replace(",", " ").split() if r in names] == regs, \
                (want, insns[0].op_str)


def test_undefined_flags_are_not_compared_until_defined_again():
    op = {o.name: i for i, o in enumerate(X.OPS)}
    case = {"insns": [(op["imul"], 0, 1, 0)]}
    assert X.compared_flags(case) == X.CF | X.OF
    case["insns"].append((op["sar"], 0, 0, 64))          # count 64 & 63 = 0: no flag changes
    assert X.compared_flags(case) == X.CF | X.OF
    case["insns"].append((op["add"], 0, 1, 0))           # defines them all again
    assert X.compared_flags(case) == X.ARITH
    case["insns"].append((op["shl"], 0, 0, 5))           # OF and AF undefined after a 5-bit shift
    assert X.compared_flags(case) == X.ARITH & ~(X.OF | X.AF)


def test_no_instruction_reads_a_flag_left_undefined():
    rng = random.Random(2)
    for _ in range(500):
        case = X.make_case(rng, 10)
        known = X.ARITH
        for op, _, _, imm in case["insns"]:
            assert not X.OPS[op].reads & ~known, X.disassemble(case)
            known = (known | X.OPS[op].defined(imm)) & ~X.OPS[op].undefined(imm)


@needs_kvm
def test_a_campaign_finds_no_unexplained_mismatch():
    r = subprocess.run([sys.executable, "-m", "tcgpy", "difftest", "x86_64", "--count", "300",
                        "--seed", "11", "--length", "8", "--json"],
                       capture_output=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    res = json.loads(r.stdout)
    assert (res["count"], res["seed"], res["mismatches"]) == (300, 11, []), res["mismatches"][:3]
    assert r.returncode == 0


@needs_kvm
def test_a_mismatch_is_reported_and_fails_the_campaign(monkeypatch):
    """The comparison itself: Unicorn started from other registers disagrees."""
    real = C.Runners.run_unicorn

    def off_by_one(self, case, code):
        case = {**case, "regs": {n: (v + 1) & (2 ** 64 - 1) for n, v in case["regs"].items()}}
        return real(self, case, code)
    monkeypatch.setattr(C.Runners, "run_unicorn", off_by_one)
    res = C.run_campaign(5, 3, 4)
    assert len(res["mismatches"]) == 5
    assert "MISMATCH case 0" in C.format_report(res)
