"""Native lowering of the AES and SHA-1/SHA-256 vec ops, bit-exact with
their Python semantics in tcgpy.frontends.aarch64.vecsem (the definition).

No host AES-NI or SHA instructions: translated code targets generic x86-64
(it may be loaded from the persistent cache on any such host).  AESE/AESD
look the state up in the S-box, a constant table; AESMC/AESIMC are GF(2^8)
doublings on the whole vector; each SHA instruction is scalar 32-bit code.
The table and the out-of-line functions (``@tcgpy_mod_*``) are carried by
every module that names them (lower.on_demand): internal, so relocatable
code needs no symbol for them.
"""
from __future__ import annotations

from ...ir import semantics
from .lower import on_demand
from .lower_arm_vec import V, lowers_vec

# Arm's vec-op semantics: the AArch64 target's definitions, found by name
# (tcgpy.ir.semantics).
arm_vec = semantics.lookup("arm_vec")
VecOp, SHA_OPS = arm_vec.VecOp, arm_vec.SHA_OPS
AES_SBOX, AES_INV_SBOX = arm_vec.AES_SBOX, arm_vec.AES_INV_SBOX
SHIFT_ROWS, INV_SHIFT_ROWS = arm_vec.SHIFT_ROWS, arm_vec.INV_SHIFT_ROWS

V16 = "<16 x i8>"


def _table(name: str, data) -> str:
    body = "".join(f"\\{b:02X}" for b in data)
    return f'@{name} = private unnamed_addr constant [{len(data)} x i8] c"{body}", align 16\n'


def _mask(idx) -> str:
    return "<" + ", ".join(f"i32 {i}" for i in idx) + ">"


# -- AES ------------------------------------------------------------------------------------

def _aes_round_text(name: str, sbox_name: str, rows) -> str:
    """``void name(ptr d, ptr a, ptr b)``: d = SubBytes(ShiftRows(a ^ b)),
    or the inverses; all of a and b are read before d is written."""
    lines = [f"define internal void @{name}(ptr %d, ptr %a, ptr %b) {{", "entry:",
             f"  %p = load {V16}, ptr %a, align 1",
             f"  %q = load {V16}, ptr %b, align 1",
             f"  %x = xor {V16} %p, %q",
             f"  %s = shufflevector {V16} %x, {V16} poison, <16 x i32> {_mask(rows)}"]
    prev = "poison"
    for i in range(16):
        lines += [f"  %e{i} = extractelement {V16} %s, i32 {i}",
                  f"  %z{i} = zext i8 %e{i} to i64",
                  f"  %g{i} = getelementptr [256 x i8], ptr @{sbox_name}, i64 0, i64 %z{i}",
                  f"  %l{i} = load i8, ptr %g{i}, align 1",
                  f"  %r{i} = insertelement {V16} {prev}, i8 %l{i}, i32 {i}"]
        prev = f"%r{i}"
    lines += [f"  store {V16} {prev}, ptr %d, align 1", "  ret void", "}"]
    return "\n".join(lines) + "\n"


AES_FNS = ("tcgpy_mod_aese", "tcgpy_mod_aesd")          # by imm (AESD: 1)


@lowers_vec(VecOp.aese)
def lower_aese(v: V) -> None:
    fl = v.fl
    fl.emit(f"call void @{AES_FNS[v.imm & 1]}(ptr {fl.env_ptr(v.d)}, ptr {fl.env_ptr(v.a)}, "
            f"ptr {fl.env_ptr(v.b)})")


def _xtime(v: V, x: str) -> str:
    """Every byte times 2 in GF(2^8) (AES's polynomial)."""
    sh = v.emit(f"shl {V16} {x}, {v.splat(1, 0, 16)}")
    top = v.emit(f"ashr {V16} {x}, {v.splat(7, 0, 16)}")
    red = v.emit(f"and {V16} {top}, {v.splat(0x1B, 0, 16)}")
    return v.emit(f"xor {V16} {sh}, {red}")


