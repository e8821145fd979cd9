/* string.h and qsort: the SIMD-heavy parts of glibc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(void)
{
    char buf[256];
    memset(buf, 'x', sizeof buf);
    strcpy(buf, "The quick brown fox");
    strcat(buf, " jumps over the lazy dog");
    printf("%s|%zu|%s|%d\n", buf, strlen(buf), strstr(buf, "fox"), memcmp(buf, "The", 3));
    char *words[] = {"pear", "apple", "fig", "banana", "cherry"};
    qsort(words, 5, sizeof words[0], cmp);
    for (int i = 0; i < 5; i++) printf("%s%c", words[i], i < 4 ? ' ' : '\n');
    char *dup = strdup(buf);
    printf("%s %p\n", strchr(dup, 'q'), (void *)(strrchr(dup, 'z') - dup));
    free(dup);
    return 0;
}
