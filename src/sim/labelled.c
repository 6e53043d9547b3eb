/* labelled.c: `lcfm simulate` with [simulate] mode = labelled: variable-star classes in magnitudes
 * with errors, observed irregularly in MACHO-like seasons (see sim.h, "Labelled mode"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/rng.h"
#include "lcfm/sim.h"
#include "lcfm/store.h"
#include "lcfm/store_index.h"

#define SEASON_DAYS 240.0
#define GAP_DAYS 125.0
#define FIRST_MJD 48800.0       /* about the start of MACHO's LMC photometry (1992) */
#define POINT_KEYS (1ull << 24) /* keys of an object's points: object * 2^24 + point */

static const char *const class_names = "0 sinusoidal, 1 sawtooth pulsator, 2 eclipsing binary, "
                                       "3 long-period variable, 4 damped random walk";

int lcfm_sim_mode_labelled(const lcfm_job *job) {
  return !strcmp(lcfm_job_settings(job)->simulate.mode, "labelled");
}

int lcfm_labelled_config_from_job(lcfm_labelled_config *c, const lcfm_job *job) {
  memset(c, 0, sizeof *c);
  int problems = lcfm_sim_config_from_job(&c->base, job);
  if (lcfm_sim_mode_labelled(job) && c->base.store.mode == LCFM_STORE_APPEND)
    problems++, lcfm_job_error(job, "store", "mode",
                               "append adds to causal simulations and ingested surveys; a "
                               "labelled simulation is written whole (mode = create)");
  const lcfm_settings_simulate *simulate_keys = &lcfm_job_settings(job)->simulate;
  c->classes = simulate_keys->classes;
  c->min_points = simulate_keys->min_points;
  c->max_points = simulate_keys->max_points;
  c->seasons = simulate_keys->seasons;
  if (c->max_points < c->min_points)
    problems++, lcfm_job_error(job, "simulate", "max_points",
                               "max_points (%lld) is below min_points (%lld)",
                               (long long)c->max_points, (long long)c->min_points);
  if (c->max_points >= (int64_t)POINT_KEYS)
    problems++, lcfm_job_error(job, "simulate", "max_points", "at most %llu points per light curve",
                               (unsigned long long)POINT_KEYS - 1);
  return problems;
}

int64_t lcfm_labelled_points(const lcfm_labelled_config *c, int64_t object) {
  uint64_t span = (uint64_t)(c->max_points - c->min_points + 1);
  return c->min_points +
         (int64_t)lcfm_rng_below(c->base.seed, LCFM_STREAM_LAB_POINTS, (uint64_t)object, span);
}

static double log_uniform(double u, double lo, double hi) {
  return exp(log(lo) + u * (log(hi) - log(lo)));
}

void lcfm_labelled_star(const lcfm_labelled_config *c, int64_t star,
                        double params[LCFM_LABELLED_PARAMS]) {
  double u[6];
  lcfm_rng_uniform_fill(u, 6, c->base.seed, LCFM_STREAM_LAB_STAR, (uint64_t)star * 8);
  int cls = (int)(star % c->classes);
  params[0] = cls;
  params[3] = 15.0 + 4.5 * u[0]; /* mean magnitude */
  params[4] = u[3], params[5] = u[4];
  switch (cls) {
  case LCFM_CLASS_SINUSOIDAL:
    params[1] = log_uniform(u[1], 0.2, 10.0), params[2] = 0.05 + 0.45 * u[2];
    break;
  case LCFM_CLASS_SAWTOOTH:
    params[1] = log_uniform(u[1], 0.3, 30.0), params[2] = 0.2 + 0.8 * u[2];
    break;
  case LCFM_CLASS_ECLIPSING:
    params[1] = log_uniform(u[1], 0.3, 20.0), params[2] = 0.1 + 0.7 * u[2];
    break;
  case LCFM_CLASS_LONG_PERIOD:
    params[1] = 100.0 + 400.0 * u[1], params[2] = 0.5 + 2.0 * u[2];
    break;
  default:
    params[1] = log_uniform(u[1], 10.0, 1000.0), params[2] = 0.05 + 0.3 * u[2];
    break; /* tau, sigma */
  }
}

