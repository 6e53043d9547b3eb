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

int lcfm_probe_is_test_source(uint64_t seed, double test_fraction, int64_t source) {
  lcfm_probe_protocol run0 = {.test_fraction = test_fraction, .seed = seed};
  return lcfm_probe_star_role(&run0, 0, source) == LCFM_STAR_TEST;
}

/* The shuffle's step i swaps places i and swap_partner(i) (Fisher-Yates, i from n - 1 down to 1). */
static int64_t swap_partner(uint64_t seed, uint64_t stream_index, int64_t i) {
  return (int64_t)lcfm_rng_below(seed, LCFM_STREAM_PROBE_SHUFFLE,
                                 (stream_index << 32) + (uint64_t)i, (uint64_t)i + 1);
}

/* Keyed Fisher-Yates shuffle of idx[0..n). */
static void shuffle(int64_t *idx, int64_t n, uint64_t seed, uint64_t stream_index) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = swap_partner(seed, stream_index, i);
    int64_t t = idx[i];
    idx[i] = idx[j], idx[j] = t;
  }
}

void lcfm_probe_draw_make(lcfm_probe_draw *d, const lcfm_probe_protocol *p, int run,
                          const int64_t *source, int64_t objects) {
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
  d->training_pool = d->training_count;
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
  d->training_count = d->stopping_count = d->test_count = d->training_pool = 0;
}

/* ---- tracing a few members through a shuffle ---- */

static uint64_t pool_stream(lcfm_star_role pool, int run) {
  uint64_t base = pool == LCFM_STAR_TEST       ? TEST_POOL
                  : pool == LCFM_STAR_STOPPING ? STOPPING_POOL
                                               : TRAINING_POOL;
  return base + (uint64_t)run;
}

/* Where the traced members are: place -> tracer, open addressing with linear probing. */
typedef struct {
  int64_t *place, *tracer; /* place -1: empty slot */
  size_t mask;
} place_map;

static void map_init(place_map *m, int64_t entries) {
  size_t slots = 16;
  while (slots < 2 * (size_t)entries) slots *= 2;
  m->place = lcfm_malloc(slots * sizeof *m->place),
  m->tracer = lcfm_malloc(slots * sizeof *m->tracer);
  for (size_t k = 0; k < slots; k++) m->place[k] = -1;
  m->mask = slots - 1;
}

static void map_free(place_map *m) { free(m->place), free(m->tracer); }

static size_t map_home(const place_map *m, int64_t place) {
  return (size_t)(((uint64_t)place * 0x9E3779B97F4A7C15u) >> 17) & m->mask;
}

static void map_put(place_map *m, int64_t place, int64_t tracer) {
  size_t k = map_home(m, place);
  while (m->place[k] >= 0) k = (k + 1) & m->mask;
  m->place[k] = place, m->tracer[k] = tracer;
}

/* Removes `place` and returns its tracer, or -1 when no tracer is there. Deletion shifts later
 * entries of the probe sequence back (no tombstones). */
static int64_t map_take(place_map *m, int64_t place) {
  size_t k = map_home(m, place);
  while (m->place[k] >= 0 && m->place[k] != place) k = (k + 1) & m->mask;
  if (m->place[k] < 0) return -1;
  int64_t tracer = m->tracer[k];
  for (size_t hole = k, next = (k + 1) & m->mask; m->place[next] >= 0;
       next = (next + 1) & m->mask) {
    size_t home = map_home(m, m->place[next]);
    int stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    m->place[hole] = m->place[next], m->tracer[hole] = m->tracer[next];
    hole = next;
    k = next;
  }
  m->place[k] = -1;
  return tracer;
}

void lcfm_probe_draw_first(const lcfm_probe_protocol *p, int run, lcfm_star_role pool,
                           int64_t pool_size, int64_t count, int64_t *member) {
  LCFM_CHECK(count >= 0 && count <= pool_size,
             "lcfm_probe_draw_first: %lld places of a pool of %lld", (long long)count,
             (long long)pool_size);
  place_map m;
  map_init(&m, count);
  for (int64_t k = 0; k < count; k++) map_put(&m, k, k);
  uint64_t stream = pool_stream(pool, run);
  for (int64_t i = 1; i < pool_size; i++) { /* the swaps undone, last first */
    int64_t j = swap_partner(p->seed, stream, i);
    int64_t at_i = map_take(&m, i), at_j = j != i ? map_take(&m, j) : -1;
    if (at_i >= 0) map_put(&m, j, at_i);
    if (at_j >= 0) map_put(&m, i, at_j);
  }
  for (size_t k = 0; k <= m.mask; k++)
    if (m.place[k] >= 0) member[m.tracer[k]] = m.place[k];
  map_free(&m);
}

void lcfm_probe_draw_places(const lcfm_probe_protocol *p, int run, lcfm_star_role pool,
                            int64_t pool_size, const int64_t *member, int64_t count,
                            int64_t *place) {
  place_map m;
  map_init(&m, count);
  for (int64_t k = 0; k < count; k++) map_put(&m, member[k], k);
  uint64_t stream = pool_stream(pool, run);
  for (int64_t i = pool_size - 1; i > 0; i--) { /* place i is final after step i */
    int64_t j = swap_partner(p->seed, stream, i);
    int64_t at_i = map_take(&m, i), at_j = j != i ? map_take(&m, j) : -1;
    if (at_i >= 0 && j != i) map_put(&m, j, at_i);
    if (at_i >= 0 && j == i) place[at_i] = i;
    if (at_j >= 0) place[at_j] = i;
  }
  for (size_t k = 0; k <= m.mask; k++) /* what is left never moved again: place 0 */
    if (m.place[k] >= 0) place[m.tracer[k]] = m.place[k];
  map_free(&m);
}
