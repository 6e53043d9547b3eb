/* h5io.h: collective parallel-HDF5 building blocks shared by every file lcfm writes (the
 * light-curve store, embedding stores, probe results): the file access and transfer settings,
 * contiguous never-filled datasets and chunked growable ones (optionally shuffle + deflate),
 * collective row transfers in which a rank with nothing to move still takes part, and the one
 * publish path: NAME.partial written under NAME's lock (outputs.h), flushed to the disk, then
 * renamed to NAME, or for appends a copy of NAME made NAME.partial first (copy-on-append). While
 * a file is written, a helper thread per rank starts the disk writes of what each collective
 * write left in the page cache (sync_file_range), so the flush before the rename waits only for
 * the last of them.
 *
 * I/O errors never hang: a failed write, flush, close or rename on any rank is agreed on (an
 * all-reduced status) before the next collective call, and every rank leaves with exit 1, the
 * failing rank naming the errno text and the file ("No space left on device: NAME.partial"),
 * and NAME.partial removed (error.h). A full disk is found before HDF5's collective calls: before
 * each collective write and before the close, rank 0 checks that the file system has room for
 * what the write may add (its bytes; for a compressed dataset every chunk it touches at the
 * uncompressed size) plus room for metadata, and the ranks agree on the verdict. Inside HDF5's
 * collective write of compressed chunks, or its collective close, a rank that fails leaves the
 * others waiting on it. The check is not a reservation: a write that still fails (another
 * program took the space in between) is agreed on as above, which holds for uncompressed
 * datasets (one collective MPI-IO call that fails on every rank). */
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
/* A chunked [rows] or [rows, cols] dataset whose rows can grow (maximum size unlimited), chunks
 * of chunk_rows rows (fewer for a smaller table), shuffle + deflate at deflate_level (0: none,
 * then allocated when created, as parallel HDF5 needs); never pre-filled: every element is
 * written by lcfm. Collective. */
hid_t lcfm_h5_create_growable(hid_t file, const char *path, hid_t type, int64_t rows, int64_t cols,
                              int64_t chunk_rows, int deflate_level);
/* The dataset at path with `rows` rows: created growable, or opened and resized when it exists
 * (a store being appended to). Collective. */
hid_t lcfm_h5_sized_dataset(hid_t file, const char *path, hid_t type, int64_t rows, int64_t cols,
                            int64_t chunk_rows, int deflate_level);
/* Collective: sets the rows of a growable dataset. */
void lcfm_h5_set_rows(hid_t dset, int64_t rows);
/* Collective: removes an attribute if present (before writing it anew). */
void lcfm_h5_delete_attribute(hid_t location, const char *name);
/* The first extent of a dataset (its rows). */
int64_t lcfm_h5_dataset_rows(hid_t dset);
/* Collective: rows [first, first + count) between memory and the dataset (writing != 0: to the
 * file). count may be 0; an empty dataset is skipped. */
void lcfm_h5_transfer_rows(hid_t dset, hid_t memtype, hid_t dxpl, int64_t first, int64_t count,
                           int64_t cols, void *data, int writing);
/* Collective write of any selection (e.g. a union of hyperslabs) with the same free-space check
 * and agreed failure as lcfm_h5_transfer_rows. */
void lcfm_h5_write_selection(hid_t dset, hid_t memtype, hid_t memspace, hid_t filespace, hid_t dxpl,
                             const void *data);
/* Collective: takes PATH's lock on rank 0 and creates PATH.partial (its name is returned in
 * `partial`) for parallel writing. A lock held by another run or a file that cannot be created
 * ends every rank with exit 1 and the reason. */
hid_t lcfm_h5_create_partial(MPI_Comm comm, const char *path, char *partial, size_t partial_len);
/* Collective: copy-on-append. Takes PATH's lock on rank 0, copies PATH to PATH.partial and opens
 * the copy for parallel writing; lcfm_h5_publish then renames it over PATH. PATH itself is never
 * written, so a run killed at any point leaves it as it was. */
hid_t lcfm_h5_open_partial_copy(MPI_Comm comm, const char *path, char *partial, size_t partial_len);
/* Collective: checks the free space, flushes and closes the file, renames PATH.partial to PATH (atomic) and
 * drops the lock. */
void lcfm_h5_publish(MPI_Comm comm, hid_t file, const char *partial, const char *path);
/* Collective: leaves with every rank (exit 1) unless no rank `failed`; a failing rank prints
 * `reason` first. */
void lcfm_h5_agree(MPI_Comm comm, int failed, const char *reason);

/* The same publish path for a file one process writes alone (checkpoints, run records, tables:
 * the default POSIX driver). Failures end the run through LCFM_FATAL, the partial removed. */
hid_t lcfm_h5_create_partial_local(const char *path, char *partial, size_t partial_len);
void lcfm_h5_publish_local(hid_t file, const char *partial, const char *path);

/* A fixed-length string attribute of `location` in a new allocation; NULL when absent or not a
 * fixed-length string. */
char *lcfm_h5_read_text_attribute(hid_t location, const char *name);

/* The balanced contiguous shard of `rank` among `ranks` of `objects` rows: the first
 * objects % ranks ranks take one row more. Every verb splits a store's rows this way. */
void lcfm_store_shard(int64_t objects, int rank, int ranks, int64_t *first, int64_t *count);

#endif
