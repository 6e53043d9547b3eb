/* checkpoint.c: named tensors, Adam moments and the training state in HDF5 (see train.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/h5io.h"
#include "lcfm/store_check.h"
#include "lcfm/train.h"

#define CHECKPOINT_SCHEMA "lcfm-checkpoint"
#define CHECKPOINT_VERSION 1

static const char *const groups[3] = {"params", "adam_m", "adam_v"};

static float *buffer_of(const lcfm_nn_params *p, int g) {
  return g == 0 ? p->params : g == 1 ? p->m : p->v;
}

char *lcfm_model_signature(const lcfm_nn_params *p, const char *settings) {
  size_t capacity = strlen(settings) + 64 + (size_t)p->count * (LCFM_NN_NAME_MAX + 80), used = 0;
  char *text = lcfm_malloc(capacity);
  used += (size_t)snprintf(text, capacity, "%s\n", settings);
  for (int t = 0; t < p->count; t++) {
    const lcfm_nn_tensor *x = &p->tensors[t];
    used += (size_t)snprintf(text + used, capacity - used, "%s [", x->name);
    for (int d = 0; d < x->ndim; d++)
      used += (size_t)snprintf(text + used, capacity - used, "%s%lld", d ? ", " : "",
                               (long long)x->shape[d]);
    used += (size_t)snprintf(text + used, capacity - used, "]\n");
  }
  return text;
}

static void write_tensor(hid_t group, const lcfm_nn_tensor *t, const float *data) {
  hsize_t dims[LCFM_NN_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
  hid_t space = LCFM_CHECK_H5(H5Screate_simple(t->ndim, dims, NULL));
  hid_t dset = LCFM_CHECK_H5(
      H5Dcreate2(group, t->name, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  LCFM_CHECK_H5(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  H5Dclose(dset);
  H5Sclose(space);
}

static void write_state(hid_t file, const lcfm_adam *opt, const lcfm_train_state *st,
                        const char *signature) {
  lcfm_h5_write_string_attribute(file, "schema", CHECKPOINT_SCHEMA);
  lcfm_h5_write_int64_attribute(file, "schema_version", CHECKPOINT_VERSION);
  lcfm_h5_write_string_attribute(file, "model_signature", signature);
  lcfm_h5_write_int64_attribute(file, "step", st->step);
  lcfm_h5_write_int64_attribute(file, "best_step", st->best_step);
  lcfm_h5_write_double_attribute(file, "best_validation", st->best_validation);
  lcfm_h5_write_int64_attribute(file, "stale_evaluations", st->stale_evaluations);
  lcfm_h5_write_int64_attribute(file, "adam_step", opt->step);
  lcfm_h5_write_double_attribute(file, "adam_lr", opt->lr);
  lcfm_h5_write_double_attribute(file, "adam_beta1", opt->beta1);
  lcfm_h5_write_double_attribute(file, "adam_beta2", opt->beta2);
  lcfm_h5_write_double_attribute(file, "adam_eps", opt->eps);
  lcfm_h5_write_double_attribute(file, "adam_weight_decay", opt->weight_decay);
}

void lcfm_checkpoint_write(const char *path, const lcfm_nn_params *p, const lcfm_adam *opt,
                           const lcfm_train_state *state, const char *signature,
                           const lcfm_provenance *prov) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  char partial[4096];
  /* Rank 0 alone: the default (POSIX) driver of the parallel HDF5 library. */
  hid_t file = lcfm_h5_create_partial_local(path, partial, sizeof partial);
  write_state(file, opt, state, signature);
  lcfm_provenance_write(file, prov);
  for (int g = 0; g < 3; g++) {
    hid_t group = LCFM_CHECK_H5(H5Gcreate2(file, groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    for (int t = 0; t < p->count; t++)
      write_tensor(group, &p->tensors[t], buffer_of(p, g) + p->tensors[t].offset);
    H5Gclose(group);
  }
  lcfm_h5_publish_local(file, partial, path);
}

/* A scalar (one-element) numeric attribute; returns 0, or 1 when absent, not a number, or not
 * one element (reading an array into one value would write past it). */
static int read_attribute(hid_t file, const char *name, hid_t type, void *value) {
  if (H5Aexists(file, name) <= 0) return 1;
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
  if (attr < 0) return 1;
  hid_t space = H5Aget_space(attr), stored = H5Aget_type(attr);
  H5T_class_t class_ = stored >= 0 ? H5Tget_class(stored) : H5T_NO_CLASS;
  int bad = space < 0 || H5Sget_simple_extent_npoints(space) != 1 ||
            (class_ != H5T_INTEGER && class_ != H5T_FLOAT) || H5Aread(attr, type, value) < 0;
  if (space >= 0) H5Sclose(space);
  if (stored >= 0) H5Tclose(stored);
  H5Aclose(attr);
  return bad;
}

/* Describes the first line where two signatures differ. */
static void first_difference(const char *want, const char *have, char *why, size_t why_len) {
  while (*want && *have) {
    size_t a = strcspn(want, "\n"), b = strcspn(have, "\n");
    if (a != b || strncmp(want, have, a)) {
      snprintf(why, why_len, "the checkpoint has '%.*s' where this model has '%.*s'", (int)b, have,
               (int)a, want);
      return;
    }
    want += a + (want[a] == '\n'), have += b + (have[b] == '\n');
  }
  snprintf(why, why_len, "the checkpoint has %s tensors than this model", *have ? "more" : "fewer");
}

/* "[a, b]" of a shape. */
static void shape_text(char *buf, size_t len, int ndim, const int64_t *shape) {
  size_t used = (size_t)snprintf(buf, len, "[");
  for (int d = 0; d < ndim && used < len; d++)
    used += (size_t)snprintf(buf + used, len - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (used < len) snprintf(buf + used, len - used, "]");
}

/* Checks dataset `name` against tensor t (32-bit float, the model's shape) before reading it
 * into `into`: a larger tensor would overflow the buffer, a smaller one leave it half filled.
 * Parameters must be finite (Adam's second moment may legitimately overflow to inf). Returns 0,
 * or 1 with why naming the file, the tensor, and both shapes. */
static int read_tensor(hid_t file, const char *path, const char *name, const lcfm_nn_tensor *t,
                       int finite, float *into, char *why, size_t why_len) {
  char want[160], found[160] = "?";
  shape_text(want, sizeof want, t->ndim, t->shape);
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    snprintf(why, why_len,
             "%s: damaged checkpoint: tensor %s is missing (this model's shape is %s)", path, name,
             want);
    return 1;
  }
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
  hid_t space = dset >= 0 ? H5Dget_space(dset) : -1, type = dset >= 0 ? H5Dget_type(dset) : -1;
  int ndim = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  hsize_t dims[H5S_MAX_RANK] = {0};
  int64_t shape[H5S_MAX_RANK] = {0};
  if (ndim >= 0 && ndim <= H5S_MAX_RANK) {
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int d = 0; d < ndim; d++) shape[d] = (int64_t)dims[d];
    shape_text(found, sizeof found, ndim, shape);
  }
  int same_shape = ndim == t->ndim;
  for (int d = 0; d < t->ndim && same_shape; d++) same_shape = shape[d] == t->shape[d];
  int is_float32 =
      type >= 0 && H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == sizeof(float);
  int bad = 1;
  if (dset < 0 || space < 0 || type < 0)
    snprintf(why, why_len, "%s: damaged checkpoint: %s is not a readable dataset", path, name);
  else if (!same_shape)
    snprintf(why, why_len, "%s: damaged checkpoint: tensor %s has shape %s, this model's is %s",
             path, name, found, want);
  else if (!is_float32)
    snprintf(why, why_len, "%s: damaged checkpoint: tensor %s %s is not 32-bit floating point",
             path, name, found);
  else if (H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, into) < 0)
    snprintf(why, why_len, "%s: cannot read tensor %s", path, name);
  else bad = 0;
  for (size_t i = 0; finite && i < t->numel && !bad; i++)
    if (!isfinite(into[i])) {
      snprintf(why, why_len,
               "%s: damaged checkpoint: tensor %s holds a non-finite value (%g) at element %zu",
               path, name, into[i], i);
      bad = 1;
    }
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (dset >= 0) H5Dclose(dset);
  return bad;
}

