/* store.c: collective writing, appending and streaming reads of the light-curve store (see store.h). */
#include "lcfm/store.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "lcfm/store_check.h"

enum { MAX_MATRICES = 16 };

/* Chunk shapes (rows): see store.h, "Chunks". */
enum { OBJECT_CHUNK = 8192, POINT_CHUNK = 65536, TABLE_CHUNK = 256, MATRIX_CHUNK = 4096 };

enum object_column {
  COL_ID,
  COL_SOURCE,
  COL_INSTRUMENT,
  COL_FIELD,
  COL_LABEL,
  COL_OFFSET,
  COL_LENGTH,
  N_OBJECT_COLUMNS
};
enum meta_column { META_RA, META_DEC, META_MAGNITUDE, META_MEDIAN_FLUX, META_PATH, N_META_COLUMNS };
enum point_column { PT_TIME, PT_VALUE, PT_ERROR, N_POINT_COLUMNS };

static const char *const object_names[N_OBJECT_COLUMNS] = {
    "/objects/id",    "/objects/source", "/objects/instrument", "/objects/field",
    "/objects/label", "/objects/offset", "/objects/length"};
static const char *const meta_names[N_META_COLUMNS] = {
    "/objects/ra", "/objects/dec", "/objects/magnitude", "/objects/median_flux", "/objects/path"};
static const char *const point_names[N_POINT_COLUMNS] = {"/points/time", "/points/value",
                                                         "/points/error"};
#define QUALITY_NAME "/points/quality"

static const char *const instrument_int_names[] = {
    "/instruments/id",      "/instruments/survey", "/instruments/season",    "/instruments/unit",
    "/instruments/subunit", "/instruments/band",   "/instruments/value_kind"};
enum { INSTRUMENT_INTS_V1 = 6, INSTRUMENT_INTS = 7 };

static hid_t object_type(int column) {
  return (column == COL_ID || column == COL_SOURCE || column == COL_OFFSET) ? H5T_NATIVE_INT64
                                                                            : H5T_NATIVE_INT32;
}
static hid_t point_type(int column) {
  return column == PT_TIME ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
}

struct lcfm_store_writer {
  MPI_Comm comm;
  char *path, *partial_path;
  hid_t file, dxpl;
  hid_t objects[N_OBJECT_COLUMNS], meta[N_META_COLUMNS], points[N_POINT_COLUMNS];
  hid_t quality;       /* /points/quality, or -1 when not kept */
  int quality_decided; /* at the first batch with points (decide_quality) */
  hid_t string_type;   /* string[LCFM_STORE_PATH_LEN] */
  hid_t matrices[MAX_MATRICES];
  int64_t matrix_cols[MAX_MATRICES], matrix_first_row[MAX_MATRICES];
  int matrix_count;
  int deflate_level;
  int appending;
  int64_t stored_objects, stored_points, stored_rejects; /* in the store before this writer */
  int64_t next_id;                                       /* appending: added to the batches' ids */
  int64_t largest_id;                                    /* of the ids this rank wrote */
  int32_t *instrument_map;                               /* appending: batch row -> stored row */
  int64_t instrument_map_count;
  int64_t first_object, first_point;   /* this rank's place in the file */
  int64_t local_objects, local_points; /* what this rank promised */
  int64_t written_objects, written_points;
  int rejects_written;
};

struct lcfm_store {
  MPI_Comm comm;
  char *path;
  hid_t file, dxpl;
  hid_t objects[N_OBJECT_COLUMNS], points[N_POINT_COLUMNS];
  int64_t object_count, point_count;
  int version;
};

/* ---- shared helpers ---- */

static hid_t fixed_string_type(size_t length) {
  hid_t type = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
  LCFM_CHECK_H5(H5Tset_size(type, length));
  LCFM_CHECK_H5(H5Tset_strpad(type, H5T_STR_NULLTERM));
  return type;
}

static char *copy_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *c = lcfm_malloc(n);
  memcpy(c, s, n);
  return c;
}

static int has_link(hid_t file, const char *path) { return H5Lexists(file, path, H5P_DEFAULT) > 0; }

/* Reads a string attribute of the root group into buf; returns 0, or 1 if absent or not text. */
static int read_string_attribute(hid_t file, const char *name, char *buf, size_t len) {
  char *text = lcfm_h5_read_text_attribute(file, name);
  if (!text) return 1;
  snprintf(buf, len, "%s", text);
  free(text);
  return 0;
}

static int64_t read_int_attribute(hid_t file, const char *name, int64_t missing) {
  if (H5Aexists(file, name) <= 0) return missing;
  int64_t value = missing;
  hid_t attr = LCFM_CHECK_H5(H5Aopen(file, name, H5P_DEFAULT));
  if (H5Aread(attr, H5T_NATIVE_INT64, &value) < 0) value = missing;
  H5Aclose(attr);
  return value;
}

/* ---- options ([store] keys) ---- */

int lcfm_store_options_from_job(lcfm_store_options *o, const lcfm_job *job) {
  const lcfm_settings_store *s = &lcfm_job_settings(job)->store; /* choices checked at load */
  o->mode = !strcmp(s->mode, "append") ? LCFM_STORE_APPEND : LCFM_STORE_CREATE;
  o->deflate_level = !strcmp(s->compression, "deflate") ? (int)s->deflate_level : 0;
  return 0;
}

/* ---- writing ---- */

