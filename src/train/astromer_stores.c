/* astromer_stores.c: a list of stores read as one survey, on demand through each store's index
 * (see astromer_train.h): rows and points of the list map to one store by their prefix sums. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/astromer_train.h"
#include "lcfm/error.h"
#include "lcfm/store.h"

/* The store holding list position `at` of prefix sums first[0..count] (first[count] = total). */
static int store_of(const int64_t *first, int count, int64_t at) {
  int lo = 0, hi = count - 1;
  while (lo < hi) { /* the last k with first[k] <= at */
    int mid = lo + (hi - lo + 1) / 2;
    if (first[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static char *copy_text(const char *text) {
  char *copy = lcfm_malloc(strlen(text) + 1);
  return strcpy(copy, text);
}

static int count_paths(const char *paths) {
  char *list = copy_text(paths), *saveptr = NULL;
  int n = 0;
  for (char *p = strtok_r(list, " \t\n", &saveptr); p; p = strtok_r(NULL, " \t\n", &saveptr)) n++;
  free(list);
  return n;
}

/* Collective: lcfm_store_open checks every invariant of store k on all ranks; extends the prefix sums. */
static int check_store(lcfm_astro_stores *s, int k, MPI_Comm comm, char *why, size_t why_len) {
  lcfm_store *store = lcfm_store_open(comm, s->path[k], why, why_len);
  if (!store) return 1;
  s->first_object[k + 1] = s->first_object[k] + lcfm_store_object_count(store);
  s->first_point[k + 1] = s->first_point[k] + lcfm_store_point_count(store);
  lcfm_store_free(store);
  return 0;
}

int lcfm_astro_stores_open(lcfm_astro_stores *s, MPI_Comm comm, const char *paths, char *why,
                           size_t why_len) {
  memset(s, 0, sizeof *s);
  int n = count_paths(paths);
  if (n == 0) {
    snprintf(why, why_len, "no store named");
    return 1;
  }
  s->path = lcfm_calloc((size_t)n, sizeof *s->path);
  s->index = lcfm_calloc((size_t)n, sizeof *s->index);
  s->first_object = lcfm_calloc((size_t)n + 1, sizeof *s->first_object);
  s->first_point = lcfm_calloc((size_t)n + 1, sizeof *s->first_point);
  char *list = copy_text(paths), *saveptr = NULL;
  for (char *p = strtok_r(list, " \t\n", &saveptr); p; p = strtok_r(NULL, " \t\n", &saveptr))
    s->path[s->count++] = copy_text(p);
  free(list);
  int failed = 0;
  for (int k = 0; k < s->count && !failed; k++)
    failed = check_store(s, k, comm, why, why_len); /* same on every rank */
  int mine = 0, any = failed;
  for (int k = 0; k < s->count && !failed && !mine; k++) {
    s->index[k] = lcfm_store_index_open(s->path[k], why, why_len);
    mine = s->index[k] == NULL;
  }
  if (!failed) LCFM_CHECK_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
  if (any && !failed && !mine)
    snprintf(why, why_len, "another rank could not open the index of a store of %s", paths);
  if (any) lcfm_astro_stores_close(s);
  return any;
}

void lcfm_astro_stores_close(lcfm_astro_stores *s) {
  for (int k = 0; k < s->count; k++) {
    lcfm_store_index_close(s->index ? s->index[k] : NULL);
    free(s->path[k]);
  }
  free(s->path), free(s->index), free(s->first_object), free(s->first_point);
  memset(s, 0, sizeof *s);
}

int64_t lcfm_astro_stores_objects(const lcfm_astro_stores *s) {
  return s->count ? s->first_object[s->count] : 0;
}

void lcfm_astro_stores_objects_at(lcfm_astro_stores *s, const int64_t *rows, int64_t count,
                                  lcfm_index_object *out) {
  if (count <= 0) return;
  int64_t *local = lcfm_malloc((size_t)count * sizeof *local),
          *where = lcfm_malloc((size_t)count * sizeof *where);
  lcfm_index_object *got = lcfm_malloc((size_t)count * sizeof *got);
  for (int k = 0; k < s->count; k++) { /* one read per column of each store the rows touch */
    int64_t n = 0, base = s->first_object[k];
    for (int64_t i = 0; i < count; i++)
      if (rows[i] >= base && rows[i] < s->first_object[k + 1])
        local[n] = rows[i] - base, where[n++] = i;
    lcfm_store_index_objects_at(s->index[k], local, n, got);
    for (int64_t j = 0; j < n; j++) {
      out[where[j]] = got[j];
      out[where[j]].row += base, out[where[j]].offset += s->first_point[k];
    }
  }
  free(local), free(where), free(got);
}

void lcfm_astro_stores_read_points(lcfm_astro_stores *s, int64_t first, int64_t count, double *time,
                                   float *value, float *error) {
  if (count <= 0) return;
  int k = store_of(s->first_point, s->count, first);
  LCFM_CHECK(first + count <= s->first_point[k + 1],
             "internal: points [%lld, %lld) span two stores of the list", (long long)first,
             (long long)(first + count));
  int64_t at = first - s->first_point[k];
  lcfm_store_index_read_points(s->index[k], at, count, time, value);
  lcfm_store_index_read_errors(s->index[k], at, count, error);
}

int64_t lcfm_astro_stores_bytes_read(const lcfm_astro_stores *s) {
  int64_t bytes = 0;
  for (int k = 0; k < s->count; k++) bytes += lcfm_store_index_bytes_read(s->index[k]);
  return bytes;
}
