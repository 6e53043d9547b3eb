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
 */
#ifndef LCFM_EMBED_H
#define LCFM_EMBED_H

#include <mpi.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"

#define LCFM_EMBEDDINGS_SCHEMA "lcfm-embeddings"

/* Collective; returns the process exit code. */
int lcfm_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
