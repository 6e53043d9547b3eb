/* test_store_index.c: the store's /index and the sampler that reads through it.
 *   - the simulator's index (written without sorting) and ingest's (sorted in parallel) are
 *     permutations grouped by (key, row) whose group tables match the object columns; the
 *     simulator's is the same bytes on P ranks and on 1;
 *   - every drawn triplet obeys the rules (split, same source / other instrument, same
 *     instrument / other source), its windows equal the whole-store windows (lcfm_curves), and
 *     the draws are the same on every rank, from the P-rank and the 1-rank store, and from a
 *     store without /index (index built in memory);
 *   - every source is found at its group (more than 256 sources: several sampled keys);
 *   - a damaged index is refused naming the dataset. */
#include <string.h>
#include <unistd.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"
#include "lcfm/store_index.h"
#include "lcfm/trainer.h"

enum { T = 24, STEPS = 6, BATCH = 16 };

/* order: a permutation of the rows, sorted by (column, row), split into groups by start with
 * keys `key` (NULL: group g has key g, for instruments). */
static void check_grouping(const char *what, const int64_t *column, int64_t n, const int64_t *order,
                           int64_t order_n, const int64_t *key, const int64_t *start,
                           int64_t groups) {
  EXPECT(order_n == n, "%s: %lld entries for %lld objects", what, (long long)order_n, (long long)n);
  if (order_n != n) return;
  char *seen = lcfm_calloc((size_t)(n ? n : 1), 1);
  int bad = 0;
  for (int64_t i = 0; i < n && !bad; i++) {
    bad = order[i] < 0 || order[i] >= n || seen[order[i]]++;
    if (i > 0 && !bad) {
      int64_t a = order[i - 1], b = order[i];
      bad = column[a] > column[b] || (column[a] == column[b] && a >= b);
    }
  }
  EXPECT(!bad, "%s is not a permutation sorted by (key, row)", what);
  EXPECT(start[0] == 0 && start[groups] == n, "%s: groups do not cover the objects", what);
  for (int64_t g = 0; g < groups && !bad; g++) {
    if (key && g > 0) bad = key[g] <= key[g - 1];
    for (int64_t i = start[g]; i < start[g + 1] && !bad; i++)
      bad = column[order[i]] != (key ? key[g] : g);
    if (key && !bad) bad = start[g + 1] <= start[g]; /* distinct keys: no empty group */
  }
  EXPECT(!bad, "%s: the group table does not match the column", what);
  free(seen);
}

static void check_index(const char *path) {
  hid_t file = LCFM_CHECK_H5(H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT));
  int64_t n, n2, s, s1, i1, f, f1, dummy;
  int64_t *source = lcfm_test_read_int64s(file, "/objects/source", &n),
          *instrument = lcfm_test_read_int64s(file, "/objects/instrument", &dummy);
  int64_t *field = lcfm_test_read_int64s(file, "/objects/field", &dummy),
          *instruments = lcfm_test_read_int64s(file, "/instruments/id", &dummy);
  int64_t *by_source = lcfm_test_read_int64s(file, "/index/by_source", &n2),
          *source_key = lcfm_test_read_int64s(file, "/index/source_key", &s);
  int64_t *source_start = lcfm_test_read_int64s(file, "/index/source_start", &s1);
  EXPECT(s1 == s + 1, "%s: source_start has %lld entries for %lld sources", path, (long long)s1,
         (long long)s);
  check_grouping("by_source", source, n, by_source, n2, source_key, source_start, s);
  free(by_source);
  int64_t *by_instrument = lcfm_test_read_int64s(file, "/index/by_instrument", &n2);
  int64_t *instrument_start = lcfm_test_read_int64s(file, "/index/instrument_start", &i1);
  EXPECT(i1 == dummy + 1, "%s: instrument_start has %lld entries for %lld instruments", path,
         (long long)i1, (long long)dummy);
  check_grouping("by_instrument", instrument, n, by_instrument, n2, NULL, instrument_start, i1 - 1);
  int64_t *by_field = lcfm_test_read_int64s(file, "/index/by_field", &n2),
          *field_key = lcfm_test_read_int64s(file, "/index/field_key", &f);
  int64_t *field_start = lcfm_test_read_int64s(file, "/index/field_start", &f1);
  EXPECT(f1 == f + 1, "%s: field_start has %lld entries for %lld fields", path, (long long)f1,
         (long long)f);
  check_grouping("by_field", field, n, by_field, n2, field_key, field_start, f);
  free(source), free(instrument), free(field), free(instruments), free(source_key),
      free(source_start);
  free(by_instrument), free(instrument_start), free(by_field), free(field_key), free(field_start);
  H5Fclose(file);
}

