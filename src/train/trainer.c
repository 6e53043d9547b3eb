/* trainer.c: the training loop `lcfm train` shares between models, and the causal model's part of
 * it (see trainer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/astromer.h"
#include "lcfm/log.h"
#include "lcfm/machine.h"
#include "lcfm/models.h"
#include "lcfm/train.h"
#include "lcfm/trainer.h"

void lcfm_train_settings_read(lcfm_train_settings *t, const lcfm_job *job) {
  t->store = lcfm_job_string(job, "train", "store");
  t->checkpoint = lcfm_job_string(job, "train", "checkpoint");
  lcfm_checkpoint_best_path(t->checkpoint, t->best_path, sizeof t->best_path);
  t->steps = lcfm_job_int(job, "train", "steps");
  t->lr = lcfm_job_real(job, "train", "learning_rate");
  t->weight_decay = lcfm_job_real(job, "train", "weight_decay");
  t->max_grad_norm = lcfm_job_real(job, "train", "max_grad_norm");
  t->validation_fraction = lcfm_job_real(job, "train", "validation_fraction");
  t->validation_every = lcfm_job_int(job, "train", "validation_every");
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

void lcfm_train_slots(int64_t total, MPI_Comm comm, int64_t *first, int64_t *count) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  *first = total * rank / ranks;
  *count = total * (rank + 1) / ranks - *first;
}

void lcfm_train_update(MPI_Comm comm, lcfm_nn_params *p, lcfm_adam *opt, double max_grad_norm) {
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, p->grads, (int)p->total, MPI_FLOAT, MPI_SUM, comm));
  if (max_grad_norm > 0) lcfm_nn_clip_grad_norm(p, max_grad_norm);
  lcfm_adam_step(opt, p);
}

lcfm_causal_loss lcfm_train_step(MPI_Comm comm, lcfm_causal_model *m, lcfm_adam *opt, const lcfm_sampler *s,
                                 lcfm_batch_rows *b, int64_t batch, int64_t step, uint64_t seed, double max_grad_norm) {
  int64_t first, count;
  lcfm_train_slots(batch, comm, &first, &count);
  lcfm_train_assemble(b, s, 0, step, first, count, m->cfg.T);
  lcfm_causal_loss l = lcfm_causal_step(m, comm, b->times, b->values, b->mask, b->source, b->instrument, b->rows, 1,
                                        seed, (uint64_t)step);
  if (!isfinite(l.total)) return l; /* every rank sees the same global loss: all stop together */
  lcfm_train_update(comm, &m->params, opt, max_grad_norm);
  return l;
}

/* ---- the shared loop ---- */

/* Rank 0's clock decides, so every rank takes the same branch. */
static int checkpoint_due(MPI_Comm comm, double *last, double minutes) {
  int due = minutes > 0 && lcfm_wtime() - *last >= 60.0 * minutes;
  LCFM_CHECK_MPI(MPI_Bcast(&due, 1, MPI_INT, 0, comm));
  if (due) *last = lcfm_wtime();
  return due;
}

typedef struct {
  MPI_Comm comm;
  const lcfm_train_settings *t;
  const lcfm_train_hooks *h;
  lcfm_adam *opt;
  lcfm_train_state *state;
  const char *signature;
  const lcfm_provenance *prov;
  int64_t saved_step; /* step of the checkpoint at t->checkpoint from this run or the resumed one; -1: none */
} run_context;

static void save(run_context *r, const char *path, const char *why) {
  lcfm_checkpoint_write(path, r->h->params, r->opt, r->state, r->signature, r->prov);
  lcfm_log("checkpoint %s at step %lld (%s)", path, (long long)r->state->step, why);
  if (path == r->t->checkpoint) r->saved_step = r->state->step;
}

