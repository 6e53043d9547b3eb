/* duplicates.c: one light curve stored once, across files and ranks (see survey_duplicates.h). */
#include "lcfm/survey_duplicates.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "reject.h"

/* A 128-bit XXH3 of the decoded columns: not cryptographic (files are not adversaries), and 10
 * to 15 times the speed of OpenSSL's SHA-256 with SHA-NI on the ingest benchmark's columns. The
 * chance that two of 10^9 different light curves collide is about 10^-20. */
static void hash_content(unsigned char content[LCFM_CONTENT_HASH_BYTES],
                         const lcfm_survey_object *object) {
  size_t n = (size_t)object->length;
  XXH3_state_t *state = XXH3_createState();
  LCFM_CHECK(state, "ingest: no memory for an XXH3 state");
  int ok = XXH3_128bits_reset(state) == XXH_OK &&
           XXH3_128bits_update(state, &object->length, sizeof object->length) == XXH_OK &&
           XXH3_128bits_update(state, object->time, n * sizeof *object->time) == XXH_OK &&
           XXH3_128bits_update(state, object->value, n * sizeof *object->value) == XXH_OK &&
           XXH3_128bits_update(state, object->error, n * sizeof *object->error) == XXH_OK;
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  LCFM_CHECK(ok, "ingest: XXH3 failed");
  XXH128_canonical_t bytes;
  XXH128_canonicalFromHash(&bytes, h);
  _Static_assert(sizeof bytes.digest == LCFM_CONTENT_HASH_BYTES, "a 128-bit content hash");
  memcpy(content, bytes.digest, LCFM_CONTENT_HASH_BYTES);
}

void lcfm_object_key_make(lcfm_object_key *key, const lcfm_survey_object *object, int64_t file) {
  memset(key, 0, sizeof *key);
  const lcfm_instrument *in = &object->instrument;
  key->source = object->source, key->file = file, key->length = object->length;
  key->position = -1, key->duplicate_of = -1;
  key->survey = in->survey, key->season = in->season, key->unit = in->unit,
  key->subunit = in->subunit;
  key->band = in->band;
  hash_content(key->content, object);
}

/* ---- the two orders of keys: by identity and by content (ties by position) ---- */

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

/* splitmix64's finaliser: spreads keys that differ in a few bits over all ranks. */
static uint64_t mix(uint64_t x) {
  x ^= x >> 30, x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27, x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* The rank that judges a key by identity (equal identities meet there). */
static int identity_rank(const lcfm_object_key *k, int ranks) {
  uint64_t h = mix((uint64_t)k->source);
  const int32_t parts[5] = {k->survey, k->season, k->unit, k->subunit, k->band};
  for (int i = 0; i < 5; i++) h = mix(h ^ (uint32_t)parts[i]);
  return (int)(h % (uint64_t)ranks);
}

/* The rank that judges a key by content (an XXH3 hash is already uniform). */
static int content_rank(const lcfm_object_key *k, int ranks) {
  uint64_t h;
  memcpy(&h, k->content, sizeof h);
  return (int)(h % (uint64_t)ranks);
}

/* ---- all-to-all of fixed-size records ---- */

/* Collective: sends record i of `items` (n records of `size` bytes) to rank destination[i];
 * returns the records this rank receives (*received of them), grouped by sending rank in rank
 * order, each sender's in the order sent. Counts travel in records (an MPI type of `size`
 * bytes), so the int limit is 2^31 records per pair and per receiver, not 2^31 bytes. */
static void *exchange(MPI_Comm comm, const void *items, int64_t n, size_t size,
                      const int *destination, int64_t *received) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  int *send_counts = lcfm_calloc((size_t)ranks, sizeof *send_counts);
  int *send_displs = lcfm_malloc((size_t)ranks * sizeof *send_displs);
  int *recv_counts = lcfm_malloc((size_t)ranks * sizeof *recv_counts);
  int *recv_displs = lcfm_malloc((size_t)ranks * sizeof *recv_displs);
  LCFM_CHECK(n <= INT_MAX, "ingest: %lld duplicate-check records on one rank (at most 2^31)",
             (long long)n);
  for (int64_t i = 0; i < n; i++) send_counts[destination[i]]++;
  int64_t sent = 0, got = 0;
  for (int r = 0; r < ranks; r++) send_displs[r] = (int)sent, sent += send_counts[r];
  LCFM_CHECK_MPI(MPI_Alltoall(send_counts, 1, MPI_INT, recv_counts, 1, MPI_INT, comm));
  for (int r = 0; r < ranks; r++) {
    LCFM_CHECK(got + recv_counts[r] <= INT_MAX,
               "ingest: more than 2^31 duplicate-check records for one rank");
    recv_displs[r] = (int)got, got += recv_counts[r];
  }
  char *packed = lcfm_malloc((size_t)(n ? n : 1) * size),
       *in = lcfm_malloc((size_t)(got ? got : 1) * size);
  int *next = lcfm_malloc((size_t)ranks * sizeof *next);
  memcpy(next, send_displs, (size_t)ranks * sizeof *next);
  for (int64_t i = 0; i < n; i++)
    memcpy(packed + (size_t)next[destination[i]]++ * size, (const char *)items + i * size, size);
  MPI_Datatype record;
  LCFM_CHECK_MPI(MPI_Type_contiguous((int)size, MPI_BYTE, &record));
  LCFM_CHECK_MPI(MPI_Type_commit(&record));
  LCFM_CHECK_MPI(MPI_Alltoallv(packed, send_counts, send_displs, record, in, recv_counts,
                               recv_displs, record, comm));
  MPI_Type_free(&record);
  free(packed), free(next), free(send_counts), free(send_displs), free(recv_counts),
      free(recv_displs);
  *received = got;
  return in;
}

