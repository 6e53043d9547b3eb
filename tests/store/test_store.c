/* test_store.c: collective writes, appends and streaming reads of the light-curve store.
 * Ranks write ragged objects of different counts (rank 1 writes nothing) in several batches;
 * every rank then streams a balanced shard back in blocks of another size and checks every
 * column, point, quality flag and schema-2 metadata value (known from rank 0, NaN / "" from the
 * others) against what the writer generated. The same store is written uncompressed and with
 * shuffle + deflate; both are appended to (other rank counts per rank, an instrument already
 * stored and a new one, more rejects): ids continue, the instrument table merges, next_id and
 * the signature follow, and the two files hold byte-identical datasets, every one with a unit
 * and a description. Also: a schema-1 store (contiguous, without the schema-2 columns) is read
 * with its metadata unknown, PATH appears only at close (PATH.partial before), and files that
 * are missing, not HDF5, not lcfm stores, or of a newer schema version are refused with a
 * reason naming the file. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "lcfm/store.h"
#include "lcfm/store_check.h"

/* Deterministic content of the object in store row `g` so any rank can check any object. */
static int32_t object_length(int64_t g) { return (int32_t)((g * 7919) % 23); } /* includes 0 */
static double point_time(int64_t g, int32_t i) { return (double)g * 1000.0 + i * 0.5; }
static float point_value(int64_t g, int32_t i) { return (float)(g % 97) - 0.25f * (float)i; }
static int32_t point_quality(int64_t g, int32_t i) { return (int32_t)((g * 31 + i) % 256); }

/* Rank r writes objects_of(r) objects; rank 1 writes none to exercise empty participation. The
 * append adds appended_of(r) (rank 0 none there). */
static int64_t objects_of(int rank) { return rank == 1 ? 0 : 37 + 11 * rank; }
static int64_t appended_of(int rank) { return rank == 0 ? 0 : 13 + 5 * rank; }
static int64_t sum_of(int64_t (*f)(int), int ranks) {
  int64_t n = 0;
  for (int r = 0; r < ranks; r++) n += f(r);
  return n;
}

/* A TESS or Kepler instrument row: relative flux, times in BJD TDB from the mission's zero. */
static lcfm_instrument flux_instrument(int32_t id, int32_t survey, int32_t season, int32_t unit,
                                       int32_t subunit, const char *name) {
  lcfm_instrument row = {.id = id,
                         .survey = survey,
                         .season = season,
                         .unit = unit,
                         .subunit = subunit,
                         .band = -1,
                         .time_zero = survey == LCFM_SURVEY_TESS ? 2457000.0 : 2454833.0,
                         .value_kind = LCFM_VALUE_RELATIVE_FLUX,
                         .time_scale = "TDB",
                         .time_reference = "BJD"};
  snprintf(row.name, sizeof row.name, "%s", name);
  return row;
}

/* MACHO's blue band as instrument row `id`: magnitudes, times in JD UTC. */
static lcfm_instrument macho_blue_instrument(int32_t id) {
  return (lcfm_instrument){.id = id,
                           .survey = LCFM_SURVEY_MACHO,
                           .season = -1,
                           .unit = -1,
                           .subunit = -1,
                           .band = 1,
                           .time_zero = 2400000.5,
                           .name = "macho-blue",
                           .value_kind = LCFM_VALUE_MAGNITUDE,
                           .time_scale = "UTC",
                           .time_reference = "JD"};
}

/* The stored instrument row of store row g. */
static int32_t stored_instrument(int64_t g, int64_t first_appended) {
  return g < first_appended ? (int32_t)(g % 3) : (g % 2 ? 3 : 2);
}

/* Rank 0 gives the per-object metadata, the others leave it unknown (NULL). */
static void fill_metadata(lcfm_object_batch *b, int64_t i, int64_t g) {
  b->ra[i] = 0.5 * (double)g, b->dec[i] = -0.25 * (double)g, b->magnitude[i] = (float)(g % 10);
  b->median_flux[i] = 100.0f + (float)g;
  snprintf(b->path + i * LCFM_STORE_PATH_LEN, LCFM_STORE_PATH_LEN, "file-%lld.fits", (long long)g);
}

/* Writes (appending = 0) or appends (1) this rank's objects in batches of 10. Store rows of
 * this rank start at `first`; `id_base` is the row of the writer's first object. */
