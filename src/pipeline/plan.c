/* plan.c: from a run job to its stages: which ones run, each one's job with its inputs wired,
 * and every check that can fail before any work starts (see pipeline.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lcfm/model_kind.h"
#include "lcfm/class_probe.h"
#include "lcfm/models.h"
#include "lcfm/outputs.h"
#include "lcfm/probe.h"
#include "lcfm/sim.h"
#include "lcfm/survey.h"
#include "lcfm/train.h"
#include "pipeline_internal.h"

static const char *const stage_names[STAGE_KINDS] = {
    "ingest", "simulate", "train", "train-baseline", "embed", "embed-baseline", "probe", "plots"};

const char *pipeline_stage_name(stage_kind kind) { return stage_names[kind]; }

const char *const *pipeline_stage_sections(stage_kind kind) {
  static const char *const ingest[] = {"ingest",
                                       NULL}; /* no random numbers: [job] seed does not count */
  static const char *const simulate[] = {"job", "simulate", NULL};
  static const char *const train[] = {"job", "simulate", "ingest", "model", "train", NULL};
  static const char *const embed[] = {"job", "simulate", "ingest", "model", "train", "embed", NULL};
  static const char *const probe[] = {"job",   "simulate", "ingest", "model",
                                      "train", "embed",    "probe",  NULL};
  switch (kind) {
  case STAGE_INGEST: return ingest;
  case STAGE_SIMULATE: return simulate;
  case STAGE_TRAIN:
  case STAGE_TRAIN_BASELINE: return train;
  case STAGE_EMBED:
  case STAGE_EMBED_BASELINE: return embed;
  default: return probe;
  }
}

/* The stages a user names in [run] stages, in running order. */
enum { WANT_INGEST, WANT_SIMULATE, WANT_TRAIN, WANT_EMBED, WANT_PROBE, WANT_PLOTS, WANT_COUNT };
static const char *const wanted_names[WANT_COUNT] = {"ingest", "simulate", "train",
                                                     "embed",  "probe",    "plots"};

static int parse_stages(const lcfm_job *job, int wanted[WANT_COUNT]) {
  char list[1024];
  snprintf(list, sizeof list, "%s", lcfm_job_settings(job)->run.stages);
  memset(wanted, 0, WANT_COUNT * sizeof *wanted);
  int any = 0;
  for (char *save = NULL, *t = strtok_r(list, " ,\t", &save); t;
       t = strtok_r(NULL, " ,\t", &save)) {
    int found = -1;
    for (int w = 0; w < WANT_COUNT; w++)
      if (!strcasecmp(t, wanted_names[w])) found = w;
    if (found < 0) {
      lcfm_job_error(job, "run", "stages",
                     "'%s' is not a stage (ingest, simulate, train, embed, probe, plots)", t);
      return 1;
    }
    if (wanted[found]) {
      lcfm_job_error(job, "run", "stages", "'%s' is listed twice", t);
      return 1;
    }
    wanted[found] = any = 1;
  }
  if (!any) {
    lcfm_job_error(job, "run", "stages", "no stage given");
    return 1;
  }
  return 0;
}

/* The paths every stage reads and writes, with empty inputs taken from the stage before. */
typedef struct {
  char store[PIPELINE_PATH_MAX]; /* [train] store: one path or several */
  char checkpoint[PIPELINE_PATH_MAX], best[PIPELINE_PATH_MAX];
  char baseline_checkpoint[PIPELINE_PATH_MAX], baseline_best[PIPELINE_PATH_MAX];
  char embed_store[PIPELINE_PATH_MAX], embed_checkpoint[PIPELINE_PATH_MAX],
      embeddings[PIPELINE_PATH_MAX];
  char baseline_embeddings[PIPELINE_PATH_MAX];
  char probe_store[PIPELINE_PATH_MAX], probe_embeddings[PIPELINE_PATH_MAX],
      probe_output[PIPELINE_PATH_MAX];
  char plots_dir[PIPELINE_PATH_MAX];
} wiring;

static void either(char *out, const char *given, const char *fallback) {
  snprintf(out, PIPELINE_PATH_MAX, "%s", given[0] ? given : fallback);
}

