/* verb_probe.c: `lcfm probe JOB.ini`. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/outputs.h"
#include "lcfm/class_probe.h"
#include "lcfm/probe.h"

int lcfm_verb_probe(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  static const char *const sections[] = {"job", "probe", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "probe", "lcfm probe JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  /* task = classification: Astromer 2's few-shot protocol (class_probe.h); else the regression probes. */
  int classification = lcfm_probe_task(job) == LCFM_PROBE_CLASSIFICATION;
  int problems = classification ? lcfm_class_probe_settings_check(job) : lcfm_probe_settings_check(job);
  problems += lcfm_probe_task_check(job);
  problems += lcfm_outputs_check_job(job, "probe");
  int code = lcfm_cli_any_failed(comm, problems) ? LCFM_EXIT_USAGE : lcfm_outputs_claim(comm, job, "probe");
  if (code) {
    lcfm_job_free(job);
    return code;
  }
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "probe", job, options->argc, options->argv);
  code = classification ? lcfm_class_probe_run(comm, job, &prov) : lcfm_probe_run(comm, job, &prov);
  lcfm_job_free(job);
  return code;
}
