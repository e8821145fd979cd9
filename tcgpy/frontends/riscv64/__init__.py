"""The RISC-V 64 frontend: RV64I, M, A, F, D, C, Zicsr, Zifencei, Zba, Zbb, Zbs."""
from __future__ import annotations

from ...targets import lookup
from ..arch import ArchInfo, PseudoReg
from .cpu import LAYOUT
from .gdb import GDB


def _translator():
    """The decoder and the translation context, built when something is
    translated: a run whose blocks all come from the persistent cache needs
    neither (importing the instruction modules and building the decoder was
    a tenth of a warm busybox run's imports)."""
    from . import insn_atomic, insn_base, insn_bitmanip, insn_fp, insn_rvc, insn_system  # noqa: F401  (register patterns)
    from .decode import RV
    from .translate import DisasContext
    RV.compile()
    return RV, DisasContext


def _zero() -> PseudoReg:
    """x0: reads zero, ignores writes."""
    return PseudoReg(lambda env: 0, lambda env, value: None)


def _fcsr_field(shift: int, width: int) -> PseudoReg:
    mask = ((1 << width) - 1) << shift

    def read(env) -> int:
        return (env.fcsr & mask) >> shift

    def write(env, value: int) -> None:
        env.fcsr = (env.fcsr & ~mask) | ((value << shift) & mask)
    return PseudoReg(read, write)


def _fcsr() -> PseudoReg:
    def write(env, value: int) -> None:
        env.fcsr = value & 0xFF
    return PseudoReg(lambda env: env.fcsr & 0xFF, write)


ARCH = ArchInfo(
    target=lookup("riscv64"),
    layout=LAYOUT,
    translator=_translator,
    pseudo_regs={"x0": _zero(), "zero": _zero(), "fcsr": _fcsr(),
                 "fflags": _fcsr_field(0, 5), "frm": _fcsr_field(5, 3)},
    gdb=GDB,
)
