/* verb_sweep.c: `lcfm sweep --list | --task I | --collect JOB.ini` (pipeline.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "lcfm/pipeline.h"

/* Which of the three modes was asked for: 0 list, 1 task, 2 collect; -1 (reported) if not one. */
static int sweep_mode(const lcfm_cli_options *options, long long *task, int rank) {
  const char *value = NULL;
  int list = lcfm_cli_flag(options, "--list", NULL),
      collect = lcfm_cli_flag(options, "--collect", NULL);
  int run = lcfm_cli_flag(options, "--task", &value);
  if (list + collect + run != 1) {
    if (rank == 0)
      fprintf(stderr,
              "lcfm sweep: give one of --list, --task I, --collect (usage: lcfm sweep --help)\n");
    return -1;
  }
  if (!run) return list ? 0 : 2;
  char *end = NULL;
  *task = value ? strtoll(value, &end, 10) : -1;
  if (!value || end == value || *end != '\0' || *task < 0) {
    if (rank == 0)
      fprintf(stderr, "lcfm sweep: --task %s: not a point number (0, 1, ...)\n",
              value ? value : "");
    return -1;
  }
  return 1;
}

int lcfm_verb_sweep(const lcfm_cli_options *options) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank;
  MPI_Comm_rank(comm, &rank);
  long long task = -1;
  int mode = sweep_mode(options, &task, rank);
  if (mode < 0) return LCFM_EXIT_USAGE;
  static const char *const sections[] = {"job", NULL};
  lcfm_job *job = lcfm_cli_load_job(options, "sweep", "lcfm sweep --list JOB.ini", sections);
  if (!job) return LCFM_EXIT_USAGE;
  /* Every point must be a job that can run before anything is written; a task (one of an array
   * job's G) checks only its own point, so that an array costs O(G), not O(G^2). */
  int code = (mode == 1 ? lcfm_sweep_check_size(job) : lcfm_sweep_check(comm, job))
                 ? LCFM_EXIT_USAGE
                 : LCFM_EXIT_OK;
  if (code == LCFM_EXIT_OK) {
    if (mode == 0) code = lcfm_sweep_list(comm, job);
    else if (mode == 1) code = lcfm_sweep_task(comm, job, task, options->argc, options->argv);
    else code = lcfm_sweep_collect(comm, job, options->argc, options->argv);
  }
  lcfm_job_free(job);
  return code;
}
