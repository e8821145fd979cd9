"""RISC-V 64's difftest: the facts its register table does not give, and its
form classes (``forms``, registered on import)."""
from __future__ import annotations

import random

from .. import ArchDef, random_value
from . import forms
from .known import KNOWN


def _freg(rng: random.Random) -> int:
    """An f register: a NaN-boxed single half the time, else any 64 bits
    (an improperly boxed single reads as the canonical NaN)."""
    if rng.random() < 0.5:
        return 0xFFFF_FFFF_0000_0000 | rng.getrandbits(32)
    return random_value(rng)


DIFF_ARCH = ArchDef(
    gprs=tuple(f"x{i}" for i in range(32)),
    unicorn_consts=("unicorn.riscv_const", "UC_RISCV_REG_"),
    # QEMU's RISCV_EXCP_* causes: misaligned fetch 0, fetch access 1, illegal 2,
    # breakpoint 3, misaligned load 4, load access 5, misaligned store/AMO 6,
    # store access 7, ecall from U/S/M 8/9/11, page faults 12/13/15
    unicorn_intr={0: "fault", 1: "fault", 2: "illegal", 3: "trap", 4: "fault", 5: "fault",
                  6: "fault", 7: "fault", 8: "syscall", 9: "syscall", 11: "syscall",
                  12: "fault", 13: "fault", 15: "fault"},
    # sc.d zero, zero, (zero): fails (no reservation at address 0) without
    # touching memory and clears the reservation, so that no case's sc meets
    # a previous case's lr in a reused emulator.
    prologue=(0x1800302F,),
    start={
        **{f"f{i}": _freg for i in range(32)},
        "fflags": lambda rng: rng.getrandbits(5),
        "frm": lambda rng: rng.randrange(5),
    },
    # mstatus.FS = dirty: the FP unit on, as Linux starts a user process
    # (Unicorn's CPU comes up with FS off, where every FP instruction and the
    # fcsr CSRs are illegal and reading fcsr through the API returns junk)
    unicorn_init={"mstatus": 0x6000},
    # Observed with Unicorn 2.1.4 (tests/test_rv64_difftest.py replays both):
    # after an exception reported through the interrupt hook its pc is the
    # faulting instruction's + 4, also for a 2-byte one (c.unimp), and mepc
    # is not written; an ebreak does not reach the hook but ends emu_start
    # with UC_ERR_INSN_INVALID, pc at the ebreak.
    unicorn_intr_pc_skew=4,
    unicorn_errors={"UC_ERR_INSN_INVALID": "trap"},
    ptr_regs=forms.PTR_REGS,
    small_regs=forms.SMALL_REGS,
    finish_code=forms.finish_code,
    known=KNOWN,
)
