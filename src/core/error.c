/* error.c: reporting a failure once and aborting every rank. */
#include "lcfm/error.h"

#include <fitsio.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int world_rank(void) {
  int initialized = 0, finalized = 0, rank = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
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
  if (buf[0] == '\0' && err->desc) snprintf(buf, 512, "%s (in %s)", err->desc, err->func_name);
  return 0;
}

void lcfm_h5_last_error(char *buf, size_t len) {
  char innermost[512] = "";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, innermost);
  snprintf(buf, len, "%s", innermost);
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

void lcfm_error_init(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