/* The stores the run makes (ingest's, then simulate's), whitespace-separated: the training
 * store when [train] store is empty. */
static void made_stores(char *out, const lcfm_job *job, const int wanted[WANT_COUNT]) {
  const char *ingest = wanted[WANT_INGEST] ? lcfm_job_settings(job)->ingest.output : "";
  const char *simulate = wanted[WANT_SIMULATE] ? lcfm_job_settings(job)->simulate.output : "";
  snprintf(out, PIPELINE_PATH_MAX, "%.2000s%s%.2000s", ingest, ingest[0] && simulate[0] ? " " : "",
           simulate);
}

static void wire(wiring *w, const lcfm_job *job, const int wanted[WANT_COUNT], int baseline) {
  char stem[PIPELINE_PATH_MAX], made[PIPELINE_PATH_MAX];
  made_stores(made, job, wanted);
  either(w->store, lcfm_job_settings(job)->train.store, made);
  snprintf(w->checkpoint, sizeof w->checkpoint, "%s", lcfm_job_settings(job)->train.checkpoint);
  pipeline_stem(w->checkpoint, stem, sizeof stem);
  w->best[0] = w->baseline_checkpoint[0] = w->baseline_best[0] = '\0';
  if (w->checkpoint[0]) {
    lcfm_checkpoint_best_path(w->checkpoint, w->best, sizeof w->best);
    snprintf(w->baseline_checkpoint, sizeof w->baseline_checkpoint, "%.4000s-baseline.h5", stem);
    lcfm_checkpoint_best_path(w->baseline_checkpoint, w->baseline_best, sizeof w->baseline_best);
  }
  const lcfm_settings_embed *embed_keys = &lcfm_job_settings(job)->embed;
  either(w->embed_store, embed_keys->store, w->store);
  either(w->embed_checkpoint, embed_keys->checkpoint, w->best);
  snprintf(w->embeddings, sizeof w->embeddings, "%s", embed_keys->output);
  pipeline_stem(w->embeddings, stem, sizeof stem);
  char derived[PIPELINE_PATH_MAX] = "";
  if (baseline && w->embeddings[0]) snprintf(derived, sizeof derived, "%.4000s-baseline.h5", stem);
  const lcfm_settings_probe *probe_keys = &lcfm_job_settings(job)->probe;
  either(w->baseline_embeddings, probe_keys->baseline_embeddings, derived);
  either(w->probe_store, probe_keys->store, w->embed_store);
  either(w->probe_embeddings, probe_keys->embeddings, w->embeddings);
  snprintf(w->probe_output, sizeof w->probe_output, "%s", probe_keys->output);
  pipeline_stem(w->probe_output, stem, sizeof stem);
  derived[0] = '\0';
  if (w->probe_output[0]) snprintf(derived, sizeof derived, "%.4000s-plots", stem);
  either(w->plots_dir, lcfm_job_settings(job)->run.plots, derived);
}

/* Reports an empty path a stage needs; returns 1 if it is empty. */
static int need(const lcfm_job *job, const char *value, const char *section, const char *key,
                const char *why) {
  if (value[0]) return 0;
  lcfm_job_error(job, section, key, "required by %s", why);
  return 1;
}

