/* runtime.c: environment defaults applied before MPI_Init (see runtime.h). */
#include "lcfm/runtime.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "lcfm/error.h"

/* Open MPI's mpirun sets this for the processes it starts, before MPI_Init. */
static int started_by_mpirun = 0;

void lcfm_runtime_defaults(void) {
  setenv("OMPI_MCA_io", "romio321", 0); /* 0: keep the user's choice */
  /* A closed stdout becomes EPIPE, which the log layer turns into an abort of every rank with a
   * message (log.h), instead of one rank dying silently of SIGPIPE while the others wait. */
  signal(SIGPIPE, SIG_IGN);
  started_by_mpirun = getenv("OMPI_COMM_WORLD_SIZE") != NULL;
}

static long environment_count(const char *name) {
  const char *text = getenv(name);
  char *end = NULL;
  long value = text ? strtol(text, &end, 10) : 0;
  return text && end != text && *end == '\0' ? value : 0;
}

int lcfm_runtime_check_ranks(MPI_Comm comm) {
  int ranks, rank;
  MPI_Comm_size(comm, &ranks);
  MPI_Comm_rank(comm, &rank);
  const char *skip = getenv("LCFM_SKIP_RANK_CHECK");
  if (started_by_mpirun || (skip && skip[0] && skip[0] != '0')) return LCFM_EXIT_OK;
  long step_tasks = environment_count("SLURM_STEP_NUM_TASKS"),
       job_tasks = environment_count("SLURM_NTASKS");
  if (step_tasks > 0 && step_tasks != ranks)
    return lcfm_report_failure(
        1,
        "lcfm: Slurm started %ld tasks (SLURM_STEP_NUM_TASKS) but MPI sees %d rank%s%s: "
        "launch lcfm with srun --mpi=pmix (or the PMI your MPI was built for); see "
        "slurm/train.sbatch",
        step_tasks, ranks, ranks == 1 ? "" : "s",
        ranks == 1 ? " (the tasks were started as singletons, each running the whole job alone)"
                   : "");
  if (step_tasks == 0 && job_tasks > 1 && ranks == 1 && rank == 0 && getenv("SLURM_JOB_ID"))
    fprintf(
        stderr,
        "lcfm: warning: 1 MPI rank in a Slurm job of %ld tasks (SLURM_NTASKS): start lcfm with srun "
        "to use them all\n",
        job_tasks);
  return LCFM_EXIT_OK;
}

int lcfm_runtime_report_exit(int code) {
  const char *path = getenv("LCFM_EXIT_FILE");
  if (!path || !*path) return 0;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
    fprintf(stderr, "lcfm: warning: LCFM_EXIT_FILE is too long; exit code %d not recorded\n", code);
    return -1;
  }
  FILE *f = fopen(tmp, "w");
  int ok = f && fprintf(f, "%d\n", code) > 0;
  if (f && fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, "lcfm: warning: could not write exit code %d to LCFM_EXIT_FILE %s\n", code,
            path);
    remove(tmp);
    return -1;
  }
  return 0;
}
