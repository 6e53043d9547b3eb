/* class_probe.c: Astromer 2's few-shot classification protocol (see class_probe.h): the
 * classifier with its softmax-weighted layers, macro F1, and `lcfm probe` with task = classification. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/class_probe.h"
#include "lcfm/h5io.h"
#include "lcfm/log.h"
#include "lcfm/models.h"
#include "lcfm/nn.h"
#include "lcfm/probe.h"
#include "lcfm/rng.h"
#include "lcfm/store.h"
#include "lcfm/train.h"
#include "probe_read_internal.h"
#include "probe_util_internal.h"

enum {
  LCFM_STREAM_CLASS_BATCH = LCFM_STREAM_USER + 520, /* mini-batch rows: step * batch + row */
  LCFM_STREAM_CLASS_SHUFFLE =
      LCFM_STREAM_USER + 521, /* fold f's order of the training pool: f 2^32 + i */
  MAX_SCENARIOS = 16,
  INPUTS = 2, /* raw, astromer */
};

/* ---- the weighted sum of layers ---- */

void lcfm_weighted_layers_forward(float *z, float *a, const float *x, const float *gamma, int rows,
                                  int layers, int dim) {
  double mx = -INFINITY, sum = 0;
  for (int l = 0; l < layers; l++) mx = gamma[l] > mx ? gamma[l] : mx;
  for (int l = 0; l < layers; l++) sum += exp(gamma[l] - mx);
  for (int l = 0; l < layers; l++) a[l] = (float)(exp(gamma[l] - mx) / sum);
  for (int r = 0; r < rows; r++) {
    float *zr = z + (size_t)r * dim;
    lcfm_nn_zero(zr, (size_t)dim);
    for (int l = 0; l < layers; l++)
      lcfm_nn_axpy(zr, a[l], x + ((size_t)r * layers + l) * dim, (size_t)dim);
  }
}

void lcfm_weighted_layers_backward(float *dgamma, const float *dz, const float *x, const float *a,
                                   int rows, int layers, int dim) {
  double da[64] = {0}, mean = 0;
  LCFM_CHECK(layers <= 64, "at most 64 weighted layers");
  for (int r = 0; r < rows; r++)
    for (int l = 0; l < layers; l++) {
      const float *xl = x + ((size_t)r * layers + l) * dim, *g = dz + (size_t)r * dim;
      for (int j = 0; j < dim; j++) da[l] += (double)g[j] * xl[j];
    }
  for (int l = 0; l < layers; l++) mean += a[l] * da[l];
  for (int l = 0; l < layers; l++)
    dgamma[l] += (float)(a[l] * (da[l] - mean)); /* softmax Jacobian */
}

/* ---- the classifier ---- */

typedef struct {
  lcfm_classifier_config cfg;
  int rows; /* capacity */
  lcfm_nn_params params;
  size_t gamma;
  lcfm_mlp mlp;
  lcfm_nn_lin ln, out;
  lcfm_nn_arena arena;
  float *a, *z, *relu, *normed, *mean, *rstd, *logits, *dlogits, *dnormed, *drelu, *dpre, *dz;
} classifier;

static void classifier_layout(classifier *k, lcfm_nn_arena *arena) {
  size_t rows = (size_t)k->rows, h = (size_t)k->cfg.hidden[2], K = (size_t)k->cfg.classes;
  lcfm_mlp_layout(&k->mlp, arena);
  k->a = lcfm_nn_arena_take(arena, (size_t)k->cfg.layers);
  k->z = lcfm_nn_arena_take(arena, rows * (size_t)k->cfg.dim);
  k->dz = lcfm_nn_arena_take(arena, rows * (size_t)k->cfg.dim);
  float **wide[] = {&k->relu, &k->normed, &k->dnormed, &k->drelu, &k->dpre};
  for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
    *wide[i] = lcfm_nn_arena_take(arena, rows * h);
  k->mean = lcfm_nn_arena_take(arena, rows), k->rstd = lcfm_nn_arena_take(arena, rows);
  k->logits = lcfm_nn_arena_take(arena, rows * K), k->dlogits = lcfm_nn_arena_take(arena, rows * K);
}

