"""The KVM engine's page-table flush stub (accel/kvm/machine.flush_stub)
must survive a kick between any two of its instructions: the vCPU leaves
the VM there, tcgpy may queue more writes (RunQueue), and the stub starts
again from its first byte.  Run on Unicorn's x86-64 CPU (no KVM needed),
cut after every possible instruction count: the page tables must come out
exactly as without the cut.  (Progress kept in three stores, as the stub
once did, fails this: a cut between them shifted a run by one page or
wrote one entry past its end, the KVM engine's preemption bug.)"""
from __future__ import annotations

import ctypes

import pytest

import unicorn
from unicorn import x86_const as X

from tcgpy.accel.kvm import kvmapi as K
from tcgpy.accel.kvm import machine as M

PAGE = M.PAGE
# Low addresses stand in for the kernel pages' (Unicorn does not run code
# in the upper half); the stub is position-independent but for the queue's
# address, which it takes, and the tables', which the runs hold.
STUB_VA, STACK_VA, QUEUE_VA, TABLES_VA = 0x10000, 0x20000, 0x100000, 0x200000
TABLE_PAGES = 2
DONE = 0x51            # the stub's "mov rax, cr3": every queued write is made (Unicorn stops before it)


def _pte(i: int) -> int:
    return TABLES_VA + 8 * i


# Runs as PageTables.set queues them: map, unmap part, map over it again,
# a zero-length run, and one that ends exactly at a table's end.
RUNS = [(_pte(3), 0x1000_0000 | 0x67, 7, PAGE), (_pte(5), 0, 3, 0), (_pte(0), 0, 0, 0),
        (_pte(4), 0x2000_0000 | 0x7, 4, PAGE), (_pte(509), 0x3000_0000 | 0x67, 3, PAGE)]
LATER = [(_pte(2), 0x4000_0000 | 0x5, 3, PAGE), (_pte(6), 0, 2, 0)]


def _apply(table: list[int], runs) -> None:
    for pte, value, count, step in runs:
        i = (pte - TABLES_VA) // 8
        for k in range(count):
            table[i + k] = (value + k * step) & (2 ** 64 - 1)


class _Machine:
    """The stub page, the queue and a page-table pool, in host memory the
    emulated CPU sees at their guest-virtual addresses."""

    def __init__(self):
        # page-aligned host memory (Unicorn maps host pages)
        self._host = [(K.host_alloc(size), size) for size in (PAGE, M.RUNS_SIZE, PAGE * TABLE_PAGES)]
        (stub_host, _), (queue_host, _), (tables_host, _) = self._host
        stub = M.flush_stub(QUEUE_VA)
        ctypes.memmove(stub_host, stub, len(stub))
        self.tables = (ctypes.c_uint64 * (512 * TABLE_PAGES)).from_address(tables_host)
        self.queue = M.RunQueue(queue_host, QUEUE_VA)
        uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
        uc.mem_map_ptr(STUB_VA, PAGE, unicorn.UC_PROT_ALL, stub_host)
        uc.mem_map_ptr(QUEUE_VA, M.RUNS_SIZE, unicorn.UC_PROT_ALL, queue_host)
        uc.mem_map_ptr(TABLES_VA, PAGE * TABLE_PAGES, unicorn.UC_PROT_ALL, tables_host)
        uc.mem_map(STACK_VA, PAGE, unicorn.UC_PROT_ALL)           # a stack for the pushes
        self.uc = uc

    def __del__(self):
        for addr, size in self._host:
            K.host_free(addr, size)

    def enter(self, count: int = 0) -> None:
        """Start the stub from its first byte (as each VM entry does), for
        at most ``count`` instructions (0: until every write is made)."""
        self.uc.reg_write(X.UC_X86_REG_RSP, STACK_VA + PAGE - 64)
        self.uc.emu_start(STUB_VA, STUB_VA + DONE, count=count)

    def finished(self) -> bool:
        return self.uc.reg_read(X.UC_X86_REG_RIP) == STUB_VA + DONE


def _instructions_uncut() -> int:
    m = _Machine()
    m.queue.load(RUNS)
    n = 0
    m.uc.hook_add(unicorn.UC_HOOK_CODE, lambda *a: None)
    m.uc.reg_write(X.UC_X86_REG_RSP, STACK_VA + PAGE - 64)
    pc = STUB_VA
    while pc != STUB_VA + DONE:
        m.uc.emu_start(pc, STUB_VA + DONE, count=1)
        pc = m.uc.reg_read(X.UC_X86_REG_RIP)
        n += 1
    return n


def test_flush_stub_resumes_after_a_kick_anywhere():
    expected = [0] * (512 * TABLE_PAGES)
    _apply(expected, RUNS)
    expected_later = list(expected)
    _apply(expected_later, LATER)
    total = _instructions_uncut()
    assert total > 50                       # the cuts below cover every write and every progress store
    for cut in range(1, total):
        for more in ([], LATER):
            m = _Machine()
            m.queue.load(RUNS)
            m.enter(cut)
            assert not m.finished()
            # Kicked out: tcgpy queues what is left and what came since, and enters again.
            m.queue.load(m.queue.pending() + more)
            m.enter()
            assert m.finished()
            assert list(m.tables) == (expected_later if more else expected), f"cut after {cut} instructions"
            assert m.queue.pending() == []


def test_an_empty_queue_makes_no_writes():
    m = _Machine()
    m.enter()                                # a fresh (zeroed) queue is an empty one
    assert m.finished() and not any(m.tables)
    m.queue.load([])
    m.enter()
    assert m.finished() and not any(m.tables)
