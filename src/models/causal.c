/* causal.c: the causal dual-encoder model and the single-latent baseline (see models.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/models.h"

int lcfm_causal_config_from_job(lcfm_causal_config *c, const lcfm_job *job) {
  memset(c, 0, sizeof *c);
  int problems = 0;
  const lcfm_settings_model *model_keys = &lcfm_job_settings(job)->model;
  /* the model-kind table sends causal and baseline here; the encoder is one of its choices */
  c->kind = !strcmp(model_keys->kind, "baseline") ? LCFM_BASELINE : LCFM_CAUSAL;
  c->encoder = !strcmp(model_keys->encoder, "mlp") ? LCFM_ENCODER_MLP : LCFM_ENCODER_CONFORMER;
  c->T = (int)model_keys->T;
  c->d = (int)model_keys->d_model;
  c->heads = (int)model_keys->heads;
  c->ff = (int)model_keys->feed_forward;
  c->blocks = (int)model_keys->blocks;
  c->kernel = (int)model_keys->kernel;
  c->latent = (int)model_keys->latent;
  c->mlp_hidden = (int)model_keys->mlp_hidden;
  c->proj_hidden = (int)model_keys->projection_hidden;
  c->proj_dim = (int)model_keys->projection_dim;
  c->decoder_hidden = (int)model_keys->decoder_hidden;
  c->dropout = (float)model_keys->dropout;
  c->tau = (float)model_keys->tau;
  c->w_recon = (float)model_keys->weight_recon;
  c->w_star = (float)model_keys->weight_star;
  c->w_instr = (float)model_keys->weight_instr;
  c->w_indep = (float)model_keys->lambda_independence;
  if (c->w_indep > 0 && c->kind != LCFM_CAUSAL)
    problems++, lcfm_job_error(job, "model", "lambda_independence",
                               "needs two latents (kind = causal), not %s", model_keys->kind);
  if (c->d % c->heads)
    problems++, lcfm_job_error(job, "model", "heads", "d_model %d is not divisible by %d heads",
                               c->d, c->heads);
  if (c->kernel % 2 == 0)
    problems++, lcfm_job_error(job, "model", "kernel", "the convolution kernel must be odd, not %d",
                               c->kernel);
  return problems;
}

char *lcfm_causal_settings(const lcfm_causal_config *c) {
  char *text = lcfm_malloc(512);
  snprintf(
      text, 512,
      "model kind=%s encoder=%s T=%d d_model=%d heads=%d feed_forward=%d blocks=%d kernel=%d latent=%d "
      "mlp_hidden=%d projection_hidden=%d projection_dim=%d decoder_hidden=%d",
      c->kind == LCFM_CAUSAL ? "causal" : "baseline",
      c->encoder == LCFM_ENCODER_MLP ? "mlp" : "conformer", c->T, c->d, c->heads, c->ff, c->blocks,
      c->kernel, c->latent, c->mlp_hidden, c->proj_hidden, c->proj_dim, c->decoder_hidden);
  return text;
}

static const char *const encoder_names[2][2] = {{"stellar", "instrumental"}, {"encoder", ""}};
static const char *const projection_names[2][2] = {{"proj_star", "proj_instr"}, {"proj", ""}};
static const char *const decoder_names[2][2] = {{"dec_star", "dec_instr"}, {"dec", ""}};

static void register_tensors(lcfm_causal_model *m) {
  const lcfm_causal_config *c = &m->cfg;
  int k = c->kind;
  for (int e = 0; e < m->encoders; e++) {
    if (c->encoder == LCFM_ENCODER_CONFORMER) {
      lcfm_causal_encoder_config ec = lcfm_causal_encoder_defaults();
      ec.d = c->d, ec.heads = c->heads, ec.ff = c->ff, ec.blocks = c->blocks, ec.kernel = c->kernel;
      ec.latent = c->latent, ec.T = c->T, ec.max_batch = c->max_rows, ec.dropout = c->dropout,
      ec.id = e;
      lcfm_causal_encoder_init(&m->conformer[e], &ec, &m->params, encoder_names[k][e]);
    } else {
      int dims[4] = {c->T, c->mlp_hidden, c->mlp_hidden, c->latent};
      lcfm_mlp_init(&m->mlp_encoder[e], 3, dims, c->max_rows, &m->params, encoder_names[k][e]);
    }
    int proj_dims[3] = {c->latent, c->proj_hidden, c->proj_dim};
    lcfm_mlp_init(&m->projection[e], 2, proj_dims, m->global_capacity, &m->params,
                  projection_names[k][e]);
    int dec_dims[3] = {c->latent, c->decoder_hidden, c->decoder_hidden};
    lcfm_mlp_init(&m->decoder[e], 2, dec_dims, c->max_rows, &m->params, decoder_names[k][e]);
  }
  m->decoder_out.w =
      lcfm_nn_params_add2(&m->params, LCFM_INIT_FANIN, c->T, c->decoder_hidden, "dec_out.w");
  m->decoder_out.b = lcfm_nn_params_add2(&m->params, LCFM_INIT_ZERO, c->T, 0, "dec_out.b");
}