static int check_paths(const lcfm_job *job, const wiring *w, const int wanted[WANT_COUNT],
                       int baseline) {
  int problems = 0;
  if (wanted[WANT_INGEST])
    problems +=
        need(job, lcfm_job_settings(job)->ingest.output, "ingest", "output", "the ingest stage");
  if (wanted[WANT_SIMULATE])
    problems += need(job, lcfm_job_settings(job)->simulate.output, "simulate", "output",
                     "the simulate stage");
  if (wanted[WANT_TRAIN]) {
    problems += need(job, w->store, "train", "store",
                     "the train stage (or run the ingest or simulate stage, which provides it)");
    problems += need(job, w->checkpoint, "train", "checkpoint", "the train stage");
  }
  if (wanted[WANT_EMBED]) {
    problems +=
        need(job, w->embed_store, "embed", "store", "the embed stage (or give [train] store)");
    problems += need(job, w->embed_checkpoint, "embed", "checkpoint",
                     "the embed stage (or give [train] checkpoint)");
    problems += need(job, w->embeddings, "embed", "output", "the embed stage");
  }
  if (wanted[WANT_PROBE] || wanted[WANT_PLOTS]) {
    problems +=
        need(job, w->probe_store, "probe", "store", "the probe stage (or give [embed] store)");
    problems += need(job, w->probe_embeddings, "probe", "embeddings",
                     "the probe stage (or give [embed] output)");
    problems += need(job, w->probe_output, "probe", "output", "the probe and plots stages");
  }
  if (baseline && (wanted[WANT_TRAIN] || wanted[WANT_EMBED]))
    problems += need(job, w->checkpoint, "train", "checkpoint",
                     "[run] baseline (NAME-baseline.h5 is put beside it)");
  if (baseline && (wanted[WANT_EMBED] || wanted[WANT_PROBE]))
    problems += need(job, w->baseline_embeddings, "probe", "baseline_embeddings",
                     "[run] baseline (or give [embed] output)");
  if (baseline && strcmp(lcfm_job_settings(job)->model.kind, "causal")) {
    lcfm_job_error(job, "run", "baseline",
                   "compares the causal model with its baseline: needs [model] kind = causal");
    problems++;
  }
  return problems;
}

/* Collective: [ingest] settings, and every input names a file (a bad input is reported now, not
 * after the stages before it ran). */
static int check_ingest(MPI_Comm comm, const lcfm_job *job) {
  lcfm_ingest_options options;
  if (lcfm_ingest_options_from_job(&options, job)) return 1;
  return lcfm_ingest_check_inputs(comm, job) < 0;
}

/* The model, simulation and probe checks the verbs make (whichever simulation mode, model kind
 * and probe task the job names), made once for the whole run. */
static int check_settings(MPI_Comm comm, const lcfm_job *job, const int wanted[WANT_COUNT]) {
  int problems = 0;
  if (wanted[WANT_INGEST]) problems += check_ingest(comm, job);
  if (wanted[WANT_SIMULATE]) {
    lcfm_sim_config sim;
    lcfm_labelled_config labelled;
    problems += lcfm_sim_mode_labelled(job) ? lcfm_labelled_config_from_job(&labelled, job)
                                            : lcfm_sim_config_from_job(&sim, job);
  }
  if (wanted[WANT_TRAIN] || wanted[WANT_EMBED]) problems += lcfm_model_config_problems(job);
  int task = lcfm_probe_task(job);
  if (wanted[WANT_PROBE]) {
    problems += task == LCFM_PROBE_CLASSIFICATION ? lcfm_class_probe_settings_check(job)
                                                  : lcfm_probe_settings_check(job);
  }
  if (wanted[WANT_PLOTS] && task == LCFM_PROBE_CLASSIFICATION) {
    lcfm_job_error(job, "run", "stages",
                   "plots draws the causal paper's figures from a regression probe: "
                   "leave it out with [probe] task = classification");
    problems++;
  }
  return problems;
}

/* ---- stage jobs ---- */

typedef struct {
  char *items[16];
  int count;
} override_list;

static void add_override(override_list *o, const char *key, const char *value) {
  LCFM_CHECK(o->count < 16, "internal: too many wiring overrides");
  size_t n = strlen(key) + strlen(value) + 2;
  o->items[o->count] = lcfm_malloc(n);
  snprintf(o->items[o->count++], n, "%s=%s", key, value);
}

/* Adds section.key=value when the job says otherwise. */
static void add_if_changed(override_list *o, const lcfm_job *job, const char *section,
                           const char *key, const char *value) {
  if (!strcmp(lcfm_job_value_text(job, lcfm_job_key_spec(section, key)), value)) return;
  char name[128];
  snprintf(name, sizeof name, "%s.%s", section, key);
  add_override(o, name, value);
}

static void free_overrides(override_list *o) {
  for (int i = 0; i < o->count; i++) free(o->items[i]);
  o->count = 0;
}

