/* A guest that looks for its emulator's insides in its own address space.
 * Under the KVM engine the VM's kernel pages (GDT, IDT, TSS, the ring-0
 * stub, kernel stacks) sit at the top of the virtual address space,
 * supervisor-only, and the page tables in no virtual mapping at all; in
 * guest-physical memory the kernel pages start at 0, the page tables at
 * 64 MiB, the guest's own memory at 4 GiB.  This program
 *   scan     loads from and stores to addresses across the whole 64-bit
 *            space (every 64 GiB of the lower half, every GiB of the top
 *            512 GiB, the first pages there, where the page tables would be
 *            if mapped, the pages around each of its own mappings) and
 *            checks each outcome against /proc/self/maps: mapped and
 *            readable, or SIGSEGV;
 *   gpa      maps memory at the virtual addresses equal to where the stub,
 *            the page tables and the guest's memory live in guest-physical
 *            space, fills it with 0xff (were it the VM's own pages, the VM
 *            would be wrecked), and then still makes syscalls, maps,
 *            faults, runs a second thread, forks and reads back what it wrote;
 *   tables   asks where the descriptor tables are (sgdt, sidt, smsw, str,
 *            sldt): Linux's made-up answers where the CPU has UMIP.
 * Every line is the same under a kernel; compared with native runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ul

static sigjmp_buf probe_env;
static volatile int probe_sig;

static void on_fault(int sig)
{
    probe_sig = sig;
    siglongjmp(probe_env, 1);
}

/* 0: the access worked; otherwise the signal it raised */
static int probe(uintptr_t addr, int write)
{
    probe_sig = 0;
    if (sigsetjmp(probe_env, 1) == 0) {
        volatile uint8_t *p = (volatile uint8_t *)addr;
        if (write) {
            uint8_t v = *p;       /* only pages we may read are written: see below */
            *p = v;
        } else {
            (void)*p;
        }
    }
    return probe_sig;
}

struct range { uintptr_t start, end; char perms[5]; char name[64]; };
static struct range maps[512];
static int nmaps;

static void read_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    nmaps = 0;
    while (f && fgets(line, sizeof line, f) && nmaps < 512) {
        struct range *r = &maps[nmaps];
        r->name[0] = 0;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s %*s %*s %*s %63s", &r->start, &r->end, r->perms,
                   r->name) >= 3)
            nmaps++;
    }
    if (f)
        fclose(f);
}

static const struct range *mapping(uintptr_t addr)
{
    for (int i = 0; i < nmaps; i++)
        if (maps[i].start <= addr && addr < maps[i].end)
            return &maps[i];
    return NULL;
}

static int probes, disagreements;

static void check(uintptr_t addr)
{
    const struct range *r = mapping(addr);
    int readable = r && r->perms[0] == 'r';
    /* the kernel's [vvar] pages say r but are not all readable (tcgpy gives no vDSO at all) */
    if (r && !strncmp(r->name, "[vvar", 5))
        return;
    int got = probe(addr, 0);
    probes++;
    if ((got == 0) != readable) {
        disagreements++;
        printf("  read %#" PRIxPTR ": %s, maps say %s\n", addr, got ? "fault" : "ok", r ? r->perms : "unmapped");
    }
    if (!readable || r->perms[1] != 'w')
        return;
    got = probe(addr, 1);
    probes++;
    if (got) {
        disagreements++;
        printf("  write %#" PRIxPTR ": fault in a writable mapping\n", addr);
    }
}

static void scan(void)
{
    read_maps();
    for (uintptr_t a = 0; a < (1ul << 47); a += 64ul << 30)
        check(a);
    for (uintptr_t a = 0xffffff8000000000ul; a != 0; a += 1ul << 30)
        check(a);
    /* the first 64 pages of the top 512 GiB, and where the page tables would be */
    for (uintptr_t i = 0; i < 64; i++) {
        check(0xffffff8000000000ul + i * PAGE);
        check(0xffffff8040000000ul + i * PAGE);
    }
    /* what a program would try first: just below and above each mapping */
    int n = nmaps;
    struct range own[512];
    memcpy(own, maps, sizeof maps);
    for (int i = 0; i < n; i++) {
        /* (below the stack, the kernel grows it instead of faulting) */
        if (own[i].start >= PAGE && strcmp(own[i].name, "[stack]"))
            check(own[i].start - PAGE);
        check(own[i].end);
        check(own[i].start);
    }
    printf("scan: over %d probes, %d disagree with /proc/self/maps\n", probes > 2000 ? 2000 : probes,
           disagreements);
}

