/* test_pipeline_jobs.c: the job side of `lcfm run` and `lcfm sweep`, without running stages.
 * [sweep] grid lines are checked value by value and survive the effective text; bad grids are
 * refused; grid points get their values and their own directory with inputs following their
 * outputs; stored jobs agree or not on the keys a stage depends on; a run job that names only
 * its outputs gets every input wired, the baseline its own files, and missing outputs are
 * refused. Runs on 1 and 2 ranks (jobs are parsed on rank 0 and broadcast). */
#include <string.h>
#include <sys/stat.h>

#include "../lcfm_test.h"
#include "lcfm/job.h"
#include "lcfm/pipeline.h"

static const char *const no_sections[] = {"job", NULL};

static const char *base_job =
    "[job]\nseed = 5\n[simulate]\noutput = data/sim.h5\nstars = 20\nT = 40\ninstrument_terms = 5\n"
    "[model]\nencoder = mlp\nT = 40\n[train]\ncheckpoint = model.h5\nsteps = 10\n"
    "[embed]\noutput = emb.h5\n[probe]\noutput = probe.h5\n";

static lcfm_job *load(const char *text, int n, char **over) {
  return lcfm_job_load_text(MPI_COMM_WORLD, "test.ini", text, n, over, no_sections);
}

static int refused(const char *grid) {
  char text[2048];
  snprintf(text, sizeof text, "%s[sweep]\n%s\n", base_job, grid);
  lcfm_job *job = load(text, 0, NULL);
  lcfm_job_free(job);
  return job == NULL;
}

static void test_bad_grids(void) {
  EXPECT(refused("simulate.starz = 1 2"), "a grid line naming no key was accepted");
  EXPECT(refused("nosection.K = 1 2"), "a grid line naming no section was accepted");
  EXPECT(refused("sweep.directory = a b"), "a grid over [sweep] itself was accepted");
  EXPECT(refused("simulate.K = 5 1"), "K = 1 (below its range) was accepted in a grid");
  EXPECT(refused("simulate.alpha = 1 x"), "a non-number was accepted in a grid");
  EXPECT(refused("simulate.K = 5 5"), "a value given twice was accepted");
  EXPECT(refused("simulate.K = 5 6\nsimulate.K = 7"), "a grid line given twice was accepted");
  EXPECT(refused("simulate.K ="), "an empty grid line was accepted");
  EXPECT(refused("simulate.K = 5 6\nbogus = 1"), "an unknown [sweep] key was accepted");
  char *bad[] = {"sweep.simulate.K=5 1"};
  lcfm_job *job = load(base_job, 1, bad);
  EXPECT(job == NULL, "a bad grid override was accepted");
  lcfm_job_free(job);
}

static void test_grid(void) {
  char text[2048];
  snprintf(text, sizeof text,
           "%s[sweep]\ndirectory = out/grid\nsimulate.instruments = 3 5 7\n"
           "simulate.alpha = 0.5 2\nprobe.sizes = 10 20 | 30 40\n",
           base_job);
  lcfm_job *job = load(text, 0, NULL);
  EXPECT(job != NULL, "a good grid was refused");
  if (!job) return;
  EXPECT(lcfm_job_sweep_count(job) == 3, "%d grid lines", lcfm_job_sweep_count(job));
  EXPECT(lcfm_sweep_point_count(job) == 12, "%lld points", (long long)lcfm_sweep_point_count(job));
  EXPECT(!strcmp(lcfm_job_sweep_key(job, 1), "simulate.alpha"), "key 1 '%s'",
         lcfm_job_sweep_key(job, 1));
  EXPECT(lcfm_job_sweep_value_count(job, 2) == 2 &&
             !strcmp(lcfm_job_sweep_value(job, 2, 1), "30 40"),
         "'|' splitting: %d values, second '%s'", lcfm_job_sweep_value_count(job, 2),
         lcfm_job_sweep_value(job, 2, 1));
  EXPECT(strstr(lcfm_job_text(job), "simulate.alpha = 0.5 2") != NULL,
         "the grid is not in the effective text");
  EXPECT(strstr(lcfm_job_text_without_sweep(job), "simulate.alpha =") == NULL,
         "the grid is in the text without it");

  /* The effective text reloads to the same grid. */
  lcfm_job *again = load(lcfm_job_text(job), 0, NULL);
  EXPECT(again && lcfm_sweep_point_count(again) == 12,
         "the effective text does not reload to the same grid");
  lcfm_job_free(again);

  /* Point 7 = (instruments index 1, alpha index 1, sizes index 1): the last line varies fastest. */
  char label[512], dir[512];
  lcfm_sweep_point_label(job, 7, label, sizeof label);
  EXPECT(!strcmp(label, "simulate.instruments=5 simulate.alpha=2 probe.sizes=30 40"), "label '%s'",
         label);
  lcfm_sweep_point_directory(job, 7, dir, sizeof dir);
  EXPECT(!strcmp(dir, "out/grid/point-0007"), "directory '%s'", dir);
  lcfm_job *point = lcfm_sweep_point_job(MPI_COMM_WORLD, job, 7);
  EXPECT(point != NULL, "point 7 is not a job");
  if (point) {
    EXPECT(lcfm_job_settings(point)->simulate.instruments == 5, "grid value instruments");
    EXPECT(lcfm_job_settings(point)->simulate.alpha == 2.0, "grid value alpha");
    EXPECT(!strcmp(lcfm_job_settings(point)->probe.sizes, "30 40"), "grid value sizes");
    EXPECT(lcfm_job_sweep_count(point) == 0, "a point job still has grid lines");
    EXPECT(!strcmp(lcfm_job_settings(point)->simulate.output, "out/grid/point-0007/sim.h5"),
           "output '%s'", lcfm_job_settings(point)->simulate.output);
    EXPECT(!strcmp(lcfm_job_settings(point)->train.checkpoint, "out/grid/point-0007/model.h5"),
           "checkpoint");
    EXPECT(!strcmp(lcfm_job_settings(point)->run.record, "out/grid/point-0007/run.h5"), "record");
  }
  lcfm_job_free(point);

  /* An override replaces a grid line. */
  char *over[] = {"sweep.simulate.instruments=4 6"};
  lcfm_job *narrower = load(text, 1, over);
  EXPECT(narrower && lcfm_sweep_point_count(narrower) == 8, "override of a grid line");
  lcfm_job_free(narrower);
  lcfm_job_free(job);
}

