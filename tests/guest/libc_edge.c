/* Kernel behaviour at the edges of memory and I/O, compared with the same
 * source built for the host (a real kernel is the reference; qemu-aarch64
 * 7.2 differs where noted in tests/test_linux_guest.py):
 *   bus      a MAP_SHARED file truncated under its own mapping: SIGBUS
 *            (BUS_ADRERR, si_addr) for pages past the new end of file,
 *            whether this process or another one truncated it (or an
 *            open with O_TRUNC); EFAULT for a syscall reading them; the
 *            pages come back when it grows
 *   bushot   another process truncates while this one runs a loop that
 *            makes no syscall: SIGBUS all the same
 *   busdie   the same access with SIGBUS at its default action
 *   select   select/pselect6/ppoll: result sets cleared on a timeout, the
 *            remaining time written back; EINTR for a signal, even with
 *            SA_RESTART; alone and with a second thread
 *   eintr    a blocking pipe write/writev interrupted by a signal returns
 *            what it wrote (EINTR only when it wrote nothing), also with threads;
 *            SA_RESTART restarts a read that got nothing
 *   sigmask  pselect6/ppoll/epoll_pwait with a signal mask: a signal blocked
 *            outside but not by the mask ends the wait (EINTR) and its
 *            handler runs with the mask; one the mask blocks stays pending
 *            until the caller's own mask is back; alone and with a thread;
 *            sigsuspend woken by another thread; sigwait in one thread while
 *            another sends the signal
 *   waitsig  waitpid/waitid for a child that outlives an alarm: the handler
 *            runs while they wait; EINTR, or a restart under SA_RESTART
 *   mremap   a moved MAP_SHARED anonymous mapping stays shared with a
 *            forked child; growing one gives SIGBUS pages past the object
 *   madvise  MADV_DONTNEED on a private file mapping drops the process's own
 *            copies: the pages read the file again (zeros past its end), and
 *            later writes to the file show through them; anonymous private
 *            pages read zeros
 *   mremapfixed  mremap(MREMAP_FIXED) moves a mapping to a given address,
 *            replacing what was there, growing or shrinking it on the way;
 *            EINVAL without MREMAP_MAYMOVE, at a misaligned address or onto
 *            the old range; unknown flags are EINVAL
 *   mremapfile  a private file mapping moved or grown by mremap keeps its
 *            file: pages not written are the file's (later writes to it show),
 *            the grown ones are its next pages, MADV_DONTNEED reads it again;
 *            pages past its end are SIGBUS (mapped, grown or moved there)
 *   vfork    a vfork child's mmap/munmap/brk are the parent's
 *   crossing loads and stores crossing into an inaccessible page: si_addr is
 *            the first byte they cannot access
 *   sigpipe  send/sendmsg to a stream socket whose peer is gone: EPIPE, with
 *            SIGPIPE unless MSG_NOSIGNAL (default action: death; a handler runs)
 *   socket   SO_RCVTIMEO/SO_SNDTIMEO end blocking reads, recvs, accepts and
 *            sends with EAGAIN (or the count sent); a blocking sendmsg with
 *            SCM_RIGHTS and an addressed sendto larger than the socket
 *            buffer, and a send to a full datagram socket, wait while
 *            another thread reads; a MSG_WAITALL recv while another sends
 *   readcode read(2) from a file into code that ran already: the new code
 *            runs (the translation of the old one is dropped)
 *   fdreuse  a descriptor number that named a regular file (a read never
 *            waits) names a pipe after close or dup2: a read of it waits
 *            while another thread writes
 *   hostio   read/write/pread64/pwrite64 in loops long enough to run
 *            translated (tcgpy serves these in host code on files and
 *            devices that never wait): a regular file, partial reads at its
 *            end, /dev/zero, /dev/null, /dev/full (ENOSPC), counts of 0; and
 *            what must still reach the kernel's own rules: EFAULT for
 *            unmapped, PROT_NONE and read-only buffers, a pipe (ESPIPE for
 *            pread), a read into code that ran, SIGALRM handlers during a
 *            loop of reads
 *   efault   read/write/pread64/pwrite64/readv/writev/preadv/pwritev with
 *            buffers that are unmapped, read-only, PROT_NONE or run into an
 *            unmapped page: EFAULT where nothing was copied (the file
 *            position unmoved), the count up to the fault otherwise; a
 *            regular file, /dev/null (which copies nothing), /dev/zero, a
 *            pipe; the same again in a loop long enough to run translated
 *   sockfault recv/recvfrom/recvmsg/read/readv and send/sendto/sendmsg/
 *            write/writev with bad buffers on unix stream and datagram
 *            socketpairs, UDP and TCP: EFAULT; what the socket keeps (a
 *            stream's bytes) or drops (a datagram); recvfrom's bad address
 *            length after the data was taken; accept4's bad or missing
 *            address length: EFAULT (EINVAL if negative), the connection
 *            taken and closed
 *   dirfault getdents64 into bad buffers (EFAULT, the position unmoved, or
 *            the records before the fault); readlink(at) into bad buffers
 *            (all or nothing) and of size 0 (EINVAL)
 *   dontunmap mremap(MREMAP_DONTUNMAP): the pages move, the old range stays
 *            (anonymous: zeros; a private file: the file; shared: the same
 *            memory); its refusals
 *   splicefault vmsplice into a pipe from bad buffers (the bytes before the
 *            fault) and out of one into bad buffers (EFAULT, the bytes kept);
 *            splice with bad offset pointers
 *   privbus  a private file mapping whose file shrinks (this process, or
 *            another one truncates it): SIGBUS past the new end, written
 *            pages too; EFAULT for a syscall
 *   privbushot  another process truncates it while a loop that makes no
 *            syscall reads it: SIGBUS all the same
 * With no mode argument, every mode but busdie runs in turn. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
static sigjmp_buf probe_jb;
static volatile int got_sig, got_code;
static volatile void *got_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(probe_jb, 1);
}

/* The signal a probe caught, its code and its address relative to ``base``. */
static void report_fault(const char *what, volatile char *base)
{
    printf("%s: %s code=%d at +%ld\n", what, got_sig == SIGBUS ? "SIGBUS" : got_sig == SIGSEGV ? "SIGSEGV"
           : "other signal", got_code, (long)((volatile char *)got_addr - base));
}

/* Touch one byte; say what happened relative to ``base``. */
static void probe(const char *what, volatile char *base, long off, int write)
{
    got_sig = 0;
    if (sigsetjmp(probe_jb, 1) == 0) {
        int v;
        if (write) {
            base[off] = 'w';
            v = 'w';
        } else {
            v = base[off];
        }
        printf("%s: ok (%d)\n", what, v);
    } else {
        report_fault(what, base);
    }
    fflush(stdout);
}

static void catch_faults(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
}

static long spin_sum(volatile char *p, int n)
{
    long s = 0;
    for (int i = 0; i < n; i++)
        s += p[(i * 64) % PG];
    return s;
}

static char *map_file(const char *dir, int *fdp)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mapped", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 3 * PG) != 0) {
        perror("open/ftruncate");
        exit(1);
    }
    char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    *fdp = fd;
    return p;
}

/* write(2) to a pipe from ``src`` (past the end of a mapped file: EFAULT). */
static void write_from(const char *what, const char *src)
{
    int sink[2];
    pipe(sink);
    errno = 0;
    long w = write(sink[1], src, 16);
    printf("%s: %ld %s\n", what, w, w < 0 ? strerror(errno) : "");
    close(sink[0]);
    close(sink[1]);
}

/* Another process truncates ``fd`` to ``len``; back once it has. */
static void truncate_elsewhere(int fd, off_t len)
{
    pid_t pid = fork();
    if (pid == 0) {
        ftruncate(fd, len);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

static void mode_bus(const char *dir)
{
    int fd;
    char *p = map_file(dir, &fd);
    catch_faults();
    p[0] = 'A';
    p[PG + 60] = 'B';
    p[2 * PG] = 'C';
    printf("before: sum=%ld\n", spin_sum(p, 20000));
    /* This process truncates: the page holding the new end stays, the next goes. */
    ftruncate(fd, PG + 100);
    probe("own truncate, page with EOF", p, PG + 60, 0);
    probe("own truncate, past EOF in that page", p, PG + 200, 0);
    probe("own truncate, next page read", p, 2 * PG, 0);
    probe("own truncate, next page write", p, 2 * PG + 8, 1);
    /* (/dev/null would not read the buffer at all.) */
    write_from("write from past EOF", p + 2 * PG);
    /* Another process truncates: pages this one used a moment ago go. */
    truncate_elsewhere(fd, 100);
    probe("other's truncate, page 1", p, PG + 60, 0);
    probe("other's truncate, page 0", p, 50, 0);
    /* ... while a loop runs hot over page 0. */
    printf("hot: sum=%ld\n", spin_sum(p, 200000));
    truncate_elsewhere(fd, 0);
    got_sig = 0;
    if (sigsetjmp(probe_jb, 1) == 0)
        printf("hot after truncate to 0: sum=%ld\n", spin_sum(p, 200000));
    else
        printf("hot after truncate to 0: %s code=%d in page %ld\n", got_sig == SIGBUS ? "SIGBUS" : "other",
               got_code, (long)((volatile char *)got_addr - p) / PG);
    /* Growing the file brings the pages back, zero-filled past the old end. */
    ftruncate(fd, 3 * PG);
    probe("grown again, page 2", p, 2 * PG, 0);
    probe("grown again, page 0", p, 0, 0);
    /* Opening it with O_TRUNC truncates it too. */
    char path[4096];
    snprintf(path, sizeof path, "%s/mapped", dir);
    int fd2 = open(path, O_RDWR | O_TRUNC);
    probe("after open(O_TRUNC), page 0", p, 0, 0);
    close(fd2);
    munmap(p, 3 * PG);
    close(fd);
}

static void mode_bushot(const char *dir)
{
    int fd;
    char *p = map_file(dir, &fd);
    catch_faults();
    p[PG + 8] = 'D';
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        ftruncate(fd, PG);
        _exit(0);
    }
    got_sig = 0;
    if (sigsetjmp(probe_jb, 1) == 0) {
        volatile char *v = p;
        for (long sum = 0;; sum += v[PG + 8])
            ;
    }
    printf("truncated during a loop without syscalls: %s code=%d at page %ld +%ld\n",
           got_sig == SIGBUS ? "SIGBUS" : "other", got_code, (long)((volatile char *)got_addr - p) / PG,
           (long)((volatile char *)got_addr - p) % PG);
    waitpid(pid, NULL, 0);
    munmap(p, 3 * PG);
    close(fd);
}

static void mode_busdie(const char *dir)
{
    int fd;
    char *p = map_file(dir, &fd);
    p[2 * PG] = 1;
    ftruncate(fd, 10);
    printf("touching page 2\n");
    fflush(stdout);
    p[2 * PG] = 2;
    printf("survived\n");
}

static volatile int alarms;
static int alarm_tell = -1;     /* a pipe on_alarm writes a byte to (waitsig), or -1 */
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
    if (alarm_tell >= 0)
        write(alarm_tell, "x", 1);
}

/* SIGALRM every ``ms`` until alarm_off(): one that comes before the syscall
 * under test has started (a slow emulator) is followed by one that finds it
 * blocked.  ``alarms`` counts the handler's runs. */
static void alarm_in(long ms, int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    alarms = 0;
    struct timeval t = {ms / 1000, (ms % 1000) * 1000};
    struct itimerval it = {t, t};
    setitimer(ITIMER_REAL, &it, NULL);
}

static const char *alarm_off(void)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    return alarms ? "yes" : "no";
}

