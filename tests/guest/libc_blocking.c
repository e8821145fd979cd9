/* Threads that block in host syscalls must not stop the others (tcgpy runs
 * guest threads on one CPU): read on an empty pipe while another thread
 * computes and then writes, a writer stopped by a full pipe, poll without a
 * timeout, recv on a socketpair, a write to a socketpair far larger than
 * its buffer, waitpid for a slow child, and a poll that times out while
 * another thread runs. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static volatile long spin_result;

static void spin(void)
{
    long x = 0;
    for (long i = 0; i < 2000000; i++) x += i ^ (x >> 3);
    spin_result = x;
}

static void *reader(void *arg)
{
    char buf[64] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    printf("reader got %zd bytes: %s\n", n, buf);
    return NULL;
}

static void *late_writer(void *arg)
{
    spin();
    write(fds[1], "from the worker", 15);
    return NULL;
}

static void *bulk_writer(void *arg)
{
    static char big[300000];
    memset(big, 'x', sizeof big);
    size_t done = 0;
    while (done < sizeof big) {
        ssize_t n = write(fds[1], big + done, sizeof big - done);
        if (n <= 0) break;
        done += n;
    }
    close(fds[1]);
    return (void *)done;
}

static void *poller(void *arg)
{
    struct pollfd p = {fds[0], POLLIN, 0};
    int r = poll(&p, 1, -1);
    printf("poll returned %d revents %s\n", r, p.revents & POLLIN ? "POLLIN" : "-");
    return NULL;
}

static int sv[2];
static void *receiver(void *arg)
{
    char buf[32] = {0};
    ssize_t n = recv(sv[0], buf, sizeof buf - 1, 0);
    printf("recv %zd: %s\n", n, buf);
    return NULL;
}

static int sv2[2];
static void *sock_bulk_writer(void *arg)
{
    static char big[1 << 20];
    memset(big, 'y', sizeof big);
    /* one call, far more than the socket takes: write, or send when arg is set */
    ssize_t n = arg ? send(sv2[1], big, sizeof big, 0) : write(sv2[1], big, sizeof big);
    close(sv2[1]);
    return (void *)n;
}

static void *waiter(void *arg)
{
    int st = 0;
    pid_t pid = (pid_t)(long)arg;
    pid_t w = waitpid(pid, &st, 0);
    printf("waitpid ok %d status %d\n", w == pid, WEXITSTATUS(st));
    return NULL;
}

int main(void)
{
    pthread_t t, u;

    pipe(fds);
    pthread_create(&t, NULL, reader, NULL);
    spin();
    write(fds[1], "from main", 9);
    pthread_join(t, NULL);

    pthread_create(&t, NULL, late_writer, NULL);
    char buf[64] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    printf("main got %zd bytes: %s\n", n, buf);
    pthread_join(t, NULL);

    pthread_create(&t, NULL, poller, NULL);
    spin();
    write(fds[1], "p", 1);
    pthread_join(t, NULL);
    read(fds[0], buf, 1);

    pthread_create(&t, NULL, bulk_writer, NULL);
    size_t total = 0;
    for (;;) {
        n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        total += n;
    }
    void *wrote;
    pthread_join(t, &wrote);
    printf("bulk: wrote %zu read %zu\n", (size_t)wrote, total);
    close(fds[0]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_create(&t, NULL, receiver, NULL);
    spin();
    send(sv[1], "over the socket", 15, 0);
    pthread_join(t, NULL);

    for (long use_send = 0; use_send < 2; use_send++) {
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv2);
        pthread_create(&t, NULL, sock_bulk_writer, (void *)use_send);
        static char rbuf[65536];
        total = 0;
        for (;;) {
            n = read(sv2[0], rbuf, sizeof rbuf);
            if (n <= 0) break;
            total += n;
        }
        pthread_join(t, &wrote);
        printf("socket bulk (%s): wrote %zd read %zu\n", use_send ? "send" : "write", (ssize_t)wrote, total);
        close(sv2[0]);
    }

    pid_t pid = fork();
    if (pid == 0) {
        /* long enough that main's spin ends first even on a loaded machine */
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        _exit(6);
    }
    pthread_create(&u, NULL, waiter, (void *)(long)pid);
    spin();
    printf("main computed while the child ran\n");
    pthread_join(u, NULL);

    pipe(fds);
    struct pollfd p = {fds[0], POLLIN, 0};
    pthread_create(&t, NULL, reader, NULL);
    int r = poll(&p, 1, 5);      /* the other thread reads the pipe nobody writes yet */
    printf("short poll %d\n", r);
    write(fds[1], "to the reader", 13);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, late_writer, NULL);
    r = poll(&p, 1, -1);
    printf("long poll %d\n", r);
    pthread_join(t, NULL);
    return 0;
}
