/* macho.c: MACHO photometry (service CSV and archive tile files) -> objects (see survey.h). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lcfm/survey.h"
#include "reject.h"

enum { MAX_ROW_REJECTS = 20, ARCHIVE_FIELDS = 39, CSV_FIELDS = 10 };
static const char csv_header[] =
    "classification,fieldid,tileid,seqn,obsid,dateobs,rmag,rerr,bmag,berr";

typedef struct {
  int64_t field, tile, seqn, line;
  int32_t label;
  double time, mag[2], err[2]; /* [0] red, [1] blue */
} macho_row;

typedef struct {
  const char *name;
  const lcfm_ingest_options *options;
  lcfm_object_sink on_object;
  lcfm_reject_sink on_reject;
  void *user;
  int64_t bad_rows;
} macho_context;

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  while (*end == ' ' || *end == '\t') end++;
  return end != s && *end == '\0' && errno != ERANGE;
}

static int parse_int(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  while (*end == ' ' || *end == '\t') end++;
  *out = v;
  return end != s && *end == '\0' && errno != ERANGE;
}

/* Splits `line` in place at `separator`; returns the number of fields (at most max). */
static int split(char *line, char separator, char **fields, int max) {
  int n = 0;
  char *start = line;
  for (char *p = line;; p++) {
    if (*p == separator || *p == '\0') {
      int last = *p == '\0';
      if (n < max) fields[n] = start;
      n++;
      *p = '\0';
      if (last) break;
      start = p + 1;
    }
  }
  return n;
}

static void reject_row(macho_context *ctx, int64_t line, const char *why) {
  ctx->bad_rows++;
  if (ctx->bad_rows > MAX_ROW_REJECTS) return; /* summarised at the end of the file */
  char key[LCFM_REJECT_TEXT_LEN];
  snprintf(key, sizeof key, "%s:%lld", ctx->name, (long long)line);
  lcfm_reject r;
  lcfm_fill_reject(&r, key, LCFM_REJECT_PARSE, "malformed row: %s", why);
  ctx->on_reject(ctx->user, &r);
}

static int check_identity(const macho_row *row, const char **why) {
  if (row->field < 0 || row->field >= 100000000 || row->tile < 0 || row->tile >= 100000 ||
      row->seqn < 0 || row->seqn >= 100000) {
    *why = "field, tile or seqn out of range (field < 10^8, tile and seqn < 10^5)";
    return 0;
  }
  if (!isfinite(row->time)) {
    *why = "date is not finite";
    return 0;
  }
  return 1;
}

/* classification,fieldid,tileid,seqn,obsid,dateobs,rmag,rerr,bmag,berr */
static int parse_csv_row(char *line, macho_row *row, const char **why) {
  char *f[CSV_FIELDS];
  if (split(line, ',', f, CSV_FIELDS) != CSV_FIELDS) {
    *why = "expected 10 comma-separated fields";
    return 0;
  }
  int64_t label, obsid;
  if (!parse_int(f[0], &label) || !parse_int(f[1], &row->field) || !parse_int(f[2], &row->tile) ||
      !parse_int(f[3], &row->seqn) || !parse_int(f[4], &obsid) || !parse_double(f[5], &row->time) ||
      !parse_double(f[6], &row->mag[0]) || !parse_double(f[7], &row->err[0]) ||
      !parse_double(f[8], &row->mag[1]) || !parse_double(f[9], &row->err[1])) {
    *why = "a field is not a number";
    return 0;
  }
  if (label < -1 || label > 1000000) {
    *why = "classification out of range";
    return 0;
  }
  row->label = (int32_t)label;
  return check_identity(row, why);
}

/* Archive tile files: 39 ';'-separated fields, the first blank (ARCHIVE_FORMAT.txt). */
static int parse_archive_row(char *line, macho_row *row, const char **why) {
  char *f[ARCHIVE_FIELDS];
  if (split(line, ';', f, ARCHIVE_FIELDS) != ARCHIVE_FIELDS) {
    *why = "expected 39 ';'-separated fields";
    return 0;
  }
  if (!parse_int(f[1], &row->field) || !parse_int(f[2], &row->tile) ||
      !parse_int(f[3], &row->seqn) || !parse_double(f[4], &row->time) ||
      !parse_double(f[9], &row->mag[0]) || !parse_double(f[10], &row->err[0]) ||
      !parse_double(f[24], &row->mag[1]) || !parse_double(f[25], &row->err[1])) {
    *why = "a field is not a number";
    return 0;
  }
  row->label = -1;
  return check_identity(row, why);
}

