"""Guest memory accesses in LLVM IR: the TLB compare, the host pointer of
a hit and the hit path's loads and stores, shared by the accesses lower.py
inlines into blocks and the out-of-line access functions first-tier code
calls (``access_function_text``).

Apart from lower.py because a warm run makes (or loads, keyed by their
text) the access functions without lowering any block
(backends/llvm/runtime.py).
"""
from __future__ import annotations

from ...cpustate import PAGE_MASK, PAGE_SIZE, TLB_ENTRY_SIZE, TLB_SIZE
from ...ir.ops import MemOp
from .runtime import LOAD, MODULE_TAIL, STORE, STORE_PAIR, SYM_SLOW_LD, SYM_SLOW_ST, Runtime, _c, access_fn_name


def tlb_lookup(fl, addr: str, memop: int, write: bool, span: int = 0) -> tuple[str, str]:
    """Emit the TLB compare for an access of ``span`` bytes (the memop's size
    unless given); returns (hit i1, entry pointer)."""
    size = span or 1 << (memop & MemOp.SIZE_MASK)
    entp = tlb_entry(fl, addr)
    cmpa, page = fl.tmp(), fl.tmp()
    if memop & MemOp.ALIGN:
        # Misaligned addresses keep low bits set and so never match the tag.
        fl.emit(f"{cmpa} = and i64 {addr}, {_c(PAGE_MASK | (size - 1))}")
        fl.emit(f"{page} = add i64 {cmpa}, 0")
    else:
        # Compare the page of the last byte: an access crossing into the next
        # page misses and the slow path splits it.
        fl.emit(f"{cmpa} = add i64 {addr}, {size - 1}")
        fl.emit(f"{page} = and i64 {cmpa}, {_c(PAGE_MASK)}")
    return tag_hit(fl, entp, page, write), entp


def tag_hit(fl, entp: str, page: str, write: bool) -> str:
    """i1: TLB entry ``entp`` grants page ``page`` for reading (or writing)."""
    tagp, tag, hit = fl.tmp(), fl.tmp(), fl.tmp()
    fl.emit(f"{tagp} = getelementptr i8, ptr {entp}, i64 {8 if write else 0}")
    fl.emit(f"{tag} = load i64, ptr {tagp}")
    fl.emit(f"{hit} = icmp eq i64 {page}, {tag}")
    return hit


def tlb_entry(fl, addr: str) -> str:
    """Pointer to the TLB entry of ``addr``'s page."""
    idx, off, ent, e, entp = (fl.tmp() for _ in range(5))
    fl.emit(f"{idx} = lshr i64 {addr}, 12")
    fl.emit(f"{off} = and i64 {idx}, {TLB_SIZE - 1}")
    fl.emit(f"{ent} = mul i64 {off}, {TLB_ENTRY_SIZE}")
    fl.emit(f"{e} = add i64 {ent}, {fl.rt.tlb_offset}")
    fl.emit(f"{entp} = getelementptr i8, ptr %env, i64 {e}")
    return entp


def host_ptr(fl, addr: str, entp: str) -> str:
    ap, add, h, hp = fl.tmp(), fl.tmp(), fl.tmp(), fl.tmp()
    fl.emit(f"{ap} = getelementptr i8, ptr {entp}, i64 16")
    fl.emit(f"{add} = load i64, ptr {ap}")
    fl.emit(f"{h} = add i64 {addr}, {add}")
    fl.emit(f"{hp} = inttoptr i64 {h} to ptr")
    return hp


def _narrow(fl, val: str, size_log2: int) -> str:
    """i64 ``val`` as the access's integer type."""
    if size_log2 == 3:
        return val
    v = fl.tmp()
    fl.emit(f"{v} = trunc i64 {val} to i{8 << size_log2}")
    return v


def _widen(fl, raw: str, size_log2: int, sign: bool = False) -> str:
    """The access's integer ``raw`` as an i64, sign- or zero-extended."""
    if size_log2 == 3:
        return raw
    v = fl.tmp()
    fl.emit(f"{v} = {'sext' if sign else 'zext'} i{8 << size_log2} {raw} to i64")
    return v


