/* fits_reader.c: one TESS or Kepler/K2 light-curve FITS file -> one object (see survey.h). */
#include <ctype.h>
#include <endian.h>
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcfm/median.h"
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
  double ra, dec,
      magnitude; /* NaN where the primary header lacks RA_OBJ, DEC_OBJ, TESSMAG/KEPMAG */
  const char *quality_column, *magnitude_key;
  /* The time reference of the light-curve table (read_time_reference), and the mission's
   * documented one it falls back to: BJD TDB, BJDREFI 2457000 (TESS) or 2454833 (Kepler, K2). */
  double time_zero, documented_time_zero;
  char time_scale[8], time_reference[8];
  int32_t notes;
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

/* An optional real keyword: its value, or NaN when absent or undefined. */
static double read_optional_real(fitsfile *f, const char *name) {
  double value = NAN;
  int status = 0;
  fits_read_key(f, TDOUBLE, name, &value, NULL, &status);
  fits_clear_errmsg();
  return status ? NAN : value;
}

/* An optional string keyword, upper-cased; 0 when absent. */
static int read_optional_string(fitsfile *f, const char *name, char *value) {
  int status = 0;
  fits_read_key(f, TSTRING, name, value, NULL, &status);
  fits_clear_errmsg();
  if (status) return 0;
  for (char *p = value; *p; p++) *p = (char)toupper((unsigned char)*p);
  return 1;
}

/* FITS TIMEREF (where the times are measured) -> what time + time_zero counts. */
static const char *reference_name(const char *timeref) {
  if (!strcmp(timeref, "SOLARSYSTEM") || !strcmp(timeref, "BARYCENTER")) return "BJD";
  if (!strcmp(timeref, "HELIOCENTER")) return "HJD";
  return "JD"; /* LOCAL, GEOCENTER, TOPOCENTER: no light-travel correction */
}

/* TIMESYS, TIMEREF and BJDREFI + BJDREFF of the light-curve table (HDU 1; the primary header is
 * the fallback for each). A keyword found in neither takes the mission's documented value and
 * sets LCFM_NOTE_TIME_REFERENCE (the ingest logs how many files needed it). */
static int read_time_reference(fitsfile *f, mission_header *h, char *why, size_t why_len) {
  char scale[FLEN_VALUE] = "", where[FLEN_VALUE] = "";
  /* In the order of SPOC's headers: CFITSIO searches on from the last keyword found, so each
   * search is a few cards; out of order, each one went round the whole header (160 cards). */
  int have_where = read_optional_string(f, "TIMEREF", where),
      have_scale = read_optional_string(f, "TIMESYS", scale);
  double whole = read_optional_real(f, "BJDREFI"), fraction = read_optional_real(f, "BJDREFF");
  int status = 0;
  if (isnan(whole) || isnan(fraction) || !have_scale || !have_where) {
    fits_movabs_hdu(f, 1, NULL, &status);
    if (isnan(whole)) whole = read_optional_real(f, "BJDREFI");
    if (isnan(fraction)) fraction = read_optional_real(f, "BJDREFF");
    if (!have_scale) have_scale = read_optional_string(f, "TIMESYS", scale);
    if (!have_where) have_where = read_optional_string(f, "TIMEREF", where);
    fits_movabs_hdu(f, 2, NULL, &status);
    fits_clear_errmsg();
  }
  if (isnan(whole) || !have_scale || !have_where) h->notes |= LCFM_NOTE_TIME_REFERENCE;
  h->time_zero =
      (isnan(whole) ? h->documented_time_zero : whole) + (isnan(fraction) ? 0.0 : fraction);
  if (!isfinite(h->time_zero) || fabs(h->time_zero) > 1e8) {
    snprintf(why, why_len, "keywords BJDREFI + BJDREFF = %g: not a Julian date", h->time_zero);
    return LCFM_REJECT_RANGE;
  }
  if (strlen(scale) >= sizeof h->time_scale) {
    snprintf(why, why_len, "keyword TIMESYS = '%s' is not a time scale (TDB, TT, UTC, ...)", scale);
    return LCFM_REJECT_FORMAT;
  }
  snprintf(h->time_scale, sizeof h->time_scale, "%.7s",
           have_scale ? scale : "TDB"); /* fits: checked above */
  snprintf(h->time_reference, sizeof h->time_reference, "%s",
           have_where ? reference_name(where) : "BJD");
  return 0;
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
  snprintf(why, why_len, "keyword %s = %lld is outside the documented range (%s)", r->key, value,
           r->what);
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
  if (!strcasecmp(telescope, "Kepler")) { /* MISSION tells K2 from Kepler (a TESS file has none) */
    status = 0;
    fits_read_key(f, TSTRING, "MISSION", mission, NULL, &status);
    fits_clear_errmsg();
  }
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
    h->survey = LCFM_SURVEY_TESS, h->documented_time_zero = 2457000.0,
    h->quality_column = "QUALITY";
    h->magnitude_key = "TESSMAG", ranges = tess;
  } else if (!strcasecmp(telescope, "Kepler")) {
    int is_k2 = !strcasecmp(mission, "K2");
    h->survey = is_k2 ? LCFM_SURVEY_K2 : LCFM_SURVEY_KEPLER, h->documented_time_zero = 2454833.0;
    h->quality_column = "SAP_QUALITY", h->magnitude_key = "KEPMAG", ranges = is_k2 ? k2 : kepler;
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
  h->source = values[0], h->season = (int32_t)values[1], h->unit = (int32_t)values[2],
  h->subunit = (int32_t)values[3];
  h->ra = read_optional_real(f, "RA_OBJ"), h->dec = read_optional_real(f, "DEC_OBJ");
  h->magnitude = read_optional_real(f, h->magnitude_key);
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
    snprintf(why, why_len, "column %s is not a numeric scalar (type code %d, repeat %ld)", name,
             type, repeat);
    return LCFM_REJECT_FORMAT;
  }
  return 0;
}

