/* verb_embed.c: `lcfm embed JOB.ini`. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/outputs.h"
#include "lcfm/astromer.h"
#include "lcfm/embed.h"
#include "lcfm/models.h"

int lcfm_verb_embed(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  static const char *const sections[] = {"job", "model", "embed", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "embed", "lcfm embed JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  int problems = lcfm_model_config_problems(job) + lcfm_outputs_check_job(job, "embed"); /* any model kind */
  int code = lcfm_cli_any_failed(comm, problems) ? LCFM_EXIT_USAGE : lcfm_outputs_claim(comm, job, "embed");
  if (code) {
    lcfm_job_free(job);
    return code;
  }
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "embed", job, options->argc, options->argv);
  code = lcfm_embed_run(comm, job, &prov);
  lcfm_job_free(job);
  return code;
}
