/* linear_probe.c: streamed linear probes and PCA maps of the latents (see linear_probe.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "lcfm/linear_probe.h"
#include "lcfm/log.h"
#include "lcfm/probe_draw.h"
#include "lcfm/store.h"
#include "lcfm/streamed_linalg.h"
#include "probe_read_internal.h"

enum { BLOCK = 4096 }; /* rows of a rank's shard read at a time */

/* ---- the files, opened per process ---- */

/* The main embedding store's per-object columns, and the rows of /truth/theta (-1: label). */
typedef struct {
  hid_t file, id, source, instrument, label;
  int64_t objects, stars;
} object_columns;

/* One latent's rows and its store's ids. */
typedef struct {
  hid_t file, z, id;
} latent_reader;

static void close_columns(object_columns *c) {
  hid_t *h[] = {&c->id, &c->source, &c->instrument, &c->label};
  for (size_t k = 0; k < sizeof h / sizeof *h; k++)
    if (*h[k] >= 0) H5Dclose(*h[k]), *h[k] = -1;
  if (c->file >= 0) H5Fclose(c->file), c->file = -1;
}

static int open_columns(object_columns *c, const char *path, const lcfm_probe_target *t, char *why,
                        size_t len) {
  *c = (object_columns){
      .file = -1, .id = -1, .source = -1, .instrument = -1, .label = -1, .stars = -1};
  int64_t rows[4] = {0, 0, 0, 0}, cols;
  c->file = lcfm_probe_open(path, why, len);
  if (c->file < 0) return 1;
  const char *name[4] = {"/objects/id", "/objects/source", "/objects/instrument", "/objects/label"};
  hid_t *h[4] = {&c->id, &c->source, &c->instrument, &c->label};
  for (int k = 0; k < 4; k++)
    if ((*h[k] = lcfm_probe_open_dataset(c->file, path, name[k], &rows[k], &cols, why, len)) < 0)
      return 1;
  if (rows[1] != rows[0] || rows[2] != rows[0] || rows[3] != rows[0]) {
    snprintf(why, len, "%s: /objects columns of %lld, %lld, %lld and %lld rows", path,
             (long long)rows[0], (long long)rows[1], (long long)rows[2], (long long)rows[3]);
    return 1;
  }
  c->objects = rows[0];
  if (t->column >= 0) {
    hid_t space = LCFM_CHECK_H5(H5Dget_space(t->theta));
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    c->stars = (int64_t)dims[0];
  }
  return 0;
}

static void close_latent(latent_reader *r) {
  if (r->z >= 0) H5Dclose(r->z);
  if (r->id >= 0) H5Dclose(r->id);
  if (r->file >= 0) H5Fclose(r->file);
  r->z = r->id = r->file = -1;
}

/* Opens a latent and checks that it has a row per object; *dim: its columns. */
static int open_latent(latent_reader *r, const lcfm_linear_latent *x, int64_t objects, int *dim,
                       char *why, size_t len) {
  *r = (latent_reader){.file = -1, .z = -1, .id = -1};
  int64_t rows = 0, cols = 0, id_rows = 0, id_cols = 0;
  r->file = lcfm_probe_open(x->path, why, len);
  if (r->file >= 0)
    r->z = lcfm_probe_open_dataset(r->file, x->path, x->dataset, &rows, &cols, why, len);
  if (r->z >= 0)
    r->id = lcfm_probe_open_dataset(r->file, x->path, "/objects/id", &id_rows, &id_cols, why, len);
  if (r->id < 0) return 1;
  if (rows != objects || id_rows != objects || cols < 1) {
    snprintf(
        why, len,
        "%s: %s has %lld x %lld values and /objects/id %lld rows, the embedding store %lld objects",
        x->path, x->dataset, (long long)rows, (long long)cols, (long long)id_rows,
        (long long)objects);
    return 1;
  }
  *dim = (int)cols;
  return 0;
}

/* ---- a block of rows ---- */

/* Per row of a block: store row, id, source, instrument, label, target, held out. */
typedef struct {
  int64_t *row, *id, *source;
  int32_t *instrument, *label;
  double *target;
  uint8_t *test;
  float *z;        /* [BLOCK, largest dim]: one latent's rows */
  int64_t *own_id; /* that latent store's ids */
} block_rows;