/* ---- where each key lives: positions in input order, stored objects first ---- */

typedef struct {
  int ranks, rank;
  int64_t *stored_before, *files_before; /* [ranks + 1]: prefix sums of each rank's keys */
  int64_t stored_total;
} key_places;

static void places_init(MPI_Comm comm, int64_t stored_count, int64_t file_count, key_places *p) {
  MPI_Comm_size(comm, &p->ranks);
  MPI_Comm_rank(comm, &p->rank);
  int64_t mine[2] = {stored_count, file_count};
  int64_t *all = lcfm_malloc((size_t)p->ranks * sizeof mine);
  LCFM_CHECK_MPI(MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, comm));
  p->stored_before = lcfm_malloc((size_t)(p->ranks + 1) * sizeof *p->stored_before);
  p->files_before = lcfm_malloc((size_t)(p->ranks + 1) * sizeof *p->files_before);
  p->stored_before[0] = p->files_before[0] = 0;
  for (int r = 0; r < p->ranks; r++) {
    p->stored_before[r + 1] = p->stored_before[r] + all[2 * r];
    p->files_before[r + 1] = p->files_before[r] + all[2 * r + 1];
  }
  p->stored_total = p->stored_before[p->ranks];
  free(all);
}

static void places_free(key_places *p) { free(p->stored_before), free(p->files_before); }

