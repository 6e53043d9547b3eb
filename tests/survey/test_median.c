/* test_median.c: the ingest's median (median.h) against sorting, on curves that stress sampled
 * selection: even and odd counts around the sampling threshold, sorted, constant, two-valued,
 * periodic and outlier-ridden curves; the fallback forced by an empty bracket; x left unchanged. */
#include <math.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/median.h"
#include "lcfm/rng.h"

static int compare_doubles(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* numpy.median by sorting a copy. */
static double sorted_median(const double *x, int64_t n) {
  double *copy = lcfm_malloc((size_t)n * sizeof *copy);
  memcpy(copy, x, (size_t)n * sizeof *copy);
  qsort(copy, (size_t)n, sizeof *copy, compare_doubles);
  double m = n % 2 ? copy[n / 2] : 0.5 * (copy[n / 2 - 1] + copy[n / 2]);
  free(copy);
  return m;
}

/* Every way of computing the median of x[0..n) equals the sorted one exactly, and leaves x. */
static void check_curve(const char *what, const double *x, int64_t n) {
  double *scratch = lcfm_malloc((size_t)n * sizeof *scratch);
  double *before = lcfm_malloc((size_t)n * sizeof *before);
  memcpy(before, x, (size_t)n * sizeof *before);
  double expected = sorted_median(x, n);
  struct {
    int64_t sample, half_width;
  } ways[] = {{512, 34}, {64, 4}, {512, 0}, {1, 0}, {n, 1}};
  double got = lcfm_median(x, n, scratch);
  EXPECT(got == expected, "%s (n %lld): median %.17g, sorting gives %.17g", what, (long long)n, got,
         expected);
  for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
    got = lcfm_median_sampled(x, n, scratch, ways[w].sample, ways[w].half_width);
    EXPECT(got == expected, "%s (n %lld, sample %lld, half-width %lld): %.17g, sorting %.17g", what,
           (long long)n, (long long)ways[w].sample, (long long)ways[w].half_width, got, expected);
  }
  EXPECT(!memcmp(before, x, (size_t)n * sizeof *x), "%s: the curve was changed", what);
  free(before);
  free(scratch);
}

int main(int argc, char **argv) {
  lcfm_test_start(&argc, &argv);
  enum { N = 18001 };
  double *x = lcfm_malloc(N * sizeof *x);
  const int64_t counts[] = {1, 2, 3, 100, 4095, 4096, 4097, 18000, 18001};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    int64_t n = counts[c];
    for (int64_t i = 0; i < n; i++) x[i] = 1000.0 + 10.0 * lcfm_rng_normal(7, 1, (uint64_t)i);
    check_curve("normal", x, n);
    for (int64_t i = 0; i < n; i++) x[i] = (double)i;
    check_curve("ascending", x, n);
    for (int64_t i = 0; i < n; i++) x[i] = (double)(n - i);
    check_curve("descending", x, n);
    for (int64_t i = 0; i < n; i++) x[i] = 5.0;
    check_curve("constant", x, n);
    for (int64_t i = 0; i < n; i++) x[i] = i % 3 ? 1.0 : 2.0;
    check_curve("two values", x, n);
    for (int64_t i = 0; i < n; i++)
      x[i] = sin(2 * M_PI * (double)i / 35.0) + 1e-3 * (double)(i % 7);
    check_curve("periodic", x, n);
    for (int64_t i = 0; i < n; i++)
      x[i] = 1.0 + 1e-4 * lcfm_rng_normal(7, 2, (uint64_t)i) + (i % 50 == 0 ? 1e30 : 0.0);
    check_curve("outliers", x, n);
  }
  free(x);
  return lcfm_test_finish("test_median");
}
