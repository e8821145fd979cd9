/* AVX state across a signal handler, as Linux keeps it: the rt_sigframe's
 * FP area is the XSAVE layout (fxsave image with FP_XSTATE_MAGIC1 in its
 * software-reserved bytes, the XSAVE header, the YMM_Hi128 component where
 * CPUID leaf 0xD says, FP_XSTATE_MAGIC2 after the area), the handler starts
 * with the initial FP state, and rt_sigreturn loads what the frame holds,
 * changes the handler made to it included.
 *
 * Each case loads ymm0-ymm15 (and zmm16/k1 where AVX-512 is there) with
 * known values, then executes ud2; the handler inspects the registers it
 * starts with and the frame, clobbers every vector register, edits the
 * frame as the case says and moves rip past the ud2.  What comes back is
 * printed; then timer signals interrupt a loop that keeps values in
 * ymm0-15.  The output is compared with native execution of the same
 * binary (tests/test_kvm.py); it prints "no AVX" and exits 77 on a CPU
 * without AVX. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>



#define XFEATURE_YMM 2
#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u
#endif

enum edit { KEEP, CHANGE_YMM, CLEAR_AVX_BIT, BAD_MAGIC1, BAD_MAGIC2, NO_FP_AREA, BAD_HEADER };

static const char *const edit_names[] = { "keep", "change ymm3 and xmm4", "clear XSTATE_BV.AVX",
                                          "bad magic1", "bad magic2", "no FP area", "reserved header bits" };

static uint8_t before[16][32], after[16][32], at_entry[16][32];
static uint8_t zmm_before[64], zmm_after[64];
static uint64_t k1_before = 0x5a5a5a5a12345678ull, k1_after;
static volatile enum edit edit;
static volatile int avx512_case;
static sigjmp_buf failed_return;
static int has_avx512;
static unsigned ymm_offset, hi16_zmm_offset, k_offset;

struct fpx_sw_bytes {
    uint32_t magic1, extended_size;
    uint64_t xfeatures;
    uint32_t xstate_size, padding[7];
};

static void pattern(uint8_t *p, int n, int seed)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 37 + i * 11 + 1);
}

#define SAVE_YMM(n, buf) "vmovdqu %%ymm" #n ", " #n "*32+" buf "\n\t"
#define LOAD_YMM(n, buf) "vmovdqu " #n "*32+" buf ", %%ymm" #n "\n\t"
#define ALL_YMM(M, buf) M(0, buf) M(1, buf) M(2, buf) M(3, buf) M(4, buf) M(5, buf) M(6, buf) M(7, buf) \
    M(8, buf) M(9, buf) M(10, buf) M(11, buf) M(12, buf) M(13, buf) M(14, buf) M(15, buf)

static void handler(int sig, siginfo_t *si, void *ctx)
{
    /* first, before any compiled code can use a vector register: what the handler starts with */
    __asm__ volatile(ALL_YMM(SAVE_YMM, "%0") : : "m"(at_entry) : "memory");
    ucontext_t *uc = ctx;
    uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
    struct fpx_sw_bytes *sw = (struct fpx_sw_bytes *)(fp + 464);
    uint64_t xstate_bv;
    memcpy(&xstate_bv, fp + 512, 8);
    int entry_zero = 1;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 32; j++)
            entry_zero &= at_entry[i][j] == 0;
    uint32_t mxcsr;
    memcpy(&mxcsr, fp + 24, 4);
    int frame_ok = 1;
    for (int i = 0; i < 16; i++)
        frame_ok &= !memcmp(fp + 160 + 16 * i, before[i], 16) && !memcmp(fp + ymm_offset + 16 * i, before[i] + 16, 16);
    uint32_t magic2;
    memcpy(&magic2, fp + sw->xstate_size, 4);
    printf("  handler: sig %d, uc_flags %#lx, 64-byte aligned fpstate %d, magic1 %d, extended_size = xstate_size + 4 %d, "
           "xfeatures has x87 SSE AVX %d, magic2 %d\n", sig, uc->uc_flags, ((uintptr_t)fp & 63) == 0,
           sw->magic1 == FP_XSTATE_MAGIC1, sw->extended_size == sw->xstate_size + 4, (sw->xfeatures & 7) == 7,
           magic2 == FP_XSTATE_MAGIC2);
    if (avx512_case)
        printf("  handler: zmm16 in frame %d, k1 in frame %d, starts with ymm0-15 zero %d\n",
               !memcmp(fp + hi16_zmm_offset, zmm_before, 64), !memcmp(fp + k_offset + 8, &k1_before, 8),
               entry_zero);
    else
        printf("  handler: XSTATE_BV.AVX %d, frame holds ymm0-15 %d, starts with ymm0-15 zero %d, mxcsr %#x\n",
               (int)(xstate_bv >> XFEATURE_YMM & 1), frame_ok, entry_zero, mxcsr);
    /* clobber every vector register */
    __asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
                     "vmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm2\n\tvmovdqa %%ymm0, %%ymm3\n\t"
                     "vmovdqa %%ymm0, %%ymm4\n\tvmovdqa %%ymm0, %%ymm5\n\tvmovdqa %%ymm0, %%ymm6\n\t"
                     "vmovdqa %%ymm0, %%ymm7\n\tvmovdqa %%ymm0, %%ymm8\n\tvmovdqa %%ymm0, %%ymm9\n\t"
                     "vmovdqa %%ymm0, %%ymm10\n\tvmovdqa %%ymm0, %%ymm11\n\tvmovdqa %%ymm0, %%ymm12\n\t"
                     "vmovdqa %%ymm0, %%ymm13\n\tvmovdqa %%ymm0, %%ymm14\n\tvmovdqa %%ymm0, %%ymm15\n\t"
                     ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                     "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (has_avx512)
        __asm__ volatile("vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\tkxnorw %%k1, %%k1, %%k1" ::: "memory");
    switch (edit) {
    case KEEP:
        break;
    case CHANGE_YMM:
        memset(fp + ymm_offset + 16 * 3, 0x33, 16);       /* ymm3's upper half */
        memset(fp + 160 + 16 * 4, 0x44, 16);              /* xmm4 */
        break;
    case CLEAR_AVX_BIT:
        xstate_bv &= ~(1ull << XFEATURE_YMM);
        memcpy(fp + 512, &xstate_bv, 8);
        break;
    case BAD_MAGIC1:
        sw->magic1 = 0;
        break;
    case BAD_MAGIC2:
        memset(fp + sw->xstate_size, 0, 4);
        break;
    case NO_FP_AREA:
        uc->uc_mcontext.fpregs = NULL;      /* rt_sigreturn then gives the initial FP state */
        break;
    case BAD_HEADER:
        fp[512 + 20] = 1;           /* XRSTOR refuses it: rt_sigreturn fails with SIGSEGV */
        break;
    }
    uc->uc_mcontext.gregs[REG_RIP] += 2;                  /* past the ud2 */
}

