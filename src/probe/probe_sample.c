/* probe_sample.c: the MLP probe's draws without holding the store (probe_sample.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/fields.h"
#include "lcfm/probe_sample.h"
#include "lcfm/store.h"
#include "lcfm/store_index.h"
#include "probe_read_internal.h"

enum { POOLS = 3 }; /* indexed by lcfm_star_role */

/* How many places of each pool the probe uses. */
static int64_t places_used(const lcfm_probe_sample *s, int pool, int64_t pool_size,
                           int64_t largest) {
  int64_t cap = pool == LCFM_STAR_TEST       ? s->protocol.test_objects
                : pool == LCFM_STAR_STOPPING ? s->protocol.stopping_objects
                                             : largest;
  return cap < pool_size ? cap : pool_size;
}

void lcfm_probe_sample_store_rows(const lcfm_probe_sample *s, int64_t first, int64_t count,
                                  int64_t *row) {
  for (int64_t i = 0; i < count; i++) row[i] = s->store_row ? s->store_row[first + i] : first + i;
}

/* The sources of probed objects [first, first + count) (per process). */
static void read_sources(const lcfm_probe_sample *s, hid_t sources, int64_t first, int64_t count,
                         int64_t *row, int64_t *source) {
  lcfm_probe_sample_store_rows(s, first, count, row);
  lcfm_probe_read_rows(sources, H5T_NATIVE_INT64, row, count, 0, source);
}

/* Pass 1: this rank's members of every pool (mine[run][pool]); the first source outside
 * [0, source_limit) in *bad (-1: none) and its object in *bad_object. */
static void count_members(const lcfm_probe_sample *s, hid_t sources, int64_t source_limit,
                          int64_t (*mine)[POOLS], int64_t *bad, int64_t *bad_object) {
  int64_t *row = lcfm_malloc(LCFM_PROBE_BLOCK * sizeof *row),
          *source = lcfm_malloc(LCFM_PROBE_BLOCK * sizeof *source);
  *bad = -1;
  for (int64_t done = 0; done < s->count; done += LCFM_PROBE_BLOCK) {
    int64_t n = s->count - done < LCFM_PROBE_BLOCK ? s->count - done : LCFM_PROBE_BLOCK;
    read_sources(s, sources, s->first + done, n, row, source);
    for (int64_t i = 0; i < n; i++) {
      if (source_limit >= 0 && (source[i] < 0 || source[i] >= source_limit) && *bad < 0)
        *bad = source[i], *bad_object = row[i];
      for (int r = 0; r < s->runs; r++) mine[r][lcfm_probe_star_role(&s->protocol, r, source[i])]++;
    }
  }
  free(row), free(source);
}

/* The first places of every (run, pool), traced on the rank t % ranks of trace t and shared:
 * member[offset[t] .. offset[t + 1]) are pool members in place order. */
static int64_t *trace_first_places(const lcfm_probe_sample *s, MPI_Comm comm,
                                   int64_t (*pool)[POOLS], const int64_t *offset) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int traces = s->runs * POOLS;
  int64_t *member = lcfm_calloc((size_t)(offset[traces] ? offset[traces] : 1), sizeof *member);
  for (int t = 0; t < traces; t++)
    if (t % ranks == rank)
      lcfm_probe_draw_first(&s->protocol, t / POOLS, (lcfm_star_role)(t % POOLS),
                            pool[t / POOLS][t % POOLS], offset[t + 1] - offset[t],
                            member + offset[t]);
  LCFM_CHECK(offset[traces] < INT_MAX, "probe: %lld sampled places (at most %d)",
             (long long)offset[traces], INT_MAX);
  LCFM_CHECK_MPI(
      MPI_Allreduce(MPI_IN_PLACE, member, (int)offset[traces], MPI_INT64_T, MPI_SUM, comm));
  return member;
}

typedef struct {
  int64_t member, place;
} wanted;

static int by_member(const void *a, const void *b) {
  int64_t x = ((const wanted *)a)->member, y = ((const wanted *)b)->member;
  return (x > y) - (x < y);
}

