/* A tour of the syscall surface through glibc, printing only facts that are
 * the same on any Linux: directories, links, permissions, times, polling,
 * descriptors, sockets, epoll/eventfd, resources, signals, processes.
 * argv[1] is a scratch directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { alarms++; }
static int cmpstr(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char p[600], q[600];
    if (chdir(dir) != 0) { perror("chdir"); return 1; }
    mkdir("d", 0750);
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "d/f%d", i);
        FILE *f = fopen(p, "w");
        fprintf(f, "%d\n", i * i);
        fclose(f);
    }
    symlink("f1", "d/link");
    link("d/f2", "d/hard");
    DIR *d = opendir("d");
    char *names[16];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmpstr);
    printf("dir:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    ssize_t l = readlink("d/link", q, sizeof q - 1);
    q[l > 0 ? l : 0] = 0;
    struct stat st, lst;
    stat("d/link", &st);
    lstat("d/link", &lst);
    printf("readlink %s, stat size %lld, lstat is link %d, nlink(hard) ", q, (long long)st.st_size,
           S_ISLNK(lst.st_mode));
    stat("d/hard", &st);
    printf("%lu\n", (unsigned long)st.st_nlink);
    chmod("d/f3", 0604);
    stat("d/f3", &st);
    int acc = access("nonexistent", F_OK);
    int acc_errno = errno;
    printf("mode %o access %d errno %s\n", st.st_mode & 0777, acc, strerror(acc_errno));
    struct timespec ts[2] = {{1000000000, 0}, {1200000000, 500}};
    utimensat(AT_FDCWD, "d/f4", ts, 0);
    stat("d/f4", &st);
    printf("mtime %lld.%09ld\n", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    rename("d/f0", "d/g0");
    unlink("d/link");
    int ren = access("d/g0", F_OK);
    int unl = unlink("d/link");
    int unl_errno = errno;
    printf("rename %d unlink-again %d (%s)\n", ren, unl, strerror(unl_errno));
    truncate("d/g0", 100);
    stat("d/g0", &st);
    printf("truncated %lld\n", (long long)st.st_size);
    getcwd(q, sizeof q);
    printf("cwd ends with dir: %d\n", strcmp(q + strlen(q) - strlen(strrchr(dir, '/')), strrchr(dir, '/')) == 0);

    int fd = open("d/f1", O_RDONLY | O_CLOEXEC);
    int fd2 = dup(fd);
    int fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    printf("dup>fd %d dupfd>=50 %d cloexec %d/%d flags O_RDONLY %d\n", fd2 > fd, fd3 >= 50,
           !!(fcntl(fd, F_GETFD) & FD_CLOEXEC), !!(fcntl(fd2, F_GETFD) & FD_CLOEXEC),
           (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
    struct termios t;
    int tty = isatty(fd);
    int tca = tcgetattr(fd, &t);
    int tca_errno = errno;
    printf("isatty(file) %d tcgetattr %d errno %s\n", tty, tca, strerror(tca_errno));
    char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("mmap file: %.2s", m);
    munmap(m, 4096);
    close(fd); close(fd2); close(fd3);

    int pfd[2];
    pipe2(pfd, O_NONBLOCK);
    char c;
    ssize_t rd = read(pfd[0], &c, 1);
    int rd_errno = errno;
    printf("nonblocking empty read: %zd %s\n", rd, strerror(rd_errno));
    write(pfd[1], "x", 1);
    struct pollfd pf = {pfd[0], POLLIN, 0};
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(pfd[0], &rs);
    struct timeval tv = {0, 0};
    int pr = poll(&pf, 1, 0);
    int sr = select(pfd[0] + 1, &rs, NULL, NULL, &tv);
    printf("poll %d revents %d select %d\n", pr, pf.revents, sr);

    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "sock", 4, 0);
    char sb[8] = {0};
    recv(sv[1], sb, sizeof sb, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC), ev = eventfd(2, EFD_NONBLOCK);
    struct epoll_event ee = {.events = EPOLLIN, .data.u64 = 77}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &ee);
    int ne = epoll_wait(ep, out, 2, 100);
    uint64_t val = 0;
    read(ev, &val, 8);
    printf("socketpair %s epoll %d data %llu eventfd %llu\n", sb, ne, (unsigned long long)out[0].data.u64,
           (unsigned long long)val);

    struct utsname u;
    uname(&u);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct sysinfo si;
    struct rusage ru;
    cpu_set_t cs;
    char name[16];
    prctl(PR_SET_NAME, "tourist");
    prctl(PR_GET_NAME, name);
    unsigned char rnd[8];
    printf("uname %s rlimit>0 %d sysinfo %d rusage %d affinity %d prctl %s getrandom %zd\n", u.sysname,
           rl.rlim_cur > 0, sysinfo(&si) == 0 && si.totalram > 0, getrusage(RUSAGE_SELF, &ru),
           sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) > 0, name, getrandom(rnd, 8, 0));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    usleep(10000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("usleep >= 10ms: %d, time() sane: %d\n",
           (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) >= 10000000L, time(NULL) > 1577836800);

    signal(SIGALRM, on_alarm);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct itimerval it = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    sigsuspend(&old);
    printf("alarm via sigsuspend: %d\n", alarms);
    sigprocmask(SIG_SETMASK, &old, NULL);

    sigset_t us;
    sigemptyset(&us);
    sigaddset(&us, SIGUSR1);
    sigprocmask(SIG_BLOCK, &us, NULL);
    kill(getpid(), SIGUSR1);
    int got = 0;
    sigwait(&us, &got);
    struct timespec short_ts = {0, 1000000};
    int tw = sigtimedwait(&us, NULL, &short_ts);
    int tw_errno = errno;
    int lf = open("lockfile", O_CREAT | O_RDWR, 0600);
    printf("sigwait %d timedwait %d %s flock %d nice %d fadvise %d\n", got, tw, strerror(tw_errno),
           flock(lf, LOCK_EX), getpriority(PRIO_PROCESS, 0), posix_fadvise(lf, 0, 0, POSIX_FADV_NORMAL));
    close(lf);

    pid_t kid = fork();
    if (kid == 0) { pause(); _exit(0); }
    kill(kid, SIGKILL);
    int status;
    waitpid(kid, &status, 0);
    printf("child killed by %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    kid = fork();
    if (kid == 0) _exit(17);
    siginfo_t info;
    waitid(P_PID, kid, &info, WEXITED);
    printf("waitid code %d status %d\n", info.si_code, info.si_status);
    int w = wait(NULL);
    int w_errno = errno;
    printf("wait no child: %d %s\n", w, strerror(w_errno));
    fflush(stdout);
    system("rm -rf d lockfile");
    return 0;
}