static void wiring_overrides(override_list *o, const lcfm_job *job, const wiring *w, int baseline) {
  add_if_changed(o, job, "train", "store", w->store);
  add_if_changed(o, job, "embed", "store", w->embed_store);
  add_if_changed(o, job, "embed", "checkpoint", w->embed_checkpoint);
  add_if_changed(o, job, "probe", "store", w->probe_store);
  add_if_changed(o, job, "probe", "embeddings", w->probe_embeddings);
  if (baseline) add_if_changed(o, job, "probe", "baseline_embeddings", w->baseline_embeddings);
}

static void baseline_overrides(override_list *o, const wiring *w, int embedding) {
  add_override(o, "model.kind", "baseline");
  add_override(o, "train.checkpoint", w->baseline_checkpoint);
  if (!embedding) return;
  add_override(o, "embed.checkpoint", w->baseline_best);
  add_override(o, "embed.output", w->baseline_embeddings);
}

static void set_path(char *out, const char *value) {
  snprintf(out, PIPELINE_PATH_MAX, "%s", value);
}

/* Adds each path of a whitespace-separated list (a training store may be several). */
static void add_input(pipeline_stage *s, const char *paths) {
  for (const char *p = paths + strspn(paths, " \t"); *p && s->input_count < PIPELINE_MAX_INPUTS;
       p += strspn(p, " \t")) {
    size_t n = strcspn(p, " \t");
    snprintf(s->inputs[s->input_count++], PIPELINE_PATH_MAX, "%.*s", (int)n, p);
    p += n;
  }
}

/* Collective: appends a stage whose job is the run's job with `o` applied; 1 if it fails. */
static int add_stage(lcfm_pipeline *p, MPI_Comm comm, stage_kind kind, const override_list *o) {
  pipeline_stage *s = &p->stages[p->count];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->job = lcfm_job_load_text(comm, lcfm_job_path(p->job), lcfm_job_text(p->job), o->count,
                              o->items, NULL);
  if (!s->job) return 1;
  p->count++;
  return 0;
}

/* Collective: the stage list, each with its output and inputs. Returns the number of failures. */
static int build_stages(lcfm_pipeline *p, MPI_Comm comm, const wiring *w,
                        const int wanted[WANT_COUNT], int baseline) {
  override_list o = {.count = 0};
  wiring_overrides(&o, p->job, w, baseline);
  int failed = 0;
  if (wanted[WANT_INGEST] && !(failed = add_stage(p, comm, STAGE_INGEST, &o)))
    set_path(p->stages[p->count - 1].output, lcfm_job_settings(p->job)->ingest.output);
  if (!failed && wanted[WANT_SIMULATE] && !(failed = add_stage(p, comm, STAGE_SIMULATE, &o)))
    set_path(p->stages[p->count - 1].output, lcfm_job_settings(p->job)->simulate.output);
  if (!failed && wanted[WANT_TRAIN] && !(failed = add_stage(p, comm, STAGE_TRAIN, &o))) {
    set_path(p->stages[p->count - 1].output, w->checkpoint);
    add_input(&p->stages[p->count - 1], w->store);
  }
  int first_baseline = o.count;
  if (!failed && wanted[WANT_TRAIN] && baseline) {
    baseline_overrides(&o, w, 0);
    if (!(failed = add_stage(p, comm, STAGE_TRAIN_BASELINE, &o))) {
      set_path(p->stages[p->count - 1].output, w->baseline_checkpoint);
      add_input(&p->stages[p->count - 1], w->store);
    }
    for (int i = first_baseline; i < o.count; i++) free(o.items[i]);
    o.count = first_baseline;
  }
  if (!failed && wanted[WANT_EMBED] && !(failed = add_stage(p, comm, STAGE_EMBED, &o))) {
    set_path(p->stages[p->count - 1].output, w->embeddings);
    add_input(&p->stages[p->count - 1], w->embed_store);
    add_input(&p->stages[p->count - 1], w->embed_checkpoint);
  }
  if (!failed && wanted[WANT_EMBED] && baseline) {
    baseline_overrides(&o, w, 1);
    if (!(failed = add_stage(p, comm, STAGE_EMBED_BASELINE, &o))) {
      set_path(p->stages[p->count - 1].output, w->baseline_embeddings);
      add_input(&p->stages[p->count - 1], w->embed_store);
      add_input(&p->stages[p->count - 1], w->baseline_best);
    }
    for (int i = first_baseline; i < o.count; i++) free(o.items[i]);
    o.count = first_baseline;
  }
  if (!failed && wanted[WANT_PROBE] && !(failed = add_stage(p, comm, STAGE_PROBE, &o))) {
    pipeline_stage *s = &p->stages[p->count - 1];
    set_path(s->output, w->probe_output);
    add_input(s, w->probe_store);
    add_input(s, w->probe_embeddings);
    if (baseline) add_input(s, w->baseline_embeddings);
  }
  if (!failed && wanted[WANT_PLOTS] && !(failed = add_stage(p, comm, STAGE_PLOTS, &o))) {
    pipeline_stage *s = &p->stages[p->count - 1];
    snprintf(s->output, sizeof s->output, "%.4000s/plots.txt", w->plots_dir);
    add_input(s, w->probe_output);
    add_input(s, w->probe_embeddings);
  }
  free_overrides(&o);
  return failed;
}

