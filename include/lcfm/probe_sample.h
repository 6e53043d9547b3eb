/* probe_sample.h: which objects the MLP runs of `lcfm probe` use, found without any rank
 * holding the store: probe_draw.h's draws on survey-sized stores.
 *
 * The probed objects (the store's, or those of [probe] fields; numbered 0.. in store order) are
 * split into balanced contiguous shards, one per rank (lcfm_store_shard). Each rank reads its
 * shard's /objects/source in blocks and counts the members of each run's three pools (training,
 * test, stopping stars); an all-reduce and an exclusive scan give every pool's size and the
 * members before each shard. The first places of each pool (the largest training size,
 * test_objects, stopping_objects) are traced back through the pool's keyed shuffle
 * (lcfm_probe_draw_first: O(pool) draws, O(places) memory; the 3 x runs traces spread over the
 * ranks), and a second pass over the shards turns those members into probed objects, shared with
 * an all-reduce. A rank so holds O(block + runs x (largest size + test_objects + stopping_objects))
 * whatever the store's size (with [probe] fields, also the selected rows), and the draws are
 * lcfm_probe_draw_make's on the whole store, element for element.
 *
 * /mlp/draw's codes (every probed object's place in each run) are made in rounds of one block per
 * rank, the blocks of a round one after another in rank order (lcfm_probe_sample_codes: a forward
 * trace of each run's training pool per block), so that each round's collective write is one run
 * of rows.
 */
#ifndef LCFM_PROBE_SAMPLE_H
#define LCFM_PROBE_SAMPLE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "lcfm/probe_draw.h"

#define LCFM_PROBE_BLOCK (1 << 16) /* objects of a rank's shard read or coded at a time */

typedef struct {
  int64_t objects;       /* probed objects */
  int64_t store_objects; /* objects in the store */
  int64_t *store_row; /* with [probe] fields: the store row of each probed object; NULL: the same */
  int64_t first, count; /* this rank's shard of the probed objects */
  int runs;
  lcfm_probe_protocol protocol;
  lcfm_probe_draw
      *draws;         /* [runs]: training (the first places only), stopping, test: probed objects */
  int64_t (*seen)[3]; /* [runs][pool]: members before the next round of blocks to code */
  int64_t **sorted;   /* [runs * 2]: each run's test, stopping objects in increasing order */
} lcfm_probe_sample;

/* Collective. Draws `runs` runs over the probed objects of STORE (fields: "" or NULL for all);
 * training places up to `largest`. With source_limit >= 0 every probed object's source must lie
 * in [0, source_limit) (rows of /truth/theta). Returns 0, or 1 with a reason naming the file (the
 * same on every rank). */
int lcfm_probe_sample_make(lcfm_probe_sample *s, MPI_Comm comm, const char *store,
                           const char *fields, const lcfm_probe_protocol *p, int runs,
                           int64_t largest, int64_t source_limit, char *why, size_t why_len);
/* Store rows of probed objects [first, first + count). */
void lcfm_probe_sample_store_rows(const lcfm_probe_sample *s, int64_t first, int64_t count,
                                  int64_t *row);
/* Collective: code [runs, count]: /mlp/draw's codes of probed objects [first, first + count),
 * given their sources. The calls walk the probed objects in order: the blocks of one call follow
 * one another in rank order (rank 0's first; a rank may have none, count 0), and the first follows
 * the last of the previous call. */
void lcfm_probe_sample_codes(lcfm_probe_sample *s, MPI_Comm comm, int64_t first,
                             const int64_t *source, int64_t count, int64_t *code);
void lcfm_probe_sample_free(lcfm_probe_sample *s);

#endif
