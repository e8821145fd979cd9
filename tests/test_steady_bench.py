"""The steady-state benchmark (tcgpy/benchmarks_steady.py, ``tcgpy bench
--steady``, bench/steady_bench.py) as a harness: fs_bench (in the repo) at a
tiny scale through the CLI, peak RSS measured for the program and not for the
benchmark's own Python, deterministic inputs, and workloads whose programs are
absent skipped with a note.  No timing is asserted beyond "was measured"."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tcgpy import benchmarks_realprog as rp
from tcgpy import benchmarks_steady as bst

ROOT = Path(__file__).resolve().parent.parent
FS_BENCH = ROOT / "tests" / "guest" / "bin" / "fs_bench"


def test_steady_fs_bench_json_and_table():
    r = subprocess.run([sys.executable, "-m", "tcgpy", "bench", "--steady", "--programs", "fs_bench-hash",
                        "--steady-scale", "0.00004", "--runs", "2", "--json"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert set(res) >= {"runs", "scale", "qemu", "rows", "skipped", "geomean", "notes"}
    assert res["runs"] == 2 and res["skipped"] == []
    [row] = res["rows"]
    assert row["workload"] == "fs_bench-hash" and row["size"] == 10_000
    assert row["command"] == f"{FS_BENCH} hash 10000"
    assert row["tcgpy_s"] > 0 and row["warmup_s"] > 0 and row["timeouts"] == []
    assert row["status"]["tcgpy"] == 0
    # tcgpy is a Python with an LLVM JIT: tens of MiB at least, and not the
    # benchmark's own Python (which made the inputs) either
    assert 20 < row["tcgpy_rss_mib"] < 2000
    if shutil.which("qemu-aarch64"):
        assert row["qemu_s"] > 0 and row["reference"] == "qemu-aarch64"
        assert row["same_output"] is True and row["differs"] == []
        assert row["ratio"] == pytest.approx(row["tcgpy_s"] / row["qemu_s"])
        assert 0 < row["qemu_rss_mib"] < row["tcgpy_rss_mib"]
        assert res["geomean"]["workloads"] == 1 and res["geomean"]["ratio"] == pytest.approx(row["ratio"])
    else:
        assert row["qemu_s"] is None and row["ratio"] is None
        assert any("qemu-aarch64 not installed" in n for n in res["notes"])
    text = bst.format_steady_report(res)
    assert ">1 means tcgpy is slower" in text
    assert "\nfs_bench-hash " in text and "\ngeomean " in text


def test_missing_programs_are_skipped_with_a_note(tmp_path):
    res = bst.run_steady(["perl", "openssl-sha256"], runs=1, scale=0.01, sysroot=tmp_path / "nothing",
                         qemu=None, progress=None)
    assert res["rows"] == []
    assert [s["workload"] for s in res["skipped"]] == ["openssl-sha256", "perl"]
    assert all("get_startup_programs.sh" in s["reason"] for s in res["skipped"])
    text = bst.format_steady_report(res)
    assert "skipped perl" in text and "skipped openssl-sha256" in text


def test_peak_rss_is_the_programs_own(tmp_path):
    """A child started by a big Python would report that Python's RSS
    (Linux keeps the peak across execve); the launcher keeps it small."""
    ballast = bytearray(300 << 20)                     # noqa: F841 - makes this Python big
    ballast[::4096] = b"\1" * len(ballast[::4096])
    o = rp.run_steps([], [["/bin/true"]], {}, tmp_path, None, 60, rss=True)
    assert o.status == [0] and o.seconds is not None
    assert 0 < o.maxrss_kib < 64 << 10
    o = rp.run_steps([sys.executable], [["-c", "b = bytearray(200 << 20); b[::4096] = b'1' * len(b[::4096])"]],
                     {}, tmp_path, None, 60, rss=True)
    assert 200 << 10 < o.maxrss_kib < 280 << 10


def test_digest_outputs_and_failures(tmp_path):
    o = rp.run_steps([], [["/bin/echo", "a"], ["/bin/echo", "b"]], {}, tmp_path, None, 60, digest=True, rss=True)
    import hashlib
    assert o.stdout == hashlib.sha256(b"a\nb\n").hexdigest().encode() and o.status == [0, 0]
    o = rp.run_steps([], [["/bin/false"]], {}, tmp_path, None, 60, rss=True)
    assert o.status == [1] and rp.first_failure(o) == 1


def test_inputs_are_deterministic_and_sized():
    a, b = bst.mixed_bytes(300_000), bst.mixed_bytes(300_000)
    assert a == b and len(a) == 300_000
    lines = bst.text_lines(1000).splitlines()
    assert len(lines) == 1000 and all(len(x.split()) == 4 for x in lines)
    assert bst.text_lines(1000) == bst.text_lines(1000)


def test_sizes_scale_and_stay_whole():
    by_name = {w.name: w for w in bst.WORKLOADS}
    assert by_name["sort"].sized(0.1) == 150_000 and isinstance(by_name["sort"].sized(0.1), int)
    assert by_name["openssl-sha256"].sized(0.01) == 2
    assert by_name["xz-9"].sized(0.5) == pytest.approx(1.5)
    assert bst.runs_and_scale(True, 3, None) == (1, bst.QUICK_SCALE)
    assert bst.runs_and_scale(False, 2, None) == (2, 1.0)
    assert len(set(bst.WORKLOAD_NAMES)) == len(bst.WORKLOADS)


# A stand-in for ``python -m tcgpy``: ``run PROG ARGS`` runs PROG natively,
# after FAKE_SLEEP seconds and with FAKE_EXTRA appended to its arguments.
FAKE_TCGPY = [sys.executable, "-c", "import os, sys, time; time.sleep(float(os.environ.get('FAKE_SLEEP', 0))); "
                                    "os.execv(sys.argv[2], sys.argv[2:] + os.environ.get('FAKE_EXTRA', '').split())"]
ECHO = bst.Workload("echo", "echo", lambda c, n: [["hi"] * n], 2, dynamic=False)


def _bench_fake(tmp_path, timeout: float, **env: str) -> dict:
    ctx = bst.Ctx(tmp_path, Path("/bin"), tmp_path)
    cache = rp.CacheCtl(FAKE_TCGPY, {})
    cache.available = False                            # nothing to wait for
    return bst.bench_workload(ECHO, ctx, ECHO.size, FAKE_TCGPY, "/usr/bin/env", 2, timeout,
                              {"PATH": "/usr/bin:/bin", **env}, cache, tmp_path)


def test_a_timed_out_warm_up_is_a_lower_bound_not_a_difference(tmp_path):
    row = _bench_fake(tmp_path, 2.0, FAKE_SLEEP="60")
    assert row["timeouts"] == ["tcgpy"] and row["tcgpy_s"] is None and row["ratio"] is None
    assert row["qemu_s"] > 0 and row["ratio_at_least"] == pytest.approx(2.0 / row["qemu_s"])
    assert row["differs"] == [] and row["same_output"] is None
    res = {"runs": 2, "scale": 1.0, "rows": [row], "skipped": [], "notes": [],
           "geomean": {"ratio": row["ratio_at_least"], "workloads": 1, "lower_bound": True, "over_2x": []}}
    line = next(x for x in bst.format_steady_report(res).splitlines() if x.startswith("echo "))
    assert ">2.00" in line and "TIMEOUT(tcgpy)" in line


def test_outputs_are_checked_against_qemu(tmp_path):
    row = _bench_fake(tmp_path, 60.0)
    assert row["same_output"] is True and row["ratio"] == pytest.approx(row["tcgpy_s"] / row["qemu_s"])
    row = _bench_fake(tmp_path, 60.0, FAKE_EXTRA="x")
    assert row["differs"] == ["tcgpy"] and row["same_output"] is False
