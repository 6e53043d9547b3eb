/* nn_internal.h: helpers shared by the engine's sources (not a public header). */
#ifndef LCFM_NN_INTERNAL_H
#define LCFM_NN_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lcfm/nn_models.h"

/* Where backward puts parameter gradients: the gradient of the parameter at table offset o is
 * g[o - base]. {p->grads, 0} is the table itself; a chunk of a batch may instead accumulate into a
 * private buffer covering offsets base .. base+size-1 (summed into the table afterwards). */
typedef struct {
  float *g;
  size_t base;
} lcfm_nn_gdest;

static inline lcfm_nn_gdest lcfm_nn_gdest_table(const lcfm_nn_params *p) {
  lcfm_nn_gdest d = {p->grads, 0};
  return d;
}

/* For a block whose forward kept its residual stream x1..x4, q|k|v, the attention output ao,
 * the softmax statistics att_stat and the output norm's statistics o_mean, o_rstd: everything else
 * its backward reads, recomputed from those by the calls forward makes (bit for bit the same
 * values; the feed-forward and pointwise products up to each hidden layer, the attention
 * probabilities, the depthwise convolution, norms, activations and dropout masks; not the module
 * outputs, nor the block's output). */
void lcfm_conformer_recompute(lcfm_conformer_acts *a, const lcfm_conformer_config *cfg,
                              const lcfm_conformer_params *w, const lcfm_nn_params *p,
                              const lcfm_nn_block_batch *x, lcfm_nn_scratch *s);
/* out [N, d] = the block's output LN(x4) again, from x4 and the output norm's kept statistics. */
void lcfm_conformer_output_at(float *out, const lcfm_conformer_acts *a,
                              const lcfm_conformer_config *cfg, const lcfm_conformer_params *w,
                              const lcfm_nn_params *p, int N);
/* The blocks' backward into a gradient destination (a training chunk's own buffer). */
void lcfm_conformer_backward_to(float *dinp, const lcfm_conformer_acts *a,
                                const lcfm_conformer_config *cfg, const lcfm_conformer_params *w,
                                const lcfm_nn_params *p, lcfm_nn_gdest gd, const float *dout,
                                const lcfm_nn_block_batch *x, lcfm_nn_scratch *s);
void lcfm_transformer_backward_to(float *dinp, const lcfm_transformer_acts *a,
                                  const lcfm_transformer_config *cfg,
                                  const lcfm_transformer_params *w, const lcfm_nn_params *p,
                                  lcfm_nn_gdest gd, const float *dout, const lcfm_nn_block_batch *x,
                                  lcfm_nn_scratch *s);
/* The saved activations of sequences b0.. of a block's full-batch layout (pointers moved to row
 * b0 * T of every buffer). */
lcfm_conformer_acts lcfm_conformer_acts_at(const lcfm_conformer_acts *a,
                                           const lcfm_conformer_config *cfg, int T, int b0);
lcfm_transformer_acts lcfm_transformer_acts_at(const lcfm_transformer_acts *a,
                                               const lcfm_transformer_config *cfg, int T, int b0);

/* exp(x) for float, within about 2 ulp on [-87, 88], written so that GCC vectorises loops that
 * call it (libm's expf is a scalar call without -ffast-math). Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial for e^r, then 2^n through the
 * exponent bits. Inputs are clamped, so the result is never Inf from overflow.
 * n is never converted from float to int: adding 1.5 * 2^23 rounds x log2(e) to the integer n and
 * leaves n in the low bits of the sum, which are read as an unsigned integer. So a NaN input needs
 * no special case (no undefined conversion; NaN propagates through the polynomial to the result),
 * and the loop body stays short: about 20 vector instructions per 8 values with FMA. */
static inline float lcfm_nn_expf(float x) {
  x = x < -87.0f ? -87.0f : x; /* comparisons with NaN are false: NaN passes through */
  x = x > 88.0f ? 88.0f : x;
  const float magic = 12582912.0f; /* 1.5 * 2^23; its bit pattern is 0x4B400000 */
  float shifted = x * 1.44269504088896341f + magic;
  float n = shifted - magic;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  /* 2^n with n in [-126, 127] after the clamp: (n + 127) << 23 as the float's bits. */
  uint32_t bits;
  memcpy(&bits, &shifted, sizeof bits);
  uint32_t e = (bits - 0x4B400000u + 127u) << 23;
  float s;
  memcpy(&s, &e, sizeof s);
  return p * s;
}

static inline float lcfm_nn_sigmoidf(float x) { return 1.0f / (1.0f + lcfm_nn_expf(-x)); }

/* tanh from the sigmoid: absolute error ~1e-7 near 0 (relative error larger there). */
static inline float lcfm_nn_tanhf(float x) {
  return 2.0f / (1.0f + lcfm_nn_expf(-2.0f * x)) - 1.0f;
}

/* ---- Row reductions (layer norm, softmax) ----
 * GCC ends an `omp simd reduction` loop by adding the vector's lanes one after another: a chain of
 * 16 dependent scalar adds, about 50 cycles, several times per row of 64 or 100 values, which
 * made the reductions, not the arithmetic, the cost of layer norm and softmax. These keep
 * LCFM_NN_LANES partial results (one vector) and fold them as a tree: 4 vector steps. The order
 * of the additions is fixed (lane l sums elements l, l + 16, ...), so results do not depend on
 * threads or ranks. */
