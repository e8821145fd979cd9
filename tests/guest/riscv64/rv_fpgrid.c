/* riscv64 F/D on a grid: every arithmetic, fused, comparison, min/max,
 * fclass and conversion instruction, single and double, on pairs (and
 * triples) of special and ordinary values -- zeros, subnormals, the
 * smallest normals, values whose results land near the subnormal range,
 * huge values, infinities, quiet and signalling NaNs, ties -- in all five
 * rounding modes set dynamically (fsrm; the compiler's instructions use
 * rm=dyn) and some static ones; per operation and mode a hash of the result
 * bits and of the fflags each one raised.  Then FP-heavy kernels (argv[1]
 * scales them): mandelbrot, an n-body step, a single-precision dot product
 * and Newton square roots, printed exactly.  Compared with qemu-riscv64
 * (ref/rv_fpgrid.out). */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash;

static void mix(uint64_t v) { hash = (hash ^ v) * 0x100000001b3ULL; }

static uint64_t fflags(void)
{
    uint64_t f;
    __asm__ volatile("csrrw %0, fflags, zero" : "=r"(f));
    return f;
}

static uint64_t bits_d(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static uint32_t bits_s(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static double from_d(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static float from_s(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static const uint64_t D[] = {
    0, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000, 0x4000000000000000,
    0x3fe0000000000000, 0x4008000000000000, 0x3fb999999999999a, 0x0000000000000001,
    0x000fffffffffffff, 0x0010000000000000, 0x0010000000000001, 0x8010000000000000,
    0x2000000000000000, 0x1ff0000000000001, 0x7fefffffffffffff, 0xffefffffffffffff,
    0x7fe0000000000000, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
    0x7ff0000000000001, 0xfff8000000000123, 0x3ff0000000000001, 0x3cb0000000000000,
    0x43e0000000000000, 0xc3e0000000000000, 0x41e0000000000000, 0xc1e0000000000000,
    0x41f0000000000000, 0x4330000000000001, 0x400921fb54442d18, 0xc00921fb54442d18,
    0x3ff8000000000000, 0x4004000000000000, 0xc004000000000000, 0x0370000000000000,
};
static const uint32_t S[] = {
    0, 0x80000000, 0x3f800000, 0xbf800000, 0x40000000, 0x3f000000, 0x40400000, 0x3dcccccd,
    0x00000001, 0x007fffff, 0x00800000, 0x00800001, 0x80800000, 0x20000000, 0x1f800001,
    0x7f7fffff, 0xff7fffff, 0x7f000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001,
    0xffc00123, 0x3f800001, 0x33800000, 0x5f000000, 0xdf000000, 0x4f000000, 0xcf000000,
    0x4f800000, 0x4b000001, 0x40490fdb, 0xc0490fdb, 0x3fc00000, 0x40200000, 0xc0200000,
    0x0d800000,
};
#define ND (sizeof D / sizeof D[0])
#define NS (sizeof S / sizeof S[0])

/* fmin/fmax as the instructions (C's fmin is a libm call: its sNaN rule differs) */
static double fmin_d(double a, double b) { double r; __asm__ volatile("fmin.d %0, %1, %2" : "=f"(r) : "f"(a), "f"(b)); return r; }
static double fmax_d(double a, double b) { double r; __asm__ volatile("fmax.d %0, %1, %2" : "=f"(r) : "f"(a), "f"(b)); return r; }
static float fmin_s(float a, float b) { float r; __asm__ volatile("fmin.s %0, %1, %2" : "=f"(r) : "f"(a), "f"(b)); return r; }
static float fmax_s(float a, float b) { float r; __asm__ volatile("fmax.s %0, %1, %2" : "=f"(r) : "f"(a), "f"(b)); return r; }
static double sqrt_d(double a) { double r; __asm__ volatile("fsqrt.d %0, %1" : "=f"(r) : "f"(a)); return r; }

static volatile double vd[ND];
static volatile float vs[NS];

static void report(const char *name, int rm)
{
    printf("%-10s rm=%d %016llx\n", name, rm, (unsigned long long)hash);
    hash = 0xcbf29ce484222325ULL;
}

#define DYN2(name, T, V, N, BITS, expr)                                      \
    for (unsigned i = 0; i < N; i++)                                          \
        for (unsigned j = 0; j < N; j++) {                                    \
            T a = V[i], b = V[j];                                             \
            T r = (expr);                                                     \
            mix(BITS(r)); mix(fflags());                                      \
        }                                                                     \
    report(name, rm);

#define CMP2(name, T, V, N, expr)                                            \
    for (unsigned i = 0; i < N; i++)                                          \
        for (unsigned j = 0; j < N; j++) {                                    \
            T a = V[i], b = V[j];                                             \
            mix(expr); mix(fflags());                                         \
        }                                                                     \
    report(name, rm);

static void grid_dynamic(int rm)
{
    __asm__ volatile("fsrm %0" : : "r"(rm));
    fflags();
    DYN2("fadd.d", double, vd, ND, bits_d, a + b)
    DYN2("fsub.d", double, vd, ND, bits_d, a - b)
    DYN2("fmul.d", double, vd, ND, bits_d, a * b)
    DYN2("fdiv.d", double, vd, ND, bits_d, a / b)
    DYN2("fmin.d", double, vd, ND, bits_d, fmin_d(a, b))
    DYN2("fmax.d", double, vd, ND, bits_d, fmax_d(a, b))
    DYN2("fadd.s", float, vs, NS, bits_s, a + b)
    DYN2("fsub.s", float, vs, NS, bits_s, a - b)
    DYN2("fmul.s", float, vs, NS, bits_s, a * b)
    DYN2("fdiv.s", float, vs, NS, bits_s, a / b)
    DYN2("fmin.s", float, vs, NS, bits_s, fmin_s(a, b))
    DYN2("fmax.s", float, vs, NS, bits_s, fmax_s(a, b))
    CMP2("feq.d", double, vd, ND, a == b)
    CMP2("flt.d", double, vd, ND, a < b)
    CMP2("fle.d", double, vd, ND, a <= b)
    CMP2("feq.s", float, vs, NS, a == b)
    CMP2("flt.s", float, vs, NS, a < b)
    CMP2("fle.s", float, vs, NS, a <= b)
    for (unsigned i = 0; i < ND; i++)
        for (unsigned j = 0; j < ND; j += 3)
            for (unsigned k = 0; k < ND; k += 2) {
                double a = vd[i], b = vd[j], c = vd[k];
                mix(bits_d(__builtin_fma(a, b, c))); mix(fflags());
                mix(bits_d(__builtin_fma(-a, b, c))); mix(fflags());
                mix(bits_d(__builtin_fma(a, b, -c))); mix(fflags());
                mix(bits_d(-__builtin_fma(a, b, c))); mix(fflags());
            }
    report("fmadd.d", rm);
    for (unsigned i = 0; i < NS; i++)
        for (unsigned j = 0; j < NS; j += 3)
            for (unsigned k = 0; k < NS; k += 2) {
                float a = vs[i], b = vs[j], c = vs[k];
                mix(bits_s(__builtin_fmaf(a, b, c))); mix(fflags());
                mix(bits_s(__builtin_fmaf(-a, b, c))); mix(fflags());
            }
    report("fmadd.s", rm);
    for (unsigned i = 0; i < ND; i++) {
        double a = vd[i];
        float s = vs[i];
        double r; float q; long l; unsigned long ul; int w; unsigned wu;
        __asm__ volatile("fsqrt.d %0, %1" : "=f"(r) : "f"(a)); mix(bits_d(r)); mix(fflags());
        __asm__ volatile("fsqrt.s %0, %1" : "=f"(q) : "f"(s)); mix(bits_s(q)); mix(fflags());
        __asm__ volatile("fcvt.s.d %0, %1" : "=f"(q) : "f"(a)); mix(bits_s(q)); mix(fflags());
        __asm__ volatile("fcvt.d.s %0, %1" : "=f"(r) : "f"(s)); mix(bits_d(r)); mix(fflags());
        __asm__ volatile("fcvt.l.d %0, %1" : "=r"(l) : "f"(a)); mix(l); mix(fflags());
        __asm__ volatile("fcvt.lu.d %0, %1" : "=r"(ul) : "f"(a)); mix(ul); mix(fflags());
        __asm__ volatile("fcvt.w.d %0, %1" : "=r"(w) : "f"(a)); mix(w); mix(fflags());
        __asm__ volatile("fcvt.wu.d %0, %1" : "=r"(wu) : "f"(a)); mix(wu); mix(fflags());
        __asm__ volatile("fcvt.l.s %0, %1" : "=r"(l) : "f"(s)); mix(l); mix(fflags());
        __asm__ volatile("fcvt.wu.s %0, %1" : "=r"(wu) : "f"(s)); mix(wu); mix(fflags());
        __asm__ volatile("fcvt.w.s %0, %1, rtz" : "=r"(w) : "f"(s)); mix(w); mix(fflags());
        __asm__ volatile("fcvt.l.d %0, %1, rmm" : "=r"(l) : "f"(a)); mix(l); mix(fflags());
        __asm__ volatile("fcvt.lu.d %0, %1, rdn" : "=r"(ul) : "f"(a)); mix(ul); mix(fflags());
        __asm__ volatile("fcvt.w.d %0, %1, rup" : "=r"(w) : "f"(a)); mix(w); mix(fflags());
        unsigned long c;
        __asm__ volatile("fclass.d %0, %1" : "=r"(c) : "f"(a)); mix(c);
        __asm__ volatile("fclass.s %0, %1" : "=r"(c) : "f"(s)); mix(c);
        long n = (long)D[i] ^ (long)D[(i * 7) % ND] >> (i % 64);
        __asm__ volatile("fcvt.d.l %0, %1" : "=f"(r) : "r"(n)); mix(bits_d(r)); mix(fflags());
        __asm__ volatile("fcvt.d.lu %0, %1" : "=f"(r) : "r"(n)); mix(bits_d(r)); mix(fflags());
        __asm__ volatile("fcvt.s.l %0, %1" : "=f"(q) : "r"(n)); mix(bits_s(q)); mix(fflags());
        __asm__ volatile("fcvt.s.wu %0, %1" : "=f"(q) : "r"(n)); mix(bits_s(q)); mix(fflags());
        __asm__ volatile("fcvt.s.w %0, %1" : "=f"(q) : "r"(n)); mix(bits_s(q)); mix(fflags());
        __asm__ volatile("fcvt.d.w %0, %1" : "=f"(r) : "r"(n)); mix(bits_d(r)); mix(fflags());
        __asm__ volatile("fcvt.s.l %0, %1, rtz" : "=f"(q) : "r"(n)); mix(bits_s(q)); mix(fflags());
        __asm__ volatile("fadd.d %0, %1, %2, rup" : "=f"(r) : "f"(a), "f"(0.1)); mix(bits_d(r)); mix(fflags());
        __asm__ volatile("fmul.s %0, %1, %2, rdn" : "=f"(q) : "f"(s), "f"(0.1f)); mix(bits_s(q)); mix(fflags());
    }
    report("sqrt/cvt", rm);
}

/* -- kernels -------------------------------------------------------------------------- */

static double mandel(int size)
{
    long total = 0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double cr = 2.5 * x / size - 2.0, ci = 2.0 * y / size - 1.0, zr = 0, zi = 0;
            int i = 0;
            while (i < 200 && zr * zr + zi * zi < 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                i++;
            }
            total += i;
        }
    return (double)total;
}

static double nbody(int steps)
{
    double px[4] = {0, 1, 0, -1}, py[4] = {1, 0, -1, 0}, vx[4] = {0.3, 0, -0.3, 0}, vy[4] = {0, 0.3, 0, -0.3};
    for (int s = 0; s < steps; s++)
        for (int i = 0; i < 4; i++) {
            double ax = 0, ay = 0;
            for (int j = 0; j < 4; j++) {
                if (i == j) continue;
                double dx = px[j] - px[i], dy = py[j] - py[i];
                double d2 = dx * dx + dy * dy + 1e-3;
                double inv = 1.0 / (d2 * sqrt_d(d2));
                ax += dx * inv;
                ay += dy * inv;
            }
            vx[i] += 1e-3 * ax;
            vy[i] += 1e-3 * ay;
            px[i] += 1e-3 * vx[i];
            py[i] += 1e-3 * vy[i];
        }
    return px[0] + py[1] * 3 + vx[2] * 5 + vy[3] * 7;
}

static float dot_newton(int n)
{
    float acc = 0;
    for (int i = 1; i <= n; i++) {
        float x = (float)i / 7.0f, g = x;
        for (int k = 0; k < 6; k++)
            g = 0.5f * (g + x / g);          /* Newton's square root */
        acc = __builtin_fmaf(g, 1.0f / (float)i, acc);
    }
    return acc;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    for (unsigned i = 0; i < ND; i++)
        vd[i] = from_d(D[i]);
    for (unsigned i = 0; i < NS; i++)
        vs[i] = from_s(S[i]);
    hash = 0xcbf29ce484222325ULL;
    for (int rm = 0; rm < 5; rm++)
        grid_dynamic(rm);
    __asm__ volatile("fsrm zero");
    fflags();
    double m = mandel(60 * n), b = nbody(3000 * n);
    float d = dot_newton(20000 * n);
    printf("mandel %a nbody %a dot %a flags %llx\n", m, b, (double)d, (unsigned long long)fflags());
    return 0;
}
