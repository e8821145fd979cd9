/* Loops for `tcgpy bench --kvm`, timed natively, under the KVM engine and
 * under qemu-x86_64:
 *   kvm_bench getppid N   N getppid syscalls
 *   kvm_bench pipe N      N round trips of 4 KiB through a pipe (a write and a read)
 *   kvm_bench compute N   an integer kernel of N rounds, no syscalls
 * Each prints a result the loop depends on, so that nothing is optimised away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: kvm_bench getppid|pipe|compute N\n");
        return 2;
    }
    long n = atol(argv[2]);
    unsigned long acc = 0;
    if (!strcmp(argv[1], "getppid")) {
        for (long i = 0; i < n; i++)
            acc += syscall(SYS_getppid) != 0;
    } else if (!strcmp(argv[1], "pipe")) {
        static char buf[4096];
        int fds[2];
        if (pipe(fds)) return 1;
        for (long i = 0; i < n; i++) {
            buf[0] = (char)i;
            if (write(fds[1], buf, sizeof buf) != sizeof buf) return 1;
            if (read(fds[0], buf, sizeof buf) != sizeof buf) return 1;
            acc += (unsigned char)buf[0];
        }
    } else if (!strcmp(argv[1], "compute")) {
        unsigned long x = 88172645463325252UL;
        for (long i = 0; i < n; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;   /* xorshift */
            acc += x % 1000003;
        }
    } else {
        return 2;
    }
    printf("%lu\n", acc);
    return 0;
}
