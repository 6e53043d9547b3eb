/* runtime.h: process-wide defaults that must be set before MPI_Init, and the start-up check
 * that MPI sees the ranks Slurm started.
 *
 * lcfm_runtime_defaults() only fills environment variables the user has not set:
 *   OMPI_MCA_io=romio321   Open MPI's ROMIO for MPI-IO. The store writes one contiguous slab
 *                          per rank and column; with 2 ranks on the development machine ROMIO
 *                          wrote it about 1.8x faster than OMPIO (tools/bench_store.sh). Sites
 *                          that prefer OMPIO (e.g. tuned for Lustre) set OMPI_MCA_io=ompio.
 * It also ignores SIGPIPE: a write to a closed stdout fails with EPIPE and ends the run on
 * every rank through the log layer (log.h).
 */
#ifndef LCFM_RUNTIME_H
#define LCFM_RUNTIME_H

#include <mpi.h>

void lcfm_runtime_defaults(void);

/* After MPI_Init: inside a Slurm step (SLURM_STEP_NUM_TASKS set) the MPI world must have that
 * many ranks; otherwise (typically `srun` without a working --mpi=pmix, so every task is a
 * singleton running the whole job) prints why and returns LCFM_EXIT_RUNTIME. Processes started
 * by mpirun, or with LCFM_SKIP_RANK_CHECK=1, are not checked. One rank in a batch step of a
 * job of several tasks only gets a warning (tools like `lcfm sweep --collect` run that way). */
int lcfm_runtime_check_ranks(MPI_Comm comm);

/* At the end of main, on rank 0, before MPI_Finalize: when LCFM_EXIT_FILE names a file, writes
 * the exit code there (one line, written to NAME.tmp and renamed). The Slurm scripts and
 * tools/lcfm-mpirun read it because the launcher's own code can differ from lcfm's: srun can end
 * with 0 when its tasks were never launched, and Open MPI's mpirun answers a SIGTERM with its own
 * exit code 1 and kills the ranks a second later, in MPI_Finalize, after lcfm saved its
 * checkpoint and chose 75 (hence written before MPI_Finalize). No file means lcfm did not finish
 * (failed launch, abort, kill). Returns 0, or -1 after a warning when the file cannot be written. */
int lcfm_runtime_report_exit(int code);

#endif