/* Pass 2: object[k] = the probed object of member[k] for the members in this rank's shard (-1
 * elsewhere); `before` [run][pool]: members before the shard. */
static void find_objects(const lcfm_probe_sample *s, hid_t sources, const int64_t *member,
                         const int64_t *offset, int64_t (*before)[POOLS], int64_t *object) {
  int traces = s->runs * POOLS;
  wanted **want = lcfm_malloc((size_t)traces * sizeof *want);
  int64_t *next = lcfm_calloc((size_t)traces, sizeof *next),
          (*seen)[POOLS] = lcfm_malloc((size_t)s->runs * sizeof *seen);
  for (int t = 0; t < traces; t++) {
    int64_t n = offset[t + 1] - offset[t];
    want[t] = lcfm_malloc((size_t)(n ? n : 1) * sizeof **want);
    for (int64_t k = 0; k < n; k++) want[t][k] = (wanted){member[offset[t] + k], offset[t] + k};
    qsort(want[t], (size_t)n, sizeof **want, by_member);
  }
  memcpy(seen, before, (size_t)s->runs * sizeof *seen);
  for (int64_t k = 0; k < offset[traces]; k++) object[k] = -1;
  int64_t *row = lcfm_malloc(LCFM_PROBE_BLOCK * sizeof *row),
          *source = lcfm_malloc(LCFM_PROBE_BLOCK * sizeof *source);
  for (int64_t done = 0; done < s->count; done += LCFM_PROBE_BLOCK) {
    int64_t n = s->count - done < LCFM_PROBE_BLOCK ? s->count - done : LCFM_PROBE_BLOCK;
    read_sources(s, sources, s->first + done, n, row, source);
    for (int64_t i = 0; i < n; i++)
      for (int r = 0; r < s->runs; r++) {
        int pool = (int)lcfm_probe_star_role(&s->protocol, r, source[i]), t = r * POOLS + pool;
        int64_t m = seen[r][pool]++;
        while (next[t] < offset[t + 1] - offset[t] && want[t][next[t]].member < m) next[t]++;
        if (next[t] < offset[t + 1] - offset[t] && want[t][next[t]].member == m)
          object[want[t][next[t]].place] = s->first + done + i;
      }
  }
  for (int t = 0; t < traces; t++) free(want[t]);
  free(want), free(next), free(seen), free(row), free(source);
}

