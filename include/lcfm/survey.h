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
 * Header keywords must lie in their documented ranges, checked on the 64-bit value read (a file
 * outside them is a RANGE reject, never stored with a wrapped value): TESS TICID > 0, SECTOR
 * 1-999, CAMERA 1-4, CCD 1-4; Kepler KEPLERID > 0, QUARTER 0-17, MODULE a science module (2-4,
 * 6-20, 22-24), OUTPUT 1-4; K2 CAMPAIGN 0-19, 91, 92, 101, 102, 111, 112. MACHO rows: field
 * < 10^8, tile and seqn < 10^5, all >= 0 (a row outside is a PARSE reject of that row).
 *
 * Kept points and values. A bad point is dropped, never the whole object, in both readers:
 *   FITS: TIME, flux and error finite, error >= 0, and (quality & quality_mask) == 0.
 *     value = flux / m - 1 and error = flux_err / m, with m the median of the kept fluxes (a
 *     relative flux deviation; m must be positive). A kept flux or error, or a value or error,
 *     beyond +-LCFM_INGEST_MAX_VALUE makes the object a RANGE reject (fluxes of 1e38, a float64
 *     flux of 1e39, a median so small that flux / m overflows). Times stay in the file's days
 *     (BTJD, BKJD); the light-curve header's BJDREFI + BJDREFF, TIMESYS and TIMEREF give the
 *     instrument's time_zero, time_scale and time_reference (SOLARSYSTEM: BJD; HELIOCENTER: HJD;
 *     else JD); where absent, the mission's documented BJD TDB (2457000, Kepler/K2 2454833) and
 *     LCFM_NOTE_TIME_REFERENCE. Per object: RA_OBJ, DEC_OBJ and TESSMAG/KEPMAG of the primary
 *     header, the median m (median_flux), the path, and the kept points' quality flags when
 *     keep_quality. value_kind: relative flux.
 *   MACHO: magnitude and error as given (instrumental magnitudes), dropping -99 sentinels,
 *     non-finite values, values beyond float range and negative errors; points sorted by time
 *     (MJD in UTC; time_zero 2400000.5, time_reference JD, time_scale UTC; value_kind magnitude).
 *     A UTF-8 byte-order mark before the header is skipped.
 * Identifiers: source = TIC or KIC (K2: EPIC) id; MACHO: field * 10^10 + tile * 10^5 + seqn.
 * field = TESS sector, Kepler quarter, K2 campaign, MACHO field. label = MACHO class, else -1.
 *
 * Problems never stop an ingest: a file that cannot be read (truncated, corrupt, bad gzip), a
 * missing or mistyped column or keyword, a keyword out of range, an all-NaN or empty light
 * curve, time that goes backwards, or a malformed CSV row is recorded as a reject (path or
 * "path:line", reason code from store.h, message) and the ingest goes on; it fails only if
 * nothing at all was read.
 *
 * Duplicates: a light curve is stored once. Two objects are the same light curve when they have
 * the same survey, source, season and unit/subunit/band (TESS sector, camera, CCD; Kepler
 * quarter, module, output; MACHO band), or the same decoded columns (a 128-bit XXH3 hash of time,
 * value and error: a copy, a renamed file, the .fits.gz of a .fits). The object of the lowest file (in
 * the sorted input list; when appending, an object already in the store) is kept; every other
 * one is a DUPLICATE reject naming the kept file or stored object. Ranks read different files,
 * so each rank hashes its objects as it reads them and the keys (80 bytes per object) are
 * partitioned over the ranks by hash (survey_duplicates.h): a rank holds twice its share of
 * the keys, 160 MB per rank for 10^8 light curves on 100 ranks, not every key.
 *
 * Time references: an instrument (e.g. one sector, camera and CCD) holds one, that of its first
 * file in the sorted list, or the store's when appending to a store that has the instrument
 * (an append never splits an instrument into two rows); another BJDREFI + BJDREFF is shifted to it, another time scale or
 * reference is a FORMAT reject (no conversion without ephemerides).
 */

