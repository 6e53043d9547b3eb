/* trainer.c: the training loop of `lcfm train` (see trainer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/log.h"
#include "lcfm/models.h"
#include "lcfm/train.h"
#include "lcfm/trainer.h"

typedef struct {
  const char *store, *checkpoint;
  char best_path[4096];
  int64_t batch, steps, validation_every, validation_triplets, patience, log_every;
  double lr, weight_decay, max_grad_norm, validation_fraction, checkpoint_minutes;
  int threads, resume;
  uint64_t seed;
} train_settings;

static void read_settings(train_settings *t, const lcfm_job *job) {
  t->store = lcfm_job_string(job, "train", "store");
  t->checkpoint = lcfm_job_string(job, "train", "checkpoint");
  const char *dot = strrchr(t->checkpoint, '.');
  int stem = dot && !strcmp(dot, ".h5") ? (int)(dot - t->checkpoint) : (int)strlen(t->checkpoint);
  snprintf(t->best_path, sizeof t->best_path, "%.*s.best.h5", stem, t->checkpoint);
  t->batch = lcfm_job_int(job, "train", "batch_triplets");
  t->steps = lcfm_job_int(job, "train", "steps");
  t->lr = lcfm_job_real(job, "train", "learning_rate");
  t->weight_decay = lcfm_job_real(job, "train", "weight_decay");
  t->max_grad_norm = lcfm_job_real(job, "train", "max_grad_norm");
  t->validation_fraction = lcfm_job_real(job, "train", "validation_fraction");
  t->validation_every = lcfm_job_int(job, "train", "validation_every");
  t->validation_triplets = lcfm_job_int(job, "train", "validation_triplets");
  t->patience = lcfm_job_int(job, "train", "patience");
  t->checkpoint_minutes = lcfm_job_real(job, "train", "checkpoint_minutes");
  t->log_every = lcfm_job_int(job, "train", "log_every");
  t->threads = (int)lcfm_job_int(job, "train", "threads");
  t->resume = lcfm_job_bool(job, "train", "resume");
  t->seed = lcfm_job_seed(job);
}

void lcfm_batch_rows_alloc(lcfm_batch_rows *b, int64_t triplets, int T) {
  size_t rows = (size_t)(3 * (triplets ? triplets : 1));
  b->times = lcfm_malloc(rows * (size_t)T * sizeof *b->times);
  b->values = lcfm_malloc(rows * (size_t)T * sizeof *b->values);
  b->mask = lcfm_malloc(rows * (size_t)T * sizeof *b->mask);
  b->source = lcfm_malloc(rows * sizeof *b->source);
  b->instrument = lcfm_malloc(rows * sizeof *b->instrument);
}

void lcfm_batch_rows_free(lcfm_batch_rows *b) { free(b->times), free(b->values), free(b->mask), free(b->source), free(b->instrument); }

/* Slots [first, first + count) of `step` of the split into b. */
void lcfm_train_assemble(lcfm_batch_rows *b, const lcfm_sampler *s, int split, int64_t step, int64_t first, int64_t count, int T) {
  const lcfm_curves *c = s->curves;
  b->rows = (int)(3 * count);
  for (int64_t i = 0; i < count; i++) {
    lcfm_triplet t = lcfm_sampler_draw(s, split, step, first + i);
    int64_t members[3] = {t.anchor, t.star, t.instrument};
    for (int k = 0; k < 3; k++) {
      int64_t row = 3 * i + k, object = members[k];
      int64_t start = lcfm_sampler_window_start(s, split, step, first + i, k, object, T);
      lcfm_curves_window(c, object, start, T, b->times + row * T, b->values + row * T, b->mask + row * T);
      b->source[row] = c->source[object];
      b->instrument[row] = c->instrument[object];
    }
  }
}

void lcfm_train_slots(int64_t total, MPI_Comm comm, int64_t *first, int64_t *count) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  *first = total * rank / ranks;
  *count = total * (rank + 1) / ranks - *first;
}

lcfm_causal_loss lcfm_train_step(MPI_Comm comm, lcfm_causal_model *m, lcfm_adam *opt, const lcfm_sampler *s,
                                 lcfm_batch_rows *b, int64_t batch, int64_t step, uint64_t seed, double max_grad_norm) {
  int64_t first, count;
  lcfm_train_slots(batch, comm, &first, &count);
  lcfm_train_assemble(b, s, 0, step, first, count, m->cfg.T);
  lcfm_causal_loss l = lcfm_causal_step(m, comm, b->times, b->values, b->mask, b->source, b->instrument, b->rows, 1,
                                        seed, (uint64_t)step);
  if (!isfinite(l.total)) return l; /* every rank sees the same global loss: all stop together */
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, m->params.grads, (int)m->params.total, MPI_FLOAT, MPI_SUM, comm));
  if (max_grad_norm > 0) lcfm_nn_clip_grad_norm(&m->params, max_grad_norm);
  lcfm_adam_step(opt, &m->params);
  return l;
}