static void write_root_attributes(hid_t file, const lcfm_provenance *prov) {
  lcfm_h5_write_string_attribute(file, "schema", LCFM_STORE_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", LCFM_STORE_SCHEMA_VERSION);
  lcfm_h5_write_string_attribute(file, "producer", prov->verb);
  lcfm_provenance_write(file, prov);
}

/* ---- history: /history/0, 1, ... the provenance of every run that wrote the store ---- */

#define HISTORY_GROUP "/history"

/* Copies every attribute of `from` to `to` (lcfm's attributes are scalars of fixed size). */
static void copy_attributes(hid_t from, hid_t to) {
  H5O_info_t info;
  LCFM_CHECK_H5(H5Oget_info(from, &info));
  for (hsize_t i = 0; i < info.num_attrs; i++) {
    hid_t attr = LCFM_CHECK_H5(
        H5Aopen_by_idx(from, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT));
    char name[256];
    LCFM_CHECK_H5(H5Aget_name(attr, sizeof name, name));
    hid_t type = LCFM_CHECK_H5(H5Aget_type(attr)), space = LCFM_CHECK_H5(H5Aget_space(attr));
    size_t bytes = (size_t)H5Aget_storage_size(attr);
    void *value = lcfm_malloc(bytes ? bytes : 1);
    LCFM_CHECK_H5(H5Aread(attr, type, value));
    hid_t copy = LCFM_CHECK_H5(H5Acreate2(to, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
    LCFM_CHECK_H5(H5Awrite(copy, type, value));
    H5Aclose(copy), H5Aclose(attr), H5Sclose(space), H5Tclose(type);
    free(value);
  }
}

/* Collective: creates /history/INDEX (and /history when needed). */
static hid_t create_history_entry(hid_t file, int64_t index) {
  if (!has_link(file, HISTORY_GROUP))
    H5Gclose(LCFM_CHECK_H5(H5Gcreate2(file, HISTORY_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  char name[64];
  snprintf(name, sizeof name, HISTORY_GROUP "/%lld", (long long)index);
  return LCFM_CHECK_H5(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
}

static int64_t history_entries(hid_t file) {
  if (!has_link(file, HISTORY_GROUP)) return 0;
  H5G_info_t info;
  hid_t group = LCFM_CHECK_H5(H5Gopen2(file, HISTORY_GROUP, H5P_DEFAULT));
  LCFM_CHECK_H5(H5Gget_info(group, &info));
  H5Gclose(group);
  return (int64_t)info.nlinks;
}

static void write_object_range(hid_t entry, int64_t first_object, int64_t objects) {
  lcfm_h5_write_int64_attribute(entry, "first_object", first_object);
  lcfm_h5_write_int64_attribute(entry, "objects", objects);
}

/* Collective, before an append replaces the root attributes: a store written before /history
 * existed keeps its writer's provenance (the root attributes as they are) as /history/0. */
static void keep_first_history(hid_t file, int64_t stored_objects) {
  if (has_link(file, HISTORY_GROUP)) return;
  hid_t entry = create_history_entry(file, 0);
  copy_attributes(file, entry);
  write_object_range(entry, 0, stored_objects);
  H5Gclose(entry);
}

/* Collective: this run's provenance and the rows of /objects it adds, as the next entry. */
static void add_history(hid_t file, const lcfm_provenance *prov, int64_t first_object,
                        int64_t objects) {
  hid_t entry = create_history_entry(file, history_entries(file));
  lcfm_provenance_write(entry, prov);
  write_object_range(entry, first_object, objects);
  H5Gclose(entry);
}

/* Appending: the root attributes describe the last run that wrote the store (its provenance);
 * next_id and the signature are written again at close. */
static void replace_root_attributes(hid_t file, const lcfm_provenance *prov) {
  H5O_info_t info;
  LCFM_CHECK_H5(H5Oget_info(file, &info));
  for (hsize_t i = info.num_attrs; i > 0; i--)
    LCFM_CHECK_H5(H5Adelete_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i - 1, H5P_DEFAULT));
  write_root_attributes(file, prov);
}

/* Places this rank's objects and points after `before_objects` / `before_points`. */
static void place_ranks(lcfm_store_writer *w, int64_t before_objects, int64_t before_points,
                        int64_t total[2]) {
  int64_t local[2] = {w->local_objects, w->local_points}, before[2] = {0, 0};
  LCFM_CHECK_MPI(MPI_Exscan(local, before, 2, MPI_INT64_T, MPI_SUM, w->comm));
  int rank;
  MPI_Comm_rank(w->comm, &rank);
  if (rank == 0) before[0] = before[1] = 0; /* MPI_Exscan leaves rank 0's result undefined */
  LCFM_CHECK_MPI(MPI_Allreduce(local, total, 2, MPI_INT64_T, MPI_SUM, w->comm));
  w->first_object = before_objects + before[0];
  w->first_point = before_points + before[1];
}

static lcfm_store_writer *new_writer(MPI_Comm comm, const char *path, int64_t local_objects,
                                     int64_t local_points) {
  lcfm_store_writer *w = lcfm_calloc(1, sizeof *w);
  w->comm = comm;
  w->path = copy_string(path);
  w->partial_path = lcfm_malloc(strlen(path) + 9);
  w->local_objects = local_objects;
  w->local_points = local_points;
  w->quality = -1;
  w->largest_id = -1;
  w->string_type = fixed_string_type(LCFM_STORE_PATH_LEN);
  return w;
}

static hid_t meta_type(const lcfm_store_writer *w, int column) {
  return column <= META_DEC    ? H5T_NATIVE_DOUBLE
         : column == META_PATH ? w->string_type
                               : H5T_NATIVE_FLOAT;
}

/* Creates or resizes every object and point column to `objects` and `points` rows. */
static void size_columns(lcfm_store_writer *w, int64_t objects, int64_t points) {
  for (int c = 0; c < N_OBJECT_COLUMNS; c++)
    w->objects[c] = lcfm_h5_sized_dataset(w->file, object_names[c], object_type(c), objects, 0,
                                          OBJECT_CHUNK, w->deflate_level);
  for (int c = 0; c < N_META_COLUMNS; c++)
    w->meta[c] = lcfm_h5_sized_dataset(w->file, meta_names[c], meta_type(w, c), objects, 0,
                                       OBJECT_CHUNK, w->deflate_level);
  for (int c = 0; c < N_POINT_COLUMNS; c++)
    w->points[c] = lcfm_h5_sized_dataset(w->file, point_names[c], point_type(c), points, 0,
                                         POINT_CHUNK, w->deflate_level);
}

lcfm_store_writer *lcfm_store_begin(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                    int64_t local_objects, int64_t local_points,
                                    const lcfm_store_options *o) {
  if (o && o->mode == LCFM_STORE_APPEND)
    return lcfm_store_append(comm, path, prov, local_objects, local_points);
  lcfm_store_writer *w = new_writer(comm, path, local_objects, local_points);
  w->deflate_level = o ? o->deflate_level : 0;
  int64_t total[2];
  place_ranks(w, 0, 0, total);
  w->file = lcfm_h5_create_partial(comm, path, w->partial_path, strlen(path) + 9);
  w->dxpl = lcfm_h5_collective_transfer();
  write_root_attributes(w->file, prov);
  lcfm_h5_write_int64_attribute(w->file, "deflate_level", w->deflate_level);
  add_history(w->file, prov, 0, total[0]);
  size_columns(w, total[0], total[1]);
  return w;
}

lcfm_store_writer *lcfm_store_create(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                     int64_t local_objects, int64_t local_points) {
  return lcfm_store_begin(comm, path, prov, local_objects, local_points, NULL);
}

static int64_t rows_of(hid_t file, const char *path) {
  if (!has_link(file, path)) return 0;
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, path, H5P_DEFAULT));
  int64_t n = lcfm_h5_dataset_rows(dset);
  H5Dclose(dset);
  return n;
}

/* Why the store at `path` (open as `file`) cannot be appended to, or "" (same on every rank). */
static void append_refusal(hid_t file, const char *path, char *why, size_t len) {
  char schema[64] = "";
  why[0] = '\0';
  int64_t version = read_int_attribute(file, "schema_version", -1);
  if (read_string_attribute(file, "schema", schema, sizeof schema) ||
      strcmp(schema, LCFM_STORE_SCHEMA))
    snprintf(why, len, "%s: not an lcfm store; cannot append to it", path);
  else if (version == 1)
    snprintf(
        why, len,
        "%s: a schema-1 store (written by an older lcfm, with fixed-size datasets) cannot be appended "
        "to: write it again with this lcfm ([store] mode = create, or `lcfm simulate`/`lcfm ingest` of the "
        "same inputs), then append",
        path);
  else if (version != LCFM_STORE_SCHEMA_VERSION)
    snprintf(why, len, "%s: store schema version %lld; this lcfm appends to version %d only", path,
             (long long)version, LCFM_STORE_SCHEMA_VERSION);
  else if (!has_link(file, "/objects/id") || !has_link(file, "/points/time"))
    snprintf(why, len, "%s: lcfm store without /objects or /points (damaged); cannot append to it",
             path);
}

/* The next id of a store: its next_id attribute, or one more than its largest id. */
static int64_t stored_next_id(lcfm_store_writer *w) {
  int64_t next = read_int_attribute(w->file, "next_id", -1);
  if (next >= 0) return next;
  int rank, ranks;
  MPI_Comm_rank(w->comm, &rank);
  MPI_Comm_size(w->comm, &ranks);
  int64_t first, count, largest = -1, all = -1;
  lcfm_store_shard(w->stored_objects, rank, ranks, &first, &count);
  int64_t *ids = lcfm_malloc((size_t)(count ? count : 1) * sizeof *ids);
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(w->file, "/objects/id", H5P_DEFAULT));
  lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT64, w->dxpl, first, count, 0, ids, 0);
  H5Dclose(dset);
  for (int64_t i = 0; i < count; i++) largest = ids[i] > largest ? ids[i] : largest;
  free(ids);
  LCFM_CHECK_MPI(MPI_Allreduce(&largest, &all, 1, MPI_INT64_T, MPI_MAX, w->comm));
  return all + 1;
}

lcfm_store_writer *lcfm_store_append(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                     int64_t local_objects, int64_t local_points) {
  char why[1024] = "";
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) { /* refuse before copying anything */
    hid_t file = access(path, R_OK) == 0 && H5Fis_hdf5(path) > 0
                     ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)
                     : -1;
    if (file < 0)
      snprintf(why, sizeof why,
               "%s: cannot append: no such lcfm store (make it with [store] mode = create)", path);
    else append_refusal(file, path, why, sizeof why), H5Fclose(file);
  }
  lcfm_h5_agree(comm, why[0] != '\0', why);
  lcfm_store_writer *w = new_writer(comm, path, local_objects, local_points);
  w->appending = 1;
  w->file = lcfm_h5_open_partial_copy(comm, path, w->partial_path, strlen(path) + 9);
  w->dxpl = lcfm_h5_collective_transfer();
  w->deflate_level = (int)read_int_attribute(w->file, "deflate_level", 0);
  w->stored_objects = rows_of(w->file, "/objects/id");
  w->stored_points = rows_of(w->file, "/points/time");
  w->stored_rejects = rows_of(w->file, "/rejects/reason");
  w->next_id = stored_next_id(w);
  keep_first_history(w->file, w->stored_objects);
  replace_root_attributes(w->file, prov);
  int64_t total[2];
  place_ranks(w, w->stored_objects, w->stored_points, total);
  add_history(w->file, prov, w->stored_objects, total[0]);
  size_columns(w, w->stored_objects + total[0], w->stored_points + total[1]);
  if (has_link(w->file, QUALITY_NAME)) {
    w->quality = LCFM_CHECK_H5(H5Dopen2(w->file, QUALITY_NAME, H5P_DEFAULT));
    lcfm_h5_set_rows(w->quality, w->stored_points + total[1]);
  }
  return w;
}

