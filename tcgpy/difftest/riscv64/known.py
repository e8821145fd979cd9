"""Known differences between tcgpy's riscv64 and Unicorn's, each with its
proof (tcgpy.difftest.known_differences.KnownDifference)."""
from __future__ import annotations

from .. import (CODE_BASE, DATA_BASE, DATA_SIZE, END, KnownDifference, Outcome, case_emulator,
                compare, diff_arch, tcgpy_event)

M64 = (1 << 64) - 1
BOX = 0xFFFF_FFFF_0000_0000
SIGN_S = 1 << 31


def _is_fsgnj_s(w: int) -> bool:
    """fsgnj.s, fsgnjn.s, fsgnjx.s."""
    return w & 0xFE00_007F == 0x2000_0053 and (w >> 12) & 7 < 3


def _is_unboxed_write(w: int) -> bool:
    """fmv.w.x: Unicorn copies all 64 bits of rs1 (its flw boxes)."""
    return w & 0xFFF0_707F == 0xF000_0053


def _single_arith(w: int):
    """A single-precision F instruction other than the moves and sign
    injections: (single f-register inputs, f-register result or None,
    whether that result is a single)."""
    op, f5, fmt = w & 0x7F, w >> 27, w >> 25 & 3
    rd, rs1, rs2, rs3 = w >> 7 & 31, w >> 15 & 31, w >> 20 & 31, w >> 27
    if op in (0b1000011, 0b1000111, 0b1001011, 0b1001111):
        return ((rs1, rs2, w >> 27 & 31), rd, True) if fmt == 0 else None
    if op != 0b1010011 or f5 in (0b00100, 0b11110) or (f5 == 0b11100 and (w >> 12 & 7) == 0):
        return None                     # sign injections, fmv.w.x, fmv.x.w: the entries above
    if f5 == 0b01000:                   # fcvt.s.d (fmt 0): double in; fcvt.d.s: single in
        return ((), rd, True) if fmt == 0 else ((rs1,), rd, False)
    if fmt != 0:
        return None
    if f5 == 0b11010:                   # fcvt.s.{w,wu,l,lu}: integer in
        return (), rd, True
    if f5 in (0b10100, 0b11100, 0b11000):   # compares, fclass, fcvt to integer: x result
        return ((rs1, rs2) if f5 == 0b10100 else (rs1,)), None, False
    return ((rs1,) if f5 == 0b01011 else (rs1, rs2)), rd, True


def _is_fminmax(w: int) -> bool:
    return w & 0x7F == 0b1010011 and w >> 27 == 0b00101 and (w >> 25 & 3) < 2 and (w >> 12 & 7) < 2


def _fminmax_snan_fixup(emu, w: int, x: int, y: int) -> None:
    """Unicorn's fmin/fmax (QEMU 5.0: IEEE 754-2008 minNum/maxNum) give the
    canonical NaN when an operand is a signalling NaN, where the ISA's
    (2.2 on: minimumNumber/maximumNumber) give the other operand."""
    from ...frontends.riscv64 import softfloat as sf
    f = sf.D if w >> 25 & 1 else sf.S
    if f is sf.S:
        x, y = x & 0xFFFF_FFFF, y & 0xFFFF_FFFF
    if sf.is_snan(f, x) or sf.is_snan(f, y):
        emu.reg_write(f"f{w >> 7 & 31}", f.qnan)


def _touches_single(w: int) -> bool:
    return _is_fsgnj_s(w) or _is_unboxed_write(w) or _single_arith(w) is not None


def _is_sc_w(w: int) -> bool:
    return w & 0xF800_707F == 0x1800_202F


def _replayed(w: int) -> bool:
    return _touches_single(w) or _is_sc_w(w) or _is_fminmax(w)


def _unicorn_fsgnj_s(w: int, x: int, y: int) -> int:
    """Unicorn's (QEMU 5.0's trans_rvf.inc.c) single sign injections: the
    operands taken as they are, not checked for NaN-boxing, and the result
    not boxed: fsgnj/fsgnjn deposit rs1's bits 30:0 into rs2 (or ~rs2);
    with rs1 == rs2 they are a move of rs1 and an xor with INT32_MIN
    sign-extended (bits 63:31); fsgnjx deposits them into rs1 ^ rs2, and
    with rs1 == rs2 is an and with 0x7fffffff (bits 63:31 cleared)."""
    op, rs1, rs2 = (w >> 12) & 7, (w >> 15) & 31, (w >> 20) & 31
    low = x & (SIGN_S - 1)
    if op == 0:
        return x if rs1 == rs2 else (y & ~(SIGN_S - 1) & M64) | low
    if op == 1:
        return x ^ 0xFFFF_FFFF_8000_0000 if rs1 == rs2 else (~y & ~(SIGN_S - 1) & M64) | low
    return x & (SIGN_S - 1) if rs1 == rs2 else (((x ^ y) & ~(SIGN_S - 1)) & M64) | low


