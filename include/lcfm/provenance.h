/* provenance.h: where an output file came from.
 *
 * Every file lcfm writes carries, as attributes of its root group: lcfm_version, git_revision,
 * build_type, build_flags, compiler, library_versions (MPI, HDF5, FFTW, CFITSIO, inih,
 * OpenBLAS, OpenSSL, the GEMM library), job (the effective job text), job_path, seed, ranks, created_utc, host,
 * command (the command line), verb and machine (rank 0's CPU, vector ISAs, GEMM library and
 * kernel, threads and binding: lcfm_machine_describe, machine.h). Rank 0 fills the record and broadcasts it so every rank
 * writes the same attributes (HDF5 attribute writes are collective).
 */
#ifndef LCFM_PROVENANCE_H
#define LCFM_PROVENANCE_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "lcfm/job.h"

typedef struct {
  char verb[32];
  char created_utc[32];
  char host[128];
  char command[2048];
  char library_versions[1024];
  char machine[1536];
  const char *job_text; /* borrowed from the job; "" when there is none */
  const char *job_path;
  uint64_t seed;
  int ranks;
} lcfm_provenance;

/* Collective. `job` may be NULL (verbs without a job file). */
void lcfm_provenance_init(lcfm_provenance *p, MPI_Comm comm, const char *verb, const lcfm_job *job,
                          int argc, char **argv);
/* Collective on the file's communicator: writes the attributes on `location`. */
void lcfm_provenance_write(hid_t location, const lcfm_provenance *p);
/* Writes one string attribute (fixed length, null-terminated); collective. */
void lcfm_h5_write_string_attribute(hid_t location, const char *name, const char *value);
void lcfm_h5_write_int64_attribute(hid_t location, const char *name, int64_t value);
void lcfm_h5_write_double_attribute(hid_t location, const char *name, double value);

#endif
