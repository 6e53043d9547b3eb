/* input_list.c: the sorted input list of an ingest, built by all ranks together (survey.h).
 *
 * No rank holds the whole list. Each rank expands its share of the `inputs` key (inputs.c): the
 * i-th directory, pattern or file is rank i % ranks's, and every @manifest is read by all ranks,
 * each over the lines that begin in its share of the manifest's bytes. The ranks then sort the
 * names together (a sample sort: every rank sorts its names, regular samples of all ranks choose
 * ranks - 1 splitters, each name goes to the rank of its bucket, where equal names meet and are
 * counted once) and, after the caller has placed the slice boundaries, move each name to the rank
 * whose slice holds it. Each name travels with its file's size, from the stat that found the file
 * (the slices are balanced by size without a second stat). A rank holds about its share of the names, plus at most 64 Ki samples in
 * all (a few MiB) and, while it expands one, one directory's or pattern's listing. The order is
 * that of strcmp over the whole path, so the list is the same whatever the rank count. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/survey.h"

static const char *path_at(const lcfm_input_slice *s, int64_t i) {
  return s->paths + s->offsets[i];
}

/* Sets s->offsets and s->count from the `bytes` bytes of NUL-terminated names at s->paths. */
static void index_names(lcfm_input_slice *s, int64_t bytes) {
  int64_t count = 0;
  for (int64_t at = 0; at < bytes; at += (int64_t)strlen(s->paths + at) + 1) count++;
  s->offsets = lcfm_malloc((size_t)(count + 1) * sizeof *s->offsets);
  s->count = 0;
  for (int64_t at = 0; at < bytes; at += (int64_t)strlen(s->paths + at) + 1)
    s->offsets[s->count++] = at;
  s->offsets[count] = bytes;
}

typedef struct {
  const char *name;
  int64_t size;
} named_file;

static int compare_names(const void *a, const void *b) {
  return strcmp(((const named_file *)a)->name, ((const named_file *)b)->name);
}

/* The names of *list (s->count of them, any order) sorted, each once, rebuilt in place with their
 * sizes (zero where the list has none: the samples). */
static void sort_unique(lcfm_input_slice *list) {
  int64_t n = list->count;
  named_file *order = lcfm_malloc((size_t)(n ? n : 1) * sizeof *order);
  for (int64_t i = 0; i < n; i++)
    order[i] = (named_file){path_at(list, i), list->sizes ? list->sizes[i] : 0};
  if (n > 1) qsort(order, (size_t)n, sizeof *order, compare_names);
  char *paths = lcfm_malloc((size_t)list->offsets[n] + 1);
  int64_t *offsets = lcfm_malloc((size_t)(n + 1) * sizeof *offsets),
          *sizes = lcfm_malloc((size_t)(n ? n : 1) * sizeof *sizes), kept = 0, at = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i > 0 && !strcmp(order[i].name, order[i - 1].name)) continue; /* named twice */
    size_t len = strlen(order[i].name) + 1;
    memcpy(paths + at, order[i].name, len);
    sizes[kept] = order[i].size;
    offsets[kept++] = at;
    at += (int64_t)len;
  }
  offsets[kept] = at;
  free(order), free(list->paths), free(list->offsets), free(list->sizes);
  list->paths = paths, list->offsets = offsets, list->sizes = sizes, list->count = kept;
}

/* MPI 3 counts are int: the counts of one exchange must fit (checked, with the remedy). */
static int int_bytes(int64_t bytes) {
  LCFM_CHECK(bytes <= INT_MAX,
             "ingest: %lld bytes of file names in one exchange between two ranks, more than MPI's "
             "int counts allow: run with more ranks",
             (long long)bytes);
  return (int)bytes;
}

/* Collective: elements [at[r], at[r + 1]) of `send` (of `type`, `element` bytes each) go to
 * rank r; returns what this rank receives, in the order of the sending ranks, with one element
 * spare at the end, and sets *received to its element count. */
static void *exchange(MPI_Comm comm, const void *send, const int64_t *at, MPI_Datatype type,
                      size_t element, int64_t *received) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  int *send_counts = lcfm_malloc((size_t)ranks * sizeof(int)),
      *send_displs = lcfm_malloc((size_t)ranks * sizeof(int)),
      *recv_counts = lcfm_malloc((size_t)ranks * sizeof(int)),
      *recv_displs = lcfm_malloc((size_t)ranks * sizeof(int));
  for (int r = 0; r < ranks; r++) {
    send_displs[r] = int_bytes(at[r]);
    send_counts[r] = int_bytes(at[r + 1] - at[r]);
  }
  LCFM_CHECK_MPI(MPI_Alltoall(send_counts, 1, MPI_INT, recv_counts, 1, MPI_INT, comm));
  int64_t total = 0;
  for (int r = 0; r < ranks; r++) recv_displs[r] = int_bytes(total), total += recv_counts[r];
  void *recv = lcfm_malloc(((size_t)total + 1) * element);
  LCFM_CHECK_MPI(MPI_Alltoallv(send, send_counts, send_displs, type, recv, recv_counts, recv_displs,
                               type, comm));
  free(send_counts), free(send_displs), free(recv_counts), free(recv_displs);
  *received = total;
  return recv;
}

/* Collective: names [split[r], split[r + 1]) of `from`, with their sizes, go to rank r; *to
 * receives its names in the order of the sending ranks (first and total are left to the caller). */
