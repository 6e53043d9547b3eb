/* probe_data.c: everything `lcfm probe` reads, on every rank: targets, raw values, latents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/fields.h"
#include "lcfm/h5io.h"
#include "lcfm/probe_data.h"
#include "lcfm/store.h"
#include "lcfm/store_check.h"

static int read_matrix(MPI_Comm comm, const char *path, const char *name, hid_t type, int64_t *rows, int64_t *cols,
                       void **data, char *why, size_t why_len) {
  hid_t fapl = lcfm_h5_file_access(comm);
  hid_t file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
  H5Pclose(fapl);
  if (file < 0) {
    snprintf(why, why_len, "%s: cannot open as HDF5", path);
    return 1;
  }
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    snprintf(why, why_len, "%s: has no %s", path, name);
    H5Fclose(file);
    return 1;
  }
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, name, H5P_DEFAULT));
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t dims[2] = {0, 1};
  int ndim = H5Sget_simple_extent_dims(space, dims, NULL);
  *rows = (int64_t)dims[0], *cols = ndim > 1 ? (int64_t)dims[1] : 0;
  size_t bytes = H5Tget_size(type) * (size_t)(*rows ? *rows : 1) * (size_t)(*cols ? *cols : 1);
  *data = lcfm_malloc(bytes);
  hid_t dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_transfer_rows(dset, type, dxpl, 0, *rows, *cols, *data, 0);
  H5Pclose(dxpl);
  H5Sclose(space);
  H5Dclose(dset);
  H5Fclose(file);
  return 0;
}

/* target per object from the store: thetaK via /truth/theta[source, K], or the label. */
static int read_target(lcfm_probe_data *d, MPI_Comm comm, const char *store, const char *target, char *why, size_t len) {
  d->target = lcfm_malloc((size_t)d->objects * sizeof *d->target);
  if (!strcmp(target, "label")) {
    for (int64_t i = 0; i < d->objects; i++) d->target[i] = (float)d->label[i];
    return 0;
  }
  int k = -1;
  char extra;
  if (sscanf(target, "theta%d%c", &k, &extra) != 1 || k < 0) {
    snprintf(why, len, "target '%s' is neither thetaK nor label", target);
    return 1;
  }
  int64_t stars, K;
  double *theta;
  if (read_matrix(comm, store, "/truth/theta", H5T_NATIVE_DOUBLE, &stars, &K, (void **)&theta, why, len)) return 1;
  int bad = k >= K;
  for (int64_t i = 0; i < d->objects && !bad; i++) {
    bad = d->source[i] < 0 || d->source[i] >= stars;
    if (!bad) d->target[i] = (float)theta[d->source[i] * K + k];
  }
  free(theta);
  if (bad) snprintf(why, len, "%s: /truth/theta has no column %d for every source", store, k);
  return bad;
}

/* The first `points` values of every probed object (zero padded); store_row: their rows in the
 * store, increasing (NULL: every object). */
static void read_raw(lcfm_probe_data *d, lcfm_store *s, const int64_t *store_row, int points) {
  d->raw_points = points;
  d->raw = lcfm_calloc((size_t)d->objects * (size_t)points, sizeof *d->raw);
  lcfm_store_cursor c;
  lcfm_store_cursor_begin(&c, s, 0, lcfm_store_object_count(s), 4096);
  int64_t at = 0, row = 0;
  while (lcfm_store_cursor_next(&c)) {
    for (int64_t i = 0; i < c.batch.count; i++, row++) {
      if (store_row && (at == d->objects || store_row[at] != row)) continue; /* not selected */
      const float *v = c.batch.value + (c.batch.offset[i] - c.batch.offset[0]);
      int n = c.batch.length[i] < points ? c.batch.length[i] : points;
      memcpy(d->raw + at * points, v, (size_t)n * sizeof *v);
      at++;
    }
  }
  lcfm_store_cursor_end(&c);
}

/* Keeps rows store_row[i] of z [rows, cols] in place (z then holds d->objects rows). */
static void keep_rows(float *z, int64_t cols, const int64_t *store_row, int64_t objects) {
  for (int64_t i = 0; i < objects; i++)
    memmove(z + i * cols, z + store_row[i] * cols, (size_t)cols * sizeof *z);
}

/* Latents of the probed objects: embeddings of the same selection (row i is object i) or, with
 * a selection, of the whole store (row store_row[i] is object i); the ids must agree. */
