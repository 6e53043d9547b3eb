/* linear_probe.c: distributed linear probes and PCA maps of the latents (see linear_probe.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/h5io.h"
#include "lcfm/linear_probe.h"
#include "lcfm/log.h"
#include "lcfm/probe.h"
#include "lcfm/provenance.h"

/* ---- reading this rank's rows ---- */

static hid_t open_read(MPI_Comm comm, const char *path, char *why, size_t len) {
  hid_t fapl = lcfm_h5_file_access(comm);
  hid_t file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
  H5Pclose(fapl);
  if (file < 0) snprintf(why, len, "%s: cannot open as HDF5", path);
  return file;
}

/* Shape of a 1-D ([rows], cols 0) or 2-D dataset; 1 with a reason when it is missing. */
static int dataset_shape(hid_t file, const char *path, const char *name, int64_t *rows, int64_t *cols, char *why,
                         size_t len) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    snprintf(why, len, "%s: has no %s", path, name);
    return 1;
  }
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, name, H5P_DEFAULT));
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t dims[2] = {0, 0};
  int ndim = H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  H5Dclose(dset);
  *rows = (int64_t)dims[0], *cols = ndim > 1 ? (int64_t)dims[1] : 0;
  return 0;
}

/* Collective: rows [first, first + count) of a dataset (cols 0 for 1-D) into data. */
static void read_rows(hid_t file, const char *name, hid_t type, const lcfm_row_layout *l, int64_t cols, void *data) {
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, name, H5P_DEFAULT));
  hid_t dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_transfer_rows(dset, type, dxpl, l->first, l->count, cols, data, 0);
  H5Pclose(dxpl);
  H5Dclose(dset);
}

/* Column k of /truth/theta [S, K] (every rank reads it). */
static double *read_theta_column(MPI_Comm comm, const char *store, int k, int64_t *stars, char *why, size_t len) {
  hid_t file = open_read(comm, store, why, len);
  if (file < 0) return NULL;
  int64_t K = 0;
  int missing = dataset_shape(file, store, "/truth/theta", stars, &K, why, len);
  if (!missing && k >= K)
    snprintf(why, len, "%s: /truth/theta has %lld columns, the target needs column %d", store, (long long)K, k);
  if (missing || k >= K) {
    H5Fclose(file);
    return NULL;
  }
  double *theta = lcfm_malloc((size_t)(*stars > 0 ? *stars : 1) * sizeof *theta);
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, "/truth/theta", H5P_DEFAULT));
  hid_t filespace = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t start[2] = {0, (hsize_t)k}, count[2] = {(hsize_t)*stars, 1}, mem[1] = {(hsize_t)*stars};
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, mem, NULL));
  hid_t dxpl = lcfm_h5_collective_transfer();
  if (*stars > 0) { /* every rank takes the same branch: the read stays collective */
    LCFM_CHECK_H5(H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start, NULL, count, NULL));
    LCFM_CHECK_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, memspace, filespace, dxpl, theta));
  }
  H5Pclose(dxpl), H5Sclose(memspace), H5Sclose(filespace), H5Dclose(dset), H5Fclose(file);
  return theta;
}

/* The same verdict on every rank: 1 when any rank failed (the first failing rank's reason). */
static int any_failed(MPI_Comm comm, int failed, char *why, size_t len) {
  int rank, first = 0;
  MPI_Comm_rank(comm, &rank);
  int mine = failed ? rank : INT_MAX;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == INT_MAX) return 0;
  LCFM_CHECK_MPI(MPI_Bcast(why, (int)len, MPI_CHAR, first, comm));
  return 1;
}

/* Per local row: target, instrument, held out. */
typedef struct {
  double *target;
  int32_t *instrument;
  uint8_t *test;
} row_labels;

