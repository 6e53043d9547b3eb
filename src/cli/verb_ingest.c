/* verb_ingest.c: `lcfm ingest JOB.ini`: TESS, Kepler/K2 and MACHO files into a store. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "lcfm/outputs.h"
#include "lcfm/log.h"
#include "lcfm/survey.h"

static void print_problem(const char *message) { fprintf(stderr, "%s\n", message); }

/* Rank 0 expands [ingest] inputs; every rank receives the sorted list. Returns -1 if an input
 * names nothing (reported as a job-file problem). */
static int64_t share_inputs(MPI_Comm comm, const lcfm_job *job, char **paths, int64_t **offsets) {
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

int lcfm_verb_ingest(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  static const char *const sections[] = {"job", "ingest", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "ingest", "lcfm ingest JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  lcfm_ingest_options ingest;
  if (lcfm_cli_any_failed(comm, lcfm_ingest_options_from_job(&ingest, job) + lcfm_outputs_check_job(job, "ingest"))) {
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  char *paths = NULL;
  int64_t *offsets = NULL;
  int64_t files = share_inputs(comm, job, &paths, &offsets);
  if (files < 0) {
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  if (lcfm_outputs_claim(comm, job, "ingest")) {
    free(paths);
    free(offsets);
    lcfm_job_free(job);
    return LCFM_EXIT_RUNTIME;
  }
  const char *output = lcfm_job_string(job, "ingest", "output");
  lcfm_log("ingest %s: %lld files on %d ranks -> %s (flux %s, quality mask %d)", lcfm_job_path(job),
           (long long)files, ranks, output, ingest.flux == LCFM_FLUX_SAP ? "SAP" : "PDCSAP", ingest.quality_mask);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "ingest", job, options->argc, options->argv);
  int64_t objects = lcfm_ingest_store(comm, &ingest, paths, offsets, files, output, &prov);
  free(paths);
  free(offsets);
  int code = LCFM_EXIT_OK;
  if (objects == 0) {
    if (rank == 0) fprintf(stderr, "lcfm ingest: nothing could be read from %lld files; %s not written\nFAILED\n",
                           (long long)files, output);
    code = LCFM_EXIT_RUNTIME;
  } else {
    lcfm_log("wrote %s", output);
    lcfm_log_success("ingest");
  }
  lcfm_job_free(job);
  return code;
}
