"""AArch64's known differences with Unicorn, each with its proof
(tcgpy.difftest.known_differences says what an entry holds).  The rows are
declared beside the form generators they concern (``KNOWN_ROWS`` of
forms_ls, forms_atomic and forms_fp16); a case that meets two of them at once
has an entry of its own here."""
from __future__ import annotations

from .. import (CODE_BASE, DATA_BASE, DATA_SIZE, END, KnownDifference, Outcome, case_emulator,
                compare, diff_arch, subject_fault_pc, tcgpy_event)
from . import forms_atomic, forms_fp16, forms_ls


def _replay_both_deviations(case):
    """tcgpy's outcome of ``case`` with Unicorn's narrow ldsmax/ldsmin (the
    forms_atomic entry) and fcvtzs h, #fbits (the forms_fp16 entry)
    both applied, each as its own entry's replay does; None unless each
    changed something.  Straight-line code, as theirs."""
    import tcgpy
    minmax, fcvtzs = forms_atomic.is_narrow_signed_minmax, forms_fp16.is_fcvtzs_h_fixed
    emu, da = case_emulator(case)
    stops = [CODE_BASE + 4 * i for i, w in enumerate(case.words) if minmax(w) or fcvtzs(w)]
    applied = set()
    begin, budget = da.prologue_base, case.bound + len(da.defs.prologue)
    event = END
    try:
        for stop in stops + [case.end]:
            emu.run(begin, until=stop, count=budget)
            if emu.reg_read("pc") != stop or stop == case.end:
                break
            word = case.words[(stop - CODE_BASE) // 4]
            begin = stop
            if fcvtzs(word):
                emu.run(stop, until=stop + 4, count=budget)
                if emu.reg_read("pc") != stop + 4:
                    break
                begin = stop + 4
                rd = f"q{word & 31}"
                v = emu.reg_read(rd)
                if 0x8000 <= v < 0x10000:
                    emu.reg_write(rd, v | 0xFFFF_0000)
                    applied.add("fcvtzs")
                continue
            rs, rn, rt = (word >> 16) & 31, (word >> 5) & 31, word & 31
            addr = emu.reg_read("sp") if rn == 31 else emu.reg_read(f"x{rn}")
            size = 1 << (word >> 30)
            if addr % size or not DATA_BASE <= addr <= DATA_BASE + DATA_SIZE - size:
                continue        # faults on both: run it
            old = int.from_bytes(emu.mem_read(addr, size), "little")
            uni = forms_atomic.unicorn_minmax(word, old, 0 if rs == 31 else emu.reg_read(f"x{rs}"))
            if uni is None:
                continue
            emu.mem_write(addr, uni.to_bytes(size, "little"))
            if rt != 31:
                emu.reg_write(f"x{rt}", old)
            begin = stop + 4
            applied.add("minmax")
    except tcgpy.EmulationError as e:
        event = tcgpy_event(e, da)
    if applied != {"fcvtzs", "minmax"}:
        return None
    regs = {n: emu.reg_read(n) for n in da.compare_regs}
    return Outcome(event, regs, bytes(emu.mem_read(DATA_BASE, DATA_SIZE)))


def _both_deviations(case, mismatch, reference, subject) -> bool:
    words = case.words
    if not (any(forms_atomic.is_narrow_signed_minmax(w) for w in words)
            and any(forms_fp16.is_fcvtzs_h_fixed(w) for w in words)):
        return False
    replay = _replay_both_deviations(case)
    return replay is not None and compare(diff_arch(case.arch), reference, replay) is None


BOTH_ROW = dict(
    name="a64-ldsmax-and-fcvtzs-h-together",
    arch="aarch64",
    matches=_both_deviations,
    unicorn="a case with both a narrow ldsmax/ldsmin whose operands differ in sign and an "
            "fcvtzs h, h, #fbits with a negative result shows both deviations at once; the "
            "entries a64-ldsmax-ldsmin-narrow-unsigned and a64-fcvtzs-h-fixed-sign-extended "
            "each replay only their own",
    architecture="as those two entries say",
    proof="those two entries' proofs; the replay applies both of Unicorn's behaviours and must "
          "reproduce Unicorn's outcome exactly (a mixed campaign, seed 300 case 3146: "
          "fcvtzs h3, h0, #11; ldsmin wzr, w4, [sp])",
    why="as those two entries")


KNOWN: tuple[KnownDifference, ...] = (
    # Both forms_ls rows are faults tcgpy takes and Unicorn does not, so
    # they part at the faulting pc.
    *(KnownDifference(**{"diverges_at": subject_fault_pc, **row})
      for row in forms_ls.KNOWN_ROWS),
    # Replays the whole case with Unicorn's semantics at the instruction: no diverges_at.
    *(KnownDifference(**row) for row in forms_atomic.KNOWN_ROWS),
    *(KnownDifference(**row) for row in forms_fp16.KNOWN_ROWS),
    KnownDifference(**BOTH_ROW),
)
