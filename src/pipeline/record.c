/* record.c: the run record of `lcfm run` and the small HDF5 tables rank 0 writes alone (see
 * pipeline.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "pipeline_internal.h"

#define RECORD_SCHEMA "lcfm-run"
#define NAME_WIDTH 32
#define ACTION_WIDTH 16

/* ---- small tables ---- */

hid_t pipeline_create_file(const char *path, char *partial, size_t partial_len) {
  return lcfm_h5_create_partial_local(path, partial, partial_len);
}

void pipeline_publish_file(hid_t file, const char *partial, const char *path) {
  lcfm_h5_publish_local(file, partial, path);
}

static hid_t create_dataset(hid_t file, const char *name, hid_t type, int rank,
                            const int64_t *dims) {
  hsize_t size[3];
  for (int d = 0; d < rank; d++) size[d] = (hsize_t)dims[d];
  hid_t space = LCFM_CHECK_H5(H5Screate_simple(rank, size, NULL));
  hid_t links = LCFM_CHECK_H5(H5Pcreate(H5P_LINK_CREATE));
  LCFM_CHECK_H5(H5Pset_create_intermediate_group(links, 1));
  hid_t dset = LCFM_CHECK_H5(H5Dcreate2(file, name, type, space, links, H5P_DEFAULT, H5P_DEFAULT));
  H5Pclose(links);
  H5Sclose(space);
  return dset;
}

static void write_dataset(hid_t file, const char *name, hid_t type, int rank, const int64_t *dims,
                          const void *data) {
  hid_t dset = create_dataset(file, name, type, rank, dims);
  int64_t count = 1;
  for (int d = 0; d < rank; d++) count *= dims[d];
  if (count > 0) LCFM_CHECK_H5(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  H5Dclose(dset);
}

void pipeline_write_strings(hid_t file, const char *name, const char *data, int64_t rows,
                            size_t width) {
  hid_t type = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
  LCFM_CHECK_H5(H5Tset_size(type, width));
  write_dataset(file, name, type, 1, &rows, data);
  H5Tclose(type);
}

void pipeline_write_doubles(hid_t file, const char *name, const double *data, int rank,
                            const int64_t *dims) {
  write_dataset(file, name, H5T_NATIVE_DOUBLE, rank, dims, data);
}

void pipeline_write_int64s(hid_t file, const char *name, const int64_t *data, int64_t rows) {
  write_dataset(file, name, H5T_NATIVE_INT64, 1, &rows, data);
}

void pipeline_write_int32s(hid_t file, const char *name, const int32_t *data, int64_t rows) {
  write_dataset(file, name, H5T_NATIVE_INT32, 1, &rows, data);
}

/* ---- the record ---- */

/* Reads a 1-D dataset of `rows` elements of `type` into data; 0 on success. */
static int read_rows(hid_t file, const char *name, hid_t type, int64_t rows, void *data) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return 1;
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
  if (dset < 0) return 1;
  hid_t space = H5Dget_space(dset);
  hsize_t n = 0;
  int bad = space < 0 || H5Sget_simple_extent_ndims(space) != 1 ||
            H5Sget_simple_extent_dims(space, &n, NULL) < 0 || (int64_t)n != rows ||
            H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
  if (space >= 0) H5Sclose(space);
  H5Dclose(dset);
  return bad;
}

static int64_t rows_of(hid_t file, const char *name) {
  if (H5Lexists(file, "stages", H5P_DEFAULT) <= 0 || H5Lexists(file, name, H5P_DEFAULT) <= 0)
    return -1;
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
  if (dset < 0) return -1;
  hid_t space = H5Dget_space(dset);
  hsize_t n = 0;
  int ok = space >= 0 && H5Sget_simple_extent_ndims(space) == 1 &&
           H5Sget_simple_extent_dims(space, &n, NULL) >= 0;
  if (space >= 0) H5Sclose(space);
  H5Dclose(dset);
  return ok ? (int64_t)n : -1;
}