static void write_objects(lcfm_store_writer *w, int64_t first, int64_t mine, int64_t most,
                          int64_t id_base, int rank, int appending) {
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, 10, 10 * 23);
  if (rank == 0) {
    b.ra = lcfm_malloc(10 * sizeof *b.ra), b.dec = lcfm_malloc(10 * sizeof *b.dec);
    b.magnitude = lcfm_malloc(10 * sizeof *b.magnitude),
    b.median_flux = lcfm_malloc(10 * sizeof *b.median_flux);
    b.path = lcfm_calloc(10, LCFM_STORE_PATH_LEN);
  }
  b.quality = lcfm_malloc(10 * 23 * sizeof *b.quality);
  for (int64_t start = 0; start < most; start += 10) {
    int64_t count = start < mine ? (mine - start < 10 ? mine - start : 10) : 0;
    int64_t at = 0;
    for (int64_t i = 0; i < count; i++) {
      int64_t g = first + start + i;
      b.id[i] = g - id_base, b.source[i] = g / 3,
      b.instrument[i] = (int32_t)(appending ? g % 2 : g % 3);
      b.field[i] = (int32_t)(g / 50), b.label[i] = (int32_t)(g % 5) - 1,
      b.length[i] = object_length(g);
      if (b.ra) fill_metadata(&b, i, g);
      for (int32_t k = 0; k < b.length[i]; k++, at++) {
        b.time[at] = point_time(g, k), b.value[at] = point_value(g, k),
        b.error[at] = 0.01f * (float)k;
        b.quality[at] = point_quality(g, k);
      }
    }
    b.count = count;
    lcfm_store_write_batch(w, &b);
  }
  lcfm_batch_free(&b);
}

static void write_rejects(lcfm_store_writer *w, int rank, const char *what) {
  lcfm_reject reject = {.reason = LCFM_REJECT_EMPTY};
  snprintf(reject.key, sizeof reject.key, "%s-file-of-rank-%d.fits", what, rank);
  snprintf(reject.message, sizeof reject.message, "no usable points");
  lcfm_store_write_rejects(w, &reject, rank == 0 ? 0 : 1);
}

static int64_t points_of(int64_t first, int64_t count) {
  int64_t points = 0;
  for (int64_t i = 0; i < count; i++) points += object_length(first + i);
  return points;
}

static void write_store(const char *path, int rank, int ranks, const lcfm_store_options *o) {
  int64_t first = sum_of(objects_of, rank), mine = objects_of(rank), most = 0;
  for (int r = 0; r < ranks; r++) most = objects_of(r) > most ? objects_of(r) : most;
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, 0, NULL);
  lcfm_store_writer *w =
      lcfm_store_begin(MPI_COMM_WORLD, path, &prov, mine, points_of(first, mine), o);
  /* Rows 0-2 of the table; the append passes MACHO blue again and a new TESS row. */
  const lcfm_instrument instruments[3] = {
      flux_instrument(0, LCFM_SURVEY_TESS, 1, 2, 3, "tess-s1-c2-ccd3"),
      flux_instrument(1, LCFM_SURVEY_KEPLER, 5, 11, 1, "kepler-q5-m11"), macho_blue_instrument(2)};
  lcfm_store_write_instruments(w, instruments, 3);
  write_objects(w, first, mine, most, 0, rank, 0);
  write_rejects(w, rank, "first");
  EXPECT(access(path, F_OK) != 0, "%s exists before close", path);
  lcfm_store_close(w);
  EXPECT(access(path, F_OK) == 0, "%s missing after close", path);
}

static void append_store(const char *path, int rank, int ranks) {
  int64_t before = sum_of(objects_of, ranks), first = before + sum_of(appended_of, rank),
          mine = appended_of(rank);
  int64_t most = 0;
  for (int r = 0; r < ranks; r++) most = appended_of(r) > most ? appended_of(r) : most;
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test-append", NULL, 0, NULL);
  lcfm_store_writer *w =
      lcfm_store_append(MPI_COMM_WORLD, path, &prov, mine, points_of(first, mine));
  EXPECT(lcfm_store_writer_first_object(w) == before, "append starts at %lld",
         (long long)lcfm_store_writer_first_object(w));
  /* MACHO blue is stored already (row 2); the TESS row is new (row 3). */
  const lcfm_instrument instruments[2] = {
      macho_blue_instrument(0), flux_instrument(1, LCFM_SURVEY_TESS, 2, 2, 3, "tess-s2-c2-ccd3")};
  lcfm_store_write_instruments(w, instruments, 2);
  write_objects(w, first, mine, most, before, rank, 1);
  write_rejects(w, rank, "appended");
  lcfm_store_close(w);
}

