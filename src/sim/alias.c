/* alias.c: the posterior mean of theta_0 given the folded frequency, the alias bound and the
 * instrument-band fraction (see alias.h). */
#include <math.h>

#include "lcfm/alias.h"

static const double LN_SQRT_2PI = 0.91893853320467274178, SQRT_2 = 1.41421356237309504880,
                    LN_2 = 0.69314718055994530942;

/* Normal distribution function Phi(x), accurate in both tails. */
static double normal_cdf(double x) { return 0.5 * erfc(-x / SQRT_2); }

/* ln(sqrt(2 pi) Phi(x)) or an upper bound of it: exact for x >= -1, Mills' ratio bound
 * Phi(x) <= phi(x) / |x| below (erfc underflows near x = -38). */
static double log_scaled_cdf_bound(double x) {
  return x >= -1 ? log(normal_cdf(x)) + LN_SQRT_2PI : -0.5 * x * x - log(-x);
}

/* Sum of weights e^{log_w} and of weight x theta, kept as e^{max_log} (weight, weighted_theta) so
 * that no weight under- or overflows. Weights omit the factor 1 / sqrt(2 pi). */
typedef struct {
  double max_log, weight, weighted_theta;
} weighted_sum;

static void add_weighted(weighted_sum *s, double log_w, double theta) {
  if (log_w == -INFINITY) return;
  if (log_w > s->max_log) {
    double shrink = exp(s->max_log - log_w);
    s->weight *= shrink, s->weighted_theta *= shrink, s->max_log = log_w;
  }
  double w = exp(log_w - s->max_log);
  s->weight += w, s->weighted_theta += w * theta;
}

/* ln of the preimage's weight phi(theta) / f (times sqrt(2 pi)); -inf for f <= 0 (no preimage). */
static double log_preimage_weight(double f, double c, double *theta) {
  if (!(f > 0)) return -INFINITY;
  *theta = -log(f * c);
  return -0.5 * *theta * *theta - log(f);
}

static void add_preimage(weighted_sum *s, double f, double c) {
  double theta = 0, log_w = log_preimage_weight(f, c, &theta);
  add_weighted(s, log_w, theta);
}

/* Whether the preimages beyond F (the last added) weigh less than 1e-15 of the sum (alias.h). */
static int tail_negligible(const weighted_sum *s, double F, double c) {
  double theta_F = 0, log_w = log_preimage_weight(F, c, &theta_F);
  if (theta_F >= 1) return 0; /* w may still grow with f */
  double a = log_w, b = log_scaled_cdf_bound(theta_F), hi = a > b ? a : b;
  double log_bound = LN_2 + hi + log(exp(a - hi) + exp(b - hi));
  return log_bound <= log(1e-15) + s->max_log + log(s->weight);
}

/* The preimages beyond F by their integral: two per unit of f, so weight 2 Phi(theta_F) (times
 * sqrt(2 pi)) at the mean E[theta | theta < theta_F] = -phi(theta_F) / Phi(theta_F). */
static void add_tail_integral(weighted_sum *s, double F, double c) {
  double theta_F = -log(F * c), p = normal_cdf(theta_F);
  if (p <= 0) return;
  double mean = -exp(-0.5 * theta_F * theta_F - LN_SQRT_2PI) / p;
  add_weighted(s, LN_2 + log(p) + LN_SQRT_2PI, mean);
}

/* All preimages of g for c = T lambda, truncated as alias.h says. */
static weighted_sum preimage_sum(double g, double c) {
  weighted_sum s = {-INFINITY, 0, 0};
  for (int64_t n = 0;; n++) {
    double F = (double)n + 1 - g;
    add_preimage(&s, (double)n + g, c);
    add_preimage(&s, F, c);
    if (tail_negligible(&s, F, c)) break;
    if (n + 1 == LCFM_ALIAS_MAX_PAIRS) {
      add_tail_integral(&s, F, c);
      break;
    }
  }
  return s;
}

double lcfm_folded_frequency(double theta0, double lambda, int64_t T) {
  double f = 1.0 / ((double)T * exp(theta0) * lambda);
  return fabs(f - round(f));
}

double lcfm_theta0_posterior_mean_folded(double g, double lambda, int64_t T) {
  weighted_sum s = preimage_sum(g, (double)T * lambda);
  return s.weighted_theta / s.weight;
}

double lcfm_theta0_posterior_mean(double theta0, double lambda, int64_t T) {
  return lcfm_theta0_posterior_mean_folded(lcfm_folded_frequency(theta0, lambda, T), lambda, T);
}

/* 8-point Gauss-Legendre nodes and weights on [-1, 1] (positive half). */
static const double GL_NODE[4] = {0.18343464249564980494, 0.52553240991632898582,
                                  0.79666647741362673959, 0.96028985649753623168};
static const double GL_WEIGHT[4] = {0.36268378337836198297, 0.31370664587788728734,
                                    0.22238103445337447054, 0.10122853629037625915};

double lcfm_alias_bound(double lambda, int64_t T) {
  double c = (double)T * lambda, top = log(0.5), bottom = fmin(top - 40, -log(c) - 12);
  const double panel = 0.125;
  int panels = (int)ceil((top - bottom) / panel);
  double h = (top - bottom) / panels, second = 0, first = 0;
  for (int k = 0; k < panels; k++) {
    double mid = bottom + (k + 0.5) * h;
    for (int q = 0; q < 8; q++) {
      double u = mid + (q < 4 ? -1 : 1) * GL_NODE[q % 4] * h / 2, g = exp(u);
      weighted_sum s = preimage_sum(g, c);
      /* density of g times g (dg = g du): sum_i w_i g, with the 1 / sqrt(2 pi) put back */
      double density = exp(s.max_log + log(s.weight) - LN_SQRT_2PI + u),
             mean = s.weighted_theta / s.weight;
      double w = GL_WEIGHT[q % 4] * h / 2;
      second += w * density * mean * mean;
      first += w * density * mean;
    }
  }
  return second - first * first; /* Var(theta_0) = 1 */
}

/* P(theta_0 in (lo, hi)), without cancellation in the upper tail. */
static double normal_between(double lo, double hi) {
  return lo > 0 ? normal_cdf(-lo) - normal_cdf(-hi) : normal_cdf(hi) - normal_cdf(lo);
}

double lcfm_instrument_band_fraction(double lambda, int64_t T, int64_t J) {
  double c = (double)T * lambda, band = (double)J / (2.0 * (double)T);
  if (band >= 0.5) return 1.0;
  /* f < a  <=>  theta_0 > -ln(a c) */
  double fraction = normal_cdf(log(band * c)); /* n = 0: f in (0, band) */
  for (int64_t n = 1;; n++) {
    double lo = (double)n - band, hi = (double)n + band;
    fraction += normal_between(-log(hi * c), -log(lo * c));
    double rest = normal_cdf(-log(hi * c)); /* P(f > n + band) */
    if (rest < 1e-16) break;
    if (n == 1000000) { /* far aliases fold uniformly: 2 band of what is left lands in the band */
      fraction += 2 * band * rest;
      break;
    }
  }
  return fraction;
}
