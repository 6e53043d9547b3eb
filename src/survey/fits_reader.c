/* fits_reader.c: one TESS or Kepler/K2 light-curve FITS file -> one object (see survey.h). */
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lcfm/survey.h"
#include "reject.h"

void lcfm_fill_reject(lcfm_reject *r, const char *key, int reason, const char *fmt, ...) {
  memset(r, 0, sizeof *r);
  size_t key_length = strlen(key);
  /* Keep the end of long paths: the file name matters more than the directories. */
  const char *tail = key_length >= sizeof r->key ? key + key_length - (sizeof r->key - 1) : key;
  snprintf(r->key, sizeof r->key, "%s", tail);
  r->reason = reason;
  va_list args;
  va_start(args, fmt);
  vsnprintf(r->message, sizeof r->message, fmt, args);
  va_end(args);
}

typedef struct {
  lcfm_survey survey;
  int64_t source;
  int32_t season, unit, subunit;
  double time_zero;
  const char *quality_column;
} mission_header;

/* CFITSIO's explanation of `status`, with the first queued detail message. */
static void fits_reason(int status, char *buf, size_t len) {
  char text[FLEN_STATUS] = "", detail[FLEN_ERRMSG] = "";
  fits_get_errstatus(status, text);
  if (fits_read_errmsg(detail)) snprintf(buf, len, "%s (%s)", text, detail);
  else snprintf(buf, len, "%s", text);
  fits_clear_errmsg();
}

static int read_int_key(fitsfile *f, const char *name, long long *value) {
  int status = 0;
  fits_read_key(f, TLONGLONG, name, value, NULL, &status);
  return status;
}

/* The documented values of a header keyword (survey.h): [min, max], and where the range has
 * holes, a test of the value. */
typedef struct {
  const char *key;
  long long min, max;
  int (*allowed)(long long value); /* NULL: every value in [min, max] */
  const char *what;
} keyword_range;

/* Modules 1, 5, 21 and 25 are the corners of Kepler's focal plane, without science CCDs. */
static int kepler_science_module(long long m) { return m != 5 && m != 21; }

/* K2 campaigns 0-19, with 9, 10 and 11 also delivered in two parts (91/92, 101/102, 111/112). */
static int k2_campaign(long long c) {
  return c <= 19 || c == 91 || c == 92 || c == 101 || c == 102 || c == 111 || c == 112;
}

/* Checks a keyword value against its documented range; returns 0 or a RANGE reason. The check
 * is made on the 64-bit value read, before any narrowing to the store's int32 columns. */
static int check_keyword(const keyword_range *r, long long value, char *why, size_t why_len) {
  if (value >= r->min && value <= r->max && (!r->allowed || r->allowed(value))) return 0;
  snprintf(why, why_len, "keyword %s = %lld is outside the documented range (%s)", r->key, value, r->what);
  return LCFM_REJECT_RANGE;
}

