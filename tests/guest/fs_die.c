/* Dies the way argv[1] says: segv (null store), ill (udf), trap (brk),
 * abort-like SIGABRT via kill, term (SIGTERM via kill), bus (misaligned
 * exclusive), or exits 0. */
#include "mini.h"

int main(int argc, char **argv, char **envp)
{
    const char *how = argc > 1 ? argv[1] : "";
    out("about to die\n");
    if (seq(how, "segv")) *(volatile int *)16 = 1;
    if (seq(how, "ill")) __asm__ volatile(".inst 0x00000000");
    if (seq(how, "trap")) __asm__ volatile("brk #0");
    if (seq(how, "abrt")) sys2(NR_kill, sys0(NR_getpid), 6);
    if (seq(how, "term")) sys2(NR_kill, sys0(NR_getpid), 15);
    if (seq(how, "bus")) {
        static unsigned long word[2];
        unsigned long v;
        __asm__ volatile("ldxr %0, [%1]" : "=r"(v) : "r"((char *)word + 1) : "memory");
    }
    out("still alive\n");
    return 0;
}
