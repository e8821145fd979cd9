/* fork + pipe + wait4, exit statuses and signal deaths of children, vfork
 * (CLONE_VM|CLONE_VFORK), execve of a guest program, getppid. */
#include "mini.h"

#define SIGCHLD 17
#define CLONE_VM 0x100
#define CLONE_VFORK 0x4000

static long fork_(void) { return sys5(NR_clone, SIGCHLD, 0, 0, 0, 0); }

static void report(const char *what, int status)
{
    out(what);
    if ((status & 0x7f) == 0) { out(" exited "); out_d((status >> 8) & 0xff); }
    else { out(" killed by "); out_d(status & 0x7f); }
    out("\n");
}

int main(int argc, char **argv, char **envp)
{
    if (argc > 1 && seq(argv[1], "child")) {
        out("exec'd child: argv[2]="); out(argv[2]); out("\n");
        for (char **e = envp; *e; e++)
            if (sprefix(*e, "TCGPY_EXEC_")) { out("exec'd child env "); out(*e); out("\n"); }
        return 7;
    }
    int fds[2];
    kv("pipe2", sys2(NR_pipe2, fds, 0));
    int parent = sys0(NR_getpid);
    long pid = fork_();
    if (pid == 0) {
        sys1(NR_close, fds[0]);
        kv("child_ppid_ok", sys0(NR_getppid) == parent);
        puts_fd(fds[1], "through the pipe");
        sys_exit_group(42);
    }
    sys1(NR_close, fds[1]);
    char buf[64];
    long n = sys3(NR_read, fds[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = 0;
    out("parent read: "); out(buf); out("\n");
    kv("eof", sys3(NR_read, fds[0], buf, 1));
    int status = 0;
    kv("wait_pid_ok", sys4(NR_wait4, pid, &status, 0, 0) == pid);
    report("child", status);

    pid = fork_();
    if (pid == 0) {
        *(volatile int *)8 = 1;           /* dies of SIGSEGV */
        sys_exit_group(0);
    }
    sys4(NR_wait4, pid, &status, 0, 0);
    report("segv child", status);

    pid = fork_();
    if (pid == 0) {
        sys2(NR_kill, sys0(NR_getpid), 15);
        sys_exit_group(0);
    }
    sys4(NR_wait4, pid, &status, 0, 0);
    report("sigterm child", status);

    static char stack[8192] __attribute__((aligned(16)));
    pid = sys5(NR_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, stack + sizeof(stack), 0, 0, 0);
    if (pid == 0)
        sys_exit_group(3);
    sys4(NR_wait4, pid, &status, 0, 0);
    report("vfork child", status);
    kv("wait_nochild_echild", sys4(NR_wait4, -1, &status, 0, 0) == -10);

    pid = fork_();
    if (pid == 0) {
        char *av[] = { argv[0], "child", "hello exec", 0 };
        char *ev[] = { "TCGPY_EXEC_VAR=yes", 0 };
        sys3(NR_execve, argv[0], av, ev);
        out("execve failed\n");
        sys_exit_group(99);
    }
    sys4(NR_wait4, pid, &status, 0, 0);
    report("exec child", status);
    kv("execve_enoent", sys3(NR_execve, "/nonexistent/prog", 0, 0) == -2);

    pid = fork_();
    if (pid == 0) {
        /* Not a guest ELF: the host runs it. */
        char *av[] = { "sh", "-c", "echo host shell ran; exit 4", 0 };
        char *ev[] = { "PATH=/usr/bin:/bin", 0 };
        sys3(NR_execve, "/bin/sh", av, ev);
        sys_exit_group(98);
    }
    sys4(NR_wait4, pid, &status, 0, 0);
    report("host exec child", status);
    return 0;
}
