/* test_fuzz_findings.c: known answers for what fuzzing found, in every build (the replay tests
 * only check invariants; these check the outcome the fix chose).
 *   MACHO: a file of blank lines or a NUL-led first line is one reject (it used to vanish without
 *   a trace); a row with a NUL byte is a malformed row (it used to be skipped as blank); a
 *   magnitude or error beyond float range is dropped like a -99 sentinel (it used to reach the
 *   store as an infinity).
 *   Job files: a line longer than inih's buffer is refused naming its line (inih used to read the
 *   rest of it as a line of its own); an override that cannot be written back as `key = value`
 *   (" ;" comment, blanks at either end, too long) is refused (ranks other than 0 rebuild the job
 *   from the effective text and used to get other values); a long job path still gives an
 *   effective text that reloads. */
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/job.h"
#include "lcfm/survey.h"

typedef struct {
  int objects, rejects, last_reason;
  int64_t lengths[4];
  char last_message[LCFM_REJECT_TEXT_LEN];
} outcome;

static void on_object(void *user, const lcfm_survey_object *o) {
  outcome *r = user;
  if (r->objects < 4) r->lengths[r->objects] = o->length;
  r->objects++;
}

static void on_reject(void *user, const lcfm_reject *reject) {
  outcome *r = user;
  r->rejects++;
  r->last_reason = reject->reason;
  snprintf(r->last_message, sizeof r->last_message, "%s", reject->message);
}

static outcome parse(const char *text, size_t length) {
  lcfm_ingest_options options = {
      .flux = LCFM_FLUX_PDCSAP, .quality_mask = 175, .min_points = 1, .block_objects = 8};
  outcome r = {0};
  lcfm_parse_macho("test.csv", text, length, &options, on_object, on_reject, &r);
  return r;
}

static void test_macho(void) {
  outcome r = parse("\n\r\n\n", 4);
  EXPECT(r.objects == 0 && r.rejects == 1 && r.last_reason == LCFM_REJECT_EMPTY,
         "blank lines: %d objects %d rejects", r.objects, r.rejects);
  static const char nul_first[] = "\0;1;1;1;48000";
  r = parse(nul_first, sizeof nul_first - 1);
  EXPECT(r.rejects == 1 && r.last_reason == LCFM_REJECT_FORMAT,
         "NUL first line: %d rejects, reason %d", r.rejects, r.last_reason);
  static const char rows[] =
      "classification,fieldid,tileid,seqn,obsid,dateobs,rmag,rerr,bmag,berr\n"
      "1,1,1,1,1,48000,-5,0.1,-5,0.1\n"
      "\0"
      "1,1,1,1,2,48001,-5,0.1,-5,0.1\n"
      "1,1,1,1,3,48002,-5,1e39,-5,0.1\n"
      "1,1,1,1,4,48003,-1.1e39,0.1,-5,0.1\n";
  r = parse(rows, sizeof rows - 1);
  EXPECT(r.rejects == 1 && r.last_reason == LCFM_REJECT_PARSE && strstr(r.last_message, "NUL"),
         "NUL row: %d rejects (%s)", r.rejects, r.last_message);
  EXPECT(r.objects == 2 && r.lengths[0] == 1 && r.lengths[1] == 3,
         "red %lld and blue %lld points, expected 1 and 3", (long long)r.lengths[0],
         (long long)r.lengths[1]);
}

static int accepted(const char *name, const char *text, int count, char **overrides) {
  int problems = 0;
  lcfm_job *job = lcfm_job_parse_text(name, text, count, overrides, NULL, &problems);
  if (!job) return 0;
  lcfm_job *again = lcfm_job_parse_text(name, lcfm_job_text(job), 0, NULL, NULL, &problems);
  int same = again && !strcmp(lcfm_job_text(again), lcfm_job_text(job));
  lcfm_job_free(job);
  lcfm_job_free(again);
  EXPECT(same, "%s: accepted, but the effective text does not reload to the same job", name);
  return 1;
}

static void test_job(void) {
  char text[600], value[400];
  memset(value, 'x', 250), value[250] = '\0';
  snprintf(text, sizeof text, "[ingest]\ninputs = %s\n", value);
  EXPECT(!accepted("long.ini", text, 0, NULL), "a 259-character line was accepted");
  value[150] = '\0';
  snprintf(text, sizeof text, "[ingest]\ninputs = %s\n", value);
  EXPECT(accepted("fits.ini", text, 0, NULL), "a 159-character line was refused");
  char *comment[] = {"job.name=a ;b"}, *blank[] = {"job.name= a"}, *semicolon[] = {"job.name=a;b"};
  EXPECT(!accepted("comment.ini", "[job]\n", 1, comment), "an override with ' ;' was accepted");
  EXPECT(!accepted("blank.ini", "[job]\n", 1, blank),
         "an override with a leading blank was accepted");
  EXPECT(accepted("semicolon.ini", "[job]\n", 1, semicolon),
         "an override with ';' inside a word was refused");
  char path[400];
  memset(path, 'p', 300), memcpy(path + 300, "/job.ini", 9);
  EXPECT(accepted(path, "[job]\nseed = 3\n", 0, NULL),
         "a job with a 308-character path was refused");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_macho();
  test_job();
  return lcfm_test_finish("test_fuzz_findings");
}
