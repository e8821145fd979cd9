"""Native lowering of the vec ops that move, count and combine lanes: the
structure (de)interleaves of ld2-ld4/st2-st4 (uzpn, zipn), the reductions
across lanes, bit counts (cnt, clz, cls, rbit), pairwise add long (addlp),
table lookups (tbl/tbx) and polynomial multiplies (pmul, pmull).  Each is
bit-exact with its Python semantics in tcgpy.frontends.aarch64.vecsem, which stay the
definition (tests/test_a64_simd_vec.py holds one to the other); none of
them can saturate or raise an FP exception, so their status word is 0.

Code is generated for generic x86-64 (SSE2): LLVM lowers the vector
instructions and intrinsics used here without SSSE3's byte shuffles, so a
table lookup with a run-time index is a byte load per lane.  Vectors stay
register-sized (128 bits or less): wider ones cost LLVM many times more to
compile at the first tier's level.  The 64-bit carry-less multiply and the
first tier's table lookup are out-of-line functions (``@tcgpy_mod_*``)
that every module using them carries (lower.on_demand).
"""
from __future__ import annotations

from ...ir import semantics
from .lower import on_demand
from .lower_arm_vec import V, lowers_vec

# Arm's vec-op semantics: the AArch64 target's definitions, found by name
# (tcgpy.ir.semantics).
arm_vec = semantics.lookup("arm_vec")
VecOp = arm_vec.VecOp

_SIZES = [(n, bits) for n in (1, 2, 4, 8, 16, 32, 64) for bits in (8, 16, 32, 64) if n * bits <= 128]


def _vt(n: int, bits: int) -> str:
    return f"<{n} x i{bits}>"


def _sfx(n: int, bits: int) -> str:
    return f"v{n}i{bits}"


DECLS = "".join(
    f"declare {_vt(n, b)} @llvm.{f}.{_sfx(n, b)}({_vt(n, b)}{', i1' if f == 'ctlz' else ''})\n"
    for n, b in _SIZES for f in ("ctpop", "ctlz", "bitreverse")
)


