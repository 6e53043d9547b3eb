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
static lcfm_nn_infer_ws *infer_alloc(lcfm_nn_arena *arena, int *slots, int seqs, int T, int d,
                                     int wide) {
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
static void infer_chunks(infer_chunk_fn fn, void *ctx, int B, int seqs, int slots,
                         lcfm_nn_infer_ws *ws) {
  int nt = lcfm_nn_threads() < slots ? lcfm_nn_threads() : slots;
  int S = infer_chunk(B, nt, seqs);
  int chunks = (B + S - 1) / S;
  if (nt <= 1 || chunks == 1) {
    for (int c = 0; c < chunks; c++) fn(ctx, c * S, B - c * S < S ? B - c * S : S, &ws[0]);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int c = 0; c < chunks; c++)
    fn(ctx, c * S, B - c * S < S ? B - c * S : S, &ws[omp_get_thread_num()]);
}

/* Training chunks (see nn_models.h): per-thread scratch and per-chunk gradient buffers, taken from
 * the scratch arena. trn_slots and the cgrad array are set on the counting pass. */
static void train_layout(lcfm_nn_encoder *b) {
  lcfm_nn_arena *arena = &b->scr;
  if (arena->base == NULL) {
    b->trn_slots = lcfm_nn_threads();
    b->chunks = (b->max_batch + LCFM_NN_TRAIN_SEQS - 1) / LCFM_NN_TRAIN_SEQS;
    b->tws = lcfm_calloc((size_t)b->trn_slots, sizeof *b->tws);
    b->cgrad = lcfm_calloc((size_t)b->chunks, sizeof *b->cgrad);
  }
  int S = b->max_batch < LCFM_NN_TRAIN_SEQS ? b->max_batch : LCFM_NN_TRAIN_SEQS, N = S * b->T;
  for (int i = 0; i < b->trn_slots; i++) {
    lcfm_nn_scratch_layout(&b->tws[i].s, arena, N, b->T, b->d, b->ff);
    b->tws[i].dx[0] = lcfm_nn_arena_take(arena, (size_t)N * b->d);
    b->tws[i].dx[1] = lcfm_nn_arena_take(arena, (size_t)N * b->d);
  }
  for (int c = 0; c < b->chunks; c++)
    b->cgrad[c] = lcfm_nn_arena_take(arena, b->grad_hi - b->grad_lo);
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
  for (int c = 0; c < chunks; c++)
    fn(ctx, c, c * S, B - c * S < S ? B - c * S : S, &ws[omp_get_thread_num()]);
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
 * The encoder skeleton: the life cycle both encoders share. Each supplies its layers through an
 * encoder_ops table; the skeleton checks, allocates and frees, runs the stack of blocks over the
 * training chunks forward and backward, sums the chunks' gradients and names a non-finite layer.
 * -------------------------------------------------------------------------------------------- */

/* One training chunk: sequences b0 .. b0+S-1 on a thread's workspace; backward's gradient
 * destination (the chunk's own buffer) and training flag. */
typedef struct {
  int b0, S;
  lcfm_nn_chunk_ws *ws;
  lcfm_nn_gdest gd;
  int training;
} train_chunk;

typedef struct {
  /* register block i's tensors under name */
  void (*init_block)(void *e, int i, const char *name, lcfm_nn_params *p);
  /* take every buffer from the arenas (a counting pass first, then the real pointers) */
  void (*layout)(void *e);
  /* block i forward for the chunk, saving what its backward needs */
  void (*block_forward)(void *e, const lcfm_nn_params *p, int i, const train_chunk *c);
  /* block i backward for the chunk: dinp (zeroed) += d/d input given dout, gradients into c->gd */
  void (*block_backward)(void *e, const lcfm_nn_params *p, int i, const train_chunk *c, float *dinp,
                         const float *dout);
  /* the input embedding's backward for the chunk from dx0 (spare: a free [S*T, d] buffer) */
  void (*embed_backward)(void *e, const lcfm_nn_params *p, const train_chunk *c, const float *dx0,
                         float *spare);
  /* block i's output [B, T, d] of the last forward, or a buffer finite exactly where it is */
  const float *(*block_output)(const void *e, int i);
} encoder_ops;

/* One element per block (at least one: calloc of 0 may return NULL). */
static void *per_block(int blocks, size_t size) {
  return lcfm_calloc((size_t)(blocks > 0 ? blocks : 1), size);
}

/* b holds the encoder's shape; checks it and names the encoder. */
static void encoder_init(lcfm_nn_encoder *b, const char *kind, const char *prefix) {
  LCFM_CHECK(b->d % 2 == 0 && b->blocks >= 0 && b->T > 0 && b->max_batch > 0,
             "nn: bad %s configuration (d %d, blocks %d, T %d, batch %d)", kind, b->d, b->blocks,
             b->T, b->max_batch);
  snprintf(b->name, sizeof b->name, "%s", prefix);
}

/* Register the blocks as "prefix.block<i>"; the tensors from grad_lo (set before the input
 * embedding) to here are the ones the training chunks accumulate in buffers of their own. */
static void encoder_init_blocks(lcfm_nn_encoder *b, const encoder_ops *ops, void *e,
                                lcfm_nn_params *p, const char *prefix) {
  for (int i = 0; i < b->blocks; i++) {
    char name[LCFM_NN_NAME_MAX];
    snprintf(name, sizeof name, "%s.block%d", prefix, i);
    ops->init_block(e, i, name, p);
  }
  b->grad_hi = p->total;
}

/* wide: the widest row of the inference workspace. */
static void encoder_alloc(lcfm_nn_encoder *b, const encoder_ops *ops, void *e, int wide) {
  ops->layout(e); /* counting pass */
  lcfm_nn_arena_alloc(&b->acts);
  lcfm_nn_arena_alloc(&b->scr);
  ops->layout(e);
  b->inf_seqs = infer_seqs(b->max_batch, b->T, b->d, wide);
  b->iws = infer_alloc(&b->inf, &b->inf_slots, b->inf_seqs, b->T, b->d, wide);
}

static void encoder_free(lcfm_nn_encoder *b, void *blk, void *ba) {
  lcfm_nn_arena_free(&b->acts);
  lcfm_nn_arena_free(&b->scr);
  lcfm_nn_arena_free(&b->inf);
  free(b->iws);
  free(b->tws);
  free(b->cgrad);
  free(blk);
  free(ba);
}

/* The transposed weights (params_t) of the encoder's tensors from its parameters, on entering a
 * forward pass, so that its products run without a transposed operand: a copy of about 0.3 M
 * floats for the paper model against a forward pass of several GFLOP. */
static void encoder_transpose_weights(const lcfm_nn_encoder *b, const lcfm_nn_params *p) {
  lcfm_nn_params_transpose(p, b->grad_lo, b->param_hi);
}

static void encoder_check_batch(const lcfm_nn_encoder *b, int B) {
  LCFM_CHECK(B > 0 && B <= b->max_batch, "nn: %s: batch %d outside 1..%d", b->name, B,
             b->max_batch);
}

/* Start a forward: check the batch and keep it, with the draws, for backward and recomputation. */
static void encoder_begin(lcfm_nn_encoder *b, const lcfm_nn_series *x, int training, uint64_t seed,
                          uint64_t step) {
  encoder_check_batch(b, x->B);
  b->x = *x;
  b->training = training, b->seed = seed, b->step = step;
}

/* Block i's batch for chunk c: its input, its rows of mask and the draws of the last forward
 * (sites dropout sites per block). */
static lcfm_nn_block_batch chunk_batch(const lcfm_nn_encoder *b, const train_chunk *c, int i,
                                       int sites, const float *inp, const float *mask) {
  size_t r0 = (size_t)c->b0 * b->T;
  lcfm_nn_block_batch x = {inp,
                           mask ? mask + r0 : NULL,
                           c->S,
                           b->T,
                           b->training,
                           b->seed,
                           dropout_counter(b->step, b->id, sites * i),
                           r0};
  return x;
}

typedef struct {
  lcfm_nn_encoder *b;
  const encoder_ops *ops;
  void *e;
  const lcfm_nn_params *p;
  const float *dlast; /* backward: [B, T, d] gradient reaching the last block's output */
  int training;
} stack_ctx;

static void stack_forward_chunk(void *ctx, int chunk, int b0, int S, lcfm_nn_chunk_ws *ws) {
  (void)chunk;
  const stack_ctx *k = ctx;
  train_chunk c = {b0, S, ws, {NULL, 0}, k->training};
  for (int i = 0; i < k->b->blocks; i++) k->ops->block_forward(k->e, k->p, i, &c);
}

/* The blocks and the embedding backward for one chunk, from k->dlast, into the chunk's own
 * gradient buffer. */
static void stack_backward_chunk(void *ctx, int chunk, int b0, int S, lcfm_nn_chunk_ws *ws) {
  const stack_ctx *k = ctx;
  const lcfm_nn_encoder *b = k->b;
  size_t nd = (size_t)S * b->T * b->d;
  train_chunk c = {b0, S, ws, {b->cgrad[chunk], b->grad_lo}, k->training};
  memset(c.gd.g, 0, sizeof(float) * (b->grad_hi - b->grad_lo));
  const float *dout = k->dlast + (size_t)b0 * b->T * b->d;
  int cur = 0;
  for (int i = b->blocks - 1; i >= 0; i--) {
    lcfm_nn_zero(ws->dx[cur], nd);
    k->ops->block_backward(k->e, k->p, i, &c, ws->dx[cur], dout);
    dout = ws->dx[cur];
    cur = 1 - cur;
  }
  k->ops->embed_backward(k->e, k->p, &c, dout, ws->dx[cur]);
}

/* The stack of blocks forward over the training chunks of the last forward's batch. */
static void encoder_blocks_forward(lcfm_nn_encoder *b, const encoder_ops *ops, void *e,
                                   const lcfm_nn_params *p) {
  stack_ctx ctx = {b, ops, e, p, NULL, b->training};
  train_chunks(stack_forward_chunk, &ctx, b->x.B, b->trn_slots, b->tws);
}

/* The blocks and the embedding backward from dlast, their gradients summed into the table. */
static void encoder_blocks_backward(lcfm_nn_encoder *b, const encoder_ops *ops, void *e,
                                    lcfm_nn_params *p, const float *dlast, int training) {
  stack_ctx ctx = {b, ops, e, p, dlast, training};
  train_chunks(stack_backward_chunk, &ctx, b->x.B, b->trn_slots, b->tws);
  int chunks = (b->x.B + LCFM_NN_TRAIN_SEQS - 1) / LCFM_NN_TRAIN_SEQS;
  reduce_chunk_grads(p->grads + b->grad_lo, b->cgrad, chunks, b->grad_hi - b->grad_lo);
}

/* Abort naming "<encoder><layer>" if x[0..n) is not finite. */
static void check_layer(const lcfm_nn_encoder *b, const char *layer, const float *x, size_t n) {
  char what[128];
  snprintf(what, sizeof what, "%s%s", b->name, layer);
  lcfm_nn_check_finite(x, n, what);
}

/* The input embedding x0 and every block's output of the last forward. */
static void check_stack(const lcfm_nn_encoder *b, const encoder_ops *ops, const void *e,
                        const float *x0) {
  size_t nd = (size_t)b->x.B * b->T * b->d;
  check_layer(b, " input embedding", x0, nd);
  for (int i = 0; i < b->blocks; i++) {
    char layer[32];
    snprintf(layer, sizeof layer, ".block%d", i);
    check_layer(b, layer, ops->block_output(e, i), nd);
  }
}

static void encoder_infer(const lcfm_nn_encoder *b, infer_chunk_fn fn, void *ctx, int B) {
  encoder_check_batch(b, B);
  infer_chunks(fn, ctx, B, b->inf_seqs, b->inf_slots, b->iws);
}

/* ----------------------------------------------------------------------------------------------
 * Causal encoder
 * -------------------------------------------------------------------------------------------- */

lcfm_causal_encoder_config lcfm_causal_encoder_defaults(void) {
  lcfm_causal_encoder_config c = {.d = 64,
                                  .heads = 4,
                                  .ff = 128,
                                  .blocks = 4,
                                  .kernel = 31,
                                  .latent = 20,
                                  .T = 100,
                                  .max_batch = 64,
                                  .dropout = 0.0f,
                                  .id = 0,
                                  .keep_block_acts = 0};
  return c;
}

static const encoder_ops causal_ops; /* its layers, for the skeleton (defined below) */

static void causal_init_block(void *enc, int i, const char *name, lcfm_nn_params *p) {
  lcfm_causal_encoder *e = enc;
  lcfm_conformer_init(&e->blk[i], &e->bcfg, p, name);
}

/* The shape both encoders' configurations give their base (the fields have the same names). */
#define ENCODER_BASE(cfg) \
  ((lcfm_nn_encoder){.blocks = (cfg)->blocks, \
                     .T = (cfg)->T, \
                     .d = (cfg)->d, \
                     .ff = (cfg)->ff, \
                     .max_batch = (cfg)->max_batch, \
                     .id = (cfg)->id})

void lcfm_causal_encoder_init(lcfm_causal_encoder *e, const lcfm_causal_encoder_config *cfg,
                              lcfm_nn_params *p, const char *prefix) {
  memset(e, 0, sizeof *e);
  e->base = ENCODER_BASE(cfg);
  encoder_init(&e->base, "causal encoder", prefix);
  e->cfg = *cfg;
  e->bcfg = (lcfm_conformer_config){.d = cfg->d,
                                    .heads = cfg->heads,
                                    .ff = cfg->ff,
                                    .kernel = cfg->kernel,
                                    .dropout = cfg->dropout};
  int d = cfg->d;
  e->base.grad_lo = p->total; /* the embedding and the blocks are registered one after another */
  e->embed.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, d, 0, "%s.embed.w", prefix);
  e->embed.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.embed.b", prefix);
  e->blk = per_block(cfg->blocks, sizeof *e->blk);
  encoder_init_blocks(&e->base, &causal_ops, e, p, prefix);
  e->w_ih = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 4 * d, d, "%s.lstm.w_ih", prefix);
  e->w_hh = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 4 * d, d, "%s.lstm.w_hh", prefix);
  e->b_ih = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, 4 * d, 0, "%s.lstm.b_ih", prefix);
  e->b_hh = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, 4 * d, 0, "%s.lstm.b_hh", prefix);
  e->head.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, cfg->latent, d, "%s.head.w", prefix);
  e->head.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, cfg->latent, 0, "%s.head.b", prefix);
  e->base.param_hi = p->total;
}

