/* fork + pipe + waitpid, posix_spawn, signal handler with siglongjmp, raise. */
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static sigjmp_buf env;
static void on_segv(int sig) { siglongjmp(env, sig); }
static volatile int usr1;
static void on_usr1(int sig) { usr1 = sig; }

int main(int argc, char **argv)
{
    if (argc > 1) { printf("spawned: %s\n", argv[1]); return 5; }
    int fds[2];
    pipe(fds);
    pid_t pid = fork();
    if (pid == 0) { write(fds[1], "hi from child", 13); _exit(9); }
    char buf[32] = {0};
    read(fds[0], buf, sizeof buf - 1);
    int st;
    waitpid(pid, &st, 0);
    printf("read '%s' status %d\n", buf, WEXITSTATUS(st));
    char *av[] = {argv[0], "child-arg", NULL};
    if (posix_spawn(&pid, argv[0], NULL, NULL, av, environ) == 0) {
        waitpid(pid, &st, 0);
        printf("posix_spawn status %d\n", WEXITSTATUS(st));
    }
    signal(SIGSEGV, on_segv);
    int r = sigsetjmp(env, 1);
    if (r == 0) *(volatile int *)0 = 1;
    printf("recovered from signal %d\n", r);
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    printf("usr1 handler saw %d\n", usr1);
    fflush(stdout);
    return 0;
}
