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
#include "lcfm/probe_sample.h"
#include "lcfm/store.h"
#include "lcfm/store_check.h"
#include "probe_read_internal.h"
#include "probe_util_internal.h"

enum { MAX_SIZES = 64 };

static const probe_count_list size_list = {
    "sizes", 2, MAX_SIZES, "training size", "sizes", "a training size of at least 2"};

typedef struct {
  int64_t sizes[MAX_SIZES];
  int size_count, runs;
  lcfm_probe_protocol protocol;
  lcfm_mlp_probe_config mlp;
  uint64_t seed;
} probe_settings;

static int read_settings(probe_settings *p, const lcfm_job *job) {
  memset(p, 0, sizeof *p);
  const lcfm_settings_probe *probe_keys = &lcfm_job_settings(job)->probe;
  const char *sizes = probe_keys->sizes;
  if (probe_parse_counts(job, &size_list, sizes, p->sizes, &p->size_count)) return 1;
  p->runs = (int)probe_keys->runs;
  p->seed = lcfm_job_seed(job);
  p->protocol = (lcfm_probe_protocol){.test_fraction = probe_keys->test_fraction,
                                      .stopping_fraction = probe_keys->stopping_fraction,
                                      .test_objects = probe_keys->test_objects,
                                      .stopping_objects = probe_keys->stopping_objects,
                                      .seed = p->seed};
  if (p->protocol.test_fraction + p->protocol.stopping_fraction > 0.95) {
    lcfm_job_error(job, "probe", "stopping_fraction",
                   "%g with test_fraction %g leaves less than 5%% of the stars for training",
                   p->protocol.stopping_fraction, p->protocol.test_fraction);
    return 1;
  }
  p->mlp = (lcfm_mlp_probe_config){.hidden = (int)probe_keys->mlp_hidden,
                                   .steps = (int)probe_keys->mlp_steps,
                                   .batch = (int)probe_keys->mlp_batch,
                                   .lr = 1e-3f,
                                   .weight_decay = 1e-4f};
  return 0;
}

int lcfm_probe_settings_check(const lcfm_job *job) {
  probe_settings p;
  return read_settings(&p, job);
}

/* The runs' draws (probe_sample.h), the same on every rank. */
static int make_sample(lcfm_probe_sample *sample, MPI_Comm comm, const lcfm_job *job,
                       const probe_settings *p, int64_t source_limit, char *why, size_t len) {
  int64_t largest = 0;
  for (int k = 0; k < p->size_count; k++) largest = p->sizes[k] > largest ? p->sizes[k] : largest;
  return lcfm_probe_sample_make(sample, comm, lcfm_job_settings(job)->probe.store,
                                lcfm_job_settings(job)->probe.fields, &p->protocol, p->runs,
                                largest, source_limit, why, len);
}

/* The tasks (input, size, run) in /mlp/r2's order (input major, run minor); this rank takes a
 * contiguous share of them in run-major order, so that it reads the objects of few runs. */
typedef struct {
  int inputs, sizes, runs, first, count;
} task_share;

static task_share share_tasks(MPI_Comm comm, int inputs, const probe_settings *p) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int tasks = inputs * p->size_count * p->runs;
  task_share t = {inputs, p->size_count, p->runs, 0, 0};
  t.first = (int)((int64_t)tasks * rank / ranks);
  t.count = (int)((int64_t)tasks * (rank + 1) / ranks) - t.first;
  return t;
}

/* The k-th task of a share: its input, size and run, and its cell of /mlp/r2. */
static size_t share_task(const task_share *t, int k, int *input, int *size, int *run) {
  int u = t->first + k;
  *run = u / (t->inputs * t->sizes), *input = u % (t->inputs * t->sizes) / t->sizes,
  *size = u % t->sizes;
  return ((size_t)*input * t->sizes + *size) * t->runs + *run;
}

