/* test_index_sort.c: the /index that ingest and append write (lcfm_store_index_write, a parallel
 * sort) equals, dataset by dataset and value by value, a reference computed here on one rank:
 *   by_source, by_field  rows sorted by (key, row), key and start tables of the distinct keys;
 *   by_instrument        rows sorted by (instrument, row), a start for every instrument id.
 * Stores: sources and fields out of order (negative and extreme keys too), one source holding
 * most objects (its group straddles the ranks' slices), objects written unevenly by the ranks
 * (all by one rank), fewer objects than ranks (ranks with nothing), no objects at all, and an
 * append that adds objects and an instrument. The reference does not depend on the rank count,
 * so passing at 1, 2 and 4 ranks means the same bytes at every rank count. */
#include <string.h>
#include <unistd.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/store_index.h"

enum { INSTRUMENTS = 5 };

typedef struct {
  int64_t key, row;
} pair;

static int pair_order(const void *pa, const void *pb) {
  const pair *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return (a->row > b->row) - (a->row < b->row);
}

static void expect_dataset(hid_t file, const char *path, const char *name, const int64_t *expected,
                           int64_t n) {
  char full[64];
  snprintf(full, sizeof full, "/index/%s", name);
  int64_t got_n;
  int64_t *got = lcfm_test_read_int64s(file, full, &got_n);
  int64_t first_wrong = -1;
  for (int64_t i = 0; i < n && i < got_n && first_wrong < 0; i++)
    if (got[i] != expected[i]) first_wrong = i;
  EXPECT(got_n == n && first_wrong < 0, "%s %s: %lld values (expected %lld), first wrong at %lld",
         path, full, (long long)got_n, (long long)n, (long long)first_wrong);
  free(got);
}

