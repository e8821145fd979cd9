"""Random A64 LSE atomic encodings (FEAT_LSE).

One class, "atomic": ld<op> (add, clr, eor, set, smax, smin, umax, umin) and
swp of every size and ordering, the st<op> aliases (rt = zr), cas and casp of
every size and ordering, and plain ldr/ldp loads of the registers cas and
casp compare.

- Bases are SP (always 16-byte aligned) mostly, else x20 or x21 (PTR
  registers: aligned three times in four), so most accesses are aligned and
  some take the alignment fault; few bases, so that the instructions of one
  case meet on the same bytes.
- Each base has its compare register (SP: x4, x20: x6, x21: x8; as casp
  pairs x4:x5, ...), which cas/casp on that base use as rs, ldr/ldp load and
  ld<op>/swp sometimes return into: a cas then compares the value an earlier
  cas, casp or ldr of the same bytes left there, and succeeds often (a cas
  loop: fail, reload, succeed).  Doublewords are the most frequent size, so
  that a narrower cas after a wider load compares equal too.
- Registers the class writes are never pointer registers.  ld<op> with
  rs = zr (an atomic load) leaves memory as it was.
- Unicorn's default Cortex-A72 lacks FEAT_LSE: the difftest reference runs
  these on Unicorn's "max" model.
"""
from __future__ import annotations

import random

from .. import (CODE_BASE, DATA_BASE, DATA_SIZE, END, KnownDifference, Outcome, Pos, case_emulator,
                compare, diff_arch, form_class, tcgpy_event)
from .conventions import PTR_REGS
from .forms_ls import pack

ARCH = "aarch64"
SP = ZR = 31
BASES = (SP, SP, SP, 20, 21)
COMPARE_REG = {SP: 4, 20: 6, 21: 8}     # even: a casp pair with the next register
SIZES = (0, 1, 2, 3, 3, 3)
DEST = tuple(r for r in range(31) if r not in PTR_REGS)
# casp register pairs (n, n + 1) the class may write: n even, n + 1 no pointer
PAIR_DEST = tuple(r for r in DEST if r % 2 == 0 and r + 1 not in PTR_REGS)

# opc of the o3=0 atomic memory operations, in encoding order
LDOP_NAMES = ("add", "clr", "eor", "set", "smax", "smin", "umax", "umin")
SMAX, SMIN = 0b100, 0b101


def enc_ldop(size: int, a: int, r: int, rs: int, o3: int, opc: int, rn: int, rt: int) -> int:
    """ld<op>/swp: size 111 0 00 A R 1 Rs o3 opc 00 Rn Rt."""
    return pack((size, 2), (0b111000, 6), (a, 1), (r, 1), (1, 1), (rs, 5), (o3, 1), (opc, 3),
                (0, 2), (rn, 5), (rt, 5))


def enc_cas(size: int, l_: int, rs: int, o0: int, rn: int, rt: int) -> int:
    """cas: size 001000 1 L 1 Rs o0 11111 Rn Rt."""
    return pack((size, 2), (0b0010001, 7), (l_, 1), (1, 1), (rs, 5), (o0, 1), (ZR, 5),
                (rn, 5), (rt, 5))


def enc_casp(sz: int, l_: int, rs: int, o0: int, rn: int, rt: int) -> int:
    """casp: 0 sz 001000 0 L 1 Rs o0 11111 Rn Rt."""
    return pack((0, 1), (sz, 1), (0b0010000, 7), (l_, 1), (1, 1), (rs, 5), (o0, 1), (ZR, 5),
                (rn, 5), (rt, 5))


def enc_ldr(size: int, rn: int, rt: int) -> int:
    """ldrb/ldrh/ldr w/ldr x rt, [rn] (unsigned offset 0)."""
    return pack((size, 2), (0b111001, 6), (0b01, 2), (0, 12), (rn, 5), (rt, 5))


def enc_ldp(x: int, rn: int, rt: int) -> int:
    """ldp w/x rt, rt + 1, [rn]."""
    return pack((x << 1, 2), (0b101, 3), (0, 1), (0b010, 3), (1, 1), (0, 7), (rt + 1, 5),
                (rn, 5), (rt, 5))