/* Largest |flux|, flux error, |value| and error an ingested FITS point may have: its float32
 * square (1e38) stays finite. Real fluxes are below 1e10 e-/s. */
#define LCFM_INGEST_MAX_VALUE 1e19
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
  int keep_quality;      /* store each kept point's quality flags (/points/quality) */
  int64_t min_points;    /* objects with fewer kept points are rejected as empty */
  int64_t block_objects; /* objects per collective write at most */
  int64_t block_points;  /* points per collective write at most (a longer object goes alone) */
  int64_t keep_bytes;    /* decoded points a rank keeps from its one reading pass (see ingest.c) */
} lcfm_ingest_options;

/* What a reader could not read and replaced by the documented value (counted and logged). */
enum {
  LCFM_NOTE_TIME_REFERENCE = 1
}; /* no BJDREFI/BJDREFF, TIMESYS or TIMEREF: mission values used */

/* One object read from a file. The arrays belong to the reader and live until the sink returns. */
typedef struct {
  int64_t source;
  int32_t field, label;
  lcfm_instrument instrument; /* id is assigned by the ingest, not the reader */
  double time_zero;  /* days to add to time for BJD (FITS) or JD (MACHO): instrument.time_zero */
  double ra, dec;    /* degrees (FITS RA_OBJ, DEC_OBJ), NaN if unknown */
  float magnitude;   /* catalogue magnitude (TESSMAG, KEPMAG), NaN if unknown */
  float median_flux; /* e-/s that normalised the values (relative flux), NaN for magnitudes */
  int32_t notes;     /* LCFM_NOTE_* bits */
  const char *path;  /* the input file */
  int64_t length;
  const double *time;
  const float *value, *error;
  const int32_t *quality; /* per kept point: the file's quality flags; NULL unless keep_quality */
} lcfm_survey_object;

typedef void (*lcfm_object_sink)(void *user, const lcfm_survey_object *object);
typedef void (*lcfm_reject_sink)(void *user, const lcfm_reject *reject);

/* Memory a sink offers a reader for an object's points before they are decoded: the reader then
 * decodes into it, and the object it hands the sink points there (the sink keeps the points
 * without copying them; the room is free again if the file is rejected). */
typedef struct {
  double *time;
  float *value, *error;
} lcfm_point_room;
/* Fills *room with arrays of `rows` points and returns 1, or returns 0 (the reader then decodes
 * into its own arrays, as with no room sink at all). */
typedef int (*lcfm_room_sink)(void *user, int64_t rows, lcfm_point_room *room);

/* Reads one TESS/Kepler/K2 light-curve FITS file: calls `on_object` once, or `on_reject` once.
 * `on_room` (or NULL) is asked for room for the table's rows before they are decoded. */
void lcfm_read_fits_lightcurve(const char *path, const lcfm_ingest_options *options,
                               lcfm_object_sink on_object, lcfm_reject_sink on_reject,
                               lcfm_room_sink on_room, void *user);

/* Parses MACHO text already in memory (either format); `name` labels rejects ("name:line").
 * Calls on_object per (star, band) with points, on_reject per malformed row or empty object. */
void lcfm_parse_macho(const char *name, const char *text, size_t length,
                      const lcfm_ingest_options *options, lcfm_object_sink on_object,
                      lcfm_reject_sink on_reject, void *user);
/* Reads a MACHO file (plain or gzip) and parses it; an unreadable file is one reject. */
void lcfm_read_macho_file(const char *path, const lcfm_ingest_options *options,
                          lcfm_object_sink on_object, lcfm_reject_sink on_reject, void *user);

/* Reads any supported file, choosing the reader by content (FITS magic, gzip, CSV header);
 * `on_room` as for lcfm_read_fits_lightcurve (the MACHO reader asks for none). */
