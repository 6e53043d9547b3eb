/* nn.h: the neural-network engine: layers as forward/backward pairs, losses, Adam, and the flat
 * parameter buffers every model is built on.
 *
 * Overview
 * --------
 * Every layer is a pair of plain C functions in the style of llm.c's train_gpt2.c:
 *
 *   lcfm_<layer>_forward (out, [saved...], inp, weights..., sizes)
 *   lcfm_<layer>_backward(dinp, dweights..., dout, saved/inputs..., sizes)
 *
 * Outputs come first, shapes are given in the comment above each function (row-major, the last
 * index fastest), and whatever backward needs from forward is an explicit buffer the caller owns.
 * Backward ACCUMULATES into dinp and every dweight with +=; callers zero gradients once per step
 * (lcfm_nn_params_zero_grad) and zero activation-gradient scratch before a layer writes into it.
 * A NULL dinp means "input gradient not wanted" wherever that is documented.
 *
 * Sequences are [B, T, C] (batch, time, channel); N = B*T when a layer treats every time step as a
 * row. Masks are float arrays of 0 and 1, [B, T]: mask 1 = a valid token that may be attended to
 * and is counted by pooling and losses; 0 = padding or a token hidden from attention.
 *
 * Conventions (these match tools/reference/nn_reference.py, the PyTorch reference, exactly):
 *   linear          y = x W^T + b, W is [OC, C] (torch.nn.Linear layout), b may be NULL.
 *   layer norm      biased variance, eps given by the caller (LCFM_NN_LN_EPS = 1e-5, PyTorch's).
 *   GELU            exact erf form 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.GELU() default).
 *   Swish           x * sigmoid(x) (torch.nn.SiLU).
 *   GLU             over the last axis: in [N, 2C] -> a * sigmoid(b), a = in[:, :C], b = in[:, C:].
 *   attention       qkv [B, T, 3C] holds q | k | v; head h uses columns h*D .. h*D+D-1 of each
 *                   (D = C / H); scores q.k / sqrt(D); keys with mask 0 get probability exactly 0;
 *                   a query whose keys are all masked outputs 0.
 *   depthwise conv  cross-correlation, odd kernel K, zero "same" padding (K-1)/2; weight stored
 *                   [K, C] (the TRANSPOSE of torch's Conv1d(C, C, K, groups=C).weight [C, 1, K]).
 *   LSTM            torch.nn.LSTM(batch_first) single layer, gate order (i, f, g, o), weights
 *                   W_ih [4H, I], W_hh [4H, H], two biases b_ih, b_hh [4H]; h_0 = c_0 = 0.
 *                   Padding must sit at the end of a sequence (it then never reaches valid steps).
 *   time encoding   Astromer: w_j = 1000^(-2j/d), j < d/2; out[..., j] = sin(t w_j),
 *                   out[..., d/2 + j] = cos(t w_j) (sines first, then cosines).
 *   dropout         keep-probability 1-p, kept values scaled by 1/(1-p); the decision for element i
 *                   of call "counter" is a 16-bit uniform u (keep when u >= round(p 65536)) from
 *                   Philox keyed by (seed + 0x9E3779B97F4A7C15 (counter + 1), LCFM_STREAM_NN_DROPOUT,
 *                   i / 8): 8 decisions per Philox call.
 *
 * Memory: a model registers its tensors (name, shape) in an lcfm_nn_params table, which then
 * allocates parameters, gradients and both Adam moments as ONE buffer each (64-byte aligned views,
 * so one MPI_Allreduce covers every gradient and a checkpoint can name every tensor). Activations
 * come from an lcfm_nn_arena sized once for the largest batch. Nothing here allocates in a step.
 *
 * Threads: ONE pool. Loops use OpenMP over batch, heads and rows; matrix products call the GEMM
 * library single-threaded (LCFM_GEMM at configure time: libxsmm's JIT kernels by default, OpenBLAS
 * where they do not apply; or OpenBLAS, BLIS or oneDNN alone: gemm.c), and lcfm_nn_gemm splits a
 * large product into panels over the OpenMP threads. Call lcfm_nn_set_threads(n) once per process:
 * OpenMP gets n threads and the GEMM libraries are set explicitly to 1 (openblas_set_num_threads),
 * so OpenMP workers and a library's own threads never compete for the cores (ranks x n should
 * equal the cores per node).
 */
#ifndef LCFM_NN_H
#define LCFM_NN_H

#include <stddef.h>
#include <stdint.h>

