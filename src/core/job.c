/* job.c: reading, checking and broadcasting job files (see job.h). */
#include "lcfm/fields.h"
#include "lcfm/job.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ORIGIN_DEFAULT = 0, ORIGIN_FILE = 1, ORIGIN_OVERRIDE = 2 };

typedef struct {
  char *text;
  int line; /* line in the job file, when origin is ORIGIN_FILE */
  int origin;
} key_value;

/* One grid line of a [sweep] section: "section.key = value value ...". */
typedef struct {
  char *key;     /* "section.key" as written in the key table */
  char *text;    /* the values as given */
  char **values; /* split and checked */
  int value_count;
} sweep_entry;

struct lcfm_job {
  char *path;
  char *effective_text;
  char *text_without_sweep; /* the effective text without the [sweep] grid lines */
  key_value *values;        /* parallel to lcfm_job_keys */
  sweep_entry *sweep;
  int sweep_count;
  int rank;
  lcfm_settings settings; /* the values, typed (filled by fill_settings) */
};

typedef struct {
  lcfm_job *job;
  const char *cursor; /* next unread character of the job text */
  int line;           /* number of the line inih is handling */
  int errors;
  int long_line; /* first line longer than inih's buffer, or 0 */
  int max_line;  /* inih's longest line (its buffer size less one) */
} parse_state;

static char *copy_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = lcfm_malloc(n);
  memcpy(copy, s, n);
  return copy;
}

static int find_key(const char *section, const char *name) {
  const lcfm_key_spec *spec = lcfm_job_key_spec(section, name);
  return spec ? (int)(spec - lcfm_job_keys) : -1;
}

const lcfm_key_spec *lcfm_job_key_spec(const char *section, const char *name) {
  for (int i = 0; i < lcfm_job_key_count; i++)
    if (!strcasecmp(lcfm_job_keys[i].section, section) && !strcasecmp(lcfm_job_keys[i].name, name))
      return &lcfm_job_keys[i];
  return NULL;
}

const lcfm_key_spec *lcfm_job_key_spec_dotted(const char *dotted) {
  const char *dot = strchr(dotted, '.');
  if (!dot || (size_t)(dot - dotted) >= 64) return NULL;
  char section[64];
  memcpy(section, dotted, (size_t)(dot - dotted));
  section[dot - dotted] = '\0';
  return lcfm_job_key_spec(section, dot + 1);
}

/* The choice of spec->choices ("a|b|c") that `text` names, without regard to case: its start
 * in spec->choices and its length in *length, or NULL. */
static const char *matching_choice(const lcfm_key_spec *spec, const char *text, size_t *length) {
  for (const char *c = spec->choices; *c;) {
    size_t n = strcspn(c, "|");
    if (strlen(text) == n && !strncasecmp(c, text, n)) {
      *length = n;
      return c;
    }
    c += n + (c[n] == '|');
  }
  return NULL;
}

/* "a|b|c" as "a, b or c". */
static void print_choices(char *out, size_t len, const char *choices) {
  size_t used = 0;
  out[0] = '\0';
  for (const char *c = choices; *c && used < len;) {
    size_t n = strcspn(c, "|");
    const char *separator = c == choices ? "" : c[n] ? ", " : " or ";
    used += (size_t)snprintf(out + used, len - used, "%s%.*s", separator, (int)n, c);
    c += n + (c[n] == '|');
  }
}

static int check_choice(const lcfm_key_spec *spec, const char *text, char *reason, size_t len) {
  size_t n;
  if (matching_choice(spec, text, &n)) return 0;
  char listed[256];
  print_choices(listed, sizeof listed, spec->choices);
  snprintf(reason, len, "'%s' is not one of %s", text, listed);
  return 1;
}

static int section_exists(const char *section) {
  for (int i = 0; i < lcfm_job_key_count; i++)
    if (!strcasecmp(lcfm_job_keys[i].section, section)) return 1;
  return 0;
}

