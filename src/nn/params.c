/* params.c: the flat parameter table, the activation arena, non-finite detection and the
 * Adam/AdamW optimiser (threads and GEMM: gemm.c). */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/nn.h"
#include "nn_internal.h"

/* ----------------------------------------------------------------------------------------------
 * Parameter table
 * -------------------------------------------------------------------------------------------- */

#define ALIGN_FLOATS 16 /* 64 bytes */

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

void lcfm_nn_params_init(lcfm_nn_params *p) { memset(p, 0, sizeof *p); }

size_t lcfm_nn_params_add(lcfm_nn_params *p, const char *name, lcfm_nn_init init, int ndim,
                          const int64_t *shape) {
  LCFM_CHECK(p->params == NULL, "nn: tensor %s added after the parameter buffers were allocated",
             name);
  LCFM_CHECK(ndim >= 1 && ndim <= LCFM_NN_MAX_DIMS, "nn: tensor %s has %d dims", name, ndim);
  LCFM_CHECK(strlen(name) < LCFM_NN_NAME_MAX, "nn: tensor name too long: %s", name);
  LCFM_CHECK(lcfm_nn_params_find(p, name) < 0, "nn: tensor %s registered twice", name);
  if (p->count == p->capacity) {
    int cap = p->capacity ? 2 * p->capacity : 64;
    lcfm_nn_tensor *t = lcfm_malloc(sizeof *t * (size_t)cap);
    if (p->count) memcpy(t, p->tensors, sizeof *t * (size_t)p->count);
    free(p->tensors);
    p->tensors = t;
    p->capacity = cap;
  }
  lcfm_nn_tensor *t = &p->tensors[p->count++];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->init = init;
  t->ndim = ndim;
  t->numel = 1;
  for (int i = 0; i < ndim; i++) {
    LCFM_CHECK(shape[i] > 0, "nn: tensor %s has dimension %d of size %lld", name, i,
               (long long)shape[i]);
    t->shape[i] = shape[i];
    t->numel *= (size_t)shape[i];
  }
  t->offset = p->total;
  p->total += round_up(t->numel, ALIGN_FLOATS);
  return t->offset;
}

size_t lcfm_nn_params_add2(lcfm_nn_params *p, lcfm_nn_init init, int64_t d0, int64_t d1,
                           const char *fmt, ...) {
  char name[LCFM_NN_NAME_MAX + 64];
  va_list args;
  va_start(args, fmt);
  vsnprintf(name, sizeof name, fmt, args);
  va_end(args);
  int64_t shape[2] = {d0, d1};
  return lcfm_nn_params_add(p, name, init, d1 > 0 ? 2 : 1, shape);
}

static float *alloc_floats(size_t n) {
  size_t bytes = round_up(n * sizeof(float) + 64, 64);
  float *x = aligned_alloc(64, bytes);
  LCFM_CHECK(x != NULL, "nn: out of memory allocating %zu bytes", bytes);
  memset(x, 0, bytes);
  return x;
}

void lcfm_nn_params_alloc(lcfm_nn_params *p) {
  LCFM_CHECK(p->params == NULL, "nn: parameter buffers allocated twice");
  p->params = alloc_floats(p->total);
  p->grads = alloc_floats(p->total);
  p->m = alloc_floats(p->total);
  p->v = alloc_floats(p->total);
  p->params_t = alloc_floats(p->total);
}

void lcfm_nn_params_free(lcfm_nn_params *p) {
  free(p->tensors);
  free(p->params);
  free(p->grads);
  free(p->m);
  free(p->v);
  free(p->params_t);
  memset(p, 0, sizeof *p);
}

void lcfm_nn_params_transpose(const lcfm_nn_params *p, size_t lo, size_t hi) {
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < p->count; i++) {
    const lcfm_nn_tensor *t = &p->tensors[i];
    if (t->ndim != 2 || t->offset < lo || t->offset >= hi) continue;
    int rows = (int)t->shape[0], cols = (int)t->shape[1];
    lcfm_nn_transpose(p->params_t + t->offset, rows, p->params + t->offset, cols, rows, cols);
  }
}

int lcfm_nn_params_find(const lcfm_nn_params *p, const char *name) {
  for (int i = 0; i < p->count; i++)
    if (strcmp(p->tensors[i].name, name) == 0) return i;
  return -1;
}

void lcfm_nn_params_zero_grad(lcfm_nn_params *p) { memset(p->grads, 0, p->total * sizeof(float)); }

size_t lcfm_nn_params_count(const lcfm_nn_params *p) {
  size_t n = 0;
  for (int i = 0; i < p->count; i++) n += p->tensors[i].numel;
  return n;
}

