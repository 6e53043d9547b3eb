/* probe.h: `lcfm probe`: what do the latents know? (the causal paper's section 4.2)
 *
 * Inputs: the light-curve store (its /truth or labels give the target), the causal model's
 * embedding store (z_star, z_instr) and optionally the baseline's (z); the raw light curves
 * (the first raw_points values) are an input too.
 *   1. Few-shot MLP regression (mlp_probe.h) of the target from each input, for every training
 *      size in `sizes` and `runs` draws; one fixed test set of objects of held-out sources
 *      (test_fraction of the sources, at most test_objects objects). R^2 mean and std.
 * Probe store (schema "lcfm-probe", version 1), with provenance:
 *   /mlp/inputs string[32] [I], /mlp/sizes int64 [S], /mlp/r2 float64 [I, S * runs],
 *   /mlp/r2_mean, /mlp/r2_std float64 [I, S]                  (NaN where a size exceeds the pool)
 *   /objects/id, instrument (copied), /objects/target float64 [N], /objects/test uint8 [N]
 */
#ifndef LCFM_PROBE_H
#define LCFM_PROBE_H

#include <mpi.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"

#define LCFM_PROBE_SCHEMA "lcfm-probe"

/* Checks the [probe] keys that need more than a range (sizes); returns the number of problems. */
int lcfm_probe_settings_check(const lcfm_job *job);
/* Collective; returns the process exit code. */
int lcfm_probe_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
