"""The llvmlite JIT: one process-wide MCJIT engine that compiles batches of
lowered blocks (one LLVM module per batch; compile cost per module is mostly
fixed, so batching translation is how translation throughput is won)."""
from __future__ import annotations

import ctypes
import os
import threading
import time

import llvmlite.binding as llvm

from ...ir.helpers import HELPERS

_lock = threading.Lock()
_engine = None
_target_machine = None
_hot_engine = None
_miss_stub = 0
_helper_addrs: list[int] = []
_keepalive: list = []

# enter(env, block) runs a translated block (and whatever it chains to).
ENTER_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
enter = None

HELPER_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)

# Two tiers, as in method JITs: every block is first compiled at codegen level
# 0 (FastISel and the fast register allocator: about 4x cheaper to compile,
# and most blocks run only a few times); a block that keeps running is
# recompiled at level 1 (greedy register allocation, no spills at every
# basic-block edge), which runs hot loops 1.5-2x faster.
CODEGEN_OPT = int(os.environ.get("TCGPY_CODEGEN_OPT", "0"))
HOT_CODEGEN_OPT = int(os.environ.get("TCGPY_HOT_CODEGEN_OPT", "1"))


def _make_helper(fn):
    def call(a, b, c):
        try:
            return fn(a, b, c) & 0xFFFF_FFFF_FFFF_FFFF
        except Exception:       # a helper must never unwind through JIT frames
            return 0
    return HELPER_CFUNC(call)


def engine():
    """The shared execution engine, created on first use."""
    global _engine, _target_machine, _miss_stub
    with _lock:
        if _engine is None:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            target = llvm.Target.from_default_triple()
            _target_machine = target.create_target_machine(opt=CODEGEN_OPT, codemodel="jitdefault")
            _engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target_machine)
            from .lower import CC
            stub = llvm.parse_assembly(
                f"define {CC} i32 @tcgpy_miss_stub(ptr %env) {{\n  ret i32 0\n}}\n"
                "define i32 @tcgpy_enter(ptr %env, ptr %fn) {\n"
                f"  %r = call {CC} i32 %fn(ptr %env)\n  ret i32 %r\n}}\n")
            _engine.add_module(stub)
            _engine.finalize_object()
            _miss_stub = _engine.get_function_address("tcgpy_miss_stub")
            global enter
            enter = ENTER_FN(_engine.get_function_address("tcgpy_enter"))
            for h in HELPERS:
                cf = _make_helper(h.fn)
                _keepalive.append(cf)
                _helper_addrs.append(ctypes.cast(cf, ctypes.c_void_p).value)
        return _engine


def miss_stub() -> int:
    engine()
    return _miss_stub


def helper_addresses() -> list[int]:
    engine()
    return _helper_addrs


def hot_engine():
    """The engine that recompiles hot blocks at a higher optimisation level."""
    global _hot_engine
    engine()
    with _lock:
        if _hot_engine is None:
            target = llvm.Target.from_default_triple()
            tm = target.create_target_machine(opt=HOT_CODEGEN_OPT, codemodel="jitdefault")
            _hot_engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        return _hot_engine


def compile_module(text: str, names: list[str], stats=None, hot: bool = False):
    """Compile LLVM IR text; returns (module, {name: address})."""
    mod, addrs, elapsed = _compile(text, names, hot)
    if stats is not None:
        stats.time_llvm_compile += elapsed
    return mod, addrs


def _compile(text: str, names: list[str], hot: bool = False):
    ee = hot_engine() if hot else engine()
    t0 = time.perf_counter()
    with _lock:
        mod = llvm.parse_assembly(text)
        ee.add_module(mod)
        ee.finalize_object()
        addrs = {n: ee.get_function_address(n) for n in names}
    return mod, addrs, time.perf_counter() - t0


_pool = None


def _forget_pool_in_child() -> None:
    # A forked child (guest fork) has no compile thread: start a new one on demand.
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool_in_child)


def compile_async(text: str, names: list[str]):
    """Compile first-tier code on a background thread; returns a future of
    (module, {name: address}, seconds).  llvmlite serialises calls into LLVM,
    but it releases the GIL while in them, so Python can translate the next
    blocks while LLVM compiles these."""
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor
        engine()
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tcgpy-llvm")
    return _pool.submit(_compile, text, names, False)


def remove_module(mod, hot: bool = False) -> None:
    with _lock:
        (_hot_engine if hot else _engine).remove_module(mod)


def emit_assembly(text: str) -> str:
    """Host assembly for LLVM IR text (for -d out_asm)."""
    engine()
    mod = llvm.parse_assembly(text)
    return _target_machine.emit_assembly(mod)
