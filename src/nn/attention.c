/* attention.c: the multi-head self-attention core with a key mask. One (batch, head) pair is one
 * OpenMP work item; its products are small single-threaded GEMMs on strided views of qkv.
 *
 *   S = Q K^T / sqrt(D), S[i, j] = -inf where keymask[j] == 0, P = softmax_j(S), O = P V.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/nn.h"
#include "nn_internal.h"

size_t lcfm_attention_scratch_floats(int T) {
  return (size_t)lcfm_nn_threads() * (size_t)T * (size_t)T + 64;
}

/* Masked softmax of one row of scores in place. keep[j] == 0 gives probability exactly 0; a row
 * whose keys are all masked becomes 0 and the function returns 0 (1 otherwise). Every loop is
 * branch-free so that it vectorises (the max and the sum as lane reductions, nn_internal.h; exp
 * through lcfm_nn_expf).
 * stat (may be NULL) receives the row's max and 1/sum, from which softmax_row_from_stat
 * recomputes the same probabilities in one pass. */
static int softmax_row(float *row, float *stat, const float *keep, int T) {
  float mx = lcfm_nn_row_max(row, keep, T);
  if (mx == -INFINITY) { /* every key masked: the row attends to nothing */
    memset(row, 0, sizeof(float) * (size_t)T);
    if (stat) stat[0] = -INFINITY, stat[1] = 0.0f;
    return 0;
  }
  float inv = 1.0f / lcfm_nn_row_exp_sum(row, mx, keep, T);
#pragma omp simd
  for (int j = 0; j < T; j++) row[j] *= inv;
  if (stat) stat[0] = mx, stat[1] = inv;
  return 1;
}

/* softmax_row's probabilities again from its saved max and 1/sum: the same exp and the same
 * product, element by element, so the same bits, in one pass instead of three. */
static void softmax_row_from_stat(float *row, const float *stat, const float *keep, int T) {
  float mx = stat[0], inv = stat[1];
  if (mx == -INFINITY) {
    memset(row, 0, sizeof(float) * (size_t)T);
    return;
  }
  if (keep) {
#pragma omp simd
    for (int j = 0; j < T; j++) {
      float e = keep[j] != 0.0f ? lcfm_nn_expf(row[j] - mx) : 0.0f;
      row[j] = e * inv;
    }
  } else {
#pragma omp simd
    for (int j = 0; j < T; j++) {
      float e = lcfm_nn_expf(row[j] - mx);
      row[j] = e * inv;
    }
  }
}

/* The products with a transposed right operand (the scores q k^T and the backward's dO v^T) are
 * made on a transposed copy of that operand, [D, T] on the stack: a plain product, which libxsmm
 * runs, where the transposed one went to OpenBLAS (1.17 has no JIT kernel for it), 7.7% of the
 * paper model's step, a third of it packing. The copy is 1/T of the product's work. Heads larger
 * than the buffer keep the transposed product. The choice is made here, on T x D alone: inside
 * lcfm_nn_gemm it would depend on the panel split, hence on the batch size, and an embedding
 * would then depend on which objects share its batch (test train_fields). */
enum { HEAD_COPY_MAX = 16384 }; /* floats: 64 KiB of stack */

/* The product c [T, T] = scale a b^T of strided views a, b [T, D] (row stride
 * ld_a, ld_b), through the transposed copy of b when it fits. */
static void product_with_transposed(float *c, const float *a, int ld_a, const float *b, int ld_b,
                                    int T, int D, float scale) {
  if ((size_t)T * D > HEAD_COPY_MAX) {
    lcfm_nn_gemm(0, 1, T, T, D, scale, a, ld_a, b, ld_b, 0.0f, c, T);
    return;
  }
  float bt[HEAD_COPY_MAX];
  lcfm_nn_transpose(bt, T, b, ld_b, T, D);
  if (scale != 1.0f) {
#pragma omp simd
    for (int i = 0; i < T * D; i++) bt[i] *= scale;
  }
  lcfm_nn_gemm(0, 0, T, T, D, 1.0f, a, ld_a, bt, T, 0.0f, c, T);
}

/* One (sequence, head) pair: p [T, T] = softmax(q k^T / sqrt(D)), o [T, D] (row stride ldo) = p v.
 * q, k, v are strided views (row stride ld) of the packed qkv; stat (row stride ldstat) receives
 * each query row's softmax statistics when not NULL. */
static void attention_head_forward(float *o, int ldo, float *p, float *stat, int ldstat,
                                   const float *q, const float *k, const float *v, int ld,
                                   const float *keep, int T, int D, float scale) {
  product_with_transposed(p, q, ld, k, ld, T, D, scale);
  int any = 0;
  for (int i = 0; i < T; i++)
    any |= softmax_row(p + (size_t)i * T, stat ? stat + (size_t)i * ldstat : NULL, keep, T);
  if (any) {
    lcfm_nn_gemm(0, 0, T, D, T, 1.0f, p, T, v, ld, 0.0f, o, ldo);
  } else {
    for (int i = 0; i < T; i++) memset(o + (size_t)i * ldo, 0, sizeof(float) * (size_t)D);
  }
}

