"""The softmmu slow path in host code: a TLB miss is refilled natively.

Translated code calls ``slow_ld(env, addr, memop)`` / ``slow_st(env, addr,
value, memop)`` (runtime.SYM_SLOW_LD/ST) when its inline TLB compare misses.
Those are the two functions below.  They binary-search the address space's
region table (cpustate.RegionTable, published by softmmu.memory.AddressSpace
on every map, unmap and protect), fill the TLB entry as
``AddressSpace.tlb_fill`` would and do the access.  Everything the table does
not clear for the fast path goes to the Python slow path, unchanged: faults
(unmapped, permissions, alignment), MMIO, stores to regions holding
translated code.  An access that crosses into the next page is done here
too when both pages lie in one region (its host memory is contiguous and its
permissions are the region's): unaligned 8-byte loads in string and sort code
cross a page every 512 bytes on average.  Without this a program
whose working set outgrows the TLB's reach called into Python on every
access to a new page (QEMU's tlb_fill is native for the same reason).
"""
from __future__ import annotations

from ...cpustate import (FAST_READ, FAST_WRITE, PAGE_MASK, REGION_ENTRY_SIZE, TLB_ENTRY_SIZE,
                         TLB_SIZE, RegionEntry, RegionTable)
from ...ir.ops import MemOp
from .runtime import MODULE_TAIL, Runtime, _c

REFILL_LD, REFILL_ST = "tcgpy_refill_ld", "tcgpy_refill_st"
# the Python slow paths (emulator._slow_ld/_slow_st), as process symbols
PY_SLOW_LD, PY_SLOW_ST = "tcgpy_py_slow_ld", "tcgpy_py_slow_st"

_ENT = {name: getattr(RegionEntry, name).offset for name, _ in RegionEntry._fields_}
_TAB = {name: getattr(RegionTable, name).offset for name, _ in RegionTable._fields_}


def region_search(mem_table_offset: int) -> str:
    """``ptr @region_of(env, addr)``: the region table's entry
    (cpustate.RegionEntry) of the region holding ``addr``, or null (the
    table: env at ``mem_table_offset``); ``ptr @region_granting(env, addr,
    last, need)``: that entry if the region holds ``addr`` through ``last``
    and grants ``need`` (FAST_READ or FAST_WRITE) from host code, or null.
    Internal to each module using them."""
    return f"""\
define internal ptr @region_granting(ptr %env, i64 %addr, i64 %last, i64 %need) {{
entry:
  %rp = call ptr @region_of(ptr %env, i64 %addr)
  %none = icmp eq ptr %rp, null
  br i1 %none, label %fail, label %check
check:
  %endp = getelementptr i8, ptr %rp, i64 {_ENT['end']}
  %end = load i64, ptr %endp
  %inside = icmp ult i64 %last, %end
  %fastp = getelementptr i8, ptr %rp, i64 {_ENT['fast']}
  %fast = load i64, ptr %fastp
  %granted = and i64 %fast, %need
  %allowed = icmp eq i64 %granted, %need
  %ok = and i1 %inside, %allowed
  br i1 %ok, label %hit, label %fail
hit:
  ret ptr %rp
fail:
  ret ptr null
}}

define internal ptr @region_of(ptr %env, i64 %addr) {{
entry:
  %tpp = getelementptr i8, ptr %env, i64 {mem_table_offset}
  %tab = load ptr, ptr %tpp
  %np = getelementptr i8, ptr %tab, i64 {_TAB['count']}
  %n = load i64, ptr %np
  %ep = getelementptr i8, ptr %tab, i64 {_TAB['entries']}
  %ents = load ptr, ptr %ep
  br label %search
search:                                   ; the first region starting above addr
  %lo = phi i64 [ 0, %entry ], [ %lo2, %step ]
  %hi = phi i64 [ %n, %entry ], [ %hi2, %step ]
  %more = icmp ult i64 %lo, %hi
  br i1 %more, label %step, label %found
step:
  %sum = add i64 %lo, %hi
  %mid = lshr i64 %sum, 1
  %mo = mul i64 %mid, {REGION_ENTRY_SIZE}
  %mp = getelementptr i8, ptr %ents, i64 %mo
  %ms = load i64, ptr %mp
  %below = icmp ule i64 %ms, %addr
  %mid1 = add i64 %mid, 1
  %lo2 = select i1 %below, i64 %mid1, i64 %lo
  %hi2 = select i1 %below, i64 %hi, i64 %mid
  br label %search
found:
  %none = icmp eq i64 %lo, 0
  br i1 %none, label %fail, label %check
check:
  %i = sub i64 %lo, 1
  %ro = mul i64 %i, {REGION_ENTRY_SIZE}
  %rp = getelementptr i8, ptr %ents, i64 %ro
  %endp = getelementptr i8, ptr %rp, i64 {_ENT['end']}
  %end = load i64, ptr %endp
  %inside = icmp ult i64 %addr, %end
  br i1 %inside, label %hit, label %fail
hit:
  ret ptr %rp
fail:
  ret ptr null
}}
"""


