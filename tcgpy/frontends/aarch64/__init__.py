"""The AArch64 (A64) frontend."""
from __future__ import annotations

from ...targets import lookup
from ..arch import ArchInfo, PseudoReg
from . import insn_branch, insn_dp_imm, insn_dp_reg, insn_ldst, insn_system  # noqa: F401  (register patterns)
from . import insn_fp, insn_simd, insn_simd_ldst  # noqa: F401  (FP/SIMD patterns)
from . import insn_fp16  # noqa: F401  (FEAT_FP16 Advanced SIMD)
from . import insn_atomic  # noqa: F401  (LSE atomics)
from .cpu import LAYOUT, nzcv_pack, nzcv_unpack
from .features import CPU_MODELS, DEFAULT_CPU, refusal
from .decode import A64
from .gdb import GDB
from .translate import DisasContext


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


A64.compile()

# FEAT_FP16 Advanced SIMD is exactly what insn_fp16 decodes.
_FP16_ENCODINGS = tuple((p.mask, p.value) for p in A64.patterns if p.trans.__module__ == insn_fp16.__name__)

ARCH = ArchInfo(
    target=lookup("aarch64"),
    layout=LAYOUT,
    decoder=A64,
    DisasContext=DisasContext,
    pseudo_regs={"nzcv": PseudoReg(_nzcv_read, _nzcv_write),
                 "fpcr": _masked("fpcr", insn_system.FPCR_MASK),
                 "fpsr": _masked("fpsr", insn_system.FPSR_MASK)},
    cpu_models=CPU_MODELS,
    default_cpu=DEFAULT_CPU,
    refusal=lambda name: refusal(CPU_MODELS[name], _FP16_ENCODINGS),
    gdb=GDB,
)
