"""The execution-engine interface: what the library API's users, the Linux
layer, the difftest and the benchmarks may ask of an engine.

Two engines implement it: the TCG one (``tcgpy.emulator.Emulator``:
translation, block cache, softmmu) and the KVM one
(``tcgpy.accel.kvm.engine.KvmEmulator``: guest code native in a VM).
``tcgpy.Emulator(arch, accel=...)`` picks one (tcgpy/accel/__init__.py).

Stop reasons of ``run`` are its return (``until`` reached, ``count``
instructions run, ``timeout`` or ``request_exit``, said by ``stop_reason``,
with ``hit_breakpoint`` set at a breakpoint) and its exceptions (tcgpy.errors: MemoryFault,
AlignmentFault, IllegalInstruction, GuestTrap, UnhandledSyscall, and the
KVM engine's CpuException), each with every register as before the
faulting instruction.  A syscall calls ``on_syscall(engine)`` with the
program counter after the syscall instruction.  ``linux_signal`` on an
exception, where present, is the (signal name, si_code, si_addr) Linux
gives for it.

Nothing outside an engine touches its internals: the Linux layer asks for
what it needs through the methods below (tests/test_engine_seam.py checks
that no module outside the TCG engine imports the LLVM backend or reaches
into its block cache).  Engine-specific, optional hooks the Linux layer
looks for:
``after_fork_child()`` (a KVM vCPU belongs to the process that made it),
``native`` (the guest runs on the host's own ABI: ``-L /`` by default)
and ``host_syscalls(regs, numbers, max_io)`` (the TCG engine's: reads and
writes of the descriptors the Linux layer lists served without leaving
translated code, tcgpy/hostsyscalls.py);
and the gdbstub's: ``add_watchpoint``/``remove_watchpoint``/``watchpoints``
(data watchpoints, the TCG engine's softmmu; without them gdb is told
watchpoints are unsupported).
"""
from __future__ import annotations

import threading
from typing import Callable, Protocol, runtime_checkable


class RunTimer:
    """``run(timeout=)``: ``request_exit()`` after ``timeout`` seconds (None:
    never), remembering that the timer did it (``stop_reason`` "timeout",
    not "stop")."""

    def __init__(self, request_exit: Callable[[], None], timeout: float | None):
        self.fired = False
        self._timer = None
        if timeout is not None:
            def fire() -> None:
                self.fired = True
                request_exit()
            self._timer = threading.Timer(timeout, fire)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


@runtime_checkable
class Engine(Protocol):
    arch: object                         # .name: the guest architecture
    on_syscall: Callable[["Engine"], None] | None
    last_run_insns: int
    breakpoints: set[int]
    hit_breakpoint: int | None

    # memory: page-aligned mappings, their permissions, and access regardless of them
    def mem_map(self, address: int, size: int, perms="rwx", backing=None) -> None: ...
    def mem_unmap(self, address: int, size: int) -> None: ...
    def unmap_any(self, address: int, size: int) -> None: ...
    def mem_protect(self, address: int, size: int, perms) -> None: ...
    def mem_regions(self) -> list[tuple[int, int, str]]: ...
    def mem_read(self, address: int, size: int) -> bytes: ...
    def mem_write(self, address: int, data: bytes) -> None: ...

    # registers by name (the architecture's; a thread's context is a set of them)
    def reg_read(self, name: str) -> int: ...
    def reg_write(self, name: str, value: int) -> None: ...

    # execution
    def run(self, begin: int, until: int | None = None, count: int | None = None,
            timeout: float | None = None) -> None: ...
    def request_exit(self) -> None: ...
    def add_breakpoint(self, address: int) -> None: ...
    def remove_breakpoint(self, address: int) -> None: ...
    counts_instructions: bool            # run(count=) works

    # for the Linux layer: code forked children translated, to translate
    # before the next fork (linux/forkshare.py; no-ops where nothing is translated)
    def prefetch_code(self, pcs) -> None: ...
    def learn_code(self) -> None: ...
    def code_learned(self) -> list[int]: ...

    # a host SIGBUS from a file mapping another process truncated, caught
    # while guest code runs (the TCG engine's busguard.py); ``lazy``: from
    # when the engine runs host code (not worth loading it for).  The take
    # gives its host address, 0 where the engine cannot tell (KVM), or None
    def watch_host_bus(self, backing, lazy: bool = False) -> None: ...
    def take_host_bus_fault(self) -> int | None: ...
