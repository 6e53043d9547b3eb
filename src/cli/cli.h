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

#include "lcfm/job.h"
#include "lcfm/provenance.h"

#define LCFM_MAX_OVERRIDES 256

#define LCFM_MAX_FLAGS 8

typedef struct {
  const char *positional; /* the job file or store */
  char *overrides[LCFM_MAX_OVERRIDES];
  int override_count;
  int help;
  const char *flags[LCFM_MAX_FLAGS];       /* the verb's own long options given ("--task") */
  const char *flag_values[LCFM_MAX_FLAGS]; /* and their values (NULL for a switch) */
  int flag_count;
  int argc; /* the full command line, for provenance */
  char **argv;
} lcfm_cli_options;

typedef struct {
  const char *name;
  const char *summary;
  const char *usage; /* printed by --help */
  int (*run)(const lcfm_cli_options *options);
} lcfm_verb;

/* Parses the options after the verb name, accepting the verb's own long options listed in
 * `flags` (NULL: none; e.g. "--list --task= --collect", '=' when one takes a value); returns
 * LCFM_EXIT_OK or LCFM_EXIT_USAGE (printed). */
int lcfm_cli_parse(lcfm_cli_options *options, int argc, char **argv, int first, const char *flags);
/* Whether the flag was given; *value gets its value (NULL for a switch). */
int lcfm_cli_flag(const lcfm_cli_options *options, const char *flag, const char **value);

int lcfm_verb_simulate(const lcfm_cli_options *options);
int lcfm_verb_ingest(const lcfm_cli_options *options);
int lcfm_verb_train(const lcfm_cli_options *options);
int lcfm_verb_embed(const lcfm_cli_options *options);
int lcfm_verb_probe(const lcfm_cli_options *options);
int lcfm_verb_info(const lcfm_cli_options *options);
int lcfm_verb_keys(const lcfm_cli_options *options);
int lcfm_verb_run(const lcfm_cli_options *options);
int lcfm_verb_sweep(const lcfm_cli_options *options);

/* Collective: the job file named on the command line, read by rank 0 with the overrides applied
 * and shared (job.h, lcfm_job_load), limited to `sections` (NULL-terminated). NULL when no job
 * file was given ("lcfm VERB: missing the job file (usage: USAGE)") or it is bad (reported):
 * the verb then returns LCFM_EXIT_USAGE. */
lcfm_job *lcfm_cli_load_job(const lcfm_cli_options *options, const char *verb, const char *usage,
                            const char *const *sections);

/* Collective: 1 on every rank if rank 0's `status` is nonzero (used to agree on leaving). */
int lcfm_cli_any_failed(MPI_Comm comm, int status);

/* A verb that writes its outputs from one job (ingest, train, embed, probe). */
typedef struct {
  const char *name;            /* "train": the verb, the provenance's producer, and its outputs */
  const char *const *sections; /* the job sections it reads (NULL-terminated) */
  int (*problems)(const lcfm_job *job); /* how many problems the job has (rank 0 reports them) */
  int (*run)(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov); /* the exit code */
} lcfm_cli_job_verb;

/* Collective: loads the job (usage "lcfm NAME JOB.ini"); refuses it with LCFM_EXIT_USAGE when it
 * or its outputs have problems, before any output; claims the outputs and runs the verb with
 * this run's provenance. Returns the exit code. */
int lcfm_cli_run_job_verb(const lcfm_cli_options *options, const lcfm_cli_job_verb *verb);

#endif
