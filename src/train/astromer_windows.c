/* astromer_windows.c: Astromer 2's masked windows: zero-meaned, padded, probed (see astromer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/astromer.h"
#include "lcfm/error.h"
#include "lcfm/rng.h"

void lcfm_masked_batch_alloc(lcfm_masked_batch *b, int capacity, int T) {
  memset(b, 0, sizeof *b);
  b->capacity = capacity, b->T = T;
  size_t n = (size_t)(capacity > 0 ? capacity : 1) * (size_t)T;
  float **arrays[] = {&b->times, &b->errors, &b->target, &b->input, &b->valid, &b->replace, &b->probed, &b->weight};
  for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) *arrays[a] = lcfm_calloc(n, sizeof(float));
  b->object = lcfm_calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *b->object);
  b->length = lcfm_calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *b->length);
  b->scratch = lcfm_calloc((size_t)T, sizeof *b->scratch);
  b->order = lcfm_calloc((size_t)T, sizeof *b->order);
}

void lcfm_masked_batch_free(lcfm_masked_batch *b) {
  free(b->times), free(b->errors), free(b->target), free(b->input), free(b->valid), free(b->replace);
  free(b->probed), free(b->weight), free(b->object), free(b->length), free(b->scratch), free(b->order);
  memset(b, 0, sizeof *b);
}

/* Zero-meaned copies of the n valid points, zeros after them. */
static void zero_mean_row(lcfm_masked_batch *b, size_t at, const double *time, const float *value, const float *error,
                          int n) {
  double mt = 0, mv = 0, me = 0;
  for (int i = 0; i < n; i++) mt += time[i], mv += value[i], me += error[i];
  if (n > 0) mt /= n, mv /= n, me /= n;
  for (int i = 0; i < b->T; i++) {
    int in = i < n;
    b->times[at + i] = in ? (float)(time[i] - mt) : 0.0f;
    b->target[at + i] = in ? (float)(value[i] - mv) : 0.0f;
    b->errors[at + i] = in ? (float)(error[i] - me) : 0.0f;
    b->valid[at + i] = (float)in;
    b->replace[at + i] = b->probed[at + i] = 0.0f;
  }
  memcpy(b->input + at, b->target + at, (size_t)b->T * sizeof *b->input);
}

/* Loss weights from the stored errors; unusable errors take the smallest positive one. */
static void weights_row(lcfm_masked_batch *b, size_t at, const float *error, int n) {
  float smallest = INFINITY;
  for (int i = 0; i < n; i++)
    if (isfinite(error[i]) && error[i] > 0.0f && error[i] < smallest) smallest = error[i];
  if (!isfinite(smallest)) smallest = 1.0f;
  for (int i = 0; i < b->T; i++) b->scratch[i] = i < n && isfinite(error[i]) && error[i] > 0.0f ? error[i] : smallest;
  lcfm_astromer_weights(b->weight + at, b->scratch, b->valid + at, 1, b->T);
}

/* Probed points: a keyed partial shuffle of the n valid positions; keep, random, masked. */
static void probe_row(lcfm_masked_batch *b, size_t at, int n, const lcfm_probing *p, uint64_t seed, uint32_t stream,
                      uint64_t key) {
  int *order = b->order;
  int probed = (int)floor(p->probe * n), keep = (int)floor(p->keep * probed);
  int random = (int)floor(p->random * (probed - keep));
  for (int i = 0; i < n; i++) order[i] = i;
  uint64_t base = key * (uint64_t)LCFM_ASTRO_MAX_T;
  for (int i = 0; i < probed; i++) {
    int j = i + (int)lcfm_rng_below(seed, stream, base + (uint64_t)i, (uint64_t)(n - i));
    int t = order[i];
    order[i] = order[j], order[j] = t;
  }
  for (int k = 0; k < probed; k++) {
    int pos = order[k];
    b->probed[at + pos] = 1.0f;
    if (k < keep) continue;
    if (k < keep + random) {
      int from = (int)lcfm_rng_below(seed, stream + 1, base + (uint64_t)k, (uint64_t)n);
      b->input[at + pos] = b->target[at + from];
    } else {
      b->replace[at + pos] = 1.0f;
      b->input[at + pos] = 0.0f; /* the token replaces it; nothing of the value leaks */
    }
  }
}

