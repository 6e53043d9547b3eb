/* index.c: writing the store's /index and reading objects through it (see store_index.h). */
#include "lcfm/store_index.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/fields.h"
#include "lcfm/h5io.h"
#include "lcfm/rng.h"

enum { KEY_STRIDE = 256, WRITE_BLOCK = 1 << 16 };

/* ---- building the groups in memory (stores without /index) ---- */

typedef struct {
  int64_t key, row;
} keyed_row;

static int by_key_then_row(const void *pa, const void *pb) {
  const keyed_row *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return (a->row > b->row) - (a->row < b->row);
}

typedef struct {
  int64_t *order;     /* [n] rows sorted by (key, row) */
  int64_t *group_key; /* [groups] distinct keys, increasing */
  int64_t *start;     /* [groups + 1] */
  int64_t groups;
} grouping;

/* Rows 0..n-1 grouped by key[row]. */
static void group_by_key(const int64_t *key, int64_t n, grouping *g) {
  keyed_row *pairs = lcfm_malloc((size_t)(n ? n : 1) * sizeof *pairs);
  for (int64_t i = 0; i < n; i++) pairs[i] = (keyed_row){key[i], i};
  qsort(pairs, (size_t)n, sizeof *pairs, by_key_then_row);
  g->order = lcfm_malloc((size_t)(n ? n : 1) * sizeof *g->order);
  g->group_key = lcfm_malloc((size_t)(n ? n : 1) * sizeof *g->group_key);
  g->start = lcfm_malloc((size_t)(n + 1) * sizeof *g->start);
  g->groups = 0;
  for (int64_t i = 0; i < n; i++) {
    g->order[i] = pairs[i].row;
    if (i == 0 || pairs[i].key != pairs[i - 1].key) {
      g->group_key[g->groups] = pairs[i].key;
      g->start[g->groups++] = i;
    }
  }
  g->start[g->groups] = n;
  free(pairs);
}

/* Rows grouped by instrument id in [0, instruments): a stable counting sort; start has
 * instruments + 1 entries (empty groups for ids without objects). */
static void group_by_instrument(const int64_t *instrument, int64_t n, int64_t instruments,
                                int64_t **order, int64_t **start) {
  *start = lcfm_calloc((size_t)(instruments + 1), sizeof **start);
  *order = lcfm_malloc((size_t)(n ? n : 1) * sizeof **order);
  for (int64_t i = 0; i < n; i++) {
    LCFM_CHECK(instrument[i] >= 0 && instrument[i] < instruments,
               "internal: object %lld has instrument %lld of %lld", (long long)i,
               (long long)instrument[i], (long long)instruments);
    (*start)[instrument[i] + 1]++;
  }
  for (int64_t m = 0; m < instruments; m++) (*start)[m + 1] += (*start)[m];
  int64_t *next = lcfm_malloc((size_t)(instruments ? instruments : 1) * sizeof *next);
  memcpy(next, *start, (size_t)instruments * sizeof *next);
  for (int64_t i = 0; i < n; i++) (*order)[next[instrument[i]]++] = i;
  free(next);
}

/* ---- writing ---- */

typedef struct {
  lcfm_store_writer *w;
  hid_t file, dxpl;
  MPI_Comm comm;
  int rank, ranks;
} index_writer;

/* Collective: creates (or, appending, resizes) /index/NAME [rows] and writes this rank's rows
 * [first, first + count). */
static void write_index_rows(lcfm_store_writer *w, hid_t dxpl, const char *name, int64_t rows,
                             int64_t first, int64_t count, const int64_t *data) {
  char path[64];
  snprintf(path, sizeof path, "/index/%s", name);
  hid_t dset = lcfm_store_dataset(w, path, H5T_NATIVE_INT64, rows, 0); /* resized when appending */
  lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT64, dxpl, first, count, 0, (void *)data, 1);
  H5Dclose(dset);
}

/* Collective: from this rank's object count per instrument (local [M]), each instrument's first
 * by_instrument position (start [M + 1], the same on every rank) and this rank's first position
 * within each instrument's group (at [M]: start plus the objects of that instrument on lower
 * ranks, which come first because rows within an instrument stay in row order). */
static void place_instruments(const index_writer *s, const int64_t *local, int64_t M,
                              int64_t *start, int64_t *at) {
  int64_t *total = lcfm_malloc((size_t)(M ? M : 1) * sizeof *total);
  LCFM_CHECK_MPI(MPI_Allreduce(local, total, (int)M, MPI_INT64_T, MPI_SUM, s->comm));
  LCFM_CHECK_MPI(MPI_Exscan(local, at, (int)M, MPI_INT64_T, MPI_SUM, s->comm));
  if (s->rank == 0) memset(at, 0, (size_t)M * sizeof *at); /* Exscan leaves rank 0's undefined */
  start[0] = 0;
  for (int64_t m = 0; m < M; m++) start[m + 1] = start[m] + total[m];
  for (int64_t m = 0; m < M; m++) at[m] += start[m];
  free(total);
}

/* Collective: writes rows (local[0] of instrument 0, then local[1] of instrument 1, ...) into
 * /index/by_instrument at at[m] for instrument m: one write of a union of hyperslabs. Advances at. */
static void write_instrument_runs(const index_writer *s, hid_t dset, const int64_t *rows,
                                  const int64_t *local, int64_t M, int64_t *at) {
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  LCFM_CHECK_H5(H5Sselect_none(space));
  hsize_t objects = 0, one = 1;
  for (int64_t m = 0; m < M; m++) {
    if (!local[m]) continue;
    hsize_t first = (hsize_t)at[m], count = (hsize_t)local[m];
    LCFM_CHECK_H5(H5Sselect_hyperslab(space, H5S_SELECT_OR, &first, NULL, &count, NULL));
    at[m] += local[m], objects += count;
  }
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, objects ? &objects : &one, NULL));
  if (!objects) LCFM_CHECK_H5(H5Sselect_none(memspace));
  lcfm_h5_write_selection(dset, H5T_NATIVE_INT64, memspace, space, s->dxpl, rows);
  H5Sclose(memspace);
  H5Sclose(space);
}

