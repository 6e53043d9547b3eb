/* lstm.c: one LSTM layer over [B, T, I] sequences with backpropagation through time, in
 * torch.nn.LSTM's layout and gate order (i, f, g, o):
 *   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh    (4H pre-activations)
 *   i, f, o = sigmoid(a_i, a_f, a_o),  g = tanh(a_g)
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
 * The input projections of all steps are one GEMM. The recurrence is sequential in time but not
 * across sequences: the batch is cut into groups of sequences, and each group walks all T steps
 * on one thread (one [Bg, H] x [H, 4H] product and the fused gates per step), so a pass over the
 * layer has one parallel region, not one per step. In backward, the weight gradients of all steps
 * are again single large GEMMs (W_hh's against the hidden states shifted by one step).
 */
#include <omp.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/nn.h"
#include "nn_internal.h"

/* Sequences per recurrence group: about four groups per thread so the dynamic schedule can even
 * out a thread slowed by other work, but at least 16 so each step's product stays efficient. */
static int group_size(int B) {
  int nt = omp_in_parallel() ? 1 : lcfm_nn_threads();
  int g = (B + 4 * nt - 1) / (4 * nt);
  return g < 16 ? 16 : g;
}

size_t lcfm_lstm_scratch_floats(int B, int T, int H) {
  /* dgates [B, T, 4H], dhrec and dcell [B, H], the hidden states shifted by one step [B, T, H] */
  return (size_t)B * T * 4 * H + 2 * (size_t)B * H + (size_t)B * T * H + 64;
}

/* rows [R, G] (row stride ldo) += x [R, K] (row stride ldx) W^T, from W [G, K] or, where given,
 * its transpose wt [K, G]. */
static void add_product(float *rows, int ldo, const float *x, int ldx, const float *w,
                        const float *wt, int R, int G, int K) {
  if (wt) lcfm_nn_gemm(0, 0, R, G, K, 1.0f, x, ldx, wt, G, 1.0f, rows, ldo);
  else lcfm_nn_gemm(0, 1, R, G, K, 1.0f, x, ldx, w, K, 1.0f, rows, ldo);
}

/* Steps 0..T-1 of sequences b0 .. b0+Bg-1; gates hold the input projections on entry. */
static void forward_group(float *out, float *gates, float *cell, const float *w_hh,
                          const float *w_hh_t, int b0, int Bg, int T, int H) {
  int G = 4 * H;
  for (int t = 0; t < T; t++) {
    if (t > 0) /* gates[b, t] += h[b, t-1] W_hh^T (rows strided by T) */
      add_product(gates + ((size_t)b0 * T + t) * G, T * G, out + ((size_t)b0 * T + t - 1) * H,
                  T * H, w_hh, w_hh_t, Bg, G, H);
    for (int b = b0; b < b0 + Bg; b++) {
      float *g = gates + ((size_t)b * T + t) * G;
      float *c = cell + ((size_t)b * T + t) * H;
      float *h = out + ((size_t)b * T + t) * H;
      const float *cprev = t > 0 ? c - H : NULL;
#pragma omp simd
      for (int j = 0; j < H; j++) {
        float ig = lcfm_nn_sigmoidf(g[j]);
        float fg = lcfm_nn_sigmoidf(g[H + j]);
        float gg = lcfm_nn_tanhf(g[2 * H + j]);
        float og = lcfm_nn_sigmoidf(g[3 * H + j]);
        float cv = ig * gg + (cprev ? fg * cprev[j] : 0.0f);
        g[j] = ig;
        g[H + j] = fg;
        g[2 * H + j] = gg;
        g[3 * H + j] = og;
        c[j] = cv;
        h[j] = og * lcfm_nn_tanhf(cv);
      }
    }
  }
}

void lcfm_lstm_forward(const lcfm_lstm_acts *a, const float *inp, const lcfm_lstm_tensors *w,
                       lcfm_lstm_dims dims) {
  int B = dims.B, T = dims.T, In = dims.In, H = dims.H, G = 4 * H;
  float *out = a->out, *gates = a->gates, *cell = a->cell;
  const float *w_ih = w->w_ih, *w_hh = w->w_hh, *b_ih = w->b_ih, *b_hh = w->b_hh;
  int N = B * T;
  /* gates = inp W_ih^T + b_ih + b_hh for every step at once. */
#pragma omp parallel for schedule(static, 16)
  for (int n = 0; n < N; n++) {
    float *g = gates + (size_t)n * G;
#pragma omp simd
    for (int j = 0; j < G; j++) g[j] = b_ih[j] + b_hh[j];
  }
  add_product(gates, G, inp, In, w_ih, w->w_ih_t, N, G, In);
  int Bg = group_size(B), groups = (B + Bg - 1) / Bg;
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < groups; k++)
    forward_group(out, gates, cell, w_hh, w->w_hh_t, k * Bg, B - k * Bg < Bg ? B - k * Bg : Bg, T,
                  H);
}

