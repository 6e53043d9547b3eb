/* collect.c: `lcfm sweep --collect`: every grid point's values, status, wall time and probe
 * R^2 in one HDF5 table, plus the list of points still to run (see pipeline.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lcfm/log.h"
#include "pipeline_internal.h"

#define SWEEP_SCHEMA "lcfm-sweep"
#define DIR_WIDTH 256
#define VALUE_WIDTH 64

enum { STATUS_MISSING = 0, STATUS_INCOMPLETE = 1, STATUS_DONE = 2 };

typedef struct {
  int64_t points;
  int lines;
  int64_t *index;
  int32_t *status;
  double *wall;
  char (*dirs)[DIR_WIDTH];
  pipeline_probe_result *probe; /* per point; empty unless done */
} sweep_table;

static const lcfm_key_spec *spec_of(const char *dotted) { return lcfm_job_key_spec_dotted(dotted); }

static double number_of(const lcfm_key_spec *spec, const char *text) {
  if (spec->type == LCFM_KEY_BOOL)
    return !strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
           !strcmp(text, "1");
  return strtod(text, NULL);
}

/* Rank 0: one point's row of the table. */
static void fill_point(sweep_table *t, int64_t k, const lcfm_job *job, const lcfm_pipeline *p) {
  char status[32], record_status[32];
  double seconds = NAN;
  pipeline_sweep_point_status(p, status, sizeof status);
  t->index[k] = k;
  t->status[k] = !strcmp(status, "done")      ? STATUS_DONE
                 : !strcmp(status, "missing") ? STATUS_MISSING
                                              : STATUS_INCOMPLETE;
  if (p->record[0] &&
      !pipeline_record_read(p->record, record_status, sizeof record_status, &seconds) &&
      t->status[k] == STATUS_DONE)
    t->wall[k] = seconds;
  lcfm_sweep_point_directory(job, k, t->dirs[k], DIR_WIDTH);
  char why[1024];
  if (t->status[k] == STATUS_DONE && p->probe_output[0] &&
      pipeline_probe_read(p->probe_output, &t->probe[k], why, sizeof why))
    lcfm_warn("%s", why);
}

/* The first done point's probe inputs and sizes are the table's columns. */
static const pipeline_probe_result *columns(const sweep_table *t) {
  for (int64_t k = 0; k < t->points; k++)
    if (t->probe[k].inputs) return &t->probe[k];
  return NULL;
}

static int same_columns(const pipeline_probe_result *a, const pipeline_probe_result *b) {
  if (a->inputs != b->inputs || a->sizes != b->sizes) return 0;
  for (int i = 0; i < a->inputs; i++)
    if (strcmp(a->names[i], b->names[i])) return 0;
  for (int s = 0; s < a->sizes; s++)
    if (a->size[s] != b->size[s]) return 0;
  return 1;
}

/* The first done point with linear probes gives the latent columns. */
static const pipeline_probe_result *latent_columns(const sweep_table *t) {
  for (int64_t k = 0; k < t->points; k++)
    if (t->probe[k].latents) return &t->probe[k];
  return NULL;
}

static int same_latents(const pipeline_probe_result *a, const pipeline_probe_result *b) {
  if (a->latents != b->latents) return 0;
  for (int i = 0; i < a->latents; i++)
    if (strcmp(a->latent_names[i], b->latent_names[i])) return 0;
  return 1;
}

static void print_table(const sweep_table *t, const lcfm_job *job) {
  const pipeline_probe_result *c = columns(t);
  printf("%6s", "point");
  for (int i = 0; i < t->lines; i++) printf("  %s", lcfm_job_sweep_key(job, i));
  printf("  %10s  %8s", "status", "wall s");
  if (c)
    for (int i = 0; i < c->inputs; i++) printf("  %10s", c->names[i]);
  const pipeline_probe_result *l = latent_columns(t);
  if (l) {
    for (int i = 0; i < l->latents; i++) printf("  instr:%-8s", l->latent_names[i]);
    printf("  %7s", "chance");
  }
  if (c) printf("   (MLP R^2 at %lld training objects", (long long)c->size[c->sizes - 1]);
  if (l) printf("; instrument-ID accuracy of the linear probes");
  if (c || l) printf(")");
  printf("\n");
  static const char *const names[] = {"missing", "incomplete", "done"};
  for (int64_t k = 0; k < t->points; k++) {
    printf("%6lld", (long long)k);
    for (int i = 0; i < t->lines; i++)
      printf("  %*s", (int)strlen(lcfm_job_sweep_key(job, i)),
             pipeline_sweep_grid_value(job, k, i));
    printf("  %10s  %8.1f", names[t->status[k]], t->wall[k]);
    const pipeline_probe_result *r = &t->probe[k];
    if (c && r->inputs && same_columns(c, r))
      for (int i = 0; i < r->inputs; i++) printf("  %10.3f", r->mean[i * r->sizes + r->sizes - 1]);
    if (l && r->latents && same_latents(l, r)) {
      for (int i = 0; i < r->latents; i++) printf("  %14.3f", r->accuracy[i]);
      printf("  %7.3f", r->majority);
    }
    printf("\n");
  }
}