/* Reads the mission, target and instrument keywords of the primary header. */
static int read_mission_header(fitsfile *f, mission_header *h, char *why, size_t why_len) {
  char telescope[FLEN_VALUE] = "", mission[FLEN_VALUE] = "";
  int status = 0;
  fits_read_key(f, TSTRING, "TELESCOP", telescope, NULL, &status);
  if (status) {
    snprintf(why, why_len, "no TELESCOP keyword in the primary header");
    fits_clear_errmsg();
    return LCFM_REJECT_FORMAT;
  }
  status = 0;
  fits_read_key(f, TSTRING, "MISSION", mission, NULL, &status);
  fits_clear_errmsg();
  /* id, season, unit, subunit: the keywords of each mission and their documented ranges. */
  static const keyword_range tess[4] = {{"TICID", 1, LLONG_MAX, NULL, "a TIC id > 0"},
                                        {"SECTOR", 1, 999, NULL, "TESS sectors 1-999"},
                                        {"CAMERA", 1, 4, NULL, "TESS cameras 1-4"},
                                        {"CCD", 1, 4, NULL, "TESS CCDs 1-4"}};
  static const keyword_range kepler[4] = {
      {"KEPLERID", 1, LLONG_MAX, NULL, "a KIC id > 0"},
      {"QUARTER", 0, 17, NULL, "Kepler quarters 0-17"},
      {"MODULE", 2, 24, kepler_science_module, "Kepler science modules 2-4, 6-20, 22-24"},
      {"OUTPUT", 1, 4, NULL, "Kepler outputs 1-4"}};
  static const keyword_range k2[4] = {
      {"KEPLERID", 1, LLONG_MAX, NULL, "an EPIC id > 0"},
      {"CAMPAIGN", 0, 112, k2_campaign, "K2 campaigns 0-19, 91, 92, 101, 102, 111, 112"},
      {"MODULE", 2, 24, kepler_science_module, "Kepler science modules 2-4, 6-20, 22-24"},
      {"OUTPUT", 1, 4, NULL, "Kepler outputs 1-4"}};
  const keyword_range *ranges;
  if (!strcasecmp(telescope, "TESS")) {
    h->survey = LCFM_SURVEY_TESS, h->time_zero = 2457000.0, h->quality_column = "QUALITY", ranges = tess;
  } else if (!strcasecmp(telescope, "Kepler")) {
    int is_k2 = !strcasecmp(mission, "K2");
    h->survey = is_k2 ? LCFM_SURVEY_K2 : LCFM_SURVEY_KEPLER, h->time_zero = 2454833.0;
    h->quality_column = "SAP_QUALITY", ranges = is_k2 ? k2 : kepler;
  } else {
    snprintf(why, why_len, "TELESCOP = '%s': not a TESS or Kepler light curve", telescope);
    return LCFM_REJECT_FORMAT;
  }
  long long values[4];
  for (int i = 0; i < 4; i++) {
    if ((status = read_int_key(f, ranges[i].key, &values[i]))) {
      char reason[256];
      fits_reason(status, reason, sizeof reason);
      snprintf(why, why_len, "keyword %s: %s", ranges[i].key, reason);
      return LCFM_REJECT_FORMAT;
    }
    int reason = check_keyword(&ranges[i], values[i], why, why_len);
    if (reason) return reason;
  }
  h->source = values[0], h->season = (int32_t)values[1], h->unit = (int32_t)values[2], h->subunit = (int32_t)values[3];
  return 0;
}

/* Column number of a numeric column, or a FORMAT reason. */
static int numeric_column(fitsfile *f, const char *name, int *column, char *why, size_t why_len) {
  int status = 0, type = 0;
  long repeat = 0, width = 0;
  fits_get_colnum(f, CASEINSEN, (char *)name, column, &status);
  if (status) {
    fits_clear_errmsg();
    snprintf(why, why_len, "no %s column", name);
    return LCFM_REJECT_FORMAT;
  }
  fits_get_coltype(f, *column, &type, &repeat, &width, &status);
  if (status || type == TSTRING || type == TLOGICAL || type == TBIT || type < 0 || repeat != 1) {
    fits_clear_errmsg();
    snprintf(why, why_len, "column %s is not a numeric scalar (type code %d, repeat %ld)", name, type, repeat);
    return LCFM_REJECT_FORMAT;
  }
  return 0;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  long long rows;
  double *time, *flux, *error, *scratch;
  int *quality;
} columns;

static void free_columns(columns *c) {
  free(c->time), free(c->flux), free(c->error), free(c->scratch), free(c->quality);
}

