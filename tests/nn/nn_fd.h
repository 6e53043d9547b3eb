/* nn_fd.h: central finite-difference checks for the engine's tests.
 *
 * A case supplies an objective L(x) = sum_i out_i r_i (r fixed and random, computed in double)
 * and a gradient routine that runs forward and backward with dout = r. For every listed tensor
 * the analytic gradient is compared with (L(x + eps) - L(x - eps)) / (2 eps), element by element
 * (up to max_elems elements, spread over the tensor, always including the first and last):
 *   max_i |analytic_i - fd_i| <= tol * max(max_i |fd_i|, floor)
 * Gradient buffers are pre-filled with 0.25 before the backward pass and 0.25 is subtracted
 * afterwards, which also checks that backward ACCUMULATES (+=) rather than assigns.
 */
#ifndef LCFM_NN_FD_H
#define LCFM_NN_FD_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/nn.h"
#include "lcfm/nn_models.h"
#include "lcfm/rng.h"

/* A zeroed buffer of n floats with 16 floats of slack (kernels may read a vector past the end). */
static inline float *fd_buffer(size_t n) { return lcfm_calloc(n + 16, sizeof(float)); }

/* Default initialisation, then every parameter moved by up to +-0.1 (keyed), so gains and
 * biases leave 1 and 0 and every tensor's gradient is generic. */
static inline void fd_perturb_params(lcfm_nn_params *p, uint64_t seed) {
  lcfm_nn_params_init_default(p, seed);
  for (int k = 0; k < p->count; k++) {
    lcfm_nn_tensor *t = &p->tensors[k];
    for (size_t i = 0; i < t->numel; i++)
      p->params[t->offset + i] +=
          (float)(0.2 * (lcfm_rng_uniform(seed, 9, (uint64_t)k << 32 | i) - 0.5));
  }
}

/* The small causal encoder of the chunked-path tests (inference, training): a batch of 21
 * sequences of 12 steps spans several chunks with a partial last one. */
static inline lcfm_causal_encoder_config fd_small_causal_config(int id) {
  return (lcfm_causal_encoder_config){.d = 16,
                                      .heads = 4,
                                      .ff = 24,
                                      .blocks = 2,
                                      .kernel = 5,
                                      .latent = 4,
                                      .T = 12,
                                      .max_batch = 21,
                                      .dropout = 0.1f,
                                      .id = id};
}

/* The small Astromer 2 encoder of the same tests, of sequences of 10 steps. */
static inline lcfm_astromer_config fd_small_astromer_config(int residual, lcfm_nn_act act,
                                                            int max_batch) {
  return (lcfm_astromer_config){.d = 16,
                                .heads = 2,
                                .ff = 12,
                                .blocks = 2,
                                .residual = residual,
                                .act = act,
                                .T = 10,
                                .max_batch = max_batch,
                                .dropout = 0.1f,
                                .id = 0};
}

/* A causal encoder of `cfg` in its own parameter table p, its weights fd_perturb_params'ed by
 * `seed`, its buffers allocated. */
static inline void fd_causal_encoder_make(lcfm_causal_encoder *e, lcfm_nn_params *p,
                                          const lcfm_causal_encoder_config *cfg, uint64_t seed) {
  lcfm_nn_params_init(p);
  lcfm_causal_encoder_init(e, cfg, p, "stellar");
  lcfm_nn_params_alloc(p);
  fd_perturb_params(p, seed);
  lcfm_causal_encoder_alloc(e);
}

/* The same for an Astromer 2 encoder. */
static inline void fd_astromer_make(lcfm_astromer *e, lcfm_nn_params *p,
                                    const lcfm_astromer_config *cfg, uint64_t seed) {
  lcfm_nn_params_init(p);
  lcfm_astromer_init(e, cfg, p, "astromer");
  lcfm_nn_params_alloc(p);
  fd_perturb_params(p, seed);
  lcfm_astromer_alloc(e);
}

typedef struct {
  const char *name;
  float *x;  /* the values perturbed */
  float *dx; /* where the gradient accumulates */
  size_t n;
} fd_tensor;

typedef struct {
  const char *name;
  double (*objective)(void *ctx); /* forward only, returns L */
  void (*gradient)(void *ctx);    /* forward + backward, accumulating into the dx buffers */
  void *ctx;
  fd_tensor t[12];
  int nt;
  float eps;
  double tol;
  double floor;     /* smallest gradient scale the tolerance is relative to */
  size_t max_elems; /* 0: every element */
} fd_case;

/* Fill x[n] with uniform values in [lo, hi) keyed by (seed, index). */
static inline void fd_fill(float *x, size_t n, double lo, double hi, uint64_t seed) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * lcfm_rng_uniform(seed, 77, i));
}

/* sum_i out_i r_i with r_i = normal(seed 4242, i) in double. */
static inline double fd_dot_r(const float *out, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)out[i] * lcfm_rng_normal(4242, 78, i);
  return s;
}

static inline void fd_fill_r(float *dout, size_t n) {
  for (size_t i = 0; i < n; i++) dout[i] = (float)lcfm_rng_normal(4242, 78, i);
}

/* Returns the worst relative error over all tensors (and records failures). */
static inline double fd_check(fd_case *c) {
  for (int k = 0; k < c->nt; k++)
    for (size_t i = 0; i < c->t[k].n; i++) c->t[k].dx[i] = 0.25f;
  c->gradient(c->ctx);
  double worst = 0.0;
  for (int k = 0; k < c->nt; k++) {
    fd_tensor *t = &c->t[k];
    size_t count = c->max_elems && t->n > c->max_elems ? c->max_elems : t->n;
    double maxfd = 0.0, maxerr = 0.0;
    size_t worst_i = 0;
    double worst_a = 0, worst_f = 0;
    for (size_t s = 0; s < count; s++) {
      size_t i = count == t->n ? s : (count > 1 ? s * (t->n - 1) / (count - 1) : 0);
      float keep = t->x[i];
      t->x[i] = keep + c->eps;
      double lp = c->objective(c->ctx);
      t->x[i] = keep - c->eps;
      double lm = c->objective(c->ctx);
      t->x[i] = keep;
      double fd = (lp - lm) / (2.0 * (double)c->eps);
      double an = (double)t->dx[i] - 0.25;
      if (fabs(fd) > maxfd) maxfd = fabs(fd);
      if (fabs(an - fd) > maxerr) {
        maxerr = fabs(an - fd);
        worst_i = i, worst_a = an, worst_f = fd;
      }
    }
    double rel = maxerr / fmax(maxfd, c->floor);
    if (rel > worst) worst = rel;
    EXPECT(
        rel <= c->tol,
        "%s: d/d %s: relative error %.3g > %.3g (element %zu: analytic %.8g, fd %.8g, max |fd| %.3g)",
        c->name, t->name, rel, c->tol, worst_i, worst_a, worst_f, maxfd);
    /* A gradient test on an all-zero gradient proves nothing: demand signal. */
    EXPECT(maxfd > c->floor,
           "%s: d/d %s: finite-difference gradient is ~0 (max %.3g): test is vacuous", c->name,
           t->name, maxfd);
  }
  printf("  fd %-40s worst relative error %.2e\n", c->name, worst);
  return worst;
}

#endif