/* What a block keeps for the whole batch when the rest is recomputed (lcfm_conformer_recompute),
 * per row: the residual stream after each module (4 d), q|k|v (3 d), the attention output (d), the
 * softmax statistics (2 heads) and the output norm's (2); the last block also its output (d), which
 * the LSTM reads. The other blocks' outputs are LN(x4) again from x4 and the statistics, an
 * element-wise pass, when the next block needs its input. Chosen to spare the most recomputed
 * products within 2 MiB of saved activations per light curve of the paper model:
 * tools/bench_nn --acts-table lists what each candidate costs and spares. */
static void kept_block_layout(lcfm_conformer_acts *a, lcfm_nn_arena *arena, int N, int d, int heads,
                              int last) {
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

static void causal_layout(void *enc) {
  lcfm_causal_encoder *e = enc;
  const lcfm_causal_encoder_config *c = &e->cfg;
  int B = c->max_batch, T = c->T, d = c->d, N = B * T;
  lcfm_nn_arena *a = &e->base.acts;
  e->x0 = lcfm_nn_arena_take(a, (size_t)N * d);
  for (int i = 0; i < c->blocks; i++) {
    if (c->keep_block_acts) lcfm_conformer_acts_layout(&e->ba[i], &e->bcfg, a, B, T);
    else kept_block_layout(&e->ba[i], a, N, d, c->heads, i == c->blocks - 1);
  }
  e->lstm_out = lcfm_nn_arena_take(a, (size_t)N * d);
  e->gates = lcfm_nn_arena_take(a, (size_t)N * 4 * d);
  e->cell = lcfm_nn_arena_take(a, (size_t)N * d);
  e->pooled = lcfm_nn_arena_take(a, (size_t)B * d);
  e->z = lcfm_nn_arena_take(a, (size_t)B * c->latent);
  lcfm_nn_arena *s = &e->base.scr;
  e->lstm_scratch = lcfm_nn_arena_take(s, lcfm_lstm_scratch_floats(B, T, d));
  e->dpooled = lcfm_nn_arena_take(s, (size_t)B * d);
  e->dh = lcfm_nn_arena_take(s, (size_t)N * d);
  e->dxl = lcfm_nn_arena_take(s, (size_t)N * d);
  train_layout(&e->base);
  if (!c->keep_block_acts && c->blocks > 0) {
    int S = B < LCFM_NN_TRAIN_SEQS ? B : LCFM_NN_TRAIN_SEQS;
    for (int i = 0; i < e->base.trn_slots; i++) {
      lcfm_conformer_acts_layout(&e->base.tws[i].blk, &e->bcfg, s, S, T);
      e->base.tws[i].inp = lcfm_nn_arena_take(s, (size_t)S * T * d);
    }
  }
}

void lcfm_causal_encoder_alloc(lcfm_causal_encoder *e) {
  e->ba = per_block(e->cfg.blocks, sizeof *e->ba);
  int wide = 4 * e->cfg.d > e->cfg.ff ? 4 * e->cfg.d
                                      : e->cfg.ff; /* LSTM gates 4d cover q|k|v 3d and GLU 2d */
  encoder_alloc(&e->base, &causal_ops, e, wide);
}

void lcfm_causal_encoder_free(lcfm_causal_encoder *e) {
  encoder_free(&e->base, e->blk, e->ba);
  memset(e, 0, sizeof *e);
}

/* The LSTM's four tensors in the buffer `at` (the parameters or their gradients), and the
 * weights transposed from `at_t` (params_t; NULL for gradients). */
static lcfm_lstm_tensors causal_lstm(const lcfm_causal_encoder *e, float *at, const float *at_t) {
  lcfm_lstm_tensors t = {at + e->w_ih,
                         at + e->w_hh,
                         at + e->b_ih,
                         at + e->b_hh,
                         at_t ? at_t + e->w_ih : NULL,
                         at_t ? at_t + e->w_hh : NULL};
  return t;
}

/* Where block i's activations for chunk k go: the whole-batch buffers when they are all kept;
 * else the thread's chunk workspace, except the kept ones (kept_block_layout) at the chunk's rows
 * of the whole batch, and the output of a block before the last, which goes to a workspace buffer
 * the next block reads (forward only: backward does not read it). */
static lcfm_conformer_acts causal_chunk_acts(const lcfm_causal_encoder *e, int i,
                                             const train_chunk *k) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  lcfm_conformer_acts at = lcfm_conformer_acts_at(&e->ba[i], &e->bcfg, c->T, k->b0);
  if (c->keep_block_acts) return at;
  lcfm_conformer_acts a = k->ws->blk;
  a.x1 = at.x1, a.x2 = at.x2, a.x3 = at.x3, a.x4 = at.x4, a.qkv = at.qkv, a.ao = at.ao,
  a.att_stat = at.att_stat;
  a.o_mean = at.o_mean, a.o_rstd = at.o_rstd;
  a.out = i == c->blocks - 1 ? at.out : k->ws->dx[i & 1];
  return a;
}