void lcfm_attention_forward(float *out, float *att, const float *qkv, const float *keymask, int B,
                            int T, int C, int H) {
  lcfm_attention_forward_stats(out, att, NULL, qkv, keymask, B, T, C, H);
}

void lcfm_attention_forward_stats(float *out, float *att, float *stats, const float *qkv,
                                  const float *keymask, int B, int T, int C, int H) {
  LCFM_CHECK(C % H == 0, "nn: attention width %d is not a multiple of %d heads", C, H);
  int D = C / H, C3 = 3 * C;
  float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for schedule(dynamic, 1) num_threads(lcfm_nn_threads())
  for (int bh = 0; bh < B * H; bh++) {
    int b = bh / H, h = bh % H;
    const float *q = qkv + (size_t)b * T * C3 + (size_t)h * D;
    float *stat = stats ? stats + (size_t)b * T * 2 * H + 2 * h : NULL;
    attention_head_forward(out + (size_t)b * T * C + (size_t)h * D, C, att + (size_t)bh * T * T,
                           stat, 2 * H, q, q + C, q + 2 * C, C3,
                           keymask ? keymask + (size_t)b * T : NULL, T, D, scale);
  }
}

void lcfm_attention_probs(float *att, const float *stats, const float *qkv, const float *keymask,
                          int B, int T, int C, int H) {
  int D = C / H, C3 = 3 * C;
  float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for schedule(dynamic, 1) num_threads(lcfm_nn_threads())
  for (int bh = 0; bh < B * H; bh++) {
    int b = bh / H, h = bh % H;
    const float *q = qkv + (size_t)b * T * C3 + (size_t)h * D,
                *keep = keymask ? keymask + (size_t)b * T : NULL;
    const float *stat = stats + (size_t)b * T * 2 * H + 2 * h;
    float *p = att + (size_t)bh * T * T;
    /* the scores, as forward made them */
    product_with_transposed(p, q, C3, q + C, C3, T, D, scale);
    for (int i = 0; i < T; i++)
      softmax_row_from_stat(p + (size_t)i * T, stat + (size_t)i * 2 * H, keep, T);
  }
}

void lcfm_attention_infer(float *out, float *scratch, const float *qkv, const float *keymask, int B,
                          int T, int C, int H) {
  LCFM_CHECK(C % H == 0, "nn: attention width %d is not a multiple of %d heads", C, H);
  int D = C / H, C3 = 3 * C;
  float scale = 1.0f / sqrtf((float)D);
  for (int bh = 0; bh < B * H; bh++) {
    int b = bh / H, h = bh % H;
    const float *q = qkv + (size_t)b * T * C3 + (size_t)h * D;
    attention_head_forward(out + (size_t)b * T * C + (size_t)h * D, C, scratch, NULL, 0, q, q + C,
                           q + 2 * C, C3, keymask ? keymask + (size_t)b * T : NULL, T, D, scale);
  }
}

void lcfm_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                             float *scratch, int B, int T, int C, int H) {
  int D = C / H, C3 = 3 * C;
  float scale = 1.0f / sqrtf((float)D);
  int nthreads = lcfm_nn_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
  for (int bh = 0; bh < B * H; bh++) {
    int b = bh / H, h = bh % H;
    const float *q = qkv + (size_t)b * T * C3 + (size_t)h * D;
    const float *k = q + C, *v = q + 2 * C;
    float *dq = dqkv + (size_t)b * T * C3 + (size_t)h * D;
    float *dk = dq + C, *dv = dq + 2 * C;
    const float *p = att + (size_t)bh * T * T;
    const float *dO = dout + (size_t)b * T * C + (size_t)h * D;
    float *dp = scratch + (size_t)omp_get_thread_num() * T * T;
    /* dV += P^T dO ; dP = dO V^T */
    lcfm_nn_gemm(1, 0, T, D, T, 1.0f, p, T, dO, C, 1.0f, dv, C3);
    product_with_transposed(dp, dO, C, v, C3, T, D, 1.0f);
    /* dS = P * (dP - sum_j dP P) * scale (masked entries have P = 0, so dS = 0 there). */
    for (int i = 0; i < T; i++) {
      const float *pr = p + (size_t)i * T;
      float *dr = dp + (size_t)i * T;
      float s = lcfm_nn_row_dot(pr, dr, T);
#pragma omp simd
      for (int j = 0; j < T; j++) dr[j] = pr[j] * (dr[j] - s) * scale;
    }
    /* dQ += dS K ; dK += dS^T Q */
    lcfm_nn_gemm(0, 0, T, D, T, 1.0f, dp, T, k, C3, 1.0f, dq, C3);
    lcfm_nn_gemm(1, 0, T, D, T, 1.0f, dp, T, q, C3, 1.0f, dk, C3);
  }
}
