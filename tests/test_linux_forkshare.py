"""tcgpy's own descriptors around fork: blocks a forked child translated reach
its parent (tcgpy/linux/forkshare.py), and TBCache.prefetch compiles them so
that later children start with them; a guest's low descriptor limit leaves
them where they are instead of failing the fork."""
from __future__ import annotations

import os

import pytest

import tcgpy
from tcgpy.linux.forkshare import ForkShare

from .asm import asm

CODE = 0x10000


class Recorder:
    """The part of an engine that ForkShare uses (accel/engine.py)."""

    def __init__(self):
        self.new_pcs = None
        self.prefetched = []

    def prefetch_code(self, pcs):
        self.prefetched += list(pcs)

    def learn_code(self):
        self.new_pcs = {}

    def code_learned(self):
        pcs = list(self.new_pcs or ())
        if self.new_pcs is not None:
            self.new_pcs = {}
        return pcs


def _child(share: ForkShare, cache: Recorder, pcs, before_teach=None) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            share.after_fork_child(cache)
            cache.new_pcs.update(dict.fromkeys(pcs))
            if before_teach is not None:
                before_teach(share)
            share.teach_parent(cache)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_children_teach_their_parent_the_blocks_they_translated():
    share, cache = ForkShare(), Recorder()
    share.before_fork(cache)                         # makes the pipe
    big = list(range(0x10000, 0x10000 + 8 * 1000, 8))   # more than one atomic write
    _child(share, cache, [0x1000, 0x2000] + big)
    share.before_fork(cache)
    assert cache.prefetched == []                    # one child's work may be its own
    _child(share, cache, [0x2000, 0x3000] + big)
    share.before_fork(cache)
    assert cache.prefetched == [0x2000] + big        # what two children needed
    share.before_fork(cache)                         # nothing new
    assert len(cache.prefetched) == 1 + len(big)
    assert cache.new_pcs is None                     # the parent itself records nothing


def test_a_descriptor_the_guest_took_over_is_left_alone():
    share, cache = ForkShare(), Recorder()
    share.before_fork(cache)
    r, w = os.pipe()

    def guest_dup2(s):
        os.dup2(w, s.parent[0])                      # the guest's own pipe on our number

    _child(share, cache, [0x1000])
    _child(share, cache, [0x1000], before_teach=guest_dup2)
    os.set_blocking(r, False)
    try:
        leaked = os.read(r, 100)
    except BlockingIOError:
        leaked = b""
    os.close(r)
    os.close(w)
    assert leaked == b""
    share.before_fork(cache)
    assert cache.prefetched == []


def test_prefetch_compiles_blocks_that_then_run():
    code = asm("""
        add x0, x0, #1
        b other
    back:
        add x0, x0, #100
        b done
    other:
        add x0, x0, #10
        b back
    done:
        nop
    """)
    emu = tcgpy.Emulator("aarch64")
    emu.mem_map(CODE, 0x1000, "rwx")
    emu.mem_write(CODE, code)
    emu.cache.prefetch([CODE, CODE + 8, CODE + 16, CODE + 0x5000])   # the last is unmapped
    assert {CODE, CODE + 8, CODE + 16} <= set(emu.cache.blocks)
    assert CODE + 0x5000 not in emu.cache.blocks
    translated = emu.stats.blocks_translated
    emu.run(CODE, until=CODE + len(code) - 4)
    assert emu.reg_read("x0") == 111
    assert emu.stats.blocks_translated == translated   # nothing left to translate


def test_no_room_above_the_guest_descriptors_means_no_sharing():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    share, cache = ForkShare(), Recorder()
    resource.setrlimit(resource.RLIMIT_NOFILE, (100, hard))     # as a guest's setrlimit would
    try:
        share.before_fork(cache)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert share.pipe is None
    _child(share, cache, [0x1000])
    share.before_fork(cache)          # room again: from now on children share
    assert share.pipe is not None and cache.prefetched == []


def test_vfork_pipe_stays_low_when_the_limit_leaves_no_room():
    """posix_spawn under a guest's RLIMIT_NOFILE of 64 used to fail with EINVAL."""
    import resource
    from tcgpy.linux.syscalls.proc import _high_fd
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    r, w = os.pipe2(os.O_CLOEXEC)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        assert _high_fd(r) == r
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    high = _high_fd(w)
    assert high >= 200
    os.close(r)
    os.close(high)


