/* The program the gdbstub tests debug (tests/test_gdbstub.py): built with
 * -g -O0 and not stripped, so that gdb finds main, frames, lines and the
 * variable it watches.  `gdb_demo` exits with status 8 after printing a
 * line; `gdb_demo segv` stores through a null pointer first. */
#include "mini.h"

volatile long counter;                 /* the watchpoint's target */
static const char greeting[] = "hello from gdb_demo";

static long leaf(long n)
{
    counter = counter + n;             /* the store the watchpoint sees */
    return counter * 2;
}

static long middle(long n)
{
    return leaf(n + 1) + 1;
}

static long outer(long n)
{
    return middle(n * 2) + 1;
}

int main(int argc, char **argv, char **envp)
{
    long r = outer(argc);              /* argc 1: leaf(3) sets counter to 3; r is 8 */
    if (argc > 1 && seq(argv[1], "segv"))
        *(volatile int *)16 = 1;
    out(greeting);
    out("\n");
    return (int)r;
}
