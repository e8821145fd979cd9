/* splice(2) as shutil, cat and zero-copy servers use it (CPython's
 * os.splice): file to pipe with an offset the call advances, pipe to file,
 * SPLICE_F_NONBLOCK on an empty pipe, EINVAL without a pipe, and a blocking
 * splice from an empty pipe that another thread fills later (the caller
 * waits; the other thread runs meanwhile). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    return 0;
}