static int idle_pipe[2];
static void *idle_thread(void *arg)
{
    (void)arg;
    char c;
    read(idle_pipe[0], &c, 1);
    return NULL;
}

/* A second thread, blocked in a read until stop_idle_thread; it blocks
 * SIGALRM, so the alarms of the checks go to the main thread. */
static pthread_t start_idle_thread(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pipe(idle_pipe);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_t t;
    pthread_create(&t, NULL, idle_thread, NULL);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    return t;
}

static void stop_idle_thread(pthread_t t)
{
    write(idle_pipe[1], "q", 1);
    pthread_join(t, NULL);
    close(idle_pipe[0]);
    close(idle_pipe[1]);
}

/* write, or writev (1) with the bytes in two pieces. */
static long some_write(int v, int fd, char *buf, size_t len)
{
    if (!v)
        return write(fd, buf, len);
    struct iovec iov[2] = {{buf, len / 2}, {buf + len / 2, len - len / 2}};
    return writev(fd, iov, 2);
}

static void interrupted_writes(const char *what)
{
    static char big[1 << 20];
    for (int v = 0; v < 2; v++) {
        const char *name = v ? "writev" : "write";
        int pfd[2];
        pipe(pfd);
        alarm_in(100, 0);
        errno = 0;
        long n = some_write(v, pfd[1], big, sizeof big);
        int e = errno;
        const char *ran = alarm_off();
        printf("%s: %s into an empty pipe: %ld (%s), handler ran: %s\n", what, name, n,
               n < 0 ? strerror(e) : "partial", ran);
        alarm_in(100, 0);
        errno = 0;
        n = some_write(v, pfd[1], big, 100);
        e = errno;
        ran = alarm_off();
        printf("%s: %s into a full pipe: %ld (%s), handler ran: %s\n", what, name, n, n < 0 ? strerror(e) : "?",
               ran);
        errno = 0;
        alarm_in(100, 0);
        n = some_write(v, pfd[1], big, sizeof big);
        e = errno;
        ran = alarm_off();
        printf("%s: %s of 1 MiB into a full pipe: %ld (%s), handler ran: %s\n", what, name, n,
               n < 0 ? strerror(e) : "?", ran);
        close(pfd[0]);
        close(pfd[1]);
        /* Uninterrupted, it waits for a reader to make room until all of it is written. */
        pipe(pfd);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[1]);
            long total = 0, got;
            char buf[3000];
            while ((got = read(pfd[0], buf, sizeof buf)) > 0)
                total += got;
            _exit(total == sizeof big ? 0 : 1);
        }
        close(pfd[0]);
        n = some_write(v, pfd[1], big, sizeof big);
        close(pfd[1]);
        int st;
        waitpid(pid, &st, 0);
        printf("%s: %s of 1 MiB to a reader: %ld, the reader got it all: %s\n", what, name, n,
               WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
    }
}

static void mode_eintr(void)
{
    interrupted_writes("single thread");
    /* SA_RESTART: a read that got nothing runs again after the handler. */
    int pfd[2];
    pipe(pfd);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec d = {0, 300000000};
        nanosleep(&d, NULL);
        write(pfd[1], "hello", 5);
        _exit(0);
    }
    alarm_in(50, 1);
    char buf[16];
    long n = read(pfd[0], buf, sizeof buf);
    printf("SA_RESTART read: %ld, handler ran: %s\n", n, alarm_off());
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    close(pfd[1]);
    /* The same with a second thread (which does not take SIGALRM). */
    pthread_t t = start_idle_thread();
    interrupted_writes("two threads");
    stop_idle_thread(t);
}

static void show_ts(const char *what, struct timespec *ts, long initial_ms)
{
    long ms = ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
    printf("%s remaining: %s\n", what, ms == 0 ? "0" : ms > 0 && ms <= initial_ms ? "between 0 and initial" : "WRONG");
}

static void select_checks(void)
{
    int pfd[2];
    pipe(pfd);
    fd_set r, w, e;
    FD_ZERO(&r); FD_ZERO(&w); FD_ZERO(&e);
    FD_SET(pfd[0], &r);
    FD_SET(pfd[0], &e);
    struct timeval tv = {0, 20000};
    int n = select(pfd[1] + 1, &r, &w, &e, &tv);
    printf("select timeout: %d r=%d e=%d tv=%ld.%06ld\n", n, FD_ISSET(pfd[0], &r), FD_ISSET(pfd[0], &e),
           (long)tv.tv_sec, (long)tv.tv_usec);
    FD_ZERO(&r);
    FD_SET(pfd[0], &r);
    struct timespec ts = {0, 20000000};
    n = syscall(SYS_pselect6, pfd[1] + 1, &r, NULL, NULL, &ts, NULL);
    printf("pselect6 timeout: %d r=%d\n", n, FD_ISSET(pfd[0], &r));
    show_ts("pselect6 timeout", &ts, 20);
    struct pollfd pf = {pfd[0], POLLIN, 0};
    ts = (struct timespec){0, 20000000};
    n = syscall(SYS_ppoll, &pf, 1, &ts, NULL, 8);
    printf("ppoll timeout: %d revents=%d\n", n, pf.revents);
    show_ts("ppoll timeout", &ts, 20);
    write(pfd[1], "x", 1);
    FD_ZERO(&r); FD_ZERO(&w); FD_ZERO(&e);
    FD_SET(pfd[0], &r); FD_SET(pfd[1], &r);
    FD_SET(pfd[0], &w); FD_SET(pfd[1], &w);
    FD_SET(pfd[0], &e);
    ts = (struct timespec){5, 0};
    n = syscall(SYS_pselect6, pfd[1] + 1, &r, &w, &e, &ts, NULL);
    printf("pselect6 ready: %d r=%d%d w=%d%d e=%d\n", n, FD_ISSET(pfd[0], &r), FD_ISSET(pfd[1], &r),
           FD_ISSET(pfd[0], &w), FD_ISSET(pfd[1], &w), FD_ISSET(pfd[0], &e));
    show_ts("pselect6 ready", &ts, 5000);
    tv = (struct timeval){5, 0};
    FD_ZERO(&r);
    FD_SET(pfd[0], &r);
    n = select(pfd[0] + 1, &r, NULL, NULL, &tv);
    printf("select ready: %d r=%d tv %s\n", n, FD_ISSET(pfd[0], &r),
           tv.tv_sec * 1000000 + tv.tv_usec > 0 && tv.tv_sec <= 5 ? "between 0 and initial" : "WRONG");
    pf.revents = 0;
    ts = (struct timespec){5, 0};
    n = syscall(SYS_ppoll, &pf, 1, &ts, NULL, 8);
    printf("ppoll ready: %d revents=%d\n", n, pf.revents);
    show_ts("ppoll ready", &ts, 5000);
    /* A null timeout pointer and a zero timeout: nothing to write back. */
    ts = (struct timespec){0, 0};
    FD_ZERO(&r);
    FD_SET(pfd[1], &r);
    n = syscall(SYS_pselect6, pfd[1] + 1, &r, NULL, NULL, &ts, NULL);
    printf("pselect6 poll: %d r=%d\n", n, FD_ISSET(pfd[1], &r));
    close(pfd[0]);
    close(pfd[1]);
}

/* Interrupted by a signal (no SA_RESTART): EINTR, the sets as they were. */
static void select_interrupted(void)
{
    int pfd[2];
    pipe(pfd);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(pfd[0], &r);
    alarm_in(50, 0);
    struct timeval tv = {5, 0};
    errno = 0;
    int n = select(pfd[0] + 1, &r, NULL, NULL, &tv);
    int e = errno;
    const char *ran = alarm_off();
    printf("select interrupted: %d %s r=%d, handler ran: %s\n", n, n < 0 ? strerror(e) : "", FD_ISSET(pfd[0], &r),
           ran);
    /* revents comes back zeroed even though the call failed */
    struct pollfd pf = {pfd[0], POLLIN, 0x5a5a};
    alarm_in(50, 1);
    errno = 0;
    n = poll(&pf, 1, 5000);
    e = errno;
    ran = alarm_off();
    printf("poll interrupted (SA_RESTART too): %d %s revents=%#x, handler ran: %s\n", n,
           n < 0 ? strerror(e) : "", pf.revents, ran);
    close(pfd[0]);
    close(pfd[1]);
}

static void mode_select(void)
{
    select_checks();
    select_interrupted();
    /* The same while another thread exists (blocked in a read meanwhile). */
    printf("-- with a second thread\n");
    pthread_t t = start_idle_thread();
    select_checks();
    select_interrupted();
    stop_idle_thread(t);
}

static volatile int mask_runs, mask_saw_usr2, mask_saw_alrm;
static void on_alarm_mask(int sig)
{
    (void)sig;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    mask_runs++;
    mask_saw_usr2 = sigismember(&cur, SIGUSR2);
    mask_saw_alrm = sigismember(&cur, SIGALRM);
}

/* Wait up to ``ms`` for the read end ``fd`` of an empty pipe with ``mask``
 * installed, by pselect6 (0), ppoll (1) or epoll_pwait (2). */
static int masked_wait(int how, int fd, int epfd, sigset_t *mask, long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    if (how == 1) {
        struct pollfd pf = {fd, POLLIN, 0};
        return syscall(SYS_ppoll, &pf, 1, &ts, mask, 8);
    }
    if (how == 2) {
        struct epoll_event ev;
        return syscall(SYS_epoll_pwait, epfd, &ev, 1, (int)ms, mask, 8);
    }
    fd_set r;
    FD_ZERO(&r);
    FD_SET(fd, &r);
    struct { const sigset_t *ss; size_t len; } arg = {mask, 8};
    return syscall(SYS_pselect6, fd + 1, &r, NULL, NULL, &ts, &arg);
}

static void one_shot_alarm(long ms)
{
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void sigmask_checks(const char *what)
{
    static const char *names[] = {"pselect6", "ppoll", "epoll_pwait"};
    int pfd[2];
    pipe(pfd);
    int epfd = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN, {0}};
    epoll_ctl(epfd, EPOLL_CTL_ADD, pfd[0], &ev);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm_mask;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t alrm, usr2, cur, pend;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    for (int how = 0; how < 3; how++) {
        /* SIGALRM blocked outside, let in by the call's mask (which blocks
         * SIGUSR2 instead). */
        sigprocmask(SIG_BLOCK, &alrm, NULL);
        mask_runs = mask_saw_usr2 = mask_saw_alrm = 0;
        one_shot_alarm(50);
        errno = 0;
        int n = masked_wait(how, pfd[0], epfd, &usr2, 5000);
        int e = errno;
        sigprocmask(SIG_BLOCK, NULL, &cur);
        printf("%s: %s letting SIGALRM in: %d %s, handler ran %d time(s) with SIGUSR2 blocked: %d, SIGALRM "
               "blocked: %d; afterwards SIGALRM blocked: %d, SIGUSR2 blocked: %d\n", what, names[how], n,
               n < 0 ? strerror(e) : "", mask_runs, mask_saw_usr2, mask_saw_alrm, sigismember(&cur, SIGALRM),
               sigismember(&cur, SIGUSR2));
        /* The call's mask blocks it too: a timeout, the signal pending
         * until the caller unblocks it. */
        mask_runs = 0;
        one_shot_alarm(30);
        n = masked_wait(how, pfd[0], epfd, &alrm, 200);
        int during = mask_runs;
        sigpending(&pend);
        sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        printf("%s: %s blocking SIGALRM: %d, handler ran during it: %d, SIGALRM pending: %d, handler ran once "
               "unblocked: %d\n", what, names[how], n, during, sigismember(&pend, SIGALRM), mask_runs);
    }
    /* Already pending and let in by the mask: EINTR even with a zero timeout. */
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    raise(SIGALRM);
    mask_runs = 0;
    errno = 0;
    int n = masked_wait(1, pfd[0], epfd, &usr2, 0);
    printf("%s: ppoll with a zero timeout and SIGALRM pending: %d %s, handler ran: %d\n", what, n,
           n < 0 ? strerror(errno) : "", mask_runs);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    struct pollfd pf = {pfd[0], POLLIN, 0};
    struct timespec ts = {0, 0};
    errno = 0;
    n = syscall(SYS_ppoll, &pf, 1, &ts, &usr2, 4);
    printf("%s: ppoll sigsetsize 4: %d %s\n", what, n, strerror(errno));
    close(epfd);
    close(pfd[0]);
    close(pfd[1]);
}