int64_t lcfm_store_writer_first_object(const lcfm_store_writer *w) { return w->stored_objects; }

/* Collective, at the first batch with points on any rank (or at close): /points/quality is kept
 * when any rank's batch carries flags (creating), and must be carried when the store keeps it
 * (appending). */
static void decide_quality(lcfm_store_writer *w, const lcfm_object_batch *b, int64_t points,
                           int closing) {
  int mine[2] = {b->quality != NULL && points > 0, points > 0}, any[2] = {0, 0};
  LCFM_CHECK_MPI(MPI_Allreduce(mine, any, 2, MPI_INT, MPI_MAX, w->comm));
  if (!any[1] && !closing) return; /* nothing to go by yet */
  w->quality_decided = 1;
  if (w->appending) {
    int kept = w->quality >= 0;
    LCFM_CHECK(kept == any[0] || !any[1],
               "%s: the store %s quality flags (/points/quality) but the objects appended "
               "%s: keep them in both or in neither",
               w->path, kept ? "keeps" : "does not keep", any[0] ? "carry them" : "do not");
    return;
  }
  if (!any[0]) return;
  int64_t local = w->local_points, total = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&local, &total, 1, MPI_INT64_T, MPI_SUM, w->comm));
  w->quality = lcfm_h5_create_growable(w->file, QUALITY_NAME, H5T_NATIVE_INT32, total, 0,
                                       POINT_CHUNK, w->deflate_level);
}

/* The metadata column c of a batch, or NaN / "" when the producer does not know it. */
static const void *meta_column_or_unknown(const lcfm_object_batch *b, int c, void *unknown) {
  const void *given[N_META_COLUMNS] = {b->ra, b->dec, b->magnitude, b->median_flux, b->path};
  if (given[c]) return given[c];
  if (c == META_PATH) {
    memset(unknown, 0, (size_t)(b->count ? b->count : 1) * LCFM_STORE_PATH_LEN);
  } else if (c <= META_DEC) {
    for (int64_t i = 0; i < b->count; i++) ((double *)unknown)[i] = NAN;
  } else {
    for (int64_t i = 0; i < b->count; i++) ((float *)unknown)[i] = NAN;
  }
  return unknown;
}

void lcfm_store_write_batch(lcfm_store_writer *w, const lcfm_object_batch *b) {
  int64_t count = b->count, points = 0;
  for (int64_t i = 0; i < count; i++) points += b->length[i];
  LCFM_CHECK(w->written_objects + count <= w->local_objects &&
                 w->written_points + points <= w->local_points,
             "%s: a rank wrote more objects or points than it declared", w->path);
  if (!w->quality_decided) decide_quality(w, b, points, 0);
  LCFM_CHECK(w->quality < 0 || points == 0 || b->quality,
             "internal: %s keeps quality flags but a batch has none", w->path);
  int64_t first = w->first_object + w->written_objects;
  int64_t first_point = w->first_point + w->written_points;
  size_t n = (size_t)(count ? count : 1);
  int64_t *offset = lcfm_malloc(n * sizeof *offset), *id = lcfm_malloc(n * sizeof *id);
  int32_t *instrument = lcfm_malloc(n * sizeof *instrument);
  for (int64_t i = 0, at = first_point; i < count; i++) {
    offset[i] = at;
    at += b->length[i];
    id[i] = w->next_id + b->id[i]; /* ids continue the store's (0 when creating) */
    w->largest_id = id[i] > w->largest_id ? id[i] : w->largest_id;
    instrument[i] = b->instrument[i];
    if (w->instrument_map) {
      LCFM_CHECK(b->instrument[i] >= 0 && b->instrument[i] < w->instrument_map_count,
                 "internal: %s: instrument %d is not a row of the table passed", w->path,
                 b->instrument[i]);
      instrument[i] = w->instrument_map[b->instrument[i]];
    }
  }
  void *columns[N_OBJECT_COLUMNS] = {id,       b->source, instrument, b->field,
                                     b->label, offset,    b->length};
  for (int c = 0; c < N_OBJECT_COLUMNS; c++)
    lcfm_h5_transfer_rows(w->objects[c], object_type(c), w->dxpl, first, count, 0, columns[c], 1);
  /* Every metadata column, NaN or "" where this rank's producer does not know it: rows are
   * never pre-filled (a fill at allocation would write them twice, unchecked for free space,
   * h5io.h). */
  void *unknown = lcfm_malloc(n * LCFM_STORE_PATH_LEN);
  for (int c = 0; c < N_META_COLUMNS; c++)
    lcfm_h5_transfer_rows(w->meta[c], meta_type(w, c), w->dxpl, first, count, 0,
                          (void *)meta_column_or_unknown(b, c, unknown), 1);
  free(unknown);
  void *point_columns[N_POINT_COLUMNS] = {b->time, b->value, b->error};
  for (int c = 0; c < N_POINT_COLUMNS; c++)
    lcfm_h5_transfer_rows(w->points[c], point_type(c), w->dxpl, first_point, points, 0,
                          point_columns[c], 1);
  if (w->quality >= 0)
    lcfm_h5_transfer_rows(w->quality, H5T_NATIVE_INT32, w->dxpl, first_point, points, 0, b->quality,
                          1);
  free(offset), free(id), free(instrument);
  w->written_objects += count;
  w->written_points += points;
}

