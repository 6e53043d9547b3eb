/* sim.h: the star x instrument simulator of the causal-foundation-model paper (section 2).
 *
 * Object n = s * P + p is light curve p of star s (P = curves_per_star), seen by instrument
 * m(n) = (r_s + p) mod M with r_s uniform on [0, M): every star is seen by min(P, M) different
 * instruments and every instrument sees about S * P / M stars. At times t = 0 .. T-1:
 *
 *   F_obs(t)  = clip[lo, hi]( S_m(t) F_true(t) + O_m(t) ) + eps_n(t),   eps ~ N(0, sigma^2)
 *   F_true(t) = Re sum_{k=1}^{K-1} theta_{s,k} e^{i phi_{n,k-1}} / k^alpha  e^{i 2 pi k t / L_s}
 *   L_s       = T exp(theta_{s,0}) lambda
 *   S_m(t)    = 1 + c Re sum_{j<J} beta_{m,j}  e^{i pi j t / T}
 *   O_m(t)    =     c Re sum_{j<J} gamma_{m,j} e^{i pi j t / T}          (c = instrument_scale)
 *
 * theta, beta, gamma ~ N(0, 1) and phi ~ U[0, 2 pi) are drawn from the keyed generator
 * (rng.h streams LCFM_STREAM_SIM_*), so each object's bytes depend only on the seed and the
 * configuration, never on the rank count.
 *
 * Fast path (lcfm_sim_plan): the instrument series lie on a DFT grid and are one batched FFTW
 * DCT-I (REDFT00 of length T+1) for all instruments. The stellar series has a non-integer
 * period, so it is a chirp-z transform (Bluestein): per star one FFT of the chirp kernel, per
 * light curve one forward and one inverse FFT of length L >= K + T - 2, batched over the star's
 * P curves with plans made once (FFTW_ESTIMATE, so every process picks the same algorithm and
 * the output is reproducible bit for bit). lcfm_sim_direct is the same model by direct
 * summation in double precision: the reference for tests and the benchmark's baseline.
 */
#ifndef LCFM_SIM_H
#define LCFM_SIM_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"
#include "lcfm/rng.h"
#include "lcfm/store.h"

typedef struct {
  int64_t stars;           /* S */
  int64_t instruments;     /* M */
  int64_t curves_per_star; /* P */
  int64_t terms;           /* J */
  int64_t K, T;
  double alpha, lambda, instrument_scale, noise_sigma, clip_min, clip_max;
  int64_t stars_per_field, block_stars;
  uint64_t seed;
  lcfm_store_options store; /* [store] mode and compression */
} lcfm_sim_config;

/* Reads [simulate] and [job] seed; checks relations between keys (J <= T, clip_min < clip_max).
 * Returns the number of problems, each reported by rank 0 naming file, line and key. */
int lcfm_sim_config_from_job(lcfm_sim_config *c, const lcfm_job *job);

int64_t lcfm_sim_object_count(const lcfm_sim_config *c);
double lcfm_sim_theta(const lcfm_sim_config *c, int64_t star, int64_t k);
double lcfm_sim_phase(const lcfm_sim_config *c, int64_t object, int64_t k); /* k < K-1 */
double lcfm_sim_beta(const lcfm_sim_config *c, int64_t instrument, int64_t j);
double lcfm_sim_gamma(const lcfm_sim_config *c, int64_t instrument, int64_t j);
int64_t lcfm_sim_instrument(const lcfm_sim_config *c, int64_t object);
double lcfm_sim_period(const lcfm_sim_config *c, int64_t star); /* L_s in steps */

typedef struct lcfm_sim_plan lcfm_sim_plan;

/* Plans the FFTs for one star's P curves and tabulates S_m and O_m for all instruments. */
lcfm_sim_plan *lcfm_sim_plan_create(const lcfm_sim_config *c);
void lcfm_sim_plan_free(lcfm_sim_plan *p);
/* F_obs of every curve of stars [first_star, first_star + star_count):
 * values[((s - first_star) * P + p) * T + t]. */
void lcfm_sim_generate(lcfm_sim_plan *p, int64_t first_star, int64_t star_count, float *values);
/* F_true of the P curves of one star by the chirp-z path (no instrument, no noise): out[p*T + t]. */
void lcfm_sim_stellar(lcfm_sim_plan *p, int64_t star, double *out);

/* The same model by direct summation in double precision. */
void lcfm_sim_direct_stellar(const lcfm_sim_config *c, int64_t object, double *out); /* F_true */
void lcfm_sim_direct(const lcfm_sim_config *c, int64_t object, double *out);         /* F_obs */

/* Collective: the whole `lcfm simulate` run: simulate this rank's stars in blocks and write the
 * store (objects, points, instruments, truth) to `path`, published atomically. */
void lcfm_simulate_store(MPI_Comm comm, const lcfm_sim_config *c, const char *path,
                         const lcfm_provenance *prov);