def _signed(value: int, bits: int) -> int:
    """``value`` as LLVM prints an i``bits`` constant: signed."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _splat(v: V, value: int, esz: int, n: int) -> str:
    return v.splat(_signed(value, 8 << esz), esz, n)


def _intrinsic(v: V, name: str, ty: str, n: int, bits: int, *args: str) -> str:
    return v.emit(f"call {ty} @llvm.{name}.{_sfx(n, bits)}(" + ", ".join(args) + ")")


def _store_scalar(v: V, value: str, bits: int) -> None:
    """One lane of ``bits`` at d; the rest of the register zeroed."""
    fl = v.fl
    fl.emit(f"store i{bits} {value}, ptr {fl.env_ptr(v.d)}, align 1")
    nbytes = bits // 8
    fl.emit(f"store <{16 - nbytes} x i8> zeroinitializer, ptr {fl.env_ptr(v.d + nbytes)}, align 1")


# -- structure loads and stores ----------------------------------------------------------
# ld2-ld4 stage the n*oprsz bytes they read in the scratch area and take each
# register's lanes out of it with one uzpn; st2-st4 interleave the registers
# into it with one zipn.  Everything stays in register-sized vectors: one
# shuffle of the whole <64 x i8> block costs LLVM ~8 ms to compile at the
# first tier's level, a tree of 128-bit shuffles ~0.5 ms.

def _mask(idx) -> str:
    return "<" + ", ".join("i32 poison" if i is None else f"i32 {i}" for i in idx) + ">"


def _pick(v: V, srcs: list[str], idx: list[int]) -> str:
    """Lanes ``idx`` of the concatenation of ``srcs`` (vectors of v.t): a
    two-input shuffle of the first two sources used, then one more per
    further source."""
    n = v.lanes
    used = sorted({i // n for i in idx})
    if len(used) == 1:
        return v.emit(f"shufflevector {v.t} {srcs[used[0]]}, {v.t} poison, "
                      f"<{len(idx)} x i32> {_mask([i % n for i in idx])}")
    first, second = used[:2]
    mask = [i % n + (n if i // n == second else 0) if i // n in (first, second) else None for i in idx]
    acc = v.emit(f"shufflevector {v.t} {srcs[first]}, {v.t} {srcs[second]}, <{len(idx)} x i32> {_mask(mask)}")
    done = {first, second}
    for src in used[2:]:
        mask = [k if i // n in done else (n + i % n if i // n == src else None) for k, i in enumerate(idx)]
        acc = v.emit(f"shufflevector {v.t} {acc}, {v.t} {srcs[src]}, <{len(idx)} x i32> {_mask(mask)}")
        done.add(src)
    return acc


def _uzp(v: V, srcs: list[str], r: int) -> str:
    """Lanes r, r+n, r+2n.. of the concatenation of the n vectors ``srcs``
    (n = 4: two levels of two-way unzips, which SSE2 does with pack
    instructions)."""
    n, lanes = len(srcs), v.lanes
    if n == 4:
        return _uzp(v, [_uzp(v, srcs[:2], r % 2), _uzp(v, srcs[2:], r % 2)], r // 2)
    return _pick(v, srcs, [r + n * i for i in range(lanes)])


def _zip(v: V, srcs: list[str]) -> list[str]:
    """The n vectors ``srcs`` interleaved lane by lane, as n vectors (n = 4:
    the two-way interleave of zip(a0, a2) and zip(a1, a3))."""
    n, lanes = len(srcs), v.lanes
    if n == 4:
        p, q = _zip(v, [srcs[0], srcs[2]]), _zip(v, [srcs[1], srcs[3]])
        return _zip(v, [p[0], q[0]]) + _zip(v, [p[1], q[1]])
    return [_pick(v, srcs, [(g % n) * lanes + g // n for g in range(j * lanes, (j + 1) * lanes)])
            for j in range(n)]


def _regs(v: V, n: int) -> list[str]:
    return [v.load(v.a + k * v.oprsz) for k in range(n)]


@lowers_vec(VecOp.uzpn)
def lower_uzpn(v: V) -> None:
    n, r = v.imm & 15, v.imm >> 4
    v.store(_uzp(v, _regs(v, n), r))


@lowers_vec(VecOp.zipn)
def lower_zipn(v: V) -> None:
    fl = v.fl
    for j, out in enumerate(_zip(v, _regs(v, v.imm & 15))):
        # n*oprsz bytes and nothing past them (zero_upper=False)
        fl.emit(f"store {v.t} {out}, ptr {fl.env_ptr(v.d + j * v.oprsz)}, align 1")


# -- across lanes -------------------------------------------------------------------------

_REDUCE = {VecOp.addv: "add", VecOp.smaxv: "sgt", VecOp.sminv: "slt", VecOp.umaxv: "ugt",
           VecOp.uminv: "ult", VecOp.uaddlv: "add", VecOp.saddlv: "add"}


@lowers_vec(*_REDUCE)
def lower_across(v: V) -> None:
    """A tree of halving shuffles (LLVM's arm_vec.reduce intrinsics cost
    twice as much to compile); the long forms add the halves of the
    register widened to 2*esz first (at most 16 lanes: no overflow)."""
    esz, lanes = v.esz, v.lanes
    p = v.load(v.a)
    if v.kind in (VecOp.uaddlv, VecOp.saddlv):
        ext = "sext" if v.kind is VecOp.saddlv else "zext"
        narrow, esz, lanes = v.ty(esz, v.oprsz // 2), esz + 1, lanes // 2
        halves = [v.emit(f"{ext} {narrow} {v.shuffle(v.t, p, 'poison', list(range(h, h + lanes)))} "
                         f"to {_vt(lanes, 8 << esz)}") for h in (0, lanes)]
        p = v.emit(f"add {_vt(lanes, 8 << esz)} {halves[0]}, {halves[1]}")
    t, pred = _vt(lanes, 8 << esz), _REDUCE[v.kind]
    n = lanes
    while n > 1:
        n //= 2
        hi = v.emit(f"shufflevector {t} {p}, {t} poison, <{lanes} x i32> "
                    f"{_mask([i + n if i < n else None for i in range(lanes)])}")
        if pred == "add":
            p = v.emit(f"add {t} {p}, {hi}")
        else:
            c = v.emit(f"icmp {pred} {t} {p}, {hi}")
            p = v.emit(f"select <{lanes} x i1> {c}, {t} {p}, {t} {hi}")
    _store_scalar(v, v.emit(f"extractelement {t} {p}, i32 0"), 8 << esz)


# -- bit counts -----------------------------------------------------------------------------

@lowers_vec(VecOp.cnt, VecOp.clz, VecOp.rbit, VecOp.cls)
def lower_bitcount(v: V) -> None:
    # rbit and cnt work on bytes whatever esz says (the semantics do)
    esz = 0 if v.kind in (VecOp.rbit, VecOp.cnt) else v.esz
    n, bits = v.oprsz >> esz, 8 << esz
    t = _vt(n, bits)
    p = v.load(v.a, esz)
    if v.kind is VecOp.cnt:
        r = _intrinsic(v, "ctpop", t, n, bits, f"{t} {p}")
    elif v.kind is VecOp.rbit:
        r = _intrinsic(v, "bitreverse", t, n, bits, f"{t} {p}")
    elif v.kind is VecOp.clz:
        r = _intrinsic(v, "ctlz", t, n, bits, f"{t} {p}", "i1 false")
    else:
        # cls: leading zeros of (p ^ p >> 1), whose top bit is always clear,
        # count the sign bit's copies plus one
        s = v.emit(f"ashr {t} {p}, {_splat(v, 1, esz, n)}")
        x = v.emit(f"xor {t} {p}, {s}")
        z = _intrinsic(v, "ctlz", t, n, bits, f"{t} {x}", "i1 false")
        r = v.emit(f"sub {t} {z}, {_splat(v, 1, esz, n)}")
    v.store(r, esz)


# -- pairwise add long ----------------------------------------------------------------------

@lowers_vec(VecOp.addlp)
def lower_addlp(v: V) -> None:
    """Adjacent esz lanes (imm bit 0: signed) summed into 2*esz lanes; imm
    bit 1 (sadalp/uadalp) adds them to d."""
    wide = v.ty(v.esz + 1, v.oprsz)
    p = v.load(v.a)
    narrow = v.ty(v.esz, v.oprsz // 2)
    ext = "sext" if v.imm & 1 else "zext"
    even = v.emit(f"{ext} {narrow} {v.shuffle(v.t, p, 'poison', list(range(0, v.lanes, 2)))} to {wide}")
    odd = v.emit(f"{ext} {narrow} {v.shuffle(v.t, p, 'poison', list(range(1, v.lanes, 2)))} to {wide}")
    r = v.emit(f"add {wide} {even}, {odd}")
    if v.imm & 2:
        r = v.emit(f"add {wide} {r}, {v.load(v.d, v.esz + 1)}")
    v.store(r, v.esz + 1)


# -- table lookup ---------------------------------------------------------------------------

@lowers_vec(VecOp.tbl)
def lower_tbl(v: V) -> None:
    """Bytes of the imm & 0x7f-byte table at a indexed by the bytes at b; an
    index past the table gives 0 (tbx, imm bit 7: d's byte).  Without SSSE3
    there is no byte shuffle with a run-time index: a byte load per lane
    (of the table's first byte where the index is out of range).  The hot
    tier has the sixteen loads inline; the first tier calls a loop
    (@tcgpy_mod_tbl), a sixth of the inline code's compile time."""
    size, n, tbx = v.imm & 0x7F, v.oprsz, bool(v.imm & 0x80)
    fl = v.fl
    if not fl.hot:
        fl.emit(f"call void @tcgpy_mod_tbl(ptr {fl.env_ptr(v.d)}, ptr {fl.env_ptr(v.a)}, "
                f"ptr {fl.env_ptr(v.b)}, i64 {size}, i64 {n}, i1 {'true' if tbx else 'false'})")
        if n < 16:
            fl.emit(f"store <{16 - n} x i8> zeroinitializer, ptr {fl.env_ptr(v.d + n)}, align 1")
        return
    t = _vt(n, 8)
    idx = v.load(v.b, 0)
    inside = v.emit(f"icmp ult {t} {idx}, {_splat(v, size, 0, n)}")
    safe = v.emit(f"select <{n} x i1> {inside}, {t} {idx}, {t} zeroinitializer")
    base = fl.env_ptr(v.a)
    looked = "poison"
    for k in range(n):
        i = v.emit(f"extractelement {t} {safe}, i32 {k}")
        i64 = v.emit(f"zext i8 {i} to i64")
        p = v.emit(f"getelementptr i8, ptr {base}, i64 {i64}")
        byte = v.emit(f"load i8, ptr {p}, align 1")
        looked = v.emit(f"insertelement {t} {looked}, i8 {byte}, i32 {k}")
    other = v.load(v.d, 0) if tbx else "zeroinitializer"
    v.store(v.emit(f"select <{n} x i1> {inside}, {t} {looked}, {t} {other}"), 0)


# The lanes go to a buffer first: d may be the index register, or (in the
# tests, never from the frontend, which stages tables in vtmp) the table.
TBL_LOOP = """\
define internal void @tcgpy_mod_tbl(ptr %d, ptr %t, ptr %x, i64 %size, i64 %n, i1 %tbx) {
entry:
  %buf = alloca <16 x i8>, align 16
  br label %lane
lane:
  %k = phi i64 [ 0, %entry ], [ %k1, %lane ]
  %xp = getelementptr i8, ptr %x, i64 %k
  %i8 = load i8, ptr %xp, align 1
  %i = zext i8 %i8 to i64
  %in = icmp ult i64 %i, %size
  %safe = select i1 %in, i64 %i, i64 0
  %tp = getelementptr i8, ptr %t, i64 %safe
  %looked = load i8, ptr %tp, align 1
  %dp = getelementptr i8, ptr %d, i64 %k
  %old = load i8, ptr %dp, align 1
  %other = select i1 %tbx, i8 %old, i8 0
  %r = select i1 %in, i8 %looked, i8 %other
  %bp = getelementptr i8, ptr %buf, i64 %k
  store i8 %r, ptr %bp, align 1
  %k1 = add i64 %k, 1
  %more = icmp ult i64 %k1, %n
  br i1 %more, label %lane, label %done
done:
  %short = icmp ult i64 %n, 16
  br i1 %short, label %half, label %full
half:
  %lo = load <8 x i8>, ptr %buf, align 16
  store <8 x i8> %lo, ptr %d, align 1
  ret void
full:
  %all = load <16 x i8>, ptr %buf, align 16
  store <16 x i8> %all, ptr %d, align 1
  ret void
}
"""


# -- polynomial multiplies ------------------------------------------------------------------

def _clmul_lanes(v: V, p: str, q: str, ty: str, esz: int, n: int, width: int) -> str:
    """Lane-wise carry-less product of the low ``width`` bits of p and q
    (lanes of 8 << esz bits, wide enough for the product)."""
    r = "zeroinitializer"
    for i in range(width):
        bit = v.emit(f"and {ty} {q}, {_splat(v, 1 << i, esz, n)}")
        on = v.emit(f"icmp ne {ty} {bit}, zeroinitializer")
        shifted = v.emit(f"shl {ty} {p}, {_splat(v, i, esz, n)}") if i else p
        r = v.emit(f"xor {ty} {r}, {v.emit(f'select <{n} x i1> {on}, {ty} {shifted}, {ty} zeroinitializer')}")
    return r


@lowers_vec(VecOp.pmul)
def lower_pmul(v: V) -> None:
    """Bytes (the only lane size pmul has): the low 8 bits of the product."""
    assert v.esz == 0
    p, q = v.load(v.a), v.load(v.b)
    v.store(_clmul_lanes(v, p, q, v.t, 0, v.lanes, 8))


@lowers_vec(VecOp.pmull)
def lower_pmull(v: V) -> None:
    """8 bytes to 8 halfwords (esz 0), or one doubleword to 128 bits (esz 3,
    PMULL.1Q of GCM and CRC folding: the out-of-line clmul64)."""
    if v.esz == 3:
        p, q = v.load(v.a, 3, 8), v.load(v.b, 3, 8)
        x = v.emit(f"extractelement <1 x i64> {p}, i32 0")
        y = v.emit(f"extractelement <1 x i64> {q}, i32 0")
        r = v.emit(f"call <2 x i64> @tcgpy_mod_clmul64(i64 {x}, i64 {y})")
        v.store(r, 3, 16)
        return
    assert v.esz == 0
    wide = v.ty(1, 16)
    p = v.emit(f"zext <8 x i8> {v.load(v.a, 0, 8)} to {wide}")
    q = v.emit(f"zext <8 x i8> {v.load(v.b, 0, 8)} to {wide}")
    v.store(_clmul_lanes(v, p, q, wide, 1, 8, 8), 1, 16)


def _clmul64_text() -> str:
    """``<2 x i64> clmul64(i64 x, i64 y)``: the 128-bit carry-less product.

    The low half is BearSSL's bmul64 (ghash_ctmul64.c): the operands split
    into four sets of bits 4 apart, whose integer products have at most 15
    terms in every column below bit 60 and so no carry into the next bit of
    the same set; the columns that may reach 16 carry only past bit 63.  The
    high half is the low half of the bit-reversed operands' product,
    reversed (bits 63..126 of the product), shifted right by one."""
    masks = [_signed(int(c * 16, 16), 64) for c in "1248"]
    lines = ["define internal <2 x i64> @tcgpy_mod_clmul64(i64 %x, i64 %y) {", "entry:"]

    def bmul(out: str, x: str, y: str) -> None:
        for i, m in enumerate(masks):
            lines.append(f"  %{out}x{i} = and i64 {x}, {m}")
            lines.append(f"  %{out}y{i} = and i64 {y}, {m}")
        for k, m in enumerate(masks):
            # z_k sums x_i * y_j with i + j = k (mod 4)
            terms = []
            for i in range(4):
                j = (k - i) % 4
                lines.append(f"  %{out}p{k}{i} = mul i64 %{out}x{i}, %{out}y{j}")
                terms.append(f"%{out}p{k}{i}")
            lines.append(f"  %{out}s{k}a = xor i64 {terms[0]}, {terms[1]}")
            lines.append(f"  %{out}s{k}b = xor i64 {terms[2]}, {terms[3]}")
            lines.append(f"  %{out}s{k}c = xor i64 %{out}s{k}a, %{out}s{k}b")
            lines.append(f"  %{out}z{k} = and i64 %{out}s{k}c, {m}")
        lines.append(f"  %{out}o1 = or i64 %{out}z0, %{out}z1")
        lines.append(f"  %{out}o2 = or i64 %{out}z2, %{out}z3")
        lines.append(f"  %{out} = or i64 %{out}o1, %{out}o2")

    bmul("lo", "%x", "%y")
    lines.append("  %rx = call i64 @llvm.bitreverse.i64(i64 %x)")
    lines.append("  %ry = call i64 @llvm.bitreverse.i64(i64 %y)")
    bmul("rv", "%rx", "%ry")
    lines.append("  %hr = call i64 @llvm.bitreverse.i64(i64 %rv)")
    lines.append("  %hi = lshr i64 %hr, 1")
    lines.append("  %r0 = insertelement <2 x i64> poison, i64 %lo, i32 0")
    lines.append("  %r1 = insertelement <2 x i64> %r0, i64 %hi, i32 1")
    lines.append("  ret <2 x i64> %r1")
    lines.append("}")
    return "\n".join(lines) + "\n"


on_demand(DECLS + TBL_LOOP + _clmul64_text())
