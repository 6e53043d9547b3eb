/* outputs.c: output checks at job load, output locks, text publication (see outputs.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* realpath, gethostname, kill, flock */
#endif
#include "lcfm/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/log.h"

/* ---- which keys a verb writes and reads ---- */

typedef struct {
  const char *verb;
  const char *outputs[2]; /* "section.key"; NULL-terminated */
  const char *inputs[4];  /* keys whose value is one or more paths (whitespace-separated) */
  int optional;           /* an empty output means "none" ([run] record) */
} verb_files;

static const verb_files verb_table[] = {
    {"simulate", {"simulate.output", NULL}, {NULL}, 0},
    {"ingest", {"ingest.output", NULL}, {"ingest.inputs", NULL}, 0},
    {"train", {"train.checkpoint", NULL}, {"train.store", NULL}, 0},
    {"embed", {"embed.output", NULL}, {"embed.store", "embed.checkpoint", NULL}, 0},
    {"probe",
     {"probe.output", NULL},
     {"probe.store", "probe.embeddings", "probe.baseline_embeddings", NULL},
     0},
    {"run", {"run.record", NULL}, {NULL}, 1},
};

/* The table row of `verb`; "train-baseline" is "train". */
static const verb_files *files_of(const char *verb) {
  size_t n = strcspn(verb, "-");
  for (size_t i = 0; i < sizeof verb_table / sizeof *verb_table; i++)
    if (strlen(verb_table[i].verb) == n && !strncmp(verb_table[i].verb, verb, n))
      return &verb_table[i];
  return NULL;
}

/* "section.key" -> the job's value. */
static const char *value_of(const lcfm_job *job, const char *dotted, char *section, size_t len) {
  size_t n = strcspn(dotted, ".");
  snprintf(section, len, "%.*s", (int)n, dotted);
  return lcfm_job_value_text(job, lcfm_job_key_spec_dotted(dotted));
}

/* ---- path checks ---- */

/* The directory part of path ("." when there is none). */
static void directory_of(const char *path, char *dir, size_t len) {
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  snprintf(dir, len, "%s", dirname(copy));
}

/* Why `path` cannot be written as an output, or NULL. `made_directory`: a directory a later step
 * creates (a sweep point's), accepted when missing. */
static const char *output_path_problem(const char *path, const char *made_directory, char *why,
                                       size_t len) {
  struct stat st;
  if (!path[0]) return "is empty: give the path of the file to write";
  size_t n = strlen(path);
  if (path[n - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
    snprintf(why, len, "'%s' is a directory: give the path of the file to write", path);
    return why;
  }
  char dir[PATH_MAX];
  directory_of(path, dir, sizeof dir);
  if (stat(dir, &st) != 0) {
    if (errno == ENOENT && made_directory && !strcmp(dir, made_directory)) return NULL;
    snprintf(why, len, "the directory '%s' of '%s' %s", dir, path,
             errno == ENOENT ? "does not exist" : strerror(errno));
    return why;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(why, len, "'%s' (the directory of '%s') is not a directory", dir, path);
    return why;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    snprintf(why, len, "cannot write in the directory '%s': %s", dir, strerror(errno));
    return why;
  }
  return NULL;
}

/* The absolute, symlink-free name of path, also for a file that does not exist yet (its
 * directory resolved); the path itself when even the directory cannot be resolved. */
static void canonical_name(const char *path, char *out, size_t len) {
  char resolved[PATH_MAX], dir[PATH_MAX], base[PATH_MAX];
  if (realpath(path, resolved)) {
    snprintf(out, len, "%s", resolved);
    return;
  }
  directory_of(path, dir, sizeof dir);
  snprintf(base, sizeof base, "%s", path);
  if (realpath(dir, resolved)) snprintf(out, len, "%s/%s", resolved, basename(base));
  else snprintf(out, len, "%s", path);
}

/* Whether two paths name the same file: same inode, or the same name after realpath. */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
  canonical_name(a, ca, sizeof ca);
  canonical_name(b, cb, sizeof cb);
  return !strcmp(ca, cb);
}

/* Reports each path in the whitespace-separated `inputs` (an '@' manifest counts by its own
 * name) that is the same file as `output`. */
