/* encoders.c: the causal paper's Conformer-LSTM encoder and the Astromer 2 encoder, composed from
 * the blocks of blocks.c (equations in include/lcfm/nn_models.h). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/nn_models.h"
#include "nn_internal.h"

#define PW(off) (p->params + (off))
#define GW(off) (p->grads + (off))
#define GD(gd, off) ((gd).g + ((off) - (gd).base))

static uint64_t dropout_counter(uint64_t step, int id, int site) {
  return step * 4096u + (uint64_t)id * 256u + (uint64_t)site;
}

void lcfm_nn_memory(const lcfm_nn_arena *acts, const lcfm_nn_arena *scr, size_t *act_bytes,
                    size_t *scratch_bytes) {
  if (act_bytes) *act_bytes = acts->size * sizeof(float);
  if (scratch_bytes) *scratch_bytes = scr->size * sizeof(float);
}

static int all_finite(const float *x, size_t n) {
  int ok = 1;
#pragma omp parallel for simd reduction(& : ok) schedule(static)
  for (size_t i = 0; i < n; i++) ok &= isfinite(x[i]) ? 1 : 0;
  return ok;
}

/* Inference workspaces: one per OpenMP thread, for chunks of at most `seqs` sequences. */
static lcfm_nn_infer_ws *infer_alloc(lcfm_nn_arena *arena, int *slots, int seqs, int T, int d, int wide) {
  *slots = lcfm_nn_threads();
  lcfm_nn_infer_ws *ws = lcfm_calloc((size_t)*slots, sizeof *ws);
  for (int pass = 0; pass < 2; pass++) { /* counting pass, then the real pointers */
    for (int i = 0; i < *slots; i++) lcfm_nn_infer_ws_layout(&ws[i], arena, seqs, T, d, wide);
    if (pass == 0) lcfm_nn_arena_alloc(arena);
  }
  return ws;
}

static int infer_seqs_fixed = 0; /* lcfm_nn_set_infer_seqs; 0: chosen for the cache */

void lcfm_nn_set_infer_seqs(int n) { infer_seqs_fixed = n > 0 ? n : 0; }

/* Floats of one inference workspace for S sequences (a counting pass of its layout). */
static size_t infer_ws_floats(int S, int T, int d, int wide) {
  lcfm_nn_arena count = {0};
  lcfm_nn_infer_ws ws;
  lcfm_nn_infer_ws_layout(&ws, &count, S, T, d, wide);
  return count.used;
}

/* Bytes a chunk's inference workspace may fill: 4 per-core L2 caches (sysconf; 1 MiB where the
 * system does not say). Measured on the paper model (tools/bench_nn_embed --seqs): light curves per
 * CPU second grow with the chunk up to 16 sequences (3.7 MB of workspace, 4 L2 caches there), by
 * 1.4x from 1 to 16, and fall beyond (32: -10%), where the temporaries no longer stay in the
 * core's L2 and its share of L3. (The L3 size is not used: virtual machines report the host's.) */
static size_t infer_cache_budget(void) {
  long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return 4 * (l2 > 0 ? (size_t)l2 : (size_t)1 << 20);
}

/* Sequences per inference chunk (see nn_models.h): the most, up to LCFM_NN_INFER_SEQS (and
 * max_batch), whose workspace fits infer_cache_budget: longer products, temporaries in cache. */
static int infer_seqs(int max_batch, int T, int d, int wide) {
  int cap = max_batch < LCFM_NN_INFER_SEQS ? max_batch : LCFM_NN_INFER_SEQS;
  if (infer_seqs_fixed > 0) return infer_seqs_fixed < max_batch ? infer_seqs_fixed : max_batch;
  size_t budget = infer_cache_budget() / sizeof(float);
  size_t one = infer_ws_floats(1, T, d, wide), per_seq = infer_ws_floats(2, T, d, wide) - one;
  int S = 1;
  while (S < cap && one + (size_t)S * per_seq <= budget) S++;
  return S;
}

/* Sequences per inference chunk: at most `cap`, fewer when that would leave threads idle. */
static int infer_chunk(int B, int threads, int cap) {
  int even = (B + threads - 1) / threads;
  int S = even < cap ? even : cap;
  return S > 0 ? S : 1;
}

typedef void (*infer_chunk_fn)(void *ctx, int b0, int S, lcfm_nn_infer_ws *ws);

/* Run fn over chunks of S sequences of the batch, each chunk whole on one thread (dynamic
 * schedule: a thread slowed by other work on its core just takes fewer chunks). */
static void infer_chunks(infer_chunk_fn fn, void *ctx, int B, int seqs, int slots, lcfm_nn_infer_ws *ws) {
  int nt = lcfm_nn_threads() < slots ? lcfm_nn_threads() : slots;
  int S = infer_chunk(B, nt, seqs);
  int chunks = (B + S - 1) / S;
  if (nt <= 1 || chunks == 1) {
    for (int c = 0; c < chunks; c++) fn(ctx, c * S, B - c * S < S ? B - c * S : S, &ws[0]);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int c = 0; c < chunks; c++) fn(ctx, c * S, B - c * S < S ? B - c * S : S, &ws[omp_get_thread_num()]);
}

/* Training chunks (see nn_models.h): per-thread scratch and per-chunk gradient buffers, taken from
 * the scratch arena. *slots and the cgrad array are set on the counting pass. */
