/* probe_data.h: the inputs of `lcfm probe`, held by every rank: per object its id, source,
 * instrument, label and target, the raw values, each latent (rows in store order), and for theta0
 * on a causal simulation the oracle: E[theta_0 | folded frequency] of the object's star (alias.h),
 * the best any input can do, scored like the others but without training. */
#ifndef LCFM_PROBE_DATA_H
#define LCFM_PROBE_DATA_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#define LCFM_PROBE_MAX_INPUTS 8

typedef struct {
  char name[32]; /* "raw", "baseline z", "z_star", "z_instr", "z", "oracle" */
  int dim;
  float *x;      /* [objects, dim] */
  int is_latent; /* x is its own allocation (latents, the oracle), freed by lcfm_probe_data_free */
  int is_oracle; /* x [objects, 1] is the prediction itself: scored without training */
} lcfm_probe_input;

typedef struct {
  int64_t objects;
  int64_t store_objects; /* objects in the store; more than `objects` with [probe] fields */
  int64_t *store_row;    /* with [probe] fields: each object's row in the store; else NULL */
  int64_t *id, *source;
  int32_t *instrument, *label;
  float *target, *raw;
  int raw_points;
  lcfm_probe_input inputs[LCFM_PROBE_MAX_INPUTS];
  int input_count;
} lcfm_probe_data;

/* Collective. Returns 0, or 1 with a reason naming the file. */
int lcfm_probe_data_load(lcfm_probe_data *d, MPI_Comm comm, const char *store, const char *embeddings,
                         const char *baseline, const char *target, int raw_points, const char *fields, char *why,
                         size_t why_len);
void lcfm_probe_data_free(lcfm_probe_data *d);

/* Appends the input "oracle" when the target is theta0 and the store is a causal simulation
 * (/truth/theta with attributes lambda and T): returns 1. Otherwise returns 0 and says why not in
 * `why` (not an error: the probe goes on without it). Collective only in that every rank reads. */
int lcfm_probe_oracle_add(lcfm_probe_data *d, const char *store, const char *target, char *why, size_t why_len);

#endif