static void classifier_init(classifier *k, const lcfm_classifier_config *c, int rows,
                            uint64_t seed) {
  memset(k, 0, sizeof *k);
  k->cfg = *c, k->rows = rows;
  lcfm_nn_params_init(&k->params);
  k->gamma = lcfm_nn_params_add2(&k->params, LCFM_INIT_ZERO, c->layers, 0, "classifier.gamma");
  int dims[4] = {c->dim, c->hidden[0], c->hidden[1], c->hidden[2]};
  lcfm_mlp_init(&k->mlp, 3, dims, rows, &k->params, "classifier.mlp");
  k->ln.w = lcfm_nn_params_add2(&k->params, LCFM_INIT_ONE, c->hidden[2], 0, "classifier.ln.w");
  k->ln.b = lcfm_nn_params_add2(&k->params, LCFM_INIT_ZERO, c->hidden[2], 0, "classifier.ln.b");
  k->out.w = lcfm_nn_params_add2(&k->params, LCFM_INIT_FANIN, c->classes, c->hidden[2],
                                 "classifier.out.w");
  k->out.b = lcfm_nn_params_add2(&k->params, LCFM_INIT_ZERO, c->classes, 0, "classifier.out.b");
  lcfm_nn_params_alloc(&k->params);
  lcfm_nn_params_init_default(&k->params, seed);
  classifier_layout(k, &k->arena);
  lcfm_nn_arena_alloc(&k->arena);
  classifier_layout(k, &k->arena);
}

static void classifier_free(classifier *k) {
  lcfm_nn_arena_free(&k->arena);
  lcfm_nn_params_free(&k->params);
}

#define KP(off) (k->params.params + (off))
#define KG(off) (k->params.grads + (off))

/* logits [rows, classes] of x [rows, layers * dim]. */
static const float *classifier_forward(classifier *k, const float *x, int rows) {
  const lcfm_classifier_config *c = &k->cfg;
  size_t h = (size_t)c->hidden[2];
  lcfm_weighted_layers_forward(k->z, k->a, x, KP(k->gamma), rows, c->layers, c->dim);
  const float *pre = lcfm_mlp_forward(&k->mlp, &k->params, k->z, rows);
  lcfm_relu_forward(k->relu, pre, (size_t)rows * h);
  lcfm_layernorm_forward(k->normed, k->mean, k->rstd, k->relu, KP(k->ln.w), KP(k->ln.b), rows,
                         (int)h, LCFM_NN_LN_EPS);
  lcfm_linear_forward(k->logits, k->normed, KP(k->out.w), KP(k->out.b), rows, (int)h, c->classes);
  return k->logits;
}

static void classifier_backward(classifier *k, const float *x, int rows) {
  const lcfm_classifier_config *c = &k->cfg;
  size_t n = (size_t)rows * (size_t)c->hidden[2];
  const float *pre = k->mlp.pre[k->mlp.layers - 1];
  lcfm_nn_zero(k->dnormed, n), lcfm_nn_zero(k->drelu, n), lcfm_nn_zero(k->dpre, n);
  lcfm_nn_zero(k->dz, (size_t)rows * (size_t)c->dim);
  lcfm_linear_backward(k->dnormed, KG(k->out.w), KG(k->out.b), k->dlogits, k->normed, KP(k->out.w),
                       rows, c->hidden[2], c->classes);
  lcfm_layernorm_backward(k->drelu, KG(k->ln.w), KG(k->ln.b), k->dnormed, k->relu, KP(k->ln.w),
                          k->mean, k->rstd, rows, c->hidden[2]);
  lcfm_relu_backward(k->dpre, k->drelu, pre, n);
  lcfm_mlp_backward(&k->mlp, &k->params, c->layers > 1 ? k->dz : NULL, k->dpre, rows);
  if (c->layers > 1)
    lcfm_weighted_layers_backward(KG(k->gamma), k->dz, x, k->a, rows, c->layers, c->dim);
}

static float *standardised(const float *x, int n, int D, const float *mean, const float *scale) {
  float *out = lcfm_malloc((size_t)(n ? n : 1) * (size_t)D * sizeof *out);
  probe_standardise(out, x, n, D, mean, scale);
  return out;
}