/* Every activation and gradient buffer of the heads, decoder and losses, in one arena. */
static void layout_buffers(lcfm_causal_model *m, lcfm_nn_arena *a) {
  const lcfm_causal_config *c = &m->cfg;
  size_t rows = (size_t)c->max_rows, global = (size_t)m->global_capacity;
  for (int e = 0; e < m->encoders; e++) {
    if (c->encoder == LCFM_ENCODER_MLP) lcfm_mlp_layout(&m->mlp_encoder[e], a);
    lcfm_mlp_layout(&m->projection[e], a);
    lcfm_mlp_layout(&m->decoder[e], a);
    m->dz[e] = lcfm_nn_arena_take(a, rows * (size_t)c->latent);
    m->branch_grad[e] = lcfm_nn_arena_take(a, rows * (size_t)c->decoder_hidden);
  }
  m->product = lcfm_nn_arena_take(a, rows * (size_t)c->decoder_hidden);
  m->dproduct = lcfm_nn_arena_take(a, rows * (size_t)c->decoder_hidden);
  m->recon = lcfm_nn_arena_take(a, rows * (size_t)c->T);
  m->drecon = lcfm_nn_arena_take(a, rows * (size_t)c->T);
  m->masked_values = lcfm_nn_arena_take(a, rows * (size_t)c->T);
  m->gathered = lcfm_nn_arena_take(a, global * (size_t)c->proj_dim);
  m->dgathered = lcfm_nn_arena_take(a, global * (size_t)c->proj_dim);
  m->dq = lcfm_nn_arena_take(a, rows * (size_t)c->proj_dim);
  m->infonce_scratch = lcfm_nn_arena_take(
      a, lcfm_loss_infonce_rows_scratch_floats(c->max_rows, m->global_capacity, c->proj_dim));
}

void lcfm_causal_init(lcfm_causal_model *m, const lcfm_causal_config *cfg, int global_rows,
                      uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  m->encoders = cfg->kind == LCFM_CAUSAL ? 2 : 1;
  m->global_capacity = global_rows;
  lcfm_nn_params_init(&m->params);
  register_tensors(m);
  lcfm_nn_params_alloc(&m->params);
  lcfm_nn_params_init_default(&m->params, seed);
  for (int e = 0; e < m->encoders && cfg->encoder == LCFM_ENCODER_CONFORMER; e++)
    lcfm_causal_encoder_alloc(&m->conformer[e]);
  memset(&m->arena, 0, sizeof m->arena);
  layout_buffers(m, &m->arena); /* counting pass */
  lcfm_nn_arena_alloc(&m->arena);
  layout_buffers(m, &m->arena);
  m->gathered_keys = lcfm_malloc((size_t)global_rows * sizeof *m->gathered_keys);
  m->xcorr_moments =
      lcfm_malloc(lcfm_xcorr_moments_size(cfg->latent, cfg->latent) * sizeof *m->xcorr_moments);
}

void lcfm_causal_free(lcfm_causal_model *m) {
  for (int e = 0; e < m->encoders && m->cfg.encoder == LCFM_ENCODER_CONFORMER; e++)
    lcfm_causal_encoder_free(&m->conformer[e]);
  lcfm_nn_arena_free(&m->arena);
  lcfm_nn_params_free(&m->params);
  free(m->gathered_keys);
  free(m->xcorr_moments);
  free(m->row_counts);
  memset(m, 0, sizeof *m);
}

static const float *encode(lcfm_causal_model *m, int e, const float *times, const float *values,
                           const float *mask, int rows, int training, uint64_t seed,
                           uint64_t step) {
  if (m->cfg.encoder == LCFM_ENCODER_CONFORMER) {
    lcfm_nn_series x = {times, values, mask, NULL, rows};
    return lcfm_causal_encoder_forward(&m->conformer[e], &m->params, &x, training, seed, step);
  }
  return lcfm_mlp_forward(&m->mlp_encoder[e], &m->params, m->masked_values, rows);
}

static void encode_backward(lcfm_causal_model *m, int e, const float *dz, int rows, int training) {
  if (m->cfg.encoder == LCFM_ENCODER_CONFORMER)
    lcfm_causal_encoder_backward(&m->conformer[e], &m->params, dz, training);
  else lcfm_mlp_backward(&m->mlp_encoder[e], &m->params, NULL, dz, rows);
}

