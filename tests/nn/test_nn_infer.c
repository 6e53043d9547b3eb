/* test_nn_infer.c: the inference paths against the training forward pass (training = 0).
 *
 * lcfm_causal_encoder_infer must give forward's latents, and lcfm_astromer_infer_layer_means the
 * valid-weighted time means of forward's x0 and block outputs, for batches that are and are not
 * multiples of the inference chunk, with padded and fully padded sequences, hidden (replaced)
 * tokens, with and without residual connections, and the same values with 1 and 2 threads:
 *   max |infer - forward| <= 2e-6 max(1, max |forward|)
 * (the chunking changes the shapes of the matrix products, hence rounding, never more). */
#include <math.h>
#include <mpi.h>
#include <string.h>

#include "../lcfm_test.h"
#include "nn_fd.h"
#include "lcfm/error.h"
#include "lcfm/nn_models.h"
#include "lcfm/rng.h"

#define TOL 2e-6

/* max |a - b| / max(1, max |b|) */
static double rel_diff(const float *a, const float *b, size_t n) {
  double worst = 0, scale = 1;
  for (size_t i = 0; i < n; i++) {
    worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    scale = fmax(scale, fabs((double)b[i]));
  }
  return worst / scale;
}

/* ---------------- causal encoder ---------------- */

static void test_causal(void) {
  lcfm_causal_encoder_config cfg = fd_small_causal_config(0);
  lcfm_nn_params p;
  lcfm_causal_encoder e;
  fd_causal_encoder_make(&e, &p, &cfg, 21); /* with 2 threads: two inference workspaces */
  int B = cfg.max_batch, T = cfg.T, L = cfg.latent;
  size_t n = (size_t)B * T;
  float *times = fd_buffer(n), *values = fd_buffer(n), *mask = fd_buffer(n);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      int length = b == 7 ? 0 : T - b % 5; /* padding at the end; sequence 7 all padding */
      times[i] = 0.9f * (float)t + 0.05f * (float)b;
      values[i] = (float)(2.0 * lcfm_rng_uniform(31, 1, i) - 1.0);
      mask[i] = t < length ? 1.0f : 0.0f;
    }
  float *ref = fd_buffer((size_t)B * L), *z1 = fd_buffer((size_t)B * L);
  int sizes[3] = {21, 16, 5}; /* not a multiple of the chunk, a multiple, below one chunk */
  for (int k = 0; k < 3; k++) {
    int nb = sizes[k];
    size_t nz = (size_t)nb * L;
    lcfm_nn_series x = {times, values, mask, NULL, nb};
    memcpy(ref, lcfm_causal_encoder_forward(&e, &p, &x, 0, 0, 0), nz * sizeof(float));
    lcfm_nn_set_threads(1);
    memcpy(z1, lcfm_causal_encoder_infer(&e, &p, &x), nz * sizeof(float));
    lcfm_nn_set_threads(2);
    const float *z2 = lcfm_causal_encoder_infer(&e, &p, &x);
    double d1 = rel_diff(z1, ref, nz), d2 = rel_diff(z2, ref, nz), d12 = rel_diff(z2, z1, nz);
    printf("causal B=%d: infer vs forward %.2g (1 thread), %.2g (2 threads); 1 vs 2 threads %.2g\n",
           nb, d1, d2, d12);
    EXPECT(d1 <= TOL && d2 <= TOL, "causal B=%d: inference differs from forward (%g, %g)", nb, d1,
           d2);
    EXPECT(d12 <= TOL, "causal B=%d: inference depends on the thread count (%g)", nb, d12);
  }
  free(times), free(values), free(mask), free(ref), free(z1);
  lcfm_causal_encoder_free(&e);
  lcfm_nn_params_free(&p);
}

/* ---------------- Astromer 2 ---------------- */

/* The layer means of forward's activations, computed here independently in double. */
static void reference_means(const lcfm_astromer *e, const float *valid, int B, float *out) {
  const lcfm_astromer_config *c = &e->cfg;
  int T = c->T, d = c->d, layers = c->blocks + 1;
  for (int l = 0; l < layers; l++) {
    const float *x = l == 0 ? e->x0 : e->ba[l - 1].out;
    for (int b = 0; b < B; b++)
      for (int j = 0; j < d; j++) {
        double s = 0, n = 0;
        for (int t = 0; t < T; t++) {
          double v = valid[(size_t)b * T + t];
          s += v * x[((size_t)b * T + t) * d + j];
          n += v;
        }
        out[((size_t)b * layers + l) * d + j] = n > 0 ? (float)(s / n) : 0.0f;
      }
  }
}

static void test_astromer(int residual) {
  lcfm_astromer_config cfg =
      fd_small_astromer_config(residual, residual ? LCFM_ACT_GELU : LCFM_ACT_TANH, 11);
  lcfm_nn_params p;
  lcfm_astromer e;
  fd_astromer_make(&e, &p, &cfg, 22);
  int B = cfg.max_batch, T = cfg.T, layers = cfg.blocks + 1;
  size_t n = (size_t)B * T, nout = (size_t)B * layers * cfg.d;
  float *times = fd_buffer(n), *values = fd_buffer(n), *valid = fd_buffer(n),
        *replace = fd_buffer(n);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      int length = b == 4 ? 0 : T - b % 4;
      times[i] = 0.37f * (float)t + 0.1f * (float)b;
      values[i] = (float)(lcfm_rng_uniform(32, 1, i) - 0.5);
      valid[i] = t < length ? 1.0f : 0.0f;
      replace[i] = t < length && lcfm_rng_uniform(32, 2, i) < 0.3 ? 1.0f : 0.0f;
    }
  float *ref = fd_buffer(nout), *m1 = fd_buffer(nout), *m2 = fd_buffer(nout);
  int sizes[2] = {11, 3};
  for (int k = 0; k < 2; k++) {
    int nb = sizes[k];
    size_t nz = (size_t)nb * layers * cfg.d;
    lcfm_nn_series x = {times, values, valid, replace, nb};
    lcfm_astromer_forward(&e, &p, &x, 0, 0, 0);
    reference_means(&e, valid, nb, ref);
    lcfm_nn_set_threads(1);
    lcfm_astromer_infer_layer_means(&e, &p, &x, m1);
    lcfm_nn_set_threads(2);
    lcfm_astromer_infer_layer_means(&e, &p, &x, m2);
    double d1 = rel_diff(m1, ref, nz), d2 = rel_diff(m2, ref, nz), d12 = rel_diff(m2, m1, nz);
    printf(
        "astromer residual=%d B=%d: infer vs forward %.2g (1 thread), %.2g (2 threads); 1 vs 2 threads %.2g\n",
        residual, nb, d1, d2, d12);
    EXPECT(d1 <= TOL && d2 <= TOL,
           "astromer residual=%d B=%d: inference differs from forward (%g, %g)", residual, nb, d1,
           d2);
    EXPECT(d12 <= TOL, "astromer B=%d: inference depends on the thread count (%g)", nb, d12);
  }
  free(times), free(values), free(valid), free(replace), free(ref), free(m1), free(m2);
  lcfm_astromer_free(&e);
  lcfm_nn_params_free(&p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_nn_set_threads(2);
  test_causal();
  test_astromer(0);
  test_astromer(1);
  return lcfm_test_finish("test_nn_infer");
}
