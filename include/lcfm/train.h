/* train.h: what every training run needs besides the model: the triplet sampler and the windows
 * it reads through the store's index, checkpoints and the signals that ask for one.
 *
 * Data path: nothing of the store is replicated. Each rank opens the store's /index
 * (store_index.h) and reads, for its own slots of each step, the object rows and the windows
 * of points it needs (at most 3 B / P objects per step), so memory per rank does not grow with
 * the store; bytes read per step are counted (lcfm_sampler_usage). The Astromer 2 trainer reads
 * the same way (astromer.h). lcfm_curves (a whole store in memory) remains as the tests' reference.
 *
 * Triplets (the causal paper): anchor a, p_star = the same source under another instrument,
 * p_instr = another source under the same instrument. Sources are split into training and
 * validation by the keyed generator (a source is held out when uniform(seed, SPLIT, source) <
 * validation_fraction), so held-out stars never appear in training triplets. Triplet slot i of
 * global step k is a pure function of (seed, k, i): the global batch is the same objects
 * whatever the rank count; rank r of P takes the slots [B r / P, B (r + 1) / P).
 * A draw is keyed rejection sampling over all N objects, with no per-object tables: attempt t
 * of draw i takes object below(key_i, ANCHOR_TRY, t, N), key_i from Philox(seed, DRAW_KEY, i); the object
 * anchors the triplet when its source is in the split, its source has an object under another
 * instrument (one of those is picked by the STAR stream) and one of 64 keyed tries in its
 * instrument's group finds an object of another source of the same split (INSTR_TRY stream under
 * draw i's second key, counter = try); otherwise the next attempt follows. Anchors are thus
 * uniform over the eligible objects (up to the 64-try limit, which only matters when an
 * instrument sees almost nothing but the anchor's own source or the other split). This stream
 * differs from the one of lcfm before the index (a precomputed anchor list): a run resumed
 * from an older checkpoint sees a different triplet stream from the resume on.
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
#include "lcfm/store_index.h"

/* Exit code of a run that checkpointed on SIGTERM or SIGUSR1 and should be requeued. */
#define LCFM_EXIT_REQUEUE 75

enum {
  LCFM_STREAM_TRAIN_SPLIT = LCFM_STREAM_USER + 200,  /* index: source id */
  LCFM_STREAM_TRAIN_ANCHOR = LCFM_STREAM_USER + 201, /* before the store index: no longer drawn */
  LCFM_STREAM_TRAIN_STAR =
      LCFM_STREAM_USER + 202, /* draw index i = split 2^62 + step 2^20 + slot */
  LCFM_STREAM_TRAIN_INSTR = LCFM_STREAM_USER + 203,  /* before the store index: no longer drawn */
  LCFM_STREAM_TRAIN_WINDOW = LCFM_STREAM_USER + 204, /* i * 3 + member */
  LCFM_STREAM_TRAIN_DRAW_KEY =
      LCFM_STREAM_USER + 205, /* i: the keys of draw i's tries (words 0-1, 2-3) */
  LCFM_STREAM_TRAIN_ANCHOR_TRY =
      LCFM_STREAM_USER + 206, /* under draw i's first key: anchor try t */
  LCFM_STREAM_TRAIN_INSTR_TRY =
      LCFM_STREAM_USER + 207, /* under draw i's second key: partner try t */
};

/* ---- light curves in memory (the tests' reference for windows read on demand) ---- */
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
void lcfm_curves_window(const lcfm_curves *c, int64_t object, int64_t start, int T, float *times,
                        float *values, float *mask);

/* ---- the triplet sampler ---- */
typedef struct {
  lcfm_index_object
      member[3]; /* anchor, same source (other instrument), same instrument (other source) */
} lcfm_triplet;

typedef struct {
  int64_t bytes[2]; /* read through the index while assembling training [0] / validation [1] rows */
  int64_t batches[2]; /* assemblies (one per step and rank) */
  double seconds[2];  /* spent drawing and reading them */
} lcfm_sampler_usage;

typedef struct {
  lcfm_store_index *index; /* this process's reader; draws read through it */
  lcfm_sampler_usage *usage;
  uint64_t seed;
  double validation_fraction;
  int64_t object_count, source_count, instrument_count;
  int64_t *selected,
      selected_count; /* rows of the selected fields, sorted; NULL: the whole store */
} lcfm_sampler;