static void block_alloc(block_rows *b, int largest_dim) {
  b->row = lcfm_malloc(BLOCK * sizeof *b->row), b->id = lcfm_malloc(BLOCK * sizeof *b->id);
  b->source = lcfm_malloc(BLOCK * sizeof *b->source),
  b->own_id = lcfm_malloc(BLOCK * sizeof *b->own_id);
  b->instrument = lcfm_malloc(BLOCK * sizeof *b->instrument),
  b->label = lcfm_malloc(BLOCK * sizeof *b->label);
  b->target = lcfm_malloc(BLOCK * sizeof *b->target), b->test = lcfm_malloc(BLOCK);
  b->z = lcfm_malloc((size_t)BLOCK * (size_t)(largest_dim > 0 ? largest_dim : 1) * sizeof *b->z);
}

static void block_free(block_rows *b) {
  free(b->row), free(b->id), free(b->source), free(b->own_id), free(b->instrument), free(b->label),
      free(b->target), free(b->test), free(b->z);
}

/* Rows [first, first + n) of the shard: ids, sources, instruments and held-out flags; labels and
 * targets too when `targets` (sources must then have been checked against /truth/theta). */
static void read_objects(block_rows *b, const object_columns *c, const lcfm_linear_settings *s,
                         int64_t first, int64_t n, int targets) {
  for (int64_t i = 0; i < n; i++) b->row[i] = first + i;
  lcfm_probe_read_rows(c->id, H5T_NATIVE_INT64, b->row, n, 0, b->id);
  lcfm_probe_read_rows(c->source, H5T_NATIVE_INT64, b->row, n, 0, b->source);
  lcfm_probe_read_rows(c->instrument, H5T_NATIVE_INT32, b->row, n, 0, b->instrument);
  for (int64_t i = 0; i < n; i++)
    b->test[i] = (uint8_t)lcfm_probe_is_test_source(s->seed, s->test_fraction, b->source[i]);
  if (!targets) return;
  lcfm_probe_read_rows(c->label, H5T_NATIVE_INT32, b->row, n, 0, b->label);
  if (s->target->column >= 0) {
    lcfm_probe_read_column_at(s->target->theta, H5T_NATIVE_DOUBLE, b->source, n, s->target->column,
                              b->target);
  } else {
    for (int64_t i = 0; i < n; i++) b->target[i] = (double)b->label[i];
  }
}

/* One latent's rows of the block into b->z [n, dim]; 1 when its store's ids are not the main
 * store's. */
static int read_latent_rows(block_rows *b, const latent_reader *r, int dim, int64_t n) {
  lcfm_probe_read_rows(r->z, H5T_NATIVE_FLOAT, b->row, n, dim, b->z);
  lcfm_probe_read_rows(r->id, H5T_NATIVE_INT64, b->row, n, 0, b->own_id);
  for (int64_t i = 0; i < n; i++)
    if (b->own_id[i] != b->id[i]) return 1;
  return 0;
}

static int64_t block_size(int64_t count, int64_t done) {
  return count - done < BLOCK ? count - done : BLOCK;
}

/* ---- pass 0: splits and instruments ---- */

/* Train/test counts, instrument classes and the test set's majority-class share; 1 with a reason
 * when an instrument is negative or a source has no row of /truth/theta. */