static void train_layout(lcfm_nn_arena *arena, lcfm_nn_chunk_ws **tws, int *slots, float ***cgrad, int *chunks,
                         size_t ngrad, int max_batch, int T, int d, int ff) {
  if (arena->base == NULL) {
    *slots = lcfm_nn_threads();
    *chunks = (max_batch + LCFM_NN_TRAIN_SEQS - 1) / LCFM_NN_TRAIN_SEQS;
    *tws = lcfm_calloc((size_t)*slots, sizeof **tws);
    *cgrad = lcfm_calloc((size_t)*chunks, sizeof **cgrad);
  }
  int S = max_batch < LCFM_NN_TRAIN_SEQS ? max_batch : LCFM_NN_TRAIN_SEQS, N = S * T;
  for (int i = 0; i < *slots; i++) {
    lcfm_nn_scratch_layout(&(*tws)[i].s, arena, N, T, d, ff);
    (*tws)[i].dx[0] = lcfm_nn_arena_take(arena, (size_t)N * d);
    (*tws)[i].dx[1] = lcfm_nn_arena_take(arena, (size_t)N * d);
  }
  for (int c = 0; c < *chunks; c++) (*cgrad)[c] = lcfm_nn_arena_take(arena, ngrad);
}

typedef void (*train_chunk_fn)(void *ctx, int chunk, int b0, int S, lcfm_nn_chunk_ws *ws);

/* Run fn over the chunks of LCFM_NN_TRAIN_SEQS sequences of the batch, each whole on one thread;
 * with fewer chunks than threads, one after another (the layers inside then use the threads). */
static void train_chunks(train_chunk_fn fn, void *ctx, int B, int slots, lcfm_nn_chunk_ws *ws) {
  const int S = LCFM_NN_TRAIN_SEQS;
  int chunks = (B + S - 1) / S;
  int nt = lcfm_nn_threads() < slots ? lcfm_nn_threads() : slots;
  if (nt <= 1 || chunks < nt) {
    for (int c = 0; c < chunks; c++) fn(ctx, c, c * S, B - c * S < S ? B - c * S : S, &ws[0]);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int c = 0; c < chunks; c++) fn(ctx, c, c * S, B - c * S < S ? B - c * S : S, &ws[omp_get_thread_num()]);
}

/* grads[0..n) += the chunks' gradient buffers, summed in chunk order (deterministic). */
static void reduce_chunk_grads(float *grads, float *const *cgrad, int chunks, size_t n) {
  enum { BLOCK = 512 };
  size_t nblocks = (n + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static)
  for (size_t blk = 0; blk < nblocks; blk++) {
    size_t j0 = blk * BLOCK, len = n - j0 < BLOCK ? n - j0 : BLOCK;
    float acc[BLOCK] = {0};
    for (int c = 0; c < chunks; c++) {
      const float *g = cgrad[c] + j0;
#pragma omp simd
      for (size_t j = 0; j < len; j++) acc[j] += g[j];
    }
    for (size_t j = 0; j < len; j++) grads[j0 + j] += acc[j];
  }
}

/* ----------------------------------------------------------------------------------------------
 * Causal encoder
 * -------------------------------------------------------------------------------------------- */

lcfm_causal_encoder_config lcfm_causal_encoder_defaults(void) {
  lcfm_causal_encoder_config c = {.d = 64, .heads = 4, .ff = 128, .blocks = 4, .kernel = 31, .latent = 20,
                                  .T = 100, .max_batch = 64, .dropout = 0.0f, .id = 0, .keep_block_acts = 0};
  return c;
}

void lcfm_causal_encoder_init(lcfm_causal_encoder *e, const lcfm_causal_encoder_config *cfg, lcfm_nn_params *p,
                              const char *prefix) {
  memset(e, 0, sizeof *e);
  LCFM_CHECK(cfg->d % 2 == 0 && cfg->blocks >= 0 && cfg->T > 0 && cfg->max_batch > 0,
             "nn: bad causal encoder configuration (d %d, blocks %d, T %d, batch %d)", cfg->d, cfg->blocks, cfg->T,
             cfg->max_batch);
  snprintf(e->name, sizeof e->name, "%s", prefix);
  e->cfg = *cfg;
  e->bcfg = (lcfm_conformer_config){.d = cfg->d, .heads = cfg->heads, .ff = cfg->ff, .kernel = cfg->kernel,
                                    .dropout = cfg->dropout};
  int d = cfg->d;
  e->grad_lo = p->total; /* the embedding and the blocks are registered one after another */
  e->embed.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, d, 0, "%s.embed.w", prefix);
  e->embed.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.embed.b", prefix);
  e->blk = lcfm_calloc((size_t)(cfg->blocks > 0 ? cfg->blocks : 1), sizeof *e->blk);
  for (int i = 0; i < cfg->blocks; i++) {
    char name[LCFM_NN_NAME_MAX];
    snprintf(name, sizeof name, "%s.block%d", prefix, i);
    lcfm_conformer_init(&e->blk[i], &e->bcfg, p, name);
  }
  e->grad_hi = p->total;
  e->w_ih = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 4 * d, d, "%s.lstm.w_ih", prefix);
  e->w_hh = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 4 * d, d, "%s.lstm.w_hh", prefix);
  e->b_ih = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, 4 * d, 0, "%s.lstm.b_ih", prefix);
  e->b_hh = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, 4 * d, 0, "%s.lstm.b_hh", prefix);
  e->head.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, cfg->latent, d, "%s.head.w", prefix);
  e->head.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, cfg->latent, 0, "%s.head.b", prefix);
}

