/* duplicates.h (private to src/survey): finding the same light curve read from several files.
 *
 * Every object read in pass 1 gets a key: its identity (survey, source, season, unit, subunit,
 * band) and the first 128 bits of a SHA-256 (OpenSSL) of its decoded columns. The ranks gather
 * all keys, in file order, and the first object of each identity and of each content is kept:
 * the lowest file index wins whatever the rank count. See survey.h for the rule and its cost. */
#ifndef LCFM_SURVEY_DUPLICATES_H
#define LCFM_SURVEY_DUPLICATES_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/survey.h"

enum { LCFM_CONTENT_HASH_BYTES = 16 };

typedef struct {
  int64_t source, file, length;
  int64_t position;     /* index among all objects of the ingest (file order), set when gathered */
  int64_t duplicate_of; /* position of the earlier object it repeats, or -1 */
  int32_t survey, season, unit, subunit, band;
  int32_t same_identity; /* 1: the same identity as duplicate_of; 0: the same columns */
  unsigned char content[LCFM_CONTENT_HASH_BYTES];
} lcfm_object_key;
_Static_assert(sizeof(lcfm_object_key) == 80, "survey.h and the README state 80 bytes per object");

/* The key of `object`, read from file number `file` of the sorted input list. */
void lcfm_object_key_make(lcfm_object_key *key, const lcfm_survey_object *object, int64_t file);

/* Receives a duplicate's key and its reject (reason DUPLICATE, naming the object kept). */
typedef void (*lcfm_duplicate_sink)(void *user, const lcfm_object_key *key, const lcfm_reject *reject);

/* Collective: marks this rank's keys (count of them, in file order; ranks hold consecutive
 * slices of the files) that repeat an earlier object of any rank, and reports each one to
 * `on_duplicate`. Returns how many of this rank's keys are duplicates. */
int64_t lcfm_mark_duplicates(MPI_Comm comm, lcfm_object_key *keys, int64_t count, const char *paths,
                             const int64_t *offsets, lcfm_duplicate_sink on_duplicate, void *user);

#endif
