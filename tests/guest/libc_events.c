/* Less common descriptors and calls, compared with the same source built
 * for the host: memfd, timerfd, inotify, extended attributes, preadv/
 * pwritev(2), mincore, the sched_* priority calls, sigqueue (to this
 * process, to a thread, to a child), setresuid and friends.  The argument
 * is a scratch directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* The result of a call, and errno's name when it failed (evaluated in
 * that order: a printf's arguments are not). */
#define SHOW(label, expr)                                                          \
    do {                                                                           \
        errno = 0;                                                                 \
        long r_ = (long)(expr);                                                    \
        printf("%s: %ld%s%s\n", label, r_, r_ < 0 ? " " : "", r_ < 0 ? strerror(errno) : ""); \
    } while (0)

static void memfd(void)
{
    int fd = memfd_create("tcgpy-test", MFD_CLOEXEC);
    printf("memfd_create: %s, cloexec %d\n", fd >= 0 ? "ok" : strerror(errno),
           (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    write(fd, "memory file", 11);
    ftruncate(fd, 4096);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p[0] = 'M';
    char buf[12] = {0};
    pread(fd, buf, 11, 0);
    printf("memfd through a shared mapping: %s\n", buf);
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    printf("memfd name: %s\n", target);
    munmap(p, 4096);
    close(fd);
}

static void timerfd(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    /* Read back while armed for 60 s (a loaded machine must not see it
     * expire first), then re-armed for the 20 ms the read waits. */
    struct itimerspec its = {.it_value = {60, 0}, .it_interval = {0, 0}};
    printf("timerfd_settime: %d\n", timerfd_settime(fd, 0, &its, NULL));
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    printf("timerfd_gettime: armed %d, no interval %d\n", cur.it_value.tv_sec > 0 && cur.it_value.tv_sec <= 60,
           cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 0);
    its.it_value.tv_sec = 0;
    its.it_value.tv_nsec = 20 * 1000 * 1000;
    timerfd_settime(fd, 0, &its, NULL);
    uint64_t expirations = 0;
    ssize_t n = read(fd, &expirations, sizeof expirations);  /* blocks ~20 ms */
    printf("timerfd read: %zd bytes, %llu expiration\n", n, (unsigned long long)expirations);
    its.it_value.tv_nsec = 0;
    timerfd_settime(fd, 0, &its, &cur);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    errno = 0;
    n = read(fd, &expirations, sizeof expirations);
    printf("disarmed timerfd read: %zd %s\n", n, strerror(errno));
    close(fd);
}

static void inotify(const char *dir)
{
    int fd = inotify_init1(IN_CLOEXEC);
    int wd = inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE);
    printf("inotify_add_watch: %s\n", wd >= 0 ? "ok" : strerror(errno));
    char path[4096];
    snprintf(path, sizeof path, "%s/watched", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    unlink(path);
    char buf[4096] __attribute__((aligned(8)));
    ssize_t n = read(fd, buf, sizeof buf);
    for (char *p = buf; p < buf + n;) {
        struct inotify_event *e = (struct inotify_event *)p;
        printf("inotify event: %s %s\n", e->mask & IN_CREATE ? "create" : e->mask & IN_DELETE ? "delete" : "other",
               e->len ? e->name : "");
        p += sizeof *e + e->len;
    }
    printf("inotify_rm_watch: %d\n", inotify_rm_watch(fd, wd));
    SHOW("inotify_add_watch of a missing path", inotify_add_watch(fd, "/nonexistent/tcgpy", IN_CREATE));
    close(fd);
}

static void xattrs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/xattr-file", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    int r = setxattr(path, "user.tcgpy", "value", 5, 0);
    /* Not every file system takes user attributes: the reference says which. */
    printf("setxattr: %d %s\n", r, r ? strerror(errno) : "");
    if (r == 0) {
        char buf[64] = {0};
        printf("getxattr size: %zd\n", getxattr(path, "user.tcgpy", NULL, 0));
        printf("getxattr: %zd %s\n", getxattr(path, "user.tcgpy", buf, sizeof buf), buf);
        SHOW("getxattr too small", getxattr(path, "user.tcgpy", buf, 2));
        ssize_t n = listxattr(path, buf, sizeof buf);
        printf("listxattr: %zd %s\n", n, buf);
        int fd = open(path, O_RDONLY);
        printf("fgetxattr: %zd\n", fgetxattr(fd, "user.tcgpy", buf, sizeof buf));
        close(fd);
        printf("removexattr: %d\n", removexattr(path, "user.tcgpy"));
    }
    SHOW("getxattr of a missing name", getxattr(path, "user.none", NULL, 0));
    SHOW("lgetxattr of a missing file", lgetxattr("/nonexistent/tcgpy", "user.x", NULL, 0));
    unlink(path);
}

static void vectored(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vectored", dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    struct iovec w[2] = {{"hello ", 6}, {"vectors", 7}};
    printf("pwritev at 4: %zd\n", pwritev(fd, w, 2, 4));
    SHOW("pwritev2 at the file position (-1)", pwritev2(fd, w, 1, -1, 0));
    SHOW("position now", lseek(fd, 0, SEEK_CUR));
    char a[8] = {0}, b[16] = {0};
    struct iovec r[2] = {{a, 5}, {b, 15}};
    ssize_t n = preadv(fd, r, 2, 4);
    printf("preadv at 4: %zd [%s] [%s]\n", n, a, b);
    SHOW("preadv at -1", preadv(fd, r, 2, -1));
    lseek(fd, 0, SEEK_SET);
    memset(a, 0, sizeof a);
    n = preadv2(fd, r, 1, -1, 0);
    printf("preadv2 at the file position: %zd [%s]\n", n, a);
    close(fd);
    unlink(path);
}

static void memory(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
    unsigned char vec[4];
    SHOW("mincore", mincore(p, 4 * pg, vec));
    printf("first page resident: %d\n", vec[0] & 1);
    munmap(p + 2 * pg, pg);
    SHOW("mincore over a hole", mincore(p, 4 * pg, vec));
    SHOW("mincore unaligned", mincore(p + 1, pg, vec));
}

static void priorities(void)
{
    printf("sched_get_priority_max FIFO %d, min %d, OTHER max %d\n", sched_get_priority_max(SCHED_FIFO),
           sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_OTHER));
    struct sched_param sp;
    SHOW("sched_getscheduler", sched_getscheduler(0));
    SHOW("sched_getparam", sched_getparam(0, &sp));
    printf("priority: %d\n", sp.sched_priority);
    sp.sched_priority = 0;
    printf("sched_setscheduler OTHER: %d\n", sched_setscheduler(0, SCHED_OTHER, &sp));
    struct timespec ts;
    printf("sched_rr_get_interval: %d\n", sched_rr_get_interval(0, &ts));
}

