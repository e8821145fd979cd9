/* Threads that run at the same time (the KVM engine: one vCPU per thread),
 * with output that does not depend on how they interleave:
 *   kvm_threads handshake   two threads each spin, with no syscall, until they
 *                           see the other's flag, then ping-pong a counter by
 *                           spinning: threads that took turns on one CPU
 *                           without a time slice would never finish
 *   kvm_threads memory      one thread reads, writes and maps memory while
 *                           another unmaps, protects and maps it: the reader
 *                           sees each change as soon as the call returns
 *                           (SIGSEGV on the unmapped page, on a write to the
 *                           read-only one; the new mapping's contents)
 *   kvm_threads signal      pthread_kill to a thread spinning in user code:
 *                           the handler runs in that thread
 *   kvm_threads fork        fork with threads running, from the main thread
 *                           and from another thread; wait for both children
 *   kvm_threads exit        exit(3) in a thread while main waits in pthread_join
 *   kvm_threads last        main ends with pthread_exit; the last thread's end
 *                           ends the process (status 0)
 *   kvm_threads compute T N T threads each run N rounds of an integer kernel
 *                           (tcgpy bench --kvm: the speed-up of two threads)
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PINGPONG 200     /* handoffs: each may wait for a host time slice on a loaded machine */

static volatile int flag[2];
static volatile long ball;

