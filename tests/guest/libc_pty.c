/* Pseudo-terminals the way glibc's openpty() and posix_openpt() make them
 * (Python's os.openpty and pty.fork, script(1), expect): /dev/ptmx, then
 * ioctls TIOCGPTN (ptsname), TIOCSPTLCK (unlockpt), TIOCGPTLCK and
 * TIOCGPTPEER (the peer without a path lookup), and FIOCLEX/FIONCLEX (how
 * CPython sets close-on-exec); forkpty()'s child on its new controlling
 * terminal (login_tty: setsid, TIOCSCTTY), tcdrain/tcflush/tcflow.  Prints only what is the same on any Linux:
 * no pty numbers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void relay(int from, int to, const char *what)
{
    char buf[64];
    if (write(from, what, strlen(what)) < 0)
        perror("write");
    ssize_t n = read(to, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    for (char *c = buf; *c; c++)     /* the line discipline's \r made visible */
        if (*c == '\r')
            *c = '^';
    printf("read %zd: %s", n, buf);
}

int main(void)
{
    int m, s;
    char name[64];
    if (openpty(&m, &s, name, NULL, NULL) != 0) {
        printf("openpty: %s\n", strerror(errno));
        return 1;
    }
    printf("openpty ok, slave is a tty: %d, name under /dev/pts/: %d\n", isatty(s),
           strncmp(name, "/dev/pts/", 9) == 0);
    struct termios t;
    tcgetattr(s, &t);
    t.c_lflag &= ~ECHO;                    /* what the master writes is not sent back */
    tcsetattr(s, TCSANOW, &t);
    relay(s, m, "slave to master\n");      /* ONLCR: \n becomes \r\n */
    relay(m, s, "master to slave\n");      /* canonical mode: one line */
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    relay(s, m, "raw\n");
    close(s);
    close(m);

    m = posix_openpt(O_RDWR | O_NOCTTY);
    int locked = -1, n = -1;
    ioctl(m, TIOCGPTLCK, &locked);
    printf("posix_openpt: %d, locked before unlockpt: %d\n", m >= 0, locked);
    printf("grantpt %d unlockpt %d\n", grantpt(m), unlockpt(m));
    ioctl(m, TIOCGPTLCK, &locked);
    printf("locked after unlockpt: %d\n", locked);
    printf("TIOCGPTN agrees with ptsname: %d\n",
           ioctl(m, TIOCGPTN, &n) == 0 && snprintf(name, sizeof name, "/dev/pts/%d", n) > 0 &&
           strcmp(name, ptsname(m)) == 0);
    int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    printf("TIOCGPTPEER: a tty %d, close-on-exec %d\n", isatty(peer), fcntl(peer, F_GETFD) & FD_CLOEXEC);
    s = open(ptsname(m), O_RDWR | O_NOCTTY);
    relay(peer, m, "from the peer\n");
    relay(s, m, "from the path\n");

    int r = ioctl(s, FIOCLEX);
    printf("FIOCLEX %d: %d, ", r, fcntl(s, F_GETFD) & FD_CLOEXEC);
    r = ioctl(s, FIONCLEX);
    printf("FIONCLEX %d: %d\n", r, fcntl(s, F_GETFD) & FD_CLOEXEC);
    int fd = open("/dev/null", O_RDONLY);
    r = ioctl(fd, TIOCGPTN, &n);
    printf("TIOCGPTN on /dev/null: %d %s\n", r, strerror(errno));

    /* a child in a new session whose controlling terminal is the pty */
    fflush(stdout);
    pid_t pid = forkpty(&m, NULL, NULL, NULL);
    if (pid == 0) {
        pid_t sid = 0;
        ioctl(0, TIOCGSID, &sid);
        printf("child: stdin a tty %d, session leader %d, TIOCGSID %d, foreground %d\n",
               isatty(0), getsid(0) == getpid(), sid == getpid(), tcgetpgrp(0) == getpgrp());
        fflush(stdout);
        tcdrain(1);
        _exit(3);
    }
    char buf[256];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof buf - 1 && (k = read(m, buf + got, sizeof buf - 1 - got)) > 0)
        got += k;                           /* EIO once the child has gone */
    buf[got] = 0;
    for (char *c = buf; *c; c++)
        if (*c == '\r')
            *c = '^';
    int status;
    waitpid(pid, &status, 0);
    printf("forkpty: %s", buf);
    printf("forkpty child exit %d\n", WEXITSTATUS(status));

    int q = -1, fl = tcflush(s, TCIOFLUSH), off = tcflow(s, TCOOFF), on = tcflow(s, TCOON);
    r = ioctl(s, TIOCOUTQ, &q);
    printf("tcflush %d tcflow %d %d TIOCOUTQ %d %d\n", fl, off, on, r, q);
    return 0;
}
