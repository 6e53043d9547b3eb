/* verb_ingest.c: `lcfm ingest JOB.ini`: TESS, Kepler/K2 and MACHO files into a store. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/log.h"
#include "lcfm/survey.h"

static int ingest_problems(const lcfm_job *job) {
  lcfm_ingest_options ingest;
  return lcfm_ingest_options_from_job(&ingest, job);
}

int lcfm_verb_ingest(const lcfm_cli_options *options) {
  static const char *const sections[] = {"job", "ingest", NULL};
  static const lcfm_cli_job_verb ingest = {"ingest", sections, ingest_problems,
                                           lcfm_ingest_job_run};
  int code = lcfm_cli_run_job_verb(options, &ingest);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (code == LCFM_EXIT_OK) lcfm_log_success("ingest");
  else if (code == LCFM_EXIT_RUNTIME && rank == 0) fprintf(stderr, "FAILED\n");
  return code;
}
