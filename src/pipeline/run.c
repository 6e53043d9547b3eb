/* run.c: running a planned pipeline stage by stage, skipping what is done (see pipeline.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/class_probe.h"
#include "lcfm/embed.h"
#include "lcfm/log.h"
#include "lcfm/probe.h"
#include "lcfm/sim.h"
#include "lcfm/survey.h"
#include "lcfm/train.h"
#include "lcfm/trainer.h"
#include "pipeline_internal.h"

static int run_simulate(MPI_Comm comm, const pipeline_stage *s, const lcfm_provenance *prov) {
  if (lcfm_sim_mode_labelled(s->job)) {
    lcfm_labelled_config labelled;
    if (lcfm_labelled_config_from_job(&labelled, s->job)) return LCFM_EXIT_USAGE;
    lcfm_log("simulate (labelled): %lld stars x %lld curves, %lld classes -> %s",
             (long long)labelled.base.stars, (long long)labelled.base.curves_per_star,
             (long long)labelled.classes, s->output);
    lcfm_simulate_labelled_store(comm, &labelled, s->output, prov);
    lcfm_log("wrote %s", s->output);
    return LCFM_EXIT_OK;
  }
  lcfm_sim_config config;
  if (lcfm_sim_config_from_job(&config, s->job)) return LCFM_EXIT_USAGE;
  lcfm_log("simulate: %lld light curves of T = %lld, M = %lld, K = %lld, alpha = %g -> %s",
           (long long)lcfm_sim_object_count(&config), (long long)config.T,
           (long long)config.instruments, (long long)config.K, config.alpha, s->output);
  lcfm_simulate_store(comm, &config, s->output, prov);
  lcfm_log("wrote %s", s->output);
  return LCFM_EXIT_OK;
}

/* Training continues a checkpoint this job made and starts again from any other. */
static int run_train(MPI_Comm comm, const pipeline_stage *s, int resumable, int argc, char **argv) {
  char *resume = resumable ? "train.resume=true" : "train.resume=false";
  lcfm_job *job =
      lcfm_job_load_text(comm, lcfm_job_path(s->job), lcfm_job_text(s->job), 1, &resume, NULL);
  if (!job) return LCFM_EXIT_USAGE;
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "train", job, argc, argv);
  int code = lcfm_train_run(comm, job, &prov);
  lcfm_job_free(job);
  return code;
}

static int run_stage(MPI_Comm comm, const lcfm_pipeline *p, const pipeline_stage *s, int resumable,
                     int argc, char **argv) {
  if (s->kind == STAGE_TRAIN || s->kind == STAGE_TRAIN_BASELINE)
    return run_train(comm, s, resumable, argc, argv);
  if (s->kind == STAGE_PLOTS) return pipeline_run_plots(comm, p, s);
  static const char *const verbs[STAGE_KINDS] = {"ingest", "simulate", "train", "train",
                                                 "embed",  "embed",    "probe", "plots"};
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, verbs[s->kind], s->job, argc, argv);
  switch (s->kind) {
  case STAGE_INGEST: return lcfm_ingest_job_run(comm, s->job, &prov);
  case STAGE_SIMULATE: return run_simulate(comm, s, &prov);
  case STAGE_EMBED:
  case STAGE_EMBED_BASELINE: return lcfm_embed_run(comm, s->job, &prov);
  case STAGE_PROBE:
    return lcfm_probe_task(s->job) == LCFM_PROBE_CLASSIFICATION
               ? lcfm_class_probe_run(comm, s->job, &prov)
               : lcfm_probe_run(comm, s->job, &prov);
  default: return LCFM_EXIT_RUNTIME;
  }
}

/* Outputs written in this run: their readers must run again. A training stage rewrites its
 * best checkpoint too. */
typedef struct {
  char paths[2 * STAGE_KINDS][PIPELINE_PATH_MAX];
  char *list[2 * STAGE_KINDS];
  int count;
} rewritten_set;

static void mark_rewritten(rewritten_set *r, const pipeline_stage *s) {
  snprintf(r->paths[r->count], PIPELINE_PATH_MAX, "%s", s->output);
  r->list[r->count] = r->paths[r->count];
  r->count++;
  if (s->kind != STAGE_TRAIN && s->kind != STAGE_TRAIN_BASELINE) return;
  lcfm_checkpoint_best_path(s->output, r->paths[r->count], PIPELINE_PATH_MAX);
  r->list[r->count] = r->paths[r->count];
  r->count++;
}