/* Checks `text` against the key's type and bounds; returns 0 or writes why into reason. */
static int check_value(const lcfm_key_spec *spec, const char *text, char *reason, size_t len) {
  char *end = NULL;
  errno = 0;
  switch (spec->type) {
  case LCFM_KEY_INT: {
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
      snprintf(reason, len, "'%s' is not an integer", text);
      return 1;
    }
    if ((double)v < spec->min || (double)v > spec->max) {
      snprintf(reason, len, "%lld is outside [%.17g, %.17g]", v, spec->min, spec->max);
      return 1;
    }
    return 0;
  }
  case LCFM_KEY_REAL: {
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v)) {
      snprintf(reason, len, "'%s' is not a finite number", text);
      return 1;
    }
    if (v < spec->min || v > spec->max) {
      snprintf(reason, len, "%.17g is outside [%.17g, %.17g]", v, spec->min, spec->max);
      return 1;
    }
    return 0;
  }
  case LCFM_KEY_BOOL: {
    static const char *words[] = {"true", "false", "yes", "no", "on", "off", "1", "0"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
      if (!strcasecmp(text, words[i])) return 0;
    snprintf(reason, len, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", text);
    return 1;
  }
  case LCFM_KEY_STRING: /* `fields` is the one string with a syntax (fields.h) */
    if (spec->choices) return check_choice(spec, text, reason, len);
    return !strcasecmp(spec->name, "fields") && lcfm_fields_parse(text, NULL, reason, len);
  }
  return 0;
}

static void report(const lcfm_job *job, int line, const char *where, const char *section,
                   const char *key, const char *reason) {
  if (job->rank != 0) return;
  if (where) fprintf(stderr, "%s: [%s] %s: %s\n", where, section, key, reason);
  else if (line > 0) fprintf(stderr, "%s:%d: [%s] %s: %s\n", job->path, line, section, key, reason);
  else fprintf(stderr, "%s: [%s] %s: %s\n", job->path, section, key, reason);
}

typedef struct {
  const char *value;
  int pairs, same;
} probe_result;

static int probe_pair(void *user, const char *section, const char *name, const char *value) {
  (void)section, (void)name;
  probe_result *r = user;
  r->pairs++;
  r->same = r->pairs == 1 && !strcmp(value, r->value);
  return 1;
}

/* Whether "name = value" reads back as exactly `value`: the effective job text must give every
 * rank and every rerun the same values. Leading or trailing blanks, " ;" (an inline comment), a
 * line break or a line longer than inih's buffer do not survive. */
static int check_writable(const char *name, const char *value, char *reason, size_t len) {
  size_t size = strlen(name) + strlen(value) + 16;
  char *line = lcfm_malloc(size);
  snprintf(line, size, "[s]\n%s = %s\n", name, value);
  probe_result r = {.value = value};
  int ok = ini_parse_string(line, probe_pair, &r) == 0 && r.pairs == 1 && r.same;
  free(line);
  if (!ok)
    snprintf(reason, len,
             "the value cannot be written back to a job file as it is (leading or trailing blanks, "
             "' ;' that starts a comment, a line break, or a line too long for the INI reader)");
  return !ok;
}

/* Splits a grid line's values: on '|' when there is one (values containing spaces), else on
 * whitespace. Returns the number of values; *out holds copies. */
static int split_sweep_values(const char *text, char ***out) {
  const char *separators = strchr(text, '|') ? "|" : " \t";
  char *copy = copy_string(text);
  int count = 0, capacity = 8;
  char **values = lcfm_malloc((size_t)capacity * sizeof *values);
  for (char *save = NULL, *t = strtok_r(copy, separators, &save); t;
       t = strtok_r(NULL, separators, &save)) {
    while (*t == ' ' || *t == '\t') t++;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t')) t[--n] = '\0';
    if (!n) continue;
    if (count == capacity) {
      capacity *= 2;
      values = lcfm_realloc(values, (size_t)capacity * sizeof *values);
    }
    values[count++] = copy_string(t);
  }
  free(copy);
  *out = values;
  return count;
}

static void free_sweep_entry(sweep_entry *e) {
  for (int v = 0; v < e->value_count; v++) free(e->values[v]);
  free(e->values);
  free(e->key);
  free(e->text);
}