static int count_objects(lcfm_linear_probe *r, MPI_Comm comm, const object_columns *c,
                         const lcfm_linear_settings *s, block_rows *b, char *why, size_t len) {
  int64_t counts[2] = {0, 0};
  int64_t *per_class =
      lcfm_calloc((size_t)(s->max_classes > 0 ? s->max_classes : 1), sizeof *per_class);
  int top = -1, failed = 0;
  for (int64_t done = 0; done < r->count && !failed; done += BLOCK) {
    int64_t n = block_size(r->count, done);
    read_objects(b, c, s, r->first + done, n, 0);
    for (int64_t i = 0; i < n && !failed; i++) {
      if (b->instrument[i] < 0) {
        snprintf(why, len, "%s: object %lld has instrument %d", s->embeddings, (long long)b->row[i],
                 b->instrument[i]);
        failed = 1;
      } else if (c->stars >= 0 && (b->source[i] < 0 || b->source[i] >= c->stars)) {
        snprintf(why, len, "%s: object %lld's source %lld has no row of /truth/theta (%lld rows)",
                 s->embeddings, (long long)b->row[i], (long long)b->source[i], (long long)c->stars);
        failed = 1;
      }
      if (failed) break;
      counts[b->test[i]]++;
      top = b->instrument[i] > top ? b->instrument[i] : top;
      if (b->test[i] && b->instrument[i] < s->max_classes) per_class[b->instrument[i]]++;
    }
  }
  if (lcfm_probe_any_failed(comm, failed, why, len)) {
    free(per_class);
    return 1;
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_INT64_T, MPI_SUM, comm));
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &top, 1, MPI_INT, MPI_MAX, comm));
  r->train_objects = counts[0], r->test_objects = counts[1];
  r->classes = top + 1 <= s->max_classes ? top + 1 : 0;
  r->majority_accuracy = NAN;
  if (!r->classes) {
    lcfm_log(
        "linear probe: %d instruments exceed [probe] linear_max_classes = %d: no instrument probe",
        top + 1, s->max_classes);
  } else {
    LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, per_class, r->classes, MPI_INT64_T, MPI_SUM, comm));
    int64_t best = 0;
    for (int k = 0; k < r->classes; k++) best = per_class[k] > best ? per_class[k] : best;
    r->majority_accuracy = r->test_objects ? (double)best / (double)r->test_objects : NAN;
  }
  free(per_class);
  return 0;
}

/* ---- pass 1: the fits and the means ---- */

/* Per latent: the least squares and the PCA being accumulated. */
typedef struct {
  lcfm_lstsq_stream fit;
  lcfm_pca_stream pca;
  double *X; /* [dim + 1, 1 + classes] once solved */
  double score
      [6]; /* squared errors [2], squares about the split's mean [2], correct instruments [2] */
} latent_work;

/* The training rows of the block enter the fit as [1, z] -> [y, onehot]; every row enters the mean. */
static void fit_rows(latent_work *w, const block_rows *b, int dim, int classes, int64_t n) {
  double *a = lcfm_malloc((size_t)(dim + 1) * sizeof *a),
         *y = lcfm_calloc((size_t)(1 + classes), sizeof *y);
  for (int64_t i = 0; i < n; i++) {
    if (b->test[i]) continue;
    const float *z = b->z + (size_t)i * (size_t)dim;
    a[0] = 1.0;
    for (int j = 0; j < dim; j++) a[j + 1] = z[j];
    y[0] = b->target[i];
    for (int k = 0; k < classes; k++) y[k + 1] = b->instrument[i] == k;
    lcfm_lstsq_stream_add(&w->fit, a, y);
  }
  lcfm_pca_stream_sum(&w->pca, b->z, n);
  free(a), free(y);
}

/* fitted column c of X [dim + 1, nrhs] for the latent row z */
static double fitted(const double *X, int dim, int c, const float *z) {
  const double *x = X + (size_t)c * (size_t)(dim + 1);
  double v = x[0];
  for (int j = 0; j < dim; j++) v += x[j + 1] * z[j];
  return v;
}

static int predicted_class(const double *X, int dim, int classes, const float *z) {
  int best = 0;
  double top = -INFINITY;
  for (int c = 0; c < classes; c++) {
    double v = fitted(X, dim, c + 1, z);
    if (v > top) top = v, best = c;
  }
  return best;
}

/* ---- pass 2: scores (R^2 about each split's own mean target, as lcfm_r2) and the covariance ---- */

static void score_rows(latent_work *w, const block_rows *b, int dim, int classes,
                       const double *split_mean, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    int t = b->test[i];
    const float *z = b->z + (size_t)i * (size_t)dim;
    double e = b->target[i] - fitted(w->X, dim, 0, z), d = b->target[i] - split_mean[t];
    w->score[t] += e * e, w->score[2 + t] += d * d;
    if (classes) w->score[4 + t] += predicted_class(w->X, dim, classes, z) == b->instrument[i];
  }
  lcfm_pca_stream_scatter(&w->pca, b->z, n);
}

/* ---- the passes over the shard ---- */

typedef struct {
  object_columns columns;
  latent_reader reader[LCFM_LINEAR_MAX_LATENTS];
  latent_work work[LCFM_LINEAR_MAX_LATENTS];
  block_rows block;
  double target_sum[2]; /* over each split, all ranks after pass 1 */
} probe_state;

