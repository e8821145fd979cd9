"""Where Unicorn (the difftest reference) deviates from the architecture.

tcgpy follows the architecture; Unicorn is an old QEMU with its own bugs.  A
mismatch is *known* only when an entry below matches it, and an entry goes in
only with proof: the Arm ARM section that defines the behaviour and/or the
observation of the same instruction and inputs on ``qemu-aarch64`` (current
QEMU) or hardware.  Each entry says what Unicorn does, what the architecture
says, the proof, and why tcgpy follows the architecture.  A predicate should be
as narrow as the evidence: the instruction encoding, the inputs that trigger it
and the fields that differ, so that a real tcgpy bug in the same instruction is
not hidden behind the entry.

An entry that explains the engines parting at one instruction gives
``diverges_at`` (that instruction's pc): the engine then reruns the case
stopping there, and the mismatch is known only if everything up to that
instruction agrees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class KnownDifference:
    name: str
    arch: str
    # (case, mismatch, unicorn outcome, tcgpy outcome) -> does this entry explain it?
    matches: Callable[..., bool]
    unicorn: str        # what Unicorn does
    architecture: str   # what the architecture says
    proof: str          # Arm ARM reference and/or qemu-aarch64 / hardware observation
    why: str            # why tcgpy follows the architecture here
    # (case, mismatch, unicorn outcome, tcgpy outcome) -> pc of the one
    # instruction where the engines legitimately part, or None
    diverges_at: Callable[..., int | None] | None = None


def any_word(mask: int, value: int) -> Callable[[object], bool]:
    """Predicate on a case: some instruction word has ``word & mask == value``."""
    return lambda case: any(w & mask == value for w in case.words)


def only_fields(*prefixes: str) -> Callable[[object], bool]:
    """Predicate on a mismatch: every differing field starts with one of ``prefixes``."""
    return lambda mm: all(f.name.startswith(prefixes) for f in mm.fields)


def subject_fault_pc(case, mismatch, reference, subject) -> int | None:
    """``diverges_at`` of an entry about a fault tcgpy takes where Unicorn
    does not: the faulting instruction."""
    return subject.regs.get("pc") if subject.event.kind == "fault" else None


# Rows declared beside the form generators they concern.  Both A64 rows so far
# are faults tcgpy takes and Unicorn does not, so they part at the faulting pc.
from . import a64_forms_atomic, a64_forms_fp16, a64_forms_ls  # noqa: E402

def _replay_both_deviations(case):
    """tcgpy's outcome of ``case`` with Unicorn's narrow ldsmax/ldsmin (the
    a64_forms_atomic entry) and fcvtzs h, #fbits (the a64_forms_fp16 entry)
    both applied, each as its own entry's replay does; None unless each
    changed something.  Straight-line code, as theirs."""
    import tcgpy
    from .engine import END, Outcome, _tcgpy_event, case_emulator
    from .forms import CODE_BASE, DATA_BASE, DATA_SIZE
    minmax, fcvtzs = a64_forms_atomic._is_narrow_signed_minmax, a64_forms_fp16._is_fcvtzs_h_fixed
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
            uni = a64_forms_atomic._unicorn_minmax(word, old, 0 if rs == 31 else emu.reg_read(f"x{rs}"))
            if uni is None:
                continue
            emu.mem_write(addr, uni.to_bytes(size, "little"))
            if rt != 31:
                emu.reg_write(f"x{rt}", old)
            begin = stop + 4
            applied.add("minmax")
    except tcgpy.EmulationError as e:
        event = _tcgpy_event(e)
    if applied != {"fcvtzs", "minmax"}:
        return None
    regs = {n: emu.reg_read(n) for n in da.compare_regs}
    return Outcome(event, regs, bytes(emu.mem_read(DATA_BASE, DATA_SIZE)))


def _both_deviations(case, mismatch, reference, subject) -> bool:
    from .engine import compare, diff_arch
    words = case.words
    if not (any(a64_forms_atomic._is_narrow_signed_minmax(w) for w in words)
            and any(a64_forms_fp16._is_fcvtzs_h_fixed(w) for w in words)):
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
    *(KnownDifference(**{"diverges_at": subject_fault_pc, **row})
      for row in a64_forms_ls.KNOWN_ROWS),
    # Replays the whole case with Unicorn's semantics at the instruction: no diverges_at.
    *(KnownDifference(**row) for row in a64_forms_atomic.KNOWN_ROWS),
    *(KnownDifference(**row) for row in a64_forms_fp16.KNOWN_ROWS),
    KnownDifference(**BOTH_ROW),
)


def classify(case, mismatch, reference, subject, arch: str,
             known: tuple[KnownDifference, ...] = KNOWN) -> KnownDifference | None:
    """The first entry that explains ``mismatch``, or None."""
    for k in known:
        if k.arch == arch and k.matches(case, mismatch, reference, subject):
            return k
    return None