/* Checks the values of a grid line against the key they name; returns 0 or writes why. */
static int check_sweep_values(const lcfm_key_spec *spec, char **values, int count, char *reason,
                              size_t len) {
  if (!count) {
    snprintf(reason, len, "no values");
    return 1;
  }
  char why[400];
  for (int v = 0; v < count; v++) {
    if (check_value(spec, values[v], why, sizeof why)) {
      snprintf(reason, len, "value %d: %s", v + 1, why);
      return 1;
    }
    for (int w = 0; w < v; w++)
      if (!strcmp(values[w], values[v])) {
        snprintf(reason, len, "value '%s' is given twice", values[v]);
        return 1;
      }
  }
  return 0;
}

/* A [sweep] grid line "section.key = v1 v2 ..." from the file (where == NULL) or an override
 * (which replaces a line of the file). Returns 0, or 1 after reporting. */
static int add_sweep_line(lcfm_job *job, int line, const char *where, const char *name,
                          const char *text) {
  char section[128], reason[512];
  const char *dot = strchr(name, '.');
  snprintf(section, sizeof section, "%.*s", (int)(dot - name), name);
  int index = strcasecmp(section, "sweep") ? find_key(section, dot + 1) : -1;
  if (index < 0) {
    report(job, line, where, "sweep", name, "names no job key that can be swept (see `lcfm keys`)");
    return 1;
  }
  const lcfm_key_spec *spec = &lcfm_job_keys[index];
  char key[256];
  snprintf(key, sizeof key, "%s.%s", spec->section, spec->name);
  sweep_entry entry = {.key = copy_string(key), .text = copy_string(text)};
  entry.value_count = split_sweep_values(text, &entry.values);
  int bad = check_writable(name, text, reason, sizeof reason); /* the line in the effective job */
  for (int v = 0; !bad && v < entry.value_count; v++)          /* each value in a point's job */
    bad = check_writable(spec->name, entry.values[v], reason, sizeof reason);
  if (bad || check_sweep_values(spec, entry.values, entry.value_count, reason, sizeof reason)) {
    report(job, line, where, "sweep", name, reason);
    free_sweep_entry(&entry);
    return 1;
  }
  for (int i = 0; i < job->sweep_count; i++) {
    if (strcmp(job->sweep[i].key, key)) continue;
    if (!where) {
      report(job, line, where, "sweep", name, "given twice");
      free_sweep_entry(&entry);
      return 1;
    }
    free_sweep_entry(&job->sweep[i]);
    job->sweep[i] = entry;
    return 0;
  }
  job->sweep = lcfm_realloc(job->sweep, (size_t)(job->sweep_count + 1) * sizeof *job->sweep);
  job->sweep[job->sweep_count++] = entry;
  return 0;
}

static int is_sweep_line(const char *section, const char *name) {
  return !strcasecmp(section, "sweep") && strchr(name, '.') != NULL;
}

static int handle_pair(void *user, const char *section, const char *name, const char *value) {
  parse_state *state = user;
  lcfm_job *job = state->job;
  char reason[512];
  if (is_sweep_line(section, name)) {
    state->errors += add_sweep_line(job, state->line, NULL, name, value);
    return 1;
  }
  int index = find_key(section, name);
  if (index < 0) {
    if (!section[0]) snprintf(reason, sizeof reason, "key outside any [section]");
    else if (!section_exists(section)) snprintf(reason, sizeof reason, "unknown section");
    else snprintf(reason, sizeof reason, "unknown key (see `lcfm keys`)");
    report(job, state->line, NULL, section, name, reason);
    state->errors++;
    return 1;
  }
  key_value *slot = &job->values[index];
  if (slot->origin == ORIGIN_FILE) {
    snprintf(reason, sizeof reason, "given twice (first on line %d)", slot->line);
    report(job, state->line, NULL, section, name, reason);
    state->errors++;
    return 1;
  }
  if (check_value(&lcfm_job_keys[index], value, reason, sizeof reason) ||
      check_writable(lcfm_job_keys[index].name, value, reason, sizeof reason)) {
    report(job, state->line, NULL, section, name, reason);
    state->errors++;
    return 1;
  }
  free(slot->text);
  slot->text = copy_string(value);
  slot->line = state->line;
  slot->origin = ORIGIN_FILE;
  return 1;
}

