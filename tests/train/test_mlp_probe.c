/* test_mlp_probe.c: the few-shot MLP regressor and R^2.
 * R^2 against a hand-computed example; a smooth non-linear target of the inputs is learned
 * (R^2 > 0.9 on held-out rows) while a target independent of the inputs is not (R^2 < 0.1);
 * more training rows help; the same seed gives the same answer. */
#include <math.h>

#include "../lcfm_test.h"
#include "lcfm/mlp_probe.h"
#include "lcfm/rng.h"

enum { D = 5, N = 600, M = 400 };

static void make_data(float *x, float *y, int rows, uint64_t first, int learnable) {
  for (int i = 0; i < rows; i++) {
    for (int j = 0; j < D; j++) x[i * D + j] = (float)lcfm_rng_normal(3, 1, (first + (uint64_t)i) * D + (uint64_t)j);
    double noise = 0.05 * lcfm_rng_normal(3, 2, first + (uint64_t)i);
    y[i] = learnable ? (float)(sin(x[i * D]) + 0.5 * x[i * D + 1] * x[i * D + 1] + noise)
                     : (float)lcfm_rng_normal(3, 3, first + (uint64_t)i);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const float truth[4] = {1, 2, 3, 4}, guess[4] = {1, 2, 3, 5};
  EXPECT_NEAR(lcfm_r2(guess, truth, 4), 1.0 - 1.0 / 5.0, 1e-12, "R^2 of a hand-computed example");
  static float x[N * D], y[N], xt[M * D], yt[M];
  lcfm_mlp_probe_config c = {.hidden = 64, .steps = 1500, .batch = 64, .lr = 1e-3f, .weight_decay = 1e-4f};
  make_data(x, y, N, 0, 1);
  make_data(xt, yt, M, 100000, 1);
  double learned = lcfm_mlp_probe_r2(&c, x, y, N, xt, yt, M, D, 9);
  double again = lcfm_mlp_probe_r2(&c, x, y, N, xt, yt, M, D, 9);
  double few = lcfm_mlp_probe_r2(&c, x, y, 20, xt, yt, M, D, 9);
  make_data(x, y, N, 0, 0);
  make_data(xt, yt, M, 100000, 0);
  double noise = lcfm_mlp_probe_r2(&c, x, y, N, xt, yt, M, D, 9);
  printf("R^2: learnable %.3f (20 rows: %.3f), independent %.3f\n", learned, few, noise);
  EXPECT(learned > 0.9, "learnable target: R^2 %.3f", learned);
  EXPECT(learned == again, "not deterministic: %.17g vs %.17g", learned, again);
  EXPECT(few < learned, "20 rows (%.3f) did as well as 600 (%.3f)", few, learned);
  EXPECT(noise < 0.1, "independent target: R^2 %.3f", noise);
  return lcfm_test_finish("test_mlp_probe");
}
