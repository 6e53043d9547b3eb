/* provenance.c: filling and writing the provenance record (see provenance.h). */
#include "lcfm/provenance.h"

#include <fftw3.h>
#include <fitsio.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lcfm/build_info.h"
#include "lcfm/error.h"
#include "lcfm/machine.h"

static void describe_libraries(char *buf, size_t len) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int mpi_len = 0;
  MPI_Get_library_version(mpi, &mpi_len);
  char *newline = strchr(mpi, '\n');
  if (newline) *newline = '\0';
  unsigned h5_major, h5_minor, h5_release;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
  float fits_version = 0;
  fits_get_version(&fits_version);
  snprintf(buf, len, "MPI: %s; HDF5 %u.%u.%u; %s; CFITSIO %.3f (runtime); built with %s", mpi,
           h5_major, h5_minor, h5_release, fftw_version, (double)fits_version,
           LCFM_LIBRARY_VERSIONS);
}

void lcfm_provenance_init(lcfm_provenance *p, MPI_Comm comm, const char *verb, const lcfm_job *job,
                          int argc, char **argv) {
  memset(p, 0, sizeof *p);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &p->ranks);
  snprintf(p->verb, sizeof p->verb, "%s", verb);
  if (rank == 0) {
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(p->created_utc, sizeof p->created_utc, "%Y-%m-%dT%H:%M:%SZ", &utc);
    gethostname(p->host, sizeof p->host - 1);
    size_t used = 0;
    for (int i = 0; i < argc && used < sizeof p->command - 1; i++)
      used += (size_t)snprintf(p->command + used, sizeof p->command - used, "%s%s", i ? " " : "",
                               argv[i]);
    describe_libraries(p->library_versions, sizeof p->library_versions);
    lcfm_machine machine;
    lcfm_machine_probe(&machine, 0); /* threads: OpenMP's default here; the job's are in its text */
    lcfm_machine_describe(&machine, p->machine, sizeof p->machine);
  }
  /* The fixed-size text fields travel as bytes so every rank writes identical attributes. */
  LCFM_CHECK_MPI(MPI_Bcast(p->created_utc, sizeof p->created_utc, MPI_CHAR, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(p->host, sizeof p->host, MPI_CHAR, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(p->command, sizeof p->command, MPI_CHAR, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(p->library_versions, sizeof p->library_versions, MPI_CHAR, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(p->machine, sizeof p->machine, MPI_CHAR, 0, comm));
  p->job_text = job ? lcfm_job_text(job) : "";
  p->job_path = job ? lcfm_job_path(job) : "";
  p->seed = job ? lcfm_job_seed(job) : 0;
}

void lcfm_h5_write_string_attribute(hid_t location, const char *name, const char *value) {
  hid_t type = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
  LCFM_CHECK_H5(H5Tset_size(type, strlen(value) + 1));
  LCFM_CHECK_H5(H5Tset_strpad(type, H5T_STR_NULLTERM));
  hid_t space = LCFM_CHECK_H5(H5Screate(H5S_SCALAR));
  hid_t attr = LCFM_CHECK_H5(H5Acreate2(location, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  LCFM_CHECK_H5(H5Awrite(attr, type, value));
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

static void write_scalar_attribute(hid_t location, const char *name, hid_t type,
                                   const void *value) {
  hid_t space = LCFM_CHECK_H5(H5Screate(H5S_SCALAR));
  hid_t attr = LCFM_CHECK_H5(H5Acreate2(location, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  LCFM_CHECK_H5(H5Awrite(attr, type, value));
  H5Aclose(attr);
  H5Sclose(space);
}

void lcfm_h5_write_int64_attribute(hid_t location, const char *name, int64_t value) {
  write_scalar_attribute(location, name, H5T_NATIVE_INT64, &value);
}

void lcfm_h5_write_double_attribute(hid_t location, const char *name, double value) {
  write_scalar_attribute(location, name, H5T_NATIVE_DOUBLE, &value);
}

void lcfm_provenance_write(hid_t location, const lcfm_provenance *p) {
  /* name, value: the build's, then the run's */
  const char *const texts[][2] = {{"lcfm_version", LCFM_VERSION},
                                  {"git_revision", LCFM_GIT_REVISION},
                                  {"build_type", LCFM_BUILD_TYPE},
                                  {"build_flags", LCFM_BUILD_FLAGS},
                                  {"compiler", LCFM_C_COMPILER},
                                  {"library_versions", p->library_versions},
                                  {"machine", p->machine},
                                  {"verb", p->verb},
                                  {"job", p->job_text},
                                  {"job_path", p->job_path},
                                  {"created_utc", p->created_utc},
                                  {"host", p->host},
                                  {"command", p->command}};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
    lcfm_h5_write_string_attribute(location, texts[i][0], texts[i][1]);
  lcfm_h5_write_int64_attribute(location, "seed", (int64_t)p->seed);
  lcfm_h5_write_int64_attribute(location, "ranks", p->ranks);
}