/* A pending signal let in by a ppoll's mask that has no handler is taken
 * with that mask: discarded when ignored (the wait goes on), fatal at a
 * terminating default action. */
static void sigmask_no_handler(void)
{
    sigset_t usr, none, pend;
    sigemptyset(&none);
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR2);
    signal(SIGUSR2, SIG_IGN);
    sigprocmask(SIG_BLOCK, &usr, NULL);
    raise(SIGUSR2);
    struct timespec ts = {0, 100000000};
    int n = syscall(SYS_ppoll, NULL, 0, &ts, &none, 8);
    sigpending(&pend);
    printf("ppoll letting in an ignored pending signal: %d, still pending: %d\n", n, sigismember(&pend, SIGUSR2));
    sigprocmask(SIG_UNBLOCK, &usr, NULL);
    signal(SIGUSR2, SIG_DFL);
    pid_t pid = fork();
    if (pid == 0) {
        sigemptyset(&usr);
        sigaddset(&usr, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr, NULL);
        raise(SIGUSR1);
        ts = (struct timespec){1, 0};
        syscall(SYS_ppoll, NULL, 0, &ts, &none, 8);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("ppoll letting in a pending SIGUSR1 at its default action: %s\n",
           WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1 ? "killed by it" : "WRONG");
}

static pthread_t suspender;
static void *kick_suspender(void *arg)
{
    (void)arg;
    struct timespec d = {0, 50000000};
    nanosleep(&d, NULL);
    pthread_kill(suspender, SIGALRM);
    return NULL;
}

/* sigsuspend lets the other threads run: one of them sends the signal. */
static void sigsuspend_with_thread(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm_mask;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t alrm, usr2, cur;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    suspender = pthread_self();
    mask_runs = mask_saw_usr2 = mask_saw_alrm = 0;
    pthread_t t;
    pthread_create(&t, NULL, kick_suspender, NULL);
    errno = 0;
    int n = sigsuspend(&usr2);
    int e = errno;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("sigsuspend woken by another thread: %d %s, handler ran %d time(s) with SIGUSR2 blocked: %d; "
           "afterwards SIGALRM blocked: %d, SIGUSR2 blocked: %d\n", n, strerror(e), mask_runs, mask_saw_usr2,
           sigismember(&cur, SIGALRM), sigismember(&cur, SIGUSR2));
    pthread_join(t, NULL);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
}

static void *sigwait_thread(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    int r = sigwait(set, &sig);
    return (void *)(long)(r ? -r : sig);
}

/* A thread that sigwaits lets the others run: the one that sends the signal. */
static void sigwait_with_thread(void)
{
    static sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    pthread_t t;
    pthread_create(&t, NULL, sigwait_thread, &usr1);
    struct timespec d = {0, 50000000};
    nanosleep(&d, NULL);
    pthread_kill(t, SIGUSR1);
    void *got;
    pthread_join(t, &got);
    printf("sigwait in another thread: %s\n", (long)got == SIGUSR1 ? "SIGUSR1" : "WRONG");
    struct timespec ts = {0, 50000000};
    errno = 0;
    int r = sigtimedwait(&usr1, NULL, &ts);
    printf("sigtimedwait with nothing sent: %d %s\n", r, strerror(errno));
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
}

static void mode_sigmask(void)
{
    sigmask_checks("single thread");
    sigmask_no_handler();
    pthread_t t = start_idle_thread();
    sigmask_checks("two threads");
    sigsuspend_with_thread();
    sigwait_with_thread();
    stop_idle_thread(t);
}

static pid_t sleepy_child(long ms, int status)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&d, NULL);
        _exit(status);
    }
    return pid;
}

/* A child that exits with ``status`` when told (a byte on the pipe ``p``,
 * or its write end closed), or after 10 s: a wait for it is still waiting
 * when the next periodic alarm comes, however long the parent took to get
 * to the wait.  The parent keeps the read end open until the alarms are
 * off: an alarm after the child has gone then writes no SIGPIPE. */
static pid_t told_child(int status, int p[2])
{
    if (pipe(p) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        struct pollfd pf = {p[0], POLLIN, 0};
        poll(&pf, 1, 10000);
        _exit(status);
    }
    return pid;
}