/* ---- instruments ---- */

static int same_instrument(const lcfm_instrument *a, const lcfm_instrument *b) {
  return a->survey == b->survey && a->season == b->season && a->unit == b->unit &&
         a->subunit == b->subunit && a->band == b->band && a->time_zero == b->time_zero &&
         a->value_kind == b->value_kind && !strncmp(a->name, b->name, sizeof a->name) &&
         !strncmp(a->time_scale, b->time_scale, sizeof a->time_scale) &&
         !strncmp(a->time_reference, b->time_reference, sizeof a->time_reference);
}

/* Collective: writes rows [first, first + count) of every instrument column (rank 0's data),
 * the columns sized to `total` rows. */
static void write_instrument_rows(lcfm_store_writer *w, const lcfm_instrument *rows, int64_t first,
                                  int64_t count, int64_t total) {
  int rank;
  MPI_Comm_rank(w->comm, &rank);
  int64_t mine = rank == 0 ? count : 0;
  size_t n = (size_t)(count ? count : 1);
  int32_t *column = lcfm_malloc(n * sizeof *column);
  for (int c = 0; c < INSTRUMENT_INTS; c++) {
    for (int64_t i = 0; i < count; i++) {
      const int32_t fields[INSTRUMENT_INTS] = {rows[i].id,        rows[i].survey,  rows[i].season,
                                               rows[i].unit,      rows[i].subunit, rows[i].band,
                                               rows[i].value_kind};
      column[i] = fields[c];
    }
    hid_t dset = lcfm_h5_sized_dataset(w->file, instrument_int_names[c], H5T_NATIVE_INT32, total, 0,
                                       TABLE_CHUNK, w->deflate_level);
    lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT32, w->dxpl, first, mine, 0, column, 1);
    H5Dclose(dset);
  }
  free(column);
  double *time_zero = lcfm_malloc(n * sizeof *time_zero);
  for (int64_t i = 0; i < count; i++) time_zero[i] = rows[i].time_zero;
  hid_t dset = lcfm_h5_sized_dataset(w->file, "/instruments/time_zero", H5T_NATIVE_DOUBLE, total, 0,
                                     TABLE_CHUNK, w->deflate_level);
  lcfm_h5_transfer_rows(dset, H5T_NATIVE_DOUBLE, w->dxpl, first, mine, 0, time_zero, 1);
  H5Dclose(dset);
  free(time_zero);
  static const struct {
    const char *name;
    size_t offset, length;
  } texts[] = {
      {"/instruments/name", offsetof(lcfm_instrument, name), LCFM_INSTRUMENT_NAME_LEN},
      {"/instruments/time_scale", offsetof(lcfm_instrument, time_scale), sizeof rows->time_scale},
      {"/instruments/time_reference", offsetof(lcfm_instrument, time_reference),
       sizeof rows->time_reference}};
  for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
    char *text = lcfm_calloc(n, texts[t].length);
    for (int64_t i = 0; i < count; i++) {
      memcpy(text + i * texts[t].length, (const char *)&rows[i] + texts[t].offset, texts[t].length);
      text[(i + 1) * texts[t].length - 1] = '\0';
    }
    hid_t type = fixed_string_type(texts[t].length);
    dset = lcfm_h5_sized_dataset(w->file, texts[t].name, type, total, 0, TABLE_CHUNK,
                                 w->deflate_level);
    lcfm_h5_transfer_rows(dset, type, w->dxpl, first, mine, 0, text, 1);
    H5Dclose(dset);
    H5Tclose(type);
    free(text);
  }
}

/* Appending: maps the rows passed onto the stored table, adding the new ones after it. */
static void merge_instruments(lcfm_store_writer *w, const lcfm_instrument *rows, int64_t count) {
  lcfm_store s = {
      .comm = w->comm, .file = w->file, .dxpl = w->dxpl, .version = LCFM_STORE_SCHEMA_VERSION};
  int64_t stored_count = 0;
  lcfm_instrument *stored = lcfm_store_read_instruments(&s, &stored_count);
  lcfm_instrument *added = lcfm_calloc((size_t)(count ? count : 1), sizeof *added);
  int64_t added_count = 0;
  w->instrument_map = lcfm_malloc((size_t)(count ? count : 1) * sizeof *w->instrument_map);
  w->instrument_map_count = count;
  for (int64_t i = 0; i < count; i++) {
    int64_t match = -1;
    for (int64_t j = 0; j < stored_count && match < 0; j++)
      if (same_instrument(&rows[i], &stored[j])) match = j;
    for (int64_t j = 0; j < added_count && match < 0; j++)
      if (same_instrument(&rows[i], &added[j])) match = stored_count + j;
    if (match < 0) {
      match = stored_count + added_count;
      added[added_count] = rows[i];
      added[added_count++].id = (int32_t)match;
    }
    w->instrument_map[i] = (int32_t)match;
  }
  write_instrument_rows(w, added, stored_count, added_count, stored_count + added_count);
  free(stored), free(added);
}

void lcfm_store_write_instruments(lcfm_store_writer *w, const lcfm_instrument *rows,
                                  int64_t count) {
  if (w->appending) merge_instruments(w, rows, count);
  else write_instrument_rows(w, rows, 0, count, count);
}

