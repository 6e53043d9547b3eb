/* probe.h: `lcfm probe`: what do the latents know? (the causal paper's section 4.2)
 *
 * Inputs: the light-curve store (its /truth or labels give the target), the causal model's
 * embedding store (z_star, z_instr) and optionally the baseline's (z); the raw light curves
 * (the first raw_points values) are an input too; for target theta0 on a causal simulation the
 * oracle, E[theta_0 | folded frequency] of each star (alias.h), is one more input: the ceiling.
 *   1. Few-shot MLP regression (mlp_probe.h) of the target from each input, for every training
 *      size in `sizes` and each of `runs` evaluation runs; each run draws its own test stars,
 *      early-stopping stars and training objects (probe_draw.h: star-disjoint, the stopping pool
 *      not counted in n). Every input is scored on the run's test set (the oracle without
 *      training, so its R^2 varies only with the test set). R^2 mean and std over the runs.
 *      No rank holds the store: the draws are found from each rank's shard (probe_sample.h), the
 *      tasks are split over the ranks in run-major shares, and each rank reads only the objects
 *      its tasks use (probe_data.h); /objects and /mlp/draw are written by every rank for its shard.
 *   2. Linear probes over all objects, streamed in blocks (linear_probe.h, streamed_linalg.h): R^2 of the
 *      target from each latent (z_star vs z_instr: the paper's "leakage") and instrument-ID
 *      accuracy, by least squares on the training objects scored on the test objects (run 0's
 *      test stars, lcfm_probe_is_test_source); and a PCA map (2-D coordinates) of each latent
 *      for the paper's figure 2.
 * Probe store (schema "lcfm-probe", version 2), with provenance:
 *   /mlp/inputs string[32] [I], /mlp/sizes int64 [S], /mlp/r2 float64 [I, S * runs],
 *   /mlp/r2_mean, /mlp/r2_std float64 [I, S]      (NaN where a size exceeds the run's training stars)
 *   /mlp/draw int64 [runs, N]: per run and object its place in the training order (size n trains
 *     on places < n), or LCFM_DRAW_TEST, LCFM_DRAW_STOPPING, LCFM_DRAW_UNUSED (probe_draw.h)
 *   /objects/id, instrument (copied), /objects/target float64 [N], /objects/test uint8 [N] (run 0's
 *     test stars), /objects/oracle float64 [N] (the oracle's prediction, when it is an input)
 *   /linear/..., /pca/...  (linear_probe.h)
 */
#ifndef LCFM_PROBE_H
#define LCFM_PROBE_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"

#define LCFM_PROBE_SCHEMA "lcfm-probe"

/* [probe] task: the causal paper's regression probes (this header) or Astromer 2's few-shot
 * classification (class_probe.h). */
enum { LCFM_PROBE_REGRESSION = 0, LCFM_PROBE_CLASSIFICATION = 1 };
/* The job's [probe] task (one of the two: the key's choices are checked when the job loads). */
int lcfm_probe_task(const lcfm_job *job);

/* Checks the [probe] keys that need more than a range (sizes); returns the number of problems. */
int lcfm_probe_settings_check(const lcfm_job *job);
/* Collective; returns the process exit code. */
int lcfm_probe_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
