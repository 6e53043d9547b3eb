/* error.h: one way to fail.
 *
 * A runtime failure on any rank prints "[rank] file:line: message" and a FAILED line to stderr,
 * then aborts every rank of MPI_COMM_WORLD with exit code 1 (LCFM_EXIT_RUNTIME). Library calls
 * are wrapped by the LCFM_CHECK_* family: MPI return codes, HDF5 negative returns (with the
 * innermost message of the HDF5 error stack), FFTW plans that come back NULL, CFITSIO status
 * codes and LAPACK `info` values.
 *
 * Files a rank is writing (NAME.partial) and the output locks it holds (outputs.h) are
 * registered with lcfm_remove_on_failure: a failing rank removes them before it aborts, so a
 * failure leaves nothing half-written and no lock behind.
 *
 * I/O errors inside collective writes are agreed on (h5io.h): every rank learns of a failure on
 * any rank at the next check, the failing rank prints its reason, and all leave together through
 * lcfm_fail_agreed, so no rank waits forever in a collective call the others never make.
 *
 * A failure the ranks find together and leave by returning (a store that will not open, a
 * checkpoint that cannot be resumed) prints "lcfm VERB: reason" and FAILED once, through
 * lcfm_report_failure, and the verb returns LCFM_EXIT_RUNTIME.
 *
 * Bad usage and bad job files are not runtime failures: they are detected on rank 0 before any
 * work, reported once, and every rank leaves cleanly with LCFM_EXIT_USAGE (see job.h).
 */
#ifndef LCFM_ERROR_H
#define LCFM_ERROR_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

enum {
  LCFM_EXIT_OK = 0,
  LCFM_EXIT_RUNTIME = 1, /* a runtime failure: I/O, library error, non-finite loss */
  LCFM_EXIT_USAGE = 2,   /* bad command line or job file; nothing was written */
};

#if defined(__GNUC__)
#define LCFM_NORETURN __attribute__((noreturn))
#define LCFM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LCFM_NORETURN
#define LCFM_PRINTF(a, b)
#endif

/* Print "[rank] file:line: message" and abort all ranks with LCFM_EXIT_RUNTIME. */
LCFM_NORETURN void lcfm_fatal(const char *file, int line, const char *fmt, ...) LCFM_PRINTF(3, 4);
/* A runtime failure every rank has agreed on and leaves by returning rather than aborting: when
 * `reporting` (usually rank 0 only, so the reason is printed once) prints "message" and a FAILED
 * line to stderr. Returns LCFM_EXIT_RUNTIME, the code the caller returns. */
int lcfm_report_failure(int reporting, const char *fmt, ...) LCFM_PRINTF(2, 3);

void lcfm_check_mpi_(int code, const char *file, int line, const char *expr);
int64_t lcfm_check_h5_(int64_t value, const char *file, int line, const char *expr);
void lcfm_check_fits_(int status, const char *file, int line, const char *what);
void lcfm_check_info_(int info, const char *file, int line, const char *routine);

#define LCFM_FATAL(...) lcfm_fatal(__FILE__, __LINE__, __VA_ARGS__)
#define LCFM_CHECK(cond, ...) \
  do { \
    if (!(cond)) lcfm_fatal(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define LCFM_CHECK_MPI(call) lcfm_check_mpi_((call), __FILE__, __LINE__, #call)
/* Evaluates to the call's value (hid_t, herr_t, htri_t) when it is not negative. */
#define LCFM_CHECK_H5(call) lcfm_check_h5_((int64_t)(call), __FILE__, __LINE__, #call)
#define LCFM_CHECK_FFTW(plan, what) \
  do { \
    if (!(plan)) lcfm_fatal(__FILE__, __LINE__, "FFTW could not plan %s", (what)); \
  } while (0)
#define LCFM_CHECK_FITS(status, what) lcfm_check_fits_((status), __FILE__, __LINE__, (what))
#define LCFM_CHECK_INFO(info, routine) lcfm_check_info_((info), __FILE__, __LINE__, (routine))

/* Allocation that never returns NULL (aborts with the request size instead). lcfm_realloc keeps
 * `p` valid until it succeeds, so `p = lcfm_realloc(p, bytes)` is safe. */
void *lcfm_malloc_(size_t bytes, const char *file, int line);
void *lcfm_calloc_(size_t count, size_t size, const char *file, int line);
void *lcfm_realloc_(void *p, size_t bytes, const char *file, int line);
#define lcfm_malloc(bytes) lcfm_malloc_((bytes), __FILE__, __LINE__)
#define lcfm_calloc(count, size) lcfm_calloc_((count), (size), __FILE__, __LINE__)
#define lcfm_realloc(p, bytes) lcfm_realloc_((p), (bytes), __FILE__, __LINE__)

/* Copy the innermost message of the current HDF5 error stack into buf (empty if none). */
void lcfm_h5_last_error(char *buf, size_t len);
/* Why an HDF5 call failed, never empty: the innermost HDF5 message, else strerror(saved_errno)
 * when it is set, else a description saying HDF5 gave none. */
void lcfm_h5_failure_reason(char *buf, size_t len, int saved_errno);

/* Remove `path` if this rank fails (lcfm_fatal, lcfm_fail_agreed); at most 32 at a time. */
void lcfm_remove_on_failure(const char *path);
/* Forget `path` (published or released). */
void lcfm_keep_on_failure(const char *path);
/* Collective on comm, after every rank agreed that one failed (its reason printed): removes this
 * rank's registered files, waits for every rank to have done so, and aborts all ranks with
 * LCFM_EXIT_RUNTIME. */
LCFM_NORETURN void lcfm_fail_agreed(MPI_Comm comm);

/* Silence HDF5's automatic error printing; lcfm reports errors itself. Call once at start. */
void lcfm_error_init(void);

#endif