void lcfm_causal_embed(lcfm_causal_model *m, const float *times, const float *values,
                       const float *mask, int rows, const float **z_star, const float **z_instr) {
  size_t n = (size_t)rows * (size_t)m->cfg.T;
  for (size_t i = 0; i < n; i++) m->masked_values[i] = values[i] * mask[i];
  for (int e = 0; e < m->encoders; e++)
    m->z[e] =
        m->cfg.encoder == LCFM_ENCODER_CONFORMER /* the engine's path without saved activations */
            ? lcfm_causal_encoder_infer(&m->conformer[e], &m->params,
                                        &(lcfm_nn_series){times, values, mask, NULL, rows})
            : encode(m, e, times, values, mask, rows, 0, 0, 0);
  *z_star = m->z[0];
  *z_instr = m->encoders > 1 ? m->z[1] : NULL;
}

/* Decoder: x_hat = W (D_0(z_0) [* D_1(z_1)]) + b. */
static void decode_forward(lcfm_causal_model *m, int rows) {
  const lcfm_causal_config *c = &m->cfg;
  size_t n = (size_t)rows * (size_t)c->decoder_hidden;
  const float *u = lcfm_mlp_forward(&m->decoder[0], &m->params, m->z[0], rows);
  memcpy(m->product, u, n * sizeof *u);
  if (m->encoders > 1) {
    const float *w = lcfm_mlp_forward(&m->decoder[1], &m->params, m->z[1], rows);
    for (size_t i = 0; i < n; i++) m->product[i] *= w[i];
  }
  lcfm_linear_forward(m->recon, m->product, m->params.params + m->decoder_out.w,
                      m->params.params + m->decoder_out.b, rows, c->decoder_hidden, c->T);
}

static void decode_backward(lcfm_causal_model *m, int rows) {
  const lcfm_causal_config *c = &m->cfg;
  size_t n = (size_t)rows * (size_t)c->decoder_hidden;
  lcfm_linear_backward_set(m->dproduct, m->params.grads + m->decoder_out.w,
                           m->params.grads + m->decoder_out.b, m->drecon, m->product,
                           m->params.params + m->decoder_out.w, rows, c->decoder_hidden, c->T);
  if (m->encoders == 1) {
    lcfm_mlp_backward(&m->decoder[0], &m->params, m->dz[0], m->dproduct, rows);
    return;
  }
  const float *u = m->decoder[0].act[m->decoder[0].layers - 1],
              *w = m->decoder[1].act[m->decoder[1].layers - 1];
  for (size_t i = 0; i < n; i++) {
    m->branch_grad[0][i] = m->dproduct[i] * w[i];
    m->branch_grad[1][i] = m->dproduct[i] * u[i];
  }
  for (int e = 0; e < 2; e++)
    lcfm_mlp_backward(&m->decoder[e], &m->params, m->dz[e], m->branch_grad[e], rows);
}

/* Sizes the per-rank tables of the gathers for a communicator of `ranks` (once: the trainer's
 * communicator does not change between steps). */
static void plan_gathers(lcfm_causal_model *m, int ranks) {
  if (m->gather_ranks == ranks) return;
  free(m->row_counts);
  m->row_counts = lcfm_malloc(4 * (size_t)ranks * sizeof *m->row_counts);
  m->row_displs = m->row_counts + ranks, m->counts = m->row_displs + ranks,
  m->displs = m->counts + ranks;
  m->gather_ranks = ranks;
}

/* InfoNCE over the gathered projections of head e with the gathered keys, by rows: this rank
 * computes the similarity rows of its own samples against the whole batch (O(rows x global)),
 * the ranks' shares of the loss are summed and their shares of the gradient reduce-scattered,
 * so each rank gets its rows of the whole gradient and adds them (times weight) into dz[e]
 * through the head. Returns the loss. */
static double contrastive(lcfm_causal_model *m, MPI_Comm comm, int e, const int64_t *keys, int rows,
                          float weight) {
  const lcfm_causal_config *c = &m->cfg;
  int ranks, rank, D = c->proj_dim;
  MPI_Comm_size(comm, &ranks);
  MPI_Comm_rank(comm, &rank);
  plan_gathers(m, ranks);
  const float *q = lcfm_mlp_forward(&m->projection[e], &m->params, m->z[e], rows);
  LCFM_CHECK_MPI(MPI_Allgather(&rows, 1, MPI_INT, m->row_counts, 1, MPI_INT, comm));
  int global = 0;
  for (int r = 0; r < ranks; r++) {
    m->row_displs[r] = global;
    m->counts[r] = m->row_counts[r] * D, m->displs[r] = global * D;
    global += m->row_counts[r];
  }
  LCFM_CHECK(global <= m->global_capacity, "global batch of %d rows exceeds the %d planned", global,
             m->global_capacity);
  LCFM_CHECK_MPI(
      MPI_Allgatherv(q, rows * D, MPI_FLOAT, m->gathered, m->counts, m->displs, MPI_FLOAT, comm));
  LCFM_CHECK_MPI(MPI_Allgatherv(keys, rows, MPI_INT64_T, m->gathered_keys, m->row_counts,
                                m->row_displs, MPI_INT64_T, comm));
  lcfm_nn_zero(m->dgathered, (size_t)global * (size_t)D);
  int first = m->row_displs[rank];
  double share = lcfm_loss_infonce_rows(m->dgathered, m->gathered, m->gathered_keys, global, D,
                                        c->tau, first, first + rows, m->infonce_scratch, weight);
  double loss = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&share, &loss, 1, MPI_DOUBLE, MPI_SUM, comm));
  LCFM_CHECK_MPI(MPI_Reduce_scatter(m->dgathered, m->dq, m->counts, MPI_FLOAT, MPI_SUM, comm));
  lcfm_mlp_backward(&m->projection[e], &m->params, m->dz[e], m->dq, rows);
  return loss;
}

