"""The start-up benchmark (tcgpy/benchmarks_startup.py, ``tcgpy bench
--startup``, bench/startup_bench.py) in smoke mode: libc_hello once, cold,
warm, without the cache and under qemu-aarch64 when installed."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tcgpy import benchmarks_startup as bs

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "tests" / "guest" / "bin" / "libc_hello"


def test_startup_smoke_json_and_table():
    r = subprocess.run([sys.executable, "-m", "tcgpy", "bench", "--startup", "--smoke", "--json"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert set(res) >= {"runs", "sysroot", "qemu", "rows", "skipped", "geomean", "notes"}
    assert res["runs"] == 1 and res["skipped"] == []
    [row] = res["rows"]
    assert row["program"] == "hello" and row["command"] == str(HELLO)
    for k in ("cold_s", "warm_s", "nocache_s"):
        assert 0 < row[k] < 60
    assert row["status"]["cold"] == row["status"]["warm"] == row["status"]["nocache"] == 0
    assert row["timeouts"] == []
    qemu = shutil.which("qemu-aarch64")
    if qemu:
        assert row["qemu_s"] > 0 and row["reference"] == "qemu-aarch64"
        assert row["same_output"] is True and row["differs"] == []
        assert row["cold_ratio"] == pytest.approx(row["cold_s"] / row["qemu_s"])
        assert row["warm_ratio"] == pytest.approx(row["warm_s"] / row["qemu_s"])
        assert res["geomean"]["programs_with_qemu"] == 1
    else:
        assert row["qemu_s"] is None and row["cold_ratio"] is None
        assert any("qemu-aarch64 not installed" in n for n in res["notes"])
    # the table says which way is better and has the row and the geomean
    text = bs.format_startup_report(res)
    assert ">1 means tcgpy is slower" in text
    assert "\nhello " in text and "\ngeomean " in text


def test_startup_missing_programs_are_skipped_with_a_note(tmp_path):
    res = bs.run_startup(["perl"], sysroot=tmp_path / "nothing", qemu=None, progress=None)
    assert res["rows"] == []
    [s] = res["skipped"]
    assert s["program"] == "perl" and "get_startup_programs.sh" in s["reason"]
    assert "skipped perl" in bs.format_startup_report(res)


def test_busybox_rows_of_every_target_run_one_command_line(tmp_path):
    """The rows compare targets: each busybox row runs the same shell
    command, only the program (and its qemu-user) differ."""
    ctx = bs.Ctx(sysroot=tmp_path, bin=tmp_path, work=tmp_path)
    rows = {c.name: c for c in bs.CASES if c.name.startswith("busybox-")}
    assert "busybox-sh" in rows and "busybox-riscv64" in rows
    commands = {name: [argv[1:] for argv in c.steps(ctx)] for name, c in rows.items()}
    assert all(steps == [bs.BUSYBOX_SH] for steps in commands.values()), commands
    assert rows["busybox-riscv64"].qemu_binary == "qemu-riscv64"