/* What a block keeps for the whole batch when the rest is recomputed (lcfm_conformer_recompute_at),
 * per row: the residual stream after each module (4 d), q|k|v (3 d), the attention output (d), the
 * softmax statistics (2 heads) and the output norm's (2); the last block also its output (d), which
 * the LSTM reads. The other blocks' outputs are LN(x4) again from x4 and the statistics, an
 * element-wise pass, when the next block needs its input. Chosen to spare the most recomputed
 * products within 2 MiB of saved activations per light curve of the paper model:
 * tools/bench_nn --acts-table lists what each candidate costs and spares. */
static void kept_block_layout(lcfm_conformer_acts *a, lcfm_nn_arena *arena, int N, int d, int heads, int last) {
  size_t nd = (size_t)N * d;
  a->x1 = lcfm_nn_arena_take(arena, nd);
  a->x2 = lcfm_nn_arena_take(arena, nd);
  a->x3 = lcfm_nn_arena_take(arena, nd);
  a->x4 = lcfm_nn_arena_take(arena, nd);
  a->qkv = lcfm_nn_arena_take(arena, 3 * nd);
  a->ao = lcfm_nn_arena_take(arena, nd);
  a->att_stat = lcfm_nn_arena_take(arena, (size_t)N * 2 * heads);
  a->o_mean = lcfm_nn_arena_take(arena, (size_t)N);
  a->o_rstd = lcfm_nn_arena_take(arena, (size_t)N);
  a->out = last ? lcfm_nn_arena_take(arena, nd) : NULL;
}

static void causal_layout(lcfm_causal_encoder *e) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  int B = c->max_batch, T = c->T, d = c->d, N = B * T;
  lcfm_nn_arena *a = &e->acts;
  e->x0 = lcfm_nn_arena_take(a, (size_t)N * d);
  for (int i = 0; i < c->blocks; i++) {
    if (c->keep_block_acts)
      lcfm_conformer_acts_layout(&e->ba[i], &e->bcfg, a, B, T);
    else
      kept_block_layout(&e->ba[i], a, N, d, c->heads, i == c->blocks - 1);
  }
  e->lstm_out = lcfm_nn_arena_take(a, (size_t)N * d);
  e->gates = lcfm_nn_arena_take(a, (size_t)N * 4 * d);
  e->cell = lcfm_nn_arena_take(a, (size_t)N * d);
  e->pooled = lcfm_nn_arena_take(a, (size_t)B * d);
  e->z = lcfm_nn_arena_take(a, (size_t)B * c->latent);
  lcfm_nn_arena *s = &e->scr;
  e->lstm_scratch = lcfm_nn_arena_take(s, lcfm_lstm_scratch_floats(B, T, d));
  e->dpooled = lcfm_nn_arena_take(s, (size_t)B * d);
  e->dh = lcfm_nn_arena_take(s, (size_t)N * d);
  e->dxl = lcfm_nn_arena_take(s, (size_t)N * d);
  train_layout(s, &e->tws, &e->trn_slots, &e->cgrad, &e->chunks, e->grad_hi - e->grad_lo, B, T, d, c->ff);
  if (!c->keep_block_acts && c->blocks > 0) {
    int S = B < LCFM_NN_TRAIN_SEQS ? B : LCFM_NN_TRAIN_SEQS;
    for (int i = 0; i < e->trn_slots; i++) {
      lcfm_conformer_acts_layout(&e->tws[i].blk, &e->bcfg, s, S, T);
      e->tws[i].inp = lcfm_nn_arena_take(s, (size_t)S * T * d);
    }
  }
}

void lcfm_causal_encoder_alloc(lcfm_causal_encoder *e) {
  e->ba = lcfm_calloc((size_t)(e->cfg.blocks > 0 ? e->cfg.blocks : 1), sizeof *e->ba);
  causal_layout(e); /* counting pass */
  lcfm_nn_arena_alloc(&e->acts);
  lcfm_nn_arena_alloc(&e->scr);
  causal_layout(e);
  const lcfm_causal_encoder_config *c = &e->cfg;
  int wide = 4 * c->d > c->ff ? 4 * c->d : c->ff; /* LSTM gates 4d cover q|k|v 3d and GLU 2d */
  e->inf_seqs = infer_seqs(c->max_batch, c->T, c->d, wide);
  e->iws = infer_alloc(&e->inf, &e->inf_slots, e->inf_seqs, c->T, c->d, wide);
}

void lcfm_causal_encoder_free(lcfm_causal_encoder *e) {
  lcfm_nn_arena_free(&e->acts);
  lcfm_nn_arena_free(&e->scr);
  lcfm_nn_arena_free(&e->inf);
  free(e->iws);
  free(e->tws);
  free(e->cgrad);
  free(e->blk);
  free(e->ba);
  memset(e, 0, sizeof *e);
}

typedef struct {
  lcfm_causal_encoder *e;
  const lcfm_nn_params *p;
  int training;
} causal_train_ctx;

/* Where block i's activations for the chunk at sequence b0 go: the whole-batch buffers when
 * they are all kept; else the thread's chunk workspace, except the kept ones (kept_block_layout)
 * at the chunk's rows of the whole batch, and the output of a block before the last, which goes to
 * a workspace buffer the next block reads (forward only: backward does not read it). */
static lcfm_conformer_acts causal_chunk_acts(const lcfm_causal_encoder *e, int i, int b0, const lcfm_nn_chunk_ws *ws) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  lcfm_conformer_acts at = lcfm_conformer_acts_at(&e->ba[i], &e->bcfg, c->T, b0);
  if (c->keep_block_acts) return at;
  lcfm_conformer_acts a = ws->blk;
  a.x1 = at.x1, a.x2 = at.x2, a.x3 = at.x3, a.x4 = at.x4, a.qkv = at.qkv, a.ao = at.ao, a.att_stat = at.att_stat;
  a.o_mean = at.o_mean, a.o_rstd = at.o_rstd;
  a.out = i == c->blocks - 1 ? at.out : ws->dx[i & 1];
  return a;
}

