/* embed.h: `lcfm embed`: the latents of every object of a store through a trained checkpoint, for
 * every model kind (model_kind.h): the streaming and window averaging they share, and each
 * model's side of it.
 *
 * Each rank streams its balanced shard of the store in blocks (memory per rank does not grow
 * with the store), cuts every light curve into consecutive windows of T points ([0, T),
 * [T, 2T), ...; the last one padded and masked), runs the encoders without dropout, and
 * averages the window latents weighted by their numbers of valid points. The embedding store
 * (schema "lcfm-embeddings", version 1) is written collectively:
 *   /                  provenance, checkpoint (path), model_signature, window_rule
 *   /objects/id, source (int64), instrument, field, label (int32)    [N]  copied for joins
 *   /z_star, /z_instr  float32 [N, latent]  (causal)     or    /z  float32 [N, latent] (baseline)
 * With [embed] fields, only the objects of those fields are embedded, in store order, with their
 * store ids; the root attribute `fields` records the selection.
 * With [embed] mode = append, the embeddings `output` (same model, same fields) are extended
 * with the selected objects not yet embedded: those after the ones it holds, which must be the
 * selection's first rows (an appended store keeps its objects and adds new ones after them).
 * Copy-on-append, as for stores (store.h): a killed append leaves `output` as it was; the
 * root attributes then describe the last run and the store as it is (its store_signature).
 * Datasets are chunked (8,192 rows) with an unlimited number of rows. Appending: causal and
 * baseline models only for now (model_kind.h says which kinds can).
 *
 * Every model embeds the same way (lcfm_embed_windows): the windows of a block's objects fill
 * the model's batch in order, a full batch runs, and each window's outputs are added to its
 * object weighted by its valid points; the sums are divided by each object's points at the end
 * of the block.
 *
 * Astromer 2 (astromer.h; model.kind = astromer2): every object's consecutive windows run
 * through the encoder without probing or dropout. Per window, the masked mean over its valid
 * points of the input embedding and of every block's output; per object, the mean over its
 * windows weighted by their valid points:
 *   /layers float32 [N, (blocks + 1) d]   row-major [N, blocks + 1, d]: input embedding, block 0..
 *   /z      float32 [N, d]                the softmax(gamma)-weighted sum of the layers with
 *                                          gamma = 0 (their plain mean); `lcfm probe` with
 *                                          task = classification learns gamma.
 * Root attributes: the embedding store's (above) plus layers = blocks + 1 and d_model.
 */
#ifndef LCFM_EMBED_H
#define LCFM_EMBED_H

#include <mpi.h>

#include "lcfm/job.h"
#include "lcfm/nn.h"
#include "lcfm/provenance.h"
#include "lcfm/store.h"

#define LCFM_EMBEDDINGS_SCHEMA "lcfm-embeddings"
#define LCFM_EMBED_MAX_OUTPUTS 4

/* `lcfm embed`: collective; returns the process exit code. Checks [embed] mode, then runs the
 * embed operation of the job's [model] kind (model_kind.h). */
int lcfm_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);
/* `lcfm embed` for [model] kind = causal or baseline (models.h); collective; the exit code. */
int lcfm_causal_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);
/* `lcfm embed` for [model] kind = astromer2 (astromer.h); collective; the exit code. */
int lcfm_astromer2_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

/* ---- what every model's embedding shares ---- */

/* A model's side of embedding consecutive windows [0, T), [T, 2T), ... of every object. */
typedef struct {
  void *model;
  int T, capacity; /* points per window, windows per batch */
  int averaged;    /* outputs [0, averaged) are the weighted means of the windows' outputs */
  /* Row `row` of the model's batch from the n (<= T) points of one window. */
  void (*put)(void *model, int row, const double *time, const float *value, const float *error,
              int n);
  /* Runs the batch's first `rows` windows: window_out[e] [rows, cols[e]] for each averaged e. */
  void (*run)(void *model, int rows, const float **window_out);
  /* After the means, per object: outputs [averaged, count) from them (NULL when there are none). */
  void (*finish)(void *model, int64_t objects, float *const *out);
} lcfm_embed_windows;

/* The float32 datasets [N, cols] a model writes and how its windows fill them. */
typedef struct {
  int count;
  const char *names[LCFM_EMBED_MAX_OUTPUTS]; /* e.g. "/z" */
  int cols[LCFM_EMBED_MAX_OUTPUTS];
  const char *window_rule; /* the root attribute window_rule */
  lcfm_embed_windows windows;
  /* From the job (lcfm_embed_model): */
  const char *fields; /* [embed] fields (fields.h): embed only those objects; NULL or "": all */
  int append;         /* [embed] mode = append: add the objects not yet in `output` */
} lcfm_embed_outputs;

/* Collective: the embedding run every model shares once it has built its model: reads the [embed]
 * checkpoint into p (its signature, from p and `settings`, must match), streams this rank's shard
 * of the [embed] store in blocks of block_objects, embeds their windows through o->windows and
 * writes the embedding store [embed] output (PATH.partial, then renamed) with the /objects columns
 * and o's outputs; o->fields and o->append come from the job. Returns the exit code (a failure is
 * reported by rank 0). */
int lcfm_embed_model(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov,
                     lcfm_nn_params *p, const char *settings, lcfm_embed_outputs *o);

#endif
