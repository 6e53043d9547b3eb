/* probe_read.c: per-process reads of chosen rows (probe_read_internal.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "lcfm/error.h"
#include "probe_read_internal.h"

hid_t lcfm_probe_open(const char *path, char *why, size_t len) {
  hid_t file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (file < 0) snprintf(why, len, "%s: cannot open as HDF5", path);
  return file;
}

hid_t lcfm_probe_open_dataset(hid_t file, const char *path, const char *name, int64_t *rows,
                              int64_t *cols, char *why, size_t len) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    snprintf(why, len, "%s: has no %s", path, name);
    return -1;
  }
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, name, H5P_DEFAULT));
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  int ndim = H5Sget_simple_extent_ndims(space);
  hsize_t dims[2] = {0, 0};
  if (ndim >= 1 && ndim <= 2) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  if (ndim < 1 || ndim > 2) {
    snprintf(why, len, "%s: %s has %d dimensions (1 or 2 expected)", path, name, ndim);
    H5Dclose(dset);
    return -1;
  }
  *rows = (int64_t)dims[0], *cols = ndim > 1 ? (int64_t)dims[1] : 0;
  return dset;
}

void lcfm_probe_read_rows(hid_t dset, hid_t type, const int64_t *rows, int64_t count, int64_t cols,
                          void *out) {
  hid_t filespace = LCFM_CHECK_H5(H5Dget_space(dset));
  size_t row_bytes = H5Tget_size(type) * (size_t)(cols ? cols : 1);
  for (int64_t i = 0, run; i < count; i += run) {
    for (run = 1; i + run < count && rows[i + run] == rows[i] + run;) run++;
    hsize_t start[2] = {(hsize_t)rows[i], 0},
            extent[2] = {(hsize_t)run, (hsize_t)(cols ? cols : 1)};
    hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(cols ? 2 : 1, extent, NULL));
    LCFM_CHECK_H5(H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start, NULL, extent, NULL));
    LCFM_CHECK_H5(
        H5Dread(dset, type, memspace, filespace, H5P_DEFAULT, (char *)out + (size_t)i * row_bytes));
    H5Sclose(memspace);
  }
  H5Sclose(filespace);
}

void lcfm_probe_read_column_at(hid_t dset, hid_t type, const int64_t *rows, int64_t count,
                               int64_t col, void *out) {
  if (count == 0) return;
  hsize_t *coord = lcfm_malloc((size_t)count * 2 * sizeof *coord), mem[1] = {(hsize_t)count};
  for (int64_t i = 0; i < count; i++)
    coord[2 * i] = (hsize_t)rows[i], coord[2 * i + 1] = (hsize_t)col;
  hid_t filespace = LCFM_CHECK_H5(H5Dget_space(dset)),
        memspace = LCFM_CHECK_H5(H5Screate_simple(1, mem, NULL));
  LCFM_CHECK_H5(H5Sselect_elements(filespace, H5S_SELECT_SET, (size_t)count, coord));
  LCFM_CHECK_H5(H5Dread(dset, type, memspace, filespace, H5P_DEFAULT, out));
  H5Sclose(memspace), H5Sclose(filespace);
  free(coord);
}

int lcfm_probe_any_failed(MPI_Comm comm, int failed, char *why, size_t len) {
  int rank, first = 0;
  MPI_Comm_rank(comm, &rank);
  int mine = failed ? rank : INT_MAX;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == INT_MAX) return 0;
  LCFM_CHECK_MPI(MPI_Bcast(why, (int)len, MPI_CHAR, first, comm));
  lcfm_report_failure(rank == 0, "lcfm probe: %s", why);
  return 1;
}
