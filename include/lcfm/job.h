/* job.h: job files: INI text read by inih on rank 0, checked against the key table, broadcast,
 * and read once into typed settings.
 *
 * Every key lcfm understands is listed once in job_keys.h with its section, type, default,
 * bounds, allowed values and documentation; `lcfm keys` prints that table. A job file may only
 * name listed keys; a key with a list of choices takes one of them (matched without regard to
 * case and stored as the table spells it). Values come from, in order of precedence: `-o section.key=value`
 * overrides on the command line, the job file, the table's default. A key without a default is
 * required whenever the verb uses its section.
 *
 * Leading blanks of a line are ignored: an indented "key = value" is that key (inih's
 * continuation lines are not used), an indented line that is no key is a syntax error.
 *
 * Any problem (unreadable file, a NUL byte, syntax error, unknown section or key, a key given
 * twice, a value of the wrong type or out of range, a missing required key) is reported once by
 * rank 0 as
 *   FILE:LINE: [section] key: reason
 * and lcfm_job_load returns NULL on every rank, before any output exists; verbs then exit with
 * LCFM_EXIT_USAGE. Checks that involve several keys belong to the module that reads them and
 * report through lcfm_job_error, naming the key the same way.
 *
 * Modules read their keys from lcfm_job_settings(job): one struct per section (lcfm_settings_train,
 * ...) whose fields are the section's keys, typed (INT int64_t, REAL double, BOOL int, STRING
 * const char *, "" when unset), filled once when the job is loaded; a misspelt key is a compile
 * error. Looking a key up by its name (lcfm_job_value_text) is only for names that come from
 * data: sweep grid lines, output aliases, comparisons over the whole table.
 *
 * The effective job (every key with the value in force) is available as INI text for
 * provenance and is itself a valid job file that reproduces the run.
 *
 * Sweeps: lines of a [sweep] section whose name holds a dot are grid lines, "section.key =
 * v1 v2 ...", naming any key of the table outside [sweep] and listing its values (separated by
 * '|' when one contains spaces). Every value is checked like the key itself when the job is
 * loaded; `-o sweep.section.key=...` replaces a line. `lcfm sweep` takes their product
 * (pipeline.h); other verbs ignore them. The effective text lists them last, under [sweep].
 */
#ifndef LCFM_JOB_H
#define LCFM_JOB_H

#include <mpi.h>
#include <stdint.h>

#include <stddef.h>

#include "lcfm/error.h"
#include "lcfm/job_keys.h"

typedef enum { LCFM_KEY_INT, LCFM_KEY_REAL, LCFM_KEY_STRING, LCFM_KEY_BOOL } lcfm_key_type;

typedef struct {
  const char *section;
  const char *name;
  lcfm_key_type type;
  const char *default_value; /* NULL: required when the section is used */
  double min, max;           /* inclusive bounds for INT and REAL */
  const char *choices;       /* STRING: the allowed values, "a|b|c"; NULL: any */
  const char *doc;           /* one line: meaning and unit */
  size_t offset;             /* of the key's field in lcfm_settings */
} lcfm_key_spec;

extern const lcfm_key_spec lcfm_job_keys[];
extern const int lcfm_job_key_count;

/* The typed settings: struct lcfm_settings_SECTION per section, one field per key. */
#define LCFM_SETTING_TYPE_INT int64_t
#define LCFM_SETTING_TYPE_REAL double
#define LCFM_SETTING_TYPE_BOOL int
#define LCFM_SETTING_TYPE_STRING const char *
#define LCFM_SETTING_FIELD(section, key, type, ...) LCFM_SETTING_TYPE_##type key;
#define LCFM_SETTINGS_STRUCT(section, SECTION) \
  typedef struct { \
    LCFM_KEYS_##SECTION(LCFM_SETTING_FIELD) \
  } lcfm_settings_##section;
LCFM_JOB_SECTIONS(LCFM_SETTINGS_STRUCT)
#undef LCFM_SETTINGS_STRUCT

#define LCFM_SETTINGS_MEMBER(section, SECTION) lcfm_settings_##section section;
typedef struct {
  LCFM_JOB_SECTIONS(LCFM_SETTINGS_MEMBER)
} lcfm_settings;
#undef LCFM_SETTINGS_MEMBER

typedef struct lcfm_job lcfm_job;

/* Collective over comm. Rank 0 reads `path`, applies the overrides ("section.key=value"),
 * checks every value and that the required keys of `sections` (NULL-terminated) are present,
 * then broadcasts. Returns NULL on every rank if anything is wrong (rank 0 printed why). */
lcfm_job *lcfm_job_load(MPI_Comm comm, const char *path, int override_count, char *const *overrides,
                        const char *const *sections);
/* The same from INI text already in memory (tests, `lcfm sweep`); `name` labels messages. */
lcfm_job *lcfm_job_load_text(MPI_Comm comm, const char *name, const char *text, int override_count,
                             char *const *overrides, const char *const *sections);
/* Rank 0's half of lcfm_job_load_text on this process alone, without MPI (fuzzing, tools): the
 * same checks and messages. Returns NULL if there was any problem (*problems counts them). */
lcfm_job *lcfm_job_parse_text(const char *name, const char *text, int override_count,
                              char *const *overrides, const char *const *sections, int *problems);
void lcfm_job_free(lcfm_job *job);

/* Every key's value in force, typed, read once at load: lcfm_job_settings(job)->train.steps. */
const lcfm_settings *lcfm_job_settings(const lcfm_job *job);

/* The table's entry of [section] name (case-insensitive), or NULL; the same of "section.name". */
const lcfm_key_spec *lcfm_job_key_spec(const char *section, const char *name);
const lcfm_key_spec *lcfm_job_key_spec_dotted(const char *dotted);
/* The value in force of a key named by data (a sweep grid line, an output alias), as text:
 * "" when unset or when spec is NULL. Code that knows the key reads lcfm_job_settings instead. */
const char *lcfm_job_value_text(const lcfm_job *job, const lcfm_key_spec *spec);
/* The typed value in force, formatted (%lld, %g, true/false; "" when unset), so that two jobs
 * that spell one value differently ("1e3", "1000") compare equal. */
void lcfm_job_format_value(const lcfm_job *job, const lcfm_key_spec *spec, char *buf, size_t len);

const char *lcfm_job_path(const lcfm_job *job); /* the job file as given */
const char *lcfm_job_text(const lcfm_job *job); /* effective job as INI text */
uint64_t lcfm_job_seed(const lcfm_job *job);    /* [job] seed */
/* The effective text without the [sweep] grid lines (the base of every grid point). */
const char *lcfm_job_text_without_sweep(const lcfm_job *job);

/* [sweep] grid lines, in the order written: key i ("section.key") and its values. */
int lcfm_job_sweep_count(const lcfm_job *job);
const char *lcfm_job_sweep_key(const lcfm_job *job, int i);
int lcfm_job_sweep_value_count(const lcfm_job *job, int i);
const char *lcfm_job_sweep_value(const lcfm_job *job, int i, int v);

/* Report a problem with one key ("FILE:LINE: [section] key: reason", from rank 0 only).
 * Verbs call it for checks across keys, then leave with LCFM_EXIT_USAGE on every rank. */
void lcfm_job_error(const lcfm_job *job, const char *section, const char *key, const char *fmt, ...)
    LCFM_PRINTF(4, 5);

/* Print the key table (section, key, type, default, bounds, doc) as Markdown to stdout. */
void lcfm_job_print_keys(void);

#endif