_Static_assert(sizeof(int) == sizeof(int32_t), "QUALITY is read as TINT and stored as int32");

/* The four columns of a table: its rows, then compacted to the good points (keep_point). */
typedef struct {
  long long rows;
  int64_t kept, finite_flux; /* good points (the front of each array); rows with a finite flux */
  double *time, *flux, *error, *scratch;
  int *quality;
  lcfm_point_room room; /* the sink's room, where time, value and error are decoded */
  int in_room;          /* 1 when the sink gave room (time is then room.time, not freed here) */
} columns;

/* Appends a row at the next place of the kept points; the place advances only when the point is
 * good. Dropped like quality-flagged points, as the MACHO reader drops its bad points: a NaN or
 * infinite time, flux or error, and a negative error. Branch-free: a branch per point is
 * mispredicted on flagged stretches. */
static inline __attribute__((always_inline)) void keep_point(columns *c, double t, double f,
                                                             double e, int q, int32_t mask) {
  int64_t at = c->kept;
  int flux_ok = isfinite(f) != 0;
  c->finite_flux += flux_ok;
  c->time[at] = t, c->flux[at] = f, c->error[at] = e, c->quality[at] = q;
  c->kept += (isfinite(t) != 0) & flux_ok & (isfinite(e) != 0) & (e >= 0) & ((q & mask) == 0);
}

static void free_columns(columns *c) {
  if (!c->in_room) free(c->time);
  free(c->flux), free(c->error), free(c->scratch), free(c->quality);
}

/* ---- the mapped table's rows, decoded directly ---- */

/* The light-curve table's bytes in a mapped file (bytes NULL when the file is not mapped). */
typedef struct {
  const unsigned char *bytes;
  long long size;
  long row_bytes; /* NAXIS1 */
} mapped_table;

/* Where one of the four columns lies in a row of the table, and its FITS type. */
typedef struct {
  long offset;
  int type; /* TDOUBLE, TFLOAT, TINT32BIT or TSHORT */
} raw_column;

/* Bytes a column of CFITSIO type `type` with `repeat` elements of `width` bytes takes in a row. */
static long column_bytes(int type, long repeat, long width) {
  if (type == TBIT) return (repeat + 7) / 8;
  if (type == TSTRING) return repeat;
  return repeat * width;
}

/* 1 when column n (1-based) is scaled (TSCALn, TZEROn) or, an integer column, has a null value
 * (TNULLn; a floating-point column's nulls are NaN, which the decoder handles). Scale and zero
 * come from CFITSIO's parsed column table: reading the absent keywords searched the whole header
 * for each. */
