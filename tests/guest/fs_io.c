/* Sockets (socketpair, TCP on loopback, sendmsg/recvmsg), eventfd, epoll
 * (the 16-byte AArch64 epoll_event), ppoll, file-backed mmap, pread/pwrite,
 * readv/writev, ioctl(FIONREAD), ftruncate -- in a directory given as argv[1]. */
#include "mini.h"

enum {
    NR_eventfd2 = 19, NR_epoll_create1 = 20, NR_epoll_ctl = 21, NR_epoll_pwait = 22,
    NR_ftruncate = 46, NR_readv = 65, NR_pread64 = 67, NR_pwrite64 = 68, NR_ppoll = 73,
    NR_socket = 198, NR_socketpair = 199, NR_bind = 200, NR_listen = 201, NR_connect = 203,
    NR_getsockname = 204, NR_sendto = 206, NR_recvfrom = 207, NR_setsockopt = 208,
    NR_getsockopt = 209, NR_shutdown = 210, NR_sendmsg = 211, NR_recvmsg = 212, NR_accept4 = 242,
};

struct iov { void *base; size_t len; };
struct msghdr { void *name; unsigned namelen; struct iov *iov; size_t iovlen; void *control;
                size_t controllen; int flags; };
struct sockaddr_in { unsigned short family, port; unsigned addr; char zero[8]; };
struct epoll_event { unsigned events; unsigned long data; };   /* not packed on AArch64 */
struct pollfd { int fd; short events, revents; };

static char path[512];

