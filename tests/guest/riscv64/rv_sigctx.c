/* riscv64 signal frames: a handler reads the interrupted context from the
 * ucontext (pc, registers, the F/D state), changes it, and returns through
 * rt_sigreturn; SIGILL from an illegal compressed word, SIGSEGV with
 * si_addr, SIGBUS from a misaligned AMO, SIGTRAP from ebreak.  Output is
 * compared with qemu-riscv64 (ref/rv_sigctx.out). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

static volatile int hits;

static void handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    unsigned long pc = uc->uc_mcontext.__gregs[REG_PC];
    unsigned short first = *(unsigned short *)pc;
    int len = (first & 3) == 3 ? 4 : 2;
    printf("sig %d code %d len %d a0=%lx", sig, si->si_code, len, uc->uc_mcontext.__gregs[10]);
    if (sig == SIGSEGV || sig == SIGBUS)
        printf(" addr_low=%lx", (unsigned long)si->si_addr & 0xfff);
    printf(" f8=%llx fcsr=%x\n", (unsigned long long)uc->uc_mcontext.__fpregs.__d.__f[8],
           uc->uc_mcontext.__fpregs.__d.__fcsr);
    uc->uc_mcontext.__gregs[REG_PC] = pc + len;       /* skip the instruction */
    uc->uc_mcontext.__gregs[10] += 0x100;             /* a0 += 0x100 */
    uc->uc_mcontext.__fpregs.__d.__f[8] = 0x4000000000000000ULL;   /* fs0 = 2.0 */
    hits++;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, 0);
    sigaction(SIGSEGV, &sa, 0);
    sigaction(SIGBUS, &sa, 0);
    sigaction(SIGTRAP, &sa, 0);
    unsigned long a0, fs0;
    __asm__ volatile("li a0, 1\n fmv.d.x fs0, a0\n .2byte 0\n mv %0, a0\n fmv.x.d %1, fs0"
                     : "=r"(a0), "=r"(fs0) : : "a0", "fs0");
    printf("after SIGILL (c.unimp): a0=%lx fs0=%lx\n", a0, fs0);
    __asm__ volatile("li a0, 2\n li t0, 0x10\n ld t1, 8(t0)\n mv %0, a0" : "=r"(a0) : : "a0", "t0", "t1");
    printf("after SIGSEGV: a0=%lx\n", a0);
    static uint64_t word[2];
    __asm__ volatile("li a0, 3\n amoadd.w zero, zero, (%1)\n mv %0, a0"
                     : "=r"(a0) : "r"((char *)word + 2) : "a0", "memory");
    printf("after SIGBUS: a0=%lx\n", a0);
    __asm__ volatile("li a0, 4\n ebreak\n mv %0, a0" : "=r"(a0) : : "a0");
    printf("after SIGTRAP: a0=%lx\n", a0);
    __asm__ volatile("li a0, 5\n c.ebreak\n mv %0, a0" : "=r"(a0) : : "a0");
    printf("after c.ebreak: a0=%lx hits=%d\n", a0, hits);
    unsigned long flags;
    __asm__ volatile("csrwi fflags, 0x15\n csrr %0, fcsr" : "=r"(flags));
    printf("fcsr=%lx\n", flags);
    return 0;
}
