/* sampler.c: keyed triplets (anchor, same source / other instrument, same instrument / other
 * source) over a training / validation split by source (see train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/train.h"

#define VALIDATION_STEP_BASE (1ull << 62) /* validation draws use their own counter range */

static const lcfm_curves *sort_curves; /* qsort has no context argument */

static int by_source_then_index(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  int64_t sx = sort_curves->source[x], sy = sort_curves->source[y];
  if (sx != sy) return sx < sy ? -1 : 1;
  return (x > y) - (x < y);
}

static int by_instrument_then_index(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  int32_t ix = sort_curves->instrument[x], iy = sort_curves->instrument[y];
  if (ix != iy) return ix < iy ? -1 : 1;
  return (x > y) - (x < y);
}

/* Objects sorted by key, plus the start of each group; returns the number of groups. */
static int64_t group_objects(const lcfm_curves *c, int (*compare)(const void *, const void *), int use_source,
                             int64_t **order, int64_t **start) {
  int64_t n = c->count;
  *order = lcfm_malloc((size_t)(n ? n : 1) * sizeof **order);
  *start = lcfm_malloc((size_t)(n + 1) * sizeof **start);
  for (int64_t i = 0; i < n; i++) (*order)[i] = i;
  sort_curves = c;
  qsort(*order, (size_t)n, sizeof **order, compare);
  int64_t groups = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t o = (*order)[i], prev = i ? (*order)[i - 1] : -1;
    int differs = i == 0 || (use_source ? c->source[o] != c->source[prev] : c->instrument[o] != c->instrument[prev]);
    if (differs) (*start)[groups++] = i;
  }
  (*start)[groups] = n;
  return groups;
}

/* Does object a have a partner of the same source under another instrument, and one of the
 * same instrument from another source, within its own split? */
static int eligible(const lcfm_sampler *s, int64_t a) {
  const lcfm_curves *c = s->curves;
  int64_t g = s->source_index[a], star = 0, instr = 0;
  for (int64_t i = s->source_start[g]; i < s->source_start[g + 1] && !star; i++)
    star = c->instrument[s->by_source[i]] != c->instrument[a];
  int32_t m = c->instrument[a];
  for (int64_t i = s->instrument_start[m]; i < s->instrument_start[m + 1] && !instr; i++) {
    int64_t o = s->by_instrument[i];
    instr = c->source[o] != c->source[a] && s->validation[o] == s->validation[a];
  }
  return star && instr;
}

/* by_instrument groups must be indexable by instrument id: instruments are rows 0..I-1. */
static int64_t index_instruments(lcfm_sampler *s, const lcfm_curves *c) {
  int64_t *order, *start;
  int64_t groups = group_objects(c, by_instrument_then_index, 0, &order, &start);
  int64_t max_id = -1;
  for (int64_t i = 0; i < c->count; i++) max_id = c->instrument[i] > max_id ? c->instrument[i] : max_id;
  s->instrument_start = lcfm_calloc((size_t)(max_id + 2), sizeof *s->instrument_start);
  /* start[m] .. start[m+1]: empty ranges for ids without objects */
  int64_t g = 0;
  for (int64_t m = 0; m <= max_id + 1; m++) {
    while (g < groups && c->instrument[order[start[g]]] < m) g++;
    s->instrument_start[m] = g < groups ? start[g] : c->count;
  }
  free(start);
  s->by_instrument = order;
  return max_id + 1;
}

