/* glibc hello: argv, environment, exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    printf("hello, world\n");
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s (%zu)\n", i, argv[i], strlen(argv[i]));
    const char *v = getenv("TCGPY_TEST_VAR");
    printf("TCGPY_TEST_VAR=%s\n", v ? v : "(unset)");
    return argc > 1 ? atoi(argv[1]) : 0;
}
