/* streamed_linalg.h: least squares and principal components of tall matrices (one row per object,
 * a few columns) whose rows are spread over the ranks and fed block by block, for the probes'
 * linear fits and PCA maps over all objects. A rank holds O(block x columns + columns^2) doubles
 * whatever the number of rows, never its rows of the matrix.
 *
 *   lcfm_lstsq_stream  min ||A X - B|| by a tall-skinny QR (TSQR): each rank folds its rows into
 *                      an n x n triangle R and Q^T B (LAPACK dtpqrt / dtpmqrt per block of rows),
 *                      the ranks' triangles are folded pairwise up a binary tree (the same
 *                      routines) and rank 0 solves R X = Q^T B (dtrtrs). QR, not the normal
 *                      equations: the error grows with cond(A), not cond(A)^2, and the verdict on
 *                      rank deficiency reads R's diagonal (as the former ScaLAPACK pdgels did).
 *   lcfm_pca_stream    two passes over the rows: column means, then the covariance of the centred
 *                      rows (dsyrk per block, summed over the ranks), whose eigenvectors rank 0
 *                      finds (dsyevd on d x d) and every rank receives.
 *
 * Results on every rank are rank 0's (broadcast), so ranks never disagree by rounding. Rows in a
 * different order or split give the same results to rounding (tests/probe/test_streamed_linalg.c:
 * within 1e-8 of LAPACK dgels / dsyev on the whole matrix, 1, 2 and 4 ranks). */
#ifndef LCFM_STREAMED_LINALG_H
#define LCFM_STREAMED_LINALG_H

#include <mpi.h>
#include <stdint.h>

typedef struct {
  int n, nrhs;
  double *state; /* [n, n + nrhs] column-major: R (upper triangle), then the top n rows of Q^T B */
  double *a, *b; /* pending rows: [block, n] and [block, nrhs], column-major */
  int pending;
  double *t, *work; /* the block reflectors' T factor and LAPACK's workspace */
} lcfm_lstsq_stream;

void lcfm_lstsq_stream_init(lcfm_lstsq_stream *s, int n, int nrhs);
/* One row: a [n] of A and b [nrhs] of B. Rows left out of the problem are simply not added. */
void lcfm_lstsq_stream_add(lcfm_lstsq_stream *s, const double *a, const double *b);
/* Collective, once: X [n, nrhs] (column-major) on every rank. Returns 0, or 1 (X set to NaN) when the
 * rows added over all ranks leave A numerically rank deficient (min |R_jj| <= n eps max |R_jj|,
 * fewer than n rows included), the same verdict on every rank. */
int lcfm_lstsq_stream_solve(lcfm_lstsq_stream *s, MPI_Comm comm, double *X);
void lcfm_lstsq_stream_free(lcfm_lstsq_stream *s);

typedef struct {
  int d;
  int64_t rows; /* rows of pass 1: this rank's, then all ranks' after lcfm_pca_stream_centre */
  double
      *mean; /* [d]: column sums in pass 1, the mean over all ranks after lcfm_pca_stream_centre */
  double *gram;  /* [d, d]: sum of the centred rows' outer products (upper triangle) */
  double *block; /* [block, d] column-major: centred rows pending */
  int pending;
} lcfm_pca_stream;

void lcfm_pca_stream_init(lcfm_pca_stream *s, int d);
/* Pass 1: rows z [count, d] (row-major) enter the column means. */
void lcfm_pca_stream_sum(lcfm_pca_stream *s, const float *z, int64_t count);
/* Collective, between the passes: the mean over all ranks' rows; returns the number of rows. */
int64_t lcfm_pca_stream_centre(lcfm_pca_stream *s, MPI_Comm comm);
/* Pass 2: the same rows again enter the covariance. */
void lcfm_pca_stream_scatter(lcfm_pca_stream *s, const float *z, int64_t count);
/* Collective: eigenvalues [d] of the sample covariance (divisor rows - 1), decreasing, and
 * components [k, d] (row j: the unit eigenvector of eigenvalue j, its largest-magnitude entry
 * positive), on every rank. Needs at least 2 rows and 1 <= k <= d. */
void lcfm_pca_stream_finish(lcfm_pca_stream *s, MPI_Comm comm, int k, double *eigenvalues,
                            double *components);
void lcfm_pca_stream_free(lcfm_pca_stream *s);

#endif
