/* mlp_probe.c: the few-shot MLP regressor (see mlp_probe.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/mlp_probe.h"
#include "lcfm/models.h"
#include "lcfm/rng.h"
#include "probe_util_internal.h"

enum { LCFM_STREAM_PROBE_BATCH = LCFM_STREAM_USER + 300 };

double lcfm_r2(const float *prediction, const float *truth, int64_t m) {
  double mean = 0, residual = 0, total = 0;
  for (int64_t i = 0; i < m; i++) mean += truth[i];
  mean /= (double)(m ? m : 1);
  for (int64_t i = 0; i < m; i++) {
    residual += ((double)truth[i] - prediction[i]) * ((double)truth[i] - prediction[i]);
    total += ((double)truth[i] - mean) * ((double)truth[i] - mean);
  }
  return total > 0 ? 1.0 - residual / total : 0.0;
}

/* Mean squared error of the network on standardised rows x [v, D] against y [v]. */
static double stopping_mse(lcfm_mlp *net, const lcfm_nn_params *params, const float *x,
                           const float *y, int v) {
  const float *out = lcfm_mlp_forward(net, params, x, v);
  double sum = 0;
  for (int i = 0; i < v; i++) sum += ((double)out[i] - y[i]) * ((double)out[i] - y[i]);
  return sum / v;
}

double lcfm_mlp_probe_r2(const lcfm_mlp_probe_config *c, lcfm_mlp_rows train_rows,
                         lcfm_mlp_rows stopping, lcfm_mlp_rows test_rows, int D, uint64_t seed) {
  int n = train_rows.rows, held = stopping.rows, m = test_rows.rows;
  int batch = c->batch < n ? c->batch : n, rows = batch > m ? batch : m;
  if (held > rows) rows = held;
  lcfm_nn_params params;
  lcfm_nn_params_init(&params);
  lcfm_mlp net;
  int dims[4] = {D, c->hidden, c->hidden, 1};
  lcfm_mlp_init(&net, 3, dims, rows, &params, "probe");
  lcfm_nn_params_alloc(&params);
  lcfm_nn_params_init_default(&params, seed);
  lcfm_nn_arena arena = {0};
  lcfm_mlp_layout(&net, &arena);
  lcfm_nn_arena_alloc(&arena);
  lcfm_mlp_layout(&net, &arena);

  /* standardised with the training rows' statistics only */
  float *mean = lcfm_malloc((size_t)D * sizeof *mean),
        *scale = lcfm_malloc((size_t)D * sizeof *scale);
  float y_mean, y_scale;
  probe_column_stats(train_rows.x, n, D, mean, scale);
  probe_column_stats(train_rows.y, n, 1, &y_mean, &y_scale);
  float *train = lcfm_malloc((size_t)n * D * sizeof *train),
        *test = lcfm_malloc((size_t)m * D * sizeof *test);
  float *x_held = lcfm_malloc((size_t)held * D * sizeof *x_held);
  probe_standardise(train, train_rows.x, n, D, mean, scale);
  probe_standardise(test, test_rows.x, m, D, mean, scale);
  probe_standardise(x_held, stopping.x, held, D, mean, scale);
  float *xb = lcfm_malloc((size_t)batch * D * sizeof *xb),
        *yb = lcfm_malloc((size_t)batch * sizeof *yb);
  float *dout = lcfm_malloc((size_t)rows * sizeof *dout);
  float *y_held = lcfm_malloc((size_t)held * sizeof *y_held);
  for (int i = 0; i < held; i++) y_held[i] = (stopping.y[i] - y_mean) * y_scale;
  float *best = held ? lcfm_malloc(params.total * sizeof *best) : NULL;
  double best_mse = INFINITY;

  lcfm_adam opt = {
      .lr = c->lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = c->weight_decay};
  for (int step = 0; step < c->steps; step++) {
    for (int b = 0; b < batch; b++) { /* keyed sampling with replacement */
      int64_t i =
          (int64_t)lcfm_rng_below(seed, LCFM_STREAM_PROBE_BATCH,
                                  (uint64_t)step * (uint64_t)batch + (uint64_t)b, (uint64_t)n);
      memcpy(xb + (size_t)b * D, train + (size_t)i * D, (size_t)D * sizeof *xb);
      yb[b] = (train_rows.y[i] - y_mean) * y_scale;
    }
    lcfm_nn_params_zero_grad(&params);
    const float *out = lcfm_mlp_forward(&net, &params, xb, batch);
    lcfm_nn_zero(dout, (size_t)batch);
    lcfm_loss_masked_mse(dout, out, yb, NULL, (size_t)batch, 1.0f);
    lcfm_mlp_backward(&net, &params, NULL, dout, batch);
    lcfm_adam_step(&opt, &params);
    if (held && (step % 10 == 9 || step == c->steps - 1)) {
      double mse = stopping_mse(&net, &params, x_held, y_held, held);
      if (mse < best_mse) best_mse = mse, memcpy(best, params.params, params.total * sizeof *best);
    }
  }
  if (held) memcpy(params.params, best, params.total * sizeof *best);
  const float *out = lcfm_mlp_forward(&net, &params, test, m);
  float *prediction = lcfm_malloc((size_t)m * sizeof *prediction);
  for (int i = 0; i < m; i++) prediction[i] = out[i] / y_scale + y_mean;
  double r2 = lcfm_r2(prediction, test_rows.y, m);
  free(prediction), free(mean), free(scale), free(train), free(test), free(x_held), free(xb),
      free(yb), free(dout), free(y_held), free(best);
  lcfm_nn_arena_free(&arena);
  lcfm_nn_params_free(&params);
  return r2;
}
