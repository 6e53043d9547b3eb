/* probe_data.c: the rows `lcfm probe`'s MLP runs read, and nothing else (probe_data.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/probe_data.h"
#include "probe_read_internal.h"

/* ---- the target ---- */

int lcfm_probe_target_open(lcfm_probe_target *t, const char *store, const char *target,
                           int64_t *source_limit, char *why, size_t len) {
  *t = (lcfm_probe_target){.file = -1, .theta = -1, .column = -1};
  *source_limit = -1;
  if (!strcmp(target, "label")) return 0;
  int k = -1;
  char extra;
  if (sscanf(target, "theta%d%c", &k, &extra) != 1 || k < 0) {
    snprintf(why, len, "target '%s' is neither thetaK nor label", target);
    return 1;
  }
  int64_t stars = 0, K = 0;
  t->file = lcfm_probe_open(store, why, len);
  if (t->file >= 0)
    t->theta = lcfm_probe_open_dataset(t->file, store, "/truth/theta", &stars, &K, why, len);
  if (t->theta >= 0 && k >= (K ? K : 1)) {
    snprintf(why, len, "%s: /truth/theta has no column %d for every source", store, k);
    H5Dclose(t->theta), t->theta = -1;
  }
  if (t->theta < 0) {
    if (t->file >= 0) H5Fclose(t->file), t->file = -1;
    return 1;
  }
  t->column = k, *source_limit = stars;
  return 0;
}

void lcfm_probe_target_values(const lcfm_probe_target *t, const int64_t *source,
                              const int32_t *label, int64_t count, float *out) {
  if (t->column < 0) {
    for (int64_t i = 0; i < count; i++) out[i] = (float)label[i];
    return;
  }
  double *theta = lcfm_malloc((size_t)(count ? count : 1) * sizeof *theta);
  lcfm_probe_read_column_at(t->theta, H5T_NATIVE_DOUBLE, source, count, t->column, theta);
  for (int64_t i = 0; i < count; i++) out[i] = (float)theta[i];
  free(theta);
}

void lcfm_probe_target_close(lcfm_probe_target *t) {
  if (t->theta >= 0) H5Dclose(t->theta);
  if (t->file >= 0) H5Fclose(t->file);
  t->theta = t->file = -1;
}

/* ---- the loaded objects ---- */

/* The columns of the loaded objects (their store rows set). */
static void read_columns(lcfm_probe_data *d, hid_t file) {
  size_t n = (size_t)(d->objects ? d->objects : 1);
  d->id = lcfm_malloc(n * sizeof *d->id), d->source = lcfm_malloc(n * sizeof *d->source);
  d->instrument = lcfm_malloc(n * sizeof *d->instrument),
  d->label = lcfm_malloc(n * sizeof *d->label);
  struct {
    const char *name;
    hid_t type;
    void *out;
  } column[] = {{"/objects/id", H5T_NATIVE_INT64, d->id},
                {"/objects/source", H5T_NATIVE_INT64, d->source},
                {"/objects/instrument", H5T_NATIVE_INT32, d->instrument},
                {"/objects/label", H5T_NATIVE_INT32, d->label}};
  for (size_t c = 0; c < sizeof column / sizeof *column; c++) {
    hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, column[c].name, H5P_DEFAULT));
    lcfm_probe_read_rows(dset, column[c].type, d->store_row, d->objects, 0, column[c].out);
    H5Dclose(dset);
  }
}

/* The first `points` values of every loaded object (zero padded): one read of its slice. */
static void read_raw(lcfm_probe_data *d, hid_t file, int points) {
  d->raw_points = points;
  d->raw = lcfm_calloc((size_t)(d->objects ? d->objects : 1) * (size_t)points, sizeof *d->raw);
  int64_t *offset = lcfm_malloc((size_t)(d->objects ? d->objects : 1) * sizeof *offset);
  int32_t *length = lcfm_malloc((size_t)(d->objects ? d->objects : 1) * sizeof *length);
  hid_t offsets = LCFM_CHECK_H5(H5Dopen2(file, "/objects/offset", H5P_DEFAULT));
  hid_t lengths = LCFM_CHECK_H5(H5Dopen2(file, "/objects/length", H5P_DEFAULT));
  hid_t values = LCFM_CHECK_H5(H5Dopen2(file, "/points/value", H5P_DEFAULT));
  lcfm_probe_read_rows(offsets, H5T_NATIVE_INT64, d->store_row, d->objects, 0, offset);
  lcfm_probe_read_rows(lengths, H5T_NATIVE_INT32, d->store_row, d->objects, 0, length);
  int64_t *slice = lcfm_malloc((size_t)points * sizeof *slice);
  for (int64_t i = 0; i < d->objects; i++) {
    int n = length[i] < points ? length[i] : points;
    for (int j = 0; j < n; j++) slice[j] = offset[i] + j;
    lcfm_probe_read_rows(values, H5T_NATIVE_FLOAT, slice, n, 0,
                         d->raw + i * points); /* one run: one read */
  }
  H5Dclose(offsets), H5Dclose(lengths), H5Dclose(values);
  free(offset), free(length), free(slice);
}

/* One latent's rows of the loaded objects: embeddings of the same selection (row = probed
 * number) or, with a selection, of the whole store (row = store row); the ids must agree. */