/* Magnitude offset of a periodic class at phase x in [0, 1) (shape parameters s1, s2 in [0, 1)). */
static double periodic_shape(int cls, double x, double amplitude, double s1, double s2) {
  switch (cls) {
  case LCFM_CLASS_SINUSOIDAL: return amplitude * sin(2 * M_PI * x);
  case LCFM_CLASS_SAWTOOTH: { /* fast brightening over a fraction r of the cycle, slow fading */
    double r = 0.1 + 0.2 * s1;
    return x < r ? amplitude * (0.5 - x / r) : amplitude * (-0.5 + (x - r) / (1.0 - r));
  }
  case LCFM_CLASS_ECLIPSING: { /* primary eclipse at 0, secondary at 0.5, Gaussian in phase */
    double w = 0.03 + 0.07 * s2, d1 = x - round(x), d2 = x - 0.5;
    return amplitude * exp(-0.5 * d1 * d1 / (w * w)) +
           amplitude * (0.1 + 0.8 * s1) * exp(-0.5 * d2 * d2 / (w * w));
  }
  default: /* long-period variable: fundamental plus a second harmonic */
    return 0.5 * amplitude * (sin(2 * M_PI * x) + 0.3 * s1 * sin(4 * M_PI * x + 2 * M_PI * s2));
  }
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* n observing times in `seasons` seasons of SEASON_DAYS separated by GAP_DAYS, sorted. */
static void observing_times(const lcfm_labelled_config *c, int64_t object, int64_t n,
                            double *time) {
  lcfm_rng_uniform_fill(time, (size_t)n, c->base.seed, LCFM_STREAM_LAB_TIME,
                        (uint64_t)object * POINT_KEYS);
  for (int64_t i = 0; i < n; i++) time[i] *= SEASON_DAYS * (double)c->seasons;
  qsort(time, (size_t)n, sizeof *time, by_value);
  for (int64_t i = 0; i < n; i++)
    time[i] = FIRST_MJD + time[i] + floor(time[i] / SEASON_DAYS) * GAP_DAYS;
}

void lcfm_labelled_curve(const lcfm_labelled_config *c, int64_t object, double *time, float *value,
                         float *error) {
  int64_t n = lcfm_labelled_points(c, object), star = object / c->base.curves_per_star;
  double p[LCFM_LABELLED_PARAMS];
  lcfm_labelled_star(c, star, p);
  int cls = (int)p[0];
  double phase = lcfm_rng_uniform(c->base.seed, LCFM_STREAM_LAB_PHASE, (uint64_t)object);
  double sigma =
      c->base.noise_sigma * pow(10.0, 0.2 * (p[3] - 17.0)); /* fainter stars are noisier */
  observing_times(c, object, n, time);
  uint64_t keys = (uint64_t)object * POINT_KEYS;
  double walk = 0;
  for (int64_t i = 0; i < n; i++) {
    double signal;
    if (cls ==
        LCFM_CLASS_RANDOM_WALK) { /* Ornstein-Uhlenbeck with time scale tau and std sigma_drw */
      double z = lcfm_rng_normal(c->base.seed, LCFM_STREAM_LAB_WALK, keys + (uint64_t)i);
      double decay = i ? exp(-(time[i] - time[i - 1]) / p[1]) : 0.0;
      walk = walk * decay + p[2] * sqrt(1.0 - decay * decay) * z;
      signal = walk;
    } else {
      double x = (time[i] - FIRST_MJD) / p[1] + phase;
      signal = periodic_shape(cls, x - floor(x), p[2], p[4], p[5]);
    }
    double err = sigma * (0.7 + 0.6 * lcfm_rng_uniform(c->base.seed, LCFM_STREAM_LAB_ERROR,
                                                       keys + (uint64_t)i));
    double noise = err * lcfm_rng_normal(c->base.seed, LCFM_STREAM_LAB_NOISE, keys + (uint64_t)i);
    value[i] = (float)(p[3] + signal + noise);
    error[i] = (float)err;
  }
}

/* ---- the store ---- */

static void write_truth_constants(lcfm_store_writer *w, const lcfm_labelled_config *c) {
  hid_t truth = lcfm_store_group(w, "/truth");
  lcfm_h5_write_string_attribute(truth, "model",
                                 "labelled variable stars: see lcfm's sim.h (Labelled mode)");
  lcfm_h5_write_string_attribute(truth, "classes_names", class_names);
  lcfm_h5_write_string_attribute(
      truth, "labelled_columns",
      "class, period in days (tau for the random walk), amplitude in mag (sigma for the "
      "random walk), mean magnitude, shape 1, shape 2");
  lcfm_h5_write_int64_attribute(truth, "stars", c->base.stars);
  lcfm_h5_write_int64_attribute(truth, "curves_per_star", c->base.curves_per_star);
  lcfm_h5_write_int64_attribute(truth, "classes", c->classes);
  lcfm_h5_write_int64_attribute(truth, "min_points", c->min_points);
  lcfm_h5_write_int64_attribute(truth, "max_points", c->max_points);
  lcfm_h5_write_int64_attribute(truth, "seasons", c->seasons);
  lcfm_h5_write_double_attribute(truth, "season_days", SEASON_DAYS);
  lcfm_h5_write_double_attribute(truth, "gap_days", GAP_DAYS);
  lcfm_h5_write_double_attribute(truth, "noise_sigma", c->base.noise_sigma);
  lcfm_h5_write_int64_attribute(truth, "seed", (int64_t)c->base.seed);
  H5Gclose(truth);
}

static void write_instrument(lcfm_store_writer *w) {
  lcfm_instrument row = {.id = 0,
                         .survey = LCFM_SURVEY_SIM,
                         .season = -1,
                         .unit = -1,
                         .subunit = -1,
                         .band = -1,
                         .value_kind = LCFM_VALUE_MAGNITUDE};
  snprintf(row.name, sizeof row.name, "sim-labelled");
  lcfm_store_write_instruments(w, &row, 1);
}

/* Stars [first, first + count) into the batch and their truth rows. */
static void fill_block(lcfm_object_batch *b, double *truth, const lcfm_labelled_config *c,
                       int64_t first, int64_t count) {
  int64_t P = c->base.curves_per_star, at = 0;
  b->count = count * P;
  for (int64_t s = 0; s < count; s++)
    lcfm_labelled_star(c, first + s, truth + s * LCFM_LABELLED_PARAMS);
  for (int64_t i = 0; i < b->count; i++) {
    int64_t object = first * P + i, star = object / P, n = lcfm_labelled_points(c, object);
    b->id[i] = object, b->source[i] = star, b->instrument[i] = 0;
    b->field[i] = (int32_t)(star / c->base.stars_per_field);
    b->label[i] = (int32_t)(star % c->classes);
    b->length[i] = (int32_t)n;
    lcfm_labelled_curve(c, object, b->time + at, b->value + at, b->error + at);
    at += n;
  }
  b->point_count = at;
}

static int64_t points_of_stars(const lcfm_labelled_config *c, int64_t first, int64_t count) {
  int64_t points = 0, P = c->base.curves_per_star;
  for (int64_t o = first * P; o < (first + count) * P; o++) points += lcfm_labelled_points(c, o);
  return points;
}

void lcfm_simulate_labelled_store(MPI_Comm comm, const lcfm_labelled_config *c, const char *path,
                                  const lcfm_provenance *prov) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t first_star, star_count, P = c->base.curves_per_star;
  lcfm_store_shard(c->base.stars, rank, ranks, &first_star, &star_count);
  int64_t block =
      c->base.block_stars < star_count ? c->base.block_stars : (star_count ? star_count : 1);
  int64_t my_blocks = (star_count + block - 1) / block, blocks = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&my_blocks, &blocks, 1, MPI_INT64_T, MPI_MAX, comm));

  lcfm_store_writer *w = lcfm_store_begin(
      comm, path, prov, star_count * P, points_of_stars(c, first_star, star_count), &c->base.store);
  write_instrument(w);
  int truth_matrix =
      lcfm_store_add_matrix(w, "/truth/labelled", c->base.stars, LCFM_LABELLED_PARAMS);
  write_truth_constants(w, c);

  lcfm_object_batch batch;
  lcfm_batch_alloc(&batch, block * P, block * P * c->max_points);
  double *truth = lcfm_malloc((size_t)block * LCFM_LABELLED_PARAMS * sizeof *truth);
  lcfm_progress progress;
  lcfm_progress_start(&progress, "simulate", c->base.stars * P);
  int64_t done_local = 0, done = 0;
  for (int64_t b = 0; b < blocks; b++) {
    int64_t start = first_star + b * block, end = first_star + star_count;
    int64_t stars = b < my_blocks ? (start + block <= end ? block : end - start) : 0;
    fill_block(&batch, truth, c, start, stars);
    lcfm_store_write_batch(w, &batch);
    lcfm_store_write_rows(w, truth_matrix, start, stars, truth);
    done_local += stars * P;
    LCFM_CHECK_MPI(MPI_Allreduce(&done_local, &done, 1, MPI_INT64_T, MPI_SUM, comm));
    lcfm_progress_update(&progress, done);
  }
  lcfm_progress_finish(&progress, done);
  free(truth);
  lcfm_batch_free(&batch);
  lcfm_store_index_write(w, comm,
                         1); /* one instrument: training reads through /index, nothing per object */
  lcfm_store_close(w);
}
