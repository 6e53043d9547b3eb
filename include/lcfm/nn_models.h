/* nn_models.h: blocks and encoders composed from the layers of nn.h: the Conformer block, the
 * (post-norm) transformer block with or without residual connections, the causal paper's
 * Conformer-LSTM encoder and the Astromer 2 encoder.
 *
 * Every block or encoder follows the same life cycle:
 *   1. *_init(model, config, params, prefix): register its tensors in the shared parameter table
 *      under "prefix.<name>" (names match tools/reference/nn_reference.py).
 *   2. lcfm_nn_params_alloc(params) once every model is registered.
 *   3. *_alloc(model): allocate the saved activations and the backward scratch ONCE, for
 *      config.max_batch sequences of length config.T.
 *   4. per step: *_forward(...) then *_backward(...); no allocation happens in either.
 * Views: a model keeps offsets (lcfm_nn_lin and friends) into the flat buffers; the parameter of
 * offset o is params->params + o and its gradient params->grads + o.
 *
 * Conformer block (Gulati et al. 2020, with layer norm instead of batch norm), x [B, T, d]:
 *   x = x + 1/2 Drop(FFN1(x))      FFN(x) = Linear(ff->d)(Swish(Linear(d->ff)(LN(x))))
 *   x = x + Drop(MHSA(LN(x)))      MHSA: qkv = Linear(d->3d), attention with the key mask,
 *                                  Linear(d->d)
 *   x = x + Drop(Conv(x))          Conv(x) = Linear(d->d)(Swish(LN(DWConv_K(mask * GLU(
 *                                            Linear(d->2d)(LN(x)))))))
 *   x = x + 1/2 Drop(FFN2(x))
 *   y = LN(x)
 * The mask [B, T] (1 = valid) is both the attention key mask and the padding zeroed before the
 * depthwise convolution, so padding never leaks into valid steps.
 *
 * Transformer block (Astromer 2's encoder layer, post-norm), x [B, T, d]:
 *   a = Drop(MHSA(x));            r1 = residual ? x + a : a;     h = LN1(r1)
 *   f = Drop(Linear(ff->d)(act(Linear(d->ff)(h))));  r2 = residual ? h + f : f;  y = LN2(r2)
 * Astromer 2 uses act = tanh and no residual connections.
 *
 * Dropout sites use lcfm_dropout_forward with counter = step * 4096 + model id * 256 + site.
 */
#ifndef LCFM_NN_MODELS_H
#define LCFM_NN_MODELS_H

#include "lcfm/nn.h"

/* Offsets of a weight and a bias (linear, layer norm, convolution) in the parameter table. */
typedef struct {
  size_t w, b;
} lcfm_nn_lin;

typedef enum { LCFM_ACT_RELU = 0, LCFM_ACT_GELU, LCFM_ACT_SWISH, LCFM_ACT_TANH } lcfm_nn_act;

/* Saved activations of a feed-forward module (N rows). */
typedef struct {
  float *ln, *mean, *rstd; /* pre-norm (NULL when the FFN has none) */
  float *h, *a;            /* fc1 output [N, ff] (for Swish: its sigmoid), activation [N, ff] */
  float *drop;             /* dropout mask [N, d] (NULL when dropout is 0) */
} lcfm_nn_ffn_acts;

/* Scratch shared by every block of a model (sized for the widest block, max batch). */
typedef struct {
  float *g;       /* [N, d]  gradient flowing along the residual stream */
  float *dy;      /* [N, d] */
  float *t0, *t1; /* [N, max(ff, 3d, 2d)] */
  float *t2, *t3; /* [N, d] */
  float *att;     /* attention backward scratch */
  float *fwd;     /* [N, d] forward temporary */
} lcfm_nn_scratch;

/* What one call of a block runs on: B sequences of T steps, their mask and the dropout draws. A
 * part of a larger batch (a training chunk) starts at row first_row of it, so that its dropout
 * draws are those the whole batch's call makes for its rows (0 for a whole batch). */
typedef struct {
  const float *inp;  /* [B, T, d] the block's input */
  const float *mask; /* [B, T] or NULL: the Conformer's mask, the transformer's key mask */
  int B, T;
  int training;
  uint64_t seed, counter; /* dropout draws (see the top: counter of the block's first site) */
  size_t first_row;
} lcfm_nn_block_batch;