static int read_labels(row_labels *rl, MPI_Comm comm, hid_t file, const lcfm_row_layout *l,
                       const lcfm_linear_settings *s, char *why, size_t len) {
  size_t n = (size_t)(l->count > 0 ? l->count : 1);
  int64_t *source = lcfm_malloc(n * sizeof *source);
  int32_t *label = lcfm_malloc(n * sizeof *label);
  rl->target = lcfm_malloc(n * sizeof *rl->target);
  rl->instrument = lcfm_malloc(n * sizeof *rl->instrument);
  rl->test = lcfm_malloc(n);
  read_rows(file, "/objects/source", H5T_NATIVE_INT64, l, 0, source);
  read_rows(file, "/objects/instrument", H5T_NATIVE_INT32, l, 0, rl->instrument);
  read_rows(file, "/objects/label", H5T_NATIVE_INT32, l, 0, label);
  int k = -1, failed = 0;
  char extra;
  int64_t stars = 0;
  double *theta = NULL;
  if (strcmp(s->target, "label") != 0) {
    if (sscanf(s->target, "theta%d%c", &k, &extra) != 1 || k < 0) {
      snprintf(why, len, "target '%s' is neither thetaK nor label", s->target);
      failed = 1;
    } else {
      theta = read_theta_column(comm, s->store, k, &stars, why, len);
      failed = theta == NULL;
    }
  }
  for (int64_t i = 0; i < l->count && !failed; i++) {
    rl->test[i] = (uint8_t)lcfm_probe_is_test_source(s->seed, s->test_fraction, source[i]);
    if (rl->instrument[i] < 0) {
      snprintf(why, len, "%s: object %lld has instrument %d", s->embeddings, (long long)(l->first + i), rl->instrument[i]);
      failed = 1;
    } else if (theta && (source[i] < 0 || source[i] >= stars)) {
      snprintf(why, len, "%s: /truth/theta has no row for source %lld", s->store, (long long)source[i]);
      failed = 1;
    } else {
      rl->target[i] = theta ? theta[source[i]] : (double)label[i];
    }
  }
  free(source), free(label), free(theta);
  return failed;
}

static void free_labels(row_labels *rl) { free(rl->target), free(rl->instrument), free(rl->test); }

/* ---- one latent: fit, score, map ---- */

/* Design [1, z] and right-hand sides [y, onehot] with held-out rows left as zeros. */
static void fill_problem(const float *z, int dim, const row_labels *rl, const lcfm_row_layout *l, int classes,
                         double *A, double *B) {
  size_t lld = (size_t)(l->count > 1 ? l->count : 1);
  for (int64_t i = 0; i < l->count; i++) {
    double keep = rl->test[i] ? 0.0 : 1.0;
    A[i] = keep;
    for (int j = 0; j < dim; j++) A[(size_t)(j + 1) * lld + (size_t)i] = keep * z[(size_t)i * dim + (size_t)j];
    B[i] = keep * rl->target[i];
    for (int c = 0; c < classes; c++) B[(size_t)(c + 1) * lld + (size_t)i] = keep * (rl->instrument[i] == c);
  }
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

/* R^2 (about the mean of each split's own targets, as lcfm_r2) and accuracy on both splits;
 * index 0 train, 1 test. */
static void score(MPI_Comm comm, const double *X, const float *z, int dim, const row_labels *rl,
                  const lcfm_row_layout *l, int classes, lcfm_linear_latent *out) {
  double first[4] = {0, 0, 0, 0}; /* sum of targets [2], objects [2] */
  for (int64_t i = 0; i < l->count; i++) first[rl->test[i]] += rl->target[i], first[2 + rl->test[i]] += 1;
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, first, 4, MPI_DOUBLE, MPI_SUM, comm));
  double second[6] = {0, 0, 0, 0, 0, 0}; /* squared errors [2], squares about the mean [2], correct [2] */
  for (int64_t i = 0; i < l->count; i++) {
    int t = rl->test[i];
    const float *zi = z + (size_t)i * dim;
    double e = rl->target[i] - fitted(X, dim, 0, zi), d = rl->target[i] - first[t] / first[2 + t];
    second[t] += e * e, second[2 + t] += d * d;
    if (classes) second[4 + t] += predicted_class(X, dim, classes, zi) == rl->instrument[i];
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, second, 6, MPI_DOUBLE, MPI_SUM, comm));
  out->r2_train = 1.0 - second[0] / second[2], out->r2_test = 1.0 - second[1] / second[3];
  out->accuracy_train = classes ? second[4] / first[2] : NAN;
  out->accuracy_test = classes ? second[5] / first[3] : NAN;
}

/* Least squares for the target and the instrument indicators in one solve, then scores. */
static void fit_latent(const lcfm_grid *g, const lcfm_row_layout *l, const float *z, const row_labels *rl,
                       int classes, lcfm_linear_latent *out) {
  int dim = out->dim, n = dim + 1, nrhs = 1 + classes;
  size_t lld = (size_t)(l->count > 1 ? l->count : 1);
  double *A = lcfm_calloc(lld * (size_t)n, sizeof *A), *B = lcfm_calloc(lld * (size_t)nrhs, sizeof *B);
  double *X = lcfm_malloc((size_t)n * (size_t)nrhs * sizeof *X);
  fill_problem(z, dim, rl, l, classes, A, B);
  int deficient = lcfm_rows_lstsq(g, l, n, A, nrhs, B, X);
  out->coefficients = lcfm_malloc((size_t)n * sizeof *out->coefficients);
  memcpy(out->coefficients, X, (size_t)n * sizeof *X);
  score(g->comm, X, z, dim, rl, l, classes, out);
  if (deficient) {
    lcfm_log("linear probe %s: the training rows do not determine %d coefficients (rank deficient): no fit",
             out->name, n);
    out->r2_test = out->r2_train = out->accuracy_test = out->accuracy_train = NAN;
  }
  free(A), free(B), free(X);
}

