/* sampler.c: keyed triplets (anchor, same source / other instrument, same instrument / other
 * source) over a training / validation split by source, drawn through the store's index by
 * keyed rejection sampling, and the windows they read (see train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/train.h"

#define VALIDATION_STEP_BASE (1ull << 62) /* validation draws use their own counter range */
enum {
  PARTNER_TRIES = 64,     /* same-instrument partner tries per anchor */
  ANCHOR_TRIES = 1 << 16, /* anchor tries per draw before the draw is declared impossible */
};

static uint64_t draw_index(int split, int64_t step, int64_t slot) {
  /* Slots per step are bounded by 2^20 so (step, slot) never collide. */
  return (split ? VALIDATION_STEP_BASE : 0) + ((uint64_t)step << 20) + (uint64_t)slot;
}

typedef struct {
  uint64_t anchor_key, partner_key;
} draw_keys;

static draw_keys keys_of(uint64_t seed, uint64_t index) {
  uint32_t w[4];
  lcfm_rng_block(seed, LCFM_STREAM_TRAIN_DRAW_KEY, index, w);
  return (draw_keys){((uint64_t)w[0] << 32) | w[1], ((uint64_t)w[2] << 32) | w[3]};
}

int lcfm_sampler_is_validation(const lcfm_sampler *s, int64_t source) {
  return lcfm_rng_uniform(s->seed, LCFM_STREAM_TRAIN_SPLIT, (uint64_t)source) <
         s->validation_fraction;
}

/* 1 when object `row` is among the selected fields (sorted rows: a binary search). */
static int is_selected(const lcfm_sampler *s, int64_t row) {
  if (!s->selected) return 1;
  int64_t lo = 0, hi = s->selected_count;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (s->selected[mid] < row) lo = mid + 1;
    else hi = mid;
  }
  return lo < s->selected_count && s->selected[lo] == row;
}

/* The partner of `a` from its own source under another instrument, picked by the STAR stream;
 * 0 when its source has none. */
static int pick_same_source(const lcfm_sampler *s, const lcfm_index_object *a, uint64_t index,
                            lcfm_index_object *out) {
  int64_t first, end;
  if (!lcfm_store_index_source_group(s->index, a->source, &first, &end)) return 0;
  int64_t n = end - first, candidates = 0;
  int64_t *rows = lcfm_malloc((size_t)(n ? n : 1) * sizeof *rows);
  lcfm_index_object *group = lcfm_malloc((size_t)(n ? n : 1) * sizeof *group);
  lcfm_store_index_read_by_source(s->index, first, n, rows);
  lcfm_store_index_objects_at(s->index, rows, n, group);
  for (int64_t i = 0; i < n; i++)
    candidates += group[i].instrument != a->instrument && is_selected(s, group[i].row);
  if (candidates) {
    int64_t j =
        (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_TRAIN_STAR, index, (uint64_t)candidates);
    for (int64_t i = 0; i < n; i++)
      if (group[i].instrument != a->instrument && is_selected(s, group[i].row) && j-- == 0)
        *out = group[i];
  }
  free(rows), free(group);
  return candidates > 0;
}

/* An object of a's instrument from another source of the same split: PARTNER_TRIES keyed tries,
 * keyed by the anchor try too (with one key per draw, every anchor of an instrument would probe the
 * same PARTNER_TRIES places and a small split could miss them all); 0 when none finds one. */
static int pick_same_instrument(const lcfm_sampler *s, const lcfm_index_object *a, int split,
                                uint64_t key, int64_t anchor_try, lcfm_index_object *out) {
  int64_t first, end;
  lcfm_store_index_instrument_group(s->index, a->instrument, &first, &end);
  if (end - first < 2) return 0;
  /* With a selection, tries come from the smaller pool (the instrument's group or the selected
   * rows) and test membership of the other: the likelier of the two to find one. */
  int from_selection = s->selected && s->selected_count < end - first;
  int64_t pool = from_selection ? s->selected_count : end - first;
  for (uint64_t attempt = 0; attempt < PARTNER_TRIES; attempt++) {
    uint64_t counter = (uint64_t)anchor_try * PARTNER_TRIES + attempt;
    int64_t row,
        at = (int64_t)lcfm_rng_below(key, LCFM_STREAM_TRAIN_INSTR_TRY, counter, (uint64_t)pool);
    if (from_selection) {
      row = s->selected[at];
      lcfm_store_index_object(s->index, row, out);
      if (out->instrument != a->instrument) continue;
    } else {
      lcfm_store_index_read_by_instrument(s->index, first + at, 1, &row);
      if (!is_selected(s, row)) continue;
    }
    int64_t source = lcfm_store_index_source(s->index, row);
    if (source != a->source && lcfm_sampler_is_validation(s, source) == split) {
      lcfm_store_index_object(s->index, row, out);
      return 1;
    }
  }
  return 0;
}