/* Block i's input for the chunk at sequence b0 in forward: the embedding, or the previous block's
 * output (kept, or in the workspace buffer causal_chunk_acts gave it). */
static const float *causal_forward_input(const lcfm_causal_encoder *e, int i, int b0, const lcfm_nn_chunk_ws *ws) {
  size_t r0 = (size_t)b0 * e->cfg.T * e->cfg.d;
  if (i == 0) return e->x0 + r0;
  return e->cfg.keep_block_acts ? e->ba[i - 1].out + r0 : ws->dx[(i - 1) & 1];
}

/* The same in backward, where a previous block's output that was not kept is recomputed from its x4
 * and output statistics into ws->inp. */
static const float *causal_backward_input(const lcfm_causal_encoder *e, const lcfm_nn_params *p, int i, int b0,
                                          int S, const lcfm_nn_chunk_ws *ws) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  if (i == 0 || c->keep_block_acts) return causal_forward_input(e, i, b0, ws);
  lcfm_conformer_acts prev = lcfm_conformer_acts_at(&e->ba[i - 1], &e->bcfg, c->T, b0);
  lcfm_conformer_output_at(ws->inp, &prev, &e->bcfg, &e->blk[i - 1], p, S * c->T);
  return ws->inp;
}

/* Block i forward for the chunk at sequence b0 (S sequences), with the draws of the last forward
 * call; or, with recompute set, the rest of its activations from those it kept (the same values). */
static void causal_block_forward(const lcfm_causal_encoder *e, const lcfm_nn_params *p, int i, lcfm_conformer_acts *a,
                                 const float *inp, int b0, int S, lcfm_nn_chunk_ws *ws, int recompute) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  size_t r0 = (size_t)b0 * c->T;
  const float *mask = e->mask ? e->mask + r0 : NULL;
  uint64_t counter = dropout_counter(e->step, c->id, 4 * i);
  if (recompute)
    lcfm_conformer_recompute_at(a, &e->bcfg, &e->blk[i], p, inp, mask, S, c->T, e->training, e->seed, counter, &ws->s,
                                r0);
  else
    lcfm_conformer_forward_at(a, &e->bcfg, &e->blk[i], p, inp, mask, S, c->T, e->training, e->seed, counter, &ws->s,
                              r0);
}

/* The blocks forward for sequences b0 .. b0+S-1, saving their activations (or their outputs). */
static void causal_blocks_forward(void *ctx, int chunk, int b0, int S, lcfm_nn_chunk_ws *ws) {
  (void)chunk;
  const causal_train_ctx *k = ctx;
  for (int i = 0; i < k->e->cfg.blocks; i++) {
    lcfm_conformer_acts a = causal_chunk_acts(k->e, i, b0, ws);
    causal_block_forward(k->e, k->p, i, &a, causal_forward_input(k->e, i, b0, ws), b0, S, ws, 0);
  }
}

/* The blocks and embedding backward for sequences b0 .. b0+S-1, from e->dxl, into the chunk's own
 * gradient buffer. */
static void causal_blocks_backward(void *ctx, int chunk, int b0, int S, lcfm_nn_chunk_ws *ws) {
  const causal_train_ctx *k = ctx;
  lcfm_causal_encoder *e = k->e;
  const lcfm_nn_params *p = k->p;
  const lcfm_causal_encoder_config *c = &e->cfg;
  int T = c->T, d = c->d, N = S * T;
  size_t r0 = (size_t)b0 * T;
  lcfm_nn_gdest gd = {e->cgrad[chunk], e->grad_lo};
  memset(gd.g, 0, sizeof(float) * (e->grad_hi - e->grad_lo));
  const float *mask = e->mask ? e->mask + r0 : NULL, *dout = e->dxl + r0 * d;
  int cur = 0;
  for (int i = c->blocks - 1; i >= 0; i--) {
    const float *inp = causal_backward_input(e, p, i, b0, S, ws);
    lcfm_conformer_acts a = causal_chunk_acts(e, i, b0, ws);
    if (!c->keep_block_acts) causal_block_forward(e, p, i, &a, inp, b0, S, ws, 1);
    lcfm_nn_zero(ws->dx[cur], (size_t)N * d);
    lcfm_conformer_backward_to(ws->dx[cur], &a, &e->bcfg, &e->blk[i], p, gd, dout, inp, mask, S, T, k->training,
                               &ws->s);
    dout = ws->dx[cur];
    cur = 1 - cur;
  }
  lcfm_scalar_embed_backward(NULL, GD(gd, e->embed.w), GD(gd, e->embed.b), dout, e->values + r0, PW(e->embed.w), N,
                             d);
}

