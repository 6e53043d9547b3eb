/* ingest.c: `lcfm ingest`: survey files -> one store, decoding each file once.
 *
 * Each rank reads its slice of the sorted input list (lcfm_ingest_slice_inputs: contiguous,
 * balanced by size). The reading pass decodes every file of the slice: it records each object's
 * key (survey_duplicates.h), its metadata, and keeps its decoded points in memory while they fit in
 * [ingest] keep_mb per rank. The ranks then agree on the duplicates (keys partitioned by hash),
 * on one instrument table (with one time reference per instrument), on their places in the
 * store (MPI_Exscan) and on the number of collective writes. The writing step hands the kept
 * points to the store straight from memory (compacted and time-shifted in place first); only the
 * objects that did not fit are decoded a second time, through one block's buffer (so memory per
 * rank is bounded by keep_mb plus one block, whatever the number of files). No collective call
 * is made per file: a fixed number per ingest, and one collective write per block. The store is
 * identical whatever the rank count and keep_mb (objects and rejects follow the sorted list). */
#define _GNU_SOURCE /* madvise, preadv2 (Linux), beside the project's _XOPEN_SOURCE */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lcfm/survey_duplicates.h"
#include "lcfm/log.h"
#include "lcfm/store_index.h"
#include "lcfm/survey.h"
#include "reject.h"

int lcfm_ingest_options_from_job(lcfm_ingest_options *o, const lcfm_job *job) {
  memset(o, 0, sizeof *o);
  const lcfm_settings_ingest *s = &lcfm_job_settings(job)->ingest;
  o->flux =
      !strcmp(s->flux, "sap") ? LCFM_FLUX_SAP : LCFM_FLUX_PDCSAP; /* choices checked at load */
  o->quality_mask = (int32_t)s->quality_mask;
  o->keep_quality = s->keep_quality;
  o->min_points = s->min_points;
  o->block_objects = s->block_objects;
  o->block_points = s->block_points;
  o->keep_bytes = s->keep_mb << 20;
  return 0;
}

/* The batch being filled, as counting and writing see it: they cut the batches with the same
 * rule (next_in_batch), so the count knows how many collective writes the writing step makes. */
typedef struct {
  int64_t objects, points;
  int from_memory; /* its points are a slice of the kept arrays (written without a copy) */
} batch_cut;

/* Adds an object of `length` points to the batch *cut; returns 1 when it starts a new batch (the
 * previous one is complete). A batch holds at most block_objects objects and block_points points
 * (a longer object goes alone), and either objects kept from the reading pass (they lie one after
 * another in memory and are written from there, without a copy) or objects decoded again (copied
 * into the batch's buffer). Batches are not made larger for kept objects: a collective write of
 * many more chunks made ROMIO read the file region back before writing it (data sieving), which
 * cost more than the collective calls saved. Nor are they made larger by default than 256 Ki
 * points (4 MiB a rank, 2 MiB of times): with 1 Mi, ROMIO wrote each column's 8 MiB in one call,
 * for which the kernel takes 2 MiB page-cache folios; on a VM whose host reclaims free memory in
 * 2 MiB blocks (free page reporting), those are the blocks it reclaimed, and the write step took
 * 2.6x as long (0.37 against 0.14 s for a 278 MiB store). */
static int next_in_batch(const lcfm_ingest_options *o, batch_cut *cut, int64_t length,
                         int from_memory) {
  int starts =
      cut->objects > 0 && (cut->objects == o->block_objects || from_memory != cut->from_memory ||
                           cut->points + length > o->block_points);
  if (starts) cut->objects = 0, cut->points = 0;
  cut->objects++, cut->points += length, cut->from_memory = from_memory;
  return starts;
}

/* ---- the reading pass ---- */

/* What the reading pass learned about one object besides its key. */
typedef struct {
  int64_t kept_at; /* first point in the kept arrays, or -1: decoded again when written */
  double shift;    /* days added to its times: its time_zero minus its instrument's */
  double time_zero, ra, dec;
  float magnitude, median_flux;
  int32_t field, label;
  int32_t reference; /* row of tally.references: configuration and time reference */
  int32_t skip;      /* a duplicate, or a time reference its instrument cannot hold */
} object_record;

/* Decoded points kept from the reading pass, object after object, up to a byte budget: the
 * objects kept are the first ones read (once one does not fit, no later one is kept), so those
 * written from memory precede those decoded again. */
typedef struct {
  double *time;
  float *value, *error;
  int32_t *quality; /* NULL unless keep_quality */
  int64_t count, capacity, limit;
  int64_t prefaulted; /* points whose pages are mapped in every array */
  int full;
} kept_points;