/* ---- ingest's and append's index: a parallel sort of the object columns ----
 * Memory per rank is O(N/P) plus O(P) plus the rank's share of the groups; nothing is gathered.
 * by_source and by_field: a sample sort. Each rank sorts the (key, row) pairs of its shard, P - 1
 * regular samples of every rank give P - 1 splitters, MPI_Alltoallv sends each pair to the rank
 * owning its range, and each rank sorts what it received and writes its contiguous slice of the
 * order, keys and starts at offsets from the ranks before it. The pairs are distinct (rows are),
 * so regular sampling bounds every rank's slice by about 2N/P. by_instrument needs no sort: a
 * count per instrument places each rank's rows (place_instruments). */

static int64_t *read_shard(const index_writer *s, const char *name, int64_t first, int64_t count) {
  int64_t *column = lcfm_malloc((size_t)(count ? count : 1) * sizeof *column);
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(s->file, name, H5P_DEFAULT));
  lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT64, s->dxpl, first, count, 0, column, 0);
  H5Dclose(dset);
  return column;
}

/* The number of sorted[0..n) that are not above x in (key, row) order. */
static int64_t pairs_not_above(const keyed_row *sorted, int64_t n, keyed_row x) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (by_key_then_row(&sorted[mid], &x) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int as_count(int64_t n, const char *what) {
  LCFM_CHECK(n <= INT_MAX,
             "index: %lld pairs %s one rank, more than MPI's int counts allow; use more ranks",
             (long long)n, what);
  return (int)n;
}

/* Collective: P - 1 splitters, chosen on rank 0 from P - 1 regular samples of every rank's sorted
 * pairs (rank 0 holds P (P - 1) samples for a moment). */
static keyed_row *choose_splitters(const index_writer *s, MPI_Datatype pair,
                                   const keyed_row *sorted, int64_t n) {
  int P = s->ranks, mine = n ? P - 1 : 0;
  keyed_row *sample = lcfm_malloc((size_t)P * sizeof *sample),
            *splitters = lcfm_malloc((size_t)P * sizeof *splitters);
  for (int j = 0; j < mine; j++) sample[j] = sorted[(j + 1) * n / P];
  int *counts = NULL, *displs = NULL, total = 0;
  keyed_row *all = NULL;
  if (s->rank == 0)
    counts = lcfm_malloc((size_t)P * sizeof *counts),
    displs = lcfm_malloc((size_t)P * sizeof *displs);
  LCFM_CHECK_MPI(MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, s->comm));
  if (s->rank == 0) {
    for (int r = 0; r < P; r++) displs[r] = total, total += counts[r];
    all = lcfm_malloc((size_t)(total ? total : 1) * sizeof *all);
  }
  LCFM_CHECK_MPI(MPI_Gatherv(sample, mine, pair, all, counts, displs, pair, 0, s->comm));
  if (s->rank == 0) {
    qsort(all, (size_t)total, sizeof *all, by_key_then_row);
    for (int j = 0; j < P - 1; j++) /* no samples: no pairs anywhere, any splitters do */
      splitters[j] = total ? all[(int64_t)(j + 1) * total / P] : (keyed_row){INT64_MAX, INT64_MAX};
  }
  LCFM_CHECK_MPI(MPI_Bcast(splitters, P - 1, pair, 0, s->comm));
  free(sample), free(counts), free(displs), free(all);
  return splitters;
}

/* Collective: sends each of this rank's sorted pairs to the rank owning its range (rank d takes
 * the pairs above splitter d - 1 and not above splitter d); returns what this rank received,
 * sorted, and its count in *received. */
static keyed_row *exchange_pairs(const index_writer *s, MPI_Datatype pair, const keyed_row *sorted,
                                 int64_t n, const keyed_row *splitters, int64_t *received) {
  int P = s->ranks;
  int *send = lcfm_malloc((size_t)P * sizeof *send),
      *send_at = lcfm_malloc((size_t)P * sizeof *send_at);
  int *recv = lcfm_malloc((size_t)P * sizeof *recv),
      *recv_at = lcfm_malloc((size_t)P * sizeof *recv_at);
  as_count(n, "leave");
  for (int d = 0, at = 0; d < P; d++) {
    int end = d < P - 1 ? (int)pairs_not_above(sorted, n, splitters[d]) : (int)n;
    send_at[d] = at, send[d] = end - at, at = end;
  }
  LCFM_CHECK_MPI(MPI_Alltoall(send, 1, MPI_INT, recv, 1, MPI_INT, s->comm));
  int64_t total = 0;
  for (int d = 0; d < P; d++) recv_at[d] = as_count(total, "reach"), total += recv[d];
  as_count(total, "reach");
  keyed_row *mine = lcfm_malloc((size_t)(total ? total : 1) * sizeof *mine);
  LCFM_CHECK_MPI(MPI_Alltoallv(sorted, send, send_at, pair, mine, recv, recv_at, pair, s->comm));
  qsort(mine, (size_t)total, sizeof *mine, by_key_then_row); /* P sorted runs */
  free(send), free(send_at), free(recv), free(recv_at);
  *received = total;
  return mine;
}

/* Collective: the sum of `value` over the ranks below this one, and over all ranks in *total. */
static int64_t sum_below(const index_writer *s, int64_t value, int64_t *total) {
  int64_t below = 0;
  LCFM_CHECK_MPI(MPI_Exscan(&value, &below, 1, MPI_INT64_T, MPI_SUM, s->comm));
  LCFM_CHECK_MPI(MPI_Allreduce(&value, total, 1, MPI_INT64_T, MPI_SUM, s->comm));
  return s->rank == 0 ? 0 : below;
}