static int compare_rows(const void *a, const void *b) {
  const macho_row *x = a, *y = b;
  if (x->field != y->field) return x->field < y->field ? -1 : 1;
  if (x->tile != y->tile) return x->tile < y->tile ? -1 : 1;
  if (x->seqn != y->seqn) return x->seqn < y->seqn ? -1 : 1;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  return (x->line > y->line) - (x->line < y->line); /* file order breaks ties: deterministic */
}

/* Not the -99 sentinel, error not negative, and both finite as float32 (what the store keeps:
 * a magnitude of 1e39 would become infinite there). */
static int good_point(double mag, double err) {
  return fabs(mag) <= FLT_MAX && fabs(err) <= FLT_MAX && fabs(mag + 99.0) > 1e-9 && err >= 0;
}

/* Emits the red and blue objects of the star rows[0..n). */
static void emit_star(macho_context *ctx, const macho_row *rows, int64_t n, double *time,
                      float *value, float *error) {
  static const char *const band_names[2] = {"red", "blue"};
  for (int band = 0; band < 2; band++) {
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
      if (!good_point(rows[i].mag[band], rows[i].err[band])) continue;
      time[kept] = rows[i].time, value[kept] = (float)rows[i].mag[band],
      error[kept] = (float)rows[i].err[band];
      kept++;
    }
    if (kept < ctx->options->min_points) {
      char key[LCFM_REJECT_TEXT_LEN];
      snprintf(key, sizeof key, "%s#%lld.%lld.%lld/%s", ctx->name, (long long)rows[0].field,
               (long long)rows[0].tile, (long long)rows[0].seqn, band_names[band]);
      lcfm_reject r;
      lcfm_fill_reject(
          &r, key, LCFM_REJECT_EMPTY,
          "%lld usable points of %lld (-99, negative errors and values beyond float range dropped)",
          (long long)kept, (long long)n);
      ctx->on_reject(ctx->user, &r);
      continue;
    }
    lcfm_survey_object object = {.source = rows[0].field * 10000000000LL + rows[0].tile * 100000LL +
                                           rows[0].seqn,
                                 .field = (int32_t)rows[0].field,
                                 .label = rows[0].label,
                                 .time_zero = 2400000.5,
                                 .ra = NAN,
                                 .dec = NAN,
                                 .magnitude = NAN,
                                 .median_flux = NAN,
                                 .path = ctx->name,
                                 .length = kept,
                                 .time = time,
                                 .value = value,
                                 .error = error};
    /* dateobs is MJD in UTC (the photometry service's and the archive's convention): JD UTC. */
    object.instrument = (lcfm_instrument){.survey = LCFM_SURVEY_MACHO,
                                          .season = -1,
                                          .unit = -1,
                                          .subunit = -1,
                                          .band = band,
                                          .time_zero = 2400000.5,
                                          .value_kind = LCFM_VALUE_MAGNITUDE,
                                          .time_scale = "UTC",
                                          .time_reference = "JD"};
    snprintf(object.instrument.name, sizeof object.instrument.name, "macho-%s", band_names[band]);
    ctx->on_object(ctx->user, &object);
  }
}

static void emit_stars(macho_context *ctx, macho_row *rows, int64_t count) {
  qsort(rows, (size_t)count, sizeof *rows, compare_rows);
  double *time = lcfm_malloc((size_t)(count ? count : 1) * sizeof *time);
  float *value = lcfm_malloc((size_t)(count ? count : 1) * sizeof *value);
  float *error = lcfm_malloc((size_t)(count ? count : 1) * sizeof *error);
  for (int64_t start = 0, end; start < count; start = end) {
    for (end = start + 1; end < count && rows[end].field == rows[start].field &&
                          rows[end].tile == rows[start].tile && rows[end].seqn == rows[start].seqn;
         end++) {}
    emit_star(ctx, rows + start, end - start, time, value, error);
  }
  free(time), free(value), free(error);
}

static void reject_file(macho_context *ctx, int reason, const char *why) {
  lcfm_reject r;
  lcfm_fill_reject(&r, ctx->name, reason, "%s", why);
  ctx->on_reject(ctx->user, &r);
}

/* The format a file's first non-blank line announces: 1 service CSV (its header), 2 archive (a
 * 39-field row), 0 neither. */
static int detect_format(const char *line, size_t n) {
  if (!strcmp(line, csv_header)) return 1;
  char probe[4096];
  if (n >= sizeof probe) return 0;
  memcpy(probe, line, n + 1);
  char *fields[ARCHIVE_FIELDS];
  return split(probe, ';', fields, ARCHIVE_FIELDS) == ARCHIVE_FIELDS ? 2 : 0;
}