/* The training state and Adam settings; returns 0, or 1 with why. */
static int read_state(hid_t file, const char *path, lcfm_adam *opt, lcfm_train_state *state,
                      char *why, size_t why_len) {
  double lr = 0, b1 = 0, b2 = 0, eps = 0, wd = 0;
  int bad = read_attribute(file, "step", H5T_NATIVE_INT64, &state->step) |
            read_attribute(file, "best_step", H5T_NATIVE_INT64, &state->best_step) |
            read_attribute(file, "best_validation", H5T_NATIVE_DOUBLE, &state->best_validation) |
            read_attribute(file, "stale_evaluations", H5T_NATIVE_INT64, &state->stale_evaluations) |
            read_attribute(file, "adam_step", H5T_NATIVE_INT64, &opt->step) |
            read_attribute(file, "adam_lr", H5T_NATIVE_DOUBLE, &lr) |
            read_attribute(file, "adam_beta1", H5T_NATIVE_DOUBLE, &b1) |
            read_attribute(file, "adam_beta2", H5T_NATIVE_DOUBLE, &b2) |
            read_attribute(file, "adam_eps", H5T_NATIVE_DOUBLE, &eps) |
            read_attribute(file, "adam_weight_decay", H5T_NATIVE_DOUBLE, &wd);
  if (bad) {
    snprintf(why, why_len, "%s: damaged checkpoint (missing or malformed state attributes)", path);
    return 1;
  }
  if (state->step < 0 || opt->step < 0 || state->best_step < -1 || state->best_step > state->step ||
      state->stale_evaluations < 0 || !isfinite(state->best_validation) || !isfinite(lr) ||
      !isfinite(b1) || !isfinite(b2) || !isfinite(eps) || !isfinite(wd)) {
    snprintf(why, why_len,
             "%s: damaged checkpoint: impossible state (step %lld, best_step %lld, adam_step %lld, "
             "stale_evaluations %lld, best_validation %g, adam_lr %g)",
             path, (long long)state->step, (long long)state->best_step, (long long)opt->step,
             (long long)state->stale_evaluations, state->best_validation, lr);
    return 1;
  }
  opt->lr = (float)lr, opt->beta1 = (float)b1, opt->beta2 = (float)b2, opt->eps = (float)eps,
  opt->weight_decay = (float)wd;
  return 0;
}