void lcfm_nn_params_init_default(lcfm_nn_params *p, uint64_t seed) {
  for (int ti = 0; ti < p->count; ti++) {
    const lcfm_nn_tensor *t = &p->tensors[ti];
    float *w = p->params + t->offset;
    size_t fan_in = t->numel / (size_t)t->shape[0];
    double bound = 1.0 / sqrt((double)(fan_in ? fan_in : 1));
    uint64_t first = (uint64_t)ti << 40;
    for (size_t i = 0; i < t->numel; i++) {
      switch (t->init) {
      case LCFM_INIT_ZERO: w[i] = 0.0f; break;
      case LCFM_INIT_ONE: w[i] = 1.0f; break;
      case LCFM_INIT_FANIN:
        w[i] =
            (float)(bound * (2.0 * lcfm_rng_uniform(seed, LCFM_STREAM_NN_INIT, first + i) - 1.0));
        break;
      case LCFM_INIT_NORMAL:
        w[i] = (float)(0.02 * lcfm_rng_normal(seed, LCFM_STREAM_NN_INIT, first + i));
        break;
      }
    }
  }
}

int lcfm_nn_first_nonfinite(const lcfm_nn_params *p, const float *buf, size_t *element) {
  for (int ti = 0; ti < p->count; ti++) {
    const float *x = buf + p->tensors[ti].offset;
    for (size_t i = 0; i < p->tensors[ti].numel; i++) {
      if (!isfinite(x[i])) {
        if (element) *element = i;
        return ti;
      }
    }
  }
  return -1;
}

void lcfm_nn_check_finite_params(const lcfm_nn_params *p, const float *buf, const char *what) {
  size_t e = 0;
  int ti = lcfm_nn_first_nonfinite(p, buf, &e);
  if (ti >= 0)
    LCFM_FATAL("nn: non-finite %s in tensor %s, element %zu (value %g)", what, p->tensors[ti].name,
               e, (double)buf[p->tensors[ti].offset + e]);
}

void lcfm_nn_check_finite(const float *x, size_t n, const char *layer) {
  size_t bad = n;
#pragma omp parallel for reduction(min : bad) schedule(static)
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]) && i < bad) bad = i;
  if (bad < n)
    LCFM_FATAL("nn: non-finite value in the output of %s at element %zu (value %g)", layer, bad,
               (double)x[bad]);
}

/* ----------------------------------------------------------------------------------------------
 * Arena
 * -------------------------------------------------------------------------------------------- */

float *lcfm_nn_arena_take(lcfm_nn_arena *a, size_t floats) {
  size_t at = a->used;
  a->used += round_up(floats ? floats : 1, ALIGN_FLOATS);
  if (a->base == NULL) return NULL;
  LCFM_CHECK(a->used <= a->size,
             "nn: activation arena overflow (%zu > %zu floats): layout changed between passes",
             a->used, a->size);
  return a->base + at;
}

void lcfm_nn_arena_alloc(lcfm_nn_arena *a) {
  LCFM_CHECK(a->base == NULL, "nn: arena allocated twice");
  a->size = a->used;
  a->base = alloc_floats(a->size);
  a->used = 0;
}

void lcfm_nn_arena_free(lcfm_nn_arena *a) {
  free(a->base);
  memset(a, 0, sizeof *a);
}

/* ----------------------------------------------------------------------------------------------
 * Optimiser
 * -------------------------------------------------------------------------------------------- */

double lcfm_nn_grad_norm(const lcfm_nn_params *p) {
  double sum = 0.0;
  const float *g = p->grads;
  size_t n = p->total;
#pragma omp parallel for simd reduction(+ : sum) schedule(static)
  for (size_t i = 0; i < n; i++) sum += (double)g[i] * g[i];
  return sqrt(sum);
}

double lcfm_nn_clip_grad_norm(lcfm_nn_params *p, double max_norm) {
  double norm = lcfm_nn_grad_norm(p);
  if (norm > max_norm && norm > 0.0) {
    float s = (float)(max_norm / (norm + 1e-6));
    float *g = p->grads;
    size_t n = p->total;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) g[i] *= s;
  }
  return norm;
}

void lcfm_adam_step(lcfm_adam *opt, lcfm_nn_params *p) {
  int64_t t = opt->step + 1;
  float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps, lr = opt->lr, wd = opt->weight_decay;
  float c1 = (float)(1.0 / (1.0 - pow(b1, (double)t)));
  float c2 = (float)(1.0 / (1.0 - pow(b2, (double)t)));
  float *w = p->params, *g = p->grads, *m = p->m, *v = p->v;
  size_t n = p->total;
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float wi = w[i];
    if (wd != 0.0f) wi -= lr * wd * wi; /* AdamW: decoupled decay (torch.optim.AdamW order) */
    w[i] = wi - lr * (mi * c1) / (sqrtf(vi * c2) + eps);
  }
  opt->step = t;
}
