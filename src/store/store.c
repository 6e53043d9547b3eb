/* store.c: collective writing and streaming reads of the light-curve store (see store.h). */
#include "lcfm/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "lcfm/store_check.h"

enum { MAX_MATRICES = 16 };

enum object_column { COL_ID, COL_SOURCE, COL_INSTRUMENT, COL_FIELD, COL_LABEL, COL_OFFSET, COL_LENGTH, N_OBJECT_COLUMNS };
enum point_column { PT_TIME, PT_VALUE, PT_ERROR, N_POINT_COLUMNS };

static const char *const object_names[N_OBJECT_COLUMNS] = {
    "/objects/id", "/objects/source", "/objects/instrument", "/objects/field",
    "/objects/label", "/objects/offset", "/objects/length"};
static const char *const point_names[N_POINT_COLUMNS] = {"/points/time", "/points/value", "/points/error"};

static hid_t object_type(int column) {
  return (column == COL_ID || column == COL_SOURCE || column == COL_OFFSET) ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32;
}
static hid_t point_type(int column) { return column == PT_TIME ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT; }

struct lcfm_store_writer {
  MPI_Comm comm;
  char *path, *partial_path;
  hid_t file, dxpl;
  hid_t objects[N_OBJECT_COLUMNS], points[N_POINT_COLUMNS];
  hid_t matrices[MAX_MATRICES];
  int64_t matrix_cols[MAX_MATRICES];
  int matrix_count;
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

/* ---- writing ---- */

static void write_root_attributes(hid_t file, const lcfm_provenance *prov) {
  lcfm_h5_write_string_attribute(file, "schema", LCFM_STORE_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", LCFM_STORE_SCHEMA_VERSION);
  lcfm_h5_write_string_attribute(file, "producer", prov->verb);
  lcfm_provenance_write(file, prov);
}

lcfm_store_writer *lcfm_store_create(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                     int64_t local_objects, int64_t local_points) {
  lcfm_store_writer *w = lcfm_calloc(1, sizeof *w);
  w->comm = comm;
  w->path = copy_string(path);
  w->partial_path = lcfm_malloc(strlen(path) + 9);
  w->local_objects = local_objects;
  w->local_points = local_points;

  int64_t local[2] = {local_objects, local_points}, before[2] = {0, 0}, total[2];
  LCFM_CHECK_MPI(MPI_Exscan(local, before, 2, MPI_INT64_T, MPI_SUM, comm));
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) before[0] = before[1] = 0; /* MPI_Exscan leaves rank 0's result undefined */
  LCFM_CHECK_MPI(MPI_Allreduce(local, total, 2, MPI_INT64_T, MPI_SUM, comm));
  w->first_object = before[0];
  w->first_point = before[1];

  hid_t file = lcfm_h5_create_partial(comm, path, w->partial_path, strlen(path) + 9);
  w->file = file;
  w->dxpl = lcfm_h5_collective_transfer();
  write_root_attributes(file, prov);
  for (int c = 0; c < N_OBJECT_COLUMNS; c++) w->objects[c] = lcfm_h5_create_dataset(file, object_names[c], object_type(c), total[0], 0);
  for (int c = 0; c < N_POINT_COLUMNS; c++) w->points[c] = lcfm_h5_create_dataset(file, point_names[c], point_type(c), total[1], 0);
  return w;
}

void lcfm_store_write_batch(lcfm_store_writer *w, const lcfm_object_batch *b) {
  int64_t count = b->count, points = 0;
  for (int64_t i = 0; i < count; i++) points += b->length[i];
  LCFM_CHECK(w->written_objects + count <= w->local_objects && w->written_points + points <= w->local_points,
             "%s: a rank wrote more objects or points than it declared", w->path);
  int64_t first = w->first_object + w->written_objects;
  int64_t first_point = w->first_point + w->written_points;
  int64_t *offset = lcfm_malloc((size_t)(count ? count : 1) * sizeof *offset);
  for (int64_t i = 0, at = first_point; i < count; i++) {
    offset[i] = at;
    at += b->length[i];
  }
  void *columns[N_OBJECT_COLUMNS] = {b->id, b->source, b->instrument, b->field, b->label, offset, b->length};
  for (int c = 0; c < N_OBJECT_COLUMNS; c++)
    lcfm_h5_transfer_rows(w->objects[c], object_type(c), w->dxpl, first, count, 0, columns[c], 1);
  void *point_columns[N_POINT_COLUMNS] = {b->time, b->value, b->error};
  for (int c = 0; c < N_POINT_COLUMNS; c++)
    lcfm_h5_transfer_rows(w->points[c], point_type(c), w->dxpl, first_point, points, 0, point_columns[c], 1);
  free(offset);
  w->written_objects += count;
  w->written_points += points;
}

void lcfm_store_write_instruments(lcfm_store_writer *w, const lcfm_instrument *rows, int64_t count) {
  int rank;
  MPI_Comm_rank(w->comm, &rank);
  int64_t mine = rank == 0 ? count : 0;
  int32_t *column = lcfm_malloc((size_t)(count ? count : 1) * sizeof *column);
  static const char *const names[] = {"/instruments/id", "/instruments/survey", "/instruments/season",
                                      "/instruments/unit", "/instruments/subunit", "/instruments/band"};
  for (int c = 0; c < 6; c++) {
    for (int64_t i = 0; i < count; i++) {
      const int32_t fields[6] = {rows[i].id, rows[i].survey, rows[i].season, rows[i].unit, rows[i].subunit, rows[i].band};
      column[i] = fields[c];
    }
    hid_t dset = lcfm_h5_create_dataset(w->file, names[c], H5T_NATIVE_INT32, count, 0);
    lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT32, w->dxpl, 0, mine, 0, column, 1);
    H5Dclose(dset);
  }
  free(column);
  double *time_zero = lcfm_malloc((size_t)(count ? count : 1) * sizeof *time_zero);
  for (int64_t i = 0; i < count; i++) time_zero[i] = rows[i].time_zero;
  hid_t zero_set = lcfm_h5_create_dataset(w->file, "/instruments/time_zero", H5T_NATIVE_DOUBLE, count, 0);
  lcfm_h5_transfer_rows(zero_set, H5T_NATIVE_DOUBLE, w->dxpl, 0, mine, 0, time_zero, 1);
  H5Dclose(zero_set);
  free(time_zero);
  char *text = lcfm_calloc((size_t)(count ? count : 1), LCFM_INSTRUMENT_NAME_LEN);
  for (int64_t i = 0; i < count; i++)
    memcpy(text + i * LCFM_INSTRUMENT_NAME_LEN, rows[i].name, LCFM_INSTRUMENT_NAME_LEN);
  hid_t type = fixed_string_type(LCFM_INSTRUMENT_NAME_LEN);
  hid_t dset = lcfm_h5_create_dataset(w->file, "/instruments/name", type, count, 0);
  lcfm_h5_transfer_rows(dset, type, w->dxpl, 0, mine, 0, text, 1);
  H5Dclose(dset);
  H5Tclose(type);
  free(text);
}