static void mode_waitsig(void)
{
    for (int restart = 0; restart < 2; restart++) {
        const char *how = restart ? "SA_RESTART" : "no SA_RESTART";
        /* Without SA_RESTART the child goes once the wait was interrupted;
         * with it, the handler lets it go and the wait goes on to reap it. */
        int tell[2];
        pid_t pid = told_child(7, tell);
        alarm_tell = restart ? tell[1] : -1;
        alarm_in(50, restart);
        int st = 0;
        errno = 0;
        pid_t got = waitpid(pid, &st, 0);
        int e = errno;
        const char *ran = alarm_off();
        alarm_tell = -1;
        close(tell[1]);
        close(tell[0]);
        printf("waitpid, %s: %s %s, handler ran: %s\n", how, got == pid ? "the child" : got < 0 ? "-1" : "WRONG",
               got < 0 ? strerror(e) : "", ran);
        if (got < 0)
            got = waitpid(pid, &st, 0);
        printf("waitpid, %s: then %s, exit status %d\n", how, got == pid ? "the child" : "WRONG",
               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        pid = told_child(9, tell);
        alarm_tell = restart ? tell[1] : -1;
        alarm_in(50, restart);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        errno = 0;
        int n = waitid(P_PID, pid, &si, WEXITED);
        e = errno;
        ran = alarm_off();
        alarm_tell = -1;
        close(tell[1]);
        close(tell[0]);
        printf("waitid, %s: %d %s, handler ran: %s\n", how, n, n < 0 ? strerror(e) : "", ran);
        if (n < 0)
            n = waitid(P_PID, pid, &si, WEXITED);
        printf("waitid, %s: then %d, si_pid is the child: %d, si_status %d\n", how, n, si.si_pid == pid,
               si.si_status);
    }
    /* WNOHANG with the child still running: 0 at once. */
    pid_t pid = sleepy_child(100, 0);
    printf("waitpid WNOHANG: %d\n", (int)waitpid(pid, NULL, WNOHANG));
    printf("waitpid then: %s\n", waitpid(pid, NULL, 0) == pid ? "the child" : "WRONG");
}

static void mode_mremap(void)
{
    catch_faults();
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    p[0] = 'a';
    void *blocker = mmap(p + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    int go[2], back[2];
    pipe(go);
    pipe(back);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        read(go[0], &c, 1);
        c = p[0];
        p[1] = 'Y';
        write(back[1], &c, 1);
        _exit(0);
    }
    char *q = mremap(p, PG, 3 * PG, MREMAP_MAYMOVE);
    /* (The blocker fails when something is mapped there already: either way it must move.) */
    (void)blocker;
    printf("mremap moved: %d\n", q != p && q != MAP_FAILED);
    q[0] = 'X';
    write(go[1], "g", 1);
    char seen = 0;
    read(back[0], &seen, 1);
    waitpid(pid, NULL, 0);
    printf("child saw the moved mapping's store: %c, parent sees the child's: %c\n", seen, q[1]);
    probe("moved mapping, grown page", q, PG, 0);
    probe("moved mapping, old page", q, 0, 0);
    /* In place: three pages reserved, the top two freed, the bottom one shared. */
    char *r = mmap(NULL, 3 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(r + PG, 2 * PG);
    r = mmap(r, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    r[0] = 'r';
    char *r2 = mremap(r, PG, 2 * PG, 0);
    printf("grown in place: %d\n", r2 == r);
    probe("grown in place, new page", r, PG, 1);
    probe("grown in place, old page", r, 0, 0);
    /* Shrinking keeps the first page. */
    q = mremap(q, 3 * PG, PG, 0);
    probe("shrunk, page 0", q, 0, 0);
}

static void mode_mremapfixed(void)
{
    catch_faults();
    char *src = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(src, 'a', PG);
    memset(src + PG, 'b', PG);
    char *dst = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(dst, 'z', 5 * PG);
    /* grown while moved onto pages mapped already: they are replaced */
    char *q = mremap(src, 2 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst + PG);
    printf("fixed grown: at target %d, pages %c %c %d, neighbours %c %c\n", q == dst + PG,
           q[0], q[PG], q[2 * PG], dst[0], dst[4 * PG]);
    probe("fixed grown, old address", src, 0, 0);
    int e;
    errno = 0;
    e = mremap(q, 3 * PG, 3 * PG, MREMAP_FIXED, dst + 8 * PG) == MAP_FAILED ? errno : 0;
    printf("without MREMAP_MAYMOVE: %s\n", strerror(e));
    e = mremap(q, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 8 * PG + 1) == MAP_FAILED ? errno : 0;
    printf("misaligned target: %s\n", strerror(e));
    e = mremap(q, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, q + PG) == MAP_FAILED ? errno : 0;
    printf("onto its own range: %s\n", strerror(e));
    e = mremap(q, 3 * PG, 3 * PG, MREMAP_MAYMOVE | 0x100) == MAP_FAILED ? errno : 0;
    printf("unknown flag: %s\n", strerror(e));
    /* shrunk while moved: the tail is gone from the old range too */
    char *far = mmap(NULL, 3 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *r = mremap(q, 3 * PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, far + PG);
    printf("fixed shrunk: at target %d, page %c\n", r == far + PG, r[0]);
    probe("fixed shrunk, old first page", q, 0, 0);
    probe("fixed shrunk, old second page", q, PG, 0);
    probe("fixed shrunk, reservation below", far, 0, 0);
    probe("fixed shrunk, reservation above", far, 2 * PG, 0);
}

static void show_pages(const char *what, const char *p)
{
    printf("%s: [%.6s] [%.6s] [%.6s] tail %d\n", what, p, p + PG, p + 2 * PG, p[2 * PG + 200]);
}

static void mode_madvise(const char *dir)
{
    char path[4096], text[2 * PG + 100];
    snprintf(path, sizeof path, "%s/private", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    memset(text, '.', sizeof text);
    memcpy(text, "file-0", 6);
    memcpy(text + PG, "file-1", 6);
    memcpy(text + 2 * PG, "file-2", 6);
    if (fd < 0 || write(fd, text, sizeof text) != (long)sizeof text) {
        perror("open/write");
        exit(1);
    }
    /* Three pages of a file of two and a bit: the third reads zeros past its end. */
    char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    show_pages("mapped", p);
    for (int i = 0; i < 3; i++)
        memcpy(p + i * PG, "mine-", 5);
    p[2 * PG + 200] = 7;
    show_pages("written", p);
    printf("madvise all: %d\n", madvise(p, 3 * PG, MADV_DONTNEED));
    show_pages("dropped", p);
    /* Pages that are the file's again see a later write to it. */
    pwrite(fd, "FILE-1", 6, PG);
    show_pages("file written", p);
    /* One page of three, after mprotect split the mapping. */
    for (int i = 0; i < 3; i++)
        memcpy(p + i * PG, "again", 5);
    mprotect(p + PG, PG, PROT_READ);
    printf("madvise page 2: %d\n", madvise(p + 2 * PG, PG, MADV_DONTNEED));
    show_pages("page 2 dropped", p);
    munmap(p, 3 * PG);
    close(fd);
    unlink(path);
    /* Anonymous private pages come back zeroed. */
    char *a = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memcpy(a, "anon", 4);
    madvise(a, PG, MADV_DONTNEED);
    printf("anonymous after madvise: %d %d\n", a[0], a[3]);
    munmap(a, PG);
}

static void show_file_pages(const char *what, const char *p, int n)
{
    printf("%s:", what);
    for (int i = 0; i < n; i++)
        printf(" [%.6s]", p + i * PG);
    printf("\n");
}

/* Three pages reserved, the top two freed, the bottom one ``page`` of fd. */
static char *map_below_room(int fd, long page)
{
    char *r = mmap(NULL, 3 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(r + PG, 2 * PG);
    return mmap(r, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, page * PG);
}

static void mode_mremapfile(const char *dir)
{
    catch_faults();
    char path[4096], text[4 * PG + 100];
    snprintf(path, sizeof path, "%s/mremapfile", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    memset(text, '.', sizeof text);
    for (int i = 0; i < 5; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "file-%d", i);
        memcpy(text + i * PG, tag, 6);
    }
    if (fd < 0 || write(fd, text, sizeof text) != (long)sizeof text) {
        perror("mremapfile open/write");
        return;
    }
    /* Moved (grown by a page, the page after it taken): the page written
     * moves, the others are the file's, MADV_DONTNEED reads the file again. */
    char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    void *blocker = mmap(p + 2 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    (void)blocker;
    memcpy(p, "mine-0", 6);
    char *q = mremap(p, 2 * PG, 3 * PG, MREMAP_MAYMOVE);
    printf("mremapfile moved: %d\n", q != p && q != MAP_FAILED);
    show_file_pages("moved", q, 3);
    pwrite(fd, "FILE-1", 6, PG);
    show_file_pages("moved, file written", q, 3);
    memcpy(q + PG, "mine-1", 6);
    memcpy(q + 2 * PG, "mine-2", 6);
    show_file_pages("moved, written", q, 3);
    printf("madvise moved: %d\n", madvise(q, 3 * PG, MADV_DONTNEED));
    show_file_pages("moved, dropped", q, 3);
    pwrite(fd, "file-1", 6, PG);
    munmap(q, 3 * PG);
    /* Grown in place: the new page is the file's next one.  (Before it, the
     * numbers an emulator's own descriptors would have are taken and freed.) */
    char *r = map_below_room(fd, 1);
    for (int i = 256; i < 260; i++)
        if (dup2(2, i) == i)
            close(i);
    memcpy(r, "mine-1", 6);
    printf("mremapfile grown in place: %d\n", mremap(r, PG, 2 * PG, 0) == r);
    show_file_pages("grown in place", r, 2);
    memcpy(r + PG, "mine-2", 6);
    madvise(r, 2 * PG, MADV_DONTNEED);
    show_file_pages("grown in place, dropped", r, 2);
    munmap(r, 2 * PG);
    /* Grown past the end of the file: zeros after the end in its last page,
     * SIGBUS in the pages after that, in place or moved. */
    char *s = map_below_room(fd, 3);
    printf("mremapfile grown past the end: %d\n", mremap(s, PG, 3 * PG, 0) == s);
    show_file_pages("past the end", s, 2);
    probe("past the end, after the end", s, PG + 100, 0);
    probe("past the end, next page", s, 2 * PG, 0);
    munmap(s, 3 * PG);
    s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 3 * PG);
    blocker = mmap(s + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    char *t = mremap(s, PG, 3 * PG, MREMAP_MAYMOVE);
    printf("mremapfile moved past the end: %d\n", t != s && t != MAP_FAILED);
    show_file_pages("moved past the end", t, 2);
    probe("moved past the end, next page", t, 2 * PG, 0);
    munmap(t, 3 * PG);
    /* Mapped past the end from the start. */
    s = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 3 * PG);
    show_file_pages("mapped past the end", s, 2);
    probe("mapped past the end, next page", s, 2 * PG, 0);
    munmap(s, 3 * PG);
    close(fd);
    unlink(path);
}

/* Accesses that cross from an accessible page into an inaccessible one: the
 * fault address is the first byte that cannot be accessed, not the start. */
static void cross(const char *what, volatile char *base, long off, int kind)
{
    got_sig = 0;
    if (sigsetjmp(probe_jb, 1) == 0) {
        volatile unsigned long *p8 = (volatile unsigned long *)(base + off);
        volatile unsigned __int128 *p16 = (volatile unsigned __int128 *)(base + off);
        unsigned long v = 0;
        if (kind == 0)
            v = *p8;
        else if (kind == 1)
            *p8 = 0x1122334455667788UL;
        else
            v = (unsigned long)(*p16 >> 64);
        printf("%s: ok (%lu)\n", what, v);
    } else {
        report_fault(what, base);
    }
    fflush(stdout);
}

static void mode_crossing(void)
{
    catch_faults();
    char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 1, 2 * PG);
    mprotect(p + PG, PG, PROT_NONE);
    cross("8-byte load into PROT_NONE", p, PG - 4, 0);
    cross("8-byte store into PROT_NONE", p, PG - 2, 1);
    cross("16-byte load, second half into PROT_NONE", p, PG - 12, 2);
    munmap(p + PG, PG);
    cross("8-byte load into unmapped", p, PG - 1, 0);
    cross("8-byte store into unmapped", p, PG - 6, 1);
    cross("8-byte load ending at the boundary", p, PG - 8, 0);
    munmap(p, PG);
}

static char *volatile child_map;
static char *volatile child_brk;

static void mode_vfork(void)
{
    catch_faults();
    char *victim = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *ro = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    victim[0] = 'v';
    ro[0] = 'o';
    char *b0 = sbrk(0);
    pid_t pid = vfork();
    if (pid == 0) {
        char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        strcpy(m + PG, "from the child's mmap");
        child_map = m;
        char *b = sbrk(2 * PG);
        b[PG] = 'b';
        child_brk = b;
        munmap(victim, PG);
        mprotect(ro, PG, PROT_READ);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    printf("vfork child's mmap: %s\n", child_map ? child_map + PG : "(none)");
    printf("vfork child's brk: parent's break past it %d, data %c\n",
           child_brk != NULL && (char *)sbrk(0) >= child_brk + 2 * PG && child_brk >= b0,
           child_brk ? child_brk[PG] : '-');
    probe("vfork child's munmap", victim, 0, 0);
    probe("vfork child's mprotect (read)", ro, 0, 0);
    probe("vfork child's mprotect (write)", ro, 0, 1);
    /* posix_spawn-style: the child's stores to the parent's stack. */
    volatile int flag = 0;
    if (vfork() == 0) {
        flag = 5;
        _exit(0);
    }
    wait(NULL);
    printf("vfork store: %d\n", flag);
}

static void on_sigpipe(int sig)
{
    (void)sig;
    static const char msg[] = "SIGPIPE handler ran\n";
    write(1, msg, sizeof msg - 1);
}

/* One send of each kind to a socket whose peer has closed. */
static void broken_sends(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    errno = 0;
    ssize_t n = send(sv[0], "x", 1, MSG_NOSIGNAL);
    printf("send MSG_NOSIGNAL: %zd %s\n", n, strerror(errno));
    char c = 'y';
    struct iovec iov = {&c, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    errno = 0;
    n = sendmsg(sv[0], &m, 0);
    printf("sendmsg: %zd %s\n", n, strerror(errno));
    errno = 0;
    n = send(sv[0], "x", 1, 0);
    printf("send: %zd %s\n", n, strerror(errno));
    close(sv[0]);
}

static void mode_sigpipe(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        broken_sends();          /* dies at the sendmsg */
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("default action: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    signal(SIGPIPE, on_sigpipe);
    broken_sends();
    signal(SIGPIPE, SIG_DFL);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void set_timeout(int fd, int opt, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

/* A reader thread: drains a socket until EOF (or n datagrams), counting
 * bytes and taking any descriptor passed with SCM_RIGHTS. */
struct drain { int fd, dgrams, delay_ms; long bytes; int passed_fd; };

static void *drain_thread(void *arg)
{
    struct drain *d = arg;
    static char buf[65536];
    if (d->delay_ms)
        usleep(d->delay_ms * 1000);
    for (int got = 0; !d->dgrams || got < d->dgrams; got++) {
        union { char c[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl;
        struct iovec iov = {buf, sizeof buf};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.c, .msg_controllen = sizeof ctl.c};
        ssize_t n = recvmsg(d->fd, &m, 0);
        if (n <= 0)
            break;
        d->bytes += n;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        if (c && c->cmsg_type == SCM_RIGHTS)
            memcpy(&d->passed_fd, CMSG_DATA(c), sizeof(int));
    }
    return NULL;
}

/* Writes 50 bytes, waits, 50 more, then closes its end. */
static void *trickle_thread(void *arg)
{
    int fd = *(int *)arg;
    static char half[50];
    for (int i = 0; i < 50; i++)
        half[i] = 'a' + i % 26;
    write(fd, half, sizeof half);
    usleep(50000);
    write(fd, half, sizeof half);
    usleep(20000);
    write(fd, half, 30);
    shutdown(fd, SHUT_WR);
    return NULL;
}

static void mode_socket(void)
{
    static char big[1 << 20];
    int sv[2];
    char c;
    double t0;

    /* Timeouts on the receiving side. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    set_timeout(sv[0], SO_RCVTIMEO, 100);
    t0 = now_ms();
    errno = 0;
    ssize_t n = recv(sv[0], &c, 1, 0);
    printf("recv with SO_RCVTIMEO: %zd %s, waited %d\n", n, strerror(errno), now_ms() - t0 >= 90);
    errno = 0;
    n = read(sv[0], &c, 1);
    printf("read with SO_RCVTIMEO: %zd %s\n", n, strerror(errno));
    /* The sending side: a full stream socket times out with what fitted. */
    set_timeout(sv[1], SO_SNDTIMEO, 100);
    errno = 0;
    n = send(sv[1], big, sizeof big, 0);
    printf("send 1 MiB with SO_SNDTIMEO: partial %d\n", n > 0 && n < (ssize_t)sizeof big);
    errno = 0;
    n = send(sv[1], big, sizeof big, 0);
    printf("send to a full socket with SO_SNDTIMEO: %zd %s\n", n, strerror(errno));
    errno = 0;
    n = write(sv[1], big, 100);
    printf("write to a full socket with SO_SNDTIMEO: %zd %s\n", n, strerror(errno));
    close(sv[0]);
    close(sv[1]);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(lfd, (struct sockaddr *)&sin, sizeof sin);
    listen(lfd, 1);
    set_timeout(lfd, SO_RCVTIMEO, 50);
    errno = 0;
    n = accept(lfd, NULL, NULL);
    printf("accept with SO_RCVTIMEO: %zd %s\n", n, strerror(errno));
    close(lfd);

    /* A blocking sendmsg of 1 MiB with a descriptor: all of it arrives,
     * the descriptor once, while another thread reads. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct drain d = {.fd = sv[0], .passed_fd = -1};
    pthread_t t;
    pthread_create(&t, NULL, drain_thread, &d);
    int pfd[2];
    pipe(pfd);
    union { char c[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl;
    struct iovec iov[2] = {{big, sizeof big / 2}, {big + sizeof big / 2, sizeof big / 2}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.c, .msg_controllen = sizeof ctl.c};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pfd[1], sizeof(int));
    n = sendmsg(sv[1], &m, 0);
    printf("sendmsg 1 MiB with SCM_RIGHTS: %zd\n", n);
    /* A connected Unix stream socket refuses an address (EISCONN). */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    errno = 0;
    n = sendto(sv[1], big, sizeof big, 0, (struct sockaddr *)&sun, sizeof sun);
    printf("sendto with an address on a connected stream socket: %zd %s\n", n, strerror(errno));
    n = sendto(sv[1], big, sizeof big, 0, NULL, 0);
    printf("sendto 1 MiB: %zd\n", n);
    shutdown(sv[1], SHUT_WR);
    pthread_join(t, NULL);
    printf("read by the thread: %ld bytes, a descriptor %s\n", d.bytes, d.passed_fd >= 0 ? "came" : "did not come");
    if (d.passed_fd >= 0) {
        write(d.passed_fd, "p", 1);
        n = read(pfd[0], &c, 1);
        printf("the passed descriptor writes the pipe: %zd %c\n", n, c);
        close(d.passed_fd);
    }
    close(pfd[0]);
    close(pfd[1]);
    close(sv[0]);
    close(sv[1]);

    /* MSG_WAITALL waits for all of it while another thread sends it in
     * parts; the end of the stream ends it early. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_create(&t, NULL, trickle_thread, &sv[1]);
    n = recv(sv[0], big, 100, MSG_WAITALL);
    printf("recv MSG_WAITALL 100 bytes sent in two parts: %zd\n", n);
    n = recv(sv[0], big, 100, MSG_WAITALL);
    printf("recv MSG_WAITALL 100 bytes, the stream ends after 30: %zd\n", n);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_create(&t, NULL, trickle_thread, &sv[1]);
    struct iovec two[2] = {{big, 60}, {big + 1000, 40}};
    struct msghdr wm = {.msg_iov = two, .msg_iovlen = 2};
    n = recvmsg(sv[0], &wm, MSG_WAITALL);
    printf("recvmsg MSG_WAITALL into 60+40 bytes sent in two parts: %zd %.60s|%.40s\n", n, big, big + 1000);
    two[0].iov_len = 10;
    two[1].iov_len = 90;
    n = recvmsg(sv[0], &wm, MSG_WAITALL);
    printf("recvmsg MSG_WAITALL into 10+90 bytes, the stream ends after 30: %zd\n", n);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);

    /* Datagrams: fill the peer's queue, then a blocking send waits for a
     * reader; with SO_SNDTIMEO it gives up with EAGAIN. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int queued = 0;
    while (send(sv[1], big, 512, MSG_DONTWAIT) == 512)
        queued++;
    printf("datagrams queued before EAGAIN: some %d\n", queued > 0);
    set_timeout(sv[1], SO_SNDTIMEO, 50);
    errno = 0;
    n = send(sv[1], big, 512, 0);
    printf("send to a full datagram socket with SO_SNDTIMEO: %zd %s\n", n, strerror(errno));
    set_timeout(sv[1], SO_SNDTIMEO, 0);
    struct drain dd = {.fd = sv[0], .dgrams = queued + 1, .delay_ms = 50, .passed_fd = -1};
    pthread_create(&t, NULL, drain_thread, &dd);
    n = send(sv[1], big, 512, 0);
    printf("blocking send to a full datagram socket: %zd\n", n);
    pthread_join(t, NULL);
    printf("datagrams read by the thread: all %d\n", dd.bytes == 512L * (queued + 1));
    close(sv[0]);
    close(sv[1]);
}

/* "return N" for this CPU, N < 16 */
static size_t ret_code(unsigned char *p, int n)
{
#if defined(__aarch64__)
    unsigned int w[2] = {0x52800000u | (unsigned)n << 5, 0xd65f03c0u};   /* mov w0, #n; ret */
#elif defined(__riscv)
    unsigned int w[2] = {0x00000513u | (unsigned)n << 20, 0x00008067u};  /* li a0, n; ret */
#elif defined(__x86_64__)
    unsigned char w[8] = {0xb8, (unsigned char)n, 0, 0, 0, 0xc3, 0x90, 0x90};  /* mov eax, n; ret */
#endif
    memcpy(p, w, 8);
    return 8;
}

static void mode_readcode(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/readcode.bin", dir);
    unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        perror("mmap");
        return;
    }
    int (*fn)(void) = (int (*)(void))code;
    ret_code(code, 1);
    __builtin___clear_cache((char *)code, (char *)code + 8);
    int first = 0;
    for (int i = 0; i < 100; i++)       /* long enough to be translated */
        first += fn();
    unsigned char next[8];
    ret_code(next, 2);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, next, 8) != 8 || lseek(fd, 0, SEEK_SET) != 0 || read(fd, code, 8) != 8) {
        perror("readcode file");
        return;
    }
    close(fd);
    unlink(path);
    __builtin___clear_cache((char *)code, (char *)code + 8);
    printf("readcode: %d then %d\n", first, fn());
}

static volatile sig_atomic_t hostio_alarms;
static int hostio_null = -1;

static void hostio_alarm(int sig)
{
    (void)sig;
    hostio_alarms++;
    if (write(hostio_null, "x", 1) != 1)       /* served in the handler too */
        hostio_alarms = 1000;
}

static void hostio_result(const char *what, ssize_t r)
{
    if (r < 0)
        printf("hostio %s: -1 %s\n", what, strerror(errno));
    else
        printf("hostio %s: %zd\n", what, r);
}

static void mode_hostio(const char *dir)
{
    char path[4096];
    static unsigned char buf[8192];
    snprintf(path, sizeof path, "%s/hostio.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("hostio open");
        return;
    }
    long total = 0;
    for (int i = 0; i < 2500; i++) {
        unsigned char b[4] = {(unsigned char)i, (unsigned char)(i >> 8), (unsigned char)(i * 7), 0x5a};
        total += write(fd, b, 4);
    }
    printf("hostio file written: %ld\n", total);
    /* 10000 bytes in 4096-byte reads: two full, a partial one, then EOF */
    lseek(fd, 0, SEEK_SET);
    unsigned sum = 0;
    ssize_t r;
    printf("hostio file reads:");
    while ((r = read(fd, buf, 4096)) > 0) {
        printf(" %zd", r);
        for (ssize_t i = 0; i < r; i++)
            sum = sum * 31 + buf[i];
    }
    printf(" %zd, sum %08x\n", r, sum);
    lseek(fd, 9990, SEEK_SET);
    printf("hostio reads at the end:");
    for (int i = 0; i < 5; i++)
        printf(" %zd", read(fd, buf, 3));
    printf("\n");
    long written = 0, ok = 0;
    for (int i = 0; i < 2000; i++)
        written += pwrite(fd, &i, sizeof i, 20000 + 4 * i);
    for (int i = 0; i < 2000; i++) {
        int v = -1;
        ok += pread(fd, &v, sizeof v, 20000 + 4 * i) == sizeof v && v == i;
    }
    printf("hostio pwrite %ld, pread back %ld\n", written, ok);
    hostio_result("pread past the end", pread(fd, buf, 16, 1 << 20));
    hostio_result("pread over the end", pread(fd, buf, 16, 27996));
    long offset = lseek(fd, 0, SEEK_CUR);
    printf("hostio file offset %ld, size %ld\n", offset, (long)lseek(fd, 0, SEEK_END));
    hostio_result("read of 0", read(fd, buf, 0));
    hostio_result("write of 0", write(fd, buf, 0));

    int zero = open("/dev/zero", O_RDONLY), full = open("/dev/full", O_WRONLY);
    hostio_null = open("/dev/null", O_RDWR);
    long zeros = 0, nulls = 0, enospc = 0;
    int stray = 0;
    for (int i = 0; i < 3000; i++) {
        memset(buf, 0xa5, sizeof buf);
        zeros += read(zero, buf, sizeof buf);
        stray |= buf[0] | buf[sizeof buf - 1];
        nulls += write(hostio_null, buf, sizeof buf);
    }
    for (int i = 0; i < 500; i++)
        enospc += write(full, buf, 16) == -1 && errno == ENOSPC;
    printf("hostio /dev/zero %ld (stray %d), /dev/null %ld, /dev/full ENOSPC %ld\n", zeros, stray, nulls, enospc);
    hostio_result("read /dev/null", read(hostio_null, buf, 16));

    /* bad buffers, with read and pread hot by now */
    unsigned char *none = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    hostio_result("read /dev/zero into unmapped", read(zero, gone, 16));
    hostio_result("read /dev/zero into PROT_NONE", read(zero, none, 16));
    hostio_result("read /dev/zero into read-only", read(zero, ro, 16));
    hostio_result("pread file into read-only", pread(fd, ro, 16, 0));
    hostio_result("pread file into unmapped", pread(fd, gone, 16, 0));
    hostio_result("write file from PROT_NONE", write(fd, none, 16));
    hostio_result("pwrite file from unmapped", pwrite(fd, gone, 16, 0));
    hostio_result("read-only buffer still zero", ro[0] | ro[15]);

    /* a pipe: never one of the descriptors served in host code */
    int p[2];
    if (pipe(p) == 0) {
        long piped = 0;
        for (int i = 0; i < 200; i++) {
            piped += write(p[1], "abc", 3);
            piped += read(p[0], buf, 3);
        }
        printf("hostio pipe %ld\n", piped);
        hostio_result("pread pipe", pread(p[0], buf, 3, 0));
        hostio_result("pwrite pipe", pwrite(p[1], buf, 3, 0));
        close(p[0]);
        close(p[1]);
    }

    /* SIGALRM every 2 ms during a loop of reads: the handlers run */
    struct sigaction sa = {0};
    sa.sa_handler = hostio_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 2000}, {0, 2000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    long reads = 0;
    while (hostio_alarms < 20 && read(zero, buf, 4096) == 4096)
        reads++;
    /* (the handler stays: a last alarm may still be on its way) */
    setitimer(ITIMER_REAL, &off, NULL);
    printf("hostio alarms during reads: %s\n", hostio_alarms >= 20 && hostio_alarms < 1000 ? "delivered" : "lost");

    /* read(2), hot and on a descriptor it serves, into code that ran */
    unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int (*fn)(void) = (int (*)(void))code;
    ret_code(code, 1);
    __builtin___clear_cache((char *)code, (char *)code + 8);
    int first = 0;
    for (int i = 0; i < 100; i++)
        first += fn();
    unsigned char next[8];
    ret_code(next, 3);
    if (pwrite(fd, next, 8, 0) != 8)
        perror("hostio code");
    for (int i = 0; i < 50; i++)       /* the closes above made fd new to tcgpy again */
        if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, 8) != 8)
            perror("hostio code");
    if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, code, 8) != 8)
        perror("hostio code");
    __builtin___clear_cache((char *)code, (char *)code + 8);
    printf("hostio readcode: %d then %d\n", first, fn());
    close(zero);
    close(full);
    close(hostio_null);
    close(fd);
    unlink(path);
}

/* Five pages for the bad-buffer modes, made before any test so that nothing
 * is mapped into the holes: read-write, unmapped, read-only, unmapped,
 * PROT_NONE; ``edge`` is 10 bytes before the unmapped page. */
struct bad_bufs {
    char *ok, *gone, *ro, *none, *edge;
};

static struct bad_bufs bad_bufs(void)
{
    char *base = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(base + PG, PG);
    mprotect(base + 2 * PG, PG, PROT_READ);
    munmap(base + 3 * PG, PG);
    mprotect(base + 4 * PG, PG, PROT_NONE);
    struct bad_bufs b = {base, base + PG, base + 2 * PG, base + 4 * PG, base + PG - 10};
    return b;
}

/* One result, and the file position after it. */
static void efault_result(const char *what, ssize_t r, int fd)
{
    if (r < 0)
        printf("efault %s: -1 %s", what, strerror(errno));
    else
        printf("efault %s: %zd", what, r);
    if (fd >= 0)
        printf(", at %ld", (long)lseek(fd, 0, SEEK_CUR));
    printf("\n");
}

static void mode_efault(const char *dir)
{
    struct bad_bufs b = bad_bufs();
    char *ok = b.ok, *gone = b.gone, *ro = b.ro, *none = b.none, *edge = b.edge;
    char path[4096];
    static char text[3 * PG];
    snprintf(path, sizeof path, "%s/efault.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    for (int i = 0; i < 3 * PG; i++)
        text[i] = 'a' + i % 26;
    if (fd < 0 || write(fd, text, sizeof text) != (long)sizeof text) {
        perror("efault open/write");
        return;
    }
    struct iovec ok_gone[2] = {{ok, 16}, {gone, 16}}, gone_ok[2] = {{gone, 16}, {ok, 16}};
    struct iovec at_edge[2] = {{ok + 100, 16}, {edge, 100}};
    /* reads of a regular file: EFAULT moves nothing, a partial read moves by its count */
    lseek(fd, 0, SEEK_SET);
    efault_result("read into unmapped", read(fd, gone, 100), fd);
    efault_result("read into read-only", read(fd, ro, 100), fd);
    efault_result("read into PROT_NONE", read(fd, none, 100), fd);
    efault_result("read over the edge, page-aligned", read(fd, ok, 2 * PG), fd);
    efault_result("read over the edge", read(fd, edge, 100), fd);
    printf("efault read over the edge got: %.10s\n", edge);
    lseek(fd, 0, SEEK_END);
    efault_result("read into unmapped at the end", read(fd, gone, 100), fd);
    lseek(fd, 0, SEEK_SET);
    efault_result("pread into unmapped", pread(fd, gone, 100, 0), fd);
    efault_result("pread into read-only", pread(fd, ro, 100, 0), fd);
    efault_result("pread over the edge", pread(fd, edge, 100, 26), fd);
    efault_result("pread into unmapped past the end", pread(fd, gone, 100, 1 << 20), fd);
    efault_result("readv ok then unmapped", readv(fd, ok_gone, 2), fd);
    efault_result("readv unmapped then ok", readv(fd, gone_ok, 2), fd);
    efault_result("readv over the edge", readv(fd, at_edge, 2), fd);
    efault_result("preadv over the edge", preadv(fd, at_edge, 2, 0), fd);
    efault_result("preadv unmapped then ok", preadv(fd, gone_ok, 2, 0), fd);
    /* writes to a regular file: the bytes up to the fault */
    lseek(fd, 0, SEEK_SET);
    memset(ok, 'W', PG);
    efault_result("write from unmapped", write(fd, gone, 100), fd);
    efault_result("write from PROT_NONE", write(fd, none, 100), fd);
    efault_result("write over the edge", write(fd, edge, 100), fd);
    efault_result("pwrite over the edge", pwrite(fd, edge, 100, 1000), fd);
    efault_result("pwrite from unmapped", pwrite(fd, gone, 100, 1000), fd);
    efault_result("writev ok then unmapped", writev(fd, ok_gone, 2), fd);
    efault_result("writev unmapped then ok", writev(fd, gone_ok, 2), fd);
    efault_result("pwritev over the edge", pwritev(fd, at_edge, 2, 2000), fd);
    efault_result("write from read-only", write(fd, ro, 10), fd);
    unsigned sum = 0;
    ssize_t r;
    lseek(fd, 0, SEEK_SET);
    while ((r = read(fd, text, sizeof text)) > 0)
        for (ssize_t i = 0; i < r; i++)
            sum = sum * 31 + (unsigned char)text[i];
    printf("efault file: size %ld, sum %08x\n", (long)lseek(fd, 0, SEEK_END), sum);
    /* devices: /dev/null copies nothing, /dev/zero up to the fault */
    int null = open("/dev/null", O_RDWR), zero = open("/dev/zero", O_RDONLY);
    efault_result("write /dev/null from unmapped", write(null, gone, 100), -1);
    efault_result("writev /dev/null unmapped then ok", writev(null, gone_ok, 2), -1);
    efault_result("pwrite /dev/null from unmapped", pwrite(null, gone, 100, 0), -1);
    efault_result("read /dev/null into unmapped", read(null, gone, 100), -1);
    efault_result("read /dev/zero into unmapped", read(zero, gone, 100), -1);
    efault_result("read /dev/zero over the edge", read(zero, edge, 100), -1);
    /* a pipe: a read that faults takes nothing from it */
    int p[2];
    if (pipe2(p, O_NONBLOCK) == 0) {
        efault_result("write pipe over the edge", write(p[1], edge, 100), -1);
        efault_result("write pipe from unmapped", write(p[1], gone, 100), -1);
        efault_result("write pipe", write(p[1], ok, 100), -1);
        efault_result("read pipe into unmapped", read(p[0], gone, 100), -1);
        efault_result("read pipe over the edge", read(p[0], edge, 100), -1);
        efault_result("read pipe, all of it", read(p[0], ok, 100), -1);
        close(p[0]);
        close(p[1]);
    }
    /* a blocking pipe, a write larger than PIPE_BUF: the pages before the fault */
    if (pipe(p) == 0) {
        efault_result("write blocking pipe over the edge, page-aligned", write(p[1], ok, 2 * PG), -1);
        efault_result("write blocking pipe over the edge", write(p[1], ok + 10, 2 * PG), -1);
        struct iovec two_pages[2] = {{ok, PG}, {gone, PG}};
        efault_result("writev blocking pipe ok then unmapped", writev(p[1], two_pages, 2), -1);
        efault_result("write blocking pipe from unmapped", write(p[1], gone, 2 * PG), -1);
        efault_result("read blocking pipe", read(p[0], text, sizeof text), -1);
        close(p[0]);
        close(p[1]);
    }
    /* the same reads and writes hot (tcgpy serves good buffers in host code) */
    int same = 1;
    for (int i = 0; i < 2000; i++) {
        same &= pread(fd, gone, 16, 0) == -1 && errno == EFAULT;
        same &= pread(fd, edge, 100, 0) == 10;
        same &= pread(fd, ok, 16, 0) == 16;
        same &= pwrite(fd, edge, 100, 0) == 10;
        same &= write(null, gone, 16) == 16;
        same &= read(zero, ro, 16) == -1 && errno == EFAULT;
    }
    printf("efault hot: %s\n", same ? "same" : "DIFFERENT");
    close(null);
    close(zero);
    close(fd);
    unlink(path);
}

static void *write_later(void *arg)
{
    int fd = *(int *)arg;
    usleep(50 * 1000);
    if (write(fd, "late", 4) != 4)
        perror("write");
    return NULL;
}

static void reread_as_pipe(int fd, const char *how)
{
    char buf[16];
    int p[2];
    if (pipe(p)) {
        perror("pipe");
        return;
    }
    if (!strcmp(how, "close")) {
        /* the lowest free numbers: fd itself is one of them */
        if (p[0] != fd) {
            printf("fdreuse %s: pipe got %d, not %d\n", how, p[0], fd);
            return;
        }
    } else if (dup2(p[0], fd) != fd) {
        perror("dup2");
        return;
    } else {
        close(p[0]);
    }
    pthread_t t;
    pthread_create(&t, NULL, write_later, &p[1]);
    ssize_t n = read(fd, buf, sizeof buf);
    pthread_join(t, NULL);
    printf("fdreuse %s: read %zd bytes \"%.*s\"\n", how, n, n > 0 ? (int)n : 0, buf);
    close(fd);
    close(p[1]);
}

static void mode_fdreuse(void)
{
    char buf[16];
    const char *how[] = {"close", "dup2"};
    for (int i = 0; i < 2; i++) {
        int fd = open("/proc/self/exe", O_RDONLY);
        if (fd < 0 || read(fd, buf, 4) != 4) {
            perror("open/read");
            return;
        }
        if (i == 0)
            close(fd);
        reread_as_pipe(fd, how[i]);
    }
}

static void sockfault_result(const char *kind, const char *what, ssize_t r)
{
    if (r < 0)
        printf("sockfault %s %s: -1 %s\n", kind, what, strerror(errno));
    else
        printf("sockfault %s %s: %zd\n", kind, what, r);
}

/* ``len`` bytes of ``c`` sent (a datagram, on a datagram socket). */
static void sockfault_feed(int tx, size_t len, char c)
{
    static char msg[4 * PG];
    memset(msg, c, len);
    if (send(tx, msg, len, 0) != (ssize_t)len)
        perror("sockfault send");
}

/* What the socket holds now: the receives that drain it, by first byte and size. */
static void sockfault_left(const char *kind, int rx, int stream)
{
    static char buf[8 * PG];
    struct pollfd pfd = {rx, POLLIN, 0};
    printf("sockfault %s left:", kind);
    /* (a loopback TCP segment is there when send returns; a short wait all the same) */
    if (poll(&pfd, 1, stream ? 100 : 0) == 1) {
        ssize_t r;
        while ((r = recv(rx, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            if (stream) {
                /* a stream's bytes in runs of the same byte */
                for (ssize_t i = 0, j; i < r; i = j) {
                    for (j = i; j < r && buf[j] == buf[i]; j++)
                        ;
                    printf(" %c*%zd", buf[i] ? buf[i] : '0', j - i);
                }
            } else {
                printf(" [%c*%zd]", buf[0] ? buf[0] : '0', r);
            }
        }
    }
    printf("\n");
}

/* The receives and sends of one kind of socket pair with bad buffers. */
static void sockfault_pair(const char *kind, int tx, int rx, int stream, struct bad_bufs *b)
{
    struct iovec ok_gone[2] = {{b->ok, 16}, {b->gone, 16}}, gone_ok[2] = {{b->gone, 16}, {b->ok, 16}};
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    struct msghdr m;
    struct pollfd pfd = {rx, POLLIN, 0};
#define SOCKFAULT(what, call) do { poll(&pfd, 1, 1000); sockfault_result(kind, what, call); } while (0)
    sockfault_feed(tx, 100, 'a');
    SOCKFAULT("recv into unmapped", recv(rx, b->gone, 100, 0));
    sockfault_feed(tx, 100, 'b');
    SOCKFAULT("recv into read-only", recv(rx, b->ro, 100, 0));
    sockfault_feed(tx, 100, 'c');
    SOCKFAULT("recv into PROT_NONE", recv(rx, b->none, 100, 0));
    sockfault_feed(tx, 100, 'd');
    memset(b->edge, '.', 10);
    SOCKFAULT("recv over the edge", recv(rx, b->edge, 100, 0));
    printf("sockfault %s recv over the edge got: %.10s\n", kind, b->edge);
    sockfault_left(kind, rx, stream);
    sockfault_feed(tx, 2 * PG, 'e');
    SOCKFAULT("recv over the edge, page-aligned", recv(rx, b->ok, 2 * PG, 0));
    sockfault_left(kind, rx, stream);
    sockfault_feed(tx, 100, 'f');
    SOCKFAULT("recvfrom to an unmapped address", recvfrom(rx, b->ok, 100, 0, (struct sockaddr *)b->gone, &salen));
    sockfault_feed(tx, 100, 'g');
    SOCKFAULT("recvfrom with an unmapped length", recvfrom(rx, b->ok, 100, 0, (struct sockaddr *)&sa,
                                                           (socklen_t *)b->gone));
    sockfault_left(kind, rx, stream);
    sockfault_feed(tx, 100, 'h');
    memset(&m, 0, sizeof m);
    m.msg_iov = ok_gone;
    m.msg_iovlen = 2;
    SOCKFAULT("recvmsg ok then unmapped", recvmsg(rx, &m, 0));
    sockfault_feed(tx, 100, 'i');
    m.msg_iov = gone_ok;
    SOCKFAULT("recvmsg unmapped then ok", recvmsg(rx, &m, 0));
    sockfault_feed(tx, 100, 'j');
    SOCKFAULT("read into unmapped", read(rx, b->gone, 100));
    sockfault_feed(tx, 100, 'k');
    SOCKFAULT("readv ok then unmapped", readv(rx, ok_gone, 2));
    sockfault_left(kind, rx, stream);
    if (stream) {
        sockfault_feed(tx, 100, 'l');
        SOCKFAULT("recv MSG_WAITALL over the edge", recv(rx, b->edge, 100, MSG_WAITALL));
        sockfault_feed(tx, 100, 'm');
        m.msg_iov = ok_gone;
        SOCKFAULT("recvmsg MSG_WAITALL ok then unmapped", recvmsg(rx, &m, MSG_WAITALL));
        sockfault_left(kind, rx, stream);
    }
    /* sends: what reaches the other end */
    memset(b->ok, 'S', PG);
    sockfault_result(kind, "send from unmapped", send(tx, b->gone, 100, 0));
    sockfault_result(kind, "send from PROT_NONE", send(tx, b->none, 100, 0));
    sockfault_result(kind, "send over the edge", send(tx, b->edge, 100, 0));
    sockfault_result(kind, "send over the edge, page-aligned", send(tx, b->ok, 2 * PG, 0));
    sockfault_result(kind, "sendto from read-only", sendto(tx, b->ro, 10, 0, NULL, 0));
    memset(&m, 0, sizeof m);
    m.msg_iov = ok_gone;
    m.msg_iovlen = 2;
    sockfault_result(kind, "sendmsg ok then unmapped", sendmsg(tx, &m, 0));
    m.msg_iov = gone_ok;
    sockfault_result(kind, "sendmsg unmapped then ok", sendmsg(tx, &m, 0));
    sockfault_result(kind, "write over the edge", write(tx, b->edge, 100));
    sockfault_result(kind, "writev ok then unmapped", writev(tx, ok_gone, 2));
    sockfault_left(kind, rx, stream);
#undef SOCKFAULT
}

/* Two connected sockets of ``type`` on the loopback (TCP through a listener). */
static int inet_pair(int type, int sv[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int one = socket(AF_INET, type, 0), two = socket(AF_INET, type, 0);
    if (one < 0 || two < 0 || bind(one, (struct sockaddr *)&a, sizeof a) || getsockname(one, (struct sockaddr *)&a, &alen))
        return -1;
    if (type == SOCK_STREAM) {
        if (listen(one, 1) || connect(two, (struct sockaddr *)&a, sizeof a))
            return -1;
        sv[0] = two;
        sv[1] = accept(one, NULL, NULL);
        close(one);
        return sv[1] < 0 ? -1 : 0;
    }
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t blen = sizeof b;
    if (bind(two, (struct sockaddr *)&b, sizeof b) || getsockname(two, (struct sockaddr *)&b, &blen)
        || connect(one, (struct sockaddr *)&b, sizeof b) || connect(two, (struct sockaddr *)&a, sizeof a))
        return -1;
    sv[0] = one;
    sv[1] = two;
    return 0;
}

/* accept4 with a bad address length pointer: the kernel takes the
 * connection, then fails to write the peer's address out (EFAULT, or EINVAL
 * for a negative length) and closes it; the client sees its peer gone. */
static void sockfault_accept(const char *what, socklen_t *lenp, socklen_t len, struct bad_bufs *b)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {AF_UNIX};
    snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "tcgpy-acc-%d", (int)getpid());
    socklen_t al = (socklen_t)(sizeof(sa_family_t) + 1 + strlen(a.sun_path + 1));
    if (s < 0 || bind(s, (struct sockaddr *)&a, al) != 0 || listen(s, 4) != 0) {
        perror("accept listener");
        return;
    }
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, al);
    struct sockaddr_un peer;
    if (lenp != NULL && lenp != (socklen_t *)b->gone)
        *lenp = len;
    errno = 0;
    long r = syscall(SYS_accept4, s, &peer, lenp, 0);
    int e = errno;
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    long w = write(c, "x", 1);
    int we = errno;
    signal(SIGPIPE, SIG_DFL);
    fcntl(s, F_SETFL, O_NONBLOCK);
    long again = syscall(SYS_accept4, s, NULL, NULL, 0);
    printf("sockfault accept4 %s: %s, client write %s, another connection: %s\n", what,
           r < 0 ? strerror(e) : "accepted", w < 0 ? strerror(we) : "ok", again >= 0 ? "yes" : "no");
    if (r >= 0)
        close(r);
    if (again >= 0)
        close(again);
    close(c);
    close(s);
}

static void mode_sockfault(void)
{
    struct bad_bufs b = bad_bufs();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
        sockfault_pair("unix stream", sv[0], sv[1], 1, &b);
        close(sv[0]);
        close(sv[1]);
    }
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0) {
        sockfault_pair("unix dgram", sv[0], sv[1], 0, &b);
        close(sv[0]);
        close(sv[1]);
    }
    if (inet_pair(SOCK_DGRAM, sv) == 0) {
        sockfault_pair("udp", sv[0], sv[1], 0, &b);
        close(sv[0]);
        close(sv[1]);
    } else {
        perror("udp pair");
    }
    if (inet_pair(SOCK_STREAM, sv) == 0) {
        sockfault_pair("tcp", sv[0], sv[1], 1, &b);
        close(sv[0]);
        close(sv[1]);
    } else {
        perror("tcp pair");
    }
    socklen_t len;
    sockfault_accept("address, NULL length", NULL, 0, &b);
    sockfault_accept("address, unmapped length", (socklen_t *)b.gone, 0, &b);
    sockfault_accept("address, length -1", &len, (socklen_t)-1, &b);
    sockfault_accept("address, length 0", &len, 0, &b);
}

static void dirfault_result(const char *what, long r)
{
    if (r < 0)
        printf("dirfault %s: -1 %s\n", what, strerror(errno));
    else
        printf("dirfault %s: %ld\n", what, r);
}

/* How many records (every name, "." and ".." among them) a getdents64 gave in ``n`` bytes of ``buf``. */
static int dirfault_records(const char *buf, long n)
{
    int count = 0;
    for (long off = 0; off < n; count++) {
        unsigned short reclen;
        memcpy(&reclen, buf + off + 16, 2);
        off += reclen;
    }
    return count;
}

/* How many records are still to come: the rest of a listing. */
static int dirfault_left(int d)
{
    static char buf[8 * PG];
    int n = 0;
    long r;
    while ((r = syscall(SYS_getdents64, d, buf, sizeof buf)) > 0)
        n += dirfault_records(buf, r);
    return n;
}

static void mode_dirfault(const char *dir)
{
    struct bad_bufs b = bad_bufs();
    char sub[4096], path[4200];
    snprintf(sub, sizeof sub, "%s/dirfault", dir);
    mkdir(sub, 0700);
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof path, "%s/e%02d", sub, i);
        close(open(path, O_CREAT | O_WRONLY, 0600));
    }
    int d = open(sub, O_RDONLY | O_DIRECTORY);
    /* getdents64: EFAULT with nothing listed (the position unmoved), the
     * entries that fit before the fault otherwise (the rest still to come).
     * Every record is 24 bytes (names of up to 4 bytes), so the counts do
     * not depend on the order the file system lists them in. */
    struct { const char *what; char *buf; long size; } calls[] = {
        {"getdents64 into unmapped", b.gone, PG},
        {"getdents64 into read-only", b.ro, PG},
        {"getdents64 into PROT_NONE", b.none, PG},
        {"getdents64 over the edge, 10 bytes", b.edge, PG},
        {"getdents64 over the edge, 100 bytes", b.ok + PG - 100, PG},
        {"getdents64 over the edge, 200 bytes", b.ok + PG - 200, PG},
        {"getdents64 too small for one", b.ok, 10},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        lseek(d, 0, SEEK_SET);
        long r = syscall(SYS_getdents64, d, calls[i].buf, calls[i].size);
        dirfault_result(calls[i].what, r);
        int got = r > 0 ? dirfault_records(calls[i].buf, r) : 0;
        printf("dirfault %s: %d listed, %d of 22 still to come\n", calls[i].what, got, dirfault_left(d));
    }
    close(d);
    /* readlink/readlinkat: all or nothing, EINVAL for a size of 0 */
    char target[] = "a-target-of-forty-bytes-0123456789abcdef";
    snprintf(path, sizeof path, "%s/link", sub);
    symlink(target, path);
    memset(b.ok, '.', PG);
    dirfault_result("readlink into unmapped", readlink(path, b.gone, 100));
    dirfault_result("readlink into read-only", readlink(path, b.ro, 100));
    dirfault_result("readlink over the edge", readlink(path, b.edge, 100));
    dirfault_result("readlink over the edge, cut to fit", readlink(path, b.edge, 10));
    printf("dirfault readlink cut to fit got: %.10s\n", b.edge);
    dirfault_result("readlink of size 0", readlink(path, b.ok, 0));
    dirfault_result("readlink of size 0 into unmapped", readlink(path, b.gone, 0));
    dirfault_result("readlink of a negative size", syscall(SYS_readlinkat, AT_FDCWD, path, b.ok, (size_t)-1));
    dirfault_result("readlinkat into unmapped", readlinkat(AT_FDCWD, path, b.gone, 100));
    dirfault_result("readlink of /proc/self/exe into unmapped", readlink("/proc/self/exe", b.gone, 100));
    dirfault_result("readlink of /proc/self/exe of size 0", readlink("/proc/self/exe", b.ok, 0));
    dirfault_result("readlink from an unmapped path", readlink(b.gone, b.ok, 100));
    unlink(path);
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof path, "%s/e%02d", sub, i);
        unlink(path);
    }
    rmdir(sub);
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static void dontunmap_errno(const char *what, void *r)
{
    printf("dontunmap %s: %s\n", what, r == MAP_FAILED ? strerror(errno) : "ok");
}

static void mode_dontunmap(const char *dir)
{
    catch_faults();
    /* (glibc 2.36 reads new_address for MREMAP_DONTUNMAP too: NULL, none) */
    int e = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
    /* private anonymous: the pages move, the old range stays, zero-filled */
    char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 'a', PG);
    memset(p + PG, 'b', PG);
    char *q = mremap(p, 2 * PG, 2 * PG, e, NULL);
    printf("dontunmap anonymous: moved %d, new %c %c, old %d %d\n", q != p && q != MAP_FAILED,
           q[0], q[PG], p[0], p[PG]);
    p[0] = 'x';
    printf("dontunmap anonymous: old written %c, new %c\n", p[0], q[0]);
    /* the old range keeps its protection */
    char *r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *s = mremap(r, PG, PG, e, NULL);
    probe("dontunmap read-only, old page read", r, 0, 0);
    probe("dontunmap read-only, old page written", r, 0, 1);
    probe("dontunmap read-only, new page written", s, 0, 1);
    /* the refusals */
    dontunmap_errno("without MREMAP_MAYMOVE", mremap(q, 2 * PG, 2 * PG, MREMAP_DONTUNMAP, NULL));
    dontunmap_errno("grown", mremap(q, 2 * PG, 3 * PG, e, NULL));
    dontunmap_errno("shrunk", mremap(q, 2 * PG, PG, e, NULL));
    char *hole = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole, PG);
    dontunmap_errno("unmapped", mremap(hole, PG, PG, e, NULL));
    char *two = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(two + PG, PG, PROT_READ);
    dontunmap_errno("across two mappings", mremap(two, 2 * PG, 2 * PG, e, NULL));
    /* with MREMAP_FIXED, onto pages mapped already */
    char *dst = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(dst, 'z', 2 * PG);
    char *f = mremap(q, 2 * PG, 2 * PG, e | MREMAP_FIXED, dst);
    printf("dontunmap fixed: at target %d, new %c %c, old %d\n", f == dst, dst[0], dst[PG], q[0]);
    /* a private file mapping: written pages move, the old range is the file's again */
    char path[4096];
    snprintf(path, sizeof path, "%s/dontunmap", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    static char text[2 * PG];
    memset(text, 'f', sizeof text);
    if (fd < 0 || write(fd, text, sizeof text) != (long)sizeof text) {
        perror("dontunmap open/write");
        return;
    }
    char *fp = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    fp[0] = 'W';
    char *fq = mremap(fp, 2 * PG, 2 * PG, e, NULL);
    printf("dontunmap private file: moved %d, new %c %c, old %c %c\n", fq != fp && fq != MAP_FAILED,
           fq[0], fq[PG], fp[0], fp[PG]);
    pwrite(fd, "g", 1, PG);
    printf("dontunmap private file, file written: new %c, old %c\n", fq[PG], fp[PG]);
    /* shared mappings: the same memory at both addresses */
    char *sp = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sp[0] = 's';
    char *sq = mremap(sp, PG, PG, e, NULL);
    if (sq == MAP_FAILED) {
        dontunmap_errno("shared anonymous", sq);
    } else {
        printf("dontunmap shared anonymous: new %c, old %c\n", sq[0], sp[0]);
        sq[0] = 't';
        printf("dontunmap shared anonymous, new written: old %c\n", sp[0]);
    }
    char *ff = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *fg = mremap(ff, PG, PG, e, NULL);
    if (fg == MAP_FAILED) {
        dontunmap_errno("shared file", fg);
    } else {
        fg[1] = 'n';
        printf("dontunmap shared file: new %c%c, old %c%c\n", fg[0], fg[1], ff[0], ff[1]);
    }
    close(fd);
    unlink(path);
}