/* Pass 1 or 2 over this rank's shard; 1 (the same on every rank) when a latent's ids differ. */
static int pass(lcfm_linear_probe *r, probe_state *st, MPI_Comm comm, const lcfm_linear_settings *s,
                int second, char *why, size_t len) {
  double split_mean[2] = {0, 0};
  if (second)
    for (int t = 0; t < 2; t++)
      split_mean[t] = st->target_sum[t] / (double)(t ? r->test_objects : r->train_objects);
  int mismatch = -1;
  for (int64_t done = 0; done < r->count && mismatch < 0; done += BLOCK) {
    int64_t n = block_size(r->count, done);
    read_objects(&st->block, &st->columns, s, r->first + done, n, 1);
    for (int64_t i = 0; i < n && !second; i++)
      st->target_sum[st->block.test[i]] += st->block.target[i];
    for (int e = 0; e < r->latent_count && mismatch < 0; e++) {
      int dim = r->latent[e].dim;
      if (read_latent_rows(&st->block, &st->reader[e], dim, n)) mismatch = e;
      else if (second) score_rows(&st->work[e], &st->block, dim, r->classes, split_mean, n);
      else fit_rows(&st->work[e], &st->block, dim, r->classes, n);
    }
  }
  if (mismatch >= 0)
    snprintf(why, len, "%s: its objects are not those of the store (embed the same store)",
             r->latent[mismatch].path);
  return lcfm_probe_any_failed(comm, mismatch >= 0, why, len);
}

/* Between the passes: every latent's fit solved and mean centred, the targets' sums shared. */
static void solve_fits(lcfm_linear_probe *r, probe_state *st, MPI_Comm comm) {
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, st->target_sum, 2, MPI_DOUBLE, MPI_SUM, comm));
  for (int e = 0; e < r->latent_count; e++) {
    lcfm_linear_latent *out = &r->latent[e];
    latent_work *w = &st->work[e];
    int n = out->dim + 1;
    w->X = lcfm_malloc((size_t)n * (size_t)(1 + r->classes) * sizeof *w->X);
    if (lcfm_lstsq_stream_solve(&w->fit, comm, w->X))
      lcfm_log(
          "linear probe %s: the training rows do not determine %d coefficients (rank deficient): no fit",
          out->name, n);
    out->coefficients = lcfm_malloc((size_t)n * sizeof *out->coefficients);
    memcpy(out->coefficients, w->X, (size_t)n * sizeof *w->X);
    lcfm_pca_stream_centre(&w->pca, comm);
  }
}

/* After pass 2: scores and PCA of every latent. */
static void finish_latents(lcfm_linear_probe *r, probe_state *st, MPI_Comm comm) {
  for (int e = 0; e < r->latent_count; e++) {
    lcfm_linear_latent *out = &r->latent[e];
    latent_work *w = &st->work[e];
    LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, w->score, 6, MPI_DOUBLE, MPI_SUM, comm));
    int fitted_ok = !isnan(w->X[0]);
    out->r2_train = fitted_ok ? 1.0 - w->score[0] / w->score[2] : NAN;
    out->r2_test = fitted_ok ? 1.0 - w->score[1] / w->score[3] : NAN;
    out->accuracy_train = fitted_ok && r->classes ? w->score[4] / (double)r->train_objects : NAN;
    out->accuracy_test = fitted_ok && r->classes ? w->score[5] / (double)r->test_objects : NAN;
    int dim = out->dim, k = dim >= 2 ? 2 : 1;
    out->mean = lcfm_malloc((size_t)dim * sizeof *out->mean);
    out->eigenvalues = lcfm_malloc((size_t)dim * sizeof *out->eigenvalues);
    out->components = lcfm_calloc(2 * (size_t)dim, sizeof *out->components);
    memcpy(out->mean, w->pca.mean, (size_t)dim * sizeof *out->mean);
    lcfm_pca_stream_finish(&w->pca, comm, k, out->eigenvalues, out->components);
    double total = 0;
    for (int j = 0; j < dim; j++) total += out->eigenvalues[j];
    for (int c = 0; c < 2; c++)
      out->explained[c] = c < k && total > 0 ? out->eigenvalues[c] / total : 0;
  }
}

/* ---- the latents to probe ---- */

static void add_latent(lcfm_linear_probe *r, const char *path, const char *dataset,
                       const char *name) {
  lcfm_linear_latent *x = &r->latent[r->latent_count++];
  snprintf(x->name, sizeof x->name, "%s", name);
  x->path = lcfm_malloc(strlen(path) + 1);
  memcpy(x->path, path, strlen(path) + 1);
  x->dataset = dataset;
}

