/* model_kind.c: the table of model kinds (see model_kind.h). */
#include <stdio.h>
#include <string.h>

#include "lcfm/astromer.h"
#include "lcfm/astromer_train.h"
#include "lcfm/embed.h"
#include "lcfm/model_kind.h"
#include "lcfm/models.h"
#include "lcfm/trainer.h"

static int causal_config_problems(const lcfm_job *job) {
  lcfm_causal_config c;
  return lcfm_causal_config_from_job(&c, job);
}

static int astromer2_config_problems(const lcfm_job *job) {
  lcfm_astromer2_config c;
  return lcfm_astromer2_config_from_job(&c, job);
}

/* causal and baseline are one model with two latents or one (models.h). */
static const lcfm_model_kind kinds[] = {
    {"causal", causal_config_problems, lcfm_causal_train_run, lcfm_causal_embed_run, 1},
    {"baseline", causal_config_problems, lcfm_causal_train_run, lcfm_causal_embed_run, 1},
    {"astromer2", astromer2_config_problems, lcfm_astromer2_train_run, lcfm_astromer2_embed_run, 0},
};
enum { KINDS = sizeof kinds / sizeof kinds[0] };

/* [model] kind is one of the key's choices (job_keys.h), checked when the job loads: each of
 * them has its entry here. */
const lcfm_model_kind *lcfm_model_kind_of(const lcfm_job *job) {
  const char *name = lcfm_job_settings(job)->model.kind;
  for (int k = 0; k < KINDS; k++)
    if (!strcmp(name, kinds[k].name)) return &kinds[k];
  LCFM_FATAL("internal: [model] kind %s has no entry in the model-kind table", name);
}

int lcfm_model_config_problems(const lcfm_job *job) {
  return lcfm_model_kind_of(job)->config_problems(job);
}
