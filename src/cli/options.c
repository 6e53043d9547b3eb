/* options.c: parsing the options every verb shares (see cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lcfm/error.h"
#include "lcfm/job.h"

/* The entry of `flags` matching arg ("--task" or "--task=7" against "--task="): its length, or 0. */
static size_t known_flag(const char *flags, const char *arg, int *takes_value) {
  size_t name = strcspn(arg, "=");
  for (const char *f = flags; f && *f;) {
    f += strspn(f, " ");
    size_t n = strcspn(f, " ");
    int value = n > 0 && f[n - 1] == '=';
    if (n && (size_t)(n - (size_t)value) == name && !strncmp(f, arg, name)) {
      *takes_value = value;
      return name;
    }
    f += n;
  }
  return 0;
}

/* Records a verb's own long option; returns the index of the last argument used, or -1. */
static int take_flag(lcfm_cli_options *options, int argc, char **argv, int i, const char *flags,
                     int rank) {
  int takes_value = 0;
  size_t name = known_flag(flags, argv[i], &takes_value);
  const char *value = argv[i][name] == '=' ? argv[i] + name + 1 : NULL;
  if (!name || options->flag_count == LCFM_MAX_FLAGS || (!takes_value && value)) return -1;
  options->flags[options->flag_count] = argv[i];
  if (takes_value && !value) {
    if (i + 1 >= argc) {
      if (rank == 0) fprintf(stderr, "lcfm: %s needs a value\n", argv[i]);
      return -1;
    }
    value = argv[++i];
  }
  options->flag_values[options->flag_count++] = value;
  return i;
}

int lcfm_cli_flag(const lcfm_cli_options *options, const char *flag, const char **value) {
  for (int i = 0; i < options->flag_count; i++)
    if (!strncmp(options->flags[i], flag, strlen(flag)) &&
        (options->flags[i][strlen(flag)] == '\0' || options->flags[i][strlen(flag)] == '=')) {
      if (value) *value = options->flag_values[i];
      return 1;
    }
  return 0;
}

int lcfm_cli_parse(lcfm_cli_options *options, int argc, char **argv, int first, const char *flags) {
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
    } else if (!strncmp(arg, "--", 2) && known_flag(flags, arg, &(int){0})) {
      int last = take_flag(options, argc, argv, i, flags, rank);
      if (last < 0) {
        if (rank == 0)
          fprintf(stderr, "lcfm %s: bad option '%s' (try --help)\n", argv[first - 1], arg);
        return LCFM_EXIT_USAGE;
      }
      i = last;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      if (rank == 0)
        fprintf(stderr, "lcfm %s: unknown option '%s' (try --help)\n", argv[first - 1], arg);
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

lcfm_job *lcfm_cli_load_job(const lcfm_cli_options *options, const char *verb, const char *usage,
                            const char *const *sections) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (!options->positional) {
    if (rank == 0) fprintf(stderr, "lcfm %s: missing the job file (usage: %s)\n", verb, usage);
    return NULL;
  }
  return lcfm_job_load(comm, options->positional, options->override_count, options->overrides,
                       sections);
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
