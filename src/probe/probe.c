/* probe.c: `lcfm probe` (see probe.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/h5io.h"
#include "lcfm/linear_probe.h"
#include "lcfm/log.h"
#include "lcfm/mlp_probe.h"
#include "lcfm/nn.h"
#include "lcfm/probe.h"
#include "lcfm/probe_data.h"
#include "lcfm/rng.h"

enum { LCFM_STREAM_PROBE_SPLIT = LCFM_STREAM_USER + 301, LCFM_STREAM_PROBE_SHUFFLE = LCFM_STREAM_USER + 302, MAX_SIZES = 64 };

typedef struct {
  int64_t sizes[MAX_SIZES];
  int size_count, runs;
  int64_t test_objects;
  double test_fraction;
  lcfm_mlp_probe_config mlp;
  uint64_t seed;
} probe_settings;

static int read_settings(probe_settings *p, const lcfm_job *job) {
  memset(p, 0, sizeof *p);
  char sizes[512];
  snprintf(sizes, sizeof sizes, "%s", lcfm_job_string(job, "probe", "sizes"));
  for (char *t = strtok(sizes, " ,\t"); t; t = strtok(NULL, " ,\t")) {
    char *end;
    long long v = strtoll(t, &end, 10);
    if (*end || v < 2 || p->size_count == MAX_SIZES) {
      lcfm_job_error(job, "probe", "sizes", "'%s' is not a training size of at least 2 (at most %d sizes)", t, MAX_SIZES);
      return 1;
    }
    p->sizes[p->size_count++] = v;
  }
  if (!p->size_count) {
    lcfm_job_error(job, "probe", "sizes", "no training size given");
    return 1;
  }
  p->runs = (int)lcfm_job_int(job, "probe", "runs");
  p->test_objects = lcfm_job_int(job, "probe", "test_objects");
  p->test_fraction = lcfm_job_real(job, "probe", "test_fraction");
  p->mlp = (lcfm_mlp_probe_config){.hidden = (int)lcfm_job_int(job, "probe", "mlp_hidden"),
                                   .steps = (int)lcfm_job_int(job, "probe", "mlp_steps"),
                                   .batch = (int)lcfm_job_int(job, "probe", "mlp_batch"),
                                   .lr = 1e-3f, .weight_decay = 1e-4f,
                                   .validation = (float)lcfm_job_real(job, "probe", "mlp_validation")};
  p->seed = lcfm_job_seed(job);
  return 0;
}

int lcfm_probe_settings_check(const lcfm_job *job) {
  probe_settings p;
  return read_settings(&p, job);
}

int lcfm_probe_is_test_source(uint64_t seed, double test_fraction, int64_t source) {
  return lcfm_rng_uniform(seed, LCFM_STREAM_PROBE_SPLIT, (uint64_t)source) < test_fraction;
}

/* Keyed Fisher-Yates shuffle of idx[0..n). */
static void shuffle(int64_t *idx, int64_t n, uint64_t seed, uint64_t stream_index) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)lcfm_rng_below(seed, LCFM_STREAM_PROBE_SHUFFLE, (stream_index << 32) + (uint64_t)i, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j], idx[j] = t;
  }
}

typedef struct {
  uint8_t *test;      /* per object: 1 if its source is held out */
  int64_t *pool, pool_count;   /* training objects */
  int64_t *tests, test_count;  /* the MLP probe's test objects */
} split;

static void make_split(split *s, const lcfm_probe_data *d, const probe_settings *p) {
  s->test = lcfm_malloc((size_t)d->objects);
  s->pool = lcfm_malloc((size_t)d->objects * sizeof *s->pool);
  s->tests = lcfm_malloc((size_t)d->objects * sizeof *s->tests);
  s->pool_count = s->test_count = 0;
  for (int64_t i = 0; i < d->objects; i++) {
    s->test[i] = (uint8_t)lcfm_probe_is_test_source(p->seed, p->test_fraction, d->source[i]);
    if (s->test[i]) s->tests[s->test_count++] = i;
    else s->pool[s->pool_count++] = i;
  }
  shuffle(s->tests, s->test_count, p->seed, 1u << 20);
  if (s->test_count > p->test_objects) s->test_count = p->test_objects;
}

static float *gather_rows(const lcfm_probe_input *in, const int64_t *rows, int64_t n) {
  float *x = lcfm_malloc((size_t)n * (size_t)in->dim * sizeof *x);
  for (int64_t i = 0; i < n; i++) memcpy(x + i * in->dim, in->x + rows[i] * in->dim, (size_t)in->dim * sizeof *x);
  return x;
}

