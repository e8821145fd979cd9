"""Generate tests/a64_simd_census.txt: one line per FP/Advanced SIMD/crypto/
CRC32 form that issue 3 lists (every arrangement), plus a few base forms it
does not name, as ``word  assembly``; tests/test_a64_simd_census.py checks
that the frontend decodes every one.

Run: ``/work/venv/bin/python tests/a64_simd_census_gen.py`` (needs GNU as for
AArch64, aarch64-linux-gnu-as: keystone lacks the crypto forms).  LSE atomics
and FEAT_FP16 are left to their own tests.
"""
from __future__ import annotations

import pathlib
import subprocess
import tempfile

OUT = pathlib.Path(__file__).with_name("a64_simd_census.txt")

ALLI = ("8b", "16b", "4h", "8h", "2s", "4s", "2d")
NO2D = ALLI[:-1]
HS = ("4h", "8h", "2s", "4s")
FPA = ("2s", "4s", "2d")
# (narrow, wide, narrow of the '2' form)
NW = (("8b", "8h", "16b"), ("4h", "4s", "8h"), ("2s", "2d", "4s"))


def statements() -> list[str]:
    out: list[str] = []
    add = out.extend

    def three(m, arrs):
        add(f"{m} v0.{a}, v1.{a}, v2.{a}" for a in arrs)

    def two(m, arrs):
        add(f"{m} v0.{a}, v1.{a}" for a in arrs)

    # scalar floating point
    for r in "sd":
        add(f"{m} {r}0, {r}1, {r}2" for m in
            "fadd fsub fmul fdiv fnmul fmax fmin fmaxnm fminnm fabd fmulx frecps frsqrts".split())
        add(f"{m} {r}0, {r}1, {r}2, {r}3" for m in "fmadd fmsub fnmadd fnmsub".split())
        add(f"{m} {r}0, {r}1" for m in
            "fabs fneg fsqrt frintn frinta frintm frintp frintz frintx frinti frecpe frsqrte frecpx fmov".split())
        add([f"fcmp {r}0, {r}1", f"fcmpe {r}0, {r}1", f"fcmp {r}0, #0.0", f"fcmpe {r}0, #0.0",
             f"fccmp {r}0, {r}1, #3, eq", f"fccmpe {r}0, {r}1, #3, ne", f"fcsel {r}0, {r}1, {r}2, lt",
             f"fmov {r}0, #1.5"])
        for g in "wx":
            add(f"{m} {g}0, {r}1" for m in
                "fcvtzs fcvtzu fcvtas fcvtau fcvtns fcvtnu fcvtms fcvtmu fcvtps fcvtpu".split())
            add([f"fcvtzs {g}0, {r}1, #3", f"fcvtzu {g}0, {r}1, #3", f"scvtf {r}0, {g}1", f"ucvtf {r}0, {g}1",
                 f"scvtf {r}0, {g}1, #5", f"ucvtf {r}0, {g}1, #5"])
        add(f"{m} {r}0, {r}1" for m in
            "fcvtzs fcvtzu fcvtas fcvtau fcvtns fcvtnu fcvtms fcvtmu fcvtps fcvtpu scvtf ucvtf".split())
        add([f"fcvtzs {r}0, {r}1, #3", f"scvtf {r}0, {r}1, #3"])
    add(["fmov w0, s1", "fmov s0, w1", "fmov x0, d1", "fmov d0, x1", "fmov x0, v1.d[1]", "fmov v0.d[1], x1",
         "fcvt d0, s1", "fcvt s0, d1", "fcvt h0, s1", "fcvt s0, h1", "fcvt h0, d1", "fcvt d0, h1",
         "fcvtxn s0, d1", "fcvtxn v0.2s, v1.2d", "fcvtxn2 v0.4s, v1.2d"])
    # loads and stores
    for r in "bhsdq":
        add([f"ldr {r}0, [x1]", f"str {r}0, [x1, #16]", f"ldur {r}0, [x1, #-3]", f"stur {r}0, [x1, #1]",
             f"ldr {r}0, [x1], #16", f"ldr {r}0, [x1, #16]!", f"ldr {r}0, [x1, x2]"])
    for r in "sdq":
        add([f"ldp {r}0, {r}1, [x2]", f"stp {r}0, {r}1, [x2, #32]!", f"ldr {r}0, .+8", f"ldnp {r}0, {r}1, [x2]"])
    for n in range(1, 5):
        regs = ", ".join(f"v{i}.16b" for i in range(n))
        add([f"ld{n} {{{regs}}}, [x0]", f"ld{n} {{{regs}}}, [x0], x2", f"st{n} {{{regs}}}, [x0]",
             f"st{n} {{{regs}}}, [x0], x2", f"ld{n}r {{{regs}}}, [x0]"])
        lanes = ", ".join(f"v{i}.s" for i in range(n))
        add([f"ld{n} {{{lanes}}}[1], [x0]", f"st{n} {{{lanes}}}[3], [x0], #{4 * n}"])
    add(f"ld1 {{v0.{a}, v1.{a}}}, [x0], #{32 if a in ('16b', '8h', '4s', '2d') else 16}" for a in ALLI + ("1d",))
    add(["ld1 {v0.b}[5], [x0]", "ld1 {v0.d}[1], [x0]", "st1 {v0.h}[2], [x0]", "ld1r {v0.2d}, [x0], #8",
         "st4 {v0.4h, v1.4h, v2.4h, v3.4h}, [x0], #32", "ld3 {v0.2s, v1.2s, v2.2s}, [x0], x3"])
    # moves
    add(["dup v0.4s, v1.s[1]", "dup v0.8b, w1", "dup v0.2d, x1", "ins v0.s[1], w2", "ins v0.h[3], v1.h[1]",
         "ins v0.d[1], x1", "umov w0, v1.b[3]", "smov x0, v1.h[2]", "smov w0, v1.b[1]", "smov x0, v1.s[3]",
         "mov x0, v1.d[1]", "mov v0.16b, v1.16b", "movi v0.4s, #1, lsl #8", "movi v0.2d, #0xff00ff00ff00ff00",
         "movi d0, #0xff", "mvni v0.8h, #3", "orr v0.4s, #1, lsl #16", "bic v0.8h, #4", "fmov v0.4s, #1.0",
         "fmov v0.2d, #-2.0", "mov b0, v1.b[3]", "dup s0, v1.s[2]", "dup h0, v1.h[7]"])
    # integer
    for m in "add sub sqadd uqadd sqsub uqsub addp cmeq cmge cmgt cmhi cmhs cmtst sshl ushl sqshl uqshl " \
             "srshl urshl sqrshl uqrshl zip1 zip2 uzp1 uzp2 trn1 trn2".split():
        three(m, ALLI)
    for m in "mul mla mls shadd uhadd srhadd urhadd shsub uhsub smax smin umax umin sabd uabd saba uaba " \
             "smaxp umaxp sminp uminp".split():
        three(m, NO2D)
    for m in "sqdmulh sqrdmulh".split():
        three(m, HS)
    for m in "and orr orn eor bic bsl bit bif".split():
        three(m, ("8b", "16b"))
    three("pmul", ("8b", "16b"))
    for m in "neg abs sqabs sqneg suqadd usqadd".split():
        two(m, ALLI)
    for m in "clz cls rev64".split():
        two(m, NO2D)
    for m in "not mvn cnt rbit rev16".split():
        two(m, ("8b", "16b"))
    two("rev32", ("8b", "16b", "4h", "8h"))
    for m in "cmeq cmge cmgt cmle cmlt".split():
        add(f"{m} v0.{a}, v1.{a}, #0" for a in ALLI)
    # across lanes
    for m in "addv smaxv umaxv sminv uminv".split():
        add(f"{m} {r}0, v1.{a}" for a, r in (("8b", "b"), ("16b", "b"), ("4h", "h"), ("8h", "h"), ("4s", "s")))
    for m in "saddlv uaddlv".split():
        add(f"{m} {r}0, v1.{a}" for a, r in (("8b", "h"), ("16b", "h"), ("4h", "s"), ("8h", "s"), ("4s", "d")))
    add(f"{m} s0, v1.4s" for m in "fmaxv fminv fmaxnmv fminnmv".split())
    # widening and narrowing
    for n, w, n2 in NW:
        bits = {"8b": 8, "4h": 16, "2s": 32}[n]
        add([f"xtn v0.{n}, v1.{w}", f"xtn2 v0.{n2}, v1.{w}", f"sxtl v0.{w}, v1.{n}", f"uxtl2 v0.{w}, v1.{n2}",
             f"sshll v0.{w}, v1.{n}, #1", f"ushll2 v0.{w}, v1.{n2}, #1", f"shrn v0.{n}, v1.{w}, #1",
             f"rshrn2 v0.{n2}, v1.{w}, #1", f"shll v0.{w}, v1.{n}, #{bits}", f"shll2 v0.{w}, v1.{n2}, #{bits}"])
        for m in "sqxtn uqxtn sqxtun".split():
            add([f"{m} v0.{n}, v1.{w}", f"{m}2 v0.{n2}, v1.{w}"])
        for m in "sqshrn uqshrn sqrshrn uqrshrn sqshrun sqrshrun".split():
            add([f"{m} v0.{n}, v1.{w}, #1", f"{m}2 v0.{n2}, v1.{w}, #2"])
        for m in "smull umull smlal umlal smlsl umlsl saddl uaddl ssubl usubl sabdl uabdl sabal uabal".split():
            add([f"{m} v0.{w}, v1.{n}, v2.{n}", f"{m}2 v0.{w}, v1.{n2}, v2.{n2}"])
        for m in "saddw uaddw ssubw usubw".split():
            add([f"{m} v0.{w}, v1.{w}, v2.{n}", f"{m}2 v0.{w}, v1.{w}, v2.{n2}"])
        for m in "addhn raddhn subhn rsubhn".split():
            add([f"{m} v0.{n}, v1.{w}, v2.{w}", f"{m}2 v0.{n2}, v1.{w}, v2.{w}"])
    for n, w, n2 in NW[1:]:
        for m in "sqdmull sqdmlal sqdmlsl".split():
            add([f"{m} v0.{w}, v1.{n}, v2.{n}", f"{m}2 v0.{w}, v1.{n2}, v2.{n2}"])
    for a, w in (("8b", "4h"), ("16b", "8h"), ("4h", "2s"), ("8h", "4s"), ("2s", "1d"), ("4s", "2d")):
        add(f"{m} v0.{w}, v1.{a}" for m in "saddlp uaddlp sadalp uadalp".split())
    add(["pmull v0.8h, v1.8b, v2.8b", "pmull2 v0.8h, v1.16b, v2.16b", "pmull v0.1q, v1.1d, v2.1d",
         "pmull2 v0.1q, v1.2d, v2.2d"])
    # shifts by immediate
    for a in ALLI:
        add(f"{m} v0.{a}, v1.{a}, #1" for m in
            "shl sshr ushr ssra usra srshr urshr srsra ursra sli sri sqshl uqshl sqshlu".split())
    add(["ushr v0.2d, v1.2d, #64", "fcvtzs v0.4s, v1.4s, #3", "ucvtf v0.2d, v1.2d, #3"])
    # permutes
    add(["ext v0.16b, v1.16b, v2.16b, #3", "ext v0.8b, v1.8b, v2.8b, #3"])
    for n in range(1, 5):
        regs = ", ".join(f"v{i + 1}.16b" for i in range(n))
        add([f"tbl v0.16b, {{{regs}}}, v9.16b", f"tbx v0.8b, {{{regs}}}, v9.8b"])
    # by element
    for m in "mul mla mls".split():
        add([f"{m} v0.4h, v1.4h, v2.h[3]", f"{m} v0.4s, v1.4s, v2.s[3]"])
    for m in "smull umull smlal umlal smlsl umlsl sqdmull sqdmlal sqdmlsl".split():
        add([f"{m} v0.4s, v1.4h, v2.h[3]", f"{m}2 v0.2d, v1.4s, v2.s[3]"])
    for m in "sqdmulh sqrdmulh".split():
        add([f"{m} v0.8h, v1.8h, v2.h[7]", f"{m} v0.2s, v1.2s, v2.s[1]", f"{m} h0, h1, v2.h[3]",
             f"{m} s0, s1, v2.s[3]"])
    for m in "sqdmull sqdmlal sqdmlsl".split():
        add([f"{m} s0, h1, v2.h[3]", f"{m} d0, s1, v2.s[3]", f"{m} s0, h1, h2", f"{m} d0, s1, s2"])
    for m in "fmla fmls fmul fmulx".split():
        add([f"{m} v0.4s, v1.4s, v2.s[3]", f"{m} v0.2s, v1.2s, v2.s[1]", f"{m} v0.2d, v1.2d, v2.d[1]",
             f"{m} s0, s1, v2.s[1]", f"{m} d0, d1, v31.d[1]"])
    # floating-point vector
    for m in "fadd fsub fmul fdiv fmax fmin fmaxnm fminnm fmla fmls fabd faddp fmaxp fminp fmaxnmp " \
             "fminnmp fcmeq fcmge fcmgt facge facgt fmulx frecps frsqrts".split():
        three(m, FPA)
    for m in "fabs fneg fsqrt frintn frinta frintm frintp frintz frintx frinti fcvtzs fcvtzu fcvtas " \
             "fcvtau fcvtns fcvtnu fcvtms fcvtmu fcvtps fcvtpu scvtf ucvtf frecpe frsqrte".split():
        two(m, FPA)
    for m in "fcmeq fcmge fcmgt fcmle fcmlt".split():
        add(f"{m} v0.{a}, v1.{a}, #0.0" for a in FPA)
    add(["fcvtl v0.2d, v1.2s", "fcvtl2 v0.2d, v1.4s", "fcvtn v0.2s, v1.2d", "fcvtn2 v0.4s, v1.2d",
         "fcvtl v0.4s, v1.4h", "fcvtn v0.4h, v1.4s"])
    two("urecpe", ("2s", "4s"))
    two("ursqrte", ("2s", "4s"))
    # scalar forms
    add(f"{m} d0, d1, d2" for m in "add sub cmeq cmge cmgt cmhi cmhs cmtst sqadd uqadd sqsub uqsub sshl ushl "
                                   "sqshl uqshl srshl urshl sqrshl uqrshl".split())
    for m in "sqadd uqadd sqsub uqsub sqshl uqshl sqrshl uqrshl".split():
        add([f"{m} b0, b1, b2", f"{m} h0, h1, h2", f"{m} s0, s1, s2"])
    for m in "sqdmulh sqrdmulh".split():
        add([f"{m} h0, h1, h2", f"{m} s0, s1, s2"])
    add(f"{m} d0, d1, #0" for m in "cmeq cmge cmgt cmle cmlt".split())
    add(["neg d0, d1", "abs d0, d1", "addp d0, v1.2d", "faddp s0, v1.2s", "faddp d0, v1.2d", "fmaxp s0, v1.2s",
         "fminnmp d0, v1.2d", "fmaxnmp s0, v1.2s", "fminp d0, v1.2d"])
    for r in "bhsd":
        add(f"{m} {r}0, {r}1" for m in "sqabs sqneg suqadd usqadd".split())
        add(f"{m} {r}0, {r}1, #1" for m in "sqshl uqshl sqshlu".split())
    for r, w in (("b", "h"), ("h", "s"), ("s", "d")):
        add(f"{m} {r}0, {w}1" for m in "sqxtn uqxtn sqxtun".split())
        add(f"{m} {r}0, {w}1, #1" for m in "sqshrn uqshrn sqrshrn uqrshrn sqshrun sqrshrun".split())
    add(f"{m} d0, d1, #3" for m in "sshr ushr ssra usra srshr urshr srsra ursra shl sli sri".split())
    add(["sshr d0, d1, #64"])
    for m in "fabd fcmeq fcmge fcmgt facge facgt fmulx frecps frsqrts".split():
        add([f"{m} s0, s1, s2", f"{m} d0, d1, d2"])
    for m in "fcmeq fcmge fcmgt fcmle fcmlt".split():
        add([f"{m} s0, s1, #0.0", f"{m} d0, d1, #0.0"])
    for m in "frecpe frsqrte frecpx".split():
        add([f"{m} s0, s1", f"{m} d0, d1"])
    # crypto, CRC32
    add(["aese v0.16b, v1.16b", "aesd v0.16b, v1.16b", "aesmc v0.16b, v1.16b", "aesimc v0.16b, v1.16b",
         "sha1c q0, s1, v2.4s", "sha1m q0, s1, v2.4s", "sha1p q0, s1, v2.4s", "sha1h s0, s1",
         "sha1su0 v0.4s, v1.4s, v2.4s", "sha1su1 v0.4s, v1.4s", "sha256h q0, q1, v2.4s",
         "sha256h2 q0, q1, v2.4s", "sha256su0 v0.4s, v1.4s", "sha256su1 v0.4s, v1.4s, v2.4s"])
    add(f"{m} w0, w1, w2" for m in "crc32b crc32h crc32w crc32cb crc32ch crc32cw".split())
    add(["crc32x w0, w1, x2", "crc32cx w0, w1, x2"])
    return list(dict.fromkeys(out))


def assemble(lines: list[str]) -> list[int]:
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, binf = (pathlib.Path(tmp) / n for n in ("c.s", "c.o", "c.bin"))
        src.write_text("\n".join(lines) + "\n")
        subprocess.run(["aarch64-linux-gnu-as", "-march=armv8-a+crypto+crc", "-o", obj, src], check=True)
        subprocess.run(["aarch64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", obj, binf], check=True)
        data = binf.read_bytes()
    assert len(data) == 4 * len(lines)
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def main() -> None:
    lines = statements()
    words = assemble(lines)
    body = "".join(f"{w:08x}  {text}\n" for w, text in zip(words, lines))
    OUT.write_text("# Generated by tests/a64_simd_census_gen.py (GNU as); do not edit.\n" + body)
    print(f"{len(lines)} forms -> {OUT}")


if __name__ == "__main__":
    main()
