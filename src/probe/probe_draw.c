/* probe_draw.c: the MLP probe's per-run draws of training, stopping and test objects (probe_draw.h). */
#include <stdlib.h>

#include "lcfm/error.h"
#include "lcfm/probe_draw.h"
#include "lcfm/rng.h"

enum {
  LCFM_STREAM_PROBE_SPLIT = LCFM_STREAM_USER + 301,   /* u_0(source) */
  LCFM_STREAM_PROBE_SHUFFLE = LCFM_STREAM_USER + 302, /* shuffles: index (pool << 32) + i */
  LCFM_STREAM_PROBE_RUN_KEY = LCFM_STREAM_USER + 303, /* the key of run r > 0: index r */
};

/* Shuffle indices of the three pools (test's is the one the single split used). */
static const uint64_t TRAINING_POOL = 0, TEST_POOL = 1u << 20, STOPPING_POOL = 2u << 20;

/* The key of run r's star split: the seed for run 0, a keyed draw of (seed, r) otherwise. */
static uint64_t run_key(uint64_t seed, int run) {
  if (run == 0) return seed;
  uint32_t w[4];
  lcfm_rng_block(seed, LCFM_STREAM_PROBE_RUN_KEY, (uint64_t)run, w);
  return (uint64_t)w[0] | (uint64_t)w[1] << 32;
}

lcfm_star_role lcfm_probe_star_role(const lcfm_probe_protocol *p, int run, int64_t source) {
  double u = lcfm_rng_uniform(run_key(p->seed, run), LCFM_STREAM_PROBE_SPLIT, (uint64_t)source);
  if (u < p->test_fraction) return LCFM_STAR_TEST;
  if (u < p->test_fraction + p->stopping_fraction) return LCFM_STAR_STOPPING;
  return LCFM_STAR_TRAINING;
}

/* Keyed Fisher-Yates shuffle of idx[0..n). */
static void shuffle(int64_t *idx, int64_t n, uint64_t seed, uint64_t stream_index) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)lcfm_rng_below(seed, LCFM_STREAM_PROBE_SHUFFLE, (stream_index << 32) + (uint64_t)i, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j], idx[j] = t;
  }
}

void lcfm_probe_draw_make(lcfm_probe_draw *d, const lcfm_probe_protocol *p, int run, const int64_t *source,
                          int64_t objects) {
  size_t bytes = (size_t)objects * sizeof(int64_t);
  d->training = lcfm_malloc(bytes), d->stopping = lcfm_malloc(bytes), d->test = lcfm_malloc(bytes);
  d->training_count = d->stopping_count = d->test_count = 0;
  for (int64_t i = 0; i < objects; i++) {
    switch (lcfm_probe_star_role(p, run, source[i])) {
      case LCFM_STAR_TEST: d->test[d->test_count++] = i; break;
      case LCFM_STAR_STOPPING: d->stopping[d->stopping_count++] = i; break;
      default: d->training[d->training_count++] = i; break;
    }
  }
  uint64_t r = (uint64_t)run;
  shuffle(d->training, d->training_count, p->seed, TRAINING_POOL + r);
  shuffle(d->test, d->test_count, p->seed, TEST_POOL + r);
  shuffle(d->stopping, d->stopping_count, p->seed, STOPPING_POOL + r);
  if (d->test_count > p->test_objects) d->test_count = p->test_objects;
  if (d->stopping_count > p->stopping_objects) d->stopping_count = p->stopping_objects;
}

void lcfm_probe_draw_codes(const lcfm_probe_draw *d, int64_t objects, int64_t *code) {
  for (int64_t i = 0; i < objects; i++) code[i] = LCFM_DRAW_UNUSED;
  for (int64_t k = 0; k < d->training_count; k++) code[d->training[k]] = k;
  for (int64_t k = 0; k < d->stopping_count; k++) code[d->stopping[k]] = LCFM_DRAW_STOPPING;
  for (int64_t k = 0; k < d->test_count; k++) code[d->test[k]] = LCFM_DRAW_TEST;
}

void lcfm_probe_draw_free(lcfm_probe_draw *d) {
  free(d->training), free(d->stopping), free(d->test);
  d->training = d->stopping = d->test = NULL;
  d->training_count = d->stopping_count = d->test_count = 0;
}
