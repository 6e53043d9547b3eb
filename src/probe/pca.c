/* pca.c: principal components of a row-distributed matrix with ScaLAPACK (see scalapack.h):
 * the d x d covariance by pdsyrk from the rows where they are, its eigenvectors by pdsyevd, and
 * each rank's projection of its own rows. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "scalapack_internal.h"

/* Square block of the covariance: small, so that even a 20 x 20 covariance is spread over
 * process rows (pdsyevd needs square blocks). */
enum { COVARIANCE_BLOCK = 8 };

/* Never wider than the matrix: pdsyevd's workspace query assumes nb <= d. */
static int covariance_block(int d) { return d < COVARIANCE_BLOCK ? d : COVARIANCE_BLOCK; }

/* Column means over all ranks; X (column-major, leading dimension lld) is centred in place. */
static void centre_columns(const lcfm_grid *g, const lcfm_row_layout *l, int d, double *X, int lld, double *mean) {
  for (int j = 0; j < d; j++) {
    double s = 0;
    for (int64_t i = 0; i < l->count; i++) s += X[(size_t)j * lld + (size_t)i];
    mean[j] = s;
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, mean, d, MPI_DOUBLE, MPI_SUM, g->comm));
  for (int j = 0; j < d; j++) {
    mean[j] /= (double)l->rows;
    for (int64_t i = 0; i < l->count; i++) X[(size_t)j * lld + (size_t)i] -= mean[j];
  }
}

/* Eigenvalues w (ascending; see the caller for which ranks) and eigenvectors Z (distributed like C) of the upper
 * triangle of C. */
static void symmetric_eigen(int d, int nb, double *C, const int *desc, double *w, double *Z) {
  int one = 1, info = 0, lwork = -1, liwork = -1, iquery = 0;
  double query = 0;
  pdsyevd_("V", "U", &d, C, &one, &one, desc, w, Z, &one, &one, desc, &query, &lwork, &iquery, &liwork, &info, 1, 1);
  LCFM_CHECK_INFO(info, "pdsyevd (workspace query)");
  /* The query does not cover the back-transformation (PDORMTR) on every grid shape: add that
   * routine's own requirement, max(nb (nb - 1) / 2, (d + d) nb) + nb^2 at most. */
  lwork = (int)query + 2 * d * nb + nb * nb + nb * (nb - 1) / 2;
  liwork = iquery > 1 ? iquery : 1;
  double *work = lcfm_malloc((size_t)lwork * sizeof *work);
  int *iwork = lcfm_malloc((size_t)liwork * sizeof *iwork);
  pdsyevd_("V", "U", &d, C, &one, &one, desc, w, Z, &one, &one, desc, work, &lwork, iwork, &liwork, &info, 1, 1);
  LCFM_CHECK_INFO(info, "pdsyevd");
  free(work), free(iwork);
}

/* components [k, d]: the eigenvectors of the k largest eigenvalues, gathered from Z by a sum in
 * which each entry comes from the one rank that holds it; signs fixed so that the
 * largest-magnitude entry is positive. */
static void leading_components(const lcfm_grid *g, int d, int k, const double *Z, int lld, double *components) {
  int nb = covariance_block(d);
  memset(components, 0, (size_t)k * (size_t)d * sizeof *components);
  for (int c = 0; c < k; c++) {
    int column = d - 1 - c; /* pdsyevd sorts ascending */
    for (int i = 0; i < d; i++)
      if ((i / nb) % g->ranks == g->rank) {
        int local = (i / nb / g->ranks) * nb + i % nb;
        components[(size_t)c * d + (size_t)i] = Z[(size_t)column * lld + (size_t)local];
      }
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, components, k * d, MPI_DOUBLE, MPI_SUM, g->comm));
  for (int c = 0; c < k; c++) {
    double *v = components + (size_t)c * d;
    int big = 0;
    for (int i = 1; i < d; i++)
      if (fabs(v[i]) > fabs(v[big])) big = i;
    if (v[big] < 0)
      for (int i = 0; i < d; i++) v[i] = -v[i];
  }
}

void lcfm_rows_pca(const lcfm_grid *g, const lcfm_row_layout *l, int d, double *X, int k, double *mean,
                   double *eigenvalues, double *components, double *projection) {
  LCFM_CHECK(l->rows >= 2 && d >= 1 && k >= 1 && k <= d, "PCA of %lld rows x %d columns onto %d components",
             (long long)l->rows, d, k);
  int m = (int)l->rows, mb = (int)l->block, nb = covariance_block(d), one = 1;
  int lld = l->count > 1 ? (int)l->count : 1;
  centre_columns(g, l, d, X, lld, mean);
  int desc_x[LCFM_DESC_LEN], desc_c[LCFM_DESC_LEN];
  lcfm_grid_descriptor(g, desc_x, m, d, mb, nb);
  int c_rows = lcfm_grid_descriptor(g, desc_c, d, d, nb, nb);
  int c_lld = c_rows > 1 ? c_rows : 1;
  double *C = lcfm_calloc((size_t)c_lld * (size_t)d, sizeof *C), *Z = lcfm_calloc((size_t)c_lld * (size_t)d, sizeof *Z);
  double alpha = 1.0 / (double)(m - 1), beta = 0;
  pdsyrk_("U", "T", &d, &m, &alpha, X, &one, &one, desc_x, &beta, C, &one, &one, desc_c);
  double *w = lcfm_malloc((size_t)d * sizeof *w);
  symmetric_eigen(d, nb, C, desc_c, w, Z);
  /* pdsyevd leaves w unset on ranks that hold no block of C (d <= nb on 2+ ranks): process
   * row 0 always holds the first block, so its values are the ones. */
  LCFM_CHECK_MPI(MPI_Bcast(w, d, MPI_DOUBLE, 0, g->comm));
  for (int j = 0; j < d; j++) eigenvalues[j] = w[d - 1 - j];
  leading_components(g, d, k, Z, c_lld, components);
  /* projection [count, k] (row-major) = X_local [count, d] * components^T */
  if (l->count > 0)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, (int)l->count, k, d, 1.0, X, lld, components, d, 0.0,
                projection, k);
  free(C), free(Z), free(w);
}