/* inih reader over an in-memory string: one call per line, so the handler's line numbers are
 * right. inih has a fixed line buffer; a longer line is cut there and remembered as an error
 * (inih would otherwise read its rest as a line of its own). Leading blanks are dropped: inih
 * reads an indented line as a continuation of the previous key's value (Python's configparser
 * style), so "  stars = 10" would be reported as the key above it given twice; lcfm reads it as
 * the key it names, and an indented line without '=' is a syntax error of its own line. */
static char *read_line(char *buf, int size, void *stream) {
  parse_state *state = stream;
  if (!*state->cursor) return NULL;
  size_t length = strcspn(state->cursor, "\n");
  size_t indent = strspn(state->cursor, " \t");
  if (indent > length) indent = length;
  size_t text_length = length - indent;
  size_t kept = text_length < (size_t)size - 1 ? text_length : (size_t)size - 1;
  memcpy(buf, state->cursor + indent, kept);
  buf[kept] = '\0';
  state->cursor += length + (state->cursor[length] == '\n');
  state->line++;
  state->max_line = size - 1;
  if (kept < text_length && !state->long_line) state->long_line = state->line;
  return buf;
}

static int apply_override(lcfm_job *job, const char *override) {
  char where[600];
  snprintf(where, sizeof where, "-o %s", override);
  const char *dot = strchr(override, '.');
  const char *equals = strchr(override, '=');
  if (!dot || !equals || dot > equals) {
    if (job->rank == 0) fprintf(stderr, "%s: expected section.key=value\n", where);
    return 1;
  }
  char section[128], name[128], reason[512];
  snprintf(section, sizeof section, "%.*s", (int)(dot - override), override);
  snprintf(name, sizeof name, "%.*s", (int)(equals - dot - 1), dot + 1);
  const char *value = equals + 1;
  if (is_sweep_line(section, name)) return add_sweep_line(job, 0, where, name, value);
  int index = find_key(section, name);
  if (index < 0) {
    report(job, 0, where, section, name,
           section_exists(section) ? "unknown key (see `lcfm keys`)" : "unknown section");
    return 1;
  }
  if (check_value(&lcfm_job_keys[index], value, reason, sizeof reason) ||
      check_writable(lcfm_job_keys[index].name, value, reason, sizeof reason)) {
    report(job, 0, where, section, name, reason);
    return 1;
  }
  key_value *slot = &job->values[index];
  free(slot->text);
  slot->text = copy_string(value);
  slot->origin = ORIGIN_OVERRIDE;
  return 0;
}

static int check_required(lcfm_job *job, const char *const *sections) {
  int errors = 0;
  for (int i = 0; sections && sections[i]; i++)
    for (int k = 0; k < lcfm_job_key_count; k++) {
      const lcfm_key_spec *spec = &lcfm_job_keys[k];
      if (strcasecmp(spec->section, sections[i]) || spec->default_value) continue;
      if (job->values[k].origin == ORIGIN_DEFAULT) {
        report(job, 0, NULL, spec->section, spec->name, "required key is missing");
        errors++;
      }
    }
  return errors;
}

/* Appends to a growing buffer (the effective job text). */
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list args;
  for (;;) {
    va_start(args, fmt);
    int n = vsnprintf(*buf + *len, *cap - *len, fmt, args);
    va_end(args);
    if ((size_t)n < *cap - *len) {
      *len += (size_t)n;
      return;
    }
    *cap = 2 * *cap + (size_t)n;
    *buf = lcfm_realloc(*buf, *cap);
  }
}