static int increasing(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int64_t *copy_of(const int64_t *v, int64_t n) {
  int64_t *c = lcfm_malloc((size_t)(n ? n : 1) * sizeof *c);
  memcpy(c, v, (size_t)n * sizeof *c);
  return c;
}

/* The draws from the traced places, and sorted copies of the test and stopping objects. */
static void make_draws(lcfm_probe_sample *s, int64_t (*pool)[POOLS], const int64_t *offset,
                       const int64_t *object) {
  s->draws = lcfm_calloc((size_t)s->runs, sizeof *s->draws);
  s->sorted = lcfm_malloc((size_t)s->runs * 2 * sizeof *s->sorted);
  for (int r = 0; r < s->runs; r++) {
    lcfm_probe_draw *d = &s->draws[r];
    const int64_t *at = offset + r * POOLS;
    d->training_pool = pool[r][LCFM_STAR_TRAINING];
    d->training_count = at[LCFM_STAR_TRAINING + 1] - at[LCFM_STAR_TRAINING];
    d->test_count = at[LCFM_STAR_TEST + 1] - at[LCFM_STAR_TEST];
    d->stopping_count = at[LCFM_STAR_STOPPING + 1] - at[LCFM_STAR_STOPPING];
    d->training = copy_of(object + at[LCFM_STAR_TRAINING], d->training_count);
    d->test = copy_of(object + at[LCFM_STAR_TEST], d->test_count);
    d->stopping = copy_of(object + at[LCFM_STAR_STOPPING], d->stopping_count);
    s->sorted[2 * r] = copy_of(d->test, d->test_count),
                  s->sorted[2 * r + 1] = copy_of(d->stopping, d->stopping_count);
    qsort(s->sorted[2 * r], (size_t)d->test_count, sizeof(int64_t), increasing);
    qsort(s->sorted[2 * r + 1], (size_t)d->stopping_count, sizeof(int64_t), increasing);
  }
}

/* The probed objects: the store's, or the rows of the selected fields. */
static int select_objects(lcfm_probe_sample *s, hid_t file, const char *store, const char *fields,
                          char *why, size_t len) {
  lcfm_fields selection;
  if (lcfm_fields_parse(fields ? fields : "", &selection, why, len))
    return 1; /* checked at job load */
  if (!lcfm_fields_all(&selection))
    s->store_row = lcfm_store_select_fields(file, store, &selection, &s->objects);
  lcfm_fields_free(&selection);
  if (s->objects == 0)
    snprintf(why, len, "%s: no object lies in the selected fields ([probe] fields = %s)", store,
             fields);
  return s->objects == 0;
}

int lcfm_probe_sample_make(lcfm_probe_sample *s, MPI_Comm comm, const char *store,
                           const char *fields, const lcfm_probe_protocol *p, int runs,
                           int64_t largest, int64_t source_limit, char *why, size_t len) {
  memset(s, 0, sizeof *s);
  s->runs = runs, s->protocol = *p;
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  hid_t file = lcfm_probe_open(store, why, len), sources = -1;
  int64_t cols = 0;
  if (file >= 0)
    sources =
        lcfm_probe_open_dataset(file, store, "/objects/source", &s->store_objects, &cols, why, len);
  s->objects = s->store_objects;
  int failed = sources < 0 || select_objects(s, file, store, fields, why, len);
  int64_t(*pool)[POOLS] = lcfm_calloc((size_t)runs, sizeof *pool),
  (*before)[POOLS] = lcfm_calloc((size_t)runs, sizeof *before);
  int64_t bad = -1, bad_object = -1;
  if (!failed) {
    lcfm_store_shard(s->objects, rank, ranks, &s->first, &s->count);
    count_members(s, sources, source_limit, pool, &bad, &bad_object);
    if (bad >= 0)
      snprintf(why, len, "%s: object %lld's source %lld has no row of /truth/theta (%lld rows)",
               store, (long long)bad_object, (long long)bad, (long long)source_limit);
  }
  int any = failed || bad >= 0;
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, comm));
  if (any) { /* the reason of the lowest failing rank on every rank */
    int mine = failed || bad >= 0 ? rank : INT_MAX, first = 0;
    LCFM_CHECK_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
    LCFM_CHECK_MPI(MPI_Bcast(why, (int)len, MPI_CHAR, first, comm));
    if (sources >= 0) H5Dclose(sources);
    if (file >= 0) H5Fclose(file);
    free(pool), free(before);
    return 1;
  }
  LCFM_CHECK_MPI(MPI_Exscan(pool, before, runs * POOLS, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) memset(before, 0, (size_t)runs * sizeof *before);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, pool, runs * POOLS, MPI_INT64_T, MPI_SUM, comm));
  int64_t *offset = lcfm_calloc((size_t)runs * POOLS + 1, sizeof *offset);
  for (int t = 0; t < runs * POOLS; t++)
    offset[t + 1] = offset[t] + places_used(s, t % POOLS, pool[t / POOLS][t % POOLS], largest);
  int64_t *member = trace_first_places(s, comm, pool, offset);
  int64_t *object =
      lcfm_malloc((size_t)(offset[runs * POOLS] ? offset[runs * POOLS] : 1) * sizeof *object);
  find_objects(s, sources, member, offset, before, object);
  LCFM_CHECK_MPI(
      MPI_Allreduce(MPI_IN_PLACE, object, (int)offset[runs * POOLS], MPI_INT64_T, MPI_MAX, comm));
  make_draws(s, pool, offset, object);
  s->seen = lcfm_calloc((size_t)runs, sizeof *s->seen); /* the codes start at the first object */
  free(pool), free(before), free(offset), free(member), free(object);
  H5Dclose(sources), H5Fclose(file);
  return 0;
}