static volatile int queued_value, queued_code, queued_count;

static void on_queued(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    queued_value = si->si_value.sival_int;
    queued_code = si->si_code;
    queued_count++;
}

static void *sigwait_thread(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    siginfo_t si;
    int s = sigwaitinfo(&set, &si);
    *(int *)arg = s == SIGRTMIN + 1 ? si.si_value.sival_int : -1;
    return NULL;
}

static void queue(void)
{
    struct sigaction sa = {.sa_sigaction = on_queued, .sa_flags = SA_SIGINFO};
    sigaction(SIGRTMIN, &sa, NULL);
    union sigval v = {.sival_int = 1234};
    printf("sigqueue to self: %d\n", sigqueue(getpid(), SIGRTMIN, v));
    printf("handler: value %d, code is SI_QUEUE %d, ran %d\n", queued_value, queued_code == SI_QUEUE, queued_count);
    /* Real-time signals queue: three sent while blocked, three delivered. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, &old);
    for (int i = 0; i < 3; i++) {
        v.sival_int = 100 + i;
        sigqueue(getpid(), SIGRTMIN, v);
    }
    queued_count = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("after unblocking: ran %d, last value %d\n", queued_count, queued_value);
    /* To a thread waiting in sigwaitinfo. */
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int got = 0;
    pthread_t t;
    pthread_create(&t, NULL, sigwait_thread, &got);
    usleep(20000);
    v.sival_int = 77;
    printf("pthread_sigqueue: %d\n", pthread_sigqueue(t, SIGRTMIN + 1, v));
    pthread_join(t, NULL);
    printf("the thread's sigwaitinfo: value %d\n", got);
    /* To a child, which reports the value through its exit status. */
    pid_t pid = fork();
    if (pid == 0) {
        siginfo_t si;
        int s = sigwaitinfo(&set, &si);
        _exit(s == SIGRTMIN + 1 && si.si_code == SI_QUEUE ? si.si_value.sival_int : 1);
    }
    v.sival_int = 42;
    usleep(20000);
    printf("sigqueue to a child: %d\n", sigqueue(pid, SIGRTMIN + 1, v));
    int st;
    waitpid(pid, &st, 0);
    printf("the child got value %d\n", WEXITSTATUS(st));
    SHOW("sigqueue with a bad signal", sigqueue(getpid(), 99, v));
}

