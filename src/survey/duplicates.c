/* duplicates.c: one light curve stored once, across files and ranks (see duplicates.h). */
#include "duplicates.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reject.h"

void lcfm_object_key_make(lcfm_object_key *key, const lcfm_survey_object *object, int64_t file) {
  memset(key, 0, sizeof *key);
  const lcfm_instrument *in = &object->instrument;
  key->source = object->source, key->file = file, key->length = object->length;
  key->position = -1, key->duplicate_of = -1;
  key->survey = in->survey, key->season = in->season, key->unit = in->unit, key->subunit = in->subunit;
  key->band = in->band;
  size_t n = (size_t)object->length;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  EVP_MD_CTX *sha = EVP_MD_CTX_new();
  int ok = sha && EVP_DigestInit_ex(sha, EVP_sha256(), NULL) &&
           EVP_DigestUpdate(sha, &object->length, sizeof object->length) &&
           EVP_DigestUpdate(sha, object->time, n * sizeof *object->time) &&
           EVP_DigestUpdate(sha, object->value, n * sizeof *object->value) &&
           EVP_DigestUpdate(sha, object->error, n * sizeof *object->error) &&
           EVP_DigestFinal_ex(sha, digest, &digest_length);
  EVP_MD_CTX_free(sha);
  LCFM_CHECK(ok && digest_length >= LCFM_CONTENT_HASH_BYTES, "OpenSSL could not compute a SHA-256");
  memcpy(key->content, digest, LCFM_CONTENT_HASH_BYTES);
}

static int compare_int64(int64_t a, int64_t b) { return (a > b) - (a < b); }

static int compare_identity(const void *pa, const void *pb) {
  const lcfm_object_key *a = pa, *b = pb;
  const int32_t ka[5] = {a->survey, a->season, a->unit, a->subunit, a->band};
  const int32_t kb[5] = {b->survey, b->season, b->unit, b->subunit, b->band};
  for (int i = 0; i < 5; i++)
    if (ka[i] != kb[i]) return ka[i] < kb[i] ? -1 : 1;
  int c = compare_int64(a->source, b->source);
  return c ? c : compare_int64(a->position, b->position);
}

static int compare_content(const void *pa, const void *pb) {
  const lcfm_object_key *a = pa, *b = pb;
  int c = memcmp(a->content, b->content, LCFM_CONTENT_HASH_BYTES);
  return c ? c : compare_int64(a->position, b->position);
}

static int compare_position(const void *pa, const void *pb) {
  return compare_int64(((const lcfm_object_key *)pa)->position, ((const lcfm_object_key *)pb)->position);
}

/* Sorts by `order` (ties by position) and marks all but the first of each run of equal keys. */
static void mark_runs(lcfm_object_key *all, int64_t n, int (*order)(const void *, const void *), int same_identity) {
  qsort(all, (size_t)n, sizeof *all, order);
  for (int64_t first = 0, i = 1; i < n; i++) {
    lcfm_object_key probe = all[i];
    probe.position = all[first].position; /* equal keys now compare equal */
    if (order(&probe, &all[first])) {
      first = i;
      continue;
    }
    if (all[i].duplicate_of < 0) all[i].duplicate_of = all[first].position, all[i].same_identity = same_identity;
  }
}

/* All ranks' keys, in file order, with their positions. */
static lcfm_object_key *gather_keys(MPI_Comm comm, const lcfm_object_key *keys, int64_t count, int64_t *total,
                                    int64_t *my_first) {
  int ranks, rank;
  MPI_Comm_size(comm, &ranks);
  MPI_Comm_rank(comm, &rank);
  LCFM_CHECK(count <= INT32_MAX, "ingest: %lld objects on one rank: too many to deduplicate", (long long)count);
  int mine = (int)count;
  int *counts = lcfm_malloc((size_t)ranks * sizeof *counts), *displs = lcfm_malloc((size_t)ranks * sizeof *displs);
  LCFM_CHECK_MPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, comm));
  int64_t sum = 0;
  for (int r = 0; r < ranks; r++) {
    LCFM_CHECK(sum <= INT32_MAX, "ingest: more than 2^31 objects: too many to deduplicate");
    displs[r] = (int)sum, sum += counts[r];
  }
  *total = sum, *my_first = displs[rank];
  MPI_Datatype record; /* counts in records, not bytes: 2^31 records, not 2^31 bytes */
  LCFM_CHECK_MPI(MPI_Type_contiguous((int)sizeof(lcfm_object_key), MPI_BYTE, &record));
  LCFM_CHECK_MPI(MPI_Type_commit(&record));
  lcfm_object_key *all = lcfm_malloc((size_t)(sum ? sum : 1) * sizeof *all);
  LCFM_CHECK_MPI(MPI_Allgatherv(keys, mine, record, all, counts, displs, record, comm));
  MPI_Type_free(&record);
  free(counts), free(displs);
  for (int64_t i = 0; i < sum; i++) all[i].position = i;
  return all;
}

/* What a reject names: the file, or for MACHO (several objects per file) the star and band. */
static void object_name(const lcfm_object_key *k, const char *paths, const int64_t *offsets, char *buf, size_t len) {
  const char *path = paths + offsets[k->file];
  if (k->survey != LCFM_SURVEY_MACHO) {
    snprintf(buf, len, "%s", path);
    return;
  }
  long long field = k->source / 10000000000LL, tile = k->source / 100000 % 100000, seqn = k->source % 100000;
  snprintf(buf, len, "%s#%lld.%lld.%lld/%s", path, field, tile, seqn, k->band == 0 ? "red" : "blue");
}

static void report_duplicate(const lcfm_object_key *dup, const lcfm_object_key *kept, const char *paths,
                             const int64_t *offsets, lcfm_duplicate_sink on_duplicate, void *user) {
  char name[4200], kept_name[4200];
  object_name(dup, paths, offsets, name, sizeof name);
  object_name(kept, paths, offsets, kept_name, sizeof kept_name);
  size_t n = strlen(kept_name); /* the end of a long path names the file */
  const char *shown = n > 160 ? kept_name + n - 160 : kept_name;
  lcfm_reject r;
  lcfm_fill_reject(&r, name, LCFM_REJECT_DUPLICATE, "duplicate of %s%s (%s)", n > 160 ? "..." : "", shown,
                   dup->same_identity ? "same survey, source, season and instrument"
                                      : "same time, value and error columns");
  on_duplicate(user, dup, &r);
}

int64_t lcfm_mark_duplicates(MPI_Comm comm, lcfm_object_key *keys, int64_t count, const char *paths,
                             const int64_t *offsets, lcfm_duplicate_sink on_duplicate, void *user) {
  int64_t total = 0, my_first = 0, duplicates = 0;
  lcfm_object_key *all = gather_keys(comm, keys, count, &total, &my_first);
  mark_runs(all, total, compare_identity, 1);
  mark_runs(all, total, compare_content, 0);
  qsort(all, (size_t)total, sizeof *all, compare_position);
  for (int64_t i = 0; i < count; i++) {
    keys[i] = all[my_first + i];
    if (keys[i].duplicate_of < 0) continue;
    duplicates++;
    report_duplicate(&keys[i], &all[keys[i].duplicate_of], paths, offsets, on_duplicate, user);
  }
  free(all);
  return duplicates;
}