def _rot(v: V, x: str, k: int) -> str:
    """Each 4-byte column's bytes rotated: byte r of a column gets byte r + k."""
    return v.shuffle(V16, x, "poison", [(i & ~3) | ((i + k) & 3) for i in range(16)])


@lowers_vec(VecOp.aesmc)
def lower_aesmc(v: V) -> None:
    """MixColumns: 2*a_r ^ 3*a_r+1 ^ a_r+2 ^ a_r+3 in each column.  The
    inverse (imm 1) is MixColumns after a_r ^= 4*(a_r ^ a_r+2), which
    turns the matrix (2 3 1 1) into (14 11 13 9)."""
    a = v.load(v.a, 0, 16)
    if v.imm & 1:
        u = _xtime(v, _xtime(v, v.emit(f"xor {V16} {a}, {_rot(v, a, 2)}")))
        a = v.emit(f"xor {V16} {a}, {u}")
    r1, r2, r3 = (_rot(v, a, k) for k in (1, 2, 3))
    m = _xtime(v, v.emit(f"xor {V16} {a}, {r1}"))
    m = v.emit(f"xor {V16} {m}, {r1}")
    m = v.emit(f"xor {V16} {m}, {r2}")
    v.store(v.emit(f"xor {V16} {m}, {r3}"), 0, 16)


# -- SHA-1 / SHA-256 ---------------------------------------------------------------------------

class _Words:
    """Scalar i32 code of one out-of-line function, written like the Python
    semantics it mirrors (arm_vec.py's _sha1_hash, _sha256_hash, sem_sha)."""

    def __init__(self):
        self.lines: list[str] = []
        self.n = 0

    def op(self, text: str) -> str:
        self.n += 1
        self.lines.append(f"  %v{self.n} = {text}")
        return f"%v{self.n}"

    def load(self, ptr: str) -> list[str]:
        vec = self.op(f"load <4 x i32>, ptr {ptr}, align 1")
        return [self.op(f"extractelement <4 x i32> {vec}, i32 {i}") for i in range(4)]

    def store(self, ptr: str, words: list[str]) -> None:
        vec = "poison"
        for i, w in enumerate(words):
            vec = self.op(f"insertelement <4 x i32> {vec}, i32 {w}, i32 {i}")
        self.lines.append(f"  store <4 x i32> {vec}, ptr {ptr}, align 1")

    def _fold(self, op: str, xs) -> str:
        acc = xs[0]
        for x in xs[1:]:
            acc = self.op(f"{op} i32 {acc}, {x}")
        return acc

    def add(self, *xs: str) -> str:
        return self._fold("add", xs)

    def xor(self, *xs: str) -> str:
        return self._fold("xor", xs)

    def and_(self, p: str, q: str) -> str:
        return self.op(f"and i32 {p}, {q}")

    def or_(self, p: str, q: str) -> str:
        return self.op(f"or i32 {p}, {q}")

    def rol(self, x: str, k: int) -> str:
        return self.op(f"call i32 @llvm.fshl.i32(i32 {x}, i32 {x}, i32 {k % 32})")

    def ror(self, x: str, k: int) -> str:
        return self.rol(x, 32 - k)

    def shr(self, x: str, k: int) -> str:
        return self.op(f"lshr i32 {x}, {k}")


_SHA1_F = (lambda w, x, y, z: w.xor(w.and_(w.xor(y, z), x), z),            # choose
           lambda w, x, y, z: w.xor(x, y, z),                               # parity
           lambda w, x, y, z: w.or_(w.and_(x, y), w.and_(w.or_(x, y), z)))  # majority


def _sha1_hash(w: _Words, x: list[str], y: str, m: list[str], f) -> list[str]:
    for e in range(4):
        t = f(w, x[1], x[2], x[3])
        y_new = w.add(y, w.rol(x[0], 5), t, m[e])
        x, y = [y_new, x[0], w.rol(x[1], 30), x[2]], x[3]
    return x


