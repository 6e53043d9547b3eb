/* astromer_train.c: `lcfm train` for Astromer 2: masked windows read from the stores into the
 * shared training loop, and the held-out scores of the best model (see astromer_train.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/astromer_train.h"
#include "lcfm/log.h"
#include "lcfm/store.h"
#include "lcfm/trainer.h"

typedef struct {
  MPI_Comm comm;
  lcfm_astromer2_model *model;
  const lcfm_window_sampler *sampler;
  lcfm_masked_batch batch;
  int64_t windows;
  uint64_t seed;
  double
      last_loss; /* the latest training loss (validation falls back on it without held-out windows) */
  int64_t bytes, steps; /* read while assembling training batches, and how many */
  double seconds;
} astro_run;

static lcfm_train_loss astro_step(void *context, int64_t step) {
  astro_run *a = context;
  int64_t first, count, before = lcfm_astro_stores_bytes_read(a->sampler->stores);
  double started = lcfm_wtime();
  lcfm_train_slots(a->windows, a->comm, &first, &count);
  lcfm_window_sampler_train(a->sampler, &a->batch, step, a->windows, first, count);
  a->bytes += lcfm_astro_stores_bytes_read(a->sampler->stores) - before, a->steps++;
  a->seconds += lcfm_wtime() - started;
  lcfm_train_loss l = {.total = lcfm_astromer2_step(a->model, a->comm, &a->batch, a->windows, 1,
                                                    a->seed, (uint64_t)step)};
  snprintf(l.terms, sizeof l.terms, "weighted RMSE over probed points");
  a->last_loss = l.total;
  return l;
}

/* Collective: sums over the first n evaluation windows, in global batches of the training size. */
static lcfm_astromer2_sums evaluate_windows(astro_run *a, int64_t n) {
  lcfm_astromer2_sums s = {0};
  for (int64_t chunk = 0; chunk < n; chunk += a->windows) {
    int64_t size = n - chunk < a->windows ? n - chunk : a->windows, first, count;
    lcfm_train_slots(size, a->comm, &first, &count);
    lcfm_window_sampler_eval(a->sampler, &a->batch, chunk + first, count);
    lcfm_astromer2_step(a->model, a->comm, &a->batch, size, 0, a->seed, 0);
    lcfm_astromer2_accumulate(a->model, &a->batch, &s);
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &s, LCFM_ASTRO_SUMS, MPI_DOUBLE, MPI_SUM, a->comm));
  return s;
}

static lcfm_train_loss astro_validate(void *context) {
  astro_run *a = context;
  lcfm_train_loss l = {0};
  int64_t n = a->sampler->eval_count;
  if (n == 0) {
    l.total = a->last_loss;
    snprintf(l.terms, sizeof l.terms, "no held-out windows: the training loss");
    return l;
  }
  lcfm_astromer2_sums s = evaluate_windows(a, n);
  double rmse, r2;
  lcfm_astromer2_metrics(&s, &l.total, &rmse, &r2);
  snprintf(l.terms, sizeof l.terms, "%lld held-out windows: RMSE %.5f, R^2 %.4f on probed points",
           (long long)n, rmse, r2);
  return l;
}

/* Collective: every window of the held-out objects, each rank its contiguous share of the rows;
 * forward passes are this rank's own (MPI_COMM_SELF), the sums are combined once. */
static void report_held_out(astro_run *a, int64_t best_step) {
  int rank, ranks;
  MPI_Comm_rank(a->comm, &rank);
  MPI_Comm_size(a->comm, &ranks);
  int64_t first, count;
  lcfm_store_shard(a->sampler->objects, rank, ranks, &first, &count);
  lcfm_held_out_windows w;
  lcfm_held_out_windows_begin(&w, first, count);
  lcfm_astromer2_sums s = {0};
  while (lcfm_window_sampler_held_out(a->sampler, &w, &a->batch)) {
    lcfm_astromer2_step(a->model, MPI_COMM_SELF, &a->batch, a->batch.rows, 0, a->seed, 0);
    lcfm_astromer2_accumulate(a->model, &a->batch, &s);
  }
  double objects = (double)w.objects;
  lcfm_held_out_windows_end(&w);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &s, LCFM_ASTRO_SUMS, MPI_DOUBLE, MPI_SUM, a->comm));
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &objects, 1, MPI_DOUBLE, MPI_SUM, a->comm));
  if (s.windows == 0) {
    lcfm_log("no held-out windows to score (validation_fraction = 0?)");
    return;
  }
  double loss, rmse, r2;
  lcfm_astromer2_metrics(&s, &loss, &rmse, &r2);
  lcfm_log(
      "held-out score of the best model (step %lld): %.0f windows of %.0f objects, %.0f probed points: "
      "weighted RMSE %.5f, RMSE %.5f, R^2 %.4f",
      (long long)best_step, s.windows, objects, s.points, loss, rmse, r2);
}

