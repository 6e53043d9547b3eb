/* test_machine.c: the machine description (machine.h) names the OpenBLAS kernel that runs, the
 * OPENBLAS_CORETYPE that chose it, the thread count asked for and the CPU's vector ISAs, and flags
 * an OpenBLAS kernel below AVX2.
 *   test_machine KERNEL below|avx2   (run with OPENBLAS_CORETYPE=KERNEL in the environment) */
#include <mpi.h>
#include <string.h>
#include <strings.h>

#include "../lcfm_test.h"
#include "lcfm/log.h"
#include "lcfm/machine.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_log_init(MPI_COMM_WORLD);
  EXPECT(argc == 3, "usage: test_machine KERNEL below|avx2");
  if (argc != 3) return lcfm_test_finish("test_machine");
  const char *kernel = argv[1];
  int below = !strcmp(argv[2], "below");
  lcfm_machine m;
  lcfm_machine_probe(&m, 3);
  EXPECT(!strcasecmp(m.openblas_kernel, kernel), "kernel %s, OPENBLAS_CORETYPE %s",
         m.openblas_kernel, kernel);
  EXPECT(m.openblas_below_avx2 == below, "kernel %s below AVX2: %d", m.openblas_kernel,
         m.openblas_below_avx2);
  /* The warning covers OpenBLAS too: it runs the probes' LAPACK and what libxsmm has no kernel for. */
  EXPECT(!below || m.gemm_kernel_below_avx2, "a kernel below AVX2 is flagged");
  EXPECT(m.cpu_has_avx2 == (__builtin_cpu_supports("avx2") != 0), "cpu_has_avx2 %d",
         m.cpu_has_avx2);
  EXPECT((strstr(m.cpu_isas, "avx2") != NULL) == m.cpu_has_avx2, "ISAs \"%s\"", m.cpu_isas);
  char line[2048], want[128];
  lcfm_machine_describe(&m, line, sizeof line);
  printf("%s\n", line);
  snprintf(want, sizeof want, "(OPENBLAS_CORETYPE %s)", kernel);
  EXPECT(strstr(line, want) != NULL, "\"%s\" in \"%s\"", want, line);
  EXPECT(strstr(line, "threads 3 OpenMP") != NULL, "thread count in \"%s\"", line);
  EXPECT(!strncmp(line, "cpu ", 4) && strstr(line, "; isa ") && strstr(line, "; build uses "),
         "fields of \"%s\"", line);
  lcfm_log_machine(2); /* by eye in the test log: a warning when below */
  return lcfm_test_finish("test_machine");
}
