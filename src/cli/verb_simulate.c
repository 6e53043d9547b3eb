/* verb_simulate.c: `lcfm simulate JOB.ini`. */
#include <stdio.h>

#include "cli.h"
#include "lcfm/outputs.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"

/* The job's simulation: the causal paper's star x instrument model, or ([simulate] mode =
 * labelled) classes of variable stars (sim.h, Labelled mode). */
typedef struct {
  int labelled;
  lcfm_sim_config causal;
  lcfm_labelled_config classes;
} simulation;

static int read_simulation(simulation *s, const lcfm_job *job) {
  s->labelled = lcfm_sim_mode_labelled(job);
  return s->labelled ? lcfm_labelled_config_from_job(&s->classes, job)
                     : lcfm_sim_config_from_job(&s->causal, job);
}

static void log_simulation(const simulation *s, const lcfm_job *job, int ranks,
                           const char *output) {
  const lcfm_labelled_config *c = &s->classes;
  const lcfm_sim_config *m = &s->causal;
  if (s->labelled)
    lcfm_log(
        "simulate %s (labelled): %lld stars x %lld curves, %lld classes, %lld-%lld observations in %lld "
        "seasons, seed %llu, %d ranks -> %s",
        lcfm_job_path(job), (long long)c->base.stars, (long long)c->base.curves_per_star,
        (long long)c->classes, (long long)c->min_points, (long long)c->max_points,
        (long long)c->seasons, (unsigned long long)c->base.seed, ranks, output);
  else
    lcfm_log(
        "simulate %s: %lld stars x %lld curves = %lld light curves of T = %lld, M = %lld instruments, "
        "J = %lld, K = %lld, alpha = %g, lambda = %g, seed %llu, %d ranks -> %s",
        lcfm_job_path(job), (long long)m->stars, (long long)m->curves_per_star,
        (long long)lcfm_sim_object_count(m), (long long)m->T, (long long)m->instruments,
        (long long)m->terms, (long long)m->K, m->alpha, m->lambda, (unsigned long long)m->seed,
        ranks, output);
}

int lcfm_verb_simulate(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int ranks;
  MPI_Comm_size(comm, &ranks);
  static const char *const sections[] = {"job", "simulate", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "simulate", "lcfm simulate JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  simulation s;
  int code =
      lcfm_cli_any_failed(comm, lcfm_outputs_check_job(job, "simulate") + read_simulation(&s, job))
          ? LCFM_EXIT_USAGE
          : lcfm_outputs_claim(comm, job, "simulate");
  if (code) {
    lcfm_job_free(job);
    return code;
  }
  const char *output = lcfm_job_settings(job)->simulate.output;
  log_simulation(&s, job, ranks, output);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "simulate", job, options->argc, options->argv);
  if (s.labelled) lcfm_simulate_labelled_store(comm, &s.classes, output, &prov);
  else lcfm_simulate_store(comm, &s.causal, output, &prov);
  lcfm_log("wrote %s", output);
  lcfm_log_success("simulate");
  lcfm_job_free(job);
  return LCFM_EXIT_OK;
}
