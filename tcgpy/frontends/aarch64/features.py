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

from ...record import record


@record(frozen=True)
class Feature:
    name: str                       # the Linux hwcap name (arch/arm64 hwcap.h, cpuinfo)
    implemented: bool
    difftest: tuple[str, ...] = ()  # form classes (tcgpy.difftest.aarch64.forms_*) covering it
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


# -- what a CPU model without a feature refuses ----------------------------------------
# (mask, value) of each instruction class an optional feature adds, from the
# Arm ARM's A64 encoding index.  A model lacking the feature makes these
# words undefined (a guest SIGILL), as a core without it would.
FEATURE_ENCODINGS: dict[str, tuple[tuple[int, int], ...]] = {
    "crc32": ((0x7FE0F000, 0x1AC04000),),                # CRC32{B,H,W,X} / CRC32C*
    "aes": ((0xFFFFCC00, 0x4E284800),),                  # AESE AESD AESMC AESIMC
    "pmull": ((0xBFE0FC00, 0x0EE0E000),),                # PMULL{2} .1q (size 11; .8h is base)
    "sha1": ((0xFF20CC00, 0x5E000000),                   # SHA1C SHA1P SHA1M SHA1SU0
             (0xFFFFFC00, 0x5E280800), (0xFFFFFC00, 0x5E281800)),   # SHA1H SHA1SU1
    "sha2": ((0xFF20CC00, 0x5E004000),                   # SHA256H SHA256H2 SHA256SU1
             (0xFFFFFC00, 0x5E282800)),                  # SHA256SU0
    "atomics": ((0x3F200C00, 0x38200000),                # LDADD..LDUMIN, SWP (and LDAPR, ST64B*)
                (0x3FA00000, 0x08A00000),                # CAS*
                (0xBFA00000, 0x08200000)),               # CASP*
    "fphp": ((0x7FE00000, 0x1EE00000),                   # scalar FP data processing, ftype=11
             (0xFFC00000, 0x1FC00000),                   # FMADD.. on h registers
             (0x7FE00000, 0x1EC00000)),                  # FP<->fixed conversions of h
    "asimdrdm": ((0xBF20F400, 0x2E008400), (0xFF20F400, 0x7E008400),   # SQRDMLAH/SH vector, scalar
                 (0xBF00D400, 0x2F00D000), (0xFF00D400, 0x7F00D000)),  # by element
    # "asimdhp" is every pattern insn_fp16 registers (fp16_encodings below).
}
# FCVT between half and single/double is Armv8.0, though its ftype is 11.
BASE_IN_FPHP = (0xFFFE7C00, 0x1EE24000)


@record(frozen=True)
class CpuModel:
    """A named feature set, chosen with ``tcgpy run -cpu NAME``."""
    name: str
    features: tuple[str, ...]
    description: str


CPU_MODELS: dict[str, CpuModel] = {m.name: m for m in (
    CpuModel("max", IMPLEMENTED, "every feature tcgpy implements (the default)"),
    CpuModel("cortex-a53", ("fp", "asimd", "crc32", "aes", "pmull", "sha1", "sha2"),
             "Armv8.0 with CRC32 and the crypto extension"),
    CpuModel("armv8.0", ("fp", "asimd"),
             "baseline Armv8.0-A: no CRC32, crypto, LSE atomics, FP16 or RDM"),
)}
DEFAULT_CPU = "max"


def refusal(model: CpuModel, fp16_encodings):
    """None when ``model`` has every implemented feature, else a predicate on
    an instruction word: True when the word belongs to a feature it lacks.
    ``fp16_encodings()``: the (mask, value) rows of FEAT_FP16 Advanced SIMD
    (called only for a model without it: it needs the decoder)."""
    missing = [f for f in IMPLEMENTED if f not in model.features]
    rows = [enc for f in missing for enc in FEATURE_ENCODINGS.get(f, ())]
    if "asimdhp" in missing:
        rows += fp16_encodings()
    if not rows:
        return None
    base_mask, base_value = BASE_IN_FPHP

    def refuses(word: int) -> bool:
        if word & base_mask == base_value:
            return False
        return any(word & m == v for m, v in rows)
    return refuses
