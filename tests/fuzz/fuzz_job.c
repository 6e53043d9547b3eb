/* fuzz_job.c: libFuzzer target for the job-file reader (inih through lcfm_job_parse_text).
 *
 * Input: the job text, optionally followed by a NUL byte and `-o` overrides, one per line. Beyond
 * "no crash", a job that is accepted must round-trip: its effective text (what rank 0 broadcasts,
 * what every output file records) is accepted again and yields the same effective text, so every
 * rank and every rerun sees the same values. Every key must then read back with its getter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "lcfm/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_OVERRIDES = 8 };

/* Splits the bytes after the first NUL into override lines (in place); returns their count. */
static int split_overrides(char *rest, char **overrides) {
  int count = 0;
  for (char *line = strtok(rest, "\n"); line && count < MAX_OVERRIDES; line = strtok(NULL, "\n"))
    overrides[count++] = line;
  return count;
}

static void read_every_key(const lcfm_job *job) {
  for (int k = 0; k < lcfm_job_key_count; k++) {
    const lcfm_key_spec *spec = &lcfm_job_keys[k];
    const char *field = (const char *)lcfm_job_settings(job) + spec->offset;
    switch (spec->type) {
    case LCFM_KEY_INT: {
      double v = (double)*(const int64_t *)field;
      FUZZ_REQUIRE(v >= spec->min && v <= spec->max, "[%s] %s = %g out of range", spec->section,
                   spec->name, v);
      break;
    }
    case LCFM_KEY_REAL: {
      double v = *(const double *)field;
      FUZZ_REQUIRE(v >= spec->min && v <= spec->max, "[%s] %s = %g out of range", spec->section,
                   spec->name, v);
      break;
    }
    case LCFM_KEY_BOOL:
      FUZZ_REQUIRE(*(const int *)field == 0 || *(const int *)field == 1, "[%s] %s not 0/1",
                   spec->section, spec->name);
      break;
    case LCFM_KEY_STRING:
      FUZZ_REQUIRE(*(const char *const *)field != NULL, "[%s] %s is NULL", spec->section,
                   spec->name);
      break;
    }
  }
}

/* The sections of the key table, NULL-terminated (the table lists a section's keys together). */
static const char *const *every_section(void) {
  static const char *sections[64];
  if (!sections[0]) {
    int count = 0;
    for (int k = 0; k < lcfm_job_key_count && count < 63; k++)
      if (count == 0 || strcmp(sections[count - 1], lcfm_job_keys[k].section))
        sections[count++] = lcfm_job_keys[k].section;
  }
  return sections;
}

static void check_round_trip(const lcfm_job *job) {
  int problems = 0;
  const char *effective = lcfm_job_text(job);
  lcfm_job *again = lcfm_job_parse_text("fuzz.ini", effective, 0, NULL, NULL, &problems);
  FUZZ_REQUIRE(again, "the effective text of an accepted job has %d problem(s):\n%s", problems,
               effective);
  FUZZ_REQUIRE(!strcmp(lcfm_job_text(again), effective),
               "the effective text changes when read again:\n%s\n---\n%s", effective,
               lcfm_job_text(again));
  lcfm_job_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 2);
  if (size) memcpy(text, data, size);
  text[size] = text[size + 1] = '\0';
  size_t text_length = strlen(text);
  char *overrides[MAX_OVERRIDES];
  int override_count = text_length < size ? split_overrides(text + text_length + 1, overrides) : 0;

  int problems = 0;
  lcfm_job *job = lcfm_job_parse_text("fuzz.ini", text, override_count, overrides, NULL, &problems);
  if (job) {
    check_round_trip(job);
    read_every_key(job);
    lcfm_job_free(job);
  }
  /* The required-key checks of every section (most inputs lack some: only coverage here). */
  lcfm_job_free(
      lcfm_job_parse_text("fuzz.ini", text, override_count, overrides, every_section(), &problems));
  free(text);
  return 0;
}