/* Block i's input for chunk k in forward: the embedding, or the previous block's output (kept,
 * or in the workspace buffer causal_chunk_acts gave it). */
static const float *causal_forward_input(const lcfm_causal_encoder *e, int i,
                                         const train_chunk *k) {
  size_t r0 = (size_t)k->b0 * e->cfg.T * e->cfg.d;
  if (i == 0) return e->x0 + r0;
  return e->cfg.keep_block_acts ? e->ba[i - 1].out + r0 : k->ws->dx[(i - 1) & 1];
}

/* The same in backward, where a previous block's output that was not kept is recomputed from its x4
 * and output statistics into ws->inp. */
static const float *causal_backward_input(const lcfm_causal_encoder *e, const lcfm_nn_params *p,
                                          int i, const train_chunk *k) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  if (i == 0 || c->keep_block_acts) return causal_forward_input(e, i, k);
  lcfm_conformer_acts prev = lcfm_conformer_acts_at(&e->ba[i - 1], &e->bcfg, c->T, k->b0);
  lcfm_conformer_output_at(k->ws->inp, &prev, &e->bcfg, &e->blk[i - 1], p, k->S * c->T);
  return k->ws->inp;
}

static void causal_block_forward(void *enc, const lcfm_nn_params *p, int i, const train_chunk *k) {
  lcfm_causal_encoder *e = enc;
  lcfm_conformer_acts a = causal_chunk_acts(e, i, k);
  lcfm_nn_block_batch x =
      chunk_batch(&e->base, k, i, 4, causal_forward_input(e, i, k), e->base.x.valid);
  lcfm_conformer_forward(&a, &e->bcfg, &e->blk[i], p, &x, &k->ws->s);
}

