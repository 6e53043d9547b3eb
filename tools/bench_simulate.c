/* bench_simulate.c: light curves generated per second on one core, FFTW path against direct
 * summation, in the same run and without I/O.
 *   bench_simulate [stars [curves_per_star [K [T]]]]     defaults: the paper's 2000 x 20, K 13, T 100
 * Prints the median of 5 repetitions of each path and their ratio. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, compare_double);
  return v[n / 2];
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_sim_config c = {.stars = 2000,
                       .instruments = 17,
                       .curves_per_star = 20,
                       .terms = 17,
                       .K = 13,
                       .T = 100,
                       .alpha = 1.0,
                       .lambda = 0.2,
                       .instrument_scale = 0.05,
                       .noise_sigma = 0.03,
                       .clip_min = -1,
                       .clip_max = 1,
                       .stars_per_field = 100,
                       .block_stars = 256,
                       .seed = 1};
  if (argc > 1) c.stars = atoll(argv[1]);
  if (argc > 2) c.curves_per_star = atoll(argv[2]);
  if (argc > 3) c.K = atoll(argv[3]);
  if (argc > 4) c.T = atoll(argv[4]);
  int64_t n = lcfm_sim_object_count(&c);
  float *values = lcfm_malloc((size_t)(c.block_stars * c.curves_per_star * c.T) * sizeof *values);
  double *direct = lcfm_malloc((size_t)c.T * sizeof *direct);
  lcfm_sim_plan *plan = lcfm_sim_plan_create(&c);
  enum { REPEATS = 5 };
  double fast_rate[REPEATS], direct_rate[REPEATS], checksum = 0;
  int64_t direct_objects = n < 4000 ? n : 4000;
  for (int r = 0; r < REPEATS; r++) {
    double start = lcfm_wtime();
    for (int64_t s = 0; s < c.stars; s += c.block_stars) {
      int64_t count = c.stars - s < c.block_stars ? c.stars - s : c.block_stars;
      lcfm_sim_generate(plan, s, count, values);
      checksum += values[0];
    }
    fast_rate[r] = (double)n / (lcfm_wtime() - start);
    start = lcfm_wtime();
    for (int64_t object = 0; object < direct_objects; object++) {
      lcfm_sim_direct(&c, object, direct);
      checksum += direct[0];
    }
    direct_rate[r] = (double)direct_objects / (lcfm_wtime() - start);
  }
  double fast = median(fast_rate, REPEATS), slow = median(direct_rate, REPEATS);
  printf("simulate, one core, no I/O: S=%lld P=%lld (N=%lld) K=%lld T=%lld J=%lld M=%lld\n",
         (long long)c.stars, (long long)c.curves_per_star, (long long)n, (long long)c.K,
         (long long)c.T, (long long)c.terms, (long long)c.instruments);
  printf("  FFTW path (chirp-z + DCT-I)   %12.0f light curves/s (median of %d)\n", fast, REPEATS);
  printf("  direct summation              %12.0f light curves/s (median of %d, %lld curves)\n",
         slow, REPEATS, (long long)direct_objects);
  printf("  speed-up                      %12.1fx   (checksum %.3f)\n", fast / slow, checksum);
  lcfm_sim_plan_free(plan);
  free(values);
  free(direct);
  MPI_Finalize();
  return 0;
}