void lcfm_store_write_rejects(lcfm_store_writer *w, const lcfm_reject *rows, int64_t count) {
  int rank;
  MPI_Comm_rank(w->comm, &rank);
  int64_t before = 0, total = 0;
  LCFM_CHECK_MPI(MPI_Exscan(&count, &before, 1, MPI_INT64_T, MPI_SUM, w->comm));
  if (rank == 0) before = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&count, &total, 1, MPI_INT64_T, MPI_SUM, w->comm));
  size_t n = (size_t)(count ? count : 1);
  char *keys = lcfm_calloc(n, LCFM_REJECT_TEXT_LEN), *messages = lcfm_calloc(n, LCFM_REJECT_TEXT_LEN);
  int32_t *reasons = lcfm_malloc(n * sizeof *reasons);
  for (int64_t i = 0; i < count; i++) {
    memcpy(keys + i * LCFM_REJECT_TEXT_LEN, rows[i].key, LCFM_REJECT_TEXT_LEN);
    keys[(i + 1) * LCFM_REJECT_TEXT_LEN - 1] = '\0';
    memcpy(messages + i * LCFM_REJECT_TEXT_LEN, rows[i].message, LCFM_REJECT_TEXT_LEN);
    messages[(i + 1) * LCFM_REJECT_TEXT_LEN - 1] = '\0';
    reasons[i] = rows[i].reason;
  }
  hid_t type = fixed_string_type(LCFM_REJECT_TEXT_LEN);
  hid_t dset = lcfm_h5_create_dataset(w->file, "/rejects/key", type, total, 0);
  lcfm_h5_transfer_rows(dset, type, w->dxpl, before, count, 0, keys, 1);
  H5Dclose(dset);
  dset = lcfm_h5_create_dataset(w->file, "/rejects/reason", H5T_NATIVE_INT32, total, 0);
  lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT32, w->dxpl, before, count, 0, reasons, 1);
  H5Dclose(dset);
  dset = lcfm_h5_create_dataset(w->file, "/rejects/message", type, total, 0);
  lcfm_h5_transfer_rows(dset, type, w->dxpl, before, count, 0, messages, 1);
  H5Dclose(dset);
  H5Tclose(type);
  free(keys);
  free(messages);
  free(reasons);
  w->rejects_written = 1;
}