/* Collective: the last key of the nearest lower rank holding pairs; returns 0 when none does.
 * A group whose pairs straddle ranks starts on the lowest of them only. */
static int key_before(const index_writer *s, const keyed_row *mine, int64_t n, int64_t *key) {
  int64_t last[2] = {n > 0, n > 0 ? mine[n - 1].key : 0};
  int64_t *all = lcfm_malloc((size_t)s->ranks * sizeof last);
  LCFM_CHECK_MPI(MPI_Allgather(last, 2, MPI_INT64_T, all, 2, MPI_INT64_T, s->comm));
  int found = 0;
  for (int r = s->rank - 1; r >= 0 && !found; r--)
    if (all[2 * r]) found = 1, *key = all[2 * r + 1];
  free(all);
  return found;
}

/* Collective: /index/ORDER, KEY and START (e.g. by_source, source_key, source_start) from this
 * rank's slice of the globally sorted pairs. */
static void write_sorted_groups(const index_writer *s, const keyed_row *mine, int64_t n,
                                int64_t objects, const char *const names[3]) {
  int64_t total, first = sum_below(s, n, &total), previous = 0;
  int continues = key_before(s, mine, n, &previous);
  int64_t *rows = lcfm_malloc((size_t)(n ? n : 1) * sizeof *rows),
          *key = lcfm_malloc((size_t)(n ? n : 1) * sizeof *key);
  int64_t *start = lcfm_malloc((size_t)(n + 1) * sizeof *start), groups = 0;
  for (int64_t i = 0; i < n; i++) {
    rows[i] = mine[i].row;
    int starts = i > 0 ? mine[i].key != mine[i - 1].key : !continues || mine[i].key != previous;
    if (starts) key[groups] = mine[i].key, start[groups++] = first + i;
  }
  int64_t all_groups, first_group = sum_below(s, groups, &all_groups),
                      closing = s->rank == s->ranks - 1;
  if (closing) start[groups] = objects; /* the last rank also writes the closing entry */
  write_index_rows(s->w, s->dxpl, names[0], objects, first, n, rows);
  write_index_rows(s->w, s->dxpl, names[1], all_groups, first_group, groups, key);
  write_index_rows(s->w, s->dxpl, names[2], all_groups + 1, first_group, groups + closing, start);
  free(rows), free(key), free(start);
}

/* Collective: the grouping of the objects by /objects/COLUMN, sorted in parallel and written. */
static void write_grouping_of(const index_writer *s, MPI_Datatype pair, const char *column,
                              int64_t objects, const char *const names[3]) {
  int64_t first, count, received;
  lcfm_store_shard(objects, s->rank, s->ranks, &first, &count);
  int64_t *key = read_shard(s, column, first, count);
  keyed_row *sorted = lcfm_malloc((size_t)(count ? count : 1) * sizeof *sorted);
  for (int64_t i = 0; i < count; i++) sorted[i] = (keyed_row){key[i], first + i};
  free(key);
  qsort(sorted, (size_t)count, sizeof *sorted, by_key_then_row);
  keyed_row *splitters = choose_splitters(s, pair, sorted, count);
  keyed_row *mine = exchange_pairs(s, pair, sorted, count, splitters, &received);
  free(sorted), free(splitters);
  write_sorted_groups(s, mine, received, objects, names);
  free(mine);
}

/* Collective: by_instrument and instrument_start; each rank places its own rows. */
static void write_instrument_grouping(const index_writer *s, int64_t objects, int64_t M) {
  int64_t first, count;
  lcfm_store_shard(objects, s->rank, s->ranks, &first, &count);
  int64_t *instrument = read_shard(s, "/objects/instrument", first, count);
  int64_t *local = lcfm_calloc((size_t)(M ? M : 1), sizeof *local),
          *at = lcfm_malloc((size_t)(M ? M : 1) * sizeof *at);
  for (int64_t i = 0; i < count; i++) {
    LCFM_CHECK(instrument[i] >= 0 && instrument[i] < M,
               "internal: object %lld has instrument %lld of %lld", (long long)(first + i),
               (long long)instrument[i], (long long)M);
    local[instrument[i]]++;
  }
  int64_t *start = lcfm_malloc((size_t)(M + 1) * sizeof *start),
          *fill = lcfm_malloc((size_t)(M ? M : 1) * sizeof *fill);
  place_instruments(s, local, M, start, at);
  for (int64_t m = 0, o = 0; m < M; o += local[m], m++)
    fill[m] = o; /* a stable counting sort of the shard */
  int64_t *rows = lcfm_malloc((size_t)(count ? count : 1) * sizeof *rows);
  for (int64_t i = 0; i < count; i++) rows[fill[instrument[i]]++] = first + i;
  hid_t dset = lcfm_store_dataset(s->w, "/index/by_instrument", H5T_NATIVE_INT64, objects, 0);
  write_instrument_runs(s, dset, rows, local, M, at);
  H5Dclose(dset);
  write_index_rows(s->w, s->dxpl, "instrument_start", M + 1, 0, s->rank == 0 ? M + 1 : 0,
                   start); /* tiny */
  free(instrument), free(local), free(at), free(start), free(fill), free(rows);
}

static int64_t length_of_table(hid_t file, const char *path) {
  if (H5Lexists(file, "/instruments", H5P_DEFAULT) <= 0 || H5Lexists(file, path, H5P_DEFAULT) <= 0)
    return 0;
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, path, H5P_DEFAULT));
  int64_t n = lcfm_h5_dataset_rows(dset);
  H5Dclose(dset);
  return n;
}

