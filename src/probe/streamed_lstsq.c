/* streamed_lstsq.c: least squares by a tall-skinny QR over rows fed block by block on every rank
 * (see streamed_linalg.h). */
#include <float.h>
#include <lapack.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/streamed_linalg.h"

/* Rows folded into the triangle at a time, and the reflector block width (LAPACK's nb). */
enum { ROW_BLOCK = 1024, REFLECTOR_BLOCK = 32 };

static int reflector_block(int n) { return n < REFLECTOR_BLOCK ? n : REFLECTOR_BLOCK; }

void lcfm_lstsq_stream_init(lcfm_lstsq_stream *s, int n, int nrhs) {
  LCFM_CHECK(n >= 1 && nrhs >= 1, "least squares of %d columns with %d right-hand sides", n, nrhs);
  memset(s, 0, sizeof *s);
  s->n = n, s->nrhs = nrhs;
  s->state = lcfm_calloc((size_t)n * (size_t)(n + nrhs), sizeof *s->state);
  s->a = lcfm_malloc((size_t)ROW_BLOCK * (size_t)n * sizeof *s->a);
  s->b = lcfm_malloc((size_t)ROW_BLOCK * (size_t)nrhs * sizeof *s->b);
  s->t = lcfm_malloc((size_t)reflector_block(n) * (size_t)n * sizeof *s->t);
  s->work =
      lcfm_malloc((size_t)reflector_block(n) * (size_t)(n > nrhs ? n : nrhs) * sizeof *s->work);
}

void lcfm_lstsq_stream_free(lcfm_lstsq_stream *s) {
  free(s->state), free(s->a), free(s->b), free(s->t), free(s->work);
  memset(s, 0, sizeof *s);
}

/* [R, C] <- the triangle and top rows of Q^T of [R, C] stacked on [V, W] (m rows, of which the
 * last `trapezoid` form an upper trapezoid: 0 for a block of rows, n for another rank's triangle).
 * V and W (leading dimension ld) are overwritten. */
static void fold(lcfm_lstsq_stream *s, int m, int trapezoid, double *V, double *W, int ld) {
  int n = s->n, nrhs = s->nrhs, nb = reflector_block(n), info = 0;
  double *R = s->state, *C = s->state + (size_t)n * (size_t)n;
  LAPACK_dtpqrt(&m, &n, &trapezoid, &nb, R, &n, V, &ld, s->t, &nb, s->work, &info);
  LCFM_CHECK_INFO(info, "dtpqrt");
  LAPACK_dtpmqrt("L", "T", &m, &nrhs, &n, &trapezoid, &nb, V, &ld, s->t, &nb, C, &n, W, &ld,
                 s->work, &info);
  LCFM_CHECK_INFO(info, "dtpmqrt");
}

static void flush(lcfm_lstsq_stream *s) {
  if (s->pending) fold(s, s->pending, 0, s->a, s->b, ROW_BLOCK);
  s->pending = 0;
}

void lcfm_lstsq_stream_add(lcfm_lstsq_stream *s, const double *a, const double *b) {
  for (int j = 0; j < s->n; j++) s->a[(size_t)j * ROW_BLOCK + (size_t)s->pending] = a[j];
  for (int c = 0; c < s->nrhs; c++) s->b[(size_t)c * ROW_BLOCK + (size_t)s->pending] = b[c];
  if (++s->pending == ROW_BLOCK) flush(s);
}

/* Folds the ranks' states up a binary tree: at distance 1, 2, 4, ... rank r (a multiple of twice
 * the distance) folds in rank r + distance's, which then stops. Rank 0 ends with the whole. */
static void fold_ranks(lcfm_lstsq_stream *s, MPI_Comm comm) {
  int rank, ranks, n = s->n, count = s->n * (s->n + s->nrhs);
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  double *other = lcfm_malloc((size_t)count * sizeof *other);
  for (int distance = 1; distance < ranks; distance *= 2) {
    if (rank % (2 * distance)) {
      LCFM_CHECK_MPI(MPI_Send(s->state, count, MPI_DOUBLE, rank - distance, 0, comm));
      break;
    }
    if (rank + distance >= ranks) continue;
    LCFM_CHECK_MPI(MPI_Recv(other, count, MPI_DOUBLE, rank + distance, 0, comm, MPI_STATUS_IGNORE));
    fold(s, n, n, other, other + (size_t)n * (size_t)n, n);
  }
  free(other);
}

/* min |R_jj| <= n eps max |R_jj| (or R = 0): the columns are not determined. */
static int rank_deficient(const double *R, int n) {
  double lo = INFINITY, hi = 0;
  for (int j = 0; j < n; j++)
    lo = fmin(lo, fabs(R[(size_t)j * n + j])), hi = fmax(hi, fabs(R[(size_t)j * n + j]));
  return !(hi > 0) || !(lo > n * DBL_EPSILON * hi);
}

/* On rank 0: X from R X = C, or NaN when R is rank deficient; returns that verdict. */
static int solve_triangle(const lcfm_lstsq_stream *s, double *X) {
  int n = s->n, nrhs = s->nrhs, info = 0;
  size_t size = (size_t)n * (size_t)nrhs;
  int deficient = rank_deficient(s->state, n);
  memcpy(X, s->state + (size_t)n * (size_t)n, size * sizeof *X);
  if (!deficient) LAPACK_dtrtrs("U", "N", "N", &n, &nrhs, s->state, &n, X, &n, &info);
  LCFM_CHECK_INFO(info, "dtrtrs");
  if (deficient)
    for (size_t i = 0; i < size; i++) X[i] = NAN;
  return deficient;
}

int lcfm_lstsq_stream_solve(lcfm_lstsq_stream *s, MPI_Comm comm, double *X) {
  int rank, deficient = 0;
  MPI_Comm_rank(comm, &rank);
  flush(s);
  fold_ranks(s, comm);
  if (rank == 0) deficient = solve_triangle(s, X);
  LCFM_CHECK_MPI(MPI_Bcast(X, s->n * s->nrhs, MPI_DOUBLE, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(&deficient, 1, MPI_INT, 0, comm));
  return deficient;
}