static void list_latents(lcfm_linear_probe *r, const lcfm_linear_settings *s, hid_t embeddings) {
  if (s->baseline && s->baseline[0]) add_latent(r, s->baseline, "/z", "baseline_z");
  if (H5Lexists(embeddings, "/z_star", H5P_DEFAULT) > 0) {
    add_latent(r, s->embeddings, "/z_star", "z_star");
    add_latent(r, s->embeddings, "/z_instr", "z_instr");
  } else {
    add_latent(r, s->embeddings, "/z", "z");
  }
}

/* Opens the stores, lists and opens the latents, lays out this rank's shard. */
static int open_inputs(lcfm_linear_probe *r, probe_state *st, MPI_Comm comm,
                       const lcfm_linear_settings *s, char *why, size_t len) {
  int failed = open_columns(&st->columns, s->embeddings, s->target, why, len);
  int largest = 0;
  if (!failed) {
    r->objects = st->columns.objects;
    list_latents(r, s, st->columns.file);
  }
  for (int e = 0; e < r->latent_count && !failed; e++) {
    failed = open_latent(&st->reader[e], &r->latent[e], r->objects, &r->latent[e].dim, why, len);
    largest = r->latent[e].dim > largest ? r->latent[e].dim : largest;
  }
  if (!failed && r->objects < 2) {
    snprintf(why, len, "%s: %lld objects are too few for a linear probe", s->embeddings,
             (long long)r->objects);
    failed = 1;
  }
  int rank;
  MPI_Comm_rank(comm, &rank);
  lcfm_store_shard(r->objects, rank, r->ranks, &r->first, &r->count);
  block_alloc(&st->block, largest);
  return lcfm_probe_any_failed(comm, failed, why, len);
}

static void close_inputs(lcfm_linear_probe *r, probe_state *st) {
  for (int e = 0; e < LCFM_LINEAR_MAX_LATENTS; e++) {
    if (e < r->latent_count) close_latent(&st->reader[e]);
    lcfm_lstsq_stream_free(&st->work[e].fit);
    lcfm_pca_stream_free(&st->work[e].pca);
    free(st->work[e].X);
  }
  close_columns(&st->columns);
  block_free(&st->block);
}

/* ---- the whole probe ---- */

int lcfm_linear_probe_run(lcfm_linear_probe *r, MPI_Comm comm, const lcfm_linear_settings *s,
                          char *why, size_t len) {
  memset(r, 0, sizeof *r);
  r->comm = comm;
  MPI_Comm_size(comm, &r->ranks);
  probe_state st;
  memset(&st, 0, sizeof st);
  for (int e = 0; e < LCFM_LINEAR_MAX_LATENTS; e++)
    st.reader[e] = (latent_reader){.file = -1, .z = -1, .id = -1};
  int failed = open_inputs(r, &st, comm, s, why, len) ||
               count_objects(r, comm, &st.columns, s, &st.block, why, len);
  if (!failed) {
    lcfm_log(
        "linear probes: streamed TSQR and covariance over %d ranks, %lld objects in shards of at most %lld read "
        "%d at a time, %lld training / %lld test objects, %d instruments",
        r->ranks, (long long)r->objects, (long long)((r->objects + r->ranks - 1) / r->ranks), BLOCK,
        (long long)r->train_objects, (long long)r->test_objects, r->classes);
    for (int e = 0; e < r->latent_count; e++) {
      lcfm_lstsq_stream_init(&st.work[e].fit, r->latent[e].dim + 1, 1 + r->classes);
      lcfm_pca_stream_init(&st.work[e].pca, r->latent[e].dim);
    }
    failed = pass(r, &st, comm, s, 0, why, len);
  }
  if (!failed) {
    solve_fits(r, &st, comm);
    failed = pass(r, &st, comm, s, 1, why, len);
  }
  if (!failed) finish_latents(r, &st, comm);
  close_inputs(r, &st);
  if (failed) lcfm_linear_probe_free(r);
  return failed;
}