const float *lcfm_causal_encoder_forward(lcfm_causal_encoder *e, const lcfm_nn_params *p, const float *times,
                                         const float *values, const float *mask, int B, int training,
                                         uint64_t seed, uint64_t step) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  LCFM_CHECK(B > 0 && B <= c->max_batch, "nn: %s: batch %d outside 1..%d", e->name, B, c->max_batch);
  int T = c->T, d = c->d, N = B * T;
  e->times = times, e->values = values, e->mask = mask, e->B = B;
  e->training = training, e->seed = seed, e->step = step;
  lcfm_timeenc_forward(e->x0, times, N, d);
  lcfm_scalar_embed_forward(e->x0, values, PW(e->embed.w), PW(e->embed.b), N, d, 1);
  causal_train_ctx ctx = {e, p, training};
  train_chunks(causal_blocks_forward, &ctx, B, e->trn_slots, e->tws);
  const float *x = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_lstm_forward(e->lstm_out, e->gates, e->cell, x, PW(e->w_ih), PW(e->w_hh), PW(e->b_ih), PW(e->b_hh), B, T,
                    d, d);
  lcfm_meanpool_forward(e->pooled, e->lstm_out, mask, B, T, d);
  lcfm_linear_forward(e->z, e->pooled, PW(e->head.w), PW(e->head.b), B, d, c->latent);
  if (!all_finite(e->z, (size_t)B * c->latent)) lcfm_causal_encoder_check(e);
  return e->z;
}

typedef struct {
  lcfm_causal_encoder *e;
  const lcfm_nn_params *p;
  const float *times, *values, *mask;
} causal_infer_ctx;

/* Sequences b0 .. b0+S-1 through the whole encoder; writes their rows of e->z. */
static void causal_infer_chunk(void *ctx, int b0, int S, lcfm_nn_infer_ws *ws) {
  const causal_infer_ctx *k = ctx;
  lcfm_causal_encoder *e = k->e;
  const lcfm_nn_params *p = k->p;
  const lcfm_causal_encoder_config *c = &e->cfg;
  int T = c->T, d = c->d, N = S * T;
  size_t first = (size_t)b0 * T;
  const float *mask = k->mask ? k->mask + first : NULL;
  lcfm_timeenc_forward(ws->x, k->times + first, N, d);
  lcfm_scalar_embed_forward(ws->x, k->values + first, PW(e->embed.w), PW(e->embed.b), N, d, 1);
  for (int i = 0; i < c->blocks; i++) lcfm_conformer_infer(ws->x, &e->bcfg, &e->blk[i], p, mask, S, T, ws);
  /* LSTM: hidden states into ao, gates into wide, cells into c */
  lcfm_lstm_forward(ws->ao, ws->wide, ws->c, ws->x, PW(e->w_ih), PW(e->w_hh), PW(e->b_ih), PW(e->b_hh), S, T, d, d);
  lcfm_meanpool_forward(ws->pooled, ws->ao, mask, S, T, d);
  lcfm_linear_forward(e->z + (size_t)b0 * c->latent, ws->pooled, PW(e->head.w), PW(e->head.b), S, d, c->latent);
}

const float *lcfm_causal_encoder_infer(lcfm_causal_encoder *e, const lcfm_nn_params *p, const float *times,
                                       const float *values, const float *mask, int B) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  LCFM_CHECK(B > 0 && B <= c->max_batch, "nn: %s: batch %d outside 1..%d", e->name, B, c->max_batch);
  causal_infer_ctx ctx = {e, p, times, values, mask};
  infer_chunks(causal_infer_chunk, &ctx, B, e->inf_seqs, e->inf_slots, e->iws);
  if (!all_finite(e->z, (size_t)B * c->latent)) {
    lcfm_causal_encoder_forward(e, p, times, values, mask, B, 0, 0, 0); /* aborts naming the layer */
    LCFM_FATAL("nn: %s: non-finite latent from the inference path only", e->name);
  }
  return e->z;
}

void lcfm_causal_encoder_check(const lcfm_causal_encoder *e) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  size_t nd = (size_t)e->B * c->T * c->d;
  char what[128];
  snprintf(what, sizeof what, "%s input embedding", e->name);
  lcfm_nn_check_finite(e->x0, nd, what);
  for (int i = 0; i < c->blocks; i++) {
    snprintf(what, sizeof what, "%s.block%d", e->name, i);
    /* an output that was not kept is the norm of x4: finite where x4 is */
    lcfm_nn_check_finite(e->ba[i].out ? e->ba[i].out : e->ba[i].x4, nd, what);
  }
  snprintf(what, sizeof what, "%s.lstm", e->name);
  lcfm_nn_check_finite(e->lstm_out, nd, what);
  snprintf(what, sizeof what, "%s pooling", e->name);
  lcfm_nn_check_finite(e->pooled, (size_t)e->B * c->d, what);
  snprintf(what, sizeof what, "%s.head", e->name);
  lcfm_nn_check_finite(e->z, (size_t)e->B * c->latent, what);
}

void lcfm_causal_encoder_backward(lcfm_causal_encoder *e, lcfm_nn_params *p, const float *dz, int training) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  int B = e->B, T = c->T, d = c->d, N = B * T;
  size_t nd = (size_t)N * d;
  lcfm_nn_zero(e->dpooled, (size_t)B * d);
  lcfm_linear_backward(e->dpooled, GW(e->head.w), GW(e->head.b), dz, e->pooled, PW(e->head.w), B, d, c->latent);
  lcfm_nn_zero(e->dh, nd);
  lcfm_meanpool_backward(e->dh, e->dpooled, e->mask, B, T, d);
  const float *xl = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_nn_zero(e->dxl, nd);
  lcfm_lstm_backward(e->dxl, GW(e->w_ih), GW(e->w_hh), GW(e->b_ih), GW(e->b_hh), e->dh, xl, e->lstm_out, e->gates,
                     e->cell, PW(e->w_ih), PW(e->w_hh), e->lstm_scratch, B, T, d, d);
  causal_train_ctx ctx = {e, p, training};
  train_chunks(causal_blocks_backward, &ctx, B, e->trn_slots, e->tws);
  int chunks = (B + LCFM_NN_TRAIN_SEQS - 1) / LCFM_NN_TRAIN_SEQS;
  reduce_chunk_grads(p->grads + e->grad_lo, e->cgrad, chunks, e->grad_hi - e->grad_lo);
}