void lcfm_classifier_fit_predict(const lcfm_classifier_config *c, const float *x_train,
                                 const int *y_train, int n, const float *x_test, int m, int *pred,
                                 double *gamma, uint64_t seed) {
  int D = c->layers * c->dim, batch = c->batch < n ? c->batch : n;
  classifier k;
  classifier_init(&k, c, batch, seed);
  float *mean = lcfm_malloc((size_t)D * sizeof *mean),
        *scale = lcfm_malloc((size_t)D * sizeof *scale);
  probe_column_stats(x_train, n, D, mean, scale);
  float *train = standardised(x_train, n, D, mean, scale),
        *test = standardised(x_test, m, D, mean, scale);
  float *xb = lcfm_malloc((size_t)batch * D * sizeof *xb);
  int *yb = lcfm_malloc((size_t)batch * sizeof *yb);
  lcfm_adam opt = {.lr = c->lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  for (int step = 0; step < c->steps; step++) {
    for (int b = 0; b < batch; b++) { /* keyed sampling with replacement */
      int64_t i =
          (int64_t)lcfm_rng_below(seed, LCFM_STREAM_CLASS_BATCH,
                                  (uint64_t)step * (uint64_t)batch + (uint64_t)b, (uint64_t)n);
      memcpy(xb + (size_t)b * D, train + (size_t)i * D, (size_t)D * sizeof *xb);
      yb[b] = y_train[i];
    }
    lcfm_nn_params_zero_grad(&k.params);
    const float *logits = classifier_forward(&k, xb, batch);
    lcfm_nn_zero(k.dlogits, (size_t)batch * c->classes);
    lcfm_loss_softmax_xent(k.dlogits, logits, yb, batch, c->classes, 1.0f);
    classifier_backward(&k, xb, batch);
    lcfm_adam_step(&opt, &k.params);
  }
  for (int first = 0; first < m; first += batch) { /* predict in chunks of the arena's rows */
    int rows = m - first < batch ? m - first : batch;
    const float *logits = classifier_forward(&k, test + (size_t)first * D, rows);
    for (int r = 0; r < rows; r++) {
      int best = 0;
      for (int j = 1; j < c->classes; j++)
        if (logits[(size_t)r * c->classes + j] > logits[(size_t)r * c->classes + best]) best = j;
      pred[first + r] = best;
    }
  }
  if (gamma) {
    lcfm_weighted_layers_forward(k.z, k.a, test, k.params.params + k.gamma, 0, c->layers,
                                 c->dim); /* a only */
    for (int l = 0; l < c->layers; l++) gamma[l] = k.a[l];
  }
  free(mean), free(scale), free(train), free(test), free(xb), free(yb);
  classifier_free(&k);
}

#undef KP
#undef KG

double lcfm_macro_f1(const int *pred, const int *truth, int64_t m, int classes) {
  double sum = 0;
  int present = 0;
  for (int k = 0; k < classes; k++) {
    int64_t tp = 0, fp = 0, fn = 0;
    for (int64_t i = 0; i < m; i++) {
      tp += pred[i] == k && truth[i] == k;
      fp += pred[i] == k && truth[i] != k;
      fn += pred[i] != k && truth[i] == k;
    }
    if (tp + fp + fn == 0) continue;
    sum += 2.0 * tp / (2.0 * tp + fp + fn);
    present++;
  }
  return present ? sum / present : 0.0;
}

/* ---- the protocol ---- */

static const probe_count_list scenario_list = {
    "samples_per_class", 1, MAX_SCENARIOS, "scenario", "scenarios", "a positive count"};

typedef struct {
  int64_t per_class[MAX_SCENARIOS];
  int scenarios, folds, raw_points;
  int64_t test_objects;
  double test_fraction;
  lcfm_classifier_config clf;
  uint64_t seed;
} class_settings;

static int read_settings(class_settings *p, const lcfm_job *job) {
  const lcfm_settings_probe *probe_keys = &lcfm_job_settings(job)->probe;
  *p = (class_settings){.folds = (int)probe_keys->folds,
                        .raw_points = (int)probe_keys->raw_points,
                        .test_objects = probe_keys->test_objects,
                        .test_fraction = probe_keys->test_fraction,
                        .clf = {.hidden = {1024, 512, 256},
                                .steps = (int)probe_keys->classifier_steps,
                                .batch = (int)probe_keys->mlp_batch,
                                .lr = 1e-3f},
                        .seed = lcfm_job_seed(job)};
  return probe_parse_counts(job, &scenario_list, probe_keys->samples_per_class, p->per_class,
                            &p->scenarios);
}

int lcfm_class_probe_settings_check(const lcfm_job *job) {
  class_settings p;
  return read_settings(&p, job);
}

/* What every rank holds: per object its id, source and label; and the two inputs [used, layers *
 * dim] of the objects its tasks use (rows used[0..used_count), increasing), read for those alone. */
typedef struct {
  int64_t objects, *id, *source;
  int32_t *label;
  int classes;
  int64_t *used, used_count;
  float *x[INPUTS];
  int layers[INPUTS], dim[INPUTS];
} class_data;

static const char *const input_names[INPUTS] = {"raw", "astromer"};

/* The first `points` observations of each used object, zero-meaned: magnitudes then times (one
 * read of each object's slice of /points). */
static void read_raw_windows(class_data *d, hid_t file, int points) {
  size_t n = (size_t)(d->used_count ? d->used_count : 1);
  d->layers[0] = 1, d->dim[0] = 2 * points;
  d->x[0] = lcfm_calloc(n * 2 * (size_t)points, sizeof(float));
  int64_t *offset = lcfm_malloc(n * sizeof *offset),
          *slice = lcfm_malloc((size_t)points * sizeof *slice);
  int32_t *length = lcfm_malloc(n * sizeof *length);
  float *value = lcfm_malloc((size_t)points * sizeof *value);
  double *time = lcfm_malloc((size_t)points * sizeof *time);
  hid_t offsets = LCFM_CHECK_H5(H5Dopen2(file, "/objects/offset", H5P_DEFAULT));
  hid_t lengths = LCFM_CHECK_H5(H5Dopen2(file, "/objects/length", H5P_DEFAULT));
  hid_t values = LCFM_CHECK_H5(H5Dopen2(file, "/points/value", H5P_DEFAULT));
  hid_t times = LCFM_CHECK_H5(H5Dopen2(file, "/points/time", H5P_DEFAULT));
  lcfm_probe_read_rows(offsets, H5T_NATIVE_INT64, d->used, d->used_count, 0, offset);
  lcfm_probe_read_rows(lengths, H5T_NATIVE_INT32, d->used, d->used_count, 0, length);
  for (int64_t i = 0; i < d->used_count; i++) {
    int m = length[i] < points ? length[i] : points;
    for (int j = 0; j < m; j++) slice[j] = offset[i] + j;
    lcfm_probe_read_rows(values, H5T_NATIVE_FLOAT, slice, m, 0, value);
    lcfm_probe_read_rows(times, H5T_NATIVE_DOUBLE, slice, m, 0, time);
    double mv = 0, mt = 0;
    for (int j = 0; j < m; j++) mv += value[j], mt += time[j];
    if (m) mv /= m, mt /= m;
    float *row = d->x[0] + i * 2 * points;
    for (int j = 0; j < m; j++)
      row[j] = (float)(value[j] - mv), row[points + j] = (float)(time[j] - mt);
  }
  H5Dclose(offsets), H5Dclose(lengths), H5Dclose(values), H5Dclose(times);
  free(offset), free(slice), free(length), free(value), free(time);
}

/* The used rows of /layers, after checking that /layers and /z fit the store's objects and that
 * the ids of the used rows are the store's. */
static int read_layers(class_data *d, const char *path, char *why, size_t len) {
  hid_t file = lcfm_probe_open(path, why, len);
  if (file < 0) return 1;
  int64_t rows = 0, cols = 0, zrows = 0, zcols = 0, idrows = 0, idcols = 0;
  const char *what =
      " (an Astromer 2 embedding store from `lcfm embed` with model.kind = astromer2)";
  hid_t layers = lcfm_probe_open_dataset(file, path, "/layers", &rows, &cols, why, len), z = -1,
        ids = -1;
  if (layers >= 0) z = lcfm_probe_open_dataset(file, path, "/z", &zrows, &zcols, why, len);
  if (layers < 0 || z < 0) snprintf(why + strlen(why), len - strlen(why), "%s", what);
  int bad = layers < 0 || z < 0;
  if (!bad && (rows != d->objects || zrows != d->objects || zcols <= 0 || cols % zcols)) {
    snprintf(why, len,
             "%s: /layers [%lld, %lld] and /z [%lld, %lld] do not fit the store's %lld objects",
             path, (long long)rows, (long long)cols, (long long)zrows, (long long)zcols,
             (long long)d->objects);
    bad = 1;
  }
  if (!bad) { /* the ids must be the store's, in its order */
    char ignored[256];
    ids = lcfm_probe_open_dataset(file, path, "/objects/id", &idrows, &idcols, ignored,
                                  sizeof ignored);
    int64_t *id = lcfm_malloc((size_t)(d->used_count ? d->used_count : 1) * sizeof *id);
    bad = ids < 0 || idrows != d->objects;
    if (!bad) lcfm_probe_read_rows(ids, H5T_NATIVE_INT64, d->used, d->used_count, 0, id);
    for (int64_t i = 0; i < d->used_count && !bad; i++) bad = id[i] != d->id[d->used[i]];
    if (bad)
      snprintf(why, len, "%s: its objects are not those of the store (embed the same store)", path);
    free(id);
  }
  if (!bad) {
    d->x[1] =
        lcfm_malloc((size_t)(d->used_count ? d->used_count : 1) * (size_t)cols * sizeof(float));
    lcfm_probe_read_rows(layers, H5T_NATIVE_FLOAT, d->used, d->used_count, cols, d->x[1]);
    d->dim[1] = (int)zcols, d->layers[1] = (int)(cols / zcols);
  }
  if (layers >= 0) H5Dclose(layers);
  if (z >= 0) H5Dclose(z);
  if (ids >= 0) H5Dclose(ids);
  H5Fclose(file);
  return bad;
}

/* Collective: the object columns of the store (id, source, label) on every rank. */
static int load_columns(class_data *d, MPI_Comm comm, const char *store_path, char *why,
                        size_t len) {
  memset(d, 0, sizeof *d);
  lcfm_store *s = lcfm_store_open(comm, store_path, why, len);
  if (!s) return 1;
  d->objects = lcfm_store_object_count(s);
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, d->objects, 0);
  lcfm_store_read_objects(s, 0, d->objects, &b);
  d->id = b.id, d->source = b.source, d->label = b.label;
  b.id = b.source = NULL, b.label = NULL;
  lcfm_batch_free(&b);
  lcfm_store_free(s);
  int bad_label = -1;
  for (int64_t i = 0; i < d->objects; i++) {
    if (d->label[i] < 0 && bad_label < 0) bad_label = (int)i;
    if (d->label[i] + 1 > d->classes) d->classes = d->label[i] + 1;
  }
  if (bad_label >= 0 || d->classes < 2) {
    snprintf(
        why, len,
        "%s: classification needs a label >= 0 on every object and 2 classes or more (object %lld has "
        "label %d; %d classes)",
        store_path, (long long)(bad_label >= 0 ? d->id[bad_label] : -1),
        bad_label >= 0 ? d->label[bad_label] : 0, d->classes);
    return 1;
  }
  return 0;
}