/* Returns 1 when training should stop early. */
static int evaluate(run_context *r) {
  lcfm_train_loss v = r->h->validate(r->h->model);
  lcfm_train_state *st = r->state;
  int better = st->best_step < 0 || v.total < st->best_validation;
  lcfm_log("validation at step %lld: loss %.5f (%s)%s", (long long)st->step, v.total, v.terms,
           better ? " best so far" : "");
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

static void log_step(const run_context *r, const lcfm_train_loss *l, double start, int64_t first_step) {
  double seconds = lcfm_wtime() - start;
  int64_t done = r->state->step - first_step, left = r->t->steps - r->state->step;
  double rate = seconds > 0 ? (double)(done * r->h->batch) / seconds : 0;
  double eta = done > 0 ? seconds / (double)done * (double)left : 0;
  lcfm_log("step %lld/%lld loss %.5f (%s) %.1f %s/s ETA %.0fs", (long long)r->state->step, (long long)r->t->steps,
           l->total, l->terms, rate, r->h->unit, eta);
}

/* The step loop; returns the exit code. */
static int step_loop(run_context *r) {
  const lcfm_train_settings *t = r->t;
  double start = lcfm_wtime(), last_checkpoint = start;
  int64_t first_step = r->state->step;
  int code = LCFM_EXIT_OK, stop = 0;
  while (r->state->step < t->steps && !stop) {
    lcfm_train_loss l = r->h->step(r->h->model, r->state->step);
    if (!isfinite(l.total)) { /* every rank sees the same global loss: all stop together */
      if (r->saved_step >= 0)
        lcfm_log("non-finite loss at step %lld (%s); the last good checkpoint %s (step %lld) is kept",
                 (long long)r->state->step, l.terms, t->checkpoint, (long long)r->saved_step);
      else
        lcfm_log("non-finite loss at step %lld (%s); no checkpoint was written by this run, so none is kept",
                 (long long)r->state->step, l.terms);
      code = LCFM_EXIT_RUNTIME;
      break;
    }
    lcfm_train_update(r->comm, r->h->params, r->opt, t->max_grad_norm);
    r->state->step++;
    if (r->state->step % t->log_every == 0 || r->state->step == t->steps) log_step(r, &l, start, first_step);
    if (r->state->step % t->validation_every == 0 || r->state->step == t->steps) stop = evaluate(r);
    if (lcfm_signals_pending(r->comm)) {
      save(r, t->checkpoint, "signal: requeue me");
      code = LCFM_EXIT_REQUEUE;
      break;
    }
    if (checkpoint_due(r->comm, &last_checkpoint, t->checkpoint_minutes)) save(r, t->checkpoint, "periodic");
  }
  if (code == LCFM_EXIT_OK) save(r, t->checkpoint, "end of training");
  return code;
}

/* ---- resuming with changed keys ---- */

/* [train] keys that change neither the model nor the data it sees: a resumed run takes the new
 * value (and logs the change). */
static const char *const changeable_keys[] = {"steps", "learning_rate", "weight_decay", "max_grad_norm",
                                              "validation_every", "patience", "checkpoint_minutes", "log_every",
                                              "threads", "resume"};

/* Keys compared with the checkpoint's job: [job] seed and every [train] and [model] key but the
 * checkpoint's own path (a renamed checkpoint is the same run). */
static int key_compared(const lcfm_key_spec *k) {
  if (!strcmp(k->section, "job")) return !strcmp(k->name, "seed");
  return (!strcmp(k->section, "train") && strcmp(k->name, "checkpoint")) || !strcmp(k->section, "model");
}

static int key_may_change(const lcfm_key_spec *k) {
  if (strcmp(k->section, "train")) return 0;
  for (size_t i = 0; i < sizeof changeable_keys / sizeof *changeable_keys; i++)
    if (!strcmp(k->name, changeable_keys[i])) return 1;
  return 0;
}

/* The value of key k in a job as text ("" when it has none). */
static void key_value_text(const lcfm_job *job, const lcfm_key_spec *k, char *buf, size_t len) {
  if (k->type == LCFM_KEY_STRING) snprintf(buf, len, "%s", lcfm_job_string(job, k->section, k->name));
  else if (!k->default_value) snprintf(buf, len, "%s", ""); /* required keys are strings */
  else if (k->type == LCFM_KEY_INT) snprintf(buf, len, "%lld", (long long)lcfm_job_int(job, k->section, k->name));
  else if (k->type == LCFM_KEY_REAL) snprintf(buf, len, "%g", lcfm_job_real(job, k->section, k->name));
  else snprintf(buf, len, "%s", lcfm_job_bool(job, k->section, k->name) ? "true" : "false");
}

/* Rank 0: compares the job recorded in the checkpoint with this run's; logs each key that changed
 * and may, and reports the first that may not. Returns 1 to refuse the resume. */
static int resume_changes(const char *checkpoint, const char *job_text) {
  char *recorded = lcfm_checkpoint_job_text(checkpoint);
  int problems = 0;
  lcfm_job *before = recorded ? lcfm_job_parse_text(checkpoint, recorded, 0, NULL, NULL, &problems) : NULL;
  lcfm_job *now = before ? lcfm_job_parse_text("this run's job", job_text, 0, NULL, NULL, &problems) : NULL;
  free(recorded);
  if (!before || !now) {
    lcfm_log("resume: %s records no job this lcfm reads; changed keys are not checked", checkpoint);
    lcfm_job_free(before), lcfm_job_free(now);
    return 0;
  }
  int refused = 0;
  for (int i = 0; i < lcfm_job_key_count && !refused; i++) {
    const lcfm_key_spec *k = &lcfm_job_keys[i];
    if (!key_compared(k)) continue;
    char was[1024], is[1024];
    key_value_text(before, k, was, sizeof was);
    key_value_text(now, k, is, sizeof is);
    if (!strcmp(was, is)) continue;
    if (key_may_change(k)) {
      lcfm_log("resume: [%s] %s %s -> %s", k->section, k->name, was, is);
    } else {
      lcfm_report_failure(1, "lcfm train: cannot resume %s: [%s] %s was %s and is now %s, which changes the model or "
                          "the data it is trained on; restore it, or start a new run (another [train] checkpoint, or "
                          "resume = false)", checkpoint, k->section, k->name, was, is);
      refused = 1;
    }
  }
  lcfm_job_free(before), lcfm_job_free(now);
  return refused;
}

/* Loads the checkpoint when resuming; returns 0, or an exit code after reporting. */
static int maybe_resume(run_context *r) {
  const lcfm_train_settings *t = r->t;
  int exists = access(t->checkpoint, F_OK) == 0;
  LCFM_CHECK_MPI(MPI_Bcast(&exists, 1, MPI_INT, 0, r->comm));
  if (!exists || !t->resume) return 0;
  char why[2048] = "";
  int failed = lcfm_checkpoint_read(t->checkpoint, r->h->params, r->opt, r->state, r->signature, why, sizeof why);
  int any_failed = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, r->comm));
  if (any_failed) return lcfm_report_failure(lcfm_log_rank() == 0, "lcfm train: cannot resume: %s", why);
  lcfm_log("resumed from %s at step %lld", t->checkpoint, (long long)r->state->step);
  r->saved_step = r->state->step;
  /* The job's optimizer settings are in force, not the checkpoint's (resume_changes logs the change). */
  r->opt->lr = (float)t->lr, r->opt->weight_decay = (float)t->weight_decay;
  int refused = lcfm_log_rank() == 0 ? resume_changes(t->checkpoint, r->prov->job_text) : 0;
  LCFM_CHECK_MPI(MPI_Bcast(&refused, 1, MPI_INT, 0, r->comm));
  return refused ? LCFM_EXIT_RUNTIME : 0;
}

