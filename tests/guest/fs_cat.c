/* cat FILE: open/read/write, used to read the synthetic /proc files. */
#include "mini.h"
int main(int argc, char **argv, char **envp) {
  char buf[4096]; int fd = sys4(NR_openat, -100, argv[1], 0, 0); long n;
  if (fd < 0) { kv("err", fd); return 1; }
  while ((n = sys3(NR_read, fd, buf, sizeof buf)) > 0) sys3(NR_write, 1, buf, n);
  return 0; }
