/* trainer.h: `lcfm train`: the training loop every model shares (each model plugs into it through
 * lcfm_train_hooks: the causal model and its baseline here, Astromer 2 in astromer_train.h), and
 * the data-parallel training of the causal model. The verb looks the model up in model_kind.h.
 *
 * Every step: each rank assembles its slots of the global batch of triplets (train.h), runs
 * lcfm_causal_step, the gradients are summed with one MPI_Allreduce of the flat buffer, and
 * Adam updates every replica identically. Validation (a fixed set of triplets of held-out
 * sources) runs every validation_every steps; the best model is written to NAME.best.h5 and
 * training stops after `patience` evaluations without improvement. Checkpoints (NAME) are
 * written every checkpoint_minutes, at the end, and when SIGTERM or SIGUSR1 arrives (then the
 * run exits with LCFM_EXIT_REQUEUE = 75). A run whose checkpoint exists resumes from it and
 * continues exactly as if it had not stopped (same rank count and threads). On resume, the [train]
 * keys that change neither the model nor its data (steps, learning_rate, weight_decay,
 * max_grad_norm, validation_every, patience, checkpoint_minutes, log_every, threads) take the
 * job's value, each change logged; any other [train] or [model] key, or [job] seed, that differs
 * from the checkpoint's recorded job refuses the resume. A non-finite loss stops the run with
 * exit code 1 and leaves the last good checkpoint untouched (the log says whether one exists). At the end the
 * trainer reports how well each latent identifies the instrument (lcfm_latent_separation).
 */
#ifndef LCFM_TRAINER_H
#define LCFM_TRAINER_H

#include <mpi.h>

#include "lcfm/job.h"
#include "lcfm/models.h"
#include "lcfm/provenance.h"
#include "lcfm/train.h"

/* [train] keys every model uses. */
typedef struct {
  const char *store, *checkpoint;
  char best_path[4096]; /* NAME.best.h5 beside the checkpoint */
  int64_t steps, validation_every, patience, log_every;
  double lr, weight_decay, max_grad_norm, validation_fraction, checkpoint_minutes;
  int threads, resume;
  uint64_t seed;
} lcfm_train_settings;

void lcfm_train_settings_read(lcfm_train_settings *t, const lcfm_job *job);
/* Adam with the run's learning rate and weight decay, beta1 0.9 and the model's beta2 and eps. */
lcfm_adam lcfm_train_optimizer(const lcfm_train_settings *t, float beta2, float eps);
/* The state of a run at step 0 (no best validation yet). */
lcfm_train_state lcfm_train_state_fresh(void);

/* A global loss and its parts, as text for the log ("recon 0.01 star 2.3 instr 2.1"). */
typedef struct {
  double total;
  char terms[192];
} lcfm_train_loss;

/* What the shared loop needs from a model. Both callbacks are collective and return the GLOBAL
 * loss (the same value on every rank). step() zeroes the gradients and accumulates this rank's
 * share of the global loss's gradient; the loop then sums them over ranks and steps Adam. */
typedef struct {
  void *model;
  lcfm_nn_params *params;
  int64_t batch;    /* items per global step, for the rate in the log */
  const char *unit; /* what an item is: "triplets", "windows" */
  lcfm_train_loss (*step)(void *model, int64_t step);
  lcfm_train_loss (*validate)(void *model); /* lower is better; drives best checkpoints */
} lcfm_train_hooks;

/* Collective: one MPI_Allreduce of the flat gradient buffer, clipping (max_grad_norm > 0), Adam. */
void lcfm_train_update(MPI_Comm comm, lcfm_nn_params *p, lcfm_adam *opt, double max_grad_norm);
/* Collective: one optimizer step of the loop: h->step at global step `step`, then, when its
 * loss is finite, lcfm_train_update. Returns the global loss (not finite: nothing updated). */
lcfm_train_loss lcfm_train_loop_step(MPI_Comm comm, const lcfm_train_hooks *h, lcfm_adam *opt,
                                     int64_t step, double max_grad_norm);
/* Collective: the loop of every model: resume from t->checkpoint (when it exists and t->resume),
 * steps until t->steps, progress lines, validation every validation_every steps with NAME.best.h5
 * and early stopping, periodic and end-of-run checkpoints, SIGTERM/SIGUSR1 -> checkpoint and
 * LCFM_EXIT_REQUEUE, a non-finite loss -> LCFM_EXIT_RUNTIME with the last checkpoint untouched.
 * Returns the exit code. */
int lcfm_train_loop(MPI_Comm comm, const lcfm_train_settings *t, const lcfm_train_hooks *h,
                    lcfm_adam *opt, lcfm_train_state *state, const char *signature,
                    const lcfm_provenance *prov);
/* Collective, after the loop: loads NAME.best.h5 into p when validation ever ran (returns 1, with
 * its state in *best_state) or leaves p alone (returns 0, *best_state = *state). */
int lcfm_train_load_best(MPI_Comm comm, const lcfm_train_settings *t, lcfm_nn_params *p,
                         const lcfm_adam *opt, const lcfm_train_state *state, const char *signature,
                         lcfm_train_state *best_state);

/* This rank's slots [first, first + count) of a global batch of `total` triplets. */
void lcfm_train_slots(int64_t total, MPI_Comm comm, int64_t *first, int64_t *count);
/* Fills b with slots [first, first + count) of `step` of the training (0) or validation (1) split. */
void lcfm_train_assemble(lcfm_batch_rows *b, const lcfm_sampler *s, int split, int64_t step,
                         int64_t first, int64_t count, int T);

/* ---- the causal model on the shared loop ---- */
/* Its hooks' state: global batches of `batch` triplets, this rank's slots assembled into `rows`. */
typedef struct {
  MPI_Comm comm;
  lcfm_causal_model *model;
  const lcfm_sampler *sampler;
  lcfm_batch_rows rows;
  int64_t batch, validation_triplets;
  uint64_t seed;
  lcfm_causal_loss last; /* the terms of the latest training step */
} lcfm_causal_trainer;

void lcfm_causal_trainer_init(lcfm_causal_trainer *c, MPI_Comm comm, lcfm_causal_model *m,
                              const lcfm_sampler *s, int64_t batch, int64_t validation_triplets,
                              uint64_t seed);
void lcfm_causal_trainer_free(lcfm_causal_trainer *c);
/* The hooks of lcfm_train_loop (and lcfm_train_loop_step) for c. */
lcfm_train_hooks lcfm_causal_trainer_hooks(lcfm_causal_trainer *c);

/* Collective: nearest-centroid instrument-ID accuracy of the validation objects (window at 0),
 * centroids from the training objects: accuracy[0] from z_star (or the baseline's z),
 * accuracy[1] from z_instr (-1 for the baseline); *chance = 1 / instruments. */
void lcfm_latent_separation(MPI_Comm comm, lcfm_causal_model *m, const lcfm_sampler *s,
                            double accuracy[2], double *chance);

/* `lcfm train` for [model] kind = causal or baseline (their entries in model_kind.h); collective;
 * returns the exit code. */
int lcfm_causal_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

/* `lcfm train`: collective; returns the process exit code (0, 1, 2 or LCFM_EXIT_REQUEUE). Runs
 * the train operation of the job's [model] kind (model_kind.h). */
int lcfm_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
