"""The persistent translation cache (tcgpy/pcache.py, tcgpy/persist.py):
what a warm run loads is exactly what a cold run would translate, and
nothing on disk can make tcgpy run stale or broken code.

Guest programs through ``tcgpy run``, cold then warm, are in
test_linux_guest.py (test_program_cold_then_warm)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tcgpy
from tcgpy import pcache, persist, tbcache

from .asm import asm

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "tests" / "guest" / "bin" / "libc_hello"
CODE = 0x10000
DATA = 0x20000

# A loop and a call into a second page: several blocks, chained.
LOOP = bytes.fromhex(
    "20 14 00 91"      # 0x10000: add  x0, x1, #5
    "00 04 00 f1"      # 0x10004: subs x0, x0, #1
    "e1 ff ff 54"      # 0x10008: b.ne 0x10004
    "fe 03 00 94"      # 0x1000c: bl   0x11004
    "00 00 20 d4")     # 0x10010: brk  #0
CALLEE = bytes.fromhex(
    "42 10 00 91"      # 0x11004: add  x2, x2, #4
    "c0 03 5f d6")     # 0x11008: ret


def _emu(cache_dir, code=LOOP, x1=1000, **kw) -> tcgpy.Emulator:
    emu = tcgpy.Emulator("aarch64", cache_dir=str(cache_dir), **kw)
    emu.mem_map(CODE, 0x3000, perms="rx")
    emu.mem_map(DATA, 0x1000, perms="rw")
    emu.mem_write(CODE, code)
    emu.mem_write(0x11004, CALLEE)
    emu.reg_write("x1", x1)
    return emu


def _run(emu) -> tuple[int, int]:
    with pytest.raises(tcgpy.GuestTrap) as e:
        emu.run(CODE)
    assert e.value.pc == 0x10010
    return emu.reg_read("x0"), emu.reg_read("x2")


def _entries(d: Path) -> list[Path]:
    return [p for p in d.rglob("*") if p.is_file() and p.parent.parent.parent == d]


def test_warm_run_loads_instead_of_translating(tmp_path):
    cold = _emu(tmp_path)
    assert _run(cold) == (0, 4)
    # (the miss at 0x10000 translates the callee with it: one page looked up)
    assert cold.stats.pcache_hits == 0 and cold.stats.pcache_misses == 1
    before = set(_entries(tmp_path))                    # (base code and runtime functions)
    assert cold.save_cache() == 2                       # two code pages
    assert cold.save_cache() == 0                       # nothing new to write
    assert len(set(_entries(tmp_path)) - before) == 2
    warm = _emu(tmp_path)
    assert _run(warm) == (0, 4)
    s = warm.stats
    assert s.pcache_hits == 2 and s.pcache_misses == 0 and s.modules_loaded == 2
    assert s.blocks_translated == s.cold_blocks == 0    # nothing translated, nothing compiled


def test_hot_loops_still_promote_from_loaded_code(tmp_path):
    e = _emu(tmp_path)
    _run(e)
    e.save_cache()
    warm = _emu(tmp_path, x1=100_000)
    assert _run(warm) == (0, 4)
    assert warm.stats.pcache_blocks > 0 and warm.stats.blocks_promoted > 0


def test_one_changed_byte_misses(tmp_path):
    e = _emu(tmp_path)
    _run(e)
    e.save_cache()
    changed = bytearray(LOOP)
    changed[0] = 0x40                                   # add x0, x1, #5 -> add x0, x2, #5
    warm = _emu(tmp_path, bytes(changed))
    warm.reg_write("x2", 7)
    assert _run(warm) == (0, 11)
    assert warm.stats.pcache_misses == 1 and warm.stats.blocks_translated > 0


def test_other_tcgpy_version_shares_nothing(tmp_path, monkeypatch):
    e = _emu(tmp_path)
    _run(e)
    e.save_cache()
    monkeypatch.setattr(tcgpy, "__version__", "0.0.0-other")
    other = _emu(tmp_path)
    _run(other)
    assert other.stats.pcache_hits == 0 and other.stats.pcache_misses == 1
    monkeypatch.undo()
    again = _emu(tmp_path)
    _run(again)
    assert again.stats.pcache_hits == 2


def test_self_modifying_code_with_a_warm_cache(tmp_path):
    code = bytes.fromhex(
        "41 00 40 b9"      # 0x10000: ldr  w1, [x2]
        "61 00 00 b9"      # 0x10004: str  w1, [x3]      (rewrites 0x10100)
        "3e 00 00 14"      # 0x10008: b    0x10100
    ) + bytes(0xF4) + bytes.fromhex(
        "20 00 80 d2"      # 0x10100: movz x0, #1
        "00 00 20 d4")     # 0x10104: brk  #0

    def emu(new_word: bytes) -> tcgpy.Emulator:
        e = tcgpy.Emulator("aarch64", cache_dir=str(tmp_path))
        e.mem_map(CODE, 0x1000, perms="rwx")
        e.mem_map(DATA, 0x1000, perms="rw")
        e.mem_write(CODE, code)
        e.mem_write(DATA, new_word)
        e.reg_write("x2", DATA)
        e.reg_write("x3", 0x10100)
        with pytest.raises(tcgpy.GuestTrap):
            e.run(CODE)
        return e

    first = emu(bytes.fromhex("20 00 80 d2"))            # stores the same movz x0, #1
    assert first.reg_read("x0") == 1
    first.save_cache()
    warm = emu(bytes.fromhex("40 00 80 d2"))             # movz x0, #2 over the cached block
    assert warm.stats.pcache_blocks > 0
    assert warm.reg_read("x0") == 2


CORRUPTIONS = {
    "truncated": lambda b: b[:len(b) // 2],
    "empty": lambda b: b"",
    "garbage": lambda b: os.urandom(len(b)),
    "flipped code byte": lambda b: b[:-40] + bytes([b[-40] ^ 0x01]) + b[-39:],
    "flipped metadata byte": lambda b: b[:60] + bytes([b[60] ^ 0x20]) + b[61:],
    "header only": lambda b: b[:pcache.HEADER.size],
    "longer": lambda b: b + b"\0" * 16,
}


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_damaged_entries_are_misses(tmp_path, how):
    e = _emu(tmp_path)
    _run(e)
    e.save_cache()
    for path in _entries(tmp_path):
        path.write_bytes(CORRUPTIONS[how](path.read_bytes()))
    notes = []
    warm = _emu(tmp_path)
    warm.set_cache_dir(str(tmp_path), warn=notes.append)
    assert _run(warm) == (0, 4)
    assert warm.stats.pcache_hits == 0 and warm.stats.pcache_misses == 1
    assert notes and all(n.startswith("tcgpy: cache: ignoring") for n in notes), notes


def test_entry_under_another_name_is_a_miss(tmp_path):
    e = _emu(tmp_path)
    _run(e)
    e.save_cache()
    a, b = _entries(tmp_path)
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    warm = _emu(tmp_path)
    assert _run(warm) == (0, 4)
    assert warm.stats.pcache_hits == 0


def test_unwritable_cache_is_quietly_off(tmp_path):
    (tmp_path / "file").write_text("")
    e = _emu(tmp_path / "file" / "cache")        # a path below a file: nothing can be made there
    assert _run(e) == (0, 4)
    assert e.save_cache() == 0


def test_cache_writable_by_every_user_is_not_used(tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    d.chmod(0o777)
    e = _emu(d)
    _run(e)
    assert e.save_cache() == 0 and not _entries(d)


def test_eviction_keeps_the_cap(tmp_path):
    c = pcache.PersistentCache(str(tmp_path), "ab" * 16)
    for i in range(10):
        key = f"{i:040x}"
        assert c.write(key, {"i": i}, bytes(100_000))
        os.utime(c.path(key), (1000 + i, 1000 + i))
    assert c.read(f"{9:040x}") is not None          # a read makes it the most recent
    freed = pcache.evict(str(tmp_path), cap=500_000)
    left = sorted(p.name for p in _entries(tmp_path))
    assert freed > 0 and sum(p.stat().st_size for p in _entries(tmp_path)) <= 450_000
    assert f"{9:040x}"[2:] in left and f"{0:040x}"[2:] not in left


def _tcgpy(*args, cache_dir, sync=True, **kw):
    env = {**os.environ, "TCGPY_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    if sync:
        env["TCGPY_CACHE_SYNC"] = "1"
    return subprocess.Popen([sys.executable, "-m", "tcgpy", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "background"])
def test_eight_processes_share_one_empty_cache(tmp_path, sync):
    procs = [_tcgpy("run", str(HELLO), cache_dir=tmp_path, sync=sync) for _ in range(8)]
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert out.startswith(b"hello, world\n"), err
    assert pcache.wait_for_writers(str(tmp_path), timeout=120)
    warm = _tcgpy("run", "--stats", str(HELLO), cache_dir=tmp_path)
    out, err = warm.communicate(timeout=120)
    assert out.startswith(b"hello, world\n") and warm.returncode == 0
    stats = {k.strip(): v for k, v in (line.split(":") for line in err.decode().splitlines()[1:] if ":" in line)}
    assert int(stats["pcache_hits"]) > 0 and int(stats["pcache_misses"]) == 0, err


def _warm_hello_stats(cache_dir) -> dict:
    warm = _tcgpy("run", "--stats", str(HELLO), cache_dir=cache_dir)
    out, err = warm.communicate(timeout=120)
    assert out.startswith(b"hello, world\n") and warm.returncode == 0, err
    return {k.strip(): int(v) for k, v in (line.split(":", 1) for line in err.decode().splitlines()[1:]
                                           if ":" in line and line.split(":", 1)[1].strip().isdigit())}


def test_a_saver_queues_behind_another_writer(tmp_path):
    """A short process's saver that finds another process writing waits for
    it (``git init; git add`` keeps the second process's pages too)."""
    writer = pcache.WriterLock(str(tmp_path))
    assert writer.acquire()
    try:
        p = _tcgpy("run", str(HELLO), cache_dir=tmp_path, sync=False)
        assert p.communicate(timeout=120)[0].startswith(b"hello")
        # its saver holds a place in the queue before the run's pipes close
        assert not pcache.wait_for_writers(str(tmp_path), timeout=0.1)
        before = set(_entries(tmp_path))      # (the runtime functions the run itself stored)
    finally:
        writer.release()
    assert pcache.wait_for_writers(str(tmp_path), timeout=120)
    assert set(_entries(tmp_path)) - before
    s = _warm_hello_stats(tmp_path)
    assert s["pcache_hits"] > 0 and s["pcache_misses"] == 0


def test_a_saver_gives_up_when_the_queue_is_full(tmp_path):
    held = [pcache.WriterLock(str(tmp_path))] + [pcache.WriterLock(str(tmp_path), f"writer.queue{i}")
                                                 for i in range(pcache.QUEUE_SLOTS)]
    assert all(lock.acquire() for lock in held)
    try:
        p = _tcgpy("run", str(HELLO), cache_dir=tmp_path, sync=False)
        assert p.communicate(timeout=120)[0].startswith(b"hello")
        log = tmp_path / "runs.log"
        for _ in range(6000):                 # the saver logs its run as it leaves
            if log.exists() and log.read_text().endswith("\n"):
                break
            time.sleep(0.02)
        assert log.read_text().split()[-1] == "0"      # no pages written
    finally:
        for lock in held:
            lock.release()
    assert _warm_hello_stats(tmp_path)["pcache_misses"] > 0


def test_cache_command(tmp_path):
    p = _tcgpy("run", str(HELLO), cache_dir=tmp_path)
    assert p.communicate(timeout=120)[0].startswith(b"hello")
    p = _tcgpy("cache", "stats", "--json", cache_dir=tmp_path)
    s = json.loads(p.communicate(timeout=60)[0])
    assert s["entries"] > 0 and s["bytes"] > 0 and s["runs"] == 1 and s["hits"] == 0
    p = _tcgpy("cache", "clear", cache_dir=tmp_path)
    assert b"deleted" in p.communicate(timeout=60)[0] and p.returncode == 0
    p = _tcgpy("cache", "stats", "--json", cache_dir=tmp_path)
    assert json.loads(p.communicate(timeout=60)[0])["entries"] == 0


def test_no_cache_flag_and_variable(tmp_path):
    for args, env in ((["run", "--no-cache"], {}), (["run"], {"TCGPY_CACHE": "0"})):
        p = subprocess.run([sys.executable, "-m", "tcgpy", *args, str(HELLO)], cwd=ROOT, timeout=120,
                           capture_output=True,
                           env={**os.environ, **env, "TCGPY_CACHE_DIR": str(tmp_path),
                                "TCGPY_CACHE_SYNC": "1", "PYTHONPATH": str(ROOT)})
        assert p.returncode == 0 and p.stdout.startswith(b"hello")
    assert not _entries(tmp_path)


def test_full_disk(tmp_path):
    """A cache on a file system with no room left: writes fail (ENOSPC),
    runs go on, and what was written whole is used."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k,mode=0700", "tmpfs",
                                            str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("needs root and a mountable tmpfs to make a full file system")
    try:
        for _ in range(2):
            p = _tcgpy("run", "-d", "cache", str(HELLO), cache_dir=mnt)
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and out.startswith(b"hello, world\n"), err
        assert b"No space left on device" in err, err
        assert not [f for f in mnt.rglob(".*.tmp")]          # no partial file left behind
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_cache_directories_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        e = _emu(tmp_path / "new" / "cache")
        _run(e)
        assert e.save_cache() == 2
    finally:
        os.umask(old)
    root = tmp_path / "new" / "cache"
    for d in [root] + [p for p in root.rglob("*") if p.is_dir()]:
        assert d.stat().st_mode & 0o777 == 0o700, d


def test_run_until_a_cached_block(tmp_path):
    """run(until=) stops at a block start even when the page's cached blocks
    (that one among them) are installed together: nothing chains into it."""
    e = _emu(tmp_path)
    _run(e)
    e.save_cache()
    warm = _emu(tmp_path, x1=3)
    warm.run(CODE, until=0x1000c)            # the bl, which the loop's exit falls into
    assert warm.reg_read("pc") == 0x1000c and warm.reg_read("x0") == 0 and warm.reg_read("x2") == 0
    assert warm.stats.pcache_hits == 1


def test_hot_loop_comes_from_the_cache(tmp_path):
    first = _emu(tmp_path, x1=100_000)
    assert _run(first) == (0, 4)
    assert first.stats.blocks_promoted > 0
    first.save_cache()
    warm = _emu(tmp_path, x1=100_000)
    assert _run(warm) == (0, 4)
    s = warm.stats
    assert s.blocks_promoted > 0 and s.modules_compiled == 0 and s.blocks_translated == 0
    assert s.modules_loaded > s.pcache_hits             # the pages' modules and the loop's


# A loop whose address range holds a block that runs only after the loop:
# the first run had not translated it when the loop turned hot, a warm run
# has it (the whole page is loaded), and must still choose the first run's
# region (whose compiled code is in the cache) rather than compile another.
LOOP_AROUND = bytes.fromhex(
    "20 14 00 91"      # 0x10000: add  x0, x1, #5
    "00 04 00 f1"      # 0x10004: subs x0, x0, #1       (header)
    "61 00 00 54"      # 0x10008: b.ne 0x10014
    "42 10 00 91"      # 0x1000c: add  x2, x2, #4       (after the loop)
    "00 00 20 d4"      # 0x10010: brk  #0
    "fc ff ff 17")     # 0x10014: b    0x10004          (the loop's back edge)


def test_warm_run_chooses_the_hot_region_the_first_run_compiled(tmp_path):
    def run(emu):
        with pytest.raises(tcgpy.GuestTrap) as e:
            emu.run(CODE)
        assert e.value.pc == 0x10010
        return emu.reg_read("x0"), emu.reg_read("x2")

    first = _emu(tmp_path, code=LOOP_AROUND, x1=100_000)
    assert run(first) == (0, 4)
    assert first.stats.blocks_promoted > 0
    first.save_cache()
    warm = _emu(tmp_path, code=LOOP_AROUND, x1=100_000)
    assert run(warm) == (0, 4)
    s = warm.stats
    assert s.blocks_promoted > 0 and s.hot_regions_loaded + s.modules_loaded > s.pcache_hits
    assert s.modules_compiled == 0 and s.blocks_translated == 0


# Vec ops whose lowering names module-internal functions and constant tables
# (lower_arm_vec_lanes, lower_arm_vec_crypto: @tcgpy_mod_*), in a loop that gets hot.
VEC_LOOP = bytes.fromhex(
    "20 48 28 4e"      # 0x10000: aese    v0.16b, v1.16b             (S-box table)
    "00 68 28 4e"      # 0x10004: aesmc   v0.16b, v0.16b
    "62 40 04 5e"      # 0x10008: sha256h q2, q3, v4.4s             (out-of-line function)
    "05 e0 e2 4e"      # 0x1000c: pmull2  v5.1q, v0.2d, v2.2d       (clmul64)
    "06 20 05 4e"      # 0x10010: tbl     v6.16b, {v0.16b, v1.16b}, v5.16b
    "70 00 40 4c"      # 0x10014: ld4     {v16.16b-v19.16b}, [x3]
    "10 1e 26 6e"      # 0x10018: eor     v16.16b, v16.16b, v6.16b
    "70 40 00 4c"      # 0x1001c: st3     {v16.16b-v18.16b}, [x3]
    "c7 38 30 6e"      # 0x10020: uaddlv  h7, v6.16b
    "21 1c 26 6e"      # 0x10024: eor     v1.16b, v1.16b, v6.16b
    "21 04 00 f1"      # 0x10028: subs    x1, x1, #1
    "a1 fe ff 54"      # 0x1002c: b.ne    0x10000
    "00 00 20 d4")     # 0x10030: brk     #0
VEC_REGS = ["x1", "x3"] + [f"q{i}" for i in (0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19)]


def _vec_loop(emu, n: int) -> dict:
    emu.mem_write(DATA, bytes(range(256)) * 16)
    for i, r in enumerate(VEC_REGS[2:]):
        emu.reg_write(r, int.from_bytes(bytes((7 * i + 13 * k) & 0xFF for k in range(16)), "little"))
    emu.reg_write("x1", n)
    emu.reg_write("x3", DATA)
    with pytest.raises(tcgpy.GuestTrap) as e:
        emu.run(CODE)
    assert e.value.pc == CODE + len(VEC_LOOP) - 4
    return {r: emu.reg_read(r) for r in VEC_REGS} | {"data": bytes(emu.mem_read(DATA, 64))}


def _unicorn_vec_loop(n: int) -> dict:
    import unicorn
    from unicorn import arm64_const as A
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.mem_map(CODE, 0x3000)
    uc.mem_map(DATA, 0x1000)
    uc.mem_write(CODE, VEC_LOOP)
    uc.mem_write(DATA, bytes(range(256)) * 16)
    uc.reg_write(A.UC_ARM64_REG_CPACR_EL1, 3 << 20)       # FP/SIMD on at EL0
    ids = {r: getattr(A, f"UC_ARM64_REG_{r.upper()}") for r in VEC_REGS}
    for i, r in enumerate(VEC_REGS[2:]):
        uc.reg_write(ids[r], int.from_bytes(bytes((7 * i + 13 * k) & 0xFF for k in range(16)), "little"))
    uc.reg_write(ids["x1"], n)
    uc.reg_write(ids["x3"], DATA)
    uc.emu_start(CODE, CODE + len(VEC_LOOP) - 4)
    return {r: uc.reg_read(ids[r]) for r in VEC_REGS} | {"data": bytes(uc.mem_read(DATA, 64))}


def test_vec_ops_with_module_tables_and_functions_load_from_the_cache(tmp_path):
    """Relocatable code that carries the S-box and the SHA/AES/clmul
    functions: the warm run (first-tier page module and hot loop, both
    loaded) computes what the cold run and Unicorn compute."""
    n = 20_000                  # well past tbcache.HOT_THRESHOLD loop iterations
    cold = tcgpy.Emulator("aarch64", cache_dir=str(tmp_path))
    cold.mem_map(CODE, 0x3000, perms="rx")
    cold.mem_map(DATA, 0x1000, perms="rw")
    cold.mem_write(CODE, VEC_LOOP)
    want = _vec_loop(cold, n)
    assert cold.stats.blocks_promoted > 0
    cold.save_cache()
    warm = tcgpy.Emulator("aarch64", cache_dir=str(tmp_path))
    warm.mem_map(CODE, 0x3000, perms="rx")
    warm.mem_map(DATA, 0x1000, perms="rw")
    warm.mem_write(CODE, VEC_LOOP)
    assert _vec_loop(warm, n) == want
    s = warm.stats
    assert s.pcache_hits > 0 and s.modules_compiled == 0 and s.blocks_translated == 0
    assert s.blocks_promoted > 0
    assert _unicorn_vec_loop(n) == want


def test_hot_code_loaded_from_the_cache_counts_its_indirect_jumps(tmp_path):
    """Hot code counts its indirect jumps (what hot code calls through a
    pointer or a PLT stub turns hot too); the counters are part of what the
    cache keeps, so a warm run's loaded hot code counts them as well."""
    code = asm("""
        movz x5, #0x1, lsl #16
        movk x5, #0x1004
    loop:
        blr x5
        subs x1, x1, #1
        b.ne loop
        brk #0
    """)
    first = _emu(tmp_path, code=code, x1=100_000)
    assert _run_to_brk(first, CODE + len(code) - 4) == 400_000
    call = CODE + 8
    assert first.cache.blocks[call].hot and first.cache.blocks[call].counters
    first.save_cache()
    warm = _emu(tmp_path, code=code, x1=100_000)
    assert _run_to_brk(warm, CODE + len(code) - 4) == 400_000
    tb = warm.cache.blocks[call]
    assert tb.hot and tb.counters and all(warm.cache.counter_owner[i] is tb for i in tb.counters)
    assert warm.stats.modules_compiled == 0


def _run_to_brk(emu, brk_pc: int) -> int:
    with pytest.raises(tcgpy.GuestTrap) as e:
        emu.run(CODE)
    assert e.value.pc == brk_pc
    return emu.reg_read("x2")


# A loop across a page boundary: its header at the end of one page, the
# block with its back edge at the start of the next.
ACROSS = {0x10FF4: "20 14 00 91"       # add  x0, x1, #5
                   "00 04 00 f1"       # subs x0, x0, #1       (header, 0x10ff8)
                   "42 04 00 91",      # add  x2, x2, #1
          0x11000: "c1 ff ff 54"       # b.ne 0x10ff8
                   "00 00 20 d4"}      # brk  #0


def test_chosen_region_loads_the_pages_of_its_blocks(tmp_path):
    """The region an earlier run chose is taken even when a page of it has
    not been entered yet in this run (its blocks come from the persistent
    cache): else the loop got another region, and was compiled again, in
    every run."""
    def emu():
        e = tcgpy.Emulator("aarch64", cache_dir=str(tmp_path))
        e.mem_map(CODE, 0x3000, perms="rx")
        for addr, hexcode in ACROSS.items():
            e.mem_write(addr, bytes.fromhex(hexcode))
        e.reg_write("x1", 100_000)
        return e

    first = emu()
    with pytest.raises(tcgpy.GuestTrap):
        first.run(0x10FF4)
    assert first.reg_read("x2") == 100_005 and first.stats.blocks_promoted > 0
    first.save_cache()
    warm = emu()
    warm.cache.lookup(0x10FF8)                      # the header's page only
    assert 0x11000 not in warm.cache.blocks
    region = persist.chosen_region(warm.cache, 0x10FF8, 0x11000)
    assert region is not None and [tb.pc for tb in region] == [0x10FF8, 0x11000]


@pytest.mark.usefixtures("no_baseline")
def test_a_page_another_process_was_writing_is_looked_up_again(tmp_path, monkeypatch):
    """A run that misses a page while another process writes the cache
    (the same program's previous run, whose saver is still at work) looks
    for it again before compiling its blocks, and loads them."""
    monkeypatch.setattr(tbcache, "WRITER_POLL", 0.0)     # (no wait between the looks)
    lock = pcache.WriterLock(str(tmp_path))
    assert lock.acquire()                       # a saver at work
    late = _emu(tmp_path, x1=2, icount=False)   # (the cold tier: not with exact counts)
    late.run(CODE, until=0x1000C)               # the loop's block ran 7 times, interpreted
    assert late.stats.pcache_misses == 1 and late.stats.pcache_late == 0
    lock.release()
    first = _emu(tmp_path, x1=1000, icount=False)
    assert _run(first) == (0, 4)
    first.save_cache()                          # the page is there now
    late.reg_write("x0", 100)
    late.run(0x10004, until=0x1000C)
    s = late.stats
    assert late.reg_read("x0") == 0
    assert s.pcache_late == 1 and s.modules_compiled == 0


@pytest.mark.usefixtures("no_baseline")
def test_a_page_missed_with_no_writer_at_work_is_not_looked_up_again(tmp_path, monkeypatch):
    monkeypatch.setattr(tbcache, "WRITER_POLL", 0.0)
    late = _emu(tmp_path, x1=2, icount=False)
    late.run(CODE, until=0x1000C)
    first = _emu(tmp_path, x1=1000, icount=False)
    _run(first)
    first.save_cache()
    late.reg_write("x0", 100)
    late.run(0x10004, until=0x1000C)
    assert late.stats.pcache_late == 0 and late.stats.modules_compiled > 0


def test_a_run_that_made_nothing_new_forks_no_saver(tmp_path, monkeypatch):
    """A run whose code all came from the cache has nothing to save: no
    saver process (the fork costs a warm run 10-30 ms), and its figures
    still go to runs.log."""
    from tcgpy import persist
    forks = []
    monkeypatch.setattr(persist.os, "fork", lambda: forks.append(1) or 1)   # "the parent"
    cold = _emu(tmp_path)
    _run(cold)
    assert persist.made_anything(cold.cache)
    persist.save_in_background(cold)
    assert forks == [1]
    cold.save_cache()
    warm = _emu(tmp_path)
    assert _run(warm) == (0, 4)
    assert not persist.made_anything(warm.cache)
    log = tmp_path / "runs.log"
    before = log.read_text().splitlines() if log.exists() else []
    persist.save_in_background(warm)
    assert forks == [1]
    after = log.read_text().splitlines()
    assert len(after) == len(before) + 1
    _, hits, misses, loaded, written = after[-1].split()
    assert (int(hits), int(misses), int(written)) == (2, 0, 0) and int(loaded) > 0


def test_a_warm_run_imports_no_translator_and_no_unneeded_stdlib(tmp_path):
    """A run whose code all comes from the cache neither translates (no
    decoder, no passes, no LLVM) nor imports what only other paths need:
    json (the namespace key is a repr), shutil with lzma and bz2 (argparse's
    help formatter asks it the terminal's width), unicorn, capstone,
    dataclasses with inspect (tcgpy/record.py says why)."""
    # Until a run adds nothing to the cache: which loops turn hot in a run
    # depends on how soon the background thread had their code in the
    # runs before (on a loaded machine, a loop can first turn hot in the
    # second or third run), and such a run translates them.
    for _ in range(5):
        p = _tcgpy("run", str(HELLO), cache_dir=tmp_path)
        assert p.communicate(timeout=240)[0].startswith(b"hello")
        if int((tmp_path / "runs.log").read_text().split()[-1]) == 0:
            break
    else:
        pytest.fail("every one of 5 runs added to the cache")
    # (the guest's environment as in those runs: another one moves its stack,
    # and glibc's string functions take other paths for other alignments)
    env = {**os.environ, "TCGPY_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "TCGPY_CACHE_SYNC": "1"}
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "tcgpy", "run", "--stats", str(HELLO)],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert p.stdout.startswith("hello") and p.returncode == 0, p.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}
    assert "tcgpy.emulator" in imported and "blocks_translated: 0" in p.stderr
    unwanted = {"llvmlite.binding", "tcgpy.frontends.decodetree", "tcgpy.ir.passes", "tcgpy.backends.llvm.lower",
                "json", "shutil", "lzma", "bz2", "unicorn", "capstone", "dataclasses", "inspect"}
    assert imported & unwanted == set()
