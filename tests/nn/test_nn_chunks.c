/* test_nn_chunks.c: the encoders' chunked training passes against the same model composed here
 * from the public full-batch layers and blocks (the way the engine computed it before chunking).
 *
 * The causal encoder and the Astromer 2 encoder run forward (dropout on: the chunks must draw the
 * very masks of the full-batch call), then backward, on batches of several chunks with a partial
 * last one, padding and hidden tokens, with 2 threads (chunks in parallel) and with 1. Outputs and
 * every parameter gradient must agree with the reference:
 *   max_i |chunked_i - reference_i| <= 1e-5 max(max_i |reference_i|, 1e-3)   per tensor. */
#include <math.h>
#include <mpi.h>
#include <string.h>

#include "../lcfm_test.h"
#include "nn_fd.h"
#include "lcfm/error.h"
#include "lcfm/nn_models.h"
#include "lcfm/rng.h"

#define TOL 1e-5

static double rel_err(const float *a, const float *b, size_t n) {
  double worst = 0, scale = 1e-3;
  for (size_t i = 0; i < n; i++) {
    worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    scale = fmax(scale, fabs((double)b[i]));
  }
  return worst / scale;
}

/* Every tensor's gradient in got against ref; returns the worst relative error. */
static double compare_grads(const char *what, const lcfm_nn_params *p, const float *got,
                            const float *ref) {
  double worst = 0;
  for (int k = 0; k < p->count; k++) {
    const lcfm_nn_tensor *t = &p->tensors[k];
    double e = rel_err(got + t->offset, ref + t->offset, t->numel);
    EXPECT(e <= TOL, "%s: gradient of %s differs from the reference by %g", what, t->name, e);
    worst = fmax(worst, e);
  }
  return worst;
}

static uint64_t counter(uint64_t step, int id, int site) {
  return step * 4096u + (uint64_t)id * 256u + (uint64_t)site;
}

/* ---------------- causal encoder ---------------- */

/* The encoder of nn_models.h composed from full-batch calls; gradients into p->grads. */
typedef struct {
  lcfm_nn_arena acts, scr;
  lcfm_conformer_acts *ba;
  lcfm_nn_scratch s;
  float *x0, *h, *gates, *cell, *pooled, *z, *dpooled, *dh, *dx[2], *lstm_scratch;
} causal_ref;

static void causal_ref_layout(causal_ref *r, const lcfm_causal_encoder *e) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  int B = c->max_batch, T = c->T, d = c->d;
  size_t nd = (size_t)B * T * d;
  r->x0 = lcfm_nn_arena_take(&r->acts, nd);
  for (int i = 0; i < c->blocks; i++)
    lcfm_conformer_acts_layout(&r->ba[i], &e->bcfg, &r->acts, B, T);
  r->h = lcfm_nn_arena_take(&r->acts, nd), r->gates = lcfm_nn_arena_take(&r->acts, 4 * nd);
  r->cell = lcfm_nn_arena_take(&r->acts, nd),
  r->pooled = lcfm_nn_arena_take(&r->acts, (size_t)B * d);
  r->z = lcfm_nn_arena_take(&r->acts, (size_t)B * c->latent);
  lcfm_nn_scratch_layout(&r->s, &r->scr, B * T, T, d, c->ff);
  r->dpooled = lcfm_nn_arena_take(&r->scr, (size_t)B * d), r->dh = lcfm_nn_arena_take(&r->scr, nd);
  r->dx[0] = lcfm_nn_arena_take(&r->scr, nd), r->dx[1] = lcfm_nn_arena_take(&r->scr, nd);
  r->lstm_scratch = lcfm_nn_arena_take(&r->scr, lcfm_lstm_scratch_floats(B, T, d));
}