static int increasing(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int64_t append(int64_t *to, int64_t n, const int64_t *from, int64_t count) {
  memcpy(to + n, from, (size_t)count * sizeof *from);
  return n + count;
}

/* The probed objects this rank's tasks use (increasing, each once); *count of them. */
static int64_t *objects_used(const lcfm_probe_sample *sample, const task_share *t,
                             const probe_settings *p, int64_t *count) {
  int64_t total = 0, n = 0;
  for (int r = 0; r < p->runs; r++) {
    const lcfm_probe_draw *d = &sample->draws[r];
    total += d->training_count + d->test_count + d->stopping_count;
  }
  int64_t *used = lcfm_malloc((size_t)(total ? total : 1) * sizeof *used);
  int last_run = -1;
  for (int k = 0; k < t->count; k++) {
    int input, size, run;
    share_task(t, k, &input, &size, &run);
    if (run == last_run) continue;
    const lcfm_probe_draw *d = &sample->draws[run];
    n = append(used, n, d->training, d->training_count),
    n = append(used, n, d->test, d->test_count);
    n = append(used, n, d->stopping, d->stopping_count);
    last_run = run;
  }
  qsort(used, (size_t)n, sizeof *used, increasing);
  int64_t distinct = 0;
  for (int64_t i = 0; i < n; i++)
    if (distinct == 0 || used[i] != used[distinct - 1]) used[distinct++] = used[i];
  *count = distinct;
  return used;
}

/* A run's draw with its objects as rows of the loaded data (rows: the loaded probed objects). */
static void local_draw(lcfm_probe_draw *local, const lcfm_probe_draw *d,
                       const lcfm_probe_data *data) {
  *local = *d;
  const int64_t *from[3] = {d->training, d->test, d->stopping};
  int64_t n[3] = {d->training_count, d->test_count, d->stopping_count}, *to[3];
  for (int k = 0; k < 3; k++) {
    to[k] = lcfm_malloc((size_t)(n[k] ? n[k] : 1) * sizeof *to[k]);
    for (int64_t i = 0; i < n[k]; i++) {
      const int64_t *at =
          bsearch(&from[k][i], data->probed, (size_t)data->objects, sizeof *at, increasing);
      LCFM_CHECK(at != NULL, "probe: object %lld of a run is not loaded", (long long)from[k][i]);
      to[k][i] = at - data->probed;
    }
  }
  local->training = to[0], local->test = to[1], local->stopping = to[2];
}

static float *gather_rows(const lcfm_probe_input *in, const int64_t *rows, int64_t n) {
  float *x = lcfm_malloc((size_t)(n ? n : 1) * (size_t)in->dim * sizeof *x);
  for (int64_t i = 0; i < n; i++)
    memcpy(x + i * in->dim, in->x + rows[i] * in->dim, (size_t)in->dim * sizeof *x);
  return x;
}

static float *gather_targets(const lcfm_probe_data *d, const int64_t *rows, int64_t n) {
  float *y = lcfm_malloc((size_t)(n ? n : 1) * sizeof *y);
  for (int64_t i = 0; i < n; i++) y[i] = d->target[rows[i]];
  return y;
}

/* R^2 of one task: input `in`, training size n, run `draw`. The oracle needs no training. */
static double probe_task(const lcfm_probe_data *d, const lcfm_probe_input *in, int64_t n,
                         const lcfm_probe_draw *draw, const probe_settings *p, int run) {
  float *y_test = gather_targets(d, draw->test, draw->test_count);
  float *x_test = gather_rows(in, draw->test, draw->test_count);
  double r2;
  if (in->is_oracle) {
    r2 = lcfm_r2(x_test, y_test, draw->test_count);
  } else if (n > draw->training_pool) {
    r2 = NAN;
  } else {
    float *x_train = gather_rows(in, draw->training, n),
          *y_train = gather_targets(d, draw->training, n);
    float *x_stop = gather_rows(in, draw->stopping, draw->stopping_count);
    float *y_stop = gather_targets(d, draw->stopping, draw->stopping_count);
    r2 = lcfm_mlp_probe_r2(&p->mlp, (lcfm_mlp_rows){x_train, y_train, (int)n},
                           (lcfm_mlp_rows){x_stop, y_stop, (int)draw->stopping_count},
                           (lcfm_mlp_rows){x_test, y_test, (int)draw->test_count}, in->dim,
                           p->seed + 7919u * (uint64_t)run);
    free(x_train), free(y_train), free(x_stop), free(y_stop);
  }
  free(x_test), free(y_test);
  return r2;
}

/* r2[input][size][run]: this rank's share of the tasks, on the objects it loaded; the cells of
 * the other ranks' tasks are zero, so a sum over the ranks completes the table on every rank. */
static double *mlp_probes(MPI_Comm comm, const lcfm_probe_data *d, const lcfm_probe_sample *sample,
                          const task_share *t, const probe_settings *p) {
  size_t cells = (size_t)t->inputs * (size_t)p->size_count * (size_t)p->runs;
  double *r2 = lcfm_calloc(cells, sizeof *r2);
  lcfm_probe_draw draw;
  int loaded_run = -1;
  lcfm_progress progress;
  lcfm_progress_start(&progress, "MLP probes (rank 0's share)", t->count);
  for (int k = 0; k < t->count; k++) {
    int input, size, run;
    size_t cell = share_task(t, k, &input, &size, &run);
    if (run != loaded_run) {
      if (loaded_run >= 0) lcfm_probe_draw_free(&draw);
      local_draw(&draw, &sample->draws[run], d);
      loaded_run = run;
    }
    r2[cell] = probe_task(d, &d->inputs[input], p->sizes[size], &draw, p, run);
    lcfm_progress_update(&progress, k + 1);
  }
  if (loaded_run >= 0) lcfm_probe_draw_free(&draw);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, r2, (int)cells, MPI_DOUBLE, MPI_SUM, comm));
  lcfm_progress_finish(&progress, t->count);
  return r2;
}

