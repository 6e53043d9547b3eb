/* main.c: `lcfm VERB ...`: MPI start-up, verb dispatch, exit codes. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lcfm/build_info.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/runtime.h"

static const lcfm_verb verbs[] = {
    {"simulate", "simulate stars x instruments into a light-curve store (FFTW)",
     "lcfm simulate [-o section.key=value ...] JOB.ini\n"
     "  Writes [simulate] output, a light-curve store with /truth, from the [simulate] keys.\n",
     lcfm_verb_simulate},
    {"ingest", "read TESS, Kepler/K2 and MACHO files into a light-curve store",
     "lcfm ingest [-o section.key=value ...] JOB.ini\n"
     "  Reads the files named by [ingest] inputs (directories, globs, files, @manifests) and writes\n"
     "  [ingest] output. Unreadable or bad objects are skipped and listed in /rejects.\n",
     lcfm_verb_ingest},
    {"train", "train the causal dual-encoder model or its baseline (data parallel)",
     "lcfm train [-o section.key=value ...] JOB.ini\n"
     "  Trains on [train] store, writes [train] checkpoint (and NAME.best.h5); resumes from it.\n"
     "  Exit 75 after a checkpoint on SIGTERM/SIGUSR1 (requeue), 1 on a non-finite loss.\n",
     lcfm_verb_train},
    {"embed", "write every object's latents through a trained checkpoint",
     "lcfm embed [-o section.key=value ...] JOB.ini\n"
     "  Embeds [embed] store with [embed] checkpoint (the [model] keys must match it) into\n"
     "  [embed] output: /objects columns and /z_star, /z_instr (causal) or /z (baseline).\n",
     lcfm_verb_embed},
    {"probe", "measure what the latents know: few-shot MLP, linear probes, PCA maps",
     "lcfm probe [-o section.key=value ...] JOB.ini\n"
     "  Reads [probe] store, embeddings (and baseline_embeddings), writes [probe] output and\n"
     "  prints the R^2 table of the MLP probe.\n",
     lcfm_verb_probe},
    {"run", "run a job's stages in order: simulate, train, embed, probe, plots (done ones skipped)",
     "lcfm run [--dry-run] [-o section.key=value ...] JOB.ini\n"
     "  Runs the stages of [run] stages in one MPI job, wiring each one's inputs from the stage\n"
     "  before; a stage whose output exists and was made by the same job is skipped, an unfinished\n"
     "  checkpoint is continued. Ends with the outputs, the probe table and the PNG paths.\n"
     "  --dry-run: say what would run and why, run nothing. Exit 75 after a signal (requeue).\n",
     lcfm_verb_run},
    {"sweep", "grids of jobs over [sweep] keys: list, run one point, collect the table",
     "lcfm sweep (--list | --task I | --collect) [-o section.key=value ...] JOB.ini\n"
     "  The [sweep] lines (section.key = v1 v2 ...) span a grid (their product).\n"
     "  --list     every point with its values and status (every point is checked: exit 2 if one\n"
     "             is not a valid job)\n"
     "  --task I   runs point I like lcfm run in [sweep] directory/point-IIII (safe to run again)\n"
     "  --collect  writes the table of every point (values, status, wall time, probe R^2) and\n"
     "             lists the points not done\n",
     lcfm_verb_sweep},
    {"info", "summarise a light-curve store",
     "lcfm info STORE.h5\n"
     "  Prints objects, points, sources, fields, instruments, rejects, truth and provenance.\n",
     lcfm_verb_info},
    {"keys", "list every job-file key with its default (Markdown)",
     "lcfm keys\n  Prints the job-file key table: section, key, type, default, range, meaning.\n",
     lcfm_verb_keys},
};
static const int verb_count = (int)(sizeof verbs / sizeof verbs[0]);

/* The long options of the verbs that have their own (cli.h, lcfm_cli_parse). */
static const char *verb_flags(const char *verb) {
  if (!strcmp(verb, "run")) return "--dry-run";
  if (!strcmp(verb, "sweep")) return "--list --task= --collect";
  return NULL;
}

static void print_usage(FILE *out) {
  fprintf(out,
          "lcfm %s (%s): light-curve foundation models at survey scale\n\n"
          "usage: lcfm VERB [options] JOB.ini\n\nverbs:\n",
          LCFM_VERSION, LCFM_GIT_REVISION);
  for (int i = 0; i < verb_count; i++)
    fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
  fprintf(out, "\noptions:\n  -o section.key=value  override a job key (repeatable)\n"
               "  -h, --help            help for a verb: lcfm VERB --help\n"
               "exit codes: 0 success, 1 runtime failure, 2 bad usage or job file\n");
}

static int dispatch(int argc, char **argv, int rank) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    if (rank == 0) print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? LCFM_EXIT_USAGE : LCFM_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    if (rank == 0) printf("lcfm %s (%s)\n", LCFM_VERSION, LCFM_GIT_REVISION);
    return LCFM_EXIT_OK;
  }
  for (int i = 0; i < verb_count; i++) {
    if (strcmp(argv[1], verbs[i].name)) continue;
    lcfm_cli_options options;
    if (lcfm_cli_parse(&options, argc, argv, 2, verb_flags(verbs[i].name)) != LCFM_EXIT_OK)
      return LCFM_EXIT_USAGE;
    if (options.help) {
      if (rank == 0) printf("usage: %s", verbs[i].usage);
      return LCFM_EXIT_OK;
    }
    return verbs[i].run(&options);
  }
  if (rank == 0) {
    fprintf(stderr, "lcfm: unknown verb '%s'\n\n", argv[1]);
    print_usage(stderr);
  }
  return LCFM_EXIT_USAGE;
}

int main(int argc, char **argv) {
  lcfm_runtime_defaults();
  MPI_Init(&argc, &argv);
  lcfm_error_init();
  lcfm_log_init(MPI_COMM_WORLD);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int code = lcfm_runtime_check_ranks(MPI_COMM_WORLD);
  if (code == LCFM_EXIT_OK) code = dispatch(argc, argv, rank);
  code = lcfm_log_finish(code);
  if (rank == 0) lcfm_runtime_report_exit(code); /* before MPI_Finalize: see runtime.h */
  MPI_Finalize();
  return code;
}
