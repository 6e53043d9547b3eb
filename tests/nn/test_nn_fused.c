/* test_nn_fused.c: the fused layers of nn.h against the unfused layers they replace, at odd shapes
 * (rows N and channels C in {1, 7, 64, 100, 257}), 1 and 2 threads:
 *   - lcfm_residual_layernorm_forward against the residual add then lcfm_layernorm_forward, for
 *     alpha 0, 0.5 and 1, out of place and in place (xout == x);
 *   - lcfm_bias_{relu,gelu,swish,tanh}_forward against the bias add then the activation: the
 *     kept input h + b, the output, for Swish the saved sigmoid (also written over h), and the
 *     gradient the saved form gives through lcfm_swish_backward_sig against lcfm_swish_backward.
 * Agreement is to a few float roundings: |fused - reference| <= 1e-6 (1 + |reference|). */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/nn.h"

#define TOL 1e-6

static float value(size_t i, unsigned seed) {
  return (float)((i * 2654435761u + seed * 40503u) % 4001) / 1000.0f - 2.0f;
}

static float *filled(size_t n, unsigned seed) {
  float *x = lcfm_malloc((n + 16) * sizeof *x);
  for (size_t i = 0; i < n; i++) x[i] = value(i, seed);
  return x;
}

static double worst_error(const float *got, const float *ref, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - (double)ref[i]) / (1.0 + fabs((double)ref[i]));
    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
  }
  return worst;
}

static void test_residual_layernorm(int N, int C) {
  size_t n = (size_t)N * C;
  float *x = filled(n, 1), *y = filled(n, 2), *w = filled((size_t)C, 3), *b = filled((size_t)C, 4);
  float *sum = lcfm_malloc(n * sizeof *sum), *ref = lcfm_malloc(n * sizeof *ref),
        *mref = lcfm_malloc(N * sizeof(float));
  float *rref = lcfm_malloc(N * sizeof(float)), *xout = lcfm_malloc(n * sizeof *xout),
        *out = lcfm_malloc(n * sizeof *out);
  float *mean = lcfm_malloc(N * sizeof(float)), *rstd = lcfm_malloc(N * sizeof(float));
  static const float alphas[] = {0.0f, 0.5f, 1.0f};
  for (int ai = 0; ai < 3; ai++) {
    float alpha = alphas[ai];
    for (size_t i = 0; i < n; i++) sum[i] = x[i] + alpha * y[i];
    lcfm_layernorm_forward(ref, mref, rref, sum, w, b, N, C, LCFM_NN_LN_EPS);
    for (int in_place = 0; in_place < 2; in_place++) {
      if (in_place) memcpy(xout, x, n * sizeof *x);
      lcfm_residual_layernorm_forward(xout, out, mean, rstd, in_place ? xout : x, alpha, y, w, b, N,
                                      C, LCFM_NN_LN_EPS);
      double e = fmax(fmax(worst_error(xout, sum, n), worst_error(out, ref, n)),
                      fmax(worst_error(mean, mref, (size_t)N), worst_error(rstd, rref, (size_t)N)));
      EXPECT(e <= TOL, "residual layer norm N %d C %d alpha %g%s: error %.3g", N, C, (double)alpha,
             in_place ? " in place" : "", e);
    }
  }
  free(x), free(y), free(w), free(b), free(sum), free(ref), free(mref), free(rref), free(xout),
      free(out), free(mean), free(rstd);
}

typedef enum { RELU, GELU, SWISH, TANH } act_kind;
static const char *const act_names[] = {"relu", "gelu", "swish", "tanh"};

static void reference_act(act_kind k, float *out, float *sig, const float *h, size_t n) {
  switch (k) {
  case RELU: lcfm_relu_forward(out, h, n); break;
  case GELU: lcfm_gelu_forward(out, h, n); break;
  case SWISH: lcfm_swish_forward_sig(out, sig, h, n); break;
  case TANH: lcfm_tanh_forward(out, h, n); break;
  }
}

static void fused_act(act_kind k, float *out, float *sig, float *h, const float *b, int N, int C) {
  switch (k) {
  case RELU: lcfm_bias_relu_forward(out, h, b, N, C); break;
  case GELU: lcfm_bias_gelu_forward(out, h, b, N, C); break;
  case SWISH: lcfm_bias_swish_forward_sig(out, sig, h, b, N, C); break;
  case TANH: lcfm_bias_tanh_forward(out, h, b, N, C); break;
  }
}

static void test_bias_act(act_kind k, int N, int C) {
  size_t n = (size_t)N * C;
  float *h0 = filled(n, 5), *b = filled((size_t)C, 6), *dout = filled(n, 7);
  float *href = lcfm_malloc(n * sizeof(float)), *oref = lcfm_malloc(n * sizeof(float)),
        *sref = lcfm_malloc(n * sizeof(float));
  float *h = lcfm_malloc(n * sizeof(float)), *out = lcfm_malloc(n * sizeof(float)),
        *sig = lcfm_malloc(n * sizeof(float));
  for (int r = 0; r < N; r++)
    for (int c = 0; c < C; c++) href[(size_t)r * C + c] = h0[(size_t)r * C + c] + b[c];
  reference_act(k, oref, sref, href, n);
  memcpy(h, h0, n * sizeof(float));
  fused_act(k, out, sig, h, b, N, C);
  double e = fmax(worst_error(h, href, n), worst_error(out, oref, n));
  if (k == SWISH) e = fmax(e, worst_error(sig, sref, n));
  EXPECT(e <= TOL, "bias + %s N %d C %d: error %.3g", act_names[k], N, C, e);
  if (k == SWISH) {
    /* the sigmoid written over h (as the blocks save it), and the gradient of the saved form */
    memcpy(h, h0, n * sizeof(float));
    lcfm_bias_swish_forward_sig(out, h, h, b, N, C);
    float *dsaved = lcfm_calloc(n, sizeof(float)), *dref = lcfm_calloc(n, sizeof(float));
    lcfm_swish_backward_sig(dsaved, dout, out, h, n);
    lcfm_swish_backward(dref, dout, href, n);
    double es = fmax(worst_error(h, sref, n), worst_error(dsaved, dref, n));
    EXPECT(es <= 1e-5, "bias + swish N %d C %d with the sigmoid over h: error %.3g", N, C, es);
    free(dsaved), free(dref);
  }
  free(h0), free(b), free(dout), free(href), free(oref), free(sref), free(h), free(out), free(sig);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  static const int sizes[] = {1, 7, 64, 100, 257};
  int cases = 0;
  for (int threads = 1; threads <= 2; threads++) {
    lcfm_nn_set_threads(threads);
    for (int ni = 0; ni < 5; ni++)
      for (int ci = 0; ci < 5; ci++) {
        test_residual_layernorm(sizes[ni], sizes[ci]);
        for (int k = RELU; k <= TANH; k++) test_bias_act((act_kind)k, sizes[ni], sizes[ci]);
        cases += 5;
      }
  }
  printf("test_nn_fused: %d cases\n", cases);
  return lcfm_test_finish("test_nn_fused");
}