def _sha256_hash(w: _Words, x: list[str], y: list[str], m: list[str], part1: bool) -> list[str]:
    for e in range(4):
        chs = w.xor(w.and_(w.xor(y[1], y[2]), y[0]), y[2])
        maj = w.or_(w.and_(x[0], x[1]), w.and_(w.or_(x[0], x[1]), x[2]))
        sig1 = w.xor(w.ror(y[0], 6), w.ror(y[0], 11), w.ror(y[0], 25))
        t = w.add(y[3], sig1, chs, m[e])
        x3 = w.add(t, x[3])
        sig0 = w.xor(w.ror(x[0], 2), w.ror(x[0], 13), w.ror(x[0], 22))
        y3 = w.add(t, sig0, maj)
        x, y = [y3, x[0], x[1], x[2]], [x3, y[0], y[1], y[2]]
    return x if part1 else y


def _sha_op(w: _Words, op: str, d: list[str], n: list[str], m: list[str]) -> list[str]:
    zero = "0"
    if op in ("sha1c", "sha1p", "sha1m"):
        return _sha1_hash(w, d, n[0], m, _SHA1_F[SHA_OPS.index(op)])
    if op == "sha1su0":
        return [w.xor(d[i], s, m[i]) for i, s in enumerate([d[2], d[3], n[0], n[1]])]
    if op == "sha256h":
        return _sha256_hash(w, d, n, m, True)
    if op == "sha256h2":
        return _sha256_hash(w, n, d, m, False)
    if op == "sha256su1":
        t0 = [n[1], n[2], n[3], m[0]]
        res: list[str] = []
        for e in range(4):
            elt = m[2 + e] if e < 2 else res[e - 2]
            elt = w.xor(w.ror(elt, 17), w.ror(elt, 19), w.shr(elt, 10))
            res.append(w.add(elt, d[e], t0[e]))
        return res
    if op == "sha1h":
        return [w.rol(n[0], 30), zero, zero, zero]
    if op == "sha1su1":
        t = [w.xor(d[0], n[1]), w.xor(d[1], n[2]), w.xor(d[2], n[3]), d[3]]
        return [w.rol(t[0], 1), w.rol(t[1], 1), w.rol(t[2], 1), w.xor(w.rol(t[3], 1), w.rol(t[0], 2))]
    assert op == "sha256su0"
    t = [d[1], d[2], d[3], n[0]]
    return [w.add(w.xor(w.ror(t[e], 7), w.ror(t[e], 18), w.shr(t[e], 3)), d[e]) for e in range(4)]


def _sha_fn(op: str) -> str:
    return f"tcgpy_mod_{op}"


def _sha_text(op: str) -> str:
    """``void tcgpy_mod_<op>(ptr d, ptr n, ptr m)``: d is read (all three
    are) before it is written."""
    w = _Words()
    d, n, m = w.load("%d"), w.load("%n"), w.load("%m")
    w.store("%d", _sha_op(w, op, d, n, m))
    return "\n".join([f"define internal void @{_sha_fn(op)}(ptr %d, ptr %n, ptr %m) {{", "entry:"]
                     + w.lines + ["  ret void", "}"]) + "\n"


@lowers_vec(VecOp.sha)
def lower_sha(v: V) -> None:
    fl = v.fl
    fl.emit(f"call void @{_sha_fn(SHA_OPS[v.imm])}(ptr {fl.env_ptr(v.d)}, ptr {fl.env_ptr(v.a)}, "
            f"ptr {fl.env_ptr(v.b)})")


on_demand("declare i32 @llvm.fshl.i32(i32, i32, i32)\n"
          + _table("tcgpy_mod_aes_sbox", AES_SBOX) + _table("tcgpy_mod_aes_inv_sbox", AES_INV_SBOX)
          + _aes_round_text(AES_FNS[0], "tcgpy_mod_aes_sbox", SHIFT_ROWS)
          + _aes_round_text(AES_FNS[1], "tcgpy_mod_aes_inv_sbox", INV_SHIFT_ROWS)
          + "".join(_sha_text(op) for op in SHA_OPS))