/* ---------------------------------------------------------------------------------------------
 * Conformer block
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  int d, heads, ff, kernel;
  float dropout;
} lcfm_conformer_config;

typedef struct {
  lcfm_nn_lin ffn1_ln, ffn1_fc1, ffn1_fc2;
  lcfm_nn_lin mhsa_ln, qkv, proj;
  lcfm_nn_lin conv_ln, pw1, dw, conv_norm, pw2;
  lcfm_nn_lin ffn2_ln, ffn2_fc1, ffn2_fc2;
  lcfm_nn_lin out_ln;
} lcfm_conformer_params;

typedef struct {
  lcfm_nn_ffn_acts ffn1, ffn2;
  float *x1, *x2, *x3, *x4; /* residual stream after each module [N, d] */
  float *m_ln, *m_mean, *m_rstd, *qkv, *att, *ao, *m_drop;
  float *
      att_stat; /* [N, 2 heads] softmax statistics (lcfm_attention_forward_stats); NULL: not saved */
  float *c_ln, *c_mean, *c_rstd, *pw1, *glu, *dw, *nrm, *n_mean, *n_rstd, *sw,
      *c_drop;                  /* nrm: sigmoid(LN) */
  float *out, *o_mean, *o_rstd; /* block output [N, d] */
} lcfm_conformer_acts;

/* Register the block's tensors as "prefix.ffn1.ln.w" ... in p. */
void lcfm_conformer_init(lcfm_conformer_params *w, const lcfm_conformer_config *cfg,
                         lcfm_nn_params *p, const char *prefix);
/* Take the saved activations for B*T rows from the arena (counting pass when a->base is NULL). */
void lcfm_conformer_acts_layout(lcfm_conformer_acts *a, const lcfm_conformer_config *cfg,
                                lcfm_nn_arena *arena, int B, int T);
/* a->out [B, T, d] = block(x->inp). */
void lcfm_conformer_forward(lcfm_conformer_acts *a, const lcfm_conformer_config *cfg,
                            const lcfm_conformer_params *w, const lcfm_nn_params *p,
                            const lcfm_nn_block_batch *x, lcfm_nn_scratch *s);
/* dinp [B, T, d] += d loss / d inp given dout = d loss / d out and forward's x; parameter
 * gradients += into p. */
void lcfm_conformer_backward(float *dinp, const lcfm_conformer_acts *a,
                             const lcfm_conformer_config *cfg, const lcfm_conformer_params *w,
                             lcfm_nn_params *p, const float *dout, const lcfm_nn_block_batch *x,
                             lcfm_nn_scratch *s);

/* ---------------------------------------------------------------------------------------------
 * Transformer block
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  int d, heads, ff;
  lcfm_nn_act act;
  int residual;
  float dropout;
} lcfm_transformer_config;

typedef struct {
  lcfm_nn_lin qkv, proj, ln1, fc1, fc2, ln2;
} lcfm_transformer_params;

typedef struct {
  float *qkv, *att, *ao, *a_drop, *r1, *h, *mean1, *rstd1;
  float *f1, *f_act, *f_drop, *r2; /* f1: fc1 output (for Swish: its sigmoid) */
  float *out, *mean2, *rstd2;
} lcfm_transformer_acts;

void lcfm_transformer_init(lcfm_transformer_params *w, const lcfm_transformer_config *cfg,
                           lcfm_nn_params *p, const char *prefix);
void lcfm_transformer_acts_layout(lcfm_transformer_acts *a, const lcfm_transformer_config *cfg,
                                  lcfm_nn_arena *arena, int B, int T);
/* x->mask: the key mask [B, T] (1 = may be attended to) or NULL. */
void lcfm_transformer_forward(lcfm_transformer_acts *a, const lcfm_transformer_config *cfg,
                              const lcfm_transformer_params *w, const lcfm_nn_params *p,
                              const lcfm_nn_block_batch *x, lcfm_nn_scratch *s);
void lcfm_transformer_backward(float *dinp, const lcfm_transformer_acts *a,
                               const lcfm_transformer_config *cfg, const lcfm_transformer_params *w,
                               lcfm_nn_params *p, const float *dout, const lcfm_nn_block_batch *x,
                               lcfm_nn_scratch *s);

/* Scratch for blocks of width d, feed-forward ff, at most N rows and sequences of length T. */
void lcfm_nn_scratch_layout(lcfm_nn_scratch *s, lcfm_nn_arena *arena, int N, int T, int d, int ff);