def value_fast(fl, hp: str, memop: int) -> str:
    """The hit-path load of a guest value from host pointer ``hp``."""
    size_log2 = memop & MemOp.SIZE_MASK
    raw = fl.tmp()
    fl.emit(f"{raw} = load i{8 << size_log2}, ptr {hp}, align 1")
    return _widen(fl, raw, size_log2, bool(memop & MemOp.SIGN))


def store_fast(fl, hp: str, val: str, memop: int) -> None:
    size_log2 = memop & MemOp.SIZE_MASK
    fl.emit(f"store i{8 << size_log2} {_narrow(fl, val, size_log2)}, ptr {hp}, align 1")


def cmpxchg_fast(fl, hp: str, expected: str, new: str, memop: int) -> str:
    """The hit path of a compare-and-swap (Op.cmpxchg): the host's atomic
    instruction, so that other processes sharing the page see it whole.
    Returns the old value."""
    size_log2 = memop & MemOp.SIZE_MASK
    ty = f"i{8 << size_log2}"
    e, n = _narrow(fl, expected, size_log2), _narrow(fl, new, size_log2)
    r, old = fl.tmp(), fl.tmp()
    fl.emit(f"{r} = cmpxchg ptr {hp}, {ty} {e}, {ty} {n} seq_cst seq_cst")
    fl.emit(f"{old} = extractvalue {{ {ty}, i1 }} {r}, 0")
    return _widen(fl, old, size_log2)


def store_pair_fast(fl, hp: str, lo: str, hi: str, memop: int) -> None:
    """The hit-path stores of a pair in one page (Op.st2): nothing can fault."""
    hp2 = fl.tmp()
    fl.emit(f"{hp2} = getelementptr i8, ptr {hp}, i64 {1 << (memop & MemOp.SIZE_MASK)}")
    store_fast(fl, hp, lo, memop)
    store_fast(fl, hp2, hi, memop)


def untag(fl, addr: str, memop: int) -> str:
    """The address an access uses (ops.tbi_address, for MemOp.TBI)."""
    if not memop & MemOp.TBI:
        return addr
    s, d = fl.tmp(), fl.tmp()
    fl.emit(f"{s} = shl i64 {addr}, 8")
    fl.emit(f"{d} = ashr i64 {s}, 8")
    return d


def pair_upper_first(fl, addr: str, size: int) -> str:
    """i1: ops.pair_upper_first(addr, size)."""
    end, off, up = fl.tmp(), fl.tmp(), fl.tmp()
    fl.emit(f"{end} = add i64 {addr}, {2 * size - 1}")
    fl.emit(f"{off} = and i64 {end}, {PAGE_SIZE - 1}")
    fl.emit(f"{up} = icmp ult i64 {off}, {size}")
    return up