double lcfm_causal_encoder_flops(const lcfm_causal_encoder_config *c, int B, double *backward) {
  double d = c->d, ff = c->ff, T = c->T, K = c->kernel, N = (double)B * T;
  double block = 8 * d * ff     /* two feed-forward modules */
                 + 8 * d * d    /* qkv (6 d^2) and output projection (2 d^2) */
                 + 4 * T * d    /* QK^T and PV over all heads */
                 + 6 * d * d    /* pointwise convolutions d->2d and d->d */
                 + 2 * K * d;   /* depthwise convolution */
  double lstm = 2 * d * 4 * d + 2 * d * 4 * d;
  double fwd = N * (c->blocks * block + lstm) + (double)B * 2 * d * c->latent;
  if (backward) *backward = 2 * fwd;
  return fwd;
}

/* ----------------------------------------------------------------------------------------------
 * Astromer 2 encoder
 * -------------------------------------------------------------------------------------------- */

lcfm_astromer_config lcfm_astromer_defaults(void) {
  lcfm_astromer_config c = {.d = 256, .heads = 4, .ff = 128, .blocks = 6, .residual = 0, .act = LCFM_ACT_TANH,
                            .T = 200, .max_batch = 32, .dropout = 0.0f, .id = 0};
  return c;
}

void lcfm_astromer_init(lcfm_astromer *e, const lcfm_astromer_config *cfg, lcfm_nn_params *p, const char *prefix) {
  memset(e, 0, sizeof *e);
  LCFM_CHECK(cfg->d % 2 == 0 && cfg->blocks >= 0 && cfg->T > 0 && cfg->max_batch > 0,
             "nn: bad Astromer configuration (d %d, blocks %d, T %d, batch %d)", cfg->d, cfg->blocks, cfg->T,
             cfg->max_batch);
  snprintf(e->name, sizeof e->name, "%s", prefix);
  e->cfg = *cfg;
  e->bcfg = (lcfm_transformer_config){.d = cfg->d, .heads = cfg->heads, .ff = cfg->ff, .act = cfg->act,
                                      .residual = cfg->residual, .dropout = cfg->dropout};
  int d = cfg->d;
  e->grad_lo = p->total; /* embedding, mask token and blocks are registered one after another */
  e->embed.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, d, 0, "%s.embed.w", prefix);
  e->embed.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.embed.b", prefix);
  e->mask_token = lcfm_nn_params_add2(p, LCFM_INIT_NORMAL, d, 0, "%s.mask_token", prefix);
  e->blk = lcfm_calloc((size_t)(cfg->blocks > 0 ? cfg->blocks : 1), sizeof *e->blk);
  for (int i = 0; i < cfg->blocks; i++) {
    char name[LCFM_NN_NAME_MAX];
    snprintf(name, sizeof name, "%s.block%d", prefix, i);
    lcfm_transformer_init(&e->blk[i], &e->bcfg, p, name);
  }
  e->grad_hi = p->total;
  e->head_ln.w = lcfm_nn_params_add2(p, LCFM_INIT_ONE, d, 0, "%s.head_ln.w", prefix);
  e->head_ln.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.head_ln.b", prefix);
  e->head.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 1, d, "%s.head.w", prefix);
  e->head.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, 1, 0, "%s.head.b", prefix);
}

static void astromer_layout(lcfm_astromer *e) {
  const lcfm_astromer_config *c = &e->cfg;
  int B = c->max_batch, T = c->T, d = c->d, N = B * T;
  lcfm_nn_arena *a = &e->acts;
  e->x0 = lcfm_nn_arena_take(a, (size_t)N * d);
  e->keymask = lcfm_nn_arena_take(a, (size_t)N);
  for (int i = 0; i < c->blocks; i++) lcfm_transformer_acts_layout(&e->ba[i], &e->bcfg, a, B, T);
  e->head_in = lcfm_nn_arena_take(a, (size_t)N * d);
  e->head_mean = lcfm_nn_arena_take(a, (size_t)N);
  e->head_rstd = lcfm_nn_arena_take(a, (size_t)N);
  e->pred = lcfm_nn_arena_take(a, (size_t)N);
  lcfm_nn_arena *s = &e->scr;
  e->dx[0] = lcfm_nn_arena_take(s, (size_t)N * d);
  e->dx[1] = lcfm_nn_arena_take(s, (size_t)N * d);
  train_layout(s, &e->tws, &e->trn_slots, &e->cgrad, &e->chunks, e->grad_hi - e->grad_lo, B, T, d, c->ff);
}

void lcfm_astromer_alloc(lcfm_astromer *e) {
  e->ba = lcfm_calloc((size_t)(e->cfg.blocks > 0 ? e->cfg.blocks : 1), sizeof *e->ba);
  astromer_layout(e);
  lcfm_nn_arena_alloc(&e->acts);
  lcfm_nn_arena_alloc(&e->scr);
  astromer_layout(e);
  const lcfm_astromer_config *c = &e->cfg;
  int wide = 3 * c->d > c->ff ? 3 * c->d : c->ff;
  e->inf_seqs = infer_seqs(c->max_batch, c->T, c->d, wide);
  e->iws = infer_alloc(&e->inf, &e->inf_slots, e->inf_seqs, c->T, c->d, wide);
}

