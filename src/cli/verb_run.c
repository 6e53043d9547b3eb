/* verb_run.c: `lcfm run JOB.ini`: the job's stages in order, done ones skipped (pipeline.h). */
#include <stdio.h>

#include "cli.h"
#include "lcfm/outputs.h"
#include "lcfm/pipeline.h"

int lcfm_verb_run(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank;
  MPI_Comm_rank(comm, &rank);
  static const char *const sections[] = {"job", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "run", "lcfm run JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  if (lcfm_job_sweep_count(job) > 0) {
    if (rank == 0)
      fprintf(
          stderr,
          "%s: [sweep] %s: this job is a grid of %lld jobs: run its points with lcfm sweep --task I\n",
          lcfm_job_path(job), lcfm_job_sweep_key(job, 0), (long long)lcfm_sweep_point_count(job));
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  int dry_run = lcfm_cli_flag(options, "--dry-run", NULL);
  lcfm_pipeline *pipeline = lcfm_cli_any_failed(comm, lcfm_outputs_check_job(job, "run"))
                                ? NULL
                                : lcfm_pipeline_plan(comm, job);
  if (!pipeline) {
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  int code = dry_run ? LCFM_EXIT_OK : lcfm_outputs_claim(comm, job, "run");
  if (!code) code = lcfm_pipeline_run(pipeline, comm, options->argc, options->argv, dry_run);
  lcfm_pipeline_free(pipeline);
  lcfm_job_free(job);
  return code;
}
