/* store.h: the light-curve store, one parallel-HDF5 schema for simulated and real surveys.
 *
 * Layout (schema "lcfm-store", version 2); N objects, P points, I instruments, R rejects:
 *   /                 attributes: schema, schema_version, producer, deflate_level, next_id (one
 *                     more than the largest id ever given), store_signature (store_check.h),
 *                     and the provenance record of the last run that wrote the store
 *                     (provenance.h: version, git revision, build, libraries, job, seed, ranks)
 *   /objects/id         int64  [N]  unique within the store; never changed once given
 *            source     int64  [N]  physical object (sim star; TESS TIC; Kepler KIC; MACHO packed)
 *            instrument int32  [N]  row of /instruments
 *            field      int32  [N]  shard key (sim block; TESS sector; Kepler quarter; MACHO field)
 *            label      int32  [N]  class, or -1
 *            offset     int64  [N]  first point of the object in /points
 *            length     int32  [N]  number of points
 *            ra, dec    float64 [N] degrees (RA_OBJ, DEC_OBJ); NaN when unknown        (schema 2)
 *            magnitude  float32 [N] catalogue magnitude (TESSMAG, KEPMAG); NaN        (schema 2)
 *            median_flux float32 [N] e-/s: relative flux = flux / median_flux - 1; NaN (schema 2)
 *            path       string[256] [N] input file; "" for simulations               (schema 2)
 *   /points/time    float64 [P]  days relative to the instrument's time_zero (surveys), or steps
 *                                (simulations)
 *           value   float32 [P]  flux / median_flux - 1, magnitude, or the simulated signal, as
 *                                the instrument's value_kind says
 *           error   float32 [P]  one-sigma uncertainty of value
 *           quality int32   [P]  the input's quality flags; only when the producer kept them (schema 2)
 *   /instruments/id int32, survey int32 (lcfm_survey), season int32 (TESS sector, Kepler quarter,
 *                K2 campaign; -1), unit int32 (camera, module; -1), subunit int32 (CCD, output; -1),
 *                band int32 (MACHO red 0, blue 1; -1), time_zero float64 (days to add to
 *                time for time_reference; 0 for simulations), name string[32], and in schema 2
 *                value_kind int32 (lcfm_value_kind), time_scale string[8] (TDB, UTC),
 *                time_reference string[8] (BJD, JD)                               all [I]
 *   /rejects/key string[256] (path or object), reason int32 (lcfm_reject_reason),
 *            message string[256]                                          all [R]
 *   /truth/...        producer-specific ground truth (the simulator's: sim.h)
 *   /index/...        lookups by source, instrument and field (store_index.h): written by
 *                     simulate and ingest, rebuilt by every append; optional (older stores have none)
 * Every dataset carries two string attributes: "unit" (an astropy unit string: "d", "deg", "mag",
 * "electron / s", or "" for dimensionless) and "description". /points/value and error are "mag"
 * when every instrument measures magnitudes, else "" (relative flux, simulated signal; a store
 * mixing both says so in the description: /instruments/value_kind is the authority).
 * Invariants: object i's points are the slice [offset_i, offset_i + length_i) and follow object
 * i-1's; ids are unique; objects appended later follow the earlier ones.
 *
 * Schema 1 (lcfm before the append): the same without the columns marked schema 2, with
 * contiguous fixed-size datasets and no unit attributes. It is still read (train, embed, probe,
 * info): the missing columns are unknown (NaN, "", value_kind from the survey). It cannot be
 * appended to (refused, naming the file: write it again with this lcfm).
 *
 * Chunks: every dataset is chunked with an unlimited number of rows, so appends extend it in
 * place. Object columns use chunks of 8,192 rows (64 KiB of int64): one object's row costs one
 * chunk read and one field (consecutive objects, ~2,000 in a simulated field, a few thousand in a
 * TESS camera of a sector) one to a few chunks per column. Point columns use 65,536 rows (512 KiB
 * of float64 time, 256 KiB of float32): a TESS 2-min sector (~18,000 points) lies in one or two
 * chunks, and a chunk fits HDF5's default 1 MiB chunk cache. Tables (instruments, rejects) use
 * 256 rows and /truth matrices 4,096; a table smaller than its chunk gets one chunk of its size
 * (at least 64 rows). [store] compression = deflate adds the shuffle and deflate filters
 * ([store] deflate_level) to every dataset, written collectively (parallel HDF5 >= 1.10.2).
 *
 * Writing is collective. Each rank declares how many objects and points it will write; the
 * writer places ranks one after another with MPI_Exscan, so the file does not depend on the
 * rank count when ranks own consecutive slices of the objects. Ranks then write their slice
 * in batches with lcfm_store_write_batch (every rank makes the same number of calls; a rank with
 * nothing left passes an empty batch). The file is written as PATH.partial and renamed to PATH
 * by lcfm_store_close, so PATH never names a half-written store.
 *
 * Appending ([store] mode = append, lcfm_store_append) is copy-on-append: PATH is copied to
 * PATH.partial (copy_file_range: block sharing where the file system has reflinks, an in-kernel
 * copy elsewhere), the copy is extended and renamed over PATH. PATH is never opened for writing,
 * so a run killed at any moment leaves it as it was; HDF5 has no journal, and a store extended
 * in place by a killed run could not be trusted to open. The cost is one sequential copy of the
 * store per append (tools/bench_store.sh measures it against writing the store anew).
 *
 * Reading is collective too: each rank takes a balanced, contiguous shard of objects and
 * streams it in blocks (lcfm_store_cursor), so memory per rank does not grow with the store.
 */