void lcfm_astromer_free(lcfm_astromer *e) {
  lcfm_nn_arena_free(&e->acts);
  lcfm_nn_arena_free(&e->scr);
  lcfm_nn_arena_free(&e->inf);
  free(e->iws);
  free(e->tws);
  free(e->cgrad);
  free(e->blk);
  free(e->ba);
  memset(e, 0, sizeof *e);
}

typedef struct {
  lcfm_astromer *e;
  const lcfm_nn_params *p;
  int training;
  uint64_t seed, step;
} astromer_train_ctx;

static void astromer_blocks_forward(void *ctx, int chunk, int b0, int S, lcfm_nn_chunk_ws *ws) {
  (void)chunk;
  const astromer_train_ctx *k = ctx;
  lcfm_astromer *e = k->e;
  const lcfm_astromer_config *c = &e->cfg;
  int T = c->T;
  size_t r0 = (size_t)b0 * T;
  const float *x = e->x0 + r0 * c->d;
  for (int i = 0; i < c->blocks; i++) {
    lcfm_transformer_acts a = lcfm_transformer_acts_at(&e->ba[i], &e->bcfg, T, b0);
    lcfm_transformer_forward_at(&a, &e->bcfg, &e->blk[i], k->p, x, e->keymask + r0, S, T, k->training, k->seed,
                                dropout_counter(k->step, c->id, 2 * i), &ws->s, r0);
    x = a.out;
  }
}

/* Blocks, mask token and embedding backward for sequences b0 .. b0+S-1, from e->dx[0], into the
 * chunk's own gradient buffer. */
static void astromer_blocks_backward(void *ctx, int chunk, int b0, int S, lcfm_nn_chunk_ws *ws) {
  const astromer_train_ctx *k = ctx;
  lcfm_astromer *e = k->e;
  const lcfm_nn_params *p = k->p;
  const lcfm_astromer_config *c = &e->cfg;
  int T = c->T, d = c->d, N = S * T;
  size_t r0 = (size_t)b0 * T, nd = (size_t)N * d;
  lcfm_nn_gdest gd = {e->cgrad[chunk], e->grad_lo};
  memset(gd.g, 0, sizeof(float) * (e->grad_hi - e->grad_lo));
  const float *dout = e->dx[0] + r0 * d;
  int cur = 0;
  for (int i = c->blocks - 1; i >= 0; i--) {
    const float *inp = (i > 0 ? e->ba[i - 1].out : e->x0) + r0 * d;
    lcfm_transformer_acts a = lcfm_transformer_acts_at(&e->ba[i], &e->bcfg, T, b0);
    lcfm_nn_zero(ws->dx[cur], nd);
    lcfm_transformer_backward_to(ws->dx[cur], &a, &e->bcfg, &e->blk[i], p, gd, dout, inp, S, T, k->training, &ws->s);
    dout = ws->dx[cur];
    cur = 1 - cur;
  }
  /* x0 = token-or-embedding + time encoding: the embedding sees the gradient where not replaced. */
  lcfm_nn_zero(ws->dx[cur], nd);
  lcfm_masktoken_backward(ws->dx[cur], GD(gd, e->mask_token), dout, e->replace + r0, N, d);
  lcfm_scalar_embed_backward(NULL, GD(gd, e->embed.w), GD(gd, e->embed.b), ws->dx[cur], e->values + r0,
                             PW(e->embed.w), N, d);
}

const float *lcfm_astromer_forward(lcfm_astromer *e, const lcfm_nn_params *p, const float *times,
                                   const float *values, const float *valid, const float *replace, int B,
                                   int training, uint64_t seed, uint64_t step) {
  const lcfm_astromer_config *c = &e->cfg;
  LCFM_CHECK(B > 0 && B <= c->max_batch, "nn: %s: batch %d outside 1..%d", e->name, B, c->max_batch);
  int T = c->T, d = c->d, N = B * T;
  e->times = times, e->values = values, e->valid = valid, e->replace = replace, e->B = B;
  lcfm_scalar_embed_forward(e->x0, values, PW(e->embed.w), PW(e->embed.b), N, d, 0);
  lcfm_masktoken_forward(e->x0, e->x0, PW(e->mask_token), replace, N, d);
  lcfm_timeenc_forward(e->dx[0], times, N, d); /* dx[0]: a free [B, T, d] buffer until backward */
  lcfm_nn_axpy(e->x0, 1.0f, e->dx[0], (size_t)N * d);
  for (int n = 0; n < N; n++) e->keymask[n] = (valid ? valid[n] : 1.0f) * (1.0f - replace[n]);
  astromer_train_ctx ctx = {e, p, training, seed, step};
  train_chunks(astromer_blocks_forward, &ctx, B, e->trn_slots, e->tws);
  const float *x = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_layernorm_forward(e->head_in, e->head_mean, e->head_rstd, x, PW(e->head_ln.w), PW(e->head_ln.b), N, d,
                         LCFM_NN_LN_EPS);
  lcfm_linear_forward(e->pred, e->head_in, PW(e->head.w), PW(e->head.b), N, d, 1);
  if (!all_finite(e->pred, (size_t)N)) lcfm_astromer_check(e);
  return e->pred;
}

/* out (rows `stride` apart) = the valid-weighted mean over time of x [S, T, d]; 0 for a sequence
 * without a valid step. */
