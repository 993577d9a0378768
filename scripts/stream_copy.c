/* A STREAM-style memory bandwidth probe (docs/benchmarks.md, "Decode against the bandwidth
 * ceiling"): copy and read-only sum over arrays far larger than the caches, on OpenMP threads,
 * best of 10 passes. Prints JSON: {"threads", "bytes", "copy_gbps", "read_gbps"}. Copy counts
 * the bytes read plus the bytes written, as STREAM does.
 *   cc -O3 -march=native -fopenmp stream_copy.c -o stream_copy && OMP_NUM_THREADS=2 ./stream_copy */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N (64L * 1024 * 1024) /* 512 MiB per array of doubles */
#define PASSES 10

int main(void) {
    double *a = malloc(N * sizeof(double)), *b = malloc(N * sizeof(double));
    if (!a || !b) {
        fprintf(stderr, "stream_copy: cannot allocate 1 GiB\n");
        return 1;
    }
#pragma omp parallel for
    for (long i = 0; i < N; i++) {
        a[i] = 1.0 + (double)(i % 7);
        b[i] = 0.0;
    }
    double best_copy = 1e30, best_read = 1e30;
    uint64_t sink = 0;
    const uint64_t *words = (const uint64_t *)b;
    for (int p = 0; p < PASSES; p++) {
        double t = omp_get_wtime();
#pragma omp parallel for
        for (long i = 0; i < N; i++) b[i] = a[i];
        t = omp_get_wtime() - t;
        if (t < best_copy) best_copy = t;
        /* Integer sums of the words: the adds vectorize, so the loop waits on memory, not on
         * a chain of floating-point adds. */
        uint64_t s = 0;
        t = omp_get_wtime();
#pragma omp parallel for reduction(+ : s)
        for (long i = 0; i < N; i++) s += words[i];
        t = omp_get_wtime() - t;
        if (t < best_read) best_read = t;
        sink += s;
    }
    double bytes = (double)N * sizeof(double);
    printf("{\"threads\": %d, \"bytes\": %.0f, \"copy_gbps\": %.3f, \"read_gbps\": %.3f, \"check\": %llu}\n",
           omp_get_max_threads(), bytes, 2.0 * bytes / best_copy / 1e9, bytes / best_read / 1e9,
           (unsigned long long)(sink % 1000));
    free(a);
    free(b);
    return 0;
}
