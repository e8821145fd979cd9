/* x86-64 faults as Linux reports them: privileged instructions (control,
 * debug and descriptor-table registers, MSRs, port I/O, cache control,
 * swapgs/sysret, monitor/mwait...), kernel addresses, bad pointers, ud2,
 * int3, int1, a trap flag the program sets, division by zero.  Each case runs in
 * a handler that records signo, si_code and si_addr, moves rip past the
 * faulting instruction (its length is known) and returns, so sigreturn and
 * the saved context are exercised too; an XMM register and a callee-saved
 * general register must survive the handler.  The output is compared with
 * native execution of the same binary. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

static volatile int is_call;
static volatile uintptr_t resume_at;
static volatile int got_sig, got_code;
static volatile uintptr_t got_addr, got_rip;
static volatile int got_tf;

/* SYSENTER in 64-bit mode is #UD on AMD (Linux: SIGILL); Intel runs it, and
 * Linux takes it as a 32-bit system call whose return kills a 64-bit
 * process (no handler runs): the case is probed only where the answer is
 * the architecture's, or when asked (--sysenter: tcgpy's answer alone).
 * (A guest under KVM sees the host's vendor too.) */
static int cpu_is_amd(void)
{
    unsigned a = 0, b, c, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    return b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;     /* "AuthenticAMD" */
}

static void handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = (uintptr_t)si->si_addr;
    got_rip = uc->uc_mcontext.gregs[REG_RIP];
    /* a trap flag the program set itself is in the saved context: clear it, or it traces on */
    got_tf = (uc->uc_mcontext.gregs[REG_EFL] >> 8) & 1;
    uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
    /* clobber the FP state: sigreturn must restore the interrupted one */
    volatile double d = 1.0;
    for (int i = 0; i < 10; i++)
        d = d * 3.5 + i;
    if (is_call) {
        /* the call went somewhere it could not run: return from it */
        uint64_t *sp = (uint64_t *)uc->uc_mcontext.gregs[REG_RSP];
        uc->uc_mcontext.gregs[REG_RIP] = sp[0];
        uc->uc_mcontext.gregs[REG_RSP] += 8;
    } else {
        uc->uc_mcontext.gregs[REG_RIP] = resume_at;
    }
}

/* ``setup`` then the instruction ``insn`` (at label 1, resumed after at label 2),
 * with xmm7 and rbx holding a value that must come back intact. */