static index_writer begin_index(lcfm_store_writer *w, MPI_Comm comm) {
  index_writer s = {.w = w,
                    .file = lcfm_store_group(w, NULL),
                    .dxpl = lcfm_h5_collective_transfer(),
                    .comm = comm};
  MPI_Comm_rank(comm, &s.rank);
  MPI_Comm_size(comm, &s.ranks);
  return s;
}

void lcfm_store_index_write(lcfm_store_writer *w, MPI_Comm comm, int64_t instruments) {
  index_writer s = begin_index(w, comm);
  /* The columns were written collectively by all ranks: make them visible before reading back. */
  LCFM_CHECK_H5(H5Fflush(s.file, H5F_SCOPE_GLOBAL));
  LCFM_CHECK_MPI(MPI_Barrier(comm));
  hid_t ids = LCFM_CHECK_H5(H5Dopen2(s.file, "/objects/id", H5P_DEFAULT));
  int64_t n = lcfm_h5_dataset_rows(ids);
  H5Dclose(ids);
  /* Appending may have added instruments to the ones the producer passed. */
  int64_t stored = length_of_table(s.file, "/instruments/id");
  if (stored > instruments) instruments = stored;
  MPI_Datatype pair;
  LCFM_CHECK_MPI(MPI_Type_contiguous(2, MPI_INT64_T, &pair));
  LCFM_CHECK_MPI(MPI_Type_commit(&pair));
  static const char *const by_source[3] = {"by_source", "source_key", "source_start"};
  static const char *const by_field[3] = {"by_field", "field_key", "field_start"};
  write_grouping_of(&s, pair, "/objects/source", n, by_source);
  write_instrument_grouping(&s, n, instruments);
  write_grouping_of(&s, pair, "/objects/field", n, by_field);
  MPI_Type_free(&pair);
  H5Pclose(s.dxpl);
}

/* ---- the simulator's index, without sorting ---- */

/* Collective: /index/NAME [rows], this rank writing rows [first, first + count) whose value is
 * value(i) = (i / divisor) * scale, capped at cap, in blocks of WRITE_BLOCK (bounded memory). */
static void write_arithmetic(const index_writer *s, const char *name, int64_t rows, int64_t first,
                             int64_t count, int64_t divisor, int64_t scale, int64_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/index/%s", name);
  hid_t dset = lcfm_store_dataset(s->w, path, H5T_NATIVE_INT64, rows, 0);
  int64_t mine = (count + WRITE_BLOCK - 1) / WRITE_BLOCK, blocks = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &blocks, 1, MPI_INT64_T, MPI_MAX, s->comm));
  int64_t *buf = lcfm_malloc(WRITE_BLOCK * sizeof *buf);
  for (int64_t b = 0; b < blocks; b++) {
    int64_t at = b * WRITE_BLOCK, n = count - at < WRITE_BLOCK ? count - at : WRITE_BLOCK;
    if (n < 0) n = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t v = (first + at + i) / divisor * scale;
      buf[i] = v < cap ? v : cap;
    }
    lcfm_h5_transfer_rows(dset, H5T_NATIVE_INT64, s->dxpl, first + at, n, 0, buf, 1);
  }
  free(buf);
  H5Dclose(dset);
}

/* Rows [first, first + count) of a table of `rows` split over ranks; the last rank also takes
 * the closing entry of a start array when `closing`. */
static void shard_rows(const index_writer *s, int64_t rows, int closing, int64_t *first,
                       int64_t *count) {
  lcfm_store_shard(rows, s->rank, s->ranks, first, count);
  if (closing && s->rank == s->ranks - 1) (*count)++;
}

static int64_t first_instrument(const lcfm_sim_config *c, int64_t star) {
  return lcfm_sim_instrument(c, star * c->curves_per_star);
}

/* by_instrument: each rank places its stars' objects; within an instrument the rows increase, so
 * a rank's (and a block's) objects of instrument m are one contiguous range of m's group. */
static void write_simulated_by_instrument(const index_writer *s, const lcfm_sim_config *c,
                                          int64_t first_star, int64_t stars) {
  int64_t M = c->instruments, P = c->curves_per_star;
  int64_t *local = lcfm_calloc((size_t)M, sizeof *local), *at = lcfm_malloc((size_t)M * sizeof *at);
  for (int64_t st = first_star; st < first_star + stars; st++)
    for (int64_t p = 0, r = first_instrument(c, st); p < P; p++) local[(r + p) % M]++;
  int64_t *start = lcfm_malloc((size_t)(M + 1) * sizeof *start);
  place_instruments(s, local, M, start, at); /* at: next position of instrument m in the file */
  int64_t n = start[M];
  /* instrument_start is tiny: rank 0 writes it. */
  write_index_rows(s->w, s->dxpl, "instrument_start", M + 1, 0, s->rank == 0 ? M + 1 : 0, start);
  hid_t dset = lcfm_store_dataset(s->w, "/index/by_instrument", H5T_NATIVE_INT64, n, 0);
  int64_t block = c->block_stars > 0 ? c->block_stars : 1024;
  int64_t *rows = lcfm_malloc((size_t)(block * P) * sizeof *rows),
          *fill = lcfm_malloc((size_t)M * sizeof *fill);
  /* Collective writes (filtered datasets allow no other): every rank makes as many as the rank
   * with the most blocks, the extra ones empty. */
  int64_t my_blocks = (stars + block - 1) / block, blocks = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&my_blocks, &blocks, 1, MPI_INT64_T, MPI_MAX, s->comm));
  for (int64_t k = 0; k < blocks; k++) {
    int64_t b0 = first_star + k * block, end = first_star + stars;
    if (b0 > end) b0 = end;
    int64_t b1 = b0 + block < end ? b0 + block : end;
    memset(local, 0, (size_t)M * sizeof *local);
    for (int64_t st = b0; st < b1; st++)
      for (int64_t p = 0, r = first_instrument(c, st); p < P; p++) local[(r + p) % M]++;
    for (int64_t m = 0, o = 0; m < M; o += local[m], m++) fill[m] = o; /* buffer in group order */
    for (int64_t st = b0; st < b1; st++)
      for (int64_t p = 0, r = first_instrument(c, st); p < P; p++)
        rows[fill[(r + p) % M]++] = st * P + p;
    write_instrument_runs(s, dset, rows, local, M, at);
  }
  H5Dclose(dset);
  free(local), free(at), free(start), free(rows), free(fill);
}