#include "lcfm/rng.h"

/* RNG streams owned by the engine (see rng.h: numbers never change meaning). */
enum {
  LCFM_STREAM_NN_DROPOUT = LCFM_STREAM_USER + 100, /* dropout keep decisions */
  LCFM_STREAM_NN_INIT = LCFM_STREAM_USER + 101,    /* weight initialisation: index tensor*2^40+i */
};

#define LCFM_NN_LN_EPS 1e-5f
#define LCFM_NN_NAME_MAX 64
#define LCFM_NN_MAX_DIMS 4

/* ---------------------------------------------------------------------------------------------
 * Threads and BLAS
 * ------------------------------------------------------------------------------------------- */

/* Use n OpenMP threads (n <= 0: OpenMP's default) and single-threaded GEMM libraries. */
void lcfm_nn_set_threads(int n);
int lcfm_nn_threads(void);
/* Matrix product on row-major arrays: C = alpha op(A) op(B) + beta C, op = transpose if ta/tb;
 * beta 0 never reads C. Outside a parallel region a large product is split into row or column
 * panels over the threads. */
void lcfm_nn_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc);
/* out [cols, rows] (row stride ldo) = in^T, in [rows, cols] (row stride ldi), on the calling
 * thread: libxsmm's JIT transposition where it is the GEMM library, else a loop. */
void lcfm_nn_transpose(float *out, int ldo, const float *in, int ldi, int rows, int cols);

/* ---------------------------------------------------------------------------------------------
 * Parameter table: one allocation for parameters, gradients and each Adam moment.
 * ------------------------------------------------------------------------------------------- */
/* How lcfm_nn_params_init_default fills a tensor. */
typedef enum {
  LCFM_INIT_ZERO = 0, /* biases */
  LCFM_INIT_ONE,      /* layer-norm gains */
  LCFM_INIT_FANIN,    /* uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = product of dims 1.. */
  LCFM_INIT_NORMAL,   /* N(0, 0.02^2): embeddings, mask token */
} lcfm_nn_init;

typedef struct {
  char name[LCFM_NN_NAME_MAX]; /* e.g. "stellar.block0.mhsa.qkv.w" */
  lcfm_nn_init init;
  int ndim;
  int64_t shape[LCFM_NN_MAX_DIMS];
  size_t offset; /* in floats, into params / grads / m / v (a multiple of 16) */
  size_t numel;
} lcfm_nn_tensor;

typedef struct {
  lcfm_nn_tensor *tensors;
  int count, capacity;
  size_t total;                  /* floats in each buffer, padding included */
  float *params, *grads, *m, *v; /* NULL until lcfm_nn_params_alloc */
  /* Each 2-D tensor [r, c] of params again, transposed ([c, r]) at the same offset, so that the
   * forward products with a weight are plain row-major products (libxsmm has kernels for those,
   * not for a transposed operand: tools/bench_gemm). A cache of params, refreshed by
   * lcfm_nn_params_transpose, which the encoders call on entering a forward pass. */
  float *params_t;
} lcfm_nn_params;

void lcfm_nn_params_init(lcfm_nn_params *p);
/* Register a tensor; returns its offset (the "view": params + offset, grads + offset, ...).
 * Shape dims are given as ndim values (1..4). Names must be unique. Not after alloc. */
size_t lcfm_nn_params_add(lcfm_nn_params *p, const char *name, lcfm_nn_init init, int ndim,
                          const int64_t *shape);
