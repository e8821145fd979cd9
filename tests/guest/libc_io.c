/* stdio files in a temp directory (argv[1]), stdin line counting, time. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int main(int argc, char **argv)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data.txt", argc > 1 ? argv[1] : ".");
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 100; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    struct stat st;
    stat(path, &st);
    printf("size %lld\n", (long long)st.st_size);
    f = fopen(path, "r");
    char line[64];
    int n = 0, sum = 0;
    while (fgets(line, sizeof line, f)) { n++; sum += (int)strlen(line); }
    fclose(f);
    remove(path);
    printf("lines %d bytes %d\n", n, sum);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("monotonic %s\n", (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)) ? "ok" : "bad");
    int lines = 0, c;
    while ((c = getchar()) != EOF) lines += c == '\n';
    printf("stdin lines %d\n", lines);
    return 0;
}
