"""LLVM on the background thread (tcgpy/backends/llvm/background.py, what
``tcgpy run`` uses): blocks waiting for their code are interpreted, and code
compiled from guest code that changed meanwhile is never installed."""
from __future__ import annotations

import os
import struct

import pytest

import tcgpy
from tcgpy import tbcache
from tcgpy.backends.llvm.background import Job

from .asm import asm

CODE = 0x10000
DATA = 0x20000

# x0 = sum over i < n of (i + 1) * x5: the loop's constant lives in x5 so
# that a test can rewrite the instruction that uses it.
LOOP = """
    mov x0, #0
    mov x1, #0
    mov x6, #{n}
loop:
    add x1, x1, #1
    madd x0, x1, x5, x0
    cmp x1, x6
    b.ne loop
    str x0, [x4]
"""

# (the cold tier and the LLVM first tier: what the baseline tier bypasses)
pytestmark = pytest.mark.usefixtures("no_baseline")


@pytest.fixture(autouse=True)
def _patient(monkeypatch, request):
    # Tests that hold the worker (its _busy lock) let blocks be interpreted
    # for as long as they like: waiting for the worker would never end.
    if "waits" not in request.node.name:
        monkeypatch.setattr(tbcache, "WAIT_RUNS", 10**9)
    # LLVM from the first batch on, whether or not this process loaded it
    # yet (make_held turns the hold on)
    monkeypatch.setattr(tbcache, "LLVM_START", 0)


def make(code: bytes, cold_runs: int = 2) -> tcgpy.Emulator:
    emu = tcgpy.Emulator("aarch64", icount=False)
    emu.set_background_compile(True)
    emu.cache.cold_runs = cold_runs
    emu.mem_map(CODE, 0x4000, "rwx")
    emu.mem_map(DATA, 0x4000, "rw")
    emu.mem_write(CODE, code)
    return emu


def run(emu, code, n, x5=1):
    emu.reg_write("x4", DATA)
    emu.reg_write("x5", x5)
    emu.run(CODE, until=CODE + len(code))
    return struct.unpack("<Q", emu.mem_read(DATA, 8))[0]


def expect(n, x5=1):
    return sum((i + 1) * x5 for i in range(n))


def test_results_do_not_depend_on_when_the_code_comes():
    code = asm(LOOP.format(n=500))
    emu = make(code)
    assert run(emu, code, 500, 3) == expect(500, 3)
    emu.cache.wait_compiled()
    assert emu.stats.blocks_translated > 0
    assert not any(tb.compiling for tb in emu.cache.cold.values())
    assert run(emu, code, 500, 5) == expect(500, 5)      # now compiled code
    assert all(tb.ir is None for tb in emu.cache.blocks.values())


def test_code_rewritten_while_compiling_is_not_installed():
    code = asm(LOOP.format(n=50))
    emu = make(code)
    bg = emu.cache.background
    bg._busy.acquire()          # the worker takes no job meanwhile
    try:
        assert run(emu, code, 50) == expect(50)
        assert bg.queue, "the loop's blocks should be waiting for the worker"
        # madd -> msub: x0 -= x1 * x5 (the stale code would still add)
        offset = code.index(asm("madd x0, x1, x5, x0"))
        emu.mem_write(CODE + offset, asm("msub x0, x1, x5, x0"))
    finally:
        bg._busy.release()
    emu.cache.wait_compiled()
    want = (-expect(50)) & (2**64 - 1)
    assert run(emu, code, 50) == want
    assert run(emu, code, 50) == want


def queued(n: int):
    """An emulator that ran the loop while the worker was held: its
    blocks' compiles are queued, not done (the worker may take them now)."""
    code = asm(LOOP.format(n=n))
    emu = make(code)
    bg = emu.cache.background
    with bg._busy:
        assert run(emu, code, n) == expect(n)
        assert bg.queue
    return emu, code, bg