/* Convenience for 1-D and 2-D tensors (d1 = 0: 1-D). The name is printf-formatted. */
size_t lcfm_nn_params_add2(lcfm_nn_params *p, lcfm_nn_init init, int64_t d0, int64_t d1,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Allocate the four buffers (zeroed). */
void lcfm_nn_params_alloc(lcfm_nn_params *p);
void lcfm_nn_params_free(lcfm_nn_params *p);
/* Refreshes params_t for the 2-D tensors whose offsets lie in [lo, hi) (a cache: p is const). Call
 * it after changing params and before a forward pass that reads params_t. */
void lcfm_nn_params_transpose(const lcfm_nn_params *p, size_t lo, size_t hi);
/* Index of the tensor called name, or -1. */
int lcfm_nn_params_find(const lcfm_nn_params *p, const char *name);
void lcfm_nn_params_zero_grad(lcfm_nn_params *p);
/* Fill every tensor as its lcfm_nn_init says; random draws come from (seed, LCFM_STREAM_NN_INIT,
 * tensor index * 2^40 + element), so the values do not depend on rank or thread count. */
void lcfm_nn_params_init_default(lcfm_nn_params *p, uint64_t seed);
size_t lcfm_nn_params_count(const lcfm_nn_params *p); /* floats excluding padding */

/* Non-finite detection: index of the first tensor of buf (params, grads, m or v) holding a NaN
 * or Inf, or -1. *element receives the index inside it. */
int lcfm_nn_first_nonfinite(const lcfm_nn_params *p, const float *buf, size_t *element);
/* Abort all ranks naming the tensor (and what: "gradient", "parameter") if buf is not finite. */
void lcfm_nn_check_finite_params(const lcfm_nn_params *p, const float *buf, const char *what);
/* Abort naming the layer if x[0..n) is not finite; returns silently otherwise. */
void lcfm_nn_check_finite(const float *x, size_t n, const char *layer);

/* ---------------------------------------------------------------------------------------------
 * Activation arena: one allocation, sized by a counting pass.
 *   lcfm_nn_arena a = {0};  layout(&a, ...);   // counting pass: lcfm_nn_arena_take returns NULL
 *   lcfm_nn_arena_alloc(&a); layout(&a, ...);  // second pass hands out the real pointers
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  float *base;
  size_t used, size; /* floats */
} lcfm_nn_arena;

float *lcfm_nn_arena_take(lcfm_nn_arena *a, size_t floats); /* 64-byte aligned */
void lcfm_nn_arena_alloc(lcfm_nn_arena *a);                 /* allocates `used`, resets used */
void lcfm_nn_arena_free(lcfm_nn_arena *a);

/* ---------------------------------------------------------------------------------------------
 * Layers
 * ------------------------------------------------------------------------------------------- */

/* out [N, OC] = inp [N, C] w^T [C, OC] + b [OC]; w [OC, C]; b may be NULL. */
void lcfm_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C,
                         int OC);
/* The same from the transposed weight wt [C, OC] (params_t): a product without a transposed
 * operand, the faster kernel (lcfm_nn_params_transpose). */
void lcfm_linear_forward_t(float *out, const float *inp, const float *wt, const float *b, int N,
                           int C, int OC);
/* dinp [N, C] += dout w; dw [OC, C] += dout^T inp; db [OC] += sum_rows dout. dinp, db may be NULL. */
void lcfm_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int N, int C, int OC);
/* The same with dinp = dout w (overwritten, not accumulated): for a scratch gradient, which then
 * needs no zeroing pass first. */
void lcfm_linear_backward_set(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, int N, int C, int OC);

/* out, inp [N, C]; mean, rstd [N] saved; w, b [C]. out may equal inp. */
void lcfm_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                            const float *b, int N, int C, float eps);
void lcfm_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, const float *mean, const float *rstd, int N, int C);
/* forward's out again from its saved mean and rstd (the same expression: the same bits). */
void lcfm_layernorm_apply(float *out, const float *inp, const float *mean, const float *rstd,
                          const float *w, const float *b, int N, int C);
/* Residual add and layer norm in one pass over the rows: xout = x + alpha y (the residual stream,
 * [N, C]; xout may equal x), out = LN(xout) with mean, rstd saved as lcfm_layernorm_forward.
 * Backward: lcfm_layernorm_backward on xout, then the add's gradient. */
void lcfm_residual_layernorm_forward(float *xout, float *out, float *mean, float *rstd,
                                     const float *x, float alpha, const float *y, const float *w,
                                     const float *b, int N, int C, float eps);

/* Element-wise activations on n values. Backward takes the forward input. out may equal inp. */
void lcfm_relu_forward(float *out, const float *inp, size_t n);
void lcfm_relu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void lcfm_gelu_forward(float *out, const float *inp, size_t n);
void lcfm_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void lcfm_swish_forward(float *out, const float *inp, size_t n);
void lcfm_swish_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* Swish that saves what its backward needs instead of recomputing it: sig[n] = sigmoid(inp)
 * (sig may equal inp: the input is then replaced by its sigmoid), out = inp * sig; backward
 * dinp += dout (sig + out (1 - sig)) needs no exp. */
void lcfm_swish_forward_sig(float *out, float *sig, const float *inp, size_t n);
void lcfm_swish_backward_sig(float *dinp, const float *dout, const float *out, const float *sig,
                             size_t n);
