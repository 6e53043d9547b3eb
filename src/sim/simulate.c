/* simulate.c: `lcfm simulate`: ranks simulate disjoint, balanced star ranges in blocks and write
 * them collectively into one store with the truth needed to recompute every signal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/alias.h"
#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"
#include "lcfm/store.h"
#include "lcfm/store_index.h"

typedef struct {
  int theta, phase, beta, gamma; /* matrix handles in the writer */
} truth_matrices;

static void write_instrument_table(lcfm_store_writer *w, const lcfm_sim_config *c) {
  lcfm_instrument *rows = lcfm_calloc((size_t)c->instruments, sizeof *rows);
  for (int64_t m = 0; m < c->instruments; m++) {
    rows[m] = (lcfm_instrument){.id = (int32_t)m,
                                .survey = LCFM_SURVEY_SIM,
                                .season = -1,
                                .unit = -1,
                                .subunit = -1,
                                .band = -1,
                                .value_kind = LCFM_VALUE_SIMULATED};
    snprintf(rows[m].name, sizeof rows[m].name, "sim-%lld", (long long)m);
  }
  lcfm_store_write_instruments(w, rows, c->instruments);
  free(rows);
}

static void write_truth_constants(lcfm_store_writer *w, const lcfm_sim_config *c) {
  hid_t truth = lcfm_store_group(w, "/truth");
  lcfm_h5_write_string_attribute(
      truth, "model",
      "F_obs = clip(S_m F_true + O_m) + eps; see lcfm's sim.h and src/README.md's store schema");
  lcfm_h5_write_int64_attribute(truth, "stars", c->stars);
  lcfm_h5_write_int64_attribute(truth, "stars_per_field", c->stars_per_field);
  lcfm_h5_write_int64_attribute(truth, "instruments", c->instruments);
  lcfm_h5_write_int64_attribute(truth, "curves_per_star", c->curves_per_star);
  lcfm_h5_write_int64_attribute(truth, "instrument_terms", c->terms);
  lcfm_h5_write_int64_attribute(truth, "K", c->K);
  lcfm_h5_write_int64_attribute(truth, "T", c->T);
  lcfm_h5_write_double_attribute(truth, "alpha", c->alpha);
  lcfm_h5_write_double_attribute(truth, "lambda", c->lambda);
  lcfm_h5_write_double_attribute(truth, "instrument_scale", c->instrument_scale);
  lcfm_h5_write_double_attribute(truth, "noise_sigma", c->noise_sigma);
  lcfm_h5_write_double_attribute(truth, "clip_min", c->clip_min);
  lcfm_h5_write_double_attribute(truth, "clip_max", c->clip_max);
  lcfm_h5_write_int64_attribute(truth, "seed", (int64_t)c->seed);
  H5Gclose(truth);
}

/* What the regime lets any representation learn of theta_0 (alias.h): the alias bound (R^2 of the
 * best estimate from the curves) and the share of stellar fundamentals inside the instrument's
 * band (where the instrument can imitate or hide the star). Logged and kept in /truth. */
static void record_regime(lcfm_store_writer *w, const lcfm_sim_config *c) {
  double bound = lcfm_alias_bound(c->lambda, c->T);
  double band = lcfm_instrument_band_fraction(c->lambda, c->T, c->terms);
  lcfm_log(
      "regime: median period %.3g steps; alias bound R^2(theta_0) %.4f; %.1f%% of stellar fundamentals inside "
      "the instrument band (folded frequency below J/2T = %.3g)",
      (double)c->T * c->lambda, bound, 100 * band, (double)c->terms / (2.0 * (double)c->T));
  hid_t truth = lcfm_store_group(w, "/truth");
  lcfm_h5_write_double_attribute(truth, "alias_bound", bound);
  lcfm_h5_write_double_attribute(truth, "instrument_band_fraction", band);
  H5Gclose(truth);
}

/* beta and gamma are small ([M, J]): rank 0 writes them, the others take part with nothing. */
static void write_instrument_truth(lcfm_store_writer *w, const lcfm_sim_config *c,
                                   const truth_matrices *h, int rank) {
  int64_t rows = rank == 0 ? c->instruments : 0;
  double *beta = lcfm_malloc((size_t)(c->instruments * c->terms) * sizeof *beta);
  double *gamma = lcfm_malloc((size_t)(c->instruments * c->terms) * sizeof *gamma);
  for (int64_t m = 0; m < c->instruments; m++)
    for (int64_t j = 0; j < c->terms; j++) {
      beta[m * c->terms + j] = lcfm_sim_beta(c, m, j);
      gamma[m * c->terms + j] = lcfm_sim_gamma(c, m, j);
    }
  lcfm_store_write_rows(w, h->beta, 0, rows, beta);
  lcfm_store_write_rows(w, h->gamma, 0, rows, gamma);
  free(beta);
  free(gamma);
}