/* Backward of block i, after recomputing what it did not keep (with the draws of the last
 * forward: the same values). */
static void causal_block_backward(void *enc, const lcfm_nn_params *p, int i, const train_chunk *k,
                                  float *dinp, const float *dout) {
  lcfm_causal_encoder *e = enc;
  lcfm_nn_block_batch x =
      chunk_batch(&e->base, k, i, 4, causal_backward_input(e, p, i, k), e->base.x.valid);
  lcfm_conformer_acts a = causal_chunk_acts(e, i, k);
  if (!e->cfg.keep_block_acts) lcfm_conformer_recompute(&a, &e->bcfg, &e->blk[i], p, &x, &k->ws->s);
  x.training = k->training;
  lcfm_conformer_backward_to(dinp, &a, &e->bcfg, &e->blk[i], p, k->gd, dout, &x, &k->ws->s);
}

static void causal_embed_backward(void *enc, const lcfm_nn_params *p, const train_chunk *k,
                                  const float *dx0, float *spare) {
  (void)spare;
  const lcfm_causal_encoder *e = enc;
  int d = e->cfg.d, N = k->S * e->cfg.T;
  size_t r0 = (size_t)k->b0 * e->cfg.T;
  lcfm_scalar_embed_backward(NULL, GD(k->gd, e->embed.w), GD(k->gd, e->embed.b), dx0,
                             e->base.x.values + r0, PW(e->embed.w), N, d);
}

