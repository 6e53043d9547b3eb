/* blocks.c: the Conformer block and the transformer block (see include/lcfm/nn_models.h for their
 * equations), as forward/backward pairs over the layers of nn.h. Saved activations live in the
 * caller's arena; backward works in a scratch shared by all blocks of a model. */
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/nn_models.h"
#include "nn_internal.h"

#define PW(off) (p->params + (off))
#define PWT(off) (p->params_t + (off)) /* the weight transposed (lcfm_nn_params_transpose) */
#define GW(off) (gd.g + ((off)-gd.base))

/* db [3d] += column sums of dqkv [N, 3d], except the key columns d..2d: softmax is invariant to
 * a shift of all scores of a query, so the key bias has an exactly zero gradient. Computed, it
 * would be rounding noise that Adam's per-element normalisation turns into steps of size lr
 * (and that differs with the rank count); its true value, zero, is added instead. */
static void qkv_bias_backward(float *db, const float *dqkv, int N, int d) {
  for (int n = 0; n < N; n++) {
    const float *row = dqkv + (size_t)n * 3 * d;
    for (int c = 0; c < d; c++) db[c] += row[c];
    for (int c = 2 * d; c < 3 * d; c++) db[c] += row[c];
  }
}

static lcfm_nn_lin add_lin(lcfm_nn_params *p, const char *prefix, const char *name, int64_t out,
                           int64_t in, int has_bias) {
  lcfm_nn_lin l = {0, 0};
  l.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, out, in, "%s.%s.w", prefix, name);
  if (has_bias) l.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, out, 0, "%s.%s.b", prefix, name);
  return l;
}

static lcfm_nn_lin add_ln(lcfm_nn_params *p, const char *prefix, const char *name, int64_t d) {
  lcfm_nn_lin l;
  l.w = lcfm_nn_params_add2(p, LCFM_INIT_ONE, d, 0, "%s.%s.w", prefix, name);
  l.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.%s.b", prefix, name);
  return l;
}

static float *take(lcfm_nn_arena *a, size_t n) { return lcfm_nn_arena_take(a, n); }

static void act_forward(lcfm_nn_act act, float *out, const float *inp, size_t n) {
  switch (act) {
  case LCFM_ACT_RELU: lcfm_relu_forward(out, inp, n); break;
  case LCFM_ACT_GELU: lcfm_gelu_forward(out, inp, n); break;
  case LCFM_ACT_SWISH: lcfm_swish_forward(out, inp, n); break;
  case LCFM_ACT_TANH: lcfm_tanh_forward(out, inp, n); break;
  }
}

static void act_backward(lcfm_nn_act act, float *dinp, const float *dout, const float *inp,
                         const float *out, size_t n) {
  switch (act) {
  case LCFM_ACT_RELU: lcfm_relu_backward(dinp, dout, inp, n); break;
  case LCFM_ACT_GELU: lcfm_gelu_backward(dinp, dout, inp, n); break;
  case LCFM_ACT_SWISH: lcfm_swish_backward(dinp, dout, inp, n); break;
  case LCFM_ACT_TANH: lcfm_tanh_backward(dinp, dout, out, n); break;
  }
}

static void act_backward_saved(lcfm_nn_act act, float *dinp, const float *dout, const float *saved,
                               const float *out, size_t n) {
  if (act == LCFM_ACT_SWISH) lcfm_swish_backward_sig(dinp, dout, out, saved, n);
  else act_backward(act, dinp, dout, saved, out, n);
}

/* h [N, C] += b, out = act(h), for h a product run without its bias (the fused forms of nn.h),
 * saving what act_backward_saved takes: for Swish the sigmoid, written over h. */
static void bias_act_forward_saving(lcfm_nn_act act, float *out, float *h, const float *b, int N,
                                    int C) {
  switch (act) {
  case LCFM_ACT_RELU: lcfm_bias_relu_forward(out, h, b, N, C); break;
  case LCFM_ACT_GELU: lcfm_bias_gelu_forward(out, h, b, N, C); break;
  case LCFM_ACT_SWISH: lcfm_bias_swish_forward_sig(out, h, h, b, N, C); break;
  case LCFM_ACT_TANH: lcfm_bias_tanh_forward(out, h, b, N, C); break;
  }
}

/* dy = alpha g (times the dropout mask when dropout was on) */
static void drop_grad(float *dy, const float *g, const float *mask, float alpha, size_t n) {
  if (mask) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dy[i] = alpha * g[i] * mask[i];
  } else {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dy[i] = alpha * g[i];
  }
}

static int drop_on(float p, int training) { return training && p > 0.0f; }

void lcfm_nn_scratch_layout(lcfm_nn_scratch *s, lcfm_nn_arena *arena, int N, int T, int d, int ff) {
  size_t wide = (size_t)(ff > 3 * d ? ff : 3 * d);
  size_t nd = (size_t)N * d;
  s->g = take(arena, nd);
  s->dy = take(arena, nd);
  s->t0 = take(arena, (size_t)N * wide);
  s->t1 = take(arena, (size_t)N * wide);
  s->t2 = take(arena, nd);
  s->t3 = take(arena, nd);
  s->fwd = take(arena, nd);
  s->att = take(arena, lcfm_attention_scratch_floats(T));
}

/* ----------------------------------------------------------------------------------------------
 * Feed-forward module with pre-norm: y = fc2(act(fc1(LN(x))))
 * -------------------------------------------------------------------------------------------- */