static void splicefault_result(const char *what, ssize_t r)
{
    if (r < 0)
        printf("splicefault %s: -1 %s\n", what, strerror(errno));
    else
        printf("splicefault %s: %zd\n", what, r);
}

/* What a pipe holds: its bytes in runs of the same byte. */
static void splicefault_left(int rd)
{
    static char buf[16 * PG];
    ssize_t r = read(rd, buf, sizeof buf);
    printf("splicefault left:");
    for (ssize_t i = 0, j; i < r; i = j) {
        for (j = i; j < r && buf[j] == buf[i]; j++)
            ;
        printf(" %c*%zd", buf[i] ? buf[i] : '0', j - i);
    }
    printf("\n");
}

static void mode_splicefault(const char *dir)
{
    struct bad_bufs b = bad_bufs();
    int p[2];
    if (pipe2(p, O_NONBLOCK)) {
        perror("pipe2");
        return;
    }
    memset(b.ok, 'v', PG);
    struct iovec ok_gone[2] = {{b.ok, 16}, {b.gone, 16}}, gone_ok[2] = {{b.gone, 16}, {b.ok, 16}};
    struct iovec one[1];
    /* into the pipe: the pages before the fault */
    one[0] = (struct iovec){b.gone, 100};
    splicefault_result("vmsplice from unmapped", vmsplice(p[1], one, 1, 0));
    one[0] = (struct iovec){b.none, 100};
    splicefault_result("vmsplice from PROT_NONE", vmsplice(p[1], one, 1, 0));
    one[0] = (struct iovec){b.ro, 100};
    splicefault_result("vmsplice from read-only", vmsplice(p[1], one, 1, 0));
    one[0] = (struct iovec){b.edge, 100};
    splicefault_result("vmsplice over the edge", vmsplice(p[1], one, 1, 0));
    one[0] = (struct iovec){b.ok, 2 * PG};
    splicefault_result("vmsplice over the edge, page-aligned", vmsplice(p[1], one, 1, 0));
    splicefault_result("vmsplice ok then unmapped", vmsplice(p[1], ok_gone, 2, 0));
    splicefault_result("vmsplice unmapped then ok", vmsplice(p[1], gone_ok, 2, 0));
    splicefault_left(p[0]);
    /* out of the pipe: the bytes before the fault, the rest left in it */
    static char fill[PG];
    memset(fill, 'p', sizeof fill);
    struct { const char *what; struct iovec *iov; int n; } outs[] = {
        {"vmsplice to unmapped", (struct iovec[]){{b.gone, 100}}, 1},
        {"vmsplice to read-only", (struct iovec[]){{b.ro, 100}}, 1},
        {"vmsplice to PROT_NONE", (struct iovec[]){{b.none, 100}}, 1},
        {"vmsplice to over the edge", (struct iovec[]){{b.edge, 100}}, 1},
        {"vmsplice to ok then unmapped", ok_gone, 2},
        {"vmsplice to unmapped then ok", gone_ok, 2},
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (write(p[1], fill, 100) != 100)
            perror("write");
        splicefault_result(outs[i].what, vmsplice(p[0], outs[i].iov, outs[i].n, 0));
        splicefault_left(p[0]);
    }
    /* splice and its offsets: read before the transfer, written after it */
    char path[4096];
    snprintf(path, sizeof path, "%s/splicefault", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, fill, sizeof fill) != (ssize_t)sizeof fill) {
        perror("splicefault open/write");
        return;
    }
    *(loff_t *)b.ok = 0;
    splicefault_result("splice from an unmapped offset", splice(fd, (loff_t *)b.gone, p[1], NULL, 100, 0));
    splicefault_result("splice from a read-only offset", splice(fd, (loff_t *)b.ro, p[1], NULL, 100, 0));
    splicefault_result("splice from an offset over the edge", splice(fd, (loff_t *)(b.gone - 4), p[1], NULL, 100, 0));
    splicefault_left(p[0]);
    splicefault_result("splice to an unmapped offset", splice(p[0], NULL, fd, (loff_t *)b.gone, 100, 0));
    close(fd);
    unlink(path);
    close(p[0]);
    close(p[1]);
}

