/* ingest_job.c: an ingest job from [ingest] inputs to [ingest] output, shared by `lcfm ingest`
 * and the ingest stage of `lcfm run` (see survey.h): the sorted input list (input_list.c), each
 * rank's slice of it balanced by size, and the ingest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/survey.h"

static void print_problem(const char *message) { fprintf(stderr, "%s\n", message); }

/* Collective: this rank's part of the sorted input list (input_list.c; first and total set):
 * the file count on every rank, or -1 after reporting a bad input. */
static int64_t sorted_inputs(MPI_Comm comm, const lcfm_job *job, lcfm_input_slice *list) {
  int64_t missing =
      lcfm_input_list_expand(comm, lcfm_job_settings(job)->ingest.inputs, list, print_problem);
  lcfm_input_list_sort(comm, list);
  if (missing)
    lcfm_job_error(job, "ingest", "inputs", "%lld input(s) name no file (see above)",
                   (long long)missing);
  else if (list->total == 0) lcfm_job_error(job, "ingest", "inputs", "no survey files found");
  if (missing || list->total == 0) {
    lcfm_input_slice_free(list);
    return -1;
  }
  return list->total;
}

int64_t lcfm_ingest_check_inputs(MPI_Comm comm, const lcfm_job *job) {
  lcfm_input_slice list;
  int64_t count = sorted_inputs(comm, job, &list);
  if (count >= 0) lcfm_input_slice_free(&list);
  return count;
}

/* Collective: the first file of every rank's byte-balanced slice (starts[ranks] = the file
 * count), from each rank's contiguous part of the sorted list (`parts`, with the sizes the
 * expansion found): the prefix sums of the sizes (MPI_Exscan) place every file; a file belongs to
 * the rank whose share of the bytes its first byte falls in. */
static void balance_by_size(MPI_Comm comm, const lcfm_input_slice *parts, int64_t *starts) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t count = parts->count, total_files = parts->total;
  const int64_t *sizes = parts->sizes;
  int64_t mine = 0, before = 0, total = 0;
  for (int64_t i = 0; i < count; i++) mine += sizes[i];
  LCFM_CHECK_MPI(MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) before = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &total, 1, MPI_INT64_T, MPI_SUM, comm));
  for (int r = 0; r <= ranks; r++) starts[r] = r == ranks ? total_files : INT64_MAX;
  if (total == 0) {
    int64_t ignored;
    for (int r = 0; r < ranks; r++) lcfm_store_shard(total_files, r, ranks, &starts[r], &ignored);
    return;
  }
  for (int64_t i = 0, byte = before; i < count; byte += sizes[i], i++) {
    /* the rank whose share [r * total / ranks, (r + 1) * total / ranks) holds this file's first byte */
    int owner = (int)((double)byte / (double)total * ranks);
    if (owner >= ranks) owner = ranks - 1;
    if (starts[owner] == INT64_MAX) starts[owner] = parts->first + i;
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, starts, ranks, MPI_INT64_T, MPI_MIN, comm));
  starts[0] = 0;
  for (int r = ranks - 1; r > 0; r--)
    if (starts[r] == INT64_MAX || starts[r] > starts[r + 1])
      starts[r] = starts[r + 1]; /* an empty share */
}

int64_t lcfm_ingest_slice_inputs(MPI_Comm comm, const lcfm_job *job, lcfm_input_slice *slice) {
  int ranks;
  MPI_Comm_size(comm, &ranks);
  int64_t total = sorted_inputs(comm, job, slice);
  if (total < 0) return -1;
  int64_t *starts = lcfm_malloc((size_t)(ranks + 1) * sizeof *starts);
  balance_by_size(comm, slice, starts);
  lcfm_input_list_move(comm, slice, starts);
  free(starts);
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
