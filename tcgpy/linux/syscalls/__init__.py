"""The architecture-neutral syscall handlers, one module per topic, and the
table they register their rows in (``table.py``).  Importing the package
imports every topic module, so ``TABLE`` holds all their rows."""
from . import events, fs, mem, net, proc, signal, xattr  # noqa: F401  (register their rows)
from .table import TABLE

__all__ = ["TABLE"]