/* Reads TIME, flux, error and quality of every row. */
static int read_columns(fitsfile *f, const lcfm_ingest_options *o, const mission_header *h, columns *c,
                        char *why, size_t why_len) {
  const char *flux_name = o->flux == LCFM_FLUX_SAP ? "SAP_FLUX" : "PDCSAP_FLUX";
  char error_name[32];
  snprintf(error_name, sizeof error_name, "%s_ERR", flux_name);
  const char *names[4] = {"TIME", flux_name, error_name, h->quality_column};
  int numbers[4], reason;
  for (int i = 0; i < 4; i++)
    if ((reason = numeric_column(f, names[i], &numbers[i], why, why_len))) return reason;
  int status = 0;
  fits_get_num_rowsll(f, &c->rows, &status);
  if (status || c->rows <= 0) {
    snprintf(why, why_len, "the light-curve table has no rows");
    return LCFM_REJECT_EMPTY;
  }
  size_t n = (size_t)c->rows;
  c->time = lcfm_malloc(n * sizeof *c->time), c->flux = lcfm_malloc(n * sizeof *c->flux);
  c->error = lcfm_malloc(n * sizeof *c->error), c->scratch = lcfm_malloc(n * sizeof *c->scratch);
  c->quality = lcfm_malloc(n * sizeof *c->quality);
  double nan = NAN;
  int quality_null = 0, any_null = 0;
  fits_read_col(f, TDOUBLE, numbers[0], 1, 1, c->rows, &nan, c->time, &any_null, &status);
  fits_read_col(f, TDOUBLE, numbers[1], 1, 1, c->rows, &nan, c->flux, &any_null, &status);
  fits_read_col(f, TDOUBLE, numbers[2], 1, 1, c->rows, &nan, c->error, &any_null, &status);
  fits_read_col(f, TINT, numbers[3], 1, 1, c->rows, &quality_null, c->quality, &any_null, &status);
  if (status) {
    char detail[256];
    fits_reason(status, detail, sizeof detail);
    snprintf(why, why_len, "reading the columns: %s", detail);
    return LCFM_REJECT_IO;
  }
  return 0;
}

/* Keeps good points in place (time, flux, error compacted to the front); returns how many.
 * Dropped like quality-flagged points, as the MACHO reader drops its bad points: a NaN or
 * infinite time, flux or error, and a negative error. */
static int64_t keep_good_points(columns *c, int32_t mask, int64_t *finite_flux) {
  int64_t kept = 0;
  *finite_flux = 0;
  for (long long i = 0; i < c->rows; i++) {
    *finite_flux += isfinite(c->flux[i]) != 0;
    if (!isfinite(c->time[i]) || !isfinite(c->flux[i]) || !isfinite(c->error[i]) || c->error[i] < 0 ||
        (c->quality[i] & mask))
      continue;
    c->time[kept] = c->time[i], c->flux[kept] = c->flux[i], c->error[kept] = c->error[i];
    kept++;
  }
  return kept;
}

/* The checks and the normalisation of the kept points; returns a reason or 0. */
static int normalise(columns *c, int64_t kept, int64_t finite_flux, const lcfm_ingest_options *o,
                     float *value, float *error, char *why, size_t why_len) {
  if (finite_flux == 0) {
    snprintf(why, why_len, "all %lld flux values are NaN or infinite", c->rows);
    return LCFM_REJECT_NONFINITE;
  }
  if (kept < o->min_points) {
    snprintf(why, why_len, "%lld points kept after the quality mask, fewer than min_points = %lld", (long long)kept,
             (long long)o->min_points);
    return LCFM_REJECT_EMPTY;
  }
  for (int64_t i = 1; i < kept; i++)
    if (c->time[i] < c->time[i - 1]) {
      snprintf(why, why_len, "time goes backwards at kept point %lld (%.6f after %.6f)", (long long)i, c->time[i],
               c->time[i - 1]);
      return LCFM_REJECT_TIME_ORDER;
    }
  for (int64_t i = 0; i < kept; i++)
    if (!(fabs(c->flux[i]) <= LCFM_INGEST_MAX_VALUE && c->error[i] <= LCFM_INGEST_MAX_VALUE)) {
      snprintf(why, why_len, "kept point %lld: flux %g +- %g is beyond the range |x| <= %.3g (its float32 square "
               "must stay finite)", (long long)i, c->flux[i], c->error[i], LCFM_INGEST_MAX_VALUE);
      return LCFM_REJECT_RANGE;
    }
  memcpy(c->scratch, c->flux, (size_t)kept * sizeof *c->scratch);
  qsort(c->scratch, (size_t)kept, sizeof *c->scratch, compare_double);
  double median = kept % 2 ? c->scratch[kept / 2] : 0.5 * (c->scratch[kept / 2 - 1] + c->scratch[kept / 2]);
  if (!(median > 0)) {
    snprintf(why, why_len, "median flux %g is not positive: cannot normalise", median);
    return LCFM_REJECT_NONFINITE;
  }
  for (int64_t i = 0; i < kept; i++) {
    double v = c->flux[i] / median - 1.0, e = c->error[i] / median;
    if (!(fabs(v) <= LCFM_INGEST_MAX_VALUE && e <= LCFM_INGEST_MAX_VALUE)) {
      snprintf(why, why_len, "kept point %lld: flux %g, error %g over the median %g give %g +- %g, beyond the "
               "range |x| <= %.3g (its float32 square must stay finite)", (long long)i, c->flux[i],
               c->error[i], median, v, e, LCFM_INGEST_MAX_VALUE);
      return LCFM_REJECT_RANGE;
    }
    value[i] = (float)v;
    error[i] = (float)e;
  }
  return 0;
}

