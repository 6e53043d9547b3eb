/* test_scale_mpi.c: the two steps of an ingest that must scale with the ranks (1, 2, 4):
 *  - lcfm_ingest_slice_inputs hands each rank a contiguous slice of the sorted list, balanced by
 *    file size, with the right names, and no rank but a single one holds every file, for a
 *    directory and for a mix of files, patterns and a manifest naming files twice (the list is
 *    expanded and sorted by all ranks); missing inputs are counted once;
 *  - lcfm_mark_duplicates (keys partitioned by hash) finds exactly the duplicates the rule gives
 *    (the earliest object of the same identity, else of the same content, stored objects first),
 *    with the reject text naming the kept object, when the kept object is on another rank, a
 *    stored object, or a file with a path longer than the 160 characters a reject shows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcfm/survey_duplicates.h"
#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/survey.h"

enum { FILES = 37 };

static int64_t file_size(int i) { return 2880 * (1 + (i * 7) % 11); } /* 1 to 11 FITS blocks */

/* Rank 0 writes `text` to dir/name; every rank waits for it. */
static void write_shared(const char *dir, const char *name, const char *text, int rank) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (rank == 0) {
    FILE *f = fopen(path, "w");
    EXPECT(f && fputs(text, f) >= 0, "writing %s", path);
    if (f) fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* A manifest naming every file of dir/ once or more, in reverse order, with comments, blank and
 * CRLF lines, one glob pattern and a line longer than 4 KiB. */
static void write_manifest(const char *dir, int rank) {
  size_t capacity = 64 * 1024, at = 0;
  char *text = calloc(capacity, 1);
  at += (size_t)snprintf(text + at, capacity - at, "# the survey's files\n\n");
  for (int i = FILES - 1; i >= 0; i--)
    at += (size_t)snprintf(text + at, capacity - at, "%s/f%03d.fits%s", dir, i,
                           i % 5 ? "\n" : "\r\n");
  at += (size_t)snprintf(text + at, capacity - at, "  %s/f01?.fits\n", dir);
  memset(text + at, ' ', 5000), at += 5000; /* indented past fgets's 4 KiB buffers */
  snprintf(text + at, capacity - at, "%s/f000.fits\n", dir);
  write_shared(dir, "list.txt", text, rank);
  free(text);
}

/* The slices of `inputs` (which name the FILES files of dir, some twice): contiguous, covering
 * the sorted list with the right names and each file's size, balanced by size, and no rank (of
 * several) holding all. */
static void check_slices(const char *dir, const char *inputs, int rank, int ranks) {
  char text[512];
  snprintf(text, sizeof text, "[ingest]\noutput = %s/out.h5\ninputs = %s\n", dir, inputs);
  static const char *const sections[] = {"job", "ingest", NULL};
  lcfm_job *job = lcfm_job_load_text(MPI_COMM_WORLD, "slices.ini", text, 0, NULL, sections);
  EXPECT(job, "job text");
  lcfm_input_slice slice;
  int64_t files = lcfm_ingest_slice_inputs(MPI_COMM_WORLD, job, &slice);
  EXPECT(files == FILES && slice.total == FILES, "inputs %s: %lld files", inputs, (long long)files);
  int64_t mine[2] = {slice.first, slice.count}, *all = malloc((size_t)ranks * sizeof mine);
  MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
  for (int r = 0, next = 0; r < ranks; next += (int)all[2 * r + 1], r++)
    EXPECT(all[2 * r] == next, "rank %d starts at %lld, expected %d (contiguous slices)", r,
           (long long)all[2 * r], next);
  EXPECT(all[2 * (ranks - 1)] + all[2 * ranks - 1] == FILES, "the slices cover the list");
  int64_t bytes = 0, total_bytes = 0, largest = 0;
  for (int i = 0; i < FILES; i++)
    total_bytes += file_size(i), largest = file_size(i) > largest ? file_size(i) : largest;
  for (int64_t i = 0; i < slice.count; i++) {
    char expected[128];
    snprintf(expected, sizeof expected, "%s/f%03lld.fits", dir, (long long)(slice.first + i));
    EXPECT(!strcmp(lcfm_input_path(&slice, slice.first + i), expected),
           "inputs %s: file %lld is %.200s, expected %s", inputs, (long long)(slice.first + i),
           lcfm_input_path(&slice, slice.first + i), expected);
    EXPECT(slice.sizes[i] == file_size((int)(slice.first + i)),
           "inputs %s: file %lld arrived with size %lld, its size is %lld", inputs,
           (long long)(slice.first + i), (long long)slice.sizes[i],
           (long long)file_size((int)(slice.first + i)));
    bytes += file_size((int)(slice.first + i));
  }
  EXPECT(bytes <= total_bytes / ranks + largest,
         "rank %d holds %lld bytes, a share is %lld (largest file %lld)", rank, (long long)bytes,
         (long long)(total_bytes / ranks), (long long)largest);
  if (ranks > 1) EXPECT(slice.count < FILES, "rank %d holds the whole list", rank);
  lcfm_input_slice_free(&slice);
  lcfm_job_free(job);
  free(all);
}

static void count_problem(const char *message) { (void)message; }

/* Missing inputs are counted once whatever the rank count: three lines of a manifest, a file
 * and a pattern that match nothing. */
static void check_missing(const char *dir, int rank) {
  char text[512], inputs[512];
  snprintf(text, sizeof text, "%s/f001.fits\n%s/none1.fits\n%s/none2.fits\n%s/none3.fits\n", dir,
           dir, dir, dir);
  write_shared(dir, "missing.txt", text, rank);
  snprintf(inputs, sizeof inputs, "@%s/missing.txt %s/none4.fits %s/none*.fits", dir, dir, dir);
  lcfm_input_slice mine;
  int64_t missing = lcfm_input_list_expand(MPI_COMM_WORLD, inputs, &mine, count_problem);
  EXPECT(missing == 5, "%lld missing inputs reported, expected 5", (long long)missing);
  lcfm_input_list_sort(MPI_COMM_WORLD, &mine);
  EXPECT(mine.total == 1, "%lld files found, expected 1", (long long)mine.total);
  lcfm_input_slice_free(&mine);
}

static void test_slices(int rank, int ranks) {
  char dir[] = "/tmp/lcfm_test_slices_XXXXXX";
  if (rank == 0) EXPECT(mkdtemp(dir), "mkdtemp");
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  for (int i = 0; i < FILES && rank == 0; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/f%03d.fits", dir, i);
    FILE *f = fopen(path, "wb");
    EXPECT(f && ftruncate(fileno(f), file_size(i)) == 0, "writing %s", path);
    if (f) fclose(f);
  }
  write_manifest(dir, rank);
  check_slices(dir, dir, rank, ranks);
  char inputs[256];
  snprintf(inputs, sizeof inputs, "%s/f005.fits @%s/list.txt %s %s/f00*.fits", dir, dir, dir, dir);
  check_slices(dir, inputs, rank, ranks);
  check_missing(dir, rank);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    EXPECT(system(command) == 0, "removing %s", dir);
  }
}