static void ffn_layout(lcfm_nn_ffn_acts *a, lcfm_nn_arena *arena, int N, int d, int ff, int drop) {
  a->ln = take(arena, (size_t)N * d);
  a->mean = take(arena, (size_t)N);
  a->rstd = take(arena, (size_t)N);
  a->h = take(arena, (size_t)N * ff);
  a->a = take(arena, (size_t)N * ff);
  a->drop = drop ? take(arena, (size_t)N * d) : NULL;
}

/* From the normalised input a->ln to the hidden activation a->a: the product, then its bias
 * and the activation in one pass. */
static void ffn_hidden_from_ln(lcfm_nn_ffn_acts *a, lcfm_nn_lin fc1, lcfm_nn_act act,
                               const lcfm_nn_params *p, int N, int d, int ff) {
  lcfm_linear_forward_t(a->h, a->ln, PWT(fc1.w), NULL, N, d, ff);
  bias_act_forward_saving(act, a->a, a->h, PW(fc1.b), N, ff);
}

/* The module up to its hidden activation a->a (what its backward reads besides the input). */
static void ffn_hidden_forward(lcfm_nn_ffn_acts *a, const float *inp, lcfm_nn_lin ln,
                               lcfm_nn_lin fc1, lcfm_nn_act act, const lcfm_nn_params *p, int N,
                               int d, int ff) {
  lcfm_layernorm_forward(a->ln, a->mean, a->rstd, inp, PW(ln.w), PW(ln.b), N, d, LCFM_NN_LN_EPS);
  ffn_hidden_from_ln(a, fc1, act, p, N, d, ff);
}

/* dinp += d/d inp given dy = d/d y. Uses s->t0, t1, t2. */
static void ffn_backward(float *dinp, const float *dy, const lcfm_nn_ffn_acts *a, const float *inp,
                         lcfm_nn_lin ln, lcfm_nn_lin fc1, lcfm_nn_lin fc2, lcfm_nn_act act,
                         const lcfm_nn_params *p, lcfm_nn_gdest gd, int N, int d, int ff,
                         lcfm_nn_scratch *s) {
  size_t nf = (size_t)N * ff;
  lcfm_linear_backward_set(s->t0, GW(fc2.w), GW(fc2.b), dy, a->a, PW(fc2.w), N, ff, d);
  lcfm_nn_zero(s->t1, nf);
  act_backward_saved(act, s->t1, s->t0, a->h, a->a, nf);
  lcfm_linear_backward_set(s->t2, GW(fc1.w), GW(fc1.b), s->t1, a->ln, PW(fc1.w), N, d, ff);
  lcfm_layernorm_backward(dinp, GW(ln.w), GW(ln.b), s->t2, inp, PW(ln.w), a->mean, a->rstd, N, d);
}

/* ----------------------------------------------------------------------------------------------
 * Conformer block
 * -------------------------------------------------------------------------------------------- */

void lcfm_conformer_init(lcfm_conformer_params *w, const lcfm_conformer_config *cfg,
                         lcfm_nn_params *p, const char *prefix) {
  int d = cfg->d, ff = cfg->ff;
  LCFM_CHECK(d % cfg->heads == 0, "nn: conformer width %d is not a multiple of %d heads", d,
             cfg->heads);
  LCFM_CHECK(cfg->kernel % 2 == 1, "nn: conformer kernel must be odd, got %d", cfg->kernel);
  w->ffn1_ln = add_ln(p, prefix, "ffn1.ln", d);
  w->ffn1_fc1 = add_lin(p, prefix, "ffn1.fc1", ff, d, 1);
  w->ffn1_fc2 = add_lin(p, prefix, "ffn1.fc2", d, ff, 1);
  w->mhsa_ln = add_ln(p, prefix, "mhsa.ln", d);
  w->qkv = add_lin(p, prefix, "mhsa.qkv", 3 * d, d, 1);
  w->proj = add_lin(p, prefix, "mhsa.proj", d, d, 1);
  w->conv_ln = add_ln(p, prefix, "conv.ln", d);
  w->pw1 = add_lin(p, prefix, "conv.pw1", 2 * d, d, 1);
  w->dw.w =
      lcfm_nn_params_add2(p, LCFM_INIT_FANIN, cfg->kernel, d, "%s.conv.dw.w", prefix); /* [K, d] */
  w->dw.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.conv.dw.b", prefix);
  w->conv_norm = add_ln(p, prefix, "conv.norm", d);
  w->pw2 = add_lin(p, prefix, "conv.pw2", d, d, 1);
  w->ffn2_ln = add_ln(p, prefix, "ffn2.ln", d);
  w->ffn2_fc1 = add_lin(p, prefix, "ffn2.fc1", ff, d, 1);
  w->ffn2_fc2 = add_lin(p, prefix, "ffn2.fc2", d, ff, 1);
  w->out_ln = add_ln(p, prefix, "ln", d);
}