/* The previous record's action and produced seconds of stage `name` (0 if found). */
static int previous_stage(hid_t file, const char *name, char *action, double *produced) {
  int64_t rows = rows_of(file, "/stages/name");
  if (rows <= 0 || rows > 64) return 1;
  char names[64][NAME_WIDTH], actions[64][ACTION_WIDTH];
  double seconds[64];
  hid_t t_name = H5Tcopy(H5T_C_S1), t_action = H5Tcopy(H5T_C_S1);
  H5Tset_size(t_name, NAME_WIDTH);
  H5Tset_size(t_action, ACTION_WIDTH);
  int bad = read_rows(file, "/stages/name", t_name, rows, names) ||
            read_rows(file, "/stages/action", t_action, rows, actions) ||
            read_rows(file, "/stages/produced_seconds", H5T_NATIVE_DOUBLE, rows, seconds);
  H5Tclose(t_name);
  H5Tclose(t_action);
  if (bad) return 1;
  for (int64_t i = 0; i < rows; i++) {
    names[i][NAME_WIDTH - 1] = actions[i][ACTION_WIDTH - 1] = '\0';
    if (strcmp(names[i], name)) continue;
    snprintf(action, ACTION_WIDTH, "%s", actions[i]);
    *produced = seconds[i];
    return 0;
  }
  return 1;
}

void pipeline_record_start(pipeline_record *r, const lcfm_pipeline *p) {
  memset(r, 0, sizeof *r);
  hid_t file = -1;
  if (p->record[0] && pipeline_file_exists(p->record) && H5Fis_hdf5(p->record) > 0)
    file = H5Fopen(p->record, H5F_ACC_RDONLY, H5P_DEFAULT);
  for (int i = 0; i < p->count; i++) {
    snprintf(r->action[i], sizeof r->action[i], "pending");
    r->produced_seconds[i] = NAN;
    char action[ACTION_WIDTH];
    double produced;
    if (file >= 0 &&
        !previous_stage(file, pipeline_stage_name(p->stages[i].kind), action, &produced)) {
      /* Kept for a stage that will be skipped; a requeued stage adds its next part to it. */
      r->produced_seconds[i] = produced;
      if (!strcmp(action, "requeued")) snprintf(r->action[i], sizeof r->action[i], "requeued");
    }
  }
  if (file >= 0) H5Fclose(file);
}

void pipeline_record_write(const pipeline_record *r, const lcfm_pipeline *p, const char *status,
                           const lcfm_provenance *prov) {
  if (!p->record[0]) return;
  char names[STAGE_KINDS][NAME_WIDTH], partial[PIPELINE_PATH_MAX + 16];
  double total = 0;
  for (int i = 0; i < p->count; i++) {
    snprintf(names[i], NAME_WIDTH, "%s", pipeline_stage_name(p->stages[i].kind));
    if (!isnan(r->produced_seconds[i])) total += r->produced_seconds[i];
  }
  hid_t file = pipeline_create_file(p->record, partial, sizeof partial);
  lcfm_h5_write_string_attribute(file, "schema", RECORD_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", 1);
  lcfm_h5_write_string_attribute(file, "status", status);
  lcfm_h5_write_double_attribute(file, "seconds", total);
  lcfm_provenance_write(file, prov);
  int64_t n = p->count;
  pipeline_write_strings(file, "/stages/name", &names[0][0], n, NAME_WIDTH);
  pipeline_write_strings(file, "/stages/action", &r->action[0][0], n, ACTION_WIDTH);
  pipeline_write_doubles(file, "/stages/seconds", r->seconds, 1, &n);
  pipeline_write_doubles(file, "/stages/produced_seconds", r->produced_seconds, 1, &n);
  pipeline_publish_file(file, partial, p->record);
}

int pipeline_record_read(const char *path, char *status, size_t status_len, double *seconds) {
  char why[256];
  char *text = pipeline_read_text_attribute(path, "status", why, sizeof why);
  if (!text) return 1;
  snprintf(status, status_len, "%s", text);
  free(text);
  *seconds = NAN;
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file >= 0) {
    if (H5Aexists(file, "seconds") > 0) {
      hid_t attr = H5Aopen(file, "seconds", H5P_DEFAULT);
      if (attr >= 0) {
        if (H5Aread(attr, H5T_NATIVE_DOUBLE, seconds) < 0) *seconds = NAN;
        H5Aclose(attr);
      }
    }
    H5Fclose(file);
  }
  return 0;
}