static int column_is_scaled(fitsfile *f, int n, int type) {
  char name[FLEN_VALUE], unit[FLEN_VALUE], data_type[FLEN_VALUE], display[FLEN_VALUE];
  long repeat = 0, null = 0;
  double scale = 1, zero = 0;
  int status = 0;
  fits_get_bcolparms(f, n, name, unit, data_type, &repeat, &scale, &zero, &null, display, &status);
  if (status) return fits_clear_errmsg(), 1;
  if (scale != 1 || zero != 0) return 1;
  if (type == TDOUBLE || type == TFLOAT) return 0;
  char key[16], value[FLEN_VALUE];
  snprintf(key, sizeof key, "TNULL%d", n);
  if (fits_read_keyword(f, key, value, NULL, &status) == 0) return 1;
  fits_clear_errmsg();
  return 0;
}

/* The decoder's view of column n (1-based) at `offset` in the row: 0 when it is an unscaled D,
 * E, J or I scalar, else 1 (CFITSIO reads the columns). */
static int plain_column(fitsfile *f, int n, int type, long repeat, long offset, raw_column *out) {
  if (type == TLONG) type = TINT32BIT; /* J: 32 bits */
  if (repeat != 1 || (type != TDOUBLE && type != TFLOAT && type != TINT32BIT && type != TSHORT) ||
      column_is_scaled(f, n, type))
    return 1;
  *out = (raw_column){.offset = offset, .type = type};
  return 0;
}

/* The places of the four columns in a row (*row_bytes long) when the table is plain: every
 * column's width known (CFITSIO's parsed TFORMn), summing to NAXIS1, and the four plain
 * (plain_column). Returns 0 then, else 1. Public CFITSIO calls only. */
static int raw_layout(fitsfile *f, long naxis1, const int numbers[4], raw_column out[4],
                      long *row_bytes) {
  int status = 0, columns = 0;
  long offset = 0;
  fits_get_num_cols(f, &columns, &status);
  if (status) return fits_clear_errmsg(), 1;
  for (int n = 1; n <= columns; n++) {
    int type = 0;
    long repeat = 0, width = 0;
    if (fits_get_coltype(f, n, &type, &repeat, &width, &status) || type < 0)
      return fits_clear_errmsg(), 1; /* unreadable, or a variable-length descriptor */
    for (int i = 0; i < 4; i++)
      if (numbers[i] == n && plain_column(f, n, type, repeat, offset, &out[i])) return 1;
    offset += column_bytes(type, repeat, width);
  }
  *row_bytes = offset;
  return offset != naxis1;
}

