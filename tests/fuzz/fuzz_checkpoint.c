/* fuzz_checkpoint.c: libFuzzer target for the checkpoint reader (lcfm_checkpoint_read) against a
 * small model of three tensors ([4, 3], [3], [2, 5]).
 *
 * Like fuzz_store.c, the input is a recipe for a well-formed HDF5 file with wrong content, not
 * HDF5 bytes. Read byte by byte (missing bytes read as 0: intact):
 *   schema byte (>= 250: another schema), signature byte (>= 250: another model's)
 *   per state attribute (step, best_step, best_validation, stale_evaluations, adam_step, adam_lr,
 *   adam_beta1, adam_beta2, adam_eps, adam_weight_decay): a mode byte (< 200: a scalar of the
 *   next byte as int8, scaled for the reals; then absent, a 5-element array, a string, NaN)
 *   per group (params, adam_m, adam_v) and tensor: a mode byte (< 200 intact; then absent, one
 *   more or one fewer element in the last dimension, an extra dimension, int32, float64) and one
 *   byte per element (int8 / 16; 127 stands for NaN, -128 for +inf).
 * Invariants: the checkpoint is refused, with a reason naming the file, exactly when the recipe
 * damaged it (write_checkpoint knows; Adam's moments may hold inf or NaN); an accepted one has
 * finite parameters and a possible state; and no buffer is overrun (ASan). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "lcfm/provenance.h"
#include "lcfm/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *data;
  size_t size, at;
} recipe;

static uint8_t next_byte(recipe *r) { return r->at < r->size ? r->data[r->at++] : 0; }

static const char *const groups[3] = {"params", "adam_m", "adam_v"};
static const char *const int_attributes[] = {"step", "best_step", "stale_evaluations", "adam_step"};
static const char *const real_attributes[] = {"best_validation", "adam_lr",  "adam_beta1",
                                              "adam_beta2",      "adam_eps", "adam_weight_decay"};

static void model(lcfm_nn_params *p) {
  lcfm_nn_params_init(p);
  lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 4, 3, "a.w");
  lcfm_nn_params_add2(p, LCFM_INIT_ZERO, 3, 0, "a.b");
  lcfm_nn_params_add2(p, LCFM_INIT_FANIN, 2, 5, "c.w");
  lcfm_nn_params_alloc(p);
}

/* Writes one state attribute; returns its value, or NAN when it is absent or not one number
 * (the reader must refuse those: absent, array, text, NaN; an int64 attribute written from NaN
 * is whatever HDF5's conversion makes of it, so it returns the marker INFINITY: no expectation). */
static double write_attribute(hid_t file, recipe *r, const char *name, int is_real) {
  uint8_t mode = next_byte(r);
  double scalar = is_real ? (double)(int8_t)next_byte(r) / 64.0 : (double)(int8_t)next_byte(r);
  if (mode >= 200 && mode % 4 == 0) return NAN; /* absent */
  if (mode >= 200 && mode % 4 == 2) {
    lcfm_h5_write_string_attribute(file, name, "not a number");
    return NAN;
  }
  hsize_t n = mode >= 200 && mode % 4 == 1 ? 5 : 1;
  double values[5] = {scalar, scalar, scalar, scalar, scalar};
  if (mode >= 200 && mode % 4 == 3) values[0] = NAN;
  hid_t space = H5Screate_simple(1, &n, NULL);
  hid_t attr = H5Acreate2(file, name, is_real ? H5T_IEEE_F64LE : H5T_STD_I64LE, space, H5P_DEFAULT,
                          H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_DOUBLE, values);
  H5Aclose(attr);
  H5Sclose(space);
  if (n > 1) return NAN;
  return isnan(values[0]) && !is_real ? INFINITY : values[0];
}

/* Writes one tensor; returns 1 when the reader must refuse it (damaged, or a non-finite
 * parameter when `finite`). */
