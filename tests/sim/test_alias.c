/* test_alias.c: the alias bound's pieces (alias.h) against what they must be.
 *   - without aliasing (periods far above 2 steps) the posterior mean is theta_0 itself;
 *   - aliases (f, f + 1, 1 - f, 2 + f) have one posterior mean;
 * *   - the truncated preimage sum equals a sum over 2 x 10^5 (2 x 10^6) preimage pairs;
 *   - the bound tends to 1 without aliasing and to 0 when everything is aliased, and grows with
 *     lambda; the band fraction is 1 for J / 2T >= 1/2 and 2 J / 2T when everything is aliased.
 * With --print, prints the values tests/sim/check_alias.py compares with NumPy instead. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/alias.h"

/* theta_0 whose frequency 1 / (T exp(theta) lambda) is f. */
static double theta_of(double f, double lambda, int64_t T) { return -log(f * (double)T * lambda); }

/* sum_i w_i theta_i / sum_i w_i over pairs n < pairs, straight from the definition. */
static double brute_posterior_mean(double g, double lambda, int64_t T, int64_t pairs) {
  double c = (double)T * lambda, sw = 0, swt = 0;
  for (int64_t n = 0; n < pairs; n++) {
    double f[2] = {(double)n + g, (double)n + 1 - g};
    for (int k = 0; k < 2; k++) {
      if (f[k] <= 0) continue;
      double theta = -log(f[k] * c), w = exp(-0.5 * theta * theta) / f[k];
      sw += w, swt += w * theta;
    }
  }
  return swt / sw;
}

static void print_values(void) {
  const double lambdas[] = {0.05, 0.1, 0.5}, thetas[] = {-2.5, -1.2, -0.4, 0.0, 0.3, 0.9, 1.7, 2.6};
  for (int i = 0; i < 3; i++) {
    printf("bound %.17g 100 %.17g\n", lambdas[i], lcfm_alias_bound(lambdas[i], 100));
    printf("band %.17g 100 17 %.17g\n", lambdas[i],
           lcfm_instrument_band_fraction(lambdas[i], 100, 17));
    for (int k = 0; k < 8; k++)
      printf("mean %.17g %.17g 100 %.17g\n", thetas[k], lambdas[i],
             lcfm_theta0_posterior_mean(thetas[k], lambdas[i], 100));
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  if (argc > 1 && !strcmp(argv[1], "--print")) {
    print_values();
    MPI_Finalize();
    return 0;
  }
  for (double theta = -3; theta <= 3; theta += 0.5) /* T lambda = 1e5: f < 0.5 for theta > -10.8 */
    EXPECT_NEAR(lcfm_theta0_posterior_mean(theta, 1000, 100), theta, 1e-9,
                "no aliasing: the mean is theta_0");

  const double lambda = 0.05;
  const int64_t T = 100;
  double f0 = 0.3, m0 = lcfm_theta0_posterior_mean(theta_of(f0, lambda, T), lambda, T);
  const double aliases[] = {1.3, 0.7, 2.3, 2.7, 7.3};
  for (int i = 0; i < 5; i++)
    EXPECT_NEAR(lcfm_theta0_posterior_mean(theta_of(aliases[i], lambda, T), lambda, T), m0, 1e-12,
                "aliases of f = 0.3 share one posterior mean");
  EXPECT(fabs(m0 - theta_of(f0, lambda, T)) > 0.05,
         "f = 0.3 at T lambda = 5 should be pulled by its aliases");

  const double folded[] = {0.0, 1e-6, 0.01, 0.1, 0.3, 0.49, 0.5};
  for (int i = 0; i < 7; i++) {
    double fast = lcfm_theta0_posterior_mean_folded(folded[i], lambda, T);
    double brute = brute_posterior_mean(folded[i], lambda, T, 200000);
    EXPECT_NEAR(fast, brute, 1e-12, "truncated sum vs 2 x 10^5 pairs");
    if (i == 3)
      printf("E[theta_0 | g = 0.1] at T lambda 5: %.15f (2 x 10^5 pairs: %.15f)\n", fast, brute);
  }
  /* T lambda = 0.1: the sum reaches LCFM_ALIAS_MAX_PAIRS and ends with the tail's integral */
  EXPECT_NEAR(lcfm_theta0_posterior_mean_folded(0.2, 0.001, T),
              brute_posterior_mean(0.2, 0.001, T, 2000000), 1e-6,
              "tail integral vs 2 x 10^6 pairs at T lambda = 0.1");

  double previous = 0;
  const double lambdas[] = {0.01, 0.05, 0.1, 0.2, 0.5, 1.0};
  for (int i = 0; i < 6; i++) {
    double b = lcfm_alias_bound(lambdas[i], T),
           band = lcfm_instrument_band_fraction(lambdas[i], T, 17);
    printf("lambda %.2f: alias bound %.6f, fundamentals in the band of J = 17: %.4f\n", lambdas[i],
           b, band);
    EXPECT(b > previous && b < 1, "bound %.6f at lambda %g after %.6f", b, lambdas[i], previous);
    EXPECT(band > 0 && band < 1, "band fraction %.4f", band);
    previous = b;
  }
  EXPECT_NEAR(lcfm_alias_bound(1000, T), 1.0, 1e-9, "no aliasing: bound 1");
  EXPECT(lcfm_alias_bound(1e-6, T) < 1e-6, "everything aliased: bound %.3g",
         lcfm_alias_bound(1e-6, T));
  EXPECT_NEAR(lcfm_instrument_band_fraction(1e-6, T, 17), 17.0 / 100, 1e-3,
              "everything aliased: band 2 J / 2T");
  EXPECT_NEAR(lcfm_instrument_band_fraction(0.5, 10, 17), 1.0, 0,
              "J / 2T >= 1/2: every star in the band");
  return lcfm_test_finish("test_alias");
}
