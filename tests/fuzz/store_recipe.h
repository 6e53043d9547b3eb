/* store_recipe.h: turns fuzz input bytes into a small, well-formed HDF5 file that looks like an
 * lcfm store and breaks its schema in the ways the bytes say (fuzz_store.c), and initialises MPI
 * once for the targets that read stores. Header-only: included by one target.
 *
 * Recipe, read byte by byte (missing bytes read as 0, which gives an intact column and a
 * zero-length object):
 *   objects N (byte % 24), instruments I (byte % 6), schema byte (250..255: another schema)
 *   one damage byte per column of /objects, /points, /instruments, /rejects (store_check.c's
 *   order): < 232 intact; then absent, ragged (the next byte, as int8, is added to the extent),
 *   of the other class, 2-D [rows, 2]
 *   per object: length (int8; negative stays), instrument (int8), label (int8), offset error
 *   (int8, added to the offset the writer would give), id (byte)
 *   per point: time, value, error, each a byte: < 250 a finite number, 250 NaN, 251 +inf,
 *   252 -inf, 253 1e300 (beyond float), others 0. */
#ifndef LCFM_STORE_RECIPE_H
#define LCFM_STORE_RECIPE_H

#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/provenance.h"

typedef struct {
  const uint8_t *data;
  size_t size, at;
} recipe;

static uint8_t recipe_byte(recipe *r) { return r->at < r->size ? r->data[r->at++] : 0; }
static int recipe_int8(recipe *r) { return (int)(int8_t)recipe_byte(r); }

enum { COLUMN_INTACT, COLUMN_ABSENT, COLUMN_RAGGED, COLUMN_OTHER_CLASS, COLUMN_TWO_D };

typedef struct {
  const char *name;
  int is_float, is_string;
} recipe_column;

static const recipe_column recipe_columns[] = {
    {"/objects/id", 0, 0},         {"/objects/source", 0, 0},        {"/objects/instrument", 0, 0},
    {"/objects/field", 0, 0},      {"/objects/label", 0, 0},         {"/objects/offset", 0, 0},
    {"/objects/length", 0, 0},     {"/points/time", 1, 0},           {"/points/value", 1, 0},
    {"/points/error", 1, 0},       {"/instruments/id", 0, 0},        {"/instruments/survey", 0, 0},
    {"/instruments/season", 0, 0}, {"/instruments/unit", 0, 0},      {"/instruments/subunit", 0, 0},
    {"/instruments/band", 0, 0},   {"/instruments/time_zero", 1, 0}, {"/instruments/name", 0, 1},
    {"/rejects/key", 0, 1},        {"/rejects/reason", 0, 0},        {"/rejects/message", 0, 1}};
enum { RECIPE_COLUMNS = sizeof recipe_columns / sizeof *recipe_columns };

static double recipe_point(uint8_t b) {
  switch (b) {
  case 250: return NAN;
  case 251: return INFINITY;
  case 252: return -INFINITY;
  case 253: return 1e300;
  default: return b < 250 ? (double)b / 8.0 - 10.0 : 0.0;
  }
}

/* The file type of a column: the writer's, or of the other class when damaged so. */
static hid_t recipe_type(const recipe_column *c, int damage) {
  int as_float = damage == COLUMN_OTHER_CLASS ? !c->is_float : c->is_float;
  if (c->is_string && damage != COLUMN_OTHER_CLASS) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 16);
    return type;
  }
  int wide = !strcmp(c->name, "/points/time") || !strcmp(c->name, "/objects/id") ||
             !strcmp(c->name, "/objects/source") || !strcmp(c->name, "/objects/offset");
  if (as_float) return H5Tcopy(wide ? H5T_IEEE_F64LE : H5T_IEEE_F32LE);
  return H5Tcopy(wide ? H5T_STD_I64LE : H5T_STD_I32LE);
}

/* Writes one column of `rows` values (doubles, converted by HDF5 to the file type) as damaged. */
static void recipe_write_column(hid_t file, const recipe_column *c, const double *values,
                                int64_t rows, int damage, int extent_change) {
  if (damage == COLUMN_ABSENT) return;
  int64_t n = rows + (damage == COLUMN_RAGGED ? (extent_change ? extent_change : 1) : 0);
  if (n < 0) n = 0;
  int two_d = damage == COLUMN_TWO_D;
  hsize_t dims[2] = {(hsize_t)n, 2};
  hid_t space = H5Screate_simple(two_d ? 2 : 1, dims, NULL);
  int as_string = c->is_string && damage != COLUMN_OTHER_CLASS;
  hid_t type = recipe_type(c, damage);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t dset = H5Dcreate2(file, c->name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  size_t count = (size_t)n * (two_d ? 2 : 1);
  if (dset >= 0 && count > 0) {
    if (as_string) {
      char *text = calloc(count, 16);
      for (size_t i = 0; i < count; i++)
        snprintf(text + 16 * i, 16, "row %u", (unsigned)(i % 100000));
      H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, text);
      free(text);
    } else {
      double *buf = calloc(count, sizeof *buf);
      for (size_t i = 0; i < count; i++)
        buf[i] = (int64_t)(i / (two_d ? 2 : 1)) < rows ? values[i / (two_d ? 2 : 1)] : 0;
      H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
      free(buf);
    }
  }
  if (dset >= 0) H5Dclose(dset);
  H5Pclose(lcpl);
  H5Tclose(type);
  H5Sclose(space);
}