void lcfm_store_index_write_simulated(lcfm_store_writer *w, MPI_Comm comm,
                                      const lcfm_sim_config *c) {
  index_writer s = begin_index(w, comm);
  int64_t S = c->stars, P = c->curves_per_star, N = S * P, per_field = c->stars_per_field;
  int64_t F = S ? (S - 1) / per_field + 1 : 0;
  int64_t first_star, stars, first, count;
  lcfm_store_shard(S, s.rank, s.ranks, &first_star, &stars);
  /* Objects are star-major and fields are blocks of stars: by_source and by_field are the rows
   * in order, sources are the stars 0..S-1 with P objects each. */
  write_arithmetic(&s, "by_source", N, first_star * P, stars * P, 1, 1, INT64_MAX);
  write_arithmetic(&s, "by_field", N, first_star * P, stars * P, 1, 1, INT64_MAX);
  write_arithmetic(&s, "source_key", S, first_star, stars, 1, 1, INT64_MAX);
  shard_rows(&s, S, 1, &first, &count);
  write_arithmetic(&s, "source_start", S + 1, first, count, 1, P, INT64_MAX);
  shard_rows(&s, F, 0, &first, &count);
  write_arithmetic(&s, "field_key", F, first, count, 1, 1, INT64_MAX);
  shard_rows(&s, F, 1, &first, &count);
  write_arithmetic(&s, "field_start", F + 1, first, count, 1, per_field * P, N);
  write_simulated_by_instrument(&s, c, first_star, stars);
  H5Pclose(s.dxpl);
}

/* ---- reading ---- */

enum { COL_SOURCE, COL_INSTRUMENT, COL_OFFSET, COL_LENGTH, N_COLUMNS };
static const char *const column_names[N_COLUMNS] = {"/objects/source", "/objects/instrument",
                                                    "/objects/offset", "/objects/length"};

enum { IX_BY_SOURCE, IX_SOURCE_KEY, IX_SOURCE_START, IX_BY_INSTRUMENT, N_ARRAYS };
static const char *const array_names[N_ARRAYS] = {"/index/by_source", "/index/source_key",
                                                  "/index/source_start", "/index/by_instrument"};

struct lcfm_store_index {
  char path[4096];
  hid_t file;
  hid_t columns[N_COLUMNS], time, value, error;
  hid_t arrays[N_ARRAYS];    /* on disk, or -1 */
  int64_t *memory[N_ARRAYS]; /* built in memory when the store has no /index */
  int64_t objects, sources, instruments, points;
  int64_t *instrument_start; /* [instruments + 1] */
  int64_t *key_sample;       /* source_key[j * KEY_STRIDE] */
  int64_t samples;
  int64_t bytes;
};

/* Reads [first, first + count) of a 1-D dataset into memory of type `type`. */
static void read_range(lcfm_store_index *x, hid_t dset, hid_t type, int64_t first, int64_t count,
                       void *out) {
  if (count <= 0) return;
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t start = (hsize_t)first, n = (hsize_t)count;
  LCFM_CHECK_H5(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &n, NULL));
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, &n, NULL));
  LCFM_CHECK_H5(H5Dread(dset, type, memspace, space, H5P_DEFAULT, out));
  H5Sclose(memspace);
  H5Sclose(space);
  x->bytes += count * (int64_t)H5Tget_size(type);
}

static void read_array(lcfm_store_index *x, int which, int64_t first, int64_t count, int64_t *out) {
  if (x->memory[which]) memcpy(out, x->memory[which] + first, (size_t)count * sizeof *out);
  else read_range(x, x->arrays[which], H5T_NATIVE_INT64, first, count, out);
}

/* Object rows read from the index must lie in [0, objects): a damaged index stops the run. */
static void check_rows(const lcfm_store_index *x, const char *what, const int64_t *rows,
                       int64_t count) {
  for (int64_t i = 0; i < count; i++)
    LCFM_CHECK(rows[i] >= 0 && rows[i] < x->objects,
               "%s: /index/%s holds row %lld of a store of %lld objects "
               "(damaged index)",
               x->path, what, (long long)rows[i], (long long)x->objects);
}

static int has_link(hid_t file, const char *path) { return H5Lexists(file, path, H5P_DEFAULT) > 0; }

static int64_t length_of(hid_t file, const char *path) {
  if (!has_link(file, path)) return -1;
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, path, H5P_DEFAULT));
  int64_t n = lcfm_h5_dataset_rows(dset);
  H5Dclose(dset);
  return n;
}

/* Builds the by_source and by_instrument arrays from the object columns (stores without /index). */
static int build_in_memory(lcfm_store_index *x, char *why, size_t why_len) {
  if (x->objects > LCFM_INDEX_BUILD_LIMIT) {
    snprintf(
        why, why_len,
        "%s has no /index (written by an older lcfm, or by a producer that writes none) and holds "
        "%lld objects, more than the %d that lcfm train indexes in memory; write the store again with this "
        "lcfm's simulate or ingest",
        x->path, (long long)x->objects, LCFM_INDEX_BUILD_LIMIT);
    return 1;
  }
  int64_t n = x->objects;
  int64_t *source = lcfm_malloc((size_t)(n ? n : 1) * sizeof *source);
  int64_t *instrument = lcfm_malloc((size_t)(n ? n : 1) * sizeof *instrument);
  read_range(x, x->columns[COL_SOURCE], H5T_NATIVE_INT64, 0, n, source);
  read_range(x, x->columns[COL_INSTRUMENT], H5T_NATIVE_INT64, 0, n, instrument);
  grouping g;
  group_by_key(source, n, &g);
  x->memory[IX_BY_SOURCE] = g.order, x->memory[IX_SOURCE_KEY] = g.group_key,
  x->memory[IX_SOURCE_START] = g.start;
  x->sources = g.groups;
  group_by_instrument(instrument, n, x->instruments, &x->memory[IX_BY_INSTRUMENT],
                      &x->instrument_start);
  free(source), free(instrument);
  return 0;
}