/* Per process: both inputs of the used objects. */
static int load_inputs(class_data *d, const lcfm_job *job, int raw_points, char *why, size_t len) {
  const char *store_path = lcfm_job_settings(job)->probe.store;
  hid_t file = lcfm_probe_open(store_path, why, len);
  if (file < 0) return 1;
  read_raw_windows(d, file, raw_points);
  H5Fclose(file);
  return read_layers(d, lcfm_job_settings(job)->probe.embeddings, why, len);
}

static void free_data(class_data *d) {
  free(d->id), free(d->source), free(d->label), free(d->used), free(d->x[0]), free(d->x[1]);
  memset(d, 0, sizeof *d);
}

typedef struct {
  uint8_t *test;
  int64_t *tests, test_count, *pool, pool_count;
} class_split;

static void make_split(class_split *s, const class_data *d, const class_settings *p) {
  s->test = lcfm_malloc((size_t)(d->objects ? d->objects : 1));
  s->tests = lcfm_malloc((size_t)(d->objects ? d->objects : 1) * sizeof *s->tests);
  s->pool = lcfm_malloc((size_t)(d->objects ? d->objects : 1) * sizeof *s->pool);
  s->test_count = s->pool_count = 0;
  for (int64_t i = 0; i < d->objects; i++) {
    /* the pretraining split's rule (astromer.h), so test objects were held out of pretraining */
    s->test[i] = lcfm_rng_uniform(p->seed, LCFM_STREAM_TRAIN_SPLIT, (uint64_t)d->source[i]) <
                 p->test_fraction;
    if (!s->test[i]) s->pool[s->pool_count++] = i;
    else if (s->test_count < p->test_objects)
      s->tests[s->test_count++] = i; /* the first, in store order */
  }
}

