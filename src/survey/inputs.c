/* inputs.c: turning the `inputs` key into a sorted file list, and choosing a reader per file. */
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
  int64_t count, capacity;
} path_list;

static void add_path(path_list *list, const char *path) {
  if (list->count == list->capacity) {
    list->capacity = list->capacity ? 2 * list->capacity : 256;
    list->items = lcfm_realloc(list->items, (size_t)list->capacity * sizeof *list->items);
  }
  size_t n = strlen(path) + 1;
  list->items[list->count] = lcfm_malloc(n);
  memcpy(list->items[list->count++], path, n);
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

static int is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_regular(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void add_directory(path_list *list, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *entry;
  while ((entry = readdir(d))) {
    if (entry->d_name[0] == '.' || !survey_file_name(entry->d_name)) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
    if (is_regular(path)) add_path(list, path);
  }
  closedir(d);
}

/* One input: a directory, a glob pattern, or a file. Returns 0 if it named nothing. */
static int add_input(path_list *list, const char *input) {
  if (is_directory(input)) {
    int64_t before = list->count;
    add_directory(list, input);
    return list->count > before;
  }
  if (strpbrk(input, "*?[")) {
    glob_t matches;
    int found = glob(input, 0, NULL, &matches) == 0;
    for (size_t i = 0; found && i < matches.gl_pathc; i++)
      if (is_regular(matches.gl_pathv[i])) add_path(list, matches.gl_pathv[i]);
    globfree(&matches);
    return found;
  }
  if (is_regular(input)) {
    add_path(list, input);
    return 1;
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

/* A manifest lists one path or pattern per line; blank lines and '#' comments are skipped. */
static void add_manifest(path_list *list, const char *manifest, int64_t *missing,
                         void (*problem)(const char *)) {
  FILE *f = fopen(manifest, "r");
  if (!f) {
    report(problem, missing, "manifest %s cannot be read", manifest);
    return;
  }
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    char *start = line + strspn(line, " \t");
    start[strcspn(start, "\r\n")] = '\0';
    if (!*start || *start == '#') continue;
    if (!add_input(list, start))
      report(problem, missing, "%s: no such file, directory or match", start);
  }
  fclose(f);
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int64_t lcfm_expand_inputs(const char *inputs, char **paths, int64_t **offsets, int64_t *missing,
                           void (*problem)(const char *message)) {
  path_list list = {0};
  *missing = 0;
  size_t n = strlen(inputs);
  char *copy = lcfm_malloc(n + 1);
  memcpy(copy, inputs, n + 1);
  for (char *token = strtok(copy, " \t\r\n"); token; token = strtok(NULL, " \t\r\n")) {
    if (token[0] == '@') add_manifest(&list, token + 1, missing, problem);
    else if (!add_input(&list, token))
      report(problem, missing, "%s: no such file, directory or match", token);
  }
  free(copy);
  if (list.count > 1)
    qsort(list.items, (size_t)list.count, sizeof *list.items,
          compare_strings); /* items is NULL when empty */
  size_t bytes = 1;
  for (int64_t i = 0; i < list.count; i++) bytes += strlen(list.items[i]) + 1;
  *paths = lcfm_malloc(bytes);
  *offsets = lcfm_malloc((size_t)(list.count + 1) * sizeof **offsets);
  int64_t count = 0, at = 0;
  for (int64_t i = 0; i < list.count; i++) {
    if (i > 0 && !strcmp(list.items[i], list.items[i - 1])) continue; /* named twice */
    size_t len = strlen(list.items[i]) + 1;
    memcpy(*paths + at, list.items[i], len);
    (*offsets)[count++] = at;
    at += (int64_t)len;
  }
  (*offsets)[count] = at;
  for (int64_t i = 0; i < list.count; i++) free(list.items[i]);
  free(list.items);
  return count;
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
                           lcfm_object_sink on_object, lcfm_reject_sink on_reject, void *user) {
  if (looks_like_fits(path)) lcfm_read_fits_lightcurve(path, options, on_object, on_reject, user);
  else lcfm_read_macho_file(path, options, on_object, on_reject, user);
}

const char *lcfm_input_path(const lcfm_input_slice *slice, int64_t file) {
  LCFM_CHECK(file >= slice->first && file < slice->first + slice->count,
             "internal: file %lld is not in this rank's slice [%lld, %lld)", (long long)file,
             (long long)slice->first, (long long)(slice->first + slice->count));
  return slice->paths + slice->offsets[file - slice->first];
}

void lcfm_input_slice_free(lcfm_input_slice *slice) {
  free(slice->paths), free(slice->offsets);
  slice->paths = NULL, slice->offsets = NULL, slice->count = 0;
}
