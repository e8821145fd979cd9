/* The program the x86-64 gdbstub tests debug (tests/test_gdbstub_x86_64.py),
 * the AArch64 and RISC-V tests' ../gdb_demo.c with glibc in place of
 * ../mini.h (whose syscall numbers are asm-generic's): built static with
 * -g -O0 and not stripped, so that gdb finds main, frames, lines and
 * variables.  `gdb_demo` exits with status 8 after printing a line;
 * `gdb_demo segv` stores through a null pointer first. */
#include <string.h>
#include <unistd.h>

volatile long counter;                 /* what a (software) watchpoint watches */
static const char greeting[] = "hello from gdb_demo";

static long leaf(long n)
{
    counter = counter + n;
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

int main(int argc, char **argv)
{
    long r = outer(argc);              /* argc 1: leaf(3) sets counter to 3; r is 8 */
    if (argc > 1 && strcmp(argv[1], "segv") == 0)
        *(volatile int *)16 = 1;
    write(1, greeting, strlen(greeting));
    write(1, "\n", 1);
    return (int)r;
}