static volatile pid_t usr1_pid, chld_pid;
static volatile int usr1_code, chld_code, chld_status;

static void on_info(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (sig == SIGUSR1) {
        usr1_pid = si->si_pid;
        usr1_code = si->si_code;
    } else {
        chld_pid = si->si_pid;
        chld_code = si->si_code;
        chld_status = si->si_status;
    }
}

/* What a handler learns about signals another process causes: a child
 * sends SIGUSR1 and exits (SIGCHLD). */
static void senders(void)
{
    struct sigaction sa = {.sa_sigaction = on_info, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t both, old;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGCHLD);
    sigprocmask(SIG_BLOCK, &both, &old);
    pid_t pid = fork();
    if (pid == 0) {
        kill(getppid(), SIGUSR1);
        _exit(7);
    }
    while (!usr1_pid || !chld_pid)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("SIGUSR1: from the child %d, SI_USER %d\n", usr1_pid == pid, usr1_code == SI_USER);
    printf("SIGCHLD: from the child %d, CLD_EXITED %d, status %d\n", chld_pid == pid, chld_code == CLD_EXITED,
           chld_status);
    waitpid(pid, NULL, 0);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
}

/* close_range: a span of descriptors closed, or made close-on-exec. */
static void close_span(void)
{
    int base = dup2(1, 40);
    dup2(1, 41);
    dup2(1, 43);
    dup2(1, 50);
    SHOW("close_range 41-45", syscall(SYS_close_range, 41, 45, 0));
    printf("open after it: 40 %d, 41 %d, 43 %d, 50 %d\n", fcntl(40, F_GETFD) >= 0, fcntl(41, F_GETFD) >= 0,
           fcntl(43, F_GETFD) >= 0, fcntl(50, F_GETFD) >= 0);
    SHOW("close_range CLOEXEC 40-", syscall(SYS_close_range, 40, ~0U, 4));
    printf("close-on-exec: 40 %d, 50 %d\n", fcntl(40, F_GETFD) & FD_CLOEXEC, fcntl(50, F_GETFD) & FD_CLOEXEC);
    SHOW("close_range 40-", syscall(SYS_close_range, base, ~0U, 0));
    printf("open after it: 40 %d, 50 %d, stdout %d\n", fcntl(40, F_GETFD) >= 0, fcntl(50, F_GETFD) >= 0,
           fcntl(1, F_GETFD) >= 0);
    SHOW("close_range with first > last", syscall(SYS_close_range, 10, 5, 0));
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    setvbuf(stdout, NULL, _IOLBF, 0);
    memfd();
    timerfd();
    inotify(dir);
    xattrs(dir);
    vectored(dir);
    memory();
    priorities();
    queue();
    senders();
    close_span();
    return 0;
}
