/* test_store.c: collective writes and streaming reads of the light-curve store.
 * Ranks write ragged objects of different counts (rank 1 writes nothing) in several batches;
 * every rank then streams a balanced shard back in blocks of another size and checks every
 * column and point against what the writer generated. Also: rejects and instruments round-trip,
 * PATH appears only at close (PATH.partial before), and files that are missing, not HDF5, not
 * lcfm stores, or of another schema version are refused with a reason naming the file. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/store.h"

/* Deterministic content of object `id` so any rank can check any object. */
static int32_t object_length(int64_t id) { return (int32_t)((id * 7919) % 23); } /* includes 0 */
static double point_time(int64_t id, int32_t i) { return (double)id * 1000.0 + i * 0.5; }
static float point_value(int64_t id, int32_t i) { return (float)(id % 97) - 0.25f * (float)i; }

/* Rank r writes objects_of(r) objects; rank 1 writes none to exercise empty participation. */
static int64_t objects_of(int rank) { return rank == 1 ? 0 : 37 + 11 * rank; }

static void write_store(const char *path, int rank, int ranks) {
  int64_t first = 0, mine = objects_of(rank), points = 0;
  for (int r = 0; r < rank; r++) first += objects_of(r);
  for (int64_t i = 0; i < mine; i++) points += object_length(first + i);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, 0, NULL);
  lcfm_store_writer *w = lcfm_store_create(MPI_COMM_WORLD, path, &prov, mine, points);
  lcfm_instrument instruments[3] = {{0, LCFM_SURVEY_TESS, 1, 2, 3, -1, 2457000.0, "tess-s1-c2-ccd3"},
                                    {1, LCFM_SURVEY_KEPLER, 5, 11, 1, -1, 2454833.0, "kepler-q5-m11"},
                                    {2, LCFM_SURVEY_MACHO, -1, -1, -1, 1, 2400000.5, "macho-blue"}};
  lcfm_store_write_instruments(w, instruments, 3);
  /* Several batches of 10 objects; every rank makes the same number of calls. */
  int64_t max_objects = 0;
  for (int r = 0; r < ranks; r++) max_objects = objects_of(r) > max_objects ? objects_of(r) : max_objects;
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, 10, 10 * 23);
  for (int64_t start = 0; start < max_objects; start += 10) {
    int64_t count = start < mine ? (mine - start < 10 ? mine - start : 10) : 0;
    int64_t at = 0;
    for (int64_t i = 0; i < count; i++) {
      int64_t id = first + start + i;
      b.id[i] = id, b.source[i] = id / 3, b.instrument[i] = (int32_t)(id % 3);
      b.field[i] = (int32_t)(id / 50), b.label[i] = (int32_t)(id % 5) - 1, b.length[i] = object_length(id);
      for (int32_t k = 0; k < b.length[i]; k++, at++) {
        b.time[at] = point_time(id, k), b.value[at] = point_value(id, k), b.error[at] = 0.01f * (float)k;
      }
    }
    b.count = count;
    lcfm_store_write_batch(w, &b);
  }
  lcfm_batch_free(&b);
  lcfm_reject reject = {.reason = LCFM_REJECT_EMPTY};
  snprintf(reject.key, sizeof reject.key, "file-of-rank-%d.fits", rank);
  snprintf(reject.message, sizeof reject.message, "no usable points");
  lcfm_store_write_rejects(w, &reject, rank == 0 ? 0 : 1);
  EXPECT(access(path, F_OK) != 0, "%s exists before close", path);
  lcfm_store_close(w);
  EXPECT(access(path, F_OK) == 0, "%s missing after close", path);
}