/* The independence penalty over the global batch: one all-reduce of the latents' moments, then
 * this rank's rows of its gradient into dz[0] and dz[1]. Returns the loss. */
static double independence(lcfm_causal_model *m, MPI_Comm comm, int rows) {
  int L = m->cfg.latent, count = (int)lcfm_xcorr_moments_size(L, L);
  lcfm_xcorr_moments(m->xcorr_moments, m->z[0], m->z[1], rows, L, L);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, m->xcorr_moments, count, MPI_DOUBLE, MPI_SUM, comm));
  return lcfm_loss_xcorr(m->dz[0], m->dz[1], m->z[0], m->z[1], rows, m->xcorr_moments, L, L,
                         m->cfg.w_indep);
}

void lcfm_batch_rows_alloc(lcfm_batch_rows *b, int64_t triplets, int T) {
  size_t rows = (size_t)(3 * (triplets ? triplets : 1));
  b->times = lcfm_malloc(rows * (size_t)T * sizeof *b->times);
  b->values = lcfm_malloc(rows * (size_t)T * sizeof *b->values);
  b->mask = lcfm_malloc(rows * (size_t)T * sizeof *b->mask);
  b->source = lcfm_malloc(rows * sizeof *b->source);
  b->instrument = lcfm_malloc(rows * sizeof *b->instrument);
}

void lcfm_batch_rows_free(lcfm_batch_rows *b) {
  free(b->times), free(b->values), free(b->mask), free(b->source), free(b->instrument);
}

lcfm_causal_loss lcfm_causal_step(lcfm_causal_model *m, MPI_Comm comm, const lcfm_batch_rows *b,
                                  int training, uint64_t seed, uint64_t step) {
  const float *times = b->times, *values = b->values, *mask = b->mask;
  const int64_t *source = b->source, *instrument = b->instrument;
  int rows = b->rows;
  const lcfm_causal_config *c = &m->cfg;
  LCFM_CHECK(rows <= c->max_rows, "%d sequences exceed the %d planned per rank", rows, c->max_rows);
  size_t n = (size_t)rows * (size_t)c->T;
  for (size_t i = 0; i < n; i++) m->masked_values[i] = values[i] * mask[i];
  lcfm_nn_params_zero_grad(&m->params);
  for (int e = 0; e < m->encoders; e++) {
    m->z[e] = encode(m, e, times, values, mask, rows, training, seed, step);
    lcfm_nn_zero(m->dz[e], (size_t)rows * (size_t)c->latent);
  }
  lcfm_causal_loss loss = {0};
  /* Reconstruction, normalised by the global number of valid points. */
  double local_valid = 0, global_valid = 0;
  for (size_t i = 0; i < n; i++) local_valid += mask[i];
  LCFM_CHECK_MPI(MPI_Allreduce(&local_valid, &global_valid, 1, MPI_DOUBLE, MPI_SUM, comm));
  decode_forward(m, rows);
  lcfm_nn_zero(m->drecon, n);
  float share = global_valid > 0 ? (float)(local_valid / global_valid) : 0.0f;
  double local_mse =
      local_valid > 0
          ? lcfm_loss_masked_mse(m->drecon, m->recon, values, mask, n, c->w_recon * share) * share
          : 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&local_mse, &loss.recon, 1, MPI_DOUBLE, MPI_SUM, comm));
  decode_backward(m, rows);
  loss.star = contrastive(m, comm, 0, source, rows, c->w_star);
  if (m->encoders > 1) loss.instr = contrastive(m, comm, 1, instrument, rows, c->w_instr);
  if (m->encoders > 1 && c->w_indep > 0) loss.indep = independence(m, comm, rows);
  loss.total = c->w_recon * loss.recon + c->w_star * loss.star + c->w_instr * loss.instr +
               c->w_indep * loss.indep;
  for (int e = 0; e < m->encoders; e++) encode_backward(m, e, m->dz[e], rows, training);
  return loss;
}