/* Mean validation loss over the fixed validation triplets, in batches of the training size. */
static lcfm_causal_loss validate(lcfm_causal_model *m, MPI_Comm comm, const lcfm_sampler *s, const train_settings *t,
                                 lcfm_batch_rows *b) {
  lcfm_causal_loss sum = {0};
  int64_t batches = (t->validation_triplets + t->batch - 1) / t->batch;
  for (int64_t k = 0; k < batches; k++) {
    int64_t first, count;
    lcfm_train_slots(t->batch, comm, &first, &count);
    lcfm_train_assemble(b, s, 1, k, first, count, m->cfg.T);
    lcfm_causal_loss l = lcfm_causal_step(m, comm, b->times, b->values, b->mask, b->source, b->instrument, b->rows, 0, t->seed, 0);
    sum.total += l.total / batches, sum.recon += l.recon / batches, sum.star += l.star / batches, sum.instr += l.instr / batches;
  }
  return sum;
}

/* Rank 0's clock decides, so every rank takes the same branch. */
static int checkpoint_due(MPI_Comm comm, double *last, double minutes) {
  int due = minutes > 0 && lcfm_wtime() - *last >= 60.0 * minutes;
  LCFM_CHECK_MPI(MPI_Bcast(&due, 1, MPI_INT, 0, comm));
  if (due) *last = lcfm_wtime();
  return due;
}

typedef struct {
  MPI_Comm comm;
  const train_settings *t;
  lcfm_causal_model *model;
  lcfm_adam *opt;
  lcfm_train_state *state;
  const char *signature;
  const lcfm_provenance *prov;
} run_context;

static void save(const run_context *r, const char *path, const char *why) {
  lcfm_checkpoint_write(path, &r->model->params, r->opt, r->state, r->signature, r->prov);
  lcfm_log("checkpoint %s at step %lld (%s)", path, (long long)r->state->step, why);
}

/* Returns 1 when training should stop early. */
static int evaluate(const run_context *r, const lcfm_sampler *s, lcfm_batch_rows *b) {
  lcfm_causal_loss v = validate(r->model, r->comm, s, r->t, b);
  lcfm_train_state *st = r->state;
  int better = st->best_step < 0 || v.total < st->best_validation;
  lcfm_log("validation at step %lld: loss %.5f (recon %.5f star %.4f instr %.4f)%s", (long long)st->step, v.total,
           v.recon, v.star, v.instr, better ? " best so far" : "");
  if (better) {
    st->best_validation = v.total, st->best_step = st->step, st->stale_evaluations = 0;
    save(r, r->t->best_path, "best validation");
  } else if (++st->stale_evaluations >= r->t->patience) {
    lcfm_log("early stopping: %lld evaluations without improvement (best %.5f at step %lld)",
             (long long)st->stale_evaluations, st->best_validation, (long long)st->best_step);
    return 1;
  }
  return 0;
}

static void log_step(const run_context *r, const lcfm_causal_loss *l, double start, int64_t first_step) {
  double seconds = lcfm_wtime() - start;
  int64_t done = r->state->step - first_step, left = r->t->steps - r->state->step;
  double rate = seconds > 0 ? (double)(done * r->t->batch) / seconds : 0;
  double eta = done > 0 ? seconds / (double)done * (double)left : 0;
  lcfm_log("step %lld/%lld loss %.5f (recon %.5f star %.4f instr %.4f) %.1f triplets/s ETA %.0fs",
           (long long)r->state->step, (long long)r->t->steps, l->total, l->recon, l->star, l->instr, rate, eta);
}

/* The step loop; returns the exit code. */
static int train_loop(const run_context *r, const lcfm_sampler *s) {
  const train_settings *t = r->t;
  lcfm_causal_model *m = r->model;
  int64_t first, count;
  lcfm_train_slots(t->batch, r->comm, &first, &count);
  lcfm_batch_rows b;
  lcfm_batch_rows_alloc(&b, count, m->cfg.T);
  double start = lcfm_wtime(), last_checkpoint = start;
  int64_t first_step = r->state->step;
  int code = LCFM_EXIT_OK, stop = 0;
  while (r->state->step < t->steps && !stop) {
    lcfm_causal_loss l = lcfm_train_step(r->comm, m, r->opt, s, &b, t->batch, r->state->step, t->seed, t->max_grad_norm);
    if (!isfinite(l.total)) {
      lcfm_log("non-finite loss at step %lld (recon %g star %g instr %g); the last good checkpoint %s is kept",
               (long long)r->state->step, l.recon, l.star, l.instr, t->checkpoint);
      code = LCFM_EXIT_RUNTIME;
      break;
    }
    r->state->step++;
    if (r->state->step % t->log_every == 0 || r->state->step == t->steps) log_step(r, &l, start, first_step);
    if (r->state->step % t->validation_every == 0 || r->state->step == t->steps) stop = evaluate(r, s, &b);
    if (lcfm_signals_pending(r->comm)) {
      save(r, t->checkpoint, "signal: requeue me");
      code = LCFM_EXIT_REQUEUE;
      break;
    }
    if (checkpoint_due(r->comm, &last_checkpoint, t->checkpoint_minutes)) save(r, t->checkpoint, "periodic");
  }
  if (code == LCFM_EXIT_OK) save(r, t->checkpoint, "end of training");
  lcfm_batch_rows_free(&b);
  return code;
}

