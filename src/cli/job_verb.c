/* job_verb.c: the shape every verb that writes its outputs from one job shares (cli.h). */
#include <stdio.h>

#include "cli.h"
#include "lcfm/outputs.h"

int lcfm_cli_run_job_verb(const lcfm_cli_options *options, const lcfm_cli_job_verb *verb) {
  MPI_Comm comm = MPI_COMM_WORLD;
  char usage[64];
  snprintf(usage, sizeof usage, "lcfm %s JOB.ini", verb->name);
  lcfm_job *job = lcfm_cli_load_job(options, verb->name, usage, verb->sections);
  if (!job) return LCFM_EXIT_USAGE;
  int problems = verb->problems(job) + lcfm_outputs_check_job(job, verb->name);
  int code = lcfm_cli_any_failed(comm, problems) ? LCFM_EXIT_USAGE
                                                 : lcfm_outputs_claim(comm, job, verb->name);
  if (code == LCFM_EXIT_OK) {
    lcfm_provenance prov;
    lcfm_provenance_init(&prov, comm, verb->name, job, options->argc, options->argv);
    code = verb->run(comm, job, &prov);
  }
  lcfm_job_free(job);
  return code;
}
