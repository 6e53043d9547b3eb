/* verb_embed.c: `lcfm embed JOB.ini`. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/astromer.h"
#include "lcfm/embed.h"
#include "lcfm/models.h"

int lcfm_verb_embed(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (!options->positional) {
    if (rank == 0) fprintf(stderr, "lcfm embed: missing the job file (usage: lcfm embed JOB.ini)\n");
    return LCFM_EXIT_USAGE;
  }
  static const char *const sections[] = {"job", "model", "embed", NULL};
  lcfm_job *job = lcfm_job_load(comm, options->positional, options->override_count, options->overrides, sections);
  if (!job) return LCFM_EXIT_USAGE;
  if (lcfm_cli_any_failed(comm, lcfm_model_config_problems(job))) { /* causal, baseline or astromer2 */
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "embed", job, options->argc, options->argv);
  int code = lcfm_embed_run(comm, job, &prov);
  lcfm_job_free(job);
  return code;
}
