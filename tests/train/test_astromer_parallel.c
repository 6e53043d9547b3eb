/* test_astromer_parallel.c: P ranks with W/P windows each pretrain Astromer 2 exactly like 1 rank
 * with W, every rank reading only its own windows from the stores (astromer.h: nothing
 * replicated). Rank 0 first trains alone (MPI_COMM_SELF, the whole batch) for 20 steps, then all
 * P ranks train the same model from the same seed on MPI_COMM_WORLD, on a list of two labelled
 * simulated stores read as one (irregular times, magnitudes with errors, curves shorter and longer
 * than T). Every step's loss must agree within 1e-4 relative, every parameter within 1e-4 after
 * the last step, and the validation loss on the fixed held-out windows (spread over the ranks)
 * within 1e-4, with and without residual connections; the loss must fall. Dropout is 0: its
 * draws are keyed by position in the rank's buffer, so with dropout the ranks match only in
 * distribution. */
#include <string.h>

#include "../lcfm_test.h"
#include "compare_params.h"
#include "lcfm/astromer_train.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"
#include "lcfm/trainer.h"

enum { STEPS = 20, WINDOWS = 12, VALIDATION = 30 };

static lcfm_nn_params table; /* names of the last model, for messages */

/* The validation loss on the sampler's fixed windows, in global batches of WINDOWS split over ranks. */
static double validate(MPI_Comm comm, lcfm_astromer2_model *m, const lcfm_window_sampler *s,
                       lcfm_masked_batch *b) {
  lcfm_astromer2_sums sums = {0};
  for (int64_t chunk = 0; chunk < s->eval_count; chunk += WINDOWS) {
    int64_t size = s->eval_count - chunk < WINDOWS ? s->eval_count - chunk : WINDOWS, first, count;
    lcfm_train_slots(size, comm, &first, &count);
    lcfm_window_sampler_eval(s, b, chunk + first, count);
    lcfm_astromer2_step(m, comm, b, size, 0, 5, 0);
    lcfm_astromer2_accumulate(m, b, &sums);
  }
  MPI_Allreduce(MPI_IN_PLACE, &sums, LCFM_ASTRO_SUMS, MPI_DOUBLE, MPI_SUM, comm);
  double loss, rmse, r2;
  lcfm_astromer2_metrics(&sums, &loss, &rmse, &r2);
  return loss;
}

/* losses[STEPS] is the validation loss after the last step. */
static float *train(MPI_Comm comm, lcfm_astromer2_config cfg, const lcfm_window_sampler *s,
                    double losses[STEPS + 1], size_t *n) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  cfg.enc.max_batch = (WINDOWS + ranks - 1) / ranks;
  lcfm_astromer2_model m;
  lcfm_astromer2_init(&m, &cfg, 77);
  lcfm_adam opt = {.lr = 2e-3f, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f};
  lcfm_masked_batch b;
  lcfm_masked_batch_alloc(&b, cfg.enc.max_batch, cfg.enc.T);
  int64_t first, count;
  lcfm_train_slots(WINDOWS, comm, &first, &count);
  for (int k = 0; k < STEPS; k++) {
    lcfm_window_sampler_train(s, &b, k, WINDOWS, first, count);
    losses[k] = lcfm_astromer2_step(&m, comm, &b, WINDOWS, 1, 5, (uint64_t)k);
    lcfm_train_update(comm, &m.params, &opt, 0);
  }
  losses[STEPS] = validate(comm, &m, s, &b);
  *n = m.params.total;
  float *params = lcfm_malloc(*n * sizeof *params);
  memcpy(params, m.params.params, *n * sizeof *params);
  keep_tensor_table(&table, &m.params);
  lcfm_masked_batch_free(&b);
  lcfm_astromer2_free(&m);
  return params;
}

