/* macho_check.h: the checks both MACHO fuzz targets apply to what lcfm_parse_macho emits. */
#ifndef LCFM_FUZZ_MACHO_CHECK_H
#define LCFM_FUZZ_MACHO_CHECK_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lcfm/survey.h"

typedef struct {
  int64_t objects, rejects, points;
} fuzz_macho_tally;

static int fuzz_terminated(const char *text, size_t size) {
  return memchr(text, '\0', size) != NULL;
}

/* An object the MACHO parser hands to the ingest: what the store may receive. */
static void fuzz_check_macho_object(void *user, const lcfm_survey_object *o) {
  fuzz_macho_tally *t = user;
  FUZZ_REQUIRE(o->length >= 1, "an object with %lld points", (long long)o->length);
  FUZZ_REQUIRE(o->instrument.survey == LCFM_SURVEY_MACHO &&
                   (o->instrument.band == 0 || o->instrument.band == 1),
               "instrument survey %d band %d", o->instrument.survey, o->instrument.band);
  FUZZ_REQUIRE(fuzz_terminated(o->instrument.name, sizeof o->instrument.name),
               "instrument name not terminated");
  int64_t field = o->source / 10000000000LL, tile = o->source / 100000 % 100000,
          seqn = o->source % 100000;
  FUZZ_REQUIRE(o->source >= 0 && field == o->field && tile >= 0 && seqn >= 0,
               "source %lld does not pack field %d", (long long)o->source, o->field);
  for (int64_t i = 0; i < o->length; i++) {
    FUZZ_REQUIRE(isfinite(o->time[i]), "time %lld is %g", (long long)i, o->time[i]);
    FUZZ_REQUIRE(i == 0 || o->time[i] >= o->time[i - 1], "time goes backwards at point %lld",
                 (long long)i);
    FUZZ_REQUIRE(isfinite(o->value[i]), "value %lld is %g", (long long)i, (double)o->value[i]);
    FUZZ_REQUIRE(isfinite(o->error[i]) && o->error[i] >= 0, "error %lld is %g", (long long)i,
                 (double)o->error[i]);
  }
  t->objects++;
  t->points += o->length;
}

static void fuzz_check_reject(void *user, const lcfm_reject *r) {
  fuzz_macho_tally *t = user;
  FUZZ_REQUIRE(fuzz_terminated(r->key, sizeof r->key) && r->key[0],
               "reject key empty or not terminated");
  FUZZ_REQUIRE(fuzz_terminated(r->message, sizeof r->message) && r->message[0],
               "reject message empty or unterminated");
  FUZZ_REQUIRE(r->reason >= LCFM_REJECT_IO && r->reason <= LCFM_REJECT_PARSE, "reject reason %d",
               r->reason);
  t->rejects++;
}

/* Parses `text` as one MACHO file and checks the outcome: every file gives objects or rejects. */
static void fuzz_parse_macho(const char *text, size_t size) {
  lcfm_ingest_options options = {
      .flux = LCFM_FLUX_PDCSAP, .quality_mask = 175, .min_points = 1, .block_objects = 1};
  fuzz_macho_tally tally = {0};
  lcfm_parse_macho("fuzz.csv", text, size, &options, fuzz_check_macho_object, fuzz_check_reject,
                   &tally);
  FUZZ_REQUIRE(tally.objects + tally.rejects > 0,
               "a file of %zu bytes left no object and no reject", size);
  FUZZ_REQUIRE(tally.points <= 2 * (int64_t)size, "%lld points from %zu bytes",
               (long long)tally.points, size);
}

#endif
