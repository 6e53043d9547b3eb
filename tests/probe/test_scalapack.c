/* test_scalapack.c: ScaLAPACK on row-distributed matrices against LAPACK on one rank.
 * Run under 1, 2 and 4 ranks. Every rank builds the whole problem from the keyed generator
 * (cheap) and solves it with LAPACK as the reference; the distributed routines see only their
 * rows. Checks:
 *   - least squares (pdgels) equals dgels of the same problem within 1e-8, for one and several
 *     right-hand sides, uneven row blocks and a rank with no rows, and is close to the planted
 *     coefficients;
 *   - rows of zeros drop out: equals dgels of the remaining rows only (the probes' train split);
 *   - a rank-deficient matrix is reported (1, NaN) on every rank;
 *   - PCA (pdsyrk + pdsyevd): eigenvalues equal dsyev's of the covariance within 1e-10
 *     (relative), components and projections within 1e-8 up to sign. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/rng.h"
#include "lcfm/scalapack.h"

void dgels_(const char *trans, const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, double *work, const int *lwork, int *info, size_t trans_len);
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

enum { STREAM_A = 1, STREAM_NOISE = 2, STREAM_X = 3, STREAM_SCALE = 4 };

/* A [m, n] column-major, A_ij ~ N(0, 1) keyed by (i, j); B = A X_true + 0.01 noise, X_true_jc = j - c. */
static void make_problem(int m, int n, int nrhs, uint64_t seed, double *A, double *B) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) A[(size_t)j * m + i] = lcfm_rng_normal(seed, STREAM_A, (uint64_t)i * n + j);
  for (int c = 0; c < nrhs; c++)
    for (int i = 0; i < m; i++) {
      double s = 0.01 * lcfm_rng_normal(seed, STREAM_NOISE, (uint64_t)i * nrhs + c);
      for (int j = 0; j < n; j++) s += A[(size_t)j * m + i] * (j - c);
      B[(size_t)c * m + i] = s;
    }
}

/* The rows [first, first + count) of a column-major [m, cols] matrix, column-major. */
static double *local_rows(const double *M, int m, int cols, const lcfm_row_layout *l) {
  int lld = l->count > 1 ? (int)l->count : 1;
  double *out = lcfm_calloc((size_t)lld * (size_t)cols, sizeof *out);
  for (int j = 0; j < cols; j++)
    for (int64_t i = 0; i < l->count; i++) out[(size_t)j * lld + (size_t)i] = M[(size_t)j * m + (size_t)(l->first + i)];
  return out;
}

/* LAPACK reference: X [n, nrhs] of min ||A X - B|| (A, B copied). */
static void reference_lstsq(int m, int n, int nrhs, const double *A0, const double *B0, double *X) {
  double *A = lcfm_malloc((size_t)m * n * sizeof *A), *B = lcfm_malloc((size_t)m * nrhs * sizeof *B);
  memcpy(A, A0, (size_t)m * n * sizeof *A), memcpy(B, B0, (size_t)m * nrhs * sizeof *B);
  int lwork = -1, info = 0;
  double query;
  dgels_("N", &m, &n, &nrhs, A, &m, B, &m, &query, &lwork, &info, 1);
  lwork = (int)query;
  double *work = lcfm_malloc((size_t)lwork * sizeof *work);
  dgels_("N", &m, &n, &nrhs, A, &m, B, &m, work, &lwork, &info, 1);
  LCFM_CHECK_INFO(info, "dgels");
  for (int c = 0; c < nrhs; c++) memcpy(X + (size_t)c * n, B + (size_t)c * m, (size_t)n * sizeof *X);
  free(A), free(B), free(work);
}

static double max_abs_diff(const double *a, const double *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmax(worst, isnan(a[i]) || isnan(b[i]) ? INFINITY : fabs(a[i] - b[i]));
  return worst;
}

static void check_lstsq(const lcfm_grid *g, int m, int n, int nrhs, uint64_t seed) {
  double *A = lcfm_malloc((size_t)m * n * sizeof *A), *B = lcfm_malloc((size_t)m * nrhs * sizeof *B);
  make_problem(m, n, nrhs, seed, A, B);
  double *ref = lcfm_malloc((size_t)n * nrhs * sizeof *ref), *X = lcfm_malloc((size_t)n * nrhs * sizeof *X);
  reference_lstsq(m, n, nrhs, A, B, ref);
  lcfm_row_layout l = lcfm_row_layout_make(g->comm, m);
  double *Al = local_rows(A, m, n, &l), *Bl = local_rows(B, m, nrhs, &l);
  int status = lcfm_rows_lstsq(g, &l, n, Al, nrhs, Bl, X);
  double diff = max_abs_diff(X, ref, (size_t)n * nrhs);
  double planted = 0;
  for (int c = 0; c < nrhs; c++)
    for (int j = 0; j < n; j++) planted = fmax(planted, fabs(X[(size_t)c * n + j] - (j - c)));
  EXPECT(status == 0, "%d x %d, %d right-hand sides: reported rank deficient", m, n, nrhs);
  EXPECT(diff <= 1e-8, "%d x %d, %d right-hand sides: pdgels vs dgels differ by %.3g", m, n, nrhs, diff);
  EXPECT(planted < 0.05, "%d x %d: solution %.3g away from the planted coefficients", m, n, planted);
  if (g->rank == 0) printf("lstsq %5d x %2d, %2d rhs: max |pdgels - dgels| = %.2e\n", m, n, nrhs, diff);
  free(A), free(B), free(ref), free(X), free(Al), free(Bl);
}

