/* The GEMM yardstick for tools/bench/compare.sh: OpenBLAS's cblas_sgemm on the sgemm rows of
 * sr_bench (C = A B, square, row-major), timed the same way (median of 5 after 2 warm-up runs),
 * printed as the same JSON lines. Benchmark only: OpenBLAS (Debian libopenblas-dev) is never a
 * build dependency of srforge; compare.sh compiles this when the package is installed. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(void) {
    printf("{\"machine\": \"OpenBLAS %s\", \"threads\": %d}\n", openblas_get_config(), openblas_get_num_threads());
    const int sizes[] = {1024, 2048};
    for (int s = 0; s < 2; ++s) {
        const int n = sizes[s];
        float* a = malloc(sizeof(float) * n * n);
        float* b = malloc(sizeof(float) * n * n);
        float* c = malloc(sizeof(float) * n * n);
        for (long i = 0; i < (long)n * n; ++i) {
            a[i] = (float)rand() / RAND_MAX * 2 - 1;
            b[i] = (float)rand() / RAND_MAX * 2 - 1;
        }
        double ms[5];
        for (int r = 0; r < 7; ++r) {
            const double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            if (r >= 2) ms[r - 2] = (now() - t0) * 1e3;
        }
        qsort(ms, 5, sizeof(double), cmp);
        printf("{\"name\": \"sgemm_%d\", \"median_ms\": %.3f, \"gflops\": %.2f, \"threads\": %d}\n", n, ms[2],
               2.0 * n * n * n / (ms[2] * 1e-3) / 1e9, openblas_get_num_threads());
        free(a);
        free(b);
        free(c);
    }
    return 0;
}