void lcfm_linear_probe_print(const lcfm_linear_probe *r, const char *target) {
  lcfm_log(
      "linear probes (least squares with an intercept, TSQR): R^2 of %s and instrument-ID accuracy, "
      "%lld training / %lld test objects of held-out sources",
      target, (long long)r->train_objects, (long long)r->test_objects);
  if (lcfm_log_rank() != 0) return;
  char chance[64] = "no instrument probe";
  if (r->classes)
    snprintf(chance, sizeof chance, "%d instruments, majority class %.3f", r->classes,
             r->majority_accuracy);
  printf("%-12s %4s %10s %10s %10s %10s %11s   (%s)\n", "input", "dim", "R^2 test", "R^2 train",
         "instr test", "instr train", "PCA 1+2 var", chance);
  for (int e = 0; e < r->latent_count; e++) {
    const lcfm_linear_latent *x = &r->latent[e];
    printf("%-12s %4d %10.3f %10.3f %10.3f %10.3f %11.3f\n", x->name, x->dim, x->r2_test,
           x->r2_train, x->accuracy_test, x->accuracy_train, x->explained[0] + x->explained[1]);
  }
  fflush(stdout);
}

/* ---- the probe store ---- */

/* Collective; rank 0 writes the rows of a small table. */
static void write_small(hid_t file, hid_t dxpl, const char *name, hid_t type, int64_t rows,
                        int64_t cols, const void *data) {
  hid_t dset = lcfm_h5_create_dataset(file, name, type, rows, cols);
  lcfm_h5_transfer_rows(dset, type, dxpl, 0, lcfm_log_rank() == 0 ? rows : 0, cols, (void *)data,
                        1);
  H5Dclose(dset);
}

static void write_names(hid_t file, hid_t dxpl, const char *name, const lcfm_linear_probe *r) {
  char names[LCFM_LINEAR_MAX_LATENTS][32];
  memset(names, 0, sizeof names);
  for (int e = 0; e < r->latent_count; e++) memcpy(names[e], r->latent[e].name, 32);
  hid_t t32 = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
  LCFM_CHECK_H5(H5Tset_size(t32, 32));
  write_small(file, dxpl, name, t32, r->latent_count, 0, names);
  H5Tclose(t32);
}

static void write_linear(const lcfm_linear_probe *r, hid_t file, hid_t dxpl, const char *target) {
  int L = r->latent_count;
  double column[4][LCFM_LINEAR_MAX_LATENTS];
  for (int e = 0; e < L; e++)
    column[0][e] = r->latent[e].r2_test, column[1][e] = r->latent[e].r2_train,
    column[2][e] = r->latent[e].accuracy_test, column[3][e] = r->latent[e].accuracy_train;
  write_names(file, dxpl, "/linear/inputs", r);
  static const char *const names[4] = {"/linear/r2_test", "/linear/r2_train",
                                       "/linear/accuracy_test", "/linear/accuracy_train"};
  for (int c = 0; c < 4; c++) write_small(file, dxpl, names[c], H5T_NATIVE_DOUBLE, L, 0, column[c]);
  char path[128];
  for (int e = 0; e < L; e++) {
    snprintf(path, sizeof path, "/linear/%s/coefficients", r->latent[e].name);
    write_small(file, dxpl, path, H5T_NATIVE_DOUBLE, r->latent[e].dim + 1, 0,
                r->latent[e].coefficients);
  }
  hid_t group = LCFM_CHECK_H5(H5Gopen2(file, "/linear", H5P_DEFAULT));
  lcfm_h5_write_string_attribute(group, "target", target);
  lcfm_h5_write_int64_attribute(group, "classes", r->classes);
  lcfm_h5_write_int64_attribute(group, "train_objects", r->train_objects);
  lcfm_h5_write_int64_attribute(group, "test_objects", r->test_objects);
  lcfm_h5_write_double_attribute(group, "majority_accuracy", r->majority_accuracy);
  lcfm_h5_write_string_attribute(
      group, "method",
      "least squares of [target, one-hot instrument] on [1, latent] over the training "
      "objects by Householder QR, streamed (TSQR: LAPACK dtpqrt per block of rows and up a tree of the "
      "ranks); instrument = argmax");
  H5Gclose(group);
}

