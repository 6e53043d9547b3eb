/* store_check.c: the checks of a store before it is read, and its content signature (see
 * store_check.h). */
#include "lcfm/store_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "lcfm/provenance.h"

enum { OBJECT_BLOCK = 1 << 16, POINT_BLOCK = 1 << 18 };

typedef struct {
  const char *name;
  H5T_class_t class_;
} column;

enum {
  OBJ_ID,
  OBJ_SOURCE,
  OBJ_INSTRUMENT,
  OBJ_FIELD,
  OBJ_LABEL,
  OBJ_OFFSET,
  OBJ_LENGTH,
  OBJECT_COLUMNS
};
static const column object_columns[OBJECT_COLUMNS] = {
    {"/objects/id", H5T_INTEGER},         {"/objects/source", H5T_INTEGER},
    {"/objects/instrument", H5T_INTEGER}, {"/objects/field", H5T_INTEGER},
    {"/objects/label", H5T_INTEGER},      {"/objects/offset", H5T_INTEGER},
    {"/objects/length", H5T_INTEGER}};
static const column point_columns[] = {
    {"/points/time", H5T_FLOAT}, {"/points/value", H5T_FLOAT}, {"/points/error", H5T_FLOAT}};
static const column instrument_columns[] = {
    {"/instruments/id", H5T_INTEGER},      {"/instruments/survey", H5T_INTEGER},
    {"/instruments/season", H5T_INTEGER},  {"/instruments/unit", H5T_INTEGER},
    {"/instruments/subunit", H5T_INTEGER}, {"/instruments/band", H5T_INTEGER},
    {"/instruments/time_zero", H5T_FLOAT}, {"/instruments/name", H5T_STRING}};
/* Schema 2 adds these (same extents as their group's). */
static const column object_columns_v2[] = {{"/objects/ra", H5T_FLOAT},
                                           {"/objects/dec", H5T_FLOAT},
                                           {"/objects/magnitude", H5T_FLOAT},
                                           {"/objects/median_flux", H5T_FLOAT},
                                           {"/objects/path", H5T_STRING}};
static const column instrument_columns_v2[] = {{"/instruments/value_kind", H5T_INTEGER},
                                               {"/instruments/time_scale", H5T_STRING},
                                               {"/instruments/time_reference", H5T_STRING}};
static const column quality_column = {"/points/quality", H5T_INTEGER};
static const column reject_columns[] = {{"/rejects/key", H5T_STRING},
                                        {"/rejects/reason", H5T_INTEGER},
                                        {"/rejects/message", H5T_STRING}};

#define COUNT(a) ((int)(sizeof(a) / sizeof *(a)))

typedef struct {
  int64_t objects, points, instruments;
} shard_check_extents;

static const char *class_name(H5T_class_t c) {
  return c == H5T_INTEGER  ? "integer"
         : c == H5T_FLOAT  ? "floating-point"
         : c == H5T_STRING ? "fixed-length string"
                           : "other";
}

/* ---- one extent per column ---- */

/* Checks one dataset: present, 1-D, of its class; its rows into *rows. Returns 0 or 1 with why. */
static int check_column(hid_t file, const char *path, const column *c, int64_t *rows, char *why,
                        size_t len) {
  if (H5Lexists(file, c->name, H5P_DEFAULT) <= 0) {
    snprintf(why, len, "%s: lcfm store without %s (damaged or incomplete)", path, c->name);
    return 1;
  }
  hid_t dset = H5Dopen2(file, c->name, H5P_DEFAULT);
  if (dset < 0) {
    snprintf(why, len, "%s: %s is not a dataset", path, c->name);
    return 1;
  }
  hid_t type = H5Dget_type(dset), space = H5Dget_space(dset);
  hsize_t dims[H5S_MAX_RANK] = {0};
  int ndims = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (ndims == 1) H5Sget_simple_extent_dims(space, dims, NULL);
  H5T_class_t found = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  int variable = found == H5T_STRING && H5Tis_variable_str(type) > 0;
  int bad = 1;
  if (ndims != 1) snprintf(why, len, "%s: %s has %d dimensions, expected 1", path, c->name, ndims);
  else if (found != c->class_ || variable)
    snprintf(why, len, "%s: %s is not of %s type", path, c->name, class_name(c->class_));
  else if (dims[0] > (hsize_t)INT64_MAX / 16)
    snprintf(why, len, "%s: %s has an impossible extent %llu", path, c->name,
             (unsigned long long)dims[0]);
  else bad = 0, *rows = (int64_t)dims[0];
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Dclose(dset);
  return bad;
}