static int alias_problems(const lcfm_job *job, const char *out_section, const char *out_key,
                          const char *output, const char *in_dotted, const char *inputs) {
  int problems = 0;
  const char *p = inputs;
  while (*p) {
    p += strspn(p, " \t");
    size_t n = strcspn(p, " \t");
    if (!n) break;
    char input[PATH_MAX];
    int manifest = p[0] == '@';
    snprintf(input, sizeof input, "%.*s", (int)n - manifest, p + manifest);
    if (input[0] && same_file(output, input)) {
      lcfm_job_error(job, out_section, out_key,
                     "'%s' is also an input (%s = %s): the run would overwrite what it reads",
                     output, in_dotted, input);
      problems++;
    }
    p += n;
  }
  return problems;
}

int lcfm_outputs_check_job(const lcfm_job *job, const char *verb) {
  const verb_files *f = files_of(verb);
  if (!f) return 0;
  /* A stage of a sweep point writes in the point's directory, which the sweep creates just
   * before the stages run: it is the directory of the point's [run] record. */
  char made[PATH_MAX] = "";
  const char *record = strcmp(f->verb, "run") ? lcfm_job_settings(job)->run.record : "";
  if (record[0]) directory_of(record, made, sizeof made);
  int problems = 0;
  for (int o = 0; f->outputs[o]; o++) {
    char section[32], why[PATH_MAX + 128];
    const char *output = value_of(job, f->outputs[o], section, sizeof section);
    const char *key = f->outputs[o] + strlen(section) + 1;
    if (f->optional && !output[0]) continue;
    const char *problem = output_path_problem(output, made[0] ? made : NULL, why, sizeof why);
    if (problem) {
      lcfm_job_error(job, section, key, "%s", problem);
      problems++;
      continue;
    }
    for (int i = 0; f->inputs[i]; i++) {
      char in_section[32];
      problems += alias_problems(job, section, key, output, f->inputs[i],
                                 value_of(job, f->inputs[i], in_section, sizeof in_section));
    }
  }
  return problems;
}

/* ---- locks ---- */

enum { MAX_LOCKS = 16 };

typedef struct {
  char path[PATH_MAX]; /* the output, not the lock file */
  int fd;
  int holds;
} held_lock;

static held_lock held[MAX_LOCKS];
static int exit_hook_set;

static held_lock *find_held(const char *path) {
  for (int i = 0; i < MAX_LOCKS; i++)
    if (held[i].holds > 0 && !strcmp(held[i].path, path)) return &held[i];
  return NULL;
}

static void lock_name(const char *path, char *lock, size_t len) {
  snprintf(lock, len, "%s.lock", path);
}

/* Removes every lock still held when the process ends normally. */
static void release_all_at_exit(void) {
  for (int i = 0; i < MAX_LOCKS; i++)
    if (held[i].holds > 0) {
      held[i].holds = 1;
      lcfm_output_unlock(held[i].path);
    }
}

/* The holder's text ("host PID since") as "host H, PID P, since T"; empty if none. */
static void read_holder(int fd, char *holder, size_t len, char *host, size_t host_len, long *pid) {
  char text[512] = "", since[64] = "";
  ssize_t got = pread(fd, text, sizeof text - 1, 0);
  text[got > 0 ? got : 0] = '\0';
  host[0] = holder[0] = '\0';
  *pid = -1;
  char name[256];
  if (sscanf(text, "%255s %ld %63s", name, pid, since) >= 2) {
    snprintf(host, host_len, "%s", name);
    snprintf(holder, len, "host %s, PID %ld%s%s", name, *pid, since[0] ? ", since " : "", since);
  }
}

static void write_holder(int fd) {
  char host[256] = "unknown", since[64], text[512];
  gethostname(host, sizeof host - 1);
  time_t now = time(NULL);
  struct tm utc;
  strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &utc));
  int n = snprintf(text, sizeof text, "%s %ld %s\n", host, (long)getpid(), since);
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, text, (size_t)n, 0) != n) { /* the lock holds without its text */
  }
}

