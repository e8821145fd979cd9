/* uname, time, nanosleep, getrandom, rlimits, stdin, and the exit status
 * given as argv[1]. */
#include "mini.h"

struct ts { long sec, nsec; };

int main(int argc, char **argv, char **envp)
{
    char uts[6 * 65];
    kv("uname", sys1(NR_uname, uts));
    out("sysname="); out(uts); out("\n");
    out("machine="); out(uts + 4 * 65); out("\n");
    struct ts a, b, req = { 0, 20 * 1000 * 1000 };
    sys2(NR_clock_gettime, 1, &a);
    kv("nanosleep", sys2(NR_nanosleep, &req, 0));
    sys2(NR_clock_gettime, 1, &b);
    long ns = (b.sec - a.sec) * 1000000000L + (b.nsec - a.nsec);
    kv("slept_enough", ns >= 20 * 1000 * 1000);
    struct ts rt;
    sys2(NR_clock_gettime, 0, &rt);
    kv("realtime_after_2020", rt.sec > 1577836800L);
    unsigned char rnd[16];
    kv("getrandom", sys3(NR_getrandom, rnd, 16, 0));
    unsigned long lim[2];
    kv("prlimit_nofile", sys4(NR_prlimit64, 0, 7, 0, lim));
    kv("nofile_positive", lim[0] > 0);
    kv("unknown_syscall_enosys", sys0(4000) == -38);
    char in[256];
    long total = 0, n;
    while ((n = sys3(NR_read, 0, in, sizeof(in))) > 0) {
        for (long i = 0; i < n; i++)
            if (in[i] >= 'a' && in[i] <= 'z') in[i] -= 32;
        sys3(NR_write, 1, in, n);
        total += n;
    }
    kv("stdin_bytes", total);
    int status = 0;
    if (argc > 1)
        for (const char *p = argv[1]; *p; p++) status = status * 10 + (*p - '0');
    return status;
}