def test_a_flush_drops_what_is_still_compiling():
    emu, code, bg = queued(50)
    emu.flush_cache()
    assert bg.pending == 0 and not emu.cache.blocks
    assert run(emu, code, 50, 2) == expect(50, 2)


def test_a_forked_child_compiles_what_its_parent_left_queued():
    emu, code, bg = queued(200)
    # (the fork waits for the job in hand: never a child whose llvmlite lock is held)
    pid = os.fork()
    if pid == 0:
        try:
            emu.cache.wait_compiled()
            ok = run(emu, code, 200, 7) == expect(200, 7) and emu.stats.blocks_translated > 0
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    emu.cache.wait_compiled()
    assert run(emu, code, 200, 4) == expect(200, 4)


def test_switching_it_off_installs_what_is_pending():
    code = asm(LOOP.format(n=100))
    emu = make(code)
    assert run(emu, code, 100) == expect(100)
    emu.set_background_compile(False)
    assert emu.cache.background is None
    assert emu.cache.cold_runs == tcgpy.emulator.COLD_RUNS
    assert not any(tb.compiling for tb in emu.cache.cold.values())
    assert run(emu, code, 100, 9) == expect(100, 9)


def test_a_hot_loop_rewritten_while_compiling_keeps_its_new_code():
    from tcgpy.tbcache import HOT_THRESHOLD
    n = 3 * HOT_THRESHOLD
    code = asm(LOOP.format(n=n))
    emu = make(code)
    bg = emu.cache.background
    with bg._busy:                              # interpreted throughout: nothing counts
        assert run(emu, code, n) == expect(n)
    emu.cache.wait_compiled()                   # first tier now
    assert not any(tb.hot for tb in emu.cache.blocks.values())
    bg._busy.acquire()
    try:
        assert run(emu, code, n) == expect(n)
        hot_jobs = [job for job in bg.queue if job.info["kind"] == "hot"]
        assert hot_jobs, "the loop should have turned hot"
        offset = code.index(asm("madd x0, x1, x5, x0"))
        emu.mem_write(CODE + offset, asm("msub x0, x1, x5, x0"))
    finally:
        bg._busy.release()
    emu.cache.wait_compiled()
    assert not any(tb.hot for tb in emu.cache.blocks.values())
    want = (-expect(n)) & (2**64 - 1)
    assert run(emu, code, n) == want


def test_a_forked_child_compiles_only_once_it_looks_up_code():
    # (the persistent cache's saver is such a child: it never runs guest
    # code again, and must not spend a core on its parent's queue)
    emu, code, bg = queued(200)
    # (the worker may take some of the queue before the fork)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        left = bool(bg.queue)
        idle = bg._thread is None and bg.orphaned == left
        emu.cache.lookup(CODE)
        resumed = not bg.orphaned and (bg._thread is not None or not left)
        os.write(w, bytes([idle, resumed]))
        os._exit(0)
    os.close(w)
    got = os.read(r, 2)
    os.waitpid(pid, 0)
    assert got == bytes([1, 1])


