/* test_streamed_linalg.c: streamed least squares (TSQR) and PCA against LAPACK on the whole matrix.
 * Run under 1, 2 and 4 ranks. Every rank builds the whole problem from the keyed generator
 * (cheap) and solves it with LAPACK as the reference; the streams see only the rank's
 * contiguous share of the rows (lcfm_store_shard: uneven, and empty where rows < ranks). Checks:
 *   - least squares equals dgels of the same problem within 1e-8, for one and several
 *     right-hand sides, more rows than one block per rank, more columns than one reflector
 *     block, and is close to the planted coefficients;
 *   - rows left out equal dgels of the remaining rows only (the probes' train split);
 *   - a rank-deficient matrix, or fewer rows than columns, is reported (1, NaN) on every rank;
 *   - PCA: eigenvalues equal dsyev's of the covariance within 1e-10 (relative), components
 *     within 1e-8 up to the sign convention, the mean within 1e-12. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/rng.h"
#include "lcfm/store.h"
#include "lcfm/streamed_linalg.h"

void dgels_(const char *trans, const int *m, const int *n, const int *nrhs, double *a,
            const int *lda, double *b, const int *ldb, double *work, const int *lwork, int *info,
            size_t trans_len);
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
            double *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

enum { STREAM_A = 1, STREAM_NOISE = 2, STREAM_X = 3 };

static int rank_of(MPI_Comm comm) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

/* This rank's rows [first, first + count) of m. */
static void my_rows(MPI_Comm comm, int64_t m, int64_t *first, int64_t *count) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_store_shard(m, rank_of(comm), ranks, first, count);
}

/* A [m, n] column-major, A_ij ~ N(0, 1) keyed by (i, j); B = A X_true + 0.01 noise, X_true_jc = j - c. */
static void make_problem(int m, int n, int nrhs, uint64_t seed, double *A, double *B) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++)
      A[(size_t)j * m + i] = lcfm_rng_normal(seed, STREAM_A, (uint64_t)i * n + j);
  for (int c = 0; c < nrhs; c++)
    for (int i = 0; i < m; i++) {
      double s = 0.01 * lcfm_rng_normal(seed, STREAM_NOISE, (uint64_t)i * nrhs + c);
      for (int j = 0; j < n; j++) s += A[(size_t)j * m + i] * (j - c);
      B[(size_t)c * m + i] = s;
    }
}

/* LAPACK reference: X [n, nrhs] of min ||A X - B|| (A, B copied). */
static void reference_lstsq(int m, int n, int nrhs, const double *A0, const double *B0, double *X) {
  double *A = lcfm_malloc((size_t)m * n * sizeof *A),
         *B = lcfm_malloc((size_t)m * nrhs * sizeof *B);
  memcpy(A, A0, (size_t)m * n * sizeof *A), memcpy(B, B0, (size_t)m * nrhs * sizeof *B);
  int lwork = -1, info = 0;
  double query;
  dgels_("N", &m, &n, &nrhs, A, &m, B, &m, &query, &lwork, &info, 1);
  lwork = (int)query;
  double *work = lcfm_malloc((size_t)lwork * sizeof *work);
  dgels_("N", &m, &n, &nrhs, A, &m, B, &m, work, &lwork, &info, 1);
  LCFM_CHECK_INFO(info, "dgels");
  for (int c = 0; c < nrhs; c++)
    memcpy(X + (size_t)c * n, B + (size_t)c * m, (size_t)n * sizeof *X);
  free(A), free(B), free(work);
}

static double max_abs_diff(const double *a, const double *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, isnan(a[i]) || isnan(b[i]) ? INFINITY : fabs(a[i] - b[i]));
  return worst;
}

/* Streams this rank's rows of [A, B] (those with keep[i], or all when keep is NULL) and solves. */
static int streamed_lstsq(MPI_Comm comm, int m, int n, int nrhs, const double *A, const double *B,
                          const unsigned char *keep, double *X) {
  int64_t first, count;
  my_rows(comm, m, &first, &count);
  lcfm_lstsq_stream s;
  lcfm_lstsq_stream_init(&s, n, nrhs);
  double *a = lcfm_malloc((size_t)n * sizeof *a), *b = lcfm_malloc((size_t)nrhs * sizeof *b);
  for (int64_t i = first; i < first + count; i++) {
    if (keep && !keep[i]) continue;
    for (int j = 0; j < n; j++) a[j] = A[(size_t)j * m + (size_t)i];
    for (int c = 0; c < nrhs; c++) b[c] = B[(size_t)c * m + (size_t)i];
    lcfm_lstsq_stream_add(&s, a, b);
  }
  int status = lcfm_lstsq_stream_solve(&s, comm, X);
  lcfm_lstsq_stream_free(&s);
  free(a), free(b);
  return status;
}