void lcfm_parse_macho(const char *name, const char *text, size_t length,
                      const lcfm_ingest_options *options, lcfm_object_sink on_object,
                      lcfm_reject_sink on_reject, void *user) {
  macho_context ctx = {name, options, on_object, on_reject, user, 0};
  static const char utf8_bom[3] = {'\xEF', '\xBB',
                                   '\xBF'}; /* spreadsheets start their CSV with it */
  if (length >= sizeof utf8_bom && !memcmp(text, utf8_bom, sizeof utf8_bom))
    text += sizeof utf8_bom, length -= sizeof utf8_bom;
  /* Copy so lines can be split in place; the copy is NUL-terminated. */
  char *copy = lcfm_malloc(length + 1);
  memcpy(copy, text, length);
  copy[length] = '\0';
  int64_t capacity = 1024, count = 0, line_number = 0;
  macho_row *rows = lcfm_malloc((size_t)capacity * sizeof *rows);
  int format = 0, not_macho = 0; /* format: 1 service CSV, 2 archive */
  char *next = copy;
  while (next && (size_t)(next - copy) < length) {
    char *line = next;
    size_t left = length - (size_t)(line - copy);
    char *newline = memchr(line, '\n', left);
    size_t n = newline ? (size_t)(newline - line) : left;
    next = newline ? newline + 1 : NULL;
    line[n] = '\0'; /* the newline, or the copy's terminator */
    if (n && line[n - 1] == '\r') line[--n] = '\0';
    line_number++;
    if (n == 0) continue;
    int has_nul = memchr(line, '\0', n) != NULL; /* a binary file, or a damaged row */
    if (!format) {
      format = has_nul ? 0 : detect_format(line, n);
      if (!format) {
        reject_file(&ctx, LCFM_REJECT_FORMAT,
                    "not a MACHO file: the first line is neither the service CSV header "
                    "nor a 39-field ';'-separated archive row");
        not_macho = 1;
        break;
      }
      if (format == 1) continue;
    }
    macho_row row = {.line = line_number};
    const char *why = "a NUL byte in the row";
    if (has_nul ||
        !(format == 1 ? parse_csv_row(line, &row, &why) : parse_archive_row(line, &row, &why))) {
      reject_row(&ctx, line_number, why);
      continue;
    }
    if (count == capacity) {
      capacity *= 2;
      rows = lcfm_realloc(rows, (size_t)capacity * sizeof *rows);
    }
    rows[count++] = row;
  }
  if (ctx.bad_rows > MAX_ROW_REJECTS) {
    char why[160];
    snprintf(why, sizeof why, "%lld malformed rows in all; only the first %d are listed",
             (long long)ctx.bad_rows, MAX_ROW_REJECTS);
    reject_file(&ctx, LCFM_REJECT_PARSE, why);
  }
  if (format && count == 0 && ctx.bad_rows == 0)
    reject_file(&ctx, LCFM_REJECT_EMPTY, "no data rows");
  if (format == 0 && !not_macho)
    reject_file(&ctx, LCFM_REJECT_EMPTY, "empty file (nothing but blank lines)");
  emit_stars(&ctx, rows, count);
  free(rows);
  free(copy);
}

/* Reads a whole file, gzip or plain (zlib reads both); returns NULL and a reason on failure. */
static char *read_text_file(const char *path, size_t *length, char *why, size_t why_len) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    snprintf(why, why_len, "cannot open: %s", strerror(errno));
    return NULL;
  }
  size_t capacity = 1 << 20, used = 0;
  char *text = lcfm_malloc(capacity);
  for (;;) {
    if (capacity - used < (1 << 16)) {
      capacity *= 2;
      text = lcfm_realloc(text, capacity);
    }
    int got = gzread(f, text + used, (unsigned)(capacity - used));
    if (got < 0) {
      int code;
      snprintf(why, why_len, "gzip stream broken: %s", gzerror(f, &code));
      gzclose(f);
      free(text);
      return NULL;
    }
    if (got == 0) break;
    used += (size_t)got;
  }
  int code = gzclose(f); /* reports a truncated gzip stream */
  if (code != Z_OK) {
    snprintf(why, why_len, "gzip stream broken or truncated (zlib code %d)", code);
    free(text);
    return NULL;
  }
  *length = used;
  return text;
}

void lcfm_read_macho_file(const char *path, const lcfm_ingest_options *options,
                          lcfm_object_sink on_object, lcfm_reject_sink on_reject, void *user) {
  char why[512];
  size_t length = 0;
  char *text = read_text_file(path, &length, why, sizeof why);
  if (!text) {
    lcfm_reject r;
    lcfm_fill_reject(&r, path, LCFM_REJECT_IO, "%s", why);
    on_reject(user, &r);
    return;
  }
  lcfm_parse_macho(path, text, length, options, on_object, on_reject, user);
  free(text);
}
