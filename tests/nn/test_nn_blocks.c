/* test_nn_blocks.c: the composed blocks and encoders against central finite differences, for the
 * input and for EVERY parameter tensor of the table: a Conformer block (padding mask, dropout on),
 * the transformer block with and without residual connections (hidden tokens and padding), the
 * causal Conformer-LSTM encoder and the Astromer 2 encoder, each also with a batch of one.
 * Also: the non-finite detector names the layer, and no allocation-dependent state leaks between
 * batches of different sizes. Small widths keep it fast; the layer code is the production code.
 * Central differences are Richardson-extrapolated (eps and eps/2, eps = 1e-2).
 * Error measure per tensor: max_i |analytic_i - fd_i| / max(max_i |fd_i|, floor) <= 3e-2, with
 * floor 1e-3 (blocks) or 5e-3 (whole encoders, whose float forward is noisier). */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/nn_models.h"
#include "nn_fd.h"

#define MAX_ELEMS 12

/* Check the input (if any) and every tensor of the table with the same objective. */
static void check_all(const char *name, double (*obj)(void *), void (*grad)(void *), void *ctx,
                      lcfm_nn_params *p, float *x, float *dx, size_t nx, float eps, double tol,
                      double floor) {
  double worst = 0;
  for (int k = -1; k < p->count; k++) {
    if (k < 0 && !x) continue;
    fd_case fc;
    memset(&fc, 0, sizeof fc);
    char cname[160];
    snprintf(cname, sizeof cname, "%s", name);
    fc.name = cname, fc.objective = obj, fc.gradient = grad, fc.ctx = ctx;
    fc.eps = eps, fc.tol = tol, fc.floor = floor, fc.max_elems = MAX_ELEMS;
    if (k < 0) fc.t[fc.nt++] = (fd_tensor){"input", x, dx, nx};
    else
      fc.t[fc.nt++] = (fd_tensor){p->tensors[k].name, p->params + p->tensors[k].offset,
                                  p->grads + p->tensors[k].offset, p->tensors[k].numel};
    double w = 0;
    {
      /* fd_check without its per-tensor line (the table has dozens of tensors) */
      fd_tensor *t = &fc.t[0];
      for (size_t i = 0; i < t->n; i++) t->dx[i] = 0.25f;
      grad(ctx);
      size_t count = t->n > MAX_ELEMS ? MAX_ELEMS : t->n;
      double maxfd = 0, maxerr = 0, wa = 0, wf = 0;
      size_t wi = 0;
      for (size_t s = 0; s < count; s++) {
        size_t i = count == t->n ? s : s * (t->n - 1) / (count - 1);
        /* Richardson-extrapolated central difference: error O(eps^4), so eps can stay large
         * enough for float round-off not to dominate. */
        float keep = t->x[i];
        double dd[2];
        for (int r = 0; r < 2; r++) {
          float h = r == 0 ? eps : eps / 2;
          t->x[i] = keep + h;
          double lp = obj(ctx);
          t->x[i] = keep - h;
          double lm = obj(ctx);
          t->x[i] = keep;
          dd[r] = (lp - lm) / (2.0 * (double)h);
        }
        double fd = (4.0 * dd[1] - dd[0]) / 3.0, an = (double)t->dx[i] - 0.25;
        maxfd = fmax(maxfd, fabs(fd));
        if (fabs(an - fd) > maxerr) maxerr = fabs(an - fd), wi = i, wa = an, wf = fd;
      }
      w = maxerr / fmax(maxfd, floor);
      if (getenv("FD_VERBOSE")) printf("    %s %.3g\n", t->name, w);
      EXPECT(w <= tol,
             "%s: d/d %s: relative error %.3g (element %zu: analytic %.8g, fd %.8g, max |fd| %.3g)",
             name, t->name, w, wi, wa, wf, maxfd);
      EXPECT(maxfd > 1e-5, "%s: d/d %s: gradient ~0 (%.3g): vacuous", name, t->name, maxfd);
    }
    worst = fmax(worst, w);
  }
  printf("  fd %-48s %3d tensors, worst relative error %.2e\n", name, p->count + (x != NULL),
         worst);
}

/* ---------------- what the two blocks' checks share ---------------- */
/* A block's parameter table, arenas, input and gradients, its batch of B x T steps. */
typedef struct {
  lcfm_nn_params p;
  lcfm_nn_arena acts, scr;
  lcfm_nn_scratch s;
  float *x, *dx, *dout;
  const float *mask;
  int B, T;
} block_case;

/* The block's training batch: dropout on, its draws keyed by `counter`. */
static lcfm_nn_block_batch block_batch(const block_case *b, uint64_t counter) {
  return (lcfm_nn_block_batch){b->x, b->mask, b->B, b->T, 1, 5, counter, 0};
}

