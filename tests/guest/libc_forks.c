/* Forked children's memory (issue 19: "fork children share what they did
 * not write"):
 *   libc_forks N MS   fork N children that each sleep MS milliseconds and
 *                     exit; the parent waits for them all
 * bench/fork_footprint.py sums the children's PSS while they sleep. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 50;
    long ms = argc > 2 ? atol(argv[2]) : 1000;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            nanosleep(&ts, NULL);
            _exit(0);
        }
    }
    int ok = 0, status;
    while (wait(&status) > 0)
        ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("%d children, %d exited 0\n", n, ok);
    return ok == n ? 0 : 1;
}
