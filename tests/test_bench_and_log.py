"""`tcgpy bench` in smoke mode, and the -d logger."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import tcgpy
from tcgpy.log import Logger, parse_items

from .asm import asm

CODE = 0x10000


def test_bench_smoke_json_has_every_field():
    r = subprocess.run([sys.executable, "-m", "tcgpy", "bench", "--smoke", "--json", "--programs"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [row["workload"] for row in res["exec"]] == ["arith", "memory", "indirect", "callret"]
    for row in res["exec"]:
        assert set(row) >= {"guest_insns", "tcgpy_mips", "unicorn_mips", "ratio",
                            "tcgpy_blocks_per_s", "dispatcher_returns", "tcgpy_translate_s"}
        assert row["guest_insns"] > 0 and row["tcgpy_mips"] > 0 and row["unicorn_mips"] > 0
        # one direction everywhere: tcgpy time / peer time
        assert row["ratio"] == pytest.approx(row["unicorn_mips"] / row["tcgpy_mips"])
        # every workload is translated and compiled inside the timed run
        assert 0 < row["tcgpy_translate_s"] < row["guest_insns"] / row["tcgpy_mips"] / 1e6
    tr = res["translate"]
    assert set(tr["stages_s"]) == {"decode", "ir_build", "passes", "llvm_lower", "llvm_compile"}
    assert tr["blocks"] == 50 and tr["tcgpy_blocks_per_s"] > 0 and tr["unicorn_blocks_per_s"] > 0
    assert res["programs"] == []
    assert tr["ratio"] == pytest.approx(tr["unicorn_blocks_per_s"] / tr["tcgpy_blocks_per_s"], rel=0.05)


def test_bench_program_rows_time_wall_and_cpu_against_qemu():
    """The whole-program rows (the mappings benchmark among the defaults)
    give wall and CPU time of both engines, their ratios and whether the
    outputs agree."""
    import os
    import shutil
    from tcgpy import benchmarks
    maps = [argv for argv in benchmarks.default_programs() if os.path.basename(argv[0]) == "libc_maps"]
    assert maps == [[maps[0][0], "many", "100000"]]
    qemu = shutil.which("qemu-aarch64")
    [row] = benchmarks.bench_programs([[maps[0][0], "many", "300"]], qemu)
    assert row["program"] == "libc_maps many 300" and row["tcgpy_status"] == 0
    assert row["tcgpy_s"] > 0 and row["tcgpy_cpu_s"] > 0
    if qemu is None:
        assert "ratio" not in row
    else:
        assert row["same_output"] is True
        assert row["ratio"] == pytest.approx(row["tcgpy_s"] / row["qemu_s"])
        assert row["cpu_ratio"] == pytest.approx(row["tcgpy_cpu_s"] / max(row["qemu_cpu_s"], 1e-3))
        assert "libc_maps many 300: tcgpy" in benchmarks.format_report(
            {"exec": [], "translate": {"blocks": 0, "guest_insns": 0, "tcgpy_blocks_per_s": 0,
                                       "tcgpy_insns_per_s": 0, "unicorn_blocks_per_s": 0, "ratio": 0,
                                       "stages_s": {}},
             "programs": [row]})


def test_bench_program_rows_of_every_target_run_against_its_own_qemu():
    """The default programs hold every frontend target's compute kernels;
    each row is timed against the qemu-user of the program's own target
    (from its ELF header), the best of the runs taken in turns."""
    import os
    import shutil
    from tcgpy import benchmarks
    from tcgpy.targets import lookup
    progs = benchmarks.default_programs("aarch64")
    rv = [argv for argv in progs if "riscv64" in argv[0]]
    assert [[os.path.basename(argv[0])] + argv[1:] for argv in rv] == benchmarks.KERNELS
    assert benchmarks.program_target(rv[0][0]) is lookup("riscv64")
    assert benchmarks.program_target(progs[0][0]) is lookup("aarch64")
    assert benchmarks.program_target(__file__) is None
    # an explicit --qemu is --arch's: the riscv64 program still gets qemu-riscv64
    [row] = benchmarks.bench_programs([[rv[0][0], "hash", "1000"]], "/nonexistent/qemu-aarch64",
                                      arch="aarch64", runs=2)
    assert row["target"] == "riscv64" and row["peer"] == "qemu-riscv64" and row["runs"] == 2
    assert row["tcgpy_status"] == 0 and row["tcgpy_s"] > 0
    if shutil.which("qemu-riscv64") is None:
        assert "ratio" not in row
    else:
        assert row["same_output"] is True
        assert row["ratio"] == pytest.approx(row["tcgpy_s"] / row["qemu_s"])
        text = benchmarks.format_report({"arch": "aarch64", "exec": [], "programs": [row],
                                         "translate": {"blocks": 0, "guest_insns": 0, "tcgpy_blocks_per_s": 0,
                                                       "tcgpy_insns_per_s": 0, "unicorn_blocks_per_s": 0,
                                                       "ratio": 0, "stages_s": {}}})
        assert "fs_bench hash 1000: tcgpy" in text and "qemu-riscv64" in text


def test_bench_plot_without_matplotlib_is_refused_before_running(tmp_path):
    import importlib.util
    if importlib.util.find_spec("matplotlib") is not None:
        pytest.skip("matplotlib is installed here: --plot works")
    r = subprocess.run([sys.executable, "-m", "tcgpy", "bench", "--smoke", "--programs", "--plot",
                        str(tmp_path / "x.png")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and r.stdout == ""          # no benchmark ran
    assert "pip install -e '.[plot]'" in r.stderr and not (tmp_path / "x.png").exists()


def _logged_loop(passes: int, items: str) -> tuple[tcgpy.Emulator, str]:
    """A countdown loop of ``passes`` run with the -d ``items`` logged."""
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, 0x1000)
    emu.mem_write(CODE, asm(f"mov x1, #{passes}; loop: subs x1, x1, #1; b.ne loop; nop"))
    buf = io.StringIO()
    emu.set_log(Logger(parse_items(items), buf))
    emu.run(CODE, until=CODE + 12)
    return emu, buf.getvalue()


def test_logger_items():
    emu, text = _logged_loop(3, "in_asm,op,op_opt,out_asm,exec,cpu")
    assert "0x0000000000010004:  f1000421      subs x1, x1, #1" in text     # in_asm via capstone
    assert "OP:\n ---- 0000000000010000" in text                          # op
    assert "OP after optimization:" in text                                # op_opt
    assert "define preserve_nonecc i32 @tb_" in text and "OUT: [host]" in text
    # exec/cpu turn chaining off, so every block entry is seen: 0x10000 once, 0x10004 twice
    assert text.count("Trace: [") == 3
    assert "X1=0000000000000002" in text
    assert emu.reg_read("x1") == 0


def test_unknown_log_item_is_a_clear_error():
    try:
        parse_items("in_asm,bogus")
    except ValueError as e:
        assert "bogus" in str(e) and "in_asm" in str(e)
    else:
        raise AssertionError("bogus item accepted")


def test_out_asm_of_hot_code_is_the_hot_tier_codegen(monkeypatch):
    """A loop recompiled hot shows the host code of the hot tier's codegen
    level, not the first tier's."""
    from tcgpy import tbcache
    from tcgpy.backends.llvm import jit
    monkeypatch.setattr(tbcache, "HOT_THRESHOLD", 100)
    levels = []
    real = jit.emit_assembly

    def spy(text, hot=False):
        levels.append(hot)
        return real(text, hot)
    monkeypatch.setattr(jit, "emit_assembly", spy)
    emu, log = _logged_loop(1000, "out_asm")
    assert emu.stats.blocks_promoted >= 1
    assert False in levels and True in levels
    hot_text = log.split("OUT: [LLVM IR]\n")[-1].split("\nOUT: [host]\n")[0]
    assert log.rstrip().endswith(real(hot_text, True).rstrip())
    if jit.HOT_CODEGEN_OPT != jit.CODEGEN_OPT:
        assert real(hot_text, True) != real(hot_text, False)