void lcfm_store_write_rejects(lcfm_store_writer *w, const lcfm_reject *rows, int64_t count) {
  int rank;
  MPI_Comm_rank(w->comm, &rank);
  int64_t before = 0, total = 0;
  LCFM_CHECK_MPI(MPI_Exscan(&count, &before, 1, MPI_INT64_T, MPI_SUM, w->comm));
  if (rank == 0) before = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&count, &total, 1, MPI_INT64_T, MPI_SUM, w->comm));
  before += w->stored_rejects, total += w->stored_rejects;
  size_t n = (size_t)(count ? count : 1);
  char *keys = lcfm_calloc(n, LCFM_REJECT_TEXT_LEN),
       *messages = lcfm_calloc(n, LCFM_REJECT_TEXT_LEN);
  int32_t *reasons = lcfm_malloc(n * sizeof *reasons);
  for (int64_t i = 0; i < count; i++) {
    memcpy(keys + i * LCFM_REJECT_TEXT_LEN, rows[i].key, LCFM_REJECT_TEXT_LEN);
    keys[(i + 1) * LCFM_REJECT_TEXT_LEN - 1] = '\0';
    memcpy(messages + i * LCFM_REJECT_TEXT_LEN, rows[i].message, LCFM_REJECT_TEXT_LEN);
    messages[(i + 1) * LCFM_REJECT_TEXT_LEN - 1] = '\0';
    reasons[i] = rows[i].reason;
  }
  hid_t type = fixed_string_type(LCFM_REJECT_TEXT_LEN);
  hid_t dset =
      lcfm_h5_sized_dataset(w->file, "/rejects/key", type, total, 0, TABLE_CHUNK, w->deflate_level);
  lcfm_h5_transfer_rows(dset, type, w->dxpl, before, count, 0, keys, 1);
  H5Dclose(dset);
  dset = lcfm_h5_sized_dataset(w->file, "/rejects/reason", H5T_NATIVE_INT32, total, 0, TABLE_CHUNK,
                               w->deflate_level);
  lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT32, w->dxpl, before, count, 0, reasons, 1);
  H5Dclose(dset);
  dset = lcfm_h5_sized_dataset(w->file, "/rejects/message", type, total, 0, TABLE_CHUNK,
                               w->deflate_level);
  lcfm_h5_transfer_rows(dset, type, w->dxpl, before, count, 0, messages, 1);
  H5Dclose(dset);
  H5Tclose(type);
  free(keys);
  free(messages);
  free(reasons);
  w->rejects_written = 1;
}

/* ---- matrices and other datasets of producers ---- */

hid_t lcfm_store_dataset(lcfm_store_writer *w, const char *path, hid_t type, int64_t rows,
                         int64_t cols) {
  return lcfm_h5_sized_dataset(w->file, path, type, rows, cols, MATRIX_CHUNK, w->deflate_level);
}

int lcfm_store_add_matrix(lcfm_store_writer *w, const char *path, int64_t rows, int64_t cols) {
  LCFM_CHECK(w->matrix_count < MAX_MATRICES, "%s: too many matrices in one store", w->path);
  int handle = w->matrix_count++;
  int64_t stored = w->appending ? rows_of(w->file, path) : 0;
  w->matrices[handle] = lcfm_store_dataset(w, path, H5T_NATIVE_DOUBLE, stored + rows, cols);
  w->matrix_cols[handle] = cols;
  w->matrix_first_row[handle] = stored;
  return handle;
}

void lcfm_store_write_rows(lcfm_store_writer *w, int matrix, int64_t first_row, int64_t row_count,
                           const double *data) {
  LCFM_CHECK(matrix >= 0 && matrix < w->matrix_count, "internal: bad matrix handle %d", matrix);
  lcfm_h5_transfer_rows(w->matrices[matrix], H5T_NATIVE_DOUBLE, w->dxpl,
                        w->matrix_first_row[matrix] + first_row, row_count, w->matrix_cols[matrix],
                        (void *)data, 1);
}

hid_t lcfm_store_group(lcfm_store_writer *w, const char *path) {
  if (!path) return w->file;
  if (!has_link(w->file, path)) {
    hid_t lcpl = LCFM_CHECK_H5(H5Pcreate(H5P_LINK_CREATE));
    LCFM_CHECK_H5(H5Pset_create_intermediate_group(lcpl, 1));
    LCFM_CHECK_H5(
        H5Gclose(LCFM_CHECK_H5(H5Gcreate2(w->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT))));
    H5Pclose(lcpl);
  }
  return LCFM_CHECK_H5(H5Gopen2(w->file, path, H5P_DEFAULT));
}

int lcfm_store_writer_appending(const lcfm_store_writer *w) { return w->appending; }

/* ---- units and descriptions ---- */

typedef struct {
  const char *path, *unit, *description;
} dataset_meaning;

/* Every dataset a store may hold. Units are astropy unit strings ("" is dimensionless);
 * /points/time and /points/value get theirs from the instruments (describe_points). */
static const dataset_meaning meanings[] = {
    {"/objects/id", "",
     "object id, unique in the store and never changed once given (appends continue the ids)"},
    {"/objects/source", "",
     "physical object: simulated star, TESS TIC, Kepler KIC, MACHO field.tile.seqn packed"},
    {"/objects/instrument", "", "row of /instruments"},
    {"/objects/field", "", "shard key: simulated block, TESS sector, Kepler quarter, MACHO field"},
    {"/objects/label", "", "class, or -1 when unlabelled"},
    {"/objects/offset", "", "first row of the object's points in /points"},
    {"/objects/length", "", "number of the object's points in /points"},
    {"/objects/ra", "deg", "right ascension of the source (header RA_OBJ); NaN when unknown"},
    {"/objects/dec", "deg", "declination of the source (header DEC_OBJ); NaN when unknown"},
    {"/objects/magnitude", "mag",
     "catalogue magnitude of the source (TESSMAG, KEPMAG); NaN when unknown"},
    {"/objects/median_flux", "electron / s",
     "median flux of the light curve; relative-flux values are flux / median_flux - 1; NaN when unknown"},
    {"/objects/path", "", "input file the object was read from; empty when none (simulations)"},
    {QUALITY_NAME, "", "the input file's quality flags of the point (bit mask, survey-specific)"},
    {"/instruments/id", "", "instrument id (its row)"},
    {"/instruments/survey", "", "survey: 0 simulation, 1 TESS, 2 Kepler, 3 K2, 4 MACHO"},
    {"/instruments/season", "", "TESS sector, Kepler quarter, K2 campaign; -1 when none"},
    {"/instruments/unit", "", "camera or module; -1 when none"},
    {"/instruments/subunit", "", "CCD or output; -1 when none"},
    {"/instruments/band", "", "MACHO band: red 0, blue 1; -1 when none"},
    {"/instruments/value_kind", "",
     "what /points/value holds: 0 flux / median flux - 1, 1 magnitude, 2 simulated"},
    {"/instruments/time_zero", "d",
     "days to add to /points/time for time_reference (BJD or JD); 0 for simulations"},
    {"/instruments/name", "", "instrument name"},
    {"/instruments/time_scale", "",
     "time scale of the times (header TIMESYS: TDB, UTC); empty for simulations"},
    {"/instruments/time_reference", "",
     "what time + time_zero counts (BJD, JD); empty for simulations"},
    {"/rejects/key", "", "input file or object that was not stored"},
    {"/rejects/reason", "",
     "why: 1 I/O, 2 format, 3 empty, 4 non-finite, 5 time order, 6 parse, 7 range, 8 duplicate"},
    {"/rejects/message", "", "what was wrong, in words"},
    {"/index/by_source", "", "object rows sorted by (source, row)"},
    {"/index/source_key", "", "the distinct sources, increasing"},
    {"/index/source_start", "",
     "source g's rows are by_source[source_start[g] .. source_start[g+1])"},
    {"/index/by_instrument", "", "object rows sorted by (instrument, row)"},
    {"/index/instrument_start", "",
     "instrument m's rows are by_instrument[instrument_start[m] .. [m+1])"},
    {"/index/by_field", "", "object rows sorted by (field, row)"},
    {"/index/field_key", "", "the distinct fields, increasing"},
    {"/index/field_start", "", "field g's rows are by_field[field_start[g] .. field_start[g+1])"},
    {"/truth/theta", "", "simulated stellar parameters theta [stars, K] (sim.h)"},
    {"/truth/phase", "", "simulated harmonic phases [objects, K-1] (radians / 2 pi)"},
    {"/truth/beta", "", "simulated instrument gain terms [instruments, J]"},
    {"/truth/gamma", "", "simulated instrument offset terms [instruments, J]"},
    {"/truth/labelled", "", "labelled simulation: per-star class and parameters (sim.h)"},
};