/* One big-endian value of a column of FITS type `type` (TDOUBLE, TFLOAT, TINT32BIT, TSHORT). */
static inline __attribute__((always_inline)) double big_endian_number(const unsigned char *p,
                                                                      int type) {
  switch (type) {
  case TDOUBLE: {
    uint64_t u;
    memcpy(&u, p, 8);
    u = __builtin_bswap64(u);
    unsigned exponent = (unsigned)(u >> 52) & 0x7ff;
    if (exponent == 0x7ff) return NAN; /* NaN or infinite */
    if (exponent == 0) return 0.0;     /* zero or denormal */
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  case TFLOAT: {
    uint32_t u;
    memcpy(&u, p, 4);
    u = __builtin_bswap32(u);
    unsigned exponent = (u >> 23) & 0xff;
    if (exponent == 0xff) return NAN;
    if (exponent == 0) return 0.0;
    float x;
    memcpy(&x, &u, 4);
    return x;
  }
  case TINT32BIT: {
    uint32_t u;
    memcpy(&u, p, 4);
    return (int32_t)__builtin_bswap32(u);
  }
  default: {
    uint16_t u;
    memcpy(&u, p, 2);
    return (int16_t)__builtin_bswap16(u);
  }
  }
}

/* The four columns of every row from the table's bytes as the file holds them (big-endian),
 * with CFITSIO's rules when it reads with a NaN null value: a NaN or infinity reads as NaN, a
 * zero or denormal as 0 (integers are exact in a double). The good points are kept as they are
 * decoded (keep_point). Inlined where `type` is constant. */
static inline __attribute__((always_inline)) void
decode_typed_rows(const unsigned char *table, long long rows, long row_bytes,
                  const raw_column col[4], const int type[4], int32_t mask, columns *c) {
  for (long long r = 0; r < rows; r++) {
    const unsigned char *row = table + r * row_bytes;
    keep_point(c, big_endian_number(row + col[0].offset, type[0]),
               big_endian_number(row + col[1].offset, type[1]),
               big_endian_number(row + col[2].offset, type[2]),
               (int)big_endian_number(row + col[3].offset, type[3]), mask);
  }
}

/* decode_typed_rows, specialised for the column types of TESS and Kepler tables (no switch per
 * value there: about 5% less CPU for the whole ingest). */
static void decode_rows(const unsigned char *table, long long rows, long row_bytes,
                        const raw_column col[4], int32_t mask, columns *c) {
  static const int spoc[4] = {TDOUBLE, TFLOAT, TFLOAT, TINT32BIT};
  const int given[4] = {col[0].type, col[1].type, col[2].type, col[3].type};
  if (!memcmp(given, spoc, sizeof spoc))
    decode_typed_rows(table, rows, row_bytes, col, spoc, mask, c);
  else decode_typed_rows(table, rows, row_bytes, col, given, mask, c);
}

/* Keeps the good points of columns read whole (keep_point), in place. */
static void keep_good_points(columns *c, int32_t mask) {
  for (long long i = 0; i < c->rows; i++)
    keep_point(c, c->time[i], c->flux[i], c->error[i], c->quality[i], mask);
}

/* Reads TIME, flux, error and quality of every row and keeps the good points: decoded from the
 * mapped table when it is plain (raw_layout), else through CFITSIO (which also handles scaled,
 * vector and compressed columns and gzip files). */
static int read_columns(fitsfile *f, const mapped_table *mapped, const lcfm_ingest_options *o,
                        const mission_header *h, lcfm_room_sink on_room, void *user, columns *c,
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
  c->in_room = on_room && on_room(user, c->rows, &c->room);
  c->time = c->in_room ? c->room.time : lcfm_malloc(n * sizeof *c->time);
  c->flux = lcfm_malloc(n * sizeof *c->flux);
  c->error = lcfm_malloc(n * sizeof *c->error), c->scratch = lcfm_malloc(n * sizeof *c->scratch);
  c->quality = lcfm_malloc(n * sizeof *c->quality);
  /* A plain table of a mapped file is decoded where it lies: CFITSIO's reader copied it into
   * its buffers and converted column by column, a quarter of the ingest's time. */
  raw_column raw[4] = {{0}}; /* every one set by raw_layout: the numbers are existing columns */
  long row_bytes = 0;
  if (mapped->bytes && !raw_layout(f, mapped->row_bytes, numbers, raw, &row_bytes) &&
      row_bytes > 0 && c->rows <= mapped->size / row_bytes) {
    decode_rows(mapped->bytes, c->rows, row_bytes, raw, o->quality_mask, c);
    return 0;
  }
  double nan = NAN;
  int quality_null = 0, any_null = 0;
  /* The four columns of as many rows as CFITSIO's buffers hold, chunk after chunk: each part of
   * the table is loaded once for all four columns rather than once per column. */
  long chunk = 0;
  fits_get_rowsize(f, &chunk, &status);
  if (status || chunk < 1) chunk = 1, status = 0;
  for (long long first = 0; first < c->rows && !status; first += chunk) {
    long long n = c->rows - first < chunk ? c->rows - first : chunk;
    fits_read_col(f, TDOUBLE, numbers[0], first + 1, 1, n, &nan, c->time + first, &any_null,
                  &status);
    fits_read_col(f, TDOUBLE, numbers[1], first + 1, 1, n, &nan, c->flux + first, &any_null,
                  &status);
    fits_read_col(f, TDOUBLE, numbers[2], first + 1, 1, n, &nan, c->error + first, &any_null,
                  &status);
    fits_read_col(f, TINT, numbers[3], first + 1, 1, n, &quality_null, c->quality + first,
                  &any_null, &status);
  }
  if (status) {
    char detail[256];
    fits_reason(status, detail, sizeof detail);
    snprintf(why, why_len, "reading the columns: %s", detail);
    return LCFM_REJECT_IO;
  }
  keep_good_points(c, o->quality_mask);
  return 0;
}

/* The checks and the normalisation of the kept points; returns a reason or 0. */
static int normalise(const columns *c, const lcfm_ingest_options *o, float *value, float *error,
                     double *median_flux, char *why, size_t why_len) {
  int64_t kept = c->kept;
  if (c->finite_flux == 0) {
    snprintf(why, why_len, "all %lld flux values are NaN or infinite", c->rows);
    return LCFM_REJECT_NONFINITE;
  }
  if (kept < o->min_points) {
    snprintf(why, why_len, "%lld points kept after the quality mask, fewer than min_points = %lld",
             (long long)kept, (long long)o->min_points);
    return LCFM_REJECT_EMPTY;
  }
  for (int64_t i = 1; i < kept; i++)
    if (c->time[i] < c->time[i - 1]) {
      snprintf(why, why_len, "time goes backwards at kept point %lld (%.6f after %.6f)",
               (long long)i, c->time[i], c->time[i - 1]);
      return LCFM_REJECT_TIME_ORDER;
    }
  for (int64_t i = 0; i < kept; i++)
    if (!(fabs(c->flux[i]) <= LCFM_INGEST_MAX_VALUE && c->error[i] <= LCFM_INGEST_MAX_VALUE)) {
      snprintf(why, why_len,
               "kept point %lld: flux %g +- %g is beyond the range |x| <= %.3g (its float32 square "
               "must stay finite)",
               (long long)i, c->flux[i], c->error[i], LCFM_INGEST_MAX_VALUE);
      return LCFM_REJECT_RANGE;
    }
  double median = lcfm_median(c->flux, kept, c->scratch);
  if (!(median > 0)) {
    snprintf(why, why_len, "median flux %g is not positive: cannot normalise", median);
    return LCFM_REJECT_NONFINITE;
  }
  for (int64_t i = 0; i < kept; i++) {
    double v = c->flux[i] / median - 1.0, e = c->error[i] / median;
    if (!(fabs(v) <= LCFM_INGEST_MAX_VALUE && e <= LCFM_INGEST_MAX_VALUE)) {
      snprintf(why, why_len,
               "kept point %lld: flux %g, error %g over the median %g give %g +- %g, beyond the "
               "range |x| <= %.3g (its float32 square must stay finite)",
               (long long)i, c->flux[i], c->error[i], median, v, e, LCFM_INGEST_MAX_VALUE);
      return LCFM_REJECT_RANGE;
    }
    value[i] = (float)v;
    error[i] = (float)e;
  }
  *median_flux = median;
  return 0;
}

static void name_instrument(lcfm_instrument *in, const mission_header *h) {
  memset(in, 0, sizeof *in);
  in->survey = h->survey, in->season = h->season, in->unit = h->unit, in->subunit = h->subunit,
  in->band = -1;
  in->time_zero = h->time_zero;
  in->value_kind = LCFM_VALUE_RELATIVE_FLUX;
  snprintf(in->time_scale, sizeof in->time_scale, "%s", h->time_scale);
  snprintf(in->time_reference, sizeof in->time_reference, "%s", h->time_reference);
  if (h->survey == LCFM_SURVEY_TESS)
    snprintf(in->name, sizeof in->name, "tess-s%02d-cam%d-ccd%d", h->season, h->unit, h->subunit);
  else
    snprintf(in->name, sizeof in->name, "%s-%s%02d-mod%d-out%d",
             h->survey == LCFM_SURVEY_K2 ? "k2" : "kepler", h->survey == LCFM_SURVEY_K2 ? "c" : "q",
             h->season, h->unit, h->subunit);
}

/* A plain (not gzipped) FITS file of whole 2880-byte blocks mapped into memory, or NULL (the
 * file is then opened by name: CFITSIO's disk driver reports a truncated file cleanly). CFITSIO reading from disk goes
 * through small buffers with thousands of read calls per file; from a mapping of the page cache
 * the file is neither copied nor read call by call. */
static void *map_plain_file(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  struct stat st;
  void *bytes = NULL;
  if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size % 2880 == 0) {
    *size = (size_t)st.st_size;
    /* Not MAP_POPULATE: mapping every page up front cost 7% more CPU than the faults, which map
     * 16 pages at a time (fault-around). */
    bytes = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    const unsigned char *magic = bytes;
    if (bytes == MAP_FAILED) bytes = NULL;
    else if (magic[0] == 0x1f && magic[1] == 0x8b)
      munmap(bytes, *size), bytes = NULL; /* gzip: CFITSIO inflates it */
  }
  close(fd);
  return bytes;
}