/* a second thread (the engine gives it vCPU 1): syscalls and a fresh mapping */
static void *second(void *arg)
{
    long n = 0;
    for (int i = 0; i < 50; i++) {
        void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *(volatile long *)p = i;
        n += *(volatile long *)p + (getppid() > 0);
        munmap(p, PAGE);
    }
    *(long *)arg = n;
    return NULL;
}

static void gpa(void)
{
    /* guest-physical addresses of the KVM engine's VM (machine.py): the
     * kernel pages from 0, 32 pages a vCPU (vCPU 0's queue of page-table
     * writes at 0x10000, vCPU 1's stub at 0x22000; lower addresses are below
     * the usual vm.mmap_min_addr), page tables from 64 MiB, the guest's
     * memory from 4 GiB */
    static const uintptr_t where[] = { 0x10000, 0x22000, 0x4000000, 0x4010000, 0x100000000ul };
    int mapped = 0, filled = 0;
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        void *p = mmap((void *)where[i], 4 * PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED) {
            printf("gpa: mmap %#" PRIxPTR ": %s\n", where[i], errno == EPERM || errno == EACCES ? "refused"
                   : errno == EEXIST ? "taken" : "other error");
            continue;
        }
        mapped++;
        memset(p, 0xff, 4 * PAGE);
        filled += ((uint8_t *)p)[4 * PAGE - 1] == 0xff;
    }
    /* the machine still works: syscalls, new mappings, faults, fork */
    uint64_t *q = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *q = 0x600d;
    mprotect(q, PAGE, PROT_READ);
    int fault = probe((uintptr_t)q, 1);
    long sum = 0;
    pthread_t t;
    pthread_create(&t, NULL, second, &sum);
    pthread_join(t, NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(*q == 0x600d ? 3 : 4);
    int st = 0;
    waitpid(pid, &st, 0);
    int still = 1;
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        const uint8_t *p = (const uint8_t *)where[i];
        if (mapping(where[i]) == NULL && probe(where[i], 0) == 0)
            continue;
        read_maps();
        if (mapping(where[i]))
            for (size_t j = 0; j < 4 * PAGE; j++)
                still &= p[j] == 0xff;
    }
    printf("gpa: %d of %zu mapped, %d filled, contents kept %d; then: getppid %s, new page %#lx, "
           "write after mprotect sig %d, thread %ld, child exit %d\n", mapped, sizeof where / sizeof *where, filled, still,
           getppid() > 0 ? "ok" : "failed", (unsigned long)*q, fault, sum, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* What the descriptor-table instructions tell: with UMIP, Linux's made-up
 * answers (a limit of 0, dummy bases, its CR0 and TSS selector); without, a
 * kernel address either way.  A destination that cannot be written is SIGSEGV. */
static const char *base_kind(uint64_t base, uint64_t dummy)
{
    return base == dummy ? "linux-dummy" : base >= 0xffff800000000000ul ? "kernel-address" : "other";
}

static void tables(void)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdt, idt;
    uint64_t msw = 0x1234567812345678ul, tr = 0x1111222233334444ul, ldt = 0x5555666677778888ul;
    uint16_t msw16 = 0x5555, tr16 = 0x6666;
    __asm__ volatile("sgdt %0" : "=m"(gdt));
    __asm__ volatile("sidt %0" : "=m"(idt));
    __asm__ volatile("smsw %0" : "+r"(msw));
    __asm__ volatile("smsw %0" : "=m"(msw16));
    __asm__ volatile("str %k0" : "+r"(tr));          /* a 32-bit destination */
    __asm__ volatile("str %0" : "=m"(tr16));
    __asm__ volatile("sldt %w0" : "+r"(ldt));        /* a 16-bit destination */
    printf("tables: gdt limit %s base %s, idt limit %s base %s, msw %#lx %#x, str %#lx %#x, sldt %#lx\n",
           gdt.limit ? "nonzero" : "0", base_kind(gdt.base, 0xfffffffffffe0000ul), idt.limit ? "nonzero" : "0",
           base_kind(idt.base, 0xffffffffffff0000ul), (unsigned long)msw, msw16, (unsigned long)(tr & 0xffff),
           tr16, (unsigned long)(ldt & 0xffff));
    void *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    probe_sig = 0;
    if (sigsetjmp(probe_env, 1) == 0)
        __asm__ volatile("sgdt (%0)" : : "r"(ro) : "memory");
    printf("tables: sgdt to a read-only page: signal %d\n", probe_sig);
    munmap(ro, PAGE);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);
    scan();
    gpa();
    tables();
    return 0;
}
