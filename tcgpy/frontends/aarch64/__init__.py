"""The AArch64 (A64) frontend."""
from __future__ import annotations

from ...targets import lookup
from ..arch import ArchInfo, PseudoReg
from .cpu import FPCR_MASK, FPSR_MASK, LAYOUT, nzcv_pack, nzcv_unpack
from .features import CPU_MODELS, DEFAULT_CPU, refusal
from .gdb import GDB


def _translator():
    """The decoder and the translation context: the instruction modules
    register their patterns on import (only when something is translated)."""
    from . import insn_branch, insn_dp_imm, insn_dp_reg, insn_ldst, insn_system  # noqa: F401
    from . import insn_fp, insn_simd, insn_simd_ldst  # noqa: F401  (FP/SIMD patterns)
    from . import insn_fp16  # noqa: F401  (FEAT_FP16 Advanced SIMD)
    from . import insn_atomic  # noqa: F401  (LSE atomics)
    from .decode import A64
    from .translate import DisasContext
    A64.compile()
    return A64, DisasContext


def _fp16_encodings() -> tuple[tuple[int, int], ...]:
    """FEAT_FP16 Advanced SIMD is exactly what insn_fp16 decodes."""
    decoder, _ = ARCH._translation()
    return tuple((p.mask, p.value) for p in decoder.patterns if p.trans.__module__.endswith(".insn_fp16"))


def _nzcv_read(env) -> int:
    return nzcv_pack(env.nf & 1, env.zf & 1, env.cf & 1, env.vf & 1)


def _nzcv_write(env, value: int) -> None:
    env.nf, env.zf, env.cf, env.vf = nzcv_unpack(value)


def _masked(name: str, mask: int) -> PseudoReg:
    """A system register whose reserved bits read as zero and ignore writes,
    as ``msr`` treats them."""
    def write(env, value: int) -> None:
        setattr(env, name, value & mask)
    return PseudoReg(lambda env: getattr(env, name), write)


ARCH = ArchInfo(
    target=lookup("aarch64"),
    layout=LAYOUT,
    translator=_translator,
    pseudo_regs={"nzcv": PseudoReg(_nzcv_read, _nzcv_write),
                 "fpcr": _masked("fpcr", FPCR_MASK),
                 "fpsr": _masked("fpsr", FPSR_MASK)},
    cpu_models=CPU_MODELS,
    default_cpu=DEFAULT_CPU,
    refusal=lambda name: refusal(CPU_MODELS[name], _fp16_encodings),
    gdb=GDB,
)
