/* probe_data.h: the inputs of `lcfm probe`'s MLP runs, for the objects a rank's runs use and no
 * others (probe_sample.h finds them): per object its id, source, instrument, label and target, the
 * raw values (the first raw_points of its light curve), each latent, and for theta0 on a causal
 * simulation the oracle: E[theta_0 | folded frequency] of the object's star (alias.h), the best
 * any input can do, scored like the others but without training.
 *
 * Every read selects rows: the objects' rows of /objects and their slices of /points/value,
 * the latents' rows of the embedding stores, the sources' rows of /truth/theta (per process,
 * probe_read_internal.h). The target and the oracle are also read this way for the blocks of a
 * rank's shard when the probe store's per-object columns are written. */
#ifndef LCFM_PROBE_DATA_H
#define LCFM_PROBE_DATA_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "lcfm/probe_sample.h"

#define LCFM_PROBE_MAX_INPUTS 8

typedef struct {
  char name[32]; /* "raw", "baseline z", "z_star", "z_instr", "z", "oracle" */
  int dim;
  float *x;      /* [objects, dim] */
  int is_latent; /* x is its own allocation (latents, the oracle), freed by lcfm_probe_data_free */
  int is_oracle; /* x [objects, 1] is the prediction itself: scored without training */
} lcfm_probe_input;

/* The target of every probed object: column K of /truth/theta by source ("thetaK"), or the label. */
typedef struct {
  hid_t file, theta; /* -1 for "label" */
  int column;        /* K; -1 for "label" */
} lcfm_probe_target;

/* The oracle (theta0 of a causal simulation), when the store allows one. */
typedef struct {
  hid_t file, theta;
  double lambda;
  int64_t T;
} lcfm_probe_oracle;

typedef struct {
  int64_t objects;    /* the objects loaded */
  int64_t *probed;    /* [objects] their numbers among the probed objects (increasing) */
  int64_t *store_row; /* [objects] their rows in the store */
  int64_t *id, *source;
  int32_t *instrument, *label;
  float *target, *raw;
  int raw_points;
  lcfm_probe_input inputs[LCFM_PROBE_MAX_INPUTS];
  int input_count;
} lcfm_probe_data;

/* Opens the target's source: 0, or 1 with a reason naming the file. *source_limit: the rows of
 * /truth/theta every source must index (-1 for "label"). */
int lcfm_probe_target_open(lcfm_probe_target *t, const char *store, const char *target,
                           int64_t *source_limit, char *why, size_t why_len);
/* out[i]: the target of the object with source[i] and label[i]. */
void lcfm_probe_target_values(const lcfm_probe_target *t, const int64_t *source,
                              const int32_t *label, int64_t count, float *out);
void lcfm_probe_target_close(lcfm_probe_target *t);

/* The oracle when the target is theta0 and the store is a causal simulation (/truth/theta with
 * attributes lambda and T): returns 1 and says what it is in `why`. Otherwise returns 0 and says
 * why not (not an error: the probe goes on without it). */
int lcfm_probe_oracle_open(lcfm_probe_oracle *o, const char *store, const char *target, char *why,
                           size_t why_len);
/* out[i]: the oracle's prediction for an object of source[i] (sources checked in range). */
void lcfm_probe_oracle_values(const lcfm_probe_oracle *o, const int64_t *source, int64_t count,
                              float *out);
void lcfm_probe_oracle_close(lcfm_probe_oracle *o);

/* Per process: loads probed objects probed[0..count) (increasing) of the sample: columns, target,
 * raw values and the latents of the embedding stores (baseline may be "" or NULL), then the
 * oracle as the last input when o is not NULL. Returns 0, or 1 with a reason naming the file. */
int lcfm_probe_data_load(lcfm_probe_data *d, const lcfm_probe_sample *s, const char *store,
                         const char *embeddings, const char *baseline, const lcfm_probe_target *t,
                         const lcfm_probe_oracle *o, int raw_points, const int64_t *probed,
                         int64_t count, char *why, size_t why_len);
/* The names of the inputs lcfm_probe_data_load will give (the same order), without reading rows;
 * returns their count, or -1 with a reason when the embedding store cannot be opened. */
int lcfm_probe_input_names(const char *embeddings, const char *baseline, int oracle,
                           char (*name)[32], char *why, size_t why_len);
void lcfm_probe_data_free(lcfm_probe_data *d);

#endif
