/* layers.c: the point-wise and per-row layers of the engine (linear, layer norm, activations, GLU,
 * dropout, depthwise convolution, pooling, time encoding, scalar embedding, mask token). Shapes
 * and conventions are documented in include/lcfm/nn.h. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/nn.h"
#include "nn_internal.h"

/* Rows per OpenMP chunk for cheap per-row loops. */
#define ROWS_CHUNK 16
/* Column block for deterministic column reductions (bias and gain gradients). */
#define COL_BLOCK 16

/* ----------------------------------------------------------------------------------------------
 * Helpers
 * -------------------------------------------------------------------------------------------- */

void lcfm_nn_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void lcfm_nn_axpy(float *y, float alpha, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void lcfm_nn_scale_copy(float *out, float alpha, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) out[i] = alpha * x[i];
}

void lcfm_nn_zero(float *x, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i += 4096) {
    size_t len = n - i < 4096 ? n - i : 4096;
    memset(x + i, 0, len * sizeof(float));
  }
}

void lcfm_nn_mask_rows(float *x, const float *mask, int N, int C) {
  if (!mask) return;
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    if (mask[n] != 0.0f) continue;
    memset(x + (size_t)n * C, 0, sizeof(float) * (size_t)C);
  }
}

/* acc[c] += sum over rows n of x[n, c] (deterministic: parallel over column blocks). */
static void column_sum_acc(float *acc, const float *x, int N, int C) {
  int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
    float s[COL_BLOCK] = {0};
    for (int n = 0; n < N; n++) {
      const float *row = x + (size_t)n * C;
#pragma omp simd
      for (int c = c0; c < c1; c++) s[c - c0] += row[c];
    }
    for (int c = c0; c < c1; c++) acc[c] += s[c - c0];
  }
}

/* ----------------------------------------------------------------------------------------------
 * Linear
 * -------------------------------------------------------------------------------------------- */

/* Every row of out [N, OC] set to b (the product then accumulates onto it). */
static void fill_bias_rows(float *out, const float *b, int N, int OC) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, sizeof(float) * (size_t)OC);
}

void lcfm_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C,
                         int OC) {
  if (b) fill_bias_rows(out, b, N, OC);
  lcfm_nn_gemm(0, 1, N, OC, C, 1.0f, inp, C, w, C, b ? 1.0f : 0.0f, out, OC);
}

void lcfm_linear_forward_t(float *out, const float *inp, const float *wt, const float *b, int N,
                           int C, int OC) {
  if (b) fill_bias_rows(out, b, N, OC);
  lcfm_nn_gemm(0, 0, N, OC, C, 1.0f, inp, C, wt, OC, b ? 1.0f : 0.0f, out, OC);
}

/* dinp = dinp_beta dinp + dout w, and the weight and bias gradients accumulated. */
static void linear_backward(float dinp_beta, float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int C, int OC) {
  if (dinp) lcfm_nn_gemm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, dinp_beta, dinp, C);
  if (dw) lcfm_nn_gemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
  if (db) column_sum_acc(db, dout, N, OC);
}

void lcfm_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int N, int C, int OC) {
  linear_backward(1.0f, dinp, dw, db, dout, inp, w, N, C, OC);
}

void lcfm_linear_backward_set(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, int N, int C, int OC) {
  linear_backward(0.0f, dinp, dw, db, dout, inp, w, N, C, OC);
}

/* ----------------------------------------------------------------------------------------------
 * Layer norm
 * -------------------------------------------------------------------------------------------- */

/* y = (x - m) r w + b over one row: the one expression of forward and of lcfm_layernorm_apply. */
static inline void layernorm_row_apply(float *y, const float *x, float m, float r, const float *w,
                                       const float *b, int C) {
#pragma omp simd
  for (int c = 0; c < C; c++) y[c] = (x[c] - m) * r * w[c] + b[c];
}

/* One row: y = (x - mean) rstd w + b; the statistics into *mean, *rstd. y may equal x. */
static inline void layernorm_row(float *y, float *mean, float *rstd, const float *x, const float *w,
                                 const float *b, int C, float eps) {
  float m = lcfm_nn_row_sum(x, C) / (float)C;
  float r = 1.0f / sqrtf(lcfm_nn_row_sum_sq_dev(x, m, C) / (float)C + eps);
  layernorm_row_apply(y, x, m, r, w, b, C);
  *mean = m;
  *rstd = r;
}

void lcfm_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                            const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++)
    layernorm_row(out + (size_t)n * C, mean + n, rstd + n, inp + (size_t)n * C, w, b, C, eps);
}

