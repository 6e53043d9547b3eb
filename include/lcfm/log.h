/* log.h: what rank 0 tells the user while a job runs.
 *
 * One line per event, prefixed by the elapsed wall time since lcfm_log_init:
 *   [    1.234s] simulate: 40000 light curves, 2 ranks
 * Long loops report progress as lines (count, percent, rate, ETA) at most every few seconds
 * when stdout is not a terminal (Slurm logs), or as a live bar redrawn in place when it is
 * (never under mpirun or Slurm; LCFM_PROGRESS=bar|lines overrides).
 * Every verb ends with one "SUCCESS ..." line; failures print FAILED (see error.h).
 * Warnings may come from any rank and carry the rank number.
 * A failed write to stdout (a reader that has gone: `lcfm ... | head`, EPIPE with SIGPIPE ignored;
 * or a full disk under a redirected log) ends the run on every rank with exit code 1 and a
 * message on stderr, at the next log or progress line, or at the end (lcfm_log_finish).
 */
#ifndef LCFM_LOG_H
#define LCFM_LOG_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/error.h"

void lcfm_log_init(MPI_Comm comm);
double lcfm_elapsed(void); /* seconds since lcfm_log_init */
double lcfm_wtime(void);   /* monotonic wall clock in seconds */
int lcfm_log_rank(void);   /* rank in the communicator given to lcfm_log_init */
void lcfm_log(const char *fmt, ...) LCFM_PRINTF(1, 2);  /* rank 0 only */
void lcfm_warn(const char *fmt, ...) LCFM_PRINTF(1, 2); /* any rank, to stderr */
void lcfm_log_success(const char *verb); /* collective: the final line, with peak memory per rank */
/* Collective, at the end of main: flushes rank 0's stdout and returns `code`, or
 * LCFM_EXIT_RUNTIME on every rank (after a message) when rank 0's output could not be written. */
int lcfm_log_finish(int code);

/* Peak resident memory of this process in bytes (getrusage). */
int64_t lcfm_peak_rss_bytes(void);

typedef struct {
  char what[64];
  int64_t total;
  double start, last_print;
  int is_tty;
} lcfm_progress;

void lcfm_progress_start(lcfm_progress *p, const char *what, int64_t total);
/* done: the global count so far (callers sum over ranks); prints only on rank 0. */
void lcfm_progress_update(lcfm_progress *p, int64_t done);
void lcfm_progress_finish(lcfm_progress *p, int64_t done);

#endif