/* Zeroing rows (as the probes do with test rows) equals solving without them. */
static void check_zero_rows(const lcfm_grid *g, int m, int n, uint64_t seed) {
  double *A = lcfm_malloc((size_t)m * n * sizeof *A), *B = lcfm_malloc((size_t)m * sizeof *B);
  make_problem(m, n, 1, seed, A, B);
  int kept = 0;
  double *Ak = lcfm_malloc((size_t)m * n * sizeof *Ak), *Bk = lcfm_malloc((size_t)m * sizeof *Bk);
  for (int i = 0; i < m; i++) {
    int drop = lcfm_rng_uniform(seed, STREAM_X, (uint64_t)i) < 0.3;
    for (int j = 0; j < n; j++) {
      if (!drop) Ak[(size_t)j * m + kept] = A[(size_t)j * m + i];
      if (drop) A[(size_t)j * m + i] = 0;
    }
    if (!drop) Bk[kept++] = B[i];
    else B[i] = 0;
  }
  /* compact the kept rows into a kept x n column-major matrix */
  double *Ac = lcfm_malloc((size_t)kept * n * sizeof *Ac);
  for (int j = 0; j < n; j++) memcpy(Ac + (size_t)j * kept, Ak + (size_t)j * m, (size_t)kept * sizeof *Ac);
  double ref[64], X[64];
  reference_lstsq(kept, n, 1, Ac, Bk, ref);
  lcfm_row_layout l = lcfm_row_layout_make(g->comm, m);
  double *Al = local_rows(A, m, n, &l), *Bl = local_rows(B, m, 1, &l);
  lcfm_rows_lstsq(g, &l, n, Al, 1, Bl, X);
  double diff = max_abs_diff(X, ref, (size_t)n);
  EXPECT(diff <= 1e-8, "zeroed rows: differs by %.3g from the solve without them", diff);
  free(A), free(B), free(Ak), free(Bk), free(Ac), free(Al), free(Bl);
}

static void check_rank_deficient(const lcfm_grid *g) {
  int m = 50, n = 4;
  double A[200], B[50], X[4];
  make_problem(m, n, 1, 5, A, B);
  memcpy(A + 3 * m, A + 1 * m, (size_t)m * sizeof *A); /* column 3 = column 1 */
  lcfm_row_layout l = lcfm_row_layout_make(g->comm, m);
  double *Al = local_rows(A, m, n, &l), *Bl = local_rows(B, m, 1, &l);
  int status = lcfm_rows_lstsq(g, &l, n, Al, 1, Bl, X);
  EXPECT(status == 1 && isnan(X[0]), "a repeated column was not reported (status %d, x0 %g)", status, X[0]);
  free(Al), free(Bl);
}

/* X [m, d] column-major with column j scaled by 1 + j (distinct variances), rotated by mixing. */
static void make_pca_data(int m, int d, uint64_t seed, double *X) {
  for (int j = 0; j < d; j++)
    for (int i = 0; i < m; i++)
      X[(size_t)j * m + i] = (1.0 + j) * lcfm_rng_normal(seed, STREAM_X, (uint64_t)i * d + j) + 0.1 * j;
  for (int i = 0; i < m; i++) /* mix neighbouring columns so components are not the axes */
    for (int j = 0; j + 1 < d; j++) {
      double a = X[(size_t)j * m + i], b = X[(size_t)(j + 1) * m + i];
      X[(size_t)j * m + i] = 0.8 * a + 0.6 * b, X[(size_t)(j + 1) * m + i] = -0.6 * a + 0.8 * b;
    }
}

/* Flip v so that its largest-magnitude entry is positive (the convention of lcfm_rows_pca). */
static void fix_sign(double *v, int d) {
  int big = 0;
  for (int i = 1; i < d; i++)
    if (fabs(v[i]) > fabs(v[big])) big = i;
  if (v[big] < 0)
    for (int i = 0; i < d; i++) v[i] = -v[i];
}

