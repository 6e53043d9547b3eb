/* verb_simulate.c: `lcfm simulate JOB.ini`. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/outputs.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"

/* [simulate] mode = labelled: classes of variable stars (sim.h, Labelled mode). */
static int simulate_labelled(MPI_Comm comm, const lcfm_job *job, const lcfm_cli_options *options) {
  lcfm_labelled_config c;
  if (lcfm_cli_any_failed(comm, lcfm_labelled_config_from_job(&c, job))) return LCFM_EXIT_USAGE;
  const char *output = lcfm_job_settings(job)->simulate.output;
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_log("simulate %s (labelled): %lld stars x %lld curves, %lld classes, %lld-%lld observations in %lld seasons, "
           "seed %llu, %d ranks -> %s",
           lcfm_job_path(job), (long long)c.base.stars, (long long)c.base.curves_per_star, (long long)c.classes,
           (long long)c.min_points, (long long)c.max_points, (long long)c.seasons, (unsigned long long)c.base.seed,
           ranks, output);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "simulate", job, options->argc, options->argv);
  lcfm_simulate_labelled_store(comm, &c, output, &prov);
  lcfm_log("wrote %s", output);
  lcfm_log_success("simulate");
  return LCFM_EXIT_OK;
}

int lcfm_verb_simulate(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int ranks;
  MPI_Comm_size(comm, &ranks);
  static const char *const sections[] = {"job", "simulate", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "simulate", "lcfm simulate JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  int code = lcfm_cli_any_failed(comm, lcfm_outputs_check_job(job, "simulate"))
                 ? LCFM_EXIT_USAGE
                 : lcfm_outputs_claim(comm, job, "simulate");
  if (code) {
    lcfm_job_free(job);
    return code;
  }
  if (lcfm_sim_mode_labelled(job)) {
    code = simulate_labelled(comm, job, options);
    lcfm_job_free(job);
    return code;
  }
  lcfm_sim_config config;
  lcfm_labelled_config checked; /* also checks [simulate] mode */
  int problems = lcfm_labelled_config_from_job(&checked, job);
  if (lcfm_cli_any_failed(comm, problems)) {
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  lcfm_sim_config_from_job(&config, job);
  const char *output = lcfm_job_settings(job)->simulate.output;
  lcfm_log("simulate %s: %lld stars x %lld curves = %lld light curves of T = %lld, M = %lld instruments, "
           "J = %lld, K = %lld, alpha = %g, lambda = %g, seed %llu, %d ranks -> %s",
           lcfm_job_path(job), (long long)config.stars, (long long)config.curves_per_star,
           (long long)lcfm_sim_object_count(&config), (long long)config.T, (long long)config.instruments,
           (long long)config.terms, (long long)config.K, config.alpha, config.lambda, (unsigned long long)config.seed,
           ranks, output);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "simulate", job, options->argc, options->argv);
  lcfm_simulate_store(comm, &config, output, &prov);
  lcfm_log("wrote %s", output);
  lcfm_log_success("simulate");
  lcfm_job_free(job);
  return LCFM_EXIT_OK;
}
