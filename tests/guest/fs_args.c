/* argv, envp and the auxiliary vector as the guest sees them. */
#include "mini.h"

extern char _start[];

int main(int argc, char **argv, char **envp)
{
    kv("argc", argc);
    for (int i = 0; i < argc; i++) { out("argv["); out_d(i); out("]="); out(argv[i]); out("\n"); }
    for (char **e = envp; *e; e++)
        if (sprefix(*e, "TCGPY_TEST_")) { out("env "); out(*e); out("\n"); }
    /* Only facts that hold on any Linux AArch64 kernel (or emulator). */
    kv("AT_PAGESZ", getauxval(6));
    kv("AT_ENTRY_is_start", getauxval(9) == (unsigned long)_start);
    unsigned long phdr = getauxval(3);
    kv("AT_PHENT", getauxval(4));
    kv("AT_PHDR_has_load", phdr && *(unsigned int *)phdr != 0);
    kv("AT_RANDOM_set", getauxval(25) != 0);
    out("AT_PLATFORM="); out((char *)getauxval(15)); out("\n");
    out("AT_EXECFN="); out((char *)getauxval(31)); out("\n");
    kv("AT_UID_matches", getauxval(11) == (unsigned long)sys0(NR_getuid));
    kv("AT_SECURE", getauxval(23));
    kv("AT_CLKTCK", getauxval(17));
    kv("sp_aligned", ((unsigned long)argv & 7) == 0 && (((unsigned long)argv - 8) & 15) == 0);
    kv("argv0_follows_argc", argv[argc] == 0);
    return 0;
}
