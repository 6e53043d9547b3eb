/* test_mlp_probe.c: the few-shot MLP regressor and R^2.
 * R^2 against a hand-computed example; a smooth non-linear target of the inputs is learned
 * (R^2 > 0.9 on held-out rows) while a target independent of the inputs is not (R^2 < 0.1);
 * more training rows help; the same seed gives the same answer; early stopping on a pool of its
 * own (rows apart from the n training rows, as `lcfm probe` draws them from other stars) keeps
 * 20 rows of an independent target from being learned by heart and costs a learnable target little. */
#include <math.h>

#include "../lcfm_test.h"
#include "lcfm/mlp_probe.h"
#include "lcfm/rng.h"

enum { D = 5, N = 600, M = 400, V = 100 };

static void make_data(float *x, float *y, int rows, uint64_t first, int learnable) {
  for (int i = 0; i < rows; i++) {
    for (int j = 0; j < D; j++)
      x[i * D + j] = (float)lcfm_rng_normal(3, 1, (first + (uint64_t)i) * D + (uint64_t)j);
    double noise = 0.05 * lcfm_rng_normal(3, 2, first + (uint64_t)i);
    y[i] = learnable ? (float)(sin(x[i * D]) + 0.5 * x[i * D + 1] * x[i * D + 1] + noise)
                     : (float)lcfm_rng_normal(3, 3, first + (uint64_t)i);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const float truth[4] = {1, 2, 3, 4}, guess[4] = {1, 2, 3, 5};
  EXPECT_NEAR(lcfm_r2(guess, truth, 4), 1.0 - 1.0 / 5.0, 1e-12, "R^2 of a hand-computed example");
  static float x[N * D], y[N], xt[M * D], yt[M], xv[V * D], yv[V];
  lcfm_mlp_probe_config c = {
      .hidden = 64, .steps = 1500, .batch = 64, .lr = 1e-3f, .weight_decay = 1e-4f};
  const lcfm_mlp_rows none = {NULL, NULL, 0}, test = {xt, yt, M}, stopping = {xv, yv, V};
  make_data(x, y, N, 0, 1);
  make_data(xt, yt, M, 100000, 1);
  make_data(xv, yv, V, 200000, 1);
  double learned = lcfm_mlp_probe_r2(&c, (lcfm_mlp_rows){x, y, N}, none, test, D, 9);
  double again = lcfm_mlp_probe_r2(&c, (lcfm_mlp_rows){x, y, N}, none, test, D, 9);
  double few = lcfm_mlp_probe_r2(&c, (lcfm_mlp_rows){x, y, 20}, none, test, D, 9);
  double learned_early = lcfm_mlp_probe_r2(&c, (lcfm_mlp_rows){x, y, N}, stopping, test, D, 9);
  make_data(x, y, N, 0, 0);
  make_data(xt, yt, M, 100000, 0);
  make_data(xv, yv, V, 200000, 0);
  double noise = lcfm_mlp_probe_r2(&c, (lcfm_mlp_rows){x, y, N}, none, test, D, 9);
  /* 20 rows of an independent target: fitted for every step the MLP learns them by heart and
   * its test predictions are worse than the mean; early stopping keeps it near R^2 = 0. */
  double overfit = 0, early = 0;
  for (uint64_t seed = 1; seed <= 4; seed++) {
    overfit += lcfm_mlp_probe_r2(&c, (lcfm_mlp_rows){x, y, 20}, none, test, D, seed) / 4;
    early += lcfm_mlp_probe_r2(&c, (lcfm_mlp_rows){x, y, 20}, stopping, test, D, seed) / 4;
  }
  printf(
      "R^2: learnable %.3f (20 rows: %.3f), independent %.3f; 20 rows of the independent target (mean of 4 draws): %.3f, "
      "with early stopping %.3f; learnable with early stopping %.3f\n",
      learned, few, noise, overfit, early, learned_early);
  EXPECT(early > overfit + 0.1,
         "20 independent rows (mean of 4 draws): R^2 %.3f with early stopping, %.3f without", early,
         overfit);
  EXPECT(early > -0.1, "20 independent rows with early stopping: R^2 %.3f", early);
  EXPECT(learned_early > 0.85, "learnable target with early stopping: R^2 %.3f", learned_early);
  EXPECT(learned > 0.9, "learnable target: R^2 %.3f", learned);
  EXPECT(learned == again, "not deterministic: %.17g vs %.17g", learned, again);
  EXPECT(few < learned, "20 rows (%.3f) did as well as 600 (%.3f)", few, learned);
  EXPECT(noise < 0.1, "independent target: R^2 %.3f", noise);
  return lcfm_test_finish("test_mlp_probe");
}
