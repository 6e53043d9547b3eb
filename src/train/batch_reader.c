/* batch_reader.c: a rank's part of a batch, read on demand through the store's index: for each
 * of its slots the triplet's three objects and their windows (see train.h, trainer.h). */
#include <stdio.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/store_index.h"
#include "lcfm/train.h"
#include "lcfm/trainer.h"

void lcfm_train_assemble(lcfm_batch_rows *b, const lcfm_sampler *s, int split, int64_t step,
                         int64_t first, int64_t count, int T) {
  int64_t bytes_before = lcfm_store_index_bytes_read(s->index);
  double started = lcfm_wtime();
  b->rows = (int)(3 * count);
  for (int64_t i = 0; i < count; i++) {
    lcfm_triplet t = lcfm_sampler_draw(s, split, step, first + i);
    for (int k = 0; k < 3; k++) {
      const lcfm_index_object *o = &t.member[k];
      int64_t row = 3 * i + k;
      int64_t start = lcfm_sampler_window_start(s, split, step, first + i, k, o->length, T);
      lcfm_sampler_read_window(s, o, start, T, b->times + row * T, b->values + row * T,
                               b->mask + row * T);
      b->source[row] = o->source;
      b->instrument[row] = o->instrument;
    }
  }
  s->usage->bytes[split ? 1 : 0] += lcfm_store_index_bytes_read(s->index) - bytes_before;
  s->usage->seconds[split ? 1 : 0] += lcfm_wtime() - started;
  s->usage->batches[split ? 1 : 0]++;
}

int lcfm_train_data_open(MPI_Comm comm, const char *path, lcfm_sampler *s, uint64_t seed,
                         double validation_fraction, char *why, size_t why_len) {
  return lcfm_train_data_open_fields(comm, path, "", s, seed, validation_fraction, why, why_len);
}

int lcfm_train_data_open_fields(MPI_Comm comm, const char *path, const char *fields,
                                lcfm_sampler *s, uint64_t seed, double validation_fraction,
                                char *why, size_t why_len) {
  lcfm_fields selection;
  if (lcfm_fields_parse(fields, &selection, why, why_len))
    return 1; /* checked at job load: not reached from a job */
  lcfm_store *store =
      lcfm_store_open(comm, path, why, why_len); /* every invariant checked, collectively */
  int failed = store == NULL;
  lcfm_store_free(store);
  if (!failed)
    failed = lcfm_sampler_init(s, path, &selection, seed, validation_fraction, why, why_len);
  lcfm_fields_free(&selection);
  int any = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, comm));
  if (any) {
    if (!failed) lcfm_sampler_free(s);
    if (!failed) snprintf(why, why_len, "%s: another rank could not open the store's index", path);
    return 1;
  }
  if (s->selected)
    lcfm_log("train on fields %s: %lld of the store's objects", fields,
             (long long)s->selected_count);
  lcfm_log("train %s: %lld objects, %lld sources, %lld instruments; read through %s", path,
           (long long)s->object_count, (long long)s->source_count, (long long)s->instrument_count,
           lcfm_store_index_on_disk(s->index)
               ? "the store's /index"
               : "an index built in memory (the store has no /index)");
  return 0;
}

void lcfm_train_data_report(MPI_Comm comm, const lcfm_sampler *s) {
  double mine[4] = {0, 0, 0, 0}, most[4];
  for (int split = 0; split < 2; split++)
    if (s->usage->batches[split]) {
      mine[split] = (double)s->usage->bytes[split] / (double)s->usage->batches[split];
      mine[2 + split] = s->usage->seconds[split] / (double)s->usage->batches[split];
    }
  LCFM_CHECK_MPI(MPI_Allreduce(mine, most, 4, MPI_DOUBLE, MPI_MAX, comm));
  lcfm_log(
      "data read per rank (the most of any rank): %.1f KiB in %.1f ms per training step, %.1f KiB in %.1f ms per "
      "validation batch",
      most[0] / 1024, 1e3 * most[2], most[1] / 1024, 1e3 * most[3]);
}
