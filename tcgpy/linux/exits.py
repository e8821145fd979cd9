"""How a guest process ends, raised out of the CPU loop (by exit_group, or
by a signal whose default action kills) to whoever runs it."""
from __future__ import annotations


class ProcessExit(Exception):
    def __init__(self, status: int):
        super().__init__(f"exit {status}")
        self.status = status


class ProcessKilled(Exception):
    """The guest died of a signal; ``message`` is printed (qemu-user style) if set."""

    def __init__(self, signo: int, message: str = ""):
        super().__init__(message or f"signal {signo}")
        self.signo = signo
        self.message = message