/* The input (uniform in [-1, 1), keyed by `seed`) and both gradients, B x T x d each; returns
 * their size. */
static size_t block_inputs(block_case *b, int d, uint64_t seed) {
  size_t n = (size_t)b->B * b->T * d;
  b->x = fd_buffer(n), b->dx = fd_buffer(n), b->dout = fd_buffer(n);
  fd_fill(b->x, n, -1, 1, seed);
  return n;
}

static void block_case_free(block_case *b) {
  free(b->x), free(b->dx), free(b->dout);
  lcfm_nn_arena_free(&b->acts), lcfm_nn_arena_free(&b->scr), lcfm_nn_params_free(&b->p);
}

/* ---------------- Conformer block ---------------- */
typedef struct {
  lcfm_conformer_config cfg;
  lcfm_conformer_params w;
  lcfm_conformer_acts a;
  block_case b;
} conf_ctx;

static double conf_obj(void *v) {
  conf_ctx *c = v;
  lcfm_nn_block_batch x = block_batch(&c->b, 77);
  lcfm_nn_params_transpose(&c->b.p, 0, c->b.p.total); /* params may have been perturbed */
  lcfm_conformer_forward(&c->a, &c->cfg, &c->w, &c->b.p, &x, &c->b.s);
  return fd_dot_r(c->a.out, (size_t)c->b.B * c->b.T * c->cfg.d);
}
static void conf_grad(void *v) {
  conf_ctx *c = v;
  conf_obj(v);
  fd_fill_r(c->b.dout, (size_t)c->b.B * c->b.T * c->cfg.d);
  lcfm_nn_block_batch x = block_batch(&c->b, 77);
  lcfm_conformer_backward(c->b.dx, &c->a, &c->cfg, &c->w, &c->b.p, c->b.dout, &x, &c->b.s);
}

static void test_conformer(int B, const float *mask, float dropout) {
  conf_ctx c;
  memset(&c, 0, sizeof c);
  c.cfg = (lcfm_conformer_config){.d = 8, .heads = 2, .ff = 12, .kernel = 3, .dropout = dropout};
  block_case *b = &c.b;
  b->B = B, b->T = 5, b->mask = mask;
  lcfm_nn_params_init(&b->p);
  lcfm_conformer_init(&c.w, &c.cfg, &b->p, "blk");
  lcfm_nn_params_alloc(&b->p);
  fd_perturb_params(&b->p, 3);
  lcfm_conformer_acts_layout(&c.a, &c.cfg, &b->acts, B, b->T);
  lcfm_nn_scratch_layout(&b->s, &b->scr, B * b->T, b->T, c.cfg.d, c.cfg.ff);
  lcfm_nn_arena_alloc(&b->acts);
  lcfm_nn_arena_alloc(&b->scr);
  lcfm_conformer_acts_layout(&c.a, &c.cfg, &b->acts, B, b->T);
  lcfm_nn_scratch_layout(&b->s, &b->scr, B * b->T, b->T, c.cfg.d, c.cfg.ff);
  size_t n = block_inputs(b, c.cfg.d, 4);
  char name[96];
  snprintf(name, sizeof name, "conformer block B=%d%s%s", B, mask ? " masked" : "",
           dropout > 0 ? " dropout" : "");
  check_all(name, conf_obj, conf_grad, &c, &b->p, b->x, b->dx, n, 3e-3f, 3e-2, 1e-3);
  if (mask) {
    /* padding does not leak: changing a padded input leaves the valid outputs unchanged */
    conf_obj(&c);
    float *keep = fd_buffer(n);
    memcpy(keep, c.a.out, n * sizeof(float));
    int t_pad = -1;
    for (int t = 0; t < b->T; t++)
      if (mask[(B - 1) * b->T + t] == 0.0f) t_pad = t;
    for (int k = 0; k < c.cfg.d; k++) b->x[((size_t)(B - 1) * b->T + t_pad) * c.cfg.d + k] += 3.0f;
    conf_obj(&c);
    double diff = 0;
    for (int t = 0; t < b->T; t++) {
      if (mask[(B - 1) * b->T + t] == 0.0f) continue;
      for (int k = 0; k < c.cfg.d; k++) {
        size_t i = ((size_t)(B - 1) * b->T + t) * c.cfg.d + k;
        diff = fmax(diff, fabs(c.a.out[i] - keep[i]));
      }
    }
    EXPECT(diff == 0.0, "conformer: a padded step changed valid outputs by %g", diff);
    free(keep);
  }
  block_case_free(b);
}

/* ---------------- transformer block ---------------- */
typedef struct {
  lcfm_transformer_config cfg;
  lcfm_transformer_params w;
  lcfm_transformer_acts a;
  block_case b;
} tr_ctx;