/* The training objects of fold f with n per class (first n of each class in a keyed order);
 * returns their count, or -1 when some class has fewer than n. */
static int64_t fold_members(const class_data *d, const class_split *s, int64_t n, int fold,
                            uint64_t seed, int64_t *members, int64_t *order) {
  memcpy(order, s->pool, (size_t)s->pool_count * sizeof *order);
  for (int64_t i = s->pool_count - 1; i > 0; i--) {
    int64_t j = (int64_t)lcfm_rng_below(seed, LCFM_STREAM_CLASS_SHUFFLE,
                                        ((uint64_t)fold << 32) + (uint64_t)i, (uint64_t)i + 1);
    int64_t t = order[i];
    order[i] = order[j], order[j] = t;
  }
  int64_t *taken = lcfm_calloc((size_t)d->classes, sizeof *taken), count = 0;
  for (int64_t i = 0; i < s->pool_count; i++) {
    int k = d->label[order[i]];
    if (taken[k] < n) members[count++] = order[i], taken[k]++;
  }
  int short_class = 0;
  for (int k = 0; k < d->classes; k++) short_class |= taken[k] < n;
  free(taken);
  return short_class ? -1 : count;
}

static int increasing(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Rows `rows` [n] (store rows) of an input, from the used objects it holds. */
static float *gather(const class_data *d, int input, const int64_t *rows, int64_t n) {
  int D = d->layers[input] * d->dim[input];
  float *out = lcfm_malloc((size_t)(n ? n : 1) * (size_t)D * sizeof *out);
  for (int64_t i = 0; i < n; i++) {
    const int64_t *at = bsearch(&rows[i], d->used, (size_t)d->used_count, sizeof *at, increasing);
    LCFM_CHECK(at != NULL, "classification probe: object %lld was not read", (long long)rows[i]);
    memcpy(out + i * D, d->x[input] + (at - d->used) * D, (size_t)D * sizeof *out);
  }
  return out;
}

/* The objects this rank's tasks use: the test set and the training objects of each of its
 * (scenario, fold) pairs, increasing, each once (into d->used). */
static void find_used(class_data *d, const class_split *s, const class_settings *p, int rank,
                      int ranks) {
  int tasks = INPUTS * p->scenarios * p->folds;
  int64_t pool = s->pool_count ? s->pool_count : 1,
          *order = lcfm_malloc((size_t)pool * sizeof *order);
  int64_t *members = lcfm_malloc((size_t)pool * sizeof *members), n = s->test_count,
          capacity = s->test_count + pool;
  d->used = lcfm_malloc((size_t)capacity * sizeof *d->used);
  memcpy(d->used, s->tests, (size_t)s->test_count * sizeof *d->used);
  for (int task = rank; task < tasks; task += ranks) {
    int scenario = task / p->folds % p->scenarios, fold = task % p->folds;
    int64_t m = fold_members(d, s, p->per_class[scenario], fold, p->seed, members, order);
    if (m < 0) continue;
    if (n + m > capacity)
      capacity = 2 * (n + m), d->used = lcfm_realloc(d->used, (size_t)capacity * sizeof *d->used);
    memcpy(d->used + n, members, (size_t)m * sizeof *members);
    n += m;
  }
  qsort(d->used, (size_t)n, sizeof *d->used, increasing);
  d->used_count = 0;
  for (int64_t i = 0; i < n; i++)
    if (d->used_count == 0 || d->used[i] != d->used[d->used_count - 1])
      d->used[d->used_count++] = d->used[i];
  free(order), free(members);
}

/* f1 [inputs][scenario][fold] and gamma [scenario][fold][layers]; tasks round-robin over ranks. */
static void run_tasks(MPI_Comm comm, const class_data *d, const class_split *s,
                      const class_settings *p, double *f1, double *gamma) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int tasks = INPUTS * p->scenarios * p->folds, L = d->layers[1];
  int64_t *members = lcfm_malloc((size_t)(s->pool_count ? s->pool_count : 1) * sizeof *members);
  int64_t *order = lcfm_malloc((size_t)(s->pool_count ? s->pool_count : 1) * sizeof *order);
  int *truth = lcfm_malloc((size_t)(s->test_count ? s->test_count : 1) * sizeof *truth);
  int *pred = lcfm_malloc((size_t)(s->test_count ? s->test_count : 1) * sizeof *pred);
  for (int64_t i = 0; i < s->test_count; i++) truth[i] = d->label[s->tests[i]];
  lcfm_progress progress;
  lcfm_progress_start(&progress, "classifiers", tasks);
  for (int task = 0; task < tasks; task++) {
    int input = task / (p->scenarios * p->folds), scenario = task / p->folds % p->scenarios,
        fold = task % p->folds;
    if (task % ranks != rank) continue;
    int64_t n = fold_members(d, s, p->per_class[scenario], fold, p->seed, members, order);
    if (n < 0) {
      f1[task] = NAN;
      continue;
    }
    float *x_train = gather(d, input, members, n),
          *x_test = gather(d, input, s->tests, s->test_count);
    int *y = lcfm_malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) y[i] = d->label[members[i]];
    lcfm_classifier_config c = p->clf;
    c.layers = d->layers[input], c.dim = d->dim[input], c.classes = d->classes;
    double *g = input == 1 ? gamma + ((size_t)scenario * p->folds + fold) * L : NULL;
    lcfm_classifier_fit_predict(&c, x_train, y, (int)n, x_test, (int)s->test_count, pred, g,
                                p->seed + 7919u * (uint64_t)(fold + 1));
    f1[task] = lcfm_macro_f1(pred, truth, s->test_count, d->classes);
    free(x_train), free(x_test), free(y);
    lcfm_progress_update(&progress, task + 1);
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, f1, tasks, MPI_DOUBLE, MPI_SUM, comm));
  LCFM_CHECK_MPI(
      MPI_Allreduce(MPI_IN_PLACE, gamma, p->scenarios * p->folds * L, MPI_DOUBLE, MPI_SUM, comm));
  lcfm_progress_finish(&progress, tasks);
  free(members), free(order), free(truth), free(pred);
}