static void summarise(const double *r2, int inputs, const probe_settings *p, double *mean,
                      double *std) {
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

static void print_mlp_table(const lcfm_probe_data *d, const probe_settings *p, const double *mean,
                            const double *std, const char *target) {
  lcfm_log(
      "MLP probe of %s: R^2 mean +- std over %d runs, each with its own training objects and test stars",
      target, p->runs);
  if (lcfm_log_rank() != 0) return;
  printf("%8s", "size");
  for (int i = 0; i < d->input_count; i++) printf(" %18s", d->inputs[i].name);
  printf("\n");
  for (int k = 0; k < p->size_count; k++) {
    printf("%8lld", (long long)p->sizes[k]);
    for (int i = 0; i < d->input_count; i++)
      printf("    %6.3f +- %5.3f", mean[i * p->size_count + k], std[i * p->size_count + k]);
    printf("\n");
  }
  fflush(stdout);
}

/* ---- the probe store ---- */

static hid_t string_type(size_t n) {
  hid_t t = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
  LCFM_CHECK_H5(H5Tset_size(t, n));
  return t;
}

static void write_mlp(hid_t file, hid_t dxpl, const lcfm_probe_data *d, const probe_settings *p,
                      const double *r2, const double *mean, const double *std, int rank) {
  char names[LCFM_PROBE_MAX_INPUTS][32];
  for (int i = 0; i < d->input_count; i++) memcpy(names[i], d->inputs[i].name, 32);
  hid_t t32 = string_type(32);
  probe_write_table(file, dxpl, "/mlp/inputs", t32, d->input_count, 0, names, rank);
  H5Tclose(t32);
  probe_write_table(file, dxpl, "/mlp/sizes", H5T_NATIVE_INT64, p->size_count, 0, p->sizes, rank);
  probe_write_table(file, dxpl, "/mlp/r2", H5T_NATIVE_DOUBLE, d->input_count,
                    (int64_t)p->size_count * p->runs, r2, rank);
  probe_write_table(file, dxpl, "/mlp/r2_mean", H5T_NATIVE_DOUBLE, d->input_count, p->size_count,
                    mean, rank);
  probe_write_table(file, dxpl, "/mlp/r2_std", H5T_NATIVE_DOUBLE, d->input_count, p->size_count,
                    std, rank);
}

/* A [runs, N] dataset's columns [first, first + count) from code [runs, count]. Collective, with
 * the free-space check and agreed failure of every write (h5io.h). */
/* One collective write per run: a round's columns of one row are one run of the file. */
static void write_columns(hid_t dset, hid_t dxpl, int runs, int64_t first, int64_t count,
                          const int64_t *code) {
  hid_t filespace = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t extent[2] = {1, (hsize_t)count};
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(2, extent, NULL));
  for (int r = 0; r < runs; r++) {
    hsize_t start[2] = {(hsize_t)r, (hsize_t)first};
    if (count > 0) {
      LCFM_CHECK_H5(H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start, NULL, extent, NULL));
    } else {
      LCFM_CHECK_H5(H5Sselect_none(filespace));
      LCFM_CHECK_H5(H5Sselect_none(memspace));
    }
    lcfm_h5_write_selection(dset, H5T_NATIVE_INT64, memspace, filespace, dxpl,
                            code + (size_t)r * (size_t)count);
  }
  H5Sclose(memspace), H5Sclose(filespace);
}

/* The per-object columns of one block of this rank's shard. */
typedef struct {
  int64_t *row, *id, *source, *code;
  int32_t *instrument, *label;
  float *target, *oracle;
  double *column;
  uint8_t *test;
} object_block;

