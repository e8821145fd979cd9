"""The single description of which optional A64 features the frontend
implements.  Linux user mode derives AT_HWCAP/AT_HWCAP2 (and the
/proc/cpuinfo "Features" line) from it, so that guest libraries only pick
code paths tcgpy runs; the difftest classes named here are the proof.

A feature is listed as implemented only when every instruction it adds
decodes and is difftested against Unicorn.  FP and ASIMD are the exception
the architecture forces: Linux requires them, and glibc uses them without
testing the bits, so they are advertised with the forms implemented so far
(tests/guest/simd_census.txt lists what static glibc needs; all of it is in).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str                       # the Linux hwcap name (arch/arm64 hwcap.h, cpuinfo)
    implemented: bool
    difftest: tuple[str, ...] = ()  # form classes (tcgpy.difftest.a64_forms_*) covering it
    note: str = ""


FEATURES: tuple[Feature, ...] = (
    Feature("fp", True, ("fp_arith", "fp_fma", "fp_1src", "fp_cmp", "fp_cvt", "fp_mov"),
            "single/double precision (half precision: the fphp row)"),
    Feature("asimd", True, ("simd_ldst", "simd_ld1st1", "simd_ldst_struct", "simd_3same", "simd_3same_more", "simd_3diff",
                            "simd_by_elem", "simd_fp3same", "simd_2misc", "simd_fp2misc", "simd_across", "simd_copy",
                            "simd_modimm", "simd_shift", "simd_perm", "simd_scalar",
                            "simd_scalar_more", "simd_qdmull", "simd_misc_more"),
            "integer, logic, permutes, basic FP vector arithmetic; see issue 3 for the rest"),
    Feature("crc32", True, ("crc32",)),
    Feature("aes", True, ("crypto_aes",)),
    Feature("pmull", True, ("simd_3diff",), "pmull/pmull2 of bytes and of doublewords"),
    Feature("sha1", True, ("crypto_sha",)), Feature("sha2", True, ("crypto_sha",)),
    Feature("atomics", True, ("atomic",), "FEAT_LSE: cas/casp/swp/ld<op>, every size and ordering"),
    Feature("fphp", True, ("fp16_arith", "fp16_1src", "fp16_cmp", "fp16_cvt", "fp16_mov", "fp16_fz16"),
            "FEAT_FP16 scalar: every FP data-processing form on h registers"),
    Feature("asimdhp", True, ("simd_fp16_3same", "simd_fp16_2misc", "simd_fp16_elem",
                              "simd_fp16_scalar", "simd_fp16_across", "fp16_mov", "fp16_fz16"),
            "FEAT_FP16 Advanced SIMD: every FP16 encoding (vector and scalar)"),
    Feature("asimdrdm", True, ("simd_rdm",), "FEAT_RDM: sqrdmlah/sqrdmlsh (vector, scalar, by element)"),
    Feature("cpuid", False, note="EL0 reads of ID registers are not emulated"),
)

IMPLEMENTED: tuple[str, ...] = tuple(f.name for f in FEATURES if f.implemented)