#ifndef LCFM_STORE_H
#define LCFM_STORE_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "lcfm/h5io.h"
#include "lcfm/job.h"
#include "lcfm/provenance.h"

#define LCFM_STORE_SCHEMA "lcfm-store"
#define LCFM_STORE_SCHEMA_VERSION 2 /* written; version 1 is still read */
#define LCFM_INSTRUMENT_NAME_LEN 32
#define LCFM_REJECT_TEXT_LEN 256
#define LCFM_STORE_PATH_LEN 256 /* /objects/path: the input file an object came from */

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
  LCFM_REJECT_RANGE = 7, /* header value outside its documented range, or flux beyond float range */
  LCFM_REJECT_DUPLICATE = 8, /* the same light curve as an object stored from an earlier file */
} lcfm_reject_reason;

/* What /points/value holds for an instrument's objects. */
typedef enum {
  LCFM_VALUE_RELATIVE_FLUX = 0, /* flux / median flux - 1 (TESS, Kepler, K2) */
  LCFM_VALUE_MAGNITUDE = 1,     /* magnitude (MACHO) */
  LCFM_VALUE_SIMULATED = 2,     /* the simulator's dimensionless signal */
} lcfm_value_kind;

typedef struct {
  int32_t id, survey, season, unit, subunit, band;
  double time_zero; /* days to add to /points/time for BJD (TESS, Kepler), JD (MACHO); 0 for sims */
  char name[LCFM_INSTRUMENT_NAME_LEN];
  int32_t value_kind;     /* lcfm_value_kind */
  char time_scale[8];     /* header TIMESYS: "TDB", "UTC"; "" for simulations */
  char time_reference[8]; /* what time + time_zero counts: "BJD", "JD"; "" for simulations */
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
  /* Optional per-object metadata (schema 2); NULL = unknown, stored as NaN or "". */
  double *ra, *dec;   /* degrees (header RA_OBJ, DEC_OBJ) */
  float *magnitude;   /* catalogue magnitude (TESSMAG, KEPMAG) */
  float *median_flux; /* e-/s: value = flux / median_flux - 1 for relative flux */
  char *path;         /* count * LCFM_STORE_PATH_LEN bytes, NUL-padded input file path */
  int32_t *quality;   /* per point: the file's quality flags, or NULL when not kept */
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
/* Collective: a dataset of the store at `path` with `rows` rows (x cols), created with the store's
 * chunking and compression, or resized when it exists (appending). Caller closes it. */
hid_t lcfm_store_dataset(lcfm_store_writer *w, const char *path, hid_t type, int64_t rows,
                         int64_t cols);
/* 1 when the writer appends to an existing store. */
int lcfm_store_writer_appending(const lcfm_store_writer *w);
/* Group or file handle for producer attributes (e.g. /truth constants), created when missing;
 * NULL path = root. */
hid_t lcfm_store_group(lcfm_store_writer *w, const char *path);
/* Collective: closes the file and renames PATH.partial to PATH. */
void lcfm_store_close(lcfm_store_writer *w);

/* How a producer writes its store: job keys [store] mode, compression, deflate_level. */
typedef enum { LCFM_STORE_CREATE = 0, LCFM_STORE_APPEND = 1 } lcfm_store_mode;
typedef struct {
  int mode;          /* lcfm_store_mode */
  int deflate_level; /* 0: no compression; 1-9: shuffle + deflate at that level */
} lcfm_store_options;

/* Reads [store] mode (create | append), compression (none | deflate) and deflate_level from a
 * job; returns the number of problems (reported with lcfm_job_error, naming the key). */
int lcfm_store_options_from_job(lcfm_store_options *o, const lcfm_job *job);

/* Collective: lcfm_store_create with options (compression), or lcfm_store_append when o->mode
 * is LCFM_STORE_APPEND. NULL options: create, uncompressed. */
lcfm_store_writer *lcfm_store_begin(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                    int64_t local_objects, int64_t local_points,
                                    const lcfm_store_options *o);

/* Collective: opens the schema-2 store at PATH for adding `local_objects` objects and
 * `local_points` points from each rank, placed after the existing ones (copy-on-append: PATH is
 * copied to PATH.partial, extended there, and renamed over PATH by lcfm_store_close; PATH is
 * untouched until then). Then the writer is used as after lcfm_store_create:
 *   - lcfm_store_write_instruments merges the rows: a row equal in (survey, season, unit,
 *     subunit, band, name) to a stored one takes its id, others are added after the stored rows;
 *     the batches' instrument column (rows of the table passed) is mapped to the merged ids, so
 *     call it before the first lcfm_store_write_batch;
 *   - ids continue the store's: a batch's id i is stored as next_id + i, where next_id is the
 *     root attribute "next_id" (one more than the largest id stored); ids never change once given;
 *   - lcfm_store_write_rejects adds rows after the stored rejects;
 *   - lcfm_store_add_matrix on an existing matrix extends it by `rows` rows (the row numbers
 *     passed to lcfm_store_write_rows count from the first new row);
 *   - lcfm_store_index_write rebuilds /index over all objects.
 * A schema-1 store is refused naming the file (its datasets cannot grow): write it again with
 * this lcfm ([store] mode = create). Failures end every rank with PATH as it was. */
lcfm_store_writer *lcfm_store_append(MPI_Comm comm, const char *path, const lcfm_provenance *prov,
                                     int64_t local_objects, int64_t local_points);
/* The objects already in the store before this writer's (0 when creating). */
int64_t lcfm_store_writer_first_object(const lcfm_store_writer *w);

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
/* lcfm_store_shard (h5io.h): the balanced contiguous shard of objects each rank reads. */

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

/* Collective: the schema-2 per-object metadata of objects [first, first + count) into b->ra, dec,
 * magnitude, median_flux and path (allocated here, freed by lcfm_batch_free): NaN and "" where
 * unknown or in schema-1 stores. Not read by lcfm_store_read_objects or the cursor. */
void lcfm_store_read_metadata(lcfm_store *s, int64_t first, int64_t count, lcfm_object_batch *b);
/* The store's schema version (1 or 2). */
int lcfm_store_schema_version(const lcfm_store *s);

/* Reads the instrument table (every rank gets all rows); caller frees. */
lcfm_instrument *lcfm_store_read_instruments(lcfm_store *s, int64_t *count);

/* Allocates / frees batch buffers for `objects` objects and `points` points. */
void lcfm_batch_alloc(lcfm_object_batch *b, int64_t objects, int64_t points);
void lcfm_batch_free(lcfm_object_batch *b);

#endif