/* Every column of a group is well formed and all have one extent (*rows). An optional group
 * that is absent has 0 rows. */
static int check_group(hid_t file, const char *path, const char *group, const column *columns,
                       int count, int optional, int64_t *rows, char *why, size_t len) {
  *rows = 0;
  if (optional && H5Lexists(file, group, H5P_DEFAULT) <= 0) return 0;
  for (int c = 0; c < count; c++) {
    int64_t n = 0;
    if (check_column(file, path, &columns[c], &n, why, len)) return 1;
    if (c > 0 && n != *rows) {
      snprintf(why, len,
               "%s: ragged columns: %s has %lld rows but %s has %lld (one extent per column)", path,
               columns[0].name, (long long)*rows, columns[c].name, (long long)n);
      return 1;
    }
    *rows = n;
  }
  return 0;
}

/* Schema 2's extra columns of a group have its extent `rows`; an optional group that is absent
 * (rows 0 and no link) is skipped. */
static int check_more_columns(hid_t file, const char *path, const char *group,
                              const column *columns, int count, int64_t rows, char *why,
                              size_t len) {
  if (H5Lexists(file, group, H5P_DEFAULT) <= 0) return 0;
  for (int c = 0; c < count; c++) {
    int64_t n = 0;
    if (check_column(file, path, &columns[c], &n, why, len)) return 1;
    if (n != rows) {
      snprintf(why, len,
               "%s: ragged columns: %s has %lld rows but the group's other columns have %lld", path,
               columns[c].name, (long long)n, (long long)rows);
      return 1;
    }
  }
  return 0;
}

static int64_t schema_version(hid_t file) {
  int64_t version = 1;
  if (H5Aexists(file, "schema_version") > 0) {
    hid_t attr = LCFM_CHECK_H5(H5Aopen(file, "schema_version", H5P_DEFAULT));
    if (H5Aread(attr, H5T_NATIVE_INT64, &version) < 0) version = 1;
    H5Aclose(attr);
  }
  return version;
}

/* The columns schema 2 adds: present in a version-2 store, with their group's extent. */
static int check_schema2_columns(hid_t file, const char *path, const shard_check_extents *e,
                                 char *why, size_t len) {
  if (schema_version(file) < 2) return 0;
  if (check_more_columns(file, path, "/objects", object_columns_v2, COUNT(object_columns_v2),
                         e->objects, why, len) ||
      check_more_columns(file, path, "/instruments", instrument_columns_v2,
                         COUNT(instrument_columns_v2), e->instruments, why, len))
    return 1;
  return H5Lexists(file, quality_column.name, H5P_DEFAULT) > 0 &&
         check_more_columns(file, path, "/points", &quality_column, 1, e->points, why, len);
}

/* ---- the first broken object, agreed by every rank ---- */

typedef struct {
  int64_t index; /* object index of the first finding; INT64_MAX when none */
  char text[1024];
} finding;

static void LCFM_PRINTF(3, 4) note(finding *f, int64_t index, const char *fmt, ...) {
  if (index >= f->index) return;
  f->index = index;
  va_list args;
  va_start(args, fmt);
  vsnprintf(f->text, sizeof f->text, fmt, args);
  va_end(args);
}

/* Collective: the finding with the lowest index on any rank into why; returns 1 if there is one. */
static int agree(MPI_Comm comm, finding *f, char *why, size_t len) {
  int64_t first = INT64_MAX;
  LCFM_CHECK_MPI(MPI_Allreduce(&f->index, &first, 1, MPI_INT64_T, MPI_MIN, comm));
  if (first == INT64_MAX) return 0;
  int rank, ranks, owner = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int mine = f->index == first ? rank : ranks;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &owner, 1, MPI_INT, MPI_MIN, comm));
  LCFM_CHECK_MPI(MPI_Bcast(f->text, (int)sizeof f->text, MPI_CHAR, owner, comm));
  snprintf(why, len, "%s", f->text);
  return 1;
}

/* ---- per object ---- */

