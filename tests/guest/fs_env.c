/* The environment exactly as the guest receives it, one variable a line
   (the emulator must add nothing to what it was given). */
#include "mini.h"

int main(int argc, char **argv, char **envp)
{
    (void)argc; (void)argv;
    for (char **e = envp; *e; e++) { out(*e); out("\n"); }
    return 0;
}
