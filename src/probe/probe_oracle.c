/* probe_oracle.c: the probe's ceiling, the input "oracle" (probe_data.h): per object the posterior
 * mean E[theta_0 | folded frequency] of its star (alias.h), from the store's /truth alone (the
 * rows of /truth/theta of the objects asked for). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/alias.h"
#include "lcfm/error.h"
#include "lcfm/probe_data.h"
#include "probe_read_internal.h"

/* A numeric attribute of /truth; 1 if absent or unreadable. */
static int read_truth_attribute(hid_t truth, const char *name, hid_t type, void *value) {
  if (H5Aexists(truth, name) <= 0) return 1;
  hid_t attr = H5Aopen(truth, name, H5P_DEFAULT);
  int bad = attr < 0 || H5Aread(attr, type, value) < 0;
  if (attr >= 0) H5Aclose(attr);
  return bad;
}

/* lambda and T of a causal simulation; 1 with a reason if the store is not one. */
static int read_causal_constants(hid_t file, const char *store, double *lambda, int64_t *T,
                                 char *why, size_t len) {
  int bad = H5Lexists(file, "/truth", H5P_DEFAULT) <= 0 ||
            H5Lexists(file, "/truth/theta", H5P_DEFAULT) <= 0;
  hid_t truth = bad ? -1 : H5Gopen2(file, "/truth", H5P_DEFAULT);
  bad = bad || truth < 0 || read_truth_attribute(truth, "lambda", H5T_NATIVE_DOUBLE, lambda) ||
        read_truth_attribute(truth, "T", H5T_NATIVE_INT64, T) || !(*lambda > 0) || *T < 1;
  if (bad)
    snprintf(why, len,
             "%s is not a causal simulation (no /truth/theta with attributes lambda and T)", store);
  if (truth >= 0) H5Gclose(truth);
  return bad;
}

int lcfm_probe_oracle_open(lcfm_probe_oracle *o, const char *store, const char *target, char *why,
                           size_t len) {
  *o = (lcfm_probe_oracle){.file = -1, .theta = -1};
  if (strcmp(target, "theta0")) {
    snprintf(why, len, "only for target theta0 (the target is %s)", target);
    return 0;
  }
  o->file = lcfm_probe_open(store, why, len);
  if (o->file < 0) return 0;
  int64_t stars = 0, K = 0;
  if (!read_causal_constants(o->file, store, &o->lambda, &o->T, why, len)) {
    o->theta = lcfm_probe_open_dataset(o->file, store, "/truth/theta", &stars, &K, why, len);
    if (o->theta >= 0 && K < 1) {
      snprintf(why, len, "%s: /truth/theta is not a [stars, K] matrix", store);
      H5Dclose(o->theta), o->theta = -1;
    }
  }
  if (o->theta < 0) {
    lcfm_probe_oracle_close(o);
    return 0;
  }
  snprintf(why, len,
           "E[theta_0 | folded frequency] of each star (lambda %g, T %lld): alias bound %.4f",
           o->lambda, (long long)o->T, lcfm_alias_bound(o->lambda, o->T));
  return 1;
}

void lcfm_probe_oracle_values(const lcfm_probe_oracle *o, const int64_t *source, int64_t count,
                              float *out) {
  double *theta0 = lcfm_malloc((size_t)(count ? count : 1) * sizeof *theta0);
  lcfm_probe_read_column_at(o->theta, H5T_NATIVE_DOUBLE, source, count, 0, theta0);
  for (int64_t i = 0; i < count;
       i++) /* objects of a star often come together: one posterior per star */
    out[i] = i > 0 && source[i] == source[i - 1]
                 ? out[i - 1]
                 : (float)lcfm_theta0_posterior_mean(theta0[i], o->lambda, o->T);
  free(theta0);
}

void lcfm_probe_oracle_close(lcfm_probe_oracle *o) {
  if (o->theta >= 0) H5Dclose(o->theta);
  if (o->file >= 0) H5Fclose(o->file);
  o->theta = o->file = -1;
}
