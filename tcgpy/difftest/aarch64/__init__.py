"""AArch64's difftest: the facts its register table does not give
(``DIFF_ARCH``), its form classes (the ``forms_*`` modules, registered on
import), its start-state choices (``conventions``), its known differences
with Unicorn (``known``) and its test-only broken translations (``testing``)."""
from __future__ import annotations

from .. import ArchDef, data_pointer, random_value
from . import forms_atomic, forms_dp, forms_fp16, forms_ls, forms_simd  # noqa: F401  (register forms)
from .conventions import PTR_REGS, SMALL_REGS
from .known import KNOWN
from .testing import INJECTIONS

DIFF_ARCH = ArchDef(
    gprs=tuple(f"x{i}" for i in range(31)),
    unicorn_consts=("unicorn.arm64_const", "UC_ARM64_REG_"),
    unicorn_intr={1: "illegal", 2: "syscall", 3: "fault", 4: "fault", 7: "trap", 22: "fault"},
    # clrex: the exclusive monitor starts open, as in a fresh process;
    # otherwise a stxr could succeed on a previous case's ldxr.
    prologue=(0xD503305F,),
    start={
        # SP is a base register of memory forms too; aligned as Linux keeps it.
        "sp": lambda rng: data_pointer(rng) & ~15,
        "nzcv": lambda rng: rng.getrandbits(4) << 28,
        "tpidr_el0": random_value,
        # Only the bits defined for an implementation without FP exception
        # trapping: FPCR AHP/DN/FZ/RMode (26..22); FPSR NZCV/QC (31..27) and
        # the cumulative flags IDC/IXC/UFC/OFC/DZC/IOC.  The rest is RES0.
        # Half the cases run under the default FPCR (round to nearest, no
        # flush-to-zero): the only one the JIT's native FP shortcut takes.
        "fpcr": lambda rng: rng.getrandbits(5) << 22 if rng.getrandbits(1) else 0,
        "fpsr": lambda rng: (rng.getrandbits(5) << 27) | (rng.getrandbits(8) & 0b1001_1111),
    },
    ptr_regs=PTR_REGS,
    small_regs=SMALL_REGS,
    # The default Cortex-A72 lacks FEAT_LSE (and FP16, RDM, ...).
    unicorn_cpus={"max": "UC_CPU_ARM64_MAX"},
    known=KNOWN,
    # HLT at EL0 without halting debug is UNDEFINED (Arm ARM, HLT): Linux
    # delivers SIGILL, so it compares as an illegal instruction.
    trap_events={"hlt": "illegal"},
    injections=INJECTIONS,
)
