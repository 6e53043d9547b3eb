/* median.c: the median of a light curve's fluxes by sampled selection (see median.h). */
#include "lcfm/median.h"

#include <string.h>

/* Below this many points the whole curve is selected: sampling would not pay. */
enum { SAMPLED_FROM = 4096, SAMPLE_SIZE = 512, HALF_WIDTH = 34 /* ~3 standard deviations */ };

/* The k-th smallest of x[0..n) (0-based), reordering x so that x[0..k) are <= it: Hoare's
 * selection, O(n) on average. */
static double select_kth(double *x, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    double pivot = x[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (x[i] < pivot) i++;
      while (x[j] > pivot) j--;
      if (i <= j) {
        double swap = x[i];
        x[i++] = x[j], x[j--] = swap;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return x[k]; /* between j and i: equal to the pivot */
  }
  return x[k];
}

/* The value of rank k of x[0..n), or with `even` the mean of ranks k - 1 and k (k >= 1); x is
 * reordered. */
static double middle_of(double *x, int64_t n, int64_t k, int even) {
  double upper = select_kth(x, n, k);
  if (!even) return upper;
  double lower = x[0]; /* x[0..k) holds the values <= upper after the selection: their largest */
  for (int64_t i = 1; i < k; i++) lower = x[i] > lower ? x[i] : lower;
  return 0.5 * (lower + upper);
}

static double median_in_place(double *x, int64_t n) { return middle_of(x, n, n / 2, n % 2 == 0); }

/* Sample positions from a fixed 64-bit LCG (Knuth's MMIX constants): pseudo-random, so that a
 * periodic curve cannot alias with the sampling, and the same on every run. */
static void draw_sample(const double *x, int64_t n, double *sample, int64_t m) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int64_t i = 0; i < m; i++) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    sample[i] = x[(state >> 33) % (uint64_t)n];
  }
}

double lcfm_median_sampled(const double *x, int64_t n, double *scratch, int64_t sample_size,
                           int64_t half_width) {
  int64_t m = sample_size, k = n / 2, lowest_rank = n % 2 ? k : k - 1;
  if (n < SAMPLED_FROM || m < 1 || m > n) {
    memcpy(scratch, x, (size_t)n * sizeof *x);
    return median_in_place(scratch, n);
  }
  draw_sample(x, n, scratch, m);
  int64_t at = (int64_t)((double)k / (double)n * (double)m);
  int64_t low_at = at - half_width < 0 ? 0 : at - half_width,
          high_at = at + half_width >= m ? m - 1 : at + half_width;
  double high = select_kth(scratch, m, high_at), low = select_kth(scratch, high_at + 1, low_at);
  /* One pass, no branch on the data: every value is written, the count advances when it is
   * inside [low, high]. */
  int64_t below = 0, inside = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i];
    scratch[inside] = v;
    inside += (v >= low) & (v <= high);
    below += v < low;
  }
  if (below <= lowest_rank && k < below + inside)
    return middle_of(scratch, inside, k - below, n % 2 == 0);
  memcpy(scratch, x, (size_t)n * sizeof *x);
  return median_in_place(scratch, n);
}

double lcfm_median(const double *x, int64_t n, double *scratch) {
  return lcfm_median_sampled(x, n, scratch, SAMPLE_SIZE, HALF_WIDTH);
}