int lcfm_store_add_matrix(lcfm_store_writer *w, const char *path, int64_t rows, int64_t cols) {
  LCFM_CHECK(w->matrix_count < MAX_MATRICES, "%s: too many matrices in one store", w->path);
  int handle = w->matrix_count++;
  w->matrices[handle] = lcfm_h5_create_dataset(w->file, path, H5T_NATIVE_DOUBLE, rows, cols);
  w->matrix_cols[handle] = cols;
  return handle;
}

void lcfm_store_write_rows(lcfm_store_writer *w, int matrix, int64_t first_row, int64_t row_count,
                           const double *data) {
  LCFM_CHECK(matrix >= 0 && matrix < w->matrix_count, "internal: bad matrix handle %d", matrix);
  lcfm_h5_transfer_rows(w->matrices[matrix], H5T_NATIVE_DOUBLE, w->dxpl, first_row, row_count,
                w->matrix_cols[matrix], (void *)data, 1);
}

hid_t lcfm_store_group(lcfm_store_writer *w, const char *path) {
  if (!path) return w->file;
  return LCFM_CHECK_H5(H5Gopen2(w->file, path, H5P_DEFAULT));
}

void lcfm_store_close(lcfm_store_writer *w) {
  int64_t short_objects = w->local_objects - w->written_objects, short_points = w->local_points - w->written_points;
  LCFM_CHECK(short_objects == 0 && short_points == 0,
             "%s: this rank declared %lld more objects and %lld more points than it wrote", w->path,
             (long long)short_objects, (long long)short_points);
  if (!w->rejects_written) lcfm_store_write_rejects(w, NULL, 0);
  lcfm_store_sign(w->comm, w->file, w->first_object, w->local_objects);
  for (int c = 0; c < N_OBJECT_COLUMNS; c++) H5Dclose(w->objects[c]);
  for (int c = 0; c < N_POINT_COLUMNS; c++) H5Dclose(w->points[c]);
  for (int m = 0; m < w->matrix_count; m++) H5Dclose(w->matrices[m]);
  H5Pclose(w->dxpl);
  lcfm_h5_publish(w->comm, w->file, w->partial_path, w->path);
  free(w->path);
  free(w->partial_path);
  free(w);
}

