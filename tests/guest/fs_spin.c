/* Host signals reaching a guest spinning in a hot loop (no syscalls):
 *   alarm  - setitimer(ITIMER_REAL) then spin until the SIGALRM handler runs
 *   wait   - print "ready", then spin forever (the test sends SIGINT/SIGUSR1) */
#include "mini.h"

#define NR_setitimer 103

static volatile int flag;
static void on_sig(int sig, struct ksiginfo *si, void *ctx) { flag = sig; }

int main(int argc, char **argv, char **envp)
{
    struct ksigaction sa = { (void *)on_sig, SA_SIGINFO, 0, 0 };
    if (argc > 1 && seq(argv[1], "alarm")) {
        sys4(NR_rt_sigaction, 14, &sa, 0, 8);
        long it[4] = { 0, 0, 0, 50000 };        /* interval 0, value 50 ms */
        sys3(NR_setitimer, 0, it, 0);
        unsigned long spins = 0;
        while (!flag) spins++;
        kv("handler_ran", flag);
        return 0;
    }
    if (argc > 1 && seq(argv[1], "usr1"))
        sys4(NR_rt_sigaction, 10, &sa, 0, 8);
    out("ready\n");
    while (!flag) {}
    kv("handler_ran", flag);
    return 0;
}
