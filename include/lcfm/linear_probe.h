/* linear_probe.h: linear probes and 2-D maps of every latent over all objects, distributed and
 * streamed (the causal paper's "leakage" numbers and its figure 2), part of `lcfm probe`.
 *
 * Each rank reads its balanced contiguous shard of the embedding store(s) (lcfm_store_shard) in
 * blocks of rows, per process, and keeps no row after its block: memory per rank does not grow
 * with the number of objects. For each latent (z_star, z_instr; z; the baseline's z):
 *   - one least-squares fit (streamed_linalg.h: TSQR, double precision) of [1, z] X = [y, onehot]
 *     over the training objects: column 0 regresses the target y (theta_{s,0} by default), the
 *     others are one-vs-rest instrument indicators (instrument ID = argmax of the fitted scores).
 *     Test objects (held-out sources, the split the MLP probe uses) are left out of the fit.
 *     Scored on both splits: R^2 of the target and instrument accuracy (next to the
 *     majority-class accuracy of the test set).
 *   - PCA (streamed_linalg.h: covariance of the centred rows, dsyevd) of the latent over all
 *     objects: eigenvalues, the two leading components, and every object's 2-D coordinates,
 *     computed block by block while /pca/NAME/xy is written.
 * The rows are read three times (fit, then scores and covariance, then the map).
 * Probe store datasets (written next to the MLP probe's, rows of /pca aligned with /objects/id):
 *   /linear/inputs string[32] [L]          latent names: baseline_z, z_star, z_instr, or z
 *   /linear/r2_test, /linear/r2_train float64 [L]               target R^2 (NaN: no fit)
 *   /linear/accuracy_test, /linear/accuracy_train float64 [L]   instrument ID (NaN: skipped)
 *   /linear/NAME/coefficients float64 [dim + 1]  target regression: intercept, then weights
 *   /linear attributes: target, classes, train_objects, test_objects, majority_accuracy, method
 *   /pca/inputs string[32] [L]
 *   /pca/NAME/xy float64 [N, 2]  coordinates on the two leading components (store order)
 *   /pca/NAME/eigenvalues float64 [dim]  covariance eigenvalues, decreasing
 *   /pca/NAME/explained float64 [2]      their share of the total variance
 *   /pca/NAME/components float64 [2, dim], /pca/NAME/mean float64 [dim]
 */
#ifndef LCFM_LINEAR_PROBE_H
#define LCFM_LINEAR_PROBE_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "lcfm/probe_data.h"

#define LCFM_LINEAR_MAX_LATENTS 4

typedef struct {
  const char *embeddings; /* causal (z_star, z_instr) or single-latent (z) embedding store */
  const char *baseline;   /* baseline embedding store (z), or "" / NULL */
  const lcfm_probe_target
      *target;          /* opened by the caller: column K of /truth/theta by source, or the label */
  double test_fraction; /* the probes' split by source (lcfm_probe_is_test_source) */
  uint64_t seed;
  int max_classes; /* skip the instrument probe above this many instruments */
} lcfm_linear_settings;

typedef struct {
  char name[32];
  char *path;          /* the embedding store holding it */
  const char *dataset; /* "/z", "/z_star" or "/z_instr" */
  int dim;
  double r2_test, r2_train, accuracy_test, accuracy_train;
  double *coefficients;       /* [dim + 1] */
  double *mean, *eigenvalues; /* [dim] */
  double *components;         /* [2, dim] */
  double explained[2];
} lcfm_linear_latent;

typedef struct {
  int64_t objects;      /* N */
  int64_t first, count; /* this rank's shard */
  MPI_Comm comm;        /* the run's ranks (the maps are written by the same) */
  int ranks;
  int classes; /* instruments (1 + largest id); 0 when the instrument probe was skipped */
  int64_t train_objects, test_objects;
  double majority_accuracy; /* share of the commonest instrument among the test objects */
  int latent_count;
  lcfm_linear_latent latent[LCFM_LINEAR_MAX_LATENTS];
} lcfm_linear_probe;

/* Collective. Returns 0, or 1 with a reason naming the file (same on every rank). */
int lcfm_linear_probe_run(lcfm_linear_probe *r, MPI_Comm comm, const lcfm_linear_settings *s,
                          char *why, size_t why_len);
/* Rank 0 prints the table. */
void lcfm_linear_probe_print(const lcfm_linear_probe *r, const char *target);
/* Collective: /linear and /pca into an open probe store (the 2-D maps read the latents again). */
void lcfm_linear_probe_write(const lcfm_linear_probe *r, hid_t file, hid_t dxpl,
                             const char *target);
void lcfm_linear_probe_free(lcfm_linear_probe *r);

#endif