static void summarise(const double *f1, const class_settings *p, double *mean, double *std) {
  for (int i = 0; i < INPUTS * p->scenarios; i++) {
    const double *v = f1 + (size_t)i * p->folds;
    double m = 0, s2 = 0;
    for (int f = 0; f < p->folds; f++) m += v[f];
    m /= p->folds;
    for (int f = 0; f < p->folds; f++) s2 += (v[f] - m) * (v[f] - m);
    mean[i] = m, std[i] = p->folds > 1 ? sqrt(s2 / (p->folds - 1)) : 0;
  }
}

static void print_table(const class_data *d, const class_split *s, const class_settings *p,
                        const double *mean, const double *std, const double *gamma) {
  lcfm_log("classification: macro F1 mean +- std over %d folds, %lld test objects, %d classes",
           p->folds, (long long)s->test_count, d->classes);
  if (lcfm_log_rank() != 0) return;
  printf(
      "%17s %18s %18s   softmax(gamma) of the astromer input (fold mean), input embedding first\n",
      "samples per class", input_names[0], input_names[1]);
  int L = d->layers[1];
  for (int k = 0; k < p->scenarios; k++) {
    printf("%17lld", (long long)p->per_class[k]);
    for (int i = 0; i < INPUTS; i++)
      printf("    %6.3f +- %5.3f", mean[i * p->scenarios + k], std[i * p->scenarios + k]);
    printf("  ");
    for (int l = 0; l < L; l++) {
      double g = 0;
      for (int f = 0; f < p->folds; f++) g += gamma[((size_t)k * p->folds + f) * L + l] / p->folds;
      printf(" %.3f", g);
    }
    printf("\n");
  }
  fflush(stdout);
}