static void segv_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    printf("  rt_sigreturn failed: sig %d code %#x\n", sig, si->si_code);
    siglongjmp(failed_return, 1);
}

static void run_case(enum edit e)
{
    edit = e;
    if (sigsetjmp(failed_return, 1))
        return;
    for (int i = 0; i < 16; i++)
        pattern(before[i], 32, i + 16 * (int)e);
    memset(after, 0, sizeof after);
    printf("%s\n", edit_names[e]);
    __asm__ volatile(ALL_YMM(LOAD_YMM, "%1") "ud2\n\t" ALL_YMM(SAVE_YMM, "%0")
                     : "=m"(after) : "m"(before)
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                       "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
    printf("  after return:");
    for (int i = 0; i < 16; i++) {
        int lo_zero = 1, hi_zero = 1;
        for (int j = 0; j < 32; j++)
            *(j < 16 ? &lo_zero : &hi_zero) &= after[i][j] == 0;
        const char *low = !memcmp(after[i], before[i], 16) ? "kept" : lo_zero ? "zero"
                          : after[i][0] == 0x44 ? "0x44" : "LOST";
        const char *high = !memcmp(after[i] + 16, before[i] + 16, 16) ? "kept"
                           : hi_zero ? "zero" : after[i][16] == 0x33 ? "0x33" : "LOST";
        printf(" ymm%d %s/%s", i, low, high);
    }
    printf("\n");
}

static void run_avx512_case(void)
{
    pattern(zmm_before, 64, 99);
    edit = KEEP;
    avx512_case = 1;
    printf("avx512\n");
    /* zmm16 and k1 (AVX-512's own state components) */
    __asm__ volatile("vmovdqu64 %2, %%zmm16\n\tkmovq %3, %%k1\n\tud2\n\t"
                     "vmovdqu64 %%zmm16, %0\n\tkmovq %%k1, %1"
                     : "=m"(zmm_after), "=m"(k1_after) : "m"(zmm_before), "m"(k1_before) : "memory");
    printf("  after return: zmm16 %s, k1 %s\n", memcmp(zmm_after, zmm_before, 64) ? "LOST" : "kept",
           k1_after == k1_before ? "kept" : "LOST");
}

/* Asynchronous signals: a timer's SIGALRM lands anywhere in a loop that
 * keeps values in ymm0-15 and checks them; the handler clobbers every
 * vector register (and glibc's memset uses them too). */
static volatile int alarms;
static uint8_t scratch[1 << 16];

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
    memset(scratch, alarms & 0xff, sizeof scratch);
    __asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\tvmovdqa %%ymm0, %%ymm5\n\tvmovdqa %%ymm0, %%ymm15"
                     ::: "xmm0", "xmm5", "xmm15");
}

static void run_async(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    int bad = 0, rounds = 0;
    for (int i = 0; i < 16; i++)
        pattern(before[i], 32, 200 + i);
    while (alarms < 100) {
        /* load, spin a while (the alarm lands somewhere in here), store, compare */
        __asm__ volatile(ALL_YMM(LOAD_YMM, "%1") "mov $20000, %%ecx\n1:\tdec %%ecx\n\tjnz 1b\n\t"
                         ALL_YMM(SAVE_YMM, "%0")
                         : "=m"(after) : "m"(before)
                         : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
        bad += memcmp(before, after, sizeof after) != 0;
        rounds++;
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    printf("timer signals: 100 or more taken, ymm0-15 changed in %d rounds\n", bad);
    (void)rounds;
}

int main(void)
{
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    if (!(c & bit_AVX) || !(c & bit_OSXSAVE)) {
        printf("no AVX\n");
        return 77;
    }
    __cpuid_count(0xD, XFEATURE_YMM, a, b, c, d);
    ymm_offset = b;
    __cpuid_count(7, 0, a, b, c, d);
    if (b & bit_AVX512F) {
        __cpuid_count(0xD, 0, a, b, c, d);
        if ((a & 0xE0) == 0xE0) {
            has_avx512 = 1;
            __cpuid_count(0xD, 5, a, b, c, d);
            k_offset = b;
            __cpuid_count(0xD, 7, a, b, c, d);     /* Hi16_ZMM: zmm16-31 */
            hi16_zmm_offset = b;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    sa.sa_sigaction = segv_handler;
    sigaction(SIGSEGV, &sa, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);
    for (enum edit e = KEEP; e <= BAD_HEADER; e++)
        run_case(e);
    if (has_avx512)
        run_avx512_case();
    run_async();
    return 0;
}
