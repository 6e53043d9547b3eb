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
#include "lcfm/probe_draw.h"

enum { MAX_SIZES = 64 };

typedef struct {
  int64_t sizes[MAX_SIZES];
  int size_count, runs;
  lcfm_probe_protocol protocol;
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
  p->seed = lcfm_job_seed(job);
  p->protocol = (lcfm_probe_protocol){.test_fraction = lcfm_job_real(job, "probe", "test_fraction"),
                                      .stopping_fraction = lcfm_job_real(job, "probe", "stopping_fraction"),
                                      .test_objects = lcfm_job_int(job, "probe", "test_objects"),
                                      .stopping_objects = lcfm_job_int(job, "probe", "stopping_objects"),
                                      .seed = p->seed};
  if (p->protocol.test_fraction + p->protocol.stopping_fraction > 0.95) {
    lcfm_job_error(job, "probe", "stopping_fraction", "%g with test_fraction %g leaves less than 5%% of the stars for training",
                   p->protocol.stopping_fraction, p->protocol.test_fraction);
    return 1;
  }
  p->mlp = (lcfm_mlp_probe_config){.hidden = (int)lcfm_job_int(job, "probe", "mlp_hidden"),
                                   .steps = (int)lcfm_job_int(job, "probe", "mlp_steps"),
                                   .batch = (int)lcfm_job_int(job, "probe", "mlp_batch"),
                                   .lr = 1e-3f, .weight_decay = 1e-4f};
  return 0;
}

int lcfm_probe_settings_check(const lcfm_job *job) {
  probe_settings p;
  return read_settings(&p, job);
}

int lcfm_probe_is_test_source(uint64_t seed, double test_fraction, int64_t source) {
  lcfm_probe_protocol run0 = {.test_fraction = test_fraction, .seed = seed};
  return lcfm_probe_star_role(&run0, 0, source) == LCFM_STAR_TEST;
}

/* Every run's draw (probe_draw.h), the same on every rank. */
static lcfm_probe_draw *make_draws(const lcfm_probe_data *d, const probe_settings *p) {
  lcfm_probe_draw *draws = lcfm_malloc((size_t)p->runs * sizeof *draws);
  for (int r = 0; r < p->runs; r++) lcfm_probe_draw_make(&draws[r], &p->protocol, r, d->source, d->objects);
  return draws;
}

static void free_draws(lcfm_probe_draw *draws, int runs) {
  for (int r = 0; r < runs; r++) lcfm_probe_draw_free(&draws[r]);
  free(draws);
}

static float *gather_rows(const lcfm_probe_input *in, const int64_t *rows, int64_t n) {
  float *x = lcfm_malloc((size_t)n * (size_t)in->dim * sizeof *x);
  for (int64_t i = 0; i < n; i++) memcpy(x + i * in->dim, in->x + rows[i] * in->dim, (size_t)in->dim * sizeof *x);
  return x;
}

static float *gather_targets(const lcfm_probe_data *d, const int64_t *rows, int64_t n) {
  float *y = lcfm_malloc((size_t)n * sizeof *y);
  for (int64_t i = 0; i < n; i++) y[i] = d->target[rows[i]];
  return y;
}

/* R^2 of one task: input `in`, training size n, run `draw`. The oracle needs no training. */
static double probe_task(const lcfm_probe_data *d, const lcfm_probe_input *in, int64_t n, const lcfm_probe_draw *draw,
                         const probe_settings *p, int run) {
  float *y_test = gather_targets(d, draw->test, draw->test_count);
  float *x_test = gather_rows(in, draw->test, draw->test_count);
  double r2;
  if (in->is_oracle) {
    r2 = lcfm_r2(x_test, y_test, draw->test_count);
  } else if (n > draw->training_count) {
    r2 = NAN;
  } else {
    float *x_train = gather_rows(in, draw->training, n), *y_train = gather_targets(d, draw->training, n);
    float *x_stop = gather_rows(in, draw->stopping, draw->stopping_count);
    float *y_stop = gather_targets(d, draw->stopping, draw->stopping_count);
    r2 = lcfm_mlp_probe_r2(&p->mlp, (lcfm_mlp_rows){x_train, y_train, (int)n},
                           (lcfm_mlp_rows){x_stop, y_stop, (int)draw->stopping_count},
                           (lcfm_mlp_rows){x_test, y_test, (int)draw->test_count}, in->dim, p->seed + 7919u * (uint64_t)run);
    free(x_train), free(y_train), free(x_stop), free(y_stop);
  }
  free(x_test), free(y_test);
  return r2;
}

