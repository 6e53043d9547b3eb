/* ingest.c: `lcfm ingest`: survey files -> one store, in two passes over each rank's files.
 *
 * Pass 1 reads every file of the rank's slice to count objects and points, to collect the
 * instrument configurations and the rejects. The ranks then agree on one instrument table,
 * on their places in the store (MPI_Exscan) and on the number of collective writes. Pass 2
 * reads the files again and writes the objects in blocks of at most block_objects objects and
 * block_points points. Reading twice keeps the light curves out of memory (only an 80-byte key
 * per object is kept, and gathered to find duplicates: duplicates.h) and makes the store
 * identical whatever the rank count (objects and rejects follow the sorted file list). */
#include <stdlib.h>
#include <string.h>

#include "duplicates.h"
#include "lcfm/log.h"
#include "lcfm/store_index.h"
#include "lcfm/survey.h"

int lcfm_ingest_options_from_job(lcfm_ingest_options *o, const lcfm_job *job) {
  memset(o, 0, sizeof *o);
  const char *flux = lcfm_job_string(job, "ingest", "flux");
  int problems = 0;
  if (!strcmp(flux, "pdcsap")) o->flux = LCFM_FLUX_PDCSAP;
  else if (!strcmp(flux, "sap")) o->flux = LCFM_FLUX_SAP;
  else {
    lcfm_job_error(job, "ingest", "flux", "'%s' is neither pdcsap nor sap", flux);
    problems++;
  }
  o->quality_mask = (int32_t)lcfm_job_int(job, "ingest", "quality_mask");
  o->min_points = lcfm_job_int(job, "ingest", "min_points");
  o->block_objects = lcfm_job_int(job, "ingest", "block_objects");
  o->block_points = lcfm_job_int(job, "ingest", "block_points");
  return problems;
}

/* Whether an object of `length` points starts a new collective write after a batch holding
 * `objects` objects and `points` points: both passes cut the batches with this rule, so pass 1
 * knows how many writes pass 2 makes. */
static int starts_new_batch(const lcfm_ingest_options *o, int64_t objects, int64_t points, int64_t length) {
  return objects > 0 && (objects == o->block_objects || points + length > o->block_points);
}

/* ---- pass 1: counting ---- */

typedef struct {
  const lcfm_ingest_options *options;
  int64_t file; /* index in the sorted list of the file being read */
  int64_t objects, points;
  int64_t batches, batch_objects, batch_points; /* pass 2's batches, cut while counting */
  lcfm_object_key *keys; /* every object read, in order (duplicates marked after pass 1) */
  int32_t *instrument_of; /* per key: its row of `instruments` */
  int64_t key_count, key_capacity;
  lcfm_instrument *instruments; /* distinct configurations seen by this rank */
  int64_t instrument_count, instrument_capacity;
  lcfm_reject *rejects;
  int64_t *reject_file; /* per reject: the file it came from, to keep rejects in file order */
  int64_t reject_count, reject_capacity;
} tally;

/* realloc to `count` items of `size` bytes, or a failure naming what was collected. */
static void *resize(void *array, int64_t count, size_t size, const char *what) {
  void *grown = realloc(array, (size_t)count * size);
  LCFM_CHECK(grown, "out of memory collecting %s (%lld)", what, (long long)count);
  return grown;
}

static int same_configuration(const lcfm_instrument *a, const lcfm_instrument *b) {
  return a->survey == b->survey && a->season == b->season && a->unit == b->unit && a->subunit == b->subunit &&
         a->band == b->band;
}