/* Every column, point, quality flag and metadata value of this rank's shard. */
static void read_back(const char *path, int rank, int ranks, int64_t total, int64_t first_appended,
                      int appended) {
  char why[1024];
  lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
  EXPECT(s != NULL, "open failed: %s", why);
  if (!s) return;
  EXPECT(lcfm_store_schema_version(s) == 2, "schema version %d", lcfm_store_schema_version(s));
  EXPECT(lcfm_store_object_count(s) == total, "object count %lld",
         (long long)lcfm_store_object_count(s));
  EXPECT(lcfm_store_reject_count(s) == (ranks - 1) * (appended ? 2 : 1), "reject count %lld",
         (long long)lcfm_store_reject_count(s));
  int64_t n_instruments = 0;
  lcfm_instrument *instruments = lcfm_store_read_instruments(s, &n_instruments);
  EXPECT(n_instruments == (appended ? 4 : 3) && !strcmp(instruments[1].name, "kepler-q5-m11") &&
             instruments[1].unit == 11 && instruments[2].time_zero == 2400000.5 &&
             instruments[2].value_kind == LCFM_VALUE_MAGNITUDE &&
             !strcmp(instruments[2].time_scale, "UTC") &&
             !strcmp(instruments[0].time_reference, "BJD"),
         "instrument table did not round-trip");
  if (appended)
    EXPECT(instruments[3].id == 3 && !strcmp(instruments[3].name, "tess-s2-c2-ccd3"),
           "appended instrument row");
  free(instruments);
  int64_t first, count;
  lcfm_store_shard(total, rank, ranks, &first, &count);
  lcfm_store_cursor c;
  lcfm_store_cursor_begin(&c, s, first, count, 7);
  int64_t seen = 0, expected_offset = -1, points_first = -1, points = 0;
  while (lcfm_store_cursor_next(&c)) {
    const lcfm_object_batch *b = &c.batch;
    int64_t at = 0;
    for (int64_t i = 0; i < b->count; i++) {
      int64_t g = first + seen + i;
      EXPECT(b->id[i] == g && b->source[i] == g / 3 &&
                 b->instrument[i] == stored_instrument(g, first_appended) &&
                 b->field[i] == g / 50 && b->label[i] == g % 5 - 1 &&
                 b->length[i] == object_length(g),
             "columns of object %lld", (long long)g);
      if (expected_offset >= 0)
        EXPECT(b->offset[i] == expected_offset, "offset of %lld", (long long)g);
      if (points_first < 0) points_first = b->offset[i];
      expected_offset = b->offset[i] + b->length[i];
      for (int32_t k = 0; k < b->length[i]; k++, at++)
        EXPECT(b->time[at] == point_time(g, k) && b->value[at] == point_value(g, k) &&
                   b->error[at] == 0.01f * (float)k,
               "point %d of object %lld", k, (long long)g);
    }
    points += b->point_count;
    seen += b->count;
  }
  EXPECT(seen == count, "streamed %lld of %lld objects", (long long)seen, (long long)count);
  lcfm_store_cursor_end(&c);

  /* Metadata: rank 0 of each write gave it; the others left it unknown. */
  lcfm_object_batch m = {0};
  lcfm_store_read_metadata(s, first, count, &m);
  int64_t rank0_first = objects_of(0), rank0_appended_end = first_appended + appended_of(0);
  for (int64_t i = 0; i < count; i++) {
    int64_t g = first + i;
    int known = g < rank0_first || (g >= first_appended && g < rank0_appended_end);
    char expected_path[64];
    snprintf(expected_path, sizeof expected_path, "file-%lld.fits", (long long)g);
    if (known)
      EXPECT(m.ra[i] == 0.5 * (double)g && m.dec[i] == -0.25 * (double)g &&
                 m.magnitude[i] == (float)(g % 10) && m.median_flux[i] == 100.0f + (float)g &&
                 !strcmp(m.path + i * LCFM_STORE_PATH_LEN, expected_path),
             "metadata of object %lld", (long long)g);
    else
      EXPECT(isnan(m.ra[i]) && isnan(m.dec[i]) && isnan(m.magnitude[i]) &&
                 isnan(m.median_flux[i]) && m.path[i * LCFM_STORE_PATH_LEN] == '\0',
             "unknown metadata of object %lld is not NaN / empty", (long long)g);
  }
  lcfm_batch_free(&m);

  /* Quality flags of the shard's points. */
  if (points_first < 0) points_first = 0;
  int32_t *quality = lcfm_malloc((size_t)(points ? points : 1) * sizeof *quality);
  hid_t dset = H5Dopen2(lcfm_store_file(s), "/points/quality", H5P_DEFAULT);
  EXPECT(dset >= 0, "no /points/quality");
  hid_t dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT32, dxpl, points_first, points, 0, quality, 0);
  H5Pclose(dxpl);
  H5Dclose(dset);
  for (int64_t i = 0, at = 0; i < count; i++)
    for (int32_t k = 0; k < object_length(first + i); k++, at++)
      EXPECT(quality[at] == point_quality(first + i, k), "quality of point %d of %lld", k,
             (long long)(first + i));
  free(quality);
  lcfm_store_free(s);
}