int lcfm_sampler_init(lcfm_sampler *s, const lcfm_curves *c, uint64_t seed, double validation_fraction, char *why,
                      size_t why_len) {
  memset(s, 0, sizeof *s);
  s->curves = c;
  s->seed = seed;
  int64_t n = c->count;
  s->source_count = group_objects(c, by_source_then_index, 1, &s->by_source, &s->source_start);
  s->source_index = lcfm_malloc((size_t)(n ? n : 1) * sizeof *s->source_index);
  for (int64_t g = 0; g < s->source_count; g++)
    for (int64_t i = s->source_start[g]; i < s->source_start[g + 1]; i++) s->source_index[s->by_source[i]] = g;
  s->instrument_count = index_instruments(s, c);
  s->validation = lcfm_malloc((size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++)
    s->validation[i] = lcfm_rng_uniform(seed, LCFM_STREAM_TRAIN_SPLIT, (uint64_t)c->source[i]) < validation_fraction;
  for (int split = 0; split < 2; split++) {
    s->anchors[split] = lcfm_malloc((size_t)(n ? n : 1) * sizeof *s->anchors[split]);
    for (int64_t a = 0; a < n; a++)
      if (s->validation[a] == split && eligible(s, a)) s->anchors[split][s->anchor_count[split]++] = a;
  }
  if (s->anchor_count[0] == 0) {
    int64_t multi_instrument_sources = 0;
    for (int64_t g = 0; g < s->source_count; g++)
      for (int64_t i = s->source_start[g] + 1; i < s->source_start[g + 1]; i++)
        if (c->instrument[s->by_source[i]] != c->instrument[s->by_source[s->source_start[g]]]) {
          multi_instrument_sources++;
          break;
        }
    snprintf(why, why_len,
             "no training triplet can be formed: %lld objects, %lld sources of which %lld are seen by more "
             "than one instrument, %lld instruments; a triplet needs a source seen by two instruments, one of "
             "which also sees another training source",
             (long long)n, (long long)s->source_count, (long long)multi_instrument_sources,
             (long long)s->instrument_count);
    return 1;
  }
  if (s->anchor_count[1] == 0) {
    /* Validation drives early stopping and the best checkpoint: training without it cannot pick one. */
    int64_t held_out = 0;
    for (int64_t g = 0; g < s->source_count; g++) held_out += s->validation[s->by_source[s->source_start[g]]];
    snprintf(why, why_len,
             "no validation triplet can be formed: validation_fraction %g held out %lld of %lld sources and none "
             "of their objects can anchor a triplet; raise [train] validation_fraction or use a larger store",
             validation_fraction, (long long)held_out, (long long)s->source_count);
    return 1;
  }
  return 0;
}

void lcfm_sampler_free(lcfm_sampler *s) {
  free(s->validation), free(s->by_source), free(s->source_start), free(s->source_index);
  free(s->by_instrument), free(s->instrument_start), free(s->anchors[0]), free(s->anchors[1]);
  memset(s, 0, sizeof *s);
}

static uint64_t draw_index(int split, int64_t step, int64_t slot) {
  /* Slots per step are bounded by 2^20 so (step, slot) never collide. */
  return (split ? VALIDATION_STEP_BASE : 0) + ((uint64_t)step << 20) + (uint64_t)slot;
}

/* The j-th object (in group order) of the anchor's source under another instrument. */
static int64_t pick_same_source(const lcfm_sampler *s, int64_t a, uint64_t index) {
  const lcfm_curves *c = s->curves;
  int64_t g = s->source_index[a], candidates = 0;
  for (int64_t i = s->source_start[g]; i < s->source_start[g + 1]; i++)
    candidates += c->instrument[s->by_source[i]] != c->instrument[a];
  int64_t j = (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_TRAIN_STAR, index, (uint64_t)candidates);
  for (int64_t i = s->source_start[g];; i++) {
    int64_t o = s->by_source[i];
    if (c->instrument[o] != c->instrument[a] && j-- == 0) return o;
  }
}

/* An object of the anchor's instrument from another source of the same split: keyed rejection
 * sampling (64 tries), then the first valid one in order, so the draw is always deterministic. */
static int64_t pick_same_instrument(const lcfm_sampler *s, int64_t a, uint64_t index) {
  const lcfm_curves *c = s->curves;
  int32_t m = c->instrument[a];
  int64_t first = s->instrument_start[m], count = s->instrument_start[m + 1] - first;
  for (uint64_t attempt = 0; attempt < 64; attempt++) {
    int64_t o = s->by_instrument[first + (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_TRAIN_INSTR,
                                                                  index * 64 + attempt, (uint64_t)count)];
    if (c->source[o] != c->source[a] && s->validation[o] == s->validation[a]) return o;
  }
  for (int64_t i = first; i < first + count; i++) {
    int64_t o = s->by_instrument[i];
    if (c->source[o] != c->source[a] && s->validation[o] == s->validation[a]) return o;
  }
  LCFM_FATAL("internal: anchor %lld was eligible but has no same-instrument partner", (long long)a);
}

lcfm_triplet lcfm_sampler_draw(const lcfm_sampler *s, int split, int64_t step, int64_t slot) {
  uint64_t index = draw_index(split, step, slot);
  int64_t a = s->anchors[split][lcfm_rng_below(s->seed, LCFM_STREAM_TRAIN_ANCHOR, index, (uint64_t)s->anchor_count[split])];
  return (lcfm_triplet){a, pick_same_source(s, a, index), pick_same_instrument(s, a, index)};
}

int64_t lcfm_sampler_window_start(const lcfm_sampler *s, int split, int64_t step, int64_t slot, int member,
                                  int64_t object, int T) {
  int64_t spare = s->curves->length[object] - T;
  if (split || spare <= 0) return 0;
  return (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_TRAIN_WINDOW, draw_index(split, step, slot) * 3 + (uint64_t)member,
                                 (uint64_t)spare + 1);
}
