/* kill/raise, masks and pending signals, SIGILL and SIGTRAP handlers,
 * SA_RESETHAND, sigaltstack, and a handler that sees its own siginfo. */
#include "mini.h"

static volatile int got[65];
static volatile int last_code;
static volatile unsigned long on_alt;
static char altstack[16384] __attribute__((aligned(16)));

static void handler(int sig, struct ksiginfo *si, void *ctx)
{
    struct kucontext *uc = ctx;
    char local;
    got[sig]++;
    last_code = si->si_code;
    on_alt = (unsigned long)&local - (unsigned long)altstack < sizeof(altstack);
    if (sig == 4 || sig == 5)
        uc->mc.pc += 4;             /* step over udf / brk */
}

/* The handler reads x19 from the saved context and writes x20: sigreturn must
 * restore the modified context.  It also checks the first context record. */
static volatile unsigned long seen_x19, magic, magic_size;

static void ctx_handler(int sig, struct ksiginfo *si, void *ctx)
{
    struct kucontext *uc = ctx;
    unsigned int *reserved = (unsigned int *)((char *)&uc->mc.pstate + 16);
    seen_x19 = uc->mc.regs[19];
    uc->mc.regs[20] = 0xfeedface12345678UL;
    magic = reserved[0];
    magic_size = reserved[1];
}

static void install(int sig, unsigned long flags)
{
    struct ksigaction sa = { (void *)handler, SA_SIGINFO | flags, 0, 0 };
    sys4(NR_rt_sigaction, sig, &sa, 0, 8);
}

int main(int argc, char **argv, char **envp)
{
    int pid = sys0(NR_getpid);
    install(10, 0);
    kv("kill", sys2(NR_kill, pid, 10));
    kv("got_usr1", got[10]);
    kv("si_code_user", last_code);
    kv("tgkill", sys3(NR_tgkill, pid, sys0(NR_gettid), 10));
    kv("got_usr1", got[10]);
    kv("si_code_tkill", last_code);

    unsigned long set = 1UL << (12 - 1), old = 0, pend = 0;
    install(12, 0);
    sys4(NR_rt_sigprocmask, 0, &set, &old, 8);
    sys2(NR_kill, pid, 12);
    kv("blocked_not_delivered", got[12] == 0);
    sys2(NR_rt_sigpending, &pend, 8);
    kv("pending_usr2", (pend >> 11) & 1);
    sys4(NR_rt_sigprocmask, 1, &set, 0, 8);
    kv("delivered_on_unblock", got[12]);

    install(4, 0);
    __asm__ volatile(".inst 0x00000000");     /* udf #0: SIGILL */
    kv("got_sigill", got[4]);
    kv("sigill_code_is_illopc_or_illopn", last_code == 1 || last_code == 2);
    install(5, 0);
    __asm__ volatile("brk #0x3e8");
    kv("got_sigtrap", got[5]);

    struct { void *sp; int flags; size_t size; } ss = { altstack, 0, sizeof(altstack) };
    kv("sigaltstack", sys2(NR_sigaltstack, &ss, 0));
    install(10, SA_ONSTACK | SA_RESETHAND);
    sys2(NR_kill, pid, 10);
    kv("ran_on_altstack", on_alt);
    struct ksigaction cur;
    sys4(NR_rt_sigaction, 10, 0, &cur, 8);
    kv("resethand_default", cur.handler == 0);

    struct ksigaction ign = { (void *)1, 0, 0, 0 };
    sys4(NR_rt_sigaction, 15, &ign, 0, 8);
    sys2(NR_kill, pid, 15);
    out("survived ignored SIGTERM\n");
    kv("sigaction_sigkill_einval", sys4(NR_rt_sigaction, 9, &ign, 0, 8) == -22);

    struct ksigaction csa = { (void *)ctx_handler, SA_SIGINFO, 0, 0 };
    sys4(NR_rt_sigaction, 10, &csa, 0, 8);
    unsigned long x20_after;
    __asm__ volatile(
        "mov x19, #0x1234\n"
        "mov x20, #0\n"
        "mov x0, %1\n"
        "mov x1, #10\n"
        "mov x8, #129\n"          /* kill(pid, SIGUSR1) */
        "svc #0\n"
        "mov %0, x20\n"
        : "=r"(x20_after) : "r"((long)pid) : "x0", "x1", "x8", "x19", "x20", "memory");
    kv("ctx_saw_x19", seen_x19 == 0x1234);
    kv("sigreturn_restored_x20", x20_after == 0xfeedface12345678UL);
    kv("fpsimd_record", magic == 0x46508001 && magic_size == 528);

    /* rt_sigsuspend: SIGALRM blocked, a timer fires, suspend with it unblocked;
     * the handler runs, suspend returns EINTR and the old mask is back. */
    unsigned long alrm = 1UL << (14 - 1), now = 0, empty = 0;
    install(14, 0);
    sys4(NR_rt_sigprocmask, 0, &alrm, 0, 8);
    long it[4] = { 0, 0, 0, 20000 };
    sys3(103 /* setitimer */, 0, it, 0);
    kv("sigsuspend", sys2(133 /* rt_sigsuspend */, &empty, 8));
    kv("got_alrm", got[14]);
    sys4(NR_rt_sigprocmask, 0, 0, &now, 8);
    kv("mask_restored", now == alrm);
    return 0;
}
