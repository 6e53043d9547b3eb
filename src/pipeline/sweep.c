/* sweep.c: `lcfm sweep`: the grid of a job's [sweep] lines, one job per point in its own
 * directory, --list and --task (see pipeline.h; --collect is in collect.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/log.h"
#include "lcfm/outputs.h"
#include "lcfm/train.h"
#include "pipeline_internal.h"

/* Large enough for any grid anyone will run; guards the products below against overflow. */
#define MAX_POINTS 10000000

int64_t lcfm_sweep_point_count(const lcfm_job *job) {
  int64_t n = 1;
  for (int i = 0; i < lcfm_job_sweep_count(job) && n <= MAX_POINTS; i++)
    n *= lcfm_job_sweep_value_count(job, i);
  return n;
}

/* The value of grid line `line` at point `index`; the last line varies fastest. */
const char *pipeline_sweep_grid_value(const lcfm_job *job, int64_t index, int line) {
  int64_t stride = 1;
  for (int j = lcfm_job_sweep_count(job) - 1; j > line; j--)
    stride *= lcfm_job_sweep_value_count(job, j);
  return lcfm_job_sweep_value(job, line,
                              (int)((index / stride) % lcfm_job_sweep_value_count(job, line)));
}

void lcfm_sweep_point_directory(const lcfm_job *job, int64_t index, char *dir, size_t len) {
  snprintf(dir, len, "%s/point-%04lld", lcfm_job_settings(job)->sweep.directory, (long long)index);
}

void lcfm_sweep_point_label(const lcfm_job *job, int64_t index, char *label, size_t len) {
  size_t used = 0;
  label[0] = '\0';
  for (int i = 0; i < lcfm_job_sweep_count(job) && used < len; i++)
    used += (size_t)snprintf(label + used, len - used, "%s%s=%s", i ? " " : "",
                             lcfm_job_sweep_key(job, i), pipeline_sweep_grid_value(job, index, i));
}

/* ---- the point's job ---- */

typedef struct {
  char *items[64];
  int count;
} override_list;

static void add_override(override_list *o, const char *key, const char *value) {
  LCFM_CHECK(o->count < 64, "internal: too many overrides for a sweep point");
  size_t n = strlen(key) + strlen(value) + 2;
  o->items[o->count] = lcfm_malloc(n);
  snprintf(o->items[o->count++], n, "%s=%s", key, value);
}

static void free_overrides(override_list *o) {
  for (int i = 0; i < o->count; i++) free(o->items[i]);
  o->count = 0;
}

/* Outputs move into the point's directory; inputs that name one of them follow it. */
static const char *const output_keys[] = {
    "ingest.output", "simulate.output",           "train.checkpoint", "embed.output",
    "probe.output",  "probe.baseline_embeddings", "run.plots",        NULL};
static const char *const input_keys[] = {"train.store", "embed.store",      "embed.checkpoint",
                                         "probe.store", "probe.embeddings", NULL};

