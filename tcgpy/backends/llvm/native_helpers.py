"""Host-code versions of the helpers guest loops call, so that translated code
does not call Python for them.

A helper (tcgpy.ir.helpers) is a Python function: the interpreter runs it
and it stays the definition.  Where one is called in loops of real programs
(CRC32 in zlib and friends, the generic timer in spin-waits and timing
loops), the text below gives the same function as LLVM IR,
``i64 tcgpy_native_<name>(i64, i64, i64)``; the block cache puts its address
in the helper's place (Runtime.helpers), so first-tier, hot and cached code
all call it.  The JIT-versus-interpreter tests hold them to the Python.
"""
from __future__ import annotations

from ...ir import semantics
from ...ir.helpers import BY_NAME, CNTFRQ_HZ

# Arm's CRC32 instructions' tables (the AArch64 target's, tcgpy.ir.semantics)
CRC_TABLES = semantics.lookup("arm_crc32").CRC_TABLES

# clock_gettime's clock, as time.monotonic_ns reads it; the counter ticks
# every NS_PER_TICK nanoseconds (62.5 MHz: 16 ns), so no 128-bit product.
CLOCK_MONOTONIC = 1
NS_PER_TICK, _rem = divmod(1_000_000_000, CNTFRQ_HZ)
assert _rem == 0, "CNTFRQ_HZ must divide 1 GHz"


def _table(name: str, table: tuple[int, ...]) -> str:
    return f"@{name} = internal constant [256 x i32] [{', '.join(f'i32 {v}' for v in table)}]\n"


_CRC32 = _table("crc_ieee", CRC_TABLES[0]) + _table("crc_c", CRC_TABLES[1]) + """\
define i64 @tcgpy_native_crc32(i64 %acc, i64 %value, i64 %desc) {
entry:
  %castag = lshr i64 %desc, 2
  %c = and i64 %castag, 1
  %isc = icmp ne i64 %c, 0
  %table = select i1 %isc, ptr @crc_c, ptr @crc_ieee
  %szl = and i64 %desc, 3
  %n = shl i64 1, %szl
  %crc0 = trunc i64 %acc to i32
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %crc = phi i32 [ %crc0, %entry ], [ %next, %loop ]
  %sh = shl i64 %i, 3
  %byte64 = lshr i64 %value, %sh
  %byte = trunc i64 %byte64 to i32
  %x = xor i32 %crc, %byte
  %idx = and i32 %x, 255
  %idx64 = zext i32 %idx to i64
  %tp = getelementptr [256 x i32], ptr %table, i64 0, i64 %idx64
  %t = load i32, ptr %tp
  %hi = lshr i32 %crc, 8
  %next = xor i32 %t, %hi
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = zext i32 %next to i64
  ret i64 %r
}
"""

_CNTVCT = f"""\
declare i32 @clock_gettime(i32, ptr)
define i64 @tcgpy_native_cntvct(i64 %a, i64 %b, i64 %c) {{
entry:
  %ts = alloca [2 x i64], align 8
  %r = call i32 @clock_gettime(i32 {CLOCK_MONOTONIC}, ptr %ts)
  %sec = load i64, ptr %ts
  %nsp = getelementptr [2 x i64], ptr %ts, i64 0, i64 1
  %nsec = load i64, ptr %nsp
  %secns = mul i64 %sec, 1000000000
  %ns = add i64 %secns, %nsec
  %ticks = udiv i64 %ns, {NS_PER_TICK}
  ret i64 %ticks
}}
"""

TEXTS = {"crc32": _CRC32, "cntvct": _CNTVCT}
TEXTS_BY_ID = {BY_NAME[name].id: name for name in TEXTS}


def native_address(helper_id: int, store=None) -> int:
    """Address of the host-code version of helper ``helper_id``, compiled (or
    loaded from the persistent cache ``store``) once per process."""
    from . import jit
    name = TEXTS_BY_ID[helper_id]
    fn = f"tcgpy_native_{name}"
    return jit.runtime_functions(TEXTS[name], [fn], store)[fn]
