/* decide.c: is a stage's output already there and made by this job? (see pipeline.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/train.h"
#include "pipeline_internal.h"

static int was_rewritten(const char *path, char *const *rewritten, int count) {
  for (int i = 0; i < count; i++)
    if (!strcmp(rewritten[i], path)) return 1;
  return 0;
}

/* The inputs are not newer than the output and none was rewritten in this run. */
static int inputs_current(const pipeline_stage *s, char *const *rewritten, int count, char *why,
                          size_t len) {
  for (int i = 0; i < s->input_count; i++) {
    if (was_rewritten(s->inputs[i], rewritten, count)) {
      snprintf(why, len, "its input %s is written again earlier in this run", s->inputs[i]);
      return 0;
    }
    if (pipeline_file_exists(s->inputs[i]) && pipeline_file_older(s->output, s->inputs[i])) {
      snprintf(why, len, "%s is older than its input %s", s->output, s->inputs[i]);
      return 0;
    }
  }
  return 1;
}

/* Every PNG the manifest lists still exists. */
static int manifest_complete(const char *manifest, char *why, size_t len) {
  FILE *f = fopen(manifest, "r");
  if (!f) {
    snprintf(why, len, "cannot read %s", manifest);
    return 0;
  }
  char line[PIPELINE_PATH_MAX];
  int ok = 1, pngs = 0;
  while (ok && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0] || line[0] == '#') continue;
    pngs++;
    if (!pipeline_file_exists(line)) {
      snprintf(why, len, "%s is missing", line);
      ok = 0;
    }
  }
  fclose(f);
  if (ok && !pngs) {
    snprintf(why, len, "%s lists no PNG", manifest);
    ok = 0;
  }
  return ok;
}

/* The stored job of an output agrees with the stage's job. */
static int made_by_this_job(const pipeline_stage *s, char *why, size_t len) {
  char reason[1024];
  char *stored = pipeline_read_text_attribute(s->output, "job", reason, sizeof reason);
  if (!stored) {
    snprintf(why, len, "%s", reason);
    return 0;
  }
  int agree = lcfm_pipeline_jobs_agree(stored, lcfm_job_text(s->job),
                                       pipeline_stage_sections(s->kind), reason, sizeof reason);
  free(stored);
  if (!agree) snprintf(why, len, "%s was made by another job: %s", s->output, reason);
  return agree;
}

enum { TRAINING_UNFINISHED, TRAINING_FINISHED, TRAINING_BEST_MISSING };

/* Whether a checkpoint's training ended (all steps done, or stopped early) with its best
 * checkpoint beside it. */
static int training_state(const pipeline_stage *s, char *why, size_t len) {
  int64_t step = 0, stale = 0, best_step = -1;
  if (pipeline_read_int64_attribute(s->output, "step", &step) ||
      pipeline_read_int64_attribute(s->output, "stale_evaluations", &stale) ||
      pipeline_read_int64_attribute(s->output, "best_step", &best_step)) {
    snprintf(why, len, "%s has no training state", s->output);
    return TRAINING_UNFINISHED;
  }
  int64_t steps = lcfm_job_settings(s->job)->train.steps,
          patience = lcfm_job_settings(s->job)->train.patience;
  if (step < steps && stale < patience) {
    snprintf(why, len, "training stopped at step %lld of %lld", (long long)step, (long long)steps);
    return TRAINING_UNFINISHED;
  }
  char best[PIPELINE_PATH_MAX + 16];
  lcfm_checkpoint_best_path(s->output, best, sizeof best);
  if (best_step >= 0 && !pipeline_file_exists(best)) {
    snprintf(why, len, "the best checkpoint %s is missing", best);
    return TRAINING_BEST_MISSING;
  }
  return TRAINING_FINISHED;
}

int pipeline_stage_done(const pipeline_stage *s, char *const *rewritten, int rewritten_count,
                        int *resumable, char *why, size_t why_len) {
  if (resumable) *resumable = 0;
  if (!pipeline_file_exists(s->output)) {
    snprintf(why, why_len, "%s does not exist yet", s->output);
    return 0;
  }
  if (!inputs_current(s, rewritten, rewritten_count, why, why_len)) return 0;
  if (s->kind == STAGE_PLOTS) return manifest_complete(s->output, why, why_len);
  if (!made_by_this_job(s, why, why_len)) return 0;
  if (s->kind != STAGE_TRAIN && s->kind != STAGE_TRAIN_BASELINE) return 1;
  int state = training_state(s, why, why_len);
  /* An unfinished checkpoint of this job is continued; a finished one without its best
   * checkpoint is trained again. */
  if (resumable) *resumable = state == TRAINING_UNFINISHED;
  return state == TRAINING_FINISHED;
}

int lcfm_pipeline_done(const lcfm_pipeline *p, char *why, size_t why_len) {
  for (int i = 0; i < p->count; i++) {
    char reason[2048];
    if (!pipeline_stage_done(&p->stages[i], NULL, 0, NULL, reason, sizeof reason)) {
      snprintf(why, why_len, "%s: %s", pipeline_stage_name(p->stages[i].kind), reason);
      return 0;
    }
  }
  return 1;
}