/* Fused bias + activation, for h [N, C] the output of a product run WITHOUT its bias (one pass
 * instead of the bias copy before the product and the activation's pass after it): h += b [C]
 * (h then holds the activation's input, as backward takes it) and out = act(h). The Swish form
 * saves as lcfm_swish_forward_sig does: sig = sigmoid(h) (sig may equal h: h is then replaced by
 * its sigmoid); its backward is lcfm_swish_backward_sig, the others' the plain activation's. */
void lcfm_bias_relu_forward(float *out, float *h, const float *b, int N, int C);
void lcfm_bias_gelu_forward(float *out, float *h, const float *b, int N, int C);
void lcfm_bias_swish_forward_sig(float *out, float *sig, float *h, const float *b, int N, int C);
void lcfm_bias_tanh_forward(float *out, float *h, const float *b, int N, int C);
/* tanh backward takes the forward OUTPUT (1 - out^2). */
void lcfm_tanh_forward(float *out, const float *inp, size_t n);
void lcfm_tanh_backward(float *dinp, const float *dout, const float *out, size_t n);

/* GLU: out [N, C] = inp[:, :C] * sigmoid(inp[:, C:]), inp [N, 2C]. */
void lcfm_glu_forward(float *out, const float *inp, int N, int C);
void lcfm_glu_backward(float *dinp, const float *dout, const float *inp, int N, int C);

/* Dropout with rate p on n values. training == 0 or p == 0: out = inp and mask untouched.
 * Otherwise mask[n] receives 0 or 1/(1-p) (saved for backward) and out = inp * mask.
 * counter identifies the call (e.g. step * 1024 + layer number) so every draw is reproducible. */
void lcfm_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                          int training, uint64_t seed, uint64_t counter);
/* The same for elements first .. first+n-1 of a call over more elements (a part of a batch): the
 * decisions are exactly those the whole call would make for them. */
void lcfm_dropout_forward_at(float *out, float *mask, const float *inp, size_t n, float p,
                             int training, uint64_t seed, uint64_t counter, uint64_t first);
/* dinp += dout * mask (or += dout when dropout was off). */
void lcfm_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n, float p,
                           int training);

/* Multi-head self-attention core (the q|k|v and output projections are lcfm_linear).
 * out [B, T, C]; att [B, H, T, T] probabilities saved; qkv [B, T, 3C]; keymask [B, T] or NULL. */
void lcfm_attention_forward(float *out, float *att, const float *qkv, const float *keymask, int B,
                            int T, int C, int H);
/* The same, also saving each query row's softmax statistics for lcfm_attention_probs:
 * stats [B, T, 2H], (max score, 1 / sum of exps) of head h at columns 2h, 2h+1 (-inf, 0 for a
 * query whose keys are all masked). T x 2H floats per sequence instead of att's T x T x H. */
void lcfm_attention_forward_stats(float *out, float *att, float *stats, const float *qkv,
                                  const float *keymask, int B, int T, int C, int H);
/* att [B, H, T, T]: forward's probabilities again, bit for bit, from qkv and the statistics of
 * lcfm_attention_forward_stats: the score product and one exp per score (no max or sum pass, and
 * not the product with V). */
void lcfm_attention_probs(float *att, const float *stats, const float *qkv, const float *keymask,
                          int B, int T, int C, int H);
/* dqkv [B, T, 3C] += ...; scratch: lcfm_attention_scratch_floats(T) floats. */
void lcfm_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                             float *scratch, int B, int T, int C, int H);
size_t lcfm_attention_scratch_floats(int T);
/* Inference form of lcfm_attention_forward: the same out, without saving probabilities; scratch
 * [T, T] floats. Runs on the calling thread only (inference parallelises over sequences). */
void lcfm_attention_infer(float *out, float *scratch, const float *qkv, const float *keymask, int B,
                          int T, int C, int H);

/* Depthwise 1-D convolution, same padding. out, inp [B, T, C]; w [K, C]; b [C] (may be NULL). */
void lcfm_dwconv_forward(float *out, const float *inp, const float *w, const float *b, int B, int T,
                         int C, int K);
void lcfm_dwconv_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int B, int T, int C, int K);

/* LSTM (torch layout, see top): the layer's four tensors, or their gradients: w_ih [4H, In],
 * w_hh [4H, H], b_ih, b_hh [4H]. */
typedef struct {
  float *w_ih, *w_hh, *b_ih, *b_hh;
  /* forward only: w_ih and w_hh transposed ([In, 4H], [H, 4H], from params_t), whose products
   * have the faster kernels; NULL: forward uses w_ih and w_hh */
  const float *w_ih_t, *w_hh_t;
} lcfm_lstm_tensors;
/* What forward writes and backward reads: out [B, T, H] (the hidden states h_t), gates [B, T, 4H]
 * (activated i, f, g, o), cell [B, T, H] (c_t). */