static void read_back(const char *path, int rank, int ranks, int64_t total) {
  char why[1024];
  lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
  EXPECT(s != NULL, "open failed: %s", why);
  if (!s) return;
  EXPECT(lcfm_store_object_count(s) == total, "object count %lld", (long long)lcfm_store_object_count(s));
  EXPECT(lcfm_store_reject_count(s) == ranks - 1, "reject count %lld", (long long)lcfm_store_reject_count(s));
  int64_t n_instruments = 0;
  lcfm_instrument *instruments = lcfm_store_read_instruments(s, &n_instruments);
  EXPECT(n_instruments == 3 && !strcmp(instruments[1].name, "kepler-q5-m11") && instruments[1].unit == 11 &&
         instruments[2].time_zero == 2400000.5,
         "instrument table did not round-trip");
  free(instruments);
  int64_t first, count;
  lcfm_store_shard(total, rank, ranks, &first, &count);
  lcfm_store_cursor c;
  lcfm_store_cursor_begin(&c, s, first, count, 7);
  int64_t seen = 0, expected_offset = -1;
  while (lcfm_store_cursor_next(&c)) {
    const lcfm_object_batch *b = &c.batch;
    int64_t at = 0;
    for (int64_t i = 0; i < b->count; i++) {
      int64_t id = first + seen + i;
      EXPECT(b->id[i] == id && b->source[i] == id / 3 && b->instrument[i] == id % 3 &&
             b->field[i] == id / 50 && b->label[i] == id % 5 - 1 && b->length[i] == object_length(id),
             "columns of object %lld", (long long)id);
      if (expected_offset >= 0) EXPECT(b->offset[i] == expected_offset, "offset of %lld", (long long)id);
      expected_offset = b->offset[i] + b->length[i];
      for (int32_t k = 0; k < b->length[i]; k++, at++)
        EXPECT(b->time[at] == point_time(id, k) && b->value[at] == point_value(id, k) &&
               b->error[at] == 0.01f * (float)k, "point %d of object %lld", k, (long long)id);
    }
    seen += b->count;
  }
  EXPECT(seen == count, "streamed %lld of %lld objects", (long long)seen, (long long)count);
  lcfm_store_cursor_end(&c);
  lcfm_store_free(s);
}

static int refused(const char *path, const char *expected) {
  char why[1024] = "";
  lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
  int ok = s == NULL && strstr(why, path) && strstr(why, expected);
  if (!ok) fprintf(stderr, "open(%s) gave '%s', expected '%s'\n", path, why, expected);
  lcfm_store_free(s);
  return ok;
}

static void test_refusals(const char *dir, int rank) {
  char missing[512], text[512], foreign[512], future[512];
  snprintf(missing, sizeof missing, "%s/missing.h5", dir);
  snprintf(text, sizeof text, "%s/text.h5", dir);
  snprintf(foreign, sizeof foreign, "%s/foreign.h5", dir);
  snprintf(future, sizeof future, "%s/future.h5", dir);
  if (rank == 0) {
    FILE *f = fopen(text, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    hid_t file = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
    file = H5Fcreate(future, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    lcfm_h5_write_string_attribute(file, "schema", LCFM_STORE_SCHEMA);
    lcfm_h5_write_int64_attribute(file, "schema_version", LCFM_STORE_SCHEMA_VERSION + 1);
    H5Fclose(file);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT(refused(missing, "cannot open"), "missing file");
  EXPECT(refused(text, "not an HDF5 file"), "text file");
  EXPECT(refused(foreign, "not an lcfm store"), "foreign HDF5 file");
  EXPECT(refused(future, "schema version 2"), "future schema version");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_error_init();
  int rank, ranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  char dir[256] = "test_store_XXXXXX";
  if (rank == 0) LCFM_CHECK(mkdtemp(dir), "mkdtemp");
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  char path[512];
  snprintf(path, sizeof path, "%s/store.h5", dir);
  write_store(path, rank, ranks);
  int64_t total = 0;
  for (int r = 0; r < ranks; r++) total += objects_of(r);
  read_back(path, rank, ranks, total);
  test_refusals(dir, rank);
  return lcfm_test_finish("test_store");
}