typedef struct {
  const lcfm_ingest_options *options;
  int64_t file; /* index in the sorted list of the file being read */
  int64_t objects, points;
  int64_t batches; /* the writing step's batches, cut while counting */
  batch_cut cut;
  lcfm_object_key *keys;  /* every object read, in order (duplicates marked after the pass) */
  object_record *records; /* per key */
  int64_t key_count, key_capacity;
  /* Distinct (configuration, time reference) pairs seen by this rank, in the order first seen. */
  lcfm_instrument *references;
  int64_t reference_count, reference_capacity;
  lcfm_reject *rejects;
  int64_t *reject_file; /* per reject: the file it came from, to keep rejects in file order */
  int64_t reject_count, reject_capacity;
  int64_t notes; /* objects whose file lacked its time reference keywords */
  kept_points kept;
} tally;

static int compare_configurations(const void *pa, const void *pb) {
  const lcfm_instrument *a = pa, *b = pb;
  const int32_t ka[5] = {a->survey, a->season, a->unit, a->subunit, a->band};
  const int32_t kb[5] = {b->survey, b->season, b->unit, b->subunit, b->band};
  for (int i = 0; i < 5; i++)
    if (ka[i] != kb[i]) return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

static int same_time_system(const lcfm_instrument *a, const lcfm_instrument *b) {
  return !strcmp(a->time_scale, b->time_scale) && !strcmp(a->time_reference, b->time_reference);
}

static int same_reference(const lcfm_instrument *a, const lcfm_instrument *b) {
  return !compare_configurations(a, b) && same_time_system(a, b) && a->time_zero == b->time_zero;
}

/* The row of t->references for this object's instrument, added when new. */
static int32_t reference_row(tally *t, const lcfm_instrument *instrument) {
  int64_t row = 0;
  while (row < t->reference_count && !same_reference(&t->references[row], instrument)) row++;
  if (row == t->reference_count) {
    if (t->reference_count == t->reference_capacity) {
      t->reference_capacity = t->reference_capacity ? 2 * t->reference_capacity : 16;
      t->references =
          lcfm_realloc(t->references, (size_t)t->reference_capacity * sizeof *t->references);
    }
    t->references[t->reference_count++] = *instrument;
  }
  return (int32_t)row;
}

/* A point's quality flags where they are kept (to != NULL): the file's, or 0 where the survey
 * has none (MACHO). */
static void copy_quality(int32_t *to, const int32_t *from, int64_t n) {
  if (!to) return;
  if (from) memcpy(to, from, (size_t)n * sizeof *to);
  else memset(to, 0, (size_t)n * sizeof *to);
}

/* Maps the pages of [p, p + bytes) in one call (MADV_POPULATE_WRITE, Linux 5.14; older kernels
 * refuse it and the writes fault page by page as before). */
static void prefault(void *p, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  const uintptr_t page = 4096;
  uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1),
            end = ((uintptr_t)p + bytes) & ~(page - 1);
  if (end > start) madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
  (void)p, (void)bytes;
#endif
}

/* Maps the kept arrays' pages up to `points` (rounded up to 1 Mi points, within the capacity)
 * before they are written: the page faults of filling them one 4 KiB page at a time were a tenth
 * of the ingest's CPU time; mapping them in bulk saves about half of that. */
static void prefault_kept(kept_points *k, int64_t points) {
  if (points <= k->prefaulted) return;
  const int64_t step = 1 << 20;
  int64_t to = (points + step - 1) / step * step;
  if (to > k->capacity) to = k->capacity;
  size_t n = (size_t)(to - k->prefaulted);
  prefault(k->time + k->prefaulted, n * sizeof *k->time);
  prefault(k->value + k->prefaulted, n * sizeof *k->value);
  prefault(k->error + k->prefaulted, n * sizeof *k->error);
  k->prefaulted = to;
}

/* Makes room for n more points in the kept arrays (mapped: prefault_kept) if they fit the
 * budget; returns 1, or 0 when they do not. */
