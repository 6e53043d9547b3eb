/* ingest_job.c: an ingest job from [ingest] inputs to [ingest] output, shared by `lcfm ingest`
 * and the ingest stage of `lcfm run` (see survey.h). */
#include <stdio.h>
#include <stdlib.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/survey.h"

static void print_problem(const char *message) { fprintf(stderr, "%s\n", message); }

int64_t lcfm_ingest_share_inputs(MPI_Comm comm, const lcfm_job *job, char **paths, int64_t **offsets) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int64_t header[2] = {0, 0}; /* file count (-1: bad inputs), bytes of names */
  if (rank == 0) {
    int64_t missing = 0;
    header[0] = lcfm_expand_inputs(lcfm_job_string(job, "ingest", "inputs"), paths, offsets, &missing, print_problem);
    if (missing) {
      lcfm_job_error(job, "ingest", "inputs", "%lld input(s) name no file (see above)", (long long)missing);
      header[0] = -1;
    } else if (header[0] == 0) {
      lcfm_job_error(job, "ingest", "inputs", "no survey files found");
      header[0] = -1;
    }
    header[1] = header[0] > 0 ? (*offsets)[header[0]] : 0;
    if (header[0] < 0) {
      free(*paths);
      free(*offsets);
      *paths = NULL;
      *offsets = NULL;
    }
  }
  LCFM_CHECK_MPI(MPI_Bcast(header, 2, MPI_INT64_T, 0, comm));
  if (header[0] < 0) return -1;
  if (rank != 0) {
    *paths = lcfm_malloc((size_t)header[1] + 1);
    *offsets = lcfm_malloc((size_t)(header[0] + 1) * sizeof **offsets);
  }
  LCFM_CHECK_MPI(MPI_Bcast(*offsets, (int)(header[0] + 1), MPI_INT64_T, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(*paths, (int)header[1], MPI_CHAR, 0, comm));
  return header[0];
}

int lcfm_ingest_job_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  lcfm_ingest_options ingest;
  if (lcfm_ingest_options_from_job(&ingest, job)) return LCFM_EXIT_USAGE;
  char *paths = NULL;
  int64_t *offsets = NULL;
  int64_t files = lcfm_ingest_share_inputs(comm, job, &paths, &offsets);
  if (files < 0) return LCFM_EXIT_USAGE;
  const char *output = lcfm_job_string(job, "ingest", "output");
  lcfm_log("ingest %s: %lld files on %d ranks -> %s (flux %s, quality mask %d)", lcfm_job_path(job),
           (long long)files, ranks, output, ingest.flux == LCFM_FLUX_SAP ? "SAP" : "PDCSAP", ingest.quality_mask);
  int64_t objects = lcfm_ingest_store(comm, &ingest, paths, offsets, files, output, prov);
  free(paths);
  free(offsets);
  if (objects == 0) {
    if (rank == 0) fprintf(stderr, "lcfm ingest: nothing could be read from %lld files; %s not written\n",
                           (long long)files, output);
    return LCFM_EXIT_RUNTIME;
  }
  lcfm_log("wrote %s", output);
  return LCFM_EXIT_OK;
}
