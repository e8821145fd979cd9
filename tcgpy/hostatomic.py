"""An atomic compare-and-swap on host memory, for the guest atomics Python
performs (the cold tier's interpreter, the JIT's slow path) on memory that
other processes share: a MAP_SHARED mapping, or shared anonymous memory a
fork passed on.  Guest threads of one process never run Python at the same
time, but two tcgpy processes do, on two cores: a load, a compare and a
store there lose updates (two processes incrementing a shared counter a
million times each counted 1.4-1.8 million).  The host instruction comes
from LLVM's ``cmpxchg``, compiled once per process when first needed, so a run
that shares no memory loads no LLVM for it.
"""
from __future__ import annotations

import ctypes

_SIZES = (1, 2, 4, 8)
_CAS = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
_fns: dict[int, object] = {}


def _name(size: int) -> str:
    return f"tcgpy_cas{size}"


def _text() -> str:
    out = []
    for size in _SIZES:
        ty = f"i{8 * size}"
        conv = ("" if size == 8 else
                f"  %e = trunc i64 %expected to {ty}\n  %n = trunc i64 %new to {ty}\n")
        e, n = ("%expected", "%new") if size == 8 else ("%e", "%n")
        ext = "  ret i64 %old\n" if size == 8 else f"  %z = zext {ty} %old to i64\n  ret i64 %z\n"
        out.append(f"define i64 @{_name(size)}(ptr %p, i64 %expected, i64 %new) {{\n{conv}"
                   f"  %r = cmpxchg ptr %p, {ty} {e}, {ty} {n} seq_cst seq_cst\n"
                   f"  %old = extractvalue {{ {ty}, i1 }} %r, 0\n{ext}}}\n")
    return "".join(out)


def cas(host: int, size: int, expected: int, new: int) -> int:
    """Atomically: old = the ``size`` bytes at host address ``host``; if old
    == ``expected`` they become ``new``.  Returns old."""
    fn = _fns.get(size)
    if fn is None:
        from .backends.llvm import jit
        addrs = jit.runtime_functions(_text(), [_name(s) for s in _SIZES])
        for s in _SIZES:
            _fns[s] = _CAS(addrs[_name(s)])
        fn = _fns[size]
    return fn(host, expected, new)
