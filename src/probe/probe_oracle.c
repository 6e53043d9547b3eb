/* probe_oracle.c: the probe's ceiling, the input "oracle" (probe_data.h): per object the posterior
 * mean E[theta_0 | folded frequency] of its star (alias.h), from the store's /truth alone. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/alias.h"
#include "lcfm/error.h"
#include "lcfm/probe_data.h"

/* A numeric attribute of /truth; 1 if absent or unreadable. */
static int read_truth_attribute(hid_t truth, const char *name, hid_t type, void *value) {
  if (H5Aexists(truth, name) <= 0) return 1;
  hid_t attr = H5Aopen(truth, name, H5P_DEFAULT);
  int bad = attr < 0 || H5Aread(attr, type, value) < 0;
  if (attr >= 0) H5Aclose(attr);
  return bad;
}

/* theta0 [stars] = /truth/theta[:, 0], the simulator's lambda and T; 1 with a reason if the store
 * is not a causal simulation. */
static int read_causal_truth(const char *store, double **theta0, int64_t *stars, double *lambda, int64_t *T,
                             char *why, size_t len) {
  hid_t file = H5Fis_hdf5(store) > 0 ? H5Fopen(store, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (file < 0) {
    snprintf(why, len, "%s: cannot open as HDF5", store);
    return 1;
  }
  int bad = H5Lexists(file, "/truth", H5P_DEFAULT) <= 0 || H5Lexists(file, "/truth/theta", H5P_DEFAULT) <= 0;
  hid_t truth = bad ? -1 : H5Gopen2(file, "/truth", H5P_DEFAULT);
  bad = bad || truth < 0 || read_truth_attribute(truth, "lambda", H5T_NATIVE_DOUBLE, lambda) ||
        read_truth_attribute(truth, "T", H5T_NATIVE_INT64, T) || !(*lambda > 0) || *T < 1;
  if (bad) snprintf(why, len, "%s is not a causal simulation (no /truth/theta with attributes lambda and T)", store);
  if (!bad) {
    hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, "/truth/theta", H5P_DEFAULT));
    hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
    hsize_t dims[2] = {0, 0};
    bad = H5Sget_simple_extent_ndims(space) != 2;
    if (bad) snprintf(why, len, "%s: /truth/theta is not a [stars, K] matrix", store);
    H5Sget_simple_extent_dims(space, dims, NULL);
    *stars = (int64_t)dims[0];
    *theta0 = lcfm_malloc((size_t)*stars * sizeof **theta0);
    if (!bad && *stars) {
      hsize_t start[2] = {0, 0}, count[2] = {dims[0], 1};
      LCFM_CHECK_H5(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL));
      hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(2, count, NULL));
      LCFM_CHECK_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, memspace, space, H5P_DEFAULT, *theta0));
      H5Sclose(memspace);
    }
    H5Sclose(space);
    H5Dclose(dset);
  }
  if (truth >= 0) H5Gclose(truth);
  H5Fclose(file);
  return bad;
}

int lcfm_probe_oracle_add(lcfm_probe_data *d, const char *store, const char *target, char *why, size_t len) {
  if (strcmp(target, "theta0")) {
    snprintf(why, len, "only for target theta0 (the target is %s)", target);
    return 0;
  }
  if (d->input_count == LCFM_PROBE_MAX_INPUTS) {
    snprintf(why, len, "no room for another input");
    return 0;
  }
  double *theta0 = NULL, lambda = 0;
  int64_t stars = 0, T = 0;
  if (read_causal_truth(store, &theta0, &stars, &lambda, &T, why, len)) {
    free(theta0);
    return 0;
  }
  /* one posterior mean per star, computed when first needed */
  double *mean = lcfm_malloc((size_t)stars * sizeof *mean);
  for (int64_t s = 0; s < stars; s++) mean[s] = NAN;
  float *x = lcfm_malloc((size_t)d->objects * sizeof *x);
  for (int64_t i = 0; i < d->objects; i++) {
    int64_t s = d->source[i];
    LCFM_CHECK(s >= 0 && s < stars, "%s: object %lld's source %lld has no row in /truth/theta", store,
               (long long)d->id[i], (long long)s);
    if (isnan(mean[s])) mean[s] = lcfm_theta0_posterior_mean(theta0[s], lambda, T);
    x[i] = (float)mean[s];
  }
  free(mean), free(theta0);
  lcfm_probe_input *in = &d->inputs[d->input_count++];
  snprintf(in->name, sizeof in->name, "oracle");
  in->dim = 1, in->x = x, in->is_latent = 1, in->is_oracle = 1;
  snprintf(why, len, "E[theta_0 | folded frequency] of each star (lambda %g, T %lld): alias bound %.4f", lambda,
           (long long)T, lcfm_alias_bound(lambda, T));
  return 1;
}
