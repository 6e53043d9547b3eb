/* probe_util.c: helpers the regression probe (probe.c, mlp_probe.c) and the classification probe
 * (class_probe.c) share: input standardisation, probe-store tables, lists of counts and the
 * [probe] task. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/h5io.h"
#include "lcfm/log.h"
#include "lcfm/probe.h"
#include "probe_util_internal.h"

void probe_column_stats(const float *x, int n, int D, float *mean, float *scale) {
  for (int j = 0; j < D; j++) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++)
      s += x[(size_t)i * D + j], s2 += (double)x[(size_t)i * D + j] * x[(size_t)i * D + j];
    double mu = s / n, var = s2 / n - mu * mu;
    mean[j] = (float)mu;
    scale[j] = var > 1e-12 ? (float)(1.0 / sqrt(var)) : 1.0f;
  }
}

void probe_standardise(float *out, const float *x, int n, int D, const float *mean,
                       const float *scale) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < D; j++)
      out[(size_t)i * D + j] = (x[(size_t)i * D + j] - mean[j]) * scale[j];
}

void probe_write_table(hid_t file, hid_t dxpl, const char *name, hid_t type, int64_t rows,
                       int64_t cols, const void *data, int rank) {
  hid_t dset = lcfm_h5_create_dataset(file, name, type, rows, cols);
  lcfm_h5_transfer_rows(dset, type, dxpl, 0, rank == 0 ? rows : 0, cols, (void *)data, 1);
  H5Dclose(dset);
}

int probe_parse_counts(const lcfm_job *job, const probe_count_list *list, const char *text,
                       int64_t *counts, int *count) {
  char copy[512];
  snprintf(copy, sizeof copy, "%s", text);
  *count = 0;
  char *saveptr = NULL;
  for (char *t = strtok_r(copy, " ,\t", &saveptr); t; t = strtok_r(NULL, " ,\t", &saveptr)) {
    char *end;
    long long v = strtoll(t, &end, 10);
    if (*end || v < list->least || *count == list->max) {
      lcfm_job_error(job, "probe", list->key, "'%s' is not %s (at most %d %s)", t, list->valid,
                     list->max, list->several);
      return 1;
    }
    counts[(*count)++] = v;
  }
  if (!*count) {
    lcfm_job_error(job, "probe", list->key, "no %s given", list->one);
    return 1;
  }
  return 0;
}

int lcfm_probe_task(const lcfm_job *job) {
  return !strcmp(lcfm_job_settings(job)->probe.task, "classification") ? LCFM_PROBE_CLASSIFICATION
                                                                       : LCFM_PROBE_REGRESSION;
}

void probe_output_begin(probe_output *o, MPI_Comm comm, const char *path, int schema_version,
                        const lcfm_provenance *prov) {
  MPI_Comm_rank(comm, &o->rank);
  o->file = lcfm_h5_create_partial(comm, path, o->partial, sizeof o->partial);
  o->dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_write_string_attribute(o->file, "schema", LCFM_PROBE_SCHEMA);
  lcfm_h5_write_int64_attribute(o->file, "schema_version", schema_version);
  lcfm_provenance_write(o->file, prov);
}

void probe_output_publish(probe_output *o, MPI_Comm comm, const char *path) {
  H5Pclose(o->dxpl);
  lcfm_h5_publish(comm, o->file, o->partial, path);
  lcfm_log("wrote %s", path);
}
