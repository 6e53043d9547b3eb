/* test_nn_gemm.c: lcfm_nn_gemm, on the GEMM library of this build (LCFM_GEMM), against a
 * reference triple loop in double precision at odd shapes: M, N, K in {1, 7, 64, 100, 257}, all
 * four transposes, alpha in {1, 0.37}, beta in {0, 1, -0.5}, leading dimensions wider than the
 * matrices, 1 and 3 threads (panels); C outside the product stays untouched and beta 0 ignores
 * the NaN in C. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/nn.h"

#define PAD 3 /* extra columns in every leading dimension */

typedef struct {
  int ta, tb, m, n, k, lda, ldb, ldc;
  float *a, *b, *c0;   /* inputs; C before the product */
  double *sum, *scale; /* reference op(A) op(B) and sum |a b| per element of C (m x n) */
} gemm_case;

static float value(size_t i, unsigned seed) {
  return (float)((i * 2654435761u + seed * 40503u) % 2001) / 1000.0f - 1.0f;
}

/* Element (i, j) of op(X) for a row-major X with leading dimension ld. */
static double at(const float *x, int ld, int transposed, int i, int j) {
  return transposed ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

static void case_init(gemm_case *g, int ta, int tb, int m, int n, int k) {
  *g = (gemm_case){.ta = ta, .tb = tb, .m = m, .n = n, .k = k};
  int rows_a = ta ? k : m, rows_b = tb ? n : k;
  g->lda = (ta ? m : k) + PAD, g->ldb = (tb ? k : n) + PAD, g->ldc = n + PAD;
  g->a = lcfm_malloc(sizeof(float) * (size_t)rows_a * g->lda);
  g->b = lcfm_malloc(sizeof(float) * (size_t)rows_b * g->ldb);
  g->c0 = lcfm_malloc(sizeof(float) * (size_t)m * g->ldc);
  for (size_t i = 0; i < (size_t)rows_a * g->lda; i++) g->a[i] = value(i, 1);
  for (size_t i = 0; i < (size_t)rows_b * g->ldb; i++) g->b[i] = value(i, 2);
  for (size_t i = 0; i < (size_t)m * g->ldc; i++) g->c0[i] = value(i, 3);
  g->sum = lcfm_malloc(sizeof(double) * (size_t)m * n),
  g->scale = lcfm_malloc(sizeof(double) * (size_t)m * n);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double sum = 0, scale = 0;
      for (int p = 0; p < k; p++) {
        double x = at(g->a, g->lda, ta, i, p) * at(g->b, g->ldb, tb, p, j);
        sum += x, scale += fabs(x);
      }
      g->sum[(size_t)i * n + j] = sum, g->scale[(size_t)i * n + j] = scale;
    }
}

static void case_free(gemm_case *g) {
  free(g->a), free(g->b), free(g->c0), free(g->sum), free(g->scale);
}

/* Worst error of C = alpha op(A) op(B) + beta C relative to the rounding scale
 * |alpha| sum |a b| + |beta c|; -1 when C outside the m x n block changed. */
static double run_case(const gemm_case *g, float alpha, float beta) {
  size_t size = (size_t)g->m * g->ldc;
  float *c = lcfm_malloc(sizeof(float) * size);
  memcpy(c, g->c0, sizeof(float) * size);
  if (beta == 0.0f)
    for (size_t i = 0; i < size; i += 5) c[i] = NAN; /* must not be read */
  lcfm_nn_gemm(g->ta, g->tb, g->m, g->n, g->k, alpha, g->a, g->lda, g->b, g->ldb, beta, c, g->ldc);
  double worst = 0;
  for (int i = 0; i < g->m && worst >= 0; i++)
    for (int j = 0; j < g->ldc; j++) {
      size_t e = (size_t)i * g->ldc + j, r = (size_t)i * g->n + j;
      if (j >= g->n) { /* padding: must be left as it was */
        if (memcmp(&c[e], beta == 0.0f && e % 5 == 0 ? &(float){NAN} : &g->c0[e], sizeof(float)))
          worst = -1;
        continue;
      }
      double c_before = beta == 0.0f ? 0.0 : (double)g->c0[e];
      double expect = alpha * g->sum[r] + beta * c_before;
      double err =
          fabs((double)c[e] - expect) / (fabs(alpha) * g->scale[r] + fabs(beta * c_before) + 1e-30);
      if (!isfinite(c[e])) err = INFINITY;
      if (err > worst) worst = err;
    }
  free(c);
  return worst;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  static const int sizes[] = {1, 7, 64, 100, 257};
  static const float alphas[] = {1.0f, 0.37f}, betas[] = {0.0f, 1.0f, -0.5f};
  int cases = 0;
  for (int op = 0; op < 4; op++)
    for (int mi = 0; mi < 5; mi++)
      for (int ni = 0; ni < 5; ni++)
        for (int ki = 0; ki < 5; ki++) {
          gemm_case g;
          case_init(&g, op & 1, op >> 1, sizes[mi], sizes[ni], sizes[ki]);
          for (int threads = 1; threads <= 3; threads += 2) {
            lcfm_nn_set_threads(threads);
            for (int ai = 0; ai < 2; ai++)
              for (int bi = 0; bi < 3; bi++) {
                double err = run_case(&g, alphas[ai], betas[bi]);
                EXPECT(err >= 0 && err < 1e-5,
                       "%c%c m %d n %d k %d alpha %g beta %g, %d threads: %s %.3g",
                       g.ta ? 'T' : 'N', g.tb ? 'T' : 'N', g.m, g.n, g.k, (double)alphas[ai],
                       (double)betas[bi], threads,
                       err < 0 ? "C outside the product changed" : "relative error", err);
                cases++;
              }
          }
          case_free(&g);
        }
  printf("test_nn_gemm: %d cases\n", cases);
  return lcfm_test_finish("test_nn_gemm");
}