static void causal_ref_pass(causal_ref *r, const lcfm_causal_encoder *e, lcfm_nn_params *p,
                            const float *times, const float *values, const float *mask,
                            const float *dz, int B, uint64_t seed, uint64_t step) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  int T = c->T, d = c->d, N = B * T;
  size_t nd = (size_t)N * d;
  const float *P = p->params;
  float *G = p->grads;
  lcfm_nn_params_transpose(p, 0, p->total); /* the blocks' and the LSTM's forward products */
  lcfm_timeenc_forward(r->x0, times, N, d);
  lcfm_scalar_embed_forward(r->x0, values, P + e->embed.w, P + e->embed.b, N, d, 1);
  const float *x = r->x0;
  for (int i = 0; i < c->blocks; i++) {
    lcfm_nn_block_batch xb = {x, mask, B, T, 1, seed, counter(step, c->id, 4 * i), 0};
    lcfm_conformer_forward(&r->ba[i], &e->bcfg, &e->blk[i], p, &xb, &r->s);
    x = r->ba[i].out;
  }
  lcfm_lstm_acts lstm = {r->h, r->gates, r->cell};
  lcfm_lstm_tensors w = {p->params + e->w_ih, p->params + e->w_hh,   p->params + e->b_ih,
                         p->params + e->b_hh, p->params_t + e->w_ih, p->params_t + e->w_hh};
  lcfm_lstm_tensors dw = {G + e->w_ih, G + e->w_hh, G + e->b_ih, G + e->b_hh, NULL, NULL};
  lcfm_lstm_forward(&lstm, x, &w, (lcfm_lstm_dims){B, T, d, d});
  lcfm_meanpool_forward(r->pooled, r->h, mask, B, T, d);
  lcfm_linear_forward(r->z, r->pooled, P + e->head.w, P + e->head.b, B, d, c->latent);
  memset(r->dpooled, 0, sizeof(float) * (size_t)B * d);
  lcfm_linear_backward(r->dpooled, G + e->head.w, G + e->head.b, dz, r->pooled, P + e->head.w, B, d,
                       c->latent);
  memset(r->dh, 0, sizeof(float) * nd);
  lcfm_meanpool_backward(r->dh, r->dpooled, mask, B, T, d);
  int cur = 0;
  memset(r->dx[cur], 0, sizeof(float) * nd);
  lcfm_lstm_backward(r->dx[cur], &dw, r->dh, x, &lstm, &w, r->lstm_scratch,
                     (lcfm_lstm_dims){B, T, d, d});
  for (int i = c->blocks - 1; i >= 0; i--) {
    memset(r->dx[1 - cur], 0, sizeof(float) * nd);
    lcfm_nn_block_batch xb = {i > 0 ? r->ba[i - 1].out : r->x0, mask, B, T, 1, 0, 0, 0};
    lcfm_conformer_backward(r->dx[1 - cur], &r->ba[i], &e->bcfg, &e->blk[i], p, r->dx[cur], &xb,
                            &r->s);
    cur = 1 - cur;
  }
  lcfm_scalar_embed_backward(NULL, G + e->embed.w, G + e->embed.b, r->dx[cur], values,
                             P + e->embed.w, N, d);
}

/* The causal encoder's chunks against the reference, keeping every block activation (keep 1) or
 * recomputing the blocks in backward (keep 0). Returns the 1-thread gradients (*total floats,
 * the caller frees them) and *act_bytes the saved activations, for test_causal to compare. */
static float *causal_chunks(int keep, size_t *total, size_t *act_bytes) {
  lcfm_causal_encoder_config cfg = fd_small_causal_config(1);
  cfg.keep_block_acts = keep;
  lcfm_nn_params p;
  lcfm_causal_encoder e;
  fd_causal_encoder_make(&e, &p, &cfg, 41);
  causal_ref r;
  memset(&r, 0, sizeof r);
  r.ba = lcfm_calloc((size_t)cfg.blocks, sizeof *r.ba);
  causal_ref_layout(&r, &e);
  lcfm_nn_arena_alloc(&r.acts), lcfm_nn_arena_alloc(&r.scr);
  causal_ref_layout(&r, &e);
  int B = cfg.max_batch, T = cfg.T, L = cfg.latent;
  size_t n = (size_t)B * T;
  float *times = fd_buffer(n), *values = fd_buffer(n), *mask = fd_buffer(n),
        *dz = fd_buffer((size_t)B * L);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      times[i] = 0.8f * (float)t + 0.03f * (float)b;
      values[i] = (float)(2.0 * lcfm_rng_uniform(42, 1, i) - 1.0);
      mask[i] = t < T - b % 4 ? 1.0f : 0.0f;
    }
  for (size_t i = 0; i < (size_t)B * L; i++) dz[i] = (float)lcfm_rng_normal(42, 2, i);
  float *ref_grads = fd_buffer(p.total), *ref_z = fd_buffer((size_t)B * L);
  lcfm_nn_params_zero_grad(&p);
  causal_ref_pass(&r, &e, &p, times, values, mask, dz, B, 5, 7);
  memcpy(ref_grads, p.grads, p.total * sizeof(float));
  memcpy(ref_z, r.z, (size_t)B * L * sizeof(float));
  for (int threads = 2; threads >= 1; threads--) {
    lcfm_nn_set_threads(threads);
    lcfm_nn_params_zero_grad(&p);
    const float *z = lcfm_causal_encoder_forward(
        &e, &p, &(lcfm_nn_series){times, values, mask, NULL, B}, 1, 5, 7);
    double ez = rel_err(z, ref_z, (size_t)B * L);
    lcfm_causal_encoder_backward(&e, &p, dz, 1);
    char what[96];
    snprintf(what, sizeof what, "causal (%s), %d thread(s)",
             keep ? "activations kept" : "blocks recomputed", threads);
    double eg = compare_grads(what, &p, p.grads, ref_grads);
    printf("%s: z %.2g, gradients %.2g (relative to the full-batch reference)\n", what, ez, eg);
    EXPECT(ez <= TOL, "%s: latents differ from the reference by %g", what, ez);
  }
  float *grads = fd_buffer(p.total);
  memcpy(grads, p.grads, p.total * sizeof(float));
  *total = p.total;
  lcfm_nn_memory(&e.base.acts, &e.base.scr, act_bytes, NULL);
  lcfm_nn_set_threads(2);
  free(times), free(values), free(mask), free(dz), free(ref_grads), free(ref_z), free(r.ba);
  lcfm_nn_arena_free(&r.acts), lcfm_nn_arena_free(&r.scr);
  lcfm_causal_encoder_free(&e);
  lcfm_nn_params_free(&p);
  return grads;
}