static void write_grid(hid_t file, const sweep_table *t, const lcfm_job *job) {
  for (int i = 0; i < t->lines; i++) {
    const char *key = lcfm_job_sweep_key(job, i);
    const lcfm_key_spec *spec = spec_of(key);
    char name[256];
    snprintf(name, sizeof name, "/grid/%s", key);
    if (spec && spec->type != LCFM_KEY_STRING) {
      double *values = lcfm_malloc((size_t)t->points * sizeof *values);
      for (int64_t k = 0; k < t->points; k++)
        values[k] = number_of(spec, pipeline_sweep_grid_value(job, k, i));
      pipeline_write_doubles(file, name, values, 1, &t->points);
      free(values);
    } else {
      char(*values)[VALUE_WIDTH] = lcfm_calloc((size_t)t->points, sizeof *values);
      for (int64_t k = 0; k < t->points; k++)
        snprintf(values[k], VALUE_WIDTH, "%s", pipeline_sweep_grid_value(job, k, i));
      pipeline_write_strings(file, name, &values[0][0], t->points, VALUE_WIDTH);
      free(values);
    }
  }
}

static void write_probe(hid_t file, const sweep_table *t) {
  const pipeline_probe_result *c = columns(t);
  int64_t inputs = c ? c->inputs : 0, sizes = c ? c->sizes : 0;
  size_t cells = (size_t)(t->points * inputs * sizes);
  double *mean = lcfm_malloc((cells + 1) * sizeof *mean),
         *std = lcfm_malloc((cells + 1) * sizeof *std);
  for (size_t i = 0; i < cells; i++) mean[i] = std[i] = NAN;
  for (int64_t k = 0; k < t->points && c; k++) {
    const pipeline_probe_result *r = &t->probe[k];
    if (!r->inputs) continue;
    if (!same_columns(c, r)) {
      lcfm_warn(
          "sweep point %lld has other probe inputs or sizes than the first done point: left out",
          (long long)k);
      continue;
    }
    memcpy(mean + (size_t)(k * inputs * sizes), r->mean, (size_t)(inputs * sizes) * sizeof *mean);
    memcpy(std + (size_t)(k * inputs * sizes), r->std, (size_t)(inputs * sizes) * sizeof *std);
  }
  pipeline_write_strings(file, "/probe/inputs", c ? &c->names[0][0] : "", inputs, 32);
  pipeline_write_int64s(file, "/probe/sizes", c ? c->size : NULL, sizes);
  int64_t dims[3] = {t->points, inputs, sizes};
  pipeline_write_doubles(file, "/probe/r2_mean", mean, 3, dims);
  pipeline_write_doubles(file, "/probe/r2_std", std, 3, dims);
  free(mean), free(std);
}

static void write_linear(hid_t file, const sweep_table *t) {
  const pipeline_probe_result *l = latent_columns(t);
  int64_t latents = l ? l->latents : 0;
  size_t cells = (size_t)(t->points * latents);
  double *r2 = lcfm_malloc((cells + 1) * sizeof *r2),
         *accuracy = lcfm_malloc((cells + 1) * sizeof *accuracy);
  double *majority = lcfm_malloc((size_t)t->points * sizeof *majority);
  for (size_t i = 0; i < cells; i++) r2[i] = accuracy[i] = NAN;
  for (int64_t k = 0; k < t->points; k++) {
    const pipeline_probe_result *r = &t->probe[k];
    majority[k] = r->latents ? r->majority : NAN;
    if (!l || !r->latents || !same_latents(l, r)) continue;
    memcpy(r2 + k * latents, r->linear_r2, (size_t)latents * sizeof *r2);
    memcpy(accuracy + k * latents, r->accuracy, (size_t)latents * sizeof *accuracy);
  }
  pipeline_write_strings(file, "/linear/inputs", l ? &l->latent_names[0][0] : "", latents, 32);
  int64_t dims[2] = {t->points, latents};
  pipeline_write_doubles(file, "/linear/r2_test", r2, 2, dims);
  pipeline_write_doubles(file, "/linear/accuracy_test", accuracy, 2, dims);
  pipeline_write_doubles(file, "/linear/majority_accuracy", majority, 1, dims);
  free(r2), free(accuracy), free(majority);
}

