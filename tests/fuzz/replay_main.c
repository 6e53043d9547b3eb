/* replay_main.c: runs a fuzz target's LLVMFuzzerTestOneInput on files, without libFuzzer, so every
 * build (gcc, the sanitizer build of the CI) replays the seed corpus and the regression inputs.
 *   NAME_replay PATH...     each PATH a file or a directory of files (not recursive)
 * Exit 0 when every input ran; a broken invariant aborts (fuzz_check.h). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    return 1;
  }
  size_t capacity = 1 << 16, size = 0, got;
  uint8_t *data = malloc(capacity);
  while ((got = fread(data + size, 1, capacity - size, f)) > 0) {
    size += got;
    if (size == capacity) data = realloc(data, capacity *= 2);
  }
  fclose(f);
  LLVMFuzzerTestOneInput(data, size);
  free(data);
  return 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's files in name order (deterministic logs). */
static int run_directory(const char *dir, int *inputs) {
  DIR *d = opendir(dir);
  if (!d) return 1;
  char **names = NULL;
  size_t count = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    names = realloc(names, (count + 1) * sizeof *names);
    names[count++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, count, sizeof *names, compare_names);
  int failures = 0;
  for (size_t i = 0; i < count; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) failures += run_file(path), (*inputs)++;
    free(names[i]);
  }
  free(names);
  return failures;
}

int main(int argc, char **argv) {
  int failures = 0, inputs = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      failures++;
    } else if (S_ISDIR(st.st_mode)) {
      failures += run_directory(argv[i], &inputs);
    } else {
      failures += run_file(argv[i]), inputs++;
    }
  }
  printf("%s: %d inputs replayed, %d unreadable\n", argv[0], inputs, failures);
  return failures || inputs == 0 ? 1 : 0;
}
