/* embed.h: `lcfm embed`: the latents of every object of a store through a trained checkpoint.
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
 * Datasets are chunked (8,192 rows) with an unlimited number of rows. Causal and baseline
 * models only for now.
 * Astromer 2 (astromer.h) writes /layers [N, (blocks + 1) d] and /z [N, d] instead.
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

/* Collective; returns the process exit code. Dispatches on [model] kind (astromer2: astromer.h). */
int lcfm_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

/* ---- what every model's embedding shares ---- */

/* The float32 datasets [N, cols] a model writes and how it fills them for one block of objects. */
typedef struct {
  int count;
  const char *names[LCFM_EMBED_MAX_OUTPUTS]; /* e.g. "/z" */
  int cols[LCFM_EMBED_MAX_OUTPUTS];
  const char *window_rule; /* the root attribute window_rule */
  /* out[e] [b->count, cols[e]] for the objects of b (block_objects at most). */
  void (*embed_block)(void *context, const lcfm_object_batch *b, float *const *out);
  void *context;
  const char *fields; /* [embed] fields (fields.h): embed only those objects; NULL or "": all */
  int append;         /* [embed] mode = append: add the objects not yet in `output` */
} lcfm_embed_outputs;

/* Collective: reads the checkpoint into p (its signature must match) and opens the store. On
 * failure rank 0 prints the reason and FAILED and every rank gets NULL; *step = the checkpoint's. */
lcfm_store *lcfm_embed_open(MPI_Comm comm, const char *checkpoint, const char *store_path, lcfm_nn_params *p,
                            const char *signature, int64_t *step);
/* Collective: streams this rank's shard of the store in blocks of block_objects and writes the
 * embedding store `output` (PATH.partial, then renamed) with the /objects columns and o's outputs. */
void lcfm_embed_stream(MPI_Comm comm, lcfm_store *store, const char *output, int64_t block,
                       const lcfm_embed_outputs *o, const lcfm_provenance *prov, const char *checkpoint,
                       const char *signature);

#endif