static void block_alloc(object_block *b, int runs) {
  size_t n = LCFM_PROBE_BLOCK;
  b->row = lcfm_malloc(n * sizeof *b->row), b->id = lcfm_malloc(n * sizeof *b->id);
  b->source = lcfm_malloc(n * sizeof *b->source),
  b->code = lcfm_malloc(n * (size_t)runs * sizeof *b->code);
  b->instrument = lcfm_malloc(n * sizeof *b->instrument),
  b->label = lcfm_malloc(n * sizeof *b->label);
  b->target = lcfm_malloc(n * sizeof *b->target), b->oracle = lcfm_malloc(n * sizeof *b->oracle);
  b->column = lcfm_malloc(n * sizeof *b->column), b->test = lcfm_malloc(n);
}

static void block_free(object_block *b) {
  free(b->row), free(b->id), free(b->source), free(b->code), free(b->instrument), free(b->label);
  free(b->target), free(b->oracle), free(b->column), free(b->test);
}

/* Reads block [first, first + count) of the probed objects and makes its columns. */
static void block_read(object_block *b, MPI_Comm comm, lcfm_probe_sample *sample, hid_t store,
                       const lcfm_probe_target *t, const lcfm_probe_oracle *o,
                       const probe_settings *p, int64_t first, int64_t count) {
  lcfm_probe_sample_store_rows(sample, first, count, b->row);
  const char *names[4] = {"/objects/id", "/objects/source", "/objects/instrument",
                          "/objects/label"};
  hid_t types[4] = {H5T_NATIVE_INT64, H5T_NATIVE_INT64, H5T_NATIVE_INT32, H5T_NATIVE_INT32};
  void *out[4] = {b->id, b->source, b->instrument, b->label};
  for (int c = 0; c < 4; c++) {
    hid_t dset = LCFM_CHECK_H5(H5Dopen2(store, names[c], H5P_DEFAULT));
    lcfm_probe_read_rows(dset, types[c], b->row, count, 0, out[c]);
    H5Dclose(dset);
  }
  lcfm_probe_target_values(t, b->source, b->label, count, b->target);
  if (o) lcfm_probe_oracle_values(o, b->source, count, b->oracle);
  for (int64_t i = 0; i < count; i++)
    b->test[i] =
        (uint8_t)lcfm_probe_is_test_source(p->seed, p->protocol.test_fraction, b->source[i]);
  lcfm_probe_sample_codes(sample, comm, first, b->source, count, b->code);
}

static void write_rows(hid_t dset, hid_t type, hid_t dxpl, int64_t first, int64_t count,
                       const void *data) {
  lcfm_h5_transfer_rows(dset, type, dxpl, first, count, 0, (void *)data, 1);
}

/* /objects/... (id, instrument, target, run 0's test stars, the oracle's prediction when it is an
 * input) and /mlp/draw [runs, N] (probe_draw.h's codes), in rounds of one block per rank, the
 * blocks of a round one after another in rank order: each collective write is one run of rows,
 * so MPI-IO's collective buffer never spans the file (it would at 8N, by N bytes per column). */
