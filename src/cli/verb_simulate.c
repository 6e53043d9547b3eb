/* verb_simulate.c: `lcfm simulate JOB.ini`. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"

int lcfm_verb_simulate(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  if (!options->positional) {
    if (rank == 0) fprintf(stderr, "lcfm simulate: missing the job file (usage: lcfm simulate JOB.ini)\n");
    return LCFM_EXIT_USAGE;
  }
  static const char *const sections[] = {"job", "simulate", NULL};
  lcfm_job *job = lcfm_job_load(comm, options->positional, options->override_count, options->overrides, sections);
  if (!job) return LCFM_EXIT_USAGE;
  lcfm_sim_config config;
  int problems = lcfm_sim_config_from_job(&config, job);
  if (lcfm_cli_any_failed(comm, problems)) {
    lcfm_job_free(job);
    return LCFM_EXIT_USAGE;
  }
  const char *output = lcfm_job_string(job, "simulate", "output");
  lcfm_log("simulate %s: %lld stars x %lld curves = %lld light curves of T = %lld, M = %lld instruments, "
           "J = %lld, K = %lld, alpha = %g, lambda = %g, seed %llu, %d ranks -> %s",
           lcfm_job_path(job), (long long)config.stars, (long long)config.curves_per_star,
           (long long)lcfm_sim_object_count(&config), (long long)config.T, (long long)config.instruments,
           (long long)config.terms, (long long)config.K, config.alpha, config.lambda,
           (unsigned long long)config.seed, ranks, output);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "simulate", job, options->argc, options->argv);
  lcfm_simulate_store(comm, &config, output, &prov);
  lcfm_log("wrote %s", output);
  lcfm_log_success("simulate");
  lcfm_job_free(job);
  return LCFM_EXIT_OK;
}