/* ---- reading ---- */

/* Reads a string attribute of the root group into buf; returns 0, or 1 if absent or not text. */
static int read_string_attribute(hid_t file, const char *name, char *buf, size_t len) {
  if (H5Aexists(file, name) <= 0) return 1;
  hid_t attr = LCFM_CHECK_H5(H5Aopen(file, name, H5P_DEFAULT));
  hid_t type = LCFM_CHECK_H5(H5Aget_type(attr));
  int status = 1;
  if (H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)) {
    size_t size = H5Tget_size(type);
    char *tmp = lcfm_calloc(size + 1, 1);
    hid_t mem = fixed_string_type(size + 1);
    LCFM_CHECK_H5(H5Aread(attr, mem, tmp));
    snprintf(buf, len, "%s", tmp);
    H5Tclose(mem);
    free(tmp);
    status = 0;
  }
  H5Tclose(type);
  H5Aclose(attr);
  return status;
}

static int64_t read_int_attribute(hid_t file, const char *name, int64_t missing) {
  if (H5Aexists(file, name) <= 0) return missing;
  int64_t value = missing;
  hid_t attr = LCFM_CHECK_H5(H5Aopen(file, name, H5P_DEFAULT));
  if (H5Aread(attr, H5T_NATIVE_INT64, &value) < 0) value = missing;
  H5Aclose(attr);
  return value;
}

/* Checks that `file` is an lcfm store this build reads; writes why not into `why`. */
static int check_schema(hid_t file, const char *path, char *why, size_t why_len) {
  char schema[64] = "";
  if (read_string_attribute(file, "schema", schema, sizeof schema) || strcmp(schema, LCFM_STORE_SCHEMA)) {
    snprintf(why, why_len, "%s: not an lcfm store (the root attribute 'schema' is %s%s%s, expected '%s')",
             path, schema[0] ? "'" : "missing", schema, schema[0] ? "'" : "", LCFM_STORE_SCHEMA);
    return 1;
  }
  int64_t version = read_int_attribute(file, "schema_version", -1);
  if (version != LCFM_STORE_SCHEMA_VERSION) {
    snprintf(why, why_len, "%s: store schema version %lld, but this lcfm reads version %d", path,
             (long long)version, LCFM_STORE_SCHEMA_VERSION);
    return 1;
  }
  for (int c = 0; c < N_OBJECT_COLUMNS; c++)
    if (H5Lexists(file, "/objects", H5P_DEFAULT) <= 0 || H5Lexists(file, object_names[c], H5P_DEFAULT) <= 0) {
      snprintf(why, why_len, "%s: lcfm store without %s (damaged or incomplete)", path, object_names[c]);
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
  if (file < 0) lcfm_h5_failure_reason(reason, sizeof reason, errno); /* before any other H5 call clears it */
  H5Pclose(fapl);
  if (file < 0) {
    snprintf(why, why_len, "%s: HDF5 cannot open it: %s", path, reason);
    return NULL;
  }
  if (check_schema(file, path, why, why_len) || lcfm_store_check(comm, file, path, why, why_len)) {
    H5Fclose(file);
    return NULL;
  }
  lcfm_store *s = lcfm_calloc(1, sizeof *s);
  s->comm = comm;
  s->path = copy_string(path);
  s->file = file;
  s->dxpl = lcfm_h5_collective_transfer();
  for (int c = 0; c < N_OBJECT_COLUMNS; c++) s->objects[c] = LCFM_CHECK_H5(H5Dopen2(file, object_names[c], H5P_DEFAULT));
  for (int c = 0; c < N_POINT_COLUMNS; c++) s->points[c] = LCFM_CHECK_H5(H5Dopen2(file, point_names[c], H5P_DEFAULT));
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

static int64_t optional_length(hid_t file, const char *path) {
  if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return 0;
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, path, H5P_DEFAULT));
  int64_t n = lcfm_h5_dataset_rows(dset);
  H5Dclose(dset);
  return n;
}

