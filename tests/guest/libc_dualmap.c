/* Code written through one mapping and run through another of the same
 * memory (a JIT's W^X double mapping: a writable view and an executable
 * view of one memfd), made visible by __builtin___clear_cache on either
 * address, as on hardware: each round rewrites the function and calls it.  tcgpy drops what it translated on the page at ic ivau
 * (frontends/aarch64/insn_system.py); qemu-aarch64 7.2 runs the first
 * round's code every time.  The reference runs natively (x86-64: no
 * instruction to invalidate, coherent caches). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* "return imm" in the host's instructions */
static size_t emit_return(unsigned char *p, uint32_t imm)
{
#if defined(__aarch64__)
    uint32_t code[2] = {0xd2800000 | (imm << 5), 0xd65f03c0};   /* movz x0, #imm; ret */
#elif defined(__riscv)
    uint32_t code[2] = {0x00000513 | (imm << 20), 0x00008067};  /* li a0, imm; ret */
#else
    unsigned char code[6] = {0xb8, imm, 0, 0, 0, 0xc3};        /* mov eax, imm; ret */
#endif
    memcpy(p, code, sizeof code);
    return sizeof code;
}

int main(void)
{
    int fd = memfd_create("jit", 0);
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        perror("memfd");
        return 1;
    }
    unsigned char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    if (w == MAP_FAILED || x == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    long (*f)(void) = (long (*)(void))x;
    /* the cache flushed through the executable view (most JITs), then
     * through the writable one (libffi's closures): either names the memory */
    for (int round = 1; round <= 6; round++) {
        size_t n = emit_return(w, 10 * round);
        char *flush = (char *)(round <= 3 ? x : w);
        __builtin___clear_cache(flush, flush + n);
        long r = 0;
        for (int i = 0; i < 100; i++)       /* long enough to be compiled */
            r = f();
        printf("round %d (flushed through the %s view): %ld\n", round, round <= 3 ? "executable" : "writable", r);
    }
    return 0;
}
