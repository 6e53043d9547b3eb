/* ingest_job.c: an ingest job from [ingest] inputs to [ingest] output, shared by `lcfm ingest`
 * and the ingest stage of `lcfm run` (see survey.h): expanding the inputs, handing each rank its
 * slice of the list balanced by size, and ingesting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/survey.h"

static void print_problem(const char *message) { fprintf(stderr, "%s\n", message); }

/* Collective: rank 0 expands the inputs into *paths and *offsets (rank 0 only); the file count,
 * or -1 after reporting a bad input, on every rank. */
static int64_t expand_on_root(MPI_Comm comm, const lcfm_job *job, char **paths, int64_t **offsets) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int64_t count = 0;
  *paths = NULL, *offsets = NULL;
  if (rank == 0) {
    int64_t missing = 0;
    count = lcfm_expand_inputs(lcfm_job_settings(job)->ingest.inputs, paths, offsets, &missing,
                               print_problem);
    if (missing) {
      lcfm_job_error(job, "ingest", "inputs", "%lld input(s) name no file (see above)",
                     (long long)missing);
      count = -1;
    } else if (count == 0) {
      lcfm_job_error(job, "ingest", "inputs", "no survey files found");
      count = -1;
    }
  }
  LCFM_CHECK_MPI(MPI_Bcast(&count, 1, MPI_INT64_T, 0, comm));
  if (count < 0) {
    free(*paths), free(*offsets);
    *paths = NULL, *offsets = NULL;
  }
  return count;
}

int64_t lcfm_ingest_check_inputs(MPI_Comm comm, const lcfm_job *job) {
  char *paths;
  int64_t *offsets;
  int64_t count = expand_on_root(comm, job, &paths, &offsets);
  free(paths), free(offsets);
  return count;
}

/* MPI 3 counts are int: a message of more bytes goes in pieces. */
enum { PIECE_BYTES = 1 << 30 };

/* Collective: rank 0 sends rank r files [starts[r], starts[r + 1]) of its list (paths, offsets:
 * rank 0's whole list, `total` files); every rank fills *slice. Point to point in pieces, so
 * byte counts and offsets stay int64 (Open MPI 4 has no MPI_Scatterv_c). */
static void scatter_slices(MPI_Comm comm, const char *paths, const int64_t *offsets, int64_t total,
                           const int64_t *starts, lcfm_input_slice *slice) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  slice->first = starts[rank], slice->count = starts[rank + 1] - starts[rank], slice->total = total;
  int64_t bytes = 0, *all_bytes = NULL;
  if (rank == 0) {
    all_bytes = lcfm_malloc((size_t)ranks * sizeof *all_bytes);
    for (int r = 0; r < ranks; r++) all_bytes[r] = offsets[starts[r + 1]] - offsets[starts[r]];
  }
  LCFM_CHECK_MPI(MPI_Scatter(all_bytes, 1, MPI_INT64_T, &bytes, 1, MPI_INT64_T, 0, comm));
  slice->paths = lcfm_malloc((size_t)bytes + 1);
  if (rank == 0) {
    memcpy(slice->paths, paths + offsets[starts[0]], (size_t)bytes);
    for (int r = 1; r < ranks; r++)
      for (int64_t at = 0; at < all_bytes[r]; at += PIECE_BYTES) {
        int64_t n = all_bytes[r] - at < PIECE_BYTES ? all_bytes[r] - at : PIECE_BYTES;
        LCFM_CHECK_MPI(MPI_Send(paths + offsets[starts[r]] + at, (int)n, MPI_CHAR, r, 0, comm));
      }
  } else {
    for (int64_t at = 0; at < bytes; at += PIECE_BYTES) {
      int64_t n = bytes - at < PIECE_BYTES ? bytes - at : PIECE_BYTES;
      LCFM_CHECK_MPI(MPI_Recv(slice->paths + at, (int)n, MPI_CHAR, 0, 0, comm, MPI_STATUS_IGNORE));
    }
  }
  free(all_bytes);
  slice->offsets = lcfm_malloc((size_t)(slice->count + 1) * sizeof *slice->offsets);
  int64_t file = 0;
  for (int64_t at = 0; at < bytes && file < slice->count; file++) {
    slice->offsets[file] = at;
    at += (int64_t)strlen(slice->paths + at) + 1;
  }
  LCFM_CHECK(file == slice->count, "internal: received %lld of %lld file names", (long long)file,
             (long long)slice->count);
  slice->offsets[slice->count] = bytes;
}

