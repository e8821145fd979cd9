/* pidfds (CPython's os.pidfd_open, systemd, modern process supervisors):
 * pidfd_open of a child, poll() on it (readable once the child has gone),
 * pidfd_send_signal to the child and to this process, waitid(P_PIDFD), and
 * the errors: no such process, unknown flags, a descriptor that is no pidfd.
 * pidfd_send_signal with a siginfo of the caller's (as sigqueue): to this
 * process, to a child (its handler sees the code and value), and the
 * kernel's refusals: si_signo not the signal (EINVAL), a code >= 0 to
 * another process (EPERM), an unknown flag (EINVAL). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { got = sig; }

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send(int fd, int sig) { return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0); }
static int pidfd_sendinfo(int fd, int sig, siginfo_t *si, unsigned flags)
{
    return syscall(SYS_pidfd_send_signal, fd, sig, si, flags);
}

static volatile int seen_code, seen_value, seen_pid;
static void on_usr2(int sig, siginfo_t *si, void *uc)
{
    seen_code = si->si_code;
    seen_value = si->si_value.sival_int;
    seen_pid = si->si_pid;
}

/* the child's handler: its exit status says what it was sent */
static void exit_with_value(int sig, siginfo_t *si, void *uc)
{
    _exit(si->si_code == SI_QUEUE ? si->si_value.sival_int : 1);
}

static siginfo_t queued(int sig, int code, int value)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = code;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = value;
    return si;
}

static void with_siginfo(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    int self = pidfd_open(getpid(), 0);
    siginfo_t si = queued(SIGUSR2, SI_QUEUE, 42);
    int r = pidfd_sendinfo(self, SIGUSR2, &si, 0);
    printf("siginfo to this process: %d, code SI_QUEUE %d, value %d, pid matches %d\n", r,
           seen_code == SI_QUEUE, seen_value, seen_pid == getpid());
    si = queued(SIGUSR2, 0x1234, 7);        /* a code >= 0: the caller may send it to itself */
    r = pidfd_sendinfo(self, SIGUSR2, &si, 0);
    printf("code >= 0 to this process: %d, code %#x, value %d\n", r, seen_code, seen_value);
    errno = 0;
    si = queued(SIGUSR1, SI_QUEUE, 1);
    r = pidfd_sendinfo(self, SIGUSR2, &si, 0);
    printf("si_signo not the signal: %d %s\n", r, strerror(errno));
    errno = 0;
    si = queued(SIGUSR2, SI_QUEUE, 1);
    r = pidfd_sendinfo(self, SIGUSR2, &si, 0x100);      /* no such flag (PIDFD_SIGNAL_* are 1-4) */
    printf("unknown flag: %d %s\n", r, strerror(errno));
    close(self);

    sa.sa_sigaction = exit_with_value;
    sigaction(SIGUSR2, &sa, NULL);          /* the child's, from the fork */
    pid_t child = fork();
    if (child == 0) {
        alarm(30);
        for (;;)
            pause();
    }
    sa.sa_sigaction = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    int fd = pidfd_open(child, 0);
    errno = 0;
    si = queued(SIGUSR2, SI_USER, 5);
    r = pidfd_sendinfo(fd, SIGUSR2, &si, 0);
    printf("code >= 0 to a child: %d %s\n", r, strerror(errno));
    si = queued(SIGUSR2, SI_QUEUE, 23);
    r = pidfd_sendinfo(fd, SIGUSR2, &si, 0);
    int status = 0;
    waitpid(child, &status, 0);
    printf("siginfo to a child: %d, it exited with its value: %d\n", r,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    close(fd);
}

int main(void)
{
    pid_t child = fork();
    if (child == 0) {
        alarm(30);                          /* never outlives a failed run for long */
        pause();
        _exit(0);
    }
    int fd = pidfd_open(child, 0);
    if (fd < 0) {
        printf("pidfd_open: %s\n", strerror(errno));
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 1;
    }
    struct pollfd p = {fd, POLLIN, 0};
    printf("pidfd %d, close-on-exec %d, ready while the child runs: %d\n", fd >= 0,
           (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, poll(&p, 1, 0));
    printf("pidfd_send_signal SIGTERM: %d\n", pidfd_send(fd, SIGTERM));
    int ready = poll(&p, 1, 5000);
    printf("ready once it has gone: %d (POLLIN %d)\n", ready, (p.revents & POLLIN) != 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    printf("waitid(P_PIDFD): %d, ", waitid(P_PIDFD, fd, &si, WEXITED));
    printf("pid matches %d, CLD_KILLED %d, status SIGTERM %d\n", si.si_pid == child,
           si.si_code == CLD_KILLED, si.si_status == SIGTERM);
    close(fd);

    signal(SIGUSR1, on_usr1);
    int self = pidfd_open(getpid(), O_NONBLOCK);
    int sent = pidfd_send(self, SIGUSR1);
    printf("to this process: %d, handler saw SIGUSR1 %d, nonblock %d\n", sent, got == SIGUSR1,
           (fcntl(self, F_GETFL) & O_NONBLOCK) != 0);

    errno = 0;
    int r = pidfd_open(child, 0);          /* reaped: gone */
    printf("reaped child: %d %s\n", r, strerror(errno));
    r = pidfd_open(getpid(), 0x1);
    printf("unknown flag: %d %s\n", r, strerror(errno));
    r = pidfd_send(0, SIGUSR1);
    printf("not a pidfd: %d %s\n", r, strerror(errno));
    with_siginfo();
    return 0;
}