def test_access_functions_are_made_in_the_background_and_kept(tmp_path, monkeypatch):
    # A fresh process's access functions: compiled by the background thread
    # and written to the persistent cache when saving, even when no lookup
    # installed the job first; a later run loads them (no LLVM).
    from tcgpy.backends.llvm import jit
    from tcgpy.backends.llvm.runtime import ACCESS_KEYS
    from tcgpy.ir.ops import MemOp
    monkeypatch.setattr(jit, "_runtime_fns", {})          # as in a new process
    # Without the LLVM hold: whether it applies depends on whether an earlier
    # test in this process loaded LLVM (the held case has its own test).
    monkeypatch.setattr(tbcache, "LLVM_START", 0)
    emu = tcgpy.Emulator("aarch64", icount=False, cache_dir=str(tmp_path))
    emu.set_background_compile(True)
    # every job submitted (the worker may have taken one out of the queue
    # and not yet put it in done)
    submitted = []
    submit = emu.cache.background.submit
    monkeypatch.setattr(emu.cache.background, "submit", lambda job: (submitted.append(job), submit(job)))

    def access_jobs():
        return [job for job in submitted if job.info["kind"] == "access"]
    assert access_jobs() == []          # not before anything is translated (a warm run never is)
    emu.mem_map(CODE, 0x1000, "rx")
    emu.mem_write(CODE, asm("nop\nbrk #0"))
    emu.cache.lookup(CODE)
    jobs = access_jobs()
    assert len(jobs) == 1
    keys = [key for key in ACCESS_KEYS if not key[0] & MemOp.TBI]
    assert sorted(jobs[0].info["texts"]) == sorted(keys)
    emu.cache.background.wait_all()
    import tcgpy.persist as persist
    persist.save_now(emu)
    assert jobs[0].info.get("kept")
    monkeypatch.setattr(jit, "_runtime_fns", {})
    compiled = []
    monkeypatch.setattr(jit, "compile_runtime_functions", lambda *a, **k: compiled.append(a))
    monkeypatch.setattr(jit, "_target_machine", lambda *a: compiled.append(a))
    later = tcgpy.Emulator("aarch64", icount=False, cache_dir=str(tmp_path))
    later.set_background_compile(True)
    later.mem_map(CODE, 0x1000, "rx")
    later.mem_write(CODE, asm("nop\nbrk #0"))
    later.cache.lookup(CODE)                # (its first translation: the access functions are looked for)
    assert not later.cache.background.queue and not later.cache.background.pending
    fns = later.cache.rt.access_fns
    assert all(fns.get(key) for key in keys) and not compiled


