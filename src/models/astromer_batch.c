/* astromer_batch.c: Astromer 2's masked windows, the model's input: zero-meaned, padded, probed
 * (see astromer.h). */
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
  float **arrays[] = {&b->times, &b->errors,  &b->target, &b->input,
                      &b->valid, &b->replace, &b->probed, &b->weight};
  for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++)
    *arrays[a] = lcfm_calloc(n, sizeof(float));
  b->object = lcfm_calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *b->object);
  b->length = lcfm_calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *b->length);
  b->scratch = lcfm_calloc((size_t)T, sizeof *b->scratch);
  b->order = lcfm_calloc((size_t)T, sizeof *b->order);
}

void lcfm_masked_batch_free(lcfm_masked_batch *b) {
  free(b->times), free(b->errors), free(b->target), free(b->input), free(b->valid),
      free(b->replace);
  free(b->probed), free(b->weight), free(b->object), free(b->length), free(b->scratch),
      free(b->order);
  memset(b, 0, sizeof *b);
}

/* Zero-meaned copies of the n valid points, zeros after them. */
static void zero_mean_row(lcfm_masked_batch *b, size_t at, const double *time, const float *value,
                          const float *error, int n) {
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
  for (int i = 0; i < b->T; i++)
    b->scratch[i] = i < n && isfinite(error[i]) && error[i] > 0.0f ? error[i] : smallest;
  lcfm_astromer_weights(b->weight + at, b->scratch, b->valid + at, 1, b->T);
}

/* Probed points: a keyed partial shuffle of the n valid positions; keep, random, masked. */
static void probe_row(lcfm_masked_batch *b, size_t at, int n, const lcfm_probing *p, uint64_t seed,
                      uint32_t stream, uint64_t key) {
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

void lcfm_astromer2_window(lcfm_masked_batch *b, int row, const double *time, const float *value,
                           const float *error, int n, const lcfm_probing *probing, uint64_t seed,
                           uint32_t stream, uint64_t key) {
  LCFM_CHECK(row < b->capacity && n >= 0 && n <= b->T && b->T <= LCFM_ASTRO_MAX_T,
             "astromer: window row %d of %d, %d points for T %d", row, b->capacity, n, b->T);
  size_t at = (size_t)row * (size_t)b->T;
  zero_mean_row(b, at, time, value, error, n);
  weights_row(b, at, error, n);
  b->length[row] = n;
  if (probing && probing->probe > 0 && n > 0) probe_row(b, at, n, probing, seed, stream, key);
}