/* A mapped file must hold the whole table: CFITSIO's memory driver does not check its reads
 * against the end of the buffer. Sets *table to the table's bytes in the mapping and its row
 * width (NAXIS1, read first, where the header starts; 0 when unreadable: the table is then read
 * through CFITSIO); returns 0 or an IO reason. */
static int find_mapped_table(fitsfile *f, const unsigned char *bytes, size_t size,
                             mapped_table *table, char *why, size_t why_len) {
  long long header_start = 0, data_start = 0, data_end = 0;
  int status = 0;
  fits_get_hduaddrll(f, &header_start, &data_start, &data_end, &status);
  if (!status && data_start <= data_end && data_end <= (long long)size) {
    long naxis1 = 0;
    if (fits_read_key(f, TLONG, "NAXIS1", &naxis1, NULL, &status)) naxis1 = 0, fits_clear_errmsg();
    *table = (mapped_table){
        .bytes = bytes + data_start, .size = data_end - data_start, .row_bytes = naxis1};
    return 0;
  }
  fits_clear_errmsg();
  snprintf(why, why_len, "truncated: the light-curve table ends at byte %lld, the file has %zu",
           data_end, size);
  return LCFM_REJECT_IO;
}

/* Opens the file from a mapping when it is plain FITS, else by name (gzip, or unreadable:
 * CFITSIO then names the problem). The caller unmaps *bytes (*size bytes) after fits_close_file. */