@pytest.mark.usefixtures("no_baseline")
def test_a_child_notes_the_cold_blocks_it_runs_and_the_parent_compiles_them():
    # The parent ran the block cold (too few times to compile it); a child
    # that runs it notes it too, and a prefetch replaces the cold block by
    # compiled code, which the parent's next children inherit.
    code = asm("add x0, x0, #1; b done; done: nop")
    emu = tcgpy.Emulator("aarch64", icount=False)
    emu.mem_map(CODE, 0x1000, "rwx")
    emu.mem_write(CODE, code)
    emu.run(CODE, until=CODE + 8)
    assert CODE in emu.cache.cold and emu.stats.blocks_translated == 0
    share = ForkShare()
    share.after_fork_child(emu)                 # as in a child: from now on, noted
    emu.run(CODE, until=CODE + 8)
    learned = emu.code_learned()
    assert learned == [CODE] and emu.code_learned() == []
    emu.prefetch_code(learned)
    assert CODE in emu.cache.blocks and CODE not in emu.cache.cold
    emu.reg_write("x0", 0)
    emu.run(CODE, until=CODE + 8)
    assert emu.reg_read("x0") == 1


def test_a_forked_child_keeps_what_it_inherited_out_of_its_collector(tmp_path):
    """A full collection in a forked child would write to every object it
    inherited, copying the parent's heap page by page: the child freezes
    them as it starts (gc.freeze), so its collector walks only its own."""
    import subprocess
    import sys
    from pathlib import Path
    prog = Path(__file__).parent / "guest" / "bin" / "libc_forks"
    out = tmp_path / "counts"
    script = f"""
import gc, sys
from tcgpy import cli
from tcgpy.linux.process import LinuxProcess
inherited = LinuxProcess.after_fork_child
def after(self):
    inherited(self)
    with open({str(out)!r}, "a") as f:
        f.write(f"{{gc.get_freeze_count()}} {{len(gc.get_objects())}}\\n")
LinuxProcess.after_fork_child = after
sys.exit(cli.main(["run", "--no-cache", {str(prog)!r}, "2", "0"]))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TCGPY_CACHE": "0"})
    assert r.returncode == 0 and r.stdout == "2 children, 2 exited 0\n", r.stderr
    counts = [tuple(map(int, line.split())) for line in out.read_text().splitlines()]
    assert len(counts) == 2
    for frozen, collectable in counts:
        assert frozen > 10_000 and collectable < frozen // 10


def test_a_child_teaches_at_its_first_syscalls_while_it_still_runs():
    """A parent that forks its children before the first one exits (50
    children that sleep) learns from them at their first syscalls: the
    children after the second then start with their way back from fork."""
    from tcgpy.linux.forkshare import EARLY_SYSCALLS
    share, cache = ForkShare(), Recorder()
    share.before_fork(cache)
    kids = []
    for pcs in ([0x1000, 0x2000], [0x2000, 0x3000]):
        taught_r, taught_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                share.after_fork_child(cache)
                cache.new_pcs.update(dict.fromkeys(pcs))
                for _ in range(EARLY_SYSCALLS + 2):
                    if share.early:
                        share.at_syscall(cache)
                cache.new_pcs.update({0x9000: None})          # after the early syscalls: taught at exit
                os.write(taught_w, b"x")
                os.read(go_r, 1)                               # still running while the parent forks
                share.teach_parent(cache)
            finally:
                os._exit(0)
        os.close(taught_w)
        assert os.read(taught_r, 1) == b"x"
        os.close(taught_r)
        kids.append((pid, go_w))
    share.before_fork(cache)
    assert cache.prefetched == [0x2000]          # both children still run, and taught already
    for pid, go_w in kids:
        os.write(go_w, b"x")
        os.waitpid(pid, 0)
    share.before_fork(cache)
    assert cache.prefetched == [0x2000, 0x9000]  # what they translated later came at exit


def test_the_signal_watcher_starts_before_the_llvm_thread(tmp_path):
    """A forked child's signal watcher takes over the parent's oldest malloc
    arena (glibc): that must be the watcher's, not LLVM's 20 MiB, whose free
    lists the child's first malloc would otherwise sort into pages of its own."""
    import subprocess
    import sys
    from pathlib import Path
    prog = Path(__file__).parent / "guest" / "bin" / "asm_hello"
    out = tmp_path / "seen"
    script = f"""
import sys, threading
from tcgpy import cli
from tcgpy.emulator import Emulator
inherited = Emulator.set_background_compile
def recording(self, on):
    with open({str(out)!r}, "a") as f:
        f.write(f"{{on}} {{sorted(t.name for t in threading.enumerate())}}\\n")
    inherited(self, on)
Emulator.set_background_compile = recording
sys.exit(cli.main(["run", "--no-cache", {str(prog)!r}]))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TCGPY_CACHE": "0"})
    assert r.returncode == 0 and r.stdout == "hello from aarch64\n", r.stderr
    first = out.read_text().splitlines()[0]
    assert first.startswith("True") and "tcgpy-signals" in first and "tcgpy-llvm" not in first