static void write_objects(hid_t file, hid_t dxpl, MPI_Comm comm, lcfm_probe_sample *sample,
                          const char *store_path, const lcfm_probe_target *t,
                          const lcfm_probe_oracle *o, const probe_settings *p) {
  int64_t n = sample->objects;
  hid_t id = lcfm_h5_create_dataset(file, "/objects/id", H5T_NATIVE_INT64, n, 0);
  hid_t instrument = lcfm_h5_create_dataset(file, "/objects/instrument", H5T_NATIVE_INT32, n, 0);
  hid_t target = lcfm_h5_create_dataset(file, "/objects/target", H5T_NATIVE_DOUBLE, n, 0);
  hid_t test = lcfm_h5_create_dataset(file, "/objects/test", H5T_NATIVE_UINT8, n, 0);
  hid_t oracle = o ? lcfm_h5_create_dataset(file, "/objects/oracle", H5T_NATIVE_DOUBLE, n, 0) : -1;
  hid_t draw = lcfm_h5_create_dataset(file, "/mlp/draw", H5T_NATIVE_INT64, p->runs, n);
  char why[1024] = "";
  hid_t store = lcfm_probe_open(store_path, why, sizeof why);
  LCFM_CHECK(store >= 0, "probe: %s", why);
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t per_round = (int64_t)LCFM_PROBE_BLOCK * ranks, rounds = (n + per_round - 1) / per_round;
  object_block b;
  block_alloc(&b, p->runs);
  for (int64_t k = 0; k < rounds; k++) {
    int64_t start = k * per_round + (int64_t)rank * LCFM_PROBE_BLOCK, first = start < n ? start : n;
    int64_t count = n - first < LCFM_PROBE_BLOCK ? n - first : LCFM_PROBE_BLOCK;
    block_read(&b, comm, sample, store, t, o, p, first, count);
    write_rows(id, H5T_NATIVE_INT64, dxpl, first, count, b.id);
    write_rows(instrument, H5T_NATIVE_INT32, dxpl, first, count, b.instrument);
    for (int64_t i = 0; i < count; i++) b.column[i] = b.target[i];
    write_rows(target, H5T_NATIVE_DOUBLE, dxpl, first, count, b.column);
    write_rows(test, H5T_NATIVE_UINT8, dxpl, first, count, b.test);
    if (o) {
      for (int64_t i = 0; i < count; i++) b.column[i] = b.oracle[i];
      write_rows(oracle, H5T_NATIVE_DOUBLE, dxpl, first, count, b.column);
    }
    write_columns(draw, dxpl, p->runs, first, count, b.code);
  }
  block_free(&b);
  H5Fclose(store);
  H5Dclose(id), H5Dclose(instrument), H5Dclose(target), H5Dclose(test), H5Dclose(draw);
  if (o) H5Dclose(oracle);
}