/* Rank 0 decides whether stage s is done; every rank learns the answer. */
static int decide(MPI_Comm comm, const pipeline_stage *s, const rewritten_set *r, int *resumable,
                  char *why, size_t why_len) {
  int rank, answer[2] = {0, 0};
  MPI_Comm_rank(comm, &rank);
  why[0] = '\0';
  if (rank == 0) answer[0] = pipeline_stage_done(s, r->list, r->count, &answer[1], why, why_len);
  LCFM_CHECK_MPI(MPI_Bcast(answer, 2, MPI_INT, 0, comm));
  *resumable = answer[1];
  return answer[0];
}

static void print_summary(const lcfm_pipeline *p) {
  printf("outputs:\n");
  for (int i = 0; i < p->count; i++)
    printf("  %-15s %s\n", pipeline_stage_name(p->stages[i].kind), p->stages[i].output);
  fflush(stdout);
  if (p->probe_output[0] && pipeline_file_exists(p->probe_output) &&
      lcfm_probe_task(p->job) == LCFM_PROBE_REGRESSION)
    pipeline_print_probe_table(p->probe_output);
  for (int i = 0; i < p->count; i++)
    if (p->stages[i].kind == STAGE_PLOTS) pipeline_print_plots(p->stages[i].output);
}

static const char *action_of(int code) {
  return code == LCFM_EXIT_OK ? "ran" : code == LCFM_EXIT_REQUEUE ? "requeued" : "failed";
}

static const char *status_of(int code) {
  return code == LCFM_EXIT_OK ? "done" : code == LCFM_EXIT_REQUEUE ? "requeued" : "failed";
}

/* Rank 0: the record after stage i ended with `code` in `seconds`. */
static void note_stage(pipeline_record *rec, int i, int code, double seconds) {
  int continued = !strcmp(rec->action[i], "requeued") && !isnan(rec->produced_seconds[i]);
  rec->seconds[i] = seconds;
  rec->produced_seconds[i] = continued ? rec->produced_seconds[i] + seconds : seconds;
  snprintf(rec->action[i], sizeof rec->action[i], "%s", action_of(code));
}

int lcfm_pipeline_run(lcfm_pipeline *p, MPI_Comm comm, int argc, char **argv, int dry_run) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  lcfm_signals_install();
  pipeline_record rec;
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "run", p->job, argc, argv);
  if (rank == 0) pipeline_record_start(&rec, p);
  if (rank == 0 && !dry_run) pipeline_record_write(&rec, p, "running", &prov);
  rewritten_set *written = lcfm_calloc(1, sizeof *written);
  int code = LCFM_EXIT_OK;
  for (int i = 0; i < p->count && code == LCFM_EXIT_OK; i++) {
    const pipeline_stage *s = &p->stages[i];
    const char *name = pipeline_stage_name(s->kind);
    if (!dry_run && lcfm_signals_pending(comm)) {
      lcfm_log("signal received: stopping before stage %s (run again to continue)", name);
      code = LCFM_EXIT_REQUEUE;
      break;
    }
    char why[2048];
    int resumable = 0;
    if (decide(comm, s, written, &resumable, why, sizeof why)) {
      lcfm_log("stage %s: skipped, %s is done and made by this job", name, s->output);
      if (rank == 0) snprintf(rec.action[i], sizeof rec.action[i], "skipped");
      continue;
    }
    lcfm_log("stage %s: %s (%s)%s", name, dry_run ? "would run" : "running", why,
             resumable ? ", continuing its checkpoint" : "");
    mark_rewritten(written, s);
    if (dry_run) continue;
    double start = lcfm_wtime();
    code = run_stage(comm, p, s, resumable, argc, argv);
    if (rank == 0) {
      note_stage(&rec, i, code, lcfm_wtime() - start);
      if (code == LCFM_EXIT_OK) pipeline_record_write(&rec, p, "running", &prov);
    }
    if (code == LCFM_EXIT_OK) lcfm_log("stage %s: done in %.1f s", name, lcfm_wtime() - start);
  }
  free(written);
  if (dry_run) return code;
  if (rank == 0) pipeline_record_write(&rec, p, status_of(code), &prov);
  if (code == LCFM_EXIT_REQUEUE) {
    lcfm_log("stopped on a signal with every finished stage kept: exit %d asks to be requeued",
             LCFM_EXIT_REQUEUE);
  } else if (code == LCFM_EXIT_OK) {
    if (rank == 0) print_summary(p);
    lcfm_log_success("run");
  }
  return code;
}