/* Bytes of saved activations (the arena) and of backward scratch, for max_batch sequences. */
void lcfm_nn_memory(const lcfm_nn_arena *acts, const lcfm_nn_arena *scr, size_t *act_bytes,
                    size_t *scratch_bytes);

/* ---------------------------------------------------------------------------------------------
 * Inference (no gradients): the outputs of *_forward with training = 0, without saving anything
 * for backward. The encoders' *_infer split the batch into chunks of sequences and give each
 * chunk, whole, to one OpenMP thread (single-threaded GEMM): no barrier sits between its layers.
 * The chunk size is chosen for the cache when the encoder is allocated: the most sequences (up to
 * LCFM_NN_INFER_SEQS) whose workspace fits 4 per-core L2 caches (sysconf), so a chunk's
 * temporaries pass from layer to layer in cache while its products are as long as that allows
 * (16 sequences of the paper model, 2 of Astromer 2's; encoders.c says what was measured). Results
 * agree with forward, and across thread counts, to rounding (the chunk size shapes the products).
 * ------------------------------------------------------------------------------------------- */
#define LCFM_NN_INFER_SEQS 16

/* Sequences per inference chunk for encoders allocated after the call: n > 0 fixes it (benchmarks
 * compare sizes with it), 0 (the default) chooses it for the cache as above. */
void lcfm_nn_set_infer_seqs(int n);

/* One thread's temporaries for up to S sequences of length T (N = S*T rows). */
typedef struct {
  float *x;               /* [N, d] the residual stream, updated in place block by block */
  float *ln, *ao, *g, *c; /* [N, d] */
  float *wide;            /* [N, wide]: feed-forward hidden, q|k|v, pointwise-conv or LSTM gates */
  float *mean, *rstd;     /* [N] layer-norm statistics (not kept) */
  float *keep;            /* [N] attention key mask of the chunk (Astromer 2) */
  float *att;             /* [T, T] one head's probabilities */
  float *pooled;          /* [S, d] */
} lcfm_nn_infer_ws;

void lcfm_nn_infer_ws_layout(lcfm_nn_infer_ws *w, lcfm_nn_arena *arena, int S, int T, int d,
                             int wide);
/* x [B, T, d] = block(x) in place (B <= the workspace's S), on the calling thread. */
void lcfm_conformer_infer(float *x, const lcfm_conformer_config *cfg,
                          const lcfm_conformer_params *w, const lcfm_nn_params *p,
                          const float *mask, int B, int T, lcfm_nn_infer_ws *ws);
void lcfm_transformer_infer(float *x, const lcfm_transformer_config *cfg,
                            const lcfm_transformer_params *w, const lcfm_nn_params *p,
                            const float *keymask, int B, int T, lcfm_nn_infer_ws *ws);

/* ---------------------------------------------------------------------------------------------
 * Training in chunks: an encoder's blocks run forward and backward over chunks of
 * LCFM_NN_TRAIN_SEQS sequences, each chunk whole on one OpenMP thread (dynamic schedule,
 * single-threaded BLAS), saving activations at the chunk's rows of the full-batch layout. Each
 * chunk accumulates its parameter gradients into a buffer of its own; the buffers are summed into
 * the table in chunk order, so the result does not depend on which thread ran which chunk. One
 * parallel region per pass instead of one per layer: no barrier between layers, and a thread
 * slowed by other work on its core simply takes fewer chunks. The per-thread workspaces (of this
 * and of the inference path) are made by *_alloc for lcfm_nn_threads() threads: call
 * lcfm_nn_set_threads first; more threads later are not used by the chunks.
 * ------------------------------------------------------------------------------------------- */
#define LCFM_NN_TRAIN_SEQS 8

/* One thread's backward scratch for a chunk. */
typedef struct {
  lcfm_nn_scratch s;       /* the blocks' scratch for LCFM_NN_TRAIN_SEQS sequences */
  float *dx[2];            /* [S*T, d] gradient flowing between blocks (backward); the outputs of
                              blocks passed on to the next one when they are not kept (forward) */
  lcfm_conformer_acts blk; /* one block's recomputed activations for the chunk (causal encoder) */
  float *inp;              /* [S*T, d] a block's input recomputed for backward (causal encoder) */
} lcfm_nn_chunk_ws;

/* ---------------------------------------------------------------------------------------------
 * Encoders: a batch of light curves in, and what both encoders share
 * ------------------------------------------------------------------------------------------- */
