/* survey_duplicates.h: the ingest's finding of the same light curve read from several files.
 *
 * Every object read in pass 1 gets a key: its identity (survey, source, season, unit, subunit,
 * band) and the first 128 bits of a SHA-256 (OpenSSL) of its decoded columns, and a position:
 * its place among all objects of the ingest in input order (when appending, the objects already
 * in the store come first). The first object of each identity and of each content is kept: the
 * lowest position wins whatever the rank count. The keys are partitioned by hash: each goes to
 * the rank that judges its identity and to the one that judges its content (MPI_Alltoallv),
 * which find the repeats among the keys they hold; each repeat travels to the rank holding the
 * kept object (it names it: its path is there) and then to the rank that read the duplicate.
 * So a rank holds about 2/P of the keys, never all of them. See survey.h for the rule. */
#ifndef LCFM_SURVEY_DUPLICATES_H
#define LCFM_SURVEY_DUPLICATES_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/survey.h"

enum { LCFM_CONTENT_HASH_BYTES = 16 };

typedef struct {
  int64_t source, file, length;
  int64_t
      position; /* index among all objects of the ingest (input order), set by lcfm_mark_duplicates */
  int64_t duplicate_of; /* position of the earlier object it repeats, or -1 */
  int32_t survey, season, unit, subunit, band;
  int32_t same_identity; /* 1: the same identity as duplicate_of; 0: the same columns */
  unsigned char content[LCFM_CONTENT_HASH_BYTES];
} lcfm_object_key;
_Static_assert(sizeof(lcfm_object_key) == 80, "survey.h and the README state 80 bytes per object");

/* The key of `object`, read from file number `file` of the sorted input list. */
void lcfm_object_key_make(lcfm_object_key *key, const lcfm_survey_object *object, int64_t file);

/* Append mode: the keys of the objects already in the store, this rank's share of them; a
 * stored object precedes every file, so a file repeating it is the duplicate. Their `file` is
 * -1 - id (the stored object's id). */
typedef struct {
  lcfm_object_key *keys;
  int64_t count;
  const char *store;            /* path, to name the stored object a duplicate repeats */
  lcfm_instrument *instruments; /* the store's /instruments, the same on every rank */
  int64_t instrument_count;
} lcfm_stored_keys;

/* Collective: reads this rank's shard of the store at `path` and makes the keys of its objects
 * (identity from /instruments, content hash of the stored columns). */
void lcfm_stored_keys_read(MPI_Comm comm, const char *path, lcfm_stored_keys *stored);
void lcfm_stored_keys_free(lcfm_stored_keys *stored);

/* Receives a duplicate's key and its reject (reason DUPLICATE, naming the object kept). */
typedef void (*lcfm_duplicate_sink)(void *user, const lcfm_object_key *key,
                                    const lcfm_reject *reject);

/* Collective: sets the position of this rank's keys (count of them, in file order; ranks hold
 * consecutive slices `files` of the sorted list), marks those that repeat an earlier object of
 * any rank (duplicate_of, same_identity) and reports each one, in order, to `on_duplicate`.
 * Returns how many of this rank's keys are duplicates. */
int64_t lcfm_mark_duplicates(MPI_Comm comm, lcfm_object_key *keys, int64_t count,
                             const lcfm_stored_keys *stored, const lcfm_input_slice *files,
                             lcfm_duplicate_sink on_duplicate, void *user);

#endif