/* ---- duplicates ---- */

enum { OBJECTS = 60, STORED = 9 };

/* Object g of the ingest (file g): its source and content class; repeats are planted. */
static void make_key(lcfm_object_key *k, int64_t g, int64_t file) {
  memset(k, 0, sizeof *k);
  k->source = 1000 + g % 23; /* the same identity every 23 objects... */
  k->survey = LCFM_SURVEY_TESS,
  k->season = (int32_t)(1 + g % 2); /* ...when the sector matches too */
  k->unit = 1, k->subunit = 1, k->band = -1, k->length = 10;
  int64_t content = g % 17 == 5 ? 5 : 100 + g; /* every 17th from 5 has the same columns */
  if (g >= OBJECTS) content = g - OBJECTS;     /* stored object s: content s, repeated by files */
  memcpy(k->content, &content, sizeof content);
  k->file = file, k->position = -1, k->duplicate_of = -1;
}

static int same_identity(const lcfm_object_key *a, const lcfm_object_key *b) {
  return a->source == b->source && a->survey == b->survey && a->season == b->season &&
         a->unit == b->unit && a->subunit == b->subunit && a->band == b->band;
}

typedef struct {
  int64_t count;
  lcfm_reject rejects[OBJECTS];
  int64_t files[OBJECTS];
} collected;

static void collect(void *user, const lcfm_object_key *key, const lcfm_reject *reject) {
  collected *c = user;
  c->files[c->count] = key->file;
  c->rejects[c->count++] = *reject;
}

static void path_of(int64_t g, char *buf, size_t len) {
  if (g % 10 == 0) /* every tenth file has a path longer than a reject shows */
    snprintf(buf, len, "/data/%0180d/file%03lld.fits", 0, (long long)g);
  else snprintf(buf, len, "/data/file%03lld.fits", (long long)g);
}