/* What /points/time and /points/value are, from the instrument table (all rows agree, or mixed). */
static void describe_points(lcfm_store_writer *w, dataset_meaning *time, dataset_meaning *value,
                            dataset_meaning *error) {
  lcfm_store s = {
      .comm = w->comm, .file = w->file, .dxpl = w->dxpl, .version = LCFM_STORE_SCHEMA_VERSION};
  int64_t count = 0;
  lcfm_instrument *rows = lcfm_store_read_instruments(&s, &count);
  int simulated = 1, magnitudes = 0, fluxes = 0; /* simulated: the causal simulator's steps */
  for (int64_t i = 0; i < count; i++) {
    simulated &= rows[i].survey == LCFM_SURVEY_SIM && rows[i].value_kind == LCFM_VALUE_SIMULATED;
    magnitudes += rows[i].value_kind == LCFM_VALUE_MAGNITUDE;
    fluxes += rows[i].value_kind == LCFM_VALUE_RELATIVE_FLUX;
  }
  free(rows);
  *time = (dataset_meaning){
      "/points/time", simulated ? "" : "d",
      simulated ? "time in steps of the simulation (dimensionless)"
                : "time in days relative to the instrument's time_zero: add "
                  "/instruments/time_zero for its time_reference (BJD, JD) in its time_scale"};
  const char *value_unit = magnitudes && !fluxes ? "mag" : "";
  const char *value_text = magnitudes && fluxes
                               ? "flux / median flux - 1 or magnitude, per /instruments/value_kind "
                                 "(the unit attribute is that of relative flux)"
                           : magnitudes ? "magnitude"
                           : fluxes     ? "relative flux: flux / median_flux - 1"
                                        : "simulated signal (dimensionless)";
  *value = (dataset_meaning){"/points/value", value_unit, value_text};
  *error = (dataset_meaning){"/points/error", value_unit,
                             "one-sigma uncertainty of /points/value, in its unit"};
}

static void write_meaning(hid_t file, const dataset_meaning *m) {
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, m->path, H5P_DEFAULT));
  lcfm_h5_delete_attribute(dset, "unit");
  lcfm_h5_delete_attribute(dset, "description");
  lcfm_h5_write_string_attribute(dset, "unit", m->unit);
  lcfm_h5_write_string_attribute(dset, "description", m->description);
  H5Dclose(dset);
}

typedef struct {
  char (*paths)[256];
  int count, capacity;
} dataset_list;

static herr_t list_dataset(hid_t root, const char *name, const H5O_info_t *info, void *data) {
  (void)root;
  dataset_list *list = data;
  if (info->type != H5O_TYPE_DATASET) return 0;
  if (list->count == list->capacity) {
    list->capacity = list->capacity ? 2 * list->capacity : 64;
    char(*grown)[256] = lcfm_malloc((size_t)list->capacity * sizeof *grown);
    if (list->count) memcpy(grown, list->paths, (size_t)list->count * sizeof *grown);
    free(list->paths);
    list->paths = grown;
  }
  snprintf(list->paths[list->count++], 256, "/%s", name);
  return 0;
}

/* Collective: unit and description on every dataset of the store. A dataset this table does not
 * know keeps what its producer wrote, and must have both. */
static void describe_datasets(lcfm_store_writer *w) {
  dataset_meaning points[3];
  describe_points(w, &points[0], &points[1], &points[2]);
  dataset_list list = {0};
  LCFM_CHECK_H5(H5Ovisit(w->file, H5_INDEX_NAME, H5_ITER_INC, list_dataset, &list));
  for (int d = 0; d < list.count; d++) {
    const dataset_meaning *m = NULL;
    for (int p = 0; p < 3 && !m; p++)
      if (!strcmp(points[p].path, list.paths[d])) m = &points[p];
    for (size_t k = 0; k < sizeof meanings / sizeof *meanings && !m; k++)
      if (!strcmp(meanings[k].path, list.paths[d])) m = &meanings[k];
    if (m) {
      write_meaning(w->file, m);
      continue;
    }
    hid_t dset = LCFM_CHECK_H5(H5Dopen2(w->file, list.paths[d], H5P_DEFAULT));
    int described = H5Aexists(dset, "unit") > 0 && H5Aexists(dset, "description") > 0;
    H5Dclose(dset);
    LCFM_CHECK(described,
               "internal: %s: dataset %s has no unit and description (add it to store.c's table)",
               w->path, list.paths[d]);
  }
  free(list.paths);
}

/* ---- closing ---- */

static void close_columns(lcfm_store_writer *w) {
  for (int c = 0; c < N_OBJECT_COLUMNS; c++) H5Dclose(w->objects[c]);
  for (int c = 0; c < N_META_COLUMNS; c++) H5Dclose(w->meta[c]);
  for (int c = 0; c < N_POINT_COLUMNS; c++) H5Dclose(w->points[c]);
  if (w->quality >= 0) H5Dclose(w->quality);
  for (int m = 0; m < w->matrix_count; m++) H5Dclose(w->matrices[m]);
}

/* Collective: next_id (one more than the largest id ever given) and the content signature. */
static void write_next_id_and_signature(lcfm_store_writer *w) {
  int64_t largest = w->largest_id, all = -1;
  LCFM_CHECK_MPI(MPI_Allreduce(&largest, &all, 1, MPI_INT64_T, MPI_MAX, w->comm));
  int64_t next = all + 1 > w->next_id ? all + 1 : w->next_id;
  lcfm_h5_delete_attribute(w->file, "next_id");
  lcfm_h5_write_int64_attribute(w->file, "next_id", next);
  lcfm_h5_delete_attribute(w->file, LCFM_STORE_SIGNATURE_ATTRIBUTE);
  if (!w->appending) {
    lcfm_store_sign(w->comm, w->file, w->first_object, w->local_objects);
    return;
  }
  /* The signature covers every object: each rank reads back a shard of the whole store. */
  LCFM_CHECK_H5(H5Fflush(w->file, H5F_SCOPE_GLOBAL));
  LCFM_CHECK_MPI(MPI_Barrier(w->comm));
  int rank, ranks;
  MPI_Comm_rank(w->comm, &rank);
  MPI_Comm_size(w->comm, &ranks);
  int64_t first, count;
  lcfm_store_shard(lcfm_h5_dataset_rows(w->objects[COL_ID]), rank, ranks, &first, &count);
  lcfm_store_sign(w->comm, w->file, first, count);
}