/* Opens the index of the store at `path` (not collective; check the store with lcfm_store_open
 * first) and checks that a training and a validation triplet can be drawn. With a selection
 * (fields not NULL nor the whole store) every member of a triplet lies in the selected fields.
 * Returns 0, or 1 with the reason. */
int lcfm_sampler_init(lcfm_sampler *s, const char *path, const lcfm_fields *fields, uint64_t seed,
                      double validation_fraction, char *why, size_t why_len);
void lcfm_sampler_free(lcfm_sampler *s);
/* 1 when `source` is held out for validation. */
int lcfm_sampler_is_validation(const lcfm_sampler *s, int64_t source);
/* Triplet `slot` of global step `step` of the training (split 0) or validation (split 1) set. */
lcfm_triplet lcfm_sampler_draw(const lcfm_sampler *s, int split, int64_t step, int64_t slot);
/* The window start of member m (0 anchor, 1 star, 2 instrument) of that triplet for an object of
 * `length` points: keyed random for training, 0 for validation. */
int64_t lcfm_sampler_window_start(const lcfm_sampler *s, int split, int64_t step, int64_t slot,
                                  int member, int64_t length, int T);
/* Reads object o's window starting at `start` (clamped) into times, values, mask [T]; padding
 * gets time 0, value 0, mask 0. */
void lcfm_sampler_read_window(const lcfm_sampler *s, const lcfm_index_object *o, int64_t start,
                              int T, float *times, float *values, float *mask);

/* Collective: checks the store (lcfm_store_open) and opens the sampler on every rank; logs the
 * store's shape. Returns 0, or 1 on every rank with a reason naming the file. */
int lcfm_train_data_open(MPI_Comm comm, const char *path, lcfm_sampler *s, uint64_t seed,
                         double validation_fraction, char *why, size_t why_len);
/* The same on the objects of the selected fields only (fields.h text; "" is the whole store). */
int lcfm_train_data_open_fields(MPI_Comm comm, const char *path, const char *fields,
                                lcfm_sampler *s, uint64_t seed, double validation_fraction,
                                char *why, size_t why_len);
/* Collective: logs the bytes read per training step and per validation batch (most of any rank). */
void lcfm_train_data_report(MPI_Comm comm, const lcfm_sampler *s);

/* ---- checkpoints ---- */
typedef struct {
  int64_t step;              /* optimizer steps completed */
  int64_t best_step;         /* step of the best validation loss so far (-1: none) */
  double best_validation;    /* that loss */
  int64_t stale_evaluations; /* evaluations since the best (early stopping) */
} lcfm_train_state;

/* Rank 0 writes; other ranks return at once. Atomic (PATH.partial, then rename). */
void lcfm_checkpoint_write(const char *path, const lcfm_nn_params *p, const lcfm_adam *opt,
                           const lcfm_train_state *state, const char *signature,
                           const lcfm_provenance *prov);
/* Every rank reads. Returns 0, or 1 with a reason (missing file, not a checkpoint, another model). */
int lcfm_checkpoint_read(const char *path, lcfm_nn_params *p, lcfm_adam *opt,
                         lcfm_train_state *state, const char *signature, char *why, size_t why_len);
/* The effective job text recorded in a checkpoint's provenance (NULL if none); caller frees. */
char *lcfm_checkpoint_job_text(const char *path);
/* The best-by-validation checkpoint written beside `checkpoint`: NAME.h5 -> NAME.best.h5 (a name
 * without .h5 gets .best.h5 appended). The trainer, `lcfm run` and `lcfm sweep` all use this rule. */
void lcfm_checkpoint_best_path(const char *checkpoint, char *buf, size_t len);
/* The signature of a parameter table plus a description of the model's settings; caller frees. */
char *lcfm_model_signature(const lcfm_nn_params *p, const char *settings);

/* ---- signals ---- */
/* SIGTERM and SIGUSR1 set a flag (Slurm sends them before the time limit). */
void lcfm_signals_install(void);
/* Collective: 1 on every rank if any rank has received one of those signals. */
int lcfm_signals_pending(MPI_Comm comm);

#endif