static int make_kept_room(kept_points *k, int64_t n, int keep_quality) {
  size_t per_point =
      sizeof *k->time + sizeof *k->value + sizeof *k->error + (keep_quality ? sizeof(int32_t) : 0);
  if (k->full || (k->count + n) * (int64_t)per_point > k->limit) return 0;
  if (k->count + n > k->capacity) {
    int64_t capacity = 2 * (k->count + n), most = k->limit / (int64_t)per_point;
    k->capacity = capacity < most ? capacity : most;
    k->time = lcfm_realloc(k->time, (size_t)k->capacity * sizeof *k->time);
    k->value = lcfm_realloc(k->value, (size_t)k->capacity * sizeof *k->value);
    k->error = lcfm_realloc(k->error, (size_t)k->capacity * sizeof *k->error);
    if (keep_quality)
      k->quality = lcfm_realloc(k->quality, (size_t)k->capacity * sizeof *k->quality);
  }
  prefault_kept(k, k->count + n);
  return 1;
}

/* Keeps the object's points if they fit the budget (once one object does not, no later one is
 * kept); returns where they are in the kept arrays, or -1. Points the reader decoded into the
 * room offered (offer_room) are already in place. */
static int64_t keep_points(kept_points *k, const lcfm_survey_object *object, int keep_quality) {
  int64_t n = object->length, at = k->count;
  /* A reader given room decodes all three columns there, so the times tell. */
  int in_place = k->time && object->time == k->time + at;
  if (!in_place) {
    if (!make_kept_room(k, n, keep_quality)) {
      k->full = 1;
      return -1;
    }
    memcpy(k->time + at, object->time, (size_t)n * sizeof *k->time);
    memcpy(k->value + at, object->value, (size_t)n * sizeof *k->value);
    memcpy(k->error + at, object->error, (size_t)n * sizeof *k->error);
  }
  copy_quality(keep_quality ? k->quality + at : NULL, object->quality, n);
  k->count += n;
  return at;
}

/* Room sink of the reading pass: the kept arrays' free end, when `rows` points fit the budget
 * (the reader then decodes there, and keep_points has no copy to make). */
static int offer_room(void *user, int64_t rows, lcfm_point_room *room) {
  tally *t = user;
  kept_points *k = &t->kept;
  if (!make_kept_room(k, rows, t->options->keep_quality)) return 0;
  *room = (lcfm_point_room){k->time + k->count, k->value + k->count, k->error + k->count};
  return 1;
}

/* Whether an object is stored depends on the other ranks' files: the pass only records it. */
static void record_object(void *user, const lcfm_survey_object *object) {
  tally *t = user;
  if (t->key_count == t->key_capacity) {
    t->key_capacity = t->key_capacity ? 2 * t->key_capacity : 64;
    t->keys = lcfm_realloc(t->keys, (size_t)t->key_capacity * sizeof *t->keys);
    t->records = lcfm_realloc(t->records, (size_t)t->key_capacity * sizeof *t->records);
  }
  lcfm_object_key_make(&t->keys[t->key_count], object, t->file);
  t->records[t->key_count++] =
      (object_record){.kept_at = keep_points(&t->kept, object, t->options->keep_quality),
                      .time_zero = object->time_zero,
                      .ra = object->ra,
                      .dec = object->dec,
                      .magnitude = object->magnitude,
                      .median_flux = object->median_flux,
                      .field = object->field,
                      .label = object->label,
                      .reference = reference_row(t, &object->instrument)};
  t->notes += (object->notes & LCFM_NOTE_TIME_REFERENCE) != 0;
}

static void keep_reject(void *user, const lcfm_reject *reject) {
  tally *t = user;
  if (t->reject_count == t->reject_capacity) {
    t->reject_capacity = t->reject_capacity ? 2 * t->reject_capacity : 64;
    t->rejects = lcfm_realloc(t->rejects, (size_t)t->reject_capacity * sizeof *t->rejects);
    t->reject_file =
        lcfm_realloc(t->reject_file, (size_t)t->reject_capacity * sizeof *t->reject_file);
  }
  t->reject_file[t->reject_count] = t->file;
  t->rejects[t->reject_count++] = *reject;
}

/* A duplicate found after the pass is a reject of the file it was read from. */
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

static void free_tally(tally *t) {
  free(t->keys), free(t->records), free(t->references), free(t->rejects);
  free(t->reject_file);
  free(t->kept.time), free(t->kept.value), free(t->kept.error), free(t->kept.quality);
}

/* ---- one time reference per instrument ---- */

/* Every rank's (configuration, time reference) rows in file order (ranks hold consecutive
 * slices of the sorted list, and each rank's rows are in the order first seen). */