/* Recomputing the blocks changes where activations live, not a single bit of the gradients, and
 * keeps fewer bytes than keeping them all. */
static void test_causal(void) {
  size_t total, total_again, kept_bytes, recomputed_bytes;
  float *kept = causal_chunks(1, &total, &kept_bytes);
  float *recomputed = causal_chunks(0, &total_again, &recomputed_bytes);
  EXPECT(
      total == total_again && memcmp(kept, recomputed, total * sizeof(float)) == 0,
      "causal: gradients with the blocks recomputed differ from those with every activation kept");
  printf("causal: saved activations %zu bytes kept, %zu recomputed\n", kept_bytes,
         recomputed_bytes);
  EXPECT(2 * recomputed_bytes < kept_bytes, "causal: recomputing keeps %zu bytes, keeping all %zu",
         recomputed_bytes, kept_bytes);
  free(kept), free(recomputed);
}

/* ---------------- Astromer 2 ---------------- */

typedef struct {
  lcfm_nn_arena acts, scr;
  lcfm_transformer_acts *ba;
  lcfm_nn_scratch s;
  float *x0, *te, *keymask, *head_in, *mean, *rstd, *pred, *dx[2];
} astro_ref;

static void astro_ref_layout(astro_ref *r, const lcfm_astromer *e) {
  const lcfm_astromer_config *c = &e->cfg;
  int B = c->max_batch, T = c->T, d = c->d;
  size_t N = (size_t)B * T, nd = N * d;
  r->x0 = lcfm_nn_arena_take(&r->acts, nd), r->te = lcfm_nn_arena_take(&r->acts, nd);
  r->keymask = lcfm_nn_arena_take(&r->acts, N);
  for (int i = 0; i < c->blocks; i++)
    lcfm_transformer_acts_layout(&r->ba[i], &e->bcfg, &r->acts, B, T);
  r->head_in = lcfm_nn_arena_take(&r->acts, nd), r->mean = lcfm_nn_arena_take(&r->acts, N);
  r->rstd = lcfm_nn_arena_take(&r->acts, N), r->pred = lcfm_nn_arena_take(&r->acts, N);
  lcfm_nn_scratch_layout(&r->s, &r->scr, (int)N, T, d, c->ff);
  r->dx[0] = lcfm_nn_arena_take(&r->scr, nd), r->dx[1] = lcfm_nn_arena_take(&r->scr, nd);
}