class _TextFn:
    """Just enough of the lowering state to emit a runtime function's body."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.lines: list[str] = []
        self.n = 0

    def tmp(self) -> str:
        self.n += 1
        return f"%t{self.n}"

    def emit(self, line: str) -> None:
        self.lines.append("  " + line)


def access_function_text(rt: Runtime, memop: int, kind: str) -> str:
    """A module with the out-of-line guest access function first-tier code
    calls for ``memop``: ``i64 ld(env, addr, pc)``, ``void st(env, addr, val,
    pc)`` or ``void st2(env, addr, lo, hi, pc)`` (Op.st2).  A fault sets env
    ``pc`` to the faulting instruction's and leaves through env ``jmp_buf``;
    the slow path has filled in the rest."""
    fl = _TextFn(rt)
    size = 1 << (memop & MemOp.SIZE_MASK)
    # %arg is the guest's address as the instruction computed it
    addr = untag(fl, "%arg", memop)
    hit, entp = tlb_lookup(fl, addr, memop, kind != LOAD, 2 * size if kind == STORE_PAIR else 0)
    fl.emit(f"br i1 {hit}, label %hit, label %miss, !prof !1")
    fl.lines.append("hit:")
    hp = host_ptr(fl, addr, entp)
    name = access_fn_name(memop, kind)
    ok = None               # what the slow path's end does when it did not fault
    # The slow path finds the accessing instruction's pc in env exit_info
    # (memory hooks report it; first-tier code has written the registers
    # back).  Not in env pc: that holds the IR's pc global, which the block
    # may still read.
    pc_store = [f"  %pcm = getelementptr i8, ptr %env, i64 {rt.offsets['exit_info']}", "  store i64 %pc, ptr %pcm"]

    def slow_st(a: str, v: str, then: str) -> None:
        exc, bad = fl.tmp(), fl.tmp()
        fl.emit(f"call void {rt.ref(SYM_SLOW_ST, rt.slow_st)}(ptr %env, i64 {a}, i64 {v}, i64 {memop})")
        fl.emit(f"{exc} = load i64, ptr %excp")
        fl.emit(f"{bad} = icmp ne i64 {exc}, 0")
        fl.emit(f"br i1 {bad}, label %fault, label %{then}, !prof !0")

    if kind == STORE:
        store_fast(fl, hp, "%val", memop)
        fl.emit("ret void")
        fl.lines += ["miss:"] + pc_store
        fl.emit(f"call void {rt.ref(SYM_SLOW_ST, rt.slow_st)}(ptr %env, i64 {addr}, i64 %val, i64 {memop})")
        ok = "ret void"
        head = f"define void @{name}(ptr noalias %env, i64 %arg, i64 %val, i64 %pc) {{"
    elif kind == STORE_PAIR:
        # the pair is in one page and it hits: both stores, no fault possible
        store_pair_fast(fl, hp, "%lo", "%hi", memop)
        fl.emit("ret void")
        fl.lines += ["miss:"] + pc_store
        fl.lines.append(f"  %excp = getelementptr i8, ptr %env, i64 {rt.offsets['exception']}")
        upper = fl.tmp()
        fl.emit(f"{upper} = add i64 {addr}, {size}")
        fl.emit(f"br i1 {pair_upper_first(fl, addr, size)}, label %upfirst, label %lofirst")
        fl.lines.append("upfirst:")
        slow_st(upper, "%hi", "up2")
        fl.lines.append("up2:")
        slow_st(addr, "%lo", "done")
        fl.lines.append("lofirst:")
        slow_st(addr, "%lo", "lo2")
        fl.lines.append("lo2:")
        slow_st(upper, "%hi", "done")
        fl.lines += ["done:", "  ret void"]
        head = f"define void @{name}(ptr noalias %env, i64 %arg, i64 %lo, i64 %hi, i64 %pc) {{"
    else:
        fl.emit(f"ret i64 {value_fast(fl, hp, memop)}")
        fl.lines += ["miss:"] + pc_store
        fl.emit(f"%s = call i64 {rt.ref(SYM_SLOW_LD, rt.slow_ld)}(ptr %env, i64 {addr}, i64 {memop})")
        ok = "ret i64 %s"
        head = f"define i64 @{name}(ptr noalias %env, i64 %arg, i64 %pc) {{"
    off = rt.offsets
    if ok is not None:
        fl.lines += [
            f"  %excp = getelementptr i8, ptr %env, i64 {off['exception']}",
            "  %exc = load i64, ptr %excp",
            "  %bad = icmp ne i64 %exc, 0",
            "  br i1 %bad, label %fault, label %ok, !prof !0",
            "ok:", "  " + ok]
    fl.lines += [
        "fault:",
        f"  %pcp = getelementptr i8, ptr %env, i64 {off['pc']}",
        "  store i64 %pc, ptr %pcp",
        f"  %jbp = getelementptr i8, ptr %env, i64 {off['jmp_buf']}",
        "  %jb = load ptr, ptr %jbp",
        "  call void @llvm.eh.sjlj.longjmp(ptr %jb)",
        "  unreachable",
    ]
    return "\n".join(["declare void @llvm.eh.sjlj.longjmp(ptr)", rt.import_decls(), head, "entry:"]
                     + fl.lines + ["}", MODULE_TAIL])