static lcfm_instrument *gather_instruments(MPI_Comm comm, const lcfm_instrument *rows,
                                           int64_t count, int64_t *total) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  LCFM_CHECK(count <= INT32_MAX, "ingest: %lld instrument configurations on one rank",
             (long long)count);
  int mine = (int)count;
  int *counts = lcfm_malloc((size_t)ranks * sizeof *counts),
      *displs = lcfm_malloc((size_t)ranks * sizeof *displs);
  LCFM_CHECK_MPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, comm));
  int64_t sum = 0;
  for (int r = 0; r < ranks; r++) {
    LCFM_CHECK(sum + counts[r] <= INT32_MAX, "ingest: more than 2^31 instrument configurations");
    displs[r] = (int)sum, sum += counts[r];
  }
  MPI_Datatype row; /* counts in rows, not bytes */
  LCFM_CHECK_MPI(MPI_Type_contiguous((int)sizeof(lcfm_instrument), MPI_BYTE, &row));
  LCFM_CHECK_MPI(MPI_Type_commit(&row));
  lcfm_instrument *all = lcfm_malloc((size_t)(sum ? sum : 1) * sizeof *all);
  LCFM_CHECK_MPI(MPI_Allgatherv(rows, mine, row, all, counts, displs, row, comm));
  MPI_Type_free(&row);
  free(counts), free(displs);
  *total = sum;
  return all;
}

static int by_configuration_then_order(const void *pa, const void *pb) {
  int c = compare_configurations(pa, pb);
  if (c) return c;
  const lcfm_instrument *a = pa, *b = pb;
  return (a->id > b->id) - (a->id < b->id);
}

/* Sorts by configuration, keeping the gathered (file) order within one configuration, and
 * keeps the first row of each: the table of configurations with the time reference of the
 * first file that has each one. Ids are the rows' positions. */
static int64_t first_of_each_configuration(lcfm_instrument *rows, int64_t n) {
  for (int64_t i = 0; i < n; i++) rows[i].id = (int32_t)i; /* the gathered order, for ties */
  qsort(rows, (size_t)n, sizeof *rows, by_configuration_then_order);
  int64_t unique = 0;
  for (int64_t i = 0; i < n; i++)
    if (unique == 0 || compare_configurations(&rows[unique - 1], &rows[i]))
      rows[unique++] = rows[i];
  for (int64_t i = 0; i < unique; i++) rows[i].id = (int32_t)i;
  return unique;
}

static const lcfm_instrument *find_configuration(const lcfm_instrument *table, int64_t count,
                                                 const lcfm_instrument *key) {
  const lcfm_instrument *found =
      bsearch(key, table, (size_t)count, sizeof *table, compare_configurations);
  LCFM_CHECK(found, "internal: instrument %s missing from the agreed table", key->name);
  return found;
}

/* Instruments keep one time system (scale and reference) each, the one of their first file in
 * the sorted list: times in another system cannot be converted without ephemerides, so such
 * an object is a FORMAT reject. A different BJDREFI + BJDREFF is fine: the writer shifts the
 * times to the instrument's time_zero. When appending, a stored instrument's system is the one. */
static void reject_foreign_time_systems(tally *t, const lcfm_instrument *table, int64_t count,
                                        const lcfm_input_slice *files) {
  for (int64_t i = 0; i < t->key_count; i++) {
    object_record *r = &t->records[i];
    const lcfm_instrument *own = &t->references[r->reference];
    const lcfm_instrument *agreed = find_configuration(table, count, own);
    if (r->skip || t->keys[i].duplicate_of >= 0 || same_time_system(own, agreed)) continue;
    r->skip = 1;
    lcfm_reject reject;
    lcfm_fill_reject(
        &reject, lcfm_input_path(files, t->keys[i].file), LCFM_REJECT_FORMAT,
        "times are %s %s but instrument %s keeps %s %s (the store's, or its first file's): time "
        "scales cannot be mixed in one instrument (ingest this file into another store)",
        own->time_reference, own->time_scale, own->name, agreed->time_reference,
        agreed->time_scale);
    t->file = t->keys[i].file;
    keep_reject(t, &reject);
  }
}

/* After the duplicates and time systems are known: the objects, points and batches the writing
 * step will write, and which rows of the agreed table this rank uses (used[row] = 1). */
static void count_stored_objects(tally *t, const lcfm_instrument *table, int64_t count, int *used) {
  for (int64_t i = 0; i < t->key_count; i++) {
    if (t->records[i].skip || t->keys[i].duplicate_of >= 0) {
      t->records[i].skip = 1;
      continue;
    }
    int64_t length = t->keys[i].length;
    t->objects++;
    t->points += length;
    t->batches += next_in_batch(t->options, &t->cut, length, t->records[i].kept_at >= 0);
    used[find_configuration(table, count, &t->references[t->records[i].reference]) - table] = 1;
  }
}