/* What the columns' damage does to the schema: 1 breaks it (a column absent, of the other class,
 * 2-D, or of another extent than the rest of its group; optional groups, /instruments and
 * /rejects, may only be absent as a whole); -1 leaves it open (a whole group's extent changed
 * alike: another, possibly sound, store); 0 keeps the recipe's store. */
static int recipe_columns_verdict(const int *damage, const int *change, int64_t objects,
                                  int64_t points, int64_t instruments) {
  enum { GROUPS = 4 };
  static const int first_column[GROUPS + 1] = {0, 7, 10, 18, RECIPE_COLUMNS};
  const int64_t rows[GROUPS] = {objects, points, instruments, 0};
  int broken = 0, open = 0;
  for (int g = 0; g < GROUPS; g++) {
    int absent = 0, present = 0;
    int64_t extent = -1;
    for (int c = first_column[g]; c < first_column[g + 1]; c++) {
      if (damage[c] == COLUMN_ABSENT) {
        absent++;
        continue;
      }
      int64_t n = rows[g];
      if (damage[c] == COLUMN_RAGGED) n = rows[g] + (change[c] ? change[c] : 1), n = n < 0 ? 0 : n;
      broken |=
          damage[c] == COLUMN_OTHER_CLASS || damage[c] == COLUMN_TWO_D || (present && n != extent);
      extent = n, present++;
    }
    broken |= absent && (g < 2 || present); /* /objects and /points are required */
    open |= present && extent != rows[g];
  }
  return broken ? 1 : open ? -1 : 0;
}

/* Is a recipe point byte non-finite once stored (1e300 fits the float64 time, not float32)? */
static int recipe_point_bad(uint8_t b, int column) {
  return (b >= 250 && b <= 252) || (b == 253 && column != 0);
}

/* Writes the store the recipe describes at `path` (serial HDF5). Returns 1 when it breaks the
 * schema (and must be refused), 0 when it keeps it (and must be read), -1 when the recipe cannot
 * tell (recipe_columns_verdict): the oracle of fuzz_store.c. */
static int fuzz_write_store(const char *path, const uint8_t *data, size_t size) {
  recipe r = {data, size, 0};
  int64_t n = recipe_byte(&r) % 24, instruments = recipe_byte(&r) % 6;
  int other_schema = recipe_byte(&r) >= 250;
  int damage[RECIPE_COLUMNS], change[RECIPE_COLUMNS];
  for (int c = 0; c < RECIPE_COLUMNS; c++) {
    uint8_t b = recipe_byte(&r);
    damage[c] = b < 232 ? COLUMN_INTACT : 1 + (b - 232) % 4;
    change[c] = damage[c] == COLUMN_RAGGED ? recipe_int8(&r) : 0;
  }
  int broken = other_schema;
  double *object[7];
  for (int c = 0; c < 7; c++) object[c] = calloc((size_t)(n ? n : 1), sizeof(double));
  int64_t points = 0;
  for (int64_t i = 0; i < n; i++) {
    int length = recipe_int8(&r), instrument = recipe_int8(&r), label = recipe_int8(&r),
        offset_error = recipe_int8(&r);
    int id = recipe_byte(&r);
    object[0][i] = id, object[1][i] = id / 2, object[2][i] = instrument, object[3][i] = 0,
    object[4][i] = label;
    object[5][i] = (double)(points + offset_error), object[6][i] = length;
    points += length > 0 ? length : 0;
    broken |= length < 0 || offset_error != 0 || instrument < 0 || instrument >= instruments ||
              label < -1;
  }
  double *point[3];
  for (int c = 0; c < 3; c++) point[c] = calloc((size_t)(points ? points : 1), sizeof(double));
  for (int64_t p = 0; p < points; p++)
    for (int c = 0; c < 3; c++) {
      uint8_t b = recipe_byte(&r);
      point[c][p] = recipe_point(b);
      broken |= recipe_point_bad(b, c);
    }
  int columns = recipe_columns_verdict(damage, change, n, points, instruments);
  int no_instrument_table = n > 0;
  for (int c = 10; c < 18; c++) no_instrument_table &= damage[c] == COLUMN_ABSENT;
  broken |= no_instrument_table; /* then no object's instrument is a row of it */
  double *rows = calloc((size_t)(instruments ? instruments : 1), sizeof(double));
  for (int64_t i = 0; i < instruments; i++) rows[i] = (double)i;
  double zero[1] = {0};

  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) abort();
  lcfm_h5_write_string_attribute(file, "schema", other_schema ? "lcfm-embeddings" : "lcfm-store");
  lcfm_h5_write_int64_attribute(file, "schema_version", 1);
  for (int c = 0; c < RECIPE_COLUMNS; c++) {
    const double *values = c < 7 ? object[c] : c < 10 ? point[c - 7] : c < 18 ? rows : zero;
    int64_t count = c < 7 ? n : c < 10 ? points : c < 18 ? instruments : 0;
    recipe_write_column(file, &recipe_columns[c], values, count, damage[c], change[c]);
  }
  H5Fclose(file);
  for (int c = 0; c < 7; c++) free(object[c]);
  for (int c = 0; c < 3; c++) free(point[c]);
  free(rows);
  return columns ? columns : broken;
}

static void fuzz_finalize(void) { MPI_Finalize(); }

/* MPI once per process (the store reader is collective; here over one rank). */
static void fuzz_mpi_init(void) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  MPI_Init(NULL, NULL);
  atexit(fuzz_finalize);
  lcfm_error_init();
}

#endif