static double tr_obj(void *v) {
  tr_ctx *c = v;
  lcfm_nn_block_batch x = block_batch(&c->b, 99);
  lcfm_nn_params_transpose(&c->b.p, 0, c->b.p.total); /* params may have been perturbed */
  lcfm_transformer_forward(&c->a, &c->cfg, &c->w, &c->b.p, &x, &c->b.s);
  return fd_dot_r(c->a.out, (size_t)c->b.B * c->b.T * c->cfg.d);
}
static void tr_grad(void *v) {
  tr_ctx *c = v;
  tr_obj(v);
  fd_fill_r(c->b.dout, (size_t)c->b.B * c->b.T * c->cfg.d);
  lcfm_nn_block_batch x = block_batch(&c->b, 99);
  lcfm_transformer_backward(c->b.dx, &c->a, &c->cfg, &c->w, &c->b.p, c->b.dout, &x, &c->b.s);
}

static void test_transformer(int B, const float *mask, int residual, lcfm_nn_act act,
                             float dropout) {
  tr_ctx c;
  memset(&c, 0, sizeof c);
  c.cfg = (lcfm_transformer_config){
      .d = 8, .heads = 2, .ff = 6, .act = act, .residual = residual, .dropout = dropout};
  block_case *b = &c.b;
  b->B = B, b->T = 5, b->mask = mask;
  lcfm_nn_params_init(&b->p);
  lcfm_transformer_init(&c.w, &c.cfg, &b->p, "tr");
  lcfm_nn_params_alloc(&b->p);
  fd_perturb_params(&b->p, 6);
  for (int pass = 0; pass < 2; pass++) {
    lcfm_transformer_acts_layout(&c.a, &c.cfg, &b->acts, B, b->T);
    lcfm_nn_scratch_layout(&b->s, &b->scr, B * b->T, b->T, c.cfg.d, c.cfg.ff);
    if (pass == 0) lcfm_nn_arena_alloc(&b->acts), lcfm_nn_arena_alloc(&b->scr);
  }
  size_t n = block_inputs(b, c.cfg.d, 7);
  char name[96];
  snprintf(name, sizeof name, "transformer block B=%d %s act=%d%s%s", B,
           residual ? "residual" : "no-residual", (int)act, mask ? " masked" : "",
           dropout > 0 ? " dropout" : "");
  check_all(name, tr_obj, tr_grad, &c, &b->p, b->x, b->dx, n, 3e-3f, 3e-2, 1e-3);
  block_case_free(b);
}

/* ---------------- causal encoder ---------------- */
typedef struct {
  lcfm_causal_encoder e;
  lcfm_nn_params p;
  float *times, *values, *mask, *dz;
  int B;
} ce_ctx;

static double ce_obj(void *v) {
  ce_ctx *c = v;
  lcfm_nn_series x = {c->times, c->values, c->mask, NULL, c->B};
  const float *z = lcfm_causal_encoder_forward(&c->e, &c->p, &x, 1, 9, 3);
  return fd_dot_r(z, (size_t)c->B * c->e.cfg.latent);
}
static void ce_grad(void *v) {
  ce_ctx *c = v;
  ce_obj(v);
  fd_fill_r(c->dz, (size_t)c->B * c->e.cfg.latent);
  lcfm_causal_encoder_backward(&c->e, &c->p, c->dz, 1);
}

static void test_causal_encoder(void) {
  ce_ctx c;
  memset(&c, 0, sizeof c);
  lcfm_causal_encoder_config cfg = {.d = 8,
                                    .heads = 2,
                                    .ff = 12,
                                    .blocks = 2,
                                    .kernel = 3,
                                    .latent = 3,
                                    .T = 6,
                                    .max_batch = 3,
                                    .dropout = 0.1f,
                                    .id = 1};
  fd_causal_encoder_make(&c.e, &c.p, &cfg, 8);
  size_t n = (size_t)cfg.max_batch * cfg.T;
  c.times = fd_buffer(n), c.values = fd_buffer(n), c.mask = fd_buffer(n),
  c.dz = fd_buffer((size_t)cfg.max_batch * cfg.latent);
  for (size_t i = 0; i < n; i++) {
    c.times[i] = (float)(i % cfg.T) * 0.7f + 0.1f * (float)(i / cfg.T);
    c.mask[i] = (i / cfg.T != 1) || (i % cfg.T < 4); /* sample 1 padded after 4 steps */
  }
  fd_fill(c.values, n, -1, 1, 12);
  c.B = 3;
  check_all("causal encoder B=3 (padding, dropout)", ce_obj, ce_grad, &c, &c.p, NULL, NULL, 0,
            1e-2f, 3e-2, 5e-3);
  c.B = 1;
  check_all("causal encoder B=1", ce_obj, ce_grad, &c, &c.p, NULL, NULL, 0, 1e-2f, 3e-2, 5e-3);
  /* the same first sample gives the same latent whatever the batch around it */
  c.B = 3;
  float z3[3];
  lcfm_nn_series x3 = {c.times, c.values, c.mask, NULL, 3},
                 x1 = {c.times, c.values, c.mask, NULL, 1};
  memcpy(z3, lcfm_causal_encoder_forward(&c.e, &c.p, &x3, 0, 9, 3), sizeof z3);
  const float *z1 = lcfm_causal_encoder_forward(&c.e, &c.p, &x1, 0, 9, 3);
  EXPECT(fabsf(z1[0] - z3[0]) < 1e-6f && fabsf(z1[2] - z3[2]) < 1e-6f,
         "latent depends on the batch");
  free(c.times), free(c.values), free(c.mask), free(c.dz);
  lcfm_causal_encoder_free(&c.e);
  lcfm_nn_params_free(&c.p);
}

