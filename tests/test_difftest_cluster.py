"""Difftest campaigns on Dask (tcgpy.difftest.cluster) and --resume: the same
results as a local run, a worker killed mid-campaign loses no case and counts
none twice, a real ``dask scheduler`` + ``dask worker`` pair finds the
injected bug, and a resumed campaign runs exactly the cases left."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace

import pytest

from tcgpy.difftest import journal
from tcgpy.difftest.campaign import Spec, run_campaign
from tcgpy.difftest.cluster import VersionMismatch, check_versions, connect
from tcgpy.difftest.testing import ENV_VAR

distributed = pytest.importorskip("distributed", reason="the 'cluster' extra is not installed")

ARCH = "aarch64"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INJECT = "a64-add-imm-plus-one"
# Small enough for a loaded 2-core machine; the injected bug (addsub_imm)
# shows in several code groups of it.
SPEC = Spec(ARCH, seed=77, length=3, classes=("addsub_imm", "movw", "csel"))
COUNT = 120


def same_results(a, b) -> None:
    assert a.count == b.count == sum(s.cases for s in a.stats.values())
    assert a.stats == b.stats
    assert [(f.index, f.summary, f.disassembly) for f in a.findings] == \
           [(f.index, f.summary, f.disassembly) for f in b.findings]


@pytest.fixture(scope="module")
def injected():
    """The injected bug in every process started from here on (local pool
    workers, LocalCluster workers, the CLI): they install it from the env."""
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = INJECT
    yield
    if old is None:
        del os.environ[ENV_VAR]
    else:
        os.environ[ENV_VAR] = old


@pytest.fixture(scope="module")
def local_run(injected):
    return run_campaign(SPEC, COUNT, jobs=2)


@pytest.fixture(scope="module")
def pool(injected):
    with connect("local", jobs=2) as p:
        yield p


def test_same_seed_same_results_on_a_local_cluster(local_run, pool, tmp_path):
    assert local_run.findings, "the injected bug must show in this campaign"
    on_dask = run_campaign(replace(SPEC, out=str(tmp_path)), COUNT, executor=pool)
    same_results(on_dask, local_run)
    assert on_dask.where == "dask local" and on_dask.jobs == 2
    # the workers minimized; the client wrote one case file per finding
    assert all(f.length == 1 for f in on_dask.findings)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == \
           sorted(os.path.basename(f.path) for f in on_dask.findings)


def test_a_killed_worker_loses_no_case(local_run, pool):
    client = pool.client
    killed = []

    def kill_a_busy_worker(done, *_):
        if killed:
            return
        busy = {addr: keys for addr, keys in client.processing().items() if keys}
        if not busy:
            return                   # between tasks: try again on the next result
        addr = sorted(busy)[0]
        pid = client.run(os.getpid, workers=[addr])[addr]
        os.kill(pid, signal.SIGKILL)
        killed.append((addr, busy[addr], done))

    summary = run_campaign(SPEC, COUNT, executor=pool, progress=kill_a_busy_worker)
    assert killed and killed[0][2] < COUNT, "the kill must happen mid-campaign, on a busy worker"
    # the scheduler's story of the chunk the worker was running: it ran again
    key = killed[0][1][0]
    story = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.story(key))
    assert sum(1 for event in story if event[2] == "processing") >= 2, story
    same_results(summary, local_run)          # exact: nothing lost, nothing counted twice


def test_interrupted_campaign_resumes_exactly_the_remaining_cases(local_run, pool, tmp_path):
    spec = replace(SPEC, out=str(tmp_path))

    def interrupt(done, *_):
        if done >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_campaign(spec, COUNT, executor=pool, progress=interrupt)
    spec, count = journal.load_header(str(tmp_path))      # as the campaign recorded it
    assert count == COUNT
    recorded = journal.load(str(tmp_path), spec, COUNT)
    before = sum(r.cases for r in recorded.values())
    assert 40 <= before < COUNT
    # the CLI resumes it (locally, on the spec recorded in the directory)
    p = subprocess.run([sys.executable, "-m", "tcgpy", "difftest", "--resume", str(tmp_path),
                        "--jobs", "2", "--json", "--quiet"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr       # the injected bug is found
    doc = json.loads(p.stdout)
    assert doc["count"] == COUNT and doc["ran"] == COUNT - before
    assert doc["per_class"] == {k: vars(v) for k, v in sorted(local_run.stats.items())}
    assert [f["index"] for f in doc["findings"]] == [f.index for f in local_run.findings]
    # every case has exactly one recorded result
    indices = sorted(i for r in journal.load(str(tmp_path), spec, COUNT) for i in r)
    assert indices == list(range(COUNT))


def test_workers_of_other_versions_are_refused():
    ours = journal.versions()
    check_versions({"tcp://a:1": ours, "tcp://b:1": dict(ours)}, ours)
    with pytest.raises(VersionMismatch, match=r"^worker tcp://b:1 runs tcgpy 0\.0\.0.*refusing"):
        check_versions({"tcp://a:1": ours, "tcp://b:1": {**ours, "tcgpy": "0.0.0"}}, ours)


# -- a real scheduler and worker, started here --------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args, env=None) -> subprocess.Popen:
    e = dict(os.environ)
    e.pop(ENV_VAR, None)
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=e,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def difftest(*args, env=None):
    e = dict(os.environ)
    e.pop(ENV_VAR, None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "tcgpy", "difftest", *args],
                          capture_output=True, text=True, cwd=ROOT, env=e, timeout=300)


def test_cli_on_a_real_scheduler_and_worker(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    worker_args = ("worker", address, "--nworkers", "1", "--nthreads", "1",
                   "--host", "127.0.0.1", "--no-dashboard")
    procs = [start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    try:
        procs.append(start(*worker_args))
        clean = difftest(ARCH, "--cluster", address, "--count", "48", "--seed", "9", "--json")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        doc = json.loads(clean.stdout)
        assert doc["where"] == f"dask {address}" and doc["count"] == doc["ran"] == 48
        assert doc["passed"] + doc["known"] == 48 and doc["mismatches"] == 0

        # the same scheduler, now with a worker that has the broken translation
        stop(procs.pop())
        procs.append(start(*worker_args, env={ENV_VAR: INJECT}))
        broken = difftest(ARCH, "--cluster", address, "--count", "40", "--seed", "4",
                          "--classes", "addsub_imm", "--out", str(tmp_path))
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert "MISMATCH" in broken.stdout
    finally:
        for p in reversed(procs):
            stop(p)
    files = sorted(tmp_path.glob("*.json"))
    assert files
    doc = json.loads(files[0].read_text())
    assert len(doc["disassembly"]) == 1 and doc["disassembly"][0].split()[2] == "add"
    [diff] = doc["differences"]
    assert int(diff["tcgpy"], 16) - int(diff["unicorn"], 16) == 1    # exactly the injected bug
    # the case file replays anywhere: here, with and without the bug
    again = difftest("--replay", str(files[0]), env={ENV_VAR: INJECT})
    assert again.returncode == 1 and "reproduced" in again.stdout, again.stdout
    assert difftest("--replay", str(files[0])).returncode == 0


def test_cli_says_what_to_do_when_the_cluster_is_unreachable():
    p = difftest(ARCH, "--cluster", f"tcp://127.0.0.1:{free_port()}", "--count", "4",
                 env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert p.returncode == 2 and "cannot use the Dask cluster" in p.stderr, p.stderr


def test_a_case_that_kills_its_worker_is_a_crash_finding_and_the_campaign_goes_on(tmp_path):
    # Seed 15: cases 0-1 (code with udiv/sdiv) kill the process that
    # translates them; cases 2-3 (movz/movk only) do not.  allowed-failures
    # 0: the scheduler gives up on a task at its first dead worker, so the
    # test restarts three workers rather than twelve.
    p = difftest(ARCH, "--cluster", "local", "--jobs", "2", "--count", "4", "--states", "2",
                 "--length", "3", "--seed", "15", "--classes", "div,movw",
                 "--out", str(tmp_path), "--json",
                 env={ENV_VAR: "a64-div-kills-host",
                      "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    assert p.returncode == 1, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    assert doc["count"] == doc["ran"] == 4
    assert [f["index"] for f in doc["findings"]] == [0, 1]
    assert all("process died" in f["summary"] for f in doc["findings"])
    assert doc["passed"] + doc["known"] == 2
    assert sorted(f.name[:6] for f in tmp_path.glob("*.json")) == ["000000", "000001"]
