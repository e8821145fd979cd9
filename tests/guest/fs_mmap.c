/* Shared mappings: MAP_SHARED file mappings write through to the file and
 * see its later writes, msync/munmap, mappings of read-only and unmappable
 * descriptors, SIGBUS beyond the end of the file (and no SIGBUS once the
 * file has grown), mremap of a file mapping, MADV_DONTNEED on shared pages,
 * and MAP_SHARED|MAP_ANONYMOUS shared with a forked child (private pages
 * not).  argv[1] is a temporary directory. */
#include "mini.h"

enum { NR_ftruncate = 46, NR_pread64 = 67, NR_pwrite64 = 68, NR_msync = 227, NR_madvise = 233 };

#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_TRUNC 01000
#define AT_FDCWD -100
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20
#define MS_ASYNC 1
#define MS_SYNC 4
#define MREMAP_MAYMOVE 1
#define MADV_DONTNEED 4
#define SIGCHLD 17

static char path[256];

static long fork_(void) { return sys5(NR_clone, SIGCHLD, 0, 0, 0, 0); }

static long mmap_(long len, int prot, int flags, int fd, long off)
{
    return sys6(NR_mmap, 0, len, prot, flags, fd, off);
}

static void report(const char *what, int status)
{
    out(what);
    if ((status & 0x7f) == 0) { out(" exited "); out_d((status >> 8) & 0xff); }
    else { out(" killed by "); out_d(status & 0x7f); }
    out("\n");
}

static void show(const char *what, const char *p, int n)
{
    char buf[64];
    for (int i = 0; i < n; i++) buf[i] = p[i] >= ' ' && p[i] < 127 ? p[i] : '.';
    buf[n] = 0;
    out(what); out("=\""); out(buf); out("\"\n");
}

static void file_bytes(const char *what, int fd, long off, int n)
{
    char buf[64];
    long got = sys4(NR_pread64, fd, buf, n, off);
    show(what, buf, got > 0 ? got : 0);
}

static int open_(const char *name, int flags)
{
    int i = 0;
    for (const char *s = path; *s; s++) i++;
    path[i] = '/';
    for (int j = 0; name[j]; j++) path[i + 1 + j] = name[j], path[i + 2 + j] = 0;
    int fd = sys4(NR_openat, AT_FDCWD, path, flags, 0600);
    path[i] = 0;
    return fd;
}