/* PCA over all objects: the two leading components and this rank's coordinates. */
static void map_latent(const lcfm_grid *g, const lcfm_row_layout *l, const float *z, lcfm_linear_latent *out) {
  int dim = out->dim, k = dim >= 2 ? 2 : 1;
  size_t lld = (size_t)(l->count > 1 ? l->count : 1), rows = (size_t)(l->count > 0 ? l->count : 1);
  out->mean = lcfm_malloc((size_t)dim * sizeof *out->mean);
  out->eigenvalues = lcfm_malloc((size_t)dim * sizeof *out->eigenvalues);
  out->components = lcfm_calloc(2 * (size_t)dim, sizeof *out->components);
  out->xy = lcfm_calloc(2 * rows, sizeof *out->xy);
  double *X = lcfm_calloc(lld * (size_t)dim, sizeof *X), *proj = lcfm_malloc(rows * (size_t)k * sizeof *proj);
  for (int64_t i = 0; i < l->count; i++)
    for (int j = 0; j < dim; j++) X[(size_t)j * lld + (size_t)i] = z[(size_t)i * dim + (size_t)j];
  lcfm_rows_pca(g, l, dim, X, k, out->mean, out->eigenvalues, out->components, proj);
  for (int64_t i = 0; i < l->count; i++)
    for (int c = 0; c < k; c++) out->xy[(size_t)i * 2 + (size_t)c] = proj[(size_t)i * k + (size_t)c];
  double total = 0;
  for (int j = 0; j < dim; j++) total += out->eigenvalues[j];
  for (int c = 0; c < 2; c++) out->explained[c] = c < k && total > 0 ? out->eigenvalues[c] / total : 0;
  free(X), free(proj);
}

/* ---- the latents to probe ---- */

typedef struct {
  const char *path, *dataset, *name;
} latent_source;

static int list_latents(const lcfm_linear_settings *s, hid_t embeddings, latent_source *list) {
  int n = 0;
  if (s->baseline && s->baseline[0]) list[n++] = (latent_source){s->baseline, "/z", "baseline_z"};
  if (H5Lexists(embeddings, "/z_star", H5P_DEFAULT) > 0) {
    list[n++] = (latent_source){s->embeddings, "/z_star", "z_star"};
    list[n++] = (latent_source){s->embeddings, "/z_instr", "z_instr"};
  } else {
    list[n++] = (latent_source){s->embeddings, "/z", "z"};
  }
  return n;
}

/* This rank's rows of one latent [count, dim]; checks the shape and that its objects are those
 * of the main embedding store (ids). */
static float *read_latent(MPI_Comm comm, const latent_source *src, const lcfm_row_layout *l, const int64_t *ids,
                          int *dim, char *why, size_t len) {
  hid_t file = open_read(comm, src->path, why, len);
  if (file < 0) return NULL;
  int64_t rows, cols, id_rows, id_cols;
  int failed = dataset_shape(file, src->path, src->dataset, &rows, &cols, why, len) ||
               dataset_shape(file, src->path, "/objects/id", &id_rows, &id_cols, why, len);
  if (!failed && (rows != l->rows || id_rows != l->rows || cols < 1)) {
    snprintf(why, len, "%s: %s has %lld x %lld values and /objects/id %lld rows, the embedding store %lld objects",
             src->path, src->dataset, (long long)rows, (long long)cols, (long long)id_rows, (long long)l->rows);
    failed = 1;
  }
  if (failed) {
    H5Fclose(file);
    return NULL;
  }
  size_t n = (size_t)(l->count > 0 ? l->count : 1);
  float *z = lcfm_malloc(n * (size_t)cols * sizeof *z);
  int64_t *own = lcfm_malloc(n * sizeof *own);
  read_rows(file, src->dataset, H5T_NATIVE_FLOAT, l, cols, z);
  read_rows(file, "/objects/id", H5T_NATIVE_INT64, l, 0, own);
  H5Fclose(file);
  int mismatch = 0;
  for (int64_t i = 0; i < l->count && !mismatch; i++) mismatch = own[i] != ids[i];
  free(own);
  if (mismatch) snprintf(why, len, "%s: its objects are not those of the store (embed the same store)", src->path);
  if (any_failed(comm, mismatch, why, len)) {
    free(z);
    return NULL;
  }
  *dim = (int)cols;
  return z;
}

