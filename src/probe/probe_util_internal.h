/* probe_util_internal.h: what the probes share (not a public header): standardising inputs with
 * the training rows' statistics, creating and publishing a probe store and writing a small table
 * of it from rank 0, and reading
 * a job's list of counts. */
#ifndef LCFM_PROBE_UTIL_INTERNAL_H
#define LCFM_PROBE_UTIL_INTERNAL_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"

/* Column means and inverse standard deviations of x [n, D] (1 where a column is constant), so
 * that (x - mean) * scale has unit variance. */
void probe_column_stats(const float *x, int n, int D, float *mean, float *scale);
/* out [n, D] = (x - mean) * scale, column by column. */
void probe_standardise(float *out, const float *x, int n, int D, const float *mean,
                       const float *scale);

/* Collective: creates dataset `name` [rows] (cols 0) or [rows, cols] of `type` and writes `data`
 * from rank 0 (the other ranks select nothing). */
void probe_write_table(hid_t file, hid_t dxpl, const char *name, hid_t type, int64_t rows,
                       int64_t cols, const void *data, int rank);

/* A probe store being written: NAME.partial, open on every rank, with its schema attributes
 * (schema, schema_version) and the provenance; probe_output_publish renames it to NAME. */
typedef struct {
  hid_t file, dxpl; /* dxpl: collective transfers */
  int rank;
  char partial[4096];
} probe_output;
void probe_output_begin(probe_output *o, MPI_Comm comm, const char *path, int schema_version,
                        const lcfm_provenance *prov);
void probe_output_publish(probe_output *o, MPI_Comm comm, const char *path);

/* A [probe] key that lists counts ("10 20, 50": split at spaces, tabs and commas). */
typedef struct {
  const char *key;                   /* the key, named by the messages */
  int64_t least;                     /* the smallest count allowed */
  int max;                           /* how many counts at most */
  const char *one, *several, *valid; /* "training size", "sizes", "a training size of at least 2" */
} probe_count_list;

/* The counts of `text`, the value of the list's key, into counts[0..list->max): 0 and their
 * number in *count, or 1 after reporting on the key the first count below `least` or beyond
 * `max`, or an empty list. */
int probe_parse_counts(const lcfm_job *job, const probe_count_list *list, const char *text,
                       int64_t *counts, int *count);

#endif
