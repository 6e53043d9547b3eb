/* sim.c: the simulator's model: keyed draws, FFTW plans (DCT-I and chirp-z), direct sums. */
#include "lcfm/sim.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/rng.h"

int lcfm_sim_config_from_job(lcfm_sim_config *c, const lcfm_job *job) {
  memset(c, 0, sizeof *c);
  const lcfm_settings_simulate *simulate_keys = &lcfm_job_settings(job)->simulate;
  c->stars = simulate_keys->stars;
  c->instruments = simulate_keys->instruments;
  c->curves_per_star = simulate_keys->curves_per_star;
  c->terms = simulate_keys->instrument_terms;
  c->K = simulate_keys->K;
  c->T = simulate_keys->T;
  c->alpha = simulate_keys->alpha;
  c->lambda = simulate_keys->lambda;
  c->instrument_scale = simulate_keys->instrument_scale;
  c->noise_sigma = simulate_keys->noise_sigma;
  c->clip_min = simulate_keys->clip_min;
  c->clip_max = simulate_keys->clip_max;
  c->stars_per_field = simulate_keys->stars_per_field;
  c->block_stars = simulate_keys->block_stars;
  c->seed = lcfm_job_seed(job);
  int problems = lcfm_store_options_from_job(&c->store, job);
  if (c->terms > c->T) {
    lcfm_job_error(job, "simulate", "instrument_terms",
                   "J = %lld exceeds T = %lld: the series "
                   "e^{i pi j t / T} repeats beyond j = T",
                   (long long)c->terms, (long long)c->T);
    problems++;
  }
  if (!(c->clip_min < c->clip_max)) {
    lcfm_job_error(job, "simulate", "clip_max", "clip_max (%g) must exceed clip_min (%g)",
                   c->clip_max, c->clip_min);
    problems++;
  }
  if ((c->stars - 1) / c->stars_per_field > INT32_MAX) {
    lcfm_job_error(job, "simulate", "stars_per_field",
                   "%lld stars make more than 2^31 fields; raise stars_per_field",
                   (long long)c->stars);
    problems++;
  }
  if ((double)c->stars * (double)c->curves_per_star * (double)c->T > 9e18) {
    lcfm_job_error(job, "simulate", "stars",
                   "stars x curves_per_star x T overflows 64-bit point counts");
    problems++;
  }
  return problems;
}

int64_t lcfm_sim_object_count(const lcfm_sim_config *c) { return c->stars * c->curves_per_star; }

double lcfm_sim_theta(const lcfm_sim_config *c, int64_t star, int64_t k) {
  return lcfm_rng_normal(c->seed, LCFM_STREAM_SIM_THETA, (uint64_t)(star * c->K + k));
}

double lcfm_sim_phase(const lcfm_sim_config *c, int64_t object, int64_t k) {
  return 2.0 * M_PI *
         lcfm_rng_uniform(c->seed, LCFM_STREAM_SIM_PHASE, (uint64_t)(object * (c->K - 1) + k));
}

double lcfm_sim_beta(const lcfm_sim_config *c, int64_t instrument, int64_t j) {
  return lcfm_rng_normal(c->seed, LCFM_STREAM_SIM_BETA, (uint64_t)(instrument * c->terms + j));
}

double lcfm_sim_gamma(const lcfm_sim_config *c, int64_t instrument, int64_t j) {
  return lcfm_rng_normal(c->seed, LCFM_STREAM_SIM_GAMMA, (uint64_t)(instrument * c->terms + j));
}

int64_t lcfm_sim_instrument(const lcfm_sim_config *c, int64_t object) {
  int64_t star = object / c->curves_per_star, p = object % c->curves_per_star;
  int64_t first = (int64_t)lcfm_rng_below(c->seed, LCFM_STREAM_SIM_INSTRUMENT, (uint64_t)star,
                                          (uint64_t)c->instruments);
  return (first + p) % c->instruments;
}

double lcfm_sim_period(const lcfm_sim_config *c, int64_t star) {
  return (double)c->T * exp(lcfm_sim_theta(c, star, 0)) * c->lambda;
}