/* B light curves (or windows) of the encoder's T steps, each array [B, T]; padding at the end. */
typedef struct {
  const float *times, *values;
  const float *valid;   /* 1 = a valid step, 0 = padding (the causal encoder's mask); NULL: all */
  const float *replace; /* Astromer 2: 1 = the value is replaced by the mask token */
  int B;
} lcfm_nn_series;

/* The part every encoder has: its shape, arenas, the last forward's batch and draws, the training
 * chunks' workspaces and gradient buffers, the inference workspaces. encoders.c runs the life
 * cycle on it once for both encoders (checks, allocation, the stack of blocks forward and backward
 * over the chunks, naming a non-finite layer); each encoder supplies its own layers. */
typedef struct {
  char name[48]; /* the prefix of its tensors, used in error messages */
  int blocks, T, d, ff, max_batch, id;
  lcfm_nn_arena acts, scr; /* saved activations; backward scratch */
  lcfm_nn_series x;        /* the batch of the last forward (the caller keeps its arrays alive) */
  int training;            /* of the last forward, which a recomputation repeats */
  uint64_t seed, step;
  lcfm_nn_chunk_ws *tws; /* training chunks: one scratch per thread (trn_slots) */
  int trn_slots, chunks;
  float **cgrad;           /* per chunk: gradients of the tensors at grad_lo .. grad_hi-1 */
  size_t grad_lo, grad_hi; /* the input embedding's and the blocks' tensors */
  size_t param_hi;         /* the end of all its tensors (from grad_lo) */
  lcfm_nn_arena inf;       /* inference workspaces, one per thread */
  lcfm_nn_infer_ws *iws;
  int inf_slots, inf_seqs; /* workspaces, and sequences per inference chunk */
} lcfm_nn_encoder;

/* ---------------------------------------------------------------------------------------------
 * The causal paper's encoder
 *   x0 = ScalarEmbed(value) + TimeEnc(time)              [B, T, d]
 *   x  = Conformer^blocks(x0, mask)                       [B, T, d]
 *   h  = LSTM(x) (hidden d)                               [B, T, d]
 *   z  = Linear(d -> latent)(MaskedMeanPool(h, mask))     [B, latent]
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  int d, heads, ff, blocks, kernel, latent;
  int T, max_batch;
  float dropout;
  int id; /* distinguishes the dropout draws of several models */
  /* 0 (the default): each block keeps, for backward, only its residual stream after every module,
   * q|k|v, the attention output, the softmax statistics (max and 1/sum per query and head) and
   * the output norm's statistics (8 d + 2 heads + 2 floats per step; the last block also its
   * output, which the LSTM reads); the rest (norms, activations, GLU, the attention probabilities
   * from their statistics in one pass, the depthwise convolution, the hidden products, dropout
   * masks, and a block's input as the previous block's LN(x4)) is recomputed chunk by chunk just
   * before the block's backward, in a per-thread workspace that stays in cache. 1.98 MiB per
   * light curve of the paper model (both encoders); tools/bench_nn --acts-table says what each
   * candidate costs and spares. Gradients are bit for bit those of keeping everything; the step
   * recomputes 43% of the products of a forward of the blocks (fc1 twice, pw1, q k^T, the
   * depthwise convolution) and their element-wise work. 1: keep every block activation for the
   * whole batch (3.5x the saved bytes per light curve, no recomputation). */
  int keep_block_acts;
} lcfm_causal_encoder_config;

/* d 64, 4 heads, ff 128, 4 blocks, kernel 31, latent 20, T 100, dropout 0, blocks recomputed. */
lcfm_causal_encoder_config lcfm_causal_encoder_defaults(void);

typedef struct {
  lcfm_nn_encoder base;
  lcfm_causal_encoder_config cfg;
  lcfm_conformer_config bcfg;
  lcfm_nn_lin embed;
  lcfm_conformer_params *blk;
  size_t w_ih, w_hh, b_ih, b_hh;
  lcfm_nn_lin head;
  /* in base.acts */
  float *x0;
  lcfm_conformer_acts
      *ba; /* per block; only those of kept_block_layout (encoders.c) when blocks are recomputed */
  float *lstm_out, *gates, *cell, *pooled, *z;
  /* in base.scr */
  float *lstm_scratch, *dpooled, *dh;
  float *dxl; /* [B, T, d] gradient reaching the last block's output */
} lcfm_causal_encoder;

void lcfm_causal_encoder_init(lcfm_causal_encoder *e, const lcfm_causal_encoder_config *cfg,
                              lcfm_nn_params *p, const char *prefix);
