/* h5io.c: collective HDF5 building blocks (see h5io.h). */
#include "lcfm/h5io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lcfm/error.h"

hid_t lcfm_h5_file_access(MPI_Comm comm) {
  hid_t fapl = LCFM_CHECK_H5(H5Pcreate(H5P_FILE_ACCESS));
  LCFM_CHECK_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  LCFM_CHECK_H5(H5Pset_all_coll_metadata_ops(fapl, 1));
  LCFM_CHECK_H5(H5Pset_coll_metadata_write(fapl, 1));
  /* Large datasets start on 1 MiB boundaries: stripe-friendly on parallel file systems. */
  LCFM_CHECK_H5(H5Pset_alignment(fapl, 1 << 20, 1 << 20));
  return fapl;
}

hid_t lcfm_h5_collective_transfer(void) {
  hid_t dxpl = LCFM_CHECK_H5(H5Pcreate(H5P_DATASET_XFER));
  LCFM_CHECK_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  return dxpl;
}


/* A contiguous dataset of rows x cols (cols = 0: 1-D) that is never filled: every element is
 * written by lcfm, and fill values would double the I/O. */
hid_t lcfm_h5_create_dataset(hid_t file, const char *path, hid_t type, int64_t rows, int64_t cols) {
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  hid_t space = LCFM_CHECK_H5(H5Screate_simple(cols ? 2 : 1, dims, NULL));
  hid_t lcpl = LCFM_CHECK_H5(H5Pcreate(H5P_LINK_CREATE));
  LCFM_CHECK_H5(H5Pset_create_intermediate_group(lcpl, 1));
  hid_t dcpl = LCFM_CHECK_H5(H5Pcreate(H5P_DATASET_CREATE));
  LCFM_CHECK_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  LCFM_CHECK_H5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
  hid_t dset = LCFM_CHECK_H5(H5Dcreate2(file, path, type, space, lcpl, dcpl, H5P_DEFAULT));
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  H5Sclose(space);
  return dset;
}

/* Collective transfer of rows [first, first + count) (x cols) between memory and a dataset.
 * A rank with count 0 selects nothing but still takes part. */
void lcfm_h5_transfer_rows(hid_t dset, hid_t memtype, hid_t dxpl, int64_t first, int64_t count,
                          int64_t cols, void *data, int writing) {
  hid_t filespace = LCFM_CHECK_H5(H5Dget_space(dset));
  if (H5Sget_simple_extent_npoints(filespace) == 0) { /* empty dataset: no storage to touch */
    H5Sclose(filespace);
    return;
  }
  hsize_t start[2] = {(hsize_t)first, 0}, extent[2] = {(hsize_t)count, (hsize_t)(cols ? cols : 1)};
  hsize_t mem_extent[1] = {(hsize_t)(count * (cols ? cols : 1))};
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, mem_extent, NULL));
  if (count > 0) {
    LCFM_CHECK_H5(H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start, NULL, extent, NULL));
  } else {
    LCFM_CHECK_H5(H5Sselect_none(filespace));
    LCFM_CHECK_H5(H5Sselect_none(memspace));
  }
  if (writing) LCFM_CHECK_H5(H5Dwrite(dset, memtype, memspace, filespace, dxpl, data));
  else LCFM_CHECK_H5(H5Dread(dset, memtype, memspace, filespace, dxpl, data));
  H5Sclose(memspace);
  H5Sclose(filespace);
}

hid_t lcfm_h5_create_partial(MPI_Comm comm, const char *path, char *partial, size_t partial_len) {
  snprintf(partial, partial_len, "%s.partial", path);
  hid_t fapl = lcfm_h5_file_access(comm);
  hid_t file = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file < 0) {
    char reason[512];
    lcfm_h5_last_error(reason, sizeof reason);
    LCFM_FATAL("%s: cannot create: %s", partial, reason);
  }
  return file;
}

void lcfm_h5_publish(MPI_Comm comm, hid_t file, const char *partial, const char *path) {
  LCFM_CHECK_H5(H5Fclose(file));
  LCFM_CHECK_MPI(MPI_Barrier(comm));
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0 && rename(partial, path) != 0) LCFM_FATAL("cannot rename %s to %s: %s", partial, path, strerror(errno));
  LCFM_CHECK_MPI(MPI_Barrier(comm));
}