static void test_duplicates(int rank, int ranks) {
  /* uneven consecutive slices: rank r holds files [cut(r), cut(r + 1)) */
  int64_t first = (int64_t)rank * rank * OBJECTS / ((int64_t)ranks * ranks);
  int64_t end = (int64_t)(rank + 1) * (rank + 1) * OBJECTS / ((int64_t)ranks * ranks);
  lcfm_input_slice slice = {.first = first, .count = end - first, .total = OBJECTS};
  slice.paths = malloc((size_t)(end - first + 1) * 256);
  slice.offsets = malloc((size_t)(end - first + 1) * sizeof *slice.offsets);
  int64_t at = 0;
  for (int64_t g = first; g < end; g++) {
    slice.offsets[g - first] = at;
    path_of(g, slice.paths + at, 256);
    at += (int64_t)strlen(slice.paths + at) + 1;
  }
  slice.offsets[end - first] = at;
  /* stored objects (ids 0..STORED-1) read in shards, rank r the ids r, r + ranks, ... */
  lcfm_stored_keys stored = {
      .keys = malloc(STORED * sizeof *stored.keys), .count = 0, .store = "old.h5"};
  int64_t stored_first = (int64_t)rank * STORED / ranks,
          stored_end = (int64_t)(rank + 1) * STORED / ranks;
  for (int64_t s = stored_first; s < stored_end; s++)
    make_key(&stored.keys[stored.count++], OBJECTS + s, -1 - s);
  lcfm_object_key keys[OBJECTS];
  for (int64_t g = first; g < end; g++) make_key(&keys[g - first], g, g);
  collected got = {0};
  int64_t found =
      lcfm_mark_duplicates(MPI_COMM_WORLD, keys, end - first, &stored, &slice, collect, &got);
  EXPECT(found == got.count, "returned %lld, reported %lld", (long long)found,
         (long long)got.count);

  /* the rule, by brute force over every object in input order (stored first) */
  lcfm_object_key all[STORED + OBJECTS];
  for (int64_t s = 0; s < STORED; s++) make_key(&all[s], OBJECTS + s, -1 - s);
  for (int64_t g = 0; g < OBJECTS; g++) make_key(&all[STORED + g], g, g);
  int64_t expected_count = 0, total_found = 0;
  for (int64_t g = first; g < end; g++) {
    const lcfm_object_key *k = &all[STORED + g], *kept = NULL;
    int by_identity = 0;
    for (int64_t e = 0; e < STORED + g && !kept; e++)
      if (same_identity(&all[e], k)) kept = &all[e], by_identity = 1;
    for (int64_t e = 0; e < STORED + g && !kept; e++)
      if (!memcmp(all[e].content, k->content, LCFM_CONTENT_HASH_BYTES)) kept = &all[e];
    if (!kept) continue;
    char name[512], kept_name[512], message[700];
    path_of(g, name, sizeof name);
    if (kept->file < 0)
      snprintf(kept_name, sizeof kept_name, "object %lld of old.h5", (long long)(-1 - kept->file));
    else path_of(kept->file, kept_name, sizeof kept_name);
    size_t n = strlen(kept_name);
    snprintf(message, sizeof message, "duplicate of %s%s (%s)", n > 160 ? "..." : "",
             n > 160 ? kept_name + n - 160 : kept_name,
             by_identity ? "same survey, source, season and instrument"
                         : "same time, value and error columns");
    message[LCFM_REJECT_TEXT_LEN - 1] = '\0';
    int64_t i = expected_count++;
    EXPECT(i < got.count && got.files[i] == g, "duplicate %lld: file %lld reported, expected %lld",
           (long long)i, (long long)(i < got.count ? got.files[i] : -1), (long long)g);
    if (i >= got.count) continue;
    EXPECT(!strcmp(got.rejects[i].message, message), "file %lld: '%s', expected '%s'", (long long)g,
           got.rejects[i].message, message);
    EXPECT(got.rejects[i].reason == LCFM_REJECT_DUPLICATE, "reason %d", got.rejects[i].reason);
    EXPECT(keys[g - first].duplicate_of == (kept->file < 0 ? -1 - kept->file : STORED + kept->file),
           "file %lld: duplicate_of %lld", (long long)g, (long long)keys[g - first].duplicate_of);
  }
  EXPECT(expected_count == got.count, "rank %d: %lld duplicates reported, expected %lld", rank,
         (long long)got.count, (long long)expected_count);
  MPI_Allreduce(&found, &total_found, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT(total_found > 10, "only %lld duplicates planted: the test checks too little",
         (long long)total_found);
  free(slice.paths), free(slice.offsets), free(stored.keys);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, ranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  test_slices(rank, ranks);
  test_duplicates(rank, ranks);
  return lcfm_test_finish("ingest_scale_mpi");
}