/* Collective: the bytes and time of assembling a training batch, the most of any rank. */
static void report_reads(const astro_run *a) {
  double mine[2] = {a->steps ? (double)a->bytes / (double)a->steps : 0,
                    a->steps ? a->seconds / (double)a->steps : 0};
  double most[2];
  LCFM_CHECK_MPI(MPI_Allreduce(mine, most, 2, MPI_DOUBLE, MPI_MAX, a->comm));
  lcfm_log("data read per rank (the most of any rank): %.1f KiB in %.1f ms per training step",
           most[0] / 1024, 1e3 * most[1]);
}

int lcfm_astromer2_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_train_settings t;
  lcfm_train_settings_read(&t, job);
  lcfm_astromer2_config cfg;
  if (lcfm_astromer2_config_from_job(&cfg, job))
    return LCFM_EXIT_USAGE; /* already checked by the verb */
  const lcfm_settings_train *train_keys = &lcfm_job_settings(job)->train;
  if (train_keys->fields[0]) { /* Astromer 2 trains on whole stores: refuse, not ignore */
    lcfm_job_error(job, "train", "fields",
                   "field selection is not supported for kind = astromer2 yet");
    return LCFM_EXIT_USAGE;
  }
  int64_t windows = train_keys->batch_windows;
  lcfm_nn_set_threads(t.threads);
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_astro_stores stores;
  lcfm_window_sampler sampler;
  char why[2048] = "";
  int64_t validation_windows = train_keys->validation_windows;
  int failed = lcfm_astro_stores_open(&stores, comm, t.store, why, sizeof why);
  if (!failed) {
    failed = lcfm_window_sampler_init(&sampler, &stores, t.seed, t.validation_fraction, cfg.enc.T,
                                      &cfg.probing, validation_windows, why, sizeof why);
    int any =
        0; /* the same draws on every rank: a failure is everyone's, but agree before going on */
    LCFM_CHECK_MPI(MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, comm));
    if (any && !failed)
      lcfm_window_sampler_free(&sampler),
          snprintf(why, sizeof why, "another rank found no training window");
    if (any) lcfm_astro_stores_close(&stores);
    failed = any;
  }
  if (failed) return lcfm_report_failure(lcfm_log_rank() == 0, "lcfm train: %s: %s", t.store, why);
  lcfm_log(
      "train %s: %lld objects in %d store%s, read on demand through their indexes; %lld held-out windows of %d "
      "points per validation%s",
      t.store, (long long)sampler.objects, stores.count, stores.count == 1 ? "" : "s",
      (long long)sampler.eval_count, cfg.enc.T,
      sampler.eval_count ? "" : " (no held-out object found)");
  cfg.enc.max_batch = (int)((windows + ranks - 1) / ranks);
  lcfm_astromer2_model model;
  lcfm_astromer2_init(&model, &cfg, t.seed);
  char *settings = lcfm_astromer2_settings(&cfg),
       *signature = lcfm_model_signature(&model.params, settings);
  lcfm_adam opt = lcfm_train_optimizer(&t, 0.98f, 1e-9f); /* Astromer 2's */
  lcfm_train_state state = lcfm_train_state_fresh();
  lcfm_log(
      "model: %s, %zu parameters, probing %g (keep %g, random %g), batch %lld windows over %d ranks, %d threads each",
      settings, lcfm_nn_params_count(&model.params), cfg.probing.probe, cfg.probing.keep,
      cfg.probing.random, (long long)windows, ranks, t.threads);
  astro_run run = {
      .comm = comm, .model = &model, .sampler = &sampler, .windows = windows, .seed = t.seed};
  lcfm_masked_batch_alloc(&run.batch, cfg.enc.max_batch, cfg.enc.T);
  lcfm_train_hooks hooks = {.model = &run,
                            .params = &model.params,
                            .batch = windows,
                            .unit = "windows",
                            .step = astro_step,
                            .validate = astro_validate};
  int code = lcfm_train_loop(comm, &t, &hooks, &opt, &state, signature, prov);
  report_reads(&run);
  if (code == LCFM_EXIT_OK) {
    lcfm_train_state best;
    lcfm_train_load_best(comm, &t, &model.params, &opt, &state, signature, &best);
    report_held_out(&run, best.step);
    lcfm_log_success("train");
  }
  lcfm_masked_batch_free(&run.batch);
  free(settings), free(signature);
  lcfm_astromer2_free(&model);
  lcfm_window_sampler_free(&sampler);
  lcfm_astro_stores_close(&stores);
  return code;
}