typedef struct {
  MPI_Comm comm;
  hid_t file, dxpl;
  const char *path;
  int64_t objects, points, instruments;
  int64_t first, count; /* this rank's shard */
  int64_t first_id;     /* id of the shard's first object (a bad point's object is read back) */
  hid_t id_set, offset_set,
      length_set;                 /* opened collectively by check_points for naming a bad point */
  int64_t point_begin, point_end; /* the shard's points when its objects are sound */
} shard_check;

static hid_t object_memtype(int c) {
  return c == OBJ_ID || c == OBJ_SOURCE || c == OBJ_OFFSET ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32;
}

/* One object's columns against the schema; `expected` is where its points must start. */
static void check_object(shard_check *s, finding *f, int64_t i, int64_t id, int32_t instrument,
                         int32_t label, int64_t offset, int32_t length, int64_t expected) {
  const char *p = s->path;
  if (length < 0)
    note(f, i, "%s: object %lld (id %lld): length %d is negative", p, (long long)i, (long long)id,
         length);
  else if (offset < 0 || offset > s->points - length)
    note(f, i,
         "%s: object %lld (id %lld): its points [%lld, %lld) are not within /points (%lld rows)", p,
         (long long)i, (long long)id, (long long)offset, (long long)offset + length,
         (long long)s->points);
  else if (expected >= 0 && offset != expected)
    note(
        f, i,
        "%s: object %lld (id %lld): offset %lld, but the previous object's points end at %lld (each "
        "object's points follow the previous object's, without gap or overlap)",
        p, (long long)i, (long long)id, (long long)offset, (long long)expected);
  else if (instrument < 0 || instrument >= s->instruments)
    note(f, i, "%s: object %lld (id %lld): instrument %d is not a row of /instruments (%lld rows)",
         p, (long long)i, (long long)id, instrument, (long long)s->instruments);
  else if (label < -1)
    note(f, i, "%s: object %lld (id %lld): label %d (a class is >= 0, or -1 for none)", p,
         (long long)i, (long long)id, label);
}

/* Collective: this rank's objects in blocks; the shard's first offset and end go to
 * point_begin / point_end. */
static void check_objects(shard_check *s, finding *f) {
  int64_t blocks = (s->count + OBJECT_BLOCK - 1) / OBJECT_BLOCK, all_blocks = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&blocks, &all_blocks, 1, MPI_INT64_T, MPI_MAX, s->comm));
  /* One block at a time: memory per rank does not grow with the store. */
  int64_t *id = lcfm_malloc(OBJECT_BLOCK * sizeof *id),
          *offset = lcfm_malloc(OBJECT_BLOCK * sizeof *offset);
  int32_t *length = lcfm_malloc(OBJECT_BLOCK * sizeof *length);
  int64_t *scratch64 = lcfm_malloc(OBJECT_BLOCK * sizeof *scratch64);
  int32_t *instrument = lcfm_malloc(OBJECT_BLOCK * sizeof *instrument),
          *label = lcfm_malloc(OBJECT_BLOCK * sizeof *label);
  int32_t *scratch32 = lcfm_malloc(OBJECT_BLOCK * sizeof *scratch32);
  int64_t expected = -1; /* the shard's first object is checked against the previous rank below */
  for (int64_t k = 0; k < all_blocks; k++) {
    int64_t at = k * OBJECT_BLOCK,
            count = s->count - at < OBJECT_BLOCK ? s->count - at : OBJECT_BLOCK;
    if (count < 0) count = 0, at = 0;
    void *into[OBJECT_COLUMNS] = {id, scratch64, instrument, scratch32, label, offset, length};
    for (int c = 0; c < OBJECT_COLUMNS; c++) {
      hid_t dset = LCFM_CHECK_H5(H5Dopen2(s->file, object_columns[c].name, H5P_DEFAULT));
      lcfm_h5_transfer_rows(dset, object_memtype(c), s->dxpl, s->first + at, count, 0, into[c], 0);
      H5Dclose(dset);
    }
    if (k == 0 && count > 0) s->point_begin = offset[0], s->first_id = id[0];
    for (int64_t j = 0; j < count; j++) {
      check_object(s, f, s->first + at + j, id[j], instrument[j], label[j], offset[j], length[j],
                   expected);
      expected = offset[j] + (length[j] > 0 ? length[j] : 0);
    }
  }
  s->point_end = s->count ? expected : 0;
  free(id), free(offset), free(length);
  free(scratch64), free(instrument), free(label), free(scratch32);
}