/* Moves the points of the objects written from memory together, in order, dropping those of
 * skipped objects and of files not kept whole (decoded again), and shifts their times to their
 * instrument's time_zero: consecutive objects are then consecutive slices of the kept arrays,
 * which the writing step hands to the store without a copy. */
static void compact_kept(tally *t, const lcfm_instrument *table, int64_t count) {
  kept_points *k = &t->kept;
  int64_t to = 0;
  for (int64_t first = 0, end; first < t->key_count; first = end) {
    int whole = 1;
    for (end = first; end < t->key_count && t->keys[end].file == t->keys[first].file; end++)
      whole &= t->records[end].kept_at >= 0;
    for (int64_t i = first; i < end; i++) {
      object_record *r = &t->records[i];
      if (!whole || r->skip || t->keys[i].duplicate_of >= 0) {
        r->kept_at = -1;
        continue;
      }
      int64_t n = t->keys[i].length, from = r->kept_at;
      if (from != to) { /* to < from: moving down never overwrites what is still to move */
        memmove(k->time + to, k->time + from, (size_t)n * sizeof *k->time);
        memmove(k->value + to, k->value + from, (size_t)n * sizeof *k->value);
        memmove(k->error + to, k->error + from, (size_t)n * sizeof *k->error);
        if (k->quality) memmove(k->quality + to, k->quality + from, (size_t)n * sizeof *k->quality);
      }
      double shift =
          r->time_zero - find_configuration(table, count, &t->references[r->reference])->time_zero;
      if (shift != 0) /* BJDREF differs within the instrument */
        for (int64_t p = 0; p < n; p++) k->time[to + p] += shift;
      r->kept_at = to;
      to += n;
    }
  }
  k->count = to;
}

/* The store's instruments (appending) ahead of the gathered rows: a configuration already in
 * the store keeps the stored time reference (its new files are shifted to it, or rejected when
 * their time system differs), so an append never splits one instrument into two rows. */
static lcfm_instrument *stored_first(const lcfm_stored_keys *stored, lcfm_instrument *gathered,
                                     int64_t *n) {
  if (!stored->instrument_count) return gathered;
  size_t rows = (size_t)(stored->instrument_count + *n);
  lcfm_instrument *table = lcfm_malloc(rows * sizeof *table);
  memcpy(table, stored->instruments, (size_t)stored->instrument_count * sizeof *table);
  memcpy(table + stored->instrument_count, gathered, (size_t)*n * sizeof *table);
  free(gathered);
  *n = (int64_t)rows;
  return table;
}

/* Collective: the instrument table of the store: every configuration a stored object of any
 * rank uses, sorted, with its agreed time reference (the store's, when appending, else the first
 * file's); the same on all ranks. */
static lcfm_instrument *agree_on_instruments(MPI_Comm comm, tally *t,
                                             const lcfm_stored_keys *stored,
                                             const lcfm_input_slice *files, int64_t *count) {
  int64_t n = 0;
  lcfm_instrument *table = gather_instruments(comm, t->references, t->reference_count, &n);
  table = stored_first(stored, table, &n);
  n = first_of_each_configuration(table, n);
  reject_foreign_time_systems(t, table, n, files);
  compact_kept(t, table, n);
  int *used = lcfm_calloc((size_t)(n ? n : 1), sizeof *used);
  count_stored_objects(t, table, n, used);
  LCFM_CHECK(n <= INT32_MAX, "ingest: more than 2^31 instruments");
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, used, (int)n, MPI_INT, MPI_MAX, comm));
  int64_t kept = 0;
  for (int64_t row = 0; row < n; row++)
    if (used[row]) table[kept] = table[row], table[kept].id = (int32_t)kept, kept++;
  free(used);
  *count = kept;
  return table;
}

/* ---- the writing step ---- */

typedef struct {
  lcfm_store_writer *writer;
  lcfm_object_batch batch;
  const lcfm_ingest_options *options;
  int64_t point_capacity, points_in_batch;
  int64_t next_id, batches_written, batches; /* batches: collective writes every rank makes */
  const lcfm_instrument *instruments;
  int64_t instrument_count;
  const tally *tally;
  int64_t next_key, end_key; /* the keys of the file being decoded again */
  const lcfm_input_slice *files;
  batch_cut cut;
  int64_t view_at; /* the batch's points are the kept points from here on, or -1: in the buffer */
  double *buffer_time; /* the batch's own point buffer, while the batch points into kept arrays */
  float *buffer_value, *buffer_error;
  int32_t *buffer_quality;
} writer_state;