/* Opens /index and checks its extents against the store. */
static int open_on_disk(lcfm_store_index *x, char *why, size_t why_len) {
  int64_t expected[N_ARRAYS] = {x->objects, -2, -2, x->objects};
  x->sources = length_of(x->file, "/index/source_key");
  expected[IX_SOURCE_KEY] = x->sources, expected[IX_SOURCE_START] = x->sources + 1;
  for (int a = 0; a < N_ARRAYS; a++) {
    int64_t n = length_of(x->file, array_names[a]);
    if (n < 0 || n != expected[a]) {
      snprintf(why, why_len, "%s: %s %s (damaged index; write the store again)", x->path,
               array_names[a], n < 0 ? "is missing" : "has the wrong length");
      return 1;
    }
    x->arrays[a] = LCFM_CHECK_H5(H5Dopen2(x->file, array_names[a], H5P_DEFAULT));
  }
  if (length_of(x->file, "/index/instrument_start") != x->instruments + 1) {
    snprintf(why, why_len,
             "%s: /index/instrument_start does not have one entry per instrument plus one (damaged "
             "index; write the store again)",
             x->path);
    return 1;
  }
  x->instrument_start = lcfm_malloc((size_t)(x->instruments + 1) * sizeof *x->instrument_start);
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(x->file, "/index/instrument_start", H5P_DEFAULT));
  read_range(x, dset, H5T_NATIVE_INT64, 0, x->instruments + 1, x->instrument_start);
  H5Dclose(dset);
  int partition = x->instrument_start[0] == 0 && x->instrument_start[x->instruments] == x->objects;
  for (int64_t m = 0; m < x->instruments && partition; m++)
    partition = x->instrument_start[m] <= x->instrument_start[m + 1];
  if (!partition)
    snprintf(why, why_len,
             "%s: /index/instrument_start is not a partition of the objects (damaged index)",
             x->path);
  return !partition;
}

/* source_key[j * KEY_STRIDE] for every j: one strided read. */
static void sample_keys(lcfm_store_index *x) {
  x->samples = (x->sources + KEY_STRIDE - 1) / KEY_STRIDE;
  x->key_sample = lcfm_malloc((size_t)(x->samples ? x->samples : 1) * sizeof *x->key_sample);
  if (x->memory[IX_SOURCE_KEY]) {
    for (int64_t j = 0; j < x->samples; j++)
      x->key_sample[j] = x->memory[IX_SOURCE_KEY][j * KEY_STRIDE];
    return;
  }
  if (x->samples == 0) return;
  hid_t space = LCFM_CHECK_H5(H5Dget_space(x->arrays[IX_SOURCE_KEY]));
  hsize_t start = 0, stride = KEY_STRIDE, count = (hsize_t)x->samples;
  LCFM_CHECK_H5(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, &stride, &count, NULL));
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, &count, NULL));
  LCFM_CHECK_H5(H5Dread(x->arrays[IX_SOURCE_KEY], H5T_NATIVE_INT64, memspace, space, H5P_DEFAULT,
                        x->key_sample));
  H5Sclose(memspace);
  H5Sclose(space);
  x->bytes += x->samples * (int64_t)sizeof *x->key_sample;
}

lcfm_store_index *lcfm_store_index_open(const char *path, char *why, size_t why_len) {
  lcfm_store_index *x = lcfm_calloc(1, sizeof *x);
  snprintf(x->path, sizeof x->path, "%s", path);
  for (int a = 0; a < N_ARRAYS; a++) x->arrays[a] = -1;
  /* Reads here are a few hundred bytes at random places. HDF5's default 64 KiB sieve buffer
   * copied 64 KiB for each (33 MB per training step for 121 KiB of windows), and ranks sharing a
   * node's memory bandwidth made the step slower with every rank added: no sieve. */
  hid_t fapl = LCFM_CHECK_H5(H5Pcreate(H5P_FILE_ACCESS));
  LCFM_CHECK_H5(H5Pset_sieve_buf_size(fapl, 0));
  x->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (x->file < 0) {
    snprintf(why, why_len, "%s: HDF5 cannot open it for reading", path);
    free(x);
    return NULL;
  }
  for (int c = 0; c < N_COLUMNS; c++)
    x->columns[c] = LCFM_CHECK_H5(H5Dopen2(x->file, column_names[c], H5P_DEFAULT));
  x->time = LCFM_CHECK_H5(H5Dopen2(x->file, "/points/time", H5P_DEFAULT));
  x->value = LCFM_CHECK_H5(H5Dopen2(x->file, "/points/value", H5P_DEFAULT));
  x->error = LCFM_CHECK_H5(H5Dopen2(x->file, "/points/error", H5P_DEFAULT));
  x->objects = lcfm_h5_dataset_rows(x->columns[COL_SOURCE]);
  x->points = lcfm_h5_dataset_rows(x->time);
  x->instruments = has_link(x->file, "/instruments") ? length_of(x->file, "/instruments/id") : 0;
  if (x->instruments < 0) x->instruments = 0;
  int failed = has_link(x->file, "/index") ? open_on_disk(x, why, why_len)
                                           : build_in_memory(x, why, why_len);
  if (failed) {
    lcfm_store_index_close(x);
    return NULL;
  }
  sample_keys(x);
  return x;
}