typedef struct {
  float *out, *gates, *cell;
} lcfm_lstm_acts;
/* B sequences of T steps of In inputs; H hidden units. */
typedef struct {
  int B, T, In, H;
} lcfm_lstm_dims;

/* a = LSTM(inp [B, T, In]) with the weights w. */
void lcfm_lstm_forward(const lcfm_lstm_acts *a, const float *inp, const lcfm_lstm_tensors *w,
                       lcfm_lstm_dims dims);
/* dinp [B, T, In] += ... (NULL: not wanted), dw += the weight gradients, given dout [B, T, H] and
 * forward's inp and a. scratch: lcfm_lstm_scratch_floats(B, T, H) floats. */
void lcfm_lstm_backward(float *dinp, const lcfm_lstm_tensors *dw, const float *dout,
                        const float *inp, const lcfm_lstm_acts *a, const lcfm_lstm_tensors *w,
                        float *scratch, lcfm_lstm_dims dims);
size_t lcfm_lstm_scratch_floats(int B, int T, int H);

/* Masked mean over time: out [B, C] = sum_t mask[b,t] inp[b,t,:] / max(1, sum_t mask[b,t]).
 * mask [B, T] or NULL (all valid). */
void lcfm_meanpool_forward(float *out, const float *inp, const float *mask, int B, int T, int C);
void lcfm_meanpool_backward(float *dinp, const float *dout, const float *mask, int B, int T, int C);

/* Sinusoidal encoding of irregular times. out [N, d] from times [N] (d even). No weights.
 * Backward gives dtimes [N] += sum_j dout * d out / d t (times are usually data, not trained). */
void lcfm_timeenc_forward(float *out, const float *times, int N, int d);
void lcfm_timeenc_backward(float *dtimes, const float *dout, const float *times, int N, int d);

/* Scalar-to-vector embedding (torch.nn.Linear(1, d)): out [N, d] = x[n] * w [d] + b [d];
 * out is ASSIGNED when accumulate == 0 and ADDED to when accumulate != 0. */
void lcfm_scalar_embed_forward(float *out, const float *x, const float *w, const float *b, int N,
                               int d, int accumulate);
/* dx [N] may be NULL. */
void lcfm_scalar_embed_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                                const float *w, int N, int d);

/* Trainable mask token: out [N, d] = replace[n] != 0 ? token [d] : inp[n, :] (out may equal inp).
 * replace [N] (1 = replace by the token). */
void lcfm_masktoken_forward(float *out, const float *inp, const float *token, const float *replace,
                            int N, int d);
void lcfm_masktoken_backward(float *dinp, float *dtoken, const float *dout, const float *replace,
                             int N, int d);

/* Small helpers used by blocks. */
void lcfm_nn_add(float *out, const float *a, const float *b, size_t n);     /* out = a + b */
void lcfm_nn_axpy(float *y, float alpha, const float *x, size_t n);         /* y += alpha x */
void lcfm_nn_scale_copy(float *out, float alpha, const float *x, size_t n); /* out = alpha x */
void lcfm_nn_zero(float *x, size_t n);
/* x[b, t, :] *= mask[b, t] for the [B*T, C] rows (mask NULL: nothing). */
void lcfm_nn_mask_rows(float *x, const float *mask, int N, int C);

/* ---------------------------------------------------------------------------------------------
 * Losses. Each returns the loss and, when dpred is not NULL, ACCUMULATES scale * dloss/dpred.
 * ------------------------------------------------------------------------------------------- */

/* Masked MSE: sum_i m_i (pred_i - y_i)^2 / max(1, sum_i m_i); mask NULL: all ones. */
double lcfm_loss_masked_mse(float *dpred, const float *pred, const float *target, const float *mask,
                            size_t n, float scale);

/* Astromer 2 weighted RMSE over B windows of T points:
 *   loss = sqrt( mean_b [ sum_t w m (pred - y)^2 / max(1e-12, sum_t m) ] )  (windows with no probed
 *   point contribute 0, as TensorFlow's divide_no_nan). w, m [B, T]. */
double lcfm_loss_astromer_rmse(float *dpred, const float *pred, const float *target,
                               const float *weight, const float *mask, int B, int T, float scale);