static void *handshake(void *arg)
{
    int me = (int)(long)arg;
    __atomic_store_n(&flag[me], 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&flag[!me], __ATOMIC_SEQ_CST))
        ;
    /* ball goes 0, 1, 2...: thread 0 moves it from even, thread 1 from odd */
    for (long want = me; want < 2 * PINGPONG; want += 2) {
        while (__atomic_load_n(&ball, __ATOMIC_ACQUIRE) != want)
            ;
        __atomic_store_n(&ball, want + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static int run_handshake(void)
{
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, handshake, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("handshake done, ball %ld\n", ball);
    return 0;
}

/* -- memory: one thread changes the map, the other uses it ------------------------------ */
static volatile char *region;
static volatile int step, reached;
static sigjmp_buf reader_env;
static volatile void *fault_addr;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    fault_addr = si->si_addr;
    fault_code = si->si_code;
    siglongjmp(reader_env, 1);
}

static void wait_step(int s)
{
    while (__atomic_load_n(&step, __ATOMIC_ACQUIRE) < s)
        ;
}

static void reach(int s)
{
    __atomic_store_n(&reached, s, __ATOMIC_RELEASE);
}

static const char *fault_name(void)
{
    return fault_code == SEGV_MAPERR ? "SEGV_MAPERR" : fault_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

static void *reader(void *arg)
{
    (void)arg;
    long sum = 0;
    /* 1: use the region (its translations are now in this vCPU's TLB) */
    for (int i = 0; i < 4 * PAGE; i += 64)
        sum += region[i];
    printf("reader: sum %ld\n", sum);
    fflush(stdout);
    reach(1);
    /* 2: page 1 is unmapped (and main no longer touches it): reading it faults */
    wait_step(2);
    if (sigsetjmp(reader_env, 1) == 0) {
        sum += region[PAGE];
        printf("reader: read the unmapped page: no fault\n");
    } else {
        printf("reader: unmapped page: SIGSEGV %s at page %ld\n", fault_name(),
               (long)((char *)fault_addr - (char *)region) / PAGE);
    }
    fflush(stdout);
    reach(2);
    /* 3: page 2 is read-only: writing it faults, reading it does not */
    wait_step(3);
    if (sigsetjmp(reader_env, 1) == 0) {
        region[2 * PAGE] = 1;
        printf("reader: wrote the read-only page: no fault\n");
    } else {
        printf("reader: read-only page: SIGSEGV %s at page %ld, reads %d\n", fault_name(),
               (long)((char *)fault_addr - (char *)region) / PAGE, region[2 * PAGE]);
    }
    fflush(stdout);
    reach(3);
    /* 4: page 1 mapped again, with new contents */
    wait_step(4);
    printf("reader: page 1 again reads %d\n", region[PAGE + 5]);
    fflush(stdout);
    return NULL;
}

static int run_memory(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    region = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 4 * PAGE; i++)
        region[i] = (char)(i / PAGE + 1);
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    while (__atomic_load_n(&reached, __ATOMIC_ACQUIRE) < 1)
        ;
    munmap((char *)region + PAGE, PAGE);
    __atomic_store_n(&step, 2, __ATOMIC_RELEASE);
    while (__atomic_load_n(&reached, __ATOMIC_ACQUIRE) < 2)
        ;
    mprotect((char *)region + 2 * PAGE, PAGE, PROT_READ);
    __atomic_store_n(&step, 3, __ATOMIC_RELEASE);
    while (__atomic_load_n(&reached, __ATOMIC_ACQUIRE) < 3)
        ;
    char *p = mmap((char *)region + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                   -1, 0);
    p[5] = 42;
    __atomic_store_n(&step, 4, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    printf("memory done\n");
    return 0;
}

/* -- a signal for one thread that is running user code -------------------------------- */
static volatile pid_t target_tid, handler_tid;
static volatile int stop_spinning;

static void on_usr1(int sig)
{
    (void)sig;
    handler_tid = (pid_t)syscall(SYS_gettid);
    stop_spinning = 1;
}

static void *spinner(void *arg)
{
    (void)arg;
    target_tid = (pid_t)syscall(SYS_gettid);
    while (!stop_spinning)
        ;
    return NULL;
}

static int run_signal(void)
{
    signal(SIGUSR1, on_usr1);
    pthread_t t;
    pthread_create(&t, NULL, spinner, NULL);
    while (!target_tid)
        ;
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
    printf("signal: handler ran in the target thread: %s\n", handler_tid == target_tid ? "yes" : "no");
    return 0;
}

/* -- fork with threads running --------------------------------------------------------- */
static volatile int keep_going = 1;

static void *busy(void *arg)
{
    (void)arg;
    while (keep_going)
        ;
    return NULL;
}

static void *forker(void *arg)
{
    (void)arg;
    pid_t pid = fork();
    if (pid == 0) {
        printf("child of a thread\n");
        fflush(stdout);
        _exit(7);
    }
    int status;
    waitpid(pid, &status, 0);
    return (void *)(long)WEXITSTATUS(status);
}

static int run_fork(void)
{
    pthread_t b, f;
    pthread_create(&b, NULL, busy, NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child of main\n");
        exit(5);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("main's child exited %d\n", WEXITSTATUS(status));
    fflush(stdout);
    void *r;
    pthread_create(&f, NULL, forker, NULL);
    pthread_join(f, &r);
    printf("thread's child exited %ld\n", (long)r);
    keep_going = 0;
    pthread_join(b, NULL);
    return 0;
}

/* -- ends -------------------------------------------------------------------------------- */
static void *exits(void *arg)
{
    (void)arg;
    printf("thread calls exit(3)\n");
    exit(3);
}

static void *outlives(void *arg)
{
    (void)arg;
    while (!stop_spinning)
        ;
    printf("last thread ends\n");
    fflush(stdout);
    return NULL;
}

/* -- compute (the bench) ----------------------------------------------------------------- */
static long rounds;
static unsigned long results[64];

static void *compute(void *arg)
{
    long id = (long)arg;
    unsigned long x = 88172645463325252UL + (unsigned long)id, acc = 0;
    for (long i = 0; i < rounds; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;   /* xorshift */
        acc += x % 1000003;
    }
    results[id] = acc;
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "handshake"))
        return run_handshake();
    if (!strcmp(mode, "memory"))
        return run_memory();
    if (!strcmp(mode, "signal"))
        return run_signal();
    if (!strcmp(mode, "fork"))
        return run_fork();
    if (!strcmp(mode, "exit")) {
        pthread_t t;
        pthread_create(&t, NULL, exits, NULL);
        pthread_join(t, NULL);
        printf("not reached\n");
        return 0;
    }
    if (!strcmp(mode, "last")) {
        pthread_t t;
        pthread_create(&t, NULL, outlives, NULL);
        printf("main calls pthread_exit\n");
        fflush(stdout);
        stop_spinning = 1;
        pthread_exit(NULL);
    }
    if (!strcmp(mode, "compute") && argc == 4) {
        long n = atol(argv[2]);
        rounds = atol(argv[3]);
        if (n < 1 || n > 64) return 2;
        pthread_t t[64];
        for (long i = 0; i < n; i++)
            pthread_create(&t[i], NULL, compute, (void *)i);
        unsigned long acc = 0;
        for (long i = 0; i < n; i++) {
            pthread_join(t[i], NULL);
            acc += results[i];
        }
        printf("%lu\n", acc);
        return 0;
    }
    fprintf(stderr, "usage: kvm_threads handshake|memory|signal|fork|exit|last|compute T N\n");
    return 2;
}