void lcfm_store_index_close(lcfm_store_index *x) {
  if (!x) return;
  for (int c = 0; c < N_COLUMNS; c++) H5Dclose(x->columns[c]);
  H5Dclose(x->time), H5Dclose(x->value), H5Dclose(x->error);
  for (int a = 0; a < N_ARRAYS; a++) {
    if (x->arrays[a] >= 0) H5Dclose(x->arrays[a]);
    free(x->memory[a]);
  }
  H5Fclose(x->file);
  free(x->instrument_start), free(x->key_sample);
  free(x);
}

int64_t lcfm_store_index_objects(const lcfm_store_index *x) { return x->objects; }
int64_t lcfm_store_index_sources(const lcfm_store_index *x) { return x->sources; }
int64_t lcfm_store_index_instruments(const lcfm_store_index *x) { return x->instruments; }
int lcfm_store_index_on_disk(const lcfm_store_index *x) { return x->memory[IX_BY_SOURCE] == NULL; }
int64_t lcfm_store_index_bytes_read(const lcfm_store_index *x) { return x->bytes; }

/* Reads one column at the given rows (a point selection: one read, in the order given). */
static void read_column_at(lcfm_store_index *x, int column, hid_t type, const int64_t *rows,
                           int64_t count, void *out) {
  hsize_t *coords = lcfm_malloc((size_t)count * sizeof *coords);
  for (int64_t i = 0; i < count; i++) coords[i] = (hsize_t)rows[i];
  hid_t space = LCFM_CHECK_H5(H5Dget_space(x->columns[column]));
  LCFM_CHECK_H5(H5Sselect_elements(space, H5S_SELECT_SET, (size_t)count, coords));
  hsize_t n = (hsize_t)count;
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, &n, NULL));
  LCFM_CHECK_H5(H5Dread(x->columns[column], type, memspace, space, H5P_DEFAULT, out));
  H5Sclose(memspace);
  H5Sclose(space);
  free(coords);
  x->bytes += count * (int64_t)H5Tget_size(type);
}

void lcfm_store_index_objects_at(lcfm_store_index *x, const int64_t *rows, int64_t count,
                                 lcfm_index_object *out) {
  if (count <= 0) return;
  check_rows(x, "objects", rows, count);
  int64_t *wide = lcfm_malloc((size_t)count * 2 * sizeof *wide);
  int32_t *narrow = lcfm_malloc((size_t)count * 2 * sizeof *narrow);
  read_column_at(x, COL_SOURCE, H5T_NATIVE_INT64, rows, count, wide);
  read_column_at(x, COL_OFFSET, H5T_NATIVE_INT64, rows, count, wide + count);
  read_column_at(x, COL_INSTRUMENT, H5T_NATIVE_INT32, rows, count, narrow);
  read_column_at(x, COL_LENGTH, H5T_NATIVE_INT32, rows, count, narrow + count);
  for (int64_t i = 0; i < count; i++)
    out[i] = (lcfm_index_object){.row = rows[i],
                                 .source = wide[i],
                                 .offset = wide[count + i],
                                 .instrument = narrow[i],
                                 .length = narrow[count + i]};
  free(wide), free(narrow);
}

int64_t lcfm_store_index_source(lcfm_store_index *x, int64_t row) {
  int64_t source;
  check_rows(x, "objects", &row, 1);
  read_column_at(x, COL_SOURCE, H5T_NATIVE_INT64, &row, 1, &source);
  return source;
}

void lcfm_store_index_object(lcfm_store_index *x, int64_t row, lcfm_index_object *o) {
  lcfm_store_index_objects_at(x, &row, 1, o);
}

/* The last j with sorted[j] <= key, or -1. */
static int64_t last_not_above(const int64_t *sorted, int64_t n, int64_t key) {
  int64_t lo = 0, hi = n; /* answer + 1 in [lo, hi] */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (sorted[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

int lcfm_store_index_source_group(lcfm_store_index *x, int64_t source, int64_t *first,
                                  int64_t *end) {
  *first = *end = 0;
  int64_t j = last_not_above(x->key_sample, x->samples, source);
  if (j < 0) return 0;
  int64_t base = j * KEY_STRIDE,
          n = x->sources - base < KEY_STRIDE ? x->sources - base : KEY_STRIDE;
  int64_t keys[KEY_STRIDE];
  read_array(x, IX_SOURCE_KEY, base, n, keys);
  int64_t k = last_not_above(keys, n, source);
  if (k < 0 || keys[k] != source) return 0;
  int64_t bounds[2];
  read_array(x, IX_SOURCE_START, base + k, 2, bounds);
  LCFM_CHECK(
      0 <= bounds[0] && bounds[0] <= bounds[1] && bounds[1] <= x->objects,
      "%s: /index/source_start is not a partition of the objects at source %lld (damaged index)",
      x->path, (long long)source);
  *first = bounds[0], *end = bounds[1];
  return 1;
}

void lcfm_store_index_instrument_group(const lcfm_store_index *x, int64_t m, int64_t *first,
                                       int64_t *end) {
  *first = *end = 0;
  if (m < 0 || m >= x->instruments) return;
  *first = x->instrument_start[m], *end = x->instrument_start[m + 1];
}

void lcfm_store_index_read_by_source(lcfm_store_index *x, int64_t first, int64_t count,
                                     int64_t *rows) {
  read_array(x, IX_BY_SOURCE, first, count, rows);
  check_rows(x, "by_source", rows, count);
}

void lcfm_store_index_read_by_instrument(lcfm_store_index *x, int64_t first, int64_t count,
                                         int64_t *rows) {
  read_array(x, IX_BY_INSTRUMENT, first, count, rows);
  check_rows(x, "by_instrument", rows, count);
}

void lcfm_store_index_read_points(lcfm_store_index *x, int64_t first, int64_t count, double *time,
                                  float *value) {
  LCFM_CHECK(first >= 0 && count >= 0 && first + count <= x->points,
             "%s: points [%lld, %lld) lie outside /points", x->path, (long long)first,
             (long long)(first + count));
  read_range(x, x->time, H5T_NATIVE_DOUBLE, first, count, time);
  read_range(x, x->value, H5T_NATIVE_FLOAT, first, count, value);
}

void lcfm_store_index_read_errors(lcfm_store_index *x, int64_t first, int64_t count, float *error) {
  LCFM_CHECK(first >= 0 && count >= 0 && first + count <= x->points,
             "%s: points [%lld, %lld) lie outside /points", x->path, (long long)first,
             (long long)(first + count));
  read_range(x, x->error, H5T_NATIVE_FLOAT, first, count, error);
}

/* ---- field selection (fields.h) ---- */

enum { FIELD_SCAN_BLOCK = 1 << 20 };

static int compare_rows(const void *pa, const void *pb) {
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  return (a > b) - (a < b);
}

static void read_whole(hid_t file, const char *name, hid_t type, int64_t first, int64_t count,
                       void *out) {
  if (count <= 0) return;
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, name, H5P_DEFAULT));
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t start = (hsize_t)first, n = (hsize_t)count;
  LCFM_CHECK_H5(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &n, NULL));
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, &n, NULL));
  LCFM_CHECK_H5(H5Dread(dset, type, memspace, space, H5P_DEFAULT, out));
  H5Sclose(memspace), H5Sclose(space), H5Dclose(dset);
}

