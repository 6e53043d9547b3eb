/* runtime.c: environment defaults applied before MPI_Init (see runtime.h). */
#include "lcfm/runtime.h"

#include <stdlib.h>

void lcfm_runtime_defaults(void) {
  setenv("OMPI_MCA_io", "romio321", 0); /* 0: keep the user's choice */
}