/* r2[input][size][run]; tasks spread round-robin over the ranks, summed at the end. */
static double *mlp_probes(MPI_Comm comm, const lcfm_probe_data *d, const split *s, const probe_settings *p) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  size_t cells = (size_t)d->input_count * (size_t)p->size_count * (size_t)p->runs;
  double *r2 = lcfm_calloc(cells, sizeof *r2);
  float *y_test = lcfm_malloc((size_t)s->test_count * sizeof *y_test);
  for (int64_t i = 0; i < s->test_count; i++) y_test[i] = d->target[s->tests[i]];
  int64_t *order = lcfm_malloc((size_t)s->pool_count * sizeof *order);
  float *y_train = lcfm_malloc((size_t)s->pool_count * sizeof *y_train);
  lcfm_progress progress;
  lcfm_progress_start(&progress, "MLP probes", (int64_t)cells);
  for (size_t task = 0; task < cells; task++) {
    int input = (int)(task / ((size_t)p->size_count * p->runs)), size = (int)(task / p->runs % p->size_count), run = (int)(task % p->runs);
    if ((int)(task % (size_t)ranks) != rank) continue;
    int64_t n = p->sizes[size];
    if (n > s->pool_count) {
      r2[task] = NAN;
      continue;
    }
    memcpy(order, s->pool, (size_t)s->pool_count * sizeof *order);
    shuffle(order, s->pool_count, p->seed, (uint64_t)run); /* nested: size n takes the first n */
    for (int64_t i = 0; i < n; i++) y_train[i] = d->target[order[i]];
    const lcfm_probe_input *in = &d->inputs[input];
    float *x_train = gather_rows(in, order, n), *x_test = gather_rows(in, s->tests, s->test_count);
    r2[task] = lcfm_mlp_probe_r2(&p->mlp, x_train, y_train, (int)n, x_test, y_test, (int)s->test_count, in->dim,
                                 p->seed + 7919u * (uint64_t)run);
    free(x_train), free(x_test);
    lcfm_progress_update(&progress, (int64_t)task + 1);
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, r2, (int)cells, MPI_DOUBLE, MPI_SUM, comm));
  lcfm_progress_finish(&progress, (int64_t)cells);
  free(order), free(y_train), free(y_test);
  return r2;
}

static void summarise(const double *r2, int inputs, const probe_settings *p, double *mean, double *std) {
  for (int i = 0; i < inputs; i++)
    for (int k = 0; k < p->size_count; k++) {
      const double *v = r2 + ((size_t)i * p->size_count + k) * p->runs;
      double m = 0, s2 = 0;
      for (int r = 0; r < p->runs; r++) m += v[r];
      m /= p->runs;
      for (int r = 0; r < p->runs; r++) s2 += (v[r] - m) * (v[r] - m);
      mean[i * p->size_count + k] = m;
      std[i * p->size_count + k] = p->runs > 1 ? sqrt(s2 / (p->runs - 1)) : 0;
    }
}

static void print_mlp_table(const lcfm_probe_data *d, const probe_settings *p, const double *mean, const double *std,
                            const char *target, int64_t tests) {
  lcfm_log("MLP probe of %s: R^2 mean +- std over %d runs, %lld test objects of held-out sources", target, p->runs,
           (long long)tests);
  if (lcfm_log_rank() != 0) return;
  printf("%8s", "size");
  for (int i = 0; i < d->input_count; i++) printf(" %18s", d->inputs[i].name);
  printf("\n");
  for (int k = 0; k < p->size_count; k++) {
    printf("%8lld", (long long)p->sizes[k]);
    for (int i = 0; i < d->input_count; i++) printf("    %6.3f +- %5.3f", mean[i * p->size_count + k], std[i * p->size_count + k]);
    printf("\n");
  }
  fflush(stdout);
}

/* ---- the probe store ---- */

static void write_table(hid_t file, hid_t dxpl, const char *name, hid_t type, int64_t rows, int64_t cols,
                        const void *data, int rank) {
  hid_t dset = lcfm_h5_create_dataset(file, name, type, rows, cols);
  lcfm_h5_transfer_rows(dset, type, dxpl, 0, rank == 0 ? rows : 0, cols, (void *)data, 1);
  H5Dclose(dset);
}

static hid_t string_type(size_t n) {
  hid_t t = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
  LCFM_CHECK_H5(H5Tset_size(t, n));
  return t;
}

static void write_mlp(hid_t file, hid_t dxpl, const lcfm_probe_data *d, const probe_settings *p, const double *r2,
                      const double *mean, const double *std, int rank) {
  char names[LCFM_PROBE_MAX_INPUTS][32];
  for (int i = 0; i < d->input_count; i++) memcpy(names[i], d->inputs[i].name, 32);
  hid_t t32 = string_type(32);
  write_table(file, dxpl, "/mlp/inputs", t32, d->input_count, 0, names, rank);
  H5Tclose(t32);
  write_table(file, dxpl, "/mlp/sizes", H5T_NATIVE_INT64, p->size_count, 0, p->sizes, rank);
  write_table(file, dxpl, "/mlp/r2", H5T_NATIVE_DOUBLE, d->input_count, (int64_t)p->size_count * p->runs, r2, rank);
  write_table(file, dxpl, "/mlp/r2_mean", H5T_NATIVE_DOUBLE, d->input_count, p->size_count, mean, rank);
  write_table(file, dxpl, "/mlp/r2_std", H5T_NATIVE_DOUBLE, d->input_count, p->size_count, std, rank);
}