/* Loads the checkpoint when resuming; returns 0, or an exit code after reporting. */
static int maybe_resume(const run_context *r) {
  const train_settings *t = r->t;
  int exists = access(t->checkpoint, F_OK) == 0;
  LCFM_CHECK_MPI(MPI_Bcast(&exists, 1, MPI_INT, 0, r->comm));
  if (!exists || !t->resume) return 0;
  char why[2048] = "";
  int failed = lcfm_checkpoint_read(t->checkpoint, &r->model->params, r->opt, r->state, r->signature, why, sizeof why);
  int any_failed = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, r->comm));
  if (any_failed) {
    if (lcfm_log_rank() == 0) fprintf(stderr, "lcfm train: cannot resume: %s\nFAILED\n", why);
    return LCFM_EXIT_RUNTIME;
  }
  lcfm_log("resumed from %s at step %lld", t->checkpoint, (long long)r->state->step);
  return 0;
}

int lcfm_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  train_settings t;
  read_settings(&t, job);
  lcfm_causal_config cfg;
  if (lcfm_causal_config_from_job(&cfg, job)) return LCFM_EXIT_USAGE; /* already checked by the verb */
  lcfm_nn_set_threads(t.threads);
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_curves curves;
  char why[2048] = "";
  int failed = lcfm_curves_load(&curves, comm, t.store, why, sizeof why);
  lcfm_sampler sampler;
  if (!failed) failed = lcfm_sampler_init(&sampler, &curves, t.seed, t.validation_fraction, why, sizeof why);
  if (failed) {
    if (lcfm_log_rank() == 0) fprintf(stderr, "lcfm train: %s: %s\nFAILED\n", t.store, why);
    return LCFM_EXIT_RUNTIME;
  }
  lcfm_log("train %s: %lld objects, %lld sources (%lld training / %lld validation anchors), %lld instruments",
           t.store, (long long)curves.count, (long long)sampler.source_count, (long long)sampler.anchor_count[0],
           (long long)sampler.anchor_count[1], (long long)sampler.instrument_count);
  if (sampler.anchor_count[1] == 0) lcfm_log("warning: no validation triplets; raise validation_fraction");
  cfg.max_rows = (int)(3 * ((t.batch + ranks - 1) / ranks));
  lcfm_causal_model model;
  lcfm_causal_init(&model, &cfg, (int)(3 * t.batch), t.seed);
  char *settings = lcfm_causal_settings(&cfg);
  char *signature = lcfm_model_signature(&model.params, settings);
  lcfm_adam opt = {.lr = (float)t.lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = (float)t.weight_decay};
  lcfm_train_state state = {.step = 0, .best_step = -1, .best_validation = 0, .stale_evaluations = 0};
  run_context r = {comm, &t, &model, &opt, &state, signature, prov};
  lcfm_log("model: %s, %zu parameters, batch %lld triplets over %d ranks, %d threads each", settings,
           lcfm_nn_params_count(&model.params), (long long)t.batch, ranks, t.threads);
  lcfm_signals_install();
  int code = maybe_resume(&r);
  if (code == 0) code = train_loop(&r, &sampler);
  if (code == LCFM_EXIT_OK) {
    /* Early stopping's answer is the best model: report on it. */
    lcfm_adam best_opt = opt;
    lcfm_train_state best_state = state;
    int have_best = state.best_step >= 0 &&
                    lcfm_checkpoint_read(t.best_path, &model.params, &best_opt, &best_state, signature, why, sizeof why) == 0;
    int all_best = 0;
    LCFM_CHECK_MPI(MPI_Allreduce(&have_best, &all_best, 1, MPI_INT, MPI_MIN, comm));
    LCFM_CHECK(all_best || state.best_step < 0, "cannot reload the best checkpoint %s: %s", t.best_path, why);
    double accuracy[2], chance;
    lcfm_latent_separation(comm, &model, &sampler, accuracy, &chance);
    if (cfg.kind == LCFM_CAUSAL)
      lcfm_log("latent separation of the best model (step %lld; validation objects, nearest instrument centroid): "
               "z_instr accuracy %.3f, z_star accuracy %.3f (chance %.3f)", (long long)best_state.step, accuracy[1],
               accuracy[0], chance);
    else
      lcfm_log("latent separation of the best model (step %lld; validation objects, nearest instrument centroid): "
               "z accuracy %.3f (chance %.3f)", (long long)best_state.step, accuracy[0], chance);
    lcfm_log_success("train");
  }
  free(settings), free(signature);
  lcfm_causal_free(&model);
  lcfm_sampler_free(&sampler);
  lcfm_curves_free(&curves);
  return code;
}
