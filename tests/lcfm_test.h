/* lcfm_test.h: the few checks every C test uses, and the set-up many share. A failed check prints
 * where and why, and the test exits non-zero on every rank, so ctest sees the failure. */
#ifndef LCFM_TEST_H
#define LCFM_TEST_H

#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"

static int lcfm_test_failures = 0;

#define EXPECT(cond, ...) \
  do { \
    if (!(cond)) { \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__); \
      fprintf(stderr, "\n"); \
      lcfm_test_failures++; \
    } \
  } while (0)

#define EXPECT_NEAR(a, b, tol, what) \
  EXPECT(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.17g vs %.17g (tolerance %g)", (what), \
         (double)(a), (double)(b), (double)(tol))

/* MPI, lcfm's error handling and log, as a test's main begins; returns this rank. */
static inline int lcfm_test_start(int *argc, char ***argv) {
  MPI_Init(argc, argv);
  lcfm_error_init();
  lcfm_log_init(MPI_COMM_WORLD);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/* Rank 0 makes a fresh directory from the template `dir` ("NAME_XXXXXX", `len` bytes); every
 * rank gets its name. */
static inline void lcfm_test_temp_dir(char *dir, int len) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) LCFM_CHECK(mkdtemp(dir), "mkdtemp");
  MPI_Bcast(dir, len, MPI_CHAR, 0, MPI_COMM_WORLD);
}

/* The whole one-dimensional dataset `name` of `file` as int64 (*n values); the caller frees it. */
static inline int64_t *lcfm_test_read_int64s(hid_t file, const char *name, int64_t *n) {
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, name, H5P_DEFAULT));
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t dims[1] = {0};
  LCFM_CHECK_H5(H5Sget_simple_extent_dims(space, dims, NULL));
  *n = (int64_t)dims[0];
  int64_t *data = lcfm_malloc((size_t)(*n ? *n : 1) * sizeof *data);
  if (*n) LCFM_CHECK_H5(H5Dread(dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  H5Sclose(space);
  H5Dclose(dset);
  return data;
}

/* `sized` (its sizes, block_stars and seed; the rest left unset) with the simulated model the
 * tests share: alpha 1, lambda 0.2, instrument scale 0.05, noise sigma 0.03, values clipped to
 * [-1, 1], 10 stars a field. */
static inline lcfm_sim_config lcfm_test_sim_config(lcfm_sim_config sized) {
  sized.alpha = 1.0, sized.lambda = 0.2;
  sized.instrument_scale = 0.05, sized.noise_sigma = 0.03;
  sized.clip_min = -1, sized.clip_max = 1;
  sized.stars_per_field = 10;
  return sized;
}

/* Returns the process exit code: 0 only if no rank saw a failure. */
static inline int lcfm_test_finish(const char *name) {
  int total = 0, rank = 0;
  MPI_Allreduce(&lcfm_test_failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) printf("%s: %s (%d failed checks)\n", name, total ? "FAILED" : "passed", total);
  MPI_Finalize();
  return total ? 1 : 0;
}

#endif
