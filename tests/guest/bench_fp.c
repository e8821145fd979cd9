/* Floating-point kernel for bench/linux_bench.py: mandelbrot escape counts
 * and an n-body-style integration, argv[1] scales the work. */
#include <stdio.h>
#include <stdlib.h>

static double mandel(int size)
{
    long total = 0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double cr = 2.0 * x / size - 1.5, ci = 2.0 * y / size - 1.0, zr = 0, zi = 0;
            int i = 0;
            while (i < 100 && zr * zr + zi * zi < 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                i++;
            }
            total += i;
        }
    return (double)total;
}

static double bodies(int steps)
{
    double px[5] = {0, 1, 2, 3, 4}, py[5] = {0, 0.5, -0.5, 1, -1}, vx[5] = {0}, vy[5] = {0};
    for (int s = 0; s < steps; s++)
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                if (i == j) continue;
                double dx = px[j] - px[i], dy = py[j] - py[i], d2 = dx * dx + dy * dy + 0.01;
                vx[i] += 1e-4 * dx / d2;
                vy[i] += 1e-4 * dy / d2;
                px[i] += 1e-3 * vx[i];
                py[i] += 1e-3 * vy[i];
            }
    return px[0] + py[1] + vx[2] + vy[3];
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    printf("fp %.1f %.9f\n", mandel(40 * n), bodies(2000 * n));
    return 0;
}