static void send_names(MPI_Comm comm, const lcfm_input_slice *from, const int64_t *split,
                       lcfm_input_slice *to) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  int64_t *byte_at = lcfm_malloc((size_t)(ranks + 1) * sizeof *byte_at), bytes, sizes;
  for (int r = 0; r <= ranks; r++) byte_at[r] = from->offsets[split[r]];
  to->paths = exchange(comm, from->paths, byte_at, MPI_CHAR, 1, &bytes);
  to->sizes = exchange(comm, from->sizes, split, MPI_INT64_T, sizeof(int64_t), &sizes);
  index_names(to, bytes);
  LCFM_CHECK(sizes == to->count, "internal: %lld file sizes received for %lld names",
             (long long)sizes, (long long)to->count);
  free(byte_at);
}

/* Collective: every rank's samples of its sorted names, gathered and sorted, as one list; at
 * most 64 Ki in all (one per rank beyond 64 Ki ranks), evenly spaced in each rank's names. */
static lcfm_input_slice gather_samples(MPI_Comm comm, const lcfm_input_slice *mine) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  int64_t per_rank = 65536 / ranks < 32 ? 65536 / ranks : 32;
  if (per_rank < 1) per_rank = 1;
  if (per_rank > mine->count) per_rank = mine->count;
  int64_t *rows = lcfm_malloc((size_t)(per_rank ? per_rank : 1) * sizeof *rows), bytes = 0;
  for (int64_t s = 0; s < per_rank; s++) {
    rows[s] = (2 * s + 1) * mine->count / (2 * per_rank); /* the middles of equal parts */
    bytes += (int64_t)strlen(path_at(mine, rows[s])) + 1;
  }
  char *samples = lcfm_malloc((size_t)bytes + 1);
  for (int64_t s = 0, at = 0; s < per_rank; s++) {
    size_t len = strlen(path_at(mine, rows[s])) + 1;
    memcpy(samples + at, path_at(mine, rows[s]), len), at += (int64_t)len;
  }
  free(rows);
  int mine_bytes = int_bytes(bytes), *counts = lcfm_malloc((size_t)ranks * sizeof(int)),
      *displs = lcfm_malloc((size_t)ranks * sizeof(int));
  LCFM_CHECK_MPI(MPI_Allgather(&mine_bytes, 1, MPI_INT, counts, 1, MPI_INT, comm));
  int64_t total = 0;
  for (int r = 0; r < ranks; r++) displs[r] = int_bytes(total), total += counts[r];
  lcfm_input_slice all = {.paths = lcfm_malloc((size_t)total + 1)};
  LCFM_CHECK_MPI(
      MPI_Allgatherv(samples, mine_bytes, MPI_CHAR, all.paths, counts, displs, MPI_CHAR, comm));
  index_names(&all, total);
  sort_unique(&all);
  free(samples), free(counts), free(displs);
  return all;
}

/* The first of mine's sorted names not below `splitter` (binary search). */
static int64_t lower_bound(const lcfm_input_slice *mine, const char *splitter) {
  int64_t lo = 0, hi = mine->count;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (strcmp(path_at(mine, mid), splitter) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void lcfm_input_list_sort(MPI_Comm comm, lcfm_input_slice *list) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  sort_unique(list);
  if (ranks > 1) {
    lcfm_input_slice samples = gather_samples(comm, list), bucketed = {0};
    /* bucket r holds the names in [splitter r - 1, splitter r): equal names share a bucket */
    int64_t *split = lcfm_malloc((size_t)(ranks + 1) * sizeof *split);
    split[0] = 0, split[ranks] = list->count;
    for (int r = 1; r < ranks; r++) {
      int64_t sample = samples.count * r / ranks;
      split[r] =
          sample < samples.count ? lower_bound(list, path_at(&samples, sample)) : list->count;
      if (split[r] < split[r - 1]) split[r] = split[r - 1];
    }
    send_names(comm, list, split, &bucketed);
    free(split), lcfm_input_slice_free(&samples), lcfm_input_slice_free(list);
    *list = bucketed;
    sort_unique(list);
  }
  int64_t before = 0;
  LCFM_CHECK_MPI(MPI_Exscan(&list->count, &before, 1, MPI_INT64_T, MPI_SUM, comm));
  LCFM_CHECK_MPI(MPI_Allreduce(&list->count, &list->total, 1, MPI_INT64_T, MPI_SUM, comm));
  int rank;
  MPI_Comm_rank(comm, &rank);
  list->first = rank == 0 ? 0 : before;
}

void lcfm_input_list_move(MPI_Comm comm, lcfm_input_slice *list, const int64_t *starts) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t *split = lcfm_malloc((size_t)(ranks + 1) * sizeof *split),
          end = list->first + list->count;
  for (int r = 0; r <= ranks; r++) { /* rank r's slice [starts[r], starts[r + 1]), cut to mine */
    int64_t at = starts[r] < list->first ? list->first : (starts[r] > end ? end : starts[r]);
    split[r] = at - list->first;
  }
  split[0] = 0, split[ranks] = list->count;
  lcfm_input_slice moved = {.first = starts[rank], .total = list->total};
  send_names(comm, list, split, &moved);
  LCFM_CHECK(moved.count == starts[rank + 1] - starts[rank],
             "internal: rank %d received %lld file names for a slice of %lld", rank,
             (long long)moved.count, (long long)(starts[rank + 1] - starts[rank]));
  free(split);
  lcfm_input_slice_free(list);
  *list = moved;
}