/* Rank 0's verdict reaches every rank. */
static int agree_on(MPI_Comm comm, int problems) {
  LCFM_CHECK_MPI(MPI_Bcast(&problems, 1, MPI_INT, 0, comm));
  return problems;
}

lcfm_pipeline *lcfm_pipeline_plan(MPI_Comm comm, const lcfm_job *job) {
  int wanted[WANT_COUNT];
  if (agree_on(comm, parse_stages(job, wanted))) return NULL;
  int baseline = lcfm_job_settings(job)->run.baseline;
  wiring *w = lcfm_malloc(sizeof *w);
  wire(w, job, wanted, baseline);
  if (agree_on(comm, check_paths(job, w, wanted, baseline) + check_settings(comm, job, wanted))) {
    free(w);
    return NULL;
  }
  lcfm_pipeline *p = lcfm_calloc(1, sizeof *p);
  p->job = job;
  int failed = build_stages(p, comm, w, wanted, baseline);
  for (int i = 0; i < p->count && !failed; i++) /* outputs.h: paths, and outputs that are inputs */
    failed += agree_on(
        comm, lcfm_outputs_check_job(p->stages[i].job, pipeline_stage_name(p->stages[i].kind)));
  if (!failed && baseline && (wanted[WANT_TRAIN] || wanted[WANT_EMBED])) {
    /* The baseline's own model checks (kind-specific settings). */
    for (int i = 0; i < p->count; i++)
      if (p->stages[i].kind == STAGE_TRAIN_BASELINE || p->stages[i].kind == STAGE_EMBED_BASELINE) {
        lcfm_causal_config model;
        failed += agree_on(comm, lcfm_causal_config_from_job(&model, p->stages[i].job));
        break;
      }
  }
  set_path(p->record, lcfm_job_settings(job)->run.record);
  set_path(p->plots_dir, w->plots_dir);
  set_path(p->probe_output, wanted[WANT_PROBE] || wanted[WANT_PLOTS] ? w->probe_output : "");
  set_path(p->embeddings, w->probe_embeddings);
  set_path(p->store, w->probe_store);
  free(w);
  if (failed) {
    lcfm_pipeline_free(p);
    return NULL;
  }
  return p;
}

const char *lcfm_pipeline_probe_output(const lcfm_pipeline *p) { return p->probe_output; }

int lcfm_pipeline_stage_count(const lcfm_pipeline *p) { return p->count; }

static const pipeline_stage *stage_named(const lcfm_pipeline *p, const char *name) {
  for (int i = 0; i < p->count; i++)
    if (!strcmp(pipeline_stage_name(p->stages[i].kind), name)) return &p->stages[i];
  return NULL;
}

const lcfm_job *lcfm_pipeline_stage_job(const lcfm_pipeline *p, const char *name) {
  const pipeline_stage *s = stage_named(p, name);
  return s ? s->job : NULL;
}

const char *lcfm_pipeline_stage_output(const lcfm_pipeline *p, const char *name) {
  const pipeline_stage *s = stage_named(p, name);
  return s ? s->output : NULL;
}

void lcfm_pipeline_free(lcfm_pipeline *p) {
  if (!p) return;
  for (int i = 0; i < p->count; i++) lcfm_job_free(p->stages[i].job);
  free(p);
}