#define CASE(name, setup, insn)                                                        \
    do {                                                                               \
        got_sig = got_tf = got_code = 0;                                               \
        got_addr = 0;                                                                  \
        is_call = !strncmp(insn, "call", 4);                                           \
        uintptr_t start;                                                               \
        uint64_t keep = 0x1122334455667788ull, xmm_out;                                \
        __asm__ volatile("lea 2f(%%rip), %%rax\n\tmov %%rax, %[resume]\n\t"           \
                         "lea 1f(%%rip), %0\n\tmovq %2, %%xmm7\n\tmov %2, %%rbx\n\t"   \
                         setup "\n1:\t" insn "\n2:\tmovq %%xmm7, %1\n\tmov %%rbx, %2"  \
                         : "=&r"(start), "=&r"(xmm_out), "+r"(keep),                   \
                           [resume] "=m"(resume_at)                                    \
                         : [p] "r"(ptr)                                                \
                         : "rax", "rbx", "rcx", "rdx", "xmm7", "memory");              \
        printf("%-24s sig %2d code %3d addr %-5s rip %-9s tf %d xmm7 %s rbx %s\n", name, \
               got_sig, got_code, got_addr == 0 ? "0" : got_addr == (uintptr_t)ptr ? "ptr" \
               : got_addr == start ? "rip" : "other",                                  \
               got_sig == 0 ? "-" : got_rip == start ? "at-insn"                       \
               : got_rip == (uintptr_t)ptr ? "at-target" : "other", got_tf,            \
               xmm_out == 0x1122334455667788ull ? "kept" : "LOST",                    \
               keep == 0x1122334455667788ull ? "kept" : "LOST");                       \
    } while (0)

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);

    void *ptr = 0;
    CASE("hlt", "", "hlt");
    CASE("cli", "", "cli");
    CASE("sti", "", "sti");
    CASE("in al,dx", "mov $0x80, %%dx", "in %%dx, %%al");
    CASE("out dx,al", "mov $0x80, %%dx", "out %%al, %%dx");
    CASE("out 0x80,al", "", "out %%al, $0x80");
    CASE("wrmsr", "xor %%ecx, %%ecx\n\txor %%eax, %%eax\n\txor %%edx, %%edx", "wrmsr");
    CASE("rdmsr", "mov $0xc0000082, %%ecx", "rdmsr");
    CASE("mov cr3,rax", "xor %%eax, %%eax", "mov %%rax, %%cr3");
    CASE("mov rax,cr3", "", "mov %%cr3, %%rax");
    CASE("lgdt", "", "lgdt (%%rsp)");
    CASE("lidt", "", "lidt (%%rsp)");
    CASE("invlpg", "", "invlpg (%%rsp)");
    CASE("mov cr0,rax", "xor %%eax, %%eax", "mov %%rax, %%cr0");
    CASE("mov dr7,rax", "xor %%eax, %%eax", "mov %%rax, %%dr7");
    CASE("clts", "", "clts");
    CASE("wbinvd", "", "wbinvd");
    CASE("invd", "", "invd");
    CASE("lmsw", "xor %%eax, %%eax", "lmsw %%ax");
    CASE("ltr", "xor %%eax, %%eax", "ltr %%ax");
    CASE("lldt", "xor %%eax, %%eax", "lldt %%ax");
    CASE("xsetbv", "xor %%ecx, %%ecx\n\tmov $7, %%eax\n\txor %%edx, %%edx", "xsetbv");
    CASE("swapgs", "", "swapgs");
    CASE("sysret", "", "sysretq");
    CASE("rdpmc", "xor %%ecx, %%ecx", "rdpmc");
    CASE("monitor", "mov %%rsp, %%rax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx", "monitor");
    CASE("mwait", "xor %%eax, %%eax\n\txor %%ecx, %%ecx", "mwait");
    if (cpu_is_amd() || (argc > 1 && strcmp(argv[1], "--sysenter") == 0))
        CASE("sysenter", "", "sysenter");
    else
        printf("%-24s not probed: not an AMD CPU\n", "sysenter");
    /* Linux gives 64-bit processes made-up descriptor-table answers where
     * the CPU has UMIP; without UMIP they are the machine's: no signal either way */
    CASE("sgdt", "sub $16, %%rsp", "sgdt (%%rsp)\n\tadd $16, %%rsp");
    CASE("sidt", "sub $16, %%rsp", "sidt (%%rsp)\n\tadd $16, %%rsp");
    CASE("smsw", "", "smsw %%eax");
    CASE("int 0x21", "", "int $0x21");
    CASE("ud2", "", "ud2");
    CASE("int3", "", "int3");
    CASE("int1", "", ".byte 0xf1");
    /* TF set by popf: a trace trap after the next instruction */
    CASE("trap flag", "pushf\n\torq $0x100, (%%rsp)\n\tpopf", "nop");
    CASE("divide by zero", "xor %%edx, %%edx\n\tmov $1, %%eax\n\txor %%ecx, %%ecx", "div %%ecx");

    ptr = (void *)0;
    CASE("read NULL", "", "mov (%[p]), %%rax");
    ptr = (void *)0xffffff8000000000ull;       /* the top 512 GiB: kernel space */
    CASE("read kernel space", "", "mov (%[p]), %%rax");
    CASE("write kernel space", "", "mov %%rax, (%[p])");
    ptr = (void *)0xffffff8000002000ull;
    CASE("jump to kernel space", "", "call *%[p]");
    ptr = (void *)0xffffffffff600000ull;       /* where vsyscall was */
    CASE("read vsyscall page", "", "mov (%[p]), %%rax");
    ptr = (void *)0x8000000000000000ull;       /* non-canonical: #GP, no address */
    CASE("read non-canonical", "", "mov (%[p]), %%rax");
    ptr = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CASE("write read-only page", "", "mov %%rax, (%[p])");
    mprotect(ptr, 4096, PROT_NONE);
    CASE("read PROT_NONE page", "", "mov (%[p]), %%rax");
    mprotect(ptr, 4096, PROT_READ | PROT_WRITE);
    CASE("write after mprotect", "", "mov %%rax, (%[p])");
    mprotect(ptr, 4096, PROT_READ);            /* a downgrade of a page just written */
    CASE("write after RW->R", "", "mov %%rax, (%[p])");
    munmap(ptr, 4096);
    CASE("read unmapped page", "", "mov (%[p]), %%rax");
    /* the same address again, other contents: no stale translation may remain */
    void *again = mmap(ptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    *(volatile long *)again = 0x5eed;
    printf("remapped page reads %#lx\n", *(volatile long *)ptr);
    munmap(again, 4096);
    ptr = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *(volatile char *)ptr = (char)0xc3;         /* ret, in a page that is not executable */
    CASE("call non-exec page", "", "call *%[p]");
    return 0;
}