static char *build_effective_text(const lcfm_job *job, int with_sweep) {
  size_t len = 0, cap = 4096;
  char *text = lcfm_malloc(cap);
  text[0] = '\0';
  /* The path is cut to its end and its line breaks blanked: the line must stay one short comment. */
  size_t path_length = strlen(job->path), shown = path_length > 120 ? 120 : path_length;
  char from[128];
  snprintf(from, sizeof from, "%s", job->path + path_length - shown);
  for (char *c = from; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  append(&text, &len, &cap, "; effective job: every key with the value in force (from %s%s)\n",
         shown < path_length ? "..." : "", from);
  const char *current = "";
  for (int k = 0; k < lcfm_job_key_count; k++) {
    const lcfm_key_spec *spec = &lcfm_job_keys[k];
    if (strcmp(spec->section, current)) {
      append(&text, &len, &cap, "\n[%s]\n", spec->section);
      current = spec->section;
    }
    const char *value = job->values[k].text ? job->values[k].text : "";
    append(&text, &len, &cap, "%s = %s\n", spec->name, value);
  }
  if (with_sweep && job->sweep_count) {
    append(&text, &len, &cap, "\n[sweep]\n");
    for (int i = 0; i < job->sweep_count; i++)
      append(&text, &len, &cap, "%s = %s\n", job->sweep[i].key, job->sweep[i].text);
  }
  return text;
}

static lcfm_job *new_job(const char *path, int rank) {
  lcfm_job *job = lcfm_calloc(1, sizeof *job);
  job->path = copy_string(path);
  job->rank = rank;
  job->values = lcfm_calloc((size_t)lcfm_job_key_count, sizeof *job->values);
  for (int k = 0; k < lcfm_job_key_count; k++)
    if (lcfm_job_keys[k].default_value)
      job->values[k].text = copy_string(lcfm_job_keys[k].default_value);
  return job;
}

/* A checked value with choices, spelt as the table spells it (modules compare with strcmp). */
static void spell_choice_as_listed(key_value *v, const lcfm_key_spec *spec) {
  size_t n;
  const char *choice = v->text ? matching_choice(spec, v->text, &n) : NULL;
  if (choice) memcpy(v->text, choice, n);
}

static int is_true(const char *text) {
  return !strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
         !strcmp(text, "1");
}

/* The one place values become typed: each key's text into its field of job->settings (a key
 * without a value, allowed only in a section the verb does not use, reads as 0 or ""). */
static void fill_settings(lcfm_job *job) {
  for (int k = 0; k < lcfm_job_key_count; k++) {
    const lcfm_key_spec *spec = &lcfm_job_keys[k];
    key_value *v = &job->values[k];
    char *field = (char *)&job->settings + spec->offset;
    if (spec->choices) spell_choice_as_listed(v, spec);
    const char *text = v->text ? v->text : "";
    switch (spec->type) {
    case LCFM_KEY_INT: *(int64_t *)field = strtoll(text, NULL, 10); break;
    case LCFM_KEY_REAL: *(double *)field = strtod(text, NULL); break;
    case LCFM_KEY_BOOL: *(int *)field = is_true(text); break;
    case LCFM_KEY_STRING: *(const char **)field = text; break;
    }
  }
}

/* Parses `text` into a new job; returns the number of problems found (reported by rank 0). */
static int parse_job(lcfm_job **out, const char *path, const char *text, int rank,
                     int override_count, char *const *overrides, const char *const *sections) {
  lcfm_job *job = new_job(path, rank);
  parse_state state = {.job = job, .cursor = text, .line = 0, .errors = 0};
  int syntax_line = ini_parse_stream(read_line, &state, handle_pair, &state);
  if (state.long_line) {
    if (rank == 0)
      fprintf(
          stderr,
          "%s:%d: line longer than %d characters, the INI reader's limit (list many inputs in an "
          "@manifest file)\n",
          path, state.long_line, state.max_line);
    state.errors++;
  } else if (syntax_line > 0) {
    if (rank == 0)
      fprintf(stderr, "%s:%d: syntax error (expected '[section]', 'key = value' or a comment)\n",
              path, syntax_line);
    state.errors++;
  }
  for (int i = 0; i < override_count; i++) state.errors += apply_override(job, overrides[i]);
  state.errors += check_required(job, sections);
  fill_settings(job);
  job->effective_text = build_effective_text(job, 1);
  job->text_without_sweep = build_effective_text(job, 0);
  *out = job;
  return state.errors;
}

/* The whole file in one NUL-terminated allocation (its byte count in *length), or NULL with
 * errno set. */
static char *read_whole_file(const char *path, size_t *length) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t len = 0, cap = 4096;
  char *text = lcfm_malloc(cap);
  size_t n;
  while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len - 1 == 0) {
      cap *= 2;
      text = lcfm_realloc(text, cap);
    }
  }
  int failed = ferror(f), saved_errno = errno;
  fclose(f);
  if (failed) {
    free(text);
    errno = saved_errno ? saved_errno : EIO;
    return NULL;
  }
  text[len] = '\0';
  *length = len;
  return text;
}

