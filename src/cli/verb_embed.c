/* verb_embed.c: `lcfm embed JOB.ini`. */
#include "cli.h"
#include "lcfm/model_kind.h"
#include "lcfm/embed.h"
#include "lcfm/models.h"

int lcfm_verb_embed(const lcfm_cli_options *options) {
  static const char *const sections[] = {"job", "model", "embed", NULL};
  /* Any model kind: lcfm_embed_run picks it from [model] kind. */
  static const lcfm_cli_job_verb embed = {"embed", sections, lcfm_model_config_problems,
                                          lcfm_embed_run};
  return lcfm_cli_run_job_verb(options, &embed);
}
