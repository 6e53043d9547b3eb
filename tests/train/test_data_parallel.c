/* test_data_parallel.c: P ranks with B/P triplets each train exactly like 1 rank with B.
 * Rank 0 first trains alone (MPI_COMM_SELF, the whole batch) for 20 steps, then all P ranks
 * train the same model from the same seed on MPI_COMM_WORLD. Every step's loss terms must
 * agree within 1e-4 relative and every parameter within 1e-4 after the last step, for the
 * causal model with the Conformer and with the MLP encoder, and for the baseline. Each step is
 * the production one: lcfm_train_loop_step with the causal model's hooks, as `lcfm train` runs. */
#include <string.h>

#include "../lcfm_test.h"
#include "compare_params.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"
#include "lcfm/trainer.h"

enum { STEPS = 20, BATCH = 12 };

static lcfm_causal_config small_config(lcfm_causal_kind kind, lcfm_encoder_kind encoder) {
  return (lcfm_causal_config){.kind = kind,
                              .encoder = encoder,
                              .T = 48,
                              .d = 16,
                              .heads = 2,
                              .ff = 32,
                              .blocks = 1,
                              .kernel = 5,
                              .latent = 8,
                              .mlp_hidden = 32,
                              .proj_hidden = 16,
                              .proj_dim = 8,
                              .decoder_hidden = 16,
                              .dropout = 0.0f,
                              .tau = 0.1f,
                              .w_recon = 1,
                              .w_star = 1,
                              .w_instr = 1};
}

/* Trains STEPS steps on comm; fills losses[STEPS][4] and returns the final parameters (caller frees). */
static lcfm_nn_params table; /* names of the last model, for messages */

static float *train(MPI_Comm comm, lcfm_causal_config cfg, const lcfm_sampler *s,
                    double losses[STEPS][4], size_t *n) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  cfg.max_rows = 3 * ((BATCH + ranks - 1) / ranks);
  lcfm_causal_model m;
  lcfm_causal_init(&m, &cfg, 3 * BATCH, 77);
  lcfm_adam opt = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  lcfm_causal_trainer run; /* the hooks and the step `lcfm train` runs */
  lcfm_causal_trainer_init(&run, comm, &m, s, BATCH, 0, 5);
  lcfm_train_hooks hooks = lcfm_causal_trainer_hooks(&run);
  for (int k = 0; k < STEPS; k++) {
    lcfm_train_loop_step(comm, &hooks, &opt, k, 0);
    const lcfm_causal_loss *l = &run.last;
    losses[k][0] = l->total, losses[k][1] = l->recon;
    losses[k][2] = l->star, losses[k][3] = l->instr;
  }
  *n = m.params.total;
  float *params = lcfm_malloc(*n * sizeof *params);
  memcpy(params, m.params.params, *n * sizeof *params);
  lcfm_causal_trainer_free(&run);
  keep_tensor_table(&table, &m.params);
  lcfm_causal_free(&m);
  return params;
}

static void compare(const char *label, lcfm_causal_config cfg, const lcfm_sampler *s, int rank) {
  double reference[STEPS][4] = {{0}}, parallel[STEPS][4];
  float *ref_params = NULL;
  size_t n = 0;
  if (rank == 0) ref_params = train(MPI_COMM_SELF, cfg, s, reference, &n);
  MPI_Barrier(MPI_COMM_WORLD);
  float *par_params = train(MPI_COMM_WORLD, cfg, s, parallel, &n);
  if (rank == 0) {
    double worst_loss = 0;
    for (int k = 0; k < STEPS; k++)
      for (int j = 0; j < 4; j++) {
        double scale = fabs(reference[k][j]) > 1e-8 ? fabs(reference[k][j]) : 1e-8;
        worst_loss = fmax(worst_loss, fabs(parallel[k][j] - reference[k][j]) / scale);
      }
    const char *worst_tensor;
    double worst_param = worst_param_difference(&table, par_params, ref_params, &worst_tensor);
    if (worst_param > 1e-4) printf("  worst parameter tensor: %s\n", worst_tensor);
    int ranks;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    printf(
        "%s: %d ranks vs 1: worst relative loss difference %.3g over %d steps, worst parameter difference %.3g "
        "(loss %.5f -> %.5f)\n",
        label, ranks, worst_loss, STEPS, worst_param, reference[0][0], reference[STEPS - 1][0]);
    EXPECT(worst_loss <= 1e-4, "%s: losses differ by %g relative", label, worst_loss);
    EXPECT(worst_param <= 1e-4, "%s: parameters differ by %g", label, worst_param);
    EXPECT(reference[STEPS - 1][0] < reference[0][0], "%s: the loss did not decrease (%g -> %g)",
           label, reference[0][0], reference[STEPS - 1][0]);
  }
  free(ref_params);
  free(par_params);
}

int main(int argc, char **argv) {
  int rank = lcfm_test_start(&argc, &argv);
  lcfm_nn_set_threads(1);
  char path[256] = "test_data_parallel_XXXXXX";
  lcfm_test_temp_dir(path, sizeof path);
  strcat(path, "/sim.h5");
  lcfm_sim_config sim = lcfm_test_sim_config((lcfm_sim_config){.stars = 40,
                                                               .instruments = 5,
                                                               .curves_per_star = 6,
                                                               .terms = 9,
                                                               .K = 13,
                                                               .T = 60,
                                                               .block_stars = 16,
                                                               .seed = 11});
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, argc, argv);
  lcfm_simulate_store(MPI_COMM_WORLD, &sim, path, &prov);
  char why[1024];
  lcfm_sampler sampler;
  LCFM_CHECK(!lcfm_train_data_open(MPI_COMM_WORLD, path, &sampler, 5, 0.2, why, sizeof why), "%s",
             why);
  compare("causal conformer", small_config(LCFM_CAUSAL, LCFM_ENCODER_CONFORMER), &sampler, rank);
  compare("causal mlp", small_config(LCFM_CAUSAL, LCFM_ENCODER_MLP), &sampler, rank);
  compare("baseline mlp", small_config(LCFM_BASELINE, LCFM_ENCODER_MLP), &sampler, rank);
  lcfm_sampler_free(&sampler);
  return lcfm_test_finish("test_data_parallel");
}
