/* plots.c: the plots stage: tools/plot_paper.py on the probe and embedding stores, run by
 * rank 0 as a child process; the PNG paths it prints become the manifest plots.txt. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lcfm/build_info.h"
#include "lcfm/log.h"
#include "lcfm/outputs.h"
#include "pipeline_internal.h"

extern char **environ;

#ifndef LCFM_SOURCE_DIR
#define LCFM_SOURCE_DIR "."
#endif
#ifndef LCFM_INSTALLED_TOOLS
#define LCFM_INSTALLED_TOOLS "../share/lcfm"
#endif

/* The installed copy, LCFM_INSTALLED_TOOLS relative to the directory of the running binary
 * (PREFIX/bin/lcfm -> PREFIX/share/lcfm/plot_paper.py); 0 when there is none. */
static int installed_script(char *path, size_t len) {
  char binary[PIPELINE_PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", binary, sizeof binary - 1);
  if (n <= 0) return 0;
  binary[n] = '\0';
  char *slash = strrchr(binary, '/');
  if (!slash) return 0;
  *slash = '\0';
  int written = snprintf(path, len, "%s/" LCFM_INSTALLED_TOOLS "/plot_paper.py", binary);
  return written > 0 && (size_t)written < len && pipeline_file_exists(path);
}

/* $LCFM_TOOLS/plot_paper.py, else the installed copy beside the binary, else the source tree's
 * tools/ (known at build time: a binary run from its build tree). */
static void plot_script(char *path, size_t len) {
  const char *tools = getenv("LCFM_TOOLS");
  if (tools && tools[0]) snprintf(path, len, "%s/plot_paper.py", tools);
  else if (!installed_script(path, len))
    snprintf(path, len, "%s/plot_paper.py", LCFM_SOURCE_DIR "/tools");
}

static const char *python(void) {
  const char *chosen = getenv("LCFM_PYTHON");
  return chosen && chosen[0] ? chosen : "/usr/bin/python3";
}

/* Runs argv with its stdout on a pipe: PNG lines are kept, every line is echoed. Returns the
 * exit status (or -1 if it could not start). */
static int run_plotter(char *const *argv, char (*pngs)[PIPELINE_PATH_MAX], int *png_count,
                       int max_pngs) {
  int fds[2];
  if (pipe(fds)) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  /* Slurm's warning (SIGUSR1) and SIGTERM go to every process of the step: the plotter blocks
   * them, so it finishes its PNGs and lcfm acts on the signal after the stage. */
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigaddset(&blocked, SIGTERM);
  posix_spawnattr_setsigmask(&attributes, &blocked);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int spawned = posix_spawnp(&pid, argv[0], &actions, &attributes, argv, environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned) {
    close(fds[0]);
    return -1;
  }
  FILE *out = fdopen(fds[0], "r");
  char line[PIPELINE_PATH_MAX];
  while (out && fgets(line, sizeof line, out)) {
    line[strcspn(line, "\r\n")] = '\0';
    size_t n = strlen(line);
    if (n > 4 && !strcmp(line + n - 4, ".png") && *png_count < max_pngs)
      snprintf(pngs[(*png_count)++], PIPELINE_PATH_MAX, "%s", line);
    else lcfm_log("plots: %s", line);
  }
  if (out) fclose(out);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
  return WIFEXITED(status) ? WEXITSTATUS(status)
                           : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void write_manifest(const char *path, const lcfm_pipeline *p,
                           char (*pngs)[PIPELINE_PATH_MAX], int count) {
  size_t n = 512 + strlen(p->probe_output) + strlen(lcfm_job_path(p->job)) +
             (size_t)count * (PIPELINE_PATH_MAX + 1);
  char *text = lcfm_malloc(n);
  size_t used =
      (size_t)snprintf(text, n, "# PNGs of tools/plot_paper.py for %s (lcfm %s, %s; job %s)\n",
                       p->probe_output, LCFM_VERSION, LCFM_GIT_REVISION, lcfm_job_path(p->job));
  for (int i = 0; i < count && used < n; i++)
    used += (size_t)snprintf(text + used, n - used, "%s\n", pngs[i]);
  lcfm_output_publish_text(path, text);
  free(text);
}

/* Rank 0's part; returns the exit code. */
static int plots_on_rank0(const lcfm_pipeline *p, const pipeline_stage *s) {
  char script[PIPELINE_PATH_MAX];
  plot_script(script, sizeof script);
  if (!pipeline_file_exists(script)) {
    lcfm_log("plots: skipped: %s not found (set LCFM_TOOLS to the directory of lcfm's tools)",
             script);
    return LCFM_EXIT_OK;
  }
  if (pipeline_make_directories(p->plots_dir))
    return lcfm_report_failure(1, "lcfm run: plots: cannot create %s: %s", p->plots_dir,
                               strerror(errno));
  char *argv[] = {(char *)python(),
                  script,
                  "--probe",
                  (char *)p->probe_output,
                  "--embeddings",
                  (char *)p->embeddings,
                  "--store",
                  (char *)p->store,
                  "--out",
                  (char *)p->plots_dir,
                  NULL};
  enum { MAX_PNGS = 64 };
  char(*pngs)[PIPELINE_PATH_MAX] = lcfm_malloc(MAX_PNGS * sizeof *pngs);
  int count = 0;
  int status = run_plotter(argv, pngs, &count, MAX_PNGS);
  int code = LCFM_EXIT_OK;
  if (status != 0 || count == 0) {
    code = lcfm_report_failure(1, "lcfm run: plots: %s %s %s (%s)", argv[0], script,
                               status < 0 ? "could not be started"
                               : status   ? "failed"
                                          : "wrote no PNG",
                               status < 0 ? strerror(errno) : "see its message above");
  } else {
    write_manifest(s->output, p, pngs, count);
  }
  free(pngs);
  return code;
}

int pipeline_run_plots(MPI_Comm comm, const lcfm_pipeline *p, const pipeline_stage *s) {
  int rank, code = LCFM_EXIT_OK;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) code = plots_on_rank0(p, s);
  LCFM_CHECK_MPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
  return code;
}

void pipeline_print_plots(const char *manifest) {
  FILE *f = fopen(manifest, "r");
  if (!f) return;
  char line[PIPELINE_PATH_MAX];
  printf("plots:\n");
  while (fgets(line, sizeof line, f))
    if (line[0] != '#') printf("  %s", line);
  fclose(f);
  fflush(stdout);
}
