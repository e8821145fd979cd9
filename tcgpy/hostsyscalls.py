"""The TCG engine's side of syscalls served by host code
(backends/llvm/syscall.py): the descriptor table that function reads, and
whether translated code calls it at all (env ``syscall_fn``).

The Linux layer gets a :class:`HostSyscalls` from
``Emulator.host_syscalls`` and keeps it up to date: ``allow(fd)`` for each
descriptor it knows never waits, ``forget_fds()`` when a number may come to
name another file, ``want(False)`` while every syscall must reach Python
(-strace, a debugger, a forked child's first syscalls, a pending signal).
The engine turns it off by itself while a HOOK_INTR hook wants every
syscall.
"""
from __future__ import annotations

import ctypes

from .backends.llvm import jit
from .backends.llvm.syscall import CALLS, MAX_FDS, SyscallSpec, SyscallState, syscall_text


class HostSyscalls:
    def __init__(self, emu, spec: SyscallSpec, store=None):
        self._emu = emu
        self.state = SyscallState()
        self._words = self.state.fds
        self._fn = 0                # made with the rest of the block cache's host code
        emu.env.syscall_state = ctypes.addressof(self.state)
        self.wanted = True
        self.blocked = False        # the engine's say (HOOK_INTR hooks)
        self._apply()

        def make():
            self._fn = jit.runtime_functions(syscall_text(spec), [spec.name], store)[spec.name]
            self._apply()
        emu.cache.when_native(make)

    @property
    def served(self) -> int:
        """Syscalls host code served so far."""
        return self.state.served

    def allow(self, fd: int) -> None:
        """Host code may serve ``fd`` (a descriptor that never waits)."""
        if 0 <= fd < MAX_FDS:
            self._words[fd >> 6] |= 1 << (fd & 63)

    def forget_fds(self) -> None:
        ctypes.memset(self._words, 0, ctypes.sizeof(self._words))

    def want(self, on: bool) -> None:
        """Whether the Linux layer lets host code serve syscalls now."""
        if on != self.wanted:
            self.wanted = on
            self._apply()

    def block(self, on: bool) -> None:
        if on != self.blocked:
            self.blocked = on
            self._apply()

    @property
    def active(self) -> bool:
        return bool(self._emu.env.syscall_fn)

    def _apply(self) -> None:
        self._emu.env.syscall_fn = self._fn if self.wanted and not self.blocked else 0


def spec_for(emu, regs: tuple[str, str, str], numbers: dict, max_io: int) -> SyscallSpec | None:
    """The SyscallSpec of ``emu``'s target: ``regs`` are its syscall ABI's
    (number register, argument registers, result register) names and
    ``numbers`` its syscall table (name -> number); None when a register is
    not a plain 64-bit one or the table lacks one of the calls."""
    number, args, ret = regs
    fields = emu.plain_reg_fields((number, *args[:4], ret))
    if fields is None or len(args) < 4 or any(name not in numbers for name in CALLS):
        return None
    lay = emu.arch.layout
    offs = [lay.offsets[f] for f in fields]
    return SyscallSpec(name=f"tcgpy_syscall_{emu.arch.name}", number=offs[0], args=tuple(offs[1:5]),
                       ret=offs[5], numbers={name: numbers[name] for name in CALLS}, max_io=max_io,
                       mem_table=lay.mem_table_offset, state=lay.syscall_state_offset)
