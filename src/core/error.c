/* error.c: reporting a failure once and aborting every rank. */
#include "lcfm/error.h"

#include <fitsio.h>
#include <hdf5.h>
#include <mpi.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int world_rank(void) {
  int initialized = 0, finalized = 0, rank = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/* ---- files removed on failure ---- */

enum { MAX_REMOVALS = 32, REMOVAL_PATH_MAX = 4096 };
/* Static storage: the failure path allocates nothing. */
static char removals[MAX_REMOVALS][REMOVAL_PATH_MAX];

void lcfm_remove_on_failure(const char *path) {
  for (int i = 0; i < MAX_REMOVALS; i++)
    if (!strcmp(removals[i], path)) return;
  for (int i = 0; i < MAX_REMOVALS; i++)
    if (!removals[i][0]) {
      snprintf(removals[i], REMOVAL_PATH_MAX, "%s", path);
      return;
    }
}

void lcfm_keep_on_failure(const char *path) {
  for (int i = 0; i < MAX_REMOVALS; i++)
    if (!strcmp(removals[i], path)) removals[i][0] = '\0';
}

static void remove_registered(void) {
  for (int i = 0; i < MAX_REMOVALS; i++)
    if (removals[i][0]) {
      unlink(removals[i]); /* files only: never a directory that happens to bear the name */
      removals[i][0] = '\0';
    }
}

static LCFM_NORETURN void abort_all(int code) {
  int initialized = 0, finalized = 0;
  fflush(stdout);
  fflush(stderr);
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  exit(code);
}

void lcfm_fatal(const char *file, int line, const char *fmt, ...) {
  char message[2048];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  int rank = world_rank();
  fprintf(stderr, "[%d] %s:%d: %s\n[%d] FAILED\n", rank, file, line, message, rank);
  remove_registered();
  abort_all(LCFM_EXIT_RUNTIME);
}

int lcfm_report_failure(int reporting, const char *fmt, ...) {
  if (!reporting) return LCFM_EXIT_RUNTIME;
  char message[16384];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  fprintf(stderr, "%s\nFAILED\n", message); /* one call, so other ranks' lines do not cut in */
  return LCFM_EXIT_RUNTIME;
}

void lcfm_fail_agreed(MPI_Comm comm) {
  remove_registered();
  fflush(stderr);
  MPI_Barrier(comm); /* every rank's removals and messages are done before the abort */
  abort_all(LCFM_EXIT_RUNTIME);
}

void lcfm_check_mpi_(int code, const char *file, int line, const char *expr) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  lcfm_fatal(file, line, "MPI error in %s: %s", expr, text);
}

static herr_t keep_innermost(unsigned n, const H5E_error2_t *err, void *data) {
  (void)n;
  char *buf = data;
  /* The walk goes from the innermost frame outwards; keep the first description. */
  if (buf[0] == '\0' && err->desc) {
    snprintf(buf, 512, "%s (in %s)", err->desc, err->func_name);
    for (char *c = buf; *c;
         c++) /* one line: some drivers' messages hold a timestamp with its newline */
      if (*c == '\n') *c = ' ';
  }
  return 0;
}

void lcfm_h5_last_error(char *buf, size_t len) {
  char innermost[512] = "";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, innermost);
  snprintf(buf, len, "%s", innermost);
}

void lcfm_h5_failure_reason(char *buf, size_t len, int saved_errno) {
  lcfm_h5_last_error(buf, len);
  if (buf[0]) return;
  if (saved_errno) snprintf(buf, len, "%s", strerror(saved_errno));
  else snprintf(buf, len, "HDF5 gave no reason (not an HDF5 file, or the library refused it)");
}

int64_t lcfm_check_h5_(int64_t value, const char *file, int line, const char *expr) {
  if (value >= 0) return value;
  char reason[512];
  lcfm_h5_last_error(reason, sizeof reason);
  lcfm_fatal(file, line, "HDF5 error in %s: %s", expr, reason[0] ? reason : "no detail");
}

void lcfm_check_fits_(int status, const char *file, int line, const char *what) {
  if (status == 0) return;
  char text[FLEN_STATUS];
  fits_get_errstatus(status, text);
  lcfm_fatal(file, line, "CFITSIO error %d on %s: %s", status, what, text);
}

void lcfm_check_info_(int info, const char *file, int line, const char *routine) {
  if (info == 0) return;
  if (info < 0) lcfm_fatal(file, line, "%s: argument %d had an illegal value", routine, -info);
  lcfm_fatal(file, line, "%s failed with info = %d", routine, info);
}

void *lcfm_malloc_(size_t bytes, const char *file, int line) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) lcfm_fatal(file, line, "out of memory allocating %zu bytes", bytes);
  return p;
}

void *lcfm_calloc_(size_t count, size_t size, const char *file, int line) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) lcfm_fatal(file, line, "out of memory allocating %zu x %zu bytes", count, size);
  return p;
}

void *lcfm_realloc_(void *p, size_t bytes, const char *file, int line) {
  void *grown = realloc(p, bytes ? bytes : 1);
  if (!grown) lcfm_fatal(file, line, "out of memory reallocating %zu bytes", bytes);
  return grown;
}

void lcfm_error_init(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
