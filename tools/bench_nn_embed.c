/* bench_nn_embed.c: embedding (inference) throughput of the causal paper's model (issue 5).
 *
 *   bench_nn_embed [--threads N] [--batch B] [--batches K] [--repeats R] [--seqs S] [--model causal|astromer]
 *
 * The model `lcfm embed` runs: both encoders of the causal dual-encoder model at the paper's
 * configuration (4 Conformer blocks, d 64, 4 heads, ff 128, kernel 31, LSTM, latent 20, T 100),
 * through lcfm_causal_embed (no gradients, no dropout), on B windows of 100 valid points per
 * call, with N OpenMP threads. Each repeat times K calls after one warm-up call; prints light
 * curves per second (median over repeats), per core (divided by N) and per CPU second (the
 * process's CPU time, which a loaded machine disturbs less than wall time) and GFLOP/s (the
 * analytic forward FLOPs, lcfm_causal_encoder_flops, of both encoders). The line starting with
 * "RESULT" is parsed by tools/bench_embed.sh, which runs PyTorch's inference of the same model
 * (tools/reference/bench_embed_torch.py) next to it. --seqs fixes the sequences per inference chunk
 * (lcfm_nn_set_infer_seqs; by default the engine chooses them for the L2 cache): the chunk size
 * is printed, and comparing sizes shows what the cache-sized chunk gains. --model astromer times
 * Astromer 2's per-layer window means instead (lcfm_astromer_infer_layer_means, the default encoder:
 * 6 blocks, d 256, windows of 200; RESULT embed_astromer, windows per second).
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/machine.h"
#include "lcfm/models.h"
#include "lcfm/nn_models.h"
#include "lcfm/rng.h"

/* CPU seconds used by every thread of this process. */
static double cpu_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* The paper's model, the defaults of the [model] keys. */
static lcfm_causal_config paper_model(int batch) {
  return (lcfm_causal_config){.kind = LCFM_CAUSAL,
                              .encoder = LCFM_ENCODER_CONFORMER,
                              .T = 100,
                              .d = 64,
                              .heads = 4,
                              .ff = 128,
                              .blocks = 4,
                              .kernel = 31,
                              .latent = 20,
                              .mlp_hidden = 256,
                              .proj_hidden = 64,
                              .proj_dim = 32,
                              .decoder_hidden = 64,
                              .dropout = 0,
                              .tau = 0.1f,
                              .w_recon = 1,
                              .w_star = 1,
                              .w_instr = 1,
                              .max_rows = batch};
}

/* B light curves of T valid points: a few harmonics and noise, as the simulator makes. */
static void make_windows(float *times, float *values, float *mask, int B, int T) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + (size_t)t;
      times[i] = (float)t;
      values[i] = (float)(0.5 * sin(0.1 * t * (1 + b % 7)) + 0.03 * lcfm_rng_normal(5, 1, i));
      mask[i] = 1.0f;
    }
}

/* One embedding call over the benchmark's batch. */
typedef void (*embed_call)(void *ctx);

typedef struct {
  int batch, batches, repeats, threads;
} timing;

/* Calls fn `batches` times per repeat after one warm-up; prints the rates (light curves or windows
 * per second, median over repeats) as `what` and a RESULT line tagged `tag`. */
static void time_embedding(const char *what, const char *tag, embed_call fn, void *ctx,
                           const timing *t, double flops_per_seq, int seqs) {
  fn(ctx); /* warm-up */
  double *rate = lcfm_malloc((size_t)t->repeats * sizeof *rate),
         *cpu_rate = lcfm_malloc((size_t)t->repeats * sizeof *rate);
  for (int r = 0; r < t->repeats; r++) {
    double t0 = lcfm_wtime(), c0 = cpu_time();
    for (int k = 0; k < t->batches; k++) fn(ctx);
    rate[r] = (double)t->batch * t->batches / (lcfm_wtime() - t0);
    cpu_rate[r] = (double)t->batch * t->batches / (cpu_time() - c0);
  }
  double lo = rate[0], hi = rate[0];
  for (int r = 1; r < t->repeats; r++) lo = fmin(lo, rate[r]), hi = fmax(hi, rate[r]);
  double med = median(rate, t->repeats), cpu_med = median(cpu_rate, t->repeats);
  printf(
      "lcfm  %s, %d per call in chunks of %d, %d threads: %.0f/s (median of %d repeats of %d calls, range %.0f-%.0f), "
      "%.0f per core, %.0f per CPU second, %.1f GFLOP/s\n",
      what, t->batch, seqs, t->threads, med, t->repeats, t->batches, lo, hi, med / t->threads,
      cpu_med, med * flops_per_seq / 1e9);
  printf(
      "RESULT %s lc_per_s=%.3f per_core=%.3f per_cpu_s=%.3f threads=%d batch=%d gflops=%.3f seqs=%d\n",
      tag, med, med / t->threads, cpu_med, t->threads, t->batch, med * flops_per_seq / 1e9, seqs);
  free(rate), free(cpu_rate);
}

