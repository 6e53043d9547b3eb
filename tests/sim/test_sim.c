/* test_sim.c: the simulator's fast path against direct summation.
 * The chirp-z stellar series (FFTW) must equal the direct double-precision sum to 1e-9 for
 * configurations that stress the transform (K = 2, T = 1, odd and large T, periods shorter
 * than a step); the full F_obs (DCT-I instrument series, clipping, keyed noise, float output)
 * must equal lcfm_sim_direct to float rounding; and the instrument assignment must give every
 * star min(P, M) distinct instruments. */
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/sim.h"

static lcfm_sim_config config(int64_t stars, int64_t M, int64_t P, int64_t J, int64_t K, int64_t T,
                              double alpha, double lambda) {
  lcfm_sim_config c = lcfm_test_sim_config((lcfm_sim_config){.stars = stars,
                                                             .instruments = M,
                                                             .curves_per_star = P,
                                                             .terms = J,
                                                             .K = K,
                                                             .T = T,
                                                             .block_stars = 4,
                                                             .seed = 12345});
  c.alpha = alpha, c.lambda = lambda;
  return c;
}

static void check_stellar(const lcfm_sim_config *c, const char *label) {
  lcfm_sim_plan *plan = lcfm_sim_plan_create(c);
  double *fast = lcfm_malloc((size_t)(c->curves_per_star * c->T) * sizeof *fast);
  double *direct = lcfm_malloc((size_t)c->T * sizeof *direct);
  double worst = 0;
  for (int64_t s = 0; s < c->stars; s++) {
    lcfm_sim_stellar(plan, s, fast);
    for (int64_t p = 0; p < c->curves_per_star; p++) {
      lcfm_sim_direct_stellar(c, s * c->curves_per_star + p, direct);
      for (int64_t t = 0; t < c->T; t++) worst = fmax(worst, fabs(fast[p * c->T + t] - direct[t]));
    }
  }
  EXPECT(worst < 1e-9, "%s: chirp-z differs from direct summation by %g", label, worst);
  free(fast);
  free(direct);
  lcfm_sim_plan_free(plan);
}

static void check_observed(const lcfm_sim_config *c, const char *label) {
  lcfm_sim_plan *plan = lcfm_sim_plan_create(c);
  int64_t n = lcfm_sim_object_count(c);
  float *fast = lcfm_malloc((size_t)(n * c->T) * sizeof *fast);
  double *direct = lcfm_malloc((size_t)c->T * sizeof *direct);
  lcfm_sim_generate(plan, 0, c->stars, fast);
  double worst = 0, spread = 0;
  for (int64_t object = 0; object < n; object++) {
    lcfm_sim_direct(c, object, direct);
    for (int64_t t = 0; t < c->T; t++) {
      worst = fmax(worst, fabs(fast[object * c->T + t] - direct[t]));
      spread = fmax(spread, fabs(direct[t]));
    }
  }
  EXPECT(worst < 1e-6, "%s: F_obs differs from direct summation by %g", label, worst);
  EXPECT(spread > 0.1, "%s: signals are suspiciously flat (max |F| = %g)", label, spread);
  free(fast);
  free(direct);
  lcfm_sim_plan_free(plan);
}

static void check_instruments(void) {
  lcfm_sim_config c = config(50, 17, 20, 17, 13, 100, 1, 0.2);
  int64_t *seen_by = lcfm_calloc(17, sizeof *seen_by);
  for (int64_t s = 0; s < c.stars; s++) {
    int used[17] = {0}, distinct = 0;
    for (int64_t p = 0; p < c.curves_per_star; p++) {
      int64_t m = lcfm_sim_instrument(&c, s * c.curves_per_star + p);
      EXPECT(m >= 0 && m < 17, "instrument %lld out of range", (long long)m);
      distinct += !used[m]++;
      if (used[m] == 1) seen_by[m]++;
    }
    EXPECT(distinct == 17, "star %lld sees %d instruments, expected 17", (long long)s, distinct);
  }
  for (int m = 0; m < 17; m++)
    EXPECT(seen_by[m] == 50, "instrument %d sees %lld stars", m, (long long)seen_by[m]);
  free(seen_by);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_sim_config paper = config(12, 17, 20, 17, 13, 100, 1.0, 0.2);
  check_stellar(&paper, "paper configuration");
  lcfm_sim_config two = config(5, 3, 4, 1, 2, 100, 1.0, 0.2);
  check_stellar(&two, "K = 2");
  lcfm_sim_config one = config(5, 3, 4, 1, 7, 1, 0.5, 1.0);
  check_stellar(&one, "T = 1");
  lcfm_sim_config odd = config(4, 5, 3, 50, 31, 997, 2.0, 0.01); /* periods below one step */
  check_stellar(&odd, "T = 997, K = 31, short periods");
  check_observed(&paper, "paper configuration");
  check_observed(&odd, "T = 997");
  check_observed(&one, "T = 1");
  check_instruments();
  return lcfm_test_finish("test_sim");
}
