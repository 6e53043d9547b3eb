/* astromer.h: Astromer 2 (Donoso-Oliva et al. 2025) on lcfm's engine:
 * masked-magnitude pretraining on irregular light curves ([model] kind = astromer2): the model,
 * its input windows and its data-parallel step. Its training run is astromer_train.h's, its
 * embeddings embed.h's.
 *
 * Windows. A window is at most T consecutive observations of one light curve: a random one while
 * pretraining (keyed object and start), consecutive non-overlapping ones [0, T), [T, 2T), ... for
 * embedding and evaluation. Inside a window time, magnitude and error are each zero-meaned over
 * the valid points; a shorter light curve is padded at the end (valid = 0, every value 0). The
 * loss weights come from the errors as stored (1/error needs them positive; a point with a
 * non-positive or non-finite error takes the smallest positive error of its window, or 1).
 *
 * Probing (one window of n valid points, keyed by (seed, stream, window key)): a partial keyed
 * shuffle picks P = floor(probe_fraction n) probed points; the first K = floor(keep_fraction P)
 * keep their value, the next R = floor(random_fraction (P - K)) take the (zero-meaned) value of a
 * keyed uniform position of the same window, and the remaining P - K - R are replaced by the
 * trainable mask token and hidden from attention (replace = 1). Padding is hidden too, so the key
 * mask is valid (1 - replace). The loss counts every probed point (probed = 1): keep, random and
 * masked alike. Paper defaults 0.5, 0.2, 0.2: of 200 points 100 are probed, 20 kept, 16 random,
 * 64 masked.
 *
 * Model (nn_models.h, lcfm_astromer): input embedding Linear(1 -> d)(magnitude) (or the mask
 * token) plus the sinusoidal encoding of the observation time, `blocks` post-norm transformer
 * blocks (heads of d / heads, feed-forward ff with tanh, dropout after attention and after the
 * feed-forward, residual connections only with [model] residual = true), head LN then
 * Linear(d -> 1) predicting the magnitude at every position.
 * Loss: weighted RMSE over the probed points of the GLOBAL batch of W windows,
 *   L = sqrt( 1/W sum_w sum_t weight probed (pred - target)^2 / sum_t probed ),
 * weight = 1/error min-max normalised per window + 1e-3 (lcfm_astromer_weights), Adam (0.9,
 * 0.98, 1e-9). Each rank computes its windows' sums; one MPI_Allreduce gives L, and its
 * gradient is each rank's share of dL, so P ranks x W/P windows equal 1 rank x W.
 *
 */
#ifndef LCFM_ASTROMER_H
#define LCFM_ASTROMER_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/job.h"
#include "lcfm/nn_models.h"
#include "lcfm/rng.h"

/* Streams (rng.h): numbers never change meaning. */
enum {
  LCFM_STREAM_ASTRO_OBJECT =
      LCFM_STREAM_USER + 500, /* before streaming (a per-rank object list): no longer drawn */
  LCFM_STREAM_ASTRO_START = LCFM_STREAM_USER + 501,  /* training window's start: index k 2^24 + i */
  LCFM_STREAM_ASTRO_PROBE = LCFM_STREAM_USER + 502,  /* training probing: (k B + i) 2^20 + point */
  LCFM_STREAM_ASTRO_RANDOM = LCFM_STREAM_USER + 503, /* position of a random value: same index */
  LCFM_STREAM_ASTRO_EVAL_PROBE =
      LCFM_STREAM_USER + 504, /* validation probing: window j 2^20 + point */
  LCFM_STREAM_ASTRO_EVAL_RANDOM = LCFM_STREAM_USER + 505, /* validation random values */
  LCFM_STREAM_ASTRO_EVAL_ORDER = LCFM_STREAM_USER + 506,  /* before streaming: no longer drawn */
  LCFM_STREAM_ASTRO_DRAW_KEY =
      LCFM_STREAM_USER + 507, /* training k 2^24 + i, validation 2^62 + j: a draw's key */
  LCFM_STREAM_ASTRO_OBJECT_TRY = LCFM_STREAM_USER + 508, /* under a draw's key: the row of try t */
  LCFM_STREAM_ASTRO_EVAL_WINDOW =
      LCFM_STREAM_USER + 509, /* validation window j: which window of its object */
  LCFM_STREAM_ASTRO_SCORE_PROBE =
      LCFM_STREAM_USER + 510, /* final score: (first point in the list) 2^20 + point */
  LCFM_STREAM_ASTRO_SCORE_RANDOM = LCFM_STREAM_USER + 511, /* final score's random values */
};