/* ---- appending: more stars of the same simulation ---- */

/* Reads /truth's constants of the store being appended to and checks that the job continues the
 * same simulation; returns its star count (every rank reaches the same verdict). */
static int64_t stored_stars(lcfm_store_writer *w, MPI_Comm comm, const lcfm_sim_config *c,
                            const char *path) {
  hid_t truth = lcfm_store_group(w, "/truth");
  const struct {
    const char *name;
    double job;
  } same[] = {{"instruments", (double)c->instruments},
              {"curves_per_star", (double)c->curves_per_star},
              {"instrument_terms", (double)c->terms},
              {"K", (double)c->K},
              {"T", (double)c->T},
              {"alpha", c->alpha},
              {"lambda", c->lambda},
              {"instrument_scale", c->instrument_scale},
              {"noise_sigma", c->noise_sigma},
              {"clip_min", c->clip_min},
              {"clip_max", c->clip_max},
              {"seed", (double)c->seed},
              {"stars_per_field", (double)c->stars_per_field}};
  char why[1024] = "";
  double stars = -1;
  if (H5Aexists(truth, "stars") > 0) {
    hid_t attr = LCFM_CHECK_H5(H5Aopen(truth, "stars", H5P_DEFAULT));
    LCFM_CHECK_H5(H5Aread(attr, H5T_NATIVE_DOUBLE, &stars));
    H5Aclose(attr);
  }
  if (stars < 0 || H5Aexists(truth, "model") <= 0 || H5Lexists(truth, "theta", H5P_DEFAULT) <= 0)
    snprintf(why, sizeof why,
             "%s: not a store of the causal simulator (no /truth/theta): cannot append simulated "
             "stars to it",
             path);
  for (size_t k = 0; k < sizeof same / sizeof *same && !why[0]; k++) {
    if (H5Aexists(truth, same[k].name) <= 0) continue; /* older stores lack stars_per_field */
    double stored = 0;
    hid_t attr = LCFM_CHECK_H5(H5Aopen(truth, same[k].name, H5P_DEFAULT));
    LCFM_CHECK_H5(H5Aread(attr, H5T_NATIVE_DOUBLE, &stored));
    H5Aclose(attr);
    if (stored != same[k].job)
      snprintf(why, sizeof why,
               "%s: [simulate] %s is %.17g but the store was simulated with %.17g: an append adds "
               "stars to the same simulation (only [simulate] stars may differ: the stars to add)",
               path, !strcmp(same[k].name, "seed") ? "seed ([job] seed)" : same[k].name,
               same[k].job, stored);
  }
  int rank;
  MPI_Comm_rank(comm, &rank);
  lcfm_h5_agree(comm, why[0] && rank == 0, why);
  H5Gclose(truth);
  return (int64_t)stars;
}

static void record_star_count(lcfm_store_writer *w, int64_t stars) {
  hid_t truth = lcfm_store_group(w, "/truth");
  lcfm_h5_delete_attribute(truth, "stars");
  lcfm_h5_write_int64_attribute(truth, "stars", stars);
  H5Gclose(truth);
}

/* Columns of a block of stars; time and error are the same for every block. Ids count from the
 * first star written by this run (the writer continues the store's ids). */
static void fill_block_columns(lcfm_object_batch *b, const lcfm_sim_config *c, int64_t first_star,
                               int64_t stars, int64_t first_new_star) {
  int64_t P = c->curves_per_star;
  b->count = stars * P;
  for (int64_t i = 0; i < b->count; i++) {
    int64_t object = first_star * P + i, star = object / P;
    b->id[i] = object - first_new_star * P;
    b->source[i] = star;
    b->instrument[i] = (int32_t)lcfm_sim_instrument(c, object);
    b->field[i] = (int32_t)(star / c->stars_per_field);
    b->label[i] = -1;
    b->length[i] = (int32_t)c->T;
  }
}