/* A private file mapping of a file that shrinks: the pages past its new
 * end are SIGBUS (EFAULT for a syscall), whoever truncated it, those this
 * process wrote (its own copies) too; the page holding the end stays. */
static void mode_privbus(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/private", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 3 * PG) != 0) {
        perror("privbus open/ftruncate");
        return;
    }
    pwrite(fd, "file", 4, PG);
    char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    catch_faults();
    p[0] = 'A';                         /* page 0: written, a private copy */
    printf("privbus before: page 1 reads %c\n", p[PG]);       /* page 1: read only */
    ftruncate(fd, PG + 100);
    probe("privbus own truncate, written page", p, 0, 0);
    probe("privbus own truncate, page with EOF", p, PG, 0);
    probe("privbus own truncate, past EOF in that page", p, PG + 200, 0);
    probe("privbus own truncate, next page read", p, 2 * PG, 0);
    probe("privbus own truncate, next page write", p, 2 * PG + 8, 1);
    write_from("privbus write from past EOF", p + 2 * PG);
    /* another process truncates to nothing: the written page stays */
    truncate_elsewhere(fd, 0);
    probe("privbus other's truncate, written page", p, 0, 0);
    probe("privbus other's truncate, page 1", p, PG, 0);
    ftruncate(fd, 3 * PG);
    probe("privbus grown again, page 1", p, PG, 0);
    munmap(p, 3 * PG);
    close(fd);
    unlink(path);
}