/* Keys a window's probing uses from its stream: key * 2^20 + point, so T <= 2^20. */
#define LCFM_ASTRO_MAX_T (1 << 20)

/* ---- configuration ---- */
typedef struct {
  double probe, keep, random; /* probe_fraction, probe_keep, probe_random */
} lcfm_probing;

typedef struct {
  lcfm_astromer_config
      enc; /* d, heads, ff, blocks, residual, tanh, T, max_batch (rows per rank), dropout */
  lcfm_probing probing;
} lcfm_astromer2_config;

/* Reads [model]; returns the number of problems (each reported naming the key). */
int lcfm_astromer2_config_from_job(lcfm_astromer2_config *c, const lcfm_job *job);
/* The model's settings as text, for checkpoint signatures; caller frees. */
char *lcfm_astromer2_settings(const lcfm_astromer2_config *c);

/* ---- masked windows ---- */
typedef struct {
  int rows, capacity, T;
  float *times, *errors; /* zero-meaned time and error [capacity, T] */
  float *target;         /* zero-meaned magnitude */
  float *input;          /* the magnitude the model sees (random values swapped in) */
  float *valid, *replace, *probed, *weight;
  int64_t *object; /* per row: the object (row of the store list) */
  int32_t *length; /* per row: valid points */
  float *scratch;  /* [T] */
  int *order;      /* [T] */
} lcfm_masked_batch;

void lcfm_masked_batch_alloc(lcfm_masked_batch *b, int capacity, int T);
void lcfm_masked_batch_free(lcfm_masked_batch *b);

/* Row `row` of b from the n (<= T) points of one window: zero-meaned, padded, weights from the
 * errors, and probing keyed by (seed, stream, key) (stream + 1 draws the random values' positions).
 * probing NULL or probe 0: nothing probed or replaced (embedding). */
void lcfm_astromer2_window(lcfm_masked_batch *b, int row, const double *time, const float *value,
                           const float *error, int n, const lcfm_probing *probing, uint64_t seed,
                           uint32_t stream, uint64_t key);

/* ---- the model ---- */
typedef struct {
  lcfm_astromer2_config cfg;
  lcfm_nn_params params;
  lcfm_astromer enc;
  float *dpred; /* [max_batch, T] */
} lcfm_astromer2_model;

/* Registers the tensors (prefix "astromer"), allocates for cfg.enc.max_batch windows per rank,
 * initialises the weights from seed. */
void lcfm_astromer2_init(lcfm_astromer2_model *m, const lcfm_astromer2_config *cfg, uint64_t seed);
void lcfm_astromer2_free(lcfm_astromer2_model *m);

/* Collective: forward on b's rows, the weighted RMSE over the global batch of `windows` windows
 * and, when training, zeroed gradients then this rank's share of dL. Returns L (every rank). */
double lcfm_astromer2_step(lcfm_astromer2_model *m, MPI_Comm comm, const lcfm_masked_batch *b,
                           int64_t windows, int training, uint64_t seed, uint64_t step);

/* Sums over probed points for the evaluation metrics (add rows of several batches, then
 * all-reduce as doubles: LCFM_ASTRO_SUMS of them). */
enum { LCFM_ASTRO_SUMS = 6 };
typedef struct {
  double window_mse, windows, sse, sum_y, sum_y2, points;
} lcfm_astromer2_sums;
/* Adds the rows of b with the predictions of the last forward. */
void lcfm_astromer2_accumulate(const lcfm_astromer2_model *m, const lcfm_masked_batch *b,
                               lcfm_astromer2_sums *s);
/* From global sums: the weighted RMSE (the loss), plain RMSE and R^2 over probed points. */
void lcfm_astromer2_metrics(const lcfm_astromer2_sums *s, double *loss, double *rmse, double *r2);

/* Per window of b: masked means over valid points of the input embedding and of every block's
 * output: out [rows, blocks + 1, d]. No probing, no dropout. */
void lcfm_astromer2_layer_means(lcfm_astromer2_model *m, const lcfm_masked_batch *b, float *out);

#endif