static int compare_configurations(const void *pa, const void *pb) {
  const lcfm_instrument *a = pa, *b = pb;
  const int32_t ka[5] = {a->survey, a->season, a->unit, a->subunit, a->band};
  const int32_t kb[5] = {b->survey, b->season, b->unit, b->subunit, b->band};
  for (int i = 0; i < 5; i++)
    if (ka[i] != kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

/* Pass 1 only records the object: whether it is counted depends on the other ranks' files. */
static void record_object(void *user, const lcfm_survey_object *object) {
  tally *t = user;
  if (t->key_count == t->key_capacity) {
    t->key_capacity = t->key_capacity ? 2 * t->key_capacity : 64;
    t->keys = resize(t->keys, t->key_capacity, sizeof *t->keys, "object keys");
    t->instrument_of = resize(t->instrument_of, t->key_capacity, sizeof *t->instrument_of, "object keys");
  }
  lcfm_object_key_make(&t->keys[t->key_count], object, t->file);
  int64_t row = 0;
  while (row < t->instrument_count && !same_configuration(&t->instruments[row], &object->instrument)) row++;
  if (row == t->instrument_count) {
    if (t->instrument_count == t->instrument_capacity) {
      t->instrument_capacity = t->instrument_capacity ? 2 * t->instrument_capacity : 16;
      t->instruments = resize(t->instruments, t->instrument_capacity, sizeof *t->instruments, "instruments");
    }
    t->instruments[t->instrument_count++] = object->instrument;
  }
  t->instrument_of[t->key_count++] = (int32_t)row;
}

static void keep_reject(void *user, const lcfm_reject *reject) {
  tally *t = user;
  if (t->reject_count == t->reject_capacity) {
    t->reject_capacity = t->reject_capacity ? 2 * t->reject_capacity : 64;
    t->rejects = resize(t->rejects, t->reject_capacity, sizeof *t->rejects, "rejects");
    t->reject_file = resize(t->reject_file, t->reject_capacity, sizeof *t->reject_file, "rejects");
  }
  t->reject_file[t->reject_count] = t->file;
  t->rejects[t->reject_count++] = *reject;
}

/* A duplicate found after pass 1 is a reject of the file it was read from. */
static void keep_duplicate(void *user, const lcfm_object_key *key, const lcfm_reject *reject) {
  tally *t = user;
  t->file = key->file;
  keep_reject(user, reject);
}

typedef struct {
  int64_t file, sequence;
} reject_order;

static int compare_reject_order(const void *pa, const void *pb) {
  const reject_order *a = pa, *b = pb;
  if (a->file != b->file) return a->file < b->file ? -1 : 1;
  return (a->sequence > b->sequence) - (a->sequence < b->sequence);
}

/* Rejects in file order (duplicates were appended after every file's own rejects), so /rejects
 * does not depend on the rank count. */
static void sort_rejects(tally *t) {
  int64_t n = t->reject_count;
  reject_order *order = lcfm_malloc((size_t)(n ? n : 1) * sizeof *order);
  for (int64_t i = 0; i < n; i++) order[i] = (reject_order){t->reject_file[i], i};
  qsort(order, (size_t)n, sizeof *order, compare_reject_order);
  lcfm_reject *sorted = lcfm_malloc((size_t)(n ? n : 1) * sizeof *sorted);
  for (int64_t i = 0; i < n; i++) {
    sorted[i] = t->rejects[order[i].sequence];
    t->reject_file[i] = order[i].file;
  }
  free(t->rejects);
  t->rejects = sorted;
  t->reject_capacity = n; /* the arrays now hold n rows at most (reject_file keeps its size) */
  free(order);
}

/* After the duplicates are known: the objects, points and batches pass 2 will write, and only
 * the instrument configurations those objects use. */
static void count_kept_objects(tally *t) {
  char *used = lcfm_calloc((size_t)(t->instrument_count ? t->instrument_count : 1), 1);
  for (int64_t i = 0; i < t->key_count; i++) {
    if (t->keys[i].duplicate_of >= 0) continue;
    int64_t length = t->keys[i].length;
    t->objects++;
    t->points += length;
    if (starts_new_batch(t->options, t->batch_objects, t->batch_points, length))
      t->batches++, t->batch_objects = 0, t->batch_points = 0;
    t->batch_objects++, t->batch_points += length;
    used[t->instrument_of[i]] = 1;
  }
  int64_t kept = 0;
  for (int64_t row = 0; row < t->instrument_count; row++)
    if (used[row]) t->instruments[kept++] = t->instruments[row];
  t->instrument_count = kept;
  free(used);
}

static void free_tally(tally *t) {
  free(t->keys), free(t->instrument_of), free(t->instruments), free(t->rejects), free(t->reject_file);
}

/* ---- the global instrument table ---- */

/* Every rank's configurations, gathered, sorted and made unique: the same table on all ranks. */
static lcfm_instrument *agree_on_instruments(MPI_Comm comm, const tally *t, int64_t *count) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  int mine = (int)(t->instrument_count * (int64_t)sizeof(lcfm_instrument));
  int *bytes = lcfm_malloc((size_t)ranks * sizeof *bytes), *displs = lcfm_malloc((size_t)ranks * sizeof *displs);
  LCFM_CHECK_MPI(MPI_Allgather(&mine, 1, MPI_INT, bytes, 1, MPI_INT, comm));
  int total = 0;
  for (int r = 0; r < ranks; r++) displs[r] = total, total += bytes[r];
  lcfm_instrument *all = lcfm_malloc((size_t)total + 1);
  LCFM_CHECK_MPI(MPI_Allgatherv(t->instruments, mine, MPI_BYTE, all, bytes, displs, MPI_BYTE, comm));
  int64_t n = total / (int64_t)sizeof(lcfm_instrument), unique = 0;
  qsort(all, (size_t)n, sizeof *all, compare_configurations);
  for (int64_t i = 0; i < n; i++)
    if (unique == 0 || compare_configurations(&all[unique - 1], &all[i])) all[unique++] = all[i];
  for (int64_t i = 0; i < unique; i++) all[i].id = (int32_t)i;
  free(bytes), free(displs);
  *count = unique;
  return all;
}

static int32_t instrument_id(const lcfm_instrument *table, int64_t count, const lcfm_instrument *key) {
  const lcfm_instrument *found = bsearch(key, table, (size_t)count, sizeof *table, compare_configurations);
  LCFM_CHECK(found, "internal: instrument %s missing from the agreed table", key->name);
  return found->id;
}

/* ---- pass 2: writing ---- */

typedef struct {
  lcfm_store_writer *writer;
  lcfm_object_batch batch;
  const lcfm_ingest_options *options;
  int64_t point_capacity, points_in_batch;
  int64_t next_id, batches_written, batches; /* batches: collective writes every rank makes */
  const lcfm_instrument *instruments;
  int64_t instrument_count;
  const lcfm_object_key *keys; /* pass 1's objects of this rank, duplicates marked */
  int64_t key_count, objects_read;
} writer_state;

static void grow_batch_points(writer_state *s, int64_t needed) {
  if (needed <= s->point_capacity) return;
  int64_t capacity = needed + needed / 2;
  if (needed <= s->options->block_points && capacity > s->options->block_points) capacity = s->options->block_points;
  lcfm_object_batch *b = &s->batch;
  b->time = realloc(b->time, (size_t)capacity * sizeof *b->time);
  b->value = realloc(b->value, (size_t)capacity * sizeof *b->value);
  b->error = realloc(b->error, (size_t)capacity * sizeof *b->error);
  LCFM_CHECK(b->time && b->value && b->error, "out of memory buffering %lld points", (long long)capacity);
  s->point_capacity = capacity;
}

static void flush_batch(writer_state *s) {
  LCFM_CHECK(s->batches_written < s->batches, "ingest: the input files changed between the two passes");
  lcfm_store_write_batch(s->writer, &s->batch);
  s->batches_written++;
  s->batch.count = 0;
  s->points_in_batch = 0;
}

/* Whether pass 2's next object is a duplicate found after pass 1 (which read the same objects
 * in the same order). */
static int is_duplicate(writer_state *s, const lcfm_survey_object *object) {
  LCFM_CHECK(s->objects_read < s->key_count && s->keys[s->objects_read].source == object->source &&
                 s->keys[s->objects_read].length == object->length,
             "ingest: the input files changed between the two passes");
  return s->keys[s->objects_read++].duplicate_of >= 0;
}

static void write_object(void *user, const lcfm_survey_object *object) {
  writer_state *s = user;
  if (is_duplicate(s, object)) return;
  lcfm_object_batch *b = &s->batch;
  if (starts_new_batch(s->options, b->count, s->points_in_batch, object->length)) flush_batch(s);
  grow_batch_points(s, s->points_in_batch + object->length);
  int64_t i = b->count++;
  b->id[i] = s->next_id++;
  b->source[i] = object->source;
  b->instrument[i] = instrument_id(s->instruments, s->instrument_count, &object->instrument);
  b->field[i] = object->field;
  b->label[i] = object->label;
  b->length[i] = (int32_t)object->length;
  memcpy(b->time + s->points_in_batch, object->time, (size_t)object->length * sizeof *b->time);
  memcpy(b->value + s->points_in_batch, object->value, (size_t)object->length * sizeof *b->value);
  memcpy(b->error + s->points_in_batch, object->error, (size_t)object->length * sizeof *b->error);
  s->points_in_batch += object->length;
}

static void ignore_reject(void *user, const lcfm_reject *reject) { (void)user, (void)reject; }

static const char *path_at(const char *paths, const int64_t *offsets, int64_t i) { return paths + offsets[i]; }

static void log_rejects(MPI_Comm comm, const tally *t) {
  enum { REASONS = 9 };
  static const char *const names[REASONS] = {"",           "unreadable", "format", "empty",    "non-finite",
                                             "time order", "parse",      "range",  "duplicate"};
  int64_t mine[REASONS] = {0}, all[REASONS];
  for (int64_t i = 0; i < t->reject_count; i++)
    if (t->rejects[i].reason > 0 && t->rejects[i].reason < REASONS) mine[t->rejects[i].reason]++;
  LCFM_CHECK_MPI(MPI_Allreduce(mine, all, REASONS, MPI_INT64_T, MPI_SUM, comm));
  for (int r = 1; r < REASONS; r++)
    if (all[r]) lcfm_log("ingest: %lld rejected (%s)", (long long)all[r], names[r]);
}

int64_t lcfm_ingest_store(MPI_Comm comm, const lcfm_ingest_options *o, const char *paths, const int64_t *offsets,
                          int64_t file_count, const char *path, const lcfm_provenance *prov) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t first_file, my_files;
  lcfm_store_shard(file_count, rank, ranks, &first_file, &my_files);

  tally t = {.options = o};
  lcfm_progress progress;
  lcfm_progress_start(&progress, "ingest pass 1 (count)", file_count);
  for (int64_t f = 0; f < my_files; f++) {
    t.file = first_file + f;
    lcfm_read_survey_file(path_at(paths, offsets, t.file), o, record_object, keep_reject, &t);
    lcfm_progress_update(&progress, (f + 1) * ranks); /* rank 0's pace stands for all */
  }
  lcfm_mark_duplicates(comm, t.keys, t.key_count, paths, offsets, keep_duplicate, &t);
  sort_rejects(&t);
  count_kept_objects(&t);
  int64_t local[3] = {t.objects, t.points, t.reject_count}, total[3];
  LCFM_CHECK_MPI(MPI_Allreduce(local, total, 3, MPI_INT64_T, MPI_SUM, comm));
  lcfm_progress_finish(&progress, file_count);
  lcfm_log("ingest: %lld files -> %lld objects, %lld points, %lld rejects", (long long)file_count,
           (long long)total[0], (long long)total[1], (long long)total[2]);
  log_rejects(comm, &t);
  if (total[0] == 0) {
    free_tally(&t);
    return 0; /* nothing could be read: the caller fails without creating the store */
  }

  int64_t instrument_count = 0;
  lcfm_instrument *instruments = agree_on_instruments(comm, &t, &instrument_count);
  int64_t first_object = 0;
  LCFM_CHECK_MPI(MPI_Exscan(&t.objects, &first_object, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) first_object = 0;
  int64_t my_batches = t.batches + (t.batch_objects > 0), batches = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&my_batches, &batches, 1, MPI_INT64_T, MPI_MAX, comm));

  writer_state s = {.options = o, .next_id = first_object, .batches = batches, .instruments = instruments,
                    .instrument_count = instrument_count, .keys = t.keys, .key_count = t.key_count};
  s.writer = lcfm_store_create(comm, path, prov, t.objects, t.points);
  lcfm_store_write_instruments(s.writer, instruments, instrument_count);
  lcfm_store_write_rejects(s.writer, t.rejects, t.reject_count);
  hid_t points = lcfm_store_group(s.writer, "/points");
  lcfm_h5_write_string_attribute(points, "time_reference",
                                 "days in the instrument's reference: add /instruments/time_zero for BJD (TESS, "
                                 "Kepler, K2) or JD (MACHO)");
  H5Gclose(points);
  lcfm_batch_alloc(&s.batch, o->block_objects, 1);
  s.point_capacity = 1;
  lcfm_progress_start(&progress, "ingest pass 2 (write)", file_count);
  for (int64_t f = 0; f < my_files; f++) {
    lcfm_read_survey_file(path_at(paths, offsets, first_file + f), o, write_object, ignore_reject, &s);
    lcfm_progress_update(&progress, (f + 1) * ranks);
  }
  if (s.batch.count > 0) flush_batch(&s);
  while (s.batches_written < batches) flush_batch(&s); /* empty writes keep the collectives in step */
  lcfm_progress_finish(&progress, file_count);
  lcfm_store_index_write(s.writer, comm, instrument_count);
  lcfm_store_close(s.writer);
  lcfm_batch_free(&s.batch);
  free(instruments);
  free_tally(&t);
  return total[0];
}
