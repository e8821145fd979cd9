/* brk, mmap, munmap, mprotect, mremap, and a SIGSEGV handler that recovers
 * by stepping over the faulting instruction through the ucontext. */
#include "mini.h"

static volatile int segv_count;
static volatile unsigned long segv_addr;

static void on_segv(int sig, struct ksiginfo *si, void *ctx)
{
    struct kucontext *uc = ctx;
    segv_count++;
    segv_addr = si->addr;
    if (si->addr != uc->mc.fault_address) out("fault_address mismatch\n");
    uc->mc.pc += 4;                 /* skip the faulting store */
}

int main(int argc, char **argv, char **envp)
{
    char *b0 = (char *)sys1(NR_brk, 0);
    char *b1 = (char *)sys1(NR_brk, b0 + 100000);
    kv("brk_grew", b1 == b0 + 100000);
    for (int i = 0; i < 100000; i += 4096) b0[i] = (char)i;
    kv("brk_rw", b0[8192] == (char)8192);
    kv("brk_shrink", sys1(NR_brk, b0 + 10) == (long)(b0 + 10));

    char *m = (char *)sys6(NR_mmap, 0, 3 * 4096, 3, 0x22, -1, 0);
    kv("mmap_ok", (long)m > 0 && ((unsigned long)m & 4095) == 0);
    kv("mmap_zero", m[0] == 0 && m[3 * 4096 - 1] == 0);
    m[5000] = 42;
    kv("mmap_rw", m[5000] == 42);
    kv("mprotect", sys3(NR_mprotect, m, 4096, 1));

    struct ksigaction sa = { (void *)on_segv, SA_SIGINFO, 0, 0 };
    kv("sigaction", sys4(NR_rt_sigaction, 11, &sa, 0, 8));
    volatile char *ro = m;
    ro[10] = 1;                     /* SIGSEGV: read-only page */
    kv("segv_count", segv_count);
    kv("segv_addr_ok", segv_addr == (unsigned long)m + 10);
    kv("still_zero", ro[10] == 0);
    kv("munmap", sys2(NR_munmap, m + 4096, 4096));
    volatile char *gone = m + 4096;
    gone[0] = 1;                    /* SIGSEGV: unmapped */
    kv("segv_count", segv_count);
    kv("segv_addr_ok", segv_addr == (unsigned long)m + 4096);
    kv("tail_alive", m[2 * 4096] == 0);

    char *r = (char *)sys6(NR_mmap, 0, 4096, 3, 0x22, -1, 0);
    r[100] = 7;
    char *r2 = (char *)sys5(NR_mremap, r, 4096, 8 * 4096, 1, 0);
    kv("mremap_ok", (long)r2 > 0 && r2[100] == 7 && r2[8 * 4096 - 1] == 0);
    kv("munmap_unaligned_einval", sys2(NR_munmap, r2 + 1, 4096) == -22);

    /* MADV_DONTNEED: private anonymous pages come back zero-filled, neighbours kept. */
    char *big = (char *)sys6(NR_mmap, 0, 16 << 20, 3, 0x22, -1, 0);
    for (long i = 0; i < (16 << 20); i += 4096) big[i] = 1;
    kv("madvise", sys3(233, big + 4096, (16 << 20) - 8192, 4));
    kv("dontneed_zeroed", big[1 << 20] == 0 && big[0] == 1 && big[(16 << 20) - 4096] == 1);
    return 0;
}
