/* verb_info.c: `lcfm info STORE`: what a store holds and where it came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lcfm/h5io.h"
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

/* The number of distinct values of /objects/source or /objects/field from the store's /index (the
 * rows of its key list), or -1 when the store has none. */
static int64_t distinct_from_index(lcfm_store *s, const char *keys) {
  hid_t file = lcfm_store_file(s);
  if (H5Lexists(file, "/index", H5P_DEFAULT) <= 0 || H5Lexists(file, keys, H5P_DEFAULT) <= 0)
    return -1;
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, keys, H5P_DEFAULT));
  int64_t rows = lcfm_h5_dataset_rows(dset);
  H5Dclose(dset);
  return rows;
}

/* What rank 0 keeps of the objects: the spread of lengths and labels in one pass, and the whole
 * id, source and field columns only where no shortcut exists (ids not increasing; a store
 * without /index), so that with an index and increasing ids its memory does not grow with the
 * store. */
typedef struct {
  int64_t min_length, max_length, labelled;
  int increasing_ids;
  int64_t *ids, *sources, *fields; /* NULL unless needed */
} object_summary;

/* Rank 0 reads the object columns in blocks (the others take part with nothing). */
static void read_summary(lcfm_store *s, int rank, object_summary *o, int keep_ids, int keep_keys) {
  int64_t n = lcfm_store_object_count(s), mine = rank == 0 ? n : 0, last_id = INT64_MIN;
  const int64_t block = 1 << 16;
  if (keep_ids) o->ids = lcfm_malloc((size_t)(mine ? mine : 1) * sizeof *o->ids);
  if (keep_keys) o->sources = lcfm_malloc((size_t)(mine ? mine : 1) * sizeof *o->sources);
  if (keep_keys) o->fields = lcfm_malloc((size_t)(mine ? mine : 1) * sizeof *o->fields);
  o->min_length = INT64_MAX, o->max_length = 0, o->labelled = 0, o->increasing_ids = 1;
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, block, 0);
  int64_t blocks = (n + block - 1) / block;
  for (int64_t k = 0; k < blocks; k++) {
    int64_t first = k * block, count = rank == 0 ? (n - first < block ? n - first : block) : 0;
    lcfm_store_read_objects(s, first, count, &b);
    for (int64_t i = 0; i < count; i++) {
      if (keep_ids) o->ids[first + i] = b.id[i];
      if (keep_keys) o->sources[first + i] = b.source[i], o->fields[first + i] = b.field[i];
      o->increasing_ids &= b.id[i] > last_id;
      last_id = b.id[i];
      if (b.length[i] < o->min_length) o->min_length = b.length[i];
      if (b.length[i] > o->max_length) o->max_length = b.length[i];
      o->labelled += b.label[i] >= 0;
    }
  }
  lcfm_batch_free(&b);
}

static void free_summary(object_summary *o) { free(o->ids), free(o->sources), free(o->fields); }

/* Counts distinct sources and fields, and the spread of lengths and labels. The store's other
 * invariants were checked when it was opened (store_check.h); ids must also be unique (true when
 * they increase in store order, as every producer writes them; else they are sorted). Returns 0,
 * or 1 on rank 0 after reporting a duplicate id. */
static int summarise_objects(MPI_Comm comm, lcfm_store *s, int rank, const char *path) {
  int64_t n = lcfm_store_object_count(s);
  int64_t sources = distinct_from_index(s, "/index/source_key"),
          fields = distinct_from_index(s, "/index/field_key");
  int keep_keys = sources < 0 || fields < 0;
  object_summary o = {0};
  read_summary(s, rank, &o, 0, keep_keys);
  int increasing = o.increasing_ids;
  LCFM_CHECK_MPI(MPI_Bcast(&increasing, 1, MPI_INT, 0, comm));
  if (!increasing) { /* a second pass that keeps the ids */
    free_summary(&o);
    read_summary(s, rank, &o, 1, keep_keys);
  }
  int64_t duplicate = 0, mine = rank == 0 ? n : 0;
  if (o.ids) qsort(o.ids, (size_t)mine, sizeof *o.ids, compare_int64);
  if (rank == 0 && o.ids && first_duplicate(o.ids, mine, &duplicate)) {
    lcfm_report_failure(
        1, "lcfm info: %s: id %lld is used by more than one object (ids are unique in a store)",
        path, (long long)duplicate);
    free_summary(&o);
    return 1;
  }
  if (rank == 0) {
    if (keep_keys) sources = count_distinct(o.sources, n), fields = count_distinct(o.fields, n);
    printf("store        %s\n", path);
    printf("objects      %lld\n", (long long)n);
    printf("points       %lld (per object: min %lld, mean %.1f, max %lld)\n",
           (long long)lcfm_store_point_count(s), (long long)(n ? o.min_length : 0),
           n ? (double)lcfm_store_point_count(s) / (double)n : 0.0, (long long)o.max_length);
    printf("sources      %lld\n", (long long)sources);
    printf("fields       %lld\n", (long long)fields);
    printf("labelled     %lld\n", (long long)o.labelled);
  }
  free_summary(&o);
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
  static const char *const names[] = {"producer",
                                      "lcfm_version",
                                      "git_revision",
                                      "build_type",
                                      "created_utc",
                                      "host",
                                      "ranks",
                                      "seed",
                                      "job_path",
                                      "command",
                                      "library_versions",
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
  if (!s) return lcfm_report_failure(rank == 0, "lcfm info: %s", why);
  int broken = summarise_objects(comm, s, rank, options->positional);
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
