/* nn_internal.h: helpers shared by the engine's sources (not a public header). */
#ifndef LCFM_NN_INTERNAL_H
#define LCFM_NN_INTERNAL_H

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

#endif
