/* train_loop.c: the training loop every model shares: settings, the optimizer step, validation
 * and early stopping, checkpoints, resume and signals (see trainer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/log.h"
#include "lcfm/train.h"
#include "lcfm/trainer.h"

void lcfm_train_settings_read(lcfm_train_settings *t, const lcfm_job *job) {
  const lcfm_settings_train *train_keys = &lcfm_job_settings(job)->train;
  t->store = train_keys->store;
  t->checkpoint = train_keys->checkpoint;
  lcfm_checkpoint_best_path(t->checkpoint, t->best_path, sizeof t->best_path);
  t->steps = train_keys->steps;
  t->lr = train_keys->learning_rate;
  t->weight_decay = train_keys->weight_decay;
  t->max_grad_norm = train_keys->max_grad_norm;
  t->validation_fraction = train_keys->validation_fraction;
  t->validation_every = train_keys->validation_every;
  t->patience = train_keys->patience;
  t->checkpoint_minutes = train_keys->checkpoint_minutes;
  t->log_every = train_keys->log_every;
  t->threads = (int)train_keys->threads;
  t->resume = train_keys->resume;
  t->seed = lcfm_job_seed(job);
}

lcfm_adam lcfm_train_optimizer(const lcfm_train_settings *t, float beta2, float eps) {
  return (lcfm_adam){.lr = (float)t->lr,
                     .beta1 = 0.9f,
                     .beta2 = beta2,
                     .eps = eps,
                     .weight_decay = (float)t->weight_decay};
}

lcfm_train_state lcfm_train_state_fresh(void) {
  return (lcfm_train_state){
      .step = 0, .best_step = -1, .best_validation = 0, .stale_evaluations = 0};
}

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

lcfm_train_loss lcfm_train_loop_step(MPI_Comm comm, const lcfm_train_hooks *h, lcfm_adam *opt,
                                     int64_t step, double max_grad_norm) {
  lcfm_train_loss l = h->step(h->model, step);
  if (!isfinite(l.total)) return l; /* every rank sees the same global loss: all stop together */
  lcfm_train_update(comm, h->params, opt, max_grad_norm);
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
  int64_t
      saved_step; /* step of the checkpoint at t->checkpoint from this run or the resumed one; -1: none */
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

static void log_step(const run_context *r, const lcfm_train_loss *l, double start,
                     int64_t first_step) {
  double seconds = lcfm_wtime() - start;
  int64_t done = r->state->step - first_step, left = r->t->steps - r->state->step;
  double rate = seconds > 0 ? (double)(done * r->h->batch) / seconds : 0;
  double eta = done > 0 ? seconds / (double)done * (double)left : 0;
  lcfm_log("step %lld/%lld loss %.5f (%s) %.1f %s/s ETA %.0fs", (long long)r->state->step,
           (long long)r->t->steps, l->total, l->terms, rate, r->h->unit, eta);
}

/* The step loop; returns the exit code. */
static int step_loop(run_context *r) {
  const lcfm_train_settings *t = r->t;
  double start = lcfm_wtime(), last_checkpoint = start;
  int64_t first_step = r->state->step;
  int code = LCFM_EXIT_OK, stop = 0;
  while (r->state->step < t->steps && !stop) {
    lcfm_train_loss l =
        lcfm_train_loop_step(r->comm, r->h, r->opt, r->state->step, t->max_grad_norm);
    if (!isfinite(l.total)) {
      if (r->saved_step >= 0)
        lcfm_log(
            "non-finite loss at step %lld (%s); the last good checkpoint %s (step %lld) is kept",
            (long long)r->state->step, l.terms, t->checkpoint, (long long)r->saved_step);
      else
        lcfm_log(
            "non-finite loss at step %lld (%s); no checkpoint was written by this run, so none is kept",
            (long long)r->state->step, l.terms);
      code = LCFM_EXIT_RUNTIME;
      break;
    }
    r->state->step++;
    if (r->state->step % t->log_every == 0 || r->state->step == t->steps)
      log_step(r, &l, start, first_step);
    if (r->state->step % t->validation_every == 0 || r->state->step == t->steps) stop = evaluate(r);
    if (lcfm_signals_pending(r->comm)) {
      save(r, t->checkpoint, "signal: requeue me");
      code = LCFM_EXIT_REQUEUE;
      break;
    }
    if (checkpoint_due(r->comm, &last_checkpoint, t->checkpoint_minutes))
      save(r, t->checkpoint, "periodic");
  }
  if (code == LCFM_EXIT_OK) save(r, t->checkpoint, "end of training");
  return code;
}

