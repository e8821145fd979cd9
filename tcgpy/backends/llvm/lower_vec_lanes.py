"""Native lowering of the vec ops that move, count and combine lanes: the
structure (de)interleaves of ld2-ld4/st2-st4 (uzpn, zipn), the reductions
across lanes, bit counts (cnt, clz, cls, rbit), pairwise add long (addlp),
table lookups (tbl/tbx) and polynomial multiplies (pmul, pmull).  Each is
bit-exact with its Python semantics in tcgpy.ir.vector, which stay the
definition (tests/test_a64_simd_vec.py holds one to the other); none of
them can saturate or raise an FP exception, so their status word is 0.

Code is generated for generic x86-64 (SSE2): LLVM lowers the vector
instructions and intrinsics used here without SSSE3's byte shuffles, so a
table lookup with a run-time index is a byte load per lane.  The 64-bit
carry-less multiply is an out-of-line function (``@tcgpy_mod_clmul64``)
that every module using it carries (lower.on_demand).
"""
from __future__ import annotations

from ...ir.vector import VecOp
from .lower import on_demand
from .lower_vec import V, lowers_vec

_SIZES = [(n, bits) for n in (1, 2, 4, 8, 16, 32, 64) for bits in (8, 16, 32, 64) if n * bits <= 512]


def _vt(n: int, bits: int) -> str:
    return f"<{n} x i{bits}>"


def _sfx(n: int, bits: int) -> str:
    return f"v{n}i{bits}"


DECLS = "".join(
    f"declare i{b} @llvm.vector.reduce.{r}.{_sfx(n, b)}({_vt(n, b)})\n"
    for n, b in _SIZES for r in ("add", "smax", "smin", "umax", "umin")
) + "".join(
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
# with one zipn.  Both are a single shuffle of the whole staged block.

@lowers_vec(VecOp.uzpn)
def lower_uzpn(v: V) -> None:
    n, r = v.imm & 15, v.imm >> 4
    whole = v.load(v.a, v.esz, n * v.oprsz)
    ty = v.ty(v.esz, n * v.oprsz)
    v.store(v.shuffle(ty, whole, "poison", [r + n * i for i in range(v.lanes)]))


@lowers_vec(VecOp.zipn)
def lower_zipn(v: V) -> None:
    n, lanes = v.imm & 15, v.lanes
    ty = v.ty(v.esz, n * v.oprsz)
    whole = v.load(v.a, v.esz, n * v.oprsz)
    out = v.shuffle(ty, whole, "poison", [k * lanes + i for i in range(lanes) for k in range(n)])
    # n*oprsz bytes and nothing past them (zero_upper=False)
    v.fl.emit(f"store {ty} {out}, ptr {v.fl.env_ptr(v.d)}, align 1")


# -- across lanes -------------------------------------------------------------------------

_REDUCE = {VecOp.addv: "add", VecOp.smaxv: "smax", VecOp.sminv: "smin", VecOp.umaxv: "umax",
           VecOp.uminv: "umin", VecOp.uaddlv: "add", VecOp.saddlv: "add"}


@lowers_vec(*_REDUCE)
def lower_across(v: V) -> None:
    n, bits = v.lanes, 8 << v.esz
    p = v.load(v.a)
    if v.kind in (VecOp.uaddlv, VecOp.saddlv):
        # the sum of at most 16 lanes fits the double-width lane
        ext = "sext" if v.kind is VecOp.saddlv else "zext"
        p = v.emit(f"{ext} {v.t} {p} to {_vt(n, 2 * bits)}")
        bits *= 2
    r = _intrinsic(v, f"vector.reduce.{_REDUCE[v.kind]}", f"i{bits}", n, bits, f"{_vt(n, bits)} {p}")
    _store_scalar(v, r, bits)


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
    index past the table gives 0 (tbx, imm bit 7: d's byte).  A byte load
    per lane (no byte shuffle with a run-time index before SSSE3), of the
    table's first byte where the index is out of range."""
    size, n = v.imm & 0x7F, v.oprsz
    t = _vt(n, 8)
    idx = v.load(v.b, 0)
    inside = v.emit(f"icmp ult {t} {idx}, {_splat(v, size, 0, n)}")
    safe = v.emit(f"select <{n} x i1> {inside}, {t} {idx}, {t} zeroinitializer")
    base = v.fl.env_ptr(v.a)
    looked = "poison"
    for k in range(n):
        i = v.emit(f"extractelement {t} {safe}, i32 {k}")
        i64 = v.emit(f"zext i8 {i} to i64")
        p = v.emit(f"getelementptr i8, ptr {base}, i64 {i64}")
        byte = v.emit(f"load i8, ptr {p}, align 1")
        looked = v.emit(f"insertelement {t} {looked}, i8 {byte}, i32 {k}")
    other = v.load(v.d, 0) if v.imm & 0x80 else "zeroinitializer"
    v.store(v.emit(f"select <{n} x i1> {inside}, {t} {looked}, {t} {other}"), 0)


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


on_demand(DECLS + _clmul64_text())
