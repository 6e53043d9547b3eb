/* options.c: parsing the options every verb shares (see cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lcfm/error.h"
#include "lcfm/job.h"

int lcfm_cli_parse(lcfm_cli_options *options, int argc, char **argv, int first) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  memset(options, 0, sizeof *options);
  options->argc = argc;
  options->argv = argv;
  for (int i = first; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      options->help = 1;
    } else if (!strcmp(arg, "-o")) {
      if (i + 1 >= argc || options->override_count == LCFM_MAX_OVERRIDES) {
        if (rank == 0) fprintf(stderr, "lcfm: -o needs section.key=value\n");
        return LCFM_EXIT_USAGE;
      }
      options->overrides[options->override_count++] = argv[++i];
    } else if (arg[0] == '-' && arg[1] != '\0') {
      if (rank == 0) fprintf(stderr, "lcfm %s: unknown option '%s' (try --help)\n", argv[first - 1], arg);
      return LCFM_EXIT_USAGE;
    } else if (options->positional) {
      if (rank == 0) fprintf(stderr, "lcfm %s: unexpected argument '%s'\n", argv[first - 1], arg);
      return LCFM_EXIT_USAGE;
    } else {
      options->positional = arg;
    }
  }
  return LCFM_EXIT_OK;
}

int lcfm_cli_any_failed(MPI_Comm comm, int status) {
  LCFM_CHECK_MPI(MPI_Bcast(&status, 1, MPI_INT, 0, comm));
  return status != 0;
}

int lcfm_verb_keys(const lcfm_cli_options *options) {
  (void)options;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) lcfm_job_print_keys();
  return LCFM_EXIT_OK;
}
