/* scalapack.c: row-distributed matrices on a P x 1 BLACS grid, and least squares by pdgels
 * (see scalapack.h). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "scalapack_internal.h"

/* Columns per block of the tall matrices: with one process column every block is local, and
 * the block width is pdgeqrf's panel width. */
enum { COLUMN_BLOCK = 32 };

lcfm_row_layout lcfm_row_layout_make(MPI_Comm comm, int64_t rows) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  LCFM_CHECK(rows >= 0 && rows <= INT_MAX, "%lld rows: ScaLAPACK indexes at most %d rows", (long long)rows, INT_MAX);
  lcfm_row_layout l = {.rows = rows};
  l.block = rows > 0 ? (rows + ranks - 1) / ranks : 1;
  l.first = (int64_t)rank * l.block;
  if (l.first > rows) l.first = rows;
  l.count = rows - l.first < l.block ? rows - l.first : l.block;
  return l;
}

void lcfm_grid_open(lcfm_grid *g, MPI_Comm comm) {
  memset(g, 0, sizeof *g);
  g->comm = comm;
  MPI_Comm_size(comm, &g->ranks);
  int rank;
  MPI_Comm_rank(comm, &rank);
  g->system = Csys2blacs_handle(comm);
  g->context = g->system;
  Cblacs_gridinit(&g->context, "Row", g->ranks, 1);
  int nprow, npcol, mycol;
  Cblacs_gridinfo(g->context, &nprow, &npcol, &g->rank, &mycol);
  /* The row layout relies on process row p being rank p. */
  LCFM_CHECK(nprow == g->ranks && npcol == 1 && g->rank == rank && mycol == 0,
             "BLACS grid %d x %d places rank %d at (%d, %d), not (%d, 0)", nprow, npcol, rank, g->rank, mycol, rank);
}

void lcfm_grid_close(lcfm_grid *g) {
  Cblacs_gridexit(g->context);
  Cfree_blacs_system_handle(g->system);
  memset(g, 0, sizeof *g);
}

int lcfm_grid_descriptor(const lcfm_grid *g, int desc[LCFM_DESC_LEN], int m, int n, int mb, int nb) {
  int zero = 0, info = 0;
  int local_rows = numroc_(&m, &mb, &g->rank, &zero, &g->ranks);
  int lld = local_rows > 1 ? local_rows : 1;
  descinit_(desc, &m, &n, &mb, &nb, &zero, &zero, &g->context, &lld, &info);
  LCFM_CHECK_INFO(info, "descinit");
  return local_rows;
}

/* |R_jj| for j < n on every rank: each diagonal entry lives on one rank, the others add 0. */
static void r_diagonal(const lcfm_grid *g, const lcfm_row_layout *l, int n, const double *A, double *diag) {
  int lld = l->count > 1 ? (int)l->count : 1;
  for (int j = 0; j < n; j++) {
    diag[j] = 0;
    if (j >= l->first && j < l->first + l->count) diag[j] = fabs(A[(size_t)j * lld + (size_t)(j - l->first)]);
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, diag, n, MPI_DOUBLE, MPI_SUM, g->comm));
}

static int rank_deficient(const double *diag, int n) {
  double lo = INFINITY, hi = 0;
  for (int j = 0; j < n; j++) lo = fmin(lo, diag[j]), hi = fmax(hi, diag[j]);
  return !(hi > 0) || !(lo > n * DBL_EPSILON * hi);
}

/* X [n, nrhs] from rows [0, n) of the solved B, on every rank. */
static void replicate_solution(const lcfm_grid *g, const lcfm_row_layout *l, int n, int nrhs, const double *B,
                               double *X) {
  int lld = l->count > 1 ? (int)l->count : 1;
  memset(X, 0, (size_t)n * (size_t)nrhs * sizeof *X);
  for (int64_t i = l->first; i < l->first + l->count && i < n; i++)
    for (int c = 0; c < nrhs; c++) X[(size_t)c * n + (size_t)i] = B[(size_t)c * lld + (size_t)(i - l->first)];
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, X, n * nrhs, MPI_DOUBLE, MPI_SUM, g->comm));
}

int lcfm_rows_lstsq(const lcfm_grid *g, const lcfm_row_layout *l, int n, double *A, int nrhs, double *B, double *X) {
  if (l->rows < n || n < 1) {
    for (size_t i = 0; i < (size_t)n * (size_t)nrhs; i++) X[i] = NAN;
    return 1;
  }
  int m = (int)l->rows, mb = (int)l->block, one = 1, info = 0;
  int desc_a[LCFM_DESC_LEN], desc_b[LCFM_DESC_LEN];
  int nb = n < COLUMN_BLOCK ? n : COLUMN_BLOCK, nb_b = nrhs < COLUMN_BLOCK ? nrhs : COLUMN_BLOCK;
  int local = lcfm_grid_descriptor(g, desc_a, m, n, mb, nb);
  LCFM_CHECK(local == l->count, "row layout of %lld rows disagrees with the BLACS grid", (long long)l->rows);
  lcfm_grid_descriptor(g, desc_b, m, nrhs, mb, nb_b);
  double query;
  int lwork = -1;
  pdgels_("N", &m, &n, &nrhs, A, &one, &one, desc_a, B, &one, &one, desc_b, &query, &lwork, &info, 1);
  LCFM_CHECK_INFO(info, "pdgels (workspace query)");
  lwork = (int)query + 1;
  double *work = lcfm_malloc((size_t)lwork * sizeof *work);
  pdgels_("N", &m, &n, &nrhs, A, &one, &one, desc_a, B, &one, &one, desc_b, work, &lwork, &info, 1);
  LCFM_CHECK_INFO(info, "pdgels");
  free(work);
  double *diag = lcfm_malloc((size_t)n * sizeof *diag);
  r_diagonal(g, l, n, A, diag);
  int deficient = rank_deficient(diag, n);
  free(diag);
  replicate_solution(g, l, n, nrhs, B, X);
  if (deficient)
    for (size_t i = 0; i < (size_t)n * (size_t)nrhs; i++) X[i] = NAN;
  return deficient;
}