/* An output that was not kept is the norm of x4: finite where x4 is. */
static const float *causal_block_output(const void *enc, int i) {
  const lcfm_causal_encoder *e = enc;
  return e->ba[i].out ? e->ba[i].out : e->ba[i].x4;
}

const float *lcfm_causal_encoder_forward(lcfm_causal_encoder *e, const lcfm_nn_params *p,
                                         const lcfm_nn_series *x, int training, uint64_t seed,
                                         uint64_t step) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  encoder_begin(&e->base, x, training, seed, step);
  encoder_transpose_weights(&e->base, p);
  int B = x->B, T = c->T, d = c->d, N = B * T;
  lcfm_timeenc_forward(e->x0, x->times, N, d);
  lcfm_scalar_embed_forward(e->x0, x->values, PW(e->embed.w), PW(e->embed.b), N, d, 1);
  encoder_blocks_forward(&e->base, &causal_ops, e, p);
  const float *last = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_lstm_acts lstm = {e->lstm_out, e->gates, e->cell};
  lcfm_lstm_tensors w = causal_lstm(e, p->params, p->params_t);
  lcfm_lstm_forward(&lstm, last, &w, (lcfm_lstm_dims){B, T, d, d});
  lcfm_meanpool_forward(e->pooled, e->lstm_out, x->valid, B, T, d);
  lcfm_linear_forward(e->z, e->pooled, PW(e->head.w), PW(e->head.b), B, d, c->latent);
  if (!all_finite(e->z, (size_t)B * c->latent)) lcfm_causal_encoder_check(e);
  return e->z;
}

typedef struct {
  lcfm_causal_encoder *e;
  const lcfm_nn_params *p;
  const lcfm_nn_series *x;
} causal_infer_ctx;

/* Sequences b0 .. b0+S-1 through the whole encoder; writes their rows of e->z. */
static void causal_infer_chunk(void *ctx, int b0, int S, lcfm_nn_infer_ws *ws) {
  const causal_infer_ctx *k = ctx;
  lcfm_causal_encoder *e = k->e;
  const lcfm_nn_params *p = k->p;
  const lcfm_causal_encoder_config *c = &e->cfg;
  int T = c->T, d = c->d, N = S * T;
  size_t first = (size_t)b0 * T;
  const float *mask = k->x->valid ? k->x->valid + first : NULL;
  lcfm_timeenc_forward(ws->x, k->x->times + first, N, d);
  lcfm_scalar_embed_forward(ws->x, k->x->values + first, PW(e->embed.w), PW(e->embed.b), N, d, 1);
  for (int i = 0; i < c->blocks; i++)
    lcfm_conformer_infer(ws->x, &e->bcfg, &e->blk[i], p, mask, S, T, ws);
  /* LSTM: hidden states into ao, gates into wide, cells into c */
  lcfm_lstm_acts lstm = {ws->ao, ws->wide, ws->c};
  lcfm_lstm_tensors w = causal_lstm(e, p->params, p->params_t);
  lcfm_lstm_forward(&lstm, ws->x, &w, (lcfm_lstm_dims){S, T, d, d});
  lcfm_meanpool_forward(ws->pooled, ws->ao, mask, S, T, d);
  lcfm_linear_forward(e->z + (size_t)b0 * c->latent, ws->pooled, PW(e->head.w), PW(e->head.b), S, d,
                      c->latent);
}

const float *lcfm_causal_encoder_infer(lcfm_causal_encoder *e, const lcfm_nn_params *p,
                                       const lcfm_nn_series *x) {
  causal_infer_ctx ctx = {e, p, x};
  encoder_transpose_weights(&e->base, p);
  encoder_infer(&e->base, causal_infer_chunk, &ctx, x->B);
  if (!all_finite(e->z, (size_t)x->B * e->cfg.latent)) {
    lcfm_causal_encoder_forward(e, p, x, 0, 0, 0); /* aborts naming the layer */
    LCFM_FATAL("nn: %s: non-finite latent from the inference path only", e->base.name);
  }
  return e->z;
}