void lcfm_astromer2_window(lcfm_masked_batch *b, int row, const double *time, const float *value, const float *error,
                           int n, const lcfm_probing *probing, uint64_t seed, uint32_t stream, uint64_t key) {
  LCFM_CHECK(row < b->capacity && n >= 0 && n <= b->T && b->T <= LCFM_ASTRO_MAX_T,
             "astromer: window row %d of %d, %d points for T %d", row, b->capacity, n, b->T);
  size_t at = (size_t)row * (size_t)b->T;
  zero_mean_row(b, at, time, value, error, n);
  weights_row(b, at, error, n);
  b->length[row] = n;
  if (probing && probing->probe > 0 && n > 0) probe_row(b, at, n, probing, seed, stream, key);
}

/* ---- the sampler ---- */

static int by_key(const void *a, const void *b) {
  const double *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Consecutive windows of the held-out objects, in a keyed order (so any prefix is a fair sample). */
static void evaluation_windows(lcfm_window_sampler *s) {
  const lcfm_curves *c = s->curves;
  int64_t n = 0;
  for (int64_t i = 0; i < s->count[1]; i++) {
    int64_t len = c->length[s->objects[1][i]];
    n += len > 0 ? (len + s->T - 1) / s->T : 0;
  }
  double *keyed = lcfm_malloc((size_t)(n ? n : 1) * 3 * sizeof *keyed);
  int64_t w = 0;
  for (int64_t i = 0; i < s->count[1]; i++) {
    int64_t o = s->objects[1][i];
    for (int64_t start = 0; start < c->length[o]; start += s->T, w++) {
      keyed[3 * w] = lcfm_rng_uniform(s->seed, LCFM_STREAM_ASTRO_EVAL_ORDER, (uint64_t)w);
      keyed[3 * w + 1] = (double)o, keyed[3 * w + 2] = (double)start;
    }
  }
  qsort(keyed, (size_t)n, 3 * sizeof *keyed, by_key);
  s->eval_count = n;
  s->eval_object = lcfm_malloc((size_t)(n ? n : 1) * sizeof *s->eval_object);
  s->eval_start = lcfm_malloc((size_t)(n ? n : 1) * sizeof *s->eval_start);
  for (int64_t i = 0; i < n; i++) s->eval_object[i] = (int64_t)keyed[3 * i + 1], s->eval_start[i] = (int64_t)keyed[3 * i + 2];
  free(keyed);
}

int lcfm_window_sampler_init(lcfm_window_sampler *s, const lcfm_curves *c, uint64_t seed, double validation_fraction,
                             int T, const lcfm_probing *probing, char *why, size_t why_len) {
  memset(s, 0, sizeof *s);
  s->curves = c, s->seed = seed, s->T = T, s->probing = *probing;
  for (int k = 0; k < 2; k++) s->objects[k] = lcfm_malloc((size_t)(c->count ? c->count : 1) * sizeof *s->objects[k]);
  for (int64_t i = 0; i < c->count; i++) {
    if (c->length[i] <= 0) continue;
    int held_out = lcfm_rng_uniform(seed, LCFM_STREAM_TRAIN_SPLIT, (uint64_t)c->source[i]) < validation_fraction;
    s->objects[held_out][s->count[held_out]++] = i;
  }
  evaluation_windows(s);
  if (s->count[0] == 0) {
    snprintf(why, why_len, "no training light curve: %lld objects, %lld held out for validation", (long long)c->count,
             (long long)s->count[1]);
    return 1;
  }
  return 0;
}

void lcfm_window_sampler_free(lcfm_window_sampler *s) {
  free(s->objects[0]), free(s->objects[1]), free(s->eval_object), free(s->eval_start);
  memset(s, 0, sizeof *s);
}

void lcfm_window_sampler_draw(const lcfm_window_sampler *s, int64_t step, int64_t slot, int64_t *object, int64_t *start) {
  uint64_t key = (uint64_t)step * (1ull << 24) + (uint64_t)slot; /* slots per step < 2^24 */
  *object = s->objects[0][lcfm_rng_below(s->seed, LCFM_STREAM_ASTRO_OBJECT, key, (uint64_t)s->count[0])];
  int64_t length = s->curves->length[*object];
  *start = length > s->T ? (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_ASTRO_START, key, (uint64_t)(length - s->T + 1)) : 0;
}

static void fill_row(const lcfm_window_sampler *s, lcfm_masked_batch *b, int row, int64_t object, int64_t start,
                     uint32_t stream, uint64_t key) {
  const lcfm_curves *c = s->curves;
  int64_t at = c->offset[object] + start, left = c->length[object] - start;
  int n = (int)(left < s->T ? left : s->T);
  lcfm_astromer2_window(b, row, c->time + at, c->value + at, c->error + at, n, &s->probing, s->seed, stream, key);
  b->object[row] = object;
}

void lcfm_window_sampler_train(const lcfm_window_sampler *s, lcfm_masked_batch *b, int64_t step, int64_t slots,
                               int64_t first, int64_t count) {
  LCFM_CHECK(count <= b->capacity, "astromer: %lld windows exceed the batch of %d", (long long)count, b->capacity);
  b->rows = (int)count;
  for (int64_t i = 0; i < count; i++) {
    int64_t object, start;
    lcfm_window_sampler_draw(s, step, first + i, &object, &start);
    fill_row(s, b, (int)i, object, start, LCFM_STREAM_ASTRO_PROBE, (uint64_t)(step * slots + first + i)); /* k B + i */
  }
}

void lcfm_window_sampler_eval(const lcfm_window_sampler *s, lcfm_masked_batch *b, int64_t first, int64_t count) {
  LCFM_CHECK(count <= b->capacity && first + count <= s->eval_count, "astromer: evaluation windows %lld..%lld of %lld",
             (long long)first, (long long)(first + count), (long long)s->eval_count);
  b->rows = (int)count;
  for (int64_t i = 0; i < count; i++)
    fill_row(s, b, (int)i, s->eval_object[first + i], s->eval_start[first + i], LCFM_STREAM_ASTRO_EVAL_PROBE,
             (uint64_t)(first + i));
}

/* ---- several stores ---- */

static void append_curves(lcfm_curves *all, const lcfm_curves *c) {
  int64_t n = all->count + c->count, p0 = 0;
  for (int64_t i = 0; i < all->count; i++) p0 += all->length[i];
  int64_t p1 = 0;
  for (int64_t i = 0; i < c->count; i++) p1 += c->length[i];
  size_t rows = (size_t)(n ? n : 1), pts = (size_t)(p0 + p1 ? p0 + p1 : 1);
  all->source = realloc(all->source, rows * sizeof *all->source);
  all->offset = realloc(all->offset, rows * sizeof *all->offset);
  all->instrument = realloc(all->instrument, rows * sizeof *all->instrument);
  all->length = realloc(all->length, rows * sizeof *all->length);
  all->label = realloc(all->label, rows * sizeof *all->label);
  all->time = realloc(all->time, pts * sizeof *all->time);
  all->value = realloc(all->value, pts * sizeof *all->value);
  all->error = realloc(all->error, pts * sizeof *all->error);
  LCFM_CHECK(all->source && all->offset && all->instrument && all->length && all->label && all->time && all->value &&
                 all->error, "out of memory joining stores (%lld objects, %lld points)", (long long)n, (long long)(p0 + p1));
  for (int64_t i = 0; i < c->count; i++) {
    int64_t k = all->count + i;
    all->source[k] = c->source[i], all->instrument[k] = c->instrument[i], all->length[k] = c->length[i];
    all->label[k] = c->label[i], all->offset[k] = p0 + c->offset[i];
  }
  memcpy(all->time + p0, c->time, (size_t)p1 * sizeof *all->time);
  memcpy(all->value + p0, c->value, (size_t)p1 * sizeof *all->value);
  memcpy(all->error + p0, c->error, (size_t)p1 * sizeof *all->error);
  all->count = n;
}

int lcfm_curves_load_list(lcfm_curves *c, MPI_Comm comm, const char *paths, char *why, size_t why_len) {
  memset(c, 0, sizeof *c);
  char *list = strdup(paths), *saveptr = NULL;
  LCFM_CHECK(list != NULL, "out of memory");
  int failed = 0, stores = 0;
  for (char *path = strtok_r(list, " \t\n", &saveptr); path && !failed; path = strtok_r(NULL, " \t\n", &saveptr)) {
    lcfm_curves one;
    failed = lcfm_curves_load(&one, comm, path, why, why_len);
    if (failed) break;
    append_curves(c, &one);
    lcfm_curves_free(&one);
    stores++;
  }
  free(list);
  if (!failed && stores == 0) {
    snprintf(why, why_len, "no store named");
    failed = 1;
  }
  return failed;
}