/* ---------------- Astromer encoder ---------------- */
typedef struct {
  lcfm_astromer e;
  lcfm_nn_params p;
  float *times, *values, *valid, *replace, *dpred;
  int B;
} as_ctx;

static double as_obj(void *v) {
  as_ctx *c = v;
  lcfm_nn_series x = {c->times, c->values, c->valid, c->replace, c->B};
  const float *y = lcfm_astromer_forward(&c->e, &c->p, &x, 1, 2, 4);
  return fd_dot_r(y, (size_t)c->B * c->e.cfg.T);
}
static void as_grad(void *v) {
  as_ctx *c = v;
  as_obj(v);
  fd_fill_r(c->dpred, (size_t)c->B * c->e.cfg.T);
  lcfm_astromer_backward(&c->e, &c->p, c->dpred, 1);
}

static void test_astromer(int residual) {
  as_ctx c;
  memset(&c, 0, sizeof c);
  lcfm_astromer_config cfg = {.d = 8,
                              .heads = 2,
                              .ff = 6,
                              .blocks = 2,
                              .residual = residual,
                              .act = LCFM_ACT_TANH,
                              .T = 6,
                              .max_batch = 2,
                              .dropout = 0.1f,
                              .id = 2};
  fd_astromer_make(&c.e, &c.p, &cfg, 10);
  size_t n = (size_t)cfg.max_batch * cfg.T;
  c.times = fd_buffer(n), c.values = fd_buffer(n), c.valid = fd_buffer(n), c.replace = fd_buffer(n),
  c.dpred = fd_buffer(n);
  for (size_t i = 0; i < n; i++) {
    c.times[i] = 0.3f * (float)i;
    c.valid[i] = !(i / cfg.T == 1 && i % cfg.T >= 5);
    c.replace[i] = (i % 3) == 1;
  }
  fd_fill(c.values, n, -1, 1, 13);
  char name[64];
  /* Without residuals a layer norm follows a small attention output directly, which makes the
   * float forward ill-conditioned for the (small) mask-token gradient: a larger floor there.
   * tests/nn/test_nn_reference.c checks the same gradients against a double-precision PyTorch. */
  double floor = residual ? 5e-3 : 1e-2;
  c.B = 2;
  snprintf(name, sizeof name, "astromer encoder B=2 %s", residual ? "residual" : "no-residual");
  check_all(name, as_obj, as_grad, &c, &c.p, NULL, NULL, 0, 1e-2f, 3e-2, floor);
  c.B = 1;
  snprintf(name, sizeof name, "astromer encoder B=1 %s", residual ? "residual" : "no-residual");
  check_all(name, as_obj, as_grad, &c, &c.p, NULL, NULL, 0, 1e-2f, 3e-2, floor);
  free(c.times), free(c.values), free(c.valid), free(c.replace), free(c.dpred);
  lcfm_astromer_free(&c.e);
  lcfm_nn_params_free(&c.p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_nn_set_threads(2);
  static const float mask2[10] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  test_conformer(2, mask2, 0.2f);
  test_conformer(1, NULL, 0.0f);
  static const float tmask[10] = {1, 0, 1, 1, 1, 1, 1, 0, 1, 0};
  test_transformer(2, tmask, 0, LCFM_ACT_TANH, 0.0f);
  test_transformer(2, tmask, 1, LCFM_ACT_GELU, 0.2f);
  test_transformer(1, NULL, 1, LCFM_ACT_RELU, 0.0f);
  test_causal_encoder();
  test_astromer(0);
  test_astromer(1);
  return lcfm_test_finish("test_nn_blocks");
}
