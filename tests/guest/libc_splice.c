/* splice(2) as shutil, cat and zero-copy servers use it (CPython's
 * os.splice): file to pipe with an offset the call advances, pipe to file,
 * SPLICE_F_NONBLOCK on an empty pipe, EINVAL without a pipe, and a blocking
 * splice from an empty pipe that another thread fills later (the caller
 * waits; the other thread runs meanwhile).  tee(2): pipe to pipe leaving
 * the input unread, EAGAIN, EINVAL, EPIPE, and a blocking tee another
 * thread ends.  vmsplice(2): an iovec array into a pipe, out of one (as
 * readv), EAGAIN, EPIPE, and a blocking vmsplice another thread ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int late[2];

static void *fill_later(void *arg)
{
    usleep(100 * 1000);
    if (write(late[1], "late data", 9) != 9)
        perror("write");
    return NULL;
}

int main(void)
{
    char path[] = "/tmp/tcgpy-spliceXXXXXX", buf[64];
    int f = mkstemp(path);
    unlink(path);
    if (write(f, "0123456789abcdef", 16) != 16)
        return 1;
    int p[2];
    pipe(p);
    loff_t off = 4;
    ssize_t n = splice(f, &off, p[1], NULL, 6, 0);
    n = n < 0 ? n : read(p[0], buf, sizeof buf);
    printf("file to pipe: %zd '%.*s', offset now %lld\n", n, (int)(n > 0 ? n : 0), buf, (long long)off);

    if (write(p[1], "into the file", 13) != 13)
        return 1;
    off = 2;
    n = splice(p[0], NULL, f, &off, 64, 0);
    ssize_t r = pread(f, buf, sizeof buf, 0);
    printf("pipe to file: %zd '%.*s', offset now %lld\n", n, (int)(r > 0 ? r : 0), buf, (long long)off);

    errno = 0;
    n = splice(p[0], NULL, f, NULL, 8, SPLICE_F_NONBLOCK);
    printf("empty pipe, SPLICE_F_NONBLOCK: %zd %s\n", n, strerror(errno));
    int g = dup(f);
    errno = 0;
    n = splice(f, NULL, g, NULL, 8, 0);
    printf("no pipe: %zd %s\n", n, strerror(errno));

    pipe(late);
    pthread_t t;
    pthread_create(&t, NULL, fill_later, NULL);
    off = 0;
    n = splice(late[0], NULL, f, &off, 64, 0);
    pthread_join(t, NULL);
    r = pread(f, buf, 9, 0);
    printf("blocking splice: %zd '%.*s'\n", n, (int)(r > 0 ? r : 0), buf);

    /* tee */
    int a[2], b[2];
    pipe(a);
    pipe(b);
    if (write(a[1], "hello tee", 9) != 9)
        return 1;
    n = tee(a[0], b[1], 64, 0);
    r = read(b[0], buf, sizeof buf);
    printf("tee: %zd, copy '%.*s'", n, (int)(r > 0 ? r : 0), buf);
    r = read(a[0], buf, sizeof buf);
    printf(", input still '%.*s'\n", (int)(r > 0 ? r : 0), buf);
    errno = 0;
    n = tee(a[0], b[1], 64, SPLICE_F_NONBLOCK);
    printf("tee from an empty pipe, SPLICE_F_NONBLOCK: %zd %s\n", n, strerror(errno));
    errno = 0;
    n = tee(f, b[1], 64, 0);
    printf("tee from a file: %zd %s\n", n, strerror(errno));
    close(late[0]);
    close(late[1]);
    pipe(late);
    pthread_create(&t, NULL, fill_later, NULL);
    n = tee(late[0], b[1], 64, 0);
    pthread_join(t, NULL);
    r = read(b[0], buf, sizeof buf);
    printf("blocking tee: %zd '%.*s'\n", n, (int)(r > 0 ? r : 0), buf);
    if (read(late[0], buf, sizeof buf) != 9)      /* tee left it there: empty the pipe again */
        return 1;

    /* vmsplice */
    char one[] = "vm", two[] = "splice";
    struct iovec in[2] = {{one, 2}, {two, 6}};
    n = vmsplice(b[1], in, 2, 0);
    r = read(b[0], buf, sizeof buf);
    printf("vmsplice into a pipe: %zd '%.*s'\n", n, (int)(r > 0 ? r : 0), buf);
    char x[4], y[16];
    struct iovec out[2] = {{x, sizeof x}, {y, sizeof y}};
    if (write(b[1], "readside", 8) != 8)
        return 1;
    memset(y, 0, sizeof y);
    n = vmsplice(b[0], out, 2, 0);
    printf("vmsplice out of a pipe: %zd '%.4s' '%s'\n", n, x, y);
    errno = 0;
    n = vmsplice(b[0], out, 2, SPLICE_F_NONBLOCK);
    printf("vmsplice out of an empty pipe, SPLICE_F_NONBLOCK: %zd %s\n", n, strerror(errno));
    pthread_create(&t, NULL, fill_later, NULL);
    memset(y, 0, sizeof y);
    n = vmsplice(late[0], out, 2, 0);
    pthread_join(t, NULL);
    printf("blocking vmsplice: %zd '%.4s' '%s'\n", n, x, y);

    signal(SIGPIPE, SIG_IGN);
    close(b[0]);
    errno = 0;
    n = vmsplice(b[1], in, 2, 0);
    printf("vmsplice without a reader: %zd %s\n", n, strerror(errno));
    if (write(a[1], "x", 1) != 1)
        return 1;
    errno = 0;
    n = tee(a[0], b[1], 64, 0);
    printf("tee without a reader: %zd %s\n", n, strerror(errno));
    return 0;
}