/* ---- the whole probe ---- */

/* Train/test counts, instrument classes and the test set's majority-class share. */
static void count_objects(lcfm_linear_probe *r, MPI_Comm comm, const row_labels *rl, int max_classes) {
  int64_t counts[2] = {0, 0};
  int top = -1;
  for (int64_t i = 0; i < r->rows.count; i++) {
    counts[rl->test[i]]++;
    if (rl->instrument[i] > top) top = rl->instrument[i];
  }
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_INT64_T, MPI_SUM, comm));
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &top, 1, MPI_INT, MPI_MAX, comm));
  r->train_objects = counts[0], r->test_objects = counts[1];
  r->classes = top + 1 <= max_classes ? top + 1 : 0;
  if (!r->classes) lcfm_log("linear probe: %d instruments exceed [probe] linear_max_classes = %d: no instrument probe",
                            top + 1, max_classes);
  r->majority_accuracy = NAN;
  if (!r->classes) return;
  int64_t *per_class = lcfm_calloc((size_t)r->classes, sizeof *per_class), best = 0;
  for (int64_t i = 0; i < r->rows.count; i++)
    if (rl->test[i]) per_class[rl->instrument[i]]++;
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, per_class, r->classes, MPI_INT64_T, MPI_SUM, comm));
  for (int c = 0; c < r->classes; c++) best = per_class[c] > best ? per_class[c] : best;
  r->majority_accuracy = r->test_objects ? (double)best / (double)r->test_objects : NAN;
  free(per_class);
}

/* Opens the main embedding store, lays out its rows and reads their labels. */
static int load_rows(lcfm_linear_probe *r, MPI_Comm comm, const lcfm_linear_settings *s, row_labels *rl,
                     int64_t **ids, latent_source *list, char *why, size_t len) {
  hid_t file = open_read(comm, s->embeddings, why, len);
  if (file < 0) return 1;
  int64_t rows, cols;
  if (dataset_shape(file, s->embeddings, "/objects/id", &rows, &cols, why, len)) {
    H5Fclose(file);
    return 1;
  }
  r->rows = lcfm_row_layout_make(comm, rows);
  r->latent_count = list_latents(s, file, list);
  *ids = lcfm_malloc((size_t)(r->rows.count > 0 ? r->rows.count : 1) * sizeof **ids);
  read_rows(file, "/objects/id", H5T_NATIVE_INT64, &r->rows, 0, *ids);
  int failed = read_labels(rl, comm, file, &r->rows, s, why, len);
  H5Fclose(file);
  return any_failed(comm, failed, why, len);
}

int lcfm_linear_probe_run(lcfm_linear_probe *r, MPI_Comm comm, const lcfm_linear_settings *s, char *why,
                          size_t len) {
  memset(r, 0, sizeof *r);
  MPI_Comm_size(comm, &r->ranks);
  row_labels rl = {0};
  int64_t *ids = NULL;
  latent_source list[LCFM_LINEAR_MAX_LATENTS];
  int failed = load_rows(r, comm, s, &rl, &ids, list, why, len);
  if (!failed && r->rows.rows < 2) {
    snprintf(why, len, "%s: %lld objects are too few for a linear probe", s->embeddings, (long long)r->rows.rows);
    failed = 1;
  }
  if (!failed) {
    count_objects(r, comm, &rl, s->max_classes);
    lcfm_grid grid;
    lcfm_grid_open(&grid, comm);
    lcfm_log("linear probes: ScaLAPACK on a %d x 1 BLACS grid, %lld objects in row blocks of %lld, %lld training / "
             "%lld test objects, %d instruments",
             r->ranks, (long long)r->rows.rows, (long long)r->rows.block, (long long)r->train_objects,
             (long long)r->test_objects, r->classes);
    for (int e = 0; e < r->latent_count && !failed; e++) {
      lcfm_linear_latent *out = &r->latent[e];
      snprintf(out->name, sizeof out->name, "%s", list[e].name);
      float *z = read_latent(comm, &list[e], &r->rows, ids, &out->dim, why, len);
      if (!z) {
        failed = 1;
        r->latent_count = e;
        break;
      }
      fit_latent(&grid, &r->rows, z, &rl, r->classes, out);
      map_latent(&grid, &r->rows, z, out);
      free(z);
    }
    lcfm_grid_close(&grid);
  }
  free(ids);
  free_labels(&rl);
  if (failed) lcfm_linear_probe_free(r);
  return failed;
}