/* Astromer 2 weights from errors: inside each window, over points with valid[b,t] != 0,
 * w = (e - min e) / (max e - min e) with e = 1/err, plus 1e-3 (w = 1 + 1e-3 when max == min);
 * w = 0 where valid is 0. weight, err, valid [B, T]. */
void lcfm_astromer_weights(float *weight, const float *err, const float *valid, int B, int T);

/* Generalised InfoNCE (causal paper, eq. 7; supervised-contrastive form). z [N, D] is the whole
 * (possibly all-gathered) batch; u_i = z_i / |z_i|; s_ij = u_i . u_j / tau. Positives of anchor i
 * are all j != i with key[j] == key[i]; the denominator runs over every k != i:
 *   loss = -1/|A| sum_{i in A} 1/|P(i)| sum_{p in P(i)} [ s_ip - log sum_{k != i} exp(s_ik) ]
 * A = anchors with at least one positive. dz [N, D] (all rows) gets scale * dloss/dz; a rank
 * owning rows [r0, r1) of a gathered batch uses those rows of dz.
 * scratch: lcfm_loss_infonce_scratch_floats(N, D) floats. */
double lcfm_loss_infonce(float *dz, const float *z, const int64_t *key, int N, int D, float tau,
                         float *scratch, float scale);

size_t lcfm_loss_infonce_scratch_floats(int N, int D);

/* InfoNCE by rows, for a batch spread over ranks: this rank's anchors are rows [r0, r1) of the
 * gathered z [N, D]. Returns their share of the loss (the sum over ranks is lcfm_loss_infonce's
 * value) and ACCUMULATES into dz [N, D] their share of scale * dloss/dz for EVERY row (summed
 * over ranks, e.g. by MPI_Reduce_scatter, it is the whole gradient). Work and memory per rank
 * are O((r1 - r0) N D), not O(N^2 D). lcfm_loss_infonce is the case [0, N).
 * scratch: lcfm_loss_infonce_rows_scratch_floats(r1 - r0, N, D) floats. */
double lcfm_loss_infonce_rows(float *dz, const float *z, const int64_t *key, int N, int D,
                              float tau, int r0, int r1, float *scratch, float scale);
size_t lcfm_loss_infonce_rows_scratch_floats(int R, int N, int D);

/* Independence penalty between two latents a [rows, Da] and b [rows, Db] of the same light curves
 * (beyond the causal paper: its stated future work). The mean squared batch cross-correlation
 *   loss = 1/(Da Db) sum_{j,k} rho_jk^2,  rho_jk = cov(a_j, b_k) / (sd(a_j) sd(b_k))
 * over the global batch of N rows. Correlation, not covariance, so that an encoder cannot satisfy
 * it by shrinking its latent. Distributed through moments: each rank fills
 * lcfm_xcorr_moments_size(Da, Db) doubles from its own rows (sums of a, a^2, b, b^2, a b^T and the
 * row count), the caller sums them over ranks (one MPI_Allreduce), and lcfm_loss_xcorr returns the
 * loss and ACCUMULATES scale * dloss/da, dloss/db into da, db for this rank's rows (NULL: none). */
size_t lcfm_xcorr_moments_size(int Da, int Db);
void lcfm_xcorr_moments(double *moments, const float *a, const float *b, int rows, int Da, int Db);
double lcfm_loss_xcorr(float *da, float *db, const float *a, const float *b, int rows,
                       const double *moments, int Da, int Db, float scale);

/* Softmax cross-entropy: mean over rows with target >= 0 of -log softmax(logits)[target].
 * logits [N, K]; target [N] (negative = ignored). */
double lcfm_loss_softmax_xent(float *dlogits, const float *logits, const int *target, int N, int K,
                              float scale);

/* ---------------------------------------------------------------------------------------------
 * Optimiser
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  float lr, beta1, beta2, eps;
  float weight_decay; /* AdamW decoupled decay (0 = plain Adam) */
  int64_t step;       /* steps taken so far (bias correction uses step + 1) */
} lcfm_adam;

/* Global L2 norm of the gradient buffer (padding included: it stays zero). */
double lcfm_nn_grad_norm(const lcfm_nn_params *p);
/* Scale gradients so their global norm is at most max_norm; returns the norm before clipping. */
double lcfm_nn_clip_grad_norm(lcfm_nn_params *p, double max_norm);
/* One Adam/AdamW step over every parameter; increments opt->step. */
void lcfm_adam_step(lcfm_adam *opt, lcfm_nn_params *p);

#endif
