/* match.c: does an output's stored job agree with the job about to run? And the small file
 * reads the decisions need (see pipeline.h). */
#include <errno.h>
#include <hdf5.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "pipeline_internal.h"

/* Keys that change how a stage runs, not what it writes. */
static const char *const operational_keys[] = {"job.name",
                                               "simulate.block_stars",
                                               "train.log_every",
                                               "train.checkpoint_minutes",
                                               "train.threads",
                                               "train.resume",
                                               "ingest.block_objects",
                                               "ingest.block_points",
                                               "embed.block_objects",
                                               "embed.batch_windows",
                                               NULL};

static int is_operational(const lcfm_key_spec *spec) {
  char name[160];
  snprintf(name, sizeof name, "%s.%s", spec->section, spec->name);
  for (int i = 0; operational_keys[i]; i++)
    if (!strcmp(operational_keys[i], name)) return 1;
  return 0;
}

static int find_key(const char *section, const char *name) {
  const lcfm_key_spec *spec = lcfm_job_key_spec(section, name);
  return spec ? (int)(spec - lcfm_job_keys) : -1;
}

/* The values of one effective text, parallel to lcfm_job_keys (NULL: not in the text). */
typedef struct {
  char **values;
} text_values;

static int collect_value(void *user, const char *section, const char *name, const char *value) {
  text_values *t = user;
  int k = find_key(section, name);
  if (k >= 0 && !t->values[k]) {
    size_t n = strlen(value) + 1;
    t->values[k] = lcfm_malloc(n);
    memcpy(t->values[k], value, n);
  }
  return 1; /* unknown keys (an older or newer lcfm) are not an error here */
}

static void read_values(text_values *t, const char *text) {
  t->values = lcfm_calloc((size_t)lcfm_job_key_count, sizeof *t->values);
  ini_parse_string(text, collect_value, t);
}

static void free_values(text_values *t) {
  for (int k = 0; k < lcfm_job_key_count; k++) free(t->values[k]);
  free(t->values);
}

static int truth_of(const char *text) {
  return !strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
         !strcmp(text, "1");
}

/* Values equal as the key's type reads them ("2" and "2.0" are the same real). */
static int same_value(const lcfm_key_spec *spec, const char *a, const char *b) {
  switch (spec->type) {
  case LCFM_KEY_INT: return strtoll(a, NULL, 10) == strtoll(b, NULL, 10);
  case LCFM_KEY_REAL: {
    double x = strtod(a, NULL), y = strtod(b, NULL);
    return x == y || (isnan(x) && isnan(y));
  }
  case LCFM_KEY_BOOL: return truth_of(a) == truth_of(b);
  case LCFM_KEY_STRING: return !strcmp(a, b);
  }
  return 0;
}

static int in_sections(const char *section, const char *const *sections) {
  for (int i = 0; sections[i]; i++)
    if (!strcasecmp(sections[i], section)) return 1;
  return 0;
}

int lcfm_pipeline_jobs_agree(const char *stored, const char *current, const char *const *sections,
                             char *why, size_t why_len) {
  text_values a, b;
  read_values(&a, stored);
  read_values(&b, current);
  int agree = 1;
  for (int k = 0; k < lcfm_job_key_count && agree; k++) {
    const lcfm_key_spec *spec = &lcfm_job_keys[k];
    if (!in_sections(spec->section, sections) || is_operational(spec)) continue;
    const char *fallback = spec->default_value ? spec->default_value : "";
    const char *x = a.values[k] ? a.values[k] : fallback, *y = b.values[k] ? b.values[k] : fallback;
    if (!same_value(spec, x, y)) {
      snprintf(why, why_len, "[%s] %s is '%s' there and '%s' here", spec->section, spec->name, x,
               y);
      agree = 0;
    }
  }
  free_values(&a);
  free_values(&b);
  return agree;
}

/* ---- files ---- */

int pipeline_file_exists(const char *path) { return path[0] && access(path, F_OK) == 0; }

int pipeline_file_older(const char *path, const char *than) {
  struct stat a, b;
  if (stat(path, &a) || stat(than, &b)) return 0;
  if (a.st_mtim.tv_sec != b.st_mtim.tv_sec) return a.st_mtim.tv_sec < b.st_mtim.tv_sec;
  return a.st_mtim.tv_nsec < b.st_mtim.tv_nsec;
}

int pipeline_make_directories(const char *path) {
  char buf[PIPELINE_PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) && errno != EEXIST) return 1;
    *p = '/';
  }
  return mkdir(buf, 0777) && errno != EEXIST;
}

void pipeline_stem(const char *path, char *stem, size_t len) {
  size_t n = strlen(path);
  if (n >= 3 && !strcmp(path + n - 3, ".h5")) n -= 3;
  snprintf(stem, len, "%.*s", (int)n, path);
}

/* Opens an lcfm output read-only on this process alone; negative if it is not HDF5. */
static hid_t open_quietly(const char *path) {
  if (!pipeline_file_exists(path) || H5Fis_hdf5(path) <= 0) return -1;
  return H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

char *pipeline_read_text_attribute(const char *path, const char *name, char *why, size_t why_len) {
  hid_t file = open_quietly(path);
  if (file < 0) {
    snprintf(why, why_len, "%s is not a readable HDF5 file", path);
    return NULL;
  }
  char *text = NULL;
  if (H5Aexists(file, name) > 0) {
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)) {
      size_t size = H5Tget_size(type);
      text = lcfm_calloc(size + 1, 1);
      hid_t memory = H5Tcopy(H5T_C_S1);
      H5Tset_size(memory, size + 1);
      if (H5Aread(attr, memory, text) < 0) {
        free(text);
        text = NULL;
      }
      H5Tclose(memory);
    }
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
  }
  if (!text) snprintf(why, why_len, "%s has no readable '%s' attribute", path, name);
  H5Fclose(file);
  return text;
}

int pipeline_read_int64_attribute(const char *path, const char *name, int64_t *value) {
  hid_t file = open_quietly(path);
  if (file < 0) return 1;
  int bad = 1;
  if (H5Aexists(file, name) > 0) {
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    bad = attr < 0 || H5Aread(attr, H5T_NATIVE_INT64, value) < 0;
    if (attr >= 0) H5Aclose(attr);
  }
  H5Fclose(file);
  return bad;
}