static int write_tensor(hid_t group, recipe *r, const lcfm_nn_tensor *t, int finite) {
  uint8_t mode = next_byte(r);
  int kind = mode < 200 ? 0 : 1 + (mode - 200) % 6, broken = kind != 0;
  if (kind == 1) return broken; /* absent */
  hsize_t dims[LCFM_NN_MAX_DIMS + 1];
  int ndim = t->ndim;
  for (int d = 0; d < ndim; d++) dims[d] = (hsize_t)t->shape[d];
  if (kind == 2) dims[ndim - 1] += 1;
  if (kind == 3) dims[ndim - 1] -= 1;
  if (kind == 4) dims[ndim++] = 1;
  size_t count = 1;
  for (int d = 0; d < ndim; d++) count *= dims[d];
  float *values = calloc(count ? count : 1, sizeof *values);
  for (size_t i = 0; i < count; i++) {
    int8_t b = (int8_t)next_byte(r);
    values[i] = b == 127 ? NAN : b == -128 ? INFINITY : (float)b / 16.0f;
    broken |= finite && !isfinite(values[i]);
  }
  hid_t space = H5Screate_simple(ndim, dims, NULL);
  hid_t type = kind == 5 ? H5T_STD_I32LE : kind == 6 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
  hid_t dset = H5Dcreate2(group, t->name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (dset >= 0) {
    if (count) H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(dset);
  }
  H5Sclose(space);
  free(values);
  return broken;
}

/* Writes the checkpoint the recipe describes; returns 1 when the reader must refuse it, 0 when it
 * must accept it, -1 when the recipe leaves it open (an int64 attribute written from NaN). */
static int write_checkpoint(const char *path, const uint8_t *data, size_t size,
                            const lcfm_nn_params *p, const char *signature) {
  recipe r = {data, size, 0};
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) abort();
  int other_schema = next_byte(&r) >= 250, other_model = next_byte(&r) >= 250;
  lcfm_h5_write_string_attribute(file, "schema", other_schema ? "lcfm-store" : "lcfm-checkpoint");
  lcfm_h5_write_string_attribute(file, "model_signature",
                                 other_model ? "another model\n" : signature);
  double ints[4], reals[6];
  int broken = other_schema || other_model, open = 0;
  for (int i = 0; i < 4; i++)
    ints[i] = write_attribute(file, &r, int_attributes[i], 0), open |= isinf(ints[i]);
  for (int i = 0; i < 6; i++)
    reals[i] = write_attribute(file, &r, real_attributes[i], 1), broken |= isnan(reals[i]);
  double step = ints[0], best_step = ints[1], stale = ints[2], adam_step = ints[3];
  broken |= isnan(step) || isnan(best_step) || isnan(stale) || isnan(adam_step);
  if (!open) broken |= step < 0 || best_step < -1 || best_step > step || stale < 0 || adam_step < 0;
  for (int g = 0; g < 3; g++) {
    hid_t group = H5Gcreate2(file, groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int t = 0; t < p->count; t++) broken |= write_tensor(group, &r, &p->tensors[t], g == 0);
    H5Gclose(group);
  }
  H5Fclose(file);
  return broken ? 1 : open ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready = 0;
  if (!ready) lcfm_error_init(), ready = 1;
  lcfm_nn_params p;
  model(&p);
  char *signature = lcfm_model_signature(&p, "fuzz model");
  char path[64];
  snprintf(path, sizeof path, "/tmp/lcfm_fuzz_checkpoint_%d.h5", (int)getpid());
  int expected = write_checkpoint(path, data, size, &p, signature);
  lcfm_adam opt = {0};
  lcfm_train_state state = {.best_step = -1};
  char why[2048] = "";
  int refused = lcfm_checkpoint_read(path, &p, &opt, &state, signature, why, sizeof why);
  if (getenv("LCFM_FUZZ_VERBOSE"))
    printf("%s\n", refused ? why : "read"); /* to see what a corpus reaches */
  FUZZ_REQUIRE(expected < 0 || refused == expected, "%s: %s",
               expected ? "a damaged checkpoint was accepted" : "a sound checkpoint was refused",
               why);
  if (!refused) {
    for (int t = 0; t < p.count; t++)
      for (size_t i = 0; i < p.tensors[t].numel; i++)
        FUZZ_REQUIRE(isfinite(p.params[p.tensors[t].offset + i]), "%s[%zu] not finite",
                     p.tensors[t].name, i);
    FUZZ_REQUIRE(state.step >= 0 && state.best_step >= -1 && state.best_step <= state.step &&
                     opt.step >= 0,
                 "impossible state: step %lld best %lld adam %lld", (long long)state.step,
                 (long long)state.best_step, (long long)opt.step);
  } else {
    FUZZ_REQUIRE(strstr(why, path) != NULL, "a refusal that does not name the file: %s", why);
  }
  unlink(path);
  free(signature);
  lcfm_nn_params_free(&p);
  return 0;
}
