/* astromer_train.h: `lcfm train` for Astromer 2 (astromer.h): the stores it reads as one survey,
 * the keyed windows of its training and validation, the held-out score of the best model.
 *
 * Training ([train] keys, trainer.h's shared loop: checkpoints, resume, signals, early stopping
 * on the validation loss): objects are split by source like the causal model (a source is held
 * out when uniform(seed, LCFM_STREAM_TRAIN_SPLIT, source) < validation_fraction). Nothing of the
 * store is replicated: each rank reads, through the index of every store of the list
 * (store_index.h), the object rows and the points of its own windows only, so memory per rank
 * does not grow with the store. Window slot i of global step k is (object, start) = a pure
 * function of (seed, k, i): keyed rejection sampling over all N objects of the list (try t takes
 * row below(key, OBJECT_TRY, t, N), key from Philox(seed, DRAW_KEY, k 2^24 + i); an object is
 * taken when it has points and its source is in training), then a keyed uniform start; its
 * probing is keyed by k B + i. Rank r of P takes slots [W r / P, W (r + 1) / P) and draws them
 * together (one read per column and try round). Validation uses a fixed set of
 * validation_windows windows drawn the same way from the held-out objects (draw index 2^62 + j,
 * then a keyed one of the object's consecutive windows [0, T), [T, 2T), ...; fixed probing keyed
 * by j), spread over the ranks like training slots. At the end the best checkpoint is scored on
 * every consecutive window of every held-out object, each rank taking its contiguous share of the
 * object rows in blocks (probing keyed by the window's first point in the list): the weighted
 * RMSE (the loss), the plain RMSE and R^2 = 1 - SS_res / SS_tot pooled over all probed points.
 */
#ifndef LCFM_ASTROMER_TRAIN_H
#define LCFM_ASTROMER_TRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/astromer.h"
#include "lcfm/job.h"
#include "lcfm/provenance.h"
#include "lcfm/store_index.h"
#include "lcfm/train.h"

/* ---- a list of stores read as one survey ---- */
/* The stores of [train] store (whitespace-separated), objects numbered in the order given (store
 * k's object j is row first_object[k] + j of the list) and points likewise, read on demand
 * through each store's index. Per process and not collective once open. */
typedef struct {
  int count;
  char **path;
  lcfm_store_index **index;
  int64_t *first_object, *first_point; /* [count + 1] */
} lcfm_astro_stores;

/* Collective: checks every store (lcfm_store_open) and opens its index on every rank. Returns 0,
 * or 1 on every rank with a reason naming the file. */
int lcfm_astro_stores_open(lcfm_astro_stores *s, MPI_Comm comm, const char *paths, char *why,
                           size_t why_len);
void lcfm_astro_stores_close(lcfm_astro_stores *s);
int64_t lcfm_astro_stores_objects(const lcfm_astro_stores *s);
/* The objects at rows of the list (row and offset numbered in the list). */
void lcfm_astro_stores_objects_at(lcfm_astro_stores *s, const int64_t *rows, int64_t count,
                                  lcfm_index_object *out);
/* Points [first, first + count) of the list (one object's: they lie in one store). */
void lcfm_astro_stores_read_points(lcfm_astro_stores *s, int64_t first, int64_t count, double *time,
                                   float *value, float *error);
/* Bytes read from all the stores so far. */
int64_t lcfm_astro_stores_bytes_read(const lcfm_astro_stores *s);

/* ---- the windows of a training run ---- */
typedef struct {
  lcfm_astro_stores *stores;
  uint64_t seed;
  int T;
  lcfm_probing probing;
  double validation_fraction;
  int64_t objects; /* N: rows of the list */
  int64_t
      eval_count; /* validation windows: validation_windows, or 0 when no held-out object was found */
  double *time;   /* [T] read buffers */
  float *value, *error;
} lcfm_window_sampler;

/* Checks that training windows (and validation windows, else eval_count = 0) can be drawn.
 * Not collective. Returns 0, or 1 with a reason when there is no training object. */
int lcfm_window_sampler_init(lcfm_window_sampler *s, lcfm_astro_stores *stores, uint64_t seed,
                             double validation_fraction, int T, const lcfm_probing *probing,
                             int64_t validation_windows, char *why, size_t why_len);
void lcfm_window_sampler_free(lcfm_window_sampler *s);
/* 1 when `source` is held out for validation. */
int lcfm_window_sampler_is_validation(const lcfm_window_sampler *s, int64_t source);
/* Training windows [first, first + count) of global step `step`: objects and first points. */
void lcfm_window_sampler_draw(const lcfm_window_sampler *s, int64_t step, int64_t first,
                              int64_t count, lcfm_index_object *objects, int64_t *starts);
/* b = training slots [first, first + count) of `step` (count <= capacity), probed. */
void lcfm_window_sampler_train(const lcfm_window_sampler *s, lcfm_masked_batch *b, int64_t step,
                               int64_t slots, int64_t first, int64_t count);
/* Validation windows [first, first + count) (first + count <= eval_count): objects and starts. */
void lcfm_window_sampler_eval_draw(const lcfm_window_sampler *s, int64_t first, int64_t count,
                                   lcfm_index_object *objects, int64_t *starts);
/* b = validation windows [first, first + count), probed with their fixed keys. */
void lcfm_window_sampler_eval(const lcfm_window_sampler *s, lcfm_masked_batch *b, int64_t first,
                              int64_t count);

/* Walks every consecutive window of the held-out objects among rows [first, first + count) of the
 * list, reading the rows in blocks. */
typedef struct {
  int64_t next, end;         /* rows still to read */
  lcfm_index_object *block;  /* [LCFM_ASTRO_SCORE_BLOCK] rows read, [at, filled) not yet done */
  int64_t at, filled, start; /* start: the next window of block[at] */
  int64_t objects;           /* held-out objects with points met so far */
} lcfm_held_out_windows;

enum { LCFM_ASTRO_SCORE_BLOCK = 1024 };

void lcfm_held_out_windows_begin(lcfm_held_out_windows *w, int64_t first, int64_t count);
void lcfm_held_out_windows_end(lcfm_held_out_windows *w);
/* b = the next windows (at most b's capacity), probed for scoring; returns 0 when none is left. */
int lcfm_window_sampler_held_out(const lcfm_window_sampler *s, lcfm_held_out_windows *w,
                                 lcfm_masked_batch *b);

/* `lcfm train` for [model] kind = astromer2 (its entry in model_kind.h); collective; returns the
 * exit code. */
int lcfm_astromer2_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
