"""The llvmlite JIT.

Process-wide *base* code holds what never changes: the miss stub every
empty jump slot points at, the C-convention trampoline Python enters blocks
through, and the helper callbacks.  It is made when a block cache first
needs host code (tbcache.TBCache.native), and LLVM itself is imported and
set up only when something is compiled: a run whose code all comes from
the persistent cache (base code included), or that only ever interprets,
never loads it.  Translated blocks live in a
:class:`CodeSpace` owned by one block cache: MCJIT releases machine code only
when its engine is disposed (``remove_module`` frees the IR, not the code), so
a cache flush drops its whole code space and starts a new one.  That bounds
the memory (and the host memory mappings) of a long run that keeps
retranslating, such as a difftest campaign or a self-modifying guest.
"""
from __future__ import annotations

import ctypes
import os
import threading
import time

import llvmlite

from ...cpustate import COMMON_ROWS
from ...ir.helpers import HELPERS
from ...ir.ops import Exit
from . import objload
from .runtime import CC

_lock = threading.Lock()
_base = False
_base_lock = threading.Lock()
_default_store = None        # the persistent cache base() keeps its code in (use_store)
llvm = None                  # llvmlite.binding, once _llvm() has set it up
_miss_stub = 0
_exit_stubs: dict[int, int] = {}
_helper_addrs: list[int] = []
_keepalive: list = []

# enter(env, block) runs a translated block (and whatever it chains to).
ENTER_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
enter = None

HELPER_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)

# Two tiers, as in method JITs: every block is first compiled at codegen level
# 0 (FastISel and the fast register allocator: about 4x cheaper to compile,
# and most blocks run only a few times); a loop that keeps running is
# recompiled at level 1 (greedy register allocation, no spills at every
# basic-block edge), which runs hot loops 1.5-2x faster.
CODEGEN_OPT = int(os.environ.get("TCGPY_CODEGEN_OPT", "0"))
HOT_CODEGEN_OPT = int(os.environ.get("TCGPY_HOT_CODEGEN_OPT", "1"))


# The entry trampoline.  It also sets up env ``jmp_buf`` (LLVM's builtin
# setjmp buffer: frame pointer, resume address, stack pointer) so that an
# out-of-line guest access that faults leaves all the chained blocks at once
# with Exit.FAULT, as QEMU's cpu_loop_exit does: the blocks then need no
# fault check after each access.  The blocks between have nothing to clean
# up, and the slow path's Python callback has returned before the jump.
_JMP_BUF = 8 * [r.name for r in COMMON_ROWS].index("jmp_buf")
assert all(r.size == 8 for r in COMMON_ROWS)
_ENTER = f"""\
declare i32 @llvm.eh.sjlj.setjmp(ptr)
declare ptr @llvm.frameaddress.p0(i32)
declare ptr @llvm.stacksave.p0()
define i32 @tcgpy_enter(ptr %env, ptr %fn) {{
  %slot = getelementptr i8, ptr %env, i64 {_JMP_BUF}
  %buf = alloca [5 x ptr], align 16
  %outer = load ptr, ptr %slot
  store ptr %buf, ptr %slot
  %fp = call ptr @llvm.frameaddress.p0(i32 0)
  store ptr %fp, ptr %buf
  %sp = call ptr @llvm.stacksave.p0()
  %spp = getelementptr [5 x ptr], ptr %buf, i64 0, i64 2
  store ptr %sp, ptr %spp
  %jumped = call i32 @llvm.eh.sjlj.setjmp(ptr %buf)
  %direct = icmp eq i32 %jumped, 0
  br i1 %direct, label %run, label %fault
run:
  %r = call {CC} i32 %fn(ptr %env)
  store ptr %outer, ptr %slot
  ret i32 %r
fault:
  store ptr %outer, ptr %slot
  ret i32 {int(Exit.FAULT)}
}}
"""