int lcfm_train_loop(MPI_Comm comm, const lcfm_train_settings *t, const lcfm_train_hooks *h, lcfm_adam *opt,
                    lcfm_train_state *state, const char *signature, const lcfm_provenance *prov) {
  run_context r = {comm, t, h, opt, state, signature, prov, -1};
  lcfm_signals_install();
  int code = maybe_resume(&r);
  return code ? code : step_loop(&r);
}

int lcfm_train_load_best(MPI_Comm comm, const lcfm_train_settings *t, lcfm_nn_params *p, const lcfm_adam *opt,
                         const lcfm_train_state *state, const char *signature, lcfm_train_state *best_state) {
  lcfm_adam best_opt = *opt;
  *best_state = *state;
  if (state->best_step < 0) return 0;
  char why[2048] = "";
  int have_best = lcfm_checkpoint_read(t->best_path, p, &best_opt, best_state, signature, why, sizeof why) == 0;
  int all_best = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&have_best, &all_best, 1, MPI_INT, MPI_MIN, comm));
  LCFM_CHECK(all_best, "cannot reload the best checkpoint %s: %s", t->best_path, why);
  return 1;
}

/* ---- the causal model's hooks ---- */

typedef struct {
  MPI_Comm comm;
  lcfm_causal_model *model;
  const lcfm_sampler *sampler;
  lcfm_batch_rows rows;
  int64_t batch, validation_triplets;
  uint64_t seed;
} causal_run;

static lcfm_train_loss causal_terms(const lcfm_causal_loss *l) {
  lcfm_train_loss out = {.total = l->total};
  int n = snprintf(out.terms, sizeof out.terms, "recon %.5f star %.4f instr %.4f", l->recon, l->star, l->instr);
  if (l->indep > 0 && n > 0 && (size_t)n < sizeof out.terms) /* only with [model] lambda_independence > 0 */
    snprintf(out.terms + n, sizeof out.terms - (size_t)n, " indep %.4f", l->indep);
  return out;
}

static lcfm_train_loss causal_step(void *context, int64_t step) {
  causal_run *c = context;
  int64_t first, count;
  lcfm_train_slots(c->batch, c->comm, &first, &count);
  lcfm_train_assemble(&c->rows, c->sampler, 0, step, first, count, c->model->cfg.T);
  lcfm_causal_loss l = lcfm_causal_step(c->model, c->comm, c->rows.times, c->rows.values, c->rows.mask, c->rows.source,
                                        c->rows.instrument, c->rows.rows, 1, c->seed, (uint64_t)step);
  return causal_terms(&l);
}