static const char *value_of(const lcfm_job *job, const char *dotted) {
  return lcfm_job_value_text(job, lcfm_job_key_spec_dotted(dotted));
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Whether an input names an output, or a file the trainer derives from the checkpoint. */
static int names_an_output(const lcfm_job *job, const char *value) {
  for (int k = 0; output_keys[k]; k++)
    if (!strcmp(value, value_of(job, output_keys[k]))) return 1;
  const char *checkpoint = lcfm_job_settings(job)->train.checkpoint;
  char stem[PIPELINE_PATH_MAX], derived[3][PIPELINE_PATH_MAX + 16];
  pipeline_stem(checkpoint, stem, sizeof stem);
  lcfm_checkpoint_best_path(checkpoint, derived[0], sizeof derived[0]);
  snprintf(derived[1], sizeof derived[1], "%s-baseline.h5", stem);
  lcfm_checkpoint_best_path(derived[1], derived[2], sizeof derived[2]);
  for (int d = 0; d < 3; d++)
    if (!strcmp(value, derived[d])) return 1;
  return 0;
}

/* `list` (whitespace-separated paths: a training store may be several) with each path that names
 * an output moved into `dir`, in `out`; *moved says whether any was. */
static void relocate_list(const lcfm_job *job, const char *list, const char *dir, char *out,
                          int *moved) {
  size_t used = 0;
  out[0] = '\0';
  for (const char *p = list + strspn(list, " \t"); *p; p += strspn(p, " \t")) {
    char word[PIPELINE_PATH_MAX];
    size_t n = strcspn(p, " \t");
    snprintf(word, sizeof word, "%.*s", (int)n, p);
    p += n;
    int output = names_an_output(job, word);
    *moved |= output;
    int wrote = output
                    ? snprintf(out + used, PIPELINE_PATH_MAX - used, "%s%.1000s/%.1000s",
                               used ? " " : "", dir, base_name(word))
                    : snprintf(out + used, PIPELINE_PATH_MAX - used, "%s%s", used ? " " : "", word);
    if (wrote < 0 || (size_t)wrote >= PIPELINE_PATH_MAX - used)
      LCFM_FATAL("[sweep] %s: the relocated list is too long", list);
    used += (size_t)wrote;
  }
}

/* The overrides that move a point's files into `dir`; 1 if two outputs would collide. */
static int relocation(override_list *o, const lcfm_job *job, const char *dir) {
  char path[PIPELINE_PATH_MAX];
  for (int k = 0; output_keys[k]; k++) {
    const char *value = value_of(job, output_keys[k]);
    if (!value[0]) continue;
    for (int j = 0; j < k; j++)
      if (value_of(job, output_keys[j])[0] &&
          !strcmp(base_name(value_of(job, output_keys[j])), base_name(value))) {
        lcfm_job_error(job, "sweep", "directory",
                       "%s and %s have the same file name %s: they would collide in %s",
                       output_keys[j], output_keys[k], base_name(value), dir);
        return 1;
      }
    snprintf(path, sizeof path, "%.2000s/%.2000s", dir, base_name(value));
    add_override(o, output_keys[k], path);
  }
  for (int k = 0; input_keys[k]; k++) {
    int moved = 0;
    relocate_list(job, value_of(job, input_keys[k]), dir, path, &moved);
    if (moved) add_override(o, input_keys[k], path);
  }
  snprintf(path, sizeof path, "%.4000s/run.h5", dir);
  add_override(o, "run.record", path);
  return 0;
}

lcfm_job *lcfm_sweep_point_job(MPI_Comm comm, const lcfm_job *job, int64_t index) {
  override_list o = {.count = 0};
  for (int i = 0; i < lcfm_job_sweep_count(job); i++)
    add_override(&o, lcfm_job_sweep_key(job, i), pipeline_sweep_grid_value(job, index, i));
  char dir[PIPELINE_PATH_MAX], name[PIPELINE_PATH_MAX + 16];
  lcfm_sweep_point_directory(job, index, dir, sizeof dir);
  snprintf(name, sizeof name, "%.4000s/job.ini", dir);
  lcfm_job *grid =
      lcfm_job_load_text(comm, name, lcfm_job_text_without_sweep(job), o.count, o.items, NULL);
  int collide = 0;
  if (grid) {
    collide = relocation(&o, grid, dir);
    LCFM_CHECK_MPI(MPI_Bcast(&collide, 1, MPI_INT, 0, comm));
  }
  lcfm_job *point = NULL;
  if (grid && !collide)
    point =
        lcfm_job_load_text(comm, name, lcfm_job_text_without_sweep(job), o.count, o.items, NULL);
  lcfm_job_free(grid);
  free_overrides(&o);
  return point;
}

/* ---- checks and listing ---- */

/* Collective: the point's job and plan, or NULL (reported). */
lcfm_pipeline *pipeline_sweep_plan_point(MPI_Comm comm, const lcfm_job *job, int64_t index,
                                         lcfm_job **point) {
  *point = lcfm_sweep_point_job(comm, job, index);
  lcfm_pipeline *p = *point ? lcfm_pipeline_plan(comm, *point) : NULL;
  if (!p) {
    char label[1024];
    lcfm_sweep_point_label(job, index, label, sizeof label);
    if (lcfm_log_rank() == 0)
      fprintf(stderr, "%s: [sweep] point %lld (%s) is not a valid job (see above)\n",
              lcfm_job_path(job), (long long)index, label);
    lcfm_job_free(*point);
    *point = NULL;
  }
  return p;
}

int lcfm_sweep_check_size(const lcfm_job *job) {
  if (lcfm_sweep_point_count(job) <= MAX_POINTS) return 0;
  lcfm_job_error(job, "sweep", "directory", "the grid has more than %d points", MAX_POINTS);
  return 1;
}

int lcfm_sweep_check(MPI_Comm comm, const lcfm_job *job) {
  if (lcfm_sweep_check_size(job)) return 1;
  int64_t points = lcfm_sweep_point_count(job);
  int bad = 0;
  for (int64_t i = 0; i < points && bad < 5; i++) { /* the first few are enough to read */
    lcfm_job *point;
    lcfm_pipeline *p = pipeline_sweep_plan_point(comm, job, i, &point);
    bad += p == NULL;
    lcfm_pipeline_free(p);
    lcfm_job_free(point);
  }
  return bad;
}

/* Rank 0: "done"; else what the run record says ("running", "failed", "requeued"; "stale" when
 * it says done but the outputs no longer match the job); else "missing". */
void pipeline_sweep_point_status(const lcfm_pipeline *p, char *status, size_t len) {
  char why[2048];
  double seconds;
  if (lcfm_pipeline_done(p, why, sizeof why)) {
    snprintf(status, len, "done");
  } else if (p->record[0] && !pipeline_record_read(p->record, status, len, &seconds)) {
    if (!strcmp(status, "done")) snprintf(status, len, "stale");
  } else {
    snprintf(status, len, "missing");
  }
}

int lcfm_sweep_list(MPI_Comm comm, const lcfm_job *job) {
  int64_t points = lcfm_sweep_point_count(job);
  int lines = lcfm_job_sweep_count(job), rank = lcfm_log_rank();
  if (rank == 0) {
    printf("sweep %s: %lld points in %s/", lcfm_job_path(job), (long long)points,
           lcfm_job_settings(job)->sweep.directory);
    for (int i = 0; i < lines; i++)
      printf("%s %s (%d)", i ? " x" : ":", lcfm_job_sweep_key(job, i),
             lcfm_job_sweep_value_count(job, i));
    printf("\n%6s", "point");
    for (int i = 0; i < lines; i++) printf("  %s", lcfm_job_sweep_key(job, i));
    printf("  status\n");
  }
  int64_t done = 0;
  for (int64_t k = 0; k < points; k++) {
    lcfm_job *point;
    lcfm_pipeline *p = pipeline_sweep_plan_point(comm, job, k, &point);
    LCFM_CHECK(p, "internal: sweep point %lld stopped being valid", (long long)k);
    if (rank == 0) {
      char status[32];
      pipeline_sweep_point_status(p, status, sizeof status);
      done += !strcmp(status, "done");
      printf("%6lld", (long long)k);
      for (int i = 0; i < lines; i++)
        printf("  %*s", (int)strlen(lcfm_job_sweep_key(job, i)),
               pipeline_sweep_grid_value(job, k, i));
      printf("  %s\n", status);
    }
    lcfm_pipeline_free(p);
    lcfm_job_free(point);
  }
  if (rank == 0) {
    printf("%lld of %lld points done. One point: lcfm sweep --task I %s; all of them under Slurm:\n"
           "  sbatch --array=0-%lld%%4 slurm/sweep.sbatch %s\n",
           (long long)done, (long long)points, lcfm_job_path(job), (long long)points - 1,
           lcfm_job_path(job));
    fflush(stdout);
  }
  return LCFM_EXIT_OK;
}

/* Rank 0: writes the point's job file unless it already holds this text. */
static void write_point_job(const lcfm_job *job, const lcfm_job *point, int64_t index) {
  char dir[PIPELINE_PATH_MAX], path[PIPELINE_PATH_MAX + 16], label[2048];
  lcfm_sweep_point_directory(job, index, dir, sizeof dir);
  LCFM_CHECK(pipeline_make_directories(dir) == 0, "%s: cannot create: %s", dir, strerror(errno));
  snprintf(path, sizeof path, "%s/job.ini", dir);
  lcfm_sweep_point_label(job, index, label, sizeof label);
  size_t n = strlen(lcfm_job_text(point)) + strlen(label) + strlen(lcfm_job_path(job)) + 64;
  char *text = lcfm_malloc(n);
  snprintf(text, n, "; sweep point %lld of %s: %s\n%s", (long long)index, lcfm_job_path(job), label,
           lcfm_job_text(point));
  FILE *old = fopen(path, "r");
  int same = 0;
  if (old) {
    char *existing = lcfm_calloc(n + 1, 1);
    size_t got = fread(existing, 1, n, old);
    same = got == strlen(text) && !memcmp(existing, text, got);
    free(existing);
    fclose(old);
  }
  if (!same) lcfm_output_publish_text(path, text);
  free(text);
}

int lcfm_sweep_task(MPI_Comm comm, const lcfm_job *job, int64_t index, int argc, char **argv) {
  int64_t points = lcfm_sweep_point_count(job);
  if (index < 0 || index >= points) {
    if (lcfm_log_rank() == 0)
      fprintf(stderr, "lcfm sweep: --task %lld: %s has points 0 to %lld\n", (long long)index,
              lcfm_job_path(job), (long long)points - 1);
    return LCFM_EXIT_USAGE;
  }
  lcfm_job *point;
  lcfm_pipeline *p = pipeline_sweep_plan_point(comm, job, index, &point);
  if (!p) return LCFM_EXIT_USAGE;
  char label[2048], dir[PIPELINE_PATH_MAX];
  lcfm_sweep_point_label(job, index, label, sizeof label);
  lcfm_sweep_point_directory(job, index, dir, sizeof dir);
  lcfm_log("sweep %s: point %lld of %lld (%s) in %s", lcfm_job_path(job), (long long)index,
           (long long)points, label, dir);
  if (lcfm_log_rank() == 0) write_point_job(job, point, index);
  LCFM_CHECK_MPI(MPI_Barrier(comm));
  int code = lcfm_pipeline_run(p, comm, argc, argv, 0);
  lcfm_pipeline_free(p);
  lcfm_job_free(point);
  return code;
}
