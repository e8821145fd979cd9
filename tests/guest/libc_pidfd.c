/* pidfds (CPython's os.pidfd_open, systemd, modern process supervisors):
 * pidfd_open of a child, poll() on it (readable once the child has gone),
 * pidfd_send_signal to the child and to this process, waitid(P_PIDFD), and
 * the errors: no such process, unknown flags, a descriptor that is no pidfd. */
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
    return 0;
}