static int read_latent(lcfm_probe_data *d, const lcfm_probe_sample *s, const char *path,
                       const char *name, const char *label, char *why, size_t len) {
  hid_t file = lcfm_probe_open(path, why, len);
  if (file < 0) return 1;
  int64_t rows = 0, cols = 0, id_rows = 0, id_cols = 0;
  hid_t z = lcfm_probe_open_dataset(file, path, name, &rows, &cols, why, len);
  hid_t ids = z >= 0
                  ? lcfm_probe_open_dataset(file, path, "/objects/id", &id_rows, &id_cols, why, len)
                  : -1;
  int whole_store = s->store_row && rows == s->store_objects && id_rows == rows;
  int aligned =
      ids >= 0 && cols > 0 && (whole_store || (rows == s->objects && id_rows == s->objects));
  float *x = NULL;
  if (aligned) {
    const int64_t *row = whole_store ? d->store_row : d->probed;
    int64_t *id = lcfm_malloc((size_t)(d->objects ? d->objects : 1) * sizeof *id);
    lcfm_probe_read_rows(ids, H5T_NATIVE_INT64, row, d->objects, 0, id);
    for (int64_t i = 0; i < d->objects && aligned; i++) aligned = id[i] == d->id[i];
    free(id);
    x = lcfm_malloc((size_t)(d->objects ? d->objects : 1) * (size_t)cols * sizeof *x);
    if (aligned) lcfm_probe_read_rows(z, H5T_NATIVE_FLOAT, row, d->objects, cols, x);
  }
  if (ids >= 0 && !aligned)
    snprintf(
        why, len,
        "%s: its objects are not those probed (embed the same store, with the same [embed] fields as "
        "[probe] fields or none)",
        path);
  if (z >= 0) H5Dclose(z);
  if (ids >= 0) H5Dclose(ids);
  H5Fclose(file);
  if (!aligned) {
    free(x);
    return 1;
  }
  lcfm_probe_input *in = &d->inputs[d->input_count++];
  snprintf(in->name, sizeof in->name, "%s", label);
  in->dim = (int)cols, in->x = x, in->is_latent = 1;
  return 0;
}

/* Whether an embedding store holds the causal model's two latents (else one /z). */
static int is_causal(const char *embeddings, char *why, size_t len) {
  hid_t file = lcfm_probe_open(embeddings, why, len);
  if (file < 0) return -1;
  int causal = H5Lexists(file, "/z_star", H5P_DEFAULT) > 0;
  H5Fclose(file);
  return causal;
}

int lcfm_probe_input_names(const char *embeddings, const char *baseline, int oracle,
                           char (*name)[32], char *why, size_t len) {
  int causal = is_causal(embeddings, why, len), n = 0;
  if (causal < 0) return -1;
  const char *names[] = {"raw", "baseline z", "z_star", "z_instr", "z", "oracle"};
  int use[] = {1, baseline && baseline[0], causal, causal, !causal, oracle};
  for (int k = 0; k < 6; k++)
    if (use[k]) snprintf(name[n++], 32, "%s", names[k]);
  return n;
}

int lcfm_probe_data_load(lcfm_probe_data *d, const lcfm_probe_sample *s, const char *store,
                         const char *embeddings, const char *baseline, const lcfm_probe_target *t,
                         const lcfm_probe_oracle *o, int raw_points, const int64_t *probed,
                         int64_t count, char *why, size_t len) {
  memset(d, 0, sizeof *d);
  d->objects = count;
  d->probed = lcfm_malloc((size_t)(count ? count : 1) * sizeof *d->probed);
  memcpy(d->probed, probed, (size_t)count * sizeof *probed);
  d->store_row = lcfm_malloc((size_t)(count ? count : 1) * sizeof *d->store_row);
  for (int64_t i = 0; i < count; i++)
    lcfm_probe_sample_store_rows(s, probed[i], 1, d->store_row + i);
  hid_t file = lcfm_probe_open(store, why, len);
  if (file < 0) return 1;
  read_columns(d, file);
  read_raw(d, file, raw_points);
  H5Fclose(file);
  d->target = lcfm_malloc((size_t)(count ? count : 1) * sizeof *d->target);
  lcfm_probe_target_values(t, d->source, d->label, count, d->target);
  lcfm_probe_input *raw = &d->inputs[d->input_count++];
  snprintf(raw->name, sizeof raw->name, "raw");
  raw->dim = raw_points, raw->x = d->raw, raw->is_latent = 0;
  if (baseline && baseline[0] && read_latent(d, s, baseline, "/z", "baseline z", why, len))
    return 1;
  int causal = is_causal(embeddings, why, len);
  if (causal < 0) return 1;
  if (causal) {
    if (read_latent(d, s, embeddings, "/z_star", "z_star", why, len)) return 1;
    if (read_latent(d, s, embeddings, "/z_instr", "z_instr", why, len)) return 1;
  } else if (read_latent(d, s, embeddings, "/z", "z", why, len)) {
    return 1;
  }
  if (o) {
    lcfm_probe_input *in = &d->inputs[d->input_count++];
    snprintf(in->name, sizeof in->name, "oracle");
    in->dim = 1, in->is_latent = 1, in->is_oracle = 1;
    in->x = lcfm_malloc((size_t)(count ? count : 1) * sizeof *in->x);
    lcfm_probe_oracle_values(o, d->source, count, in->x);
  }
  return 0;
}

void lcfm_probe_data_free(lcfm_probe_data *d) {
  for (int i = 0; i < d->input_count; i++)
    if (d->inputs[i].is_latent) free(d->inputs[i].x);
  free(d->probed), free(d->store_row), free(d->id), free(d->source), free(d->instrument),
      free(d->label);
  free(d->target), free(d->raw);
  memset(d, 0, sizeof *d);
}