static void write_results(MPI_Comm comm, const char *output, const lcfm_provenance *prov,
                          const class_data *d, const class_split *s, const class_settings *p,
                          const double *f1, const double *mean, const double *std,
                          const double *gamma) {
  probe_output out;
  probe_output_begin(&out, comm, output, 1, prov);
  hid_t file = out.file, dxpl = out.dxpl;
  int rank = out.rank;
  lcfm_h5_write_string_attribute(file, "task", "classification");
  lcfm_h5_write_string_attribute(file, "target", "label");
  lcfm_h5_write_int64_attribute(file, "classes", d->classes);
  char names[INPUTS][32] = {{0}};
  for (int i = 0; i < INPUTS; i++) snprintf(names[i], sizeof names[i], "%s", input_names[i]);
  hid_t t32 = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
  LCFM_CHECK_H5(H5Tset_size(t32, 32));
  probe_write_table(file, dxpl, "/classification/inputs", t32, INPUTS, 0, names, rank);
  H5Tclose(t32);
  probe_write_table(file, dxpl, "/classification/samples_per_class", H5T_NATIVE_INT64, p->scenarios,
                    0, p->per_class, rank);
  probe_write_table(file, dxpl, "/classification/f1", H5T_NATIVE_DOUBLE, INPUTS,
                    (int64_t)p->scenarios * p->folds, f1, rank);
  probe_write_table(file, dxpl, "/classification/f1_mean", H5T_NATIVE_DOUBLE, INPUTS, p->scenarios,
                    mean, rank);
  probe_write_table(file, dxpl, "/classification/f1_std", H5T_NATIVE_DOUBLE, INPUTS, p->scenarios,
                    std, rank);
  probe_write_table(file, dxpl, "/classification/gamma", H5T_NATIVE_DOUBLE,
                    (int64_t)p->scenarios * p->folds, d->layers[1], gamma, rank);
  probe_write_table(file, dxpl, "/objects/id", H5T_NATIVE_INT64, d->objects, 0, d->id, rank);
  probe_write_table(file, dxpl, "/objects/label", H5T_NATIVE_INT32, d->objects, 0, d->label, rank);
  probe_write_table(file, dxpl, "/objects/test", H5T_NATIVE_UINT8, d->objects, 0, s->test, rank);
  probe_output_publish(&out, comm, output);
}

