/* probe_read_internal.h: per-process reads of chosen rows, for `lcfm probe` (not a public header).
 * The probe reads a few thousand rows scattered over survey-sized files (the objects its runs
 * sample, and its rank's shard in blocks), each rank its own rows: so every rank opens the files
 * on its own (HDF5's default driver, read-only, as the store's index reader does) and makes
 * independent reads of hyperslabs (runs of consecutive rows) and point selections, never a
 * collective read of a whole dataset. */
#ifndef LCFM_PROBE_READ_INTERNAL_H
#define LCFM_PROBE_READ_INTERNAL_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Opens PATH read-only for this process; -1 with a reason naming it. */
hid_t lcfm_probe_open(const char *path, char *why, size_t why_len);
/* Opens dataset `name` and gives its rows and columns (0 for 1-D); -1 with a reason naming the
 * file and the dataset when it is missing or has more than 2 dimensions. */
hid_t lcfm_probe_open_dataset(hid_t file, const char *path, const char *name, int64_t *rows,
                              int64_t *cols, char *why, size_t why_len);
/* Rows rows[0..count) (increasing, in range) of a [N] (cols 0) or [N, cols] dataset into out
 * [count, max(cols, 1)]: one read per run of consecutive rows. */
void lcfm_probe_read_rows(hid_t dset, hid_t type, const int64_t *rows, int64_t count, int64_t cols,
                          void *out);
/* out[i] = dset[rows[i], col] of a 2-D dataset, rows in any order (a point selection). */
void lcfm_probe_read_column_at(hid_t dset, hid_t type, const int64_t *rows, int64_t count,
                               int64_t col, void *out);

/* Collective: the same verdict on every rank: 1 when any rank `failed`, with the lowest failing
 * rank's reason in every rank's `why` and printed by rank 0 ("lcfm probe: REASON", "FAILED"). */
int lcfm_probe_any_failed(MPI_Comm comm, int failed, char *why, size_t why_len);

#endif