/* ---- resuming with changed keys ---- */

/* [train] keys that change neither the model nor the data it sees: a resumed run takes the new
 * value (and logs the change). */
static const char *const changeable_keys[] = {
    "steps",    "learning_rate",      "weight_decay", "max_grad_norm", "validation_every",
    "patience", "checkpoint_minutes", "log_every",    "threads",       "resume"};

/* Keys compared with the checkpoint's job: [job] seed and every [train] and [model] key but the
 * checkpoint's own path (a renamed checkpoint is the same run). */
static int key_compared(const lcfm_key_spec *k) {
  if (!strcmp(k->section, "job")) return !strcmp(k->name, "seed");
  return (!strcmp(k->section, "train") && strcmp(k->name, "checkpoint")) ||
         !strcmp(k->section, "model");
}

static int key_may_change(const lcfm_key_spec *k) {
  if (strcmp(k->section, "train")) return 0;
  for (size_t i = 0; i < sizeof changeable_keys / sizeof *changeable_keys; i++)
    if (!strcmp(k->name, changeable_keys[i])) return 1;
  return 0;
}

/* The value of key k in a job as text ("" when it has none). */
static void key_value_text(const lcfm_job *job, const lcfm_key_spec *k, char *buf, size_t len) {
  lcfm_job_format_value(job, k, buf, len);
}

/* Rank 0: compares the job recorded in the checkpoint with this run's; logs each key that changed
 * and may, and reports the first that may not. Returns 1 to refuse the resume. */
static int resume_changes(const char *checkpoint, const char *job_text) {
  char *recorded = lcfm_checkpoint_job_text(checkpoint);
  int problems = 0;
  lcfm_job *before =
      recorded ? lcfm_job_parse_text(checkpoint, recorded, 0, NULL, NULL, &problems) : NULL;
  lcfm_job *now =
      before ? lcfm_job_parse_text("this run's job", job_text, 0, NULL, NULL, &problems) : NULL;
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
      lcfm_report_failure(
          1,
          "lcfm train: cannot resume %s: [%s] %s was %s and is now %s, which changes the model or "
          "the data it is trained on; restore it, or start a new run (another [train] checkpoint, or "
          "resume = false)",
          checkpoint, k->section, k->name, was, is);
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
  int failed = lcfm_checkpoint_read(t->checkpoint, r->h->params, r->opt, r->state, r->signature,
                                    why, sizeof why);
  int any_failed = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, r->comm));
  if (any_failed)
    return lcfm_report_failure(lcfm_log_rank() == 0, "lcfm train: cannot resume: %s", why);
  lcfm_log("resumed from %s at step %lld", t->checkpoint, (long long)r->state->step);
  r->saved_step = r->state->step;
  /* The job's optimizer settings are in force, not the checkpoint's (resume_changes logs the change). */
  r->opt->lr = (float)t->lr, r->opt->weight_decay = (float)t->weight_decay;
  int refused = lcfm_log_rank() == 0 ? resume_changes(t->checkpoint, r->prov->job_text) : 0;
  LCFM_CHECK_MPI(MPI_Bcast(&refused, 1, MPI_INT, 0, r->comm));
  return refused ? LCFM_EXIT_RUNTIME : 0;
}

int lcfm_train_loop(MPI_Comm comm, const lcfm_train_settings *t, const lcfm_train_hooks *h,
                    lcfm_adam *opt, lcfm_train_state *state, const char *signature,
                    const lcfm_provenance *prov) {
  run_context r = {comm, t, h, opt, state, signature, prov, -1};
  lcfm_signals_install();
  int code = maybe_resume(&r);
  return code ? code : step_loop(&r);
}

int lcfm_train_load_best(MPI_Comm comm, const lcfm_train_settings *t, lcfm_nn_params *p,
                         const lcfm_adam *opt, const lcfm_train_state *state, const char *signature,
                         lcfm_train_state *best_state) {
  lcfm_adam best_opt = *opt;
  *best_state = *state;
  if (state->best_step < 0) return 0;
  char why[2048] = "";
  int have_best =
      lcfm_checkpoint_read(t->best_path, p, &best_opt, best_state, signature, why, sizeof why) == 0;
  int all_best = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&have_best, &all_best, 1, MPI_INT, MPI_MIN, comm));
  LCFM_CHECK(all_best, "cannot reload the best checkpoint %s: %s", t->best_path, why);
  return 1;
}
