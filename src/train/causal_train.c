/* causal_train.c: `lcfm train` for the causal model and its baseline: triplets read through the
 * store's index into the shared training loop, and the latent separation of the best model (see
 * trainer.h). */
#include <stdio.h>
#include <stdlib.h>

#include "lcfm/log.h"
#include "lcfm/models.h"
#include "lcfm/train.h"
#include "lcfm/trainer.h"

static lcfm_train_loss causal_terms(const lcfm_causal_loss *l) {
  lcfm_train_loss out = {.total = l->total};
  int n = snprintf(out.terms, sizeof out.terms, "recon %.5f star %.4f instr %.4f", l->recon,
                   l->star, l->instr);
  if (l->indep > 0 && n > 0 &&
      (size_t)n < sizeof out.terms) /* only with [model] lambda_independence > 0 */
    snprintf(out.terms + n, sizeof out.terms - (size_t)n, " indep %.4f", l->indep);
  return out;
}

void lcfm_causal_trainer_init(lcfm_causal_trainer *c, MPI_Comm comm, lcfm_causal_model *m,
                              const lcfm_sampler *s, int64_t batch, int64_t validation_triplets,
                              uint64_t seed) {
  *c = (lcfm_causal_trainer){.comm = comm,
                             .model = m,
                             .sampler = s,
                             .batch = batch,
                             .validation_triplets = validation_triplets,
                             .seed = seed};
  int64_t first, count;
  lcfm_train_slots(batch, comm, &first, &count);
  lcfm_batch_rows_alloc(&c->rows, count, m->cfg.T);
}

void lcfm_causal_trainer_free(lcfm_causal_trainer *c) { lcfm_batch_rows_free(&c->rows); }

static lcfm_train_loss causal_step(void *context, int64_t step) {
  lcfm_causal_trainer *c = context;
  int64_t first, count;
  lcfm_train_slots(c->batch, c->comm, &first, &count);
  lcfm_train_assemble(&c->rows, c->sampler, 0, step, first, count, c->model->cfg.T);
  c->last = lcfm_causal_step(c->model, c->comm, &c->rows, 1, c->seed, (uint64_t)step);
  return causal_terms(&c->last);
}

/* Mean validation loss over the fixed validation triplets, in batches of the training size. */
static lcfm_train_loss causal_validate(void *context) {
  lcfm_causal_trainer *c = context;
  lcfm_batch_rows *b = &c->rows;
  lcfm_causal_loss sum = {0};
  int64_t batches = (c->validation_triplets + c->batch - 1) / c->batch;
  for (int64_t k = 0; k < batches; k++) {
    int64_t first, count;
    lcfm_train_slots(c->batch, c->comm, &first, &count);
    lcfm_train_assemble(b, c->sampler, 1, k, first, count, c->model->cfg.T);
    lcfm_causal_loss l = lcfm_causal_step(c->model, c->comm, b, 0, c->seed, 0);
    sum.total += l.total / batches, sum.recon += l.recon / batches, sum.star += l.star / batches;
    sum.instr += l.instr / batches, sum.indep += l.indep / batches;
  }
  return causal_terms(&sum);
}

lcfm_train_hooks lcfm_causal_trainer_hooks(lcfm_causal_trainer *c) {
  return (lcfm_train_hooks){.model = c,
                            .params = &c->model->params,
                            .batch = c->batch,
                            .unit = "triplets",
                            .step = causal_step,
                            .validate = causal_validate};
}

static void report_separation(MPI_Comm comm, lcfm_causal_model *m, const lcfm_sampler *s,
                              int64_t best_step) {
  double accuracy[2], chance;
  lcfm_latent_separation(comm, m, s, accuracy, &chance);
  if (m->encoders == 2)
    lcfm_log(
        "latent separation of the best model (step %lld; validation objects, nearest instrument centroid): "
        "z_instr accuracy %.3f, z_star accuracy %.3f (chance %.3f)",
        (long long)best_step, accuracy[1], accuracy[0], chance);
  else
    lcfm_log(
        "latent separation of the best model (step %lld; validation objects, nearest instrument centroid): "
        "z accuracy %.3f (chance %.3f)",
        (long long)best_step, accuracy[0], chance);
}

int lcfm_causal_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_train_settings t;
  lcfm_train_settings_read(&t, job);
  const lcfm_settings_train *train_keys = &lcfm_job_settings(job)->train;
  int64_t batch = train_keys->batch_triplets;
  lcfm_causal_config cfg;
  if (lcfm_causal_config_from_job(&cfg, job))
    return LCFM_EXIT_USAGE; /* already checked by the verb */
  lcfm_nn_set_threads(t.threads);
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_sampler sampler;
  char why[2048] = "";
  if (lcfm_train_data_open_fields(comm, t.store, train_keys->fields, &sampler, t.seed,
                                  t.validation_fraction, why, sizeof why))
    return lcfm_report_failure(lcfm_log_rank() == 0, "lcfm train: %s: %s", t.store, why);
  cfg.max_rows = (int)(3 * ((batch + ranks - 1) / ranks));
  lcfm_causal_model model;
  lcfm_causal_init(&model, &cfg, (int)(3 * batch), t.seed);
  char *settings = lcfm_causal_settings(&cfg);
  char *signature = lcfm_model_signature(&model.params, settings);
  lcfm_adam opt = lcfm_train_optimizer(&t, 0.999f, 1e-8f);
  lcfm_train_state state = lcfm_train_state_fresh();
  lcfm_log("model: %s, %zu parameters, batch %lld triplets over %d ranks, %d threads each",
           settings, lcfm_nn_params_count(&model.params), (long long)batch, ranks, t.threads);
  lcfm_causal_trainer run;
  int64_t validation_triplets = train_keys->validation_triplets;
  lcfm_causal_trainer_init(&run, comm, &model, &sampler, batch, validation_triplets, t.seed);
  lcfm_train_hooks hooks = lcfm_causal_trainer_hooks(&run);
  int code = lcfm_train_loop(comm, &t, &hooks, &opt, &state, signature, prov);
  if (code == LCFM_EXIT_OK) {
    /* Early stopping's answer is the best model: report on it. */
    lcfm_train_state best;
    lcfm_train_load_best(comm, &t, &model.params, &opt, &state, signature, &best);
    report_separation(comm, &model, &sampler, best.step);
    lcfm_train_data_report(comm, &sampler);
    lcfm_log_success("train");
  }
  lcfm_causal_trainer_free(&run);
  free(settings), free(signature);
  lcfm_causal_free(&model);
  lcfm_sampler_free(&sampler);
  return code;
}
