/* mlp_probe.h: the few-shot MLP regressor of the causal paper's section 4.2: how much does an
 * input (raw light curve, a latent) know about a target (theta_{s,0}, a label) given n examples?
 *
 * lcfm_mlp_probe_r2 standardises inputs and target with the training statistics, trains
 * Linear(D, H)-ReLU-Linear(H, H)-ReLU-Linear(H, 1) with AdamW (lr 1e-3, weight decay 1e-4) on
 * mean squared error on keyed mini-batches of all n training rows, and returns the R^2 of its
 * predictions on the test rows. Early stopping: given stopping rows (a pool of their own, not taken
 * from the n training rows: `lcfm probe` draws them from other stars, probe_draw.h), their MSE is
 * measured every 10 steps and the weights of the best check are the ones tested. Without it a
 * 64-wide MLP fitted for 1000 steps to 10 or 50 rows learns them by heart and predicts the test
 * rows worse than their mean (R^2 far below 0). Serial: a probe task runs on one rank; `lcfm probe`
 * spreads the tasks (input x training size x run) over the ranks. Deterministic for a seed.
 */
#ifndef LCFM_MLP_PROBE_H
#define LCFM_MLP_PROBE_H

#include <stdint.h>

typedef struct {
  int hidden; /* H */
  int steps;  /* optimizer steps */
  int batch;  /* mini-batch size (at most the training size) */
  float lr, weight_decay;
} lcfm_mlp_probe_config;

/* rows of a data set: x [rows, D], y [rows] */
typedef struct {
  const float *x, *y;
  int rows;
} lcfm_mlp_rows;

/* R^2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2 over the test rows (mean of the test targets). */
double lcfm_r2(const float *prediction, const float *truth, int64_t m);

/* Trains on `train` (n rows), stops early on `stopping` (0 rows: trains every step), returns R^2 on
 * `test`. */
double lcfm_mlp_probe_r2(const lcfm_mlp_probe_config *c, lcfm_mlp_rows train,
                         lcfm_mlp_rows stopping, lcfm_mlp_rows test, int D, uint64_t seed);

#endif
