/* probe_table.c: reading back the MLP probe's R^2 table from a probe store (probe.h). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "pipeline_internal.h"

/* The dimensions of a dataset of rank 1 or 2 (dims[1] = 1 for rank 1) in group /mlp or
 * /linear; -1 if absent. */
static int dataset_shape(hid_t file, const char *name, int64_t dims[2]) {
  char group[16];
  snprintf(group, sizeof group, "%.*s", (int)strcspn(name + 1, "/"), name + 1);
  if (H5Lexists(file, group, H5P_DEFAULT) <= 0 || H5Lexists(file, name, H5P_DEFAULT) <= 0)
    return -1;
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
  if (dset < 0) return -1;
  hid_t space = H5Dget_space(dset);
  hsize_t d[2] = {0, 1};
  int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (rank < 1 || rank > 2 || H5Sget_simple_extent_dims(space, d, NULL) < 0) rank = -1;
  if (space >= 0) H5Sclose(space);
  H5Dclose(dset);
  dims[0] = (int64_t)d[0];
  dims[1] = rank == 2 ? (int64_t)d[1] : 1;
  return rank;
}

static int read_all(hid_t file, const char *name, hid_t type, void *data) {
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
  if (dset < 0) return 1;
  int bad = H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
  H5Dclose(dset);
  return bad;
}

/* The linear probes' test results, when the store has them (else r->latents stays 0). */
static void read_linear(hid_t file, pipeline_probe_result *r) {
  int64_t inputs[2], r2[2], accuracy[2];
  if (dataset_shape(file, "/linear/inputs", inputs) != 1 ||
      dataset_shape(file, "/linear/r2_test", r2) != 1 ||
      dataset_shape(file, "/linear/accuracy_test", accuracy) != 1 || r2[0] != inputs[0] ||
      accuracy[0] != inputs[0] || inputs[0] > 64)
    return;
  int n = (int)inputs[0];
  r->latent_names = lcfm_calloc((size_t)n + 1, sizeof *r->latent_names);
  r->linear_r2 = lcfm_calloc((size_t)n + 1, sizeof *r->linear_r2);
  r->accuracy = lcfm_calloc((size_t)n + 1, sizeof *r->accuracy);
  hid_t t32 = H5Tcopy(H5T_C_S1);
  H5Tset_size(t32, 32);
  int bad = read_all(file, "/linear/inputs", t32, r->latent_names) ||
            read_all(file, "/linear/r2_test", H5T_NATIVE_DOUBLE, r->linear_r2) ||
            read_all(file, "/linear/accuracy_test", H5T_NATIVE_DOUBLE, r->accuracy);
  H5Tclose(t32);
  r->majority = NAN;
  hid_t group = bad ? -1 : H5Gopen2(file, "/linear", H5P_DEFAULT);
  if (group >= 0 && H5Aexists(group, "majority_accuracy") > 0) {
    hid_t attr = H5Aopen(group, "majority_accuracy", H5P_DEFAULT);
    if (attr >= 0 && H5Aread(attr, H5T_NATIVE_DOUBLE, &r->majority) < 0) r->majority = NAN;
    if (attr >= 0) H5Aclose(attr);
  }
  if (group >= 0) H5Gclose(group);
  for (int i = 0; i < n; i++) r->latent_names[i][31] = '\0';
  r->latents = bad ? 0 : n;
}

int pipeline_probe_read(const char *path, pipeline_probe_result *r, char *why, size_t why_len) {
  memset(r, 0, sizeof *r);
  hid_t file = pipeline_file_exists(path) && H5Fis_hdf5(path) > 0
                   ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)
                   : -1;
  if (file < 0) {
    snprintf(why, why_len, "%s: not a readable HDF5 file", path);
    return 1;
  }
  int64_t inputs[2], sizes[2], mean[2], std[2];
  int bad = dataset_shape(file, "/mlp/inputs", inputs) != 1 ||
            dataset_shape(file, "/mlp/sizes", sizes) != 1 ||
            dataset_shape(file, "/mlp/r2_mean", mean) != 2 ||
            dataset_shape(file, "/mlp/r2_std", std) != 2 || mean[0] != inputs[0] ||
            mean[1] != sizes[0] || std[0] != inputs[0] || std[1] != sizes[0] || inputs[0] > 64 ||
            sizes[0] > 4096;
  if (!bad) {
    r->inputs = (int)inputs[0], r->sizes = (int)sizes[0];
    r->names = lcfm_calloc((size_t)r->inputs + 1, sizeof *r->names);
    r->size = lcfm_calloc((size_t)r->sizes + 1, sizeof *r->size);
    r->mean = lcfm_calloc((size_t)(r->inputs * r->sizes) + 1, sizeof *r->mean);
    r->std = lcfm_calloc((size_t)(r->inputs * r->sizes) + 1, sizeof *r->std);
    hid_t t32 = H5Tcopy(H5T_C_S1);
    H5Tset_size(t32, 32);
    bad = read_all(file, "/mlp/inputs", t32, r->names) ||
          read_all(file, "/mlp/sizes", H5T_NATIVE_INT64, r->size) ||
          read_all(file, "/mlp/r2_mean", H5T_NATIVE_DOUBLE, r->mean) ||
          read_all(file, "/mlp/r2_std", H5T_NATIVE_DOUBLE, r->std);
    H5Tclose(t32);
    for (int i = 0; i < r->inputs; i++) r->names[i][31] = '\0';
  }
  if (!bad) read_linear(file, r);
  H5Fclose(file);
  if (bad) {
    snprintf(why, why_len, "%s: no readable /mlp table (a probe store of lcfm probe?)", path);
    pipeline_probe_free(r);
  }
  return bad;
}

void pipeline_probe_free(pipeline_probe_result *r) {
  free(r->names), free(r->size), free(r->mean), free(r->std);
  free(r->latent_names), free(r->linear_r2), free(r->accuracy);
  memset(r, 0, sizeof *r);
}

int pipeline_print_probe_table(const char *path) {
  pipeline_probe_result r;
  char why[1024];
  if (pipeline_probe_read(path, &r, why, sizeof why)) {
    fprintf(stderr, "lcfm run: %s\n", why);
    return 1;
  }
  printf("MLP probe R^2 (mean +- std over runs) from %s:\n%8s", path, "size");
  for (int i = 0; i < r.inputs; i++) printf(" %18s", r.names[i]);
  printf("\n");
  for (int k = 0; k < r.sizes; k++) {
    printf("%8lld", (long long)r.size[k]);
    for (int i = 0; i < r.inputs; i++)
      printf("    %6.3f +- %5.3f", r.mean[i * r.sizes + k], r.std[i * r.sizes + k]);
    printf("\n");
  }
  fflush(stdout);
  pipeline_probe_free(&r);
  return 0;
}