static void name_instrument(lcfm_instrument *in, const mission_header *h) {
  memset(in, 0, sizeof *in);
  in->survey = h->survey, in->season = h->season, in->unit = h->unit, in->subunit = h->subunit, in->band = -1;
  in->time_zero = h->time_zero;
  if (h->survey == LCFM_SURVEY_TESS)
    snprintf(in->name, sizeof in->name, "tess-s%02d-cam%d-ccd%d", h->season, h->unit, h->subunit);
  else
    snprintf(in->name, sizeof in->name, "%s-%s%02d-mod%d-out%d", h->survey == LCFM_SURVEY_K2 ? "k2" : "kepler",
             h->survey == LCFM_SURVEY_K2 ? "c" : "q", h->season, h->unit, h->subunit);
}

void lcfm_read_fits_lightcurve(const char *path, const lcfm_ingest_options *o, lcfm_object_sink on_object,
                               lcfm_reject_sink on_reject, void *user) {
  char why[512] = "";
  int reason = 0, status = 0;
  fitsfile *f = NULL;
  columns c = {0};
  mission_header h = {0};
  float *value = NULL, *error = NULL;
  if (fits_open_file(&f, path, READONLY, &status)) {
    fits_reason(status, why, sizeof why);
    reason = LCFM_REJECT_IO;
    goto done;
  }
  if ((reason = read_mission_header(f, &h, why, sizeof why))) goto done;
  if (fits_movabs_hdu(f, 2, NULL, &status)) {
    char detail[256];
    fits_reason(status, detail, sizeof detail);
    snprintf(why, sizeof why, "no light-curve table in HDU 1: %s", detail);
    reason = status == END_OF_FILE ? LCFM_REJECT_FORMAT : LCFM_REJECT_IO;
    goto done;
  }
  if ((reason = read_columns(f, o, &h, &c, why, sizeof why))) goto done;
  int64_t finite_flux = 0, kept = keep_good_points(&c, o->quality_mask, &finite_flux);
  value = lcfm_malloc((size_t)(kept ? kept : 1) * sizeof *value);
  error = lcfm_malloc((size_t)(kept ? kept : 1) * sizeof *error);
  if ((reason = normalise(&c, kept, finite_flux, o, value, error, why, sizeof why))) goto done;
  lcfm_survey_object object = {.source = h.source, .field = h.season, .label = -1, .time_zero = h.time_zero,
                               .length = kept, .time = c.time, .value = value, .error = error};
  name_instrument(&object.instrument, &h);
  on_object(user, &object);
done:
  if (reason) {
    lcfm_reject r;
    lcfm_fill_reject(&r, path, reason, "%s", why);
    on_reject(user, &r);
  }
  status = 0;
  if (f) fits_close_file(f, &status);
  fits_clear_errmsg();
  free_columns(&c);
  free(value);
  free(error);
}
