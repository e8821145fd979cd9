/* A guest that probes its emulator as a hostile program would (issue 19):
 *   proc       /proc must describe this program, however the path is spelled,
 *              and /proc/self/mem must reach only its own memory
 *   fds        closing, reusing and dup2-ing onto descriptors it did not open
 *   fdmap      dup2 onto every number while a shared file mapping is alive,
 *              then unmap it: every descriptor it made stays open
 *   sigign     signals ignored by whoever started it stay ignored (execve(2)),
 *              also across its own execve
 * Every line printed is a verdict that is the same under a kernel, so the
 * expected output is fixed (tests/test_linux_hostile.py), and the same
 * source built for the host must print it too. */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static char *slurp(const char *path, int dirfd, size_t *len)
{
    int fd = openat(dirfd, path, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0)
            break;
        n += r;
    }
    close(fd);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static int foreign(const char *text)
{
    return strstr(text, "python") || strstr(text, "tcgpy") || strstr(text, "llvm");
}

/* Does a maps-format text have a line covering addr with these permissions? */
static int maps_cover(const char *maps, uintptr_t addr, const char *perms)
{
    for (const char *l = maps; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long lo, hi;
        char p[5];
        if (sscanf(l, "%lx-%lx %4s", &lo, &hi, p) == 3 && lo <= addr && addr < hi)
            return strncmp(p, perms, strlen(perms)) == 0;
    }
    return 0;
}

static int counter = 41;
static const char rodata[] = "read-only data";

static void check_maps(const char *how, const char *maps)
{
    int local;
    printf("maps via %s: %s\n", how,
           !maps ? "cannot open"
           : foreign(maps) ? "shows the emulator"
           : !maps_cover(maps, (uintptr_t)&check_maps, "r-x") ? "no text line"
           : !maps_cover(maps, (uintptr_t)&counter, "rw") ? "no data line"
           : !maps_cover(maps, (uintptr_t)&local, "rw") ? "no stack line"
           : "ok");
}

static void proc_maps(void)
{
    char path[128], cwd[PATH_MAX];
    check_maps("/proc/self/maps", slurp("/proc/self/maps", AT_FDCWD, NULL));
    check_maps("/proc//self//maps", slurp("/proc//self//maps", AT_FDCWD, NULL));
    check_maps("/proc/self/../self/./maps", slurp("/proc/self/../self/./maps", AT_FDCWD, NULL));
    check_maps("/proc/thread-self/maps", slurp("/proc/thread-self/maps", AT_FDCWD, NULL));
    snprintf(path, sizeof path, "/proc/%d/maps", getpid());
    check_maps("/proc/<pid>/maps", slurp(path, AT_FDCWD, NULL));
    snprintf(path, sizeof path, "/proc/self/task/%ld/maps", (long)syscall(SYS_gettid));
    check_maps("/proc/self/task/<tid>/maps", slurp(path, AT_FDCWD, NULL));
    check_maps("/proc/self/smaps", slurp("/proc/self/smaps", AT_FDCWD, NULL));

    int procdir = open("/proc", O_RDONLY | O_DIRECTORY);
    check_maps("openat(/proc, self/maps)", slurp("self/maps", procdir, NULL));
    int selfdir = open("/proc/self", O_RDONLY | O_DIRECTORY);
    check_maps("openat(/proc/self, maps)", slurp("maps", selfdir, NULL));
    close(procdir);

    char link[] = "/tmp/tcgpy-hostile-XXXXXX";
    int tmp = mkstemp(link);
    close(tmp);
    unlink(link);
    if (symlink("/proc/self/maps", link) == 0) {
        check_maps("a symlink", slurp(link, AT_FDCWD, NULL));
        unlink(link);
    }
    if (getcwd(cwd, sizeof cwd) && chdir("/proc/self") == 0) {
        check_maps("chdir(/proc/self) + maps", slurp("maps", AT_FDCWD, NULL));
        check_maps("chdir(/proc/self) + ../self/maps", slurp("../self/maps", AT_FDCWD, NULL));
        if (chdir(cwd) != 0)
            printf("chdir back failed\n");
    }
    size_t n = 0;
    char *rollup = slurp("smaps_rollup", selfdir, &n);
    printf("smaps_rollup: %s\n", rollup && n && !foreign(rollup) ? "ok" : "wrong");
    close(selfdir);
}

static int mem_open(const char *path)
{
    return open(path, O_RDWR);
}

