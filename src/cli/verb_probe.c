/* verb_probe.c: `lcfm probe JOB.ini`. */
#include "cli.h"
#include "lcfm/class_probe.h"
#include "lcfm/probe.h"

/* task = classification: Astromer 2's few-shot protocol (class_probe.h); else the regression
 * probes. */
static int is_classification(const lcfm_job *job) {
  return lcfm_probe_task(job) == LCFM_PROBE_CLASSIFICATION;
}

static int probe_problems(const lcfm_job *job) {
  return is_classification(job) ? lcfm_class_probe_settings_check(job)
                                : lcfm_probe_settings_check(job);
}

static int probe_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  return is_classification(job) ? lcfm_class_probe_run(comm, job, prov)
                                : lcfm_probe_run(comm, job, prov);
}

int lcfm_verb_probe(const lcfm_cli_options *options) {
  static const char *const sections[] = {"job", "probe", NULL};
  static const lcfm_cli_job_verb probe = {"probe", sections, probe_problems, probe_run};
  return lcfm_cli_run_job_verb(options, &probe);
}
