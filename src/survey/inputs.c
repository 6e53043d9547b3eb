/* inputs.c: this rank's share of the files the `inputs` key names (input_list.c sorts them
 * across the ranks), and choosing a reader per file. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lcfm/survey.h"

typedef struct {
  char **items;
  int64_t *sizes;
  int64_t count, capacity;
} path_list;

static void add_path(path_list *list, const char *path, int64_t size) {
  if (list->count == list->capacity) {
    list->capacity = list->capacity ? 2 * list->capacity : 256;
    list->items = lcfm_realloc(list->items, (size_t)list->capacity * sizeof *list->items);
    list->sizes = lcfm_realloc(list->sizes, (size_t)list->capacity * sizeof *list->sizes);
  }
  size_t n = strlen(path) + 1;
  list->items[list->count] = lcfm_malloc(n);
  memcpy(list->items[list->count], path, n);
  list->sizes[list->count++] = size;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* Files a directory contributes: the formats lcfm reads. */
static int survey_file_name(const char *name) {
  static const char *const suffixes[] = {".fits", ".fit",    ".fits.gz", ".fit.gz",
                                         ".csv",  ".csv.gz", ".gz"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
    if (ends_with(name, suffixes[i])) return 1;
  return 0;
}

/* The size of a regular file, or -1 for anything else. Each input file is stat'ed once, here or
 * in add_input: a stat is a metadata server's round trip on a parallel file system. */
static int64_t regular_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

/* Adds `path` if it is a regular file; returns whether it was. */
static int add_if_regular(path_list *list, const char *path) {
  int64_t size = regular_size(path);
  if (size >= 0) add_path(list, path, size);
  return size >= 0;
}

static void add_directory(path_list *list, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *entry;
  while ((entry = readdir(d))) {
    if (entry->d_name[0] == '.' || !survey_file_name(entry->d_name)) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
    add_if_regular(list, path);
  }
  closedir(d);
}

/* One input: a directory, a file, or a glob pattern. Returns 0 if it named nothing. */
static int add_input(path_list *list, const char *input) {
  struct stat st;
  int exists = stat(input, &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) {
    int64_t before = list->count;
    add_directory(list, input);
    return list->count > before;
  }
  if (exists && S_ISREG(st.st_mode)) {
    add_path(list, input, (int64_t)st.st_size);
    return 1;
  }
  if (strpbrk(input, "*?[")) {
    glob_t matches;
    int found = glob(input, 0, NULL, &matches) == 0;
    for (size_t i = 0; found && i < matches.gl_pathc; i++)
      add_if_regular(list, matches.gl_pathv[i]);
    globfree(&matches);
    return found;
  }
  return 0;
}

static void report(void (*problem)(const char *), int64_t *missing, const char *fmt,
                   const char *what) {
  char message[4200];
  snprintf(message, sizeof message, fmt, what);
  if (problem) problem(message);
  (*missing)++;
}

/* Collective: whether every rank can open `manifest` (a shared file system may differ). */
static int manifest_readable(MPI_Comm comm, const char *manifest) {
  FILE *f = fopen(manifest, "r");
  int readable = f != NULL;
  if (f) fclose(f);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &readable, 1, MPI_INT, MPI_MIN, comm));
  return readable;
}

/* The lines of a manifest that begin in this rank's share of its bytes, [rank, rank + 1) *
 * size / ranks: one path or pattern a line; blank lines and '#' comments are skipped. */
static void add_manifest_share(path_list *list, const char *manifest, int rank, int ranks,
                               int64_t *missing, void (*problem)(const char *)) {
  FILE *f = fopen(manifest, "r");
  struct stat st;
  if (!f || fstat(fileno(f), &st)) {
    if (f) fclose(f);
    report(problem, missing, "manifest %s cannot be read", manifest);
    return;
  }
  off_t lo = st.st_size * rank / ranks, hi = st.st_size * (rank + 1) / ranks;
  if (lo > 0) { /* the line under way at lo began in the previous rank's share */
    int c;
    fseeko(f, lo - 1, SEEK_SET);
    while ((c = getc(f)) != EOF && c != '\n') continue;
  }
  char *line = NULL;
  size_t capacity = 0;
  for (off_t at = ftello(f); at < hi && getline(&line, &capacity, f) != -1; at = ftello(f)) {
    char *start = line + strspn(line, " \t");
    start[strcspn(start, "\r\n")] = '\0';
    if (!*start || *start == '#') continue;
    if (!add_input(list, start))
      report(problem, missing, "%s: no such file, directory or match", start);
  }
  free(line);
  fclose(f);
}

