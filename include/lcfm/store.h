/* store.h: the light-curve store, one parallel-HDF5 schema for simulated and real surveys.
 *
 * Layout (schema "lcfm-store", version 1); N objects, P points, I instruments, R rejects:
 *   /                 attributes: schema, schema_version, producer, and the provenance record
 *                     (provenance.h: version, git revision, build, libraries, job, seed, ranks)
 *   /objects/id         int64  [N]  unique within the store
 *            source     int64  [N]  physical object (sim star; TESS TIC; Kepler KIC; MACHO packed)
 *            instrument int32  [N]  row of /instruments
 *            field      int32  [N]  shard key (sim block; TESS sector; Kepler quarter; MACHO field)
 *            label      int32  [N]  class, or -1
 *            offset     int64  [N]  first point of the object in /points
 *            length     int32  [N]  number of points
 *   /points/time   float64 [P]  days (surveys, with the reference in the time_reference attribute)
 *                               or steps (simulations)
 *           value  float32 [P]  flux (normalised) or magnitude
 *           error  float32 [P]  one-sigma uncertainty of value
 *   /instruments/id int32, survey int32 (lcfm_survey), season int32 (TESS sector, Kepler quarter,
 *                K2 campaign; -1), unit int32 (camera, module; -1), subunit int32 (CCD, output; -1),
 *                band int32 (MACHO red 0, blue 1; -1), time_zero float64 (days to add to
 *                time for BJD or JD; 0 for simulations), name string[32]    all [I]
 *   /rejects/key string[256] (path or object), reason int32 (lcfm_reject_reason),
 *            message string[256]                                          all [R]
 *   /truth/...        producer-specific ground truth (the simulator's: sim.h)
 *   /index/...        lookups by source, instrument and field (store_index.h): written by
 *                     simulate and ingest; optional (older stores have none)
 * Invariants: objects are stored in id order of production; object i's points are the slice
 * [offset_i, offset_i + length_i) and follow object i-1's; ids are unique.
 *
 * Writing is collective. Each rank declares how many objects and points it will write; the
 * writer places ranks one after another with MPI_Exscan, so the file does not depend on the
 * rank count when ranks own consecutive slices of the objects. Ranks then write their slice
 * in batches with lcfm_store_write_batch (every rank makes the same number of calls; a rank with
 * nothing left passes an empty batch). The file is written as PATH.partial and renamed to PATH
 * by lcfm_store_close, so PATH never names a half-written store.
 *
 * Reading is collective too: each rank takes a balanced, contiguous shard of objects and
 * streams it in blocks (lcfm_store_cursor), so memory per rank does not grow with the store.
 */
#ifndef LCFM_STORE_H
#define LCFM_STORE_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "lcfm/provenance.h"

#define LCFM_STORE_SCHEMA "lcfm-store"
#define LCFM_STORE_SCHEMA_VERSION 1
#define LCFM_INSTRUMENT_NAME_LEN 32
#define LCFM_REJECT_TEXT_LEN 256

typedef enum {
  LCFM_SURVEY_SIM = 0,
  LCFM_SURVEY_TESS = 1,
  LCFM_SURVEY_KEPLER = 2,
  LCFM_SURVEY_K2 = 3,
  LCFM_SURVEY_MACHO = 4,
} lcfm_survey;

typedef enum {
  LCFM_REJECT_IO = 1,         /* unreadable, truncated or corrupt file */
  LCFM_REJECT_FORMAT = 2,     /* missing or mistyped column or header key */
  LCFM_REJECT_EMPTY = 3,      /* no usable points after masking */
  LCFM_REJECT_NONFINITE = 4,  /* all values NaN or infinite */
  LCFM_REJECT_TIME_ORDER = 5, /* time goes backwards */
  LCFM_REJECT_PARSE = 6,      /* malformed text row */
  LCFM_REJECT_RANGE = 7,      /* header value outside its documented range, or flux beyond float range */
  LCFM_REJECT_DUPLICATE = 8,  /* the same light curve as an object stored from an earlier file */
} lcfm_reject_reason;

typedef struct {
  int32_t id, survey, season, unit, subunit, band;
  double time_zero; /* days to add to /points/time for BJD (TESS, Kepler), JD (MACHO); 0 for sims */
  char name[LCFM_INSTRUMENT_NAME_LEN];
} lcfm_instrument;

typedef struct {
  char key[LCFM_REJECT_TEXT_LEN];
  int32_t reason;
  char message[LCFM_REJECT_TEXT_LEN];
} lcfm_reject;