/* Without flock: a holder on this host whose process is gone is stale; any other holder holds. */
static int holder_is_alive(const char *host, long pid) {
  char me[256] = "";
  gethostname(me, sizeof me - 1);
  if (pid <= 0) return 0;
  if (strcmp(host, me)) return 1;
  return pid != (long)getpid() && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

/* Takes the lock file `lock` for `path`: 0 taken, 1 held by another run (why), -1 retry (the
 * holder removed the file between our open and our flock). */
static int try_lock(const char *path, const char *lock, int *fd_out, char *why, size_t why_len) {
  int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(why, why_len, "%s: cannot create the lock %s: %s", path, lock, strerror(errno));
    return 1;
  }
  char holder[512], host[256];
  long pid;
  read_holder(fd, holder, sizeof holder, host, sizeof host, &pid);
  int flocked = flock(fd, LOCK_EX | LOCK_NB) == 0, flock_errno = errno;
  int unsupported = !flocked && (flock_errno == ENOLCK || flock_errno == ENOSYS ||
                                 flock_errno == EOPNOTSUPP || flock_errno == EINVAL);
  if ((!flocked && !unsupported) || (unsupported && holder[0] && holder_is_alive(host, pid))) {
    snprintf(why, why_len,
             "%s is being written by another lcfm run (%s); refused: wait for it to end or write "
             "elsewhere (if that run is gone, remove %s)",
             path, holder[0] ? holder : "holder unknown", lock);
    close(fd);
    return 1;
  }
  struct stat open_st, path_st;
  if (fstat(fd, &open_st) != 0 || stat(lock, &path_st) != 0 || open_st.st_ino != path_st.st_ino ||
      open_st.st_dev != path_st.st_dev) {
    close(fd);
    return -1;
  }
  read_holder(fd, holder, sizeof holder, host, sizeof host, &pid); /* as it is now we hold it */
  if (holder[0]) lcfm_warn("%s: taking over the lock of a run that is gone (%s)", path, holder);
  write_holder(fd);
  *fd_out = fd;
  return 0;
}

int lcfm_output_lock(const char *path, char *why, size_t why_len) {
  held_lock *h = find_held(path);
  if (h) {
    h->holds++;
    return 0;
  }
  int slot = 0;
  while (slot < MAX_LOCKS && held[slot].holds > 0) slot++;
  LCFM_CHECK(slot < MAX_LOCKS, "internal: more than %d output locks", MAX_LOCKS);
  char lock[PATH_MAX + 8];
  lock_name(path, lock, sizeof lock);
  int fd = -1, status = -1;
  for (int attempt = 0; attempt < 100 && status < 0; attempt++)
    status = try_lock(path, lock, &fd, why, why_len);
  if (status < 0) snprintf(why, why_len, "%s: its lock %s keeps changing hands", path, lock);
  if (status) return 1;
  snprintf(held[slot].path, sizeof held[slot].path, "%s", path);
  held[slot].fd = fd;
  held[slot].holds = 1;
  lcfm_remove_on_failure(lock);
  if (!exit_hook_set) exit_hook_set = atexit(release_all_at_exit) == 0;
  return 0;
}

void lcfm_output_unlock(const char *path) {
  held_lock *h = find_held(path);
  if (!h || --h->holds > 0) return;
  char lock[PATH_MAX + 8];
  lock_name(path, lock, sizeof lock);
  /* Unlink before close: a run waiting on this inode finds it gone and opens the new one. */
  unlink(lock);
  close(h->fd);
  lcfm_keep_on_failure(lock);
}

int lcfm_outputs_claim(MPI_Comm comm, const lcfm_job *job, const char *verb) {
  int rank, status = 0;
  MPI_Comm_rank(comm, &rank);
  const verb_files *f = files_of(verb);
  for (int o = 0; rank == 0 && f && f->outputs[o] && !status; o++) {
    char section[32], why[PATH_MAX * 2 + 256];
    const char *output = value_of(job, f->outputs[o], section, sizeof section);
    if (!output[0]) continue;
    status = lcfm_output_lock(output, why, sizeof why);
    if (status) lcfm_report_failure(1, "lcfm %s: %s", verb, why);
  }
  LCFM_CHECK_MPI(MPI_Bcast(&status, 1, MPI_INT, 0, comm));
  return status ? LCFM_EXIT_RUNTIME : LCFM_EXIT_OK;
}

/* ---- text files ---- */

void lcfm_output_publish_text(const char *path, const char *text) {
  char why[PATH_MAX * 2 + 256], partial[PATH_MAX + 16];
  if (lcfm_output_lock(path, why, sizeof why)) LCFM_FATAL("%s", why);
  snprintf(partial, sizeof partial, "%s.partial", path);
  lcfm_remove_on_failure(partial);
  FILE *f = fopen(partial, "w");
  LCFM_CHECK(f, "%s: cannot write: %s", partial, strerror(errno));
  size_t n = strlen(text);
  int ok = fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int saved = errno;
  if (fclose(f) != 0 && ok) ok = 0, saved = errno;
  LCFM_CHECK(ok, "%s: cannot write: %s", partial, strerror(saved));
  LCFM_CHECK(rename(partial, path) == 0, "cannot rename %s to %s: %s", partial, path,
             strerror(errno));
  lcfm_keep_on_failure(partial);
  lcfm_output_unlock(path);
}