void lcfm_causal_encoder_alloc(lcfm_causal_encoder *e);
void lcfm_causal_encoder_free(lcfm_causal_encoder *e);
/* x: times, values, valid (the mask); returns z [B, latent] (inside e). */
const float *lcfm_causal_encoder_forward(lcfm_causal_encoder *e, const lcfm_nn_params *p,
                                         const lcfm_nn_series *x, int training, uint64_t seed,
                                         uint64_t step);
/* When the output is not finite, find the first layer whose output is not and abort naming it
 * ("stellar.block2 output"); otherwise return. Called by forward on its output. */
void lcfm_causal_encoder_check(const lcfm_causal_encoder *e);
/* The z of forward with training = 0, through the inference path (see above): returns z
 * [B, latent] (inside e). Nothing for backward is kept; a non-finite z reruns forward to name the
 * layer. B <= max_batch. */
const float *lcfm_causal_encoder_infer(lcfm_causal_encoder *e, const lcfm_nn_params *p,
                                       const lcfm_nn_series *x);
/* Accumulate parameter gradients for dz [B, latent]. */
void lcfm_causal_encoder_backward(lcfm_causal_encoder *e, lcfm_nn_params *p, const float *dz,
                                  int training);
/* Analytic FLOPs of one forward pass for B sequences (a multiply-add counts 2; matrix products,
 * attention products and the depthwise convolution; element-wise work is not counted). Backward
 * performs exactly two products for each forward one, so *backward = 2 x forward. */
double lcfm_causal_encoder_flops(const lcfm_causal_encoder_config *cfg, int B, double *backward);

/* ---------------------------------------------------------------------------------------------
 * Astromer 2 encoder
 *   e  = ScalarEmbed(value), replaced by the trainable mask token where replace = 1
 *   x0 = e + TimeEnc(time)
 *   x  = Transformer^blocks(x0, keymask = valid * (1 - replace))
 *   pred = Linear(d -> 1)(LN(x))                           [B, T] (the pretraining head)
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  int d, heads, ff, blocks;
  int residual;
  lcfm_nn_act act;
  int T, max_batch;
  float dropout;
  int id;
} lcfm_astromer_config;

/* d 256, 4 heads (of 64), ff 128 tanh, 6 blocks, no residual, T 200, dropout 0. */
lcfm_astromer_config lcfm_astromer_defaults(void);

typedef struct {
  lcfm_nn_encoder base;
  lcfm_astromer_config cfg;
  lcfm_transformer_config bcfg;
  lcfm_nn_lin embed, head_ln, head;
  size_t mask_token;
  lcfm_transformer_params *blk;
  /* in base.acts */
  float *x0, *keymask, *pred;
  float *head_in, *head_mean, *head_rstd; /* LN(x) [B, T, d] and its statistics */
  lcfm_transformer_acts *ba;
  /* in base.scr */
  float *dx[2]; /* [B, T, d]: the head's backward (dx[0] reaches the last block) */
} lcfm_astromer;

void lcfm_astromer_init(lcfm_astromer *e, const lcfm_astromer_config *cfg, lcfm_nn_params *p,
                        const char *prefix);
void lcfm_astromer_alloc(lcfm_astromer *e);
void lcfm_astromer_free(lcfm_astromer *e);
/* x: times, values, valid, replace; returns pred [B, T]. The embeddings of the last block are
 * e->ba[blocks - 1].out [B, T, d]. */
const float *lcfm_astromer_forward(lcfm_astromer *e, const lcfm_nn_params *p,
                                   const lcfm_nn_series *x, int training, uint64_t seed,
                                   uint64_t step);
void lcfm_astromer_check(const lcfm_astromer *e);
/* Astromer 2's per-layer embeddings through the inference path (forward with training = 0, no
 * pretraining head): out [B, blocks + 1, d], layer 0 the input embedding x0 and layer l the output
 * of block l - 1, each averaged over the steps with valid != 0 (weighted by valid; 0 for a window
 * without any). A non-finite value reruns forward to name the layer. B <= max_batch. */
void lcfm_astromer_infer_layer_means(lcfm_astromer *e, const lcfm_nn_params *p,
                                     const lcfm_nn_series *x, float *out);
void lcfm_astromer_backward(lcfm_astromer *e, lcfm_nn_params *p, const float *dpred, int training);
double lcfm_astromer_flops(const lcfm_astromer_config *cfg, int B, double *backward);

#endif
