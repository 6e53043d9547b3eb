/* scalapack.h: dense linear algebra on tall matrices distributed by rows over the ranks, with
 * ScaLAPACK (Debian's scalapack-openmpi), for the probes' least squares and PCA.
 *
 * A tall matrix (one row per object, a few columns) is held as contiguous blocks of rows:
 * rank p holds rows [p * mb, min(N, (p + 1) * mb)) with mb = ceil(N / P). That is exactly the
 * block-cyclic layout of a P x 1 BLACS process grid with row block mb (block p sits on process
 * row p), so ScaLAPACK works on the rows where each rank read them: nothing is gathered or
 * redistributed, and memory per rank is N / P rows. Local blocks are column-major (Fortran
 * order) with leading dimension max(1, local rows); a rank may hold no rows.
 *
 *   lcfm_row_layout_make   the row block of each rank for N rows
 *   lcfm_grid_open/close   a P x 1 BLACS grid over a communicator (Csys2blacs_handle)
 *   lcfm_rows_lstsq        min ||A X - B|| by Householder QR (pdgels), X replicated on every rank
 *   lcfm_rows_pca          covariance (pdsyrk), its eigenvectors (pdsyevd), local projections
 *
 * Results agree with a 1-rank LAPACK solve of the same problem to rounding (tests/probe). */
#ifndef LCFM_SCALAPACK_H
#define LCFM_SCALAPACK_H

#include <mpi.h>
#include <stdint.h>

typedef struct {
  int64_t rows;         /* N, over all ranks */
  int64_t block;        /* mb = ceil(N / P) (at least 1) */
  int64_t first, count; /* this rank's rows */
} lcfm_row_layout;

typedef struct {
  MPI_Comm comm;
  int system;  /* BLACS system handle of comm */
  int context; /* BLACS context of the P x 1 grid */
  int ranks, rank;
} lcfm_grid;

/* Collective over comm. Aborts when N does not fit ScaLAPACK's 32-bit indices. */
lcfm_row_layout lcfm_row_layout_make(MPI_Comm comm, int64_t rows);

/* Collective: a P x 1 process grid whose process row p is rank p of comm. */
void lcfm_grid_open(lcfm_grid *g, MPI_Comm comm);
void lcfm_grid_close(lcfm_grid *g);

/* Collective least squares min ||A X - B||_F (column by column) by QR, pdgels.
 * A: local rows of the N x n matrix (column-major, [count, n]); B: local rows of N x nrhs.
 * Both are overwritten. X [n, nrhs] (column-major) receives the solution on every rank.
 * Rows of zeros (in A and B) drop out of the problem: callers zero rows they leave out.
 * Returns 0, or 1 (X set to NaN) when N < n or A is numerically rank deficient
 * (min |R_jj| <= n * eps * max |R_jj|), the same verdict on every rank. */
int lcfm_rows_lstsq(const lcfm_grid *g, const lcfm_row_layout *l, int n, double *A, int nrhs, double *B, double *X);

/* Collective principal components of the N x d matrix X (local rows, column-major, [count, d];
 * overwritten by its centred values). On every rank: mean [d], eigenvalues [d] of the sample
 * covariance (divisor N - 1) in decreasing order, components [k, d] (row j: the unit
 * eigenvector of eigenvalue j, its largest-magnitude entry made positive). On each rank:
 * projection [count, k] (row-major) of its own rows onto the k leading components. k <= d. */
void lcfm_rows_pca(const lcfm_grid *g, const lcfm_row_layout *l, int d, double *X, int k, double *mean,
                   double *eigenvalues, double *components, double *projection);

#endif