int64_t lcfm_store_instrument_count(const lcfm_store *s) {
  return H5Lexists(s->file, "/instruments", H5P_DEFAULT) > 0 ? optional_length(s->file, "/instruments/id") : 0;
}

int64_t lcfm_store_reject_count(const lcfm_store *s) {
  return H5Lexists(s->file, "/rejects", H5P_DEFAULT) > 0 ? optional_length(s->file, "/rejects/reason") : 0;
}

void lcfm_store_shard(int64_t objects, int rank, int ranks, int64_t *first, int64_t *count) {
  int64_t base = objects / ranks, extra = objects % ranks;
  *first = rank * base + (rank < extra ? rank : extra);
  *count = base + (rank < extra ? 1 : 0);
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
  memset(b, 0, sizeof *b);
}

void lcfm_store_read_objects(lcfm_store *s, int64_t first, int64_t count, lcfm_object_batch *b) {
  void *columns[N_OBJECT_COLUMNS] = {b->id, b->source, b->instrument, b->field, b->label, b->offset, b->length};
  for (int col = 0; col < N_OBJECT_COLUMNS; col++)
    lcfm_h5_transfer_rows(s->objects[col], object_type(col), s->dxpl, first, count, 0, columns[col], 0);
  b->count = count;
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
  LCFM_CHECK(first_point + points <= s->point_count, "%s: objects point past the end of /points", s->path);
  grow_points(c, points);
  void *point_columns[N_POINT_COLUMNS] = {b->time, b->value, b->error};
  for (int col = 0; col < N_POINT_COLUMNS; col++)
    lcfm_h5_transfer_rows(s->points[col], point_type(col), s->dxpl, first_point, points, 0, point_columns[col], 0);
  b->count = count;
  b->point_count = points;
  c->next += count;
  return 1;
}

void lcfm_store_cursor_end(lcfm_store_cursor *c) { lcfm_batch_free(&c->batch); }

lcfm_instrument *lcfm_store_read_instruments(lcfm_store *s, int64_t *count) {
  *count = lcfm_store_instrument_count(s);
  lcfm_instrument *rows = lcfm_calloc((size_t)(*count ? *count : 1), sizeof *rows);
  if (*count == 0) return rows;
  static const char *const names[] = {"/instruments/id", "/instruments/survey", "/instruments/season",
                                      "/instruments/unit", "/instruments/subunit", "/instruments/band"};
  int32_t *column = lcfm_malloc((size_t)*count * sizeof *column);
  for (int c = 0; c < 6; c++) {
    hid_t dset = LCFM_CHECK_H5(H5Dopen2(s->file, names[c], H5P_DEFAULT));
    lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT32, s->dxpl, 0, *count, 0, column, 0);
    H5Dclose(dset);
    for (int64_t i = 0; i < *count; i++) {
      int32_t *fields[6] = {&rows[i].id, &rows[i].survey, &rows[i].season, &rows[i].unit, &rows[i].subunit, &rows[i].band};
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
  char *text = lcfm_malloc((size_t)*count * LCFM_INSTRUMENT_NAME_LEN);
  hid_t type = fixed_string_type(LCFM_INSTRUMENT_NAME_LEN);
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(s->file, "/instruments/name", H5P_DEFAULT));
  lcfm_h5_transfer_rows(dset, type, s->dxpl, 0, *count, 0, text, 0);
  H5Dclose(dset);
  H5Tclose(type);
  for (int64_t i = 0; i < *count; i++) {
    memcpy(rows[i].name, text + i * LCFM_INSTRUMENT_NAME_LEN, LCFM_INSTRUMENT_NAME_LEN);
    rows[i].name[LCFM_INSTRUMENT_NAME_LEN - 1] = '\0';
  }
  free(text);
  return rows;
}
