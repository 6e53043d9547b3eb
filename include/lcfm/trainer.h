/* trainer.h: `lcfm train`: data-parallel training of the causal model or its baseline.
 *
 * Every step: each rank assembles its slots of the global batch of triplets (train.h), runs
 * lcfm_causal_step, the gradients are summed with one MPI_Allreduce of the flat buffer, and
 * Adam updates every replica identically. Validation (a fixed set of triplets of held-out
 * sources) runs every validation_every steps; the best model is written to NAME.best.h5 and
 * training stops after `patience` evaluations without improvement. Checkpoints (NAME) are
 * written every checkpoint_minutes, at the end, and when SIGTERM or SIGUSR1 arrives (then the
 * run exits with LCFM_EXIT_REQUEUE = 75). A run whose checkpoint exists resumes from it and
 * continues exactly as if it had not stopped (same rank count and threads). A non-finite loss
 * stops the run with exit code 1 and leaves the last good checkpoint untouched. At the end the
 * trainer reports how well each latent identifies the instrument (lcfm_latent_separation).
 */
#ifndef LCFM_TRAINER_H
#define LCFM_TRAINER_H

#include <mpi.h>

#include "lcfm/job.h"
#include "lcfm/models.h"
#include "lcfm/provenance.h"
#include "lcfm/train.h"

/* One rank's part of a batch: 3 rows per triplet, slot-major (anchor, same star, same instrument). */
typedef struct {
  int rows;
  float *times, *values, *mask;        /* [rows, T] */
  int64_t *source, *instrument;        /* [rows]: the InfoNCE keys */
} lcfm_batch_rows;

void lcfm_batch_rows_alloc(lcfm_batch_rows *b, int64_t triplets, int T);
void lcfm_batch_rows_free(lcfm_batch_rows *b);
/* This rank's slots [first, first + count) of a global batch of `total` triplets. */
void lcfm_train_slots(int64_t total, MPI_Comm comm, int64_t *first, int64_t *count);
/* Fills b with slots [first, first + count) of `step` of the training (0) or validation (1) split. */
void lcfm_train_assemble(lcfm_batch_rows *b, const lcfm_sampler *s, int split, int64_t step, int64_t first,
                         int64_t count, int T);
/* Collective: one optimizer step of global step `step` with a global batch of `batch` triplets:
 * this rank's slots, forward and backward, one all-reduce of the gradients, clipping, Adam.
 * Returns the global loss terms; when they are not finite nothing is updated. */
lcfm_causal_loss lcfm_train_step(MPI_Comm comm, lcfm_causal_model *m, lcfm_adam *opt, const lcfm_sampler *s,
                                 lcfm_batch_rows *b, int64_t batch, int64_t step, uint64_t seed, double max_grad_norm);

/* Collective: nearest-centroid instrument-ID accuracy of the validation objects (window at 0),
 * centroids from the training objects: accuracy[0] from z_star (or the baseline's z),
 * accuracy[1] from z_instr (-1 for the baseline); *chance = 1 / instruments. */
void lcfm_latent_separation(MPI_Comm comm, lcfm_causal_model *m, const lcfm_sampler *s, double accuracy[2],
                            double *chance);

/* Collective; returns the process exit code (0, 1, 2 or LCFM_EXIT_REQUEUE). */
int lcfm_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