/* Every /index dataset of a and b holds the same values. */
static void expect_same_index(const char *a, const char *b) {
  static const char *const names[] = {"by_source",     "source_key",       "source_start",
                                      "by_instrument", "instrument_start", "by_field",
                                      "field_key",     "field_start"};
  hid_t fa = LCFM_CHECK_H5(H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT)),
        fb = LCFM_CHECK_H5(H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT));
  for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
    char path[64];
    snprintf(path, sizeof path, "/index/%s", names[k]);
    int64_t na, nb;
    int64_t *x = lcfm_test_read_int64s(fa, path, &na), *y = lcfm_test_read_int64s(fb, path, &nb);
    EXPECT(na == nb && !memcmp(x, y, (size_t)na * sizeof *x), "%s differs between %s and %s", path,
           a, b);
    free(x), free(y);
  }
  H5Fclose(fa), H5Fclose(fb);
}

/* A store with unsorted sources, an instrument without objects and varied lengths, indexed by
 * ingest's writer (gather and sort). */
static void write_mixed_store(const char *path, const lcfm_provenance *prov) {
  int rank, ranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int64_t total = 301, first, count, points = 0;
  lcfm_store_shard(total, rank, ranks, &first, &count);
  for (int64_t i = first; i < first + count; i++) points += 20 + i % 23;
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, count, points);
  b.count = count;
  for (int64_t i = 0, at = 0; i < count; i++) {
    int64_t o = first + i;
    b.id[i] = o, b.source[i] = 1000 + (o * 7919) % 37, b.instrument[i] = (int32_t)((o / 3) % 4);
    b.field[i] = (int32_t)(9 - b.source[i] % 5), b.label[i] = -1,
    b.length[i] = (int32_t)(20 + o % 23);
    for (int32_t j = 0; j < b.length[i]; j++, at++) {
      b.time[at] = 0.5 * j;
      b.value[at] = (float)o + 0.01f * (float)j;
      b.error[at] = 0.1f;
    }
  }
  lcfm_store_writer *w = lcfm_store_create(MPI_COMM_WORLD, path, prov, count, points);
  lcfm_instrument rows[5];
  for (int m = 0; m < 5; m++) {
    rows[m] = (lcfm_instrument){
        .id = m, .survey = LCFM_SURVEY_SIM, .season = -1, .unit = -1, .subunit = -1, .band = -1};
    snprintf(rows[m].name, sizeof rows[m].name, "mixed-%d", m);
  }
  lcfm_store_write_instruments(w, rows, 5);
  lcfm_store_write_batch(w, &b);
  lcfm_store_index_write(w, MPI_COMM_WORLD, 5);
  lcfm_store_close(w);
  lcfm_batch_free(&b);
}

/* Draws every slot of STEPS steps of both splits, checks each triplet and its windows against
 * the whole store in memory, and returns a checksum of the draws. */
static uint64_t check_draws(const lcfm_sampler *s, const lcfm_curves *c) {
  uint64_t sum = 1469598103934665603ull;
  float times[2][T], values[2][T], mask[2][T];
  int bad_rule = 0, bad_window = 0;
  for (int split = 0; split < 2; split++)
    for (int64_t step = 0; step < STEPS; step++)
      for (int64_t slot = 0; slot < BATCH; slot++) {
        lcfm_triplet t = lcfm_sampler_draw(s, split, step, slot);
        const lcfm_index_object *a = &t.member[0], *star = &t.member[1], *instr = &t.member[2];
        bad_rule += lcfm_sampler_is_validation(s, a->source) != split ||
                    star->source != a->source || star->instrument == a->instrument ||
                    instr->instrument != a->instrument || instr->source == a->source ||
                    lcfm_sampler_is_validation(s, instr->source) != split;
        for (int k = 0; k < 3; k++) {
          const lcfm_index_object *o = &t.member[k];
          bad_rule += o->source != c->source[o->row] || o->instrument != c->instrument[o->row] ||
                      o->length != c->length[o->row];
          int64_t start = lcfm_sampler_window_start(s, split, step, slot, k, o->length, T);
          lcfm_sampler_read_window(s, o, start, T, times[0], values[0], mask[0]);
          lcfm_curves_window(c, o->row, start, T, times[1], values[1], mask[1]);
          bad_window += memcmp(times[0], times[1], sizeof times[0]) ||
                        memcmp(values[0], values[1], sizeof values[0]) ||
                        memcmp(mask[0], mask[1], sizeof mask[0]);
          sum = (sum ^ (uint64_t)o->row) * 1099511628211ull;
          sum = (sum ^ (uint64_t)start) * 1099511628211ull;
        }
      }
  EXPECT(bad_rule == 0, "%d triplets break the sampling rules", bad_rule);
  EXPECT(bad_window == 0, "%d windows differ from the whole-store windows", bad_window);
  return sum;
}