/* This rank's names as one slice (NUL-separated, unsorted); frees the list. */
static void list_to_slice(path_list *list, lcfm_input_slice *slice) {
  size_t bytes = 1;
  for (int64_t i = 0; i < list->count; i++) bytes += strlen(list->items[i]) + 1;
  memset(slice, 0, sizeof *slice);
  slice->paths = lcfm_malloc(bytes);
  slice->offsets = lcfm_malloc((size_t)(list->count + 1) * sizeof *slice->offsets);
  slice->sizes = list->sizes ? list->sizes : lcfm_malloc(sizeof *slice->sizes);
  int64_t at = 0;
  for (int64_t i = 0; i < list->count; i++) {
    size_t len = strlen(list->items[i]) + 1;
    memcpy(slice->paths + at, list->items[i], len);
    slice->offsets[i] = at;
    at += (int64_t)len;
    free(list->items[i]);
  }
  slice->offsets[list->count] = at;
  slice->count = list->count;
  free(list->items);
}

int64_t lcfm_input_list_expand(MPI_Comm comm, const char *inputs, lcfm_input_slice *mine,
                               void (*problem)(const char *message)) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  path_list list = {0};
  int64_t missing = 0, token_number = 0;
  size_t n = strlen(inputs);
  char *copy = lcfm_malloc(n + 1), *state = NULL;
  memcpy(copy, inputs, n + 1);
  for (char *token = strtok_r(copy, " \t\r\n", &state); token;
       token = strtok_r(NULL, " \t\r\n", &state)) {
    if (token[0] == '@') {
      if (manifest_readable(comm, token + 1))
        add_manifest_share(&list, token + 1, rank, ranks, &missing, problem);
      else if (rank == 0)
        report(problem, &missing, "manifest %s cannot be read (on one rank or more)", token + 1);
    } else if (token_number++ % ranks == rank && !add_input(&list, token))
      report(problem, &missing, "%s: no such file, directory or match", token);
  }
  free(copy);
  list_to_slice(&list, mine);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &missing, 1, MPI_INT64_T, MPI_SUM, comm));
  return missing;
}

/* FITS by its first card or its name; everything else goes to the MACHO reader, which rejects
 * what it does not recognise. */
static int looks_like_fits(const char *path) {
  if (ends_with(path, ".fits") || ends_with(path, ".fit") || ends_with(path, ".fits.gz") ||
      ends_with(path, ".fit.gz"))
    return 1;
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  char head[9] = "";
  size_t got = fread(head, 1, 8, f);
  fclose(f);
  return got == 8 && !memcmp(head, "SIMPLE  ", 8);
}

void lcfm_read_survey_file(const char *path, const lcfm_ingest_options *options,
                           lcfm_object_sink on_object, lcfm_reject_sink on_reject,
                           lcfm_room_sink on_room, void *user) {
  if (looks_like_fits(path))
    lcfm_read_fits_lightcurve(path, options, on_object, on_reject, on_room, user);
  else lcfm_read_macho_file(path, options, on_object, on_reject, user);
}

const char *lcfm_input_path(const lcfm_input_slice *slice, int64_t file) {
  LCFM_CHECK(file >= slice->first && file < slice->first + slice->count,
             "internal: file %lld is not in this rank's slice [%lld, %lld)", (long long)file,
             (long long)slice->first, (long long)(slice->first + slice->count));
  return slice->paths + slice->offsets[file - slice->first];
}

void lcfm_input_slice_free(lcfm_input_slice *slice) {
  free(slice->paths), free(slice->offsets), free(slice->sizes);
  slice->paths = NULL, slice->offsets = NULL, slice->sizes = NULL, slice->count = 0;
}