void lcfm_layernorm_apply(float *out, const float *inp, const float *mean, const float *rstd,
                          const float *w, const float *b, int N, int C) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++)
    layernorm_row_apply(out + (size_t)n * C, inp + (size_t)n * C, mean[n], rstd[n], w, b, C);
}

void lcfm_residual_layernorm_forward(float *xout, float *out, float *mean, float *rstd,
                                     const float *x, float alpha, const float *y, const float *w,
                                     const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    const float *xr = x + (size_t)n * C, *yr = y + (size_t)n * C;
    float *sum = xout + (size_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; c++) sum[c] = xr[c] + alpha * yr[c];
    layernorm_row(out + (size_t)n * C, mean + n, rstd + n, sum, w, b, C,
                  eps); /* the row is still in L1 */
  }
}

/* One row of the layer norm's backward: *s1 = mean of dy w, *s2 = mean of dy w xhat, with
 * xhat = (x - m) r; lane reductions (nn_internal.h). */
static inline void layernorm_backward_sums(float *s1, float *s2, const float *dy, const float *w,
                                           const float *x, float m, float r, int C) {
  float a1[LCFM_NN_LANES] = {0}, a2[LCFM_NN_LANES] = {0};
  int c = 0;
  for (; c + LCFM_NN_LANES <= C; c += LCFM_NN_LANES)
#pragma omp simd
    for (int l = 0; l < LCFM_NN_LANES; l++) {
      float dn = dy[c + l] * w[c + l];
      a1[l] += dn;
      a2[l] += dn * (x[c + l] - m) * r;
    }
  for (int l = 0; c < C; c++, l++) {
    float dn = dy[c] * w[c];
    a1[l] += dn;
    a2[l] += dn * (x[c] - m) * r;
  }
  *s1 = lcfm_nn_fold_sum(a1) / (float)C;
  *s2 = lcfm_nn_fold_sum(a2) / (float)C;
}

void lcfm_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, const float *mean, const float *rstd, int N, int C) {
  if (dinp) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
    for (int n = 0; n < N; n++) {
      const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
      float *dx = dinp + (size_t)n * C;
      float m = mean[n], r = rstd[n];
      float s1 = 0.0f, s2 = 0.0f;
      layernorm_backward_sums(&s1, &s2, dy, w, x, m, r, C);
#pragma omp simd
      for (int c = 0; c < C; c++) {
        float xn = (x[c] - m) * r;
        dx[c] += r * (dy[c] * w[c] - s1 - xn * s2);
      }
    }
  }
  int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
    float sw[COL_BLOCK] = {0}, sb[COL_BLOCK] = {0};
    for (int n = 0; n < N; n++) {
      const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
      float m = mean[n], r = rstd[n];
#pragma omp simd
      for (int c = c0; c < c1; c++) {
        sw[c - c0] += dy[c] * (x[c] - m) * r;
        sb[c - c0] += dy[c];
      }
    }
    for (int c = c0; c < c1; c++) {
      dw[c] += sw[c - c0];
      db[c] += sb[c - c0];
    }
  }
}

/* ----------------------------------------------------------------------------------------------
 * Activations
 * -------------------------------------------------------------------------------------------- */

void lcfm_relu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void lcfm_relu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

void lcfm_gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  }
}

void lcfm_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * lcfm_nn_expf(-0.5f * x * x);
    dinp[i] += dout[i] * (cdf + x * pdf);
  }
}

void lcfm_swish_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    out[i] = x * lcfm_nn_sigmoidf(x);
  }
}

void lcfm_swish_backward(float *dinp, const float *dout, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float s = lcfm_nn_sigmoidf(x);
    dinp[i] += dout[i] * (s + x * s * (1.0f - s));
  }
}

void lcfm_swish_forward_sig(float *out, float *sig, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float s = lcfm_nn_sigmoidf(x);
    sig[i] = s;
    out[i] = x * s;
  }
}

void lcfm_swish_backward_sig(float *dinp, const float *dout, const float *out, const float *sig,
                             size_t n) {
  /* d/dx x s(x) = s + x s (1 - s) = s + out (1 - s) */
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * (sig[i] + out[i] * (1.0f - sig[i]));
}

void lcfm_tanh_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) out[i] = lcfm_nn_tanhf(inp[i]);
}