void lcfm_conformer_acts_layout(lcfm_conformer_acts *a, const lcfm_conformer_config *cfg,
                                lcfm_nn_arena *arena, int B, int T) {
  int N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads;
  int drop = cfg->dropout > 0.0f;
  size_t nd = (size_t)N * d;
  ffn_layout(&a->ffn1, arena, N, d, ff, drop);
  a->x1 = take(arena, nd);
  a->m_ln = take(arena, nd);
  a->m_mean = take(arena, (size_t)N);
  a->m_rstd = take(arena, (size_t)N);
  a->qkv = take(arena, 3 * nd);
  a->att = take(arena, (size_t)B * H * T * T);
  a->ao = take(arena, nd);
  a->m_drop = drop ? take(arena, nd) : NULL;
  a->att_stat = NULL; /* the probabilities themselves are kept */
  a->x2 = take(arena, nd);
  a->c_ln = take(arena, nd);
  a->c_mean = take(arena, (size_t)N);
  a->c_rstd = take(arena, (size_t)N);
  a->pw1 = take(arena, 2 * nd);
  a->glu = take(arena, nd);
  a->dw = take(arena, nd);
  a->nrm = take(arena, nd);
  a->n_mean = take(arena, (size_t)N);
  a->n_rstd = take(arena, (size_t)N);
  a->sw = take(arena, nd);
  a->c_drop = drop ? take(arena, nd) : NULL;
  a->x3 = take(arena, nd);
  ffn_layout(&a->ffn2, arena, N, d, ff, drop);
  a->x4 = take(arena, nd);
  a->out = take(arena, nd);
  a->o_mean = take(arena, (size_t)N);
  a->o_rstd = take(arena, (size_t)N);
}

/* ptr moved on by `rows` rows of `width` floats (NULL stays NULL: buffers of unused dropout). */
static float *rows_on(float *ptr, size_t rows, size_t width) {
  return ptr ? ptr + rows * width : NULL;
}

static lcfm_nn_ffn_acts ffn_acts_at(const lcfm_nn_ffn_acts *a, size_t rows, int d, int ff) {
  lcfm_nn_ffn_acts v = {rows_on(a->ln, rows, d),   rows_on(a->mean, rows, 1),
                        rows_on(a->rstd, rows, 1), rows_on(a->h, rows, ff),
                        rows_on(a->a, rows, ff),   rows_on(a->drop, rows, d)};
  return v;
}

lcfm_conformer_acts lcfm_conformer_acts_at(const lcfm_conformer_acts *a,
                                           const lcfm_conformer_config *cfg, int T, int b0) {
  size_t r = (size_t)b0 * T, d = (size_t)cfg->d;
  lcfm_conformer_acts v;
  v.ffn1 = ffn_acts_at(&a->ffn1, r, cfg->d, cfg->ff);
  v.ffn2 = ffn_acts_at(&a->ffn2, r, cfg->d, cfg->ff);
  v.x1 = rows_on(a->x1, r, d), v.x2 = rows_on(a->x2, r, d), v.x3 = rows_on(a->x3, r, d),
  v.x4 = rows_on(a->x4, r, d);
  v.m_ln = rows_on(a->m_ln, r, d), v.m_mean = rows_on(a->m_mean, r, 1),
  v.m_rstd = rows_on(a->m_rstd, r, 1);
  v.qkv = rows_on(a->qkv, r, 3 * d), v.att = rows_on(a->att, r, (size_t)cfg->heads * T);
  v.ao = rows_on(a->ao, r, d), v.m_drop = rows_on(a->m_drop, r, d);
  v.att_stat = rows_on(a->att_stat, r, 2 * (size_t)cfg->heads);
  v.c_ln = rows_on(a->c_ln, r, d), v.c_mean = rows_on(a->c_mean, r, 1),
  v.c_rstd = rows_on(a->c_rstd, r, 1);
  v.pw1 = rows_on(a->pw1, r, 2 * d), v.glu = rows_on(a->glu, r, d), v.dw = rows_on(a->dw, r, d);
  v.nrm = rows_on(a->nrm, r, d), v.n_mean = rows_on(a->n_mean, r, 1),
  v.n_rstd = rows_on(a->n_rstd, r, 1);
  v.sw = rows_on(a->sw, r, d), v.c_drop = rows_on(a->c_drop, r, d);
  v.out = rows_on(a->out, r, d), v.o_mean = rows_on(a->o_mean, r, 1),
  v.o_rstd = rows_on(a->o_rstd, r, 1);
  return v;
}

/* The convolution module from its normalised input a->c_ln to the input of its last pointwise
 * convolution, a->sw. */
static void conv_hidden_from_ln(lcfm_conformer_acts *a, const lcfm_conformer_config *cfg,
                                const lcfm_conformer_params *w, const lcfm_nn_params *p,
                                const float *mask, int B, int T) {
  int N = B * T, d = cfg->d;
  lcfm_linear_forward_t(a->pw1, a->c_ln, PWT(w->pw1.w), PW(w->pw1.b), N, d, 2 * d);
  lcfm_glu_forward(a->glu, a->pw1, N, d);
  lcfm_nn_mask_rows(a->glu, mask, N, d);
  lcfm_dwconv_forward(a->dw, a->glu, PW(w->dw.w), PW(w->dw.b), B, T, d, cfg->kernel);
  lcfm_layernorm_forward(a->nrm, a->n_mean, a->n_rstd, a->dw, PW(w->conv_norm.w),
                         PW(w->conv_norm.b), N, d, LCFM_NN_LN_EPS);
  lcfm_swish_forward_sig(a->sw, a->nrm, a->nrm, (size_t)N * d); /* nrm now holds sigmoid(nrm) */
}