/* Collective: the shards' boundaries (object 0 starts at 0; a shard starts where the one before
 * ends; the last ends at the end of /points). */
static void check_boundaries(shard_check *s, finding *f) {
  int ranks;
  MPI_Comm_size(s->comm, &ranks);
  int64_t mine[3] = {s->count, s->point_begin, s->point_end};
  int64_t *all = lcfm_malloc((size_t)ranks * 3 * sizeof *all);
  LCFM_CHECK_MPI(MPI_Allgather(mine, 3, MPI_INT64_T, all, 3, MPI_INT64_T, s->comm));
  int rank;
  MPI_Comm_rank(s->comm, &rank);
  int64_t end_before = 0; /* where the objects of the ranks before this one end */
  for (int r = 0; r < rank; r++)
    if (all[3 * r] > 0) end_before = all[3 * r + 2];
  if (s->count > 0 && s->point_begin != end_before)
    note(
        f, s->first,
        "%s: object %lld (id %lld): offset %lld, but the previous object's points end at %lld (each "
        "object's points follow the previous object's, without gap or overlap)",
        s->path, (long long)s->first, (long long)s->first_id, (long long)s->point_begin,
        (long long)end_before);
  int64_t end = 0;
  for (int r = 0; r < ranks; r++)
    if (all[3 * r] > 0) end = all[3 * r + 2];
  if (end != s->points)
    note(
        f, s->objects,
        "%s: /points has %lld rows but the objects' points end at %lld (damaged or incomplete store)",
        s->path, (long long)s->points, (long long)end);
  free(all);
}

/* ---- per point ---- */

/* Element `row` of an open /objects column (an independent raw read: only for naming a bad point). */
static void read_object_value(hid_t dset, hid_t type, int64_t row, void *out) {
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t start = (hsize_t)row, one = 1;
  LCFM_CHECK_H5(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &one, NULL));
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, &one, NULL));
  LCFM_CHECK_H5(H5Dread(dset, type, memspace, space, H5P_DEFAULT, out));
  H5Sclose(memspace), H5Sclose(space);
}

/* The object of the shard that holds point `point` (binary search in the shard's offsets on disk). */
static int64_t object_of_point(const shard_check *s, int64_t point) {
  int64_t lo = 0, hi = s->count - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2, offset;
    read_object_value(s->offset_set, H5T_NATIVE_INT64, s->first + mid, &offset);
    if (offset <= point) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static void note_point(shard_check *s, finding *f, int64_t point, const char *what, double value) {
  int64_t o = s->first + object_of_point(s, point), id, offset;
  int32_t length;
  read_object_value(s->id_set, H5T_NATIVE_INT64, o, &id);
  read_object_value(s->offset_set, H5T_NATIVE_INT64, o, &offset);
  read_object_value(s->length_set, H5T_NATIVE_INT32, o, &length);
  note(f, o,
       "%s: object %lld (id %lld): point %lld of its %d has a non-finite %s (%g); a store holds "
       "finite points only (ingest rejects such light curves): re-ingest or repair the store",
       s->path, (long long)o, (long long)id, (long long)(point - offset), length, what, value);
}

/* Collective: every point of this rank's objects is finite. */
static void check_points(shard_check *s, finding *f) {
  int64_t count = s->point_end - s->point_begin;
  int64_t blocks = (count + POINT_BLOCK - 1) / POINT_BLOCK, all_blocks = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&blocks, &all_blocks, 1, MPI_INT64_T, MPI_MAX, s->comm));
  double *time = lcfm_malloc(POINT_BLOCK * sizeof *time);
  float *value = lcfm_malloc(POINT_BLOCK * sizeof *value),
        *error = lcfm_malloc(POINT_BLOCK * sizeof *error);
  hid_t dsets[3];
  for (int c = 0; c < 3; c++)
    dsets[c] = LCFM_CHECK_H5(H5Dopen2(s->file, point_columns[c].name, H5P_DEFAULT));
  s->id_set = LCFM_CHECK_H5(H5Dopen2(s->file, "/objects/id", H5P_DEFAULT));
  s->offset_set = LCFM_CHECK_H5(H5Dopen2(s->file, "/objects/offset", H5P_DEFAULT));
  s->length_set = LCFM_CHECK_H5(H5Dopen2(s->file, "/objects/length", H5P_DEFAULT));
  for (int64_t k = 0; k < all_blocks; k++) {
    int64_t at = s->point_begin + k * POINT_BLOCK,
            n = s->point_end - at < POINT_BLOCK ? s->point_end - at : POINT_BLOCK;
    if (n < 0 || f->index != INT64_MAX)
      n = 0; /* done, or already broken here: take part with nothing */
    lcfm_h5_transfer_rows(dsets[0], H5T_NATIVE_DOUBLE, s->dxpl, at, n, 0, time, 0);
    lcfm_h5_transfer_rows(dsets[1], H5T_NATIVE_FLOAT, s->dxpl, at, n, 0, value, 0);
    lcfm_h5_transfer_rows(dsets[2], H5T_NATIVE_FLOAT, s->dxpl, at, n, 0, error, 0);
    for (int64_t j = 0; j < n; j++) {
      if (!isfinite(time[j])) note_point(s, f, at + j, "time", time[j]);
      else if (!isfinite(value[j])) note_point(s, f, at + j, "value", value[j]);
      else if (!isfinite(error[j])) note_point(s, f, at + j, "error", error[j]);
      if (f->index != INT64_MAX) break;
    }
  }
  for (int c = 0; c < 3; c++) H5Dclose(dsets[c]);
  H5Dclose(s->id_set), H5Dclose(s->offset_set), H5Dclose(s->length_set);
  free(time), free(value), free(error);
}

