/* verb_info.c: `lcfm info STORE`: what a store holds and where it came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lcfm/log.h"
#include "lcfm/store.h"

static int compare_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int64_t count_distinct(int64_t *values, int64_t n) {
  qsort(values, (size_t)n, sizeof *values, compare_int64);
  int64_t distinct = 0;
  for (int64_t i = 0; i < n; i++) distinct += i == 0 || values[i] != values[i - 1];
  return distinct;
}

/* The first id that appears more than once in sorted ids (returns 1), or 0. */
static int first_duplicate(const int64_t *sorted, int64_t n, int64_t *id) {
  for (int64_t i = 1; i < n; i++)
    if (sorted[i] == sorted[i - 1]) return *id = sorted[i], 1;
  return 0;
}

/* Rank 0 reads the object columns in blocks (the others take part with nothing) and counts
 * distinct sources and fields, and the spread of lengths and labels. The store's other invariants
 * were checked when it was opened (store_check.h); ids must also be unique. Returns 0, or 1 on
 * rank 0 after reporting a duplicate id. */
static int summarise_objects(lcfm_store *s, int rank, const char *path) {
  int64_t n = lcfm_store_object_count(s), mine = rank == 0 ? n : 0;
  const int64_t block = 1 << 20;
  int64_t *sources = lcfm_malloc((size_t)(mine ? mine : 1) * sizeof *sources);
  int64_t *fields = lcfm_malloc((size_t)(mine ? mine : 1) * sizeof *fields);
  int64_t *ids = lcfm_malloc((size_t)(mine ? mine : 1) * sizeof *ids);
  int64_t min_length = INT64_MAX, max_length = 0, labelled = 0;
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, block, 0);
  int64_t blocks = (n + block - 1) / block;
  for (int64_t k = 0; k < blocks; k++) {
    int64_t first = k * block, count = rank == 0 ? (n - first < block ? n - first : block) : 0;
    lcfm_store_read_objects(s, first, count, &b);
    for (int64_t i = 0; i < count; i++) {
      sources[first + i] = b.source[i];
      ids[first + i] = b.id[i];
      fields[first + i] = b.field[i];
      if (b.length[i] < min_length) min_length = b.length[i];
      if (b.length[i] > max_length) max_length = b.length[i];
      labelled += b.label[i] >= 0;
    }
  }
  lcfm_batch_free(&b);
  int64_t duplicate = 0;
  qsort(ids, (size_t)mine, sizeof *ids, compare_int64);
  if (rank == 0 && first_duplicate(ids, mine, &duplicate)) {
    fprintf(stderr, "lcfm info: %s: id %lld is used by more than one object (ids are unique in a store)\nFAILED\n", path,
            (long long)duplicate);
    free(sources), free(fields), free(ids);
    return 1;
  }
  free(ids);
  if (rank == 0) {
    printf("store        %s\n", path);
    printf("objects      %lld\n", (long long)n);
    printf("points       %lld (per object: min %lld, mean %.1f, max %lld)\n", (long long)lcfm_store_point_count(s),
           (long long)(n ? min_length : 0), n ? (double)lcfm_store_point_count(s) / (double)n : 0.0, (long long)max_length);
    printf("sources      %lld\n", (long long)count_distinct(sources, n));
    printf("fields       %lld\n", (long long)count_distinct(fields, n));
    printf("labelled     %lld\n", (long long)labelled);
  }
  free(sources);
  free(fields);
  return 0;
}

static herr_t print_truth_entry(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  (void)info, (void)data;
  hid_t dset = H5Dopen2(group, name, H5P_DEFAULT);
  if (dset < 0) return 0;
  hid_t space = H5Dget_space(dset);
  hsize_t dims[4] = {0};
  int rank = H5Sget_simple_extent_dims(space, dims, NULL);
  printf("  /truth/%-8s [", name);
  for (int i = 0; i < rank; i++) printf("%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
  printf("]\n");
  H5Sclose(space);
  H5Dclose(dset);
  return 0;
}

static void print_attribute(hid_t file, const char *name) {
  if (H5Aexists(file, name) <= 0) return;
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
  hid_t type = H5Aget_type(attr);
  if (H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)) {
    size_t size = H5Tget_size(type);
    char *text = calloc(size + 1, 1);
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, size + 1);
    if (text && H5Aread(attr, mem, text) >= 0) {
      char *newline = strchr(text, '\n');
      printf("  %-16s %s%s\n", name, newline ? "(multi-line, first line) " : "", text);
    }
    H5Tclose(mem);
    free(text);
  } else if (H5Tget_class(type) == H5T_INTEGER) {
    long long value = 0;
    H5Aread(attr, H5T_NATIVE_LLONG, &value);
    printf("  %-16s %lld\n", name, value);
  }
  H5Tclose(type);
  H5Aclose(attr);
}

/* Rank 0 only: no collective calls here (the instrument rows were read by every rank). */
static void summarise_rest(lcfm_store *s, const lcfm_instrument *rows, int64_t instruments) {
  hid_t file = lcfm_store_file(s);
  printf("instruments  %lld", (long long)instruments);
  if (instruments) printf(" (%s .. %s)", rows[0].name, rows[instruments - 1].name);
  printf("\nrejects      %lld\n", (long long)lcfm_store_reject_count(s));
  if (H5Lexists(file, "/truth", H5P_DEFAULT) > 0) {
    printf("truth        present\n");
    hid_t truth = H5Gopen2(file, "/truth", H5P_DEFAULT);
    H5Literate(truth, H5_INDEX_NAME, H5_ITER_INC, NULL, print_truth_entry, NULL);
    H5Gclose(truth);
  } else {
    printf("truth        absent\n");
  }
  printf("provenance\n");
  static const char *const names[] = {"producer", "lcfm_version", "git_revision", "build_type", "created_utc",
                                      "host", "ranks", "seed", "job_path", "command", "library_versions",
                                      "store_signature"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) print_attribute(file, names[i]);
}

int lcfm_verb_info(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (!options->positional) {
    if (rank == 0) fprintf(stderr, "lcfm info: missing the store (usage: lcfm info STORE.h5)\n");
    return LCFM_EXIT_USAGE;
  }
  char why[1024];
  lcfm_store *s = lcfm_store_open(comm, options->positional, why, sizeof why);
  if (!s) {
    if (rank == 0) fprintf(stderr, "lcfm info: %s\nFAILED\n", why);
    return LCFM_EXIT_RUNTIME;
  }
  int broken = summarise_objects(s, rank, options->positional);
  LCFM_CHECK_MPI(MPI_Bcast(&broken, 1, MPI_INT, 0, comm));
  if (broken) {
    lcfm_store_free(s);
    return LCFM_EXIT_RUNTIME;
  }
  int64_t instruments = 0;
  lcfm_instrument *rows = lcfm_store_read_instruments(s, &instruments); /* collective: every rank */
  if (rank == 0) summarise_rest(s, rows, instruments);
  free(rows);
  lcfm_store_free(s);
  return LCFM_EXIT_OK;
}