/* ---- whole-file checks on rank 0 (serial HDF5) ---- */

typedef struct {
  hid_t other; /* the file compared with, or -1 */
  int datasets, undescribed, different;
} visit_state;

static void text_attribute(hid_t dset, const char *name, char *buf, size_t len) {
  char *text = lcfm_h5_read_text_attribute(dset, name);
  snprintf(buf, len, "%s", text ? text : "(none)");
  free(text);
}

/* Every dataset has unit and description; with `other`, the same bytes there. */
static herr_t visit_dataset(hid_t root, const char *name, const H5O_info_t *info, void *data) {
  visit_state *v = data;
  if (info->type != H5O_TYPE_DATASET) return 0;
  v->datasets++;
  hid_t dset = H5Dopen2(root, name, H5P_DEFAULT);
  if (H5Aexists(dset, "unit") <= 0 || H5Aexists(dset, "description") <= 0) {
    fprintf(stderr, "/%s has no unit or description\n", name);
    v->undescribed++;
  }
  if (v->other >= 0) {
    hid_t twin = H5Dopen2(v->other, name, H5P_DEFAULT), type = H5Dget_type(dset);
    hssize_t n = H5Sget_simple_extent_npoints(H5Dget_space(dset));
    hssize_t m = twin >= 0 ? H5Sget_simple_extent_npoints(H5Dget_space(twin)) : -1;
    size_t bytes = (size_t)n * H5Tget_size(type);
    char *a = lcfm_calloc(bytes + 1, 1), *b = lcfm_calloc(bytes + 1, 1);
    if (twin < 0 || n != m ||
        (n > 0 && (H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) < 0 ||
                   H5Dread(twin, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0)) ||
        memcmp(a, b, bytes)) {
      fprintf(stderr, "/%s differs between the compressed and uncompressed stores\n", name);
      v->different++;
    }
    free(a), free(b);
    H5Tclose(type);
    if (twin >= 0) H5Dclose(twin);
  }
  H5Dclose(dset);
  return 0;
}

static int filters_of(hid_t file, const char *name) {
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), dcpl = H5Dget_create_plist(dset);
  int n = H5Pget_nfilters(dcpl);
  H5Pclose(dcpl), H5Dclose(dset);
  return n;
}