/* Backpropagation through time for sequences b0 .. b0+Bg-1: fills their rows of dgates. */
static void backward_group(float *dgates, float *dhrec, float *dcell, const float *dout,
                           const float *gates, const float *cell, const float *w_hh, int b0, int Bg,
                           int T, int H) {
  int G = 4 * H;
  memset(dcell + (size_t)b0 * H, 0, sizeof(float) * (size_t)Bg * H);
  for (int t = T - 1; t >= 0; t--) {
    int have_rec = t < T - 1;
    if (have_rec) /* dh reaching h_t through step t+1: dgates[b, t+1] W_hh */
      lcfm_nn_gemm(0, 0, Bg, H, G, 1.0f, dgates + ((size_t)b0 * T + t + 1) * G, T * G, w_hh, H,
                   0.0f, dhrec + (size_t)b0 * H, H);
    for (int b = b0; b < b0 + Bg; b++) {
      const float *g = gates + ((size_t)b * T + t) * G;
      const float *c = cell + ((size_t)b * T + t) * H;
      const float *cprev = t > 0 ? c - H : NULL;
      const float *dy = dout + ((size_t)b * T + t) * H;
      const float *dr = dhrec + (size_t)b * H;
      float *dc_next = dcell + (size_t)b * H;
      float *dg = dgates + ((size_t)b * T + t) * G;
#pragma omp simd
      for (int j = 0; j < H; j++) {
        float ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
        float tc = lcfm_nn_tanhf(c[j]);
        float dh = dy[j] + (have_rec ? dr[j] : 0.0f);
        float dc = dc_next[j] + dh * og * (1.0f - tc * tc);
        float cp = cprev ? cprev[j] : 0.0f;
        dg[j] = dc * gg * ig * (1.0f - ig);
        dg[H + j] = dc * cp * fg * (1.0f - fg);
        dg[2 * H + j] = dc * ig * (1.0f - gg * gg);
        dg[3 * H + j] = dh * tc * og * (1.0f - og);
        dc_next[j] = dc * fg;
      }
    }
  }
}

void lcfm_lstm_backward(float *dinp, const lcfm_lstm_tensors *dw, const float *dout,
                        const float *inp, const lcfm_lstm_acts *a, const lcfm_lstm_tensors *w,
                        float *scratch, lcfm_lstm_dims dims) {
  int B = dims.B, T = dims.T, In = dims.In, H = dims.H, G = 4 * H;
  const float *out = a->out, *gates = a->gates, *cell = a->cell, *w_ih = w->w_ih, *w_hh = w->w_hh;
  float *dw_ih = dw->w_ih, *dw_hh = dw->w_hh, *db_ih = dw->b_ih, *db_hh = dw->b_hh;
  int N = B * T;
  float *dgates = scratch;               /* [B, T, 4H] pre-activation gradients */
  float *dhrec = dgates + (size_t)N * G; /* [B, H] gradient reaching h_t from step t+1 */
  float *dcell = dhrec + (size_t)B * H;  /* [B, H] gradient reaching c_t from step t+1 */
  float *hprev = dcell + (size_t)B * H;  /* [B, T, H] h_{t-1}, zero at t = 0 */
  int Bg = group_size(B), groups = (B + Bg - 1) / Bg;
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < groups; k++)
    backward_group(dgates, dhrec, dcell, dout, gates, cell, w_hh, k * Bg,
                   B - k * Bg < Bg ? B - k * Bg : Bg, T, H);
  if (dinp) lcfm_nn_gemm(0, 0, N, In, G, 1.0f, dgates, G, w_ih, In, 1.0f, dinp, In);
  lcfm_nn_gemm(1, 0, G, In, N, 1.0f, dgates, G, inp, In, 1.0f, dw_ih, In);
  /* dW_hh = sum over (b, t >= 1) of dgates[b, t]^T h[b, t-1]: one product against the hidden
   * states shifted down by one step (row (b, 0) of the shifted copy is zero). */
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; b++) {
    float *dst = hprev + (size_t)b * T * H;
    memset(dst, 0, sizeof(float) * (size_t)H);
    memcpy(dst + H, out + (size_t)b * T * H, sizeof(float) * (size_t)(T - 1) * H);
  }
  lcfm_nn_gemm(1, 0, G, H, N, 1.0f, dgates, G, hprev, H, 1.0f, dw_hh, H);
  /* Both biases receive the column sums of dgates. */
  int nblocks = (G + 15) / 16;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * 16, c1 = c0 + 16 < G ? c0 + 16 : G;
    float s[16] = {0};
    for (int n = 0; n < N; n++) {
      const float *row = dgates + (size_t)n * G;
#pragma omp simd
      for (int c = c0; c < c1; c++) s[c - c0] += row[c];
    }
    for (int c = c0; c < c1; c++) {
      db_ih[c] += s[c - c0];
      db_hh[c] += s[c - c0];
    }
  }
}
