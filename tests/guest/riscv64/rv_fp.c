/* riscv64 F/D rules where implementations have differed: NaN-boxing of
 * singles (inputs read as the canonical NaN, results boxed), fmin/fmax with
 * a signalling NaN, conversions that saturate, rounding modes static and
 * dynamic, and the flags they raise.  Compared with qemu-riscv64
 * (ref/rv_fp.out); the proofs of tcgpy/difftest/riscv64/known.py. */
#include <stdio.h>
#include <stdint.h>

static uint64_t flags(void) { uint64_t f; __asm__ volatile("csrrw %0, fflags, zero" : "=r"(f)); return f; }

int main(void)
{
    uint64_t r, unboxed = 0x000000003f800000ULL, boxed = 0xffffffff3f800000ULL;
    uint64_t snan_s = 0xffffffff7f800001ULL, two = 0xffffffff40000000ULL;
    __asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n fsgnj.s ft2, ft0, ft1\n fmv.x.d %0, ft2"
                     : "=r"(r) : "r"(unboxed), "r"(boxed) : "ft0", "ft1", "ft2");
    printf("fsgnj.s unboxed,boxed = %016llx\n", (unsigned long long)r);
    __asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n fadd.s ft2, ft0, ft1\n fmv.x.d %0, ft2"
                     : "=r"(r) : "r"(unboxed), "r"(boxed) : "ft0", "ft1", "ft2");
    printf("fadd.s unboxed,boxed = %016llx flags %llx\n", (unsigned long long)r, (unsigned long long)flags());
    __asm__ volatile("fmv.w.x ft0, %1\n fmv.x.d %0, ft0" : "=r"(r) : "r"(0x1234567840000000ULL) : "ft0");
    printf("fmv.w.x = %016llx\n", (unsigned long long)r);
    __asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n fmin.s ft2, ft0, ft1\n fmv.x.d %0, ft2"
                     : "=r"(r) : "r"(snan_s), "r"(two) : "ft0", "ft1", "ft2");
    printf("fmin.s snan,2 = %016llx flags %llx\n", (unsigned long long)r, (unsigned long long)flags());
    double big = 1e300, nan = __builtin_nan(""), m = -2.5;
    long l; unsigned long ul; int w; unsigned wu;
    __asm__ volatile("fcvt.w.d %0, %1, rtz" : "=r"(w) : "f"(big)); printf("fcvt.w.d 1e300 = %d flags %llx\n", w, (unsigned long long)flags());
    __asm__ volatile("fcvt.l.d %0, %1, rtz" : "=r"(l) : "f"(nan)); printf("fcvt.l.d nan = %ld flags %llx\n", l, (unsigned long long)flags());
    __asm__ volatile("fcvt.wu.d %0, %1, rtz" : "=r"(wu) : "f"(m)); printf("fcvt.wu.d -2.5 = %u flags %llx\n", wu, (unsigned long long)flags());
    __asm__ volatile("fcvt.lu.d %0, %1, rtz" : "=r"(ul) : "f"(-0.5)); printf("fcvt.lu.d -0.5 = %lu flags %llx\n", ul, (unsigned long long)flags());
    static const char *modes[] = {"rne", "rtz", "rdn", "rup", "rmm"};
    for (int rm = 0; rm < 5; rm++) {
        __asm__ volatile("fsrm %0" : : "r"(rm));
        __asm__ volatile("fcvt.l.d %0, %1" : "=r"(l) : "f"(m));
        float q; __asm__ volatile("fdiv.s %0, %1, %2" : "=f"(q) : "f"(1.0f), "f"(3.0f));
        double s; __asm__ volatile("fsqrt.d %0, %1" : "=f"(s) : "f"(2.0));
        double fm; __asm__ volatile("fmadd.d %0, %1, %2, %3" : "=f"(fm) : "f"(0.1), "f"(10.0), "f"(-1.0));
        printf("%s: fcvt.l.d -2.5 = %ld, 1/3 = %a, sqrt2 = %a, fma = %a, flags %llx\n", modes[rm], l,
               (double)q, s, fm, (unsigned long long)flags());
    }
    __asm__ volatile("fsrm zero");
    double tiny = 0x1p-1022, half = 0.5, t;
    __asm__ volatile("fmul.d %0, %1, %2" : "=f"(t) : "f"(tiny), "f"(half)); printf("tiny*0.5 = %a flags %llx\n", t, (unsigned long long)flags());
    __asm__ volatile("fdiv.d %0, %1, %2" : "=f"(t) : "f"(1.0), "f"(0.0)); printf("1/0 = %a flags %llx\n", t, (unsigned long long)flags());
    unsigned long c; __asm__ volatile("fclass.d %0, %1" : "=r"(c) : "f"(-0.0)); printf("fclass -0 = %lx\n", c);
    return 0;
}
