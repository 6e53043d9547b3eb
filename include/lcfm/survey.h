/* survey.h: reading real surveys into the light-curve store (`lcfm ingest`).
 *
 * Readers turn one input file into objects (a light curve of one source under one instrument):
 *   TESS SPOC *_lc.fits, Kepler/K2 *_llc.fits (CFITSIO; .fits.gz too): HDU 1 columns TIME, the
 *     flux chosen by `flux` (PDCSAP_FLUX or SAP_FLUX) and its _ERR, the quality column
 *     (QUALITY, or SAP_QUALITY for Kepler); header TICID / KEPLERID, SECTOR, CAMERA, CCD /
 *     QUARTER or CAMPAIGN, MODULE, OUTPUT. One object per file.
 *   MACHO photometry-service CSV (header "classification,fieldid,tileid,seqn,obsid,dateobs,
 *     rmag,rerr,bmag,berr") and MACHO archive tile files (39 ';'-separated fields per line,
 *     ARCHIVE_FORMAT.txt), plain or gzip. Two objects per star: red and blue photometry are
 *     separate instruments of the same source.
 *
 * Kept points and values:
 *   FITS: TIME, flux and error finite, and (quality & quality_mask) == 0. value = flux / m - 1
 *     and error = flux_err / m, with m the median of the kept fluxes (a relative flux
 *     deviation; m must be positive). Times stay in the mission's days (BTJD = BJD - 2457000,
 *     BKJD = BJD - 2454833); the instrument's time_zero records the offset to BJD.
 *   MACHO: magnitude and error as given (instrumental magnitudes), dropping -99 sentinels and
 *     negative errors; points sorted by time (MJD; time_zero 2400000.5 gives JD).
 * Identifiers: source = TIC or KIC (K2: EPIC) id; MACHO: field * 10^10 + tile * 10^5 + seqn.
 * field = TESS sector, Kepler quarter, K2 campaign, MACHO field. label = MACHO class, else -1.
 *
 * Problems never stop an ingest: a file that cannot be read (truncated, corrupt, bad gzip), a
 * missing or mistyped column or keyword, an all-NaN or empty light curve, time that goes
 * backwards, or a malformed CSV row is recorded as a reject (path or "path:line", reason code
 * from store.h, message) and the ingest goes on; it fails only if nothing at all was read.
 */
#ifndef LCFM_SURVEY_H
#define LCFM_SURVEY_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"
#include "lcfm/store.h"

typedef enum { LCFM_FLUX_PDCSAP = 0, LCFM_FLUX_SAP = 1 } lcfm_flux_kind;

typedef struct {
  lcfm_flux_kind flux;
  int32_t quality_mask;
  int64_t min_points;    /* objects with fewer kept points are rejected as empty */
  int64_t block_objects; /* objects per collective write at most */
  int64_t block_points;  /* points per collective write at most (a longer object goes alone) */
} lcfm_ingest_options;

/* One object read from a file. The arrays belong to the reader and live until the sink returns. */
typedef struct {
  int64_t source;
  int32_t field, label;
  lcfm_instrument instrument; /* id is assigned by the ingest, not the reader */
  double time_zero;           /* days to add to time for BJD (FITS) or JD (MACHO) */
  int64_t length;
  const double *time;
  const float *value, *error;
} lcfm_survey_object;

typedef void (*lcfm_object_sink)(void *user, const lcfm_survey_object *object);
typedef void (*lcfm_reject_sink)(void *user, const lcfm_reject *reject);

/* Reads one TESS/Kepler/K2 light-curve FITS file: calls `on_object` once, or `on_reject` once. */
void lcfm_read_fits_lightcurve(const char *path, const lcfm_ingest_options *options,
                               lcfm_object_sink on_object, lcfm_reject_sink on_reject, void *user);

/* Parses MACHO text already in memory (either format); `name` labels rejects ("name:line").
 * Calls on_object per (star, band) with points, on_reject per malformed row or empty object. */
void lcfm_parse_macho(const char *name, const char *text, size_t length, const lcfm_ingest_options *options,
                      lcfm_object_sink on_object, lcfm_reject_sink on_reject, void *user);
/* Reads a MACHO file (plain or gzip) and parses it; an unreadable file is one reject. */
void lcfm_read_macho_file(const char *path, const lcfm_ingest_options *options,
                          lcfm_object_sink on_object, lcfm_reject_sink on_reject, void *user);

/* Reads any supported file, choosing the reader by content (FITS magic, gzip, CSV header). */
void lcfm_read_survey_file(const char *path, const lcfm_ingest_options *options,
                           lcfm_object_sink on_object, lcfm_reject_sink on_reject, void *user);

/* Expands the `inputs` list (directories, glob patterns, files, @manifest files with one path or
 * pattern per line) into a sorted, de-duplicated list of files. Returns the count; *paths is
 * one allocation of NUL-separated names, *offsets indexes it. Missing inputs are reported via
 * `problem` (a message naming the input) and counted in *missing. */
int64_t lcfm_expand_inputs(const char *inputs, char **paths, int64_t **offsets, int64_t *missing,
                           void (*problem)(const char *message));

/* Reads [ingest]; returns the number of problems (reported by rank 0). */
int lcfm_ingest_options_from_job(lcfm_ingest_options *o, const lcfm_job *job);

/* Collective: reads `file_count` files (every rank has the same list), balanced over ranks in
 * contiguous slices, and writes the store `path`. Returns the number of objects written. */
int64_t lcfm_ingest_store(MPI_Comm comm, const lcfm_ingest_options *options, const char *paths,
                          const int64_t *offsets, int64_t file_count, const char *path,
                          const lcfm_provenance *prov);

#endif
