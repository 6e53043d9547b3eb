/* store_check.h: a store is checked before anything reads it, and signed when it is written.
 *
 * lcfm_store_check runs inside lcfm_store_open, so every reader (train, embed, probe, info)
 * refuses a damaged store before any work, with the file, the object and the reason:
 *   - every column of /objects, /points, /instruments and /rejects exists, is 1-D, of its class
 *     (integer, float, fixed-length string), and the columns of a group have one extent;
 *   - per object: instrument in [0, I) (I = rows of /instruments), label >= -1, length >= 0,
 *     its points [offset, offset + length) inside /points and right after the previous object's
 *     (the schema's order: no gap, no overlap), and the objects use every row of /points;
 *   - every point's time, value and error is finite (ingest rejects a light curve that is not;
 *     a store that holds one anyway is refused, naming the object and the point).
 * Each rank checks its own shard (lcfm_store_shard) of the objects and of their points, in
 * blocks, so no rank reads the whole store; the ranks then agree on the first broken object
 * (the lowest index) and all report the same reason.
 *
 * The signature is a short text that identifies a store's content: the object count and the
 * CRC-32 (zlib) of the /objects columns in order, the point count, and the creation provenance
 * (created_utc, host, CRC-32 of the effective job text). The store writer stores it as the root
 * attribute "store_signature"; embed copies it into embedding files, and probe refuses
 * embeddings whose signature is not that of the store it is given (files without a signature,
 * written before it existed, are matched by ids only).
 */
#ifndef LCFM_STORE_CHECK_H
#define LCFM_STORE_CHECK_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "lcfm/store.h"

#define LCFM_STORE_SIGNATURE_ATTRIBUTE "store_signature"
#define LCFM_STORE_SIGNATURE_LEN 512

/* Collective: checks the open store file `file` (named `path` in messages). Returns 0, or 1 with
 * the first broken invariant in `why` (the same on every rank). */
int lcfm_store_check(MPI_Comm comm, hid_t file, const char *path, char *why, size_t why_len);

/* Collective, for the writer before it closes: every rank passes the rows it wrote
 * [first_object, first_object + object_count) (count may be 0); writes "store_signature". */
void lcfm_store_sign(MPI_Comm comm, hid_t file, int64_t first_object, int64_t object_count);

/* The store signature of a store or of a file made from one, into buf; returns 0, or 1 when
 * the file has none. Not collective (attribute read). */
int lcfm_store_signature(hid_t file, char *buf, size_t len);

/* Collective: refuses (returns 1 with why) when a file made from a store (embeddings) carries a
 * store signature other than that of the store open as `store_file` (lcfm_store_file), read from `store_path`. `first` and `second`
 * are the files to check; NULL or "" are skipped. */
int lcfm_store_check_derived(hid_t store_file, const char *store_path, const char *first,
                             const char *second, char *why, size_t why_len);

#endif
