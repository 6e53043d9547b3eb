/* probe_util_internal.h: what the probes share (not a public header): standardising inputs with
 * the training rows' statistics, and writing a small table of a probe store from rank 0. */
#ifndef LCFM_PROBE_UTIL_INTERNAL_H
#define LCFM_PROBE_UTIL_INTERNAL_H

#include <hdf5.h>
#include <stdint.h>

/* Column means and inverse standard deviations of x [n, D] (1 where a column is constant), so
 * that (x - mean) * scale has unit variance. */
void probe_column_stats(const float *x, int n, int D, float *mean, float *scale);
/* out [n, D] = (x - mean) * scale, column by column. */
void probe_standardise(float *out, const float *x, int n, int D, const float *mean, const float *scale);

/* Collective: creates dataset `name` [rows] (cols 0) or [rows, cols] of `type` and writes `data`
 * from rank 0 (the other ranks select nothing). */
void probe_write_table(hid_t file, hid_t dxpl, const char *name, hid_t type, int64_t rows, int64_t cols,
                       const void *data, int rank);

#endif
