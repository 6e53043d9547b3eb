/* log.c: rank-0 event lines, progress lines or bars, and the final status line. */
#include "lcfm/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double log_start;
static int log_rank;
static MPI_Comm log_comm = MPI_COMM_NULL;

double lcfm_wtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lcfm_log_init(MPI_Comm comm) {
  MPI_Comm_rank(comm, &log_rank);
  log_comm = comm;
  log_start = lcfm_wtime();
  /* Broadcast rank 0's start so every rank measures from the same instant. */
  MPI_Bcast(&log_start, 1, MPI_DOUBLE, 0, comm);
}

double lcfm_elapsed(void) { return lcfm_wtime() - log_start; }
int lcfm_log_rank(void) { return log_rank; }

static const char stdout_lost[] =
    "cannot write to standard output: %s (a closed pipe, e.g. `| head`, or a full disk)";

/* Flushes stdout; 0, or the errno of a failed write (EPIPE: the reader has gone; ENOSPC: the
 * log's disk is full). SIGPIPE is ignored (runtime.c), so a closed pipe shows up here. */
static int flush_stdout(void) {
  errno = 0;
  if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
  return errno ? errno : EIO;
}

/* Rank 0 cannot report any more: every rank stops (MPI_Abort, exit 1) rather than run on unheard. */
static void require_stdout(void) {
  int err = flush_stdout();
  if (err) LCFM_FATAL(stdout_lost, strerror(err));
}

void lcfm_log(const char *fmt, ...) {
  if (log_rank != 0) return;
  va_list args;
  va_start(args, fmt);
  printf("[%10.3fs] ", lcfm_elapsed());
  vprintf(fmt, args);
  printf("\n");
  va_end(args);
  require_stdout();
}

int lcfm_log_finish(int code) {
  int err = log_rank == 0 ? flush_stdout() : 0;
  if (log_comm != MPI_COMM_NULL) LCFM_CHECK_MPI(MPI_Bcast(&err, 1, MPI_INT, 0, log_comm));
  if (!err) return code;
  char reason[512];
  snprintf(reason, sizeof reason, stdout_lost, strerror(err));
  lcfm_report_failure(log_rank == 0, "lcfm: %s", reason);
  return code == LCFM_EXIT_OK ? LCFM_EXIT_RUNTIME : code;
}

void lcfm_warn(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "[%d] warning: ", log_rank);
  vfprintf(stderr, fmt, args);
  fprintf(stderr, "\n");
  va_end(args);
}

void lcfm_log_success(const char *verb) {
  int64_t mine = lcfm_peak_rss_bytes(), largest = mine;
  if (log_comm != MPI_COMM_NULL) MPI_Reduce(&mine, &largest, 1, MPI_INT64_T, MPI_MAX, 0, log_comm);
  lcfm_log("SUCCESS %s in %.3f s (peak memory per rank: %.1f MiB at most)", verb, lcfm_elapsed(),
           (double)largest / (1024.0 * 1024.0));
}

int64_t lcfm_peak_rss_bytes(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (int64_t)usage.ru_maxrss * 1024; /* Linux reports KiB */
}

/* A live bar only on a real terminal. Open MPI hands ranks a pseudo-terminal even when the
 * job's output goes to a file, so under mpirun or Slurm lines are the default;
 * LCFM_PROGRESS=bar or LCFM_PROGRESS=lines decides explicitly. */
static int live_bar_wanted(void) {
  const char *choice = getenv("LCFM_PROGRESS");
  if (choice && !strcmp(choice, "bar")) return 1;
  if (choice && !strcmp(choice, "lines")) return 0;
  if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("SLURM_JOB_ID")) return 0;
  return isatty(STDOUT_FILENO);
}

void lcfm_progress_start(lcfm_progress *p, const char *what, int64_t total) {
  memset(p, 0, sizeof *p);
  snprintf(p->what, sizeof p->what, "%s", what);
  p->total = total;
  p->start = p->last_print = lcfm_wtime();
  p->is_tty = log_rank == 0 && live_bar_wanted();
}

static void format_eta(char *buf, size_t len, double seconds) {
  if (seconds < 0 || seconds > 1e7) snprintf(buf, len, "?");
  else if (seconds < 120) snprintf(buf, len, "%.0fs", seconds);
  else if (seconds < 7200) snprintf(buf, len, "%.0fm", seconds / 60);
  else snprintf(buf, len, "%.1fh", seconds / 3600);
}

void lcfm_progress_update(lcfm_progress *p, int64_t done) {
  if (log_rank != 0) return;
  double now = lcfm_wtime();
  double interval = p->is_tty ? 0.2 : 10.0;
  if (now - p->last_print < interval) return;
  p->last_print = now;
  double rate = (double)done / (now - p->start);
  double percent = p->total > 0 ? 100.0 * (double)done / (double)p->total : 0.0;
  char eta[32];
  format_eta(eta, sizeof eta, rate > 0 ? (double)(p->total - done) / rate : -1);
  if (p->is_tty) {
    char bar[31];
    int filled = (int)(percent * 0.3);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    printf("\r%s [%s] %5.1f%% %.3g/s ETA %s   ", p->what, bar, percent, rate, eta);
  } else {
    printf("[%10.3fs] %s: %lld/%lld (%.1f%%) %.3g/s ETA %s\n", lcfm_elapsed(), p->what,
           (long long)done, (long long)p->total, percent, rate, eta);
  }
  require_stdout();
}

void lcfm_progress_finish(lcfm_progress *p, int64_t done) {
  if (log_rank != 0) return;
  double seconds = lcfm_wtime() - p->start;
  if (p->is_tty && p->last_print > p->start) printf("\r%*s\r", 80, "");
  lcfm_log("%s: %lld done in %.3f s (%.4g/s)", p->what, (long long)done, seconds,
           seconds > 0 ? (double)done / seconds : 0.0);
}