void lcfm_tanh_backward(float *dinp, const float *dout, const float *out, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

/* Bias and activation in one pass over the rows (the product before them ran without its bias):
 * each row gets its bias, then the activation reads it while it is in L1. A row function writes
 * y = act(x) for one row of C values, and for Swish s = sigmoid(x) (s may equal x). */
typedef void (*row_act_fn)(float *y, float *s, const float *x, int C);

static void relu_row(float *y, float *s, const float *x, int C) {
  (void)s;
#pragma omp simd
  for (int c = 0; c < C; c++) y[c] = x[c] > 0.0f ? x[c] : 0.0f;
}

/* Scalar, as lcfm_gelu_forward: erff is a libm call and must give the same bits. */
static void gelu_row(float *y, float *s, const float *x, int C) {
  (void)s;
  for (int c = 0; c < C; c++) y[c] = 0.5f * x[c] * (1.0f + erff(x[c] * 0.70710678118654752f));
}

static void swish_sig_row(float *y, float *s, const float *x, int C) {
#pragma omp simd
  for (int c = 0; c < C; c++) {
    float v = x[c]; /* before s: s may equal x */
    float g = lcfm_nn_sigmoidf(v);
    s[c] = g;
    y[c] = v * g;
  }
}

static void tanh_row(float *y, float *s, const float *x, int C) {
  (void)s;
#pragma omp simd
  for (int c = 0; c < C; c++) y[c] = lcfm_nn_tanhf(x[c]);
}

/* h [N, C] += b, out = act(h) row by row; sig [N, C] for the Swish form, else NULL. */
static void bias_act_rows(row_act_fn act, float *out, float *sig, float *h, const float *b, int N,
                          int C) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    float *x = h + (size_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; c++) x[c] += b[c];
    act(out + (size_t)n * C, sig ? sig + (size_t)n * C : NULL, x, C);
  }
}

void lcfm_bias_relu_forward(float *out, float *h, const float *b, int N, int C) {
  bias_act_rows(relu_row, out, NULL, h, b, N, C);
}

void lcfm_bias_gelu_forward(float *out, float *h, const float *b, int N, int C) {
  bias_act_rows(gelu_row, out, NULL, h, b, N, C);
}

void lcfm_bias_swish_forward_sig(float *out, float *sig, float *h, const float *b, int N, int C) {
  bias_act_rows(swish_sig_row, out, sig, h, b, N, C);
}

void lcfm_bias_tanh_forward(float *out, float *h, const float *b, int N, int C) {
  bias_act_rows(tanh_row, out, NULL, h, b, N, C);
}

/* ----------------------------------------------------------------------------------------------
 * GLU
 * -------------------------------------------------------------------------------------------- */

void lcfm_glu_forward(float *out, const float *inp, int N, int C) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    const float *a = inp + (size_t)n * 2 * C, *g = a + C;
    float *y = out + (size_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; c++) y[c] = a[c] * lcfm_nn_sigmoidf(g[c]);
  }
}

void lcfm_glu_backward(float *dinp, const float *dout, const float *inp, int N, int C) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    const float *a = inp + (size_t)n * 2 * C, *g = a + C, *dy = dout + (size_t)n * C;
    float *da = dinp + (size_t)n * 2 * C, *dg = da + C;
#pragma omp simd
    for (int c = 0; c < C; c++) {
      float s = lcfm_nn_sigmoidf(g[c]);
      da[c] += dy[c] * s;
      dg[c] += dy[c] * a[c] * s * (1.0f - s);
    }
  }
}

/* ----------------------------------------------------------------------------------------------
 * Dropout
 * -------------------------------------------------------------------------------------------- */

void lcfm_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                          int training, uint64_t seed, uint64_t counter) {
  lcfm_dropout_forward_at(out, mask, inp, n, p, training, seed, counter, 0);
}

