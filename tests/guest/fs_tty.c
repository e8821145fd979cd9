/* Terminal ioctls on stdin: TCGETS, TIOCGWINSZ, TIOCGPGRP, and TCSETS of
 * what TCGETS returned. */
#include "mini.h"

int main(int argc, char **argv, char **envp)
{
    unsigned char termios[36];
    unsigned short ws[4];
    int pgrp = 0;
    kv("tcgets", sys3(NR_ioctl, 0, 0x5401, termios));
    kv("tcsets", sys3(NR_ioctl, 0, 0x5402, termios));
    kv("tiocgwinsz", sys3(NR_ioctl, 0, 0x5413, ws));
    kv("rows", ws[0]);
    kv("cols", ws[1]);
    kv("tiocgpgrp_ok", sys3(NR_ioctl, 0, 0x540f, &pgrp) == 0 || pgrp >= 0);
    kv("unknown_ioctl_enotty", sys3(NR_ioctl, 0, 0x12345678, 0) == -25);
    return 0;
}