static uint64_t draws_of(const char *path, int expect_on_disk) {
  lcfm_curves c;
  lcfm_sampler s;
  char why[1024];
  LCFM_CHECK(!lcfm_curves_load(&c, MPI_COMM_WORLD, path, why, sizeof why), "%s", why);
  LCFM_CHECK(!lcfm_train_data_open(MPI_COMM_WORLD, path, &s, 5, 0.25, why, sizeof why), "%s", why);
  EXPECT(lcfm_store_index_on_disk(s.index) == expect_on_disk, "%s: index on disk %d, expected %d",
         path, lcfm_store_index_on_disk(s.index), expect_on_disk);
  uint64_t sum = check_draws(&s, &c);
  lcfm_sampler_free(&s);
  lcfm_curves_free(&c);
  return sum;
}

/* The same checksum on every rank. */
static void expect_same_on_ranks(const char *what, uint64_t sum) {
  uint64_t lo, hi;
  MPI_Allreduce(&sum, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&sum, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  EXPECT(lo == hi, "%s: ranks drew different triplets", what);
}

/* Every source of the simulated store (P curves per star) is found at its group, and keys
 * outside the store are not. */
static void check_lookups(const char *path, int64_t stars, int64_t P) {
  char why[1024];
  lcfm_store_index *x = lcfm_store_index_open(path, why, sizeof why);
  LCFM_CHECK(x, "%s", why);
  int64_t wrong = 0, first, end;
  for (int64_t s = 0; s < stars; s++)
    wrong +=
        !lcfm_store_index_source_group(x, s, &first, &end) || first != s * P || end != (s + 1) * P;
  EXPECT(wrong == 0, "%s: %lld sources not found at their group", path, (long long)wrong);
  EXPECT(!lcfm_store_index_source_group(x, -1, &first, &end) &&
             !lcfm_store_index_source_group(x, stars, &first, &end),
         "%s: sources outside the store were found", path);
  lcfm_store_index_close(x);
}

/* Rank 0 copies `from` to `to` and removes the link `drop` from the copy. */
static void copy_without(const char *from, const char *to, const char *drop) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    char command[1024];
    snprintf(command, sizeof command, "cp '%s' '%s'", from, to);
    LCFM_CHECK(system(command) == 0, "%s failed", command);
    hid_t file = LCFM_CHECK_H5(H5Fopen(to, H5F_ACC_RDWR, H5P_DEFAULT));
    LCFM_CHECK_H5(H5Ldelete(file, drop, H5P_DEFAULT));
    H5Fclose(file);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
  int rank = lcfm_test_start(&argc, &argv);
  char dir[256] = "test_store_index_XXXXXX", sim[300], single[300], mixed[300], bare[300],
       damaged[300];
  lcfm_test_temp_dir(dir, sizeof dir);
  snprintf(sim, sizeof sim, "%s/sim.h5", dir), snprintf(single, sizeof single, "%s/single.h5", dir);
  snprintf(mixed, sizeof mixed, "%s/mixed.h5", dir), snprintf(bare, sizeof bare, "%s/bare.h5", dir);
  snprintf(damaged, sizeof damaged, "%s/damaged.h5", dir);
  /* More than 256 sources: a source's group is found through more than one sampled key. */
  lcfm_sim_config cfg = lcfm_test_sim_config((lcfm_sim_config){.stars = 601,
                                                               .instruments = 7,
                                                               .curves_per_star = 3,
                                                               .terms = 5,
                                                               .K = 5,
                                                               .T = 40,
                                                               .block_stars = 64,
                                                               .seed = 11});
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, argc, argv);
  lcfm_simulate_store(MPI_COMM_WORLD, &cfg, sim, &prov);
  if (rank == 0) {
    lcfm_provenance self;
    lcfm_provenance_init(&self, MPI_COMM_SELF, "test", NULL, argc, argv);
    lcfm_simulate_store(MPI_COMM_SELF, &cfg, single, &self);
    check_index(sim);
    expect_same_index(sim, single);
    check_lookups(sim, cfg.stars, cfg.curves_per_star);
  }
  write_mixed_store(mixed, &prov);
  if (rank == 0) check_index(mixed);
  MPI_Barrier(MPI_COMM_WORLD);

  uint64_t from_sim = draws_of(sim, 1);
  expect_same_on_ranks("simulated store", from_sim);
  EXPECT(draws_of(single, 1) == from_sim,
         "the 1-rank store gives other draws than the P-rank store");
  copy_without(sim, bare, "/index");
  EXPECT(draws_of(bare, 0) == from_sim, "the index built in memory gives other draws than /index");
  expect_same_on_ranks("ingest-style store", draws_of(mixed, 1));

  copy_without(sim, damaged, "/index/source_key");
  lcfm_sampler s;
  char why[1024] = "";
  EXPECT(lcfm_train_data_open(MPI_COMM_WORLD, damaged, &s, 5, 0.25, why, sizeof why) == 1 &&
             strstr(why, "/index/source_key is missing") && strstr(why, damaged),
         "a damaged index was not refused by name: '%s'", why);
  if (rank == 0) {
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  return lcfm_test_finish("test_store_index");
}
