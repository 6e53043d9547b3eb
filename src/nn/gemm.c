/* gemm.c: the engine's threads, its one matrix product lcfm_nn_gemm and its transposition
 * lcfm_nn_transpose, on the GEMM library chosen at configure time (LCFM_GEMM in CMakeLists.txt;
 * issue 16):
 *   xsmm      libxsmm's JIT kernels, generated for the CPU it runs on, for the products they cover
 *             (alpha 1, beta 0 or 1, B not transposed); OpenBLAS for the others;
 *   openblas  OpenBLAS (cblas_sgemm);  blis  BLIS (bli_sgemm);  dnnl  oneDNN (dnnl_sgemm).
 * Each product runs on one thread; lcfm_nn_gemm splits a large one into panels over the engine's
 * OpenMP threads. tools/bench_gemm.sh measures the libraries at the engine's shapes. */
#include <cblas.h>
#include <omp.h>

#include "lcfm/error.h"
#include "lcfm/nn.h"

#if defined(LCFM_GEMM_XSMM)
#include <libxsmm.h>
#elif defined(LCFM_GEMM_BLIS)
#include <blis.h>
#elif defined(LCFM_GEMM_DNNL)
#include <oneapi/dnnl/dnnl.h>
#endif

/* OpenBLAS extension (declared in cblas.h of OpenBLAS; repeated here for other cblas headers). */
void openblas_set_num_threads(int num_threads);

static int nn_threads = 0;

void lcfm_nn_set_threads(int n) {
  if (n <= 0) n = omp_get_max_threads();
  nn_threads = n;
  omp_set_num_threads(n);
  /* One thread pool only: the GEMM libraries run single-threaded and lcfm_nn_gemm splits large
   * products over the OpenMP threads itself. Two pools (OpenMP workers spinning while OpenBLAS's
   * own threads run, and the reverse) oversubscribe the cores and cost a third of the step time. */
  openblas_set_num_threads(1);
#if defined(LCFM_GEMM_BLIS)
  bli_thread_set_num_threads(1); /* BLIS would otherwise read BLIS_NUM_THREADS or OMP_NUM_THREADS */
#endif
}

int lcfm_nn_threads(void) { return nn_threads > 0 ? nn_threads : omp_get_max_threads(); }

#if defined(LCFM_GEMM_XSMM) || defined(LCFM_GEMM_OPENBLAS)
static void openblas_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif

#if defined(LCFM_GEMM_XSMM)
/* libxsmm is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, the
 * same buffers with the operands swapped. Returns 0 where libxsmm 1.17 has no JIT kernel: alpha
 * other than 1, beta other than 0 or 1, or a transposed B (its transposed A; no kernel is asked for,
 * since a failed request is not remembered and would be retried on every call). */
static int xsmm_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
  if (tb || alpha != 1.0f || (beta != 0.0f && beta != 1.0f)) return 0;
  int flags = ta ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
  libxsmm_blasint mx = n, nx = m, kx = k, ldax = ldb, ldbx = lda, ldcx = ldc;
  libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(mx, nx, kx, &ldax, &ldbx, &ldcx, &alpha, &beta, &flags, NULL);
  if (!kernel) return 0;
  kernel(b, a, c);
  return 1;
}
#endif

/* One product on the calling thread. */
static void gemm1(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc) {
#if defined(LCFM_GEMM_XSMM)
  if (xsmm_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  openblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#elif defined(LCFM_GEMM_BLIS)
  /* Row-major: row stride = leading dimension, column stride 1. */
  bli_sgemm(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m, n,
            k, &alpha, (float *)a, lda, 1, (float *)b, ldb, 1, &beta, c, ldc, 1);
#elif defined(LCFM_GEMM_DNNL)
  /* oneDNN's OpenMP build uses omp_get_max_threads() threads outside a parallel region: one here. */
  int outside = !omp_in_parallel(), nt = omp_get_max_threads();
  if (outside) omp_set_num_threads(1);
  dnnl_status_t status =
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (outside) omp_set_num_threads(nt);
  LCFM_CHECK(status == dnnl_success, "nn: dnnl_sgemm failed (status %d) for %c%c %d x %d x %d",
             (int)status, ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
#elif defined(LCFM_GEMM_OPENBLAS)
  openblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
#error \
    "LCFM_GEMM_XSMM, LCFM_GEMM_OPENBLAS, LCFM_GEMM_BLIS or LCFM_GEMM_DNNL must be defined (CMakeLists.txt)"
#endif
}

void lcfm_nn_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    /* Empty sum: C = beta C (BLAS may not touch C at all for k == 0). */
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
    return;
  }
  int nt = lcfm_nn_threads();
  double work = (double)m * n * k;
  if (nt <= 1 || omp_in_parallel() || work < 2.0e5) {
    gemm1(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  /* Split the larger output dimension into nt contiguous panels (multiples of 16). */
  int split_m = m >= n;
  int dim = split_m ? m : n;
  int chunk = (dim + nt - 1) / nt;
  chunk = (chunk + 15) / 16 * 16;
  int parts = (dim + chunk - 1) / chunk;
#pragma omp parallel for schedule(static, 1) num_threads(nt)
  for (int pi = 0; pi < parts; pi++) {
    int lo = pi * chunk, len = dim - lo < chunk ? dim - lo : chunk;
    if (split_m) {
      const float *ap = ta ? a + lo : a + (size_t)lo * lda;
      gemm1(ta, tb, len, n, k, alpha, ap, lda, b, ldb, beta, c + (size_t)lo * ldc, ldc);
    } else {
      const float *bp = tb ? b + (size_t)lo * ldb : b + lo;
      gemm1(ta, tb, m, len, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc);
    }
  }
}

void lcfm_nn_transpose(float *out, int ldo, const float *in, int ldi, int rows, int cols) {
#if defined(LCFM_GEMM_XSMM)
  /* Column-major view: in is cols x rows (leading dimension ldi), out rows x cols (ldo). */
  libxsmm_otrans(out, in, sizeof(float), cols, rows, ldi, ldo);
#else
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) out[(size_t)c * ldo + r] = in[(size_t)r * ldi + c];
#endif
}