static void fill_block_truth(double *theta, double *phase, const lcfm_sim_config *c,
                             int64_t first_star, int64_t stars) {
  for (int64_t s = 0; s < stars; s++)
    for (int64_t k = 0; k < c->K; k++) theta[s * c->K + k] = lcfm_sim_theta(c, first_star + s, k);
  int64_t first_object = first_star * c->curves_per_star, objects = stars * c->curves_per_star;
  for (int64_t n = 0; n < objects; n++)
    for (int64_t k = 0; k < c->K - 1; k++)
      phase[n * (c->K - 1) + k] = lcfm_sim_phase(c, first_object + n, k);
}

void lcfm_simulate_store(MPI_Comm comm, const lcfm_sim_config *job_config, const char *path,
                         const lcfm_provenance *prov) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int appending = job_config->store.mode == LCFM_STORE_APPEND;
  int64_t first_star, star_count, P = job_config->curves_per_star, T = job_config->T;
  lcfm_store_shard(job_config->stars, rank, ranks, &first_star, &star_count);
  lcfm_store_writer *w =
      lcfm_store_begin(comm, path, prov, star_count * P, star_count * P * T, &job_config->store);
  /* Appending adds stars [S0, S0 + stars) of the same simulation: every stream is keyed by the
   * star and object index, so the store equals one simulated with S0 + stars stars at once. */
  int64_t stars_before = appending ? stored_stars(w, comm, job_config, path) : 0;
  lcfm_sim_config whole = *job_config, *c = &whole;
  whole.stars = stars_before + job_config->stars;
  first_star += stars_before;
  int64_t block = c->block_stars < star_count ? c->block_stars : (star_count ? star_count : 1);
  int64_t my_blocks = (star_count + block - 1) / block, blocks = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&my_blocks, &blocks, 1, MPI_INT64_T, MPI_MAX, comm));

  write_instrument_table(w, c);
  truth_matrices h = {
      .theta = lcfm_store_add_matrix(w, "/truth/theta", job_config->stars, c->K),
      .phase =
          lcfm_store_add_matrix(w, "/truth/phase", lcfm_sim_object_count(job_config), c->K - 1),
  };
  if (appending) {
    record_star_count(w, whole.stars);
  } else {
    h.beta = lcfm_store_add_matrix(w, "/truth/beta", c->instruments, c->terms);
    h.gamma = lcfm_store_add_matrix(w, "/truth/gamma", c->instruments, c->terms);
    write_truth_constants(w, c);
    record_regime(w, c);
    write_instrument_truth(w, c, &h, rank);
  }

  /* Buffers for one block, allocated once: memory per rank is set by block_stars alone. */
  lcfm_object_batch batch;
  lcfm_batch_alloc(&batch, block * P, block * P * T);
  for (int64_t i = 0; i < block * P * T; i++) {
    batch.time[i] = (double)(i % T);
    batch.error[i] = (float)c->noise_sigma;
  }
  double *theta = lcfm_malloc((size_t)(block * c->K) * sizeof *theta);
  double *phase = lcfm_malloc((size_t)(block * P * (c->K - 1)) * sizeof *phase);
  lcfm_sim_plan *plan = lcfm_sim_plan_create(c);

  lcfm_progress progress;
  lcfm_progress_start(&progress, "simulate", lcfm_sim_object_count(job_config));
  int64_t done_local = 0, done = 0;
  for (int64_t b = 0; b < blocks; b++) {
    int64_t start = first_star + b * block;
    int64_t stars =
        b < my_blocks
            ? (start + block <= first_star + star_count ? block : first_star + star_count - start)
            : 0;
    lcfm_sim_generate(plan, start, stars, batch.value);
    fill_block_columns(&batch, c, start, stars, stars_before);
    fill_block_truth(theta, phase, c, start, stars);
    lcfm_store_write_batch(w, &batch);
    /* Matrix rows count from the first row this run adds. */
    lcfm_store_write_rows(w, h.theta, start - stars_before, stars, theta);
    lcfm_store_write_rows(w, h.phase, (start - stars_before) * P, stars * P, phase);
    done_local += stars * P;
    LCFM_CHECK_MPI(MPI_Allreduce(&done_local, &done, 1, MPI_INT64_T, MPI_SUM, comm));
    lcfm_progress_update(&progress, done);
  }
  lcfm_progress_finish(&progress, done);
  lcfm_sim_plan_free(plan);
  free(theta);
  free(phase);
  lcfm_batch_free(&batch);
  lcfm_store_index_write_simulated(w, comm, c);
  lcfm_store_close(w);
}
