/* cli.h: the `lcfm` command: verb table and the option parsing every verb shares.
 *
 * lcfm VERB [options] [JOB.ini | STORE]
 *   -o section.key=value   override a job key (repeatable)
 *   -h, --help             describe the verb
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or job file (error.h).
 */
#ifndef LCFM_CLI_H
#define LCFM_CLI_H

#include <mpi.h>

#define LCFM_MAX_OVERRIDES 256

typedef struct {
  const char *positional; /* the job file or store */
  char *overrides[LCFM_MAX_OVERRIDES];
  int override_count;
  int help;
  int argc; /* the full command line, for provenance */
  char **argv;
} lcfm_cli_options;

typedef struct {
  const char *name;
  const char *summary;
  const char *usage; /* printed by --help */
  int (*run)(const lcfm_cli_options *options);
} lcfm_verb;

/* Parses the options after the verb name; returns LCFM_EXIT_OK or LCFM_EXIT_USAGE (printed). */
int lcfm_cli_parse(lcfm_cli_options *options, int argc, char **argv, int first);

int lcfm_verb_simulate(const lcfm_cli_options *options);
int lcfm_verb_ingest(const lcfm_cli_options *options);
int lcfm_verb_train(const lcfm_cli_options *options);
int lcfm_verb_embed(const lcfm_cli_options *options);
int lcfm_verb_probe(const lcfm_cli_options *options);
int lcfm_verb_info(const lcfm_cli_options *options);
int lcfm_verb_keys(const lcfm_cli_options *options);

/* Collective: 1 on every rank if rank 0's `status` is nonzero (used to agree on leaving). */
int lcfm_cli_any_failed(MPI_Comm comm, int status);

#endif
