/* job_keys.c: the key table of job.h, expanded from the X-macro lists of job_keys.h, each entry
 * with the place of its field in lcfm_settings. */
#include "lcfm/job.h"

#define LCFM_KEY_SPEC(section, key, type, default_value, min, max, choices, doc) \
  {#section,      #key, LCFM_KEY_##type, \
   default_value, min,  max, \
   choices,       doc,  offsetof(lcfm_settings, section.key)},
#define LCFM_SECTION_SPECS(section, SECTION) LCFM_KEYS_##SECTION(LCFM_KEY_SPEC)

const lcfm_key_spec lcfm_job_keys[] = {LCFM_JOB_SECTIONS(LCFM_SECTION_SPECS)};

const int lcfm_job_key_count = (int)(sizeof lcfm_job_keys / sizeof lcfm_job_keys[0]);
