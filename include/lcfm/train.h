/* train.h: what every training run needs besides the model: the light curves in memory, the
 * triplet sampler, windows, checkpoints and the signals that ask for one.
 *
 * Light curves: every rank loads the store's objects and points (lcfm_curves_load), so any
 * rank can assemble any part of a global batch. Memory per rank is the store's size: fine for
 * simulations and single fields; survey-scale training streams shards instead (not yet).
 *
 * Triplets (the causal paper): anchor a, p_star = the same source under another instrument,
 * p_instr = another source under the same instrument. Sources are split into training and
 * validation by the keyed generator (a source is held out when uniform(seed, SPLIT, source) <
 * validation_fraction), so held-out stars never appear in training triplets. Triplet slot i of
 * global step k is a pure function of (seed, k, i): the global batch is the same objects
 * whatever the rank count; rank r of P takes the slots [B r / P, B (r + 1) / P).
 *
 * Windows: a light curve longer than T contributes a window of T consecutive points starting
 * at a keyed uniform offset (training) or at 0 (validation); a shorter one is padded at the end
 * and masked. Window times are shifted to start at 0.
 *
 * Checkpoints (HDF5, schema "lcfm-checkpoint"): /params/NAME, /adam_m/NAME, /adam_v/NAME for
 * every tensor of the parameter table, root attributes step, best_step, best_validation,
 * stale_evaluations, the Adam settings, the model signature (the model's job keys and every
 * tensor's name and shape) and the provenance record. Written by rank 0 as PATH.partial and
 * renamed; read by every rank. A checkpoint whose signature differs from the model being
 * trained is refused, naming the first difference; so is one whose tensors do not have the
 * model's shapes (or are not float32, or hold non-finite parameters), naming the tensor.
 */
#ifndef LCFM_TRAIN_H
#define LCFM_TRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/nn.h"
#include "lcfm/provenance.h"
#include "lcfm/rng.h"

/* Exit code of a run that checkpointed on SIGTERM or SIGUSR1 and should be requeued. */
#define LCFM_EXIT_REQUEUE 75

enum {
  LCFM_STREAM_TRAIN_SPLIT = LCFM_STREAM_USER + 200,  /* index: source id */
  LCFM_STREAM_TRAIN_ANCHOR = LCFM_STREAM_USER + 201, /* index: step * B + slot (validation: 2^62 + ...) */
  LCFM_STREAM_TRAIN_STAR = LCFM_STREAM_USER + 202,   /* same */
  LCFM_STREAM_TRAIN_INSTR = LCFM_STREAM_USER + 203,  /* (step * B + slot) * 64 + attempt */
  LCFM_STREAM_TRAIN_WINDOW = LCFM_STREAM_USER + 204, /* (step * B + slot) * 3 + member */
};

/* ---- light curves in memory ---- */
typedef struct {
  int64_t count;
  int64_t *source, *offset;
  int32_t *instrument, *length, *label;
  double *time;
  float *value, *error;
} lcfm_curves;

/* Collective: every rank reads the whole store. Returns 0, or 1 with `why` naming the file. */
int lcfm_curves_load(lcfm_curves *c, MPI_Comm comm, const char *path, char *why, size_t why_len);
void lcfm_curves_free(lcfm_curves *c);

/* Fills one row of a batch: times, values, mask [T] from object `object`, the window starting
 * at `start` (clamped); padding gets time 0, value 0, mask 0. */
void lcfm_curves_window(const lcfm_curves *c, int64_t object, int64_t start, int T, float *times, float *values,
                        float *mask);

/* ---- the triplet sampler ---- */
typedef struct {
  int64_t anchor, star, instrument; /* object indices */
} lcfm_triplet;

typedef struct {
  const lcfm_curves *curves;
  uint64_t seed;
  uint8_t *validation;            /* per object: 1 if its source is held out */
  int64_t *by_source, *source_start, *source_index; /* objects grouped by source */
  int64_t *by_instrument, *instrument_start;         /* objects grouped by instrument */
  int64_t instrument_count, source_count;
  int64_t *anchors[2];        /* eligible anchors of the training [0] and validation [1] split */
  int64_t anchor_count[2];
} lcfm_sampler;

/* Builds the indices; returns 0, or 1 with a reason when no training triplet can be formed. */
int lcfm_sampler_init(lcfm_sampler *s, const lcfm_curves *c, uint64_t seed, double validation_fraction, char *why,
                      size_t why_len);
void lcfm_sampler_free(lcfm_sampler *s);
/* Triplet `slot` of global step `step` of the training (split 0) or validation (split 1) set. */
lcfm_triplet lcfm_sampler_draw(const lcfm_sampler *s, int split, int64_t step, int64_t slot);
/* The window start of member m (0 anchor, 1 star, 2 instrument) of that triplet: keyed random
 * for training, 0 for validation. */
int64_t lcfm_sampler_window_start(const lcfm_sampler *s, int split, int64_t step, int64_t slot, int member,
                                  int64_t object, int T);

/* ---- checkpoints ---- */
typedef struct {
  int64_t step;              /* optimizer steps completed */
  int64_t best_step;         /* step of the best validation loss so far (-1: none) */
  double best_validation;    /* that loss */
  int64_t stale_evaluations; /* evaluations since the best (early stopping) */
} lcfm_train_state;

/* Rank 0 writes; other ranks return at once. Atomic (PATH.partial, then rename). */
void lcfm_checkpoint_write(const char *path, const lcfm_nn_params *p, const lcfm_adam *opt,
                           const lcfm_train_state *state, const char *signature, const lcfm_provenance *prov);
/* Every rank reads. Returns 0, or 1 with a reason (missing file, not a checkpoint, another model). */
int lcfm_checkpoint_read(const char *path, lcfm_nn_params *p, lcfm_adam *opt, lcfm_train_state *state,
                         const char *signature, char *why, size_t why_len);
/* The effective job text recorded in a checkpoint's provenance (NULL if none); caller frees. */
char *lcfm_checkpoint_job_text(const char *path);
/* The signature of a parameter table plus a description of the model's settings; caller frees. */
char *lcfm_model_signature(const lcfm_nn_params *p, const char *settings);

/* ---- signals ---- */
/* SIGTERM and SIGUSR1 set a flag (Slurm sends them before the time limit). */
void lcfm_signals_install(void);
/* Collective: 1 on every rank if any rank has received one of those signals. */
int lcfm_signals_pending(MPI_Comm comm);

#endif
