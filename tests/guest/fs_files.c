/* File I/O in a directory given as argv[1]: openat/write/lseek/read/fstat,
 * newfstatat on the generic struct stat, getdents64, rename, unlink,
 * mkdir, faccessat, getcwd/chdir, readlinkat(/proc/self/exe), dup3, fcntl. */
#include "mini.h"

#define AT_FDCWD -100
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_DIRECTORY 040000

/* asm-generic struct stat: 128 bytes, 32-bit mode and nlink. */
struct kstat {
    unsigned long st_dev, st_ino;
    unsigned int st_mode, st_nlink, st_uid, st_gid;
    unsigned long st_rdev, pad1;
    long st_size;
    int st_blksize, pad2;
    long st_blocks, st_atime, st_atime_nsec, st_mtime, st_mtime_nsec, st_ctime, st_ctime_nsec;
    unsigned int unused4, unused5;
};

static char path[512];
static const char *join(const char *dir, const char *name)
{
    size_t n = slen(dir);
    memcpy(path, dir, n);
    path[n] = '/';
    memcpy(path + n + 1, name, slen(name) + 1);
    return path;
}

int main(int argc, char **argv, char **envp)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int fd = sys4(NR_openat, AT_FDCWD, join(dir, "a.txt"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    kv("open_ok", fd >= 3);
    kv("write", sys3(NR_write, fd, "0123456789abcdef", 16));
    kv("lseek", sys3(NR_lseek, fd, 4, 0));
    char buf[32];
    kv("read", sys3(NR_read, fd, buf, 6));
    buf[6] = 0;
    out("data="); out(buf); out("\n");
    struct kstat st;
    kv("fstat", sys2(NR_fstat, fd, &st));
    kv("st_size", st.st_size);
    kv("st_mode_reg", (st.st_mode & 0170000) == 0100000);
    kv("st_mode_perm", st.st_mode & 0777);
    kv("st_nlink", st.st_nlink);
    kv("sizeof_stat", sizeof(struct kstat));
    int fd2 = 10;
    kv("dup3", sys3(NR_dup3, fd, fd2, 0));
    kv("fcntl_getfd", sys2(NR_fcntl, fd2, 1));
    kv("close", sys1(NR_close, fd));
    kv("close_dup", sys1(NR_close, fd2));
    kv("close_again_ebadf", sys1(NR_close, fd) == -9);

    kv("mkdirat", sys3(NR_mkdirat, AT_FDCWD, join(dir, "sub"), 0755));
    /* relative to cwd (the repository when tested): no such file there */
    kv("renameat", sys4(NR_renameat, AT_FDCWD, "tcgpy-no-such-file.txt", AT_FDCWD,
                        "tcgpy-no-such-target.txt") == -2);
    char from[512];
    memcpy(from, join(dir, "a.txt"), 512);
    kv("renameat_ok", sys4(NR_renameat, AT_FDCWD, from, AT_FDCWD, join(dir, "sub/b.txt")));
    kv("stat_moved", sys4(NR_newfstatat, AT_FDCWD, join(dir, "sub/b.txt"), &st, 0));
    kv("moved_size", st.st_size);
    kv("stat_missing_enoent", sys4(NR_newfstatat, AT_FDCWD, join(dir, "a.txt"), &st, 0) == -2);
    kv("faccessat_ok", sys3(NR_faccessat, AT_FDCWD, join(dir, "sub/b.txt"), 4));

    int d = sys4(NR_openat, AT_FDCWD, join(dir, "sub"), O_RDONLY | O_DIRECTORY, 0);
    char dents[1024];
    long n = sys3(NR_getdents64, d, dents, sizeof(dents));
    int names = 0, saw_b = 0;
    for (long off = 0; off < n;) {
        unsigned short reclen = *(unsigned short *)(dents + off + 16);
        const char *name = dents + off + 19;
        names++;
        if (seq(name, "b.txt")) saw_b = dents[off + 18] == 8;   /* DT_REG */
        off += reclen;
    }
    kv("dirents", names);
    kv("saw_b_reg", saw_b);
    kv("getdents_end", sys3(NR_getdents64, d, dents, sizeof(dents)));
    sys1(NR_close, d);

    kv("unlink", sys3(NR_unlinkat, AT_FDCWD, join(dir, "sub/b.txt"), 0));
    kv("rmdir", sys3(NR_unlinkat, AT_FDCWD, join(dir, "sub"), 0x200));
    kv("chdir", sys1(NR_chdir, dir));
    char cwd[512];
    long cl = sys2(NR_getcwd, cwd, sizeof(cwd));
    kv("getcwd_len_ok", cl == (long)slen(cwd) + 1);
    char exe[512];
    long el = sys4(NR_readlinkat, AT_FDCWD, "/proc/self/exe", exe, sizeof(exe));
    if (el > 0 && el < (long)sizeof(exe)) exe[el] = 0;
    kv("readlink_exe_ok", el > 8 && seq(exe + el - 8, "fs_files"));
    kv("open_enoent", sys4(NR_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY, 0) == -2);
    return 0;
}
