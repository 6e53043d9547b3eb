/* test_rng.c: the keyed generator: Random123's published known answer, determinism,
 * independence of streams and indices, and the moments of uniform and normal draws. */
#include <math.h>
#include <mpi.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/rng.h"

/* Philox4x32-10 known-answer vectors from Random123's kat_vectors (counter and key all ones
 * of the pattern below). Our block maps (counter, stream) -> ctr words {lo, hi, stream, 0}. */
static void test_known_answer(void) {
  uint32_t out[4];
  lcfm_rng_block(0, 0, 0, out);
  EXPECT(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
             out[3] == 0x9b00dbd8u,
         "philox4x32-10(0,0) = %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
}

static void test_determinism_and_fill(void) {
  double fill[1001];
  lcfm_rng_normal_fill(fill, 1001, 42, 7, 13); /* odd start exercises the unpaired head */
  for (int i = 0; i < 1001; i++) {
    double one = lcfm_rng_normal(42, 7, 13 + (uint64_t)i);
    EXPECT(fill[i] == one, "normal_fill[%d] differs from normal()", i);
  }
  float fill_f[1001];
  lcfm_rng_normalf_fill(fill_f, 1001, 42, 7, 13);
  for (int i = 0; i < 1001; i++) {
    EXPECT(fill_f[i] == lcfm_rng_normalf(42, 7, 13 + (uint64_t)i),
           "normalf_fill[%d] differs from normalf()", i);
  }
  EXPECT(lcfm_rng_uniform(1, 1, 5) == lcfm_rng_uniform(1, 1, 5), "uniform is not a pure function");
  EXPECT(lcfm_rng_uniform(1, 1, 5) != lcfm_rng_uniform(1, 2, 5), "streams collide");
  EXPECT(lcfm_rng_uniform(1, 1, 5) != lcfm_rng_uniform(2, 1, 5), "seeds collide");
  EXPECT(lcfm_rng_uniform(1, 1, 5) != lcfm_rng_uniform(1, 1, 6), "indices collide");
  EXPECT(lcfm_rng_uniform(1, 1, 5) != lcfm_rng_uniform(1, 1, 5 + (1ull << 32)),
         "high index bits ignored");
}

static void test_moments(void) {
  const int n = 400000;
  double fsum = 0, fsum2 = 0, sum = 0, sum2 = 0, sum3 = 0, sum4 = 0, usum = 0, umin = 1, umax = 0;
  int64_t bins[10] = {0};
  for (int i = 0; i < n; i++) {
    double z = lcfm_rng_normal(9, 3, (uint64_t)i);
    double zf = lcfm_rng_normalf(9, 3, (uint64_t)i);
    fsum += zf, fsum2 += zf * zf;
    sum += z, sum2 += z * z, sum3 += z * z * z, sum4 += z * z * z * z;
    double u = lcfm_rng_uniform(9, 4, (uint64_t)i);
    usum += u;
    umin = fmin(umin, u), umax = fmax(umax, u);
    bins[lcfm_rng_below(9, 5, (uint64_t)i, 10)]++;
  }
  /* Tolerances are ~5 standard errors of each estimate at n = 400000. */
  EXPECT_NEAR(sum / n, 0.0, 0.008, "normal mean");
  EXPECT_NEAR(sum2 / n, 1.0, 0.012, "normal variance");
  EXPECT_NEAR(sum3 / n, 0.0, 0.03, "normal third moment");
  EXPECT_NEAR(sum4 / n, 3.0, 0.06, "normal fourth moment");
  EXPECT_NEAR(fsum / n, 0.0, 0.008, "normalf mean");
  EXPECT_NEAR(fsum2 / n, 1.0, 0.012, "normalf variance");
  EXPECT_NEAR(usum / n, 0.5, 0.003, "uniform mean");
  EXPECT(umin >= 0.0 && umax < 1.0, "uniform outside [0,1): %g %g", umin, umax);
  for (int b = 0; b < 10; b++)
    EXPECT_NEAR(bins[b] / (double)n, 0.1, 0.0025, "below(10) bin frequency");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_known_answer();
  test_determinism_and_fill();
  test_moments();
  return lcfm_test_finish("test_rng");
}
