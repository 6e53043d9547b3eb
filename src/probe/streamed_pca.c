/* streamed_pca.c: principal components of rows fed block by block on every rank, from the
 * covariance of the centred rows (see streamed_linalg.h). */
#include <cblas.h>
#include <lapack.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/streamed_linalg.h"

enum { ROW_BLOCK = 1024 }; /* centred rows per dsyrk */

void lcfm_pca_stream_init(lcfm_pca_stream *s, int d) {
  LCFM_CHECK(d >= 1, "PCA of %d columns", d);
  memset(s, 0, sizeof *s);
  s->d = d;
  s->mean = lcfm_calloc((size_t)d, sizeof *s->mean);
  s->gram = lcfm_calloc((size_t)d * (size_t)d, sizeof *s->gram);
  s->block = lcfm_malloc((size_t)ROW_BLOCK * (size_t)d * sizeof *s->block);
}

void lcfm_pca_stream_free(lcfm_pca_stream *s) {
  free(s->mean), free(s->gram), free(s->block);
  memset(s, 0, sizeof *s);
}

void lcfm_pca_stream_sum(lcfm_pca_stream *s, const float *z, int64_t count) {
  for (int64_t i = 0; i < count; i++)
    for (int j = 0; j < s->d; j++) s->mean[j] += z[(size_t)i * (size_t)s->d + (size_t)j];
  s->rows += count;
}

int64_t lcfm_pca_stream_centre(lcfm_pca_stream *s, MPI_Comm comm) {
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, s->mean, s->d, MPI_DOUBLE, MPI_SUM, comm));
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &s->rows, 1, MPI_INT64_T, MPI_SUM, comm));
  for (int j = 0; j < s->d; j++) s->mean[j] /= (double)(s->rows > 0 ? s->rows : 1);
  return s->rows;
}

static void flush(lcfm_pca_stream *s) {
  if (s->pending)
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, s->d, s->pending, 1.0, s->block, ROW_BLOCK,
                1.0, s->gram, s->d);
  s->pending = 0;
}

void lcfm_pca_stream_scatter(lcfm_pca_stream *s, const float *z, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    for (int j = 0; j < s->d; j++)
      s->block[(size_t)j * ROW_BLOCK + (size_t)s->pending] =
          z[(size_t)i * (size_t)s->d + (size_t)j] - s->mean[j];
    if (++s->pending == ROW_BLOCK) flush(s);
  }
}

/* Eigen-decomposition of the upper triangle of C [d, d] in place (eigenvectors in its columns),
 * eigenvalues ascending in w. */
static void symmetric_eigen(int d, double *C, double *w) {
  int lwork = -1, liwork = -1, iquery = 0, info = 0;
  double query = 0;
  LAPACK_dsyevd("V", "U", &d, C, &d, w, &query, &lwork, &iquery, &liwork, &info);
  LCFM_CHECK_INFO(info, "dsyevd (workspace query)");
  lwork = (int)query, liwork = iquery;
  double *work = lcfm_malloc((size_t)lwork * sizeof *work);
  int *iwork = lcfm_malloc((size_t)liwork * sizeof *iwork);
  LAPACK_dsyevd("V", "U", &d, C, &d, w, work, &lwork, iwork, &liwork, &info);
  LCFM_CHECK_INFO(info, "dsyevd");
  free(work), free(iwork);
}

/* Row c of components: the eigenvector of the c-th largest eigenvalue, its largest-magnitude
 * entry made positive. */
static void leading_components(int d, int k, const double *vectors, double *components) {
  for (int c = 0; c < k; c++) {
    double *v = components + (size_t)c * (size_t)d;
    memcpy(v, vectors + (size_t)(d - 1 - c) * (size_t)d, (size_t)d * sizeof *v);
    int big = 0;
    for (int i = 1; i < d; i++)
      if (fabs(v[i]) > fabs(v[big])) big = i;
    if (v[big] < 0)
      for (int i = 0; i < d; i++) v[i] = -v[i];
  }
}

void lcfm_pca_stream_finish(lcfm_pca_stream *s, MPI_Comm comm, int k, double *eigenvalues,
                            double *components) {
  int d = s->d, rank;
  LCFM_CHECK(s->rows >= 2 && k >= 1 && k <= d, "PCA of %lld rows x %d columns onto %d components",
             (long long)s->rows, d, k);
  MPI_Comm_rank(comm, &rank);
  flush(s);
  double *C = lcfm_malloc((size_t)d * (size_t)d * sizeof *C);
  LCFM_CHECK_MPI(MPI_Reduce(s->gram, C, d * d, MPI_DOUBLE, MPI_SUM, 0, comm));
  if (rank == 0) {
    double *w = lcfm_malloc((size_t)d * sizeof *w);
    for (size_t i = 0; i < (size_t)d * (size_t)d; i++) C[i] /= (double)(s->rows - 1);
    symmetric_eigen(d, C, w);
    for (int j = 0; j < d; j++) eigenvalues[j] = w[d - 1 - j];
    leading_components(d, k, C, components);
    free(w);
  }
  LCFM_CHECK_MPI(MPI_Bcast(eigenvalues, d, MPI_DOUBLE, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(components, k * d, MPI_DOUBLE, 0, comm));
  free(C);
}