void lcfm_dropout_forward_at(float *out, float *mask, const float *inp, size_t n, float p,
                             int training, uint64_t seed, uint64_t counter, uint64_t first) {
  if (!training || p <= 0.0f) {
    if (out != inp) memcpy(out, inp, n * sizeof(float));
    return;
  }
  LCFM_CHECK(p < 1.0f, "nn: dropout rate %g must be below 1", (double)p);
  /* keep when the 16-bit draw u satisfies u >= threshold, i.e. with probability 1 - p. */
  uint32_t threshold = (uint32_t)lrint((double)p * 65536.0);
  float keep_scale = 1.0f / (1.0f - p);
  uint64_t key = seed + 0x9E3779B97F4A7C15ull * (counter + 1);
  /* Philox blocks of 8 decisions over the global element index first + i. */
  uint64_t blk0 = first / 8, blk1 = (first + n + 7) / 8;
  int64_t nblocks = (int64_t)(blk1 - blk0);
#pragma omp parallel for schedule(static)
  for (int64_t bi = 0; bi < nblocks; bi++) {
    uint64_t blk = blk0 + (uint64_t)bi;
    uint32_t bits[4];
    lcfm_rng_block(key, LCFM_STREAM_NN_DROPOUT, blk, bits);
    for (int j = 0; j < 8; j++) {
      uint64_t g = blk * 8 + (uint64_t)j;
      if (g < first || g >= first + n) continue;
      size_t i = (size_t)(g - first);
      uint32_t u = (bits[j / 2] >> (16 * (j % 2))) & 0xffffu;
      float m = u >= threshold ? keep_scale : 0.0f;
      mask[i] = m;
      out[i] = inp[i] * m;
    }
  }
}

void lcfm_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n, float p,
                           int training) {
  if (!training || p <= 0.0f) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i];
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}

/* ----------------------------------------------------------------------------------------------
 * Depthwise 1-D convolution (weights [K, C])
 * -------------------------------------------------------------------------------------------- */

/* Channels per register block: the running sums of one output row's 64 channels stay in registers
 * (four AVX-512 or eight AVX vectors: independent FMA chains) across all the taps instead of going
 * through memory once per tap. Wider blocks than 32 halved the backward's time (more chains in
 * flight). Each loop is compiled for a block of 64, of 32 and of any width (DW_WITH_BLOCK_WIDTH). */
#define DW_CB 64
#define DW_INLINE static inline __attribute__((always_inline))

/* Calls fn(args..., len) with len a compile-time constant where it is 64 or 32, so that the
 * channel loops unroll and their sums stay in registers. */
#define DW_WITH_BLOCK_WIDTH(len, fn, ...) \
  do { \
    if ((len) == 64) fn(__VA_ARGS__, 64); \
    else if ((len) == 32) fn(__VA_ARGS__, 32); \
    else fn(__VA_ARGS__, (len)); \
  } while (0)

/* y[c0 .. c0+len) = (bias or 0) + sum_{k in [k0, k1]} w[k, c] x[k - k0, c] for
 * len <= DW_CB channels; x points at the input row (stride C) that meets tap k0. */
DW_INLINE void dw_row(float *y, const float *x, const float *w, const float *bias, int k0, int k1,
                      int C, int c0, int len) {
  float acc[DW_CB];
#pragma omp simd
  for (int c = 0; c < len; c++) acc[c] = bias ? bias[c0 + c] : 0.0f;
  for (int k = k0; k <= k1; k++) {
    const float *xk = x + (size_t)(k - k0) * C + c0, *wk = w + (size_t)k * C + c0;
#pragma omp simd
    for (int c = 0; c < len; c++) acc[c] += wk[c] * xk[c];
  }
#pragma omp simd
  for (int c = 0; c < len; c++) y[c0 + c] = acc[c];
}

void lcfm_dwconv_forward(float *out, const float *inp, const float *w, const float *b, int B, int T,
                         int C, int K) {
  LCFM_CHECK(K % 2 == 1, "nn: depthwise convolution needs an odd kernel, got %d", K);
  int pad = (K - 1) / 2;
#pragma omp parallel for collapse(2) schedule(static)
  for (int bb = 0; bb < B; bb++) {
    for (int t = 0; t < T; t++) {
      float *y = out + ((size_t)bb * T + t) * C;
      /* taps k with 0 <= t + k - pad < T */
      int k0 = pad - t > 0 ? pad - t : 0;
      int k1 = T - 1 - t + pad < K - 1 ? T - 1 - t + pad : K - 1;
      const float *x = inp + ((size_t)bb * T + (t + k0 - pad)) * C;
      for (int c0 = 0; c0 < C; c0 += DW_CB)
        DW_WITH_BLOCK_WIDTH(C - c0 < DW_CB ? C - c0 : DW_CB, dw_row, y, x, w, b, k0, k1, C, c0);
    }
  }
}

