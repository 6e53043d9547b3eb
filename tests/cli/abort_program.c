/* abort_program.c: rank 1 fails while the others wait in a barrier (used by test_abort.sh). */
#include <mpi.h>

#include "lcfm/error.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 1) LCFM_FATAL("rank 1 gives up on purpose");
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}
