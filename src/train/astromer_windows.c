/* astromer_windows.c: the windows of an Astromer 2 training run: keyed draws of training and
 * validation windows from the stores, and the held-out windows of the final score (see
 * astromer_train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/astromer_train.h"
#include "lcfm/error.h"
#include "lcfm/rng.h"

#define VALIDATION_DRAWS (1ull << 62) /* validation window j is draw 2^62 + j */
enum { DRAW_TRIES = 1 << 16 };        /* tries per draw before it is declared impossible */

static uint64_t training_draw(int64_t step, int64_t slot) {
  return (uint64_t)step * (1ull << 24) + (uint64_t)slot; /* slots per step < 2^24 */
}

int lcfm_window_sampler_is_validation(const lcfm_window_sampler *s, int64_t source) {
  return lcfm_rng_uniform(s->seed, LCFM_STREAM_TRAIN_SPLIT, (uint64_t)source) <
         s->validation_fraction;
}

/* Objects with points of `split` for the draws index[0..count), all at once by keyed rejection
 * sampling over the N rows of the list: each round reads the rows of the draws still open (one
 * read per column). Returns how many draws found none in `tries` rounds. */
static int64_t draw_objects(const lcfm_window_sampler *s, int split, const uint64_t *index,
                            int64_t count, int64_t tries, lcfm_index_object *out) {
  if (count <= 0 || s->objects == 0) return count > 0 ? count : 0;
  uint64_t *key = lcfm_malloc((size_t)count * sizeof *key);
  int64_t *open = lcfm_malloc((size_t)count * sizeof *open),
          *rows = lcfm_malloc((size_t)count * sizeof *rows);
  lcfm_index_object *got = lcfm_malloc((size_t)count * sizeof *got);
  for (int64_t i = 0; i < count; i++) {
    uint32_t w[4];
    lcfm_rng_block(s->seed, LCFM_STREAM_ASTRO_DRAW_KEY, index[i], w);
    key[i] = ((uint64_t)w[0] << 32) | w[1], open[i] = i;
  }
  int64_t left = count;
  for (int64_t attempt = 0; attempt < tries && left > 0; attempt++) {
    for (int64_t j = 0; j < left; j++)
      rows[j] = (int64_t)lcfm_rng_below(key[open[j]], LCFM_STREAM_ASTRO_OBJECT_TRY,
                                        (uint64_t)attempt, (uint64_t)s->objects);
    lcfm_astro_stores_objects_at(s->stores, rows, left, got);
    int64_t still = 0;
    for (int64_t j = 0; j < left; j++) {
      if (got[j].length > 0 && lcfm_window_sampler_is_validation(s, got[j].source) == split)
        out[open[j]] = got[j];
      else open[still++] = open[j];
    }
    left = still;
  }
  free(key), free(open), free(rows), free(got);
  return left;
}

int lcfm_window_sampler_init(lcfm_window_sampler *s, lcfm_astro_stores *stores, uint64_t seed,
                             double validation_fraction, int T, const lcfm_probing *probing,
                             int64_t validation_windows, char *why, size_t why_len) {
  memset(s, 0, sizeof *s);
  s->stores = stores, s->seed = seed, s->T = T, s->probing = *probing,
  s->validation_fraction = validation_fraction;
  s->objects = lcfm_astro_stores_objects(stores);
  s->time = lcfm_malloc((size_t)T * sizeof *s->time);
  s->value = lcfm_malloc((size_t)T * sizeof *s->value),
  s->error = lcfm_malloc((size_t)T * sizeof *s->error);
  lcfm_index_object o;
  uint64_t first[2] = {training_draw(0, 0), VALIDATION_DRAWS};
  if (draw_objects(s, 0, &first[0], 1, DRAW_TRIES, &o)) {
    snprintf(
        why, why_len,
        "no training light curve: none in %d keyed tries over %lld objects (an object needs points "
        "and a source not held out; validation_fraction %g)",
        DRAW_TRIES, (long long)s->objects, validation_fraction);
    lcfm_window_sampler_free(s);
    return 1;
  }
  s->eval_count = draw_objects(s, 1, &first[1], 1, DRAW_TRIES, &o) ? 0 : validation_windows;
  return 0;
}

void lcfm_window_sampler_free(lcfm_window_sampler *s) {
  free(s->time), free(s->value), free(s->error);
  memset(s, 0, sizeof *s);
}

static void no_draw(const char *what, int64_t failed) {
  LCFM_FATAL(
      "%lld %s windows found no object in %d keyed tries (eligible objects are too rare in these stores)",
      (long long)failed, what, DRAW_TRIES);
}

void lcfm_window_sampler_draw(const lcfm_window_sampler *s, int64_t step, int64_t first,
                              int64_t count, lcfm_index_object *objects, int64_t *starts) {
  if (count <= 0) return;
  uint64_t *index = lcfm_malloc((size_t)count * sizeof *index);
  for (int64_t i = 0; i < count; i++) index[i] = training_draw(step, first + i);
  int64_t failed = draw_objects(s, 0, index, count, DRAW_TRIES, objects);
  if (failed) no_draw("training", failed);
  for (int64_t i = 0; i < count; i++) {
    int64_t spare = objects[i].length - s->T;
    starts[i] = spare > 0 ? (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_ASTRO_START, index[i],
                                                    (uint64_t)spare + 1)
                          : 0;
  }
  free(index);
}