/* Dropout site `site` of the block call x at rate p on y [n] (rows of width d) in place, its mask
 * saved: the draws of x's rows within the whole batch's call. */
static void block_dropout(float *y, float *mask, size_t n, float p, const lcfm_nn_block_batch *x,
                          int d, int site) {
  lcfm_dropout_forward_at(y, mask, y, n, p, x->training, x->seed, x->counter + (uint64_t)site,
                          x->first_row * (size_t)d);
}

/* Dropout site `site`'s mask alone (y: n floats of scratch); nothing when dropout is off. */
static void dropout_mask_at(float *mask, float *y, size_t n, float p, const lcfm_nn_block_batch *x,
                            int d, int site) {
  if (!drop_on(p, x->training)) return;
  lcfm_nn_zero(y, n);
  block_dropout(y, mask, n, p, x, d, site);
}

void lcfm_conformer_recompute(lcfm_conformer_acts *a, const lcfm_conformer_config *cfg,
                              const lcfm_conformer_params *w, const lcfm_nn_params *p,
                              const lcfm_nn_block_batch *x, lcfm_nn_scratch *s) {
  const float *mask = x->mask;
  int B = x->B, T = x->T, N = B * T, d = cfg->d, ff = cfg->ff;
  size_t nd = (size_t)N * d;
  float pd = cfg->dropout;
  ffn_hidden_forward(&a->ffn1, x->inp, w->ffn1_ln, w->ffn1_fc1, LCFM_ACT_SWISH, p, N, d, ff);
  dropout_mask_at(a->ffn1.drop, s->fwd, nd, pd, x, d, 0);
  lcfm_layernorm_forward(a->m_ln, a->m_mean, a->m_rstd, a->x1, PW(w->mhsa_ln.w), PW(w->mhsa_ln.b),
                         N, d, LCFM_NN_LN_EPS);
  /* the probabilities from the kept softmax statistics; their product with V, a->ao, was kept */
  lcfm_attention_probs(a->att, a->att_stat, a->qkv, mask, B, T, d, cfg->heads);
  dropout_mask_at(a->m_drop, s->fwd, nd, pd, x, d, 1);
  lcfm_layernorm_forward(a->c_ln, a->c_mean, a->c_rstd, a->x2, PW(w->conv_ln.w), PW(w->conv_ln.b),
                         N, d, LCFM_NN_LN_EPS);
  conv_hidden_from_ln(a, cfg, w, p, mask, B, T);
  dropout_mask_at(a->c_drop, s->fwd, nd, pd, x, d, 2);
  ffn_hidden_forward(&a->ffn2, a->x3, w->ffn2_ln, w->ffn2_fc1, LCFM_ACT_SWISH, p, N, d, ff);
  dropout_mask_at(a->ffn2.drop, s->fwd, nd, pd, x, d, 3);
  /* the output norm's statistics were kept (its backward needs nothing else) */
}

void lcfm_conformer_output_at(float *out, const lcfm_conformer_acts *a,
                              const lcfm_conformer_config *cfg, const lcfm_conformer_params *w,
                              const lcfm_nn_params *p, int N) {
  lcfm_layernorm_apply(out, a->x4, a->o_mean, a->o_rstd, PW(w->out_ln.w), PW(w->out_ln.b), N,
                       cfg->d);
}

void lcfm_conformer_forward(lcfm_conformer_acts *a, const lcfm_conformer_config *cfg,
                            const lcfm_conformer_params *w, const lcfm_nn_params *p,
                            const lcfm_nn_block_batch *x, lcfm_nn_scratch *s) {
  const float *inp = x->inp, *mask = x->mask;
  int B = x->B, T = x->T, N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads;
  size_t nd = (size_t)N * d;
  float pd = cfg->dropout, *y = s->fwd;
  /* Each module's residual add is fused with the layer norm that opens the next module. */
  /* half feed-forward */
  ffn_hidden_forward(&a->ffn1, inp, w->ffn1_ln, w->ffn1_fc1, LCFM_ACT_SWISH, p, N, d, ff);
  lcfm_linear_forward_t(y, a->ffn1.a, PWT(w->ffn1_fc2.w), PW(w->ffn1_fc2.b), N, ff, d);
  block_dropout(y, a->ffn1.drop, nd, pd, x, d, 0);
  lcfm_residual_layernorm_forward(a->x1, a->m_ln, a->m_mean, a->m_rstd, inp, 0.5f, y,
                                  PW(w->mhsa_ln.w), PW(w->mhsa_ln.b), N, d, LCFM_NN_LN_EPS);
  /* self-attention */
  lcfm_linear_forward_t(a->qkv, a->m_ln, PWT(w->qkv.w), PW(w->qkv.b), N, d, 3 * d);
  lcfm_attention_forward_stats(a->ao, a->att, a->att_stat, a->qkv, mask, B, T, d, H);
  lcfm_linear_forward_t(y, a->ao, PWT(w->proj.w), PW(w->proj.b), N, d, d);
  block_dropout(y, a->m_drop, nd, pd, x, d, 1);
  lcfm_residual_layernorm_forward(a->x2, a->c_ln, a->c_mean, a->c_rstd, a->x1, 1.0f, y,
                                  PW(w->conv_ln.w), PW(w->conv_ln.b), N, d, LCFM_NN_LN_EPS);
  /* convolution module */
  conv_hidden_from_ln(a, cfg, w, p, mask, B, T);
  lcfm_linear_forward_t(y, a->sw, PWT(w->pw2.w), PW(w->pw2.b), N, d, d);
  block_dropout(y, a->c_drop, nd, pd, x, d, 2);
  lcfm_residual_layernorm_forward(a->x3, a->ffn2.ln, a->ffn2.mean, a->ffn2.rstd, a->x2, 1.0f, y,
                                  PW(w->ffn2_ln.w), PW(w->ffn2_ln.b), N, d, LCFM_NN_LN_EPS);
  /* second half feed-forward and the final norm */
  ffn_hidden_from_ln(&a->ffn2, w->ffn2_fc1, LCFM_ACT_SWISH, p, N, d, ff);
  lcfm_linear_forward_t(y, a->ffn2.a, PWT(w->ffn2_fc2.w), PW(w->ffn2_fc2.b), N, ff, d);
  block_dropout(y, a->ffn2.drop, nd, pd, x, d, 3);
  lcfm_residual_layernorm_forward(a->x4, a->out, a->o_mean, a->o_rstd, a->x3, 0.5f, y,
                                  PW(w->out_ln.w), PW(w->out_ln.b), N, d, LCFM_NN_LN_EPS);
}