# Calls from translated code into each helper's Python function, by helper
# id, in this process: what --stats shows so that a loop calling Python is seen.
helper_calls: list[int] = []


def _make_helper(h):
    fn, i, calls = h.fn, h.id, helper_calls

    def call(a, b, c):
        calls[i] += 1
        try:
            return fn(a, b, c) & 0xFFFF_FFFF_FFFF_FFFF
        except Exception:       # a helper must never unwind through JIT frames
            return 0
    return HELPER_CFUNC(call)


def _llvm():
    """llvmlite.binding, imported and initialised on first use (~40 ms)."""
    global llvm
    if llvm is None:
        import llvmlite.binding as binding
        binding.initialize_native_target()
        binding.initialize_native_asmprinter()
        for name, addr in _process_symbols.items():
            binding.add_symbol(name, addr)
        llvm = binding
    return llvm


def loaded() -> bool:
    """Whether this process has loaded LLVM (tbcache's hold_llvm asks)."""
    return llvm is not None


def _target_machine(opt: int):
    # Each engine takes ownership of its target machine: a new one per engine.
    return _llvm().Target.from_default_triple().create_target_machine(opt=opt, codemodel="jitdefault")


def use_store(store) -> None:
    """Keep the base code (and runtime functions without a store of their
    own) in ``store`` (the persistent cache), if no other is set and base
    code is not made yet."""
    global _default_store
    if _default_store is None:
        _default_store = store


_BASE_TEXT = (f"define {CC} i32 @tcgpy_miss_stub(ptr %env) {{\n  ret i32 0\n}}\n" + _ENTER
              + "".join(f"define {CC} i32 @tcgpy_exit_{int(c)}(ptr %env) {{\n  ret i32 {int(c)}\n}}\n"
                        for c in Exit))


def _helpers() -> None:
    """Make the helper callbacks (ctypes, no LLVM) and their process symbols."""
    with _base_lock:
        if _helper_addrs:
            return
        helper_calls[:] = [0] * len(HELPERS)
        for h in HELPERS:
            cf = _make_helper(h)
            _keepalive.append(cf)
            _helper_addrs.append(ctypes.cast(cf, ctypes.c_void_p).value)
        # the names relocatable code uses for them (runtime.Runtime.ref)
        for i, addr in enumerate(_helper_addrs):
            add_process_symbol(f"tcgpy_helper_{i}", addr)


def base() -> None:
    """Make the process-wide base code: the miss stub, the exit stubs, the
    entry trampoline and the helper callbacks."""
    global _base, _miss_stub, enter
    if _base:
        return
    _helpers()
    with _base_lock:
        if _base:
            return
        names = ["tcgpy_miss_stub", "tcgpy_enter"] + [f"tcgpy_exit_{int(c)}" for c in Exit]
        fns = _runtime_functions(_BASE_TEXT, names, _default_store, CODEGEN_OPT)
        _miss_stub = fns["tcgpy_miss_stub"]
        enter = ENTER_FN(fns["tcgpy_enter"])
        for c in Exit:
            _exit_stubs[int(c)] = fns[f"tcgpy_exit_{int(c)}"]
            add_process_symbol(f"tcgpy_exit_{int(c)}", _exit_stubs[int(c)])
        _base = True


def exit_stubs() -> dict[int, int]:
    """Exit code -> a block-convention function that just returns it."""
    base()
    return _exit_stubs


def miss_stub() -> int:
    base()
    return _miss_stub


def helper_addresses() -> list[int]:
    _helpers()
    return _helper_addrs