static void proc_mem(void)
{
    const char *paths[] = {"/proc/self/mem", "/proc//self/mem", "/proc/thread-self/mem", NULL};
    for (const char **p = paths; *p; p++) {
        int fd = mem_open(*p);
        int v = 0, ok = fd >= 0 && pread(fd, &v, sizeof v, (off_t)(uintptr_t)&counter) == sizeof v && v == counter;
        int nv = counter + 1;
        ok = ok && pwrite(fd, &nv, sizeof nv, (off_t)(uintptr_t)&counter) == sizeof nv && counter == nv;
        printf("mem via %s: %s\n", *p, ok ? "ok" : "wrong");
        close(fd);
    }
    int fd = mem_open("/proc/self/mem");
    char buf[16];
    /* the debugger's view: a write reaches a read-only page (FOLL_FORCE) */
    char patch = 'R';
    int w = pwrite(fd, &patch, 1, (off_t)(uintptr_t)rodata);
    printf("mem write to read-only data: %s\n", w == 1 && ((volatile const char *)rodata)[0] == 'R' ? "written" : "refused");
    /* unmapped guest addresses: the page below the program, and one far above */
    errno = 0;
    ssize_t r = pread(fd, buf, sizeof buf, 0x1000);
    printf("mem read of unmapped low page: %zd %s\n", r, r < 0 ? strerror(errno) : "");
    errno = 0;
    r = pwrite(fd, buf, sizeof buf, (off_t)0x7ff000000000);
    printf("mem write far away: %zd %s\n", r, r < 0 ? strerror(errno) : "");
    /* sequential access follows the file position */
    lseek(fd, (off_t)(uintptr_t)rodata + 1, SEEK_SET);
    r = read(fd, buf, 4);
    printf("mem read at position: %s\n", r == 4 && memcmp(buf, "ead-", 4) == 0 ? "ok" : "wrong");
    close(fd);
}

static void proc_identity(int argc, char **argv)
{
    size_t n;
    char want[4096], *p = want;
    for (int i = 0; i < argc; i++)
        p += sprintf(p, "%s", argv[i]) + 1;
    char *cmdline = slurp("/proc/self/cmdline", AT_FDCWD, &n);
    printf("cmdline: %s\n", cmdline && n == (size_t)(p - want) && memcmp(cmdline, want, n) == 0 ? "ok" : "wrong");

    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    char comm[16];
    snprintf(comm, sizeof comm, "%s", base);
    char *c = slurp("/proc/self/comm", AT_FDCWD, NULL);
    printf("comm: %s\n", c && strncmp(c, comm, strlen(comm)) == 0 && c[strlen(comm)] == '\n' ? "ok" : "wrong");

    char *st = slurp("/proc/self/stat", AT_FDCWD, NULL);
    char head[64];
    snprintf(head, sizeof head, "%d (%s) ", getpid(), comm);
    int ppid = -1;
    if (st && strncmp(st, head, strlen(head)) == 0)
        sscanf(st + strlen(head), "%*c %d", &ppid);
    printf("stat: %s\n", ppid == getppid() && !foreign(st) ? "ok" : "wrong");

    char *status = slurp("/proc/self/status", AT_FDCWD, NULL);
    char name[64], pidline[64];
    snprintf(name, sizeof name, "Name:\t%s\n", comm);
    snprintf(pidline, sizeof pidline, "\nPid:\t%d\n", getpid());
    printf("status: %s\n", status && strncmp(status, name, strlen(name)) == 0 && strstr(status, pidline)
                           && !foreign(status) ? "ok" : "wrong");

    char *env = slurp("/proc/self/environ", AT_FDCWD, &n);
    p = want;
    for (char **e = environ; *e && p < want + sizeof want - 512; e++)
        p += sprintf(p, "%s", *e) + 1;
    printf("environ: %s\n", env && n >= (size_t)(p - want) && memcmp(env, want, p - want) == 0 ? "ok" : "wrong");

    unsigned long *auxv = (unsigned long *)slurp("/proc/self/auxv", AT_FDCWD, &n);
    int found = 0;
    for (size_t i = 0; auxv && i + 1 < n / sizeof *auxv; i += 2)
        if (auxv[i] == AT_ENTRY && auxv[i + 1] == getauxval(AT_ENTRY))
            found = 1;
    printf("auxv: %s\n", found ? "ok" : "wrong");

    char link[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", link, sizeof link - 1);
    struct stat a, b;
    int same = len > 0 && (link[len] = 0, stat(link, &a) == 0) && stat("/proc/self/exe", &b) == 0
               && a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size;
    printf("exe link: %s\n", same && !foreign(link) ? "ok" : "wrong");
    Elf64_Ehdr eh;
    int fd = open("/proc//self/exe", O_RDONLY);
#ifdef __aarch64__
    const int machine = EM_AARCH64;
#else
    const int machine = EM_X86_64;
#endif
    printf("exe contents: %s\n", fd >= 0 && read(fd, &eh, sizeof eh) == sizeof eh && eh.e_machine == machine
                                 ? "ok" : "wrong");
    close(fd);
}

/* The descriptors listed in /proc/self/fd, as a bit mask of 0..63 and a count above. */
static void list_fds(const char *when)
{
    DIR *d = opendir("/proc/self/fd");
    int self = d ? dirfd(d) : -1, others = 0;
    unsigned long long low = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int n = atoi(e->d_name);
        if (n == self)
            continue;
        if (n < 64)
            low |= 1ULL << n;
        else
            others++;
    }
    if (d)
        closedir(d);
    printf("fds %s: mask %#llx, %d above 63\n", when, low, others);
}