# (mask, value) of every encoding insn_atomic decodes
LSE_ENCODINGS = (
    (0x3F20_8C00, 0x3820_0000),     # ld<op>
    (0x3F20_FC00, 0x3820_8000),     # swp
    (0x3FA0_7C00, 0x08A0_7C00),     # cas
    (0xBFA0_7C00, 0x0820_7C00),     # casp (odd rs/rt: undefined)
)


def is_lse(word: int) -> bool:
    """An LSE encoding (Unicorn's default CPU model has none of them)."""
    return any(word & mask == value for mask, value in LSE_ENCODINGS)


def _dest(rng: random.Random, rn: int, p: float) -> int:
    """A register to write: the base's compare register with probability p."""
    return COMPARE_REG[rn] if rng.random() < p else rng.choice(DEST + (ZR,))


def _pair_dest(rng: random.Random, rn: int) -> int:
    return COMPARE_REG[rn] if rng.random() < 0.8 else rng.choice(PAIR_DEST)


def _value(rng: random.Random) -> int:
    """A source register: any, zr sometimes."""
    return ZR if rng.random() < 0.15 else rng.randrange(31)


# Instructions 2k and 2k + 1 of a case mostly share a base (SLOT_BASES[k % 4]):
# the first is more often a load, the second a cas or casp, which then
# compares the value just loaded.  Weights per kind, (first, second) of a slot:
KIND_WEIGHTS = {
    "ldop": (22, 20), "swp": (6, 5), "cas": (30, 45), "casp": (10, 25), "ldr": (14, 3),
    "ldp": (18, 2),
}
SLOT_BASES = (SP, 20, SP, 21)
# ... and the same pair size (ldp, casp): doublewords in even slots, words in odd.


@form_class(ARCH, "atomic", unicorn_cpu="max")
def gen_atomic(rng: random.Random, pos: Pos) -> int:
    """LSE: ld<op>/st<op>, swp, cas, casp (all sizes and orderings)"""
    second = pos.index & 1
    rn = SLOT_BASES[(pos.index >> 1) % 4] if rng.random() < 0.85 else rng.choice(BASES)
    size = rng.choice(SIZES)
    pair = ((pos.index >> 1) & 1) ^ 1 if rng.random() < 0.8 else rng.randrange(2)
    a, r = rng.randrange(2), rng.randrange(2)
    kind = rng.choices(tuple(KIND_WEIGHTS), [w[second] for w in KIND_WEIGHTS.values()])[0]
    if kind == "ldop":
        rt = ZR if rng.random() < 0.15 else _dest(rng, rn, 0.3)   # rt = zr: st<op>
        return enc_ldop(size, a, r, _value(rng), 0, rng.randrange(8), rn, rt)
    if kind == "swp":
        return enc_ldop(size, a, r, _value(rng), 1, 0, rn, _dest(rng, rn, 0.3))
    if kind == "cas":
        # rt = rs sometimes: a successful cas then leaves memory as it was
        rs = _dest(rng, rn, 0.8)
        return enc_cas(size, a, rs, r, rn, rs if rng.random() < 0.2 else _value(rng))
    if kind == "casp":
        return enc_casp(pair, a, _pair_dest(rng, rn), r, rn, rng.randrange(0, 32, 2))
    if kind == "ldr":
        # a doubleword: a cas of any size compares equal with it
        return enc_ldr(3, rn, _dest(rng, rn, 0.9))
    return enc_ldp(pair, rn, _pair_dest(rng, rn))


# -- Unicorn's deviation: ldsmax/ldsmin of bytes, halfwords and words ------------------------
# Unicorn (QEMU 5.0) emits them without MO_SIGN and so compares the operands
# as unsigned numbers; only doublewords come out right.  The entry below
# replays the case on tcgpy, applying Unicorn's unsigned result at every such
# instruction whose operands differ in sign, and accepts the mismatch only
# when the replay then ends exactly as Unicorn did: any other difference,
# before or after, stays a mismatch.

def is_narrow_signed_minmax(word: int) -> bool:
    # size 111 0 00 A R 1 Rs 0 opc 00 Rn Rt with opc 10x, size != 11
    return (word & 0x3F20_8C00 == 0x3820_0000 and (word >> 12) & 0b110 == 0b100
            and word >> 30 != 3)