class CodeSpace:
    """One generation of translated code: a first-tier and a hot-tier engine."""

    def __init__(self):
        self._engines = {}             # tier (hot?) -> MCJIT engine, made on first compile
        self.modules = 0
        self.loaded = objload.LoadedCode()                # persistent-cache modules' memory
        self.loaded_tags: set[str] = set()                # ... and their tags

    def _engine(self, hot: bool):
        ee = self._engines.get(hot)
        if ee is None:
            tm = _target_machine(HOT_CODEGEN_OPT if hot else CODEGEN_OPT)
            with _lock:
                ee = self._engines[hot] = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        return ee

    def prepare(self, hot: bool = False) -> None:
        """Load LLVM and make the tier's engine now, on the calling thread:
        for a compile on another thread (background.py), which must not open
        files (loading the library does) while the guest's own descriptor
        calls run: the guest would see their numbers."""
        self._engine(hot)

    def compile(self, text: str, names: list[str], hot: bool = False):
        """Compile LLVM IR text; returns ({name: address}, seconds)."""
        base()
        ee = self._engine(hot)
        t0 = time.perf_counter()
        with _lock:
            mod = llvm.parse_assembly(text)
            ee.add_module(mod)
            ee.finalize_object()
            addrs = {n: ee.get_function_address(n) for n in names}
            # The machine code stays where it is; the IR is no longer needed.
            ee.remove_module(mod)
        self.modules += 1
        return addrs, time.perf_counter() - t0

    def load_object(self, obj: bytes, tag: str, symbols: dict[str, int], names: list[str]) -> dict[str, int]:
        """Load relocatable first-tier object code (the persistent cache's,
        see tcgpy/persist.py) with its undefined ``symbols`` mapped to this
        run's addresses; returns ({function name: address}, seconds).

        The object goes through tcgpy's own loader (objload.py): ~50x
        cheaper than MCJIT's RuntimeDyld through llvmlite, and it needs no
        LLVM.  ``tag`` names the module: one is loaded once per space."""
        if tag in self.loaded_tags:
            raise ValueError(f"module {tag} is loaded already")
        base()
        t0 = time.perf_counter()
        defined = objload.load(obj, symbols, self.loaded)
        if defined is None:
            raise ValueError("object code refused by the loader")
        self.loaded_tags.add(tag)
        self.modules += 1
        return {n: defined.get(n, 0) for n in names}, time.perf_counter() - t0

    def close(self) -> None:
        """Release all machine code of this space (no block of it may be running)."""
        with _lock:
            for ee in self._engines.values():
                ee.close()
            self._engines.clear()
        self.loaded.close()


_runtime_fns: dict[tuple[str, int], dict[str, int]] = {}
_runtime_engines: list = []


def add_process_symbol(name: str, addr: int) -> None:
    """Make ``name`` resolve to ``addr`` in every engine of this process (for
    run-time addresses that are the same for every emulator: the helpers,
    exit stubs and slow paths that relocatable runtime functions name)."""
    _process_symbols[name] = addr
    if llvm is not None:
        llvm.add_symbol(name, addr)


_process_symbols: dict[str, int] = {}
_runtime_loaded = objload.LoadedCode()      # runtime functions from the cache, never released


def runtime_functions(text: str, names: list[str], store=None, opt: int = 2) -> dict[str, int]:
    """Addresses of support functions (``text``) that translated code calls,
    compiled optimised once per process for each distinct text and never
    released (code spaces come and go, these stay).

    With a ``store`` (``get(text) -> object code or None``, ``put(text,
    object code)``: the persistent cache) and a ``text`` that names run-time
    addresses only by process symbols, the object code is kept there and a
    later process relocates it instead of compiling (each is a few
    milliseconds of LLVM at -O2)."""
    fns = _runtime_fns.get((text, opt))
    if fns is not None:
        return fns
    base()
    return _runtime_functions(text, names, store, opt)


def stored_runtime_functions(text: str, names: list[str], store, opt: int = 2) -> dict[str, int] | None:
    """``runtime_functions`` if they are made already or in ``store``, else
    None (nothing compiled)."""
    fns = _runtime_fns.get((text, opt))
    if fns is not None or store is None:
        return fns
    base()
    return _stored_runtime_functions(text, names, store, opt)