/* Inputs that name an output follow it into the point's directory; others stay. */
static void test_point_inputs(void) {
  char text[2048];
  snprintf(
      text, sizeof text, "%s[sweep]\nsimulate.K = 4 5\n",
      "[simulate]\noutput = s.h5\n[train]\nstore = s.h5\ncheckpoint = m.h5\n"
      "[embed]\nstore = /data/other.h5\ncheckpoint = m.best.h5\noutput = e.h5\n[probe]\noutput = p.h5\n");
  lcfm_job *job = load(text, 0, NULL);
  EXPECT(job != NULL, "job refused");
  if (!job) return;
  lcfm_job *point = lcfm_sweep_point_job(MPI_COMM_WORLD, job, 1);
  EXPECT(point != NULL, "point 1 refused");
  if (point) {
    EXPECT(!strcmp(lcfm_job_settings(point)->train.store, "sweep/point-0001/s.h5"),
           "train.store '%s'", lcfm_job_settings(point)->train.store);
    EXPECT(!strcmp(lcfm_job_settings(point)->embed.checkpoint, "sweep/point-0001/m.best.h5"),
           "embed.checkpoint '%s'", lcfm_job_settings(point)->embed.checkpoint);
    EXPECT(!strcmp(lcfm_job_settings(point)->embed.store, "/data/other.h5"),
           "an outside input moved: '%s'", lcfm_job_settings(point)->embed.store);
  }
  lcfm_job_free(point);
  lcfm_job_free(job);
}

static void test_agreement(void) {
  const char *const train[] = {"job", "simulate", "model", "train", NULL};
  const char *const simulate[] = {"job", "simulate", NULL};
  char why[512] = "";
  const char *a =
      "[job]\nname = a\nseed = 1\n[simulate]\nalpha = 2\nK = 13\n[train]\nsteps = 10\nlog_every = 5\n";
  const char *b =
      "[job]\nname = b\nseed = 1\n[simulate]\nalpha = 2.0\n[train]\nsteps = 10\nlog_every = 7\nresume = false\n";
  EXPECT(lcfm_pipeline_jobs_agree(a, b, train, why, sizeof why),
         "name, log_every, resume, 2 vs 2.0 and a default left out should not matter: %s", why);
  const char *c = "[job]\nseed = 1\n[simulate]\nK = 12\n[train]\nsteps = 20\n";
  EXPECT(!lcfm_pipeline_jobs_agree(a, c, simulate, why, sizeof why) && strstr(why, "[simulate] K"),
         "K 13 vs 12 should differ, why: '%s'", why);
  const char *d = "[job]\nseed = 1\n[simulate]\nK = 13\n[train]\nsteps = 20\n";
  EXPECT(lcfm_pipeline_jobs_agree(a, d, simulate, why, sizeof why),
         "train keys count for the simulate stage: %s", why);
  EXPECT(!lcfm_pipeline_jobs_agree(a, d, train, why, sizeof why) && strstr(why, "[train] steps"),
         "steps 10 vs 20 should differ for train, why: '%s'", why);
  const char *e = "[job]\nseed = 2\n";
  EXPECT(!lcfm_pipeline_jobs_agree("[job]\nseed = 1\n", e, simulate, why, sizeof why),
         "seed 1 vs 2 should differ");
}

