/* curves.c: a whole store in memory, and cutting windows from it: the reference the tests hold
 * the on-demand readers to (see train.h). */
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/store.h"
#include "lcfm/train.h"

int lcfm_curves_load(lcfm_curves *c, MPI_Comm comm, const char *path, char *why, size_t why_len) {
  memset(c, 0, sizeof *c);
  lcfm_store *s = lcfm_store_open(comm, path, why, why_len);
  if (!s) return 1;
  int64_t n = lcfm_store_object_count(s), points = lcfm_store_point_count(s);
  c->count = n;
  size_t rows = (size_t)(n ? n : 1), pts = (size_t)(points ? points : 1);
  c->source = lcfm_malloc(rows * sizeof *c->source),
  c->offset = lcfm_malloc(rows * sizeof *c->offset);
  c->instrument = lcfm_malloc(rows * sizeof *c->instrument),
  c->length = lcfm_malloc(rows * sizeof *c->length);
  c->label = lcfm_malloc(rows * sizeof *c->label);
  c->time = lcfm_malloc(pts * sizeof *c->time), c->value = lcfm_malloc(pts * sizeof *c->value);
  c->error = lcfm_malloc(pts * sizeof *c->error);
  lcfm_store_cursor cursor;
  lcfm_store_cursor_begin(&cursor, s, 0, n, 4096);
  int64_t at = 0, point_at = 0;
  while (lcfm_store_cursor_next(&cursor)) {
    const lcfm_object_batch *b = &cursor.batch;
    for (int64_t i = 0; i < b->count; i++, at++) {
      c->source[at] = b->source[i], c->instrument[at] = b->instrument[i],
      c->length[at] = b->length[i];
      c->label[at] = b->label[i], c->offset[at] = point_at + (b->offset[i] - b->offset[0]);
    }
    memcpy(c->time + point_at, b->time, (size_t)b->point_count * sizeof *c->time);
    memcpy(c->value + point_at, b->value, (size_t)b->point_count * sizeof *c->value);
    memcpy(c->error + point_at, b->error, (size_t)b->point_count * sizeof *c->error);
    point_at += b->point_count;
  }
  lcfm_store_cursor_end(&cursor);
  lcfm_store_free(s);
  return 0;
}

void lcfm_curves_free(lcfm_curves *c) {
  free(c->source), free(c->offset), free(c->instrument), free(c->length), free(c->label);
  free(c->time), free(c->value), free(c->error);
  memset(c, 0, sizeof *c);
}

void lcfm_curves_window(const lcfm_curves *c, int64_t object, int64_t start, int T, float *times,
                        float *values, float *mask) {
  int64_t length = c->length[object];
  if (start > length - T) start = length - T;
  if (start < 0) start = 0;
  const double *t = c->time + c->offset[object] + start;
  const float *v = c->value + c->offset[object] + start;
  int64_t n = length - start < T ? length - start : T;
  for (int64_t i = 0; i < n; i++) {
    times[i] = (float)(t[i] - t[0]);
    values[i] = v[i];
    mask[i] = 1.0f;
  }
  for (int64_t i = n; i < T; i++) times[i] = values[i] = mask[i] = 0.0f;
}
