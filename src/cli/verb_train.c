/* verb_train.c: `lcfm train JOB.ini`. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/outputs.h"
#include "lcfm/astromer.h"
#include "lcfm/models.h"
#include "lcfm/trainer.h"

int lcfm_verb_train(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  static const char *const sections[] = {"job", "model", "train", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "train", "lcfm train JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  int problems = lcfm_model_config_problems(job) + lcfm_outputs_check_job(job, "train"); /* any model kind */
  int code = lcfm_cli_any_failed(comm, problems) ? LCFM_EXIT_USAGE : lcfm_outputs_claim(comm, job, "train");
  if (code) {
    lcfm_job_free(job);
    return code;
  }
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "train", job, options->argc, options->argv);
  code = lcfm_train_run(comm, job, &prov);
  lcfm_job_free(job);
  return code;
}