/* xy [n, 2]: rows z [n, dim] on the two leading components (the second 0 for a 1-D latent). */
static void project(const lcfm_linear_latent *x, const float *z, int64_t n, double *xy) {
  int k = x->dim >= 2 ? 2 : 1;
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < 2; c++) {
      double v = 0;
      for (int j = 0; j < x->dim && c < k; j++)
        v += ((double)z[(size_t)i * (size_t)x->dim + (size_t)j] - x->mean[j]) *
             x->components[(size_t)c * (size_t)x->dim + (size_t)j];
      xy[(size_t)i * 2 + (size_t)c] = v;
    }
}

/* Rows [*first, *first + return) of round k's block for this rank: round k covers blocks
 * k P .. k P + P - 1 of all rows, one per rank in rank order, so that each collective write is
 * one run of rows (a write spread over the ranks' shards would span the file, and MPI-IO's
 * collective buffer with it). */
static int64_t round_block(const lcfm_linear_probe *r, int64_t k, int64_t *first) {
  int rank;
  MPI_Comm_rank(r->comm, &rank);
  int64_t start = (k * r->ranks + rank) * (int64_t)BLOCK;
  *first = start < r->objects ? start : r->objects;
  return r->objects - *first < BLOCK ? r->objects - *first : BLOCK;
}

/* Collective: /pca/NAME/xy in rounds of one block per rank. */
static void write_map(const lcfm_linear_probe *r, const lcfm_linear_latent *x, hid_t file,
                      hid_t dxpl, const char *path) {
  char why[1024] = "";
  latent_reader reader;
  int dim = 0;
  LCFM_CHECK(open_latent(&reader, x, r->objects, &dim, why, sizeof why) == 0 && dim == x->dim, "%s",
             why);
  hid_t dset = lcfm_h5_create_dataset(file, path, H5T_NATIVE_DOUBLE, r->objects, 2);
  int64_t per_round = (int64_t)BLOCK * r->ranks, rounds = (r->objects + per_round - 1) / per_round;
  int64_t *row = lcfm_malloc(BLOCK * sizeof *row);
  float *z = lcfm_malloc((size_t)BLOCK * (size_t)dim * sizeof *z);
  double *xy = lcfm_malloc((size_t)BLOCK * 2 * sizeof *xy);
  for (int64_t k = 0; k < rounds; k++) {
    int64_t first, n = round_block(r, k, &first);
    for (int64_t i = 0; i < n; i++) row[i] = first + i;
    lcfm_probe_read_rows(reader.z, H5T_NATIVE_FLOAT, row, n, dim, z);
    project(x, z, n, xy);
    lcfm_h5_transfer_rows(dset, H5T_NATIVE_DOUBLE, dxpl, first, n, 2, xy, 1);
  }
  H5Dclose(dset);
  close_latent(&reader);
  free(row), free(z), free(xy);
}

static void write_pca(const lcfm_linear_probe *r, hid_t file, hid_t dxpl) {
  write_names(file, dxpl, "/pca/inputs", r);
  char path[128];
  for (int e = 0; e < r->latent_count; e++) {
    const lcfm_linear_latent *x = &r->latent[e];
    snprintf(path, sizeof path, "/pca/%s/xy", x->name);
    write_map(r, x, file, dxpl, path);
    snprintf(path, sizeof path, "/pca/%s/eigenvalues", x->name);
    write_small(file, dxpl, path, H5T_NATIVE_DOUBLE, x->dim, 0, x->eigenvalues);
    snprintf(path, sizeof path, "/pca/%s/explained", x->name);
    write_small(file, dxpl, path, H5T_NATIVE_DOUBLE, 2, 0, x->explained);
    snprintf(path, sizeof path, "/pca/%s/components", x->name);
    write_small(file, dxpl, path, H5T_NATIVE_DOUBLE, 2, x->dim, x->components);
    snprintf(path, sizeof path, "/pca/%s/mean", x->name);
    write_small(file, dxpl, path, H5T_NATIVE_DOUBLE, x->dim, 0, x->mean);
  }
}

void lcfm_linear_probe_write(const lcfm_linear_probe *r, hid_t file, hid_t dxpl,
                             const char *target) {
  write_linear(r, file, dxpl, target);
  write_pca(r, file, dxpl);
}

void lcfm_linear_probe_free(lcfm_linear_probe *r) {
  for (int e = 0; e < LCFM_LINEAR_MAX_LATENTS; e++) {
    lcfm_linear_latent *x = &r->latent[e];
    free(x->coefficients), free(x->mean), free(x->eigenvalues), free(x->components), free(x->path);
  }
  memset(r, 0, sizeof *r);
}