int lcfm_class_probe_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  class_settings p;
  if (read_settings(&p, job)) return LCFM_EXIT_USAGE;
  lcfm_nn_set_threads(1);
  class_data d;
  char why[2048] = "";
  if (lcfm_probe_any_failed(
          comm, load_columns(&d, comm, lcfm_job_settings(job)->probe.store, why, sizeof why), why,
          sizeof why)) {
    free_data(&d);
    return LCFM_EXIT_RUNTIME;
  }
  class_split s;
  make_split(&s, &d, &p);
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  find_used(&d, &s, &p, rank, ranks);
  if (lcfm_probe_any_failed(comm, load_inputs(&d, job, p.raw_points, why, sizeof why), why,
                            sizeof why)) {
    free(s.test), free(s.tests), free(s.pool);
    free_data(&d);
    return LCFM_EXIT_RUNTIME;
  }
  lcfm_log(
      "classification probe: %lld objects, %d classes, %lld training-pool / %lld test objects; inputs raw "
      "(%d values) and astromer (%d layers x %d), read for the %lld objects rank 0's classifiers use",
      (long long)d.objects, d.classes, (long long)s.pool_count, (long long)s.test_count, d.dim[0],
      d.layers[1], d.dim[1], (long long)d.used_count);
  size_t cells = (size_t)INPUTS * p.scenarios * p.folds;
  double *f1 = lcfm_calloc(cells, sizeof *f1),
         *gamma = lcfm_calloc((size_t)p.scenarios * p.folds * d.layers[1], sizeof *gamma);
  double *mean = lcfm_calloc((size_t)INPUTS * p.scenarios, sizeof *mean),
         *std = lcfm_calloc((size_t)INPUTS * p.scenarios, sizeof *std);
  run_tasks(comm, &d, &s, &p, f1, gamma);
  summarise(f1, &p, mean, std);
  print_table(&d, &s, &p, mean, std, gamma);
  write_results(comm, lcfm_job_settings(job)->probe.output, prov, &d, &s, &p, f1, mean, std, gamma);
  lcfm_log_success("probe");
  free(f1), free(gamma), free(mean), free(std), free(s.test), free(s.tests), free(s.pool);
  free_data(&d);
  return LCFM_EXIT_OK;
}