/* Another process truncates the file of a private mapping while a loop
 * that makes no syscall reads a page of it: SIGBUS all the same.  (A
 * shared file mapping made first, as a program may have: tcgpy then
 * catches the host's SIGBUS in private mappings from the start, where
 * otherwise it does from when it runs host code.) */
static void mode_privbushot(const char *dir)
{
    int sfd;
    char *shared = map_file(dir, &sfd);
    char path[4096];
    snprintf(path, sizeof path, "%s/private", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 3 * PG) != 0) {
        perror("privbushot open/ftruncate");
        return;
    }
    char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    catch_faults();
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        ftruncate(fd, PG);
        _exit(0);
    }
    got_sig = 0;
    if (sigsetjmp(probe_jb, 1) == 0) {
        volatile char *v = p;
        for (long sum = 0;; sum += v[PG + 8])
            ;
    }
    printf("privbushot: %s code=%d at +%ld\n", got_sig == SIGBUS ? "SIGBUS" : "other", got_code,
           (long)((volatile char *)got_addr - p));
    waitpid(pid, NULL, 0);
    munmap(p, 3 * PG);
    munmap(shared, 3 * PG);
    close(fd);
    close(sfd);
    unlink(path);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "all";
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (!strcmp(mode, "busdie")) {
        mode_busdie(dir);
        return 0;
    }
    int all = !strcmp(mode, "all");
    if (all) {
        /* tmpdir_arg puts the directory last. */
        dir = argc > 2 ? argv[2] : argv[argc - 1];
    }
    if (all || !strcmp(mode, "bus"))
        mode_bus(dir);
    if (all || !strcmp(mode, "bushot"))
        mode_bushot(dir);
    if (all || !strcmp(mode, "select"))
        mode_select();
    if (all || !strcmp(mode, "eintr"))
        mode_eintr();
    if (all || !strcmp(mode, "sigmask"))
        mode_sigmask();
    if (all || !strcmp(mode, "waitsig"))
        mode_waitsig();
    if (all || !strcmp(mode, "mremap"))
        mode_mremap();
    if (all || !strcmp(mode, "madvise"))
        mode_madvise(dir);
    if (all || !strcmp(mode, "mremapfixed"))
        mode_mremapfixed();
    if (all || !strcmp(mode, "mremapfile"))
        mode_mremapfile(dir);
    if (all || !strcmp(mode, "vfork"))
        mode_vfork();
    if (all || !strcmp(mode, "crossing"))
        mode_crossing();
    if (all || !strcmp(mode, "sigpipe"))
        mode_sigpipe();
    if (all || !strcmp(mode, "socket"))
        mode_socket();
    if (all || !strcmp(mode, "fdreuse"))
        mode_fdreuse();
    if (all || !strcmp(mode, "readcode"))
        mode_readcode(dir);
    if (all || !strcmp(mode, "hostio"))
        mode_hostio(dir);
    if (all || !strcmp(mode, "efault"))
        mode_efault(dir);
    if (all || !strcmp(mode, "sockfault"))
        mode_sockfault();
    if (all || !strcmp(mode, "dirfault"))
        mode_dirfault(dir);
    if (all || !strcmp(mode, "dontunmap"))
        mode_dontunmap(dir);
    if (all || !strcmp(mode, "splicefault"))
        mode_splicefault(dir);
    if (all || !strcmp(mode, "privbus"))
        mode_privbus(dir);
    if (all || !strcmp(mode, "privbushot"))
        mode_privbushot(dir);
    return 0;
}
