/* Pseudo-terminals the way glibc's openpty() and posix_openpt() make them
 * (Python's os.openpty and pty.fork, script(1), expect): /dev/ptmx, then
 * ioctls TIOCGPTN (ptsname), TIOCSPTLCK (unlockpt), TIOCGPTLCK and
 * TIOCGPTPEER (the peer without a path lookup), and FIOCLEX/FIONCLEX (how
 * CPython sets close-on-exec).  Prints only what is the same on any Linux:
 * no pty numbers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
    return 0;
}
