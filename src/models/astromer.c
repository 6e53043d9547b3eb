/* astromer.c: Astromer 2's pretraining model: configuration, the data-parallel weighted-RMSE step,
 * evaluation sums and per-layer window means (see astromer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/astromer.h"
#include "lcfm/error.h"

int lcfm_astromer2_config_from_job(lcfm_astromer2_config *c, const lcfm_job *job) {
  memset(c, 0, sizeof *c);
  int problems = 0;
  const lcfm_settings_model *model_keys = &lcfm_job_settings(job)->model;
  const char *kind = model_keys->kind;
  if (strcmp(kind, "astromer2"))
    problems++, lcfm_job_error(job, "model", "kind", "'%s' is not astromer2", kind);
  c->enc = lcfm_astromer_defaults();
  c->enc.T = (int)model_keys->T;
  c->enc.d = (int)model_keys->d_model;
  c->enc.heads = (int)model_keys->heads;
  c->enc.ff = (int)model_keys->feed_forward;
  c->enc.blocks = (int)model_keys->blocks;
  c->enc.residual = model_keys->residual;
  c->enc.dropout = (float)model_keys->dropout;
  c->enc.act = LCFM_ACT_TANH;
  c->probing.probe = model_keys->probe_fraction;
  c->probing.keep = model_keys->probe_keep;
  c->probing.random = model_keys->probe_random;
  if (c->enc.d % c->enc.heads)
    problems++, lcfm_job_error(job, "model", "heads", "d_model %d is not divisible by %d heads",
                               c->enc.d, c->enc.heads);
  if (c->enc.d % 2)
    problems++, lcfm_job_error(job, "model", "d_model",
                               "the time encoding needs an even d_model, not %d", c->enc.d);
  return problems;
}

char *lcfm_astromer2_settings(const lcfm_astromer2_config *c) {
  char *text = lcfm_malloc(256);
  snprintf(
      text, 256,
      "model kind=astromer2 T=%d d_model=%d heads=%d feed_forward=%d blocks=%d residual=%d act=tanh",
      c->enc.T, c->enc.d, c->enc.heads, c->enc.ff, c->enc.blocks, c->enc.residual);
  return text;
}

void lcfm_astromer2_init(lcfm_astromer2_model *m, const lcfm_astromer2_config *cfg, uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  lcfm_nn_params_init(&m->params);
  lcfm_astromer_init(&m->enc, &cfg->enc, &m->params, "astromer");
  lcfm_nn_params_alloc(&m->params);
  lcfm_nn_params_init_default(&m->params, seed);
  lcfm_astromer_alloc(&m->enc);
  m->dpred = lcfm_calloc((size_t)cfg->enc.max_batch * (size_t)cfg->enc.T, sizeof *m->dpred);
}

void lcfm_astromer2_free(lcfm_astromer2_model *m) {
  lcfm_astromer_free(&m->enc);
  lcfm_nn_params_free(&m->params);
  free(m->dpred);
  memset(m, 0, sizeof *m);
}

double lcfm_astromer2_step(lcfm_astromer2_model *m, MPI_Comm comm, const lcfm_masked_batch *b,
                           int64_t windows, int training, uint64_t seed, uint64_t step) {
  int rows = b->rows, T = m->cfg.enc.T;
  LCFM_CHECK(b->T == T, "astromer: batch of windows of %d points for a model of T = %d", b->T, T);
  if (training) lcfm_nn_params_zero_grad(&m->params);
  const float *pred = NULL;
  double local = 0; /* sum over this rank's windows of their weighted MSE */
  if (rows > 0) {
    lcfm_nn_series x = {b->times, b->input, b->valid, b->replace, rows};
    pred = lcfm_astromer_forward(&m->enc, &m->params, &x, training, seed, step);
    double l = lcfm_loss_astromer_rmse(NULL, pred, b->target, b->weight, b->probed, rows, T, 1.0f);
    local = l * l * rows;
  }
  double total = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, comm));
  double loss = windows > 0 ? sqrt(total / (double)windows) : 0.0;
  if (training && rows > 0 && loss > 0 && isfinite(loss)) {
    /* The engine's loss normalises by this rank's windows and loss; rescale its gradient to
     * this rank's share of d(global loss): 1 / (L W m) per window instead of 1 / (l rows m). */
    double local_loss = sqrt(local / rows);
    lcfm_nn_zero(m->dpred, (size_t)rows * T);
    lcfm_loss_astromer_rmse(m->dpred, pred, b->target, b->weight, b->probed, rows, T,
                            (float)(local_loss * rows / (loss * (double)windows)));
    lcfm_astromer_backward(&m->enc, &m->params, m->dpred, training);
  }
  return loss;
}

void lcfm_astromer2_accumulate(const lcfm_astromer2_model *m, const lcfm_masked_batch *b,
                               lcfm_astromer2_sums *s) {
  int T = b->T;
  const float *pred = m->enc.pred;
  for (int r = 0; r < b->rows; r++) {
    double weighted = 0, probed = 0;
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)r * T + t;
      if (b->probed[i] == 0.0f) continue;
      double y = b->target[i], e = (double)pred[i] - y;
      weighted += b->weight[i] * e * e;
      probed += 1;
      s->sse += e * e, s->sum_y += y, s->sum_y2 += y * y;
    }
    if (probed > 0) s->window_mse += weighted / probed;
    s->windows += 1, s->points += probed;
  }
}

void lcfm_astromer2_metrics(const lcfm_astromer2_sums *s, double *loss, double *rmse, double *r2) {
  *loss = s->windows > 0 ? sqrt(s->window_mse / s->windows) : NAN;
  *rmse = s->points > 0 ? sqrt(s->sse / s->points) : NAN;
  double total = s->points > 0 ? s->sum_y2 - s->sum_y * s->sum_y / s->points : 0;
  *r2 = total > 0 ? 1.0 - s->sse / total : NAN;
}

void lcfm_astromer2_layer_means(lcfm_astromer2_model *m, const lcfm_masked_batch *b, float *out) {
  if (b->rows == 0) return;
  /* the engine's inference path: chunks of windows per thread, nothing kept for backward */
  lcfm_nn_series x = {b->times, b->input, b->valid, b->replace, b->rows};
  lcfm_astromer_infer_layer_means(&m->enc, &m->params, &x, out);
}