static void check_pca(const lcfm_grid *g, int m, int d, int k, uint64_t seed) {
  double *X = lcfm_malloc((size_t)m * d * sizeof *X);
  make_pca_data(m, d, seed, X);
  /* reference: centred covariance and dsyev on every rank */
  double *C = lcfm_calloc((size_t)d * d, sizeof *C), *mean = lcfm_calloc((size_t)d, sizeof *mean);
  for (int j = 0; j < d; j++) {
    for (int i = 0; i < m; i++) mean[j] += X[(size_t)j * m + i];
    mean[j] /= m;
  }
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) {
      double s = 0;
      for (int i = 0; i < m; i++) s += (X[(size_t)a * m + i] - mean[a]) * (X[(size_t)b * m + i] - mean[b]);
      C[(size_t)b * d + a] = s / (m - 1);
    }
  double *w = lcfm_malloc((size_t)d * sizeof *w), query;
  int lwork = -1, info = 0;
  dsyev_("V", "U", &d, C, &d, w, &query, &lwork, &info, 1, 1);
  lwork = (int)query;
  double *work = lcfm_malloc((size_t)lwork * sizeof *work);
  dsyev_("V", "U", &d, C, &d, w, work, &lwork, &info, 1, 1);
  LCFM_CHECK_INFO(info, "dsyev");
  double *ref_comp = lcfm_malloc((size_t)k * d * sizeof *ref_comp);
  for (int c = 0; c < k; c++) {
    memcpy(ref_comp + (size_t)c * d, C + (size_t)(d - 1 - c) * d, (size_t)d * sizeof *C);
    fix_sign(ref_comp + (size_t)c * d, d);
  }
  /* distributed */
  lcfm_row_layout l = lcfm_row_layout_make(g->comm, m);
  double *Xl = local_rows(X, m, d, &l);
  double *pmean = lcfm_malloc((size_t)d * sizeof *pmean), *eig = lcfm_malloc((size_t)d * sizeof *eig);
  double *comp = lcfm_malloc((size_t)k * d * sizeof *comp);
  double *proj = lcfm_malloc((size_t)(l.count ? l.count : 1) * k * sizeof *proj);
  lcfm_rows_pca(g, &l, d, Xl, k, pmean, eig, comp, proj);
  double eig_err = 0, comp_err = max_abs_diff(comp, ref_comp, (size_t)k * d), proj_err = 0;
  for (int j = 0; j < d; j++) eig_err = fmax(eig_err, fabs(eig[j] - w[d - 1 - j]) / w[d - 1]);
  for (int64_t i = 0; i < l.count; i++)
    for (int c = 0; c < k; c++) {
      double p = 0;
      for (int j = 0; j < d; j++) p += (X[(size_t)j * m + (size_t)(l.first + i)] - mean[j]) * ref_comp[(size_t)c * d + j];
      proj_err = fmax(proj_err, fabs(p - proj[i * k + c]));
    }
  EXPECT(eig_err <= 1e-10, "PCA %d x %d: eigenvalues differ from dsyev by %.3g (relative)", m, d, eig_err);
  EXPECT(comp_err <= 1e-8, "PCA %d x %d: components differ from dsyev's by %.3g", m, d, comp_err);
  EXPECT(proj_err <= 1e-8, "PCA %d x %d: projections differ by %.3g", m, d, proj_err);
  EXPECT(max_abs_diff(pmean, mean, (size_t)d) <= 1e-12, "PCA %d x %d: mean differs", m, d);
  if (g->rank == 0)
    printf("pca   %5d x %2d: eigenvalue error %.2e, component error %.2e, projection error %.2e\n", m, d, eig_err,
           comp_err, proj_err);
  free(X), free(C), free(mean), free(w), free(work), free(ref_comp), free(Xl), free(pmean), free(eig), free(comp),
      free(proj);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_grid g;
  lcfm_grid_open(&g, MPI_COMM_WORLD);
  check_lstsq(&g, 1000, 21, 1, 11);
  check_lstsq(&g, 997, 21, 18, 12);  /* uneven blocks, one solve for 18 right-hand sides */
  check_lstsq(&g, 7, 3, 2, 13);      /* 4 ranks: blocks of 2, 2, 2, 1 */
  check_lstsq(&g, 5, 3, 1, 14);      /* 4 ranks: blocks of 2, 2, 1 and an empty rank */
  check_lstsq(&g, 300, 40, 3, 15);   /* more columns than one column block */
  check_zero_rows(&g, 400, 9, 16);
  check_rank_deficient(&g);
  check_pca(&g, 1000, 20, 2, 21);
  check_pca(&g, 7, 3, 2, 22);
  check_pca(&g, 600, 50, 3, 23);
  lcfm_grid_close(&g);
  return lcfm_test_finish("test_scalapack");
}