static int do_proc(int argc, char **argv)
{
    proc_maps();
    proc_mem();
    proc_identity(argc, argv);
    list_fds("at start");
    return 0;
}

static int do_fds(void)
{
    fflush(stdout);
    list_fds("at start");
    /* close everything a careless daemon closes, stderr first */
    close(2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int fd = open("/dev/null", O_WRONLY);
    printf("reopened: %d\n", fd);
    /* dup2 onto every number up to 300 (shells use `exec 200>file`) */
    int bad = 0;
    for (int n = 3; n < 300; n++)
        if (dup2(1, n) != n)
            bad++;
    printf("dup2 failures: %d\n", bad);
    list_fds("after dup2");
    for (int n = 3; n < 300; n++)
        close(n);
    /* and the guest's own descriptors still work */
    int p[2];
    if (pipe(p) == 0) {
        write(p[1], "x", 1);
        char c = 0;
        read(p[0], &c, 1);
        printf("pipe: %d %d %c\n", p[0], p[1], c);
    }
    list_fds("at end");
    return 0;
}

static int do_fdmap(void)
{
    /* An emulator keeps a descriptor of a shared file mapping's file
     * somewhere above the guest's usual numbers; dup2 onto all of them
     * while it is alive, and when it goes, the guest's must not go too. */
    FILE *f = tmpfile();
    if (f == NULL || ftruncate(fileno(f), 4096) != 0)
        return 1;
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(f), 0);
    if (p == MAP_FAILED)
        return 1;
    p[0] = 'x';
    int bad = 0;
    for (int n = 10; n < 1000; n++)
        if (dup2(1, n) != n)
            bad++;
    printf("dup2 failures: %d\n", bad);
    munmap(p, 4096);
    fclose(f);
    int open_fds = 0;
    for (int n = 10; n < 1000; n++)
        if (fcntl(n, F_GETFD) >= 0)
            open_fds++;
    printf("still open after munmap: %d\n", open_fds);
    return 0;
}

static const char *disposition(int sig)
{
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler == SIG_IGN ? "ignored" : sa.sa_handler == SIG_DFL ? "default" : "caught";
}

static int do_sigign(int argc, char **argv)
{
    printf("SIGHUP %s, SIGINT %s, SIGTERM %s, SIGUSR1 %s\n", disposition(SIGHUP), disposition(SIGINT),
           disposition(SIGTERM), disposition(SIGUSR1));
    fflush(stdout);
    if (strcmp(disposition(SIGHUP), "ignored") == 0)
        kill(getpid(), SIGHUP);
    if (strcmp(disposition(SIGINT), "ignored") == 0)
        kill(getpid(), SIGINT);
    printf("survived\n");
    if (argc > 2)
        return 0;
    /* ignored signals survive our own execve as well; caught ones reset */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_DFL);
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "sigign", "again", (char *)NULL);
    printf("execl: %s\n", strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2 && strcmp(argv[1], "sigign") == 0)
        printf("after execve: SIGPIPE %s\n", disposition(SIGPIPE));
    if (argc > 1 && strcmp(argv[1], "proc") == 0)
        return do_proc(argc, argv);
    if (argc > 1 && strcmp(argv[1], "fds") == 0)
        return do_fds();
    if (argc > 1 && strcmp(argv[1], "fdmap") == 0)
        return do_fdmap();
    if (argc > 1 && strcmp(argv[1], "sigign") == 0)
        return do_sigign(argc, argv);
    fprintf(stderr, "usage: libc_hostile proc|fds|fdmap|sigign\n");
    return 2;
}