/* Mean validation loss over the fixed validation triplets, in batches of the training size. */
static lcfm_train_loss causal_validate(void *context) {
  causal_run *c = context;
  lcfm_batch_rows *b = &c->rows;
  lcfm_causal_loss sum = {0};
  int64_t batches = (c->validation_triplets + c->batch - 1) / c->batch;
  for (int64_t k = 0; k < batches; k++) {
    int64_t first, count;
    lcfm_train_slots(c->batch, c->comm, &first, &count);
    lcfm_train_assemble(b, c->sampler, 1, k, first, count, c->model->cfg.T);
    lcfm_causal_loss l = lcfm_causal_step(c->model, c->comm, b->times, b->values, b->mask, b->source, b->instrument,
                                          b->rows, 0, c->seed, 0);
    sum.total += l.total / batches, sum.recon += l.recon / batches, sum.star += l.star / batches, sum.instr += l.instr / batches;
    sum.indep += l.indep / batches;
  }
  return causal_terms(&sum);
}

static void report_separation(MPI_Comm comm, lcfm_causal_model *m, const lcfm_sampler *s, int64_t best_step) {
  double accuracy[2], chance;
  lcfm_latent_separation(comm, m, s, accuracy, &chance);
  if (m->cfg.kind == LCFM_CAUSAL)
    lcfm_log("latent separation of the best model (step %lld; validation objects, nearest instrument centroid): "
             "z_instr accuracy %.3f, z_star accuracy %.3f (chance %.3f)", (long long)best_step, accuracy[1],
             accuracy[0], chance);
  else
    lcfm_log("latent separation of the best model (step %lld; validation objects, nearest instrument centroid): "
             "z accuracy %.3f (chance %.3f)", (long long)best_step, accuracy[0], chance);
}

static int causal_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_train_settings t;
  lcfm_train_settings_read(&t, job);
  int64_t batch = lcfm_job_int(job, "train", "batch_triplets");
  lcfm_causal_config cfg;
  if (lcfm_causal_config_from_job(&cfg, job)) return LCFM_EXIT_USAGE; /* already checked by the verb */
  lcfm_nn_set_threads(t.threads);
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_sampler sampler;
  char why[2048] = "";
  if (lcfm_train_data_open_fields(comm, t.store, lcfm_job_string(job, "train", "fields"), &sampler, t.seed,
                                  t.validation_fraction, why, sizeof why))
    return lcfm_report_failure(lcfm_log_rank() == 0, "lcfm train: %s: %s", t.store, why);
  cfg.max_rows = (int)(3 * ((batch + ranks - 1) / ranks));
  lcfm_causal_model model;
  lcfm_causal_init(&model, &cfg, (int)(3 * batch), t.seed);
  char *settings = lcfm_causal_settings(&cfg);
  char *signature = lcfm_model_signature(&model.params, settings);
  lcfm_adam opt = {.lr = (float)t.lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = (float)t.weight_decay};
  lcfm_train_state state = {.step = 0, .best_step = -1, .best_validation = 0, .stale_evaluations = 0};
  lcfm_log("model: %s, %zu parameters, batch %lld triplets over %d ranks, %d threads each", settings,
           lcfm_nn_params_count(&model.params), (long long)batch, ranks, t.threads);
  causal_run run = {.comm = comm, .model = &model, .sampler = &sampler, .batch = batch,
                    .validation_triplets = lcfm_job_int(job, "train", "validation_triplets"), .seed = t.seed};
  int64_t first, count;
  lcfm_train_slots(batch, comm, &first, &count);
  lcfm_batch_rows_alloc(&run.rows, count, cfg.T);
  lcfm_train_hooks hooks = {.model = &run, .params = &model.params, .batch = batch, .unit = "triplets",
                            .step = causal_step, .validate = causal_validate};
  int code = lcfm_train_loop(comm, &t, &hooks, &opt, &state, signature, prov);
  if (code == LCFM_EXIT_OK) {
    /* Early stopping's answer is the best model: report on it. */
    lcfm_train_state best;
    lcfm_train_load_best(comm, &t, &model.params, &opt, &state, signature, &best);
    report_separation(comm, &model, &sampler, best.step);
    lcfm_train_data_report(comm, &sampler);
    lcfm_log_success("train");
  }
  lcfm_batch_rows_free(&run.rows);
  free(settings), free(signature);
  lcfm_causal_free(&model);
  lcfm_sampler_free(&sampler);
  return code;
}

int lcfm_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_log_machine((int)lcfm_job_int(job, "train", "threads"));
  lcfm_check_node_placement(comm, (int)lcfm_job_int(job, "train", "threads"));
  if (lcfm_model_is_astromer2(job)) return lcfm_astromer2_train_run(comm, job, prov);
  return causal_train_run(comm, job, prov);
}
