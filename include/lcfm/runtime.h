/* runtime.h: process-wide defaults that must be set before MPI_Init.
 *
 * lcfm_runtime_defaults() only fills environment variables the user has not set:
 *   OMPI_MCA_io=romio321   Open MPI's ROMIO for MPI-IO. The store writes one contiguous slab
 *                          per rank and column; with 2 ranks on the development machine ROMIO
 *                          wrote it about 1.8x faster than OMPIO (tools/bench_store.sh). Sites
 *                          that prefer OMPIO (e.g. tuned for Lustre) set OMPI_MCA_io=ompio.
 */
#ifndef LCFM_RUNTIME_H
#define LCFM_RUNTIME_H

void lcfm_runtime_defaults(void);

#endif