/* Logs how many objects each run trains on at most, stops on and tests on. */
static void log_protocol(const lcfm_probe_draw *draws, const probe_settings *p) {
  int64_t lo[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, hi[3] = {0, 0, 0};
  for (int r = 0; r < p->runs; r++) {
    int64_t n[3] = {draws[r].training_pool, draws[r].stopping_count, draws[r].test_count};
    for (int k = 0; k < 3; k++)
      lo[k] = n[k] < lo[k] ? n[k] : lo[k], hi[k] = n[k] > hi[k] ? n[k] : hi[k];
  }
  lcfm_log(
      "MLP probe protocol: %d runs, each drawing its stars afresh: %lld-%lld objects of training stars, an "
      "early-stopping pool of %lld-%lld objects of other stars (not counted in n), %lld-%lld test objects of "
      "test stars (test_fraction %g, stopping_fraction %g)",
      p->runs, (long long)lo[0], (long long)hi[0], (long long)lo[1], (long long)hi[1],
      (long long)lo[2], (long long)hi[2], p->protocol.test_fraction, p->protocol.stopping_fraction);
}

/* The streamed linear probes and PCA maps over all objects (linear_probe.h), printed. */
static int run_linear_probes(lcfm_linear_probe *linear, MPI_Comm comm, const lcfm_job *job,
                             const probe_settings *p, const lcfm_probe_target *t,
                             const char *target) {
  lcfm_linear_settings ls = {.embeddings = lcfm_job_settings(job)->probe.embeddings,
                             .baseline = lcfm_job_settings(job)->probe.baseline_embeddings,
                             .target = t,
                             .test_fraction = p->protocol.test_fraction,
                             .seed = p->seed,
                             .max_classes = (int)lcfm_job_settings(job)->probe.linear_max_classes};
  char why[2048] = "";
  if (lcfm_linear_probe_run(linear, comm, &ls, why, sizeof why))
    return lcfm_report_failure(lcfm_log_rank() == 0, "lcfm probe: %s", why);
  lcfm_linear_probe_print(linear, target);
  return 0;
}

/* The store, its target (and oracle) and the embeddings this rank's tasks read. */
typedef struct {
  lcfm_probe_target target;
  lcfm_probe_oracle oracle;
  int has_oracle;
  lcfm_probe_sample sample;
  task_share tasks;
  lcfm_probe_data data;
} probe_inputs;

static int open_inputs(probe_inputs *in, MPI_Comm comm, const lcfm_job *job,
                       const probe_settings *p, char *why, size_t len) {
  memset(in, 0, sizeof *in);
  in->target.file = in->target.theta = in->oracle.file = in->oracle.theta = -1;
  const char *store = lcfm_job_settings(job)->probe.store,
             *target = lcfm_job_settings(job)->probe.target;
  const char *embeddings = lcfm_job_settings(job)->probe.embeddings;
  const char *baseline = lcfm_job_settings(job)->probe.baseline_embeddings;
  lcfm_store *s = lcfm_store_open(comm, store, why, len); /* collective: the store's checks */
  int failed = s == NULL ||
               lcfm_store_check_derived(lcfm_store_file(s), store, embeddings, baseline, why, len);
  lcfm_store_free(s);
  int64_t source_limit = -1;
  failed = failed || lcfm_probe_target_open(&in->target, store, target, &source_limit, why, len);
  if (lcfm_probe_any_failed(comm, failed, why, len)) return 1;
  char reason[1024] = "";
  in->has_oracle = lcfm_probe_oracle_open(&in->oracle, store, target, reason, sizeof reason);
  lcfm_log(in->has_oracle ? "oracle: %s" : "no oracle input: %s", reason);
  if (lcfm_probe_any_failed(comm, make_sample(&in->sample, comm, job, p, source_limit, why, len),
                            why, len))
    return 1;
  char names[LCFM_PROBE_MAX_INPUTS][32];
  int inputs = lcfm_probe_input_names(embeddings, baseline, in->has_oracle, names, why, len);
  if (lcfm_probe_any_failed(comm, inputs < 0, why, len)) return 1;
  in->tasks = share_tasks(comm, inputs, p);
  int64_t count;
  int64_t *used = objects_used(&in->sample, &in->tasks, p, &count);
  failed =
      lcfm_probe_data_load(&in->data, &in->sample, store, embeddings, baseline, &in->target,
                           in->has_oracle ? &in->oracle : NULL,
                           (int)lcfm_job_settings(job)->probe.raw_points, used, count, why, len);
  free(used);
  return lcfm_probe_any_failed(comm, failed, why, len);
}

static void close_inputs(probe_inputs *in) {
  lcfm_probe_data_free(&in->data);
  lcfm_probe_sample_free(&in->sample);
  lcfm_probe_target_close(&in->target);
  lcfm_probe_oracle_close(&in->oracle);
}

int lcfm_probe_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  probe_settings p;
  if (read_settings(&p, job)) return LCFM_EXIT_USAGE;
  const lcfm_settings_probe *probe_keys = &lcfm_job_settings(job)->probe;
  const char *target = probe_keys->target, *output = probe_keys->output;
  lcfm_nn_set_threads(1);
  probe_inputs in;
  char why[2048] = "";
  if (open_inputs(&in, comm, job, &p, why, sizeof why)) {
    close_inputs(&in);
    return LCFM_EXIT_RUNTIME;
  }
  lcfm_probe_data *d = &in.data;
  int64_t loaded = d->objects;
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &loaded, 1, MPI_INT64_T, MPI_MAX, comm));
  lcfm_log(
      "probe %s: %lld objects, %d inputs; %d tasks over the ranks, each rank reads the objects of its own tasks "
      "(at most %lld)",
      target, (long long)in.sample.objects, d->input_count, d->input_count * p.size_count * p.runs,
      (long long)loaded);
  log_protocol(in.sample.draws, &p);
  double *r2 = mlp_probes(comm, d, &in.sample, &in.tasks, &p);
  double *mean = lcfm_malloc((size_t)d->input_count * p.size_count * sizeof *mean);
  double *std = lcfm_malloc((size_t)d->input_count * p.size_count * sizeof *std);
  summarise(r2, d->input_count, &p, mean, std);
  print_mlp_table(d, &p, mean, std, target);
  lcfm_linear_probe linear;
  if (run_linear_probes(&linear, comm, job, &p, &in.target, target)) {
    close_inputs(&in);
    return LCFM_EXIT_RUNTIME;
  }

  probe_output out;
  probe_output_begin(&out, comm, output, 2, prov);
  hid_t file = out.file, dxpl = out.dxpl;
  int rank = out.rank;
  lcfm_h5_write_string_attribute(file, "target", target);
  write_mlp(file, dxpl, d, &p, r2, mean, std,
            rank); /* small tables: rank 0's rows of a collective write */
  write_objects(file, dxpl, comm, &in.sample, probe_keys->store, &in.target,
                in.has_oracle ? &in.oracle : NULL, &p);
  lcfm_linear_probe_write(&linear, file, dxpl, target);
  probe_output_publish(&out, comm, output);
  lcfm_log_success("probe");
  free(r2), free(mean), free(std);
  close_inputs(&in);
  lcfm_linear_probe_free(&linear);
  return LCFM_EXIT_OK;
}