/* The 1-based line holding the first NUL byte of text[0..length), or 0 when there is none (a
 * job file is text: a NUL means a binary or damaged file, and would cut the text short). */
static int line_of_first_nul(const char *text, size_t length) {
  const char *nul = memchr(text, '\0', length);
  if (!nul) return 0;
  int line = 1;
  for (const char *c = text; c < nul; c++) line += *c == '\n';
  return line;
}

/* Rank 0 has decided (ok or not); every other rank rebuilds the job from the effective text. */
static lcfm_job *share_job(MPI_Comm comm, lcfm_job *job, int ok, const char *const *sections) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  LCFM_CHECK_MPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  if (!ok) {
    lcfm_job_free(job);
    return NULL;
  }
  long long lengths[2] = {0, 0};
  if (rank == 0) {
    lengths[0] = (long long)strlen(job->path) + 1;
    lengths[1] = (long long)strlen(job->effective_text) + 1;
  }
  LCFM_CHECK_MPI(MPI_Bcast(lengths, 2, MPI_LONG_LONG, 0, comm));
  char *path = rank == 0 ? job->path : lcfm_malloc((size_t)lengths[0]);
  char *text = rank == 0 ? job->effective_text : lcfm_malloc((size_t)lengths[1]);
  LCFM_CHECK_MPI(MPI_Bcast(path, (int)lengths[0], MPI_CHAR, 0, comm));
  LCFM_CHECK_MPI(MPI_Bcast(text, (int)lengths[1], MPI_CHAR, 0, comm));
  if (rank == 0) return job;
  lcfm_job *copy = NULL;
  int errors = parse_job(&copy, path, text, rank, 0, NULL, sections);
  LCFM_CHECK(errors == 0, "the broadcast job text did not parse on rank %d", rank);
  free(path);
  free(text);
  return copy;
}

lcfm_job *lcfm_job_parse_text(const char *name, const char *text, int override_count,
                              char *const *overrides, const char *const *sections, int *problems) {
  lcfm_job *job = NULL;
  *problems = parse_job(&job, name, text, 0, override_count, overrides, sections);
  if (*problems == 0) return job;
  lcfm_job_free(job);
  return NULL;
}

lcfm_job *lcfm_job_load_text(MPI_Comm comm, const char *name, const char *text, int override_count,
                             char *const *overrides, const char *const *sections) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  lcfm_job *job = NULL;
  int ok = 0;
  if (rank == 0) ok = parse_job(&job, name, text, 0, override_count, overrides, sections) == 0;
  return share_job(comm, job, ok, sections);
}

lcfm_job *lcfm_job_load(MPI_Comm comm, const char *path, int override_count, char *const *overrides,
                        const char *const *sections) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  lcfm_job *job = NULL;
  int ok = 0;
  if (rank == 0) {
    size_t length = 0;
    char *text = read_whole_file(path, &length);
    int nul_line = text ? line_of_first_nul(text, length) : 0;
    if (!text) fprintf(stderr, "%s: cannot read job file: %s\n", path, strerror(errno));
    else if (nul_line)
      fprintf(stderr, "%s:%d: a NUL byte: a job file is text (a binary or damaged file?)\n", path,
              nul_line);
    else ok = parse_job(&job, path, text, 0, override_count, overrides, sections) == 0;
    free(text);
  }
  return share_job(comm, job, ok, sections);
}