/* Appends rows to a growing array. */
static void append_rows(int64_t **rows, int64_t *count, int64_t *capacity, const int64_t *more,
                        int64_t n) {
  if (*count + n > *capacity) {
    *capacity = 2 * (*count + n);
    int64_t *grown = lcfm_malloc((size_t)*capacity * sizeof *grown);
    if (*count) memcpy(grown, *rows, (size_t)*count * sizeof *grown);
    free(*rows);
    *rows = grown;
  }
  memcpy(*rows + *count, more, (size_t)n * sizeof *more);
  *count += n;
}

/* Through /index: the by_field groups of the selected keys (no scan of the objects). */
static int64_t *rows_by_index(hid_t file, const lcfm_fields *f, int64_t *count) {
  int64_t fields = length_of(file, "/index/field_key");
  int64_t *key = lcfm_malloc((size_t)(fields + 1) * sizeof *key),
          *start = lcfm_malloc((size_t)(fields + 1) * sizeof *start);
  read_whole(file, "/index/field_key", H5T_NATIVE_INT64, 0, fields, key);
  read_whole(file, "/index/field_start", H5T_NATIVE_INT64, 0, fields + 1, start);
  int64_t *rows = NULL, capacity = 0;
  *count = 0;
  for (int64_t g = 0; g < fields; g++) {
    if (!lcfm_fields_contains(f, key[g])) continue;
    int64_t n = start[g + 1] - start[g];
    int64_t *group = lcfm_malloc((size_t)(n ? n : 1) * sizeof *group);
    read_whole(file, "/index/by_field", H5T_NATIVE_INT64, start[g], n, group);
    append_rows(&rows, count, &capacity, group, n);
    free(group);
  }
  free(key), free(start);
  if (*count) qsort(rows, (size_t)*count, sizeof *rows, compare_rows);
  return rows;
}

/* Without /index: /objects/field read in blocks (memory per block, not per store). */
static int64_t *rows_by_scan(hid_t file, const lcfm_fields *f, int64_t objects, int64_t *count) {
  int32_t *field = lcfm_malloc((size_t)FIELD_SCAN_BLOCK * sizeof *field);
  int64_t *hits = lcfm_malloc((size_t)FIELD_SCAN_BLOCK * sizeof *hits);
  int64_t *rows = NULL, capacity = 0;
  *count = 0;
  for (int64_t first = 0; first < objects; first += FIELD_SCAN_BLOCK) {
    int64_t n = objects - first < FIELD_SCAN_BLOCK ? objects - first : FIELD_SCAN_BLOCK, found = 0;
    read_whole(file, "/objects/field", H5T_NATIVE_INT32, first, n, field);
    for (int64_t i = 0; i < n; i++)
      if (lcfm_fields_contains(f, field[i])) hits[found++] = first + i;
    append_rows(&rows, count, &capacity, hits, found);
  }
  free(field), free(hits);
  return rows;
}

int64_t *lcfm_store_select_fields(hid_t file, const char *path, const lcfm_fields *f,
                                  int64_t *count) {
  hid_t column = LCFM_CHECK_H5(H5Dopen2(file, "/objects/field", H5P_DEFAULT));
  int64_t objects = lcfm_h5_dataset_rows(column);
  H5Dclose(column);
  int64_t *rows = has_link(file, "/index/by_field") && has_link(file, "/index/field_key")
                      ? rows_by_index(file, f, count)
                      : rows_by_scan(file, f, objects, count);
  for (int64_t i = 0; i < *count; i++)
    LCFM_CHECK(
        rows[i] >= 0 && rows[i] < objects && (i == 0 || rows[i] > rows[i - 1]),
        "%s: /index/by_field holds row %lld twice or outside a store of %lld objects (damaged index)",
        path, (long long)rows[i], (long long)objects);
  return rows ? rows : lcfm_malloc(sizeof *rows);
}

int64_t *lcfm_store_index_select_fields(lcfm_store_index *x, const lcfm_fields *f, int64_t *count) {
  int64_t *rows = lcfm_store_select_fields(x->file, x->path, f, count);
  x->bytes += *count * (int64_t)sizeof *rows;
  return rows;
}