static void grow_batch_points(writer_state *s, int64_t needed) {
  if (needed <= s->point_capacity) return;
  int64_t capacity = needed + needed / 2;
  if (needed <= s->options->block_points && capacity > s->options->block_points)
    capacity = s->options->block_points;
  lcfm_object_batch *b = &s->batch;
  b->time = lcfm_realloc(b->time, (size_t)capacity * sizeof *b->time);
  b->value = lcfm_realloc(b->value, (size_t)capacity * sizeof *b->value);
  b->error = lcfm_realloc(b->error, (size_t)capacity * sizeof *b->error);
  if (s->options->keep_quality)
    b->quality = lcfm_realloc(b->quality, (size_t)capacity * sizeof *b->quality);
  s->point_capacity = capacity;
}

/* The batch's columns, with the optional schema-2 ones this ingest fills. */
static void alloc_batch(writer_state *s) {
  lcfm_object_batch *b = &s->batch;
  size_t n = (size_t)s->options->block_objects;
  lcfm_batch_alloc(b, (int64_t)n, 1);
  b->ra = lcfm_malloc(n * sizeof *b->ra), b->dec = lcfm_malloc(n * sizeof *b->dec);
  b->magnitude = lcfm_malloc(n * sizeof *b->magnitude),
  b->median_flux = lcfm_malloc(n * sizeof *b->median_flux);
  b->path = lcfm_malloc(n * LCFM_STORE_PATH_LEN);
  if (s->options->keep_quality) b->quality = lcfm_malloc(sizeof *b->quality);
  s->point_capacity = 1;
}

static void flush_batch(writer_state *s) {
  LCFM_CHECK(s->batches_written < s->batches, "ingest: the input files changed while being read");
  lcfm_object_batch *b = &s->batch;
  b->point_count = s->points_in_batch;
  if (s->view_at >= 0) {
    const kept_points *k = &s->tally->kept;
    s->buffer_time = b->time, s->buffer_value = b->value, s->buffer_error = b->error,
    s->buffer_quality = b->quality;
    b->time = k->time + s->view_at, b->value = k->value + s->view_at,
    b->error = k->error + s->view_at;
    if (b->quality) b->quality = k->quality + s->view_at;
  }
  lcfm_store_write_batch(s->writer, b);
  if (s->view_at >= 0)
    b->time = s->buffer_time, b->value = s->buffer_value, b->error = s->buffer_error,
    b->quality = s->buffer_quality;
  s->view_at = -1;
  s->batches_written++;
  b->count = 0;
  s->points_in_batch = 0;
}

/* The end of a long path names the file better than its start. */
static void copy_path_tail(char *field, const char *path) {
  size_t n = strlen(path);
  memset(field, 0, LCFM_STORE_PATH_LEN);
  memcpy(field, n >= LCFM_STORE_PATH_LEN ? path + n - (LCFM_STORE_PATH_LEN - 1) : path,
         n >= LCFM_STORE_PATH_LEN ? LCFM_STORE_PATH_LEN - 1 : n);
}

/* Adds key `k`'s columns to the batch, flushing the previous batch where a new one starts; the
 * caller adds its points. Returns its instrument. */
static const lcfm_instrument *add_object_row(writer_state *s, int64_t k, int from_memory) {
  const object_record *r = &s->tally->records[k];
  const lcfm_object_key *key = &s->tally->keys[k];
  lcfm_object_batch *b = &s->batch;
  if (next_in_batch(s->options, &s->cut, key->length, from_memory)) flush_batch(s);
  const lcfm_instrument *in =
      find_configuration(s->instruments, s->instrument_count, &s->tally->references[r->reference]);
  int64_t i = b->count++;
  b->id[i] = s->next_id++;
  b->source[i] = key->source;
  b->instrument[i] = in->id;
  b->field[i] = r->field;
  b->label[i] = r->label;
  b->length[i] = (int32_t)key->length;
  b->ra[i] = r->ra, b->dec[i] = r->dec, b->magnitude[i] = r->magnitude,
  b->median_flux[i] = r->median_flux;
  copy_path_tail(b->path + i * LCFM_STORE_PATH_LEN, lcfm_input_path(s->files, key->file));
  return in;
}

/* Adds a kept object: its points follow the batch's in the kept arrays (compact_kept). */
static void write_kept_object(writer_state *s, int64_t k) {
  const object_record *r = &s->tally->records[k];
  add_object_row(s, k, 1);
  if (s->batch.count == 1) s->view_at = r->kept_at;
  LCFM_CHECK(r->kept_at == s->view_at + s->points_in_batch, "internal: kept points out of order");
  s->points_in_batch += s->tally->keys[k].length;
}

