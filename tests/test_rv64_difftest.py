"""riscv64 against Unicorn: every form class on random operands, the
encoder against Capstone, an exhaustive check of which 16-bit words are
instructions, and the proofs of the known differences (replays and
qemu-riscv64)."""
from __future__ import annotations

import random
import shutil
import subprocess
from collections import Counter

import pytest

from tcgpy.difftest import engine as dt
from tcgpy.difftest.forms import classes
from tcgpy.difftest.riscv64 import encode as E
from tcgpy.difftest.riscv64.known import _is_reserved_c_unicorn_runs

CLASSES = sorted(classes("riscv64"))


def test_every_claimed_extension_has_a_class():
    assert set(CLASSES) == {"alu", "muldiv", "ldst", "branch", "system", "atomic", "fpmove",
                            "rvc", "rvc_any", "fparith"}


@pytest.mark.parametrize("name", CLASSES)
def test_class_against_unicorn(name):
    """200 random cases whose primary class is ``name`` (mixed with the
    others): no mismatch that the known differences do not explain."""
    eng = dt.Engine("riscv64")
    table = classes("riscv64")
    rng = random.Random(f"rv64-{name}")
    statuses = Counter()
    events = Counter()
    for i in range(200):
        primary = [table[name]] * 3 + [table[n] for n in CLASSES]
        case = dt.generate_case("riscv64", primary, rng, 8, label=f"{name} {i}")
        r = eng.run(case)
        statuses[r.status] += 1
        events[r.reference.event.kind] += 1
        assert r.status != "mismatch", f"{case!r}\n{r.mismatch}"
    # most pass outright (the rest are explained by known differences: replays)
    assert statuses["pass"] > 50
    # the runs end in more than one way (the forms reach the code's end)
    assert events["end"] > 20


# (encoder call, Capstone's text): the encoder is independent of the decoder,
# and Capstone is a third reading of the manual
ENCODINGS = [
    (E.r_type(1, 12, 11, 4, 10, 0b0110011), 4, "div a0, a1, a2"),
    (E.i_type(-1, 11, 0, 10, 0b0010011), 4, "addi a0, a1, -1"),
    (E.s_type(-8, 10, 2, 3, 0b0100011), 4, "sd a0, -8(sp)"),
    (E.b_type(-4, 12, 11, 1), 4, "bne a1, a2, -4"),
    (E.j_type(2048, 1), 4, "jal 0x800"),
    (E.u_type(0x80000, 10, 0b0110111), 4, "lui a0, 0x80000"),
    (E.r_type(0b00010 << 2 | 3, 0, 11, 3, 10, 0b0101111), 4, "lr.d.aqrl a0, (a1)"),
    (E.ciw(0b000, 1020, 15, 0b00), 2, "c.addi4spn a5, sp, 0x3fc"),
    (E.cl(0b011, 248, 8, 9, 0b00, (5, 4, 3), (7, 6)), 2, "c.ld s1, 0xf8(s0)"),
    (E.cl(0b010, 124, 8, 9, 0b00, (5, 4, 3), (2, 6)), 2, "c.lw s1, 0x7c(s0)"),
    (E.ci(0b011, -512 & 0x3FF, 2, 0b01, 9, (4, 6, 8, 7, 5)), 2, "c.addi16sp sp, -0x200"),
    (E.ci(0b011, 0x3F << 12, 10, 0b01, 17, (16, 15, 14, 13, 12)), 2, "c.lui a0, 0xfffff"),
    (E.ca(0b100111, 8, 1, 9, 0b01), 2, "c.addw s0, s1"),
    (E.cj(0b101, -2048), 2, "c.j -0x800"),
    (E.cb_branch(0b111, 254, 15), 2, "c.bnez a5, 0xfe"),
    (E.ci(0b011, 504, 1, 0b10, 5, (4, 3, 8, 7, 6)), 2, "c.ldsp ra, 0x1f8(sp)"),
    (E.css(0b111, 504, 1, 0b10, (5, 4, 3, 8, 7, 6)), 2, "c.sdsp ra, 0x1f8(sp)"),
    (E.css(0b110, 252, 1, 0b10, (5, 4, 3, 2, 7, 6)), 2, "c.swsp ra, 0xfc(sp)"),
]


@pytest.mark.parametrize("word, size, text", ENCODINGS, ids=[e[2] for e in ENCODINGS])
def test_encoder_against_capstone(word, size, text):
    import capstone
    cs = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    insn = next(cs.disasm(word.to_bytes(size, "little"), 0))
    assert f"{insn.mnemonic} {insn.op_str}" == text


def _tcgpy_illegal_16(w: int) -> bool:
    from tcgpy.frontends import get_arch
    from tcgpy.ir.ops import Exit, Op
    from tcgpy.translator import translate_block
    blk = translate_block(get_arch("riscv64"), lambda pc: (w, 2) if pc == 0x1000 else None,
                          0x1000, max_insns=1)
    return any(i.op is Op.exit_tb and i.consts[0] == Exit.ILLEGAL for i in blk.insns)


def test_every_16_bit_word_decodes_as_unicorn_does_but_the_reserved_ones():
    """All 49152 compressed words: tcgpy calls a word illegal exactly when
    Unicorn does, except the reserved encodings Unicorn executes (the
    rv64c-reserved-encodings-executed known difference)."""
    import unicorn
    from unicorn import riscv_const as rc
    uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV64)
    uc.reg_write(rc.UC_RISCV_REG_MSTATUS, 0x6000)
    uc.mem_map(0, 0x100000)
    events = []
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda uc, i, u: (events.append(i), uc.emu_stop()))
    differ = []
    for w in range(0x10000):
        if w & 3 == 3:
            continue
        events.clear()
        uc.mem_write(0x1000, w.to_bytes(2, "little"))
        for i in range(1, 32):
            uc.reg_write(rc.UC_RISCV_REG_X0 + i, 0x8000)
        try:
            uc.emu_start(0x1000, 0x1002, count=1)
        except unicorn.UcError:
            pass                         # c.ebreak: UC_ERR_INSN_INVALID, not illegal
        if (2 in events) != _tcgpy_illegal_16(w):
            differ.append(w)
    assert differ and all(_is_reserved_c_unicorn_runs(w) for w in differ)
    assert len(differ) == sum(1 for w in range(0x10000) if _is_reserved_c_unicorn_runs(w))


def _static_riscv_program(tmp_path, halfword: int) -> str:
    src = tmp_path / "w.S"
    src.write_text(f".globl _start\n_start:\n .2byte {halfword:#x}\n .2byte 0x0001\n"
                   " li a7, 93\n li a0, 0\n ecall\n")
    out = tmp_path / "w"
    subprocess.run(["riscv64-linux-gnu-gcc", "-nostdlib", "-static", "-o", str(out), str(src)], check=True)
    return str(out)


@pytest.mark.skipif(not (shutil.which("qemu-riscv64") and shutil.which("riscv64-linux-gnu-gcc")),
                    reason="needs qemu-riscv64 and riscv64-linux-gnu-gcc (the proof of a known difference)")
@pytest.mark.parametrize("halfword", [0x8000, 0x9C41])
def test_reserved_compressed_words_are_sigill_on_qemu(tmp_path, halfword):
    prog = _static_riscv_program(tmp_path, halfword)
    r = subprocess.run(["qemu-riscv64", prog])
    assert r.returncode == -4            # SIGILL
