/* test_job.c: job files are checked before any work and reach every rank identically.
 * Bad jobs (unknown section or key, bad numbers, out of range, missing required key, a key
 * given twice, syntax errors, bad overrides) must be refused; good ones must give the values
 * written, the defaults elsewhere, the overrides on top, and an effective text that reloads
 * to the same job. Runs on 1 and 2 ranks. */
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/job.h"

static const char *const simulate_sections[] = {"job", "simulate", NULL};

static int refused(const char *text, int n_over, char **over) {
  lcfm_job *job =
      lcfm_job_load_text(MPI_COMM_WORLD, "bad.ini", text, n_over, over, simulate_sections);
  int was_refused = job == NULL;
  lcfm_job_free(job);
  return was_refused;
}

static void test_bad_jobs(void) {
  EXPECT(refused("[simulate]\noutput = a.h5\nstarz = 10\n", 0, NULL), "unknown key accepted");
  EXPECT(refused("[simulat]\noutput = a.h5\n", 0, NULL), "unknown section accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nstars = ten\n", 0, NULL), "non-number accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nstars = 10.5\n", 0, NULL), "non-integer accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nstars = -3\n", 0, NULL), "negative stars accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nK = 1\n", 0, NULL), "K < 2 accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nT = 0\n", 0, NULL), "T < 1 accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nalpha = nan\n", 0, NULL), "NaN accepted");
  EXPECT(refused("[simulate]\nstars = 10\n", 0, NULL), "missing required output accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nstars = 1\nstars = 2\n", 0, NULL),
         "duplicate accepted");
  EXPECT(refused("[simulate]\noutput = a.h5\nthis line is not ini\n", 0, NULL),
         "syntax error accepted");
  EXPECT(refused("seed = 3\n[simulate]\noutput = a.h5\n", 0, NULL),
         "key outside a section accepted");
  char *bad_override[] = {"simulate.starz=3"};
  EXPECT(refused("[simulate]\noutput = a.h5\n", 1, bad_override), "unknown override accepted");
  char *bad_value[] = {"simulate.stars=x"};
  EXPECT(refused("[simulate]\noutput = a.h5\n", 1, bad_value), "bad override value accepted");
  char *malformed[] = {"simulate-stars"};
  EXPECT(refused("[simulate]\noutput = a.h5\n", 1, malformed), "malformed override accepted");
}

static void test_good_job(void) {
  const char *text =
      "; a comment\n[job]\nseed = 77\n\n[simulate]\noutput = out.h5 ; inline comment\n"
      "stars = 12\nalpha = 1.5\n";
  char *over[] = {"simulate.T=50", "simulate.stars=13"};
  lcfm_job *job = lcfm_job_load_text(MPI_COMM_WORLD, "good.ini", text, 2, over, simulate_sections);
  EXPECT(job != NULL, "a good job was refused");
  if (!job) return;
  EXPECT(lcfm_job_seed(job) == 77, "seed %llu", (unsigned long long)lcfm_job_seed(job));
  EXPECT(!strcmp(lcfm_job_settings(job)->simulate.output, "out.h5"), "output '%s'",
         lcfm_job_settings(job)->simulate.output);
  EXPECT(lcfm_job_settings(job)->simulate.stars == 13, "override did not win");
  EXPECT(lcfm_job_settings(job)->simulate.T == 50, "override T");
  EXPECT(lcfm_job_settings(job)->simulate.K == 13, "default K");
  EXPECT(lcfm_job_settings(job)->simulate.alpha == 1.5, "alpha");

  /* The effective text is itself a job that reproduces every value. */
  lcfm_job *again = lcfm_job_load_text(MPI_COMM_WORLD, "effective", lcfm_job_text(job), 0, NULL,
                                       simulate_sections);
  EXPECT(again != NULL, "the effective text does not reload");
  if (again) {
    EXPECT(!strcmp(strchr(lcfm_job_text(job), '\n'), strchr(lcfm_job_text(again), '\n')),
           "effective text changes on reload");
    EXPECT(lcfm_job_settings(again)->simulate.stars == 13, "reloaded stars");
  }
  lcfm_job_free(again);
  lcfm_job_free(job);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_bad_jobs();
  test_good_job();
  return lcfm_test_finish("test_job");
}