void lcfm_conformer_backward(float *dinp, const lcfm_conformer_acts *a,
                             const lcfm_conformer_config *cfg, const lcfm_conformer_params *w,
                             lcfm_nn_params *p, const float *dout, const lcfm_nn_block_batch *x,
                             lcfm_nn_scratch *s) {
  lcfm_conformer_backward_to(dinp, a, cfg, w, p, lcfm_nn_gdest_table(p), dout, x, s);
}

void lcfm_conformer_backward_to(float *dinp, const lcfm_conformer_acts *a,
                                const lcfm_conformer_config *cfg, const lcfm_conformer_params *w,
                                const lcfm_nn_params *p, lcfm_nn_gdest gd, const float *dout,
                                const lcfm_nn_block_batch *x, lcfm_nn_scratch *s) {
  const float *inp = x->inp, *mask = x->mask;
  int B = x->B, T = x->T, N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads, K = cfg->kernel;
  size_t nd = (size_t)N * d;
  int on = drop_on(cfg->dropout, x->training);
  float *g = s->g; /* d loss / d (residual stream), walked backwards through x4, x3, x2, x1, inp */
  lcfm_nn_zero(g, nd);
  lcfm_layernorm_backward(g, GW(w->out_ln.w), GW(w->out_ln.b), dout, a->x4, PW(w->out_ln.w),
                          a->o_mean, a->o_rstd, N, d);
  /* FFN2: x4 = x3 + 1/2 drop(ffn(x3)) */
  drop_grad(s->dy, g, on ? a->ffn2.drop : NULL, 0.5f, nd);
  ffn_backward(g, s->dy, &a->ffn2, a->x3, w->ffn2_ln, w->ffn2_fc1, w->ffn2_fc2, LCFM_ACT_SWISH, p,
               gd, N, d, ff, s);
  /* convolution module: x3 = x2 + drop(conv(x2)) */
  drop_grad(s->dy, g, on ? a->c_drop : NULL, 1.0f, nd);
  lcfm_linear_backward_set(s->t2, GW(w->pw2.w), GW(w->pw2.b), s->dy, a->sw, PW(w->pw2.w), N, d, d);
  lcfm_nn_zero(s->t3, nd);
  lcfm_swish_backward_sig(s->t3, s->t2, a->sw, a->nrm, nd);
  lcfm_nn_zero(s->t2, nd);
  lcfm_layernorm_backward(s->t2, GW(w->conv_norm.w), GW(w->conv_norm.b), s->t3, a->dw,
                          PW(w->conv_norm.w), a->n_mean, a->n_rstd, N, d);
  lcfm_nn_zero(s->t3, nd);
  lcfm_dwconv_backward(s->t3, GW(w->dw.w), GW(w->dw.b), s->t2, a->glu, PW(w->dw.w), B, T, d, K);
  lcfm_nn_mask_rows(s->t3, mask, N, d);
  lcfm_nn_zero(s->t0, 2 * nd);
  lcfm_glu_backward(s->t0, s->t3, a->pw1, N, d);
  lcfm_linear_backward_set(s->t2, GW(w->pw1.w), GW(w->pw1.b), s->t0, a->c_ln, PW(w->pw1.w), N, d,
                           2 * d);
  lcfm_layernorm_backward(g, GW(w->conv_ln.w), GW(w->conv_ln.b), s->t2, a->x2, PW(w->conv_ln.w),
                          a->c_mean, a->c_rstd, N, d);
  /* self-attention: x2 = x1 + drop(proj(att(qkv(LN(x1))))) */
  drop_grad(s->dy, g, on ? a->m_drop : NULL, 1.0f, nd);
  lcfm_linear_backward_set(s->t2, GW(w->proj.w), GW(w->proj.b), s->dy, a->ao, PW(w->proj.w), N, d,
                           d);
  lcfm_nn_zero(s->t0, 3 * nd);
  lcfm_attention_backward(s->t0, s->t2, a->qkv, a->att, s->att, B, T, d, H);
  lcfm_linear_backward_set(s->t2, GW(w->qkv.w), NULL, s->t0, a->m_ln, PW(w->qkv.w), N, d, 3 * d);
  qkv_bias_backward(GW(w->qkv.b), s->t0, N, d);
  lcfm_layernorm_backward(g, GW(w->mhsa_ln.w), GW(w->mhsa_ln.b), s->t2, a->x1, PW(w->mhsa_ln.w),
                          a->m_mean, a->m_rstd, N, d);
  /* FFN1: x1 = inp + 1/2 drop(ffn(inp)) */
  drop_grad(s->dy, g, on ? a->ffn1.drop : NULL, 0.5f, nd);
  ffn_backward(g, s->dy, &a->ffn1, inp, w->ffn1_ln, w->ffn1_fc1, w->ffn1_fc2, LCFM_ACT_SWISH, p, gd,
               N, d, ff, s);
  if (dinp) lcfm_nn_axpy(dinp, 1.0f, g, nd);
}