void lcfm_store_close(lcfm_store_writer *w) {
  int64_t short_objects = w->local_objects - w->written_objects,
          short_points = w->local_points - w->written_points;
  LCFM_CHECK(short_objects == 0 && short_points == 0,
             "%s: this rank declared %lld more objects and %lld more points than it wrote", w->path,
             (long long)short_objects, (long long)short_points);
  if (!w->quality_decided) { /* no points at all: decide with none */
    lcfm_object_batch none = {0};
    decide_quality(w, &none, 0, 1);
  }
  if (!w->rejects_written) lcfm_store_write_rejects(w, NULL, 0);
  write_next_id_and_signature(w);
  describe_datasets(w);
  close_columns(w);
  H5Pclose(w->dxpl);
  H5Tclose(w->string_type);
  lcfm_h5_publish(w->comm, w->file, w->partial_path, w->path);
  free(w->instrument_map);
  free(w->path);
  free(w->partial_path);
  free(w);
}

/* ---- reading ---- */

/* Checks that `file` is an lcfm store this build reads; its version into *version. */
static int check_schema(hid_t file, const char *path, int *version, char *why, size_t why_len) {
  char schema[64] = "";
  if (read_string_attribute(file, "schema", schema, sizeof schema) ||
      strcmp(schema, LCFM_STORE_SCHEMA)) {
    snprintf(why, why_len,
             "%s: not an lcfm store (the root attribute 'schema' is %s%s%s, expected '%s')", path,
             schema[0] ? "'" : "missing", schema, schema[0] ? "'" : "", LCFM_STORE_SCHEMA);
    return 1;
  }
  int64_t found = read_int_attribute(file, "schema_version", -1);
  if (found < 1 || found > LCFM_STORE_SCHEMA_VERSION) {
    snprintf(why, why_len, "%s: store schema version %lld, but this lcfm reads versions 1 to %d",
             path, (long long)found, LCFM_STORE_SCHEMA_VERSION);
    return 1;
  }
  *version = (int)found;
  for (int c = 0; c < N_OBJECT_COLUMNS; c++)
    if (!has_link(file, "/objects") || !has_link(file, object_names[c])) {
      snprintf(why, why_len, "%s: lcfm store without %s (damaged or incomplete)", path,
               object_names[c]);
      return 1;
    }
  return 0;
}

lcfm_store *lcfm_store_open(MPI_Comm comm, const char *path, char *why, size_t why_len) {
  if (access(path, R_OK) != 0) {
    snprintf(why, why_len, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  if (H5Fis_hdf5(path) <= 0) {
    snprintf(why, why_len, "%s: not an HDF5 file", path);
    return NULL;
  }
  hid_t fapl = lcfm_h5_file_access(comm);
  errno = 0;
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  char reason[512] = "";
  if (file < 0)
    lcfm_h5_failure_reason(reason, sizeof reason, errno); /* before any other H5 call clears it */
  H5Pclose(fapl);
  if (file < 0) {
    snprintf(why, why_len, "%s: HDF5 cannot open it: %s", path, reason);
    return NULL;
  }
  int version = 0;
  if (check_schema(file, path, &version, why, why_len) ||
      lcfm_store_check(comm, file, path, why, why_len)) {
    H5Fclose(file);
    return NULL;
  }
  lcfm_store *s = lcfm_calloc(1, sizeof *s);
  s->comm = comm;
  s->path = copy_string(path);
  s->file = file;
  s->version = version;
  s->dxpl = lcfm_h5_collective_transfer();
  for (int c = 0; c < N_OBJECT_COLUMNS; c++)
    s->objects[c] = LCFM_CHECK_H5(H5Dopen2(file, object_names[c], H5P_DEFAULT));
  for (int c = 0; c < N_POINT_COLUMNS; c++)
    s->points[c] = LCFM_CHECK_H5(H5Dopen2(file, point_names[c], H5P_DEFAULT));
  s->object_count = lcfm_h5_dataset_rows(s->objects[COL_ID]);
  s->point_count = lcfm_h5_dataset_rows(s->points[PT_TIME]);
  return s;
}

void lcfm_store_free(lcfm_store *s) {
  if (!s) return;
  for (int c = 0; c < N_OBJECT_COLUMNS; c++) H5Dclose(s->objects[c]);
  for (int c = 0; c < N_POINT_COLUMNS; c++) H5Dclose(s->points[c]);
  H5Pclose(s->dxpl);
  H5Fclose(s->file);
  free(s->path);
  free(s);
}

int64_t lcfm_store_object_count(const lcfm_store *s) { return s->object_count; }
int64_t lcfm_store_point_count(const lcfm_store *s) { return s->point_count; }
hid_t lcfm_store_file(const lcfm_store *s) { return s->file; }
int lcfm_store_schema_version(const lcfm_store *s) { return s->version; }

int64_t lcfm_store_instrument_count(const lcfm_store *s) {
  return has_link(s->file, "/instruments") ? rows_of(s->file, "/instruments/id") : 0;
}

int64_t lcfm_store_reject_count(const lcfm_store *s) {
  return has_link(s->file, "/rejects") ? rows_of(s->file, "/rejects/reason") : 0;
}

void lcfm_batch_alloc(lcfm_object_batch *b, int64_t objects, int64_t points) {
  memset(b, 0, sizeof *b);
  size_t n = (size_t)(objects > 0 ? objects : 1), p = (size_t)(points > 0 ? points : 1);
  b->id = lcfm_malloc(n * sizeof *b->id);
  b->source = lcfm_malloc(n * sizeof *b->source);
  b->offset = lcfm_malloc(n * sizeof *b->offset);
  b->instrument = lcfm_malloc(n * sizeof *b->instrument);
  b->field = lcfm_malloc(n * sizeof *b->field);
  b->label = lcfm_malloc(n * sizeof *b->label);
  b->length = lcfm_malloc(n * sizeof *b->length);
  b->time = lcfm_malloc(p * sizeof *b->time);
  b->value = lcfm_malloc(p * sizeof *b->value);
  b->error = lcfm_malloc(p * sizeof *b->error);
}

void lcfm_batch_free(lcfm_object_batch *b) {
  free(b->id), free(b->source), free(b->offset), free(b->instrument), free(b->field);
  free(b->label), free(b->length), free(b->time), free(b->value), free(b->error);
  free(b->ra), free(b->dec), free(b->magnitude), free(b->median_flux), free(b->path),
      free(b->quality);
  memset(b, 0, sizeof *b);
}

void lcfm_store_read_objects(lcfm_store *s, int64_t first, int64_t count, lcfm_object_batch *b) {
  void *columns[N_OBJECT_COLUMNS] = {b->id,    b->source, b->instrument, b->field,
                                     b->label, b->offset, b->length};
  for (int col = 0; col < N_OBJECT_COLUMNS; col++)
    lcfm_h5_transfer_rows(s->objects[col], object_type(col), s->dxpl, first, count, 0, columns[col],
                          0);
  b->count = count;
}

void lcfm_store_read_metadata(lcfm_store *s, int64_t first, int64_t count, lcfm_object_batch *b) {
  size_t n = (size_t)(count ? count : 1);
  free(b->ra), free(b->dec), free(b->magnitude), free(b->median_flux), free(b->path);
  b->ra = lcfm_malloc(n * sizeof *b->ra), b->dec = lcfm_malloc(n * sizeof *b->dec);
  b->magnitude = lcfm_malloc(n * sizeof *b->magnitude),
  b->median_flux = lcfm_malloc(n * sizeof *b->median_flux);
  b->path = lcfm_calloc(n, LCFM_STORE_PATH_LEN);
  void *into[N_META_COLUMNS] = {b->ra, b->dec, b->magnitude, b->median_flux, b->path};
  hid_t string_type = fixed_string_type(LCFM_STORE_PATH_LEN);
  for (int c = 0; c < N_META_COLUMNS; c++) {
    hid_t type = c <= META_DEC    ? H5T_NATIVE_DOUBLE
                 : c == META_PATH ? string_type
                                  : H5T_NATIVE_FLOAT;
    if (s->version >= 2) {
      hid_t dset = LCFM_CHECK_H5(H5Dopen2(s->file, meta_names[c], H5P_DEFAULT));
      lcfm_h5_transfer_rows(dset, type, s->dxpl, first, count, 0, into[c], 0);
      H5Dclose(dset);
    } else if (c != META_PATH) { /* schema 1: unknown */
      for (int64_t i = 0; i < count; i++)
        if (c <= META_DEC) ((double *)into[c])[i] = NAN;
        else ((float *)into[c])[i] = NAN;
    }
  }
  H5Tclose(string_type);
}

static void grow_points(lcfm_store_cursor *c, int64_t points) {
  if (points <= c->point_capacity) return;
  c->point_capacity = points + points / 2;
  lcfm_object_batch *b = &c->batch;
  free(b->time), free(b->value), free(b->error);
  b->time = lcfm_malloc((size_t)c->point_capacity * sizeof *b->time);
  b->value = lcfm_malloc((size_t)c->point_capacity * sizeof *b->value);
  b->error = lcfm_malloc((size_t)c->point_capacity * sizeof *b->error);
}

void lcfm_store_cursor_begin(lcfm_store_cursor *c, lcfm_store *s, int64_t first, int64_t count,
                             int64_t block_objects) {
  memset(c, 0, sizeof *c);
  c->store = s;
  c->next = first;
  c->end = first + count;
  c->block_objects = block_objects;
  int64_t mine = (count + block_objects - 1) / block_objects;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &c->blocks_left, 1, MPI_INT64_T, MPI_MAX, s->comm));
  lcfm_batch_alloc(&c->batch, block_objects, 0);
  c->point_capacity = 1;
}