def _replay(case):
    """tcgpy's outcome with each of Unicorn's replayable deviations (the
    entries below) substituted where they apply."""
    import tcgpy
    emu, da = case_emulator(case)
    stops = {a for a, w in zip(case.addresses, case.words) if _replayed(w)}
    words = dict(zip(case.addresses, case.words))
    emu.breakpoints = stops
    begin, budget = da.prologue_base, case.bound + len(da.defs.prologue)
    event = END
    try:
        pc = None
        while budget > 0:
            if pc is None:
                # a run stops before a breakpoint, but not at the one it starts from
                emu.run(begin, until=case.end, count=budget)
                budget -= emu.last_run_insns
                pc, emu.hit_breakpoint = emu.hit_breakpoint, None
                if pc is None:
                    break
            w = words[pc]
            rd, rs1, rs2 = (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31
            if _is_fsgnj_s(w):
                emu.reg_write(f"f{rd}", _unicorn_fsgnj_s(w, emu.reg_read(f"f{rs1}"), emu.reg_read(f"f{rs2}")))
            elif _is_sc_w(w):
                # QEMU 5.0's gen_sc: the cmpxchg compares (and stores) at the
                # word size, but rd is its sign-extended old value compared
                # with the whole doubleword an lr.d reserved
                env = emu.env
                reserved = env.excl_addr == emu.reg_read(f"x{rs1}")
                val = env.excl_val
                emu.run(pc, count=1)            # tcgpy's own sc (faults as it does)
                if reserved and emu.reg_read(f"x{rd}") == 0 and val != _sext32(val):
                    emu.reg_write(f"x{rd}", 1)
            elif _is_fminmax(w) and (w >> 25 & 1):          # .d (the .s ones below)
                x, y = emu.reg_read(f"f{rs1}"), emu.reg_read(f"f{rs2}")
                emu.run(pc, count=1)
                _fminmax_snan_fixup(emu, w, x, y)
                emu.reg_write("pc", pc)
            elif _single_arith(w) is not None:
                # QEMU 5.0 takes a single's low word whatever the upper one
                # holds, and writes a single result zero-extended
                ins, out, single_out = _single_arith(w)
                saved = {r: emu.reg_read(f"f{r}") for r in ins}
                for r, v in saved.items():
                    emu.reg_write(f"f{r}", v | BOX)
                try:
                    emu.run(pc, count=1)
                finally:
                    for r, v in saved.items():
                        if r != out or emu.reg_read("pc") == pc:
                            emu.reg_write(f"f{r}", v)
                if single_out and emu.reg_read("pc") != pc:
                    if _is_fminmax(w):
                        _fminmax_snan_fixup(emu, w, saved[rs1], saved[rs2])
                    emu.reg_write(f"f{out}", emu.reg_read(f"f{out}") & 0xFFFF_FFFF)
                emu.reg_write("pc", pc)
            else:
                emu.reg_write(f"f{rd}", emu.reg_read(f"x{rs1}"))
            begin, budget = pc + 4, budget - 1
            emu.reg_write("pc", begin)
            pc = begin if begin in stops and budget > 0 else None
    except tcgpy.EmulationError as e:
        event = tcgpy_event(e, da)
    regs = {n: emu.reg_read(n) for n in da.compare_regs}
    return Outcome(event, regs, bytes(emu.mem_read(DATA_BASE, DATA_SIZE)))


def _sext32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v | 0xFFFF_FFFF_0000_0000 if v >> 31 else v


def _replay_explains(gate):
    """A matcher: the case has an instruction ``gate`` accepts, and the replay
    reproduces all of Unicorn's outcome (registers the values flowed into,
    memory they were stored to, the event)."""
    def matches(case, mismatch, reference, subject) -> bool:
        if not any(gate(w) for w in case.words):
            return False
        return compare(diff_arch(case.arch), reference, _replay(case)) is None
    return matches


def _is_reserved_c_unicorn_runs(w: int) -> bool:
    """Reserved compressed encodings Unicorn executes (exhaustively checked
    over all 16-bit words, tests/test_rv64_difftest.py): quadrant 0's
    funct3 100 row, and quadrant 1's 100 1 11 xxx 1x xxx 01 (beside c.subw
    and c.addw)."""
    if w & 3 == 3 or w >> 16:
        return False
    return w >> 13 == 0b100 and (w & 3 == 0 or (w & 3 == 1 and w >> 10 & 7 == 0b111 and w >> 6 & 1))


def _reserved_c_pc(case, mismatch, reference, subject) -> int | None:
    """The pc where tcgpy found a reserved compressed word illegal."""
    pc = subject.regs.get("pc")
    if subject.event.kind != "illegal" or (reference.event.kind == "illegal"
                                          and reference.regs.get("pc") == pc):
        return None
    # the halfword at pc (a branch may land inside a 4-byte instruction)
    off = (pc or 0) - CODE_BASE
    code = case.code
    if not 0 <= off <= len(code) - 2:
        return None
    return pc if _is_reserved_c_unicorn_runs(int.from_bytes(code[off:off + 2], "little")) else None


KNOWN: tuple[KnownDifference, ...] = (
    KnownDifference(
        name="rv64c-reserved-encodings-executed",
        arch="riscv64",
        matches=lambda case, mm, ref, sub: _reserved_c_pc(case, mm, ref, sub) is not None,
        diverges_at=_reserved_c_pc,
        unicorn="executes the compressed words of quadrant 0 funct3 100 (0x8000-0x9ffc, low "
                "bits 00) and 100 1 11 rd' 1x rs2' 01 as some instruction",
        architecture="both are Reserved in the RVC opcode map (ISA manual, C extension, "
                     "'RVC Instruction Set Listings'); RV64GC without Zcb has no instruction "
                     "there, so they are illegal instructions",
        proof="qemu-riscv64 7.2 delivers SIGILL (exit status 132) for .2byte 0x8000 and "
              ".2byte 0x9c41 (a static program: the word, then exit(0)); the engines agree "
              "up to the word (diverges_at)",
        why="tcgpy follows the ISA and qemu-riscv64: guest code probing for an extension by "
            "catching SIGILL must see SIGILL"),
    KnownDifference(
        name="rv64-single-no-nan-boxing",
        arch="riscv64",
        matches=_replay_explains(_touches_single),
        unicorn="single-precision arithmetic, comparisons, conversions and fclass take the "
                "operands' low words whatever their upper words hold and write single results "
                "zero-extended; fmv.w.x copies all 64 bits of rs1 into rd; fsgnj.s/fsgnjn.s/fsgnjx.s "
                "use the operands' raw bits and leave the result's upper 32 bits as they come "
                "from an operand (QEMU 5.0's trans_rvf.inc.c, which Unicorn 2.1 is built from)",
        architecture="an operand not NaN-boxed (bits 63:32 not all ones) is the canonical NaN "
                     "0x7fc00000, and the result is NaN-boxed (RISC-V ISA manual, F extension, "
                     "'NaN Boxing of Narrower Values')",
        proof="QEMU commits 'target/riscv: Generate nanboxed results from trans_rvf.inc.c' and "
              "'Check nanboxed inputs in trans_rvf.inc.c' (Richard Henderson, 2020, in QEMU "
              "5.2) add gen_nanbox_s to fmv.w.x, 'Generate nanboxed results from fp helpers' and 'Check nanboxed inputs to fp helpers' to the helpers, and gen_check_nanbox_s to the three sign "
              "injections; the replay "
              "substitutes the pre-5.2 formulas and must reproduce Unicorn's state exactly; "
              "qemu-riscv64 7.2 gives tcgpy's results (tests/guest/riscv64/rv_fp.c, "
              "ref/rv_fp.out: fsgnj.s and fadd.s of an unboxed operand, fmv.w.x)",
        why="tcgpy follows the ISA, as current QEMU and hardware do"),
    KnownDifference(
        name="rv64-sc-w-after-lr-d-reports-failure",
        arch="riscv64",
        matches=_replay_explains(_is_sc_w),
        unicorn="an sc.w at the address an lr.d reserved stores when the low words match, "
                "yet writes rd = 1 (failure) when the reserved doubleword is not the "
                "sign-extension of its low word (QEMU 5.0 gen_sc compares cmpxchg's "
                "sign-extended old word with the whole load_val)",
        architecture="an sc writes rd = 0 exactly when it performs its store (ISA manual, A "
                     "extension, 'Load-Reserved/Store-Conditional Instructions')",
        proof="the replay runs tcgpy's sc.w and substitutes rd = 1 only in that situation, and "
              "must reproduce Unicorn's state exactly; QEMU's gen_sc uses "
              "tcg_gen_setcond_tl(TCG_COND_NE, dat, src1, load_val) on the cmpxchg result",
        why="a success flag that disagrees with memory is no behaviour a program can rely on; "
            "tcgpy keeps store and flag consistent"),
    KnownDifference(
        name="rv64-fmin-fmax-signalling-nan",
        arch="riscv64",
        matches=_replay_explains(_is_fminmax),
        unicorn="fmin/fmax with a signalling NaN operand return the canonical NaN (IEEE "
                "754-2008 minNum/maxNum, QEMU 5.0's float*_minnum)",
        architecture="since ISA 2.2 fmin/fmax are IEEE 754-2019 minimumNumber/"
                     "maximumNumber: a NaN operand, signalling or quiet, yields the other "
                     "operand (and a signalling one raises NV)",
        proof="QEMU commit 'target/riscv: change the api for RVF/RVD fmin/fmax' (Chih-Min Chao, "
              "QEMU 6.1) moves to float*_minimum_number; the replay substitutes the canonical "
              "NaN exactly there and must reproduce Unicorn's state; qemu-riscv64 7.2 returns "
              "the other operand with NV (tests/guest/riscv64/ref/rv_fp.out, fmin.s snan,2)",
        why="tcgpy follows the ratified ISA, as current QEMU does"),
)
