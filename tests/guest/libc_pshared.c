/* Process-shared synchronisation: futexes in memory two processes share
 * (the non-private futex operations, tcgpy/linux/hostfutex.py).  A parent
 * and its forked child meet through
 *   a POSIX semaphore in shared anonymous memory (the child waits first),
 *   a process-shared mutex and condition variable (the child waits for a flag),
 *   a semaphore in a MAP_SHARED file mapping,
 * and sem_timedwait on a shared semaphore nobody posts times out; then both
 * increment counters in shared memory at once with atomic read-modify-writes
 * (fetch-add, a compare-exchange loop, and on AArch64 an ldaxr/stlxr loop):
 * none may be lost (tcgpy's stores of atomics are the host's
 * compare-and-swap; a load and a store lost some).  With the argument
 * "futexes", only the futexes.
 * Every line is the same under a kernel: compared with native runs (x86-64)
 * and with its reference output. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    sem_t go, done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int flag;
    long added, exchanged, exclusive;
    int ready;
};

#define ROUNDS 100000L

static void nap(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int child_status(pid_t pid)
{
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void semaphores(struct shared *s, const char *where)
{
    sem_init(&s->go, 1, 0);
    sem_init(&s->done, 1, 0);
    pid_t pid = fork();
    if (pid == 0) {
        sem_wait(&s->go);                   /* the parent posts after a while: a real wait */
        sem_post(&s->done);
        _exit(7);
    }
    nap(100);
    sem_post(&s->go);
    sem_wait(&s->done);
    printf("%s: semaphore handshake done, child exit %d\n", where, child_status(pid));
}

static void condition(struct shared *s)
{
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&s->lock, &ma);
    pthread_cond_init(&s->cond, &ca);
    s->flag = 0;
    pid_t pid = fork();
    if (pid == 0) {
        pthread_mutex_lock(&s->lock);
        while (!s->flag)
            pthread_cond_wait(&s->cond, &s->lock);
        s->flag = 2;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        _exit(0);
    }
    nap(100);
    pthread_mutex_lock(&s->lock);
    s->flag = 1;
    pthread_cond_broadcast(&s->cond);
    while (s->flag != 2)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    printf("condition variable: flag %d, child exit %d\n", s->flag, child_status(pid));
}

static void exclusive_add(long *p)
{
#if defined(__aarch64__)
    long v;
    int failed;
    __asm__ volatile("1: ldaxr %0, [%2]\n"
                     "   add %0, %0, #1\n"
                     "   stlxr %w1, %0, [%2]\n"
                     "   cbnz %w1, 1b\n"
                     : "=&r"(v), "=&r"(failed) : "r"(p) : "memory");
#else
    __atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST);
#endif
}

static void counters(struct shared *s)
{
    s->added = s->exchanged = s->exclusive = 0;
    s->ready = 0;
    pid_t pid = fork();
    /* both start together: the parent waits until the child runs */
    if (pid == 0)
        __atomic_store_n(&s->ready, 1, __ATOMIC_SEQ_CST);
    else
        while (!__atomic_load_n(&s->ready, __ATOMIC_SEQ_CST))
            ;
    for (long i = 0; i < ROUNDS; i++) {
        __atomic_fetch_add(&s->added, 1, __ATOMIC_SEQ_CST);
        long v = __atomic_load_n(&s->exchanged, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&s->exchanged, &v, v + 1, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            ;
        exclusive_add(&s->exclusive);
    }
    if (pid == 0)
        _exit(0);
    int st = child_status(pid);
    printf("atomic counters (two processes, %ld each): fetch-add %ld, compare-exchange %ld, exclusive %ld, "
           "child exit %d\n", ROUNDS, s->added, s->exchanged, s->exclusive, st);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct shared *anon = mmap(NULL, sizeof *anon, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    semaphores(anon, "anonymous");
    condition(anon);
    if (argc < 2 || strcmp(argv[1], "futexes") != 0)
        counters(anon);

    char path[] = "/tmp/tcgpy-pshared-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    if (ftruncate(fd, 4096) != 0)
        return 1;
    struct shared *file = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    semaphores(file, "file");

    sem_init(&anon->go, 1, 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 50 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int r = sem_timedwait(&anon->go, &until);
    printf("sem_timedwait: %d %s\n", r, r ? (errno == ETIMEDOUT ? "ETIMEDOUT" : "other") : "posted");
    return 0;
}