def _refill(rt: Runtime, mem_table_offset: int) -> str:
    """``i1 refill(env, addr, last, need)``: fill ``addr``'s TLB entry from
    the region table if one region holds ``addr`` through ``last`` (the
    access's last byte) and grants ``need`` (FAST_READ or FAST_WRITE)."""
    return region_search(mem_table_offset) + f"""\
define internal i1 @refill(ptr %env, i64 %addr, i64 %last, i64 %need) {{
entry:
  %rp = call ptr @region_granting(ptr %env, i64 %addr, i64 %last, i64 %need)
  %none = icmp eq ptr %rp, null
  br i1 %none, label %fail, label %fill
fill:
  %fastp = getelementptr i8, ptr %rp, i64 {_ENT['fast']}
  %fast = load i64, ptr %fastp
  %addp = getelementptr i8, ptr %rp, i64 {_ENT['addend']}
  %addend = load i64, ptr %addp
  %page = and i64 %addr, {_c(PAGE_MASK)}
  %idx = lshr i64 %addr, 12
  %slot = and i64 %idx, {TLB_SIZE - 1}
  %eo = mul i64 %slot, {TLB_ENTRY_SIZE}
  %eo2 = add i64 %eo, {rt.tlb_offset}
  %tlb = getelementptr i8, ptr %env, i64 %eo2
  %rbit = and i64 %fast, {FAST_READ}
  %r = icmp ne i64 %rbit, 0
  %rtag = select i1 %r, i64 %page, i64 -1
  store i64 %rtag, ptr %tlb
  %wbit = and i64 %fast, {FAST_WRITE}
  %w = icmp ne i64 %wbit, 0
  %wtag = select i1 %w, i64 %page, i64 -1
  %wp = getelementptr i8, ptr %tlb, i64 8
  store i64 %wtag, ptr %wp
  %tap = getelementptr i8, ptr %tlb, i64 16
  store i64 %addend, ptr %tap
  %tpp = getelementptr i8, ptr %env, i64 {mem_table_offset}
  %tab = load ptr, ptr %tpp
  %cp = getelementptr i8, ptr %tab, i64 {_TAB['refills']}
  %c = load i64, ptr %cp
  %c1 = add i64 %c, 1
  store i64 %c1, ptr %cp
  ret i1 1
fail:
  ret i1 0
}}
"""


def _fast_ok(memop: str) -> str:
    """Instructions computing %fits (the access is aligned if the memop asks,
    else Python reports the fault) and %last, its last byte (an access
    wrapping around the top of the address space is not one region's)."""
    return f"""\
  %sl = and i64 {memop}, {MemOp.SIZE_MASK}
  %size = shl i64 1, %sl
  %szm = sub i64 %size, 1
  %mis = and i64 %addr, %szm
  %alb = and i64 {memop}, {MemOp.ALIGN}
  %needal = icmp ne i64 %alb, 0
  %misal = icmp ne i64 %mis, 0
  %bad = and i1 %needal, %misal
  %last = add i64 %addr, %szm
  %wraps = icmp ult i64 %last, %addr
  %no = or i1 %bad, %wraps
  %fits = xor i1 %no, 1
"""


