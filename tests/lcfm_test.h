/* lcfm_test.h: the few checks every C test uses. A failed check prints where and why, and the
 * test exits non-zero on every rank (MPI_Abort), so ctest sees the failure. */
#ifndef LCFM_TEST_H
#define LCFM_TEST_H

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int lcfm_test_failures = 0;

#define EXPECT(cond, ...)                                                       \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                             \
      fprintf(stderr, "\n");                                                    \
      lcfm_test_failures++;                                                     \
    }                                                                           \
  } while (0)

#define EXPECT_NEAR(a, b, tol, what)                                                     \
  EXPECT(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.17g vs %.17g (tolerance %g)", \
         (what), (double)(a), (double)(b), (double)(tol))

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