int main(int argc, char **argv, char **envp)
{
    if (argc < 2) return 2;
    for (int i = 0; argv[1][i]; i++) path[i] = argv[1][i];

    int fd = open_("shared", O_RDWR | O_CREAT | O_TRUNC);
    sys3(NR_write, fd, "hello world", 11);
    kv("ftruncate", sys2(NR_ftruncate, fd, 8192));
    char *p = (char *)mmap_(8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    kv("mmap_shared_ok", (long)p > 0);
    show("mapped", p, 11);
    p[0] = 'J';
    file_bytes("file_after_store", fd, 0, 11);
    sys4(NR_pwrite64, fd, "XY", 2, 6);
    show("mapped_after_pwrite", p, 11);
    kv("msync_sync", sys3(NR_msync, p, 8192, MS_SYNC));
    kv("msync_async", sys3(NR_msync, p, 100, MS_ASYNC));
    kv("msync_unaligned", sys3(NR_msync, p + 1, 100, MS_SYNC));
    kv("msync_both", sys3(NR_msync, p, 100, MS_SYNC | MS_ASYNC));

    /* A second mapping of page 1 aliases the first one's page 1. */
    char *q = (char *)mmap_(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    q[0] = 'Q';
    kv("alias_sees_store", p[4096] == 'Q');
    file_bytes("file_page1", fd, 4096, 1);
    kv("munmap", sys2(NR_munmap, q, 4096));

    /* A private mapping's stores stay private. */
    char *r = (char *)mmap_(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    show("private_sees", r, 11);
    r[0] = 'P';
    file_bytes("file_after_private_store", fd, 0, 1);
    sys2(NR_munmap, r, 4096);

    /* MADV_DONTNEED on shared pages keeps them (they are the file's). */
    kv("madvise", sys3(NR_madvise, p, 4096, MADV_DONTNEED));
    show("after_dontneed", p, 11);

    /* A forked child's stores through its copy of the mapping reach us. */
    long pid = fork_();
    if (pid == 0) {
        p[1] = 'C';
        sys_exit_group(0);
    }
    int status = 0;
    sys4(NR_wait4, pid, &status, 0, 0);
    show("after_child_store", p, 11);
    kv("munmap_all", sys2(NR_munmap, p, 8192));
    file_bytes("file_after_munmap", fd, 0, 11);

    /* Read-only, write-only and unmappable descriptors. */
    int ro = open_("shared", O_RDONLY);
    kv("ro_shared_write", mmap_(4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
    char *s = (char *)mmap_(4096, PROT_READ, MAP_SHARED, ro, 0);
    kv("ro_shared_read_ok", (long)s > 0);
    show("ro_mapped", s, 11);
    kv("ro_mprotect_write", sys3(NR_mprotect, s, 4096, PROT_READ | PROT_WRITE));
    sys4(NR_pwrite64, fd, "w", 1, 10);
    show("ro_sees_pwrite", s, 11);
    kv("ro_private_write_ok", mmap_(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0) > 0);
    int wo = open_("shared", O_WRONLY);
    kv("wo_mmap", mmap_(4096, PROT_READ, MAP_SHARED, wo, 0));
    int pfd[2];
    sys2(NR_pipe2, pfd, 0);
    kv("pipe_mmap", mmap_(4096, PROT_READ, MAP_SHARED, pfd[0], 0));
    kv("bad_fd_mmap", mmap_(4096, PROT_READ, MAP_SHARED, 99, 0));
    kv("no_type_mmap", mmap_(4096, PROT_READ, MAP_ANONYMOUS, -1, 0));

    /* Beyond the end of the file: SIGBUS; after the file grows, the page is there. */
    int small = open_("small", O_RDWR | O_CREAT | O_TRUNC);
    sys3(NR_write, small, "tiny", 4);
    char *t = (char *)mmap_(3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, small, 0);
    show("small_mapped", t, 4);
    kv("small_tail_zero", t[4000] == 0);
    pid = fork_();
    if (pid == 0) {
        kv("beyond_eof_read", *(volatile char *)(t + 4096));
        sys_exit_group(0);
    }
    sys4(NR_wait4, pid, &status, 0, 0);
    report("beyond_eof child", status);
    sys2(NR_ftruncate, small, 2 * 4096);
    kv("after_grow_read", *(volatile char *)(t + 4096));
    t[4097] = 'G';
    file_bytes("grown_file", small, 4097, 1);
    pid = fork_();
    if (pid == 0) {
        *(volatile char *)(t + 2 * 4096) = 1;
        sys_exit_group(0);
    }
    sys4(NR_wait4, pid, &status, 0, 0);
    report("still_beyond_eof child", status);

    /* mremap: the moved and grown mapping is still the file. */
    char *u = (char *)mmap_(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    mmap_(4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);   /* likely right below: forces a move */
    char *v = (char *)sys5(NR_mremap, u, 4096, 8192, MREMAP_MAYMOVE, 0);
    kv("mremap_ok", (long)v > 0);
    show("mremap_page0", v, 11);
    kv("mremap_page1", v[4096]);
    v[2] = 'M';
    file_bytes("file_after_mremap_store", fd, 0, 11);

    /* Shared anonymous memory is shared with a forked child; private is not. */
    int *shared = (int *)mmap_(4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int *priv = (int *)mmap_(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    shared[0] = 1;
    priv[0] = 1;
    pid = fork_();
    if (pid == 0) {
        kv("child_sees_shared", shared[0]);
        shared[0] = 42;
        shared[1] = 43;
        priv[0] = 42;
        sys_exit_group(0);
    }
    sys4(NR_wait4, pid, &status, 0, 0);
    report("anon child", status);
    kv("parent_shared0", shared[0]);
    kv("parent_shared1", shared[1]);
    kv("parent_private", priv[0]);
    return 0;
}