/* The reference grouping of `key` [n]: order, distinct keys and starts. */
static void expect_grouping(hid_t file, const char *path, const int64_t *key, int64_t n,
                            const char *order_name, const char *key_name, const char *start_name) {
  pair *p = lcfm_malloc((size_t)(n ? n : 1) * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (pair){key[i], i};
  qsort(p, (size_t)n, sizeof *p, pair_order);
  int64_t *order = lcfm_malloc((size_t)(n ? n : 1) * sizeof *order),
          *keys = lcfm_malloc((size_t)(n ? n : 1) * sizeof *keys);
  int64_t *start = lcfm_malloc((size_t)(n + 1) * sizeof *start), groups = 0;
  for (int64_t i = 0; i < n; i++) {
    order[i] = p[i].row;
    if (i == 0 || p[i].key != p[i - 1].key) keys[groups] = p[i].key, start[groups++] = i;
  }
  start[groups] = n;
  expect_dataset(file, path, order_name, order, n);
  expect_dataset(file, path, key_name, keys, groups);
  expect_dataset(file, path, start_name, start, groups + 1);
  free(p), free(order), free(keys), free(start);
}

/* Collective: rank 0 checks every /index dataset of PATH against the reference. */
static void expect_reference_index(const char *path) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    hid_t file = LCFM_CHECK_H5(H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT));
    int64_t n, dummy, instruments;
    int64_t *source = lcfm_test_read_int64s(file, "/objects/source", &n),
            *field = lcfm_test_read_int64s(file, "/objects/field", &dummy);
    int64_t *instrument = lcfm_test_read_int64s(file, "/objects/instrument", &dummy);
    free(lcfm_test_read_int64s(file, "/instruments/id", &instruments));
    expect_grouping(file, path, source, n, "by_source", "source_key", "source_start");
    expect_grouping(file, path, field, n, "by_field", "field_key", "field_start");
    /* by_instrument: every instrument id has a group, empty ones included. */
    pair *p = lcfm_malloc((size_t)(n ? n : 1) * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = (pair){instrument[i], i};
    qsort(p, (size_t)n, sizeof *p, pair_order);
    int64_t *order = lcfm_malloc((size_t)(n ? n : 1) * sizeof *order);
    int64_t *start = lcfm_calloc((size_t)(instruments + 1), sizeof *start);
    for (int64_t i = 0; i < n; i++) order[i] = p[i].row, start[p[i].key + 1]++;
    for (int64_t m = 0; m < instruments; m++) start[m + 1] += start[m];
    expect_dataset(file, path, "by_instrument", order, n);
    expect_dataset(file, path, "instrument_start", start, instruments + 1);
    free(p), free(order), free(start), free(source), free(field), free(instrument);
    H5Fclose(file);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* How a store's objects look: object o of `total`. */
typedef struct {
  int64_t (*source)(int64_t o);
  int32_t (*field)(int64_t o);
  int32_t (*instrument)(int64_t o);
} object_rule;

/* Most objects share one source; the others are scattered, negative and extreme keys among them. */
static int64_t mostly_one_source(int64_t o) {
  if (o % 7 == 3) return INT64_MIN + o % 2;
  if (o % 11 == 5) return INT64_MAX - o % 3;
  if (o % 5 == 0 || o % 3 == 1) return 424242;
  return (o * 7919) % 53 - 20;
}
static int32_t scattered_field(int64_t o) { return (int32_t)(9 - (o * 31) % 13); }
static int32_t instrument_of(int64_t o) {
  return (int32_t)(((o / 3) * 3) % 4);
} /* 4 is never used */
static int64_t one_source(int64_t o) { return (void)o, 7; }
static int32_t field_down(int64_t o) { return (int32_t)(100 - o); }

/* Collective: objects [first, first + count) of the rule into a batch (ids from id0). */
static void fill_batch(lcfm_object_batch *b, const object_rule *r, int64_t first, int64_t count,
                       int64_t id0) {
  int64_t points = 0;
  for (int64_t i = 0; i < count; i++) points += 3 + (first + i) % 4;
  lcfm_batch_alloc(b, count, points);
  b->count = count, b->point_count = points;
  for (int64_t i = 0, at = 0; i < count; i++) {
    int64_t o = first + i;
    b->id[i] = id0 + o, b->source[i] = r->source(o), b->field[i] = r->field(o),
    b->instrument[i] = r->instrument(o);
    b->label[i] = -1, b->length[i] = (int32_t)(3 + o % 4);
    for (int32_t j = 0; j < b->length[i]; j++, at++)
      b->time[at] = j, b->value[at] = (float)o, b->error[at] = 0.1f;
  }
}

static void instrument_rows(lcfm_instrument *rows, int count, const char *prefix) {
  for (int m = 0; m < count; m++) {
    rows[m] = (lcfm_instrument){
        .id = m, .survey = LCFM_SURVEY_SIM, .season = -1, .unit = -1, .subunit = -1, .band = -1};
    snprintf(rows[m].name, sizeof rows[m].name, "%s-%d", prefix, m);
  }
}

/* Collective: a store of `total` objects by the rule, written by the ranks in balanced shards or
 * (on_one_rank) all by the last rank, indexed by lcfm_store_index_write. */
static void write_store(const char *path, const lcfm_provenance *prov, const object_rule *r,
                        int64_t total, int on_one_rank) {
  int rank, ranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int64_t first = 0, count = rank == ranks - 1 ? total : 0;
  if (!on_one_rank) lcfm_store_shard(total, rank, ranks, &first, &count);
  lcfm_object_batch b;
  fill_batch(&b, r, first, count, 0);
  lcfm_store_writer *w = lcfm_store_create(MPI_COMM_WORLD, path, prov, count, b.point_count);
  lcfm_instrument rows[INSTRUMENTS];
  instrument_rows(rows, INSTRUMENTS, "sorted");
  lcfm_store_write_instruments(w, rows, INSTRUMENTS);
  lcfm_store_write_batch(w, &b);
  lcfm_store_index_write(w, MPI_COMM_WORLD, INSTRUMENTS);
  lcfm_store_close(w);
  lcfm_batch_free(&b);
}

static int32_t appended_instrument(int64_t o) {
  return (int32_t)(o % 2);
} /* rows of the appended table */
static int64_t appended_source(int64_t o) { return 424242 - (o % 3) * 424242; }

/* Collective: appends `total` objects whose table has one stored instrument and one new one,
 * and rebuilds /index (passing fewer instruments than the store then holds). */
static void append_store(const char *path, const lcfm_provenance *prov, int64_t total) {
  int rank, ranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int64_t first, count;
  lcfm_store_shard(total, rank, ranks, &first, &count);
  object_rule r = {appended_source, scattered_field, appended_instrument};
  lcfm_object_batch b;
  fill_batch(&b, &r, first, count, 0);
  lcfm_store_writer *w = lcfm_store_append(MPI_COMM_WORLD, path, prov, count, b.point_count);
  lcfm_instrument rows[2];
  instrument_rows(rows, 2, "appended");
  snprintf(rows[0].name, sizeof rows[0].name, "sorted-1"); /* the same as stored instrument 1 */
  lcfm_store_write_instruments(w, rows, 2);
  lcfm_store_write_batch(w, &b);
  lcfm_store_index_write(w, MPI_COMM_WORLD, 2);
  lcfm_store_close(w);
  lcfm_batch_free(&b);
}

static int64_t count_rows(const char *path, const char *name) {
  hid_t file = LCFM_CHECK_H5(H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT));
  int64_t n;
  free(lcfm_test_read_int64s(file, name, &n));
  H5Fclose(file);
  return n;
}

int main(int argc, char **argv) {
  int rank = lcfm_test_start(&argc, &argv);
  char dir[256] = "test_index_sort_XXXXXX", path[300];
  lcfm_test_temp_dir(dir, sizeof dir);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, argc, argv);
  object_rule mixed = {mostly_one_source, scattered_field, instrument_of};
  object_rule single = {one_source, field_down, instrument_of};

  snprintf(path, sizeof path, "%s/mixed.h5", dir);
  write_store(path, &prov, &mixed, 1237, 0);
  expect_reference_index(path);
  append_store(path, &prov, 203);
  expect_reference_index(path);
  if (rank == 0)
    EXPECT(count_rows(path, "/index/instrument_start") == INSTRUMENTS + 2 &&
               count_rows(path, "/index/by_source") == 1440,
           "%s: the append did not rebuild /index over 1440 objects and 6 instruments", path);

  snprintf(path, sizeof path, "%s/one_rank.h5", dir);
  write_store(path, &prov, &mixed, 500, 1);
  expect_reference_index(path);

  snprintf(path, sizeof path, "%s/one_source.h5", dir);
  write_store(path, &prov, &single, 301, 0);
  expect_reference_index(path);

  snprintf(path, sizeof path, "%s/three.h5", dir); /* fewer objects than ranks at 4 ranks */
  write_store(path, &prov, &mixed, 3, 0);
  expect_reference_index(path);

  snprintf(path, sizeof path, "%s/empty.h5", dir);
  write_store(path, &prov, &mixed, 0, 0);
  expect_reference_index(path);

  if (rank == 0) {
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  return lcfm_test_finish("test_index_sort");
}