int lcfm_store_cursor_next(lcfm_store_cursor *c) {
  if (c->blocks_left == 0) return 0;
  c->blocks_left--;
  lcfm_store *s = c->store;
  lcfm_object_batch *b = &c->batch;
  int64_t count = c->end - c->next < c->block_objects ? c->end - c->next : c->block_objects;
  lcfm_store_read_objects(s, c->next, count, b);
  int64_t first_point = count ? b->offset[0] : 0, points = 0;
  for (int64_t i = 0; i < count; i++) {
    LCFM_CHECK(b->offset[i] == first_point + points && b->length[i] >= 0,
               "%s: object %lld has offset %lld and length %d, which break the point order",
               s->path, (long long)(c->next + i), (long long)b->offset[i], b->length[i]);
    points += b->length[i];
  }
  LCFM_CHECK(first_point + points <= s->point_count, "%s: objects point past the end of /points",
             s->path);
  grow_points(c, points);
  void *point_columns[N_POINT_COLUMNS] = {b->time, b->value, b->error};
  for (int col = 0; col < N_POINT_COLUMNS; col++)
    lcfm_h5_transfer_rows(s->points[col], point_type(col), s->dxpl, first_point, points, 0,
                          point_columns[col], 0);
  b->count = count;
  b->point_count = points;
  c->next += count;
  return 1;
}

void lcfm_store_cursor_end(lcfm_store_cursor *c) { lcfm_batch_free(&c->batch); }

/* Schema 1 has no value_kind, time_scale or time_reference: they follow from the survey. */
static void infer_schema1_meaning(lcfm_instrument *row) {
  row->value_kind = row->survey == LCFM_SURVEY_SIM     ? LCFM_VALUE_SIMULATED
                    : row->survey == LCFM_SURVEY_MACHO ? LCFM_VALUE_MAGNITUDE
                                                       : LCFM_VALUE_RELATIVE_FLUX;
  const char *reference = row->survey == LCFM_SURVEY_SIM     ? ""
                          : row->survey == LCFM_SURVEY_MACHO ? "JD"
                                                             : "BJD";
  snprintf(row->time_reference, sizeof row->time_reference, "%s", reference);
}

static void read_instrument_text(lcfm_store *s, const char *name, size_t length, size_t offset,
                                 lcfm_instrument *rows, int64_t count) {
  char *text = lcfm_calloc((size_t)count, length);
  hid_t type = fixed_string_type(length);
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(s->file, name, H5P_DEFAULT));
  lcfm_h5_transfer_rows(dset, type, s->dxpl, 0, count, 0, text, 0);
  H5Dclose(dset);
  H5Tclose(type);
  for (int64_t i = 0; i < count; i++) {
    char *field = (char *)&rows[i] + offset;
    memcpy(field, text + i * length, length);
    field[length - 1] = '\0';
  }
  free(text);
}

lcfm_instrument *lcfm_store_read_instruments(lcfm_store *s, int64_t *count) {
  *count = lcfm_store_instrument_count(s);
  lcfm_instrument *rows = lcfm_calloc((size_t)(*count ? *count : 1), sizeof *rows);
  if (*count == 0) return rows;
  int v2 = s->version >= 2 && has_link(s->file, "/instruments/value_kind");
  int32_t *column = lcfm_malloc((size_t)*count * sizeof *column);
  for (int c = 0; c < (v2 ? INSTRUMENT_INTS : INSTRUMENT_INTS_V1); c++) {
    hid_t dset = LCFM_CHECK_H5(H5Dopen2(s->file, instrument_int_names[c], H5P_DEFAULT));
    lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT32, s->dxpl, 0, *count, 0, column, 0);
    H5Dclose(dset);
    for (int64_t i = 0; i < *count; i++) {
      int32_t *fields[INSTRUMENT_INTS] = {&rows[i].id,        &rows[i].survey,  &rows[i].season,
                                          &rows[i].unit,      &rows[i].subunit, &rows[i].band,
                                          &rows[i].value_kind};
      *fields[c] = column[i];
    }
  }
  free(column);
  double *time_zero = lcfm_malloc((size_t)*count * sizeof *time_zero);
  hid_t zero_set = LCFM_CHECK_H5(H5Dopen2(s->file, "/instruments/time_zero", H5P_DEFAULT));
  lcfm_h5_transfer_rows(zero_set, H5T_NATIVE_DOUBLE, s->dxpl, 0, *count, 0, time_zero, 0);
  H5Dclose(zero_set);
  for (int64_t i = 0; i < *count; i++) rows[i].time_zero = time_zero[i];
  free(time_zero);
  read_instrument_text(s, "/instruments/name", LCFM_INSTRUMENT_NAME_LEN,
                       offsetof(lcfm_instrument, name), rows, *count);
  if (v2) {
    read_instrument_text(s, "/instruments/time_scale", sizeof rows->time_scale,
                         offsetof(lcfm_instrument, time_scale), rows, *count);
    read_instrument_text(s, "/instruments/time_reference", sizeof rows->time_reference,
                         offsetof(lcfm_instrument, time_reference), rows, *count);
  } else {
    for (int64_t i = 0; i < *count; i++) infer_schema1_meaning(&rows[i]);
  }
  return rows;
}