static void check_files(const char *plain, const char *compressed) {
  hid_t a = H5Fopen(plain, H5F_ACC_RDONLY, H5P_DEFAULT),
        b = H5Fopen(compressed, H5F_ACC_RDONLY, H5P_DEFAULT);
  visit_state v = {.other = b};
  H5Ovisit(a, H5_INDEX_NAME, H5_ITER_INC, visit_dataset, &v);
  EXPECT(v.datasets == 30 && v.undescribed == 0 && v.different == 0,
         "%d datasets, %d without unit/description, %d differ", v.datasets, v.undescribed,
         v.different);
  EXPECT(filters_of(a, "/points/value") == 0 && filters_of(b, "/points/value") == 2 &&
             filters_of(b, "/objects/id") == 2,
         "compression filters: %d and %d", filters_of(a, "/points/value"),
         filters_of(b, "/points/value"));
  char unit[64];
  const struct {
    const char *name, *unit;
  } units[] = {{"/points/time", "d"},
               {"/points/value", ""},
               {"/objects/ra", "deg"},
               {"/objects/magnitude", "mag"},
               {"/objects/median_flux", "electron / s"},
               {"/instruments/time_zero", "d"}};
  for (size_t k = 0; k < sizeof units / sizeof *units; k++) {
    hid_t dset = H5Dopen2(a, units[k].name, H5P_DEFAULT);
    text_attribute(dset, "unit", unit, sizeof unit);
    EXPECT(!strcmp(unit, units[k].unit), "%s has unit '%s', expected '%s'", units[k].name, unit,
           units[k].unit);
    H5Dclose(dset);
  }
  H5Fclose(a), H5Fclose(b);
}

/* ---- schema 1: a store written by an older lcfm (contiguous, no schema-2 columns) ---- */