int lcfm_checkpoint_read(const char *path, lcfm_nn_params *p, lcfm_adam *opt,
                         lcfm_train_state *state, const char *signature, char *why,
                         size_t why_len) {
  if (access(path, R_OK) != 0) {
    snprintf(why, why_len, "%s: cannot open: %s", path, strerror(errno));
    return 1;
  }
  hid_t file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (file < 0) {
    snprintf(why, why_len, "%s: not an HDF5 file", path);
    return 1;
  }
  char *schema = lcfm_h5_read_text_attribute(file, "schema"),
       *stored = lcfm_h5_read_text_attribute(file, "model_signature");
  int status = 1;
  if (!schema || strcmp(schema, CHECKPOINT_SCHEMA)) {
    snprintf(why, why_len, "%s: not an lcfm checkpoint", path);
  } else if (!stored || strcmp(stored, signature)) {
    char detail[1024] = "no model signature";
    if (stored) first_difference(signature, stored, detail, sizeof detail);
    snprintf(why, why_len, "%s: a checkpoint of another model configuration: %s", path, detail);
  } else {
    /* Read into copies: a checkpoint refused half way leaves the caller's model and state as they were. */
    lcfm_adam new_opt = *opt;
    lcfm_train_state new_state = *state;
    int bad = read_state(file, path, &new_opt, &new_state, why, why_len);
    float *buffers[3] = {NULL, NULL, NULL};
    for (int g = 0; g < 3 && !bad; g++) {
      buffers[g] = lcfm_malloc((p->total ? p->total : 1) * sizeof(float));
      memcpy(buffers[g], buffer_of(p, g), p->total * sizeof(float));
      for (int t = 0; t < p->count && !bad; t++) {
        char name[LCFM_NN_NAME_MAX + 16];
        snprintf(name, sizeof name, "/%s/%s", groups[g], p->tensors[t].name);
        bad = read_tensor(file, path, name, &p->tensors[t], g == 0,
                          buffers[g] + p->tensors[t].offset, why, why_len);
      }
    }
    if (!bad) {
      for (int g = 0; g < 3; g++) memcpy(buffer_of(p, g), buffers[g], p->total * sizeof(float));
      *opt = new_opt, *state = new_state;
    }
    for (int g = 0; g < 3; g++) free(buffers[g]);
    status = bad;
  }
  free(schema);
  free(stored);
  H5Fclose(file);
  return status;
}

char *lcfm_checkpoint_job_text(const char *path) {
  hid_t file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (file < 0) return NULL;
  char *text = lcfm_h5_read_text_attribute(file, "job");
  H5Fclose(file);
  return text;
}

void lcfm_checkpoint_best_path(const char *checkpoint, char *buf, size_t len) {
  size_t stem = strlen(checkpoint);
  if (stem >= 3 && !strcmp(checkpoint + stem - 3, ".h5")) stem -= 3;
  snprintf(buf, len, "%.*s.best.h5", (int)stem, checkpoint);
}