static void test_wiring(void) {
  char text[2048];
  snprintf(text, sizeof text, "%s[run]\nbaseline = true\n", base_job);
  mkdir("data", 0777); /* outputs are checked when planned: their directory must exist */
  lcfm_job *job = load(text, 0, NULL);
  lcfm_pipeline *p = job ? lcfm_pipeline_plan(MPI_COMM_WORLD, job) : NULL;
  EXPECT(p != NULL, "a run job naming only its outputs was refused");
  if (p) {
    int stages = lcfm_pipeline_stage_count(p);
    EXPECT(stages == 7, "%d stages, expected 7 (simulate, 2 x train, 2 x embed, probe, plots)",
           stages);
    const lcfm_job *t = lcfm_pipeline_stage_job(p, "train");
    const lcfm_job *tb = lcfm_pipeline_stage_job(p, "train-baseline");
    const lcfm_job *eb = lcfm_pipeline_stage_job(p, "embed-baseline");
    const lcfm_job *pr = lcfm_pipeline_stage_job(p, "probe");
    const char *tb_output = lcfm_pipeline_stage_output(p, "train-baseline");
    const char *eb_output = lcfm_pipeline_stage_output(p, "embed-baseline");
    const char *manifest = lcfm_pipeline_stage_output(p, "plots");
    EXPECT(t && !strcmp(lcfm_job_settings(t)->train.store, "data/sim.h5"), "train.store not wired");
    EXPECT(tb && !strcmp(lcfm_job_settings(tb)->model.kind, "baseline") &&
               !strcmp(tb_output, "model-baseline.h5"),
           "baseline training: %s", tb ? tb_output : "missing");
    EXPECT(eb && !strcmp(lcfm_job_settings(eb)->embed.checkpoint, "model-baseline.best.h5") &&
               !strcmp(eb_output, "emb-baseline.h5"),
           "baseline embedding: %s", eb ? eb_output : "missing");
    EXPECT(pr && !strcmp(lcfm_job_settings(pr)->embed.checkpoint, "model.best.h5"),
           "embed.checkpoint not wired");
    EXPECT(pr && !strcmp(lcfm_job_settings(pr)->probe.embeddings, "emb.h5") &&
               !strcmp(lcfm_job_settings(pr)->probe.baseline_embeddings, "emb-baseline.h5") &&
               !strcmp(lcfm_job_settings(pr)->probe.store, "data/sim.h5"),
           "probe inputs not wired");
    EXPECT(manifest && !strcmp(manifest, "probe-plots/plots.txt"), "plots manifest '%s'",
           manifest ? manifest : "missing");
  }
  lcfm_pipeline_free(p);
  lcfm_job_free(job);

  /* Stages without the one that provides an input, or without an output, are refused. */
  char *no_simulate[] = {"run.stages=train embed"};
  job = load(base_job, 1, no_simulate);
  p = job ? lcfm_pipeline_plan(MPI_COMM_WORLD, job) : NULL;
  EXPECT(job && !p, "train without a store (and no simulate stage) was accepted");
  lcfm_pipeline_free(p);
  lcfm_job_free(job);
  char *bad_stage[] = {"run.stages=simulate bake"};
  job = load(base_job, 1, bad_stage);
  p = job ? lcfm_pipeline_plan(MPI_COMM_WORLD, job) : NULL;
  EXPECT(job && !p, "an unknown stage was accepted");
  lcfm_pipeline_free(p);
  lcfm_job_free(job);
  char *classification_plots[] = {"probe.task=classification"};
  job = load(base_job, 1, classification_plots);
  p = job ? lcfm_pipeline_plan(MPI_COMM_WORLD, job) : NULL;
  EXPECT(job && !p, "the causal paper's plots of a classification probe were accepted");
  lcfm_pipeline_free(p);
  lcfm_job_free(job);
  char *no_output[] = {"run.stages=simulate train embed probe"};
  job = load("[simulate]\noutput = s.h5\n[train]\ncheckpoint = m.h5\n[embed]\noutput = e.h5\n", 1,
             no_output);
  p = job ? lcfm_pipeline_plan(MPI_COMM_WORLD, job) : NULL;
  EXPECT(job && !p, "a probe stage without [probe] output was accepted");
  lcfm_pipeline_free(p);
  lcfm_job_free(job);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_bad_grids();
  test_grid();
  test_point_inputs();
  test_agreement();
  test_wiring();
  return lcfm_test_finish("test_pipeline_jobs");
}