int main(int argc, char **argv, char **envp)
{
    int sv[2];
    kv("socketpair", sys4(NR_socketpair, 1, 1, 0, sv));
    kv("sendto", sys6(NR_sendto, sv[0], (long)"ping", 4, 0, 0, 0));
    char buf[64];
    kv("recvfrom", sys6(NR_recvfrom, sv[1], (long)buf, sizeof(buf), 0, 0, 0));
    char a[3] = "ab", b[4] = "cde";
    struct iov iov[2] = { { a, 2 }, { b, 3 } };
    struct msghdr mh = { 0, 0, iov, 2, 0, 0, 0 };
    kv("sendmsg", sys3(NR_sendmsg, sv[0], &mh, 0));
    char r1[2], r2[8];
    struct iov riov[2] = { { r1, 2 }, { r2, 8 } };
    struct msghdr rh = { 0, 0, riov, 2, 0, 0, 0 };
    kv("recvmsg", sys3(NR_recvmsg, sv[1], &rh, 0));
    kv("recvmsg_split_ok", r1[0] == 'a' && r1[1] == 'b' && r2[0] == 'c' && r2[2] == 'e');

    int ls = sys3(NR_socket, 2, 1, 0);
    int one = 1;
    kv("setsockopt", sys5(NR_setsockopt, ls, 1, 2, &one, 4));     /* SO_REUSEADDR */
    struct sockaddr_in sa = { 2, 0, 0x0100007f, {0} };
    kv("bind", sys3(NR_bind, ls, &sa, sizeof(sa)));
    kv("listen", sys2(NR_listen, ls, 4));
    unsigned salen = sizeof(sa);
    kv("getsockname", sys3(NR_getsockname, ls, &sa, &salen));
    kv("port_assigned", sa.port != 0 && salen == 16);
    int cs = sys3(NR_socket, 2, 1, 0);
    kv("connect", sys3(NR_connect, cs, &sa, sizeof(sa)));
    struct sockaddr_in peer;
    unsigned plen = sizeof(peer);
    int as = sys4(NR_accept4, ls, &peer, &plen, 0);
    kv("accept4_ok", as > 0 && peer.family == 2 && peer.addr == 0x0100007f);
    kv("tcp_send", sys6(NR_sendto, cs, (long)"over tcp", 8, 0, 0, 0));
    long n = sys6(NR_recvfrom, as, (long)buf, sizeof(buf), 0, 0, 0);
    buf[n > 0 ? n : 0] = 0;
    out("tcp got: "); out(buf); out("\n");
    int type = 0;
    unsigned tlen = 4;
    kv("getsockopt_type", sys5(NR_getsockopt, as, 1, 3, &type, &tlen) == 0 ? type : -1);
    kv("shutdown", sys2(NR_shutdown, cs, 1));
    kv("eof_after_shutdown", sys6(NR_recvfrom, as, (long)buf, sizeof(buf), 0, 0, 0));

    int efd = sys2(NR_eventfd2, 0, 0);
    int ep = sys1(NR_epoll_create1, 0);
    struct epoll_event ev = { 1, 0x1122334455667788UL }, got[4];
    kv("epoll_ctl", sys4(NR_epoll_ctl, ep, 1, efd, &ev));
    kv("epoll_idle", sys6(NR_epoll_pwait, ep, (long)got, 4, 0, 0, 8));
    unsigned long v = 3;
    kv("eventfd_write", sys3(NR_write, efd, &v, 8));
    kv("epoll_ready", sys6(NR_epoll_pwait, ep, (long)got, 4, 0, 0, 8));
    kv("epoll_data_ok", got[0].data == 0x1122334455667788UL && got[0].events == 1);
    kv("eventfd_read", sys3(NR_read, efd, &v, 8));
    kv("eventfd_value", v);

    int pfd[2];
    sys2(NR_pipe2, pfd, 0);
    struct pollfd pf = { pfd[0], 1, 0 };
    struct { long s, ns; } zero = { 0, 0 };
    kv("ppoll_empty", sys5(NR_ppoll, &pf, 1, &zero, 0, 8));
    sys3(NR_write, pfd[1], "xyz", 3);
    kv("ppoll_ready", sys5(NR_ppoll, &pf, 1, &zero, 0, 8));
    kv("revents", pf.revents);
    int avail = 0;
    kv("fionread", sys3(NR_ioctl, pfd[0], 0x541b, &avail));
    kv("avail", avail);

    const char *dir = argc > 1 ? argv[1] : ".";
    size_t dl = slen(dir);
    memcpy(path, dir, dl);
    memcpy(path + dl, "/m.bin", 7);
    int fd = sys4(NR_openat, -100, path, 0102 /* O_CREAT|O_RDWR */, 0600);
    kv("pwrite", sys4(NR_pwrite64, fd, "mapped file!", 12, 4096));
    char *m = (char *)sys6(NR_mmap, 0, 8192, 1, 2 /* MAP_PRIVATE */, fd, 0);
    kv("file_mmap_ok", (long)m > 0 && m[0] == 0 && m[4096] == 'm' && m[4107] == '!');
    char *m2 = (char *)sys6(NR_mmap, 0, 4096, 1, 2, fd, 4096);
    kv("file_mmap_offset_ok", (long)m2 > 0 && m2[0] == 'm');
    n = sys4(NR_pread64, fd, buf, 6, 4096 + 7);
    kv("pread", n);
    buf[n > 0 ? n : 0] = 0;
    out("pread got: "); out(buf); out("\n");
    kv("ftruncate", sys2(NR_ftruncate, fd, 100));
    char x1[4], x2[4];
    struct iov rv[2] = { { x1, 4 }, { x2, 4 } };
    sys3(NR_lseek, fd, 0, 0);
    sys3(NR_write, fd, "12345678", 8);
    sys3(NR_lseek, fd, 0, 0);
    kv("readv", sys3(NR_readv, fd, rv, 2));
    kv("readv_ok", x1[0] == '1' && x2[3] == '8');
    struct kst { unsigned long dev, ino; unsigned mode, nlink, uid, gid; unsigned long rdev, pad; long size; } st;
    char stbuf[128];
    sys2(NR_fstat, fd, stbuf);
    memcpy(&st, stbuf, sizeof(st));
    kv("size_after_truncate", st.size);
    sys3(NR_unlinkat, -100, path, 0);
    return 0;
}