/* Draw `index` of the split: tries anchors until one forms a triplet; 0 after `tries` tries. */
static int find_triplet(const lcfm_sampler *s, int split, uint64_t index, int64_t tries,
                        lcfm_triplet *t) {
  draw_keys k = keys_of(s->seed, index);
  for (int64_t attempt = 0; attempt < tries; attempt++) {
    /* Anchors: uniform over the selected objects (all of them without a selection). */
    int64_t a =
        (int64_t)lcfm_rng_below(k.anchor_key, LCFM_STREAM_TRAIN_ANCHOR_TRY, (uint64_t)attempt,
                                (uint64_t)(s->selected ? s->selected_count : s->object_count));
    if (s->selected) a = s->selected[a];
    lcfm_index_object *m = t->member;
    /* The split needs only the source: most rejected tries (another split) cost one read. */
    if (lcfm_sampler_is_validation(s, lcfm_store_index_source(s->index, a)) != split) continue;
    lcfm_store_index_object(s->index, a, &m[0]);
    if (pick_same_source(s, &m[0], index, &m[1]) &&
        pick_same_instrument(s, &m[0], split, k.partner_key, attempt, &m[2]))
      return 1;
  }
  return 0;
}

/* Why no triplet of `split` was found, with the store's shape. */
static void explain_no_triplet(const lcfm_sampler *s, int split, char *why, size_t why_len) {
  if (split == 0)
    snprintf(
        why, why_len,
        "no training triplet can be formed (none in %d keyed tries): %lld objects, %lld sources, %lld instruments; a "
        "triplet needs a source seen by two instruments, one of which also sees another training source",
        ANCHOR_TRIES, (long long)s->object_count, (long long)s->source_count,
        (long long)s->instrument_count);
  else /* Validation drives early stopping and the best checkpoint: training without it cannot pick one. */
    snprintf(
        why, why_len,
        "no validation triplet can be formed (none in %d keyed tries): validation_fraction %g of %lld sources held out and "
        "none of their objects could anchor a triplet; raise [train] validation_fraction or use a larger store",
        ANCHOR_TRIES, s->validation_fraction, (long long)s->source_count);
}

int lcfm_sampler_init(lcfm_sampler *s, const char *path, const lcfm_fields *fields, uint64_t seed,
                      double validation_fraction, char *why, size_t why_len) {
  memset(s, 0, sizeof *s);
  s->index = lcfm_store_index_open(path, why, why_len);
  if (!s->index) return 1;
  s->usage = lcfm_calloc(1, sizeof *s->usage);
  s->seed = seed;
  s->validation_fraction = validation_fraction;
  s->object_count = lcfm_store_index_objects(s->index);
  s->source_count = lcfm_store_index_sources(s->index);
  s->instrument_count = lcfm_store_index_instruments(s->index);
  if (fields && !lcfm_fields_all(fields)) {
    s->selected = lcfm_store_index_select_fields(s->index, fields, &s->selected_count);
    if (s->selected_count == 0) {
      snprintf(why, why_len, "%s: no object lies in the selected fields ([train] fields)", path);
      lcfm_sampler_free(s);
      return 1;
    }
  }
  for (int split = 0; split < 2; split++) {
    lcfm_triplet t;
    if (s->object_count == 0 ||
        !find_triplet(s, split, draw_index(split, 0, 0), ANCHOR_TRIES, &t)) {
      explain_no_triplet(s, split, why, why_len);
      lcfm_sampler_free(s);
      return 1;
    }
  }
  return 0;
}

void lcfm_sampler_free(lcfm_sampler *s) {
  lcfm_store_index_close(s->index);
  free(s->usage), free(s->selected);
  memset(s, 0, sizeof *s);
}

lcfm_triplet lcfm_sampler_draw(const lcfm_sampler *s, int split, int64_t step, int64_t slot) {
  lcfm_triplet t;
  if (!find_triplet(s, split, draw_index(split, step, slot), ANCHOR_TRIES, &t))
    LCFM_FATAL(
        "no %s triplet found in %d keyed tries for step %lld, slot %lld (eligible anchors are too rare in "
        "this store)",
        split ? "validation" : "training", ANCHOR_TRIES, (long long)step, (long long)slot);
  return t;
}

int64_t lcfm_sampler_window_start(const lcfm_sampler *s, int split, int64_t step, int64_t slot,
                                  int member, int64_t length, int T) {
  int64_t spare = length - T;
  if (split || spare <= 0) return 0;
  return (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_TRAIN_WINDOW,
                                 draw_index(split, step, slot) * 3 + (uint64_t)member,
                                 (uint64_t)spare + 1);
}

void lcfm_sampler_read_window(const lcfm_sampler *s, const lcfm_index_object *o, int64_t start,
                              int T, float *times, float *values, float *mask) {
  int64_t length = o->length;
  if (start > length - T) start = length - T;
  if (start < 0) start = 0;
  int64_t n = length - start < T ? length - start : T;
  double *t = lcfm_malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
  lcfm_store_index_read_points(s->index, o->offset + start, n, t, values);
  for (int64_t i = 0; i < n; i++) {
    times[i] = (float)(t[i] - t[0]);
    mask[i] = 1.0f;
  }
  for (int64_t i = n; i < T; i++) times[i] = values[i] = mask[i] = 0.0f;
  free(t);
}