void lcfm_read_survey_file(const char *path, const lcfm_ingest_options *options,
                           lcfm_object_sink on_object, lcfm_reject_sink on_reject,
                           lcfm_room_sink on_room, void *user);

/* One rank's slice of the sorted input list: files [first, first + count) of `total`. */
typedef struct {
  char *paths;      /* the slice's names, NUL-separated */
  int64_t *offsets; /* [count + 1]: file first + i is paths + offsets[i] */
  int64_t *sizes;   /* [count]: each file's bytes, from the one stat that found it */
  int64_t first, count, total;
} lcfm_input_slice;

/* The name of file `file` (an index in the whole sorted list) of the slice that holds it. */
const char *lcfm_input_path(const lcfm_input_slice *slice, int64_t file);
void lcfm_input_slice_free(lcfm_input_slice *slice);

/* ---- the sorted input list, built by all ranks (src/survey/inputs.c, input_list.c) ----
 * No rank holds the whole list: a survey of millions of files is best named by @manifest files,
 * which every rank reads over its share of their bytes. */

/* Collective: this rank's share of the files `inputs` names (directories, glob patterns, files,
 * @manifest files of one path or pattern a line), unsorted in *mine: the i-th directory, pattern
 * or file is expanded by rank i % ranks, a manifest's lines by the rank whose share of its bytes
 * they begin in. Missing inputs are reported via `problem` by the rank that finds them. Returns
 * the number of missing inputs on every rank. */
int64_t lcfm_input_list_expand(MPI_Comm comm, const char *inputs, lcfm_input_slice *mine,
                               void (*problem)(const char *message));
/* Collective: sorts the ranks' names together (strcmp order, each name once): *list becomes this
 * rank's contiguous part of the sorted list (first, count and total set; parts may be uneven). */
void lcfm_input_list_sort(MPI_Comm comm, lcfm_input_slice *list);
/* Collective: moves the names so that rank r holds files [starts[r], starts[r + 1]). */
void lcfm_input_list_move(MPI_Comm comm, lcfm_input_slice *list, const int64_t *starts);

/* Reads [ingest]; returns the number of problems (reported by rank 0). */
int lcfm_ingest_options_from_job(lcfm_ingest_options *o, const lcfm_job *job);

/* Collective: reads this rank's slice `files` of the sorted list (ranks hold consecutive
 * slices, balanced by size: lcfm_ingest_slice_inputs) and writes the store `path` (store->mode:
 * create it, or append the objects not already in it; NULL: create, uncompressed). Returns the
 * number of objects written; 0 when every object read is a duplicate (of the store or another
 * file) and -1 when no file could be read: no store is written then. */
int64_t lcfm_ingest_store(MPI_Comm comm, const lcfm_ingest_options *options,
                          const lcfm_input_slice *files, const char *path,
                          const lcfm_provenance *prov, const lcfm_store_options *store);

/* ---- an ingest job (src/survey/ingest_job.c: `lcfm ingest` and the ingest stage of `lcfm run`) ---- */
/* Collective: expands and sorts [ingest] inputs (all ranks); returns the file count on every
 * rank, or -1 if an input names nothing or no file is found (reported as a job-file problem). */
int64_t lcfm_ingest_check_inputs(MPI_Comm comm, const lcfm_job *job);
/* Collective: expands and sorts [ingest] inputs and gives each rank its slice, balanced by size:
 * the ranks stat the files of their part of the sorted list (in parallel), place the slice
 * boundaries by the prefix sums of the sizes and move the names there (counts and offsets are
 * int64). Returns the file count, or -1 on every rank as lcfm_ingest_check_inputs. */
int64_t lcfm_ingest_slice_inputs(MPI_Comm comm, const lcfm_job *job, lcfm_input_slice *slice);
/* Collective: ingests [ingest] inputs into [ingest] output; the exit code (LCFM_EXIT_USAGE for
 * a bad job, LCFM_EXIT_RUNTIME when no file could be read). */
int lcfm_ingest_job_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