def test_the_worker_blocks_every_host_signal():
    # Started before tcgpy run blocks host signals on the guest's thread
    # (its first job is queued at start-up): a SIGALRM for the guest must
    # not be handed to it (the default action would kill tcgpy).
    import signal
    import threading
    emu = tcgpy.Emulator("aarch64", icount=False)
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    emu.set_background_compile(True)
    bg = emu.cache.background
    bg.submit(Job(lambda: None, kind="test"))
    bg.wait_all()
    bg.take()
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before      # the caller's mask is back
    worker = next(t for t in threading.enumerate() if t is bg._thread)
    with open(f"/proc/self/task/{worker.native_id}/status") as f:
        blocked = int(next(line for line in f if line.startswith("SigBlk:")).split()[1], 16)
    for sig in (signal.SIGALRM, signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        assert blocked >> (sig - 1) & 1, signal.Signals(sig).name


def test_a_block_waiting_too_long_for_its_code_waits_for_it():
    # The worker is busy (a job that takes a while): the loop's blocks are
    # interpreted up to WAIT_RUNS x cold_runs times, then the guest waits
    # for their code instead of interpreting a hot loop all along.
    import threading
    code = asm(LOOP.format(n=2000))
    emu = make(code)
    bg = emu.cache.background
    gate = threading.Event()
    bg.submit(Job(lambda: gate.wait(), kind="test"))
    threading.Timer(0.2, gate.set).start()
    assert run(emu, code, 2000) == expect(2000)
    bg.take()
    loop_pc = CODE + 12
    tb = emu.cache.blocks.get(loop_pc)
    assert tb is not None and tb.ir is None          # compiled
    assert emu.stats.cold_runs < 3 * tbcache.WAIT_RUNS * emu.cache.cold_runs


def _hot_while_held(tmp_path, n):
    """A run whose loop turns hot while the worker is held: its hot code
    is still on the queue when the run ends."""
    code = asm(LOOP.format(n=n))
    emu = tcgpy.Emulator("aarch64", icount=False, cache_dir=str(tmp_path))
    emu.set_background_compile(True)
    emu.cache.cold_runs = 2
    emu.mem_map(CODE, 0x4000, "rwx")
    emu.mem_map(DATA, 0x4000, "rw")
    emu.mem_write(CODE, code)
    bg = emu.cache.background
    with bg._busy:
        assert run(emu, code, n) == expect(n)
    emu.cache.wait_compiled()
    bg._busy.acquire()
    assert run(emu, code, n) == expect(n)
    assert [job for job in bg.queue if job.info["kind"] == "hot"], "the loop should have turned hot"
    return emu, code, bg


def test_a_loop_still_compiling_when_the_run_ends_is_saved(tmp_path):
    from tcgpy import persist
    from tcgpy.tbcache import HOT_THRESHOLD
    n = 3 * HOT_THRESHOLD
    emu, code, bg = _hot_while_held(tmp_path, n)
    try:
        assert persist.save(emu.cache) > 0        # (the saver: the hot job never ran)
    finally:
        bg._busy.release()
    later = tcgpy.Emulator("aarch64", icount=False, cache_dir=str(tmp_path))
    later.mem_map(CODE, 0x4000, "rwx")
    later.mem_map(DATA, 0x4000, "rw")
    later.mem_write(CODE, code)
    assert run(later, code, n) == expect(n)
    s = later.stats
    assert s.blocks_promoted > 0 and s.hot_regions_loaded + s.modules_loaded > s.pcache_hits
    assert s.modules_compiled == 0 and s.blocks_translated == 0


def test_a_hot_loop_whose_code_changed_is_not_saved_under_its_old_key(tmp_path):
    from tcgpy import persist
    from tcgpy.tbcache import HOT_THRESHOLD
    n = 3 * HOT_THRESHOLD
    emu, code, bg = _hot_while_held(tmp_path, n)
    try:
        (key, _), = emu.cache.hot_records.items()
        offset = code.index(asm("madd x0, x1, x5, x0"))
        emu.mem_write(CODE + offset, asm("msub x0, x1, x5, x0"))
        persist.save(emu.cache)
    finally:
        bg._busy.release()
    assert emu.cache.pcache.read(key, count=False) is None


def test_hot_loops_queue_behind_the_code_blocks_wait_for():
    """A block waiting for its first-tier code is interpreted meanwhile (and
    then the guest waits); a hot loop runs first-tier code meanwhile: its
    job goes behind theirs."""
    from tcgpy.backends.llvm.background import BackgroundCompiler
    bc = BackgroundCompiler()
    order = []
    jobs = [Job(lambda k=k: order.append(k), kind=kind) for k, kind in
            enumerate(["hot", "first", "hot", "access", "first"])]
    with bc._busy:                  # the worker takes nothing meanwhile
        for job in jobs:
            bc.submit(job)
        assert [j.info["kind"] for j in bc.queue] == ["first", "access", "first", "hot", "hot"]
    bc.wait_all()
    assert order == [1, 3, 4, 0, 2]


def test_a_block_that_waits_for_its_code_does_not_wait_for_later_jobs(monkeypatch):
    """The guest waits for the job with its block's code, not for every
    job queued after it (a hot loop's compile can take a tenth of a second)."""
    monkeypatch.setattr(tbcache, "WAIT_RUNS", 1)
    import threading
    code = asm(LOOP.format(n=300))
    emu = make(code)
    bg = emu.cache.background
    gate = threading.Event()
    later = Job(lambda: gate.wait(30), kind="other")   # (waited for: the test fails after 30 s)
    real_submit = bg.submit

    def submit(job):                # every compile gets a slow job queued behind it
        real_submit(job)
        if job.info.get("kind") == "first":
            real_submit(later)
    monkeypatch.setattr(bg, "submit", submit)
    assert run(emu, code, 300) == expect(300)
    assert bg.pending >= 1          # the slow job was not waited for
    gate.set()
    bg.wait_all()


# -- LLVM held back until enough work waits for it (tbcache.hold_llvm) ----------------------

def make_held(monkeypatch, code: bytes, start: int) -> tcgpy.Emulator:
    """An emulator of a process that has not loaded LLVM (the test process
    has), holding its first-tier batches until ``start`` runs."""
    monkeypatch.setattr(tbcache, "LLVM_START", start)
    monkeypatch.setattr(tbcache.jit, "loaded", lambda: False)
    return make(code)


def compiled_from_now_on(emu, code: bytes, x5: int) -> None:
    """Once what was released is compiled, the loop runs compiled code only."""
    emu.cache.wait_compiled()
    assert emu.stats.modules_compiled > 0
    assert run(emu, code, 20, x5) == expect(20, x5)
    assert all(tb.ir is None for tb in emu.cache.blocks.values())


def test_llvm_waits_until_enough_interpreted_runs(monkeypatch):
    code = asm(LOOP.format(n=20))
    emu = make_held(monkeypatch, code, 200)
    assert run(emu, code, 20, 3) == expect(20, 3)
    cache = emu.cache
    # blocks past cold_runs, held: nothing went to LLVM
    assert cache.held and 0 < cache.held_runs < 200
    assert cache.background.pending == 0 and emu.stats.modules_compiled == 0
    emu.cache.wait_compiled()
    assert emu.stats.modules_compiled == 0
    for _ in range(10):
        assert run(emu, code, 20, 5) == expect(20, 5)
    assert cache.held is None            # 200 runs: handed to the background compiler
    compiled_from_now_on(emu, code, 7)


def test_held_blocks_whose_code_changed_are_not_compiled(monkeypatch):
    code = asm(LOOP.format(n=20))
    emu = make_held(monkeypatch, code, 10**9)
    assert run(emu, code, 20, 3) == expect(20, 3)
    held = [c for _, colds in emu.cache.held for c in colds]
    assert held
    # the loop's add becomes an add of 2: the held blocks of that page go
    new = asm(LOOP.format(n=20).replace("add x1, x1, #1", "add x1, x1, #2").replace("#20", "#40"))
    emu.mem_write(CODE, new)
    assert not any(c.valid for c in held)
    emu.cache.release_llvm()
    emu.cache.wait_compiled()
    assert emu.stats.modules_compiled == 0       # nothing left to compile of them
    assert run(emu, new, 20, 1) == sum(range(2, 41, 2))


def test_held_batches_go_once_llvm_is_loaded_anyway(monkeypatch):
    # (a hot loop's compile, or a fork's prefetch, loaded it): the next
    # batch that earns compiling takes the held ones along
    code = asm(LOOP.format(n=20))
    emu = make_held(monkeypatch, code, 10**9)
    assert run(emu, code, 20, 3) == expect(20, 3)
    held = [c for _, colds in emu.cache.held for c in colds]
    assert held and emu.stats.modules_compiled == 0
    monkeypatch.setattr(tbcache.jit, "loaded", lambda: True)
    other = asm(LOOP.format(n=20).replace("x0", "x7").replace("str x7, [x4]", "str x7, [x4, #8]"))
    emu.mem_write(CODE + 0x1000, other)
    emu.reg_write("x4", DATA)
    emu.reg_write("x5", 2)
    emu.run(CODE + 0x1000, until=CODE + 0x1000 + len(other))
    assert struct.unpack("<Q", emu.mem_read(DATA + 8, 8))[0] == expect(20, 2)
    assert emu.cache.held is None
    emu.cache.wait_compiled()
    assert all(not c.compiling for c in held)
    assert all(emu.cache.blocks.get(c.pc) is not None for c in held)


def test_held_batches_wait_for_the_access_functions_job(monkeypatch):
    # Released while the access functions' job is still at the worker, the
    # held batches stay held (interpreted): lowered then, each would make
    # the access functions its code calls again, on the guest's thread.
    from tcgpy.backends.llvm import jit
    from tcgpy.backends.llvm.runtime import ACCESS_KEYS, access_fn_name
    monkeypatch.setattr(jit, "_runtime_fns", {})          # as in a new process
    access_names = {access_fn_name(*key) for key in ACCESS_KEYS}
    made_here = []                  # access functions made on the guest's thread
    runtime_functions = jit.runtime_functions

    def spy(text, names, *rest):
        made_here.extend(n for n in names if n in access_names)
        return runtime_functions(text, names, *rest)
    monkeypatch.setattr(jit, "runtime_functions", spy)
    code = asm(LOOP.format(n=20))
    emu = make_held(monkeypatch, code, 10**9)
    cache, bg = emu.cache, emu.cache.background
    with bg._busy:
        assert run(emu, code, 20, 3) == expect(20, 3)
        assert cache.held and not bg.queue
        cache.release_llvm()
        assert [job.info["kind"] for job in bg.queue] == ["access"]
        assert cache.held, "the held batches should wait for the access functions"
        assert run(emu, code, 20, 5) == expect(20, 5)        # interpreted meanwhile
        assert [job.info["kind"] for job in bg.queue] == ["access"]
    bg.wait_all()
    assert run(emu, code, 20, 7) == expect(20, 7)            # its lookups install the job
    assert cache.held is None
    compiled_from_now_on(emu, code, 9)
    assert not made_here


def test_switching_it_off_compiles_what_was_held(monkeypatch):
    code = asm(LOOP.format(n=20))
    emu = make_held(monkeypatch, code, 10**9)
    assert run(emu, code, 20, 3) == expect(20, 3)
    assert emu.cache.held
    emu.set_background_compile(False)
    assert emu.cache.held is None and emu.stats.modules_compiled > 0
    assert run(emu, code, 20, 5) == expect(20, 5)


def test_access_functions_held_with_llvm_are_still_kept(tmp_path, monkeypatch):
    # A run that never loaded LLVM makes no access-function job; its save
    # compiles and keeps those the cache lacks, so the next run loads them.
    from tcgpy.backends.llvm import jit
    from tcgpy.backends.llvm.runtime import ACCESS_KEYS
    from tcgpy.ir.ops import MemOp
    monkeypatch.setattr(jit, "_runtime_fns", {})          # as in a new process
    monkeypatch.setattr(tbcache, "LLVM_START", 10**9)
    monkeypatch.setattr(tbcache.jit, "loaded", lambda: False)
    emu = tcgpy.Emulator("aarch64", icount=False, cache_dir=str(tmp_path))
    emu.set_background_compile(True)
    emu.cache.cold_runs = 2
    emu.mem_map(CODE, 0x1000, "rx")
    emu.mem_write(CODE, asm("nop\nbrk #0"))
    emu.cache.lookup(CODE)
    assert not emu.cache.background.queue and not emu.cache.background.pending
    import tcgpy.persist as persist
    persist.save_now(emu)
    monkeypatch.setattr(jit, "_runtime_fns", {})
    compiled = []
    monkeypatch.setattr(jit, "compile_runtime_functions", lambda *a, **k: compiled.append(a))
    monkeypatch.setattr(jit, "_target_machine", lambda *a: compiled.append(a))
    later = tcgpy.Emulator("aarch64", icount=False, cache_dir=str(tmp_path))
    keys = [key for key in ACCESS_KEYS if not key[0] & MemOp.TBI]
    fns = later.cache.rt.access_fns
    assert all(fns.get(key) for key in keys) and not compiled


@pytest.mark.parametrize("start,loads", [("10000", False), ("0", True)], ids=["held", "not-held"])
def test_a_short_first_run_never_loads_llvm(tmp_path, start, loads):
    """glibc's hello, with nothing in a persistent cache (none at all here):
    its blocks are interpreted, held back from LLVM, and no host code is
    needed, so llvmlite's LLVM is never imported (-X importtime lists every
    import); with the hold off, the same run imports it."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "TCGPY_CACHE": "0", "TCGPY_LLVM_START": start}
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "tcgpy", "run",
                          str(root / "tests" / "guest" / "bin" / "libc_hello")],
                         env=env, capture_output=True, timeout=300)
    assert res.returncode == 0 and res.stdout.startswith(b"hello, world\n")
    assert (b"| llvmlite.binding\n" in res.stderr) == loads