static void astro_ref_pass(astro_ref *r, const lcfm_astromer *e, lcfm_nn_params *p,
                           const float *times, const float *values, const float *valid,
                           const float *replace, const float *dpred, int B, uint64_t seed,
                           uint64_t step) {
  const lcfm_astromer_config *c = &e->cfg;
  int T = c->T, d = c->d, N = B * T;
  size_t nd = (size_t)N * d;
  const float *P = p->params;
  float *G = p->grads;
  lcfm_nn_params_transpose(p, 0, p->total); /* the blocks' forward products */
  lcfm_scalar_embed_forward(r->x0, values, P + e->embed.w, P + e->embed.b, N, d, 0);
  lcfm_masktoken_forward(r->x0, r->x0, P + e->mask_token, replace, N, d);
  lcfm_timeenc_forward(r->te, times, N, d);
  for (size_t i = 0; i < nd; i++) r->x0[i] += r->te[i];
  for (int n = 0; n < N; n++) r->keymask[n] = valid[n] * (1.0f - replace[n]);
  const float *x = r->x0;
  for (int i = 0; i < c->blocks; i++) {
    lcfm_nn_block_batch xb = {x, r->keymask, B, T, 1, seed, counter(step, c->id, 2 * i), 0};
    lcfm_transformer_forward(&r->ba[i], &e->bcfg, &e->blk[i], p, &xb, &r->s);
    x = r->ba[i].out;
  }
  lcfm_layernorm_forward(r->head_in, r->mean, r->rstd, x, P + e->head_ln.w, P + e->head_ln.b, N, d,
                         LCFM_NN_LN_EPS);
  lcfm_linear_forward(r->pred, r->head_in, P + e->head.w, P + e->head.b, N, d, 1);
  memset(r->dx[1], 0, nd * sizeof(float));
  lcfm_linear_backward(r->dx[1], G + e->head.w, G + e->head.b, dpred, r->head_in, P + e->head.w, N,
                       d, 1);
  memset(r->dx[0], 0, nd * sizeof(float));
  lcfm_layernorm_backward(r->dx[0], G + e->head_ln.w, G + e->head_ln.b, r->dx[1], x,
                          P + e->head_ln.w, r->mean, r->rstd, N, d);
  int cur = 0;
  for (int i = c->blocks - 1; i >= 0; i--) {
    memset(r->dx[1 - cur], 0, nd * sizeof(float));
    lcfm_nn_block_batch xb = {i > 0 ? r->ba[i - 1].out : r->x0, r->keymask, B, T, 1, 0, 0, 0};
    lcfm_transformer_backward(r->dx[1 - cur], &r->ba[i], &e->bcfg, &e->blk[i], p, r->dx[cur], &xb,
                              &r->s);
    cur = 1 - cur;
  }
  memset(r->dx[1 - cur], 0, nd * sizeof(float));
  lcfm_masktoken_backward(r->dx[1 - cur], G + e->mask_token, r->dx[cur], replace, N, d);
  lcfm_scalar_embed_backward(NULL, G + e->embed.w, G + e->embed.b, r->dx[1 - cur], values,
                             P + e->embed.w, N, d);
}

static void test_astromer(void) {
  lcfm_astromer_config cfg = fd_small_astromer_config(1, LCFM_ACT_GELU, 19);
  lcfm_nn_params p;
  lcfm_astromer e;
  fd_astromer_make(&e, &p, &cfg, 43);
  astro_ref r;
  memset(&r, 0, sizeof r);
  r.ba = lcfm_calloc((size_t)cfg.blocks, sizeof *r.ba);
  astro_ref_layout(&r, &e);
  lcfm_nn_arena_alloc(&r.acts), lcfm_nn_arena_alloc(&r.scr);
  astro_ref_layout(&r, &e);
  int B = cfg.max_batch, T = cfg.T;
  size_t n = (size_t)B * T;
  float *times = fd_buffer(n), *values = fd_buffer(n), *valid = fd_buffer(n),
        *replace = fd_buffer(n), *dpred = fd_buffer(n);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      times[i] = 0.37f * (float)t + 0.1f * (float)b;
      values[i] = (float)(lcfm_rng_uniform(44, 1, i) - 0.5);
      valid[i] = t < T - b % 3 ? 1.0f : 0.0f;
      replace[i] = valid[i] != 0.0f && lcfm_rng_uniform(44, 2, i) < 0.3 ? 1.0f : 0.0f;
      dpred[i] = (float)lcfm_rng_normal(44, 3, i);
    }
  float *ref_grads = fd_buffer(p.total), *ref_pred = fd_buffer(n);
  lcfm_nn_params_zero_grad(&p);
  astro_ref_pass(&r, &e, &p, times, values, valid, replace, dpred, B, 6, 3);
  memcpy(ref_grads, p.grads, p.total * sizeof(float));
  memcpy(ref_pred, r.pred, n * sizeof(float));
  for (int threads = 2; threads >= 1; threads--) {
    lcfm_nn_set_threads(threads);
    lcfm_nn_params_zero_grad(&p);
    lcfm_nn_series xs = {times, values, valid, replace, B};
    const float *pred = lcfm_astromer_forward(&e, &p, &xs, 1, 6, 3);
    double ep = rel_err(pred, ref_pred, n);
    lcfm_astromer_backward(&e, &p, dpred, 1);
    char what[64];
    snprintf(what, sizeof what, "astromer, %d thread(s)", threads);
    double eg = compare_grads(what, &p, p.grads, ref_grads);
    printf("%s: pred %.2g, gradients %.2g (relative to the full-batch reference)\n", what, ep, eg);
    EXPECT(ep <= TOL, "%s: predictions differ from the reference by %g", what, ep);
  }
  lcfm_nn_set_threads(2);
  free(times), free(values), free(valid), free(replace), free(dpred), free(ref_grads),
      free(ref_pred), free(r.ba);
  lcfm_nn_arena_free(&r.acts), lcfm_nn_arena_free(&r.scr);
  lcfm_astromer_free(&e);
  lcfm_nn_params_free(&p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_nn_set_threads(2);
  test_causal();
  test_astromer();
  return lcfm_test_finish("test_nn_chunks");
}