#define LCFM_NN_LANES 16

static inline float lcfm_nn_fold_sum(float *acc) {
  for (int w = LCFM_NN_LANES / 2; w > 0; w /= 2)
#pragma omp simd
    for (int l = 0; l < w; l++) acc[l] += acc[l + w];
  return acc[0];
}

static inline float lcfm_nn_fold_max(float *acc) {
  for (int w = LCFM_NN_LANES / 2; w > 0; w /= 2)
#pragma omp simd
    for (int l = 0; l < w; l++) acc[l] = acc[l + w] > acc[l] ? acc[l + w] : acc[l];
  return acc[0];
}

/* sum of x[0..n) */
static inline float lcfm_nn_row_sum(const float *x, int n) {
  float acc[LCFM_NN_LANES] = {0};
  int i = 0;
  for (; i + LCFM_NN_LANES <= n; i += LCFM_NN_LANES)
#pragma omp simd
    for (int l = 0; l < LCFM_NN_LANES; l++) acc[l] += x[i + l];
  for (int l = 0; i < n; i++, l++) acc[l] += x[i];
  return lcfm_nn_fold_sum(acc);
}

/* max of x[i] over [0, n) where keep[i] != 0 (keep NULL: every i); -INFINITY if none */
static inline float lcfm_nn_row_max(const float *x, const float *keep, int n) {
  float acc[LCFM_NN_LANES];
  for (int l = 0; l < LCFM_NN_LANES; l++) acc[l] = -INFINITY;
  int i = 0;
  if (keep) {
    for (; i + LCFM_NN_LANES <= n; i += LCFM_NN_LANES)
#pragma omp simd
      for (int l = 0; l < LCFM_NN_LANES; l++) {
        float v = keep[i + l] != 0.0f ? x[i + l] : -INFINITY;
        acc[l] = v > acc[l] ? v : acc[l];
      }
    for (int l = 0; i < n; i++, l++) {
      float v = keep[i] != 0.0f ? x[i] : -INFINITY;
      acc[l] = v > acc[l] ? v : acc[l];
    }
  } else {
    for (; i + LCFM_NN_LANES <= n; i += LCFM_NN_LANES)
#pragma omp simd
      for (int l = 0; l < LCFM_NN_LANES; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    for (int l = 0; i < n; i++, l++) acc[l] = x[i] > acc[l] ? x[i] : acc[l];
  }
  return lcfm_nn_fold_max(acc);
}

/* x[i] = exp(x[i] - m) where keep[i] != 0, else exactly 0 (keep NULL: every i); returns their sum */
static inline float lcfm_nn_row_exp_sum(float *x, float m, const float *keep, int n) {
  float acc[LCFM_NN_LANES] = {0};
  int i = 0;
  if (keep) {
    /* a select, not a product with keep: exactly 0 on a masked key whatever its score */
    for (; i + LCFM_NN_LANES <= n; i += LCFM_NN_LANES)
#pragma omp simd
      for (int l = 0; l < LCFM_NN_LANES; l++) {
        float e = keep[i + l] != 0.0f ? lcfm_nn_expf(x[i + l] - m) : 0.0f;
        x[i + l] = e;
        acc[l] += e;
      }
    for (int l = 0; i < n; i++, l++) {
      float e = keep[i] != 0.0f ? lcfm_nn_expf(x[i] - m) : 0.0f;
      x[i] = e;
      acc[l] += e;
    }
  } else {
    for (; i + LCFM_NN_LANES <= n; i += LCFM_NN_LANES)
#pragma omp simd
      for (int l = 0; l < LCFM_NN_LANES; l++) {
        float e = lcfm_nn_expf(x[i + l] - m);
        x[i + l] = e;
        acc[l] += e;
      }
    for (int l = 0; i < n; i++, l++) {
      float e = lcfm_nn_expf(x[i] - m);
      x[i] = e;
      acc[l] += e;
    }
  }
  return lcfm_nn_fold_sum(acc);
}

/* sum of a[i] b[i] over [0, n) */
static inline float lcfm_nn_row_dot(const float *a, const float *b, int n) {
  float acc[LCFM_NN_LANES] = {0};
  int i = 0;
  for (; i + LCFM_NN_LANES <= n; i += LCFM_NN_LANES)
#pragma omp simd
    for (int l = 0; l < LCFM_NN_LANES; l++) acc[l] += a[i + l] * b[i + l];
  for (int l = 0; i < n; i++, l++) acc[l] += a[i] * b[i];
  return lcfm_nn_fold_sum(acc);
}

/* sum of (x[i] - m)^2 over [0, n) */
static inline float lcfm_nn_row_sum_sq_dev(const float *x, float m, int n) {
  float acc[LCFM_NN_LANES] = {0};
  int i = 0;
  for (; i + LCFM_NN_LANES <= n; i += LCFM_NN_LANES)
#pragma omp simd
    for (int l = 0; l < LCFM_NN_LANES; l++) acc[l] += (x[i + l] - m) * (x[i + l] - m);
  for (int l = 0; i < n; i++, l++) acc[l] += (x[i] - m) * (x[i] - m);
  return lcfm_nn_fold_sum(acc);
}

#endif
