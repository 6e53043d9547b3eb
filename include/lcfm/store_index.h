/* store_index.h: the store's /index (lookups by source, instrument and field without a scan) and
 * a reader that fetches single objects and windows of their points on demand.
 *
 * Layout (N objects, S distinct sources, I instruments, F distinct fields; all int64):
 *   /index/by_source        [N]    object rows sorted by (source, row)
 *          source_key       [S]    the distinct sources in increasing order
 *          source_start     [S+1]  group g is by_source[source_start[g] .. source_start[g+1])
 *          by_instrument    [N]    object rows sorted by (instrument, row)
 *          instrument_start [I+1]  instrument m is by_instrument[instrument_start[m] .. [m+1]);
 *                                  I is the row count of /instruments (empty groups allowed)
 *          by_field         [N]    object rows sorted by (field, row)
 *          field_key        [F], field_start [F+1]   as for sources
 * Written at the end of `lcfm simulate` (the orders are known: objects are star-major and the
 * instrument of curve p of star s is (r_s + p) mod M, so nothing is sorted) and of `lcfm ingest`
 * (a parallel sample sort of the object columns: memory O(N/P) per rank, nothing gathered),
 * and rebuilt over all objects by every append (store.h: its datasets are resized in place).
 * Stores written before the index existed (or by producers that do not write one) have no
 * /index: the reader then builds the same arrays in memory when the store holds at most
 * LCFM_INDEX_BUILD_LIMIT objects, and refuses larger ones naming the file and what to do.
 *
 * The reader is per process and not collective: each rank opens the file on its own (HDF5's
 * POSIX driver, read-only) and makes small independent reads, so ranks can read different
 * objects. In memory it keeps instrument_start [I+1] and every 256th source key (S/256 keys)
 * to find a source's group with one read of at most 256 keys; everything else is read when asked.
 * HDF5 is not thread-safe here: call the reader from one thread. */
#ifndef LCFM_STORE_INDEX_H
#define LCFM_STORE_INDEX_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "lcfm/fields.h"
#include "lcfm/sim.h"
#include "lcfm/store.h"

#define LCFM_INDEX_BUILD_LIMIT (1 << 20) /* objects: larger stores need /index on disk */

/* ---- writing (collective, before lcfm_store_close) ---- */

/* Writes /index from /objects/source, instrument and field: sources and fields are sorted in
 * parallel (a sample sort; memory per rank O(N/P) plus O(P), and P (P - 1) samples on rank 0 for
 * a moment), by_instrument is placed from per-instrument counts, and each rank writes its slice.
 * The same bytes at any rank count. Every rank passes the store's instrument count (the stored
 * table's count wins when larger: appends may add instruments). */
void lcfm_store_index_write(lcfm_store_writer *w, MPI_Comm comm, int64_t instruments);
/* The simulator's index, from its configuration alone (no sort, no gather). */
void lcfm_store_index_write_simulated(lcfm_store_writer *w, MPI_Comm comm,
                                      const lcfm_sim_config *c);

/* ---- reading (per process) ---- */
typedef struct lcfm_store_index lcfm_store_index;

typedef struct {
  int64_t row, source, offset;
  int32_t instrument, length;
} lcfm_index_object;

/* Opens PATH's index (or builds it in memory, see above). Returns NULL with a reason naming the
 * file. The store should have been checked first (lcfm_store_open). */
lcfm_store_index *lcfm_store_index_open(const char *path, char *why, size_t why_len);
void lcfm_store_index_close(lcfm_store_index *x);

int64_t lcfm_store_index_objects(const lcfm_store_index *x);
int64_t lcfm_store_index_sources(const lcfm_store_index *x);
int64_t lcfm_store_index_instruments(const lcfm_store_index *x);
/* 1 when the index was read from /index, 0 when it was built in memory. */
int lcfm_store_index_on_disk(const lcfm_store_index *x);

/* Object `row`'s source alone (one read). */
int64_t lcfm_store_index_source(lcfm_store_index *x, int64_t row);
/* Object `row`'s columns. */
void lcfm_store_index_object(lcfm_store_index *x, int64_t row, lcfm_index_object *o);
/* Several objects at once (one read per column). */
void lcfm_store_index_objects_at(lcfm_store_index *x, const int64_t *rows, int64_t count,
                                 lcfm_index_object *out);
/* The by_source positions [first, end) of `source`; returns 0 when the store has no such source. */
int lcfm_store_index_source_group(lcfm_store_index *x, int64_t source, int64_t *first,
                                  int64_t *end);
/* The by_instrument positions [first, end) of instrument m (empty when out of range). */
void lcfm_store_index_instrument_group(const lcfm_store_index *x, int64_t m, int64_t *first,
                                       int64_t *end);
/* Entries [first, first + count) of by_source / by_instrument. */
void lcfm_store_index_read_by_source(lcfm_store_index *x, int64_t first, int64_t count,
                                     int64_t *rows);
void lcfm_store_index_read_by_instrument(lcfm_store_index *x, int64_t first, int64_t count,
                                         int64_t *rows);
/* Points [first, first + count) of /points/time and /points/value. */
void lcfm_store_index_read_points(lcfm_store_index *x, int64_t first, int64_t count, double *time,
                                  float *value);
/* Points [first, first + count) of /points/error (Astromer 2's loss weights). */
void lcfm_store_index_read_errors(lcfm_store_index *x, int64_t first, int64_t count, float *error);
/* The rows of the objects whose /objects/field is selected by f, in increasing order (*count of
 * them; caller frees): the by_field groups of the selected keys when the store has /index, else
 * /objects/field read in blocks. Per process, any open store file (path names it in messages). */
int64_t *lcfm_store_select_fields(hid_t file, const char *path, const lcfm_fields *f,
                                  int64_t *count);
/* The same through this reader (its bytes counted). */
int64_t *lcfm_store_index_select_fields(lcfm_store_index *x, const lcfm_fields *f, int64_t *count);
/* Bytes this reader has read from the file so far (index, columns and points). */
int64_t lcfm_store_index_bytes_read(const lcfm_store_index *x);

#endif
