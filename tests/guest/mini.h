/* A tiny freestanding runtime for guest tests that must run on tcgpy's
 * integer frontend alone: raw AArch64 (or riscv64) Linux syscalls, no libc, built with
 * -nostdlib -ffreestanding -mgeneral-regs-only (so the compiler emits no
 * FP/SIMD instructions).  Syscall numbers are asm-generic's. */
#ifndef MINI_H
#define MINI_H

typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned long uint64_t;
typedef unsigned int uint32_t;

enum {
    NR_getcwd = 17, NR_dup3 = 24, NR_fcntl = 25, NR_ioctl = 29, NR_mkdirat = 34, NR_unlinkat = 35,
    NR_renameat = 38, NR_faccessat = 48, NR_chdir = 49, NR_openat = 56, NR_close = 57, NR_pipe2 = 59,
    NR_getdents64 = 61, NR_lseek = 62, NR_read = 63, NR_write = 64, NR_writev = 66,
    NR_readlinkat = 78, NR_newfstatat = 79, NR_fstat = 80, NR_exit = 93, NR_exit_group = 94,
    NR_set_tid_address = 96, NR_nanosleep = 101, NR_clock_gettime = 113, NR_kill = 129,
    NR_tgkill = 131, NR_sigaltstack = 132, NR_rt_sigaction = 134, NR_rt_sigprocmask = 135,
    NR_rt_sigpending = 136, NR_rt_sigreturn = 139, NR_uname = 160, NR_getrlimit = 163,
    NR_getpid = 172, NR_getppid = 173, NR_getuid = 174, NR_gettid = 178, NR_brk = 214,
    NR_munmap = 215, NR_mremap = 216, NR_clone = 220, NR_execve = 221, NR_mmap = 222,
    NR_mprotect = 226, NR_wait4 = 260, NR_prlimit64 = 261, NR_getrandom = 278,
};

#if defined(__riscv)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long a7 __asm__("a7") = n;
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    register long a3 __asm__("a3") = d;
    register long a4 __asm__("a4") = e;
    register long a5 __asm__("a5") = f;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5)
                     : "memory");
    return a0;
}
#else
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}
#endif

#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static int seq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }
static int sprefix(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }
static void puts_fd(int fd, const char *s) { sys3(NR_write, fd, s, slen(s)); }
static void out(const char *s) { puts_fd(1, s); }

static void out_u(unsigned long v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do { buf[--i] = '0' + v % 10; v /= 10; } while (v);
    out(buf + i);
}

static void out_d(long v) { if (v < 0) { out("-"); out_u(-(unsigned long)v); } else out_u(v); }

static void out_x(unsigned long v)
{
    char buf[20];
    int i = 19;
    buf[i] = 0;
    do { buf[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    out("0x");
    out(buf + i);
}

static void kv(const char *k, long v) { out(k); out("="); out_d(v); out("\n"); }

static void *mset(void *d, int c, size_t n) { char *p = d; while (n--) *p++ = c; return d; }

/* The compiler may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n) { return mset(d, c, n); }
void *memcpy(void *d, const void *s, size_t n)
{
    char *a = d; const char *b = s;
    while (n--) *a++ = *b++;
    return d;
}

__attribute__((noreturn)) static void sys_exit_group(int status)
{
    sys1(NR_exit_group, status);
    for (;;) {}
}

/* Kernel sigaction (not libc's). */
struct ksigaction { void *handler; unsigned long flags; void *restorer; unsigned long mask; };
#define SA_SIGINFO 4UL
#define SA_RESTORER 0x04000000UL
#define SA_NODEFER 0x40000000UL
#define SA_RESETHAND 0x80000000UL
#define SA_ONSTACK 0x08000000UL

/* The AArch64 ucontext as the kernel lays it out. */
struct kucontext {
    unsigned long uc_flags;
    struct kucontext *uc_link;
    struct { void *ss_sp; int ss_flags; size_t ss_size; } uc_stack;
    unsigned long uc_sigmask;
    unsigned char unused[120];
    struct {
        unsigned long fault_address;
        unsigned long regs[31];
        unsigned long sp, pc, pstate;
    } __attribute__((aligned(16))) mc;
};

struct ksiginfo { int si_signo, si_errno, si_code, pad; unsigned long addr; };

int main(int argc, char **argv, char **envp);

/* _start: the kernel's initial stack is argc, argv..., 0, envp..., 0, auxv. */
#if defined(__riscv)
/* gp first: the linker relaxes accesses near __global_pointer$ to it */
__asm__(".global _start\n"
        "_start:\n"
        "  .option push\n  .option norelax\n  la gp, __global_pointer$\n  .option pop\n"
        "  ld a0, 0(sp)\n"
        "  addi a1, sp, 8\n"
        "  slli a2, a0, 3\n"
        "  add a2, a1, a2\n"
        "  addi a2, a2, 8\n"
        "  call start_c\n");
#else
__asm__(".global _start\n"
        "_start:\n"
        "  mov x29, #0\n"
        "  ldr x0, [sp]\n"
        "  add x1, sp, #8\n"
        "  add x2, x1, x0, lsl #3\n"
        "  add x2, x2, #8\n"
        "  bl  start_c\n");
#endif

unsigned long *mini_auxv;

__attribute__((noreturn, used)) void start_c(int argc, char **argv, char **envp)
{
    char **e = envp;
    while (*e) e++;
    mini_auxv = (unsigned long *)(e + 1);
    sys_exit_group(main(argc, argv, envp));
}

static unsigned long getauxval(unsigned long type)
{
    for (unsigned long *a = mini_auxv; a[0]; a += 2)
        if (a[0] == type) return a[1];
    return 0;
}

#endif