/* A batch of consecutive objects and their points (object after object). Arrays of `count`
 * (columns) or of sum(length) (points); `offset` is computed by the writer. */
typedef struct {
  int64_t count;
  int64_t *id, *source;
  int32_t *instrument, *field, *label, *length;
  int64_t *offset; /* filled by readers; ignored by the writer */
  double *time;
  float *value, *error;
  int64_t point_count;
} lcfm_object_batch;

/* ---- writing ---- */
typedef struct lcfm_store_writer lcfm_store_writer;

/* Collective: creates PATH.partial for `local_objects` and `local_points` from each rank. */
lcfm_store_writer *lcfm_store_create(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                     int64_t local_objects, int64_t local_points);
/* Collective: the next slice of this rank's objects. */
void lcfm_store_write_batch(lcfm_store_writer *w, const lcfm_object_batch *batch);
/* Collective: the instrument table; every rank passes the same rows. */
void lcfm_store_write_instruments(lcfm_store_writer *w, const lcfm_instrument *rows, int64_t count);
/* Collective: each rank's own rejects (count may be 0), placed one rank after another. */
void lcfm_store_write_rejects(lcfm_store_writer *w, const lcfm_reject *rows, int64_t count);
/* Collective: a float64 matrix [rows, cols] at `path` (e.g. "/truth/theta"); returns a handle
 * for lcfm_store_write_rows. Groups on the path are created as needed. */
int lcfm_store_add_matrix(lcfm_store_writer *w, const char *path, int64_t rows, int64_t cols);
/* Collective: rows [first_row, first_row + row_count) of a matrix; row_count may be 0. */
void lcfm_store_write_rows(lcfm_store_writer *w, int matrix, int64_t first_row, int64_t row_count,
                           const double *data);
/* Group or file handle for producer attributes (e.g. /truth constants); NULL path = root. */
hid_t lcfm_store_group(lcfm_store_writer *w, const char *path);
/* Collective: closes the file and renames PATH.partial to PATH. */
void lcfm_store_close(lcfm_store_writer *w);

/* ---- reading ---- */
typedef struct lcfm_store lcfm_store;

/* Collective. Returns NULL and a reason (naming the file) if PATH is missing, not HDF5, not an
 * lcfm store, of another schema version, or breaks an invariant (store_check.h). */
lcfm_store *lcfm_store_open(MPI_Comm comm, const char *path, char *why, size_t why_len);
void lcfm_store_free(lcfm_store *s);
int64_t lcfm_store_object_count(const lcfm_store *s);
int64_t lcfm_store_point_count(const lcfm_store *s);
int64_t lcfm_store_instrument_count(const lcfm_store *s);
int64_t lcfm_store_reject_count(const lcfm_store *s);
hid_t lcfm_store_file(const lcfm_store *s);
/* The balanced contiguous shard of `rank` among `ranks`. */
void lcfm_store_shard(int64_t objects, int rank, int ranks, int64_t *first, int64_t *count);

/* Streams objects [first, first + count) in blocks of at most `block_objects`. Collective:
 * lcfm_store_cursor_next must be called on every rank until it returns 0 on all of them. */
typedef struct {
  lcfm_store *store;
  int64_t next, end, block_objects;
  int64_t blocks_left;     /* global: the most blocks any rank still has */
  lcfm_object_batch batch; /* the current block; buffers owned by the cursor */
  int64_t point_capacity;
} lcfm_store_cursor;

void lcfm_store_cursor_begin(lcfm_store_cursor *c, lcfm_store *s, int64_t first, int64_t count,
                             int64_t block_objects);
/* Reads the next block into c->batch (possibly empty on this rank); returns 0 when every rank
 * is done. */
int lcfm_store_cursor_next(lcfm_store_cursor *c);
void lcfm_store_cursor_end(lcfm_store_cursor *c);

/* Collective: the object columns (not the points) of objects [first, first + count) into a
 * batch with room for `count` objects; count may be 0. */
void lcfm_store_read_objects(lcfm_store *s, int64_t first, int64_t count, lcfm_object_batch *b);

/* Reads the instrument table (every rank gets all rows); caller frees. */
lcfm_instrument *lcfm_store_read_instruments(lcfm_store *s, int64_t *count);

/* Allocates / frees batch buffers for `objects` objects and `points` points. */
void lcfm_batch_alloc(lcfm_object_batch *b, int64_t objects, int64_t points);
void lcfm_batch_free(lcfm_object_batch *b);

#endif
