/* riscv_hwprobe and riscv_flush_icache (Linux 6.4's values for what tcgpy
 * implements); qemu-riscv64 7.2 has neither, so the test holds the
 * expected text itself. */
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

struct pair { long long key; unsigned long long value; };

int main(void)
{
    struct pair p[7] = {{0}, {1}, {2}, {3}, {4}, {5}, {99}};
    long r = syscall(258, p, 7, 0, 0, 0);
    printf("hwprobe %ld:", r);
    for (int i = 0; i < 7; i++)
        printf(" %lld=%llu", p[i].key, p[i].value);
    printf("\nflush_icache %ld\n", syscall(259, 0, 0, 0));
    return 0;
}
