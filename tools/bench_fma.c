/* bench_fma.c: the machine's single-precision FMA peak per core, for each vector ISA the CPU has
 * (issue 16 item 1): the physical limit the engine's benchmarks report their share of.
 *
 *   bench_fma [--threads N,...] [--seconds S]
 *
 * Each ISA's kernel runs CHAINS independent chains of vector FMAs (acc = acc * a + b), enough to
 * cover the FMA latency on every unit of current x86-64 cores (4-cycle latency x 2 units = 8 in
 * flight; 12 for 256-bit, 16 for 512-bit leave room). The kernels are compiled with target
 * attributes, so one generic x86-64 binary runs everywhere and skips the ISAs the CPU (and OS)
 * lacks. For each thread count (default 1 and 2), every thread runs the kernel for about S seconds
 * (default 0.005) in one OpenMP region; the best of 40 repeats is printed in GFLOP/s (an FMA counts
 * 2 FLOPs per lane), in total and per core: short runs, so that on a loaded machine some of them
 * run unpreempted (a peak is what is measured, not an average). Lines starting with "RESULT" are parsed by
 * tools/bench_nn.sh and tools/bench_embed.sh:
 *   RESULT fma isa=avx512 threads=2 gflops=... per_core=...
 * and "RESULT fma isa=best threads=N ..." repeats the widest ISA's figure for each thread count.
 */
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/log.h"
#include "lcfm/machine.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS_256 12
#define CHAINS_512 16

/* Returns a sum of every accumulator: a chain whose result is unused would be optimised away. */
__attribute__((target("avx2,fma"))) static float fma_chains_256(long iterations, float seed) {
  __m256 acc[CHAINS_256];
  for (int c = 0; c < CHAINS_256; c++) acc[c] = _mm256_set1_ps(seed + (float)c);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; i++)
    for (int c = 0; c < CHAINS_256; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  __m256 sum = acc[0];
  for (int c = 1; c < CHAINS_256; c++) sum = _mm256_add_ps(sum, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

__attribute__((target("avx512f"))) static float fma_chains_512(long iterations, float seed) {
  __m512 acc[CHAINS_512];
  for (int c = 0; c < CHAINS_512; c++) acc[c] = _mm512_set1_ps(seed + (float)c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; i++)
    for (int c = 0; c < CHAINS_512; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  __m512 sum = acc[0];
  for (int c = 1; c < CHAINS_512; c++) sum = _mm512_add_ps(sum, acc[c]);
  return _mm512_reduce_add_ps(sum);
}
#endif

typedef struct {
  const char *name;
  int present;
  double flops_per_iteration; /* chains x lanes x 2 */
  float (*kernel)(long, float);
} fma_isa;

/* Best GFLOP/s over REPEATS runs of `threads` threads each running `iterations` iterations of the
 * kernel. Short runs, many of them: on a shared machine some run without being preempted. */
#define REPEATS 40
static double measure(const fma_isa *isa, int threads, long iterations) {
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < REPEATS; r++) {
    double t0 = 0, t1 = 0;
    float sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    {
#pragma omp barrier
#pragma omp master
      t0 = lcfm_wtime();
      sum += isa->kernel(iterations, (float)omp_get_thread_num());
#pragma omp barrier
#pragma omp master
      t1 = lcfm_wtime();
    }
    sink = sink + sum;
    double gflops = isa->flops_per_iteration * (double)iterations * threads / (t1 - t0) / 1e9;
    if (gflops > best) best = gflops;
  }
  return best;
}

/* Iterations for about `seconds` on one thread, from a short timed run. */
static long calibrate(const fma_isa *isa, double seconds) {
  long n = 1 << 16;
  for (;;) {
    double t0 = lcfm_wtime();
    volatile float sink = isa->kernel(n, 1.0f);
    (void)sink;
    double dt = lcfm_wtime() - t0;
    if (dt > 0.02) return (long)((double)n * seconds / dt) + 1;
    n *= 4;
  }
}

static int parse_threads(const char *text, int *threads, int max) {
  int n = 0;
  char *copy = strdup(text), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
    if (atoi(tok) > 0) threads[n++] = atoi(tok);
  free(copy);
  return n;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_log_init(MPI_COMM_WORLD);
  int threads[8] = {1, 2}, nthreads = 2;
  double seconds = 0.005;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      nthreads = parse_threads(argv[++i], threads, 8);
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
    else nthreads = 0;
    if (nthreads == 0 || !(seconds > 0)) {
      fprintf(stderr, "usage: bench_fma [--threads N,... (1,2)] [--seconds S (0.005)]\n");
      MPI_Finalize();
      return 2;
    }
  }
  lcfm_log_machine(threads[nthreads - 1]);
  fma_isa isas[2] = {{"avx2", 0, 0, NULL}, {"avx512", 0, 0, NULL}};
#if defined(__x86_64__)
  __builtin_cpu_init();
  isas[0] = (fma_isa){"avx2", __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
                      CHAINS_256 * 8 * 2.0, fma_chains_256};
  isas[1] = (fma_isa){"avx512", __builtin_cpu_supports("avx512f") != 0, CHAINS_512 * 16 * 2.0,
                      fma_chains_512};
#endif
  for (int t = 0; t < nthreads; t++) {
    double best = 0;
    for (int k = 0; k < 2; k++) {
      if (!isas[k].present) {
        if (t == 0) printf("FMA %-6s not supported by this CPU: skipped\n", isas[k].name);
        continue;
      }
      double gflops = measure(&isas[k], threads[t], calibrate(&isas[k], seconds));
      printf("FMA %-6s %d threads: %8.1f GFLOP/s, %7.1f per core\n", isas[k].name, threads[t],
             gflops, gflops / threads[t]);
      printf("RESULT fma isa=%s threads=%d gflops=%.3f per_core=%.3f\n", isas[k].name, threads[t],
             gflops, gflops / threads[t]);
      if (gflops > best) best = gflops;
    }
    printf("RESULT fma isa=best threads=%d gflops=%.3f per_core=%.3f\n", threads[t], best,
           best / threads[t]);
  }
  MPI_Finalize();
  return 0;
}