void lcfm_window_sampler_eval_draw(const lcfm_window_sampler *s, int64_t first, int64_t count,
                                   lcfm_index_object *objects, int64_t *starts) {
  LCFM_CHECK(first >= 0 && first + count <= s->eval_count,
             "astromer: validation windows %lld..%lld of %lld", (long long)first,
             (long long)(first + count), (long long)s->eval_count);
  if (count <= 0) return;
  uint64_t *index = lcfm_malloc((size_t)count * sizeof *index);
  for (int64_t i = 0; i < count; i++) index[i] = VALIDATION_DRAWS + (uint64_t)(first + i);
  int64_t failed = draw_objects(s, 1, index, count, DRAW_TRIES, objects);
  if (failed) no_draw("validation", failed);
  for (int64_t i = 0; i < count;
       i++) { /* one of the object's consecutive windows [0, T), [T, 2T), ... */
    uint64_t windows = (uint64_t)((objects[i].length + s->T - 1) / s->T);
    starts[i] = s->T * (int64_t)lcfm_rng_below(s->seed, LCFM_STREAM_ASTRO_EVAL_WINDOW,
                                               (uint64_t)(first + i), windows);
  }
  free(index);
}

/* Row `row` of b: object o's window from `start`, read from the stores and probed. */
static void fill_row(const lcfm_window_sampler *s, lcfm_masked_batch *b, int row,
                     const lcfm_index_object *o, int64_t start, uint32_t stream, uint64_t key) {
  int64_t left = o->length - start;
  int n = (int)(left < s->T ? left : s->T);
  lcfm_astro_stores_read_points(s->stores, o->offset + start, n, s->time, s->value, s->error);
  lcfm_astromer2_window(b, row, s->time, s->value, s->error, n, &s->probing, s->seed, stream, key);
  b->object[row] = o->row;
}

void lcfm_window_sampler_train(const lcfm_window_sampler *s, lcfm_masked_batch *b, int64_t step,
                               int64_t slots, int64_t first, int64_t count) {
  LCFM_CHECK(count <= b->capacity, "astromer: %lld windows exceed the batch of %d",
             (long long)count, b->capacity);
  b->rows = (int)count;
  lcfm_index_object *objects = lcfm_malloc((size_t)(count > 0 ? count : 1) * sizeof *objects);
  int64_t *starts = lcfm_malloc((size_t)(count > 0 ? count : 1) * sizeof *starts);
  lcfm_window_sampler_draw(s, step, first, count, objects, starts);
  for (int64_t i = 0; i < count; i++) /* probing keyed by k B + i */
    fill_row(s, b, (int)i, &objects[i], starts[i], LCFM_STREAM_ASTRO_PROBE,
             (uint64_t)(step * slots + first + i));
  free(objects), free(starts);
}

void lcfm_window_sampler_eval(const lcfm_window_sampler *s, lcfm_masked_batch *b, int64_t first,
                              int64_t count) {
  LCFM_CHECK(count <= b->capacity, "astromer: %lld windows exceed the batch of %d",
             (long long)count, b->capacity);
  b->rows = (int)count;
  lcfm_index_object *objects = lcfm_malloc((size_t)(count > 0 ? count : 1) * sizeof *objects);
  int64_t *starts = lcfm_malloc((size_t)(count > 0 ? count : 1) * sizeof *starts);
  lcfm_window_sampler_eval_draw(s, first, count, objects, starts);
  for (int64_t i = 0; i < count; i++)
    fill_row(s, b, (int)i, &objects[i], starts[i], LCFM_STREAM_ASTRO_EVAL_PROBE,
             (uint64_t)(first + i));
  free(objects), free(starts);
}

/* ---- every held-out window, in blocks of rows ---- */

void lcfm_held_out_windows_begin(lcfm_held_out_windows *w, int64_t first, int64_t count) {
  memset(w, 0, sizeof *w);
  w->next = first, w->end = first + count;
  w->block = lcfm_malloc(LCFM_ASTRO_SCORE_BLOCK * sizeof *w->block);
}

void lcfm_held_out_windows_end(lcfm_held_out_windows *w) {
  free(w->block);
  memset(w, 0, sizeof *w);
}

/* Reads the next block of rows, keeping the held-out objects with points; 0 at the end. */
static int next_block(const lcfm_window_sampler *s, lcfm_held_out_windows *w) {
  int64_t rows[LCFM_ASTRO_SCORE_BLOCK];
  while (w->next < w->end) {
    int64_t n = w->end - w->next < LCFM_ASTRO_SCORE_BLOCK ? w->end - w->next
                                                          : LCFM_ASTRO_SCORE_BLOCK,
            kept = 0;
    for (int64_t i = 0; i < n; i++) rows[i] = w->next + i;
    w->next += n;
    lcfm_astro_stores_objects_at(s->stores, rows, n, w->block);
    for (int64_t i = 0; i < n; i++)
      if (w->block[i].length > 0 && lcfm_window_sampler_is_validation(s, w->block[i].source))
        w->block[kept++] = w->block[i];
    w->at = 0, w->filled = kept, w->start = 0, w->objects += kept;
    if (kept) return 1;
  }
  return 0;
}

int lcfm_window_sampler_held_out(const lcfm_window_sampler *s, lcfm_held_out_windows *w,
                                 lcfm_masked_batch *b) {
  b->rows = 0;
  while (b->rows < b->capacity) {
    if (w->at == w->filled && !next_block(s, w)) break;
    const lcfm_index_object *o = &w->block[w->at];
    /* Keyed by the window's first point in the list: the same probing whatever the rank count. */
    fill_row(s, b, b->rows++, o, w->start, LCFM_STREAM_ASTRO_SCORE_PROBE,
             (uint64_t)(o->offset + w->start));
    w->start += s->T;
    if (w->start >= o->length) w->at++, w->start = 0;
  }
  return b->rows > 0;
}