/* Adds an object decoded again: its points are copied into the batch's buffer. */
static void write_object(writer_state *s, int64_t k, const double *time, const float *value,
                         const float *error, const int32_t *quality) {
  const object_record *r = &s->tally->records[k];
  const lcfm_object_key *key = &s->tally->keys[k];
  lcfm_object_batch *b = &s->batch;
  const lcfm_instrument *in = add_object_row(s, k, 0);
  grow_batch_points(s, s->points_in_batch + key->length);
  int64_t at = s->points_in_batch;
  double shift = r->time_zero - in->time_zero; /* 0 unless BJDREF differs within the instrument */
  for (int64_t p = 0; p < key->length; p++) b->time[at + p] = time[p] + shift;
  memcpy(b->value + at, value, (size_t)key->length * sizeof *b->value);
  memcpy(b->error + at, error, (size_t)key->length * sizeof *b->error);
  copy_quality(b->quality ? b->quality + at : NULL, quality, key->length);
  s->points_in_batch += key->length;
}

/* Sink for a file decoded a second time: its objects arrive in the order of its keys. */
static void write_decoded_again(void *user, const lcfm_survey_object *object) {
  writer_state *s = user;
  int64_t k = s->next_key++;
  LCFM_CHECK(k < s->end_key && s->tally->keys[k].source == object->source &&
                 s->tally->keys[k].length == object->length,
             "ingest: %s changed while being read", object->path);
  if (!s->tally->records[k].skip)
    write_object(s, k, object->time, object->value, object->error, object->quality);
}

static void ignore_reject(void *user, const lcfm_reject *reject) { (void)user, (void)reject; }

/* Writes the objects of keys [first, end) (one file): from memory when all were kept. */
static void write_file(writer_state *s, int64_t first, int64_t end) {
  const tally *t = s->tally;
  int all_kept = 1;
  for (int64_t k = first; k < end; k++)
    all_kept &= t->records[k].skip || t->records[k].kept_at >= 0;
  if (all_kept) {
    for (int64_t k = first; k < end; k++)
      if (!t->records[k].skip) write_kept_object(s, k);
    return;
  }
  s->next_key = first, s->end_key = end;
  const char *path = lcfm_input_path(s->files, t->keys[first].file);
  lcfm_read_survey_file(path, t->options, write_decoded_again, ignore_reject, NULL, s);
  LCFM_CHECK(s->next_key == end, "ingest: %s changed while being read", path);
}

static void log_rejects(MPI_Comm comm, const tally *t) {
  enum { REASONS = 9 };
  static const char *const names[REASONS] = {"",      "unreadable", "format",
                                             "empty", "non-finite", "time order",
                                             "parse", "range",      "duplicate"};
  int64_t mine[REASONS + 1] = {0}, all[REASONS + 1];
  for (int64_t i = 0; i < t->reject_count; i++)
    if (t->rejects[i].reason > 0 && t->rejects[i].reason < REASONS) mine[t->rejects[i].reason]++;
  mine[REASONS] = t->notes;
  LCFM_CHECK_MPI(MPI_Allreduce(mine, all, REASONS + 1, MPI_INT64_T, MPI_SUM, comm));
  for (int r = 1; r < REASONS; r++)
    if (all[r]) lcfm_log("ingest: %lld rejected (%s)", (long long)all[r], names[r]);
  if (all[REASONS])
    lcfm_log(
        "ingest: note: %lld light curves without BJDREFI/BJDREFF, TIMESYS or TIMEREF: the mission's "
        "documented BJD TDB reference was used",
        (long long)all[REASONS]);
}

/* ---- the ingest ---- */

static lcfm_store_writer *open_writer(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                      const tally *t, const lcfm_store_options *store) {
  return lcfm_store_begin(comm, path, prov, t->objects, t->points, store);
}

/* Asks the kernel to read a file of `size` bytes ahead (posix_fadvise WILLNEED), so that with a
 * cold page cache the disk reads the next file while the CPU decodes this one. A file whose last
 * byte is already cached (read without waiting: preadv2 RWF_NOWAIT) is taken as cached whole and
 * left alone: asking anyway walks its pages in the cache, 2% of a warm ingest's time. A file that
 * cannot be opened is left to its reader, which rejects it. */