/* The last r with before[r] <= at (before is nondecreasing, before[0] = 0). */
static int rank_holding(const int64_t *before, int ranks, int64_t at) {
  int lo = 0, hi = ranks - 1;
  while (lo < hi) {
    int mid = lo + (hi - lo + 1) / 2;
    if (before[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static int owner_of(const key_places *p, int64_t position) {
  return position < p->stored_total
             ? rank_holding(p->stored_before, p->ranks, position)
             : rank_holding(p->files_before, p->ranks, position - p->stored_total);
}

/* ---- the verdicts ---- */

/* A duplicate found by the rank judging its identity or content, on its way to the rank that
 * can name the kept object (that holds its file's path). */
typedef struct {
  lcfm_object_key duplicate, kept;
  int32_t same_identity, pad;
} found_duplicate;

/* The same, named, on its way to the rank that read the duplicate. */
enum { KEPT_NAME_LEN = 168 };
typedef struct {
  int64_t position; /* the duplicate's */
  int64_t kept_position;
  int32_t same_identity, pad;
  char kept_name[KEPT_NAME_LEN]; /* as the reject shows it: the last 160 characters after "..." */
} named_duplicate;

/* Sorts the keys this rank judges by `order` and records every file key that repeats the first
 * of its run (an earlier object: a stored one or one of an earlier file). */
static void find_repeats(lcfm_object_key *keys, int64_t n, int (*order)(const void *, const void *),
                         int same_identity, int64_t stored_total, found_duplicate **found,
                         int64_t *found_count, int64_t *capacity) {
  qsort(keys, (size_t)n, sizeof *keys, order);
  for (int64_t first = 0, i = 1; i < n; i++) {
    lcfm_object_key probe = keys[i];
    probe.position = keys[first].position; /* equal keys now compare equal */
    if (order(&probe, &keys[first])) {
      first = i;
      continue;
    }
    if (keys[i].position < stored_total) continue; /* a store's own repeats are not this ingest's */
    if (*found_count == *capacity) {
      *capacity = *capacity ? 2 * *capacity : 64;
      *found = lcfm_realloc(*found, (size_t)*capacity * sizeof **found);
    }
    (*found)[(*found_count)++] = (found_duplicate){
        .duplicate = keys[i], .kept = keys[first], .same_identity = same_identity};
  }
}

/* What a reject names: the file, or for MACHO (several objects per file) the star and band; a
 * stored object by its id in the store. */
static void object_name(const lcfm_object_key *k, const char *store, const lcfm_input_slice *files,
                        char *buf, size_t len) {
  if (k->file < 0) {
    snprintf(buf, len, "object %lld of %s", (long long)(-1 - k->file), store);
    return;
  }
  const char *path = lcfm_input_path(files, k->file);
  if (k->survey != LCFM_SURVEY_MACHO) {
    snprintf(buf, len, "%s", path);
    return;
  }
  long long field = k->source / 10000000000LL, tile = k->source / 100000 % 100000,
            seqn = k->source % 100000;
  snprintf(buf, len, "%s#%lld.%lld.%lld/%s", path, field, tile, seqn,
           k->band == 0 ? "red" : "blue");
}

/* On the rank holding the kept object: its name as the reject shows it (the end of a long path
 * names the file). */
static named_duplicate name_kept(const found_duplicate *f, const char *store,
                                 const lcfm_input_slice *files) {
  char name[4200];
  object_name(&f->kept, store, files, name, sizeof name);
  size_t n = strlen(name);
  named_duplicate d = {.position = f->duplicate.position,
                       .kept_position = f->kept.position,
                       .same_identity = f->same_identity};
  const char *shown = n > 160 ? name + n - 160 : name; /* at most 160 characters */
  memcpy(d.kept_name, "...", n > 160 ? 3 : 0);
  memcpy(d.kept_name + (n > 160 ? 3 : 0), shown, strlen(shown) + 1);
  return d;
}

/* The verdict a duplicate keeps: by identity before by content (as a key that repeats both an
 * identity and a content is reported), then the earliest kept object. */
static int compare_verdicts(const void *pa, const void *pb) {
  const named_duplicate *a = pa, *b = pb;
  if (a->position != b->position) return compare_int64(a->position, b->position);
  if (a->same_identity != b->same_identity) return b->same_identity - a->same_identity;
  return compare_int64(a->kept_position, b->kept_position);
}

/* Hash partition: each key goes to the rank judging its identity and to the one judging its
 * content; each of them finds the repeats among the keys it holds. */
static found_duplicate *judge(MPI_Comm comm, const lcfm_object_key *mine, int64_t n,
                              const key_places *p, int64_t *found_count) {
  int *destination = lcfm_malloc((size_t)(n ? n : 1) * sizeof *destination);
  found_duplicate *found = NULL;
  int64_t capacity = 0, held = 0;
  *found_count = 0;
  for (int by_identity = 1; by_identity >= 0; by_identity--) {
    for (int64_t i = 0; i < n; i++)
      destination[i] =
          by_identity ? identity_rank(&mine[i], p->ranks) : content_rank(&mine[i], p->ranks);
    lcfm_object_key *judged = exchange(comm, mine, n, sizeof *mine, destination, &held);
    find_repeats(judged, held, by_identity ? compare_identity : compare_content, by_identity,
                 p->stored_total, &found, found_count, &capacity);
    free(judged);
  }
  free(destination);
  return found;
}

/* Each duplicate found goes to the rank holding its kept object, which names that object, and
 * the named verdict to the rank that read the duplicate. Returns this rank's verdicts sorted by
 * position (the preferred verdict of each duplicate first). */
static named_duplicate *deliver(MPI_Comm comm, const found_duplicate *found, int64_t n,
                                const key_places *p, const char *store,
                                const lcfm_input_slice *files, int64_t *count) {
  int *destination = lcfm_malloc((size_t)(n ? n : 1) * sizeof *destination);
  for (int64_t i = 0; i < n; i++) destination[i] = owner_of(p, found[i].kept.position);
  int64_t held = 0;
  found_duplicate *to_name = exchange(comm, found, n, sizeof *found, destination, &held);
  named_duplicate *named = lcfm_malloc((size_t)(held ? held : 1) * sizeof *named);
  destination = lcfm_realloc(destination, (size_t)held * sizeof *destination);
  for (int64_t i = 0; i < held; i++) {
    named[i] = name_kept(&to_name[i], store, files);
    destination[i] = owner_of(p, named[i].position);
  }
  free(to_name);
  named_duplicate *verdicts = exchange(comm, named, held, sizeof *named, destination, count);
  free(named), free(destination);
  qsort(verdicts, (size_t)*count, sizeof *verdicts, compare_verdicts);
  return verdicts;
}

int64_t lcfm_mark_duplicates(MPI_Comm comm, lcfm_object_key *keys, int64_t count,
                             const lcfm_stored_keys *stored, const lcfm_input_slice *files,
                             lcfm_duplicate_sink on_duplicate, void *user) {
  key_places p;
  places_init(comm, stored->count, count, &p);
  int64_t n = stored->count + count, my_first_file = p.stored_total + p.files_before[p.rank];
  lcfm_object_key *mine = lcfm_malloc((size_t)(n ? n : 1) * sizeof *mine);
  for (int64_t i = 0; i < stored->count; i++)
    mine[i] = stored->keys[i], mine[i].position = p.stored_before[p.rank] + i;
  for (int64_t i = 0; i < count; i++)
    keys[i].position = my_first_file + i, mine[stored->count + i] = keys[i];
  int64_t found_count = 0, verdict_count = 0, duplicates = 0;
  found_duplicate *found = judge(comm, mine, n, &p, &found_count);
  free(mine);
  named_duplicate *verdicts =
      deliver(comm, found, found_count, &p, stored->store, files, &verdict_count);
  free(found);
  for (int64_t v = 0; v < verdict_count; v++) {
    if (v > 0 && verdicts[v].position == verdicts[v - 1].position)
      continue; /* a less preferred verdict */
    lcfm_object_key *dup = &keys[verdicts[v].position - my_first_file];
    dup->duplicate_of = verdicts[v].kept_position, dup->same_identity = verdicts[v].same_identity;
    char name[4200];
    object_name(dup, stored->store, files, name, sizeof name);
    lcfm_reject r;
    lcfm_fill_reject(&r, name, LCFM_REJECT_DUPLICATE, "duplicate of %s (%s)", verdicts[v].kept_name,
                     dup->same_identity ? "same survey, source, season and instrument"
                                        : "same time, value and error columns");
    on_duplicate(user, dup, &r);
    duplicates++;
  }
  free(verdicts);
  places_free(&p);
  return duplicates;
}
void lcfm_stored_keys_read(MPI_Comm comm, const char *path, lcfm_stored_keys *stored) {
  char why[1024];
  lcfm_store *s = lcfm_store_open(comm, path, why, sizeof why);
  LCFM_CHECK(s, "appending to %s: %s", path, why);
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t instrument_count = 0, first = 0, count = 0;
  lcfm_instrument *instruments = lcfm_store_read_instruments(s, &instrument_count);
  lcfm_store_shard(lcfm_store_object_count(s), rank, ranks, &first, &count);
  stored->keys = lcfm_malloc((size_t)(count ? count : 1) * sizeof *stored->keys);
  stored->count = 0;
  stored->store = path;
  lcfm_store_cursor cursor;
  lcfm_store_cursor_begin(&cursor, s, first, count, 1024);
  while (lcfm_store_cursor_next(&cursor)) {
    const lcfm_object_batch *b = &cursor.batch;
    for (int64_t i = 0, at = 0; i < b->count; at += b->length[i], i++) {
      LCFM_CHECK(b->instrument[i] >= 0 && b->instrument[i] < instrument_count &&
                     instruments[b->instrument[i]].id == b->instrument[i],
                 "%s: object %lld names instrument %d, beyond /instruments", path,
                 (long long)b->id[i], b->instrument[i]);
      lcfm_survey_object object = {.source = b->source[i],
                                   .instrument = instruments[b->instrument[i]],
                                   .length = b->length[i],
                                   .time = b->time + at,
                                   .value = b->value + at,
                                   .error = b->error + at};
      lcfm_object_key_make(&stored->keys[stored->count++], &object, -1 - b->id[i]);
    }
  }
  lcfm_store_cursor_end(&cursor);
  stored->instruments = instruments;
  stored->instrument_count = instrument_count;
  lcfm_store_free(s);
}

void lcfm_stored_keys_free(lcfm_stored_keys *stored) {
  free(stored->keys);
  free(stored->instruments);
  stored->keys = NULL, stored->count = 0;
  stored->instruments = NULL, stored->instrument_count = 0;
}