void lcfm_linear_probe_print(const lcfm_linear_probe *r, const char *target) {
  lcfm_log("linear probes (least squares with an intercept, ScaLAPACK pdgels): R^2 of %s and instrument-ID accuracy, "
           "%lld training / %lld test objects of held-out sources",
           target, (long long)r->train_objects, (long long)r->test_objects);
  if (lcfm_log_rank() != 0) return;
  char chance[64] = "no instrument probe";
  if (r->classes) snprintf(chance, sizeof chance, "%d instruments, majority class %.3f", r->classes, r->majority_accuracy);
  printf("%-12s %4s %10s %10s %10s %10s %11s   (%s)\n", "input", "dim", "R^2 test", "R^2 train", "instr test",
         "instr train", "PCA 1+2 var", chance);
  for (int e = 0; e < r->latent_count; e++) {
    const lcfm_linear_latent *x = &r->latent[e];
    printf("%-12s %4d %10.3f %10.3f %10.3f %10.3f %11.3f\n", x->name, x->dim, x->r2_test, x->r2_train,
           x->accuracy_test, x->accuracy_train, x->explained[0] + x->explained[1]);
  }
  fflush(stdout);
}

/* ---- the probe store ---- */

/* Collective; rank 0 writes the rows of a small table. */
static void write_small(hid_t file, hid_t dxpl, const char *name, hid_t type, int64_t rows, int64_t cols,
                        const void *data) {
  hid_t dset = lcfm_h5_create_dataset(file, name, type, rows, cols);
  lcfm_h5_transfer_rows(dset, type, dxpl, 0, lcfm_log_rank() == 0 ? rows : 0, cols, (void *)data, 1);
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
  static const char *const names[4] = {"/linear/r2_test", "/linear/r2_train", "/linear/accuracy_test",
                                       "/linear/accuracy_train"};
  for (int c = 0; c < 4; c++) write_small(file, dxpl, names[c], H5T_NATIVE_DOUBLE, L, 0, column[c]);
  char path[128];
  for (int e = 0; e < L; e++) {
    snprintf(path, sizeof path, "/linear/%s/coefficients", r->latent[e].name);
    write_small(file, dxpl, path, H5T_NATIVE_DOUBLE, r->latent[e].dim + 1, 0, r->latent[e].coefficients);
  }
  hid_t group = LCFM_CHECK_H5(H5Gopen2(file, "/linear", H5P_DEFAULT));
  lcfm_h5_write_string_attribute(group, "target", target);
  lcfm_h5_write_int64_attribute(group, "classes", r->classes);
  lcfm_h5_write_int64_attribute(group, "train_objects", r->train_objects);
  lcfm_h5_write_int64_attribute(group, "test_objects", r->test_objects);
  lcfm_h5_write_double_attribute(group, "majority_accuracy", r->majority_accuracy);
  lcfm_h5_write_string_attribute(group, "method",
                                 "least squares of [target, one-hot instrument] on [1, latent] over the training "
                                 "objects, ScaLAPACK pdgels on a P x 1 BLACS grid; instrument = argmax");
  H5Gclose(group);
}

static void write_pca(const lcfm_linear_probe *r, hid_t file, hid_t dxpl) {
  write_names(file, dxpl, "/pca/inputs", r);
  char path[128];
  for (int e = 0; e < r->latent_count; e++) {
    const lcfm_linear_latent *x = &r->latent[e];
    snprintf(path, sizeof path, "/pca/%s/xy", x->name);
    hid_t dset = lcfm_h5_create_dataset(file, path, H5T_NATIVE_DOUBLE, r->rows.rows, 2);
    lcfm_h5_transfer_rows(dset, H5T_NATIVE_DOUBLE, dxpl, r->rows.first, r->rows.count, 2, x->xy, 1);
    H5Dclose(dset);
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

void lcfm_linear_probe_write(const lcfm_linear_probe *r, hid_t file, hid_t dxpl, const char *target) {
  write_linear(r, file, dxpl, target);
  write_pca(r, file, dxpl);
}

void lcfm_linear_probe_free(lcfm_linear_probe *r) {
  for (int e = 0; e < LCFM_LINEAR_MAX_LATENTS; e++) {
    lcfm_linear_latent *x = &r->latent[e];
    free(x->coefficients), free(x->mean), free(x->eigenvalues), free(x->components), free(x->xy);
  }
  memset(r, 0, sizeof *r);
}