/* dw[k, c0 .. c0+len) += sum_{b, t} dout[b, t, c] inp[b, t + k - pad, c], summed in registers. */
DW_INLINE void dw_weight_grad(float *dwk, const float *dout, const float *inp, int B, int T, int C,
                              int k, int pad, int c0, int len) {
  float acc[DW_CB] = {0};
  int t0 = pad - k > 0 ? pad - k : 0;
  int t1 = T - 1 + pad - k < T - 1 ? T - 1 + pad - k : T - 1;
  for (int bb = 0; bb < B; bb++) {
    for (int t = t0; t <= t1; t++) {
      const float *dy = dout + ((size_t)bb * T + t) * C + c0;
      const float *x = inp + ((size_t)bb * T + (t + k - pad)) * C + c0;
#pragma omp simd
      for (int c = 0; c < len; c++) acc[c] += dy[c] * x[c];
    }
  }
  for (int c = 0; c < len; c++) dwk[c0 + c] += acc[c];
}

/* dx[c0 .. c0+len) += sum over the taps k from k1 down to k0 of w[k, c] dy[k1 - k, c] (dy: the
 * earliest dout row, stride C), summed in registers. */
DW_INLINE void dw_input_grad(float *dx, const float *dy, const float *w, int k0, int k1, int C,
                             int c0, int len) {
  float acc[DW_CB];
#pragma omp simd
  for (int c = 0; c < len; c++) acc[c] = dx[c0 + c];
  for (int k = k1; k >= k0; k--) {
    const float *dyk = dy + (size_t)(k1 - k) * C + c0, *wk = w + (size_t)k * C + c0;
#pragma omp simd
    for (int c = 0; c < len; c++) acc[c] += wk[c] * dyk[c];
  }
#pragma omp simd
  for (int c = 0; c < len; c++) dx[c0 + c] = acc[c];
}

void lcfm_dwconv_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int B, int T, int C, int K) {
  int pad = (K - 1) / 2;
  if (dinp) {
    /* dinp[b, s] += sum_k w[k] dout[b, s - k + pad]: the taps k with 0 <= s - k + pad < T, walked
     * from the largest k (the earliest dout row) so the rows go forward in memory. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int bb = 0; bb < B; bb++) {
      for (int s = 0; s < T; s++) {
        float *dx = dinp + ((size_t)bb * T + s) * C;
        int k0 = s + pad - (T - 1) > 0 ? s + pad - (T - 1) : 0; /* smallest k: latest row */
        int k1 = s + pad < K - 1 ? s + pad : K - 1;             /* largest k: earliest row */
        const float *dy = dout + ((size_t)bb * T + (s - k1 + pad)) * C;
        for (int c0 = 0; c0 < C; c0 += DW_CB)
          DW_WITH_BLOCK_WIDTH(C - c0 < DW_CB ? C - c0 : DW_CB, dw_input_grad, dx, dy, w, k0, k1, C,
                              c0);
      }
    }
  }
  /* dw[k, c] += sum_{b,t} dout[b, t, c] inp[b, t + k - pad, c]: parallel over (k, channel block). */
  int cblocks = (C + DW_CB - 1) / DW_CB;
#pragma omp parallel for collapse(2) schedule(static)
  for (int k = 0; k < K; k++)
    for (int cb = 0; cb < cblocks; cb++) {
      int c0 = cb * DW_CB;
      DW_WITH_BLOCK_WIDTH(C - c0 < DW_CB ? C - c0 : DW_CB, dw_weight_grad, dw + (size_t)k * C, dout,
                          inp, B, T, C, k, pad, c0);
    }
  if (db) column_sum_acc(db, dout, B * T, C);
}

/* ----------------------------------------------------------------------------------------------
 * Masked mean pooling over time
 * -------------------------------------------------------------------------------------------- */

static float pool_weight(const float *mask, int bb, int T) {
  if (!mask) return 1.0f / (float)T;
  float s = 0.0f;
  for (int t = 0; t < T; t++) s += mask[(size_t)bb * T + t];
  return 1.0f / (s > 1.0f ? s : 1.0f);
}

void lcfm_meanpool_forward(float *out, const float *inp, const float *mask, int B, int T, int C) {
#pragma omp parallel for schedule(static)
  for (int bb = 0; bb < B; bb++) {
    float *y = out + (size_t)bb * C;
    for (int c = 0; c < C; c++) y[c] = 0.0f;
    float inv = pool_weight(mask, bb, T);
    for (int t = 0; t < T; t++) {
      float m = mask ? mask[(size_t)bb * T + t] : 1.0f;
      if (m == 0.0f) continue;
      const float *x = inp + ((size_t)bb * T + t) * C;
#pragma omp simd
      for (int c = 0; c < C; c++) y[c] += m * x[c];
    }
#pragma omp simd
    for (int c = 0; c < C; c++) y[c] *= inv;
  }
}