int lcfm_store_check(MPI_Comm comm, hid_t file, const char *path, char *why, size_t why_len) {
  shard_check s = {.comm = comm, .file = file, .path = path};
  int64_t rejects = 0;
  if (check_group(file, path, "/objects", object_columns, OBJECT_COLUMNS, 0, &s.objects, why,
                  why_len) ||
      check_group(file, path, "/points", point_columns, COUNT(point_columns), 0, &s.points, why,
                  why_len) ||
      check_group(file, path, "/instruments", instrument_columns, COUNT(instrument_columns), 1,
                  &s.instruments, why, why_len) ||
      check_group(file, path, "/rejects", reject_columns, COUNT(reject_columns), 1, &rejects, why,
                  why_len))
    return 1; /* metadata is read collectively: every rank reached the same verdict */
  shard_check_extents extents = {s.objects, s.points, s.instruments};
  if (check_schema2_columns(file, path, &extents, why, why_len)) return 1;
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  lcfm_store_shard(s.objects, rank, ranks, &s.first, &s.count);
  s.dxpl = lcfm_h5_collective_transfer();
  finding f = {.index = INT64_MAX};
  check_objects(&s, &f);
  check_boundaries(&s, &f);
  int broken = agree(comm, &f, why, why_len);
  if (!broken) {
    check_points(&s, &f);
    broken = agree(comm, &f, why, why_len);
  }
  H5Pclose(s.dxpl);
  return broken;
}

/* ---- the signature ---- */

/* CRC-32 of one column's rows over all ranks, in row order, whatever the split (crc32_combine). */
static uLong column_crc(MPI_Comm comm, uLong local_crc, int64_t local_bytes) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  int64_t mine[2] = {(int64_t)local_crc, local_bytes};
  int64_t *all = lcfm_malloc((size_t)ranks * 2 * sizeof *all);
  LCFM_CHECK_MPI(MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, comm));
  uLong crc = crc32(0L, Z_NULL, 0);
  for (int r = 0; r < ranks; r++)
    crc = crc32_combine(crc, (uLong)all[2 * r], (z_off_t)all[2 * r + 1]);
  free(all);
  return crc;
}