void lcfm_causal_encoder_check(const lcfm_causal_encoder *e) {
  const lcfm_nn_encoder *b = &e->base;
  size_t nd = (size_t)b->x.B * b->T * b->d;
  check_stack(b, &causal_ops, e, e->x0);
  check_layer(b, ".lstm", e->lstm_out, nd);
  check_layer(b, " pooling", e->pooled, (size_t)b->x.B * b->d);
  check_layer(b, ".head", e->z, (size_t)b->x.B * e->cfg.latent);
}

void lcfm_causal_encoder_backward(lcfm_causal_encoder *e, lcfm_nn_params *p, const float *dz,
                                  int training) {
  const lcfm_causal_encoder_config *c = &e->cfg;
  int B = e->base.x.B, T = c->T, d = c->d, N = B * T;
  size_t nd = (size_t)N * d;
  lcfm_linear_backward_set(e->dpooled, GW(e->head.w), GW(e->head.b), dz, e->pooled, PW(e->head.w),
                           B, d, c->latent);
  lcfm_nn_zero(e->dh, nd);
  lcfm_meanpool_backward(e->dh, e->dpooled, e->base.x.valid, B, T, d);
  const float *last = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_nn_zero(e->dxl, nd);
  lcfm_lstm_acts lstm = {e->lstm_out, e->gates, e->cell};
  lcfm_lstm_tensors w = causal_lstm(e, p->params, NULL), dw = causal_lstm(e, p->grads, NULL);
  lcfm_lstm_backward(e->dxl, &dw, e->dh, last, &lstm, &w, e->lstm_scratch,
                     (lcfm_lstm_dims){B, T, d, d});
  encoder_blocks_backward(&e->base, &causal_ops, e, p, e->dxl, training);
}

double lcfm_causal_encoder_flops(const lcfm_causal_encoder_config *c, int B, double *backward) {
  double d = c->d, ff = c->ff, T = c->T, K = c->kernel, N = (double)B * T;
  double block = 8 * d * ff   /* two feed-forward modules */
                 + 8 * d * d  /* qkv (6 d^2) and output projection (2 d^2) */
                 + 4 * T * d  /* QK^T and PV over all heads */
                 + 6 * d * d  /* pointwise convolutions d->2d and d->d */
                 + 2 * K * d; /* depthwise convolution */
  double lstm = 2 * d * 4 * d + 2 * d * 4 * d;
  double fwd = N * (c->blocks * block + lstm) + (double)B * 2 * d * c->latent;
  if (backward) *backward = 2 * fwd;
  return fwd;
}

/* What the causal encoder supplies to the skeleton (declared above). */
static const encoder_ops causal_ops = {.init_block = causal_init_block,
                                       .layout = causal_layout,
                                       .block_forward = causal_block_forward,
                                       .block_backward = causal_block_backward,
                                       .embed_backward = causal_embed_backward,
                                       .block_output = causal_block_output};

/* ----------------------------------------------------------------------------------------------
 * Astromer 2 encoder
 * -------------------------------------------------------------------------------------------- */

lcfm_astromer_config lcfm_astromer_defaults(void) {
  lcfm_astromer_config c = {.d = 256,
                            .heads = 4,
                            .ff = 128,
                            .blocks = 6,
                            .residual = 0,
                            .act = LCFM_ACT_TANH,
                            .T = 200,
                            .max_batch = 32,
                            .dropout = 0.0f,
                            .id = 0};
  return c;
}

static const encoder_ops astromer_ops; /* its layers, for the skeleton (defined below) */

static void astromer_init_block(void *enc, int i, const char *name, lcfm_nn_params *p) {
  lcfm_astromer *e = enc;
  lcfm_transformer_init(&e->blk[i], &e->bcfg, p, name);
}

void lcfm_astromer_init(lcfm_astromer *e, const lcfm_astromer_config *cfg, lcfm_nn_params *p,
                        const char *prefix) {
  memset(e, 0, sizeof *e);
  e->base = ENCODER_BASE(cfg);
  encoder_init(&e->base, "Astromer", prefix);
  e->cfg = *cfg;
  e->bcfg = (lcfm_transformer_config){.d = cfg->d,
                                      .heads = cfg->heads,
                                      .ff = cfg->ff,
                                      .act = cfg->act,
                                      .residual = cfg->residual,
                                      .dropout = cfg->dropout};
  int d = cfg->d;
  e->base.grad_lo =
      p->total; /* embedding, mask token and blocks are registered one after another */
  e->embed.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, d, 0, "%s.embed.w", prefix);
  e->embed.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.embed.b", prefix);
  e->mask_token = lcfm_nn_params_add2(p, LCFM_INIT_NORMAL, d, 0, "%s.mask_token", prefix);
  e->blk = per_block(cfg->blocks, sizeof *e->blk);
  encoder_init_blocks(&e->base, &astromer_ops, e, p, prefix);
  e->head_ln.w = lcfm_nn_params_add2(p, LCFM_INIT_ONE, d, 0, "%s.head_ln.w", prefix);
  e->head_ln.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, d, 0, "%s.head_ln.b", prefix);
  e->head.w = lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 1, d, "%s.head.w", prefix);
  e->head.b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, 1, 0, "%s.head.b", prefix);
  e->base.param_hi = p->total;
}