/* ---------------------------------------------------------------------------------------------
 * Labelled mode ([simulate] mode = labelled): a labelled benchmark for classification (Astromer 2's
 * few-shot protocol), since no labelled Alcock or ATLAS set is available. Star s has class
 * s mod classes (balanced) and P = curves_per_star light curves n = s P + p, each in magnitudes:
 *   m(t) = m0 + signal(t) + err eps,  m0 ~ U[15, 19.5], err = noise_sigma 10^(0.2 (m0 - 17)) U[0.7, 1.3]
 * signal by class (periods log-uniform unless stated; phase x = frac((t - t0) / period + phi_n)):
 *   0 sinusoidal        period 0.2-10 d, amplitude A ~ U[0.05, 0.5]:  A sin(2 pi x)
 *   1 sawtooth pulsator period 0.3-30 d, A ~ U[0.2, 1]: brightens by A over a fraction r ~ U[0.1, 0.3]
 *                       of the cycle, fades linearly over the rest (RR Lyrae / Cepheid-like)
 *   2 eclipsing binary  period 0.3-20 d, primary depth A ~ U[0.1, 0.8] at x = 0, secondary
 *                       A U[0.1, 0.9] at x = 0.5, Gaussian in phase of width U[0.03, 0.1]
 *   3 long-period var.  period U[100, 500] d, A ~ U[0.5, 2.5]: A/2 (sin 2 pi x + h sin(4 pi x + psi))
 *   4 damped random walk time scale tau 10-1000 d, std sigma ~ U[0.05, 0.35] (Ornstein-Uhlenbeck)
 * Sampling (MACHO-like): n ~ U{min_points..max_points} observations uniform over `seasons`
 * observing seasons of 240 days separated by 125-day gaps, from MJD 48800, sorted. Every draw is
 * keyed (seed, stream, star or object or object 2^24 + point), so a store does not depend on the
 * rank count. Store: source = star, instrument 0 ("sim-labelled"), label = class, field =
 * star / stars_per_field; /truth/labelled float64 [S, 6] = class, period (tau), amplitude (sigma),
 * m0, shape 1, shape 2, with the constants as /truth attributes.
 */
enum {
  LCFM_STREAM_LAB_STAR = LCFM_STREAM_USER + 540,   /* star parameters: index star * 8 + k */
  LCFM_STREAM_LAB_POINTS = LCFM_STREAM_USER + 541, /* observations of object n: index n */
  LCFM_STREAM_LAB_PHASE = LCFM_STREAM_USER + 542,  /* phase of object n */
  LCFM_STREAM_LAB_TIME = LCFM_STREAM_USER + 543,   /* observing times: n 2^24 + point */
  LCFM_STREAM_LAB_ERROR = LCFM_STREAM_USER + 544,  /* error scatter: n 2^24 + point */
  LCFM_STREAM_LAB_NOISE = LCFM_STREAM_USER + 545,  /* photometric noise: n 2^24 + point */
  LCFM_STREAM_LAB_WALK = LCFM_STREAM_USER + 546,   /* random-walk steps: n 2^24 + point */
};

enum {
  LCFM_CLASS_SINUSOIDAL = 0,
  LCFM_CLASS_SAWTOOTH = 1,
  LCFM_CLASS_ECLIPSING = 2,
  LCFM_CLASS_LONG_PERIOD = 3,
  LCFM_CLASS_RANDOM_WALK = 4,
  LCFM_LABELLED_PARAMS = 6, /* columns of /truth/labelled */
};

typedef struct {
  lcfm_sim_config
      base; /* stars, curves_per_star, noise_sigma, stars_per_field, block_stars, seed */
  int64_t classes, min_points, max_points, seasons;
} lcfm_labelled_config;

/* 1 when [simulate] mode = labelled. */
int lcfm_sim_mode_labelled(const lcfm_job *job);
/* Reads [simulate] (and checks mode); returns the number of problems, reported naming the key. */
int lcfm_labelled_config_from_job(lcfm_labelled_config *c, const lcfm_job *job);
int64_t lcfm_labelled_points(const lcfm_labelled_config *c, int64_t object);
/* The 6 truth parameters of a star (the columns of /truth/labelled). */
void lcfm_labelled_star(const lcfm_labelled_config *c, int64_t star,
                        double params[LCFM_LABELLED_PARAMS]);
/* Object n's light curve: lcfm_labelled_points(c, n) times (days), magnitudes and errors. */
void lcfm_labelled_curve(const lcfm_labelled_config *c, int64_t object, double *time, float *value,
                         float *error);
/* Collective: the labelled store at `path`, written like lcfm_simulate_store. */
void lcfm_simulate_labelled_store(MPI_Comm comm, const lcfm_labelled_config *c, const char *path,
                                  const lcfm_provenance *prov);

#endif