typedef struct {
  lcfm_causal_model model;
  float *times, *values, *mask;
  const float *z_star, *z_instr;
  int batch;
} causal_case;

static void causal_call(void *ctx) {
  causal_case *c = ctx;
  lcfm_causal_embed(&c->model, c->times, c->values, c->mask, c->batch, &c->z_star, &c->z_instr);
}

static void bench_causal(const timing *t) {
  causal_case c = {.batch = t->batch};
  lcfm_causal_config cfg = paper_model(t->batch);
  lcfm_causal_init(&c.model, &cfg, 3, 1);
  size_t n = (size_t)t->batch * (size_t)cfg.T;
  c.times = lcfm_malloc(n * sizeof *c.times), c.values = lcfm_malloc(n * sizeof *c.values);
  c.mask = lcfm_malloc(n * sizeof *c.mask);
  make_windows(c.times, c.values, c.mask, t->batch, cfg.T);
  double backward,
      flops_per_lc =
          2 * lcfm_causal_encoder_flops(&c.model.conformer[0].cfg, t->batch, &backward) / t->batch;
  char what[128];
  snprintf(what, sizeof what, "causal embed: 2 encoders, light curves of %d", cfg.T);
  time_embedding(what, "embed", causal_call, &c, t, flops_per_lc,
                 c.model.conformer[0].base.inf_seqs);
  double checksum = 0;
  for (size_t i = 0; i < (size_t)t->batch * (size_t)cfg.latent; i++)
    checksum += fabs(c.z_star[i]) + fabs(c.z_instr[i]);
  LCFM_CHECK(isfinite(checksum), "bench_nn_embed: non-finite latents");
  lcfm_causal_free(&c.model);
  free(c.times), free(c.values), free(c.mask);
}

typedef struct {
  lcfm_astromer e;
  lcfm_nn_params p;
  float *times, *values, *valid, *replace, *out;
  int batch;
} astromer_case;

static void astromer_call(void *ctx) {
  astromer_case *c = ctx;
  lcfm_nn_series x = {c->times, c->values, c->valid, c->replace, c->batch};
  lcfm_astromer_infer_layer_means(&c->e, &c->p, &x, c->out);
}

/* Astromer 2's per-layer window means (what `lcfm embed` of an astromer2 job writes): the default
 * encoder (6 blocks, d 256, windows of 200), nothing replaced by the mask token. */
static void bench_astromer(const timing *t) {
  astromer_case c = {.batch = t->batch};
  lcfm_astromer_config cfg = lcfm_astromer_defaults();
  cfg.max_batch = t->batch;
  lcfm_nn_params_init(&c.p);
  lcfm_astromer_init(&c.e, &cfg, &c.p, "astromer");
  lcfm_nn_params_alloc(&c.p);
  lcfm_nn_params_init_default(&c.p, 2);
  lcfm_astromer_alloc(&c.e);
  size_t n = (size_t)t->batch * (size_t)cfg.T;
  c.times = lcfm_malloc(n * sizeof *c.times), c.values = lcfm_malloc(n * sizeof *c.values);
  c.valid = lcfm_malloc(n * sizeof *c.valid), c.replace = lcfm_calloc(n, sizeof *c.replace);
  c.out = lcfm_malloc((size_t)t->batch * (size_t)(cfg.blocks + 1) * (size_t)cfg.d * sizeof *c.out);
  make_windows(c.times, c.values, c.valid, t->batch, cfg.T);
  double backward, flops_per_window = lcfm_astromer_flops(&cfg, t->batch, &backward) / t->batch;
  char what[128];
  snprintf(what, sizeof what, "astromer embed: windows of %d", cfg.T);
  time_embedding(what, "embed_astromer", astromer_call, &c, t, flops_per_window, c.e.base.inf_seqs);
  lcfm_astromer_free(&c.e);
  lcfm_nn_params_free(&c.p);
  free(c.times), free(c.values), free(c.valid), free(c.replace), free(c.out);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_log_init(MPI_COMM_WORLD);
  timing t = {.batch = 256, .batches = 4, .repeats = 5, .threads = 1};
  int seqs = 0;
  const char *model = "causal";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) t.threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) t.batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batches") && i + 1 < argc) t.batches = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) t.repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seqs") && i + 1 < argc) seqs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    else {
      fprintf(
          stderr,
          "usage: bench_nn_embed [--threads N] [--batch B] [--batches K] [--repeats R] [--seqs S]"
          " [--model causal|astromer]\n");
      MPI_Finalize();
      return 2;
    }
  }
  if (t.threads < 1 || t.batch < 1 || t.batches < 1 || t.repeats < 1)
    LCFM_FATAL("bench_nn_embed: arguments must be positive");
  lcfm_nn_set_threads(t.threads);
  lcfm_nn_set_infer_seqs(seqs);
  lcfm_log_machine(t.threads);
  if (!strcmp(model, "astromer")) bench_astromer(&t);
  else bench_causal(&t);
  MPI_Finalize();
  return 0;
}