void lcfm_meanpool_backward(float *dinp, const float *dout, const float *mask, int B, int T,
                            int C) {
#pragma omp parallel for schedule(static)
  for (int bb = 0; bb < B; bb++) {
    float inv = pool_weight(mask, bb, T);
    const float *dy = dout + (size_t)bb * C;
    for (int t = 0; t < T; t++) {
      float m = mask ? mask[(size_t)bb * T + t] : 1.0f;
      if (m == 0.0f) continue;
      float *dx = dinp + ((size_t)bb * T + t) * C;
#pragma omp simd
      for (int c = 0; c < C; c++) dx[c] += m * inv * dy[c];
    }
  }
}

/* ----------------------------------------------------------------------------------------------
 * Sinusoidal time encoding, scalar embedding, mask token
 * -------------------------------------------------------------------------------------------- */

static double timeenc_freq(int j, int d) { return pow(1000.0, -2.0 * j / (double)d); }

void lcfm_timeenc_forward(float *out, const float *times, int N, int d) {
  LCFM_CHECK(d % 2 == 0 && d <= 8192, "nn: time encoding needs an even width up to 8192, got %d",
             d);
  int h = d / 2;
  double freq[4096];
  for (int j = 0; j < h; j++) freq[j] = timeenc_freq(j, d);
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    float *y = out + (size_t)n * d;
    double t = times[n];
    for (int j = 0; j < h; j++) {
      double a = t * freq[j];
      y[j] = (float)sin(a);
      y[h + j] = (float)cos(a);
    }
  }
}

void lcfm_timeenc_backward(float *dtimes, const float *dout, const float *times, int N, int d) {
  int h = d / 2;
  double freq[4096];
  for (int j = 0; j < h; j++) freq[j] = timeenc_freq(j, d);
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    const float *dy = dout + (size_t)n * d;
    double t = times[n], s = 0.0;
    for (int j = 0; j < h; j++) {
      double a = t * freq[j];
      s += dy[j] * freq[j] * cos(a) - dy[h + j] * freq[j] * sin(a);
    }
    dtimes[n] += (float)s;
  }
}

void lcfm_scalar_embed_forward(float *out, const float *x, const float *w, const float *b, int N,
                               int d, int accumulate) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    float *y = out + (size_t)n * d;
    float v = x[n];
    if (accumulate) {
#pragma omp simd
      for (int j = 0; j < d; j++) y[j] += v * w[j] + b[j];
    } else {
#pragma omp simd
      for (int j = 0; j < d; j++) y[j] = v * w[j] + b[j];
    }
  }
}

void lcfm_scalar_embed_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                                const float *w, int N, int d) {
  if (dx) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
    for (int n = 0; n < N; n++) {
      const float *dy = dout + (size_t)n * d;
      dx[n] += lcfm_nn_row_dot(dy, w, d);
    }
  }
  int nblocks = (d + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < d ? c0 + COL_BLOCK : d;
    float sw[COL_BLOCK] = {0}, sb[COL_BLOCK] = {0};
    for (int n = 0; n < N; n++) {
      const float *dy = dout + (size_t)n * d;
      float v = x[n];
#pragma omp simd
      for (int c = c0; c < c1; c++) {
        sw[c - c0] += dy[c] * v;
        sb[c - c0] += dy[c];
      }
    }
    for (int c = c0; c < c1; c++) {
      dw[c] += sw[c - c0];
      db[c] += sb[c - c0];
    }
  }
}

void lcfm_masktoken_forward(float *out, const float *inp, const float *token, const float *replace,
                            int N, int d) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
  for (int n = 0; n < N; n++) {
    const float *src = replace[n] != 0.0f ? token : inp + (size_t)n * d;
    float *y = out + (size_t)n * d;
    if (y != src) memcpy(y, src, sizeof(float) * (size_t)d);
  }
}

void lcfm_masktoken_backward(float *dinp, float *dtoken, const float *dout, const float *replace,
                             int N, int d) {
  if (dinp) {
#pragma omp parallel for schedule(static, ROWS_CHUNK)
    for (int n = 0; n < N; n++) {
      if (replace[n] != 0.0f) continue;
      const float *dy = dout + (size_t)n * d;
      float *dx = dinp + (size_t)n * d;
#pragma omp simd
      for (int j = 0; j < d; j++) dx[j] += dy[j];
    }
  }
  for (int n = 0; n < N; n++) {
    if (replace[n] == 0.0f) continue;
    const float *dy = dout + (size_t)n * d;
#pragma omp simd
    for (int j = 0; j < d; j++) dtoken[j] += dy[j];
  }
}