/* r2[input][size][run]; tasks spread round-robin over the ranks, summed at the end. */
static double *mlp_probes(MPI_Comm comm, const lcfm_probe_data *d, const lcfm_probe_draw *draws, const probe_settings *p) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  size_t cells = (size_t)d->input_count * (size_t)p->size_count * (size_t)p->runs;
  double *r2 = lcfm_calloc(cells, sizeof *r2);
  lcfm_progress progress;
  lcfm_progress_start(&progress, "MLP probes", (int64_t)cells);
  for (size_t task = 0; task < cells; task++) {
    int input = (int)(task / ((size_t)p->size_count * p->runs)), size = (int)(task / p->runs % p->size_count), run = (int)(task % p->runs);
    if ((int)(task % (size_t)ranks) != rank) continue;
    r2[task] = probe_task(d, &d->inputs[input], p->sizes[size], &draws[run], p, run);
    lcfm_progress_update(&progress, (int64_t)task + 1);
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, r2, (int)cells, MPI_DOUBLE, MPI_SUM, comm));
  lcfm_progress_finish(&progress, (int64_t)cells);
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
                            const char *target) {
  lcfm_log("MLP probe of %s: R^2 mean +- std over %d runs, each with its own training objects and test stars", target,
           p->runs);
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

/* /mlp/draw [runs, N]: what each object was in each run (probe_draw.h's codes). */
static void write_draws(hid_t file, hid_t dxpl, const lcfm_probe_data *d, const lcfm_probe_draw *draws, int runs, int rank) {
  int64_t *code = lcfm_malloc((size_t)runs * (size_t)d->objects * sizeof *code);
  for (int r = 0; r < runs; r++) lcfm_probe_draw_codes(&draws[r], d->objects, code + (size_t)r * (size_t)d->objects);
  write_table(file, dxpl, "/mlp/draw", H5T_NATIVE_INT64, runs, d->objects, code, rank);
  free(code);
}

/* /objects/...: per object its id, instrument, target, whether its star is one of the linear
 * probes' held-out stars (run 0's test stars), and the oracle's prediction when there is one. */
static void write_objects(hid_t file, hid_t dxpl, const lcfm_probe_data *d, const probe_settings *p, int rank) {
  double *column = lcfm_malloc((size_t)d->objects * sizeof *column);
  uint8_t *test = lcfm_malloc((size_t)d->objects);
  for (int64_t i = 0; i < d->objects; i++) {
    column[i] = d->target[i];
    test[i] = (uint8_t)lcfm_probe_is_test_source(p->seed, p->protocol.test_fraction, d->source[i]);
  }
  write_table(file, dxpl, "/objects/id", H5T_NATIVE_INT64, d->objects, 0, d->id, rank);
  write_table(file, dxpl, "/objects/instrument", H5T_NATIVE_INT32, d->objects, 0, d->instrument, rank);
  write_table(file, dxpl, "/objects/target", H5T_NATIVE_DOUBLE, d->objects, 0, column, rank);
  write_table(file, dxpl, "/objects/test", H5T_NATIVE_UINT8, d->objects, 0, test, rank);
  for (int k = 0; k < d->input_count; k++)
    if (d->inputs[k].is_oracle) {
      for (int64_t i = 0; i < d->objects; i++) column[i] = d->inputs[k].x[i];
      write_table(file, dxpl, "/objects/oracle", H5T_NATIVE_DOUBLE, d->objects, 0, column, rank);
    }
  free(column), free(test);
}

/* Logs how many objects each run trains on at most, stops on and tests on. */
static void log_protocol(const lcfm_probe_draw *draws, const probe_settings *p) {
  int64_t lo[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, hi[3] = {0, 0, 0};
  for (int r = 0; r < p->runs; r++) {
    int64_t n[3] = {draws[r].training_count, draws[r].stopping_count, draws[r].test_count};
    for (int k = 0; k < 3; k++) lo[k] = n[k] < lo[k] ? n[k] : lo[k], hi[k] = n[k] > hi[k] ? n[k] : hi[k];
  }
  lcfm_log("MLP probe protocol: %d runs, each drawing its stars afresh: %lld-%lld objects of training stars, an "
           "early-stopping pool of %lld-%lld objects of other stars (not counted in n), %lld-%lld test objects of "
           "test stars (test_fraction %g, stopping_fraction %g)",
           p->runs, (long long)lo[0], (long long)hi[0], (long long)lo[1], (long long)hi[1], (long long)lo[2],
           (long long)hi[2], p->protocol.test_fraction, p->protocol.stopping_fraction);
}

/* The ScaLAPACK linear probes and PCA maps over all objects (linear_probe.h), printed. */
static int run_linear_probes(lcfm_linear_probe *linear, MPI_Comm comm, const lcfm_job *job, const probe_settings *p,
                             const char *target) {
  lcfm_linear_settings ls = {.store = lcfm_job_string(job, "probe", "store"),
                             .embeddings = lcfm_job_string(job, "probe", "embeddings"),
                             .baseline = lcfm_job_string(job, "probe", "baseline_embeddings"),
                             .target = target, .test_fraction = p->protocol.test_fraction, .seed = p->seed,
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
                                    (int)lcfm_job_int(job, "probe", "raw_points"), lcfm_job_string(job, "probe", "fields"),
                                    why, sizeof why);
  int any = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, comm));
  if (any) {
    if (lcfm_log_rank() == 0) fprintf(stderr, "lcfm probe: %s\nFAILED\n", why);
    return LCFM_EXIT_RUNTIME;
  }
  if (lcfm_probe_oracle_add(&d, lcfm_job_string(job, "probe", "store"), target, why, sizeof why))
    lcfm_log("oracle: %s", why);
  else
    lcfm_log("no oracle input: %s", why);
  lcfm_probe_draw *draws = make_draws(&d, &p);
  lcfm_log("probe %s: %lld objects, %d inputs", target, (long long)d.objects, d.input_count);
  log_protocol(draws, &p);
  double *r2 = mlp_probes(comm, &d, draws, &p);
  double *mean = lcfm_malloc((size_t)d.input_count * p.size_count * sizeof *mean);
  double *std = lcfm_malloc((size_t)d.input_count * p.size_count * sizeof *std);
  summarise(r2, d.input_count, &p, mean, std);
  print_mlp_table(&d, &p, mean, std, target);
  lcfm_linear_probe linear;
  if (run_linear_probes(&linear, comm, job, &p, target)) return LCFM_EXIT_RUNTIME;

  int rank;
  MPI_Comm_rank(comm, &rank);
  char partial[4096];
  hid_t file = lcfm_h5_create_partial(comm, output, partial, sizeof partial);
  hid_t dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_write_string_attribute(file, "schema", LCFM_PROBE_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", 2);
  lcfm_h5_write_string_attribute(file, "target", target);
  lcfm_provenance_write(file, prov);
  write_mlp(file, dxpl, &d, &p, r2, mean, std, rank);
  write_draws(file, dxpl, &d, draws, p.runs, rank);
  write_objects(file, dxpl, &d, &p, rank);
  lcfm_linear_probe_write(&linear, file, dxpl, target);
  H5Pclose(dxpl);
  lcfm_h5_publish(comm, file, partial, output);
  lcfm_log("wrote %s", output);
  lcfm_log_success("probe");
  free(r2), free(mean), free(std);
  free_draws(draws, p.runs);
  lcfm_probe_data_free(&d);
  lcfm_linear_probe_free(&linear);
  return LCFM_EXIT_OK;
}