static void astromer_layout(void *enc) {
  lcfm_astromer *e = enc;
  const lcfm_astromer_config *c = &e->cfg;
  int B = c->max_batch, T = c->T, d = c->d, N = B * T;
  lcfm_nn_arena *a = &e->base.acts;
  e->x0 = lcfm_nn_arena_take(a, (size_t)N * d);
  e->keymask = lcfm_nn_arena_take(a, (size_t)N);
  for (int i = 0; i < c->blocks; i++) lcfm_transformer_acts_layout(&e->ba[i], &e->bcfg, a, B, T);
  e->head_in = lcfm_nn_arena_take(a, (size_t)N * d);
  e->head_mean = lcfm_nn_arena_take(a, (size_t)N);
  e->head_rstd = lcfm_nn_arena_take(a, (size_t)N);
  e->pred = lcfm_nn_arena_take(a, (size_t)N);
  lcfm_nn_arena *s = &e->base.scr;
  e->dx[0] = lcfm_nn_arena_take(s, (size_t)N * d);
  e->dx[1] = lcfm_nn_arena_take(s, (size_t)N * d);
  train_layout(&e->base);
}

void lcfm_astromer_alloc(lcfm_astromer *e) {
  e->ba = per_block(e->cfg.blocks, sizeof *e->ba);
  int wide = 3 * e->cfg.d > e->cfg.ff ? 3 * e->cfg.d : e->cfg.ff;
  encoder_alloc(&e->base, &astromer_ops, e, wide);
}

void lcfm_astromer_free(lcfm_astromer *e) {
  encoder_free(&e->base, e->blk, e->ba);
  memset(e, 0, sizeof *e);
}

/* Block i's input for chunk k: the embedding or the previous block's output. */
static const float *astromer_block_input(const lcfm_astromer *e, int i, const train_chunk *k) {
  return (i > 0 ? e->ba[i - 1].out : e->x0) + (size_t)k->b0 * e->cfg.T * e->cfg.d;
}

static void astromer_block_forward(void *enc, const lcfm_nn_params *p, int i,
                                   const train_chunk *k) {
  lcfm_astromer *e = enc;
  lcfm_transformer_acts a = lcfm_transformer_acts_at(&e->ba[i], &e->bcfg, e->cfg.T, k->b0);
  lcfm_nn_block_batch x = chunk_batch(&e->base, k, i, 2, astromer_block_input(e, i, k), e->keymask);
  lcfm_transformer_forward(&a, &e->bcfg, &e->blk[i], p, &x, &k->ws->s);
}

static void astromer_block_backward(void *enc, const lcfm_nn_params *p, int i, const train_chunk *k,
                                    float *dinp, const float *dout) {
  lcfm_astromer *e = enc;
  lcfm_transformer_acts a = lcfm_transformer_acts_at(&e->ba[i], &e->bcfg, e->cfg.T, k->b0);
  lcfm_nn_block_batch x = chunk_batch(&e->base, k, i, 2, astromer_block_input(e, i, k), e->keymask);
  x.training = k->training;
  lcfm_transformer_backward_to(dinp, &a, &e->bcfg, &e->blk[i], p, k->gd, dout, &x, &k->ws->s);
}

/* x0 = token-or-embedding + time encoding: the embedding sees the gradient where not replaced. */
static void astromer_embed_backward(void *enc, const lcfm_nn_params *p, const train_chunk *k,
                                    const float *dx0, float *spare) {
  const lcfm_astromer *e = enc;
  int d = e->cfg.d, N = k->S * e->cfg.T;
  size_t r0 = (size_t)k->b0 * e->cfg.T;
  lcfm_nn_zero(spare, (size_t)N * d);
  lcfm_masktoken_backward(spare, GD(k->gd, e->mask_token), dx0, e->base.x.replace + r0, N, d);
  lcfm_scalar_embed_backward(NULL, GD(k->gd, e->embed.w), GD(k->gd, e->embed.b), spare,
                             e->base.x.values + r0, PW(e->embed.w), N, d);
}

static const float *astromer_block_output(const void *enc, int i) {
  const lcfm_astromer *e = enc;
  return e->ba[i].out;
}

const float *lcfm_astromer_forward(lcfm_astromer *e, const lcfm_nn_params *p,
                                   const lcfm_nn_series *x, int training, uint64_t seed,
                                   uint64_t step) {
  const lcfm_astromer_config *c = &e->cfg;
  encoder_begin(&e->base, x, training, seed, step);
  encoder_transpose_weights(&e->base, p);
  int T = c->T, d = c->d, N = x->B * T;
  lcfm_scalar_embed_forward(e->x0, x->values, PW(e->embed.w), PW(e->embed.b), N, d, 0);
  lcfm_masktoken_forward(e->x0, e->x0, PW(e->mask_token), x->replace, N, d);
  lcfm_timeenc_forward(e->dx[0], x->times, N, d); /* dx[0]: free until backward */
  lcfm_nn_axpy(e->x0, 1.0f, e->dx[0], (size_t)N * d);
  for (int n = 0; n < N; n++)
    e->keymask[n] = (x->valid ? x->valid[n] : 1.0f) * (1.0f - x->replace[n]);
  encoder_blocks_forward(&e->base, &astromer_ops, e, p);
  const float *last = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_layernorm_forward(e->head_in, e->head_mean, e->head_rstd, last, PW(e->head_ln.w),
                         PW(e->head_ln.b), N, d, LCFM_NN_LN_EPS);
  lcfm_linear_forward(e->pred, e->head_in, PW(e->head.w), PW(e->head.b), N, d, 1);
  if (!all_finite(e->pred, (size_t)N)) lcfm_astromer_check(e);
  return e->pred;
}