def _host(rt: Runtime) -> str:
    """%hp: the host pointer for %addr from its (just filled) TLB entry."""
    return f"""\
  %idx = lshr i64 %addr, 12
  %slot = and i64 %idx, {TLB_SIZE - 1}
  %eo = mul i64 %slot, {TLB_ENTRY_SIZE}
  %eo2 = add i64 %eo, {rt.tlb_offset + 16}
  %ap = getelementptr i8, ptr %env, i64 %eo2
  %addend = load i64, ptr %ap
  %h = add i64 %addr, %addend
  %hp = inttoptr i64 %h to ptr
"""


def slow_path_text(rt: Runtime, mem_table_offset: int) -> str:
    """The module defining REFILL_LD and REFILL_ST (names only process
    symbols, so its object code can be kept in the persistent cache)."""
    py_ld, py_st = rt.ref(PY_SLOW_LD, 0), rt.ref(PY_SLOW_ST, 0)
    loads = []
    for memop in range(8):              # size | sign: every load shape
        size_log2, sign = memop & MemOp.SIZE_MASK, memop & MemOp.SIGN
        ty = f"i{8 << size_log2}"
        loads.append(f"ld{memop}:\n  %v{memop} = load {ty}, ptr %hp, align 1\n"
                     + (f"  ret i64 %v{memop}\n" if size_log2 == 3 else
                        f"  %x{memop} = {'sext' if sign else 'zext'} {ty} %v{memop} to i64\n"
                        f"  ret i64 %x{memop}\n"))
    stores = [f"st{n}:\n  %t{n} = trunc i64 %val to i{8 << n}\n  store i{8 << n} %t{n}, ptr %hp, align 1\n"
              "  ret void\n" for n in range(3)]
    stores.append("st3:\n  store i64 %val, ptr %hp, align 1\n  ret void\n")
    ld_cases = " ".join(f"i64 {m}, label %ld{m}" for m in range(1, 8))
    st_cases = " ".join(f"i64 {n}, label %st{n}" for n in range(1, 4))
    return (rt.import_decls() + _refill(rt, mem_table_offset) + f"""\
define i64 @{REFILL_LD}(ptr %env, i64 %addr, i64 %memop) {{
entry:
{_fast_ok('%memop')}  br i1 %fits, label %try, label %python, !prof !1
try:
  %ok = call i1 @refill(ptr %env, i64 %addr, i64 %last, i64 {FAST_READ})
  br i1 %ok, label %hit, label %python, !prof !1
hit:
{_host(rt)}  %shape = and i64 %memop, {MemOp.SIZE_MASK | MemOp.SIGN}
  switch i64 %shape, label %ld0 [ {ld_cases} ]
{''.join(loads)}python:
  %p = call i64 {py_ld}(ptr %env, i64 %addr, i64 %memop)
  ret i64 %p
}}

define void @{REFILL_ST}(ptr %env, i64 %addr, i64 %val, i64 %memop) {{
entry:
{_fast_ok('%memop')}  br i1 %fits, label %try, label %python, !prof !1
try:
  %ok = call i1 @refill(ptr %env, i64 %addr, i64 %last, i64 {FAST_WRITE})
  br i1 %ok, label %hit, label %python, !prof !1
hit:
{_host(rt)}  %sz = and i64 %memop, {MemOp.SIZE_MASK}
  switch i64 %sz, label %st0 [ {st_cases} ]
{''.join(stores)}python:
  call void {py_st}(ptr %env, i64 %addr, i64 %val, i64 %memop)
  ret void
}}
""" + MODULE_TAIL)
