/* checkpoint.c: named tensors, Adam moments and the training state in HDF5 (see train.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/train.h"

#define CHECKPOINT_SCHEMA "lcfm-checkpoint"
#define CHECKPOINT_VERSION 1

static const char *const groups[3] = {"params", "adam_m", "adam_v"};

static float *buffer_of(const lcfm_nn_params *p, int g) { return g == 0 ? p->params : g == 1 ? p->m : p->v; }

char *lcfm_model_signature(const lcfm_nn_params *p, const char *settings) {
  size_t capacity = strlen(settings) + 64 + (size_t)p->count * (LCFM_NN_NAME_MAX + 80), used = 0;
  char *text = lcfm_malloc(capacity);
  used += (size_t)snprintf(text, capacity, "%s\n", settings);
  for (int t = 0; t < p->count; t++) {
    const lcfm_nn_tensor *x = &p->tensors[t];
    used += (size_t)snprintf(text + used, capacity - used, "%s [", x->name);
    for (int d = 0; d < x->ndim; d++) used += (size_t)snprintf(text + used, capacity - used, "%s%lld", d ? ", " : "", (long long)x->shape[d]);
    used += (size_t)snprintf(text + used, capacity - used, "]\n");
  }
  return text;
}

static void write_tensor(hid_t group, const lcfm_nn_tensor *t, const float *data) {
  hsize_t dims[LCFM_NN_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
  hid_t space = LCFM_CHECK_H5(H5Screate_simple(t->ndim, dims, NULL));
  hid_t dset = LCFM_CHECK_H5(H5Dcreate2(group, t->name, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  LCFM_CHECK_H5(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  H5Dclose(dset);
  H5Sclose(space);
}

static void write_state(hid_t file, const lcfm_adam *opt, const lcfm_train_state *st, const char *signature) {
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
                           const lcfm_train_state *state, const char *signature, const lcfm_provenance *prov) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  char partial[4096];
  snprintf(partial, sizeof partial, "%s.partial", path);
  /* Rank 0 alone: the default (POSIX) driver of the parallel HDF5 library. */
  hid_t file = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) {
    char reason[512];
    lcfm_h5_last_error(reason, sizeof reason);
    LCFM_FATAL("%s: cannot create the checkpoint: %s", partial, reason);
  }
  write_state(file, opt, state, signature);
  lcfm_provenance_write(file, prov);
  for (int g = 0; g < 3; g++) {
    hid_t group = LCFM_CHECK_H5(H5Gcreate2(file, groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    for (int t = 0; t < p->count; t++) write_tensor(group, &p->tensors[t], buffer_of(p, g) + p->tensors[t].offset);
    H5Gclose(group);
  }
  LCFM_CHECK_H5(H5Fclose(file));
  if (rename(partial, path) != 0) LCFM_FATAL("cannot rename %s to %s: %s", partial, path, strerror(errno));
}

static int read_attribute(hid_t file, const char *name, hid_t type, void *value) {
  if (H5Aexists(file, name) <= 0) return 1;
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
  int bad = attr < 0 || H5Aread(attr, type, value) < 0;
  if (attr >= 0) H5Aclose(attr);
  return bad;
}

/* Reads a fixed-length string attribute into a new allocation (NULL if absent). */
static char *read_text(hid_t file, const char *name) {
  if (H5Aexists(file, name) <= 0) return NULL;
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
  hid_t type = H5Aget_type(attr);
  char *text = NULL;
  if (H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)) {
    size_t size = H5Tget_size(type);
    text = lcfm_calloc(size + 1, 1);
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, size + 1);
    if (H5Aread(attr, mem, text) < 0) text[0] = '\0';
    H5Tclose(mem);
  }
  H5Tclose(type);
  H5Aclose(attr);
  return text;
}

/* Describes the first line where two signatures differ. */
static void first_difference(const char *want, const char *have, char *why, size_t why_len) {
  while (*want && *have) {
    size_t a = strcspn(want, "\n"), b = strcspn(have, "\n");
    if (a != b || strncmp(want, have, a)) {
      snprintf(why, why_len, "the checkpoint has '%.*s' where this model has '%.*s'", (int)b, have, (int)a, want);
      return;
    }
    want += a + (want[a] == '\n'), have += b + (have[b] == '\n');
  }
  snprintf(why, why_len, "the checkpoint has %s tensors than this model", *have ? "more" : "fewer");
}

int lcfm_checkpoint_read(const char *path, lcfm_nn_params *p, lcfm_adam *opt, lcfm_train_state *state,
                         const char *signature, char *why, size_t why_len) {
  if (access(path, R_OK) != 0) {
    snprintf(why, why_len, "%s: cannot open: %s", path, strerror(errno));
    return 1;
  }
  hid_t file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (file < 0) {
    snprintf(why, why_len, "%s: not an HDF5 file", path);
    return 1;
  }
  char *schema = read_text(file, "schema"), *stored = read_text(file, "model_signature");
  int status = 1;
  if (!schema || strcmp(schema, CHECKPOINT_SCHEMA)) {
    snprintf(why, why_len, "%s: not an lcfm checkpoint", path);
  } else if (!stored || strcmp(stored, signature)) {
    char detail[1024] = "no model signature";
    if (stored) first_difference(signature, stored, detail, sizeof detail);
    snprintf(why, why_len, "%s: a checkpoint of another model configuration: %s", path, detail);
  } else {
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
    opt->lr = (float)lr, opt->beta1 = (float)b1, opt->beta2 = (float)b2, opt->eps = (float)eps, opt->weight_decay = (float)wd;
    for (int g = 0; g < 3 && !bad; g++)
      for (int t = 0; t < p->count && !bad; t++) {
        char name[LCFM_NN_NAME_MAX + 16];
        snprintf(name, sizeof name, "/%s/%s", groups[g], p->tensors[t].name);
        hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
        bad = dset < 0 || H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                  buffer_of(p, g) + p->tensors[t].offset) < 0;
        if (dset >= 0) H5Dclose(dset);
        if (bad) snprintf(why, why_len, "%s: cannot read %s", path, name);
      }
    if (bad && !why[0]) snprintf(why, why_len, "%s: damaged checkpoint (missing state attributes)", path);
    status = bad;
  }
  free(schema);
  free(stored);
  H5Fclose(file);
  return status;
}