static int read_latent(lcfm_probe_data *d, MPI_Comm comm, const char *path, const char *name, const char *label,
                       char *why, size_t len) {
  int64_t rows, cols, id_rows, id_cols;
  float *z;
  int64_t *ids;
  if (read_matrix(comm, path, name, H5T_NATIVE_FLOAT, &rows, &cols, (void **)&z, why, len)) return 1;
  if (read_matrix(comm, path, "/objects/id", H5T_NATIVE_INT64, &id_rows, &id_cols, (void **)&ids, why, len)) return 1;
  int whole_store = d->store_row && rows == d->store_objects && id_rows == rows;
  int aligned = whole_store || (rows == d->objects && id_rows == d->objects);
  for (int64_t i = 0; i < d->objects && aligned; i++) aligned = ids[whole_store ? d->store_row[i] : i] == d->id[i];
  free(ids);
  if (!aligned) {
    snprintf(why, len, "%s: its objects are not those probed (embed the same store, with the same [embed] fields as "
             "[probe] fields or none)", path);
    free(z);
    return 1;
  }
  if (whole_store) keep_rows(z, cols, d->store_row, d->objects);
  lcfm_probe_input *in = &d->inputs[d->input_count++];
  snprintf(in->name, sizeof in->name, "%s", label);
  in->dim = (int)cols;
  in->x = z;
  in->is_latent = 1;
  return 0;
}

/* Keeps the objects of the selected fields in d's columns (store_row: where they were). */
static void select_objects(lcfm_probe_data *d, const lcfm_fields *f, const int32_t *field) {
  d->store_row = lcfm_malloc((size_t)(d->objects ? d->objects : 1) * sizeof *d->store_row);
  int64_t kept = 0;
  for (int64_t i = 0; i < d->objects; i++) {
    if (!lcfm_fields_contains(f, field[i])) continue;
    d->id[kept] = d->id[i], d->source[kept] = d->source[i], d->instrument[kept] = d->instrument[i];
    d->label[kept] = d->label[i], d->store_row[kept] = i;
    kept++;
  }
  d->objects = kept;
}

int lcfm_probe_data_load(lcfm_probe_data *d, MPI_Comm comm, const char *store_path, const char *embeddings,
                         const char *baseline, const char *target, int raw_points, const char *fields, char *why,
                         size_t len) {
  memset(d, 0, sizeof *d);
  lcfm_store *s = lcfm_store_open(comm, store_path, why, len);
  if (!s) return 1;
  if (lcfm_store_check_derived(s, store_path, embeddings, baseline, why, len)) { /* embeddings of this store? */
    lcfm_store_free(s);
    return 1;
  }
  lcfm_fields selection;
  if (lcfm_fields_parse(fields ? fields : "", &selection, why, len)) { /* checked at job load */
    lcfm_store_free(s);
    return 1;
  }
  d->objects = d->store_objects = lcfm_store_object_count(s);
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, d->objects, 0);
  lcfm_store_read_objects(s, 0, d->objects, &b);
  d->id = b.id, d->source = b.source, d->instrument = b.instrument, d->label = b.label;
  if (!lcfm_fields_all(&selection)) select_objects(d, &selection, b.field);
  lcfm_fields_free(&selection);
  free(b.offset), free(b.field), free(b.length), free(b.time), free(b.value), free(b.error);
  if (d->objects == 0) {
    snprintf(why, len, "%s: no object lies in the selected fields ([probe] fields = %s)", store_path, fields);
    lcfm_store_free(s);
    return 1;
  }
  read_raw(d, s, d->store_row, raw_points);
  lcfm_store_free(s);
  if (read_target(d, comm, store_path, target, why, len)) return 1;
  lcfm_probe_input *raw = &d->inputs[d->input_count++];
  snprintf(raw->name, sizeof raw->name, "raw");
  raw->dim = raw_points, raw->x = d->raw, raw->is_latent = 0;
  if (baseline && baseline[0] && read_latent(d, comm, baseline, "/z", "baseline z", why, len)) return 1;
  hid_t probe_file = H5Fopen(embeddings, H5F_ACC_RDONLY, H5P_DEFAULT);
  int causal = probe_file >= 0 && H5Lexists(probe_file, "/z_star", H5P_DEFAULT) > 0;
  if (probe_file >= 0) H5Fclose(probe_file);
  if (causal) {
    if (read_latent(d, comm, embeddings, "/z_star", "z_star", why, len)) return 1;
    if (read_latent(d, comm, embeddings, "/z_instr", "z_instr", why, len)) return 1;
  } else if (read_latent(d, comm, embeddings, "/z", "z", why, len)) {
    return 1;
  }
  return 0;
}

void lcfm_probe_data_free(lcfm_probe_data *d) {
  for (int i = 0; i < d->input_count; i++)
    if (d->inputs[i].is_latent) free(d->inputs[i].x);
  free(d->id), free(d->source), free(d->instrument), free(d->label), free(d->target), free(d->raw), free(d->store_row);
  memset(d, 0, sizeof *d);
}