def unicorn_minmax(word: int, old: int, value: int) -> int | None:
    """What Unicorn stores for a narrow ldsmax/ldsmin when it differs from
    the architecture, else None."""
    size = word >> 30
    bits = 8 << size
    mask = (1 << bits) - 1
    old, value = old & mask, value & mask

    def signed(v):
        return v - (1 << bits) if v >> (bits - 1) else v
    pick_max = (word >> 12) & 7 == SMAX
    arch = max(old, value, key=signed) if pick_max else min(old, value, key=signed)
    uni = max(old, value) if pick_max else min(old, value)
    return None if arch == uni else uni


def _replay_with_unicorn_minmax(case, reference):
    """tcgpy's outcome of ``case`` with Unicorn's ldsmax/ldsmin semantics
    applied; None when no such instruction met operands of differing sign."""
    import tcgpy
    emu, da = case_emulator(case)
    stops = [CODE_BASE + 4 * i for i, w in enumerate(case.words) if is_narrow_signed_minmax(w)]
    applied = False
    begin, budget = da.prologue_base, case.bound + len(da.defs.prologue)
    try:
        for stop in stops + [case.end]:
            emu.run(begin, until=stop, count=budget)
            if emu.reg_read("pc") != stop:
                break
            if stop == case.end:
                break
            word = case.words[(stop - CODE_BASE) // 4]
            rs, rn, rt = (word >> 16) & 31, (word >> 5) & 31, word & 31
            addr = emu.reg_read("sp") if rn == SP else emu.reg_read(f"x{rn}")
            size = 1 << (word >> 30)
            begin = stop
            if addr % size or not DATA_BASE <= addr <= DATA_BASE + DATA_SIZE - size:
                continue        # faults on both: run it
            old = int.from_bytes(emu.mem_read(addr, size), "little")
            value = 0 if rs == ZR else emu.reg_read(f"x{rs}")
            uni = unicorn_minmax(word, old, value)
            if uni is None:
                continue
            emu.mem_write(addr, uni.to_bytes(size, "little"))
            if rt != ZR:
                emu.reg_write(f"x{rt}", old)
            begin = stop + 4
            applied = True
        event = END
    except tcgpy.EmulationError as e:
        event = tcgpy_event(e, da)
    if not applied:
        return None
    regs = {n: emu.reg_read(n) for n in da.compare_regs}
    return Outcome(event, regs, bytes(emu.mem_read(DATA_BASE, DATA_SIZE)))


def _narrow_signed_minmax(case, mm, ref, sub) -> bool:
    if not any(is_narrow_signed_minmax(w) for w in case.words):
        return False
    replay = _replay_with_unicorn_minmax(case, ref)
    return replay is not None and compare(diff_arch(case.arch), ref, replay) is None


KNOWN_ROWS: tuple[dict, ...] = (
    dict(
        name="a64-ldsmax-ldsmin-narrow-unsigned",
        arch=ARCH,
        matches=_narrow_signed_minmax,
        unicorn="ldsmax/ldsmin of bytes, halfwords and words (all orderings, st<op> "
                "aliases too) compare the operands as unsigned numbers (QEMU 5.0 emits "
                "the atomic op without MO_SIGN): ldsmaxb of 1 into 0x80 stores 0x80",
        architecture="MemAtomic with MemAtomicOp_SMAX/SMIN compares SInt() of the "
                     "access-size values: ldsmaxb of 1 into 0x80 (-128) stores 0x01",
        proof="Arm ARM LDSMAX/LDSMIN pseudocode (MemAtomicOp_SMAX: SInt(value) > "
              "SInt(oldvalue)); qemu-aarch64 7.2 -cpu max: ldsmaxb w(1) on 0x80 stores 0x01, "
              "ldsmax w on 0x80000000 stores 1 (tests/test_a64_atomic_qemu.py runs the "
              "signed cases there); "
              "tests/test_a64_atomic.py::test_unicorn_narrow_signed_minmax_deviation",
        why="the architecture; glibc and compilers use ldsmax/ldsmin on signed data"),
)


def known_differences():
    """KNOWN_ROWS as tcgpy.difftest.known_differences.KnownDifference rows."""
    return tuple(KnownDifference(**row) for row in KNOWN_ROWS)
