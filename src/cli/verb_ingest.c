/* verb_ingest.c: `lcfm ingest JOB.ini`: TESS, Kepler/K2 and MACHO files into a store. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/log.h"
#include "lcfm/outputs.h"
#include "lcfm/survey.h"

int lcfm_verb_ingest(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank;
  MPI_Comm_rank(comm, &rank);
  static const char *const sections[] = {"job", "ingest", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "ingest", "lcfm ingest JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  lcfm_ingest_options ingest;
  if (lcfm_cli_any_failed(comm, lcfm_ingest_options_from_job(&ingest, job) + lcfm_outputs_check_job(job, "ingest"))) {
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  int code = lcfm_outputs_claim(comm, job, "ingest");
  if (code == LCFM_EXIT_OK) {
    lcfm_provenance prov;
    lcfm_provenance_init(&prov, comm, "ingest", job, options->argc, options->argv);
    code = lcfm_ingest_job_run(comm, job, &prov);
  }
  if (code == LCFM_EXIT_OK) lcfm_log_success("ingest");
  else if (code == LCFM_EXIT_RUNTIME && rank == 0) fprintf(stderr, "FAILED\n");
  lcfm_job_free(job);
  return code;
}