/* Collective: the first file of every rank's byte-balanced slice (starts[ranks] = the file
 * count), from a count-balanced slice per rank: each rank stats its files, and the prefix sums
 * of the sizes (MPI_Exscan) place every file; a file belongs to the rank whose share of the
 * bytes its first byte falls in. An unreadable file counts as empty (its reader rejects it). */
static void balance_by_size(MPI_Comm comm, const lcfm_input_slice *by_count, int64_t *starts) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t count = by_count->count, total_files = by_count->total;
  int64_t *sizes = lcfm_malloc((size_t)(count ? count : 1) * sizeof *sizes), mine = 0, before = 0,
          total = 0;
  for (int64_t i = 0; i < count; i++) {
    struct stat st;
    sizes[i] = stat(by_count->paths + by_count->offsets[i], &st) ? 0 : (int64_t)st.st_size;
    mine += sizes[i];
  }
  LCFM_CHECK_MPI(MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) before = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &total, 1, MPI_INT64_T, MPI_SUM, comm));
  for (int r = 0; r <= ranks; r++) starts[r] = r == ranks ? total_files : INT64_MAX;
  if (total == 0) {
    int64_t ignored;
    for (int r = 0; r < ranks; r++) lcfm_store_shard(total_files, r, ranks, &starts[r], &ignored);
    free(sizes);
    return;
  }
  for (int64_t i = 0, byte = before; i < count; byte += sizes[i], i++) {
    /* the rank whose share [r * total / ranks, (r + 1) * total / ranks) holds this file's first byte */
    int owner = (int)((double)byte / (double)total * ranks);
    if (owner >= ranks) owner = ranks - 1;
    if (starts[owner] == INT64_MAX) starts[owner] = by_count->first + i;
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, starts, ranks, MPI_INT64_T, MPI_MIN, comm));
  starts[0] = 0;
  for (int r = ranks - 1; r > 0; r--)
    if (starts[r] == INT64_MAX || starts[r] > starts[r + 1])
      starts[r] = starts[r + 1]; /* an empty share */
  free(sizes);
}

int64_t lcfm_ingest_slice_inputs(MPI_Comm comm, const lcfm_job *job, lcfm_input_slice *slice) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  memset(slice, 0, sizeof *slice);
  char *paths;
  int64_t *offsets;
  int64_t total = expand_on_root(comm, job, &paths, &offsets);
  if (total < 0) return -1;
  int64_t *starts = lcfm_malloc((size_t)(ranks + 1) * sizeof *starts), ignored;
  for (int r = 0; r < ranks; r++) lcfm_store_shard(total, r, ranks, &starts[r], &ignored);
  starts[ranks] = total;
  lcfm_input_slice by_count;
  scatter_slices(comm, paths, offsets, total, starts, &by_count);
  balance_by_size(comm, &by_count, starts);
  lcfm_input_slice_free(&by_count);
  scatter_slices(comm, paths, offsets, total, starts, slice);
  free(paths), free(offsets), free(starts);
  return total;
}

int lcfm_ingest_job_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  lcfm_ingest_options ingest;
  lcfm_store_options store;
  int problems = lcfm_ingest_options_from_job(&ingest, job);
  problems += lcfm_store_options_from_job(&store, job);
  if (problems) return LCFM_EXIT_USAGE;
  const char *output = lcfm_job_settings(job)->ingest.output;
  int appending = store.mode == LCFM_STORE_APPEND;
  if (appending && access(output, F_OK)) {
    lcfm_job_error(job, "ingest", "output", "[store] mode = append, but %s does not exist", output);
    return LCFM_EXIT_USAGE;
  }
  lcfm_input_slice slice;
  int64_t files = lcfm_ingest_slice_inputs(comm, job, &slice);
  if (files < 0) return LCFM_EXIT_USAGE;
  lcfm_log("ingest %s: %lld files on %d ranks -> %s (%s; flux %s, quality mask %d)",
           lcfm_job_path(job), (long long)files, ranks, output, appending ? "append" : "create",
           ingest.flux == LCFM_FLUX_SAP ? "SAP" : "PDCSAP", ingest.quality_mask);
  int64_t objects = lcfm_ingest_store(comm, &ingest, &slice, output, prov, &store);
  lcfm_input_slice_free(&slice);
  if (objects < 0 || (objects == 0 && !appending)) {
    if (rank == 0)
      fprintf(stderr, "lcfm ingest: nothing could be %s from %lld files; %s not written\n",
              objects < 0 ? "read" : "stored", (long long)files, output);
    return LCFM_EXIT_RUNTIME;
  }
  if (objects == 0)
    lcfm_log("nothing new: every light curve read is already in %s (unchanged)", output);
  else lcfm_log("%s %s", appending ? "appended to" : "wrote", output);
  return LCFM_EXIT_OK;
}
