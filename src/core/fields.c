/* fields.c: parsing and testing the `fields` selection (see fields.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/fields.h"

#define FIELD_MAX 2147483647LL /* /objects/field is int32 */

/* One non-negative field value at *p; advances *p. Returns 0 when there is none in range. */
static int parse_value(const char **p, int64_t *value) {
  if (!isdigit((unsigned char)**p)) return 0;
  char *end;
  errno = 0;
  long long v = strtoll(*p, &end, 10);
  if (errno == ERANGE || v > FIELD_MAX) return 0;
  *p = end, *value = v;
  return 1;
}

static int is_separator(char c) { return c == ',' || isspace((unsigned char)c); }

int lcfm_fields_parse(const char *text, lcfm_fields *out, char *why, size_t why_len) {
  if (out) memset(out, 0, sizeof *out);
  int capacity = 0, count = 0;
  int64_t(*range)[2] = NULL;
  for (const char *p = text;;) {
    while (is_separator(*p)) p++;
    if (!*p) break;
    const char *item = p;
    int64_t first, last;
    int ok = parse_value(&p, &first);
    last = first;
    if (ok && *p == '-') p++, ok = parse_value(&p, &last) && last >= first;
    if (!ok || (*p && !is_separator(*p))) {
      int n = 0;
      while (item[n] && !is_separator(item[n])) n++;
      snprintf(why, why_len,
               "'%.*s' is not a field value (an integer in [0, %lld]) or a range FIRST-LAST with "
               "FIRST <= LAST, in '%s'",
               n, item, FIELD_MAX, text);
      free(range);
      return 1;
    }
    if (count == capacity) {
      capacity = capacity ? 2 * capacity : 8;
      range = lcfm_realloc(range, (size_t)capacity * sizeof *range);
    }
    range[count][0] = first, range[count][1] = last, count++;
  }
  if (out) out->count = count, out->range = range;
  else free(range);
  return 0;
}

int lcfm_fields_all(const lcfm_fields *f) { return f->count == 0; }

int lcfm_fields_contains(const lcfm_fields *f, int64_t field) {
  if (f->count == 0) return 1;
  for (int i = 0; i < f->count; i++)
    if (field >= f->range[i][0] && field <= f->range[i][1]) return 1;
  return 0;
}

void lcfm_fields_free(lcfm_fields *f) {
  free(f->range);
  memset(f, 0, sizeof *f);
}