static int contains(const int64_t *sorted, int64_t n, int64_t v) {
  return bsearch(&v, sorted, (size_t)n, sizeof v, increasing) != NULL;
}

/* role [runs, count] of a block's objects; `before` [run][pool] gets the members of the blocks
 * before this rank's in the round (and in earlier rounds), s->seen moves past the round. */
static void block_roles(lcfm_probe_sample *s, MPI_Comm comm, const int64_t *source, int64_t count,
                        uint8_t *role, int64_t (*before)[POOLS]) {
  int64_t(*mine)[POOLS] = lcfm_calloc((size_t)s->runs, sizeof *mine);
  for (int r = 0; r < s->runs; r++)
    for (int64_t i = 0; i < count; i++) {
      role[(size_t)r * (size_t)count + (size_t)i] =
          (uint8_t)lcfm_probe_star_role(&s->protocol, r, source[i]);
      mine[r][role[(size_t)r * (size_t)count + (size_t)i]]++;
    }
  int rank, n = s->runs * POOLS;
  MPI_Comm_rank(comm, &rank);
  LCFM_CHECK_MPI(MPI_Exscan(mine, before, n, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) memset(before, 0, (size_t)s->runs * sizeof *before);
  for (int r = 0; r < s->runs; r++)
    for (int pool = 0; pool < POOLS; pool++) before[r][pool] += s->seen[r][pool];
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, mine, n, MPI_INT64_T, MPI_SUM, comm));
  for (int r = 0; r < s->runs; r++)
    for (int pool = 0; pool < POOLS; pool++) s->seen[r][pool] += mine[r][pool];
  free(mine);
}

void lcfm_probe_sample_codes(lcfm_probe_sample *s, MPI_Comm comm, int64_t first,
                             const int64_t *source, int64_t count, int64_t *code) {
  size_t n = (size_t)(count ? count : 1);
  uint8_t *role = lcfm_malloc(n * (size_t)s->runs);
  int64_t(*seen)[POOLS] = lcfm_malloc((size_t)s->runs * sizeof *seen);
  block_roles(s, comm, source, count, role, seen);
  int64_t *member = lcfm_malloc(n * sizeof *member), *at = lcfm_malloc(n * sizeof *at),
          *place = lcfm_malloc(n * sizeof *place);
  for (int r = 0; r < s->runs; r++) {
    int64_t *row = code + (size_t)r * (size_t)count, training = 0;
    const uint8_t *block_role = role + (size_t)r * (size_t)count;
    const lcfm_probe_draw *d = &s->draws[r];
    for (int64_t i = 0; i < count; i++) {
      lcfm_star_role it = (lcfm_star_role)block_role[i];
      seen[r][it]++;
      row[i] = LCFM_DRAW_UNUSED;
      if (it == LCFM_STAR_TRAINING) member[training] = seen[r][it] - 1, at[training++] = i;
      else if (it == LCFM_STAR_TEST && contains(s->sorted[2 * r], d->test_count, first + i))
        row[i] = LCFM_DRAW_TEST;
      else if (it == LCFM_STAR_STOPPING &&
               contains(s->sorted[2 * r + 1], d->stopping_count, first + i))
        row[i] = LCFM_DRAW_STOPPING;
    }
    lcfm_probe_draw_places(&s->protocol, r, LCFM_STAR_TRAINING, d->training_pool, member, training,
                           place);
    for (int64_t k = 0; k < training; k++) row[at[k]] = place[k];
  }
  free(role), free(seen), free(member), free(at), free(place);
}

void lcfm_probe_sample_free(lcfm_probe_sample *s) {
  for (int r = 0; s->draws && r < s->runs; r++) lcfm_probe_draw_free(&s->draws[r]);
  for (int k = 0; s->sorted && k < 2 * s->runs; k++) free(s->sorted[k]);
  free(s->draws), free(s->sorted), free(s->seen), free(s->store_row);
  memset(s, 0, sizeof *s);
}
