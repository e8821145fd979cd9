/* Address-space stress: many small mappings, and huge ones that must cost
 * nothing until touched (issue 19: mmap/mprotect cost, lazy mappings).
 *   libc_maps many N    N one-page mappings: map, touch, mprotect a third, unmap
 *   libc_maps huge      PROT_NONE/MAP_NORESERVE reservations of 32 GiB..1 TiB,
 *                       a 4 GiB private mapping of /dev/zero touched sparsely */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int many(long n)
{
    long pg = sysconf(_SC_PAGESIZE);
    char **p = calloc(n, sizeof *p);
    long sum = 0;
    for (long i = 0; i < n; i++) {
        /* alternate permissions so that neighbours never merge */
        int prot = i & 1 ? PROT_READ | PROT_WRITE : PROT_READ | PROT_WRITE | PROT_EXEC;
        p[i] = mmap(NULL, pg, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p[i] == MAP_FAILED) {
            printf("mmap %ld: %s\n", i, strerror(errno));
            return 1;
        }
        p[i][i % pg] = (char)i;
    }
    long bad = 0;
    for (long i = 0; i < n; i += 3)
        bad += mprotect(p[i], pg, PROT_READ) != 0;
    for (long i = 0; i < n; i++)
        sum += (unsigned char)p[i][i % pg];      /* char is signed on x86, unsigned on Arm */
    for (long i = 0; i < n; i++)
        bad += munmap(p[i], pg) != 0;
    printf("%ld mappings, checksum %ld, failures %ld\n", n, sum, bad);
    return 0;
}

static void reserve(const char *what, size_t size)
{
    char *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        printf("reserve %s: %s\n", what, strerror(errno));
        return;
    }
    /* make a window usable, as a garbage collector or sanitizer does */
    int r = mprotect(p + size / 2, 1 << 20, PROT_READ | PROT_WRITE);
    if (r == 0)
        p[size / 2 + 4096] = 1;
    printf("reserve %s: ok, window %s, unmap %d\n", what, r ? strerror(errno) : "ok", munmap(p, size));
}

static int huge(void)
{
    reserve("32 GiB", 32ul << 30);
    reserve("64 GiB", 64ul << 30);
    reserve("1 TiB", 1ul << 40);
    int fd = open("/dev/zero", O_RDWR);
    size_t size = 4ul << 30;
    char *z = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (z == MAP_FAILED) {
        printf("/dev/zero 4 GiB: %s\n", strerror(errno));
        return 1;
    }
    long sum = 0;
    for (size_t off = 0; off < size; off += 256ul << 20) {
        sum += z[off];
        z[off + 1] = 7;
        sum += z[off + 1];
    }
    printf("/dev/zero 4 GiB: ok, sum %ld, unmap %d\n", sum, munmap(z, size));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "many"))
        return many(atol(argv[2]));
    if (argc > 1 && !strcmp(argv[1], "huge"))
        return huge();
    fprintf(stderr, "usage: libc_maps many N | huge\n");
    return 2;
}