/* out (rows `stride` apart) = the valid-weighted mean over time of x [S, T, d]; 0 for a sequence
 * without a valid step. */
static void masked_time_mean(float *out, int stride, const float *x, const float *valid, int S,
                             int T, int d) {
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
  const lcfm_nn_series *x;
  float *out;
} astromer_infer_ctx;

static void astromer_infer_chunk(void *ctx, int b0, int S, lcfm_nn_infer_ws *ws) {
  const astromer_infer_ctx *k = ctx;
  lcfm_astromer *e = k->e;
  const lcfm_nn_params *p = k->p;
  const lcfm_astromer_config *c = &e->cfg;
  int T = c->T, d = c->d, N = S * T, layers = c->blocks + 1;
  size_t first = (size_t)b0 * T;
  const float *valid = k->x->valid ? k->x->valid + first : NULL, *replace = k->x->replace + first;
  lcfm_scalar_embed_forward(ws->x, k->x->values + first, PW(e->embed.w), PW(e->embed.b), N, d, 0);
  lcfm_masktoken_forward(ws->x, ws->x, PW(e->mask_token), replace, N, d);
  lcfm_timeenc_forward(ws->ln, k->x->times + first, N, d);
  lcfm_nn_axpy(ws->x, 1.0f, ws->ln, (size_t)N * d);
  for (int n = 0; n < N; n++) ws->keep[n] = (valid ? valid[n] : 1.0f) * (1.0f - replace[n]);
  float *out = k->out + (size_t)b0 * layers * d;
  masked_time_mean(out, layers * d, ws->x, valid, S, T, d);
  for (int i = 0; i < c->blocks; i++) {
    lcfm_transformer_infer(ws->x, &e->bcfg, &e->blk[i], p, ws->keep, S, T, ws);
    masked_time_mean(out + (size_t)(i + 1) * d, layers * d, ws->x, valid, S, T, d);
  }
}

void lcfm_astromer_infer_layer_means(lcfm_astromer *e, const lcfm_nn_params *p,
                                     const lcfm_nn_series *x, float *out) {
  astromer_infer_ctx ctx = {e, p, x, out};
  encoder_transpose_weights(&e->base, p);
  encoder_infer(&e->base, astromer_infer_chunk, &ctx, x->B);
  if (!all_finite(out, (size_t)x->B * (e->cfg.blocks + 1) * e->cfg.d)) {
    lcfm_astromer_forward(e, p, x, 0, 0, 0);
    lcfm_astromer_check(e); /* aborts naming the layer */
    LCFM_FATAL("nn: %s: non-finite embedding from the inference path only", e->base.name);
  }
}

void lcfm_astromer_check(const lcfm_astromer *e) {
  const lcfm_nn_encoder *b = &e->base;
  check_stack(b, &astromer_ops, e, e->x0);
  check_layer(b, ".head_ln", e->head_in, (size_t)b->x.B * b->T * b->d);
  check_layer(b, ".head", e->pred, (size_t)b->x.B * b->T);
}

void lcfm_astromer_backward(lcfm_astromer *e, lcfm_nn_params *p, const float *dpred, int training) {
  const lcfm_astromer_config *c = &e->cfg;
  int N = e->base.x.B * c->T, d = c->d;
  size_t nd = (size_t)N * d;
  const float *last = c->blocks > 0 ? e->ba[c->blocks - 1].out : e->x0;
  lcfm_linear_backward_set(e->dx[1], GW(e->head.w), GW(e->head.b), dpred, e->head_in, PW(e->head.w),
                           N, d, 1);
  lcfm_nn_zero(e->dx[0], nd);
  lcfm_layernorm_backward(e->dx[0], GW(e->head_ln.w), GW(e->head_ln.b), e->dx[1], last,
                          PW(e->head_ln.w), e->head_mean, e->head_rstd, N, d);
  encoder_blocks_backward(&e->base, &astromer_ops, e, p, e->dx[0], training);
}

double lcfm_astromer_flops(const lcfm_astromer_config *c, int B, double *backward) {
  double d = c->d, ff = c->ff, T = c->T, N = (double)B * T;
  double block = 8 * d * d + 4 * T * d + 4 * d * ff;
  double fwd = N * (c->blocks * block + 2 * d);
  if (backward) *backward = 2 * fwd;
  return fwd;
}

/* What the Astromer 2 encoder supplies to the skeleton (declared above). */
static const encoder_ops astromer_ops = {.init_block = astromer_init_block,
                                         .layout = astromer_layout,
                                         .block_forward = astromer_block_forward,
                                         .block_backward = astromer_block_backward,
                                         .embed_backward = astromer_embed_backward,
                                         .block_output = astromer_block_output};