static void check_lstsq(MPI_Comm comm, int m, int n, int nrhs, uint64_t seed) {
  double *A = lcfm_malloc((size_t)m * n * sizeof *A),
         *B = lcfm_malloc((size_t)m * nrhs * sizeof *B);
  make_problem(m, n, nrhs, seed, A, B);
  double *ref = lcfm_malloc((size_t)n * nrhs * sizeof *ref),
         *X = lcfm_malloc((size_t)n * nrhs * sizeof *X);
  reference_lstsq(m, n, nrhs, A, B, ref);
  int status = streamed_lstsq(comm, m, n, nrhs, A, B, NULL, X);
  double diff = max_abs_diff(X, ref, (size_t)n * nrhs);
  double planted = 0;
  for (int c = 0; c < nrhs; c++)
    for (int j = 0; j < n; j++) planted = fmax(planted, fabs(X[(size_t)c * n + j] - (j - c)));
  EXPECT(status == 0, "%d x %d, %d right-hand sides: reported rank deficient", m, n, nrhs);
  EXPECT(diff <= 1e-8, "%d x %d, %d right-hand sides: TSQR vs dgels differ by %.3g", m, n, nrhs,
         diff);
  EXPECT(planted < 0.05, "%d x %d: solution %.3g away from the planted coefficients", m, n,
         planted);
  if (rank_of(comm) == 0)
    printf("lstsq %5d x %2d, %2d rhs: max |TSQR - dgels| = %.2e\n", m, n, nrhs, diff);
  free(A), free(B), free(ref), free(X);
}

/* Leaving rows out (as the probes do with test rows) equals solving without them. */
static void check_rows_left_out(MPI_Comm comm, int m, int n, uint64_t seed) {
  double *A = lcfm_malloc((size_t)m * n * sizeof *A), *B = lcfm_malloc((size_t)m * sizeof *B);
  make_problem(m, n, 1, seed, A, B);
  unsigned char *keep = lcfm_malloc((size_t)m);
  int kept = 0;
  for (int i = 0; i < m; i++)
    kept += keep[i] = lcfm_rng_uniform(seed, STREAM_X, (uint64_t)i) >= 0.3;
  double *Ak = lcfm_malloc((size_t)kept * n * sizeof *Ak),
         *Bk = lcfm_malloc((size_t)kept * sizeof *Bk);
  for (int i = 0, k = 0; i < m; i++) {
    if (!keep[i]) continue;
    for (int j = 0; j < n; j++) Ak[(size_t)j * kept + k] = A[(size_t)j * m + i];
    Bk[k++] = B[i];
  }
  double ref[64], X[64];
  reference_lstsq(kept, n, 1, Ak, Bk, ref);
  streamed_lstsq(comm, m, n, 1, A, B, keep, X);
  double diff = max_abs_diff(X, ref, (size_t)n);
  EXPECT(diff <= 1e-8, "rows left out: differs by %.3g from the solve without them", diff);
  free(A), free(B), free(keep), free(Ak), free(Bk);
}

static void check_rank_deficient(MPI_Comm comm) {
  int m = 50, n = 4;
  double A[200], B[50], X[4];
  make_problem(m, n, 1, 5, A, B);
  memcpy(A + 3 * m, A + 1 * m, (size_t)m * sizeof *A); /* column 3 = column 1 */
  int status = streamed_lstsq(comm, m, n, 1, A, B, NULL, X);
  EXPECT(status == 1 && isnan(X[0]), "a repeated column was not reported (status %d, x0 %g)",
         status, X[0]);
  make_problem(3, n, 1, 6, A, B); /* 3 rows, 4 columns */
  status = streamed_lstsq(comm, 3, n, 1, A, B, NULL, X);
  EXPECT(status == 1 && isnan(X[3]), "fewer rows than columns were not reported (status %d)",
         status);
}

/* X [m, d] row-major with column j scaled by 1 + j (distinct variances), rotated by mixing. */
static void make_pca_data(int m, int d, uint64_t seed, float *X) {
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < d; j++)
      X[(size_t)i * d + j] =
          (float)((1.0 + j) * lcfm_rng_normal(seed, STREAM_X, (uint64_t)i * d + j) + 0.1 * j);
    for (int j = 0; j + 1 < d; j++) { /* mix neighbouring columns so components are not the axes */
      float a = X[(size_t)i * d + j], b = X[(size_t)i * d + j + 1];
      X[(size_t)i * d + j] = 0.8f * a + 0.6f * b, X[(size_t)i * d + j + 1] = -0.6f * a + 0.8f * b;
    }
  }
}

/* Flip v so that its largest-magnitude entry is positive (the convention of lcfm_pca_stream). */
static void fix_sign(double *v, int d) {
  int big = 0;
  for (int i = 1; i < d; i++)
    if (fabs(v[i]) > fabs(v[big])) big = i;
  if (v[big] < 0)
    for (int i = 0; i < d; i++) v[i] = -v[i];
}

