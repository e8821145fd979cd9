/* printf of floats and some libm-free arithmetic. */
#include <stdio.h>

int main(void)
{
    double x = 1.0;
    for (int i = 1; i < 20; i++) x = x * 1.5 + 1.0 / i;
    printf("%.6f %e %g\n", x, x / 1e9, 0.1 + 0.2);
    float f = 3.14159f;
    printf("%.3f %d\n", f * 2.0f, (int)(f * 1000));
    long double ld = 1.0L / 3.0L;
    printf("%.10Lf\n", ld);
    return 0;
}
