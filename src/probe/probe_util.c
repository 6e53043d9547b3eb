/* probe_util.c: helpers the regression probe (probe.c, mlp_probe.c) and the classification probe
 * (class_probe.c) share: input standardisation, probe-store tables and the [probe] task. */
#include <math.h>
#include <string.h>

#include "lcfm/h5io.h"
#include "lcfm/probe.h"
#include "probe_util_internal.h"

void probe_column_stats(const float *x, int n, int D, float *mean, float *scale) {
  for (int j = 0; j < D; j++) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += x[(size_t)i * D + j], s2 += (double)x[(size_t)i * D + j] * x[(size_t)i * D + j];
    double mu = s / n, var = s2 / n - mu * mu;
    mean[j] = (float)mu;
    scale[j] = var > 1e-12 ? (float)(1.0 / sqrt(var)) : 1.0f;
  }
}

void probe_standardise(float *out, const float *x, int n, int D, const float *mean, const float *scale) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < D; j++) out[(size_t)i * D + j] = (x[(size_t)i * D + j] - mean[j]) * scale[j];
}

void probe_write_table(hid_t file, hid_t dxpl, const char *name, hid_t type, int64_t rows, int64_t cols,
                       const void *data, int rank) {
  hid_t dset = lcfm_h5_create_dataset(file, name, type, rows, cols);
  lcfm_h5_transfer_rows(dset, type, dxpl, 0, rank == 0 ? rows : 0, cols, (void *)data, 1);
  H5Dclose(dset);
}

int lcfm_probe_task(const lcfm_job *job) {
  const char *task = lcfm_job_string(job, "probe", "task");
  return !strcmp(task, "regression") ? LCFM_PROBE_REGRESSION
         : !strcmp(task, "classification") ? LCFM_PROBE_CLASSIFICATION
                                           : LCFM_PROBE_TASK_UNKNOWN;
}

int lcfm_probe_task_check(const lcfm_job *job) {
  if (lcfm_probe_task(job) != LCFM_PROBE_TASK_UNKNOWN) return 0;
  lcfm_job_error(job, "probe", "task", "'%s' is neither regression nor classification",
                 lcfm_job_string(job, "probe", "task"));
  return 1;
}