/* ----------------------------------------------------------------------------------------------
 * Transformer block (post-norm, optional residuals)
 * -------------------------------------------------------------------------------------------- */

void lcfm_transformer_init(lcfm_transformer_params *w, const lcfm_transformer_config *cfg,
                           lcfm_nn_params *p, const char *prefix) {
  int d = cfg->d, ff = cfg->ff;
  LCFM_CHECK(d % cfg->heads == 0, "nn: transformer width %d is not a multiple of %d heads", d,
             cfg->heads);
  w->qkv = add_lin(p, prefix, "attn.qkv", 3 * d, d, 1);
  w->proj = add_lin(p, prefix, "attn.proj", d, d, 1);
  w->ln1 = add_ln(p, prefix, "ln1", d);
  w->fc1 = add_lin(p, prefix, "ffn.fc1", ff, d, 1);
  w->fc2 = add_lin(p, prefix, "ffn.fc2", d, ff, 1);
  w->ln2 = add_ln(p, prefix, "ln2", d);
}

void lcfm_transformer_acts_layout(lcfm_transformer_acts *a, const lcfm_transformer_config *cfg,
                                  lcfm_nn_arena *arena, int B, int T) {
  int N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads;
  int drop = cfg->dropout > 0.0f;
  size_t nd = (size_t)N * d;
  a->qkv = take(arena, 3 * nd);
  a->att = take(arena, (size_t)B * H * T * T);
  a->ao = take(arena, nd);
  a->a_drop = drop ? take(arena, nd) : NULL;
  a->r1 = take(arena, nd);
  a->h = take(arena, nd);
  a->mean1 = take(arena, (size_t)N);
  a->rstd1 = take(arena, (size_t)N);
  a->f1 = take(arena, (size_t)N * ff);
  a->f_act = take(arena, (size_t)N * ff);
  a->f_drop = drop ? take(arena, nd) : NULL;
  a->r2 = take(arena, nd);
  a->out = take(arena, nd);
  a->mean2 = take(arena, (size_t)N);
  a->rstd2 = take(arena, (size_t)N);
}

lcfm_transformer_acts lcfm_transformer_acts_at(const lcfm_transformer_acts *a,
                                               const lcfm_transformer_config *cfg, int T, int b0) {
  size_t r = (size_t)b0 * T, d = (size_t)cfg->d, ff = (size_t)cfg->ff;
  lcfm_transformer_acts v;
  v.qkv = rows_on(a->qkv, r, 3 * d), v.att = rows_on(a->att, r, (size_t)cfg->heads * T);
  v.ao = rows_on(a->ao, r, d), v.a_drop = rows_on(a->a_drop, r, d), v.r1 = rows_on(a->r1, r, d);
  v.h = rows_on(a->h, r, d), v.mean1 = rows_on(a->mean1, r, 1), v.rstd1 = rows_on(a->rstd1, r, 1);
  v.f1 = rows_on(a->f1, r, ff), v.f_act = rows_on(a->f_act, r, ff),
  v.f_drop = rows_on(a->f_drop, r, d);
  v.r2 = rows_on(a->r2, r, d), v.out = rows_on(a->out, r, d);
  v.mean2 = rows_on(a->mean2, r, 1), v.rstd2 = rows_on(a->rstd2, r, 1);
  return v;
}

void lcfm_transformer_forward(lcfm_transformer_acts *a, const lcfm_transformer_config *cfg,
                              const lcfm_transformer_params *w, const lcfm_nn_params *p,
                              const lcfm_nn_block_batch *x, lcfm_nn_scratch *s) {
  const float *inp = x->inp;
  int B = x->B, T = x->T, N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads;
  size_t nd = (size_t)N * d;
  float pd = cfg->dropout, *y = s->fwd;
  lcfm_linear_forward_t(a->qkv, inp, PWT(w->qkv.w), PW(w->qkv.b), N, d, 3 * d);
  lcfm_attention_forward(a->ao, a->att, a->qkv, x->mask, B, T, d, H);
  lcfm_linear_forward_t(y, a->ao, PWT(w->proj.w), PW(w->proj.b), N, d, d);
  block_dropout(y, a->a_drop, nd, pd, x, d, 0);
  lcfm_residual_layernorm_forward(a->r1, a->h, a->mean1, a->rstd1, y, cfg->residual ? 1.0f : 0.0f,
                                  inp, PW(w->ln1.w), PW(w->ln1.b), N, d, LCFM_NN_LN_EPS);
  lcfm_linear_forward_t(a->f1, a->h, PWT(w->fc1.w), NULL, N, d, ff);
  bias_act_forward_saving(cfg->act, a->f_act, a->f1, PW(w->fc1.b), N, ff);
  lcfm_linear_forward_t(y, a->f_act, PWT(w->fc2.w), PW(w->fc2.b), N, ff, d);
  block_dropout(y, a->f_drop, nd, pd, x, d, 1);
  lcfm_residual_layernorm_forward(a->r2, a->out, a->mean2, a->rstd2, y, cfg->residual ? 1.0f : 0.0f,
                                  a->h, PW(w->ln2.w), PW(w->ln2.b), N, d, LCFM_NN_LN_EPS);
}