static void masked_time_mean(float *out, int stride, const float *x, const float *valid, int S, int T, int d) {
  for (int b = 0; b < S; b++) {
    float *o = out + (size_t)b * stride;
    double n = 0;
    memset(o, 0, sizeof(float) * (size_t)d);
    for (int t = 0; t < T; t++) {
      float v = valid ? valid[(size_t)b * T + t] : 1.0f;
      if (v == 0.0f) continue;
      n += v;
      const float *row = x + ((size_t)b * T + t) * d;
#pragma omp simd
      for (int j = 0; j < d; j++) o[j] += v * row[j];
    }
    for (int j = 0; j < d; j++) o[j] = n > 0 ? (float)(o[j] / n) : 0.0f;
  }
}

typedef struct {
  lcfm_astromer *e;
  const lcfm_nn_params *p;
  const float *times, *values, *valid, *replace;
  float *out;
} astromer_infer_ctx;

static void astromer_infer_chunk(void *ctx, int b0, int S, lcfm_nn_infer_ws *ws) {
  const astromer_infer_ctx *k = ctx;
  lcfm_astromer *e = k->e;
  const lcfm_nn_params *p = k->p;
  const lcfm_astromer_config *c = &e->cfg;
  int T = c->T, d = c->d, N = S * T, layers = c->blocks + 1;
  size_t first = (size_t)b0 * T;
  const float *valid = k->valid ? k->valid + first : NULL, *replace = k->replace + first;
  lcfm_scalar_embed_forward(ws->x, k->values + first, PW(e->embed.w), PW(e->embed.b), N, d, 0);
  lcfm_masktoken_forward(ws->x, ws->x, PW(e->mask_token), replace, N, d);
  lcfm_timeenc_forward(ws->ln, k->times + first, N, d);
  lcfm_nn_axpy(ws->x, 1.0f, ws->ln, (size_t)N * d);
  for (int n = 0; n < N; n++) ws->keep[n] = (valid ? valid[n] : 1.0f) * (1.0f - replace[n]);
  float *out = k->out + (size_t)b0 * layers * d;
  masked_time_mean(out, layers * d, ws->x, valid, S, T, d);
  for (int i = 0; i < c->blocks; i++) {
    lcfm_transformer_infer(ws->x, &e->bcfg, &e->blk[i], p, ws->keep, S, T, ws);
    masked_time_mean(out + (size_t)(i + 1) * d, layers * d, ws->x, valid, S, T, d);
  }
}

void lcfm_astromer_infer_layer_means(lcfm_astromer *e, const lcfm_nn_params *p, const float *times,
                                     const float *values, const float *valid, const float *replace, int B,
                                     float *out) {
  const lcfm_astromer_config *c = &e->cfg;
  LCFM_CHECK(B > 0 && B <= c->max_batch, "nn: %s: batch %d outside 1..%d", e->name, B, c->max_batch);
  astromer_infer_ctx ctx = {e, p, times, values, valid, replace, out};
  infer_chunks(astromer_infer_chunk, &ctx, B, e->inf_seqs, e->inf_slots, e->iws);
  if (!all_finite(out, (size_t)B * (c->blocks + 1) * c->d)) {
    lcfm_astromer_forward(e, p, times, values, valid, replace, B, 0, 0, 0);
    lcfm_astromer_check(e); /* aborts naming the layer */
    LCFM_FATAL("nn: %s: non-finite embedding from the inference path only", e->name);
  }
}

void lcfm_astromer_check(const lcfm_astromer *e) {
  const lcfm_astromer_config *c = &e->cfg;
  size_t nd = (size_t)e->B * c->T * c->d;
  char what[128];
  snprintf(what, sizeof what, "%s input embedding", e->name);
  lcfm_nn_check_finite(e->x0, nd, what);
  for (int i = 0; i < c->blocks; i++) {
    snprintf(what, sizeof what, "%s.block%d", e->name, i);
    lcfm_nn_check_finite(e->ba[i].out, nd, what);
  }
  snprintf(what, sizeof what, "%s.head_ln", e->name);
  lcfm_nn_check_finite(e->head_in, nd, what);
  snprintf(what, sizeof what, "%s.head", e->name);
  lcfm_nn_check_finite(e->pred, (size_t)e->B * c->T, what);
}

void lcfm_astromer_backward(lcfm_astromer *e, lcfm_nn_params *p, const float *dpred, int training) {
  const lcfm_astromer_config *c = &e->cfg;
  int B = e->B, T = c->T, d = c->d, N = B * T;
  size_t nd = (size_t)N * d;
  const float *xl = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_nn_zero(e->dx[1], nd);
  lcfm_linear_backward(e->dx[1], GW(e->head.w), GW(e->head.b), dpred, e->head_in, PW(e->head.w), N, d, 1);
  lcfm_nn_zero(e->dx[0], nd);
  lcfm_layernorm_backward(e->dx[0], GW(e->head_ln.w), GW(e->head_ln.b), e->dx[1], xl, PW(e->head_ln.w),
                          e->head_mean, e->head_rstd, N, d);
  astromer_train_ctx ctx = {e, p, training, 0, 0};
  train_chunks(astromer_blocks_backward, &ctx, B, e->trn_slots, e->tws);
  int chunks = (B + LCFM_NN_TRAIN_SEQS - 1) / LCFM_NN_TRAIN_SEQS;
  reduce_chunk_grads(p->grads + e->grad_lo, e->cgrad, chunks, e->grad_hi - e->grad_lo);
}

double lcfm_astromer_flops(const lcfm_astromer_config *c, int B, double *backward) {
  double d = c->d, ff = c->ff, T = c->T, N = (double)B * T;
  double block = 8 * d * d + 4 * T * d + 4 * d * ff;
  double fwd = N * (c->blocks * block + 2 * d);
  if (backward) *backward = 2 * fwd;
  return fwd;
}