static void read_ahead(const char *path, int64_t size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  char last;
  struct iovec byte = {.iov_base = &last, .iov_len = 1};
  if (size <= 0 || preadv2(fd, &byte, 1, (off_t)size - 1, RWF_NOWAIT) != 1)
    posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
  close(fd);
}

/* Decodes this rank's files once: keys, records, kept points and rejects into *t. */
static void read_files(tally *t, const lcfm_input_slice *files, int ranks) {
  lcfm_progress progress;
  lcfm_progress_start(&progress, "ingest (read)", files->total);
  for (int64_t f = 0; f < files->count; f++) {
    t->file = files->first + f;
    if (f + 1 < files->count)
      read_ahead(lcfm_input_path(files, t->file + 1), files->sizes ? files->sizes[f + 1] : 0);
    lcfm_read_survey_file(lcfm_input_path(files, t->file), t->options, record_object, keep_reject,
                          offer_room, t);
    lcfm_progress_update(&progress, (f + 1) * ranks); /* rank 0's pace stands for all */
  }
  lcfm_progress_finish(&progress, files->total);
}

/* Writes every stored object of this rank, file by file, then the empty writes that keep the
 * collective calls in step with the rank that has the most batches. */
static void write_objects(writer_state *s, int64_t file_count, int ranks) {
  const tally *t = s->tally;
  lcfm_progress progress;
  lcfm_progress_start(&progress, "ingest (write)", file_count);
  for (int64_t first = 0, end; first < t->key_count; first = end) {
    for (end = first + 1; end < t->key_count && t->keys[end].file == t->keys[first].file;) end++;
    write_file(s, first, end);
    lcfm_progress_update(&progress, (t->keys[first].file + 1) * ranks);
  }
  if (s->batch.count > 0) flush_batch(s);
  while (s->batches_written < s->batches) flush_batch(s);
  lcfm_progress_finish(&progress, file_count);
}

int64_t lcfm_ingest_store(MPI_Comm comm, const lcfm_ingest_options *o,
                          const lcfm_input_slice *files, const char *path,
                          const lcfm_provenance *prov, const lcfm_store_options *store) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t file_count = files->total;
  tally t = {.options = o, .kept = {.limit = o->keep_bytes}};
  read_files(&t, files, ranks);
  int appending = store && store->mode == LCFM_STORE_APPEND;
  lcfm_stored_keys stored = {0};
  if (appending) lcfm_stored_keys_read(comm, path, &stored);
  lcfm_mark_duplicates(comm, t.keys, t.key_count, &stored, files, keep_duplicate, &t);
  int64_t instrument_count = 0;
  lcfm_instrument *instruments = agree_on_instruments(comm, &t, &stored, files, &instrument_count);
  lcfm_stored_keys_free(&stored);
  sort_rejects(&t);
  int64_t local[3] = {t.objects, t.points, t.reject_count}, total[3];
  LCFM_CHECK_MPI(MPI_Allreduce(local, total, 3, MPI_INT64_T, MPI_SUM, comm));
  lcfm_log("ingest: %lld files -> %lld objects, %lld points, %lld rejects", (long long)file_count,
           (long long)total[0], (long long)total[1], (long long)total[2]);
  log_rejects(comm, &t);
  if (total[0] == 0) {
    int64_t decoded = 0;
    LCFM_CHECK_MPI(MPI_Allreduce(&t.key_count, &decoded, 1, MPI_INT64_T, MPI_SUM, comm));
    free(instruments);
    free_tally(&t);
    return decoded ? 0 : -1; /* everything already stored, or nothing could be read */
  }

  int64_t first_object = 0;
  LCFM_CHECK_MPI(MPI_Exscan(&t.objects, &first_object, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) first_object = 0;
  int64_t my_batches = t.batches + (t.cut.objects > 0), batches = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&my_batches, &batches, 1, MPI_INT64_T, MPI_MAX, comm));

  writer_state s = {.options = o,
                    .next_id = first_object,
                    .batches = batches,
                    .instruments = instruments,
                    .instrument_count = instrument_count,
                    .tally = &t,
                    .files = files,
                    .view_at = -1};
  s.writer = open_writer(comm, path, prov, &t, store);
  lcfm_store_write_instruments(s.writer, instruments, instrument_count);
  lcfm_store_write_rejects(s.writer, t.rejects, t.reject_count);
  alloc_batch(&s);
  write_objects(&s, file_count, ranks);
  lcfm_store_index_write(s.writer, comm, instrument_count);
  lcfm_store_close(s.writer);
  lcfm_batch_free(&s.batch);
  free(instruments);
  free_tally(&t);
  return total[0];
}