void lcfm_transformer_backward(float *dinp, const lcfm_transformer_acts *a,
                               const lcfm_transformer_config *cfg, const lcfm_transformer_params *w,
                               lcfm_nn_params *p, const float *dout, const lcfm_nn_block_batch *x,
                               lcfm_nn_scratch *s) {
  lcfm_transformer_backward_to(dinp, a, cfg, w, p, lcfm_nn_gdest_table(p), dout, x, s);
}

void lcfm_transformer_backward_to(float *dinp, const lcfm_transformer_acts *a,
                                  const lcfm_transformer_config *cfg,
                                  const lcfm_transformer_params *w, const lcfm_nn_params *p,
                                  lcfm_nn_gdest gd, const float *dout, const lcfm_nn_block_batch *x,
                                  lcfm_nn_scratch *s) {
  const float *inp = x->inp;
  int B = x->B, T = x->T, N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads;
  size_t nd = (size_t)N * d, nf = (size_t)N * ff;
  int on = drop_on(cfg->dropout, x->training);
  float *g = s->g;
  /* y = LN2(r2), r2 = f (+ h) */
  lcfm_nn_zero(g, nd);
  lcfm_layernorm_backward(g, GW(w->ln2.w), GW(w->ln2.b), dout, a->r2, PW(w->ln2.w), a->mean2,
                          a->rstd2, N, d);
  drop_grad(s->dy, g, on ? a->f_drop : NULL, 1.0f, nd);
  lcfm_linear_backward_set(s->t0, GW(w->fc2.w), GW(w->fc2.b), s->dy, a->f_act, PW(w->fc2.w), N, ff,
                           d);
  lcfm_nn_zero(s->t1, nf);
  act_backward_saved(cfg->act, s->t1, s->t0, a->f1, a->f_act, nf);
  if (cfg->residual) memcpy(s->t2, g, nd * sizeof(float));
  else lcfm_nn_zero(s->t2, nd);
  lcfm_linear_backward(s->t2, GW(w->fc1.w), GW(w->fc1.b), s->t1, a->h, PW(w->fc1.w), N, d, ff);
  /* h = LN1(r1), r1 = a (+ inp) */
  lcfm_nn_zero(g, nd);
  lcfm_layernorm_backward(g, GW(w->ln1.w), GW(w->ln1.b), s->t2, a->r1, PW(w->ln1.w), a->mean1,
                          a->rstd1, N, d);
  drop_grad(s->dy, g, on ? a->a_drop : NULL, 1.0f, nd);
  lcfm_linear_backward_set(s->t2, GW(w->proj.w), GW(w->proj.b), s->dy, a->ao, PW(w->proj.w), N, d,
                           d);
  lcfm_nn_zero(s->t0, 3 * nd);
  lcfm_attention_backward(s->t0, s->t2, a->qkv, a->att, s->att, B, T, d, H);
  lcfm_linear_backward(dinp, GW(w->qkv.w), NULL, s->t0, inp, PW(w->qkv.w), N, d, 3 * d);
  qkv_bias_backward(GW(w->qkv.b), s->t0, N, d);
  if (dinp && cfg->residual) lcfm_nn_axpy(dinp, 1.0f, g, nd);
}

/* ----------------------------------------------------------------------------------------------
 * Inference path: one chunk of sequences on the calling thread, nothing saved for backward
 * -------------------------------------------------------------------------------------------- */

void lcfm_nn_infer_ws_layout(lcfm_nn_infer_ws *w, lcfm_nn_arena *arena, int S, int T, int d,
                             int wide) {
  size_t N = (size_t)S * T, nd = N * d;
  w->x = take(arena, nd);
  w->ln = take(arena, nd);
  w->ao = take(arena, nd);
  w->g = take(arena, nd);
  w->c = take(arena, nd);
  w->wide = take(arena, N * (size_t)wide);
  w->mean = take(arena, N);
  w->rstd = take(arena, N);
  w->keep = take(arena, N);
  w->att = take(arena, (size_t)T * T);
  w->pooled = take(arena, (size_t)S * d);
}

/* x [N, OC] += alpha (a [N, C] wt + b), wt [C, OC] the transposed weight: the bias first, then one
 * GEMM accumulating into x, so the module's output never needs a buffer of its own. */
static void linear_residual(float *x, float alpha, const float *a, const float *wt, const float *b,
                            int N, int C, int OC) {
  if (b) {
    for (int n = 0; n < N; n++) {
      float *row = x + (size_t)n * OC;
#pragma omp simd
      for (int c = 0; c < OC; c++) row[c] += alpha * b[c];
    }
  }
  lcfm_nn_gemm(0, 0, N, OC, C, alpha, a, C, wt, OC, 1.0f, x, OC);
}