static void write_table(const sweep_table *t, const lcfm_job *job, const char *path,
                        const lcfm_provenance *prov) {
  char partial[PIPELINE_PATH_MAX + 16], keys[4096] = "";
  for (int i = 0; i < t->lines; i++) {
    strncat(keys, lcfm_job_sweep_key(job, i), sizeof keys - strlen(keys) - 2);
    strncat(keys, "\n", sizeof keys - strlen(keys) - 1);
  }
  hid_t file = pipeline_create_file(path, partial, sizeof partial);
  lcfm_h5_write_string_attribute(file, "schema", SWEEP_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", 1);
  lcfm_h5_write_string_attribute(file, "grid_keys", keys);
  lcfm_h5_write_string_attribute(
      file, "status_codes", "0 missing, 1 incomplete (running, failed, requeued or stale), 2 done");
  lcfm_provenance_write(file, prov);
  pipeline_write_int64s(file, "/points/index", t->index, t->points);
  pipeline_write_int32s(file, "/points/status", t->status, t->points);
  int64_t n = t->points;
  pipeline_write_doubles(file, "/points/wall_seconds", t->wall, 1, &n);
  pipeline_write_strings(file, "/points/directory", &t->dirs[0][0], t->points, DIR_WIDTH);
  write_grid(file, t, job);
  write_probe(file, t);
  write_linear(file, t);
  pipeline_publish_file(file, partial, path);
}

/* "3,7,12": the points that are not done, for sbatch --array. */
static void print_missing(const sweep_table *t, const lcfm_job *job) {
  int64_t missing = 0;
  for (int64_t k = 0; k < t->points; k++) missing += t->status[k] != STATUS_DONE;
  if (!missing) {
    printf("all %lld points done\n", (long long)t->points);
    return;
  }
  printf("%lld of %lld points not done:", (long long)missing, (long long)t->points);
  for (int64_t k = 0; k < t->points; k++)
    if (t->status[k] != STATUS_DONE) printf(" %lld", (long long)k);
  printf("\nrun them with: sbatch --array=");
  int first = 1;
  for (int64_t k = 0; k < t->points; k++)
    if (t->status[k] != STATUS_DONE) printf("%s%lld", first ? "" : ",", (long long)k), first = 0;
  printf(" slurm/sweep.sbatch %s\n", lcfm_job_path(job));
}

int lcfm_sweep_collect(MPI_Comm comm, const lcfm_job *job, int argc, char **argv) {
  int rank = lcfm_log_rank();
  sweep_table t = {.points = lcfm_sweep_point_count(job), .lines = lcfm_job_sweep_count(job)};
  t.index = lcfm_calloc((size_t)t.points, sizeof *t.index);
  t.status = lcfm_calloc((size_t)t.points, sizeof *t.status);
  t.wall = lcfm_malloc((size_t)t.points * sizeof *t.wall);
  t.dirs = lcfm_calloc((size_t)t.points, sizeof *t.dirs);
  t.probe = lcfm_calloc((size_t)t.points, sizeof *t.probe);
  for (int64_t k = 0; k < t.points; k++) t.wall[k] = NAN;
  for (int64_t k = 0; k < t.points; k++) {
    lcfm_job *point;
    lcfm_pipeline *p = pipeline_sweep_plan_point(comm, job, k, &point);
    LCFM_CHECK(p, "internal: sweep point %lld stopped being valid", (long long)k);
    if (rank == 0) fill_point(&t, k, job, p);
    lcfm_pipeline_free(p);
    lcfm_job_free(point);
  }
  char path[PIPELINE_PATH_MAX];
  const char *table = lcfm_job_settings(job)->sweep.table;
  if (table[0]) snprintf(path, sizeof path, "%s", table);
  else snprintf(path, sizeof path, "%.4000s/sweep.h5", lcfm_job_settings(job)->sweep.directory);
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, comm, "sweep", job, argc, argv);
  if (rank == 0) {
    char *slash = strrchr(path, '/');
    if (slash) {
      *slash = '\0';
      LCFM_CHECK(pipeline_make_directories(path) == 0, "%s: cannot create the directory", path);
      *slash = '/';
    }
    print_table(&t, job);
    write_table(&t, job, path, &prov);
    printf("wrote %s\n", path);
    print_missing(&t, job);
    fflush(stdout);
  }
  for (int64_t k = 0; k < t.points; k++) pipeline_probe_free(&t.probe[k]);
  free(t.index), free(t.status), free(t.wall), free(t.dirs), free(t.probe);
  lcfm_log_success("sweep --collect");
  return LCFM_EXIT_OK;
}
