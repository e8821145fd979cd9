/* vfork and posix_spawn need the child to share the parent's memory
 * (CLONE_VM|CLONE_VFORK): a failed exec's errno reaches posix_spawn's
 * caller, and a vfork child's stores are the parent's.  Compared with the
 * same source built for the host: qemu-aarch64 7.2 differs here (it turns
 * CLONE_VFORK into fork: posix_spawn returns 0 and the child exits 127). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void reap(const char *what)
{
    int st = 0;
    pid_t w = waitpid(-1, &st, 0);
    if (w > 0)
        printf("%s: a child exited %d\n", what, WEXITSTATUS(st));
    else
        printf("%s: no child (%s)\n", what, strerror(errno));
}

int main(void)
{
    pid_t pid = -1;
    char *av[] = {"missing", NULL};
    int r = posix_spawn(&pid, "/nonexistent/tcgpy-prog", NULL, NULL, av, environ);
    printf("posix_spawn missing: %d (%s)\n", r, strerror(r));
    reap("after posix_spawn");
    r = posix_spawnp(&pid, "tcgpy-no-such-program", NULL, NULL, av, environ);
    printf("posix_spawnp missing: %d (%s)\n", r, strerror(r));
    reap("after posix_spawnp");
    /* A host program through posix_spawn (execve of a non-guest binary). */
    char *tv[] = {"true", NULL};
    r = posix_spawn(&pid, "/bin/true", NULL, NULL, tv, environ);
    printf("posix_spawn /bin/true: %d\n", r);
    reap("after /bin/true");
    /* The attributes make the child reset its ids (setresuid/setresgid,
     * as make's posix_spawn does) and its signal mask and dispositions. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_RESETIDS | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    r = posix_spawn(&pid, "/bin/true", NULL, &attr, tv, environ);
    printf("posix_spawn /bin/true with RESETIDS, SETSIGMASK, SETSIGDEF: %d\n", r);
    reap("after /bin/true with attributes");
    posix_spawnattr_destroy(&attr);
    printf("setresuid to the same ids: %d, setreuid: %d, setresgid: %d, setregid: %d\n",
           setresuid(-1, geteuid(), -1), setreuid(-1, -1), setresgid(-1, getegid(), -1), setregid(-1, -1));

    volatile int shared = 1;
    volatile int exec_errno = 0;
    pid = vfork();
    if (pid == 0) {
        shared = 42;
        execl("/nonexistent/tcgpy-prog", "x", (char *)NULL);
        exec_errno = errno;
        _exit(3);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("vfork: child exited %d, stores seen by the parent: %d, %s\n", WEXITSTATUS(st), shared,
           strerror(exec_errno));
    return 0;
}