/* x += alpha fc2(act(fc1(LN(x)))) */
static void ffn_infer(float *x, float alpha, lcfm_nn_lin ln, lcfm_nn_lin fc1, lcfm_nn_lin fc2,
                      lcfm_nn_act act, const lcfm_nn_params *p, int N, int d, int ff,
                      lcfm_nn_infer_ws *ws) {
  lcfm_layernorm_forward(ws->ln, ws->mean, ws->rstd, x, PW(ln.w), PW(ln.b), N, d, LCFM_NN_LN_EPS);
  lcfm_linear_forward_t(ws->wide, ws->ln, PWT(fc1.w), PW(fc1.b), N, d, ff);
  act_forward(act, ws->wide, ws->wide, (size_t)N * ff);
  linear_residual(x, alpha, ws->wide, PWT(fc2.w), PW(fc2.b), N, ff, d);
}

void lcfm_conformer_infer(float *x, const lcfm_conformer_config *cfg,
                          const lcfm_conformer_params *w, const lcfm_nn_params *p,
                          const float *mask, int B, int T, lcfm_nn_infer_ws *ws) {
  int N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads, K = cfg->kernel;
  size_t nd = (size_t)N * d;
  ffn_infer(x, 0.5f, w->ffn1_ln, w->ffn1_fc1, w->ffn1_fc2, LCFM_ACT_SWISH, p, N, d, ff, ws);
  /* self-attention */
  lcfm_layernorm_forward(ws->ln, ws->mean, ws->rstd, x, PW(w->mhsa_ln.w), PW(w->mhsa_ln.b), N, d,
                         LCFM_NN_LN_EPS);
  lcfm_linear_forward_t(ws->wide, ws->ln, PWT(w->qkv.w), PW(w->qkv.b), N, d, 3 * d);
  lcfm_attention_infer(ws->ao, ws->att, ws->wide, mask, B, T, d, H);
  linear_residual(x, 1.0f, ws->ao, PWT(w->proj.w), PW(w->proj.b), N, d, d);
  /* convolution module */
  lcfm_layernorm_forward(ws->ln, ws->mean, ws->rstd, x, PW(w->conv_ln.w), PW(w->conv_ln.b), N, d,
                         LCFM_NN_LN_EPS);
  lcfm_linear_forward_t(ws->wide, ws->ln, PWT(w->pw1.w), PW(w->pw1.b), N, d, 2 * d);
  lcfm_glu_forward(ws->g, ws->wide, N, d);
  lcfm_nn_mask_rows(ws->g, mask, N, d);
  lcfm_dwconv_forward(ws->c, ws->g, PW(w->dw.w), PW(w->dw.b), B, T, d, K);
  lcfm_layernorm_forward(ws->c, ws->mean, ws->rstd, ws->c, PW(w->conv_norm.w), PW(w->conv_norm.b),
                         N, d, LCFM_NN_LN_EPS);
  lcfm_swish_forward(ws->c, ws->c, nd);
  linear_residual(x, 1.0f, ws->c, PWT(w->pw2.w), PW(w->pw2.b), N, d, d);
  ffn_infer(x, 0.5f, w->ffn2_ln, w->ffn2_fc1, w->ffn2_fc2, LCFM_ACT_SWISH, p, N, d, ff, ws);
  lcfm_layernorm_forward(x, ws->mean, ws->rstd, x, PW(w->out_ln.w), PW(w->out_ln.b), N, d,
                         LCFM_NN_LN_EPS);
}

void lcfm_transformer_infer(float *x, const lcfm_transformer_config *cfg,
                            const lcfm_transformer_params *w, const lcfm_nn_params *p,
                            const float *keymask, int B, int T, lcfm_nn_infer_ws *ws) {
  int N = B * T, d = cfg->d, ff = cfg->ff, H = cfg->heads;
  lcfm_linear_forward_t(ws->wide, x, PWT(w->qkv.w), PW(w->qkv.b), N, d, 3 * d);
  lcfm_attention_infer(ws->ao, ws->att, ws->wide, keymask, B, T, d, H);
  /* r1 = proj(attention) (+ x); x is free once q, k, v are computed */
  if (cfg->residual) linear_residual(x, 1.0f, ws->ao, PWT(w->proj.w), PW(w->proj.b), N, d, d);
  else lcfm_linear_forward_t(x, ws->ao, PWT(w->proj.w), PW(w->proj.b), N, d, d);
  lcfm_layernorm_forward(x, ws->mean, ws->rstd, x, PW(w->ln1.w), PW(w->ln1.b), N, d,
                         LCFM_NN_LN_EPS);
  lcfm_linear_forward_t(ws->wide, x, PWT(w->fc1.w), PW(w->fc1.b), N, d, ff);
  act_forward(cfg->act, ws->wide, ws->wide, (size_t)N * ff);
  if (cfg->residual) linear_residual(x, 1.0f, ws->wide, PWT(w->fc2.w), PW(w->fc2.b), N, ff, d);
  else lcfm_linear_forward_t(x, ws->wide, PWT(w->fc2.w), PW(w->fc2.b), N, ff, d);
  lcfm_layernorm_forward(x, ws->mean, ws->rstd, x, PW(w->ln2.w), PW(w->ln2.b), N, d,
                         LCFM_NN_LN_EPS);
}
