/* verb_train.c: `lcfm train JOB.ini`. */
#include "cli.h"
#include "lcfm/model_kind.h"
#include "lcfm/models.h"
#include "lcfm/trainer.h"

int lcfm_verb_train(const lcfm_cli_options *options) {
  static const char *const sections[] = {"job", "model", "train", NULL};
  /* Any model kind: lcfm_train_run picks it from [model] kind. */
  static const lcfm_cli_job_verb train = {"train", sections, lcfm_model_config_problems,
                                          lcfm_train_run};
  return lcfm_cli_run_job_verb(options, &train);
}
