/* h5io.h: collective parallel-HDF5 building blocks shared by every file lcfm writes (the
 * light-curve store, embedding stores, probe results): the file access and transfer settings,
 * contiguous never-filled datasets, collective row transfers in which a rank with nothing to
 * move still takes part, and publication of NAME.partial as NAME. */
#ifndef LCFM_H5IO_H
#define LCFM_H5IO_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* MPI-IO file access with collective metadata and 1 MiB alignment of large datasets. */
hid_t lcfm_h5_file_access(MPI_Comm comm);
/* A collective dataset-transfer property list. */
hid_t lcfm_h5_collective_transfer(void);
/* A contiguous [rows] (cols = 0) or [rows, cols] dataset, never pre-filled; intermediate
 * groups are created. Collective. */
hid_t lcfm_h5_create_dataset(hid_t file, const char *path, hid_t type, int64_t rows, int64_t cols);
/* Collective: rows [first, first + count) between memory and the dataset (writing != 0: to the
 * file). count may be 0; an empty dataset is skipped. */
void lcfm_h5_transfer_rows(hid_t dset, hid_t memtype, hid_t dxpl, int64_t first, int64_t count, int64_t cols,
                           void *data, int writing);
/* Collective: creates PATH.partial (its name is returned in `partial`) for parallel writing. */
hid_t lcfm_h5_create_partial(MPI_Comm comm, const char *path, char *partial, size_t partial_len);
/* Collective: closes the file and renames PATH.partial to PATH (atomic). */
void lcfm_h5_publish(MPI_Comm comm, hid_t file, const char *partial, const char *path);

#endif