void lcfm_store_sign(MPI_Comm comm, hid_t file, int64_t first_object, int64_t object_count) {
  /* Each rank reads back the rows it wrote itself: MPI-IO makes a process's own writes visible
   * to its reads through the same file handle, so no flush is needed (the writer's close does
   * it, and reports a full disk there). */
  int64_t blocks = (object_count + OBJECT_BLOCK - 1) / OBJECT_BLOCK, all_blocks = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&blocks, &all_blocks, 1, MPI_INT64_T, MPI_MAX, comm));
  hid_t dxpl = lcfm_h5_collective_transfer();
  int64_t *rows = lcfm_malloc(OBJECT_BLOCK * sizeof *rows);
  uLong objects_crc = crc32(0L, Z_NULL, 0);
  int64_t objects = 0, points = 0;
  for (int c = 0; c < OBJECT_COLUMNS; c++) {
    hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, object_columns[c].name, H5P_DEFAULT));
    hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
    hsize_t dims[1] = {0};
    LCFM_CHECK_H5(H5Sget_simple_extent_dims(space, dims, NULL));
    H5Sclose(space);
    objects = (int64_t)dims[0];
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int64_t k = 0; k < all_blocks; k++) {
      int64_t at = k * OBJECT_BLOCK,
              n = object_count - at < OBJECT_BLOCK ? object_count - at : OBJECT_BLOCK;
      if (n < 0) n = 0;
      /* Every column as int64 little-endian-native rows: the signature does not depend on the
       * file's integer widths. */
      lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT64, dxpl, first_object + at, n, 0, rows, 0);
      crc = crc32(crc, (const Bytef *)rows, (uInt)((size_t)n * sizeof *rows));
    }
    H5Dclose(dset);
    uLong whole = column_crc(comm, crc, object_count * (int64_t)sizeof *rows);
    objects_crc = crc32(objects_crc, (const Bytef *)&whole, sizeof whole);
  }
  free(rows);
  H5Pclose(dxpl);
  hid_t time = LCFM_CHECK_H5(H5Dopen2(file, point_columns[0].name, H5P_DEFAULT));
  hid_t space = LCFM_CHECK_H5(H5Dget_space(time));
  points = (int64_t)H5Sget_simple_extent_npoints(space);
  H5Sclose(space);
  H5Dclose(time);
  char *created = lcfm_h5_read_text_attribute(file, "created_utc"),
       *host = lcfm_h5_read_text_attribute(file, "host");
  char *job = lcfm_h5_read_text_attribute(file, "job");
  uLong job_crc = job ? crc32(crc32(0L, Z_NULL, 0), (const Bytef *)job, (uInt)strlen(job)) : 0;
  char signature[LCFM_STORE_SIGNATURE_LEN];
  snprintf(signature, sizeof signature,
           "%lld objects (crc32 %08lx), %lld points, created %s on %s (job crc32 %08lx)",
           (long long)objects, objects_crc, (long long)points, created ? created : "?",
           host ? host : "?", job_crc);
  free(created), free(host), free(job);
  lcfm_h5_write_string_attribute(file, LCFM_STORE_SIGNATURE_ATTRIBUTE, signature);
}

int lcfm_store_signature(hid_t file, char *buf, size_t len) {
  char *text = lcfm_h5_read_text_attribute(file, LCFM_STORE_SIGNATURE_ATTRIBUTE);
  if (!text) return 1;
  snprintf(buf, len, "%s", text);
  free(text);
  return 0;
}

/* 0 when `derived` has no signature or the store's; 1 with why otherwise. */
static int check_one_derived(const char *store_signature, const char *store_path,
                             const char *derived, char *why, size_t len) {
  if (!derived || !derived[0]) return 0;
  hid_t file = H5Fis_hdf5(derived) > 0 ? H5Fopen(derived, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (file < 0) return 0; /* its reader reports what is wrong with it */
  char signature[LCFM_STORE_SIGNATURE_LEN];
  int unsigned_file = lcfm_store_signature(file, signature, sizeof signature);
  H5Fclose(file);
  if (unsigned_file || !strcmp(signature, store_signature)) return 0;
  snprintf(
      why, len,
      "%s: made from another store than %s (its store signature is '%s', the store's is '%s'): "
      "embed this store, or probe the store it was made from",
      derived, store_path, signature, store_signature);
  return 1;
}

int lcfm_store_check_derived(hid_t store_file, const char *store_path, const char *first,
                             const char *second, char *why, size_t why_len) {
  char signature[LCFM_STORE_SIGNATURE_LEN];
  /* An unsigned store (older than signatures) is matched by ids alone, by the caller. Every
   * rank reads the same attributes and reaches the same answer. */
  if (lcfm_store_signature(store_file, signature, sizeof signature)) return 0;
  return check_one_derived(signature, store_path, first, why, why_len) ||
         check_one_derived(signature, store_path, second, why, why_len);
}