static void write_column(hid_t file, const char *name, hid_t type, hsize_t rows, const void *data) {
  hid_t space = H5Screate_simple(1, &rows, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t dset = H5Dcreate2(file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(dset), H5Pclose(lcpl), H5Sclose(space);
}

static void write_schema1_store(const char *path) {
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  lcfm_h5_write_string_attribute(file, "schema", LCFM_STORE_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", 1);
  int64_t id[2] = {0, 1}, source[2] = {42, 43}, offset[2] = {0, 2};
  int32_t instrument[2] = {0, 0}, field[2] = {7, 7}, label[2] = {-1, -1}, length[2] = {2, 1};
  double time[3] = {0.5, 1.5, 2.5}, time_zero = 2400000.5;
  float value[3] = {17.0f, 17.5f, 18.0f}, error[3] = {0.1f, 0.1f, 0.2f};
  write_column(file, "/objects/id", H5T_NATIVE_INT64, 2, id);
  write_column(file, "/objects/source", H5T_NATIVE_INT64, 2, source);
  write_column(file, "/objects/instrument", H5T_NATIVE_INT32, 2, instrument);
  write_column(file, "/objects/field", H5T_NATIVE_INT32, 2, field);
  write_column(file, "/objects/label", H5T_NATIVE_INT32, 2, label);
  write_column(file, "/objects/offset", H5T_NATIVE_INT64, 2, offset);
  write_column(file, "/objects/length", H5T_NATIVE_INT32, 2, length);
  write_column(file, "/points/time", H5T_NATIVE_DOUBLE, 3, time);
  write_column(file, "/points/value", H5T_NATIVE_FLOAT, 3, value);
  write_column(file, "/points/error", H5T_NATIVE_FLOAT, 3, error);
  int32_t zero = 0, survey = LCFM_SURVEY_MACHO, none = -1, band = 0;
  const char *names[] = {"/instruments/id",   "/instruments/survey",  "/instruments/season",
                         "/instruments/unit", "/instruments/subunit", "/instruments/band"};
  const int32_t *values[] = {&zero, &survey, &none, &none, &none, &band};
  for (int c = 0; c < 6; c++) write_column(file, names[c], H5T_NATIVE_INT32, 1, values[c]);
  write_column(file, "/instruments/time_zero", H5T_NATIVE_DOUBLE, 1, &time_zero);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, LCFM_INSTRUMENT_NAME_LEN);
  char name[LCFM_INSTRUMENT_NAME_LEN] = "macho-red";
  write_column(file, "/instruments/name", type, 1, name);
  H5Tclose(type);
  H5Fclose(file);
}

static void test_schema1(const char *dir, int rank) {
  char path[512], why[1024] = "";
  snprintf(path, sizeof path, "%s/schema1.h5", dir);
  if (rank == 0) write_schema1_store(path);
  MPI_Barrier(MPI_COMM_WORLD);
  lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
  EXPECT(s != NULL, "a schema-1 store is refused: %s", why);
  if (!s) return;
  EXPECT(lcfm_store_schema_version(s) == 1 && lcfm_store_object_count(s) == 2,
         "schema-1 store read as version %d", lcfm_store_schema_version(s));
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, 2, 0);
  lcfm_store_read_objects(s, 0, 2, &b);
  lcfm_store_read_metadata(s, 0, 2, &b);
  EXPECT(b.source[1] == 43 && b.length[0] == 2 && isnan(b.ra[0]) && isnan(b.median_flux[1]) &&
             b.path[0] == '\0',
         "schema-1 objects and their unknown metadata");
  lcfm_batch_free(&b);
  int64_t count = 0;
  lcfm_instrument *rows = lcfm_store_read_instruments(s, &count);
  EXPECT(count == 1 && rows[0].value_kind == LCFM_VALUE_MAGNITUDE &&
             !strcmp(rows[0].time_reference, "JD"),
         "schema-1 instruments: value kind %d, reference '%s'", rows[0].value_kind,
         rows[0].time_reference);
  free(rows);
  lcfm_store_free(s);
}

static int refused(const char *path, const char *expected) {
  char why[1024] = "";
  lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
  int ok = s == NULL && strstr(why, path) && strstr(why, expected);
  if (!ok) fprintf(stderr, "open(%s) gave '%s', expected '%s'\n", path, why, expected);
  lcfm_store_free(s);
  return ok;
}

static void test_refusals(const char *dir, int rank) {
  char missing[512], text[512], foreign[512], future[512];
  snprintf(missing, sizeof missing, "%s/missing.h5", dir);
  snprintf(text, sizeof text, "%s/text.h5", dir);
  snprintf(foreign, sizeof foreign, "%s/foreign.h5", dir);
  snprintf(future, sizeof future, "%s/future.h5", dir);
  if (rank == 0) {
    FILE *f = fopen(text, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    hid_t file = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
    file = H5Fcreate(future, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    lcfm_h5_write_string_attribute(file, "schema", LCFM_STORE_SCHEMA);
    lcfm_h5_write_int64_attribute(file, "schema_version", LCFM_STORE_SCHEMA_VERSION + 1);
    H5Fclose(file);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT(refused(missing, "cannot open"), "missing file");
  EXPECT(refused(text, "not an HDF5 file"), "text file");
  EXPECT(refused(foreign, "not an lcfm store"), "foreign HDF5 file");
  EXPECT(refused(future, "schema version 3"), "future schema version");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_error_init();
  int rank, ranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  char dir[256] = "test_store_XXXXXX";
  lcfm_test_temp_dir(dir, sizeof dir);
  char path[512], compressed[512];
  snprintf(path, sizeof path, "%s/store.h5", dir);
  snprintf(compressed, sizeof compressed, "%s/compressed.h5", dir);
  int64_t total = sum_of(objects_of, ranks), appended = sum_of(appended_of, ranks);
  lcfm_store_options deflate = {.mode = LCFM_STORE_CREATE, .deflate_level = 4};
  write_store(path, rank, ranks, NULL);
  write_store(compressed, rank, ranks, &deflate);
  read_back(path, rank, ranks, total, total, 0);
  read_back(compressed, rank, ranks, total, total, 0);
  char before[LCFM_STORE_SIGNATURE_LEN] = "", after[LCFM_STORE_SIGNATURE_LEN] = "";
  if (rank == 0) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    lcfm_store_signature(f, before, sizeof before);
    H5Fclose(f);
  }
  append_store(path, rank, ranks);
  append_store(compressed, rank, ranks);
  read_back(path, rank, ranks, total + appended, total, 1);
  read_back(compressed, rank, ranks, total + appended, total, 1);
  if (rank == 0) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    lcfm_store_signature(f, after, sizeof after);
    int64_t next_id = -1;
    hid_t attr = H5Aopen(f, "next_id", H5P_DEFAULT);
    H5Aread(attr, H5T_NATIVE_INT64, &next_id);
    H5Aclose(attr);
    H5Fclose(f);
    EXPECT(next_id == total + appended, "next_id %lld after the append", (long long)next_id);
    EXPECT((appended == 0 || strcmp(before, after)) && strstr(after, "objects"),
           "the signature did not change: %s", after);
    check_files(path, compressed);
  }
  test_schema1(dir, rank);
  test_refusals(dir, rank);
  return lcfm_test_finish("test_store");
}