/* Reference: mean [d], eigenvalues w (ascending) and eigenvectors (columns of C) by dsyev. */
static void reference_pca(int m, int d, const float *X, double *mean, double *w, double *C) {
  for (int j = 0; j < d; j++) {
    mean[j] = 0;
    for (int i = 0; i < m; i++) mean[j] += X[(size_t)i * d + j];
    mean[j] /= m;
  }
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) {
      double s = 0;
      for (int i = 0; i < m; i++)
        s += (X[(size_t)i * d + a] - mean[a]) * (X[(size_t)i * d + b] - mean[b]);
      C[(size_t)b * d + a] = s / (m - 1);
    }
  double query;
  int lwork = -1, info = 0;
  dsyev_("V", "U", &d, C, &d, w, &query, &lwork, &info, 1, 1);
  lwork = (int)query;
  double *work = lcfm_malloc((size_t)lwork * sizeof *work);
  dsyev_("V", "U", &d, C, &d, w, work, &lwork, &info, 1, 1);
  LCFM_CHECK_INFO(info, "dsyev");
  free(work);
}

static void check_pca(MPI_Comm comm, int m, int d, int k, uint64_t seed) {
  float *X = lcfm_malloc((size_t)m * d * sizeof *X);
  make_pca_data(m, d, seed, X);
  double *mean = lcfm_malloc((size_t)d * sizeof *mean), *w = lcfm_malloc((size_t)d * sizeof *w);
  double *C = lcfm_malloc((size_t)d * d * sizeof *C),
         *ref = lcfm_malloc((size_t)k * d * sizeof *ref);
  reference_pca(m, d, X, mean, w, C);
  for (int c = 0; c < k; c++) {
    memcpy(ref + (size_t)c * d, C + (size_t)(d - 1 - c) * d, (size_t)d * sizeof *C);
    fix_sign(ref + (size_t)c * d, d);
  }
  int64_t first, count;
  my_rows(comm, m, &first, &count);
  lcfm_pca_stream s;
  lcfm_pca_stream_init(&s, d);
  for (int64_t i = first; i < first + count; i += 7) /* blocks of 7 rows */
    lcfm_pca_stream_sum(&s, X + (size_t)i * d, first + count - i < 7 ? first + count - i : 7);
  int64_t rows = lcfm_pca_stream_centre(&s, comm);
  lcfm_pca_stream_scatter(&s, X + (size_t)first * d, count);
  double *eig = lcfm_malloc((size_t)d * sizeof *eig),
         *comp = lcfm_malloc((size_t)k * d * sizeof *comp);
  lcfm_pca_stream_finish(&s, comm, k, eig, comp);
  double eig_err = 0, comp_err = max_abs_diff(comp, ref, (size_t)k * d),
         mean_err = max_abs_diff(s.mean, mean, (size_t)d);
  for (int j = 0; j < d; j++) eig_err = fmax(eig_err, fabs(eig[j] - w[d - 1 - j]) / w[d - 1]);
  EXPECT(rows == m, "PCA %d x %d: %lld rows counted", m, d, (long long)rows);
  EXPECT(eig_err <= 1e-10, "PCA %d x %d: eigenvalues differ from dsyev by %.3g (relative)", m, d,
         eig_err);
  EXPECT(comp_err <= 1e-8, "PCA %d x %d: components differ from dsyev's by %.3g", m, d, comp_err);
  EXPECT(mean_err <= 1e-12, "PCA %d x %d: mean differs by %.3g", m, d, mean_err);
  if (rank_of(comm) == 0)
    printf("pca   %5d x %2d: eigenvalue error %.2e, component error %.2e\n", m, d, eig_err,
           comp_err);
  lcfm_pca_stream_free(&s);
  free(X), free(mean), free(w), free(C), free(ref), free(eig), free(comp);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  check_lstsq(comm, 1000, 21, 1, 11);
  check_lstsq(comm, 997, 21, 18, 12); /* uneven shares, 18 right-hand sides */
  check_lstsq(comm, 7, 3, 2, 13);     /* 4 ranks: 2, 2, 2, 1 rows */
  check_lstsq(comm, 3, 2, 1, 14);     /* 4 ranks: a rank with no rows */
  check_lstsq(comm, 300, 40, 3, 15);  /* more columns than one reflector block */
  check_lstsq(comm, 9000, 17, 9, 16); /* several row blocks per rank */
  check_rows_left_out(comm, 400, 9, 16);
  check_rank_deficient(comm);
  check_pca(comm, 1000, 20, 2, 21);
  check_pca(comm, 7, 3, 2, 22);
  check_pca(comm, 600, 50, 3, 23);
  check_pca(comm, 5000, 16, 2, 24); /* several dsyrk blocks per rank */
  return lcfm_test_finish("test_streamed_linalg");
}