static int open_fits(const char *path, fitsfile **f, void **bytes, size_t *size, int *status) {
  *bytes = map_plain_file(path, size);
  if (*bytes) return fits_open_memfile(f, path, READONLY, bytes, size, 0, NULL, status);
  return fits_open_file(f, path, READONLY, status);
}

void lcfm_read_fits_lightcurve(const char *path, const lcfm_ingest_options *o,
                               lcfm_object_sink on_object, lcfm_reject_sink on_reject,
                               lcfm_room_sink on_room, void *user) {
  char why[512] = "";
  int reason = 0, status = 0;
  fitsfile *f = NULL;
  columns c = {0};
  mission_header h = {0};
  float *value = NULL, *error = NULL;
  void *bytes = NULL;
  size_t size = 0;
  if (open_fits(path, &f, &bytes, &size, &status)) {
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
  mapped_table table = {0}; /* stays empty for a file CFITSIO opened by name */
  if (bytes && (reason = find_mapped_table(f, bytes, size, &table, why, sizeof why))) goto done;
  if ((reason = read_time_reference(f, &h, why, sizeof why))) goto done;
  if ((reason = read_columns(f, &table, o, &h, on_room, user, &c, why, sizeof why))) goto done;
  int64_t kept = c.kept;
  if (c.in_room) {
    value = c.room.value, error = c.room.error;
  } else {
    value = lcfm_malloc((size_t)(kept ? kept : 1) * sizeof *value);
    error = lcfm_malloc((size_t)(kept ? kept : 1) * sizeof *error);
  }
  double median = NAN;
  if ((reason = normalise(&c, o, value, error, &median, why, sizeof why))) goto done;
  lcfm_survey_object object = {.source = h.source,
                               .field = h.season,
                               .label = -1,
                               .time_zero = h.time_zero,
                               .ra = h.ra,
                               .dec = h.dec,
                               .magnitude = (float)h.magnitude,
                               .median_flux = (float)median,
                               .notes = h.notes,
                               .path = path,
                               .length = kept,
                               .time = c.time,
                               .value = value,
                               .error = error,
                               .quality = o->keep_quality ? (const int32_t *)c.quality : NULL};
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
  if (bytes) munmap(bytes, size);
  if (!c.in_room) free(value), free(error);
  free_columns(&c);
}