static void compare(const char *label, lcfm_astromer2_config cfg, const lcfm_window_sampler *s,
                    int rank) {
  double reference[STEPS + 1] = {0}, parallel[STEPS + 1];
  float *ref_params = NULL;
  size_t n = 0;
  if (rank == 0) ref_params = train(MPI_COMM_SELF, cfg, s, reference, &n);
  MPI_Barrier(MPI_COMM_WORLD);
  float *par_params = train(MPI_COMM_WORLD, cfg, s, parallel, &n);
  if (rank == 0) {
    double worst_loss = 0;
    for (int k = 0; k < STEPS; k++)
      worst_loss =
          fmax(worst_loss, fabs(parallel[k] - reference[k]) / fmax(fabs(reference[k]), 1e-8));
    const char *worst_tensor;
    double worst_param = worst_param_difference(&table, par_params, ref_params, &worst_tensor);
    int ranks;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    double validation =
        fabs(parallel[STEPS] - reference[STEPS]) / fmax(fabs(reference[STEPS]), 1e-8);
    printf(
        "%s: %d ranks vs 1: worst relative loss difference %.3g over %d steps, worst parameter difference %.3g "
        "(%s); loss %.5f -> %.5f; validation loss %.5f (%d windows), relative difference %.3g\n",
        label, ranks, worst_loss, STEPS, worst_param, worst_tensor, reference[0],
        reference[STEPS - 1], reference[STEPS], VALIDATION, validation);
    EXPECT(validation <= 1e-4 && reference[STEPS] > 0, "%s: validation losses %g and %g", label,
           reference[STEPS], parallel[STEPS]);
    EXPECT(worst_loss <= 1e-4, "%s: losses differ by %g relative", label, worst_loss);
    EXPECT(worst_param <= 1e-4, "%s: parameters differ by %g (%s)", label, worst_param,
           worst_tensor);
    EXPECT(reference[STEPS - 1] < reference[0], "%s: the loss did not decrease (%g -> %g)", label,
           reference[0], reference[STEPS - 1]);
  }
  free(ref_params);
  free(par_params);
}

int main(int argc, char **argv) {
  int rank = lcfm_test_start(&argc, &argv);
  lcfm_nn_set_threads(1);
  char dir[256] = "test_astromer_parallel_XXXXXX", paths[600];
  lcfm_test_temp_dir(dir, sizeof dir);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, argc, argv);
  for (int k = 0; k < 2; k++) { /* two stores of the list, of other sizes and seeds */
    lcfm_labelled_config sim = {.base = {.stars = 30 - 12 * k,
                                         .curves_per_star = 2,
                                         .noise_sigma = 0.03,
                                         .stars_per_field = 10,
                                         .block_stars = 7,
                                         .seed = 21 + (uint64_t)k},
                                .classes = 5,
                                .min_points = 20,
                                .max_points = 90,
                                .seasons = 3};
    char path[300];
    snprintf(path, sizeof path, "%s/labelled%d.h5", dir, k);
    lcfm_simulate_labelled_store(MPI_COMM_WORLD, &sim, path, &prov);
  }
  snprintf(paths, sizeof paths, "%s/labelled0.h5 %s/labelled1.h5", dir, dir);
  lcfm_astro_stores stores;
  char why[1024];
  LCFM_CHECK(!lcfm_astro_stores_open(&stores, MPI_COMM_WORLD, paths, why, sizeof why), "%s", why);
  lcfm_astromer2_config cfg = {.enc = lcfm_astromer_defaults(), .probing = {0.5, 0.2, 0.2}};
  cfg.enc.d = 16, cfg.enc.heads = 2, cfg.enc.ff = 24, cfg.enc.blocks = 2, cfg.enc.T = 48;
  lcfm_window_sampler sampler;
  LCFM_CHECK(!lcfm_window_sampler_init(&sampler, &stores, 5, 0.2, cfg.enc.T, &cfg.probing,
                                       VALIDATION, why, sizeof why),
             "%s", why);
  LCFM_CHECK(sampler.eval_count == VALIDATION, "no held-out window");
  compare("astromer2 no residual", cfg, &sampler, rank);
  cfg.enc.residual = 1;
  compare("astromer2 residual", cfg, &sampler, rank);
  lcfm_window_sampler_free(&sampler);
  lcfm_astro_stores_close(&stores);
  free(table.tensors);
  return lcfm_test_finish("test_astromer_parallel");
}