def _stored_runtime_functions(text: str, names: list[str], store, opt: int) -> dict[str, int] | None:
    obj = store.get(f"O{opt}\n{text}") if store is not None else None
    if obj is not None:
        defined = objload.load(obj, _process_symbols, _runtime_loaded)
        if defined is not None and all(defined.get(n) for n in names):
            fns = _runtime_fns[text, opt] = {n: defined[n] for n in names}
            return fns
    return None


def compile_runtime_functions(text: str, names: list[str], opt: int = 2) -> tuple[dict[str, int], bytes]:
    """Compile ``runtime_functions`` (for another thread: no file is
    touched): their addresses and their object code, which the caller may
    keep in the persistent cache (``store_runtime_functions``)."""
    made = []
    tm = _target_machine(opt)
    with _lock:
        ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        mod = llvm.parse_assembly(text)
        mod.name = "tcgpy_runtime"
        ee.set_object_cache(lambda m, buf: made.append(bytes(buf)) if m.name == mod.name else None)
        ee.add_module(mod)
        ee.finalize_object()
        fns = {n: ee.get_function_address(n) for n in names}
        _runtime_engines.append(ee)
    _runtime_fns.setdefault((text, opt), fns)
    return fns, made[0] if made else b""


def store_runtime_functions(text: str, obj: bytes, store, opt: int = 2) -> None:
    if obj and store is not None:
        store.put(f"O{opt}\n{text}", obj)


def _runtime_functions(text: str, names: list[str], store, opt: int) -> dict[str, int]:
    # (base() calls this, holding its lock: nothing here may call base())
    fns = _stored_runtime_functions(text, names, store, opt)
    if fns is not None:
        return fns
    made = []
    tm = _target_machine(opt)
    with _lock:
        ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        mod = llvm.parse_assembly(text)
        mod.name = "tcgpy_runtime"
        if store is not None:
            ee.set_object_cache(lambda m, buf: made.append(bytes(buf)) if m.name == mod.name else None)
        ee.add_module(mod)
        ee.finalize_object()
        fns = _runtime_fns[text, opt] = {n: ee.get_function_address(n) for n in names}
        _runtime_engines.append(ee)
    if made and store is not None:
        store.put(f"O{opt}\n{text}", made[0])
    return fns


def emit_assembly(text: str, hot: bool = False) -> str:
    """Host assembly for LLVM IR text (for -d out_asm), at the codegen level
    of the tier that runs it."""
    base()
    tm = _target_machine(HOT_CODEGEN_OPT if hot else CODEGEN_OPT)
    with _lock:
        return tm.emit_assembly(llvm.parse_assembly(text))


_object_tms: dict = {}
# Relocatable code for the persistent cache: the large code model reaches any
# address through a 64-bit relocation, wherever the next run puts things;
# first-tier codegen level, generic x86-64 as every engine here targets.
OBJECT_CODE_MODEL = "large"


def emit_object(text: str, hot: bool = False) -> bytes:
    """Object code (ELF, relocatable) for LLVM IR text, at the codegen level
    of the first tier (or of the hot one)."""
    base()
    binding = _llvm()
    with _lock:
        tm = _object_tms.get(hot)
        if tm is None:
            tm = _object_tms[hot] = binding.Target.from_default_triple().create_target_machine(
                opt=HOT_CODEGEN_OPT if hot else CODEGEN_OPT, codemodel=OBJECT_CODE_MODEL)
        return tm.emit_object(binding.parse_assembly(text))


def target_description() -> str:
    """What translated code is generated for (part of the persistent cache's
    key): the host, llvmlite's version (which fixes LLVM's), the codegen
    level and model, and the generic CPU every target machine here uses."""
    sysname, _, _, _, machine = os.uname()
    return (f"{machine}-{sysname.lower()} llvmlite {llvmlite.__version__} "
            f"O{CODEGEN_OPT}/O{HOT_CODEGEN_OPT} {OBJECT_CODE_MODEL} cpu=generic")
