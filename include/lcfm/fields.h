/* fields.h: the `fields` key of [train], [embed] and [probe]: which /objects/field values
 * (shard keys: a simulated block, a TESS sector, ...) a verb works on.
 *
 * Text: values and inclusive ranges separated by spaces or commas, e.g. "3 5 10-12"; values are
 * integers in [0, 2^31 - 1]. Empty text selects the whole store. */
#ifndef LCFM_FIELDS_H
#define LCFM_FIELDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int count;           /* ranges; 0: every field */
  int64_t (*range)[2]; /* [first, last] inclusive, in the order written */
} lcfm_fields;

/* Parses text into *out (out may be NULL: check only). Returns 0, or 1 with the reason. */
int lcfm_fields_parse(const char *text, lcfm_fields *out, char *why, size_t why_len);
/* 1 when the selection is the whole store. */
int lcfm_fields_all(const lcfm_fields *f);
/* 1 when field is selected (always for the whole store). */
int lcfm_fields_contains(const lcfm_fields *f, int64_t field);
void lcfm_fields_free(lcfm_fields *f);

#endif