static void write_objects(hid_t file, hid_t dxpl, const lcfm_probe_data *d, const split *s, int rank) {
  double *target = lcfm_malloc((size_t)d->objects * sizeof *target);
  for (int64_t i = 0; i < d->objects; i++) target[i] = d->target[i];
  write_table(file, dxpl, "/objects/id", H5T_NATIVE_INT64, d->objects, 0, d->id, rank);
  write_table(file, dxpl, "/objects/instrument", H5T_NATIVE_INT32, d->objects, 0, d->instrument, rank);
  write_table(file, dxpl, "/objects/target", H5T_NATIVE_DOUBLE, d->objects, 0, target, rank);
  write_table(file, dxpl, "/objects/test", H5T_NATIVE_UINT8, d->objects, 0, s->test, rank);
  free(target);
}

/* The ScaLAPACK linear probes and PCA maps over all objects (linear_probe.h), printed. */
static int run_linear_probes(lcfm_linear_probe *linear, MPI_Comm comm, const lcfm_job *job, const probe_settings *p,
                             const char *target) {
  lcfm_linear_settings ls = {.store = lcfm_job_string(job, "probe", "store"),
                             .embeddings = lcfm_job_string(job, "probe", "embeddings"),
                             .baseline = lcfm_job_string(job, "probe", "baseline_embeddings"),
                             .target = target, .test_fraction = p->test_fraction, .seed = p->seed,
                             .max_classes = (int)lcfm_job_int(job, "probe", "linear_max_classes")};
  char why[2048] = "";
  if (lcfm_linear_probe_run(linear, comm, &ls, why, sizeof why)) {
    if (lcfm_log_rank() == 0) fprintf(stderr, "lcfm probe: %s\nFAILED\n", why);
    return 1;
  }
  lcfm_linear_probe_print(linear, target);
  return 0;
}

int lcfm_probe_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  probe_settings p;
  if (read_settings(&p, job)) return LCFM_EXIT_USAGE;
  const char *target = lcfm_job_string(job, "probe", "target"), *output = lcfm_job_string(job, "probe", "output");
  lcfm_nn_set_threads(1);
  lcfm_probe_data d;
  char why[2048] = "";
  int failed = lcfm_probe_data_load(&d, comm, lcfm_job_string(job, "probe", "store"), lcfm_job_string(job, "probe", "embeddings"),
                                    lcfm_job_string(job, "probe", "baseline_embeddings"), target,
                                    (int)lcfm_job_int(job, "probe", "raw_points"), why, sizeof why);
  int any = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, comm));
  if (any) {
    if (lcfm_log_rank() == 0) fprintf(stderr, "lcfm probe: %s\nFAILED\n", why);
    return LCFM_EXIT_RUNTIME;
  }
  split s;
  make_split(&s, &d, &p);
  lcfm_log("probe %s: %lld objects, %d inputs, %lld training / %lld test objects", target, (long long)d.objects,
           d.input_count, (long long)s.pool_count, (long long)s.test_count);
  double *r2 = mlp_probes(comm, &d, &s, &p);
  double *mean = lcfm_malloc((size_t)d.input_count * p.size_count * sizeof *mean);
  double *std = lcfm_malloc((size_t)d.input_count * p.size_count * sizeof *std);
  summarise(r2, d.input_count, &p, mean, std);
  print_mlp_table(&d, &p, mean, std, target, s.test_count);
  lcfm_linear_probe linear;
  if (run_linear_probes(&linear, comm, job, &p, target)) return LCFM_EXIT_RUNTIME;

  int rank;
  MPI_Comm_rank(comm, &rank);
  char partial[4096];
  hid_t file = lcfm_h5_create_partial(comm, output, partial, sizeof partial);
  hid_t dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_write_string_attribute(file, "schema", LCFM_PROBE_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", 1);
  lcfm_h5_write_string_attribute(file, "target", target);
  lcfm_provenance_write(file, prov);
  write_mlp(file, dxpl, &d, &p, r2, mean, std, rank);
  write_objects(file, dxpl, &d, &s, rank);
  lcfm_linear_probe_write(&linear, file, dxpl, target);
  H5Pclose(dxpl);
  lcfm_h5_publish(comm, file, partial, output);
  lcfm_log("wrote %s", output);
  lcfm_log_success("probe");
  free(r2), free(mean), free(std), free(s.test), free(s.pool), free(s.tests);
  lcfm_probe_data_free(&d);
  lcfm_linear_probe_free(&linear);
  return LCFM_EXIT_OK;
}