void lcfm_job_free(lcfm_job *job) {
  if (!job) return;
  for (int k = 0; k < lcfm_job_key_count; k++) free(job->values[k].text);
  free(job->values);
  for (int i = 0; i < job->sweep_count; i++) free_sweep_entry(&job->sweep[i]);
  free(job->sweep);
  free(job->path);
  free(job->effective_text);
  free(job->text_without_sweep);
  free(job);
}

const lcfm_settings *lcfm_job_settings(const lcfm_job *job) { return &job->settings; }

const char *lcfm_job_value_text(const lcfm_job *job, const lcfm_key_spec *spec) {
  if (!spec) return "";
  const char *text = job->values[spec - lcfm_job_keys].text;
  return text ? text : "";
}

void lcfm_job_format_value(const lcfm_job *job, const lcfm_key_spec *spec, char *buf, size_t len) {
  const char *field = (const char *)&job->settings + spec->offset;
  if (spec->type == LCFM_KEY_STRING) snprintf(buf, len, "%s", *(const char *const *)field);
  else if (!job->values[spec - lcfm_job_keys].text) snprintf(buf, len, "%s", "");
  else if (spec->type == LCFM_KEY_INT)
    snprintf(buf, len, "%lld", (long long)*(const int64_t *)field);
  else if (spec->type == LCFM_KEY_REAL) snprintf(buf, len, "%g", *(const double *)field);
  else snprintf(buf, len, "%s", *(const int *)field ? "true" : "false");
}

const char *lcfm_job_path(const lcfm_job *job) { return job->path; }
const char *lcfm_job_text(const lcfm_job *job) { return job->effective_text; }
const char *lcfm_job_text_without_sweep(const lcfm_job *job) { return job->text_without_sweep; }

int lcfm_job_sweep_count(const lcfm_job *job) { return job->sweep_count; }
const char *lcfm_job_sweep_key(const lcfm_job *job, int i) { return job->sweep[i].key; }
int lcfm_job_sweep_value_count(const lcfm_job *job, int i) { return job->sweep[i].value_count; }
const char *lcfm_job_sweep_value(const lcfm_job *job, int i, int v) {
  return job->sweep[i].values[v];
}
uint64_t lcfm_job_seed(const lcfm_job *job) { return (uint64_t)job->settings.job.seed; }

void lcfm_job_error(const lcfm_job *job, const char *section, const char *key, const char *fmt,
                    ...) {
  if (job->rank != 0) return;
  char reason[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(reason, sizeof reason, fmt, args);
  va_end(args);
  int index = find_key(section, key);
  const key_value *v = index >= 0 ? &job->values[index] : NULL;
  if (v && v->origin == ORIGIN_OVERRIDE) {
    char where[512];
    snprintf(where, sizeof where, "-o %s.%s=%s", section, key, v->text);
    report(job, 0, where, section, key, reason);
  } else if (v && v->origin == ORIGIN_DEFAULT) {
    char why[1200];
    snprintf(why, sizeof why, "%s (default value %s)", reason, v->text ? v->text : "none");
    report(job, 0, NULL, section, key, why);
  } else {
    report(job, v ? v->line : 0, NULL, section, key, reason);
  }
}

static const char *type_name(lcfm_key_type type) {
  switch (type) {
  case LCFM_KEY_INT: return "integer";
  case LCFM_KEY_REAL: return "real";
  case LCFM_KEY_BOOL: return "boolean";
  case LCFM_KEY_STRING: return "string";
  }
  return "?";
}

void lcfm_job_print_keys(void) {
  printf("| section | key | type | default | range | meaning |\n|---|---|---|---|---|---|\n");
  for (int k = 0; k < lcfm_job_key_count; k++) {
    const lcfm_key_spec *s = &lcfm_job_keys[k];
    char range[256] = "";
    if (s->type == LCFM_KEY_INT || s->type == LCFM_KEY_REAL)
      snprintf(range, sizeof range, "[%.6g, %.6g]", s->min, s->max);
    else if (s->choices) print_choices(range, sizeof range, s->choices);
    printf("| %s | %s | %s | %s | %s | %s |\n", s->section, s->name, type_name(s->type),
           s->default_value ? (s->default_value[0] ? s->default_value : "(empty)") : "**required**",
           range, s->doc);
  }
}