/* ---- direct summation ---- */

/* The draws are made once per curve (as any direct implementation would), then the sums of
 * equations 1-4 are evaluated term by term in double precision. */
void lcfm_sim_direct_stellar(const lcfm_sim_config *c, int64_t object, double *out) {
  int64_t star = object / c->curves_per_star;
  double omega = 2.0 * M_PI / lcfm_sim_period(c, star);
  for (int64_t t = 0; t < c->T; t++) out[t] = 0.0;
  for (int64_t k = 1; k < c->K; k++) {
    double amplitude = lcfm_sim_theta(c, star, k) / pow((double)k, c->alpha);
    double phase = lcfm_sim_phase(c, object, k - 1);
    for (int64_t t = 0; t < c->T; t++)
      out[t] += amplitude * cos(phase + omega * (double)k * (double)t);
  }
}

static double clip(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

void lcfm_sim_direct(const lcfm_sim_config *c, int64_t object, double *out) {
  int64_t m = lcfm_sim_instrument(c, object), J = c->terms;
  double *beta = lcfm_malloc((size_t)(2 * J) * sizeof *beta), *gamma = beta + J;
  for (int64_t j = 0; j < J; j++) {
    beta[j] = lcfm_sim_beta(c, m, j);
    gamma[j] = lcfm_sim_gamma(c, m, j);
  }
  lcfm_sim_direct_stellar(c, object, out);
  for (int64_t t = 0; t < c->T; t++) {
    double gain = 1.0, offset = 0.0;
    for (int64_t j = 0; j < J; j++) {
      double wave = cos(M_PI * (double)j * (double)t / (double)c->T);
      gain += c->instrument_scale * beta[j] * wave;
      offset += c->instrument_scale * gamma[j] * wave;
    }
    double noise = c->noise_sigma * (double)lcfm_rng_normalf(c->seed, LCFM_STREAM_SIM_NOISE,
                                                             (uint64_t)(object * c->T + t));
    out[t] = clip(gain * out[t] + offset, c->clip_min, c->clip_max) + noise;
  }
  free(beta);
}

/* ---- the FFTW plan ---- */

struct lcfm_sim_plan {
  lcfm_sim_config c;
  int length;              /* chirp-z FFT length L */
  double *gain, *offset;   /* S_m(t), O_m(t): [M][T] */
  fftw_complex *kernel;    /* [L]: FFT of the chirp kernel of the current star */
  fftw_complex *curves;    /* [P][L]: per-curve chirp-z work */
  fftw_complex *post;      /* [T]: e^{i omega (t + t^2/2)} */
  double *amplitude;       /* [K-1]: theta_k / k^alpha of the current star */
  fftw_complex *pre_chirp; /* [K-1]: e^{i omega k^2 / 2}, k = 0..K-2 */
  float *noise;            /* [T]: eps / sigma, single precision (rng.h) */
  fftw_plan kernel_plan, forward_plan, inverse_plan;
};

/* Smallest n >= minimum whose only prime factors are 2, 3, 5, 7 (fast for FFTW). */
static int fft_friendly_length(int64_t minimum) {
  for (int64_t n = minimum > 1 ? minimum : 1;; n++) {
    int64_t r = n;
    for (int f = 2; f <= 7; f++)
      while (r % f == 0) r /= f;
    if (r == 1) return (int)n;
  }
}

/* S_m and O_m for all instruments with one batched DCT-I (REDFT00, n = T + 1):
 * Y_t = X_0 + (-1)^t X_T + 2 sum_{j=1}^{T-1} X_j cos(pi j t / T); X_0 = beta_0, X_j = beta_j / 2. */
static void tabulate_instruments(lcfm_sim_plan *p) {
  const lcfm_sim_config *c = &p->c;
  int64_t n = c->T + 1, M = c->instruments;
  double *series = fftw_alloc_real((size_t)(2 * M * n));
  int size = (int)n;
  fftw_r2r_kind kind = FFTW_REDFT00;
  fftw_plan plan = fftw_plan_many_r2r(1, &size, (int)(2 * M), series, NULL, 1, size, series, NULL,
                                      1, size, &kind, FFTW_ESTIMATE);
  LCFM_CHECK_FFTW(plan, "the instrument DCT-I");
  for (int64_t m = 0; m < M; m++) {
    double *gain = series + (2 * m) * n, *offset = series + (2 * m + 1) * n;
    memset(gain, 0, (size_t)n * sizeof *gain);
    memset(offset, 0, (size_t)n * sizeof *offset);
    for (int64_t j = 0; j < c->terms; j++) {
      double half = j == 0 ? 1.0 : 0.5;
      gain[j] = half * lcfm_sim_beta(c, m, j);
      offset[j] = half * lcfm_sim_gamma(c, m, j);
    }
  }
  fftw_execute(plan);
  for (int64_t m = 0; m < M; m++)
    for (int64_t t = 0; t < c->T; t++) {
      p->gain[m * c->T + t] = 1.0 + c->instrument_scale * series[(2 * m) * n + t];
      p->offset[m * c->T + t] = c->instrument_scale * series[(2 * m + 1) * n + t];
    }
  fftw_destroy_plan(plan);
  fftw_free(series);
}

lcfm_sim_plan *lcfm_sim_plan_create(const lcfm_sim_config *c) {
  lcfm_sim_plan *p = lcfm_calloc(1, sizeof *p);
  p->c = *c;
  int64_t harmonics = c->K - 1, P = c->curves_per_star;
  p->length = fft_friendly_length(harmonics + c->T - 1);
  size_t L = (size_t)p->length;
  p->gain = lcfm_malloc((size_t)(c->instruments * c->T) * sizeof *p->gain);
  p->offset = lcfm_malloc((size_t)(c->instruments * c->T) * sizeof *p->offset);
  p->kernel = fftw_alloc_complex(L);
  p->curves = fftw_alloc_complex(L * (size_t)P);
  p->post = fftw_alloc_complex((size_t)c->T);
  p->pre_chirp = fftw_alloc_complex((size_t)harmonics);
  p->amplitude = lcfm_malloc((size_t)harmonics * sizeof *p->amplitude);
  p->noise = lcfm_malloc((size_t)c->T * sizeof *p->noise);
  LCFM_CHECK(p->kernel && p->curves && p->post && p->pre_chirp,
             "out of memory for the simulator's FFT buffers");
  int n = p->length;
  p->kernel_plan = fftw_plan_dft_1d(n, p->kernel, p->kernel, FFTW_FORWARD, FFTW_ESTIMATE);
  LCFM_CHECK_FFTW(p->kernel_plan, "the chirp kernel FFT");
  p->forward_plan = fftw_plan_many_dft(1, &n, (int)P, p->curves, NULL, 1, n, p->curves, NULL, 1, n,
                                       FFTW_FORWARD, FFTW_ESTIMATE);
  LCFM_CHECK_FFTW(p->forward_plan, "the batched chirp-z forward FFT");
  p->inverse_plan = fftw_plan_many_dft(1, &n, (int)P, p->curves, NULL, 1, n, p->curves, NULL, 1, n,
                                       FFTW_BACKWARD, FFTW_ESTIMATE);
  LCFM_CHECK_FFTW(p->inverse_plan, "the batched chirp-z inverse FFT");
  tabulate_instruments(p);
  return p;
}

void lcfm_sim_plan_free(lcfm_sim_plan *p) {
  if (!p) return;
  fftw_destroy_plan(p->kernel_plan);
  fftw_destroy_plan(p->forward_plan);
  fftw_destroy_plan(p->inverse_plan);
  fftw_free(p->kernel), fftw_free(p->curves), fftw_free(p->post), fftw_free(p->pre_chirp);
  free(p->gain), free(p->offset), free(p->amplitude), free(p->noise);
  free(p);
}

static fftw_complex unit_phasor(double angle) { return cos(angle) + I * sin(angle); }

/* Per-star tables: the FFT of the chirp kernel b_n = e^{-i omega n^2 / 2} (n = -(K-2)..T-1,
 * wrapped), the pre-chirp e^{i omega k^2 / 2}, the post factor and the amplitudes. */
static void prepare_star(lcfm_sim_plan *p, int64_t star) {
  const lcfm_sim_config *c = &p->c;
  int64_t harmonics = c->K - 1, L = p->length;
  double omega = 2.0 * M_PI / lcfm_sim_period(c, star);
  memset(p->kernel, 0, (size_t)L * sizeof *p->kernel);
  for (int64_t n = 0; n < c->T; n++) p->kernel[n] = unit_phasor(-0.5 * omega * (double)(n * n));
  for (int64_t n = 1; n < harmonics; n++)
    p->kernel[L - n] = unit_phasor(-0.5 * omega * (double)(n * n));
  fftw_execute(p->kernel_plan);
  double scale = 1.0 / (double)L; /* FFTW's inverse is unnormalised */
  for (int64_t i = 0; i < L; i++) p->kernel[i] *= scale;
  for (int64_t k = 0; k < harmonics; k++) {
    p->pre_chirp[k] = unit_phasor(0.5 * omega * (double)(k * k));
    p->amplitude[k] = lcfm_sim_theta(c, star, k + 1) / pow((double)(k + 1), c->alpha);
  }
  for (int64_t t = 0; t < c->T; t++)
    p->post[t] = unit_phasor(omega * ((double)t + 0.5 * (double)(t * t)));
}

/* The chirp-z transform of every curve of the prepared star: afterwards curves[p*L + t]
 * holds e^{-i omega t^2/2} sum_k c_k e^{i omega k t}. */
static void chirp_z_curves(lcfm_sim_plan *p, int64_t star) {
  const lcfm_sim_config *c = &p->c;
  int64_t harmonics = c->K - 1, L = p->length, P = c->curves_per_star;
  memset(p->curves, 0, (size_t)(L * P) * sizeof *p->curves);
  for (int64_t q = 0; q < P; q++) {
    int64_t object = star * P + q;
    fftw_complex *a = p->curves + q * L;
    for (int64_t k = 0; k < harmonics; k++)
      a[k] = p->amplitude[k] * unit_phasor(lcfm_sim_phase(c, object, k)) * p->pre_chirp[k];
  }
  fftw_execute(p->forward_plan);
  for (int64_t q = 0; q < P; q++) {
    fftw_complex *a = p->curves + q * L;
    for (int64_t i = 0; i < L; i++) a[i] *= p->kernel[i];
  }
  fftw_execute(p->inverse_plan);
}

void lcfm_sim_stellar(lcfm_sim_plan *p, int64_t star, double *out) {
  const lcfm_sim_config *c = &p->c;
  prepare_star(p, star);
  chirp_z_curves(p, star);
  for (int64_t q = 0; q < c->curves_per_star; q++)
    for (int64_t t = 0; t < c->T; t++)
      out[q * c->T + t] = creal(p->post[t] * p->curves[q * p->length + t]);
}

void lcfm_sim_generate(lcfm_sim_plan *p, int64_t first_star, int64_t star_count, float *values) {
  const lcfm_sim_config *c = &p->c;
  int64_t P = c->curves_per_star, T = c->T;
  for (int64_t s = 0; s < star_count; s++) {
    int64_t star = first_star + s;
    prepare_star(p, star);
    chirp_z_curves(p, star);
    for (int64_t q = 0; q < P; q++) {
      int64_t object = star * P + q;
      int64_t m = lcfm_sim_instrument(c, object);
      const double *gain = p->gain + m * T, *offset = p->offset + m * T;
      const fftw_complex *x = p->curves + q * p->length;
      float *out = values + (s * P + q) * T;
      lcfm_rng_normalf_fill(p->noise, (size_t)T, c->seed, LCFM_STREAM_SIM_NOISE,
                            (uint64_t)(object * T));
      for (int64_t t = 0; t < T; t++) {
        double truth = creal(p->post[t] * x[t]);
        out[t] = (float)(clip(gain[t] * truth + offset[t], c->clip_min, c->clip_max) +
                         c->noise_sigma * (double)p->noise[t]);
      }
    }
  }
}
